#!/usr/bin/env bash
# scripts/demo.sh -- the main job on a fresh machine, end to end.
#
#   bash scripts/demo.sh
#
# Installs missing packages (scripts/deps.sh), builds vdisk in build/, makes
# a sparse sample disk (raw, data at a few offsets, holes between), converts
# it with "vdisk convert" into every format in DEMO_FORMATS that this build
# can create, checks each copy with "vdisk compare", the reference
# "qemu-img compare" and "vdisk verify", shows "vdisk info" and "vdisk
# map" of it, and ends with one line per format.  Exits 1 if any step failed.
#
# Environment (optional): VDISK_BUILD_ROOT (where build/ goes, default the
# repo root), VDISK_DEMO_DIR (scratch directory, default build/demo).
set -u -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$PWD
BUILD=${VDISK_BUILD_ROOT:-$ROOT}/build
DEMO_DIR=${VDISK_DEMO_DIR:-$BUILD/demo}

# Target formats, in order.  A new format is one more word here; formats
# that "vdisk create" does not support yet are reported and skipped.
DEMO_FORMATS=(raw qcow2 vhdx vmdk)

# shellcheck source=scripts/deps.sh
. "$ROOT/scripts/deps.sh"

RESULTS=()   # one line per format, printed at the end
FAILED=0

say()
{
    printf '\n== %s\n' "$*"
}

# step DESCRIPTION CMD...: runs CMD, shows its output indented, and
# records a failure when it exits non-zero.  Returns CMD's status.
step()
{
    local desc=$1 out status
    shift
    printf -- '-- %s\n   $ %s\n' "$desc" "$*"
    out=$("$@" 2>&1)
    status=$?
    if [[ -n $out ]]; then
        printf '%s\n' "$out" | sed 's/^/   /'
    fi
    if ((status != 0)); then
        printf '   -> FAILED (exit %d)\n' "$status"
        FAILED=$((FAILED + 1))
    fi
    return "$status"
}

build_vdisk()
{
    say "Building vdisk in $BUILD"
    if [[ ! -f $BUILD/meson-private/coredata.dat ]]; then
        meson setup "$BUILD" "$ROOT" || return 1
    fi
    meson compile -C "$BUILD" vdisk qemu-img-link || return 1
    VDISK=$BUILD/vdisk
    if [[ ! -x $VDISK ]]; then
        echo "demo: the build made no $VDISK" >&2
        return 1
    fi
    echo "vdisk: $VDISK"
}

# put FILE OFFSET_MIB LENGTH_MIB PATTERN: writes PATTERN repeated over
# LENGTH_MIB MiB at OFFSET_MIB MiB, without truncating FILE.
put()
{
    yes "$4" | head -c "$(($3 << 20))" |
        dd of="$1" bs=1M seek="$2" conv=notrunc status=none
    local piped=("${PIPESTATUS[@]}") # yes dies of SIGPIPE: ignore it
    ((piped[1] == 0 && piped[2] == 0))
}

# The sample: 64 MiB virtual, 6 MiB of data in four extents, one of them
# written zeros (allocated, but reads as zero), holes everywhere else.
make_sample()
{
    local img=$DEMO_DIR/sample.raw
    say "Making the sample disk $img"
    rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR" || return 1
    truncate -s 64M "$img" || return 1
    put "$img" 0 1 "vdisk demo: boot area" || return 1
    put "$img" 10 2 "vdisk demo: data at 10 MiB" || return 1
    head -c 1M /dev/zero |
        dd of="$img" bs=1M seek=20 conv=notrunc status=none || return 1
    put "$img" 63 1 "vdisk demo: the last MiB" || return 1
    echo "64 MiB raw image: data at 0, 10-12 and 63 MiB, written zeros at" \
         "20 MiB, holes elsewhere"
    SAMPLE=$img
}

# Whether this build can create images of format $1 (raw always can).
can_create()
{
    [[ $1 == raw ]] && return 0
    "$VDISK" create -q -f "$1" "$DEMO_DIR/probe.$1" 1M >/dev/null 2>&1
    local status=$?
    rm -f "$DEMO_DIR/probe.$1"
    return "$status"
}

# Converts the sample to format $1 and checks the copy both ways.
demo_format()
{
    local fmt=$1 out=$DEMO_DIR/converted.$1 before=$FAILED line
    say "raw -> $fmt"
    if ! can_create "$fmt"; then
        echo "vdisk create -f $fmt does not work: writing this format is not built yet"
        RESULTS+=("raw -> $fmt: skipped (vdisk cannot write this format yet)")
        return
    fi
    if ! step "convert" "$VDISK" convert -f raw -O "$fmt" "$SAMPLE" "$out"
    then
        RESULTS+=("raw -> $fmt: FAILED to convert")
        return
    fi
    step "compare with vdisk" "$VDISK" compare -f raw -F "$fmt" \
        "$SAMPLE" "$out"
    step "compare with qemu-img" qemu-img compare -f raw -F "$fmt" \
        "$SAMPLE" "$out"
    step "verify (content and the format's check)" "$VDISK" verify \
        -f raw -F "$fmt" "$SAMPLE" "$out"
    step "info" "$VDISK" info -f "$fmt" "$out"
    # JSON: human "map" output fails for formats without file offsets
    # (qemu-img 7.2 does the same on VHDX), and JSON also shows holes.
    step "map" "$VDISK" map --output=json -f "$fmt" "$out"
    if ((FAILED == before)); then
        line="converted; vdisk and qemu-img compare find it identical, vdisk verify passes"
        RESULTS+=("raw -> $fmt: $line; info and map work")
    else
        line="$((FAILED - before)) step(s) failed, see above"
        RESULTS+=("raw -> $fmt: FAILED ($line)")
    fi
}

main()
{
    local fmt line
    say "Checking packages"
    if ! deps_ensure "${DEPS_BUILD[@]}" "${DEPS_RUN[@]}" qemu-utils; then
        echo "demo: FAILED: packages missing"
        exit 1
    fi
    if ! build_vdisk; then
        echo "demo: FAILED: build failed"
        exit 1
    fi
    if ! make_sample; then
        echo "demo: FAILED: could not make the sample disk"
        exit 1
    fi
    for fmt in "${DEMO_FORMATS[@]}"; do
        demo_format "$fmt"
    done
    say "What happened"
    echo "built $VDISK; sample disk $SAMPLE (64 MiB, sparse)"
    for line in "${RESULTS[@]}"; do
        echo "$line"
    done
    if ((FAILED > 0)); then
        echo "demo: FAILED ($FAILED step(s) failed); files in $DEMO_DIR"
        exit 1
    fi
    echo "demo: OK; files in $DEMO_DIR"
}

main "$@"
