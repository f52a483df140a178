# tests/cross/qcow2_create.sh -- "create -f qcow2" against qemu-img: the
# same stdout ("Formatting ..." with every option combination, "-o
# help"), the same exit status, and byte for byte the same image (and
# external data file) for each option combination.  Every image vdisk
# makes must also pass qemu-img check and libqcow's qcowinfo (which
# cannot read zstd or extended-L2 images, nor an empty L1 table as a
# size-0 image has: the oracle's limits, so those combinations skip
# qcowinfo only).
. "$SRCDIR/same_lib.sh"

command -v qcowinfo >/dev/null ||
    { echo "qcowinfo (libqcow-utils) is needed"; exit 1; }

# qemu-img check and (unless told otherwise) qcowinfo on vdisk's copy.
readers()
{
    local f=$1 libqcow=${2:-yes}
    "$QEMU_IMG" check -q v/"$f" || cross_fail "qemu-img check $f"
    if [[ $libqcow == yes ]]; then
        qcowinfo v/"$f" >/dev/null || cross_fail "qcowinfo $f"
    fi
}

# -o help, with and without a target file name.
same create -f qcow2 -o help
same create -f qcow2 -o help x.qcow2
same create -f qcow2 -o '?' x.qcow2

# Option combinations: same Formatting line, same file.
n=0
while read -r opts size libqcow; do
    n=$((n + 1))
    f=i$n.qcow2
    if [[ $opts == - ]]; then
        same create -f qcow2 "$f" "$size"
    else
        same create -f qcow2 -o "$opts" "$f" "$size"
    fi
    same_files "$f"
    readers "$f" "$libqcow"
done <<'EOF'
- 1G yes
- 0 no
- 1000 yes
compat=0.10 1G yes
compat=v2 3M yes
compat=1.1 64M yes
compat=v3 1M yes
cluster_size=512 3M yes
cluster_size=4k 100M yes
cluster_size=16k 5000 yes
cluster_size=2M 1G yes
refcount_bits=1 1G yes
refcount_bits=8,cluster_size=4k 1M yes
refcount_bits=64 1G yes
lazy_refcounts=on 1G yes
lazy_refcounts=off,compat=1.1 1M yes
extended_l2=on 1G no
extended_l2=on,cluster_size=16k 1000 no
compression_type=zstd 1G no
compression_type=zlib 1M yes
preallocation=off 1M yes
preallocation=metadata 10M yes
preallocation=metadata,cluster_size=4k 3M yes
preallocation=metadata,cluster_size=4k 5000 yes
preallocation=falloc 3M yes
preallocation=falloc,cluster_size=4k 3M yes
preallocation=full,cluster_size=16k 2M yes
preallocation=metadata,extended_l2=on 1000 no
preallocation=metadata,compat=0.10 3M yes
encryption=off 1M yes
nocow=on 1M yes
extent_size_hint=1M 1M yes
cluster_size=8k,refcount_bits=16,lazy_refcounts=on,compat=1.1 2M yes
EOF

# Backing files: the name and format are stored in the header.
both "$QEMU_IMG create -q -f raw base.raw 2M"
same create -f qcow2 -b base.raw -F raw top.qcow2
same create -f qcow2 -b base.raw -F raw -o cluster_size=4k top4k.qcow2 1M
same create -f qcow2 -o backing_file=base.raw,backing_fmt=raw top2.qcow2
same create -f qcow2 -u -b nosuch.qcow2 -F qcow2 top3.qcow2 1M
same create -f qcow2 -b base.raw -F raw \
    -o preallocation=metadata,extended_l2=on top5.qcow2
same_files top.qcow2 top4k.qcow2 top2.qcow2 top3.qcow2 top5.qcow2
readers top.qcow2
readers top4k.qcow2
readers top5.qcow2 no

# External data files (relative to the current directory, which is the
# image's here, as qemu-img resolves it).
same create -f qcow2 -o data_file=d1.raw ext1.qcow2 1M
same create -f qcow2 -o data_file=d2.raw,data_file_raw=on ext2.qcow2 3M
same create -f qcow2 -o data_file=d3.raw,preallocation=full ext3.qcow2 1M
same create -f qcow2 -o data_file=d4.raw,preallocation=metadata ext4.qcow2 1M
same_files ext1.qcow2 d1.raw ext2.qcow2 d2.raw ext3.qcow2 d3.raw \
    ext4.qcow2 d4.raw
for f in ext1.qcow2 ext2.qcow2 ext3.qcow2 ext4.qcow2; do
    (cd v && "$QEMU_IMG" check -q $f) || cross_fail "qemu-img check $f"
done
# "map" names the data file, not the image, in its File column.
both 'qemu-io -c "write -P 1 0 64k" -c "write -P 2 512k 4k" ext1.qcow2 \
      >/dev/null'
same map ext1.qcow2
same map --output=json ext1.qcow2

# Errors: the same exit status and stdout (the Formatting line first).
same create -f qcow2 -o cluster_size=1000 e.qcow2 1M
same create -f qcow2 -o cluster_size=4M e.qcow2 1M
same create -f qcow2 -o cluster_size=0 e.qcow2 1M
same create -f qcow2 -o refcount_bits=3 e.qcow2 1M
same create -f qcow2 -o refcount_bits=128 e.qcow2 1M
same create -f qcow2 -o compat=2.0 e.qcow2 1M
same create -f qcow2 -o compat=0.10,refcount_bits=8 e.qcow2 1M
same create -f qcow2 -o compat=0.10,lazy_refcounts=on e.qcow2 1M
same create -f qcow2 -o compat=0.10,extended_l2=on e.qcow2 1M
same create -f qcow2 -o compat=0.10,data_file=x.raw e.qcow2 1M
same create -f qcow2 -o compat=0.10,compression_type=zstd e.qcow2 1M
same create -f qcow2 -o extended_l2=on,cluster_size=8k e.qcow2 1M
same create -f qcow2 -o data_file_raw=on e.qcow2 1M
same create -f qcow2 -o preallocation=bogus e.qcow2 1M
same create -f qcow2 -o compression_type=lz4 e.qcow2 1M
same create -f qcow2 -o lazy_refcounts=maybe e.qcow2 1M
same create -f qcow2 -o backing_fmt=raw e.qcow2 1M
same create -f qcow2 -o preallocation=metadata -b base.raw -F raw e.qcow2
same create -f qcow2 -o data_file=x.raw,data_file_raw=on -b base.raw \
    -F raw e.qcow2
same create -f qcow2 -o cluster_size=512 e.qcow2 1T
same create -f qcow2 e.qcow2
same_files e.qcow2 x.raw

# Encryption is refused (qemu-img wants a secret; vdisk does not encrypt).
same create -f qcow2 -o encryption=on e.qcow2 1M
same create -f qcow2 -o encrypt.format=luks e.qcow2 1M
same_files e.qcow2

finish
