# tests/cross/qcow2_measure_snapshot.sh -- "measure -l SNAPSHOT" against
# qemu-img: the figures for an internal snapshot of a qcow2 image (loaded
# read-only, qemu-img's bdrv_snapshot_load_tmp) by id, by name and with
# snapshot.id/snapshot.name, for raw and qcow2 output, human and JSON;
# and the same exit status for a missing snapshot, a bad -l parameter and
# a format without snapshots.
. "$SRCDIR/same_lib.sh"

# Two snapshots with different data, then a bigger active layer: each
# view has its own "required size".
both "$QEMU_IMG create -q -f qcow2 a.qcow2 64M &&
      qemu-io -c 'write -P 1 0 8M' a.qcow2 >/dev/null &&
      $QEMU_IMG snapshot -c s1 a.qcow2 &&
      qemu-io -c 'write -P 2 16M 4M' -c 'write -z 0 2M' a.qcow2 \
              >/dev/null &&
      $QEMU_IMG snapshot -c s2 a.qcow2 &&
      $QEMU_IMG resize -q a.qcow2 128M &&
      qemu-io -c 'write -P 3 100M 1M' a.qcow2 >/dev/null"

for out in raw qcow2; do
    for l in s1 1 s2 2 snapshot.name=s2 snapshot.id=1 \
             snapshot.id=1,snapshot.name=s1; do
        same measure -O "$out" -l "$l" a.qcow2
    done
    same measure -O "$out" -l s2 --output=json a.qcow2
done
same measure -O qcow2 -o cluster_size=4k -l s1 a.qcow2

# Errors: no such snapshot, id and name of different snapshots, a key
# -l does not know, a format without internal snapshots.
same measure -O qcow2 -l nope a.qcow2
same measure -O qcow2 -l snapshot.id=1,snapshot.name=s2 a.qcow2
same measure -O qcow2 -l snapshot.foo=1 a.qcow2
same measure -O qcow2 -f raw -l s1 a.qcow2
finish
