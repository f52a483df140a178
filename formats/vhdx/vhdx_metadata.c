/* formats/vhdx/vhdx_metadata.c -- the VHDX metadata region: the metadata
 * table and the known metadata items.
 *
 * Spec: [MS-VHDX] 2.6.1 (metadata table: at most 2047 entries, items at
 * offset >= 64 KiB, at most 1 MiB long, inside the region and not
 * overlapping, unique ItemId/IsUser pairs, at most 1024 user items,
 * unknown required items refuse the file) and 2.6.2 (file parameters,
 * virtual disk size, page 83 data, logical and physical sector size,
 * parent locator).  Decoders take buffers with their lengths; the
 * loader reads the table and each item it needs through vhdx_read().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

void vhdx_meta_table_clear(vhdx_meta_table *mt)
{
    free(mt->entries);
    memset(mt, 0, sizeof(*mt));
}

/* The 2.6.1.2 rules for one entry against the region. */
static int meta_entry_check(const vhdx_meta_entry *e, unsigned i,
                            uint32_t region_length, img_err *err)
{
    if (e->length > VHDX_MT_ITEM_MAX_LEN) {
        return img_err_set(err, EINVAL, "metadata item %u is %" PRIu32
                           " bytes long, more than 1 MiB (MS-VHDX 2.6.1.2)",
                           i, e->length);
    }
    /* "Present but empty" items sit nowhere: offset 0. */
    if (e->length == 0) {
        if (e->offset != 0) {
            return img_err_set(err, EINVAL, "metadata item %u is empty but "
                               "its offset is not zero (MS-VHDX 2.6.1.2)", i);
        }
        return 0;
    }
    /* Items start after the 64 KiB table and end inside the region. */
    if (e->offset < VHDX_MT_ITEM_MIN_OFFSET ||
        e->offset > region_length || e->length > region_length - e->offset) {
        return img_err_set(err, EINVAL, "metadata item %u at %#" PRIx32
                           " (length %" PRIu32 ") is not inside the metadata "
                           "region after its table (MS-VHDX 2.6.1.2)", i,
                           e->offset, e->length);
    }
    return 0;
}

/* Uniqueness, overlap and the user-item limit across entries. */
static int meta_entries_cross_check(const vhdx_meta_table *mt, img_err *err)
{
    unsigned users = 0;
    for (unsigned i = 0; i < mt->count; i++) {
        const vhdx_meta_entry *e = &mt->entries[i];
        users += (e->flags & VHDX_MTE_IS_USER) != 0;
        for (unsigned j = 0; j < i; j++) {
            const vhdx_meta_entry *o = &mt->entries[j];
            if (vhdx_guid_eq(&o->item_id, &e->item_id) &&
                ((o->flags ^ e->flags) & VHDX_MTE_IS_USER) == 0) {
                return img_err_set(err, EINVAL, "metadata items %u and %u "
                                   "have the same ItemId and IsUser "
                                   "(MS-VHDX 2.6.1.2)", j, i);
            }
            if (vhdx_overlaps(o->offset, o->length, e->offset, e->length)) {
                return img_err_set(err, EINVAL, "metadata items %u and %u "
                                   "overlap (MS-VHDX 2.6.1.2)", j, i);
            }
        }
    }
    if (users > VHDX_MT_MAX_USER) {
        return img_err_set(err, EINVAL, "%u user metadata items, more than "
                           "1024 (MS-VHDX 2.6.1.2)", users);
    }
    return 0;
}

/* Decodes the 32-byte header and count entries (count <= 2047, so the
 * entries array is at most 2047 * 40 bytes); out->entries is malloc'd
 * and freed by vhdx_meta_table_clear(), also on failure. */
