# tests/cross/qcow2_bitmap_merge.sh -- the contents of persistent bitmaps:
# "bitmap --merge" (within an image and from -b another) and "convert
# --bitmaps", done by qemu-img on one copy and by vdisk on the other.
# The bitmaps' contents are compared as QEMU reads them (qemu-nbd and
# qemu-img map, see bitmap_areas): after every merge each bitmap must mark
# the same areas on both sides, and vdisk's images must pass qemu-img
# check.  Granularities from 512 bytes to 1 MiB are mixed in both
# directions, and cluster sizes from 4 KiB to 2 MiB.  Refusals (unknown
# bitmaps, other sizes, an in-use bitmap, raw or v2 images, several
# sources) must exit the same with the same message; a convert that
# fails leaves no output with vdisk.
. "$SRCDIR/same_lib.sh"

# Bitmaps of four granularities that QEMU fills with its own writes.
both_qcow2 a.qcow2 64M
both "$QEMU_IMG bitmap --add a.qcow2 g64k"
both "$QEMU_IMG bitmap --add -g 512 a.qcow2 g512"
both "$QEMU_IMG bitmap --add -g 1M a.qcow2 g1m"
both_io a.qcow2 -c "'write 0 100k'" -c "'write 5M 3000'" \
    -c "'write 33M 1M'" -c "'write 64511k 1k'"
both "$QEMU_IMG bitmap --add -g 4k a.qcow2 g4k"
both "$QEMU_IMG bitmap --disable a.qcow2 g512"
both_io a.qcow2 -c "'write 40M 64k'" -c "'write 1000k 70k'" \
    -c "'write 63M 1M'"
both "$QEMU_IMG bitmap --add a.qcow2 empty"
same_bitmap_data a.qcow2 g64k g512 g1m g4k empty

merge()
{
    same_err bitmap "$@"
    same_checked_image a.qcow2
}

# finer into coarser, coarser into finer, into a disabled bitmap, empty
# into full, a bitmap into itself, and two at once
merge --merge g512 a.qcow2 g4k
merge --merge g1m a.qcow2 g512
merge --merge g4k a.qcow2 empty
merge --merge empty a.qcow2 g64k
merge --merge g64k a.qcow2 g64k
merge --merge g512 --merge g1m a.qcow2 g64k
same_bitmap_data a.qcow2 g64k g512 g1m g4k empty

# From another image, of another cluster size.
both_qcow2 "-o cluster_size=4k b.qcow2 64M"
both "$QEMU_IMG bitmap --add -g 8k b.qcow2 other"
both_io b.qcow2 -c "'write 10M 12k'" -c "'write 60M 4M'"
merge --merge other -b b.qcow2 a.qcow2 empty
merge --merge other -b b.qcow2 -F qcow2 a.qcow2 g1m
same_bitmap_data a.qcow2 g1m empty
same_files b.qcow2

# Refusals.
same_err bitmap --merge nope a.qcow2 g64k
same_err bitmap --merge g64k a.qcow2 nope
same_err bitmap --merge other -b b.qcow2 -F raw a.qcow2 g64k
both_qcow2 c.qcow2 32M
both "$QEMU_IMG bitmap --add c.qcow2 small"
same_err bitmap --merge small -b c.qcow2 a.qcow2 g64k
same bitmap --merge x -b missing.qcow2 a.qcow2 g64k
same_err bitmap --merge -b b.qcow2 a.qcow2 g64k
same_checked_image a.qcow2

# The backing chain is not opened: a missing backing file is no matter.
both "$QEMU_IMG create -q -f qcow2 -u -b gone.qcow2 -F qcow2 over.qcow2 64M"
same_err bitmap --add over.qcow2 o
same_err bitmap --merge other -b b.qcow2 over.qcow2 o

# ---- convert --bitmaps ----

convert_ok()
{
    same_err convert --bitmaps "$@"
    local out=${*: -1}
    same_checked_image "$out"
    same_bitmap_data "$out" g64k g512 g1m g4k empty
}

convert_ok -O qcow2 a.qcow2 o1.qcow2
convert_ok -O qcow2 -o cluster_size=4k a.qcow2 o2.qcow2
convert_ok -O qcow2 -o cluster_size=2M -c a.qcow2 o3.qcow2
# onto an existing image of the same size (-n)
both_qcow2 o4.qcow2 64M
convert_ok -n -O qcow2 a.qcow2 o4.qcow2

# Refusals: the target or the source cannot hold bitmaps, two sources.
convert_fails()
{
    same_err convert "$@"
    [[ ! -e v/${*: -1} ]] || cross_fail "a failed convert left v/${*: -1}"
}
convert_fails --bitmaps -O raw a.qcow2 f1.raw
convert_fails --bitmaps -O qcow2 -o compat=0.10 a.qcow2 f2.qcow2
both "truncate -s 1M r.raw"
convert_fails --bitmaps -O qcow2 r.raw f3.qcow2
convert_fails --bitmaps -O qcow2 a.qcow2 a.qcow2 f4.qcow2
both_qcow2 "-o compat=0.10 v2.qcow2 1M"
convert_fails --bitmaps -O qcow2 v2.qcow2 f5.qcow2
same_err convert --skip-broken-bitmaps -O qcow2 a.qcow2 f6.qcow2

# A bitmap left in use by a QEMU that died: refused, or skipped with
# --skip-broken-bitmaps; merging from or into it is refused.
both "(qemu-io -c 'write 0 64k' -c 'sigraise 9' a.qcow2 >/dev/null; true) 2>/dev/null"
convert_fails --bitmaps -O qcow2 a.qcow2 f7.qcow2
same_err convert --bitmaps --skip-broken-bitmaps -O qcow2 a.qcow2 o5.qcow2
same_checked_image o5.qcow2
# (qemu-img adds a hint to use a QMP command; stdout and status only)
same bitmap --merge g64k -b a.qcow2 o1.qcow2 g64k
same bitmap --merge g4k a.qcow2 g64k
finish
