/* formats/qcow2/qcow2_header.c -- decoding and validating the qcow2
 * header (version 2 and 3) and its extensions.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Header", "Header extensions",
 * "String header extensions" and "Feature name table".  The header is
 * untrusted input: every count, size and offset is range-checked here
 * before anything is allocated or read because of it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* The magic (or the file) is too short or wrong. */
static int not_qcow2(img_err *err)
{
    return img_err_set(err, EINVAL, "Image is not in qcow2 format");
}

/* The version 3 fields; version 2 gets their implied values. */
static int decode_v3_fields(const uint8_t *buf, qcow2_header *h,
                            img_err *err)
{
    if (h->version == 2) {
        h->refcount_order = QCOW2_V2_REFCOUNT_ORDER;
        h->header_length = QCOW2_HDR_V2_LEN;
        return 0;
    }
    h->incompat = qcow2_be64(buf + QCOW2_HDR_INCOMPAT);
    h->compat = qcow2_be64(buf + QCOW2_HDR_COMPAT);
    h->autoclear = qcow2_be64(buf + QCOW2_HDR_AUTOCLEAR);
    h->refcount_order = qcow2_be32(buf + QCOW2_HDR_REFCOUNT_ORDER);
    h->header_length = qcow2_be32(buf + QCOW2_HDR_HEADER_LENGTH);
    if (h->header_length < QCOW2_HDR_V3_MIN_LEN) {
        return img_err_set(err, EINVAL, "qcow2 header too short");
    }
    /* Additional fields exist only below header_length; absent ones
     * read as zero (here: zlib).  The upper bound is checked against the
     * cluster size in check_geometry(). */
    if (h->header_length > QCOW2_HDR_COMPRESSION_TYPE) {
        h->compression_type = buf[QCOW2_HDR_COMPRESSION_TYPE];
    }
    if (h->refcount_order > QCOW2_MAX_REFCOUNT_ORDER) {
        return img_err_set(err, EINVAL, "Reference count entry width too "
                           "large; may not exceed 64 bits");
    }
    return 0;
}

/* The fields common to both versions (the first 72 bytes); the caller
 * guarantees the buffer holds them. */
static void decode_v2_fields(const uint8_t *buf, qcow2_header *h)
{
    h->backing_offset = qcow2_be64(buf + QCOW2_HDR_BACKING_OFFSET);
    h->backing_size = qcow2_be32(buf + QCOW2_HDR_BACKING_SIZE);
    h->cluster_bits = qcow2_be32(buf + QCOW2_HDR_CLUSTER_BITS);
    h->size = qcow2_be64(buf + QCOW2_HDR_SIZE);
    h->crypt_method = qcow2_be32(buf + QCOW2_HDR_CRYPT_METHOD);
    h->l1_size = qcow2_be32(buf + QCOW2_HDR_L1_SIZE);
    h->l1_offset = qcow2_be64(buf + QCOW2_HDR_L1_OFFSET);
    h->reftable_offset = qcow2_be64(buf + QCOW2_HDR_REFTABLE_OFFSET);
    h->reftable_clusters = qcow2_be32(buf + QCOW2_HDR_REFTABLE_CLUSTERS);
    h->nb_snapshots = qcow2_be32(buf + QCOW2_HDR_NB_SNAPSHOTS);
    h->snapshots_offset = qcow2_be64(buf + QCOW2_HDR_SNAPSHOTS_OFFSET);
}

/* Cluster size, header length and backing file name position. */
static int check_geometry(const qcow2_header *h, img_err *err)
{
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        return img_err_set(err, EINVAL, "Unsupported cluster size: 2^%"
                           PRIu32, h->cluster_bits);
    }
    uint64_t cluster_size = 1ull << h->cluster_bits;
    if (h->header_length > cluster_size) {
        return img_err_set(err, EINVAL, "qcow2 header exceeds cluster size");
    }
    if (h->backing_offset == 0) {
        return 0; /* backing_size is undefined without a backing file */
    }
    /* The name must sit in the first cluster (QEMU always puts it there),
     * which also bounds what open reads for it. */
    if (h->backing_size > QCOW2_MAX_BACKING_NAME) {
        return img_err_set(err, EINVAL, "Backing file name too long");
    }
    if (h->backing_offset > cluster_size ||
        h->backing_size > cluster_size - h->backing_offset) {
        return img_err_set(err, EINVAL, "Invalid backing file offset");
    }
    return 0;
}

