/* formats/qcow2/qcow2_refcount_order.c -- amend refcount_bits: new
 * refcount structures with another entry width.
 *
 * Spec: QEMU docs/interop/qcow2.txt ("refcount_order", "Host cluster
 * management").  The method is QEMU's qcow2_change_refcount_order(): the
 * old refcount table is walked entry by entry while new refcount blocks
 * (of the new width) are filled; a first kind of walk only allocates the
 * non-empty new blocks (through the old structures, so the new clusters
 * are counted too) and is repeated, with a new table allocated each
 * time, until a walk allocates nothing; a last walk fills and writes the
 * blocks.  Then the new table is written, everything flushed, and the
 * header switched to it in one write; the old blocks and table are freed
 * through the new structures afterwards.  A crash before the switch
 * leaves leaked clusters, after it the image is complete.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* The new structures under construction. */
typedef struct new_refs {
    unsigned order;        /* new refcount_order */
    uint64_t block_entries; /* entries per new block */
    uint64_t *table;       /* new reftable (host order) */
    uint64_t size;         /* its entries */
    uint64_t index;        /* next new block to complete */
    uint8_t *block;        /* the new block being filled (write walk) */
    uint64_t fill;         /* entries filled in it */
    int empty;             /* no non-zero entry in it */
    int allocated;         /* the walk allocated something */
    int writing;           /* write walk (else: allocating walk) */
    uint8_t *old_block;    /* copy of the old block being read */
} new_refs;

/* Grows the new table to hold index idx (whole clusters of entries). */
static int grow_table(qcow2_state *s, new_refs *n, uint64_t idx,
                      img_err *err)
{
    uint64_t per = s->cluster_size / 8;
    uint64_t size = (idx + 1 + per - 1) / per * per;
    if (size * 8 > QCOW2_MAX_REFTABLE_BYTES) {
        return img_err_set(err, ENOTSUP, "This operation would make the "
                           "refcount table grow beyond the maximum size "
                           "supported by QEMU, aborting");
    }
    uint64_t *t = realloc(n->table, size * sizeof(*t));
    if (!t) {
        return img_err_set(err, ENOMEM, "Failed to increase reftable "
                           "buffer size");
    }
    memset(t + n->size, 0, (size - n->size) * sizeof(*t));
    n->table = t;
    n->size = size;
    return 0;
}

/* Allocating walk: a host cluster for each non-empty new block. */
static int alloc_block(img *im, new_refs *n, img_err *err)
{
    qcow2_state *s = im->state;
    int r = 0;
    if (n->empty) {
        return 0;
    }
    if (n->index >= n->size) {
        r = grow_table(s, n, n->index, err);
    }
    if (r >= 0 && !n->table[n->index]) {
        uint64_t off;
        r = qcow2_alloc_clusters(s, im->file, s->cluster_size, &off, err);
        if (r < 0) {
            img_err_prepend(err, "Failed to allocate refblock: ");
            return r;
        }
        n->table[n->index] = off;
        n->allocated = 1;
    }
    return r;
}

/* Write walk: the completed block goes where the table says. */
static int write_block(img *im, new_refs *n, img_err *err)
{
    qcow2_state *s = im->state;
    if (n->index >= n->size || !n->table[n->index]) {
        return 0; /* empty: no block (checked by the allocating walks) */
    }
    uint64_t off = n->table[n->index];
    int r = qcow2_overlap_check(s, im->file, off, s->cluster_size, err);
    if (r >= 0) {
        r = qcow2_file_write(s, im->file, n->block, s->cluster_size, off,
                             err);
    }
    if (r < 0) {
        img_err_prepend(err, "Failed to write refblock: ");
    }
    return r;
}

/* A new block is complete: allocate or write it, start the next. */
static int finish_block(img *im, new_refs *n, img_err *err)
{
    int r = n->writing ? write_block(im, n, err) : alloc_block(im, n, err);
    n->index++;
    n->fill = 0;
    n->empty = 1;
    if (n->block) {
        memset(n->block, 0, ((qcow2_state *)im->state)->cluster_size);
    }
    return r;
}

