/* formats/qcow2/qcow2_table.c -- L1 and L2 tables for writing: allocating
 * an L2 table, copying one shared with a snapshot, writing L1 entries and
 * growing the L1 table.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Cluster mapping" (bit 63 of an L1
 * entry, OFLAG_COPIED, says the L2 table's refcount is exactly one and it
 * may be written in place) and "Snapshots" (a table shared with a snapshot
 * is copied before it changes).
 *
 * Order: a new L2 table is written before the L1 entry that points at it,
 * which waits in memory (l1_dirty) for the next metadata flush to put it
 * on disk after a flush; the table it replaces loses its reference only
 * after that (a deferred free).  A new L1 table is written and flushed
 * before the header points at it, and the old one freed after.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

int qcow2_write_l1_entry(qcow2_state *s, img_file *file, uint64_t idx,
                         img_err *err)
{
    uint8_t be[8];
    qcow2_put_be64(be, s->l1[idx]);
    int r = qcow2_file_write(s, file, be, 8, s->hdr.l1_offset + idx * 8, err);
    if (r < 0) {
        img_err_prepend(err, "Could not write L1 entry %" PRIu64 ": ", idx);
    }
    return r;
}

/* Fills a new table: a copy of the shared one at old (its entries keep
 * their flags: their clusters are shared too), or zeros. */
static int fill_new_table(qcow2_state *s, img_file *file, uint64_t old,
                          uint8_t *table, img_err *err)
{
    if (!old) {
        memset(table, 0, s->cluster_size);
        return 0;
    }
    qcow2_l2_slot *src;
    int r = qcow2_l2_load(s, file, old, &src, err);
    if (r >= 0) {
        memcpy(table, src->table, s->cluster_size);
    }
    return r;
}

int qcow2_l1_mark_dirty(qcow2_state *s, uint64_t idx, img_err *err)
{
    if (!s->l1_dirty && !(s->l1_dirty = calloc(s->l1_loaded, 1))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    s->l1_ndirty += !s->l1_dirty[idx];
    s->l1_dirty[idx] = 1;
    return 0;
}

int qcow2_l1_write_dirty(qcow2_state *s, img_file *file, img_err *err)
{
    for (uint32_t i = 0; s->l1_ndirty && i < s->l1_loaded; i++) {
        if (!s->l1_dirty[i]) {
            continue;
        }
        int r = qcow2_write_l1_entry(s, file, i, err);
        if (r < 0) {
            return r;
        }
        s->l1_dirty[i] = 0;
        s->l1_ndirty--;
    }
    return 0;
}

/* Allocates the L2 table for L1 index idx (replacing the shared table
 * old, or none) and returns its pinned slot.  The new table is written
 * at once (nothing refers to it yet, so no ordering is needed); the L1
 * entry that points at it waits for the next metadata flush, which
 * writes it after the table is safely on disk. */
static int l2_allocate(qcow2_state *s, img_file *file, uint64_t idx,
                       uint64_t old, qcow2_l2_slot **out, img_err *err)
{
    uint64_t off;
    qcow2_l2_slot *slot;
    int r = qcow2_alloc_clusters(s, file, s->cluster_size, &off, err);
    if (r >= 0) {
        r = qcow2_overlap_check(s, file, off, s->cluster_size, err);
    }
    if (r >= 0) {
        r = qcow2_l2_new_slot(s, file, off, &slot, err);
    }
    if (r < 0) {
        return r;
    }
    slot->pins++;
    r = fill_new_table(s, file, old, slot->table, err);
    if (r >= 0) {
        r = qcow2_file_write(s, file, slot->table, s->cluster_size, off, err);
    }
    if (r >= 0) {
        slot->dirty = 0;
        s->l1[idx] = off | QCOW2_OFLAG_COPIED;
        r = qcow2_l1_mark_dirty(s, idx, err);
    }
    /* the old table loses its reference once the new entry is on disk */
    if (r >= 0 && old) {
        r = qcow2_defer_free(s, file, old, s->cluster_size, 0, err);
    }
    if (r < 0) {
        slot->pins--;
        return r;
    }
    *out = slot;
    return 0;
}

int qcow2_l2_for_write(img *im, uint64_t off, qcow2_l2_slot **out, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t idx = off >> (s->cluster_bits + s->l2_bits);
    if (idx >= s->l1_loaded) {
        return img_err_set(err, EIO,
                           "Guest offset %#" PRIx64 " is beyond "
                           "the L1 table",
                           off);
    }
    uint64_t entry = s->l1[idx];
    uint64_t l2 = entry & QCOW2_L1E_OFFSET_MASK;
    if (l2 && (qcow2_cluster_offset_in(s, l2) || l2 > s->file_size ||
               s->cluster_size > s->file_size - l2)) {
        return qcow2_mark_corrupt(s, im->file, err,
                                  "L2 table offset %#" PRIx64
                                  " invalid (L1 index: %#" PRIx64 ")",
                                  l2, idx);
    }
    if (l2 && (entry & QCOW2_OFLAG_COPIED)) {
        qcow2_l2_slot *slot;
        int r = qcow2_l2_load(s, im->file, l2, &slot, err);
        if (r >= 0) {
            slot->pins++;
            *out = slot;
        }
        return r;
    }
    return l2_allocate(s, im->file, idx, l2, out, err);
}

/* Reads the whole current L1 table (all l1_size entries, which may map
 * more than the virtual size) into t, host order. */
static int read_full_l1(qcow2_state *s, img_file *file, uint64_t *t,
                        img_err *err)
{
    uint64_t n = s->hdr.l1_size;
    int r = n ? img_file_pread(file, t, n * 8, s->hdr.l1_offset, err) : 0;
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        t[i] = qcow2_be64((const uint8_t *)&t[i]);
    }
    /* Entries we hold in memory are newer than the disk's. */
    for (uint64_t i = 0; r >= 0 && i < s->l1_loaded; i++) {
        t[i] = s->l1[i];
    }
    return r;
}

