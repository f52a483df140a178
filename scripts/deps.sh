# shellcheck shell=bash disable=SC2034
# scripts/deps.sh -- the Debian packages vdisk needs, and how to get them.
#
# Sourced by scripts/test.sh and scripts/demo.sh (not run on its own):
#
#   . scripts/deps.sh
#   deps_ensure "${DEPS_BUILD[@]}" "${DEPS_ORACLE[@]}" || exit 1
#
# deps_ensure asks dpkg-query which packages are missing and installs only
# those.  As root it runs "apt-get update" (only when something is missing)
# and "apt-get install"; otherwise it prints the exact command to run and
# returns 1.  README.md has the table of which package serves what.

# Compiler, build system and libraries linked into vdisk (some "later").
DEPS_BUILD=(meson ninja-build pkg-config gcc
            zlib1g-dev libzstd-dev libxml2-dev
            libglib2.0-dev libpixman-1-dev libslirp-dev)
# At run time: `vdisk boot` runs the BIOS image of Debian's seabios package
# (/usr/share/seabios/bios.bin); no firmware is bundled.
DEPS_RUN=(seabios)
# Unit tests (Criterion; libvmdk and libvhdi read our VMDK and VHDX images
# back, and libvmdk's header needs libbfio's).
DEPS_TEST=(libcriterion-dev libvmdk-dev libbfio-dev libvhdi-dev libqcow-dev)
# Reference implementations the tests compare against, and the benchmarks
# (libvmdk-utils, libvhdi-utils, libqcow-utils: libyal's vmdkinfo,
# vhdiinfo and qcowinfo; qemu-system-x86: QEMU TCG, the reference the
# emulator's boot output and speed are compared with; python3: JSON
# checks in the shell tests and bench/paired_time.py).
DEPS_ORACLE=(qemu-utils python3 libvmdk-utils libvhdi-utils libqcow-utils
             qemu-system-x86)
# The Linux test guests (tests/guests/build.sh: partitioning, FAT +
# SYSLINUX, ext4 + GRUB's i386-pc images, the initramfs).  build.sh also
# installs these itself when run alone; the i386 kernel and busybox are
# only downloaded (apt-get download), never installed.
DEPS_GUESTS=(fdisk cpio syslinux syslinux-common mtools dosfstools
             grub-common grub-pc-bin e2fsprogs)
# clang with its runtime libraries: libFuzzer and the sanitizers.
DEPS_FUZZ=(clang libclang-rt-14-dev)

# Prints the packages among "$@" that are not installed, one per line.
deps_missing()
{
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
        if [[ $status != "install ok installed" ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Installs the packages among "$@" that are missing.  Returns 0 when all
# are installed afterwards, 1 otherwise.
deps_ensure()
{
    local missing
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "deps: dpkg-query not found; this needs Debian 12 or similar" >&2
        echo "deps: install by hand: $*" >&2
        return 1
    fi
    mapfile -t missing < <(deps_missing "$@")
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "deps: missing packages: ${missing[*]}"
    if ((EUID != 0)); then
        echo "deps: not root; run this and try again:" >&2
        echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive" \
             "apt-get install -y ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update || return 1
    apt-get install -y "${missing[@]}" || return 1
    mapfile -t missing < <(deps_missing "$@")
    if ((${#missing[@]} != 0)); then
        echo "deps: still missing after apt-get: ${missing[*]}" >&2
        return 1
    fi
    return 0
}
