/* formats/qcow2/qcow2_downgrade.c -- amend to compat=0.10: what version 2
 * cannot express is refused, and zero clusters are turned into clusters
 * that version 2 reads the same.
 *
 * Spec: QEMU docs/interop/qcow2.txt ("Standard Cluster Descriptor": the
 * zero flag is version 3 only).  As QEMU's qcow2_expand_zero_clusters():
 * without a backing file, a zero cluster that has no host cluster simply
 * becomes unallocated (it reads as zeros anyway); with one, it gets a
 * new host cluster filled with zeros; a preallocated zero cluster keeps
 * its host cluster, which is filled with zeros.  The active L1 table is
 * done first (through the writer's copy-on-write, so tables shared with
 * snapshots are copied), then every snapshot's L1 table, whose tables
 * are changed in place.  A new cluster in a table that several snapshots
 * share gets that many references, and the COPIED flag only when the
 * count is one.
 *
 * Crash safety: the zeros reach the file before the tables that point
 * at them (qcow2_data_write and the metadata write-back order); the
 * version field changes last, after everything is flushed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* The work to report: L1 entries visited of all L1 tables. */
typedef struct expand_ctx {
    img *im;
    uint8_t *zeros;             /* one cluster of zeros */
    uint64_t visited, total;    /* L1 entries */
    qcow2_amend_progress *p;
} expand_ctx;

static int is_zero_entry(uint64_t e)
{
    return !(e & QCOW2_OFLAG_COMPRESSED) && (e & QCOW2_OFLAG_ZERO);
}

/* Whether any entry of the table is a zero cluster. */
static int table_has_zeroes(const qcow2_state *s, const uint8_t *t)
{
    for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
        if (is_zero_entry(qcow2_l2e(s, t, j))) {
            return 1;
        }
    }
    return 0;
}

/* Fills the host cluster at host with zeros (data before references). */
static int fill_zeros(expand_ctx *c, uint64_t host, img_err *err)
{
    qcow2_state *s = c->im->state;
    int r = qcow2_overlap_check(s, c->im->file, host, s->cluster_size, err);
    return r < 0 ? r : qcow2_data_write(s, c->zeros, s->cluster_size, host,
                                        err);
}

/* A new zero-filled cluster referenced refs times. */
static int new_zero_cluster(expand_ctx *c, uint64_t refs, uint64_t *host,
                            img_err *err)
{
    qcow2_state *s = c->im->state;
    int r = qcow2_alloc_clusters(s, c->im->file, s->cluster_size, host, err);
    if (r >= 0 && refs > 1) {
        r = qcow2_update_refcount(s, c->im->file, *host, s->cluster_size,
                                  refs - 1, 0, 0, err);
    }
    if (r >= 0) {
        r = fill_zeros(c, *host, err);
    }
    return r;
}

/* The replacement for zero entry e of a table referenced l2_refs times;
 * sets *ne. */
static int expand_entry(expand_ctx *c, uint64_t e, uint64_t l2_refs,
                        uint64_t *ne, img_err *err)
{
    qcow2_state *s = c->im->state;
    uint64_t host = e & QCOW2_L2E_OFFSET_MASK;
    int r = 0;
    if (!host && !c->im->backing) {
        *ne = 0; /* unallocated reads as zeros too */
        return 0;
    }
    if (!host) {
        r = new_zero_cluster(c, l2_refs, &host, err);
    } else if (qcow2_cluster_offset_in(s, host)) {
        return qcow2_mark_corrupt(s, c->im->file, err, "Cluster allocation "
                                  "offset %#" PRIx64 " unaligned", host);
    } else {
        r = fill_zeros(c, host, err);
    }
    uint64_t refs = l2_refs;
    if (r >= 0 && (e & QCOW2_L2E_OFFSET_MASK)) {
        r = qcow2_get_refcount(s, c->im->file, host >> s->cluster_bits,
                               &refs, err);
    }
    *ne = host | (refs == 1 ? QCOW2_OFLAG_COPIED : 0);
    return r;
}

/* Expands every zero entry of a cached table. */
static int expand_table(expand_ctx *c, qcow2_l2_slot *slot, uint64_t l2_refs,
                        img_err *err)
{
    qcow2_state *s = c->im->state;
    for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
        uint64_t e = qcow2_l2e(s, slot->table, j), ne = 0;
        if (!is_zero_entry(e)) {
            continue;
        }
        int r = expand_entry(c, e, l2_refs, &ne, err);
        if (r < 0) {
            return r;
        }
        qcow2_set_l2e(s, slot->table, j, ne, 0);
        slot->dirty = 1;
    }
    return 0;
}

