/* formats/qcow2/qcow2_backing.c -- the hooks of "qemu-img rebase" and
 * "qemu-img commit": a new backing file reference, and emptying the
 * image once its data is committed.
 *
 * Spec: QEMU docs/interop/qcow2.txt ("Header": backing_file_offset/size,
 * "Header extensions": backing file format name).  Changing the backing
 * file rewrites the first cluster (QEMU's qcow2_change_backing_file).
 *
 * Emptying follows QEMU's qcow2_make_empty(): a version 3 image without
 * snapshots, bitmaps, encryption or data file whose L1 table fits is
 * reset to the layout of a new image -- header, refcount table, one
 * refcount block, L1 table, nothing else -- under the dirty bit (a crash
 * in between leaves an image whose refcounts are rebuilt on the next
 * open), and the file is cut after it.  Anything else has each cluster
 * dropped so that it reads from the backing file again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

int qcow2_change_backing(img *im, const char *name, const char *fmt,
                         img_err *err)
{
    qcow2_state *s = im->state;
    /* a raw data file alone must describe the disk */
    if (name && (s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
        return img_err_set(err, EINVAL, "Invalid argument");
    }
    if (name && strlen(name) > QCOW2_MAX_BACKING_NAME) {
        return img_err_set(err, EINVAL, "Invalid argument");
    }
    int r = qcow2_meta_flush(s, im->file, err);
    if (r >= 0) {
        r = qcow2_header_rewrite(s, im->file, name, name ? fmt : NULL, err);
    }
    if (r == -ENOSPC) {
        return img_err_set(err, ENOSPC, "No space left in the file header");
    }
    return r;
}

/* ---- emptying ----------------------------------------------------------- */

/* Drops one entry's host space (the table no longer points at it). */
static int drop_entry(qcow2_state *s, img_file *file, uint64_t e,
                      img_err *err)
{
    if (e & QCOW2_OFLAG_COMPRESSED) {
        uint64_t coff, csize;
        qcow2_compressed_range(s, e, &coff, &csize);
        return qcow2_defer_free(s, file, coff, csize, 1, err);
    }
    uint64_t host = e & QCOW2_L2E_OFFSET_MASK;
    if (!host || s->data_file_used) {
        return 0;
    }
    return qcow2_defer_free(s, file, host, s->cluster_size, 1, err);
}

/* Every entry of the table mapping guest offset off becomes unallocated. */
static int empty_table(img *im, uint64_t off, img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_l2_slot *slot;
    int r = qcow2_l2_for_write(im, off, &slot, err);
    if (r < 0) {
        return r;
    }
    for (uint64_t j = 0; r >= 0 && j < (1ull << s->l2_bits); j++) {
        uint64_t e = qcow2_l2e(s, slot->table, j);
        if (e || qcow2_l2_bitmap(s, slot->table, j)) {
            qcow2_set_l2e(s, slot->table, j, 0, 0);
            slot->dirty = 1;
            r = drop_entry(s, im->file, e, err);
        }
    }
    qcow2_l2_unpin(slot);
    return r;
}

/* The slow way: each active table emptied (QEMU's full discard). */
static int discard_all(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    int r = qcow2_prepare_write(s, im->file, err);
    for (uint64_t i = 0; r >= 0 && i < s->l1_loaded; i++) {
        if (s->l1[i] & QCOW2_L1E_OFFSET_MASK) {
            r = empty_table(im, i << (s->cluster_bits + s->l2_bits), err);
        }
    }
    return r < 0 ? r : qcow2_meta_flush(s, im->file, err);
}

/* Clusters of the L1 table. */
static uint64_t l1_clusters(const qcow2_state *s)
{
    uint64_t per = s->cluster_size / QCOW2_L1E_SIZE;
    return ((uint64_t)s->hdr.l1_size + per - 1) / per;
}

/* QEMU's conditions for resetting the whole file. */
static int can_reset(const qcow2_state *s)
{
    return s->hdr.version >= 3 && s->nb_snapshots == 0 &&
           !s->meta.has_bitmaps && s->hdr.crypt_method == QCOW2_CRYPT_NONE &&
           !s->data_file_used &&
           3 + l1_clusters(s) <= (1ull << s->rb_bits);
}

