#!/usr/bin/env bash
# tests/cross/run_cross.sh -- runs one cross-check script against qemu-img.
#
#   run_cross.sh VDISK_BINARY SCRIPT.sh
#
# Runs SCRIPT.sh with bash in a fresh temporary directory (removed after)
# with VDISK, QEMU_IMG (default qemu-img), SRCDIR (tests/cross), DATADIR
# (tests/data) and TMPDIR set.  Exit 0 is a pass, anything else a failure.
# A missing qemu-img is a failure, not a skip, and so is exit 77 (which
# meson would otherwise count as skipped).
set -u

if (($# != 2)); then
    echo "usage: run_cross.sh VDISK_BINARY SCRIPT.sh" >&2
    exit 2
fi
vdisk=$(realpath -- "$1") || exit 1
script=$(realpath -- "$2") || exit 1
srcdir=$(dirname -- "$script")
qemu_img=${QEMU_IMG:-qemu-img}

if [[ ! -x $vdisk ]]; then
    echo "run_cross: $vdisk is not an executable" >&2
    exit 1
fi
if ! command -v "$qemu_img" >/dev/null 2>&1; then
    echo "run_cross: $qemu_img not found (apt-get install qemu-utils)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vdisk-cross.XXXXXX") || exit 1
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/.tmp" || exit 1

(
    cd "$work" || exit 1
    export VDISK=$vdisk QEMU_IMG=$qemu_img SRCDIR=$srcdir
    export DATADIR=$srcdir/../data TMPDIR=$work/.tmp LC_ALL=C TZ=UTC
    exec bash "$script"
) </dev/null
status=$?
if ((status == 77)); then
    echo "run_cross: exit 77 (skip) is not allowed; counted as failure" >&2
    exit 1
fi
exit "$status"
