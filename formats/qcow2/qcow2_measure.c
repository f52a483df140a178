/* formats/qcow2/qcow2_measure.c -- the size a new qcow2 image would need
 * (qemu-img measure -O qcow2), with qemu-img 7.2's exact figures.
 *
 * "fully allocated" is the data rounded up to clusters plus all metadata
 * a fully allocated image has: header, L2 tables, L1 table (whole
 * clusters) and the refcount structures covering all of it.  "required"
 * replaces the data part by what the source really holds: every cluster
 * its block status reports as data (a range with a backing file counts
 * entirely), or all of it with falloc/full preallocation.  "bitmaps" is
 * reported for a version 3 target when the source is a qcow2 v3 image
 * (the only format here with persistent bitmaps): the clusters its
 * bitmaps would take in the new image.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "qcow2.h"

typedef struct measure_params {
    uint64_t cluster_size;
    unsigned refcount_order;
    int version;
    int extl2;
    int prealloc;
    int has_backing;
} measure_params;

static uint64_t round_up(uint64_t v, uint64_t to)
{
    return (v + to - 1) / to * to;
}

static int log2_exact(uint64_t v)
{
    if (v == 0 || (v & (v - 1))) {
        return -1;
    }
    int n = 0;
    while (v >>= 1) {
        n++;
    }
    return n;
}

/* cluster_size, extended_l2, compat and refcount_bits, with measure's
 * own wording of the errors. */
static int parse_sizes(const img_opts *o, measure_params *p, img_err *err)
{
    p->extl2 = o ? img_opts_get_bool(o, "extended_l2", 0) : 0;
    p->cluster_size = o ? img_opts_get_size(o, "cluster_size", 65536) : 65536;
    int bits = log2_exact(p->cluster_size);
    if (bits < QCOW2_MIN_CLUSTER_BITS || bits > QCOW2_MAX_CLUSTER_BITS) {
        return img_err_set(err, EINVAL,
                           "Cluster size must be a power of two "
                           "between 512 and 2048k");
    }
    if (p->extl2 && bits < QCOW2_MIN_EXTL2_CLUSTER_BITS) {
        return img_err_set(err, EINVAL,
                           "Extended L2 entries are only "
                           "supported with cluster sizes of at least 16384 "
                           "bytes");
    }
    const char *compat = o ? img_opts_value(o, "compat") : NULL;
    p->version = 3;
    if (compat && (!strcmp(compat, "0.10") || !strcmp(compat, "v2"))) {
        p->version = 2;
    } else if (compat && strcmp(compat, "1.1") && strcmp(compat, "v3")) {
        return img_err_set(err, EINVAL, "Invalid compatibility level: '%s'",
                           compat);
    }
    uint64_t rb = o ? img_opts_get_number(o, "refcount_bits", 16) : 16;
    int order = log2_exact(rb);
    if (order < 0 || order > QCOW2_MAX_REFCOUNT_ORDER) {
        return img_err_set(err, EINVAL,
                           "Refcount width must be a power of "
                           "two and may not exceed 64 bits");
    }
    if (p->version < 3 && rb != 16) {
        return img_err_set(err, EINVAL,
                           "Different refcount widths than 16 "
                           "bits require compatibility level 1.1 or above "
                           "(use compat=1.1 or greater)");
    }
    p->refcount_order = (unsigned)order;
    return 0;
}

static int parse_params(const img_opts *o, measure_params *p, img_err *err)
{
    memset(p, 0, sizeof(*p));
    int r = parse_sizes(o, p, err);
    if (r < 0) {
        return r;
    }
    const char *mode = o ? img_opts_value(o, "preallocation") : NULL;
    if (mode && img_prealloc_parse(mode, &p->prealloc, NULL) < 0) {
        return img_err_set(err, EINVAL, "invalid parameter value: %s", mode);
    }
    p->has_backing = o && img_opts_value(o, "backing_file");
    /* AES needs no room; a LUKS header we cannot size */
    const char *enc = o ? img_opts_value(o, "encrypt.format") : NULL;
    if (enc && !strcmp(enc, "luks")) {
        return img_err_set(err, ENOTSUP,
                           "LUKS encrypted qcow2 images are "
                           "not supported");
    }
    return 0;
}

/* QEMU's qcow2_calc_prealloc_size(): a fully allocated image of size
 * bytes (a whole number of clusters). */
static uint64_t prealloc_size(uint64_t size, const measure_params *p)
{
    uint64_t cs = p->cluster_size;
    uint64_t l2e = p->extl2 ? QCOW2_L2E_SIZE_EXTENDED : QCOW2_L2E_SIZE;
    uint64_t meta = cs; /* header */
    uint64_t nl2e = round_up(size / cs, cs / l2e);
    meta += nl2e * l2e;
    uint64_t nl1e = round_up(nl2e * l2e / cs, cs / QCOW2_L1E_SIZE);
    meta += nl1e * QCOW2_L1E_SIZE;
    meta += qcow2_refcount_metadata_size((meta + size) / cs, cs,
                                         p->refcount_order, 0, NULL);
    return meta + size;
}

