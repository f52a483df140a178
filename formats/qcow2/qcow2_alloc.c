/* formats/qcow2/qcow2_alloc.c -- refcount updates, cluster allocation and
 * growth of the refcount structures.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Host cluster management".  The
 * algorithm follows QEMU's so that the files we make are laid out like
 * qemu-img's: free clusters are searched from a moving index; a refcount
 * block that is missing is placed on the first free cluster (describing
 * itself when it falls in its own range); a refcount table that is too
 * small is replaced by a new one placed, with the blocks it needs, at the
 * start of the first range no block covers yet.  Whenever metadata was
 * placed, the update is undone and -EAGAIN tells the allocator to search
 * again, since the new structures may sit where it wanted to allocate.
 *
 * Ordering for crash safety: a new refcount block is written (and
 * flushed) before the table entry that points at it; a new table before
 * the header switches to it; the old table is freed only after that.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

uint64_t qcow2_refcount_metadata_size(uint64_t clusters, uint64_t cluster_size,
                                      unsigned refcount_order, int generous,
                                      uint64_t *blocks)
{
    uint64_t per_table_cluster = cluster_size / 8;
    uint64_t per_block = cluster_size * 8 >> refcount_order;
    uint64_t table = 0, nblocks = 0, n = 0, last;
    /* The fixed point where the blocks and table cover every cluster,
     * themselves included; "generous" leaves room for the table to grow
     * by half (QEMU's rule for non-exact sizes). */
    do {
        last = n;
        nblocks = div_round_up(clusters + table + nblocks, per_block);
        table = div_round_up(nblocks, per_table_cluster);
        n = clusters + nblocks + table;
        if (n == last && generous) {
            clusters += div_round_up(table, 2);
            n = 0;
            generous = 0;
        }
    } while (n != last);
    if (blocks) {
        *blocks = nblocks;
    }
    return (nblocks + table) * cluster_size;
}

/* Finds n contiguous clusters with refcount 0, searching from (and
 * advancing) free_cluster_index. */
static int find_free(qcow2_state *s, img_file *file, uint64_t n, uint64_t *off,
                     img_err *err)
{
    uint64_t found = 0;
    while (found < n) {
        uint64_t rc;
        int r = qcow2_get_refcount(s, file, s->free_cluster_index++, &rc, err);
        if (r < 0) {
            return r;
        }
        found = rc ? 0 : found + 1;
    }
    if (s->free_cluster_index > QCOW2_MAX_HOST_OFFSET >> s->cluster_bits) {
        return img_err_set(err, EFBIG,
                           "Image file would grow beyond the "
                           "largest offset qcow2 can address");
    }
    *off = (s->free_cluster_index - n) << s->cluster_bits;
    return 0;
}

/* Bookkeeping when cluster cur (host offset) becomes free. */
static void cluster_freed(qcow2_state *s, img_file *file, uint64_t cur,
                          int punch)
{
    uint64_t ci = cur >> s->cluster_bits;
    if (ci < s->free_cluster_index) {
        s->free_cluster_index = ci;
    }
    if (qcow2_cluster_start(s, s->free_byte_offset) == cur) {
        s->free_byte_offset = 0; /* never pack into a reused cluster */
    }
    qcow2_rb_drop(s, cur);
    qcow2_l2_drop(s, cur);
    s->cmp_valid = 0;
    if (punch) {
        /* Space reclaim is advisory: a file that cannot punch is fine. */
        (void)img_file_punch_hole(file, cur, s->cluster_size, NULL);
    }
}

/* Writes all dirty refcount blocks and flushes. */
static int rb_flush(qcow2_state *s, img_file *file, img_err *err)
{
    int r = qcow2_rb_write_all(s, file, err);
    return r < 0 ? r : qcow2_flush_files(s, file, err);
}

/* Points reftable entry ti at the (written) block nb, durably. */
static int hook_refblock(qcow2_state *s, img_file *file, uint64_t ti,
                         uint64_t nb, img_err *err)
{
    uint8_t be[8];
    qcow2_put_be64(be, nb);
    int r =
        qcow2_file_write(s, file, be, 8, s->hdr.reftable_offset + ti * 8, err);
    if (r >= 0) {
        r = qcow2_flush_files(s, file, err);
    }
    if (r >= 0) {
        s->reftable[ti] = nb;
    }
    return r;
}