int vhdx_meta_table_decode(const uint8_t *buf, size_t len,
                           uint32_t region_length, vhdx_meta_table *out,
                           img_err *err)
{
    memset(out, 0, sizeof(*out));
    if (len < VHDX_MT_SIZE) {
        return img_err_set(err, EINVAL, "Metadata table truncated");
    }
    if (memcmp(buf + VHDX_MT_SIG, VHDX_MT_SIGNATURE, 8) != 0) {
        return img_err_set(err, EINVAL, "Metadata table signature is not "
                           "'metadata' (MS-VHDX 2.6.1.1)");
    }
    unsigned count = vhdx_le16(buf + VHDX_MT_COUNT);
    if (count > VHDX_MT_MAX_ENTRIES) {
        return img_err_set(err, EINVAL, "Metadata table has %u entries, "
                           "more than 2047 (MS-VHDX 2.6.1.1)", count);
    }
    out->reserved_nonzero = vhdx_le16(buf + VHDX_MT_RESERVED) != 0;
    for (size_t i = VHDX_MT_RESERVED2; i < VHDX_MT_HEADER_SIZE; i++) {
        out->reserved_nonzero |= buf[i] != 0;
    }
    out->entries = calloc(count ? count : 1, sizeof(*out->entries));
    if (!out->entries) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    out->count = count;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *p = buf + VHDX_MT_HEADER_SIZE + i * VHDX_MT_ENTRY_SIZE;
        vhdx_meta_entry *e = &out->entries[i];
        memcpy(e->item_id.b, p + VHDX_MTE_ITEM_ID, 16);
        e->offset = vhdx_le32(p + VHDX_MTE_OFFSET);
        e->length = vhdx_le32(p + VHDX_MTE_LENGTH);
        e->flags = vhdx_le32(p + VHDX_MTE_FLAGS);
        e->reserved2 = vhdx_le32(p + VHDX_MTE_RESERVED2);
        int r = meta_entry_check(e, i, region_length, err);
        if (r < 0) {
            img_err_prepend(err, "Metadata table: ");
            vhdx_meta_table_clear(out);
            return r;
        }
    }
    int r = meta_entries_cross_check(out, err);
    if (r < 0) {
        img_err_prepend(err, "Metadata table: ");
        vhdx_meta_table_clear(out);
    }
    return r;
}

/* ---- UTF-16LE <-> UTF-8 for the parent locator ---- */

/* Appends code point cp as UTF-8 at out[*n]. */
static void utf8_put(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | cp >> 6);
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | cp >> 12);
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | cp >> 18);
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* A malloc'd UTF-8 copy of len bytes of UTF-16LE; NULL when the string has
 * a NUL or an unpaired surrogate (2.6.2.6.2) or on ENOMEM (*bad = 0). */
static char *utf16_to_utf8(const uint8_t *p, size_t len, int *bad)
{
    char *out = malloc(len / 2 * 3 + 1);
    size_t n = 0;
    *bad = 1;
    if (!out) {
        *bad = 0;
        return NULL;
    }
    /* Each UTF-16 unit, or surrogate pair, becomes one code point. */
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint32_t cp = vhdx_le16(p + i);
        if (cp >= 0xd800 && cp < 0xdc00 && i + 3 < len) {
            uint32_t lo = vhdx_le16(p + i + 2);
            if (lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            }
        }
        if (cp == 0 || (cp >= 0xd800 && cp < 0xe000)) {
            free(out);
            return NULL;
        }
        utf8_put(out, &n, cp);
    }
    out[n] = '\0';
    *bad = 0;
    return out;
}

/* Decodes one UTF-8 code point at *s (advancing it); -1 when invalid. */
static int32_t utf8_get(const unsigned char **s)
{
    const unsigned char *p = *s;
    int n = p[0] < 0x80 ? 0 : p[0] >= 0xf0 ? 3 : p[0] >= 0xe0 ? 2
                                               : p[0] >= 0xc0 ? 1 : -1;
    if (n < 0) {
        return -1;
    }
    int32_t cp = n == 0 ? p[0] : p[0] & (0x3f >> n);
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return -1;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }
    *s = p + n + 1;
    return cp;
}

/* Writes s as UTF-16LE at out (room for cap bytes); returns the byte
 * length or -1 when it does not fit or is not valid UTF-8. */
static long utf8_to_utf16(const char *s, uint8_t *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        int32_t cp = utf8_get(&p);
        if (cp < 0 || cp > 0x10ffff || n + 4 > cap) {
            return -1;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            vhdx_put16(out + n, (uint16_t)(0xd800 + (cp >> 10)));
            vhdx_put16(out + n + 2, (uint16_t)(0xdc00 + (cp & 0x3ff)));
            n += 4;
        } else {
            vhdx_put16(out + n, (uint16_t)cp);
            n += 2;
        }
    }
    return (long)n;
}

/* ---- 2.6.2.6 parent locator ---- */