static void visited_one(expand_ctx *c)
{
    c->visited++;
    qcow2_amend_progress_report(c->p, c->visited, c->total);
}

/* Checks an L2 table offset taken from an L1 table. */
static int check_l2_offset(qcow2_state *s, img_file *file, uint64_t l2,
                           uint64_t idx, img_err *err)
{
    if (qcow2_cluster_offset_in(s, l2) || l2 >= QCOW2_MAX_HOST_OFFSET) {
        return qcow2_mark_corrupt(s, file, err, "L2 table offset %#" PRIx64
                                  " unaligned (L1 index: %#" PRIx64 ")",
                                  l2, idx);
    }
    return 0;
}

/* The active tables, through the writer (copied when shared). */
static int expand_active(expand_ctx *c, img_err *err)
{
    img *im = c->im;
    qcow2_state *s = im->state;
    for (uint64_t i = 0; i < s->l1_loaded; i++) {
        uint64_t l2 = s->l1[i] & QCOW2_L1E_OFFSET_MASK;
        qcow2_l2_slot *slot;
        int r = l2 ? check_l2_offset(s, im->file, l2, i, err) : 0;
        if (r >= 0 && l2) {
            r = qcow2_l2_load(s, im->file, l2, &slot, err);
        }
        if (r >= 0 && l2 && table_has_zeroes(s, slot->table)) {
            uint64_t guest = i << (s->cluster_bits + s->l2_bits);
            r = qcow2_l2_for_write(im, guest, &slot, err);
            if (r >= 0) {
                r = expand_table(c, slot, 1, err);
                qcow2_l2_unpin(slot);
            }
        }
        if (r < 0) {
            return r;
        }
        visited_one(c);
    }
    return qcow2_meta_flush(s, im->file, err);
}

/* Reads snapshot sn's L1 table (bounded) into *out (host order). */
static int load_snapshot_l1(qcow2_state *s, img_file *file,
                            const qcow2_snapshot *sn, uint64_t **out,
                            img_err *err)
{
    uint64_t bytes = (uint64_t)sn->l1_size * QCOW2_L1E_SIZE;
    if (bytes > QCOW2_MAX_L1_BYTES || qcow2_cluster_offset_in(s,
        sn->l1_offset) || sn->l1_offset + bytes > s->file_size) {
        return img_err_set(err, EINVAL, "Snapshot L1 table is invalid");
    }
    uint8_t *raw = malloc(bytes ? bytes : 1);
    uint64_t *l1 = calloc(sn->l1_size ? sn->l1_size : 1, sizeof(*l1));
    int r = raw && l1 ? img_file_pread(file, raw, bytes, sn->l1_offset, err)
                      : img_err_set(err, ENOMEM, "Out of memory");
    for (uint32_t i = 0; r >= 0 && i < sn->l1_size; i++) {
        l1[i] = qcow2_be64(raw + (uint64_t)i * QCOW2_L1E_SIZE);
    }
    free(raw);
    if (r < 0) {
        free(l1);
        return r;
    }
    *out = l1;
    return 0;
}

/* A snapshot's tables, changed in place. */
static int expand_inactive(expand_ctx *c, const qcow2_snapshot *sn,
                           img_err *err)
{
    qcow2_state *s = c->im->state;
    img_file *file = c->im->file;
    uint64_t *l1 = NULL;
    int r = load_snapshot_l1(s, file, sn, &l1, err);
    for (uint32_t i = 0; r >= 0 && i < sn->l1_size; i++) {
        uint64_t l2 = l1[i] & QCOW2_L1E_OFFSET_MASK, refs = 1;
        qcow2_l2_slot *slot;
        if (l2) {
            r = check_l2_offset(s, file, l2, i, err);
            if (r >= 0) {
                r = qcow2_get_refcount(s, file, l2 >> s->cluster_bits, &refs,
                                       err);
            }
            if (r >= 0) {
                r = qcow2_l2_load(s, file, l2, &slot, err);
            }
            if (r >= 0) {
                r = expand_table(c, slot, refs, err);
            }
        }
        if (r >= 0) {
            visited_one(c);
        }
    }
    free(l1);
    return r < 0 ? r : qcow2_meta_flush(s, file, err);
}