/* Adds the refcount of host cluster ci to the new block being filled. */
static int add_entry(img *im, new_refs *n, uint64_t ci, uint64_t rc,
                     img_err *err)
{
    int r = 0;
    if (n->fill >= n->block_entries) {
        r = finish_block(im, n, err);
    }
    unsigned bits = 1u << n->order;
    if (r >= 0 && bits < 64 && (rc >> bits)) {
        qcow2_state *s = im->state;
        return img_err_set(err, EINVAL, "Cannot decrease refcount entry "
                           "width to %u bits: Cluster at offset %#" PRIx64
                           " has a refcount of %" PRIu64, bits,
                           ci << s->cluster_bits, rc);
    }
    if (r >= 0 && n->block) {
        qcow2_rb_set_entry(n->block, n->order, n->fill, rc);
    }
    n->fill++;
    n->empty = n->empty && rc == 0;
    return r;
}

/* count zero refcounts (no old block there): whole runs at a time. */
static int add_zeros(img *im, new_refs *n, uint64_t count, img_err *err)
{
    while (count > 0) {
        if (n->fill >= n->block_entries) {
            int r = finish_block(im, n, err);
            if (r < 0) {
                return r;
            }
        }
        uint64_t k = n->block_entries - n->fill;
        k = k < count ? k : count;
        n->fill += k; /* the block buffer is zero past fill */
        count -= k;
    }
    return 0;
}

/* The entries of old reftable index i (a copy of its block, or zeros). */
static int walk_old_block(img *im, new_refs *n, uint64_t i, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t off = s->reftable[i] & QCOW2_REFT_OFFSET_MASK;
    uint64_t per = 1ull << s->rb_bits;
    int r = 0;
    if (off && qcow2_cluster_offset_in(s, off)) {
        return qcow2_mark_corrupt(s, im->file, err, "Refblock offset %#"
                                  PRIx64 " unaligned (reftable index: %#"
                                  PRIx64 ")", off, i);
    }
    if (!off) {
        return add_zeros(im, n, per, err);
    }
    qcow2_rb_slot *slot;
    r = qcow2_rb_load(s, im->file, off, i, &slot, err);
    if (r < 0) {
        return r;
    }
    /* a copy: allocations below may evict the cached block */
    memcpy(n->old_block, slot->block, s->cluster_size);
    for (uint64_t j = 0; r >= 0 && j < per; j++) {
        uint64_t rc = qcow2_rb_entry(n->old_block, s->hdr.refcount_order, j);
        r = add_entry(im, n, i * per + j, rc, err);
    }
    return r;
}

/* One walk over the whole old table (which may grow meanwhile). */
static int walk(img *im, new_refs *n, qcow2_amend_progress *p, int index,
                int total, img_err *err)
{
    qcow2_state *s = im->state;
    n->index = 0;
    n->fill = 0;
    n->empty = 1;
    int r = 0;
    for (uint64_t i = 0; r >= 0 && i < s->reftable_entries; i++) {
        qcow2_amend_progress_report(p, (uint64_t)index * s->reftable_entries
                                    + i, (uint64_t)total *
                                    s->reftable_entries);
        r = walk_old_block(im, n, i, err);
    }
    if (r >= 0 && n->fill > 0) {
        r = finish_block(im, n, err);
    }
    if (r >= 0) {
        qcow2_amend_progress_report(p, (uint64_t)(index + 1) *
                                    s->reftable_entries, (uint64_t)total *
                                    s->reftable_entries);
    }
    return r;
}

/* Allocating walks until nothing new is needed; *table_off holds the
 * new table's clusters. */
static int allocate_all(img *im, new_refs *n, qcow2_amend_progress *p,
                        int *walks, uint64_t *table_off,
                        uint64_t *table_bytes, img_err *err)
{
    qcow2_state *s = im->state;
    int r;
    do {
        int total = *walks + 2 > 3 ? *walks + 2 : 3;
        n->allocated = 0;
        r = walk(im, n, p, (*walks)++, total, err);
        if (r >= 0 && n->allocated) {
            if (*table_off) {
                r = qcow2_free_clusters(s, im->file, *table_off,
                                        *table_bytes, 0, err);
            }
            *table_off = 0;
            if (r >= 0) {
                r = qcow2_alloc_clusters(s, im->file, n->size * 8, table_off,
                                         err);
            }
            if (r < 0) {
                img_err_prepend(err, "Failed to allocate the new reftable: ");
            }
            *table_bytes = n->size * 8;
        }
    } while (r >= 0 && n->allocated);
    return r;
}

