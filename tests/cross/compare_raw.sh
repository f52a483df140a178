# tests/cross/compare_raw.sh -- "compare" of raw images against qemu-img:
# same stdout (messages, offsets, -p progress) and exit status for
# identical and different images, different sizes, strict mode and
# errors.  Holes come from the host file system, so both tools see the
# same block status whatever the file system does.
. "$SRCDIR/same_lib.sh"

mk()
{
    "$QEMU_IMG" create -q -f raw a.raw 1M
    cp a.raw b.raw
    truncate -s 2M c.raw
    cp --sparse=always a.raw d.raw
    printf x | dd of=d.raw bs=1 seek=70000 conv=notrunc 2>/dev/null
    cp --sparse=always c.raw e.raw
    printf y | dd of=e.raw bs=1 seek=1500000 conv=notrunc 2>/dev/null
    head -c 8192 /dev/zero | tr '\0' a > x1.raw
    cp x1.raw x2.raw
    fallocate -p -o 4096 -l 4096 x2.raw 2>/dev/null ||
        { head -c 4096 x1.raw > x2.raw; truncate -s 8192 x2.raw; }
    head -c 12288 /dev/zero | tr '\0' a > x4.raw
    cp ../big.bin big1.raw
    cp big1.raw big2.raw
    printf z | dd of=big2.raw bs=1 seek=2900000 conv=notrunc 2>/dev/null
    truncate -s 4M big3.raw
    printf q | dd of=big3.raw bs=1 seek=3000000 conv=notrunc 2>/dev/null
}
head -c 3000320 /dev/urandom > big.bin
(cd q && mk) && (cd v && mk) || exit 1

same compare a.raw b.raw
same compare -f raw -F raw a.raw b.raw
same compare a.raw d.raw
same compare d.raw a.raw
same compare -q a.raw d.raw
same compare a.raw c.raw
same compare a.raw e.raw
same compare e.raw a.raw
same compare x4.raw x1.raw
same compare x1.raw x4.raw
same compare big1.raw big2.raw
same compare big1.raw big3.raw
same compare big3.raw a.raw

# Strict mode: sizes and block status must match too.
same compare -s a.raw b.raw
same compare -s a.raw c.raw
same compare -s a.raw d.raw
same compare -s x1.raw x2.raw
same compare -s x4.raw x1.raw

# Progress on stdout.
same compare -p a.raw b.raw
same compare -p a.raw c.raw
same compare -p big1.raw big2.raw
same compare -p big1.raw big1.raw
same compare -p -q a.raw c.raw
same compare -p a.raw nosuchfile

# Errors: usage 1, open 2.
same compare a.raw
same compare a.raw b.raw c.raw
same compare a.raw nosuchfile
same compare -f nosuchfmt a.raw b.raw
same compare -T bogus a.raw b.raw
same compare -T none -U a.raw b.raw
same compare -f
same compare --no-such-option a.raw b.raw

finish