/* Places a new refcount block for cluster index ci on the first free
 * cluster, writes it and enters it in the table (growing the table when
 * needed).  Returns -EAGAIN on success: see the file comment. */
static int new_refblock(qcow2_state *s, img_file *file, uint64_t ci,
                        img_err *err)
{
    uint64_t ti = ci >> s->rb_bits, nb = 0;
    qcow2_rb_slot *slot;
    int r = find_free(s, file, 1, &nb, err);
    if (r >= 0 && nb == 0) {
        r = qcow2_mark_corrupt(s, file, err,
                               "Preventing invalid allocation "
                               "of refcount block at offset 0");
    }
    if (r < 0) {
        return r;
    }
    uint64_t nci = nb >> s->cluster_bits;
    if ((nci >> s->rb_bits) != ti) {
        /* Counted by another block: that update may itself need a new
         * block (at most twice before one describes itself). */
        r = qcow2_update_refcount(s, file, nb, s->cluster_size, 1, 0, 0, err);
        if (r >= 0) {
            r = rb_flush(s, file, err);
        }
    }
    if (r >= 0) {
        r = qcow2_overlap_check(s, file, nb, s->cluster_size, err);
    }
    if (r >= 0) {
        r = qcow2_rb_new_slot(s, file, nb, &slot, err);
    }
    if (r < 0) {
        return r;
    }
    if ((nci >> s->rb_bits) == ti) {
        qcow2_rb_set_entry(slot->block, s->hdr.refcount_order,
                           nci & ((1ull << s->rb_bits) - 1), 1);
    }
    r = rb_flush(s, file, err);
    if (r >= 0 && ti < s->reftable_entries) {
        r = hook_refblock(s, file, ti, nb, err);
    } else if (r >= 0) {
        /* The table is too small: new blocks for the area past the last
         * one needed so far describe themselves and the new table. */
        uint64_t used = ci + 1 > nci + 1 ? ci + 1 : nci + 1;
        uint64_t blocks = div_round_up(used, 1ull << s->rb_bits);
        uint64_t meta = (blocks << s->rb_bits) << s->cluster_bits, end;
        r = qcow2_refcount_area(s, file, meta, 0, 0, ti, nb, &end, err);
    }
    return r < 0 ? r : -EAGAIN;
}

/* The existing refcount block at off (reftable index ti), to be
 * updated: refused when it lies so far past the end of the file that
 * writing it back would grow the file to where a crafted entry says. */
static int rb_load_for_update(qcow2_state *s, img_file *file, uint64_t off,
                              uint64_t ti, qcow2_rb_slot **slot, img_err *err)
{
    if (qcow2_far_past_end(s, off)) {
        return img_err_set(err, EIO,
                           "Refblock offset %#" PRIx64 " lies past the end "
                           "of the file (reftable index: %#" PRIx64 "); "
                           "run 'check -r all'",
                           off, ti);
    }
    return qcow2_rb_load(s, file, off, ti, slot, err);
}

/* Whether cluster index ci has a refcount block (the table is loaded). */
static int rb_present(const qcow2_state *s, uint64_t ci)
{
    uint64_t ti = ci >> s->rb_bits;
    return ti < s->reftable_entries && s->reftable[ti];
}

/* The refcount block slot for cluster index ci, allocated if missing. */
static int rb_for_cluster(qcow2_state *s, img_file *file, uint64_t ci,
                          qcow2_rb_slot **slot, img_err *err)
{
    uint64_t ti = ci >> s->rb_bits;
    if (rb_present(s, ci)) {
        uint64_t off = s->reftable[ti] & QCOW2_REFT_OFFSET_MASK;
        if (qcow2_cluster_offset_in(s, off) || off == 0) {
            return qcow2_mark_corrupt(s, file, err,
                                      "Refblock offset %#" PRIx64
                                      " unaligned (reftable index: "
                                      "%#" PRIx64 ")",
                                      off, ti);
        }
        return rb_load_for_update(s, file, off, ti, slot, err);
    }
    return new_refblock(s, file, ci, err);
}

