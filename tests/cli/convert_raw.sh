# tests/cli/convert_raw.sh -- "convert" between raw images: the copy is
# byte-identical, -p prints qemu-img's progress, several sources are
# concatenated (each padded to 512 bytes), -n writes into an existing
# image, -S 0 / -W / -m / -C / -U / -t / -T / --object are accepted, and
# a failed run leaves neither an output file nor a changed input.
. "$SRCDIR/common.sh"

img() { qemu-img create -q -f raw "$@"; }
write() { qemu-io -f raw -c "write -P $2 $3 $4" "$1" >/dev/null; }
same() { cmp "$1" "$2" && echo "$1 == $2"; }
size() { echo "$1: $(stat -c %s "$1") bytes"; }

img src.raw 8M
write src.raw 0x11 0 64k
write src.raw 0x22 1M 3M
write src.raw 0x00 5M 1M
write src.raw 0x33 7M 4k
img small.raw 1M
write small.raw 0x44 4k 4k
head -c 1000 /dev/zero | tr '\0' 'x' > odd.raw

run vdisk convert src.raw out1.raw
same src.raw out1.raw
run vdisk convert -f raw -O raw -q src.raw out2.raw
same src.raw out2.raw
# --object is accepted and ignored (vdisk needs no secrets).
run vdisk convert --object secret,id=s0,data=x -O raw src.raw out2o.raw
same src.raw out2o.raw

# Progress: "    (N.NN/100%)\r" on stdout; shown here one per line.
run vdisk convert -p src.raw out3.raw | tr '\r' '\n'
same src.raw out3.raw
run vdisk convert -p -q src.raw out4.raw | tr '\r' '\n'

# Options that change how, not what, is copied.
for opts in "-S 0" "-S 512" "-S 12k" "-W" "-m 1" "-m 16 -W" "-C" "-U" \
            "-t none -T writeback" "-r 1G" "--salvage"; do
    rm -f out5.raw
    run vdisk convert $opts src.raw out5.raw
    same src.raw out5.raw
done

# Concatenation: each source takes its size rounded up to 512 bytes.
run vdisk convert odd.raw small.raw odd.raw cat.raw
size cat.raw
cmp -n 1000 odd.raw cat.raw && echo "odd.raw at 0"
cmp -i 0:1024 -n 1048576 small.raw cat.raw && echo "small.raw at 1024"
cmp -i 0:1049600 odd.raw cat.raw 2>&1 | sed 's/.*EOF.*/odd.raw at 1049600/'
qemu-img convert odd.raw small.raw odd.raw cat-qemu.raw
same cat.raw cat-qemu.raw

# -n: into an existing image (large enough), which is not recreated.
head -c 9437184 /dev/zero | tr '\0' '\377' > target.raw
run vdisk convert -n src.raw target.raw
size target.raw
cmp -n 8388608 src.raw target.raw && echo "first 8 MiB == src.raw"
img zero.raw 2M
run vdisk convert -n --target-is-zero small.raw zero.raw
cmp -n 1048576 small.raw zero.raw && echo "first 1 MiB == small.raw"
run vdisk convert -n src.raw small.raw

# Failures leave no output file behind and the inputs unchanged.
cp src.raw keep.raw
run vdisk convert -t bogus src.raw fail1.raw
run vdisk convert src.raw missing.raw fail2.raw
run vdisk convert -O raw -c src.raw fail3.raw
run vdisk convert src.raw src.raw
ln -s src.raw link.raw
run vdisk convert -O raw src.raw link.raw
same src.raw keep.raw
echo "leftover outputs: $(ls fail*.raw 2>/dev/null | wc -l)"