/* Sets the dirty bit: the refcounts are about to be wrong for a while. */
static int set_dirty(qcow2_state *s, img_file *file, img_err *err)
{
    int r = qcow2_meta_flush(s, file, err);
    if (r >= 0) {
        s->hdr.incompat |= QCOW2_INCOMPAT_DIRTY;
        r = qcow2_write_incompat(s, file, err);
    }
    return r;
}

/* Forgets all cached tables and blocks and pending frees. */
static void forget_caches(qcow2_state *s)
{
    for (unsigned i = 0; i < QCOW2_L2_CACHE_MAX; i++) {
        if (s->l2_cache[i].offset) {
            qcow2_l2_drop(s, s->l2_cache[i].offset);
        }
    }
    qcow2_rb_drop_all(s);
    s->nfrees = 0;
    s->l1_ndirty = 0;
    if (s->l1_dirty) {
        memset(s->l1_dirty, 0, s->l1_loaded);
    }
    s->free_cluster_index = 0;
    s->free_byte_offset = 0;
}

/* Zeroed L1 table and clusters 1.. for the new structures, then the
 * header fields pointing at them (QEMU's make_completely_empty). */
static int reset_layout(qcow2_state *s, img_file *file, img_err *err)
{
    uint64_t cs = s->cluster_size, l1c = l1_clusters(s);
    int r = img_file_write_zeroes(file, s->hdr.l1_offset, l1c * cs, err);
    if (r >= 0) {
        r = img_file_write_zeroes(file, cs, (2 + l1c) * cs, err);
    }
    uint8_t hdr[20];
    qcow2_put_be64(hdr, 3 * cs);                 /* l1_table_offset */
    qcow2_put_be64(hdr + 8, cs);                 /* refcount_table_offset */
    qcow2_put_be32(hdr + 16, 1);                 /* refcount_table_clusters */
    if (r >= 0) {
        r = qcow2_header_write_field(s, file, QCOW2_HDR_L1_OFFSET, hdr,
                                     sizeof(hdr), err);
    }
    uint8_t rt[8];
    qcow2_put_be64(rt, 2 * cs);
    if (r >= 0) {
        r = qcow2_header_write_field(s, file, cs, rt, sizeof(rt), err);
    }
    return r;
}

/* The in-memory state of the reset layout. */
static int reset_state(qcow2_state *s, img_err *err)
{
    uint64_t entries = s->cluster_size / 8;
    uint64_t *t = calloc(entries, sizeof(*t));
    if (!t) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    t[0] = 2 * s->cluster_size;
    free(s->reftable);
    s->reftable = t;
    s->reftable_entries = entries;
    s->hdr.reftable_offset = s->cluster_size;
    s->hdr.reftable_clusters = 1;
    s->hdr.l1_offset = 3 * s->cluster_size;
    memset(s->l1, 0, (size_t)s->l1_loaded * sizeof(*s->l1));
    return 0;
}

static int make_completely_empty(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    int r = set_dirty(s, im->file, err);
    if (r < 0) {
        return r;
    }
    forget_caches(s);
    r = reset_layout(s, im->file, err);
    if (r >= 0) {
        r = reset_state(s, err);
    }
    uint64_t off = 0, n = 3 * s->cluster_size +
                          (uint64_t)s->hdr.l1_size * QCOW2_L1E_SIZE;
    if (r >= 0) {
        r = qcow2_alloc_clusters(s, im->file, n, &off, err);
    }
    if (r >= 0 && off != 0) {
        r = img_err_set(err, EIO, "First cluster in emptied image is in use");
    }
    if (r >= 0) {
        r = qcow2_mark_clean(s, im->file, err);
    }
    if (r >= 0) {
        uint64_t end = (3 + l1_clusters(s)) * s->cluster_size;
        r = img_file_truncate(im->file, end, err);
        s->file_size = end;
        s->data_size = end;
    }
    return r;
}

int qcow2_make_empty(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    if (s->corrupt || (s->hdr.incompat & QCOW2_INCOMPAT_CORRUPT)) {
        return img_err_set(err, EIO, "qcow2: Image is corrupt; refusing to "
                           "write to it");
    }
    return can_reset(s) ? make_completely_empty(im, err)
                        : discard_all(im, err);
}
