#!/bin/sh
# tests/guests/build.sh -- builds small bootable Linux guest disks from
# Debian packages, without root or loop mounts, and caches them.
#
#   build.sh [GUEST]        GUEST: syslinux (the default) or grub
#
# Prints the path of the raw disk on stdout.  Each guest's disk is built
# once into $VDISK_GUEST_CACHE (default ~/.cache/vdisk-guests) as
# GUEST-686.raw and reused while it exists; delete the file to rebuild it.
#
# Both guests (16 MiB raw disks) boot the same kernel and initramfs:
#   - Debian's i386 686 kernel (linux-image-*-686, fetched with
#     apt-get download, extracted with dpkg -x);
#   - a gzip'd cpio (newc) initramfs: busybox-static (i386), the IDE path
#     for an ISA controller at 0x1F0/IRQ 14 (pata_legacy with libata,
#     scsi_mod, sd_mod and their dependencies, from the kernel package)
#     and an /init that prints "VDISK-SHA256 <sha256 of /dev/sda>" and
#     then the marker "VDISK-GUEST-OK" on the serial console and powers
#     off.  Without ACPI (acpi=off) the kernel turns the power-off into a
#     halt with interrupts disabled, which the emulator reports as the
#     guest stopping.
#
# Guest "syslinux":
#   - an MBR partition table written by sfdisk on the image file, with
#     SYSLINUX's mbr.bin as boot code (syslinux-common);
#   - one active FAT16 partition at 1 MiB, made by mkfs.fat --offset and
#     filled with mtools (image@@offset), made bootable by
#     `syslinux --install --offset`.
#
# Guest "grub" (GRUB 2 for BIOS, installed the way grub-install would,
# but by hand on the image file):
#   - an MBR partition table written by sfdisk, one Linux partition at
#     1 MiB holding an ext4 file system made by `mkfs.ext4 -d` from a
#     directory tree (/boot/vmlinuz, /boot/initrd.img,
#     /boot/grub/grub.cfg) in a partition-sized file, then copied into
#     the image at the partition's offset;
#   - a core image from grub-mkimage -O i386-pc with every module it
#     needs built in (nothing is loaded from /boot/grub), the prefix
#     (hd0,msdos1)/boot/grub and an early config that switches GRUB's
#     console to COM1 at 115200 baud; written into the gap between the
#     MBR and the partition, from sector 1;
#   - GRUB's boot.img as the MBR's first 440 bytes (the partition table
#     and disk signature stay).  boot.img reads one sector, the 64-bit
#     LBA at offset 0x5C (written here as 1: the core's first sector,
#     diskboot.img), and jumps to it; diskboot.img then reads the rest of
#     the core from its block list at the end of that sector, whose
#     default start is LBA 2 and whose length grub-mkimage fills in, so a
#     core image written contiguously from LBA 1 loads itself.  As
#     grub-bios-setup does for a hard disk, the 2-byte jump at 0x66 is
#     replaced by NOPs, so a boot drive number without bit 7 set is
#     taken as 0x80.
#   grub.cfg: timeout 0, one entry with the same kernel command line.
#
# Kernel command line (see KERNEL_ARGS):
#   console=ttyS0   serial console (COM1), where the marker goes
#   acpi=off        ISA PC: no ACPI tables; also makes poweroff a halt
#   lpj=1000000     skips the delay-loop calibration (a fixed value makes
#                   udelay() deterministic and saves ~0.25 s of guest time)
#   tsc=unstable    the TSC is not used as clocksource (in an emulator it
#                   ticks with retired instructions, not with time)
#   no_timer_check  skips the check that the timer interrupt works
#                   (harmless on a PIC-only machine, saves time elsewhere)
#   nolapic noapic  there is no local or I/O APIC on an ISA PC
#   noisapnp        skips the ISA PnP card scan (0.6 s of QEMU TCG time)
#   cryptomgr.notests=1 skips the crypto self-tests run at late_initcall
#                   (3 s under QEMU TCG, 31 s of guest time in vdisk)
#   norandmaps      no address-space randomisation: the same run twice
#                   executes the same instructions
#   panic=-1        reboot at once on a kernel panic (no 'hang forever')
# Module parameters go on insmod's command line in /init (insmod, unlike
# modprobe, does not read them from /proc/cmdline):
#   pata_legacy probe_mask=1  probe only the primary port 0x1F0 (the
#                   other five legacy ports cost ~0.2 s each to time out)
#   quiet is NOT set: the console log shows how far a boot got.
#
# Needs (Debian): fdisk cpio, plus syslinux syslinux-common mtools
# dosfstools for "syslinux", or grub-common grub-pc-bin e2fsprogs for
# "grub" (installed with apt-get when missing and running as root; the
# grub packages only install files, they do not touch the host's boot
# loader: that is grub-pc's job), plus the i386 foreign architecture for
# `apt-get download` (added when missing).
set -eu

