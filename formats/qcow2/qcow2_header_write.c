/* formats/qcow2/qcow2_header_write.c -- encoding the first cluster: the
 * header, the header extensions and the backing file name.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Header", "Header extensions" and
 * "Feature name table".  The layout is qemu-img's, so that a new image is
 * byte for byte what qemu-img makes: a version 3 header of 112 bytes, then
 * the backing format, the external data file name, the encryption header
 * pointer, the feature name table (version 3, clusters larger than 4 KiB),
 * the bitmaps extension, any
 * extension we do not know (kept verbatim), the end marker, and the
 * backing file name right after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* The features we can name, in qemu-img's order. */
static const struct {
    uint8_t type;
    uint8_t bit;
    const char *name;
} feature_names[] = {
    { QCOW2_FEATURE_TYPE_INCOMPAT, 0, "dirty bit" },
    { QCOW2_FEATURE_TYPE_INCOMPAT, 1, "corrupt bit" },
    { QCOW2_FEATURE_TYPE_INCOMPAT, 2, "external data file" },
    { QCOW2_FEATURE_TYPE_INCOMPAT, 3, "compression type" },
    { QCOW2_FEATURE_TYPE_INCOMPAT, 4, "extended L2 entries" },
    { QCOW2_FEATURE_TYPE_COMPAT, 0, "lazy refcounts" },
    { QCOW2_FEATURE_TYPE_AUTOCLEAR, 0, "bitmaps" },
    { QCOW2_FEATURE_TYPE_AUTOCLEAR, 1, "raw external data" },
};

#define N_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

/* Writing position inside the first cluster. */
typedef struct hdr_out {
    uint8_t *buf;
    uint64_t cap;
    uint64_t pos;
    int overflow;
} hdr_out;

/* Appends an extension (type, length, data padded to 8). */
static void put_ext(hdr_out *o, uint32_t type, const void *data, uint32_t len)
{
    uint64_t padded = ((uint64_t)len + 7) & ~7ull;
    if (o->pos + QCOW2_EXT_HDR_LEN + padded > o->cap) {
        o->overflow = 1;
        return;
    }
    qcow2_put_be32(o->buf + o->pos, type);
    qcow2_put_be32(o->buf + o->pos + 4, len);
    if (len) {
        memcpy(o->buf + o->pos + QCOW2_EXT_HDR_LEN, data, len);
    }
    o->pos += QCOW2_EXT_HDR_LEN + padded;
}

static void put_feature_table(hdr_out *o)
{
    uint8_t t[N_FEATURES * QCOW2_FEATURE_ENTRY_LEN];
    memset(t, 0, sizeof(t));
    for (size_t i = 0; i < N_FEATURES; i++) {
        uint8_t *e = t + i * QCOW2_FEATURE_ENTRY_LEN;
        e[0] = feature_names[i].type;
        e[1] = feature_names[i].bit;
        memcpy(e + 2, feature_names[i].name, strlen(feature_names[i].name));
    }
    put_ext(o, QCOW2_EXT_FEATURE_TABLE, t, sizeof(t));
}

/* Kept extensions of one kind: crypto, bitmaps, or (any = 1) the rest. */
static void put_kept(hdr_out *o, const qcow2_meta *m, uint32_t type, int rest)
{
    for (size_t i = 0; i < m->nothers; i++) {
        const qcow2_ext *x = &m->others[i];
        int known = x->type == QCOW2_EXT_CRYPTO || x->type == QCOW2_EXT_BITMAPS;
        if (rest ? !known : x->type == type) {
            put_ext(o, x->type, x->data, x->len);
        }
    }
}