/* Applies the change to one cluster's entry in slot. */
static int change_one(qcow2_state *s, qcow2_rb_slot *slot, uint64_t ci,
                      uint64_t addend, int decrease, uint64_t *newrc,
                      img_err *err)
{
    uint64_t bi = ci & ((1ull << s->rb_bits) - 1);
    uint64_t rc = qcow2_rb_entry(slot->block, s->hdr.refcount_order, bi);
    if (decrease ? rc < addend : addend > s->refcount_max - rc) {
        return img_err_set(
            err, EINVAL, "Refcount of cluster %#" PRIx64 " would %s",
            ci << s->cluster_bits, decrease ? "drop below zero" : "overflow");
    }
    rc = decrease ? rc - addend : rc + addend;
    qcow2_rb_set_entry(slot->block, s->hdr.refcount_order, bi, rc);
    slot->dirty = 1;
    *newrc = rc;
    return 0;
}

/* One cluster at a time: the block of each cluster is found (or made:
 * then -EAGAIN after undoing), its entry changed; a cluster that becomes
 * free is forgotten by the caches and maybe punched out. */
int qcow2_update_refcount(qcow2_state *s, img_file *file, uint64_t off,
                          uint64_t len, uint64_t addend, int decrease,
                          int punch, img_err *err)
{
    if (len == 0) {
        return 0;
    }
    uint64_t start = qcow2_cluster_start(s, off);
    uint64_t last = qcow2_cluster_start(s, off + len - 1), cur;
    uint64_t cur_ti = UINT64_MAX;
    qcow2_rb_slot *slot = NULL;
    int r = 0;
    for (cur = start; cur <= last; cur += s->cluster_size) {
        uint64_t ci = cur >> s->cluster_bits, rc = 0;
        if (decrease && !rb_present(s, ci)) {
            /* refcount 0 already: no block is made only to fail below */
            r = img_err_set(err, EINVAL, "Refcount of cluster %#" PRIx64
                            " would drop below zero", cur);
            break;
        }
        if ((ci >> s->rb_bits) != cur_ti || !slot) {
            r = rb_for_cluster(s, file, ci, &slot, err);
            if (r == -EAGAIN &&
                s->free_cluster_index > (start >> s->cluster_bits)) {
                /* try the same clusters first when searching again */
                s->free_cluster_index = start >> s->cluster_bits;
            }
            if (r < 0) {
                break;
            }
            cur_ti = ci >> s->rb_bits;
        }
        r = change_one(s, slot, ci, addend, decrease, &rc, err);
        if (r < 0) {
            break;
        }
        if (rc == 0) {
            if (slot->offset == cur) {
                slot = NULL; /* the block freed itself (corrupt image) */
            }
            cluster_freed(s, file, cur, punch);
        }
    }
    if (r < 0 && cur > start) {
        /* undo what was done; those blocks exist, so this cannot recurse
         * into allocations */
        (void)qcow2_update_refcount(s, file, start, cur - start, addend,
                                    !decrease, 0, NULL);
    }
    return r;
}

/* Search, count, and search again when counting placed metadata where
 * the clusters were (QEMU's qcow2_alloc_clusters). */
int qcow2_alloc_clusters(qcow2_state *s, img_file *file, uint64_t bytes,
                         uint64_t *off, img_err *err)
{
    uint64_t n = div_round_up(bytes, s->cluster_size);
    int r;
    do {
        r = find_free(s, file, n, off, err);
        if (r >= 0) {
            r = qcow2_update_refcount(s, file, *off, n << s->cluster_bits, 1, 0,
                                      0, err);
        }
    } while (r == -EAGAIN);
    if (r >= 0 && !s->lazy) {
        s->l2_wait_ref = 1; /* references must wait for the refcounts */
    }
    return r;
}

/* As many of the n clusters at off as are free in a row, counted. */
int qcow2_alloc_clusters_at(qcow2_state *s, img_file *file, uint64_t off,
                            uint64_t n, uint64_t *got, img_err *err)
{
    int r;
    uint64_t i;
    do {
        uint64_t ci = off >> s->cluster_bits;
        r = 0;
        for (i = 0; i < n && r >= 0; i++) {
            uint64_t rc;
            r = qcow2_get_refcount(s, file, ci + i, &rc, err);
            if (r >= 0 && rc != 0) {
                break;
            }
        }
        if (r >= 0) {
            r = qcow2_update_refcount(s, file, off, i << s->cluster_bits, 1, 0,
                                      0, err);
        }
    } while (r == -EAGAIN);
    if (r >= 0 && !s->lazy) {
        s->l2_wait_ref = 1;
    }
    *got = r < 0 ? 0 : i;
    return r;
}

