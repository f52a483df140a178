# tests/cli/compare_raw.sh -- "compare" of raw images: identical images,
# the offset of the first difference (the start of its 512-byte unit),
# different sizes with and without -s, -q, -p progress, and exit statuses
# 0 (identical), 1 (different), 2 (cannot open) and 1 for usage errors.
. "$SRCDIR/common.sh"

img() { qemu-img create -q -f raw "$@"; }
write() { qemu-io -f raw -c "write -P $2 $3 $4" "$1" >/dev/null; }

img a.raw 1M
img b.raw 1M
img c.raw 2M
img d.raw 1M
write d.raw 0x78 70000 1
img e.raw 2M
write e.raw 0x79 1500000 1
img f.raw 3M
write f.raw 0x11 0 3M
img g.raw 3M
write g.raw 0x11 0 3M
write g.raw 0x12 2900000 100

run vdisk compare a.raw b.raw
run vdisk compare -f raw -F raw a.raw b.raw
run vdisk compare a.raw d.raw
run vdisk compare d.raw a.raw
run vdisk compare -q a.raw d.raw
run vdisk compare a.raw c.raw
run vdisk compare c.raw a.raw
run vdisk compare a.raw e.raw
run vdisk compare e.raw a.raw
run vdisk compare f.raw g.raw
run vdisk compare f.raw a.raw
run vdisk compare -s a.raw b.raw
run vdisk compare -s a.raw c.raw
run vdisk compare -s f.raw g.raw
run vdisk compare -U -T none a.raw b.raw

# Progress: "    (N.NN/100%)\r" on stdout; shown here one per line.
run vdisk compare -p a.raw b.raw | tr '\r' '\n'
run vdisk compare -p f.raw g.raw | tr '\r' '\n'
run vdisk compare -p a.raw c.raw | tr '\r' '\n'
run vdisk compare -p -q a.raw d.raw | tr '\r' '\n'
run vdisk compare -p a.raw nosuchfile | tr '\r' '\n'

# Errors.
run vdisk compare a.raw
run vdisk compare a.raw b.raw c.raw
run vdisk compare -f
run vdisk compare --no-such-option a.raw b.raw
run vdisk compare a.raw nosuchfile
run vdisk compare nosuchfile a.raw
run vdisk compare -f nosuchfmt a.raw b.raw
run vdisk compare -T bogus a.raw b.raw