/* Encryption, compression type and extended L2 consistency. */
static int check_modes(const qcow2_header *h, img_err *err)
{
    if (h->crypt_method > QCOW2_CRYPT_LUKS) {
        return img_err_set(err, EINVAL, "Unsupported encryption method: %"
                           PRIu32, h->crypt_method);
    }
    /* A non-zlib type needs incompatible bit 3, and zlib must not set it,
     * so that old readers refuse what they cannot decompress. */
    int bit = (h->incompat & QCOW2_INCOMPAT_COMPRESSION) != 0;
    if (h->compression_type > QCOW2_COMPRESSION_ZSTD) {
        return img_err_set(err, ENOTSUP, "Unknown compression type %u",
                           h->compression_type);
    }
    if (bit && h->compression_type == QCOW2_COMPRESSION_ZLIB) {
        return img_err_set(err, EINVAL, "Compression type incompatible "
                           "feature bit must not be set if compression type "
                           "is zlib");
    }
    if (!bit && h->compression_type != QCOW2_COMPRESSION_ZLIB) {
        return img_err_set(err, EINVAL, "Compression type incompatible "
                           "feature bit must be set if compression type is "
                           "not zlib");
    }
#ifndef IMG_HAVE_ZSTD
    if (h->compression_type == QCOW2_COMPRESSION_ZSTD) {
        return img_err_set(err, ENOTSUP, "Compression type 'zstd' is not "
                           "supported by this build");
    }
#endif
    if ((h->incompat & QCOW2_INCOMPAT_EXTL2) &&
        h->cluster_bits < QCOW2_MIN_EXTL2_CLUSTER_BITS) {
        return img_err_set(err, EINVAL, "Extended L2 entries need a "
                           "cluster size of at least 16 KiB");
    }
    return 0;
}

/* One L1 entry maps one L2 table: 2^l2_bits clusters. */
uint64_t qcow2_l1_entries_for(unsigned cluster_bits, unsigned l2_bits,
                              uint64_t size)
{
    unsigned shift = cluster_bits + l2_bits;
    uint64_t mask = (1ull << shift) - 1;
    return (size >> shift) + ((size & mask) != 0);
}

/* Virtual size against the active L1 table.  The L1 table is capped
 * at 32 MiB (QEMU's limit), which also caps the virtual size (2^61
 * bytes with 2 MiB clusters); it may be longer than the size needs
 * (VM state of snapshots lives past the disk), never shorter. */
static int check_l1(const qcow2_header *h, img_err *err)
{
    unsigned l2_bits = h->cluster_bits -
                       ((h->incompat & QCOW2_INCOMPAT_EXTL2) ? 4 : 3);
    uint64_t max_entries = QCOW2_MAX_L1_BYTES / QCOW2_L1E_SIZE;
    if (h->size > INT64_MAX ||
        qcow2_l1_entries_for(h->cluster_bits, l2_bits, h->size) >
            max_entries) {
        return img_err_set(err, EFBIG, "Image is too big");
    }
    if (h->l1_size > max_entries) {
        return img_err_set(err, EFBIG, "Active L1 table too large");
    }
    if (h->l1_size <
        qcow2_l1_entries_for(h->cluster_bits, l2_bits, h->size)) {
        return img_err_set(err, EINVAL, "L1 table is too small");
    }
    if (h->l1_size > 0 &&
        (h->l1_offset & ((1ull << h->cluster_bits) - 1))) {
        return img_err_set(err, EINVAL, "Invalid L1 table offset");
    }
    return 0;
}

/* Refcount table and snapshot table positions and sizes.  Offsets must
 * be cluster aligned and non-zero (cluster 0 is the header); whether
 * they lie inside the file is checked later, against its size. */
static int check_tables(const qcow2_header *h, img_err *err)
{
    uint64_t cluster_mask = (1ull << h->cluster_bits) - 1;
    if (h->reftable_clusters == 0) {
        return img_err_set(err, EINVAL, "Image does not contain a "
                           "reference count table");
    }
    if ((uint64_t)h->reftable_clusters << h->cluster_bits >
        QCOW2_MAX_REFTABLE_BYTES) {
        return img_err_set(err, EFBIG, "Reference count table too large");
    }
    if (h->reftable_offset == 0 || (h->reftable_offset & cluster_mask)) {
        return img_err_set(err, EINVAL, "Invalid reference count table "
                           "offset");
    }
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        return img_err_set(err, EFBIG, "Too many snapshots");
    }
    if (h->nb_snapshots > 0 &&
        (h->snapshots_offset == 0 || (h->snapshots_offset & cluster_mask))) {
        return img_err_set(err, EINVAL, "Invalid snapshot table offset");
    }
    return 0;
}