void vhdx_parent_locator_clear(vhdx_parent_locator *pl)
{
    for (unsigned i = 0; pl->kv && i < pl->count; i++) {
        free(pl->kv[i].key);
        free(pl->kv[i].value);
    }
    free(pl->kv);
    memset(pl, 0, sizeof(*pl));
}

const char *vhdx_parent_locator_get(const vhdx_parent_locator *pl,
                                    const char *key)
{
    for (unsigned i = 0; i < pl->count; i++) {
        if (!strcmp(pl->kv[i].key, key)) {
            return pl->kv[i].value;
        }
    }
    return NULL;
}

/* Bounds of one key or value string inside the item (2.6.2.6.2). */
static int pl_string_check(uint32_t off, uint32_t slen, size_t len)
{
    return off > 0 && slen > 0 && slen % 2 == 0 && off <= len &&
           slen <= len - off;
}

/* Decodes entry i into pl->kv[i]. */
static int pl_entry_decode(const uint8_t *buf, size_t len, unsigned i,
                           vhdx_parent_locator *pl, img_err *err)
{
    const uint8_t *e = buf + VHDX_PL_HEADER_SIZE + i * VHDX_PL_ENTRY_SIZE;
    uint32_t koff = vhdx_le32(e + VHDX_PLE_KEY_OFFSET);
    uint32_t voff = vhdx_le32(e + VHDX_PLE_VALUE_OFFSET);
    uint16_t klen = vhdx_le16(e + VHDX_PLE_KEY_LENGTH);
    uint16_t vlen = vhdx_le16(e + VHDX_PLE_VALUE_LENGTH);
    if (!pl_string_check(koff, klen, len) ||
        !pl_string_check(voff, vlen, len)) {
        return img_err_set(err, EINVAL, "Parent locator entry %u has a key "
                           "or value outside the item or of odd or zero "
                           "length (MS-VHDX 2.6.2.6.2)", i);
    }
    int bad_k, bad_v;
    pl->kv[i].key = utf16_to_utf8(buf + koff, klen, &bad_k);
    pl->kv[i].value = utf16_to_utf8(buf + voff, vlen, &bad_v);
    if (bad_k || bad_v) {
        return img_err_set(err, EINVAL, "Parent locator entry %u is not "
                           "UTF-16 without NULs (MS-VHDX 2.6.2.6.2)", i);
    }
    if (!pl->kv[i].key || !pl->kv[i].value) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (unsigned j = 0; j < i; j++) {
        if (!strcmp(pl->kv[j].key, pl->kv[i].key)) {
            return img_err_set(err, EINVAL, "Parent locator key '%s' appears "
                               "twice (MS-VHDX 2.6.2.6.2)", pl->kv[i].key);
        }
    }
    return (int)klen + vlen;
}

/* The locator item: a 20-byte header, KeyValueCount 12-byte entries,
 * then the strings they point at.  Every offset is checked against the
 * item's length (at most 1 MiB), and the strings' total against it too,
 * so overlapping strings cannot multiply the memory a file makes us use. */
int vhdx_parent_locator_decode(const uint8_t *buf, size_t len,
                               vhdx_parent_locator *out, img_err *err)
{
    memset(out, 0, sizeof(*out));
    if (len < VHDX_PL_HEADER_SIZE) {
        return img_err_set(err, EINVAL, "Parent locator is shorter than its "
                           "header (MS-VHDX 2.6.2.6.1)");
    }
    memcpy(out->type.b, buf + VHDX_PL_TYPE, 16);
    unsigned count = vhdx_le16(buf + VHDX_PL_COUNT);
    if (VHDX_PL_HEADER_SIZE + (size_t)count * VHDX_PL_ENTRY_SIZE > len) {
        return img_err_set(err, EINVAL, "Parent locator entries do not fit "
                           "the item (MS-VHDX 2.6.2.6.1)");
    }
    out->kv = calloc(count ? count : 1, sizeof(*out->kv));
    if (!out->kv) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    out->count = count;
    size_t total = 0; /* bounds the memory overlapping strings could take */
    for (unsigned i = 0; i < count; i++) {
        int r = pl_entry_decode(buf, len, i, out, err);
        total += r > 0 ? (size_t)r : 0;
        if (r >= 0 && total > len) {
            r = img_err_set(err, EINVAL, "Parent locator strings overlap "
                            "(MS-VHDX 2.6.2.6.2)");
        }
        if (r < 0) {
            vhdx_parent_locator_clear(out);
            return r;
        }
    }
    return 0;
}