GUEST=${1:-syslinux}
CACHE=${VDISK_GUEST_CACHE:-${HOME:-/tmp}/.cache/vdisk-guests}
DISK_MB=16
PART_START=2048                 # sectors (1 MiB)
MARKER=VDISK-GUEST-OK
KERNEL_ARGS="console=ttyS0 acpi=off lpj=1000000 tsc=unstable no_timer_check nolapic noapic noisapnp cryptomgr.notests=1 norandmaps panic=-1"
# Modules /init loads, in this order after their dependencies.
MODULES="pata_legacy sd_mod"
GRUB_DIR=/usr/lib/grub/i386-pc
# GRUB modules built into the core image (grub-mkimage adds what they
# depend on): the BIOS disk, the MBR partition map, the ext2/3/4 reader,
# the menu and script engine, the Linux loader, the serial console.
GRUB_MODULES="biosdisk part_msdos ext2 normal configfile linux"
GRUB_MODULES="$GRUB_MODULES serial terminal echo"

log() { echo "build.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Installs the Debian packages providing the commands guest $1 needs,
# when they are missing.
need_tools() {
    missing=""
    command -v sfdisk >/dev/null || missing="$missing fdisk"
    command -v cpio >/dev/null || missing="$missing cpio"
    if [ "$1" = syslinux ]; then
        command -v mkfs.fat >/dev/null || missing="$missing dosfstools"
        command -v mcopy >/dev/null || missing="$missing mtools"
        command -v syslinux >/dev/null || missing="$missing syslinux"
        [ -f /usr/lib/syslinux/mbr/mbr.bin ] ||
            missing="$missing syslinux-common"
    else
        command -v grub-mkimage >/dev/null ||
            missing="$missing grub-common"
        [ -f "$GRUB_DIR/boot.img" ] || missing="$missing grub-pc-bin"
        # -d (populate from a directory) needs e2fsprogs >= 1.43.
        mkfs.ext4 -V 2>&1 | grep -q '1\.\(4[3-9]\|[5-9][0-9]\)' ||
            missing="$missing e2fsprogs"
    fi
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "missing Debian packages:$missing"
    log "installing$missing"
    apt-get install -y $missing >&2
}

# Makes sure i386 packages can be downloaded.
need_i386() {
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        [ "$(id -u)" = 0 ] || die "run: dpkg --add-architecture i386"
        dpkg --add-architecture i386
        apt-get update >&2 || true
    fi
    if ! apt-cache show linux-image-686:i386 >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "run: apt-get update"
        apt-get update >&2 || true
    fi
}

# Prints the concrete kernel package linux-image-686:i386 depends on.
kernel_package() {
    apt-cache depends linux-image-686:i386 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-686\(-unsigned\)\{0,1\}\)\(:i386\)\{0,1\}$/\1/p' |
        head -n 1
}

# Downloads and extracts the kernel and busybox into $1.
fetch_packages() {
    dir=$1
    kpkg=$(kernel_package)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-686:i386"
    log "fetching $kpkg and busybox-static (i386)"
    (cd "$dir" && apt-get download "$kpkg:i386" busybox-static:i386 >&2)
    for deb in "$dir"/*.deb; do
        dpkg -x "$deb" "$dir/root"
    done
}

# Prints module $1 and its dependencies (dependencies first), as paths
# relative to the modules directory $2.  The dependencies come from each
# module's .modinfo "depends=" field (the package leaves modules.dep to
# depmod in its postinst, and kmod need not be installed here).  A
# subshell, so that the recursion keeps its own variables.
module_closure() (
    name=$1 moddir=$2
    path=$(cd "$moddir" && find kernel -name "$name.ko" -o \
        -name "$(echo "$name" | tr _ -).ko" | head -n 1)
    [ -n "$path" ] || die "module $name not in the kernel package"
    deps=$(tr '\0' '\n' < "$moddir/$path" |
        sed -n 's/^depends=//p' | head -n 1 | tr , ' ')
    for d in $deps; do
        module_closure "$d" "$moddir" || exit 1
    done
    echo "$path"
)

# Writes the initramfs /init script to $1.
write_init() {
    cat > "$1" <<EOF
#!/bin/busybox sh
# vdisk test guest: print the boot disk's sha256 and a marker, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /modules.list); do
    case \$m in
        */pata_legacy.ko) args=probe_mask=1 ;;
        *) args= ;;
    esac
    insmod /lib/modules/\$m \$args || echo "init: insmod \$m failed"