/* Writes table t (entries long) at off and flushes. */
static int write_l1_table(qcow2_state *s, img_file *file, const uint64_t *t,
                          uint64_t entries, uint64_t off, img_err *err)
{
    uint8_t *be = malloc(entries * 8);
    if (!be) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint64_t i = 0; i < entries; i++) {
        qcow2_put_be64(be + i * 8, t[i]);
    }
    int r = qcow2_file_write(s, file, be, entries * 8, off, err);
    free(be);
    if (r >= 0) {
        r = qcow2_flush_files(s, file, err);
    }
    return r;
}

/* Points the header at the new table (durably) and frees the old one. */
static int switch_l1(qcow2_state *s, img_file *file, uint64_t *t,
                     uint64_t entries, uint64_t off, img_err *err)
{
    uint8_t hdr[12];
    qcow2_put_be32(hdr, (uint32_t)entries);
    qcow2_put_be64(hdr + 4, off);
    int r = qcow2_header_write_field(s, file, QCOW2_HDR_L1_SIZE, hdr,
                                     sizeof(hdr), err);
    if (r < 0) {
        return r;
    }
    uint64_t old_off = s->hdr.l1_offset;
    uint64_t old_bytes = (uint64_t)s->hdr.l1_size * 8;
    free(s->l1);
    s->l1 = t;
    s->l1_loaded = (uint32_t)entries;
    free(s->l1_dirty); /* the whole table is on disk now */
    s->l1_dirty = NULL;
    s->l1_ndirty = 0;
    s->hdr.l1_offset = off;
    s->hdr.l1_size = (uint32_t)entries;
    return qcow2_free_clusters(s, file, old_off, old_bytes, 0, err);
}

int qcow2_l1_grow(qcow2_state *s, img_file *file, uint64_t entries,
                  img_err *err)
{
    if (entries <= s->hdr.l1_size) {
        /* the table is long enough: just hold more of it in memory */
        if (entries <= s->l1_loaded) {
            return 0;
        }
        uint64_t *t = calloc(s->hdr.l1_size, sizeof(*t));
        int r = t ? read_full_l1(s, file, t, err)
                  : img_err_set(err, ENOMEM, "Out of memory");
        if (r < 0) {
            free(t);
            return r;
        }
        uint8_t *dirty = calloc(entries, 1);
        if (!dirty) {
            free(t);
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        if (s->l1_dirty) {
            memcpy(dirty, s->l1_dirty, s->l1_loaded);
        }
        free(s->l1_dirty);
        s->l1_dirty = dirty;
        free(s->l1);
        s->l1 = t;
        s->l1_loaded = (uint32_t)entries;
        return 0;
    }
    if (entries > QCOW2_MAX_L1_BYTES / 8) {
        return img_err_set(err, EFBIG, "Active L1 table too large");
    }
    uint64_t *t = calloc(entries, sizeof(*t));
    uint64_t off = 0;
    int r = t ? read_full_l1(s, file, t, err)
              : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        r = qcow2_alloc_clusters(s, file, entries * 8, &off, err);
    }
    if (r >= 0) {
        r = qcow2_overlap_check(s, file, off, entries * 8, err);
    }
    /* The refcounts of the new table before the table and the header. */
    if (r >= 0) {
        r = qcow2_rb_write_all(s, file, err);
    }
    if (r >= 0) {
        r = write_l1_table(s, file, t, entries, off, err);
    }
    if (r >= 0) {
        return switch_l1(s, file, t, entries, off, err);
    }
    free(t);
    return r;
}
