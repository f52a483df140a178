# bench/lib.sh -- what the benchmark scripts share: the checks for the two
# tools, the inputs directory, and the table of timings made in pairs by
# paired_time.py.  Sourced, not run.  The caller sets here (the bench
# directory), VDISK, QEMU_IMG and RUNS first.

# Exits with a hint unless both tools are there; $1 names the script.
bench_need_tools() {
    local me=$1
    if [[ ! -x $VDISK ]]; then
        echo "$me: $VDISK not found; build it first:" >&2
        echo "  meson setup build && ninja -C build   (or set VDISK=...)" >&2
        exit 1
    fi
    if ! command -v "$QEMU_IMG" >/dev/null; then
        echo "$me: $QEMU_IMG not found (apt-get install qemu-utils)" >&2
        exit 1
    fi
}

# Sets dir to BENCH_DIR, or to a fresh directory named after $1 that is
# removed when the script exits.
bench_setup_dir() {
    dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")}
    mkdir -p "$dir"
    if [[ -z ${BENCH_DIR:-} ]]; then
        trap 'rm -rf -- "$dir"' EXIT
    fi
}

# Width of the label column of the table.
BENCH_LABEL_WIDTH=22

# The legend and the header line of the table.
bench_print_header() {
    echo "seconds: mean wall time, its standard deviation, mean CPU time"
    echo "(user + system); q/v = qemu-img wall / vdisk wall (means), med = the"
    echo "median of the ratios of runs made in the same pair, min = the ratio"
    echo "of the fastest runs"
    printf "%-${BENCH_LABEL_WIDTH}s %6s %6s %6s %7s %6s %6s %5s %5s %5s\n" \
        "case" "vdisk" "sd" "cpu" "qemu" "sd" "cpu" "q/v" "med" "min"
}

# One row of the table: the label, then the shell command run before each
# timed run, then the vdisk command and the qemu-img command, which
# paired_time.py runs RUNS times each, alternating which goes first.
bench_row() {
    local label=$1 prepare=$2 vdisk_cmd=$3 qemu_cmd=$4 row
    row=$(python3 "$here/paired_time.py" "$RUNS" "$prepare" "$vdisk_cmd" \
          "$qemu_cmd")
    if [[ $row == failed ]]; then
        printf "%-${BENCH_LABEL_WIDTH}s %s\n" "$label" "failed"
        return
    fi
    local v vsd vcpu vmin q qsd qcpu qmin ratio med rmin
    read -r v vsd vcpu vmin q qsd qcpu qmin ratio med rmin <<<"$row"
    printf "%-${BENCH_LABEL_WIDTH}s %6s %6s %6s %7s %6s %6s %5s %5s %5s\n" \
        "$label" "$v" "$vsd" "$vcpu" "$q" "$qsd" "$qcpu" "$ratio" "$med" \
        "$rmin"
}
