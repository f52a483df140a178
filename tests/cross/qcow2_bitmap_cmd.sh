# tests/cross/qcow2_bitmap_cmd.sh -- "bitmap": the same actions with
# qemu-img on one copy of an image and with vdisk on the other.  After
# each, vdisk's image must pass qemu-img check, read the same and show
# the same info (bitmaps listed alike); QEMU must then use vdisk's
# bitmaps: record writes into them (qemu-io) and merge them.  Refusals
# (unknown or existing names, bad granularity, v2 and raw images, an
# in-use bitmap, bad option combinations) must exit the same, with no
# stdout on either side.
. "$SRCDIR/same_lib.sh"

both_qcow2 a.qcow2 64M
both_io a.qcow2 -c "'write -P 1 0 1M'"

step()
{
    same bitmap "$@"
    same_checked_image a.qcow2
}

step --add -g 128k a.qcow2 first
step --add a.qcow2 second
step --add --disable a.qcow2 third
step --disable a.qcow2 first
step --enable a.qcow2 third
# Writes recorded by QEMU into the bitmaps vdisk made.
both_io a.qcow2 -c "'write -P 2 8M 1M'" -c "'write -P 3 40M 64k'"
same_checked_image a.qcow2
step --clear a.qcow2 second
step --remove a.qcow2 first
step --add --clear --disable a.qcow2 fourth
# QEMU merges a bitmap vdisk cleared into a new one of its own.
both "$QEMU_IMG bitmap --add a.qcow2 merged"
both "$QEMU_IMG bitmap --merge third a.qcow2 merged"
same_checked_image a.qcow2
same check --output=json a.qcow2
# The last bitmap gone: the extension and the autoclear bit go too.
for b in second third fourth merged; do
    step --remove a.qcow2 "$b"
done

# Refusals.
same bitmap --remove a.qcow2 nothere
step --add a.qcow2 dup
same bitmap --add a.qcow2 dup
same bitmap --add -g 3k a.qcow2 g
same bitmap --add -g 256 a.qcow2 g
same bitmap --add -g 4G a.qcow2 g
same bitmap --add -g abc a.qcow2 g
same bitmap --add a.qcow2 "$(printf 'n%.0s' $(seq 1 1024))"
same bitmap a.qcow2 x
same bitmap --add a.qcow2
same bitmap -g 64k --clear a.qcow2 dup
same bitmap --clear -b a.qcow2 a.qcow2 dup
same bitmap -F raw --add a.qcow2 w
same bitmap --add -f raw a.qcow2 w
both_qcow2 "-o compat=0.10 v2.qcow2 1M"
same bitmap --add v2.qcow2 x
both "truncate -s 1M r.raw"
same bitmap --add -f raw r.raw x
same_files r.raw

# A bitmap left in use by a QEMU that died: only --remove works.
both "(qemu-io -c 'write 0 64k' -c 'sigraise 9' a.qcow2 >/dev/null; true) 2>/dev/null"
same bitmap --clear a.qcow2 dup
same bitmap --disable a.qcow2 dup
step --remove a.qcow2 dup
finish
