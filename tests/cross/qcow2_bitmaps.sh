# tests/cross/qcow2_bitmaps.sh -- persistent dirty bitmaps made by QEMU
# (qemu-img bitmap, and qemu-io writes while bitmaps record them): "info"
# lists them as qemu-img does (names, flags, granularity, human and
# JSON), "check" and "measure" count their clusters the same, and data
# reads back unchanged.  A bitmap left "in-use" by a QEMU that died is
# shown so; once vdisk writes the image (clearing the autoclear bit, as a
# program that does not update bitmaps must), neither tool lists them and
# both report their clusters as leaked.
. "$SRCDIR/same_lib.sh"

both_qcow2 bm.qcow2 64M
both "$QEMU_IMG bitmap --add -g 128k bm.qcow2 first"
both "$QEMU_IMG bitmap --add --disable bm.qcow2 'second, with spaces'"
both "$QEMU_IMG bitmap --add -g 2M bm.qcow2 third"
# Writes while "first" and "third" record: their tables get data clusters.
both_io bm.qcow2 -c "'write -P 5 1M 256k'" -c "'write -P 6 40M 64k'"

same info bm.qcow2
same info --output=json bm.qcow2
same check --output=json bm.qcow2
same measure --output=json -O qcow2 bm.qcow2
same map --output=json bm.qcow2
same convert -O raw bm.qcow2 bm.raw
same_files bm.raw

# Many bitmaps with long names.
both_qcow2 many.qcow2 1M
for i in $(seq 1 40); do
    both "$QEMU_IMG bitmap --add many.qcow2 bitmap-$i-$(printf 'x%.0s' $(seq 1 200))"
done
same info --output=json many.qcow2
same check many.qcow2

# A QEMU that dies with the image open leaves its bitmaps in use.
both "cp bm.qcow2 inuse.qcow2"
both "(qemu-io -c 'write 0 64k' -c 'sigraise 9' inuse.qcow2 >/dev/null; true) 2>/dev/null"
same info -U --output=json inuse.qcow2
same info -U inuse.qcow2

# After a write by vdisk the bitmaps no longer count (autoclear bit
# cleared): vdisk resizes the image on both sides, then both tools must
# answer the same.
both '"$VDISK" resize bm.qcow2 128M >/dev/null'
same info --output=json bm.qcow2
same check bm.qcow2
same measure --output=json -O qcow2 bm.qcow2
finish
