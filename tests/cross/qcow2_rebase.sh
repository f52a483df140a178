# tests/cross/qcow2_rebase.sh -- "rebase" of qcow2 images against
# qemu-img: safe rebase onto another image (the differences copied into
# the overlay), onto an image of the same chain (only what the layers
# between changed is copied), onto nothing (-b "": flattening), with a
# shorter old or new backing file; unsafe rebase (-u) only rewrites the
# reference, also when the old backing file is gone.  Afterwards vdisk's
# overlay passes qemu-img check, reads like qemu-img's and has the same
# backing file and format.  Errors (no -b without -u, bad -F, missing new
# backing file, no backing format, formats that cannot rebase) exit the
# same way.
. "$SRCDIR/same_lib.sh"

# same_image FILE: check clean, same content, same backing reference.
same_image()
{
    local f=$1 iq iv
    "$QEMU_IMG" check -q v/"$f" || cross_fail "qemu-img check v/$f"
    "$QEMU_IMG" compare -q q/"$f" v/"$f" || cross_fail "compare $f"
    iq=$(cd q && "$QEMU_IMG" info --output=json "$f" | grep -v actual-size)
    iv=$(cd v && "$QEMU_IMG" info --output=json "$f" | grep -v actual-size)
    if [[ $iq != "$iv" ]]; then
        cross_fail "info $f"
        diff <(echo "$iq") <(echo "$iv")
    fi
}

# A chain base <- mid <- top and an unrelated image.
both_qcow2 "-o cluster_size=4k base.qcow2 4M"
both_io base.qcow2 -c "'write -P 1 0 4M'"
both_qcow2 "-b base.qcow2 -F qcow2 mid.qcow2"
both_io mid.qcow2 -c "'write -P 2 1M 512k'" -c "'write -z 3M 64k'"
both_qcow2 "-b mid.qcow2 -F qcow2 top.qcow2"
both_io top.qcow2 -c "'write -P 3 0 128k'" -c "'write -P 3 1100k 7k'"
both_qcow2 "other.qcow2 3M"
both_io other.qcow2 -c "'write -P 1 0 1M'" -c "'write -P 9 2M 5k'"
both "cp top.qcow2 t1.qcow2; cp top.qcow2 t2.qcow2; cp top.qcow2 t3.qcow2"
both "cp top.qcow2 t4.qcow2; cp top.qcow2 t5.qcow2"

same rebase -b other.qcow2 -F qcow2 t1.qcow2
same_image t1.qcow2
same rebase -p -b base.qcow2 -F qcow2 t2.qcow2
same_image t2.qcow2
same rebase -b "" t3.qcow2
same_image t3.qcow2
same rebase -u -b other.qcow2 -F qcow2 t4.qcow2
same_image t4.qcow2
same rebase -q -b mid.qcow2 -F qcow2 t5.qcow2
same_image t5.qcow2

# Unsafe rebase when the old backing file is gone; -u without -b drops it.
both_qcow2 "gone.qcow2 1M"
both_qcow2 "-b gone.qcow2 -F qcow2 g.qcow2"
both "rm gone.qcow2"
same rebase -u -b other.qcow2 -F qcow2 g.qcow2
same_image g.qcow2
same rebase -u g.qcow2
same_image g.qcow2

# A raw backing file that is shorter than the overlay.
both "truncate -s 1M short.raw"
both_qcow2 "-b short.raw -F raw s.qcow2 2M"
both_io s.qcow2 -c "'write -P 4 512k 4k'"
same rebase -b other.qcow2 -F qcow2 s.qcow2
same_image s.qcow2

# Errors.
both_qcow2 "e.qcow2 1M"
same rebase e.qcow2
same rebase -b other.qcow2
same rebase -b other.qcow2 -F qcow2 e.qcow2 f.qcow2
same rebase -b other.qcow2 -F nope e.qcow2
same rebase -b missing.qcow2 -F qcow2 e.qcow2
same rebase -u -b other.qcow2 e.qcow2
same rebase -t bogus -b other.qcow2 e.qcow2
same rebase -T bogus -b other.qcow2 e.qcow2
same rebase -x e.qcow2
same_image e.qcow2
both "$QEMU_IMG create -q -f vmdk v.vmdk 1M"
same rebase -u -b other.qcow2 -F qcow2 v.vmdk
both "truncate -s 1M r.raw"
same rebase -f raw -b "" r.raw

finish