/* Layout: header, entries, then each key followed by its value; the type
 * is always the VHDX locator (2.6.2.6.3). */
int vhdx_parent_locator_encode(const vhdx_kv *kv, unsigned n, uint8_t *buf,
                               size_t len, img_err *err)
{
    size_t pos = VHDX_PL_HEADER_SIZE + (size_t)n * VHDX_PL_ENTRY_SIZE;
    if (pos > len || n > UINT16_MAX) {
        return img_err_set(err, ENOSPC, "Parent locator too large");
    }
    memset(buf, 0, len);
    memcpy(buf + VHDX_PL_TYPE, vhdx_guid_parent_vhdx.b, 16);
    vhdx_put16(buf + VHDX_PL_COUNT, (uint16_t)n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = buf + VHDX_PL_HEADER_SIZE + i * VHDX_PL_ENTRY_SIZE;
        long kl = utf8_to_utf16(kv[i].key, buf + pos, len - pos);
        long vl = kl > 0 ? utf8_to_utf16(kv[i].value, buf + pos + kl,
                                         len - pos - kl) : -1;
        if (kl <= 0 || vl <= 0 || kl > UINT16_MAX || vl > UINT16_MAX) {
            return img_err_set(err, EINVAL, "Parent locator value for '%s' "
                               "is empty, too long or not UTF-8",
                               kv[i].key);
        }
        vhdx_put32(e + VHDX_PLE_KEY_OFFSET, (uint32_t)pos);
        vhdx_put32(e + VHDX_PLE_VALUE_OFFSET, (uint32_t)(pos + kl));
        vhdx_put16(e + VHDX_PLE_KEY_LENGTH, (uint16_t)kl);
        vhdx_put16(e + VHDX_PLE_VALUE_LENGTH, (uint16_t)vl);
        pos += (size_t)(kl + vl);
    }
    return (int)pos;
}

/* ---- 2.6.2 known items ---- */

/* Which known system item an entry is (index into known[]), or -1. */
enum { ITEM_FP, ITEM_SIZE, ITEM_PAGE83, ITEM_LSS, ITEM_PSS, ITEM_PL,
       N_ITEMS };

static const struct known_item {
    const vhdx_guid *guid;
    const char *name;
    uint32_t length;  /* exact length, 0: variable */
} known[N_ITEMS] = {
    [ITEM_FP] = { &vhdx_guid_file_params, "File Parameters", VHDX_FP_SIZE },
    [ITEM_SIZE] = { &vhdx_guid_disk_size, "Virtual Disk Size",
                    VHDX_VDS_SIZE },
    [ITEM_PAGE83] = { &vhdx_guid_page83, "Virtual Disk ID",
                      VHDX_PAGE83_SIZE },
    [ITEM_LSS] = { &vhdx_guid_logical_sector, "Logical Sector Size",
                   VHDX_SECTOR_ITEM_SIZE },
    [ITEM_PSS] = { &vhdx_guid_physical_sector, "Physical Sector Size",
                   VHDX_SECTOR_ITEM_SIZE },
    [ITEM_PL] = { &vhdx_guid_parent_locator, "Parent Locator", 0 },
};

/* Known system items are matched by GUID; the same GUID marked IsUser
 * is somebody's user item, not ours. */
static int known_index(const vhdx_meta_entry *e)
{
    if (e->flags & VHDX_MTE_IS_USER) {
        return -1; /* user items live in their own namespace */
    }
    for (int k = 0; k < N_ITEMS; k++) {
        if (vhdx_guid_eq(&e->item_id, known[k].guid)) {
            return k;
        }
    }
    return -1;
}

