# tests/cross/qcow2_convert.sh -- "convert -O qcow2" against qemu-img, from
# raw and from qcow2, with and without compression (zlib and zstd) and
# with creation options.  vdisk's output must be byte for byte qemu-img's
# (same layout, same compressed streams), pass qemu-img check, compare
# equal to the source, and be readable by libqcow's qcowinfo (which
# cannot read zstd or extended-L2 images: the oracle's limit, so those
# combinations skip qcowinfo only).  The copy back to raw must equal the
# source too.
. "$SRCDIR/same_lib.sh"

command -v qcowinfo >/dev/null ||
    { echo "qcowinfo (libqcow-utils) is needed"; exit 1; }

# A source with data, zeros written as data, holes, a random part, and a
# last cluster that is not full.
both "$QEMU_IMG create -q -f raw src.raw 20971008 &&
      qemu-io -f raw -c 'write -P 0x11 0 1M' -c 'write -P 0x22 5M 100k' \
              -c 'write -P 0 8M 1M' -c 'write -P 0x33 20970496 512' \
              src.raw >/dev/null"
head -c 1500000 /dev/urandom >rand.bin
for d in q v; do
    dd if=rand.bin of=$d/src.raw bs=4096 seek=3000 conv=notrunc \
        status=none || exit 1
done

n=0
while read -r libqcow layout args; do
    n=$((n + 1))
    f=c$n.qcow2
    # shellcheck disable=SC2086 # args is a word list
    same convert -O qcow2 $args src.raw "$f"
    # out of order writes (-W) place clusters as the threads finish
    if [[ $layout == same ]]; then
        same_files "$f"
    fi
    "$QEMU_IMG" check -q v/"$f" || cross_fail "qemu-img check $f"
    "$QEMU_IMG" compare -q -f raw -F qcow2 v/src.raw v/"$f" ||
        cross_fail "qemu-img compare $f"
    if [[ $libqcow == yes ]]; then
        qcowinfo v/"$f" >/dev/null || cross_fail "qcowinfo $f"
    fi
    same convert -O raw "$f" "$f.raw"
    same_files "$f.raw"
done <<'EOF2'
yes same
yes same -c
no same -c -o compression_type=zstd
yes same -c -o cluster_size=4k
no same -c -o compression_type=zstd,cluster_size=512
yes same -c -o cluster_size=2M
yes same -o compat=0.10
yes same -c -o compat=0.10
yes same -o cluster_size=512
yes same -o cluster_size=4k,refcount_bits=1
yes same -o refcount_bits=64
no same -o extended_l2=on
no same -c -o extended_l2=on
yes same -o lazy_refcounts=on
yes same -o preallocation=metadata
yes same -S 0
yes any -W
yes any -c -W
EOF2

# From qcow2 (made by vdisk) to qcow2, with a backing file.
same convert -O qcow2 -c c2.qcow2 q2q.qcow2
same_files q2q.qcow2
same convert -O qcow2 -B c1.qcow2 -F qcow2 c3.qcow2 ovl.qcow2
same_files ovl.qcow2
(cd v && "$QEMU_IMG" check -q ovl.qcow2) || cross_fail "check ovl.qcow2"
(cd v && "$QEMU_IMG" compare -q ovl.qcow2 src.raw) ||
    cross_fail "compare ovl.qcow2"

# A source whose map is corrupt past its start (an unaligned L2 offset in
# L1 entry 2) fails in the block-status walk that comes before any write:
# an existing target (-n) is left as it was.
both "$QEMU_IMG create -q -f qcow2 -o cluster_size=4k bad.qcow2 8M &&
      qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 4M 64k' bad.qcow2 \
          >/dev/null &&
      python3 -c 'import struct, sys
f = open(\"bad.qcow2\", \"r+b\")
f.seek(40)
l1 = struct.unpack(\">Q\", f.read(8))[0]
f.seek(l1 + 2 * 8)
f.write(struct.pack(\">Q\", 1 << 63 | 0x1200))' &&
      $QEMU_IMG create -q -f raw target.raw 8M &&
      qemu-io -f raw -c 'write -P 9 0 8M' target.raw >/dev/null"
same convert -n -O raw bad.qcow2 target.raw
same_files target.raw

finish