int qcow2_header_decode(const uint8_t *buf, size_t len, qcow2_header *h,
                        img_err *err)
{
    memset(h, 0, sizeof(*h));
    /* The caller passes at least QCOW2_HDR_V3_LEN bytes (zero-filled past
     * the end of a short file), so every fixed field can be read. */
    if (len < QCOW2_HDR_V3_LEN || qcow2_be32(buf) != QCOW2_MAGIC) {
        return not_qcow2(err);
    }
    h->version = qcow2_be32(buf + QCOW2_HDR_VERSION);
    if (h->version != 2 && h->version != 3) {
        return img_err_set(err, ENOTSUP, "Unsupported qcow2 version %" PRIu32,
                           h->version);
    }
    decode_v2_fields(buf, h);
    int r = decode_v3_fields(buf, h, err);
    /* Order matters: later checks rely on cluster_bits being sane. */
    if (r >= 0) {
        r = check_geometry(h, err);
    }
    if (r >= 0) {
        r = check_modes(h, err);
    }
    if (r >= 0) {
        r = check_l1(h, err);
    }
    if (r >= 0) {
        r = check_tables(h, err);
    }
    return r;
}

/* True when [off, off + len) lies within size bytes. */
static int range_inside(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

int qcow2_header_check_layout(const qcow2_header *h, uint64_t file_size,
                              img_err *err)
{
    /* Tables that reach past the end of the file would read as zeros;
     * refusing them also bounds allocations by the file's real size. */
    uint64_t l1_bytes = (uint64_t)h->l1_size * QCOW2_L1E_SIZE;
    if (h->l1_size > 0 && !range_inside(h->l1_offset, l1_bytes, file_size)) {
        return img_err_set(err, EINVAL, "Active L1 table at offset %#"
                           PRIx64 " is beyond the end of the file",
                           h->l1_offset);
    }
    uint64_t rt_bytes = (uint64_t)h->reftable_clusters << h->cluster_bits;
    if (!range_inside(h->reftable_offset, rt_bytes, file_size)) {
        return img_err_set(err, EINVAL, "Reference count table at offset %#"
                           PRIx64 " is beyond the end of the file",
                           h->reftable_offset);
    }
    if (h->nb_snapshots > 0 && h->snapshots_offset >= file_size) {
        return img_err_set(err, EINVAL, "Snapshot table at offset %#" PRIx64
                           " is beyond the end of the file",
                           h->snapshots_offset);
    }
    return 0;
}

/* A string extension; a later copy of the same type replaces it. */
static int set_string(char **dst, const uint8_t *data, uint32_t len,
                      img_err *err)
{
    char *s = strndup((const char *)data, len);
    if (!s) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    free(*dst);
    *dst = s;
    return 0;
}

/* The feature name table: 48-byte entries (a trailing partial entry is
 * ignored).  Names are only used in error messages. */
static int decode_feature_table(const uint8_t *data, uint32_t len,
                                qcow2_meta *m, img_err *err)
{
    size_t n = len / QCOW2_FEATURE_ENTRY_LEN; /* < 2 MiB / 48 */
    qcow2_feature_name *t = calloc(n ? n : 1, sizeof(*t));
    if (!t) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = data + i * QCOW2_FEATURE_ENTRY_LEN;
        t[i].type = e[0];
        t[i].bit = e[1];
        memcpy(t[i].name, e + 2, QCOW2_FEATURE_NAME_LEN);
        t[i].name[QCOW2_FEATURE_NAME_LEN] = '\0';
    }
    free(m->features);
    m->features = t;
    m->nfeatures = n;
    return 0;
}

int qcow2_meta_keep_ext(qcow2_meta *m, uint32_t type, const uint8_t *data,
                        uint32_t len, img_err *err)
{
    qcow2_ext *o = realloc(m->others, (m->nothers + 1) * sizeof(*o));
    if (!o) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    m->others = o;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    memcpy(copy, data, len);
    o[m->nothers++] = (qcow2_ext){ .type = type, .len = len, .data = copy };
    return 0;
}

