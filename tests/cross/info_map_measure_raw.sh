# tests/cross/info_map_measure_raw.sh -- "info", "map", "measure" and
# "check" on raw images print exactly what qemu-img prints.
#
# For a set of raw images (empty, all hole, data at various offsets, odd
# sizes, zeroed ranges, preallocated) both tools run on the same path;
# stdout and the exit status must be identical byte for byte.
# Run through run_cross.sh (VDISK and QEMU_IMG set, fresh directory).
set -u

# Comparisons run as background jobs (at most JOBS at a time), each one
# writing what differed, if anything, to its own file in results/.
JOBS=4
mkdir results || exit 1
n=0

# compare ARGS...: runs "vdisk ARGS" and "qemu-img ARGS"; writes the
# difference of stdout plus exit status to results/N when they disagree.
compare()
{
    local ours theirs
    ours=$("$VDISK" "$@" 2>/dev/null; echo "[exit $?]")
    theirs=$("$QEMU_IMG" "$@" 2>/dev/null; echo "[exit $?]")
    if [[ $ours != "$theirs" ]]; then
        echo "DIFFERS: $*"
        diff <(printf '%s\n' "$theirs") <(printf '%s\n' "$ours") |
            sed 's/^/    /'
    fi
}

# same ARGS...: compare in the background.
same()
{
    while (($(jobs -pr | wc -l) >= JOBS)); do
        wait -n
    done
    n=$((n + 1))
    compare "$@" >"results/$n" 2>&1 &
}

# mkraw NAME SIZE [QEMU-IO COMMANDS...]: a raw image made by qemu-img and
# written by qemu-io, so vdisk is not judged on its own output.
mkraw()
{
    local name=$1 size=$2
    shift 2
    "$QEMU_IMG" create -q -f raw "$name" "$size" || exit 1
    local cmd
    for cmd in "$@"; do
        qemu-io -f raw -c "$cmd" "$name" >/dev/null || exit 1
    done
}

mkraw empty.img 0
mkraw fresh.img 1M
mkraw data.img 1M 'write -P 0xab 64k 4k' 'write -P 1 512k 128k'
mkraw tail.img 4M 'write -P 7 4092k 4k'
mkraw odd.img 1049088 'write -P 3 1M 512'
mkraw small.img 1000
mkraw unaligned.img 1048676 'write -P 9 1000k 24676'
mkraw zeroed.img 2M 'write -z 0 64k' 'write -P 5 1M 64k' 'write -z 1088k 64k'
"$QEMU_IMG" create -q -f raw -o preallocation=full full.img 192k || exit 1
"$QEMU_IMG" create -q -f raw -o preallocation=falloc falloc.img 192k ||
    exit 1
truncate -s 3M hole.img || exit 1
images=(empty.img fresh.img data.img tail.img odd.img small.img
        unaligned.img zeroed.img full.img falloc.img hole.img)

for img in "${images[@]}"; do
    same info --output=json "$img"
    same info "$img"
    same map --output=json "$img"
    same map "$img"
    same measure --output=json -O raw "$img"
    same check "$img"
done

# Explicit format, -U, --backing-chain and the human measure output.
same info --output=json -f raw -U data.img
same info --backing-chain --output=json data.img
same info --backing-chain -f raw data.img
same map --output=json -f raw -U data.img
same measure -f raw data.img
same check --output=json -f raw -U data.img

# Windows into the map: unaligned starts, lengths past the end, empty.
windows=("--start-offset=1000" "--start-offset=65537 --max-length=70000"
         "--start-offset=1M" "--start-offset=2M" "--max-length=0" "-s 1k -l 5k"
         "--start-offset=100 --max-length=9223372036854775807"
         "--start-offset=1048575 --max-length=1")
for window in "${windows[@]}"; do
    # shellcheck disable=SC2086 # $window is several words
    same map --output=json $window data.img
done
same map --output=json -s 1000k -l 10000 unaligned.img
same map -s 64k -l 600k data.img
same map -s 1100k zeroed.img

# Sizes measured without an image.
for size in 0 1G 7E; do
    same measure --output=json --size "$size"
done
same measure -O raw --size 3G

wait
cat results/*
failures=$(find results -type f -size +0 | wc -l)
if ((failures > 0)); then
    echo "$failures comparisons differ"
    exit 1
fi
