# tests/cross/vmdk.sh -- VMDK against qemu-img and libyal's vmdkinfo.
#
# 1. "create -f vmdk" prints the same "Formatting ..." line, "-o help" and
#    exit status as qemu-img for every subformat, option and error.
# 2. On images qemu-img made (every subformat, qemu-io writes, a backing
#    chain, a split image with data on both sides of an extent boundary),
#    "info" (human and JSON), "map" (human, whose File column names each
#    extent's file, and JSON), "check" and "compare" print exactly what
#    qemu-img prints.
# 3. Every image vdisk converts to VMDK passes "qemu-img check", compares
#    equal to its source in qemu-img, opens in vmdkinfo, and converts back
#    identically with vdisk.
. "$SRCDIR/same_lib.sh"

for tool in vmdkinfo qemu-io; do
    command -v "$tool" >/dev/null ||
        { echo "$tool not found (apt-get install libvmdk-utils qemu-utils)"
          exit 1; }
done

# ---- 1. create ----
same create -f vmdk -o help
same create -f vmdk -o help x.vmdk
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
           twoGbMaxExtentFlat streamOptimized; do
    same create -f vmdk -o subformat=$sub c-$sub.vmdk 3M
done
same create -f vmdk -o adapter_type=lsilogic,hwversion=8 o1.vmdk 1G
same create -f vmdk -o compat6=on,toolsversion=42,zeroed_grain=on o2.vmdk 1M
same create -f vmdk -o adapter_type=legacyESX o3.vmdk 64k
same create -f vmdk -b c-monolithicSparse.vmdk -F vmdk o4.vmdk
same create -f vmdk -o backing_file=c-monolithicSparse.vmdk o5.vmdk 3M
same create -f vmdk -o subformat=streamOptimized \
    -b c-monolithicSparse.vmdk -F vmdk o6.vmdk
same create -f vmdk -o subformat=foo e1.vmdk 1M
same create -f vmdk -o adapter_type=scsi e2.vmdk 1M
same create -f vmdk -o compat6=on,hwversion=7 e3.vmdk 1M
same create -f vmdk -o subformat=monolithicFlat -b c-monolithicSparse.vmdk \
    -F vmdk e4.vmdk
same create -f vmdk -o zeroed_grain=maybe e5.vmdk 1M
same create -f vmdk e6.vmdk

# ---- 2. images made by qemu-img ----
# Both tools look at the same files in ./img (copies would differ in
# allocation, and new images in their random CIDs).
same_here()
{
    local ours theirs
    theirs=$(cd img && "$QEMU_IMG" "$@" 2>/dev/null; echo "[exit $?]")
    ours=$(cd img && "$VDISK" "$@" 2>/dev/null; echo "[exit $?]")
    if [[ $ours != "$theirs" ]]; then
        cross_fail "$*"
        diff <(printf '%s\n' "$theirs") <(printf '%s\n' "$ours")
    fi
}

ops=(-c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 3000'
     -c 'write -P 0x33 1M 200k' -c 'write -z 1100k 64k'
     -c 'write -P 0x44 4095k 512')
mkdir img || exit 1
(
    cd img || exit 1
    qemu_io() { qemu-io -f vmdk "$@" >/dev/null; }
    for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
               twoGbMaxExtentFlat; do
        "$QEMU_IMG" create -q -f vmdk -o subformat=$sub $sub.vmdk 4M
        qemu_io "${ops[@]}" $sub.vmdk
    done
    "$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on zg.vmdk 4M
    qemu_io "${ops[@]}" -c 'write -z 2M 64k' zg.vmdk
    "$QEMU_IMG" convert -O vmdk -o subformat=streamOptimized \
        monolithicSparse.vmdk stream.vmdk
    "$QEMU_IMG" create -q -f vmdk -b zg.vmdk -F vmdk ov.vmdk
    qemu_io -c 'write -P 0x55 3M 4k' -c 'write -z 0 4k' ov.vmdk
    # Three 2 GiB extents; the writes straddle the first boundary.
    "$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk \
        5G
    qemu_io -c 'write -P 0x66 0 64k' -c 'write -P 0x77 2047M 2M' \
        -c 'write -P 0x88 4100M 64k' split.vmdk
) || exit 1
single=(monolithicSparse zg stream ov)
multi=(monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat)
for im in "${single[@]}" "${multi[@]}"; do
    same_here info $im.vmdk
    same_here info --output=json $im.vmdk
    same_here info --backing-chain $im.vmdk
    same_here check $im.vmdk
    same_here check --output=json $im.vmdk
    same_here compare monolithicSparse.vmdk $im.vmdk
done
for im in "${single[@]}" "${multi[@]}" split; do
    same_here map $im.vmdk
    same_here map --output=json $im.vmdk
done
same_here info split.vmdk
same_here check split.vmdk

# ---- 3. images vdisk writes ----
head -c 1500000 /dev/urandom > src.raw
truncate -s 5M src.raw
printf 'tail' | dd of=src.raw bs=1 seek=5242000 conv=notrunc 2>/dev/null
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
           twoGbMaxExtentFlat streamOptimized; do
    out=w-$sub.vmdk
    "$VDISK" convert -O vmdk -o subformat=$sub src.raw $out ||
        { cross_fail "vdisk convert to $sub"; continue; }
    "$QEMU_IMG" check -q $out || cross_fail "qemu-img check $out"
    "$QEMU_IMG" compare -q src.raw $out || cross_fail "qemu-img compare $out"
    "$VDISK" check -q $out || cross_fail "vdisk check $out"
    vmdkinfo $out >/dev/null || cross_fail "vmdkinfo $out"
    "$VDISK" convert -O raw $out back.raw && cmp -s src.raw back.raw ||
        cross_fail "vdisk round trip $out"
done
# streamOptimized from a VMDK source, and from qemu-img's stream.
"$VDISK" convert -O vmdk -o subformat=streamOptimized img/ov.vmdk s2.vmdk &&
    "$QEMU_IMG" compare -q img/ov.vmdk s2.vmdk &&
    "$QEMU_IMG" check -q s2.vmdk || cross_fail "stream from a chain"
finish
