# tests/cli/create_raw.sh -- "create" of raw images: sizes from the
# argument or -o size, size suffixes, protocol options in the Formatting
# line, -q, and "-o help" with and without a target file.
. "$SRCDIR/common.sh"

run vdisk create a.raw 1M
run vdisk create -f raw b.raw 1.5M
run vdisk create -o size=2M c.raw
run vdisk create -o size=2M -o size=3M d.raw
run vdisk create -o size=0x1000 e.raw
run vdisk create f.raw 0
run vdisk create -q g.raw 64k
run vdisk create h.raw 0.5k
run vdisk create -- i.raw 1k
run vdisk create -o preallocation=full j.raw 100K
run vdisk create -o preallocation=falloc,nocow=on k.raw 100K
run vdisk create -o size=4k,nocow=yes,preallocation=off,extent_size_hint=0 \
    l.raw
run vdisk create -o extent_size_hint=1.5k m.raw 1k
run vdisk create -u n.raw 1G
run vdisk create --object secret,id=s0,data=x o.raw 64k
stat -c '%n %s' ./*.raw
cmp j.raw k.raw && echo "j.raw and k.raw read the same"

# Option help: the protocol options only with a target file name.
run vdisk create -f raw -o help
run vdisk create -o help x.raw
run vdisk create -o '?'
run vdisk create -o size=1M,help
run vdisk create -o help -o size=1M x.raw 1M
test -e x.raw || echo "x.raw was not created"
