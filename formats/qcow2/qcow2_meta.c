/* formats/qcow2/qcow2_meta.c -- metadata write-back order, header flag
 * updates (dirty, corrupt, autoclear) and the metadata overlap check.
 *
 * Spec: QEMU docs/interop/qcow2.txt ("incompatible_features",
 * "autoclear_features").  The ordering is the one QEMU's qcow2 caches
 * enforce with their dependencies and flushes:
 *
 *   1. guest data goes straight to the file, before the L2 entry that
 *      points at it (l2_wait_data: flush before writing L2 tables);
 *   2. refcount increments sit in the refcount block cache; L2 tables
 *      that reference the new clusters are written only after those
 *      blocks are written and flushed (l2_wait_ref);
 *   3. a new L2 table is on disk (flushed) before the L1 entry that
 *      points at it is written: L1 entries wait in memory (l1_dirty);
 *   4. a reference is removed first (the table written and flushed) and
 *      the refcount dropped afterwards: decrements are queued (deferred
 *      frees) and applied after the next metadata flush.
 *
 * Whatever prefix of these writes survives a crash, the image has at
 * worst leaked clusters.  With lazy refcounts (compatible bit 0) the
 * dirty bit is set before the first change instead, rule 2 is dropped,
 * and the refcounts are rebuilt when the image is next opened read/write.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* More deferred frees than this force a metadata flush. */
#define QCOW2_MAX_DEFERRED_FREES 4096

int qcow2_file_write(qcow2_state *s, img_file *file, const void *buf,
                     uint64_t len, uint64_t off, img_err *err)
{
    int r = img_file_pwrite(file, buf, len, off, err);
    if (r >= 0 && off + len > s->file_size) {
        s->file_size = off + len;
        if (!s->data_owned) {
            s->data_size = s->file_size;
        }
    }
    return r;
}

int qcow2_far_past_end(const qcow2_state *s, uint64_t off)
{
    return off > s->file_size + QCOW2_PAST_END_MAX;
}

int qcow2_data_write(qcow2_state *s, const void *buf, uint64_t len,
                     uint64_t off, img_err *err)
{
    int r = img_file_pwrite(s->data, buf, len, off, err);
    if (r < 0) {
        return r;
    }
    if (off + len > s->data_size) {
        s->data_size = off + len;
        if (!s->data_owned) {
            s->file_size = s->data_size;
        }
    }
    s->l2_wait_data = 1;
    return 0;
}

int qcow2_flush_files(qcow2_state *s, img_file *file, img_err *err)
{
    /* cache=unsafe, and while a new image is formatted (nothing refers to
     * it yet; img_create() flushes it at the end): like QEMU's
     * BDRV_O_NO_FLUSH, the order of the writes is kept but the file is
     * never synced */
    int r = s->no_flush ? 0 : img_file_flush(file, err);
    if (r >= 0 && s->data_owned && !s->no_flush) {
        r = img_file_flush(s->data_owned, err);
    }
    if (r >= 0) {
        s->l2_wait_data = 0;
    }
    return r;
}

/* Makes the refcount increments durable when L2 tables depend on them,
 * and the data when they point at new data. */
static int l2_barrier(qcow2_state *s, img_file *file, img_err *err)
{
    int r = 0;
    if (s->l2_wait_ref) {
        r = qcow2_rb_write_all(s, file, err);
        if (r >= 0) {
            r = qcow2_flush_files(s, file, err);
        }
        if (r >= 0) {
            s->l2_wait_ref = 0;
        }
    } else if (s->l2_wait_data) {
        r = qcow2_flush_files(s, file, err);
    }
    return r;
}

int qcow2_l2_writeback(qcow2_state *s, img_file *file, qcow2_l2_slot *slot,
                       img_err *err)
{
    if (!slot->dirty) {
        return 0;
    }
    int r = l2_barrier(s, file, err);
    if (r >= 0) {
        r = qcow2_file_write(s, file, slot->table, s->cluster_size,
                             slot->offset, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Could not write L2 table %#" PRIx64 ": ",
                        slot->offset);
        return r;
    }
    slot->dirty = 0;
    return 0;
}

