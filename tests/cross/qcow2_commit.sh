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

# same_image FILE: check clean, same content, same info (but for disk
# usage and the creation dates of snapshots, made on each side).
same_image()
{
    local f=$1 iq iv
    "$QEMU_IMG" check -q v/"$f" || cross_fail "qemu-img check v/$f"
    "$QEMU_IMG" compare -q q/"$f" v/"$f" || cross_fail "compare $f"
    iq=$(cd q && "$QEMU_IMG" info --output=json "$f" |
        grep -v -e actual-size -e date-)
    iv=$(cd v && "$QEMU_IMG" info --output=json "$f" |
        grep -v -e actual-size -e date-)
    if [[ $iq != "$iv" ]]; then
        cross_fail "info $f"
        diff <(echo "$iq") <(echo "$iv")
    fi
}

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

mk()
{
    both "$QEMU_IMG create -q -f qcow2 $*"
}

io()
{
    local f=$1
    shift
    both "qemu-io $* $f >/dev/null"
}

# A plain commit; the overlay is larger than its base.
mk "b1.qcow2 4M"
io b1.qcow2 -c "'write -P 1 0 1M'"
mk "-b b1.qcow2 -F qcow2 t1.qcow2 8M"
io t1.qcow2 -c "'write -P 3 3M 2M'" -c "'write -z 0 64k'" \
    -c "'write -P 4 7M 5k'"
same commit t1.qcow2
same_image b1.qcow2
same_image t1.qcow2
same_layer t1.qcow2

# -d keeps the overlay; -p shows progress.
mk "b2.qcow2 2M"
io b2.qcow2 -c "'write -P 1 0 2M'"
mk "-b b2.qcow2 -F qcow2 -o cluster_size=4k t2.qcow2"
io t2.qcow2 -c "'write -P 5 4k 4k'" -c "'write -z 1M 256k'"
same commit -d -q t2.qcow2
same_image b2.qcow2
same_image t2.qcow2
same_layer t2.qcow2

# -b: a chain of three, committed into the bottom.
mk "-o cluster_size=4k c0.qcow2 2M"
io c0.qcow2 -c "'write -P 1 0 2M'"
mk "-b c0.qcow2 -F qcow2 c1.qcow2"
io c1.qcow2 -c "'write -P 2 64k 64k'"
mk "-b c1.qcow2 -F qcow2 -o cluster_size=16k c2.qcow2"
io c2.qcow2 -c "'write -P 3 100k 200k'"
same commit -b c0.qcow2 c2.qcow2
same_image c0.qcow2
same_image c1.qcow2
same_image c2.qcow2

# Version 2 overlay and base.
mk "-o compat=0.10 b3.qcow2 1M"
io b3.qcow2 -c "'write -P 1 0 1M'"
mk "-o compat=0.10 -b b3.qcow2 -F qcow2 t3.qcow2"
io t3.qcow2 -c "'write -P 6 128k 64k'" -c "'write -z 512k 64k'"
same commit t3.qcow2
same_image b3.qcow2
same_image t3.qcow2
same_layer t3.qcow2

# An overlay with an internal snapshot is emptied cluster by cluster.
mk "b5.qcow2 1M"
mk "-b b5.qcow2 -F qcow2 t5.qcow2"
io t5.qcow2 -c "'write -P 3 0 64k'"
both "$QEMU_IMG snapshot -c s t5.qcow2"
same commit t5.qcow2
same_image b5.qcow2
same_image t5.qcow2
same_layer t5.qcow2

# A raw base.
both "truncate -s 1M b4.raw"
mk "-b b4.raw -F raw t4.qcow2"
io t4.qcow2 -c "'write -P 7 0 300k'"
same commit t4.qcow2
same_files b4.raw
same_image t4.qcow2

# Errors.
mk "e.qcow2 1M"
same commit e.qcow2
same commit -b nothere t1.qcow2
same commit -r foo t1.qcow2
same commit -t foo t1.qcow2
same commit
same commit a.qcow2 b.qcow2
same commit -x t1.qcow2

finish
