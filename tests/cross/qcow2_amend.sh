# tests/cross/qcow2_amend.sh -- "amend" of qcow2 images against qemu-img:
# compat 1.1 -> 0.10 (zero clusters with and without a backing file,
# preallocated ones, zstd without compressed clusters) and back, lazy
# refcounts on and off (also on a dirty image), refcount_bits changes,
# internal snapshots (their L2 tables are expanded too),
# size; after each, vdisk's image passes qemu-img check, reads the same
# as qemu-img's and "info --output=json" is the same.  The refusals
# (downgrade with other refcount widths or extended L2, lazy refcounts
# with compat=0.10, backing file changes, create-only options, missing
# -o, bad values) print the same and exit the same; "-o help" listings
# are identical.
. "$SRCDIR/same_lib.sh"

# Downgrade with data, zero clusters (plain and preallocated), no backing.
both_qcow2 "-o cluster_size=4k d.qcow2 1M"
both_io d.qcow2 -c "'write -P 7 0 64k'" -c "'write -z 64k 64k'" \
    -c "'write -P 9 256k 8k'" -c "'write -z 256k 4k'"
same amend -o compat=0.10 d.qcow2
same_checked_image d.qcow2
same amend -o compat=1.1 d.qcow2
same_checked_image d.qcow2

# Zero clusters over a backing file must stay zeros in version 2.
both_qcow2 "b.qcow2 1M"
both_io b.qcow2 -c "'write -P 5 0 1M'"
both_qcow2 "-b b.qcow2 -F qcow2 o.qcow2"
both_io o.qcow2 -c "'write -z 0 128k'" -c "'write -P 6 512k 64k'" \
    -c "'write -z 512k 64k'"
same amend -o compat=0.10 o.qcow2
same_checked_image o.qcow2
same amend -p -o compat=v3 o.qcow2
same_checked_image o.qcow2

# Internal snapshots: their tables are expanded as well.
both_qcow2 "-o cluster_size=4k sn.qcow2 1M"
both_io sn.qcow2 -c "'write -P 1 0 64k'" -c "'write -z 8k 8k'"
both "$QEMU_IMG snapshot -c s1 sn.qcow2"
both_io sn.qcow2 -c "'write -z 32k 8k'" -c "'write -P 2 40k 4k'"
same amend -o compat=0.10 sn.qcow2
same_checked_image sn.qcow2
both "$QEMU_IMG convert -O raw -l s1 sn.qcow2 s1.raw"
same_files s1.raw

# Lazy refcounts on and off; a dirty image is cleaned first.
both_qcow2 "-o cluster_size=64k l.qcow2 4M"
same amend -o lazy_refcounts=on l.qcow2
same_checked_image l.qcow2
both_io l.qcow2 -c "'write -P 3 0 256k'"
same amend -o lazy_refcounts=off l.qcow2
same_checked_image l.qcow2
same amend -o lazy_refcounts=on,compat=0.10 l.qcow2
same_checked_image l.qcow2

# Refcount widths (and the downgrade they prevent).
both_qcow2 "-o cluster_size=4k r.qcow2 2M"
both_io r.qcow2 -c "'write -P 1 0 300k'"
for bits in 1 64 8 16; do
    same amend -o refcount_bits=$bits r.qcow2
    "$QEMU_IMG" check -q v/r.qcow2 || cross_fail "check after $bits bits"
    "$QEMU_IMG" compare -q q/r.qcow2 v/r.qcow2 || cross_fail "cmp $bits"
done
same_checked_image r.qcow2
same amend -o refcount_bits=4 r.qcow2
same amend -o compat=0.10 r.qcow2
same amend -o compat=0.10,refcount_bits=8 r.qcow2
same_checked_image r.qcow2

# zstd images downgrade when nothing is compressed.
both_qcow2 "-o compression_type=zstd z.qcow2 1M"
both_io z.qcow2 -c "'write -P 2 0 64k'"
same amend -o compat=0.10 z.qcow2
same_checked_image z.qcow2

# Growing through amend.
both_qcow2 "s.qcow2 1M"
same amend -o size=3M s.qcow2
same_checked_image s.qcow2

# Refusals.
both_qcow2 "-o extended_l2=on,cluster_size=64k x.qcow2 1M"
same amend -o compat=0.10 x.qcow2
same amend x.qcow2
same amend -o foo=bar x.qcow2
same amend -o cluster_size=4k x.qcow2
same amend -o compat=0.9 x.qcow2
same amend -o lazy_refcounts=maybe x.qcow2
same amend -o backing_file=b.qcow2 x.qcow2
same amend -o data_file=foo x.qcow2
same amend -o data_file_raw=on x.qcow2
same amend -o encrypt.keyslot=1 x.qcow2
same amend -o , x.qcow2
same amend -o compat=0.10 x.qcow2 y.qcow2
same amend -o compat=0.10 missing.qcow2
same amend -f raw -o size=1M x.qcow2
same_checked_image x.qcow2

# Option listings.
same amend -o help -f qcow2
same amend -o help x.qcow2
same amend -o help
same amend -f vmdk -o help
same amend -f nope -o help

finish
