# tests/cross/qcow2_resize.sh -- "resize" of qcow2 images against qemu-img:
# growing (with each preallocation mode, across L2 tables and past the
# L1 table's end) gives byte for byte qemu-img's file and the same
# output; errors (unaligned size, preallocation when shrinking, no
# --shrink) are the same.  Shrinking: where the part cut off holds no
# data both tools succeed with the same result; where it does, qemu-img
# 7.2 discards the data and vdisk refuses (exit 1, file unchanged).
. "$SRCDIR/same_lib.sh"

mk()
{
    both "$QEMU_IMG create -q -f qcow2 $2 $1 $3"
}

n=0
while read -r opts size grow mode; do
    n=$((n + 1))
    f=r$n.qcow2
    [[ $opts == - ]] && opts=
    mk "$f" "-o cluster_size=4k${opts:+,$opts}" "$size"
    both "qemu-io -c 'write -P 7 0 64k' $f >/dev/null"
    same resize --preallocation="$mode" "$f" "$grow"
    same_files "$f"
    "$QEMU_IMG" check -q v/"$f" || cross_fail "qemu-img check $f"
done <<'EOF2'
- 1M 3M off
- 1M +1M metadata
- 1M 5M falloc
- 1M 2M full
- 1536k 10M metadata
- 1000k 2050k metadata
compat=0.10 1M 4M metadata
extended_l2=on,cluster_size=16k 1M 3M metadata
refcount_bits=1 1M 64M off
lazy_refcounts=on 1M 5M off
EOF2

# Past the L1 table: a new, longer table (64k clusters, 1 GiB steps).
mk big.qcow2 "" 1G
both "qemu-io -c 'write -P 7 0 64k' -c 'write -P 8 1023M 64k' big.qcow2 \
      >/dev/null"
same resize big.qcow2 100G
same resize big.qcow2 +1T
same_files big.qcow2
"$QEMU_IMG" check -q v/big.qcow2 || cross_fail "check big.qcow2"

# Shrinking an image without data past the new end.
mk s1.qcow2 "-o cluster_size=4k" 4M
both "qemu-io -c 'write -P 7 0 64k' -c 'write -z 3M 64k' s1.qcow2 >/dev/null"
same resize --shrink s1.qcow2 2M
same resize --shrink s1.qcow2 -64k
same_files s1.qcow2

# Errors.
mk e.qcow2 "" 1M
same resize e.qcow2 1000000
same resize e.qcow2 +100
same resize --preallocation=metadata --shrink e.qcow2 512k
same resize e.qcow2 512k
same resize e.qcow2 0
same_files e.qcow2

# Data past the new end: vdisk refuses to discard it.
mk d.qcow2 "-o cluster_size=4k" 4M
both "qemu-io -c 'write -P 7 3M 64k' d.qcow2 >/dev/null"
cp v/d.qcow2 d-before.qcow2
if "$VDISK" resize --shrink v/d.qcow2 2M >/dev/null 2>&1; then
    cross_fail "vdisk shrank over data"
fi
cmp -s d-before.qcow2 v/d.qcow2 || cross_fail "refused shrink changed d.qcow2"

finish