/* Writes the new table after the blocks, everything flushed. */
static int write_table(img *im, const new_refs *n, uint64_t off,
                       img_err *err)
{
    qcow2_state *s = im->state;
    uint8_t *be = malloc(n->size * 8);
    if (!be) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint64_t i = 0; i < n->size; i++) {
        qcow2_put_be64(be + i * 8, n->table[i]);
    }
    int r = qcow2_overlap_check(s, im->file, off, n->size * 8, err);
    if (r >= 0) {
        r = qcow2_file_write(s, im->file, be, n->size * 8, off, err);
    }
    free(be);
    if (r >= 0) {
        r = qcow2_meta_flush(s, im->file, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Failed to write the new reftable: ");
    }
    return r;
}

/* Points the header at the new structures (one write), then the state. */
static int switch_over(img *im, new_refs *n, uint64_t off, img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_header old = s->hdr;
    s->hdr.refcount_order = n->order;
    s->hdr.reftable_offset = off;
    s->hdr.reftable_clusters = (uint32_t)(n->size * 8 >> s->cluster_bits);
    int r = qcow2_header_rewrite(s, im->file, im->backing_name,
                                 im->backing_fmt, err);
    if (r < 0) {
        s->hdr = old;
        img_err_prepend(err, "Failed to update the qcow2 header: ");
        return r;
    }
    uint64_t *old_table = s->reftable;
    s->reftable = n->table;
    n->table = old_table;
    uint64_t old_size = s->reftable_entries;
    s->reftable_entries = n->size;
    n->size = old_size;
    qcow2_rb_drop_all(s); /* cached blocks have the old width */
    qcow2_refcount_setup(s);
    s->free_cluster_index = 0;
    s->free_byte_offset = 0;
    return 0;
}

/* Frees the blocks of table (and the table at off) through the current
 * structures; errors only leak clusters. */
static void free_structures(img *im, const uint64_t *table, uint64_t size,
                            uint64_t off, uint64_t bytes)
{
    qcow2_state *s = im->state;
    for (uint64_t i = 0; table && i < size; i++) {
        uint64_t b = table[i] & QCOW2_REFT_OFFSET_MASK;
        if (b) {
            (void)qcow2_free_clusters(s, im->file, b, s->cluster_size, 0,
                                      NULL);
        }
    }
    if (off) {
        (void)qcow2_free_clusters(s, im->file, off, bytes, 0, NULL);
    }
}

int qcow2_change_refcount_order(img *im, unsigned order,
                                qcow2_amend_progress *p, img_err *err)
{
    qcow2_state *s = im->state;
    new_refs n = { .order = order, .empty = 1 };
    n.block_entries = (s->cluster_size * 8) >> order;
    n.old_block = malloc(s->cluster_size);
    uint64_t table_off = 0, table_bytes = 0;
    int walks = 0;
    int r = n.old_block ? qcow2_prepare_write(s, im->file, err)
                        : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        r = allocate_all(im, &n, p, &walks, &table_off, &table_bytes, err);
    }
    if (r >= 0) {
        n.block = calloc(1, s->cluster_size);
        n.writing = 1;
        r = n.block ? walk(im, &n, p, walks, walks + 1, err)
                    : img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r >= 0) {
        r = write_table(im, &n, table_off, err);
    }
    uint64_t old_off = s->hdr.reftable_offset;
    uint64_t old_bytes = (uint64_t)s->hdr.reftable_clusters <<
                         s->cluster_bits;
    if (r >= 0) {
        r = switch_over(im, &n, table_off, err);
    }
    /* success: n holds the old structures; failure: the new ones */
    if (r >= 0) {
        free_structures(im, n.table, n.size, old_off, old_bytes);
    } else {
        free_structures(im, n.table, n.size, table_off, table_bytes);
    }
    int fr = qcow2_meta_flush(s, im->file, r < 0 ? NULL : err);
    free(n.table);
    free(n.block);
    free(n.old_block);
    return r < 0 ? r : fr;
}
