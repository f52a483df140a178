# tests/cross/qcow2_snapshot.sh -- internal qcow2 snapshots against
# qemu-img: "snapshot -l/-c/-a/-d", "info" with snapshots, and
# "convert -l".
#
# Images whose snapshots qemu-img made must read the same through vdisk
# (convert -l to raw) and be listed the same (snapshot -l, info, info
# --output=json).  Then the same snapshot commands run with qemu-img on
# one copy of an image and with vdisk on the other: the two files must be
# byte for byte equal apart from the snapshot dates (zeroed by
# zero_dates before comparing), and qemu-img check must find vdisk's
# clean.  Error cases must give the same exit status (and no stdout).
# Dates and times are the only output allowed to differ: the filters
# below blank them.
. "$SRCDIR/same_lib.sh"

# be N OFF FILE: the N-byte big-endian number at OFF.
be()
{
    local v=0 b
    for b in $(od -An -tu1 -v -j "$2" -N "$1" "$3"); do
        v=$((v * 256 + b))
    done
    echo "$v"
}

# poke OFF FILE BYTES...: writes bytes (octal escapes) at OFF.
poke()
{
    local off=$1 f=$2
    shift 2
    printf "$@" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# zero_dates FILE: a copy FILE.nodate with the date_sec and date_nsec of
# every snapshot table entry zeroed.
zero_dates()
{
    local f=$1 n off i
    cp "$f" "$f.nodate" || return 1
    n=$(be 4 60 "$f")
    off=$(be 8 64 "$f")
    for ((i = 0; i < n; i++)); do
        off=$(((off + 7) / 8 * 8))
        poke $((off + 16)) "$f.nodate" '\0\0\0\0\0\0\0\0'
        off=$((off + 40 + $(be 4 $((off + 36)) "$f") + $(be 2 $((off + 12)) \
              "$f") + $(be 2 $((off + 14)) "$f")))
    done
}

DATE_RE='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}'

# same_nodate CMD ARGS...: like same, with dates blanked in both outputs.
same_nodate()
{
    (cd q && "$QEMU_IMG" "$@" 2>../q.err </dev/null | sed -E \
        -e "s/$DATE_RE/DATE/" -e '/"date-(n)?sec"/d' >../q.out
     echo "${PIPESTATUS[0]}" >../q.rc)
    (cd v && "$VDISK" "$@" 2>../v.err </dev/null | sed -E \
        -e "s/$DATE_RE/DATE/" -e '/"date-(n)?sec"/d' >../v.out
     echo "${PIPESTATUS[0]}" >../v.rc)
    if cmp -s q.out v.out && cmp -s q.rc v.rc; then
        return 0
    fi
    cross_fail "$*"
    echo "--- qemu-img (exit $(cat q.rc))"
    cat q.out q.err
    echo "--- vdisk (exit $(cat v.rc))"
    cat v.out v.err
}

# setup FILE SNIPPET: runs the snippet in q only and copies FILE to v
# (qemu-io compresses clusters in parallel, so two runs may place them
# differently).
setup()
{
    (cd q && eval "$2") || { echo "setup failed: $2"; exit 1; }
    # both sides get a copy (cp may make it sparser than the original)
    cp q/"$1" v/"$1" && cp v/"$1" q/"$1".tmp && mv q/"$1".tmp q/"$1" ||
        exit 1
}

# same_image FILE...: equal apart from the dates, and clean for qemu-img.
same_image()
{
    local f
    for f in "$@"; do
        zero_dates q/"$f" && zero_dates v/"$f" ||
            { cross_fail "zero_dates $f"; continue; }
        cmp q/"$f".nodate v/"$f".nodate || cross_fail "cmp $f"
        "$QEMU_IMG" check -q v/"$f" || cross_fail "qemu-img check v/$f"
        "$VDISK" check -q v/"$f" || cross_fail "vdisk check v/$f"
    done
}

# ---- snapshots made by qemu-img, read by both ----

setup base.qcow2 "$QEMU_IMG create -q -f qcow2 -o cluster_size=4k \
                     base.qcow2 1M &&
      qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 512k 8k' \
              -c 'write -z 768k 8k' base.qcow2 >/dev/null"
both "cp base.qcow2 qs.qcow2 && $QEMU_IMG snapshot -c s1 qs.qcow2 &&
      qemu-io -c 'write -P 3 4k 8k' -c 'write -z 520k 4k' \
              -c 'write -P 5 900k 4k' qs.qcow2 >/dev/null &&
      $QEMU_IMG snapshot -c s2 qs.qcow2 &&
      qemu-io -c 'write -P 4 0 4k' qs.qcow2 >/dev/null &&
      $QEMU_IMG snapshot -c 'a name longer than sixteen' qs.qcow2"
same_nodate snapshot -l qs.qcow2
same_nodate info qs.qcow2
same_nodate info --output=json qs.qcow2
for l in s1 2 snapshot.id=1 'snapshot.id=2,snapshot.name=s2' \
         'a name longer than sixteen'; do
    same convert -O raw -l "$l" qs.qcow2 out.raw
    same_files out.raw
    rm -f q/out.raw v/out.raw
done
same convert -O qcow2 -l s1 qs.qcow2 out.qcow2
same_files out.qcow2
# unknown snapshots, bad parameters, several sources
for l in nope snapshot.id=9 'snapshot.id=1,snapshot.name=s2' \
         snapshot.foo=1; do
    same convert -O raw -l "$l" qs.qcow2 bad.raw
done
same convert -O raw -l s1 qs.qcow2 qs.qcow2 bad.raw
same convert -O raw -l snapshot.id=1 qs.qcow2 base.qcow2 two.raw
same_files bad.raw two.raw

# an entry from an older QEMU: 16 bytes of extra data, no icount
both "cp base.qcow2 old.qcow2 && $QEMU_IMG snapshot -c old old.qcow2"
# old_entry FILE: the first entry gets 16 bytes of extra data (the id
# and name move up 8 bytes).
old_entry()
{
    local f=$1 off len
    off=$(be 8 64 "$f")
    len=$(($(be 2 $((off + 12)) "$f") + $(be 2 $((off + 14)) "$f")))
    poke $((off + 36)) "$f" '\0\0\0\20'
    dd if="$f" of="$f" bs=1 skip=$((off + 64)) seek=$((off + 56)) \
       count="$len" conv=notrunc status=none
    poke $((off + 56 + len)) "$f" '\0\0\0\0\0\0\0\0'
}
old_entry q/old.qcow2
old_entry v/old.qcow2
same_nodate snapshot -l old.qcow2
same_nodate info --output=json old.qcow2
same convert -O raw -l old old.qcow2 old.raw
same_files old.raw

# ---- the same commands, by qemu-img in q and by vdisk in v ----

for opts in cluster_size=4k compat=0.10 extended_l2=on,lazy_refcounts=on; do
    setup x.qcow2 "$QEMU_IMG create -q -f qcow2 -o $opts x.qcow2 1M &&
          qemu-io -c 'write -P 1 0 64k' -c 'write -c -P 2 512k 64k' \
                  x.qcow2 >/dev/null"
    same snapshot -c s1 x.qcow2
    same_image x.qcow2
    for side in q v; do
        (cd $side && qemu-io -c 'write -P 3 4k 8k' -c 'write -z 520k 4k' \
                             -c 'write -P 6 700k 8k' x.qcow2 >/dev/null)
    done
    same snapshot -c s2 x.qcow2
    same snapshot -c s1 x.qcow2
    same_nodate snapshot -l x.qcow2
    same_nodate info --output=json x.qcow2
    same snapshot -a s1 x.qcow2
    same_image x.qcow2
    same convert -O raw x.qcow2 x.raw
    same_files x.raw
    same snapshot -a 2 x.qcow2
    same snapshot -d s1 x.qcow2
    same snapshot -d 2 x.qcow2
    same snapshot -d s2 x.qcow2
    same_image x.qcow2
    same snapshot -d s1 x.qcow2
    same_image x.qcow2
    same snapshot -l x.qcow2
    rm -f q/x.raw v/x.raw
done

# ---- errors ----

both "$QEMU_IMG create -q -f qcow2 e.qcow2 1M &&
      $QEMU_IMG snapshot -c s e.qcow2 && truncate -s 1M r.raw"
same snapshot -a nope e.qcow2
same snapshot -d nope e.qcow2
same snapshot -d 1 e.qcow2
same snapshot -l -a s e.qcow2
same snapshot -c s -d s e.qcow2
same snapshot -c
same snapshot -l
same snapshot -l e.qcow2 e.qcow2
same snapshot -f qcow2 -l e.qcow2
same snapshot -U -c x e.qcow2
same snapshot -l missing.qcow2
same snapshot e.qcow2
same snapshot -q -c t e.qcow2
same_image e.qcow2
for a in "-l" "-c x" "-a x" "-d x"; do
    # shellcheck disable=SC2086
    same snapshot $a r.raw
    # shellcheck disable=SC2086
    same snapshot $a -f raw r.raw
done
same info --output=json r.raw
# 1-bit refcounts cannot count a second reference: both fail the same way
setup one.qcow2 "$QEMU_IMG create -q -f qcow2 -o refcount_bits=1 one.qcow2 \
                    1M && qemu-io -c 'write 0 64k' one.qcow2 >/dev/null"
same snapshot -c s one.qcow2
same snapshot -l one.qcow2
zero_dates q/one.qcow2 && zero_dates v/one.qcow2 && \
    cmp q/one.qcow2.nodate v/one.qcow2.nodate || cross_fail "cmp one.qcow2"
same convert -O raw -l x r.raw bad.raw
same_files r.raw

# v3 images with snapshots resize; applying a snapshot of another size
# resizes the image to it first, dropping the active layer's tail
setup rs.qcow2 "$QEMU_IMG create -q -f qcow2 rs.qcow2 4M &&
      qemu-io -c 'write -P 1 0 64k' -c 'write -P 3 3M 64k' rs.qcow2 \
          >/dev/null"
same snapshot -c small rs.qcow2
same resize rs.qcow2 8M
both "qemu-io -c 'write -P 2 6M 64k' -c 'write -P 4 3M 4k' rs.qcow2 \
          >/dev/null"
same snapshot -c big rs.qcow2
same snapshot -a small rs.qcow2
same_image rs.qcow2
same convert -O raw rs.qcow2 rs-small.raw
same snapshot -a big rs.qcow2
same convert -O raw rs.qcow2 rs-big.raw
same_files rs-small.raw rs-big.raw
same_image rs.qcow2
setup rs2.qcow2 "$QEMU_IMG create -q -f qcow2 -o compat=0.10 rs2.qcow2 1M &&
      $QEMU_IMG snapshot -c s rs2.qcow2"
same resize rs2.qcow2 2M

finish