/* The fixed fields (backing name position filled in later). */
static uint64_t put_fixed(const qcow2_header *h, uint8_t *b)
{
    qcow2_put_be32(b + QCOW2_HDR_MAGIC, QCOW2_MAGIC);
    qcow2_put_be32(b + QCOW2_HDR_VERSION, h->version);
    qcow2_put_be32(b + QCOW2_HDR_CLUSTER_BITS, h->cluster_bits);
    qcow2_put_be64(b + QCOW2_HDR_SIZE, h->size);
    qcow2_put_be32(b + QCOW2_HDR_CRYPT_METHOD, h->crypt_method);
    qcow2_put_be32(b + QCOW2_HDR_L1_SIZE, h->l1_size);
    qcow2_put_be64(b + QCOW2_HDR_L1_OFFSET, h->l1_offset);
    qcow2_put_be64(b + QCOW2_HDR_REFTABLE_OFFSET, h->reftable_offset);
    qcow2_put_be32(b + QCOW2_HDR_REFTABLE_CLUSTERS, h->reftable_clusters);
    qcow2_put_be32(b + QCOW2_HDR_NB_SNAPSHOTS, h->nb_snapshots);
    qcow2_put_be64(b + QCOW2_HDR_SNAPSHOTS_OFFSET, h->snapshots_offset);
    if (h->version < 3) {
        return QCOW2_HDR_V2_LEN;
    }
    qcow2_put_be64(b + QCOW2_HDR_INCOMPAT, h->incompat);
    qcow2_put_be64(b + QCOW2_HDR_COMPAT, h->compat);
    qcow2_put_be64(b + QCOW2_HDR_AUTOCLEAR, h->autoclear);
    qcow2_put_be32(b + QCOW2_HDR_REFCOUNT_ORDER, h->refcount_order);
    qcow2_put_be32(b + QCOW2_HDR_HEADER_LENGTH, QCOW2_HDR_V3_LEN);
    b[QCOW2_HDR_COMPRESSION_TYPE] = h->compression_type;
    return QCOW2_HDR_V3_LEN;
}

int qcow2_header_encode(const qcow2_state *s, const char *backing_name,
                        const char *backing_fmt, uint8_t *buf, img_err *err)
{
    const qcow2_meta *m = &s->meta;
    memset(buf, 0, s->cluster_size);
    hdr_out o = { buf, s->cluster_size, put_fixed(&s->hdr, buf), 0 };
    if (backing_fmt) {
        put_ext(&o, QCOW2_EXT_BACKING_FORMAT, backing_fmt,
                (uint32_t)strlen(backing_fmt));
    }
    if (m->data_file) {
        put_ext(&o, QCOW2_EXT_DATA_FILE, m->data_file,
                (uint32_t)strlen(m->data_file));
    }
    put_kept(&o, m, QCOW2_EXT_CRYPTO, 0);
    /* qemu-img leaves the table out with clusters of 4 KiB or less, where
     * the backing file name needs the room */
    if (s->hdr.version >= 3 && s->cluster_size > 4096) {
        put_feature_table(&o);
    }
    put_kept(&o, m, QCOW2_EXT_BITMAPS, 0);
    put_kept(&o, m, 0, 1);
    put_ext(&o, QCOW2_EXT_END, NULL, 0);
    size_t blen = backing_name ? strlen(backing_name) : 0;
    if (o.overflow || blen > QCOW2_MAX_BACKING_NAME || o.pos + blen > o.cap) {
        return img_err_set(err, ENOSPC,
                           "Header extensions and the backing "
                           "file name do not fit in the first cluster");
    }
    if (backing_name) {
        memcpy(buf + o.pos, backing_name, blen);
        qcow2_put_be64(buf + QCOW2_HDR_BACKING_OFFSET, o.pos);
        qcow2_put_be32(buf + QCOW2_HDR_BACKING_SIZE, (uint32_t)blen);
    }
    return 0;
}

int qcow2_header_rewrite(qcow2_state *s, img_file *file,
                         const char *backing_name, const char *backing_fmt,
                         img_err *err)
{
    uint8_t *buf = malloc(s->cluster_size);
    if (!buf) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = qcow2_header_encode(s, backing_name, backing_fmt, buf, err);
    if (r >= 0) {
        r = qcow2_header_write_field(s, file, 0, buf, s->cluster_size, err);
    }
    free(buf);
    return r;
}