done
i=0
while [ ! -b /dev/sda ] && [ \$i -lt 50 ]; do
    sleep 0.1
    i=\$((i + 1))
done
if [ -b /dev/sda ]; then
    set -- \$(sha256sum /dev/sda)
    echo "VDISK-SHA256 \$1"
    echo "$MARKER"
else
    echo "init: no /dev/sda"
    cat /proc/partitions
fi
poweroff -f
EOF
    chmod 755 "$1"
}

# Builds the initramfs $2 from the extracted packages in $1.
make_initramfs() {
    src=$1 out=$2
    moddir=$(ls -d "$src"/root/lib/modules/* | head -n 1)
    ir="$src/initramfs"
    mkdir -p "$ir/bin" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/lib/modules"
    cp "$src/root/bin/busybox" "$ir/bin/busybox"
    : > "$ir/modules.list"
    for m in $MODULES; do
        list=$(module_closure "$m" "$moddir") || exit 1
        for p in $list; do
            grep -qx "$p" "$ir/modules.list" && continue
            mkdir -p "$ir/lib/modules/$(dirname "$p")"
            cp "$moddir/$p" "$ir/lib/modules/$p"
            echo "$p" >> "$ir/modules.list"
        done
    done
    log "modules: $(tr '\n' ' ' < "$ir/modules.list")"
    write_init "$ir/init"
    (cd "$ir" && find . | LC_ALL=C sort |
        cpio --quiet -o -H newc --reproducible -R 0:0) | gzip -9n > "$out"
}

# Prints the path of the extracted kernel image under $1.
kernel_image() {
    ls "$1"/root/boot/vmlinuz-* | head -n 1
}

# Writes an empty ${DISK_MB} MiB disk $1 whose MBR has one partition of
# type $2 starting at PART_START, marked active, and a fixed disk id
# (sfdisk would pick a random one).
make_mbr_disk() {
    size=$((DISK_MB * 2048 - PART_START))
    truncate -s "${DISK_MB}M" "$1"
    printf '%s\n' "label-id: 0x5644534b" \
        "start=$PART_START, size=$size, type=$2, bootable" |
        sfdisk -q --label dos "$1" >&2
}

# Assembles the disk $2 from the kernel and initramfs in $1.
make_disk_syslinux() {
    src=$1 out=$2
    off=$((PART_START * 512))
    psize=$((DISK_MB * 2048 - PART_START))
    make_mbr_disk "$out" 6
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$out" bs=440 count=1 \
        conv=notrunc status=none
    mkfs.fat -F 16 -n VDISKGUEST -i 5644534b --offset "$PART_START" \
        -h "$PART_START" "$out" $((psize / 2)) >&2
    cat > "$src/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
    KERNEL vmlinuz
    INITRD initrd.gz
    APPEND $KERNEL_ARGS
EOF
    kernel=$(kernel_image "$src")
    export MTOOLS_SKIP_CHECK=1
    mcopy -i "$out@@$off" "$kernel" ::vmlinuz
    mcopy -i "$out@@$off" "$src/initrd.gz" ::initrd.gz
    mcopy -i "$out@@$off" "$src/syslinux.cfg" ::syslinux.cfg
    syslinux --install --offset "$off" "$out"
}

# Writes the ext4 partition of the grub guest into the disk $2: the
# kernel, the initramfs and grub.cfg from $1, laid out by mkfs.ext4 -d
# in a partition-sized file (fixed UUID and hash seed: reproducible).
make_ext4_grub() {
    src=$1 out=$2
    tree="$src/ext4"
    mkdir -p "$tree/boot/grub"
    cp "$(kernel_image "$src")" "$tree/boot/vmlinuz"
    cp "$src/initrd.gz" "$tree/boot/initrd.img"
    cat > "$tree/boot/grub/grub.cfg" <<EOF
# vdisk test guest: boot the kernel at once (the console is already on
# COM1, set by the core image's early config).
set timeout=0
set default=0
menuentry "vdisk test guest" {
    echo "grub: loading /boot/vmlinuz"
    linux /boot/vmlinuz $KERNEL_ARGS
    echo "grub: loading /boot/initrd.img"
    initrd /boot/initrd.img
}
EOF
    uuid=5644534b-0000-4000-8000-677275620001
    truncate -s $(((DISK_MB * 2048 - PART_START) * 512)) "$src/part.img"
    mkfs.ext4 -q -F -L VDISKGUEST -U "$uuid" \
        -E "hash_seed=$uuid,root_owner=0:0" -d "$tree" "$src/part.img" >&2
    dd if="$src/part.img" of="$out" bs=512 seek="$PART_START" \
        conv=notrunc,sparse status=none
}

# Prints the 16-bit little-endian number at byte offset $2 of file $1.
read_u16() {
    od -An -tu2 -j "$2" -N 2 "$1" | tr -d ' '
}

# Writes GRUB (boot.img in the MBR, the core image from LBA 1) into the
# disk $2, building the core image in $1.
install_grub() {
    src=$1 out=$2
    printf '%s\n' "serial --unit=0 --speed=115200" \
        "terminal_input serial" "terminal_output serial" > "$src/early.cfg"
    core="$src/core.img"
    grub-mkimage -O i386-pc -d "$GRUB_DIR" -o "$core" \
        -c "$src/early.cfg" -p "(hd0,msdos1)/boot/grub" $GRUB_MODULES
    sectors=$((($(wc -c < "$core") + 511) / 512))
    [ "$sectors" -lt "$PART_START" ] ||
        die "the core image ($sectors sectors) does not fit before 1 MiB"
    # diskboot.img's block list (the last 12 bytes of the core's first
    # sector): start LBA 2 (u64), then the sector count grub-mkimage
    # filled in (u16); they must describe our layout.
    [ "$(read_u16 "$core" 500)" = 2 ] && [ "$(read_u16 "$core" 502)" = 0 ] ||
        die "the core image's block list does not start at LBA 2"
    [ "$(read_u16 "$core" 508)" = $((sectors - 1)) ] ||
        die "the core image's block list length is not $((sectors - 1))"
    dd if="$core" of="$out" bs=512 seek=1 conv=notrunc status=none
    dd if="$GRUB_DIR/boot.img" of="$out" bs=440 count=1 conv=notrunc \
        status=none
    # boot.img's kernel_sector (u64 at 0x5C): LBA 1.
    printf '\001\000\000\000\000\000\000\000' |
        dd of="$out" bs=1 seek=92 conv=notrunc status=none
    # Its boot drive check (a 2-byte jmp at 0x66): NOPs, as for a disk.
    printf '\220\220' | dd of="$out" bs=1 seek=102 conv=notrunc status=none
}

# Assembles the grub guest's disk $2 from the kernel and initramfs in $1.
make_disk_grub() {
    make_mbr_disk "$2" 83
    make_ext4_grub "$1" "$2"
    install_grub "$1" "$2"
}

# Builds guest $1's disk into $2.
build_guest() {
    guest=$1 target=$2
    need_tools "$guest"
    need_i386
    work=$(mktemp -d "${TMPDIR:-/tmp}/vdisk-guest.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    fetch_packages "$work"
    make_initramfs "$work" "$work/initrd.gz"
    "make_disk_$guest" "$work" "$work/disk.raw"
    mv "$work/disk.raw" "$target"
}

case $GUEST in
    syslinux|grub) ;;
    *) die "unknown guest '$GUEST' (known: syslinux grub)" ;;
esac
mkdir -p "$CACHE"
disk="$CACHE/$GUEST-686.raw"
if [ ! -s "$disk" ]; then
    log "building $disk"
    build_guest "$GUEST" "$disk.tmp"
    mv "$disk.tmp" "$disk"
fi
echo "$disk"