static int decode_one_ext(uint32_t type, const uint8_t *data, uint32_t len,
                          qcow2_meta *m, img_err *err)
{
    /* Each type should appear once; a repeated one replaces (strings,
     * table) or adds to (others) what came before. */
    switch (type) {
    case QCOW2_EXT_BACKING_FORMAT:
        if (len > QCOW2_MAX_FORMAT_NAME) {
            return img_err_set(err, EINVAL, "Backing file format name too "
                               "long");
        }
        return set_string(&m->backing_fmt, data, len, err);
    case QCOW2_EXT_FEATURE_TABLE:
        return decode_feature_table(data, len, m, err);
    case QCOW2_EXT_DATA_FILE:
        return set_string(&m->data_file, data, len, err);
    case QCOW2_EXT_BITMAPS:
        /* Not interpreted yet; kept so that a writer can clear the
         * autoclear bit and preserve the directory. */
        m->has_bitmaps = 1;
        return qcow2_meta_keep_ext(m, type, data, len, err);
    default:
        return qcow2_meta_keep_ext(m, type, data, len, err);
    }
}

/* Walks the extensions in buf[start, end). */
static int decode_exts(const uint8_t *buf, uint64_t start, uint64_t end,
                       qcow2_meta *m, img_err *err)
{
    uint64_t off = start;
    /* A tail shorter than an extension header ends the area. */
    while (off < end && end - off >= QCOW2_EXT_HDR_LEN) {
        uint32_t type = qcow2_be32(buf + off);
        uint32_t len = qcow2_be32(buf + off + 4);
        off += QCOW2_EXT_HDR_LEN;
        if (len > end - off) {
            return img_err_set(err, EINVAL, "Header extension too large");
        }
        if (type == QCOW2_EXT_END) {
            break;
        }
        /* len <= end - off, so the data lies inside buf. */
        int r = decode_one_ext(type, buf + off, len, m, err);
        if (r < 0) {
            img_err_prepend(err, "Header extension %#" PRIx32 ": ", type);
            return r;
        }
        off += ((uint64_t)len + 7) & ~7ull;
    }
    m->ext_end = off < end ? off : end;
    return 0;
}

int qcow2_meta_decode(const uint8_t *buf, size_t len, const qcow2_header *h,
                      qcow2_meta *m, img_err *err)
{
    memset(m, 0, sizeof(*m));
    /* check_geometry() put the header and backing name inside len.  The
     * extensions end where the backing file name starts (or at the end
     * of the first cluster). */
    uint64_t end = h->backing_offset ? h->backing_offset : len;
    int r = decode_exts(buf, h->header_length, end, m, err);
    if (r >= 0 && h->backing_offset && h->backing_size > 0) {
        r = set_string(&m->backing_name, buf + h->backing_offset,
                       h->backing_size, err);
    }
    if (r < 0) {
        qcow2_meta_clear(m);
    }
    return r;
}

void qcow2_meta_clear(qcow2_meta *m)
{
    free(m->backing_name);
    free(m->backing_fmt);
    free(m->data_file);
    free(m->features);
    for (size_t i = 0; i < m->nothers; i++) {
        free(m->others[i].data);
    }
    free(m->others);
    memset(m, 0, sizeof(*m));
}

/* Appends s to out (size cap) at *pos, with ", " between items. */
static void append_item(char *out, size_t cap, size_t *pos, const char *s)
{
    if (*pos >= cap) {
        return;
    }
    int n = snprintf(out + *pos, cap - *pos, "%s%s", *pos ? ", " : "", s);
    if (n > 0) {
        *pos += (size_t)n;
    }
}

int qcow2_check_features(const qcow2_header *h, const qcow2_meta *m,
                         img_err *err)
{
    uint64_t mask = h->incompat & ~QCOW2_INCOMPAT_KNOWN;
    if (!mask) {
        return 0;
    }
    /* Named bits first (from the image's own table), then the rest as a
     * hexadecimal mask, the way qemu-img words it. */
    char list[400] = "";
    size_t pos = 0;
    /* Like QEMU, the table ends at the first entry without a name. */
    for (size_t i = 0; i < m->nfeatures && m->features[i].name[0]; i++) {
        const qcow2_feature_name *f = &m->features[i];
        if (f->type == QCOW2_FEATURE_TYPE_INCOMPAT && f->bit < 64 &&
            (mask & (1ull << f->bit))) {
            append_item(list, sizeof(list), &pos, f->name);
            mask &= ~(1ull << f->bit);
        }
    }
    if (mask) {
        char unknown[64];
        snprintf(unknown, sizeof(unknown), "Unknown incompatible feature: %"
                 PRIx64, mask);
        append_item(list, sizeof(list), &pos, unknown);
    }
    return img_err_set(err, ENOTSUP, "Unsupported qcow2 feature(s): %s",
                       list);
}
