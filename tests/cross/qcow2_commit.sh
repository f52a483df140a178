# tests/cross/qcow2_commit.sh -- "commit" of qcow2 images against
# qemu-img: into the backing file (which grows when the overlay is
# larger), with -d (the overlay keeps its data), with -b into the base of
# a longer chain (the layers between are committed too), zero writes in
# the overlay, an overlay with an internal snapshot, a version 2 overlay (emptied cluster by cluster), cluster
# sizes that differ between overlay and base.  After each, vdisk's files
# pass qemu-img check and read like qemu-img's (overlay and base alike),
# with the same "info".  Errors (no backing file, -b not in the chain,
# bad rate, bad cache mode, no file name) exit the same way.
. "$SRCDIR/same_lib.sh"

# layer_map DIR FILE: FILE's allocation without host offsets, adjacent
# runs of the same kind merged (host layouts may differ).
layer_map()
{
    local pat='.*"start": \([0-9]*\), "length": \([0-9]*\), '
    pat+='\(.*"data": [a-z]*\).*'
    "$QEMU_IMG" map --output=json "$1/$2" |
        sed -n "s/$pat/\\1 \\2 \\3/p" |
        awk '{ k = $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 " " $10
               if (k == key && $1 == end) { end += $2; next }
               if (key != "") { print start, end, key }
               start = $1; end = $1 + $2; key = k }
             END { print start, end, key }'
}

# same_layer FILE: the layer holds the same ranges on both sides.
same_layer()
{
    if [[ $(layer_map q "$1") != "$(layer_map v "$1")" ]]; then
        cross_fail "map $1"
        diff <(layer_map q "$1") <(layer_map v "$1")
    fi
}

# A plain commit; the overlay is larger than its base.
both_qcow2 "b1.qcow2 4M"
both_io b1.qcow2 -c "'write -P 1 0 1M'"
both_qcow2 "-b b1.qcow2 -F qcow2 t1.qcow2 8M"
both_io t1.qcow2 -c "'write -P 3 3M 2M'" -c "'write -z 0 64k'" \
    -c "'write -P 4 7M 5k'"
same commit t1.qcow2
same_checked_image b1.qcow2
same_checked_image t1.qcow2
same_layer t1.qcow2

# -d keeps the overlay; -p shows progress.
both_qcow2 "b2.qcow2 2M"
both_io b2.qcow2 -c "'write -P 1 0 2M'"
both_qcow2 "-b b2.qcow2 -F qcow2 -o cluster_size=4k t2.qcow2"
both_io t2.qcow2 -c "'write -P 5 4k 4k'" -c "'write -z 1M 256k'"
same commit -d -q t2.qcow2
same_checked_image b2.qcow2
same_checked_image t2.qcow2
same_layer t2.qcow2

# -b: a chain of three, committed into the bottom.
both_qcow2 "-o cluster_size=4k c0.qcow2 2M"
both_io c0.qcow2 -c "'write -P 1 0 2M'"
both_qcow2 "-b c0.qcow2 -F qcow2 c1.qcow2"
both_io c1.qcow2 -c "'write -P 2 64k 64k'"
both_qcow2 "-b c1.qcow2 -F qcow2 -o cluster_size=16k c2.qcow2"
both_io c2.qcow2 -c "'write -P 3 100k 200k'"
same commit -b c0.qcow2 c2.qcow2
same_checked_image c0.qcow2
same_checked_image c1.qcow2
same_checked_image c2.qcow2

# Version 2 overlay and base.
both_qcow2 "-o compat=0.10 b3.qcow2 1M"
both_io b3.qcow2 -c "'write -P 1 0 1M'"
both_qcow2 "-o compat=0.10 -b b3.qcow2 -F qcow2 t3.qcow2"
both_io t3.qcow2 -c "'write -P 6 128k 64k'" -c "'write -z 512k 64k'"
same commit t3.qcow2
same_checked_image b3.qcow2
same_checked_image t3.qcow2
same_layer t3.qcow2

# An overlay with an internal snapshot is emptied cluster by cluster.
both_qcow2 "b5.qcow2 1M"
both_qcow2 "-b b5.qcow2 -F qcow2 t5.qcow2"
both_io t5.qcow2 -c "'write -P 3 0 64k'"
both "$QEMU_IMG snapshot -c s t5.qcow2"
same commit t5.qcow2
same_checked_image b5.qcow2
same_checked_image t5.qcow2
same_layer t5.qcow2

# A raw base.
both "truncate -s 1M b4.raw"
both_qcow2 "-b b4.raw -F raw t4.qcow2"
both_io t4.qcow2 -c "'write -P 7 0 300k'"
same commit t4.qcow2
same_files b4.raw
same_checked_image t4.qcow2

# Errors.
both_qcow2 "e.qcow2 1M"
same commit e.qcow2
same commit -b nothere t1.qcow2
same commit -r foo t1.qcow2
same commit -t foo t1.qcow2
same commit
same commit a.qcow2 b.qcow2
same commit -x t1.qcow2

finish
