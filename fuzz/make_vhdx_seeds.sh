#!/usr/bin/env bash
# fuzz/make_vhdx_seeds.sh -- regenerates fuzz/corpus/vhdx/, the seeds of
# fuzz/fuzz_vhdx.c, with the reference qemu-img/qemu-io 7.2 and vdisk.
#
#   bash fuzz/make_vhdx_seeds.sh BUILD_DIR   (BUILD_DIR/vdisk is used)
#
# fuzz_vhdx.c reads its input as pieces that it lays at fixed file
# offsets (pieces[] there); each seed is a whole image cut into the same
# pieces.  Seeds: qemu-img dynamic and fixed images with data (written
# through QEMU's log; the first data block moved to 4 MiB), ours with
# 4 KiB sectors, and ours with a hand-made non-empty log (a BAT update
# waiting to be replayed, built below without our code).
set -euo pipefail

vdisk=$(cd "${1:?usage: make_vhdx_seeds.sh BUILD_DIR}" && pwd)/vdisk
cd "$(dirname "${BASH_SOURCE[0]}")"
out=$PWD/corpus/vhdx
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*.seed
cd "$work"

qemu-img create -q -f vhdx -o block_size=1M qemu_dynamic.vhdx 8M
qemu-io -f vhdx -c 'write -P 0xab 0 8k' -c 'write -z 1M 4k' \
    qemu_dynamic.vhdx >/dev/null
qemu-img create -q -f vhdx -o subformat=fixed,block_size=1M \
    qemu_fixed.vhdx 4M
"$vdisk" create -q -f vhdx -o block_size=1M ours.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x11 0 4k' ours.vhdx >/dev/null
"$vdisk" create -q -f vhdx -o block_size=1M,logical_sector_size=4096 \
    ours_4k.vhdx 8M
cp ours.vhdx ours_log.vhdx

python3 - "$out" <<'PY'
import os, struct, sys, uuid

out = sys.argv[1]
KIB, MIB = 1024, 1024 * 1024
PIECES = [(0, KIB), (64 * KIB, 4 * KIB), (128 * KIB, 4 * KIB),
          (192 * KIB, KIB), (256 * KIB, KIB), (MIB, 16 * KIB),
          (2 * MIB, 4 * KIB), (3 * MIB, KIB), (3 * MIB + 64 * KIB, KIB),
          (4 * MIB, 4 * KIB)]

def move_first_block(path):
    """qemu-img puts data from 8 MiB on; the harness's file ends at 5 MiB:
    move block 0 to 4 MiB (BAT entries are plain, no log involved)."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        e = struct.unpack_from("<Q", data, 2 * MIB)[0]
        if e & 7 == 6 and (e >> 20) == 8:
            data[4 * MIB:5 * MIB] = data[8 * MIB:9 * MIB]
            struct.pack_into("<Q", data, 2 * MIB, 4 * MIB | 6)
            f.seek(0)
            f.write(data[:5 * MIB])
            f.truncate(5 * MIB)

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF

def with_crc(buf, off=4):
    buf[off:off + 4] = b"\0\0\0\0"
    buf[off:off + 4] = struct.pack("<I", crc32c(bytes(buf)))

def add_log(path):
    """A log entry updating BAT entry 1 to a block at 4 MiB, LogGuid set
    in the current header (MS-VHDX 2.3.1)."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        guid = uuid.uuid4().bytes_le
        sector = bytearray(data[2 * MIB:2 * MIB + 4096])
        sector[8:16] = struct.pack("<Q", 4 * MIB | 6)
        seq = 5
        entry = bytearray(8192)
        entry[0:4] = b"loge"
        struct.pack_into("<IIQII", entry, 8, 8192, 0, seq, 1, 0)
        entry[32:48] = guid
        struct.pack_into("<QQ", entry, 48, 4 * MIB, 5 * MIB)
        entry[64:68] = b"desc"
        entry[68:72] = sector[4092:4096]
        entry[72:80] = sector[0:8]
        struct.pack_into("<QQ", entry, 80, 2 * MIB, seq)
        entry[4096:4100] = b"data"
        struct.pack_into("<I", entry, 4100, seq >> 32)
        entry[4104:8188] = sector[8:4092]
        struct.pack_into("<I", entry, 8188, seq & 0xFFFFFFFF)
        with_crc(entry)
        data[MIB:MIB + 8192] = entry
        h1 = bytearray(data[64 * KIB:68 * KIB])
        h2 = bytearray(data[128 * KIB:132 * KIB])
        s1, s2 = struct.unpack_from("<Q", h1, 8)[0], struct.unpack_from(
            "<Q", h2, 8)[0]
        cur, other_off = (h1, 128 * KIB) if s1 > s2 else (h2, 64 * KIB)
        new = bytearray(cur)
        struct.pack_into("<Q", new, 8, max(s1, s2) + 1)
        new[48:64] = guid
        with_crc(new)
        data[other_off:other_off + 4096] = new
        f.seek(0)
        f.write(data)

add_log("ours_log.vhdx")
move_first_block("qemu_dynamic.vhdx")
for name in ["qemu_dynamic", "qemu_fixed", "ours_4k", "ours_log"]:
    with open(name + ".vhdx", "rb") as f:
        data = f.read()
    seed = b"".join(data[o:o + n].ljust(n, b"\0") for o, n in PIECES)
    with open(os.path.join(out, name + ".seed"), "wb") as f:
        f.write(seed.rstrip(b"\0"))
PY
du -cb "$out" | tail -n 1
