/* formats/qcow2/qcow2_crypt_info.c -- what `info` says of an encrypted
 * qcow2 image, as qemu-img prints it: {"format": "aes"} for the legacy
 * method, and for LUKS the algorithms, uuid, key slots and offsets from
 * the LUKS (version 1) header that the full disk encryption extension
 * points to.  Nothing is decrypted, so no key is needed.
 *
 * The header is untrusted: its place and length are bounded by the file,
 * its strings must end inside their fields, and only the algorithms QEMU
 * knows are named (anything else is an error, as QEMU's open fails).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qcow2.h"

/* LUKS1 header layout (all numbers big-endian). */
#define LUKS_HDR_LEN 592
#define LUKS_CIPHER_NAME 8
#define LUKS_CIPHER_MODE 40
#define LUKS_HASH_SPEC 72
#define LUKS_PAYLOAD_OFFSET 104
#define LUKS_KEY_BYTES 108
#define LUKS_MK_ITERS 164
#define LUKS_UUID 168
#define LUKS_SLOTS 208
#define LUKS_STRING_LEN 32
#define LUKS_UUID_LEN 40
#define LUKS_SLOT_COUNT 8
#define LUKS_SLOT_LEN 48
#define LUKS_SLOT_ACTIVE 0x00AC71F3u
#define LUKS_SLOT_DISABLED 0x0000DEADu
#define LUKS_SECTOR 512

static int bad(img_err *err, const char *what)
{
    return img_err_set(err, EINVAL, "LUKS header is invalid: %s", what);
}

/* The NUL-terminated string of a field of len bytes, or NULL. */
static const char *field(const uint8_t *h, size_t off, size_t len)
{
    return memchr(h + off, '\0', len) ? (const char *)h + off : NULL;
}

static int one_of(const char *s, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        if (!strcmp(s, names[i])) {
            return 1;
        }
    }
    return 0;
}

/* QEMU's name for the cipher (e.g. "aes-256"), from the header's name and
 * key size (XTS keys hold two keys); 0 or -EINVAL. */
static int cipher_alg(const char *name, uint32_t key_bytes, int xts,
                      char *out, size_t outlen, img_err *err)
{
    static const struct {
        const char *name;
        unsigned bits;
    } known[] = {
        { "aes", 128 },     { "aes", 192 },     { "aes", 256 },
        { "serpent", 128 }, { "serpent", 192 }, { "serpent", 256 },
        { "twofish", 128 }, { "twofish", 192 }, { "twofish", 256 },
        { "cast5", 128 },   { "sm4", 128 },
    };
    uint64_t bits = (uint64_t)key_bytes * 8 / (xts ? 2 : 1);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (!strcmp(name, known[i].name) && bits == known[i].bits) {
            if (!strcmp(name, "sm4")) {
                snprintf(out, outlen, "sm4");
            } else {
                snprintf(out, outlen, "%s-%u", name, known[i].bits);
            }
            return 0;
        }
    }
    return bad(err, "unknown cipher or key size");
}

/* Splits "xts-plain64" or "cbc-essiv:sha256" into mode, ivgen and the
 * ivgen hash ("" when none); 0 or -EINVAL. */
static int split_mode(const char *spec, char *mode, char *ivgen, char *ivhash,
                      img_err *err)
{
    static const char *const modes[] = { "ecb", "cbc", "xts", "ctr", NULL };
    static const char *const ivgens[] = { "plain", "plain64", "essiv",
                                          NULL };
    size_t m = strcspn(spec, "-");
    if (spec[m] != '-' || m >= LUKS_STRING_LEN) {
        return bad(err, "cipher mode without an IV generator");
    }
    memcpy(mode, spec, m);
    mode[m] = '\0';
    const char *iv = spec + m + 1;
    size_t g = strcspn(iv, ":");
    memcpy(ivgen, iv, g);
    ivgen[g] = '\0';
    snprintf(ivhash, LUKS_STRING_LEN, "%s", iv[g] == ':' ? iv + g + 1 : "");
    if (!one_of(mode, modes) || !one_of(ivgen, ivgens) ||
        (*ivhash != '\0') != !strcmp(ivgen, "essiv")) {
        return bad(err, "unknown cipher mode");
    }
    return 0;
}

static const char *const hashes[] = { "md5",    "sha1",   "sha224",
                                      "sha256", "sha384", "sha512",
                                      "ripemd160", NULL };