/* Decodes the fixed-size items into s->p (2.6.2.1-2.6.2.5). */
static int decode_item(vhdx_state *s, int k, const uint8_t *p, img_err *err)
{
    switch (k) {
    case ITEM_FP:
        s->p.block_size = vhdx_le32(p + VHDX_FP_BLOCK_SIZE);
        s->p.fp_flags = vhdx_le32(p + VHDX_FP_FLAGS);
        s->p.leave_allocated = (s->p.fp_flags & VHDX_FP_LEAVE_ALLOC) != 0;
        s->p.has_parent = (s->p.fp_flags & VHDX_FP_HAS_PARENT) != 0;
        if (!vhdx_is_pow2(s->p.block_size) || s->p.block_size <
            VHDX_BLOCK_MIN || s->p.block_size > VHDX_BLOCK_MAX) {
            return img_err_set(err, EINVAL, "Block size %" PRIu32 " is not "
                               "a power of two from 1 MiB to 256 MiB "
                               "(MS-VHDX 2.6.2.1)", s->p.block_size);
        }
        return 0;
    case ITEM_SIZE:
        s->p.disk_size = vhdx_le64(p);
        return 0;
    case ITEM_PAGE83:
        memcpy(s->p.disk_id.b, p, 16);
        return 0;
    default: {
        uint32_t v = vhdx_le32(p);
        if (v != 512 && v != 4096) {
            return img_err_set(err, EINVAL, "%s %" PRIu32 " is neither 512 "
                               "nor 4096 (MS-VHDX 2.6.2.%d)", known[k].name,
                               v, k == ITEM_LSS ? 4 : 5);
        }
        *(k == ITEM_LSS ? &s->p.logical_sector : &s->p.physical_sector) = v;
        return 0;
    }
    }
}

/* Reads one known item (length already bounded to 1 MiB) and decodes it. */
static int load_item(vhdx_state *s, int k, const vhdx_meta_entry *e,
                     img_err *err)
{
    if (known[k].length ? e->length != known[k].length : e->length == 0) {
        return img_err_set(err, EINVAL, "Metadata item %s is %" PRIu32
                           " bytes long (MS-VHDX 2.6.2)", known[k].name,
                           e->length);
    }
    /* At most 1 MiB (checked with the table), from inside the region. */
    uint8_t *buf = malloc(e->length);
    if (!buf) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = vhdx_read(s, buf, e->length, s->meta_offset + e->offset, err);
    if (r >= 0 && k == ITEM_PL) {
        r = vhdx_parent_locator_decode(buf, e->length, &s->pl, err);
    } else if (r >= 0) {
        r = decode_item(s, k, buf, err);
    }
    if (k == ITEM_SIZE) {
        s->p.disk_size_off = e->offset;
    }
    free(buf);
    return r;
}

/* Loads every known item; refuses unknown required ones (2.6.1.2). */
static int load_items(vhdx_state *s, unsigned *present, img_err *err)
{
    for (unsigned i = 0; i < s->mt.count; i++) {
        const vhdx_meta_entry *e = &s->mt.entries[i];
        int k = known_index(e);
        if (k < 0) {
            if (e->flags & VHDX_MTE_IS_REQUIRED) {
                char g[39];
                vhdx_guid_format(&e->item_id, g);
                return img_err_set(err, ENOTSUP, "Metadata item %s is "
                                   "required but not known to this "
                                   "implementation (MS-VHDX 2.6.1.2)", g);
            }
            continue;
        }
        int r = load_item(s, k, e, err);
        if (r < 0) {
            return r;
        }
        *present |= 1u << k;
    }
    return 0;
}

/* The rules between items (2.6.2.2, 2.6.2.6). */
static int items_consistent(vhdx_state *s, unsigned present, img_err *err)
{
    for (int k = 0; k < ITEM_PL; k++) {
        if (!(present & (1u << k))) {
            return img_err_set(err, EINVAL, "Metadata item %s is missing "
                               "(MS-VHDX 2.6.2)", known[k].name);
        }
    }
    if (s->p.disk_size % s->p.logical_sector ||
        s->p.disk_size > VHDX_MAX_DISK_SIZE) {
        return img_err_set(err, EINVAL, "Virtual disk size %" PRIu64 " is "
                           "not a multiple of the logical sector size or "
                           "above 64 TiB (MS-VHDX 2.6.2.2)", s->p.disk_size);
    }
    if (s->p.has_parent && !(present & (1u << ITEM_PL))) {
        return img_err_set(err, EINVAL, "HasParent is set but there is no "
                           "parent locator (MS-VHDX 2.6.2.6)");
    }
    if (s->p.has_parent &&
        !vhdx_guid_eq(&s->pl.type, &vhdx_guid_parent_vhdx)) {
        char g[39];
        vhdx_guid_format(&s->pl.type, g);
        return img_err_set(err, ENOTSUP, "Parent locator type %s is not "
                           "supported (MS-VHDX 2.6.2.6.1)", g);
    }
    return 0;
}

