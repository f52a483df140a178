#!/usr/bin/env bash
# fuzz/make_seeds.sh -- regenerates the seed corpora in fuzz/corpus/ with
# the reference qemu-img/qemu-io 7.2 (package qemu-utils).
#
#   bash fuzz/make_seeds.sh
#
# Seeds are tiny valid images (64 KiB disks, 512-byte clusters where the
# format allows) so that the fuzzer starts from every parser's happy path.
# Large files are cut after their last metadata: a memory file reads zeros
# past its end, so the cut-off part reads as it did.  Keep the whole corpus
# under 500 KB.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
probe=$PWD/corpus/probe
raw=$PWD/corpus/raw
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
cd "$work"

mkdir -p "$probe" "$raw"
rm -f "$probe"/* "$raw"/*

q() { qemu-img "$@"; }
io() { qemu-io "$@" >/dev/null; }

# qcow2: empty, with data and a zero cluster, v2, compressed (zlib, zstd),
# with a backing file name.  (Extended L2, which needs 16 KiB clusters and
# so a 48 KiB file, is seeded in corpus/qcow2/ only.)
q create -q -f qcow2 -o cluster_size=512 "$probe/qcow2_empty.qcow2" 64K
q create -q -f qcow2 -o cluster_size=512 "$probe/qcow2_data.qcow2" 64K
io -f qcow2 -c 'write -P 0xab 0 1k' -c 'write -z 4k 1k' \
   -c 'write -P 0x11 60k 512' "$probe/qcow2_data.qcow2"
q create -q -f qcow2 -o cluster_size=512,compat=0.10 \
  "$probe/qcow2_v2.qcow2" 64K
io -f qcow2 -c 'write -P 0x5a 512 1k' "$probe/qcow2_v2.qcow2"
q create -q -f raw src.raw 64K
io -f raw -c 'write -P 0x33 0 8k' src.raw
q convert -c -O qcow2 -o cluster_size=512 src.raw "$probe/qcow2_zlib.qcow2"
q convert -c -O qcow2 -o cluster_size=512,compression_type=zstd src.raw \
  "$probe/qcow2_zstd.qcow2"
q create -q -f qcow2 -o cluster_size=512 -u -b base.img -F raw \
  "$probe/qcow2_backing.qcow2" 64K

# VMDK: monolithicSparse with one grain written, streamOptimized (both cut
# after the first 512 bytes of their first grain), a flat descriptor.
q create -q -f vmdk sparse.vmdk 64K
io -f vmdk -c 'write -P 0x44 0 512' sparse.vmdk
head -c 66048 sparse.vmdk >"$probe/vmdk_sparse.vmdk"
q convert -O vmdk -o subformat=streamOptimized src.raw stream.vmdk
head -c 66048 stream.vmdk >"$probe/vmdk_stream.vmdk"
q create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 4K
cp flat.vmdk "$probe/vmdk_flat_descriptor.vmdk"

# VHD (vpc): dynamic and fixed.
q create -q -f vpc "$probe/vpc_dynamic.vhd" 64K
q create -q -f vpc -o subformat=fixed,force_size=on "$probe/vpc_fixed.vhd" 4K

# VHDX: file identifier, both headers and the first region table (the
# metadata and BAT regions start at 1 MiB and are cut off).
q create -q -f vhdx vhdx.vhdx 64K
head -c 197120 vhdx.vhdx >"$probe/vhdx_empty.vhdx"

# raw: an MBR-partitioned disk, a byte pattern, a single byte.
python3 - "$probe" "$raw" <<'PY'
import struct, sys
probe, raw = sys.argv[1], sys.argv[2]
mbr = bytearray(512)
mbr[446:462] = bytes([0x80, 0, 2, 0, 0x83, 0, 0, 0]) + struct.pack("<II", 1, 7)
mbr[510:512] = b"\x55\xaa"
disk = bytes(mbr) + bytes(i & 0xff for i in range(3584))
for d in (probe, raw):
    with open(d + "/raw_mbr.img", "wb") as f:
        f.write(disk)
with open(raw + "/raw_pattern.img", "wb") as f:
    f.write(bytes((i * 7) & 0xff for i in range(1536)))
with open(raw + "/raw_one_byte.img", "wb") as f:
    f.write(b"\x01")
PY

du -cb "$probe" "$raw" | tail -n 1
