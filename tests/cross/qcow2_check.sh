# tests/cross/qcow2_check.sh -- "check" of qcow2 images against qemu-img,
# on clean images and on images with injected corruption: a cluster that
# is referenced but counted free, one referenced twice, leaked clusters,
# bad L1 and L2 entries, wrong OFLAG_COPIED flags, bad refcount blocks.
# The report (human and JSON) and the exit status must be qemu-img's, and
# so must the repairs of -r leaks and -r all, judged by the report of the
# repair and by a check of the repaired image afterwards.
. "$SRCDIR/same_lib.sh"

# inject.py FILE KIND: one corruption, in place.  The image is the one
# made below: 4 KiB clusters, data at 0 and 512k, compressed at 256k.
cat >inject.py <<'EOF'
import struct, sys
f, what = sys.argv[1], sys.argv[2]
d = bytearray(open(f, 'rb').read())
be64 = lambda o: struct.unpack('>Q', d[o:o + 8])[0]
def put64(o, v): d[o:o + 8] = struct.pack('>Q', v)
def put16(o, v): d[o:o + 2] = struct.pack('>H', v)
MASK = 0x00fffffffffffe00
cb = struct.unpack('>I', d[20:24])[0]
l1, rt = be64(40), be64(48)
rb = be64(rt)
l2 = be64(l1) & MASK
e0, e1 = be64(l2), be64(l2 + 8)
c0 = (e0 & MASK) >> cb
rc = lambda cl: rb + 2 * cl
if what == 'freed':        put16(rc(c0), 0)            # referenced, free
elif what == 'leak':       put16(rc(c0), 2)            # counted twice
elif what == 'double':     put64(l2 + 8, e0)           # two references
elif what == 'orphan':     put64(l2 + 8, 0)            # no reference
elif what == 'l1unaligned': put64(l1, be64(l1) + 0x200)
elif what == 'l1eof':      put64(l1, (1 << 40) | (1 << 63))
elif what == 'l1reserved': put64(l1, be64(l1) | (1 << 56))
elif what == 'l1copied':   put64(l1, be64(l1) & ~(1 << 63))
elif what == 'copied':     put64(l2, e0 & ~(1 << 63))
elif what == 'unaligned':  put64(l2, e0 + 0x200)
elif what == 'zeroalign':  put64(l2, (e0 + 0x200) | 1)  # prealloc. zero
elif what == 'l2reserved': put64(l2, e0 | (1 << 57))
elif what == 'rbref':      put16(rc(rb >> cb), 2)
elif what == 'rboutside':  put64(rt + 8, (len(d) + 4095) // 4096 * 4096 + 16384)
elif what == 'rbfar':      put64(rt + 8, 1 << 40)     # vdisk rebuilds
elif what == 'rbunaligned': put64(rt, rb + 0x200)
else: sys.exit('unknown corruption ' + what)
open(f, 'wb').write(d)
EOF
cp inject.py q/ && cp inject.py v/

both "$QEMU_IMG create -q -f qcow2 -o cluster_size=4k base.qcow2 1M &&
      qemu-io -c 'write -P 1 0 64k' -c 'write -P 2 512k 8k' \
              -c 'write -c -P 3 256k 8k' base.qcow2 >/dev/null"

# Clean images of several kinds.
both "$QEMU_IMG create -q -f qcow2 empty.qcow2 1G"
both "$QEMU_IMG convert -O qcow2 -c base.qcow2 comp.qcow2"
both "$QEMU_IMG create -q -f qcow2 -o extended_l2=on,cluster_size=32k \
      ext.qcow2 2M && qemu-io -c 'write -P 4 1k 3k' ext.qcow2 >/dev/null"
both "$QEMU_IMG create -q -f qcow2 -o cluster_size=4k snap.qcow2 1M &&
      qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 512k 8k' snap.qcow2 \
          >/dev/null && $QEMU_IMG snapshot -c s1 snap.qcow2 &&
      qemu-io -c 'write -P 3 4k 8k' snap.qcow2 >/dev/null &&
      $QEMU_IMG snapshot -c s2 snap.qcow2"
both "$QEMU_IMG create -q -f qcow2 bitmap.qcow2 1M &&
      $QEMU_IMG bitmap --add bitmap.qcow2 b1 &&
      qemu-io -c 'write 0 64k' bitmap.qcow2 >/dev/null"
for f in base.qcow2 empty.qcow2 comp.qcow2 ext.qcow2 snap.qcow2 \
         bitmap.qcow2; do
    same check "$f"
    same check --output=json "$f"
    same check -q "$f"
done

kinds="freed leak double orphan l1unaligned l1eof l1reserved l1copied copied
       unaligned zeroalign l2reserved rbref rboutside rbfar rbunaligned"
for kind in $kinds; do
    both "cp base.qcow2 $kind.qcow2 && python3 inject.py $kind.qcow2 $kind"
    same check "$kind.qcow2"
done
for kind in freed double l1eof copied rboutside; do
    same check --output=json "$kind.qcow2"
done

# Repairs: the report of the repair and a check afterwards.  (qemu-img
# 7.2 cannot repair an unaligned refcount block: it marks the image
# corrupt and fails; vdisk rebuilds the refcounts, checked below.)
for kind in freed leak double orphan l1unaligned l1copied copied zeroalign \
            rbref rboutside; do
    for mode in leaks all; do
        both "cp $kind.qcow2 $kind-$mode.qcow2"
        same check -r "$mode" "$kind-$mode.qcow2"
        same check "$kind-$mode.qcow2"
    done
done
for kind in freed double; do
    both "cp $kind.qcow2 $kind-j.qcow2"
    same check -r all --output=json "$kind-j.qcow2"
    same check --output=json "$kind-j.qcow2"
done
# A refcount block 1 TiB past the end: qemu-img -r all grows the file to
# 1 TiB; vdisk rebuilds the refcounts inside the file instead.
cp v/rbfar.qcow2 v/rbfar-fixed.qcow2
"$VDISK" check -q -r all v/rbfar-fixed.qcow2 ||
    cross_fail "vdisk check -r all rbfar"
"$QEMU_IMG" check -q v/rbfar-fixed.qcow2 ||
    cross_fail "qemu-img check of the repaired rbfar"
"$QEMU_IMG" compare -q v/base.qcow2 v/rbfar-fixed.qcow2 ||
    cross_fail "the repaired rbfar reads differently"
(($(stat -c %s v/rbfar-fixed.qcow2) < 1048576)) ||
    cross_fail "the repair of rbfar grew the file"
cp v/rbunaligned.qcow2 v/rbunaligned-fixed.qcow2
"$VDISK" check -q -r all v/rbunaligned-fixed.qcow2 ||
    cross_fail "vdisk check -r all rbunaligned"
"$QEMU_IMG" check -q v/rbunaligned-fixed.qcow2 ||
    cross_fail "qemu-img check of the repaired rbunaligned"

finish
