# tests/cross/bench.sh -- "bench": the same runs with qemu-img and vdisk
# must print the same lines (the time taken aside) and exit the same, and
# write runs must leave images that read the same and pass qemu-img
# check.  Covers the defaults, sizes and steps that wrap at the end of the
# image, offsets, patterns, flush intervals, cache modes, formats, and
# every refusal (bad numbers, options that do not go together, requests
# outside the image).
. "$SRCDIR/same_lib.sh"

# same_bench ARGS...: like same, with "Run completed in S seconds." made
# time-free first; stderr is compared too.
same_bench()
{
    (cd q && "$QEMU_IMG" bench "$@" >../q.out 2>../q.err </dev/null
     echo $? >../q.rc)
    (cd v && "$VDISK" bench "$@" >../v.out 2>../v.err </dev/null
     echo $? >../v.rc)
    sed -i 's/^Run completed in [0-9.]* seconds\.$/Run completed/' q.out v.out
    sed -i "s/^qemu-img: /vdisk: /; s/'qemu-img --help'/'vdisk --help'/" q.err
    if cmp -s q.out v.out && cmp -s q.rc v.rc && cmp -s q.err v.err; then
        return 0
    fi
    cross_fail "bench $*"
    echo "--- qemu-img (exit $(cat q.rc))"
    cat q.out q.err
    echo "--- vdisk (exit $(cat v.rc))"
    cat v.out v.err
}

both_qcow2 a.qcow2 1M
both "truncate -s 1M r.raw"
both_io a.qcow2 -c "'write -P 7 0 64k'"

same_bench a.qcow2
same_bench -c 1000 -s 3000 a.qcow2
same_bench -c 300 -o 1040384 a.qcow2
same_bench -c 10 -s 512 -S 0 a.qcow2
same_bench -c 10 -S 8k -d 1 -f raw r.raw
same_bench -c 0 a.qcow2
same_bench -c 5 -s 0 a.qcow2
same_bench -c 100 -t writeback -i threads --image-opts \
    driver=qcow2,file.filename=a.qcow2
same_bench -c 100 -q -U a.qcow2

# Writes: the images must read the same afterwards.
same_bench -w -c 200 -s 3000 --pattern=0x5a -o 4k a.qcow2
same_checked_image a.qcow2
same_bench -w -c 64 -d 8 --flush-interval=16 -f raw r.raw
same_files r.raw
same_bench -w -c 64 -d 4 --flush-interval=4 --no-drain -t writethrough \
    --pattern=255 a.qcow2
same_checked_image a.qcow2
same_bench -w -c 300 -s 64k -S 0 -t unsafe a.qcow2
same_checked_image a.qcow2

# Refusals.
same_bench -c 5 -o 2M a.qcow2
same_bench -c 5 -s 2M a.qcow2
same_bench -c abc a.qcow2
same_bench -c -1 a.qcow2
same_bench -d 2147483648 a.qcow2
same_bench -c 5 -o -5 a.qcow2
same_bench -c 5 -s 3G a.qcow2
same_bench -c 5 -S x a.qcow2
same_bench --pattern=256 a.qcow2
same_bench --flush-interval=x -w a.qcow2
same_bench -c 5 --flush-interval=64 a.qcow2
same_bench -w -c 5 --flush-interval=8 a.qcow2
same_bench -c 5 -t bogus a.qcow2
same_bench -c 5 -i bogus a.qcow2
same_bench -c 5 -i native a.qcow2
same_bench -c 5 -n a.qcow2
same_bench -c 5 a.qcow2 r.raw
same_bench -c 5
# (vdisk words open errors its own way: stdout and status only)
same bench -c 5 -f raw missing.raw
same_files r.raw
finish