/* Bytes of in that hold data, counted by clusters as QEMU counts them. */
static int data_bytes(img *in, uint64_t cs, uint64_t *required, img_err *err)
{
    uint64_t size = img_size(in), pnum;
    for (uint64_t off = 0; off < size; off += pnum) {
        uint64_t host;
        int depth;
        img *fi;
        int r = img_block_status_above(in, NULL, off, size - off, &pnum, &host,
                                       &depth, &fi, err);
        if (r < 0) {
            img_err_prepend(err, "Unable to get block status: ");
            return r;
        }
        if (r & IMG_BS_ZERO) {
            continue;
        }
        if ((r & (IMG_BS_DATA | IMG_BS_ALLOCATED)) ==
            (IMG_BS_DATA | IMG_BS_ALLOCATED)) {
            /* the cluster's end is counted, and QEMU adds the part of
             * the first cluster before off again */
            pnum = round_up(off + pnum, cs) - off;
            *required += off % cs + pnum;
        }
    }
    return 0;
}

/* Clusters the persistent bitmaps of a qcow2 source would take in a
 * target with clusters of cs bytes (QEMU's
 * qcow2_get_persistent_dirty_bitmap_size). */
static uint64_t bitmaps_size(img *in, uint64_t cs)
{
    const qcow2_state *s = in->state;
    const qcow2_ext *x = qcow2_bitmaps_ext(s);
    if (!x || x->len < QCOW2_BITMAPS_EXT_LEN ||
        !(s->hdr.autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;
    }
    uint64_t dsize = qcow2_be64(x->data + 8), doff = qcow2_be64(x->data + 16);
    if (dsize > QCOW2_MAX_SNAPSHOT_TABLE) {
        return 0;
    }
    uint8_t dir[24]; /* the fixed part of a directory entry */
    uint64_t total = 0, dir_bytes = 0;
    for (uint64_t p = 0; p + 24 <= dsize;) {
        if (img_file_pread(in->file, dir, sizeof(dir), doff + p, NULL) < 0) {
            return total;
        }
        unsigned gbits = dir[17];
        uint64_t name = qcow2_be16(dir + 18), extra = qcow2_be32(dir + 20);
        uint64_t bits = qcow2_bitmap_bits(img_size(in), gbits < 63 ? gbits
                                                                  : 63);
        uint64_t clusters = (bits + 7) / 8;
        clusters = clusters / cs + (clusters % cs != 0);
        total += clusters * cs + round_up(clusters * 8, cs);
        dir_bytes += round_up(24 + name, 8);
        p += round_up(24 + name + extra, 8);
    }
    return total + round_up(dir_bytes, cs);
}

/* QEMU's qcow2_measure(); sizes are rounded up to whole clusters. */
int qcow2_measure(const img_opts *opts, uint64_t size, img *in,
                  img_measure *out, img_err *err)
{
    measure_params p;
    int r = parse_params(opts, &p, err);
    if (r < 0) {
        return r;
    }
    uint64_t cs = p.cluster_size;
    uint64_t l2e = p.extl2 ? QCOW2_L2E_SIZE_EXTENDED : QCOW2_L2E_SIZE;
    uint64_t vsize = round_up(size, cs);
    uint64_t l2_tables = round_up(vsize / cs, cs / l2e) / (cs / l2e);
    if (size > INT64_MAX || l2_tables * QCOW2_L1E_SIZE > QCOW2_MAX_L1_BYTES) {
        return img_err_set(err, EFBIG,
                           "The image size is too large (try "
                           "using a larger cluster size)");
    }
    uint64_t required = 0;
    if (in) {
        vsize = round_up(img_size(in), cs);
        if (p.has_backing) {
            required = vsize; /* nothing may be shared with the backing */
        } else if ((r = data_bytes(in, cs, &required, err)) < 0) {
            return r;
        }
    }
    if (p.prealloc == IMG_PREALLOC_FULL || p.prealloc == IMG_PREALLOC_FALLOC) {
        required = vsize;
    }
    out->fully_allocated = prealloc_size(vsize, &p);
    out->required = out->fully_allocated - vsize + required;
    out->has_bitmaps = p.version >= 3 && in &&
                       img_get_driver(in) == &img_qcow2_driver &&
                       ((const qcow2_state *)in->state)->hdr.version >= 3;
    out->bitmaps = out->has_bitmaps ? bitmaps_size(in, cs) : 0;
    return 0;
}