/* parent_linkage and parent_linkage2 (2.6.2.6.3). */
static int load_linkage(vhdx_state *s, img_err *err)
{
    static const char *const keys[2] = { "parent_linkage",
                                         "parent_linkage2" };
    s->n_linkage = 0;
    for (int i = 0; i < 2; i++) {
        const char *v = vhdx_parent_locator_get(&s->pl, keys[i]);
        if (v && vhdx_guid_parse(v, &s->linkage[s->n_linkage]) == 0) {
            s->n_linkage++;
        } else if (v || i == 0) {
            return img_err_set(err, EINVAL, "Parent locator %s is %s "
                               "(MS-VHDX 2.6.2.6.3)", keys[i],
                               v ? "not a GUID in braces" : "missing");
        }
    }
    return 0;
}

/* Table first, then the items it names, then the rules between items. */
int vhdx_metadata_load(vhdx_state *s, img_err *err)
{
    uint8_t *buf = malloc(VHDX_MT_SIZE);
    if (!buf) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = vhdx_read(s, buf, VHDX_MT_SIZE, s->meta_offset, err);
    if (r >= 0) {
        r = vhdx_meta_table_decode(buf, VHDX_MT_SIZE, s->meta_length,
                                   &s->mt, err);
    }
    free(buf);
    unsigned present = 0;
    if (r >= 0) {
        r = load_items(s, &present, err);
    }
    if (r >= 0) {
        r = items_consistent(s, present, err);
    }
    if (r >= 0 && s->p.has_parent) {
        r = load_linkage(s, err);
    }
    return r;
}

/* One metadata table entry for create. */
static void put_entry(uint8_t *buf, unsigned i, const vhdx_guid *id,
                      uint32_t off, uint32_t len, uint32_t flags)
{
    uint8_t *p = buf + VHDX_MT_HEADER_SIZE + i * VHDX_MT_ENTRY_SIZE;
    memcpy(p + VHDX_MTE_ITEM_ID, id->b, 16);
    vhdx_put32(p + VHDX_MTE_OFFSET, off);
    vhdx_put32(p + VHDX_MTE_LENGTH, len);
    vhdx_put32(p + VHDX_MTE_FLAGS, flags);
}

/* The items are packed right after the table, flagged as 2.6.2's table
 * says: all required, the virtual-disk ones with IsVirtualDisk. */
int vhdx_metadata_build(const vhdx_params *p, const uint8_t *locator,
                        size_t locator_len, uint8_t *buf, size_t len,
                        img_err *err)
{
    const uint32_t vd = VHDX_MTE_IS_VDISK | VHDX_MTE_IS_REQUIRED;
    uint32_t off = VHDX_MT_ITEM_MIN_OFFSET;
    if (off + 40 + locator_len > len) {
        return img_err_set(err, ENOSPC, "Metadata items do not fit the "
                           "metadata region");
    }
    memset(buf, 0, len);
    memcpy(buf + VHDX_MT_SIG, VHDX_MT_SIGNATURE, 8);
    vhdx_put16(buf + VHDX_MT_COUNT, locator ? 6 : 5);
    put_entry(buf, 0, &vhdx_guid_file_params, off, 8, VHDX_MTE_IS_REQUIRED);
    vhdx_put32(buf + off, p->block_size);
    vhdx_put32(buf + off + 4, p->fp_flags);
    put_entry(buf, 1, &vhdx_guid_disk_size, off + 8, 8, vd);
    vhdx_put64(buf + off + 8, p->disk_size);
    put_entry(buf, 2, &vhdx_guid_page83, off + 16, 16, vd);
    memcpy(buf + off + 16, p->disk_id.b, 16);
    put_entry(buf, 3, &vhdx_guid_logical_sector, off + 32, 4, vd);
    vhdx_put32(buf + off + 32, p->logical_sector);
    put_entry(buf, 4, &vhdx_guid_physical_sector, off + 36, 4, vd);
    vhdx_put32(buf + off + 36, p->physical_sector);
    if (locator) {
        put_entry(buf, 5, &vhdx_guid_parent_locator, off + 40,
                  (uint32_t)locator_len, VHDX_MTE_IS_REQUIRED);
        memcpy(buf + off + 40, locator, locator_len);
    }
    return 0;
}
