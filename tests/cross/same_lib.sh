# tests/cross/same_lib.sh -- helpers for cross-checks that run the same
# command with qemu-img and with vdisk and require the same result.
# Source it first (it is not a test by itself):
#
#   . "$SRCDIR/same_lib.sh"
#   both 'truncate -s 1M a.raw'          # the same setup on both sides
#   same create -f raw b.raw 64k         # same stdout and exit status
#   same_files b.raw                     # identical files afterwards
#   finish                               # exit status: 0 when all agreed
#
# qemu-img runs in ./q and vdisk in ./v, so relative file names in the
# commands refer to each tool's own copy.  stderr is not compared (vdisk
# words its messages its own way) but is shown when something differs.

mkdir -p q v || exit 1
cross_failures=0

cross_fail()
{
    echo "FAIL: $*"
    cross_failures=$((cross_failures + 1))
}

# both SHELL_SNIPPET: runs the snippet in q and in v; stops on failure.
both()
{
    (cd q && eval "$1") || { echo "setup failed in q: $1"; exit 1; }
    (cd v && eval "$1") || { echo "setup failed in v: $1"; exit 1; }
}

# same CMD ARGS...: "qemu-img CMD ARGS" in q and "vdisk CMD ARGS" in v
# must print the same stdout and exit with the same status.
same()
{
    (cd q && "$QEMU_IMG" "$@" >../q.out 2>../q.err </dev/null
     echo $? >../q.rc)
    (cd v && "$VDISK" "$@" >../v.out 2>../v.err </dev/null
     echo $? >../v.rc)
    if cmp -s q.out v.out && cmp -s q.rc v.rc; then
        return 0
    fi
    cross_fail "$*"
    echo "--- qemu-img (exit $(cat q.rc))"
    cat q.out q.err
    echo "--- vdisk (exit $(cat v.rc))"
    cat v.out v.err
}

# same_files FILE...: the two copies of each file are byte for byte equal
# and qemu-img compare (raw) finds them identical.
same_files()
{
    local f in_q in_v
    for f in "$@"; do
        in_q=0 in_v=0
        [[ -e q/$f ]] && in_q=1
        [[ -e v/$f ]] && in_v=1
        if ((in_q != in_v)); then
            cross_fail "$f exists on one side only"
        elif ((in_q)); then
            cmp q/"$f" v/"$f" || cross_fail "cmp $f"
            "$QEMU_IMG" compare -q -f raw -F raw q/"$f" v/"$f" ||
                cross_fail "qemu-img compare $f"
        fi
    done
}

# same_map FILE...: qemu-img map shows the same allocation for both.
same_map()
{
    local f map_q map_v
    for f in "$@"; do
        map_q=$("$QEMU_IMG" map -f raw --output=json q/"$f")
        map_v=$("$QEMU_IMG" map -f raw --output=json v/"$f")
        if [[ $map_q != "$map_v" ]]; then
            cross_fail "map $f"
            printf '%s\n%s\n' "$map_q" "$map_v"
        fi
    done
}

# same_checked_image FILE: v/FILE passes "qemu-img check", reads like
# q/FILE, and has the same "info" (but for disk usage and the creation
# dates of snapshots, made on each side).
same_checked_image()
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

# both_qcow2 CREATE-ARGS: the same "qemu-img create -f qcow2" on both sides.
both_qcow2()
{
    both "$QEMU_IMG create -q -f qcow2 $*"
}

# both_io FILE QEMU-IO-ARGS...: the same qemu-io run on both sides.
both_io()
{
    local f=$1
    shift
    both "qemu-io $* $f >/dev/null"
}

# same_err CMD ARGS...: as same, and the messages on stderr must match
# too (with vdisk's program name for qemu-img's).
same_err()
{
    same "$@" || return
    if ! cmp -s <(sed 's/^qemu-img: /vdisk: /; s/qemu-img bitmap/vdisk bitmap/' \
                      q.err) v.err; then
        cross_fail "stderr of $*"
        diff q.err v.err
    fi
}

# bitmap_areas FILE BITMAP: the areas that a persistent bitmap of a qcow2
# image marks, as QEMU reads them: qemu-nbd exports the image with the
# bitmap, qemu-img map shows its dirty areas as "data": false, and the
# server ends with that one client.
bitmap_areas()
{
    local sock=$TMPDIR/nbd.sock
    rm -f "$sock"
    qemu-nbd --fork -r -f qcow2 -B "$2" --socket="$sock" "$1" || return 1
    "$QEMU_IMG" map --output=json --image-opts \
        "driver=nbd,server.type=unix,server.path=$sock,x-dirty-bitmap=qemu:dirty-bitmap:$2"
}

# same_bitmap_data FILE BITMAP...: each bitmap marks the same areas in
# both copies of FILE (and can be read).
same_bitmap_data()
{
    local f=$1 b aq av
    shift
    for b in "$@"; do
        aq=$(bitmap_areas q/"$f" "$b") || cross_fail "read bitmap $b of q/$f"
        av=$(bitmap_areas v/"$f" "$b") || cross_fail "read bitmap $b of v/$f"
        if [[ $aq != "$av" ]]; then
            cross_fail "areas of bitmap $b in $f"
            diff <(echo "$aq") <(echo "$av")
        fi
    done
}

finish()
{
    if ((cross_failures)); then
        echo "$cross_failures check(s) differed from qemu-img"
        exit 1
    fi
    exit 0
}
