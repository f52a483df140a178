# tests/cli/dd_raw.sh -- "dd" into new raw images: bs, count and skip
# (count limits the input before the skip, as in qemu-img; a skip past
# the end warns and gives an empty image with exit status 0), output
# contents, and the errors.
. "$SRCDIR/common.sh"

# Input: 16 KiB, each KiB filled with its own byte value 1..16.
qemu-img create -q -f raw in.raw 16k
for i in $(seq 0 15); do
    qemu-io -f raw -c "write -P $((i + 1)) ${i}k 1k" in.raw >/dev/null
done

run vdisk dd if=in.raw of=o1.raw
run vdisk dd if=in.raw of=o2.raw bs=1k count=2
run vdisk dd if=in.raw of=o3.raw bs=1k skip=2
run vdisk dd if=in.raw of=o4.raw bs=4k skip=4
run vdisk dd if=in.raw of=o5.raw bs=4k skip=5
run vdisk dd if=in.raw of=o6.raw count=0
run vdisk dd if=in.raw of=o7.raw bs=1k count=1 skip=1
run vdisk dd -f raw -O raw if=in.raw of=o8.raw count=3 skip=2 bs=1536
run vdisk dd -U if=in.raw of=o9.raw bs=64k skip=99999999999999999
stat -c '%n %s' o?.raw
cmp in.raw o1.raw && echo "o1.raw = in.raw"
cmp -n 2048 in.raw o2.raw && echo "o2.raw = in.raw[0, 2k)"
cmp -i 2048:0 in.raw o3.raw && echo "o3.raw = in.raw[2k, 16k)"
cmp -i 3072:0 -n 1536 in.raw o8.raw && echo "o8.raw = in.raw[3k, 4.5k)"

run vdisk dd if=in.raw
run vdisk dd of=x.raw
run vdisk dd
run vdisk dd if=in.raw of=x.raw bs=0
run vdisk dd if=in.raw of=x.raw bs=2G
run vdisk dd if=in.raw of=x.raw bs=1x
run vdisk dd if=in.raw of=x.raw foo=1
run vdisk dd if=in.raw of=x.raw foo
run vdisk dd if=in.raw of=x.raw skip=-1
run vdisk dd if=in.raw of=x.raw count=x
run vdisk dd if=nosuchfile of=x.raw
run vdisk dd -O nosuchfmt if=in.raw of=x.raw
run vdisk dd if=in.raw of=nosuchdir/x.raw
run vdisk dd --no-such-option if=in.raw of=x.raw
test -e x.raw || echo "x.raw was not created"
