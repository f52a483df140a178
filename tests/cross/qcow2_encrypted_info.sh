# tests/cross/qcow2_encrypted_info.sh -- encrypted qcow2 images that
# qemu-img made (LUKS with several ciphers, modes and hashes, and the
# legacy AES method, v3 and v2): "info" describes them as qemu-img does,
# human and JSON, without a key; reading their data needs the key, so
# "convert" fails on both sides and leaves no output; "check" reads only
# metadata, so vdisk checks them without a key.
. "$SRCDIR/same_lib.sh"

key='--object secret,id=s0,data=pw'
luks='encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=100'

# encrypted NAME SIZE OPTIONS: makes q/NAME with qemu-img, and v/NAME a
# link to it (a second image would have its own uuid and salts).
# qemu-img times its key derivation and, on this kind of machine, now
# and then cannot ("Unable to get accurate CPU usage"): try again.
encrypted()
{
    local i
    for i in 1 2 3 4 5 6 7 8; do
        "$QEMU_IMG" create -q $key -f qcow2 -o "$3" "q/$1" "$2" 2>/dev/null &&
            ln -s "../q/$1" "v/$1" && return 0
    done
    echo "qemu-img could not make $1"
    exit 1
}

encrypted luks.qcow2 16M "$luks"
encrypted essiv.qcow2 1M "$luks,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha1"
encrypted twofish.qcow2 1M "$luks,encrypt.cipher-alg=twofish-192,encrypt.ivgen-alg=plain"
encrypted aes.qcow2 1M encrypt.format=aes,encrypt.key-secret=s0
encrypted aes_v2.qcow2 1M compat=0.10,encrypt.format=aes,encrypt.key-secret=s0
# Data written with the key: vdisk must not read ciphertext as data.
qemu-io $key --image-opts \
    driver=qcow2,file.filename=q/luks.qcow2,encrypt.key-secret=s0 \
    -c 'write -P 0x55 0 64k' >/dev/null || cross_fail "qemu-io write"

for f in luks essiv twofish aes aes_v2; do
    same info "$f.qcow2"
    same info --output=json "$f.qcow2"
done
same convert -O raw luks.qcow2 out.raw
same_files out.raw
# check needs no key in vdisk (only metadata is read; qemu-img wants the
# key): it must find the image clean, as qemu-img does given the key.
"$VDISK" check q/luks.qcow2 >/dev/null || cross_fail "vdisk check luks"
"$QEMU_IMG" check $key --image-opts \
    driver=qcow2,file.filename=q/luks.qcow2,encrypt.key-secret=s0 \
    >/dev/null || cross_fail "qemu-img check luks"
finish
