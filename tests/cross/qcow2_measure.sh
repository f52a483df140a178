# tests/cross/qcow2_measure.sh -- "measure -O qcow2" against qemu-img:
# the same figures (human and JSON) and exit status for empty images of a
# size and for source images (raw, qcow2, qcow2 with persistent bitmaps),
# with cluster_size, preallocation, refcount_bits, extended_l2, compat
# and backing_file options.
. "$SRCDIR/same_lib.sh"

both "$QEMU_IMG create -q -f raw src.raw 64M &&
      qemu-io -f raw -c 'write -P 1 0 1M' -c 'write -P 2 5M 100k' \
              -c 'write -P 0 20M 1M' -c 'write -P 3 63M 1M' src.raw \
              >/dev/null"
both "$QEMU_IMG convert -O qcow2 src.raw src.qcow2"
both "$QEMU_IMG create -q -f qcow2 bm.qcow2 64M &&
      qemu-io -c 'write 0 1M' bm.qcow2 >/dev/null &&
      $QEMU_IMG bitmap --add -g 64k bm.qcow2 b1 &&
      $QEMU_IMG bitmap --add -g 512 bm.qcow2 bitmap-two"
both "$QEMU_IMG create -q -f qcow2 -o compat=0.10 v2.qcow2 8M"

for opts in "" cluster_size=512 cluster_size=4k cluster_size=2M \
            preallocation=metadata preallocation=falloc preallocation=full \
            refcount_bits=1 refcount_bits=64 extended_l2=on compat=0.10 \
            compat=1.1,lazy_refcounts=on backing_file=x \
            cluster_size=16k,extended_l2=on,preallocation=metadata \
            encryption=on; do
    o=()
    [[ -n $opts ]] && o=(-o "$opts")
    for size in 0 1000 1G 100G; do
        same measure -O qcow2 "${o[@]}" --size "$size"
    done
    same measure -O qcow2 "${o[@]}" --size 1G --output=json
    for src in src.raw src.qcow2 bm.qcow2 v2.qcow2; do
        same measure -O qcow2 "${o[@]}" "$src"
    done
    same measure -O qcow2 "${o[@]}" --output=json bm.qcow2
done
same measure -O qcow2 -f raw bm.qcow2

# Errors.
same measure -O qcow2 -o cluster_size=1000 --size 1G
same measure -O qcow2 -o extended_l2=on,cluster_size=4k --size 1G
same measure -O qcow2 -o compat=2.0 --size 1G
same measure -O qcow2 -o compat=0.10,refcount_bits=8 --size 1G
same measure -O qcow2 -o refcount_bits=3 --size 1G
same measure -O qcow2 -o preallocation=bogus --size 1G
same measure -O qcow2 -o cluster_size=512 --size 1T
same measure -O qcow2 -o nosuchoption=1 --size 1G

finish
