# tests/cross/dd_raw.sh -- "dd" to raw images against qemu-img: same
# stdout and exit status, and the same output image (content and
# allocation) for bs, count and skip, including qemu-img's quirks (count
# limits the input before the skip; a skip past the end warns and makes an
# empty image).
. "$SRCDIR/same_lib.sh"

head -c 12288 /dev/urandom > in.bin
both 'cp ../in.bin in.raw && truncate -s 16K in.raw'

same dd if=in.raw of=o1.raw
same dd if=in.raw of=o2.raw bs=1k
same dd if=in.raw of=o3.raw bs=1k count=2
same dd if=in.raw of=o4.raw bs=1k skip=2
same dd if=in.raw of=o5.raw bs=4k skip=4
same dd if=in.raw of=o6.raw bs=4k skip=5
same dd if=in.raw of=o7.raw count=0
same dd if=in.raw of=o8.raw bs=1k count=1 skip=1
same dd -f raw if=in.raw of=o9.raw count=3 skip=2 bs=1536
same dd if=in.raw of=p1.raw skip=99999999999999999
same dd if=in.raw of=p2.raw bs=1k count=99999999999999999
same dd -U -O raw if=in.raw of=p3.raw bs=64k
same dd if=in.raw of=p4.raw bs=3k skip=1
same_files o1.raw o2.raw o3.raw o4.raw o5.raw o6.raw o7.raw o8.raw o9.raw \
    p1.raw p2.raw p3.raw p4.raw
same_map o1.raw o4.raw o9.raw p4.raw

# Errors.
same dd if=in.raw
same dd of=x.raw
same dd
same dd if=in.raw of=x.raw bs=0
same dd if=in.raw of=x.raw bs=2G
same dd if=in.raw of=x.raw foo=1
same dd if=in.raw of=x.raw foo
same dd if=nosuchfile of=x.raw
same dd -O nosuchfmt if=in.raw of=x.raw
same dd if=in.raw of=x.raw skip=-1
same dd if=in.raw of=x.raw count=x
same dd if=in.raw of=nosuchdir/x.raw
same dd --no-such-option if=in.raw of=x.raw
same_files x.raw

finish