/* Writes every dirty L2 table (after their dependencies). */
static int l2_write_all(qcow2_state *s, img_file *file, img_err *err)
{
    for (unsigned i = 0; i < QCOW2_L2_CACHE_MAX; i++) {
        qcow2_l2_slot *c = &s->l2_cache[i];
        if (c->offset && c->dirty) {
            int r = qcow2_l2_writeback(s, file, c, err);
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

/* Applies the queued refcount decrements: their references are on disk
 * no more (the caller has flushed).  One that fails (a corrupt count)
 * leaves its clusters leaked, which is safe; the others are still
 * applied, and the first failure is returned. */
static int apply_frees(qcow2_state *s, img_file *file, img_err *err)
{
    int first = 0;
    size_t n = s->nfrees;
    s->nfrees = 0;
    for (size_t i = 0; i < n; i++) {
        const qcow2_free_req *f = &s->frees[i];
        img_err e = { 0 };
        int r = qcow2_free_clusters(s, file, f->offset, f->len, f->punch, &e);
        if (r < 0 && first == 0) {
            first = r;
            if (err) {
                *err = e;
            }
        }
    }
    return first;
}

/* Refcount blocks, [flush,] L2 tables, [flush,] L1 entries, flush;
 * then the deferred decrements, written and flushed too, so that a
 * flushed image checks clean. */
int qcow2_meta_flush(qcow2_state *s, img_file *file, img_err *err)
{
    if (!s->writable) {
        return 0;
    }
    int r = qcow2_rb_write_all(s, file, err);
    if (r >= 0) {
        r = l2_write_all(s, file, err);
    }
    /* new L2 tables are on disk before the L1 entries point at them */
    if (r >= 0 && s->l1_ndirty) {
        r = qcow2_flush_files(s, file, err);
        if (r >= 0) {
            r = qcow2_l1_write_dirty(s, file, err);
        }
    }
    if (r >= 0) {
        r = qcow2_flush_files(s, file, err);
    }
    if (r >= 0) {
        s->l2_wait_ref = 0;
    }
    if (r >= 0 && s->nfrees) {
        r = apply_frees(s, file, err);
        if (r >= 0) {
            r = qcow2_rb_write_all(s, file, err);
        }
        if (r >= 0) {
            r = qcow2_flush_files(s, file, err);
        }
    }
    return r;
}

/* The clusters stay counted (and so are not reused) until then. */
int qcow2_defer_free(qcow2_state *s, img_file *file, uint64_t off, uint64_t len,
                     int punch, img_err *err)
{
    if (s->nfrees == s->frees_cap) {
        size_t cap = s->frees_cap ? s->frees_cap * 2 : 64;
        qcow2_free_req *f = realloc(s->frees, cap * sizeof(*f));
        if (!f) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        s->frees = f;
        s->frees_cap = cap;
    }
    s->frees[s->nfrees++] = (qcow2_free_req){ off, len, punch };
    if (s->nfrees >= QCOW2_MAX_DEFERRED_FREES) {
        return qcow2_meta_flush(s, file, err);
    }
    return 0;
}

int qcow2_header_write_field(qcow2_state *s, img_file *file, uint64_t off,
                             const void *buf, size_t len, img_err *err)
{
    int r = qcow2_file_write(s, file, buf, len, off, err);
    if (r >= 0) {
        r = qcow2_flush_files(s, file, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Could not update the qcow2 header: ");
    }
    return r;
}

int qcow2_write_incompat(qcow2_state *s, img_file *file, img_err *err)
{
    if (s->hdr.version < 3) {
        return 0; /* version 2 has no feature bits */
    }
    uint8_t be[8];
    qcow2_put_be64(be, s->hdr.incompat);
    return qcow2_header_write_field(s, file, QCOW2_HDR_INCOMPAT, be, 8, err);
}

/* Sets the dirty bit before the first change (lazy refcounts); QEMU
 * flushes what came before so that it cannot overtake the bit. */
static int mark_dirty(qcow2_state *s, img_file *file, img_err *err)
{
    int r = qcow2_flush_files(s, file, err);
    if (r >= 0) {
        s->hdr.incompat |= QCOW2_INCOMPAT_DIRTY;
        r = qcow2_write_incompat(s, file, err);
    }
    if (r >= 0) {
        s->dirty_set = 1;
    }
    return r;
}

int qcow2_mark_clean(qcow2_state *s, img_file *file, img_err *err)
{
    if (!(s->hdr.incompat & QCOW2_INCOMPAT_DIRTY)) {
        return 0;
    }
    int r = qcow2_meta_flush(s, file, err);
    if (r >= 0) {
        s->hdr.incompat &= ~QCOW2_INCOMPAT_DIRTY;
        r = qcow2_write_incompat(s, file, err);
    }
    if (r >= 0) {
        s->dirty_set = 0;
    }
    return r;
}

/* QEMU's qcow2_signal_corruption() for a writable image: the corrupt
 * bit goes to disk (version 3 has a place for it) and further writes
 * are refused. */
int qcow2_mark_corrupt(qcow2_state *s, img_file *file, img_err *err,
                       const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->writable && !s->corrupt) {
        qcow2_report(s,
                     "qcow2: Marking image as corrupt: %s; further "
                     "corruption events will be suppressed",
                     msg);
        s->hdr.incompat |= QCOW2_INCOMPAT_CORRUPT;
        (void)qcow2_write_incompat(s, file, NULL);
    }
    s->corrupt = 1;
    return img_err_set(err, EIO, "%s", msg);
}

int qcow2_mark_consistent(qcow2_state *s, img_file *file, img_err *err)
{
    s->corrupt = 0;
    if (!(s->hdr.incompat & QCOW2_INCOMPAT_CORRUPT)) {
        return 0;
    }
    s->hdr.incompat &= ~QCOW2_INCOMPAT_CORRUPT;
    return qcow2_write_incompat(s, file, err);
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* The fixed-position metadata, or NULL. */
static const char *overlap_fixed(const qcow2_state *s, uint64_t off,
                                 uint64_t len)
{
    const qcow2_header *h = &s->hdr;
    if (overlaps(off, len, 0, s->cluster_size)) {
        return "qcow2_header";
    }
    if (overlaps(off, len, h->l1_offset, (uint64_t)h->l1_size * 8)) {
        return "active L1 table";
    }
    if (overlaps(off, len, h->reftable_offset,
                 (uint64_t)h->reftable_clusters << s->cluster_bits)) {
        return "refcount table";
    }
    if (h->nb_snapshots &&
        overlaps(off, len, h->snapshots_offset, s->snapshots_size)) {
        return "snapshot table";
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const qcow2_snapshot *sn = &s->snapshots[i];
        if (overlaps(off, len, sn->l1_offset, (uint64_t)sn->l1_size * 8)) {
            return "inactive L1 table";
        }
    }
    return NULL;
}

/* The tables the L1 and refcount tables point at, or NULL. */
static const char *overlap_tables(const qcow2_state *s, uint64_t off,
                                  uint64_t len)
{
    for (uint32_t i = 0; i < s->l1_loaded; i++) {
        uint64_t l2 = s->l1[i] & QCOW2_L1E_OFFSET_MASK;
        if (l2 && overlaps(off, len, l2, s->cluster_size)) {
            return "active L2 table";
        }
    }
    for (uint64_t i = 0; s->reftable && i < s->reftable_entries; i++) {
        uint64_t rb = s->reftable[i] & QCOW2_REFT_OFFSET_MASK;
        if (rb && overlaps(off, len, rb, s->cluster_size)) {
            return "refcount block";
        }
    }
    return NULL;
}

/* QEMU's "cached" overlap checks: every structure but inactive L2
 * tables. */
int qcow2_overlap_check(qcow2_state *s, img_file *file, uint64_t off,
                        uint64_t len, img_err *err)
{
    const char *what = overlap_fixed(s, off, len);
    if (!what) {
        what = overlap_tables(s, off, len);
    }
    if (!what) {
        return 0;
    }
    return qcow2_mark_corrupt(s, file, err,
                              "Preventing invalid write on "
                              "metadata (overlaps with %s)",
                              what);
}

/* Autoclear bits we do not maintain are cleared before the first change
 * (the spec's rule; a cleared bitmaps bit tells QEMU the persistent
 * bitmaps are stale).  Raw external data is kept up to date, and so are
 * the bitmaps when the change is the bitmap command's own. */
static int clear_autoclear(qcow2_state *s, img_file *file, img_err *err)
{
    uint64_t keep = s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW;
    if (s->keep_bitmaps) {
        keep |= s->hdr.autoclear & QCOW2_AUTOCLEAR_BITMAPS;
    }
    if (s->hdr.version < 3 || s->hdr.autoclear == keep) {
        return 0;
    }
    uint8_t be[8];
    qcow2_put_be64(be, keep);
    int r = qcow2_header_write_field(s, file, QCOW2_HDR_AUTOCLEAR, be, 8, err);
    if (r >= 0) {
        s->hdr.autoclear = keep;
    }
    return r;
}

int qcow2_prepare_write(qcow2_state *s, img_file *file, img_err *err)
{
    if (s->corrupt || (s->hdr.incompat & QCOW2_INCOMPAT_CORRUPT)) {
        return img_err_set(err, EIO,
                           "qcow2: Image is corrupt; refusing to "
                           "write to it");
    }
    if (!s->prepared) {
        int r = clear_autoclear(s, file, err);
        if (r < 0) {
            return r;
        }
        s->prepared = 1;
    }
    if (s->lazy && !s->creating && !(s->hdr.incompat & QCOW2_INCOMPAT_DIRTY)) {
        return mark_dirty(s, file, err);
    }
    return 0;
}

void qcow2_writer_free(qcow2_state *s)
{
    free(s->frees);
    s->frees = NULL;
    s->nfrees = s->frees_cap = 0;
    free(s->cow_buf);
    s->cow_buf = NULL;
}
