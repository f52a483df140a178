# tests/cli/measure.sh -- "measure" for raw output: from an image or from
# --size, human and JSON, and the errors for bad combinations, sizes and
# options.
. "$SRCDIR/common.sh"

qemu-img create -q -f raw data.img 1M
qemu-io -f raw -c 'write -P 1 512k 128k' data.img >/dev/null
truncate -s 3G sparse.img

run vdisk measure data.img
run vdisk measure --output=json -O raw data.img
run vdisk measure --output=json -f raw -U sparse.img
run vdisk measure --size 1G
run vdisk measure --output=json --size 0
run vdisk measure --output=human --size 64k -O raw
# The last --size counts; -o size does not override --size.
run vdisk measure --size 1M --size 2M
run vdisk measure -O raw -o size=2M --size 1M
run vdisk measure -O raw -o size=2M -o preallocation=full data.img
run vdisk measure --size 7E
# --object is accepted and ignored (vdisk needs no secrets).
run vdisk measure --object secret,id=s0,data=x --size 1M -O raw

# Errors.
run vdisk measure
run vdisk measure --size 1M data.img
run vdisk measure data.img sparse.img
run vdisk measure -f raw
run vdisk measure -l snap
run vdisk measure -l snap data.img
run vdisk measure -l snapshot.id=1 data.img
run vdisk measure -l snapshot.foo=1 data.img
run vdisk measure missing.img
run vdisk measure -f nosuchformat data.img
run vdisk measure --output=xml --size 1M
run vdisk measure -O nosuchformat --size 1M
run vdisk measure --size -1
run vdisk measure --size 1x
run vdisk measure --size 99999999999999999999
run vdisk measure --size 8E
run vdisk measure -O raw -o help --size 1M
run vdisk measure -O raw -o foo=bar --size 1M
run vdisk measure -o size=1M -o x=1 --size 1M
run vdisk measure -O raw -o ,, data.img
run vdisk measure -O raw -o size=1M, --size 1M