/* All zero clusters of the active and the snapshot tables. */
static int expand_zero_clusters(img *im, qcow2_amend_progress *p,
                                img_err *err)
{
    qcow2_state *s = im->state;
    expand_ctx c = { .im = im, .p = p, .total = s->l1_loaded };
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        c.total += s->snapshots[i].l1_size;
    }
    c.zeros = calloc(1, s->cluster_size);
    if (!c.zeros) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = expand_active(&c, err);
    for (uint32_t i = 0; r >= 0 && i < s->nb_snapshots; i++) {
        r = expand_inactive(&c, &s->snapshots[i], err);
    }
    free(c.zeros);
    return r;
}

/* Whether the active tables map any compressed cluster. */
static int has_compressed(qcow2_state *s, img_file *file, img_err *err)
{
    for (uint64_t i = 0; i < s->l1_loaded; i++) {
        uint64_t l2 = s->l1[i] & QCOW2_L1E_OFFSET_MASK;
        qcow2_l2_slot *slot;
        if (!l2) {
            continue;
        }
        int r = check_l2_offset(s, file, l2, i, err);
        if (r >= 0) {
            r = qcow2_l2_load(s, file, l2, &slot, err);
        }
        if (r < 0) {
            return r;
        }
        for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
            if (qcow2_l2e(s, slot->table, j) & QCOW2_OFLAG_COMPRESSED) {
                return 1;
            }
        }
    }
    return 0;
}

/* What version 2 cannot hold at all (QEMU's checks and messages). */
static int check_downgradable(const img *im, img_err *err)
{
    const qcow2_state *s = im->state;
    if (s->hdr.refcount_order != QCOW2_V2_REFCOUNT_ORDER) {
        return img_err_set(err, ENOTSUP, "compat=0.10 requires "
                           "refcount_bits=16");
    }
    if (s->data_file_used) {
        return img_err_set(err, ENOTSUP, "Cannot downgrade an image with a "
                           "data file");
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (s->snapshots[i].vm_state_size > UINT32_MAX ||
            s->snapshots[i].disk_size != im->size) {
            return img_err_set(err, ENOTSUP, "Internal snapshots prevent "
                               "downgrade of image");
        }
    }
    return 0;
}

/* zstd is the only incompatible feature that can go: when no cluster
 * is compressed, the type falls back to zlib. */
static int drop_zstd(qcow2_state *s, img_file *file, img_err *err)
{
    if (!(s->hdr.incompat & QCOW2_INCOMPAT_COMPRESSION)) {
        return 0;
    }
    int r = has_compressed(s, file, err);
    if (r < 0) {
        return img_err_set(err, EINVAL, "Failed to check block status");
    }
    if (r) {
        return img_err_set(err, ENOTSUP, "Cannot downgrade an image with "
                           "zstd compression type and existing compressed "
                           "clusters");
    }
    s->hdr.incompat &= ~QCOW2_INCOMPAT_COMPRESSION;
    s->hdr.compression_type = QCOW2_COMPRESSION_ZLIB;
    return 0;
}

/* The version field last; on failure the state says version 3 again. */
static int write_v2_header(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    int r = qcow2_meta_flush(s, im->file, err);
    if (r >= 0) {
        s->hdr.version = 2;
        s->hdr.header_length = QCOW2_HDR_V2_LEN;
        r = qcow2_header_rewrite(s, im->file, im->backing_name,
                                 im->backing_fmt, err);
    }
    if (r < 0) {
        s->hdr.version = 3;
        s->hdr.header_length = QCOW2_HDR_V3_LEN;
        img_err_prepend(err, "Failed to update the image header: ");
    }
    return r;
}

int qcow2_downgrade(img *im, qcow2_amend_progress *p, img_err *err)
{
    qcow2_state *s = im->state;
    int r = check_downgradable(im, err);
    if (r >= 0 && (s->hdr.incompat & QCOW2_INCOMPAT_DIRTY)) {
        r = qcow2_mark_clean(s, im->file, err);
        if (r < 0) {
            img_err_prepend(err, "Failed to make the image clean: ");
        }
    }
    uint64_t left = s->hdr.incompat & ~QCOW2_INCOMPAT_COMPRESSION;
    if (r >= 0 && left) {
        r = img_err_set(err, ENOTSUP, "Cannot downgrade an image with "
                        "incompatible features %#" PRIx64 " set", left);
    }
    if (r < 0) {
        return r;
    }
    /* compatible and autoclear bits can simply go; no more dirty bit */
    s->hdr.compat = 0;
    s->hdr.autoclear = 0;
    s->lazy = 0;
    r = qcow2_prepare_write(s, im->file, err);
    if (r >= 0) {
        r = expand_zero_clusters(im, p, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Failed to turn zero into data clusters: ");
        return r;
    }
    r = drop_zstd(s, im->file, err);
    return r < 0 ? r : write_v2_header(im, err);
}