/* Compressed clusters are packed: each starts where the previous one
 * ended (free_byte_offset), in the same host cluster or the adjacent
 * one; every host cluster a compressed cluster touches gets a reference
 * (QEMU's qcow2_alloc_bytes). */
int qcow2_alloc_bytes(qcow2_state *s, img_file *file, uint64_t size,
                      uint64_t *off, img_err *err)
{
    uint64_t o = s->free_byte_offset;
    int r;
    if (o) {
        uint64_t rc;
        r = qcow2_get_refcount(s, file, o >> s->cluster_bits, &rc, err);
        if (r < 0) {
            return r;
        }
        if (rc == 0 || rc == s->refcount_max) {
            o = 0;
        }
    }
    uint64_t room = s->cluster_size - qcow2_cluster_offset_in(s, o);
    do {
        if (!o || room < size) {
            uint64_t nc = 0;
            r = find_free(s, file, 1, &nc, err);
            if (r < 0) {
                return r;
            }
            /* continue into the next cluster when it is the adjacent one */
            if (!o ||
                ((o + s->cluster_size - 1) & ~(s->cluster_size - 1)) != nc) {
                o = nc;
                room = s->cluster_size;
            } else {
                room += s->cluster_size;
            }
        }
        r = qcow2_update_refcount(s, file, o, size, 1, 0, 0, err);
        if (r < 0) {
            o = 0;
        }
    } while (r == -EAGAIN);
    if (r < 0) {
        return r;
    }
    if (!s->lazy) {
        s->l2_wait_ref = 1;
    }
    *off = o;
    s->free_byte_offset = qcow2_cluster_offset_in(s, o + size) ? o + size : 0;
    return 0;
}

int qcow2_write_new_clusters(qcow2_state *s, img_file *file,
                             const void *buf, uint64_t len, uint64_t *off,
                             img_err *err)
{
    int r = qcow2_alloc_clusters(s, file, len, off, err);
    if (r < 0) {
        return r;
    }
    /* the refcounts of the new clusters first */
    r = qcow2_meta_flush(s, file, err);
    if (r >= 0) {
        r = qcow2_overlap_check(s, file, *off, len, err);
    }
    if (r >= 0) {
        r = qcow2_file_write(s, file, buf, len, *off, err);
    }
    if (r >= 0) {
        r = qcow2_flush_files(s, file, err);
    }
    if (r < 0) {
        (void)qcow2_free_clusters(s, file, *off, len, 0, NULL);
    }
    return r;
}

int qcow2_free_clusters(qcow2_state *s, img_file *file, uint64_t off,
                        uint64_t len, int punch, img_err *err)
{
    int r = qcow2_update_refcount(s, file, off, len, 1, 1, punch, err);
    if (r < 0) {
        img_err_prepend(err, "Could not free clusters at %#" PRIx64 ": ", off);
    }
    return r;
}

/* Fills the refcount blocks of reftable indexes [first, total) for the
 * area [start, end): existing blocks are reused, missing ones created
 * at *block_off onwards; the new structures get refcount 1. */
static int fill_area_blocks(qcow2_state *s, img_file *file, uint64_t *table,
                            uint64_t first, uint64_t total, uint64_t start,
                            uint64_t end, uint64_t *block_off, img_err *err)
{
    uint64_t per_block = 1ull << s->rb_bits;
    for (uint64_t i = first; i < total; i++) {
        qcow2_rb_slot *slot;
        int r;
        if (table[i]) {
            r = rb_load_for_update(s, file, table[i], i, &slot, err);
        } else {
            r = qcow2_rb_new_slot(s, file, *block_off, &slot, err);
            table[i] = *block_off;
            *block_off += s->cluster_size;
        }
        if (r < 0) {
            return r;
        }
        uint64_t covered = (i * per_block) << s->cluster_bits;
        if (covered >= end) {
            continue;
        }
        uint64_t j = covered < start ? (start - covered) >> s->cluster_bits : 0;
        uint64_t stop = (end - covered) >> s->cluster_bits;
        for (stop = stop < per_block ? stop : per_block; j < stop; j++) {
            qcow2_rb_set_entry(slot->block, s->hdr.refcount_order, j, 1);
        }
        slot->dirty = 1;
    }
    return 0;
}