/* The eight key slots: active, and where their key material is. */
static int slots_list(const uint8_t *h, img_val **out, img_err *err)
{
    img_val *list = img_val_list_new();
    if (!list) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (int i = 0; i < LUKS_SLOT_COUNT; i++) {
        const uint8_t *k = h + LUKS_SLOTS + i * LUKS_SLOT_LEN;
        uint32_t state = qcow2_be32(k);
        if (state != LUKS_SLOT_ACTIVE && state != LUKS_SLOT_DISABLED) {
            img_val_free(list);
            return bad(err, "key slot state");
        }
        int active = state == LUKS_SLOT_ACTIVE;
        img_val *d = img_val_dict_new();
        img_val_dict_set_bool(d, "active", active);
        if (active) {
            img_val_dict_set_uint(d, "iters", qcow2_be32(k + 4));
        }
        img_val_dict_set_uint(d, "key-offset",
                              (uint64_t)qcow2_be32(k + 40) * LUKS_SECTOR);
        if (active) {
            img_val_dict_set_uint(d, "stripes", qcow2_be32(k + 44));
        }
        img_val_list_append(list, d);
    }
    *out = list;
    return 0;
}

/* Describes a LUKS header h (LUKS_HDR_LEN bytes) in qemu-img's key order. */
static int describe_luks(const uint8_t *h, img_val **out, img_err *err)
{
    static const uint8_t magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };
    if (memcmp(h, magic, sizeof(magic)) || qcow2_be16(h + 6) != 1) {
        return bad(err, "not a LUKS version 1 header");
    }
    const char *name = field(h, LUKS_CIPHER_NAME, LUKS_STRING_LEN);
    const char *mode_spec = field(h, LUKS_CIPHER_MODE, LUKS_STRING_LEN);
    const char *hash = field(h, LUKS_HASH_SPEC, LUKS_STRING_LEN);
    const char *uuid = field(h, LUKS_UUID, LUKS_UUID_LEN);
    if (!name || !mode_spec || !hash || !uuid) {
        return bad(err, "unterminated string");
    }
    char mode[LUKS_STRING_LEN], ivgen[LUKS_STRING_LEN];
    char ivhash[LUKS_STRING_LEN], alg[32];
    int r = split_mode(mode_spec, mode, ivgen, ivhash, err);
    if (r == 0) {
        r = cipher_alg(name, qcow2_be32(h + LUKS_KEY_BYTES),
                       !strcmp(mode, "xts"), alg, sizeof(alg), err);
    }
    if (r == 0 && (!one_of(hash, hashes) ||
                   (*ivhash && !one_of(ivhash, hashes)))) {
        r = bad(err, "unknown hash");
    }
    img_val *slots = NULL;
    if (r == 0) {
        r = slots_list(h, &slots, err);
    }
    img_val *d = r == 0 ? img_val_dict_new() : NULL;
    if (!d) {
        img_val_free(slots);
        return r < 0 ? r : img_err_set(err, ENOMEM, "Out of memory");
    }
    img_val_dict_set_str(d, "ivgen-alg", ivgen);
    img_val_dict_set_str(d, "hash-alg", hash);
    img_val_dict_set_str(d, "cipher-alg", alg);
    img_val_dict_set_str(d, "uuid", uuid);
    if (*ivhash) {
        img_val_dict_set_str(d, "ivgen-hash-alg", ivhash);
    }
    img_val_dict_set_str(d, "format", "luks");
    img_val_dict_set_str(d, "cipher-mode", mode);
    img_val_dict_set(d, "slots", slots);
    img_val_dict_set_uint(d, "payload-offset",
                          (uint64_t)qcow2_be32(h + LUKS_PAYLOAD_OFFSET) *
                              LUKS_SECTOR);
    img_val_dict_set_uint(d, "master-key-iters",
                          qcow2_be32(h + LUKS_MK_ITERS));
    *out = d;
    return 0;
}

/* The LUKS header the crypto extension points to, read into h. */
static int read_luks_header(const qcow2_state *s, img_file *file,
                            uint8_t *h, img_err *err)
{
    const qcow2_ext *x = NULL;
    for (size_t i = 0; i < s->meta.nothers; i++) {
        if (s->meta.others[i].type == QCOW2_EXT_CRYPTO) {
            x = &s->meta.others[i];
        }
    }
    if (!x || x->len < 16) {
        return bad(err, "no encryption header extension");
    }
    uint64_t off = qcow2_be64(x->data), len = qcow2_be64(x->data + 8);
    if (len < LUKS_HDR_LEN || off > s->file_size ||
        s->file_size - off < LUKS_HDR_LEN) {
        return bad(err, "header outside the file");
    }
    return img_file_pread(file, h, LUKS_HDR_LEN, off, err);
}

int qcow2_crypt_info(const qcow2_state *s, img_file *file, img_val **out,
                     img_err *err)
{
    *out = NULL;
    if (s->hdr.crypt_method == QCOW2_CRYPT_AES) {
        img_val *d = img_val_dict_new();
        if (!d) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        img_val_dict_set_str(d, "format", "aes");
        *out = d;
        return 0;
    }
    if (s->hdr.crypt_method != QCOW2_CRYPT_LUKS) {
        return 0;
    }
    uint8_t h[LUKS_HDR_LEN];
    int r = read_luks_header(s, file, h, err);
    return r < 0 ? r : describe_luks(h, out, err);
}