/* Writes the new table, switches the header to it (durably) and frees
 * the old one.  Takes ownership of table. */
static int switch_reftable(qcow2_state *s, img_file *file, uint64_t *table,
                           uint64_t entries, uint64_t off, img_err *err)
{
    size_t bytes = entries * 8;
    uint8_t *be = malloc(bytes);
    if (!be) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint64_t i = 0; i < entries; i++) {
        qcow2_put_be64(be + i * 8, table[i]);
    }
    int r = qcow2_file_write(s, file, be, bytes, off, err);
    free(be);
    if (r >= 0) {
        r = qcow2_flush_files(s, file, err);
    }
    uint8_t hdr[12];
    uint32_t clusters = (uint32_t)(bytes >> s->cluster_bits);
    qcow2_put_be64(hdr, off);
    qcow2_put_be32(hdr + 8, clusters);
    if (r >= 0) {
        r = qcow2_header_write_field(s, file, QCOW2_HDR_REFTABLE_OFFSET, hdr,
                                     sizeof(hdr), err);
    }
    if (r < 0) {
        free(table);
        return r;
    }
    uint64_t old_off = s->hdr.reftable_offset;
    uint64_t old_bytes = (uint64_t)s->hdr.reftable_clusters << s->cluster_bits;
    free(s->reftable);
    s->reftable = table;
    s->reftable_entries = entries;
    s->hdr.reftable_offset = off;
    s->hdr.reftable_clusters = clusters;
    return qcow2_free_clusters(s, file, old_off, old_bytes, 0, err);
}

/* Layout (QEMU's qcow2_refcount_area): at start, the refcount blocks
 * missing for the area from start on, then the new table; the blocks
 * count themselves and the table.  The table is sized by the fixed point
 * of qcow2_refcount_metadata_size(), with half again as room to grow
 * unless exact. */
int qcow2_refcount_area(qcow2_state *s, img_file *file, uint64_t start,
                        uint64_t additional, int exact, uint64_t rb_index,
                        uint64_t rb_offset, uint64_t *end, img_err *err)
{
    uint64_t total, per_table_cluster = s->cluster_size / 8;
    qcow2_refcount_metadata_size((start >> s->cluster_bits) + additional,
                                 s->cluster_size, s->hdr.refcount_order, !exact,
                                 &total);
    uint64_t size = exact ? total : total + div_round_up(total, 2);
    size = div_round_up(size, per_table_cluster) * per_table_cluster;
    if (size * 8 > QCOW2_MAX_REFTABLE_BYTES) {
        return img_err_set(err, EFBIG, "Reference count table too large");
    }
    uint64_t *table = calloc(size, sizeof(*table));
    if (!table) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    uint64_t keep = s->reftable_entries < size ? s->reftable_entries : size;
    memcpy(table, s->reftable, keep * sizeof(*table));
    if (rb_offset) {
        table[rb_index] = rb_offset;
    }
    uint64_t first = (start >> s->cluster_bits) >> s->rb_bits, missing = 0;
    for (uint64_t i = first; i < total; i++) {
        missing += table[i] == 0;
    }
    uint64_t table_off = start + (missing << s->cluster_bits);
    uint64_t end_off = table_off + size * 8;
    uint64_t block_off = start;
    int r = qcow2_overlap_check(s, file, start, end_off - start, err);
    if (r >= 0) {
        r = fill_area_blocks(s, file, table, first, total, start, end_off,
                             &block_off, err);
    }
    if (r >= 0) {
        r = rb_flush(s, file, err);
    }
    if (r >= 0) {
        r = switch_reftable(s, file, table, size, table_off, err);
        table = NULL;
    }
    free(table);
    *end = end_off;
    return r;
}

/* Scans back from the end of the file. */
int qcow2_last_used_cluster(qcow2_state *s, img_file *file, uint64_t *end,
                            img_err *err)
{
    uint64_t i = div_round_up(s->file_size, s->cluster_size);
    while (i > 0) {
        uint64_t rc;
        int r = qcow2_get_refcount(s, file, i - 1, &rc, err);
        if (r < 0) {
            return r;
        }
        if (rc) {
            break;
        }
        i--;
    }
    *end = i;
    return 0;
}
