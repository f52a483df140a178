/* formats/qcow2/qcow2_resize.c -- changing the virtual size ("resize",
 * and the last step of "create"), with preallocation of the new part.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Header" (size, l1_size) and
 * "Cluster mapping".  Growing makes the L1 table long enough (a new table
 * when it must grow), then preallocates as QEMU does:
 *   - metadata: L2 tables and data clusters are allocated (one L2 table,
 *     then its data clusters), the data is not written (the file's holes
 *     read as zeros);
 *   - falloc/full: refcount structures for the whole new area are placed
 *     first at the end of the file, the data area after them is reserved
 *     (fallocate) or written with zeros, then the L2 tables are filled.
 * Shrinking is allowed when nothing is allocated past the new end (zero
 * or unallocated clusters only); the L2 tables there are freed and the
 * file's tail cut.  (qemu-img 7.2 discards the data instead; we refuse.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* Whether entry e must get a host cluster to be preallocated (QEMU keeps
 * clusters it may write in place). */
static int needs_cluster(const qcow2_state *s, uint64_t e)
{
    int allocated = (e & QCOW2_L2E_OFFSET_MASK) ||
                    (s->data_file_used && (e & QCOW2_OFLAG_COPIED));
    return !allocated || !(e & QCOW2_OFLAG_COPIED) ||
           (e & QCOW2_OFLAG_COMPRESSED);
}

/* Reused space may hold old data: it is zeroed (fresh space past the end
 * of the file reads as zeros anyway). */
static int clear_reused(qcow2_state *s, img_file *file, uint64_t host,
                        uint64_t len, img_err *err)
{
    if (s->data_file_used || host >= s->file_size) {
        return 0;
    }
    uint64_t n = s->file_size - host < len ? s->file_size - host : len;
    return img_file_write_zeroes(file, host, n, err);
}

/* Fills the partial first or last cluster of a new run from the guest
 * view: [gstart, gend) at host. */
static int cow_part(img *im, uint64_t host, uint64_t gstart, uint64_t gend,
                    img_err *err)
{
    qcow2_state *s = im->state;
    if (gstart >= gend) {
        return 0;
    }
    uint8_t *buf = malloc(gend - gstart);
    if (!buf) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = qcow2_read_guest(im, buf, gend - gstart, gstart, err);
    if (r >= 0) {
        r = qcow2_data_write(s, buf, gend - gstart, host, err);
    }
    free(buf);
    return r;
}

/* The end of the copy-on-write tail after guest offset end: the rest of
 * its cluster (its subcluster with extended L2 entries). */
static uint64_t tail_end(const qcow2_state *s, uint64_t end)
{
    uint64_t unit = 1ull << (s->extl2 ? s->sc_bits : s->cluster_bits);
    return (end + unit - 1) & ~(unit - 1);
}

/* Points n clusters of slot from idx (guest cluster cstart) at host,
 * with the partial head [cstart, off) and tail [end, ...) copied from
 * the guest view.  *host_end is raised to where guest offset end lands. */
static int link_run(img *im, qcow2_l2_slot *slot, uint64_t idx, uint64_t n,
                    uint64_t host, uint64_t off, uint64_t end,
                    uint64_t *host_end, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t cstart = qcow2_cluster_start(s, off);
    uint64_t cend = cstart + (n << s->cluster_bits);
    uint64_t tend = tail_end(s, end) < cend ? tail_end(s, end) : cend;
    int r = cow_part(im, host, cstart, off, err);
    if (r >= 0 && end < cend) {
        r = cow_part(im, host + (end - cstart), end, tend, err);
    }
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        uint64_t old = qcow2_l2e(s, slot->table, idx + i);
        uint64_t bm = qcow2_l2_bitmap(s, slot->table, idx + i);
        uint64_t e = (host + (i << s->cluster_bits)) | QCOW2_OFLAG_COPIED;
        if (old & QCOW2_OFLAG_COMPRESSED) {
            bm = 0;
        }
        qcow2_set_l2e(s, slot->table, idx + i, e, bm);
        slot->dirty = 1;
        if ((old & QCOW2_L2E_OFFSET_MASK) && !s->data_file_used) {
            uint64_t coff = old & QCOW2_L2E_OFFSET_MASK, clen = s->cluster_size;
            if (old & QCOW2_OFLAG_COMPRESSED) {
                qcow2_compressed_range(s, old, &coff, &clen);
            }
            r = qcow2_defer_free(s, im->file, coff, clen, 0, err);
        }
    }
    /* the file must reach the run's last guest byte (QEMU's rule) */
    uint64_t run_end = host + ((end < cend ? end : cend) - cstart);
    if (r >= 0 && run_end > *host_end) {
        *host_end = run_end;
    }
    return r;
}

/* Preallocates the clusters of [off, end) inside one L2 table: runs of
 * clusters that need one get new host clusters, or (falloc/full) the
 * next ones from *cursor. */
static int prealloc_table(img *im, uint64_t off, uint64_t end, uint64_t *cursor,
                          uint64_t *host_end, img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_l2_slot *slot;
    int r = qcow2_l2_for_write(im, off, &slot, err);
    if (r < 0) {
        return r;
    }
    while (r >= 0 && off < end) {
        uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
        uint64_t last = (end - 1) >> s->cluster_bits;
        uint64_t max = last - (off >> s->cluster_bits) + 1, n = 0, host;
        while (n < max && (cursor || needs_cluster(s, qcow2_l2e(s, slot->table,
                                                                idx + n)))) {
            n++;
        }
        uint64_t step = qcow2_cluster_start(s, off) + (n << s->cluster_bits);
        if (n == 0) {
            /* an allocated cluster stays as it is */
            off = qcow2_cluster_start(s, off) + s->cluster_size;
            continue;
        }
        if (cursor) {
            host = *cursor;
            *cursor += n << s->cluster_bits;
        } else if (s->data_file_used) {
            host = qcow2_cluster_start(s, off);
        } else {
            r = qcow2_alloc_clusters(s, im->file, n << s->cluster_bits, &host,
                                     err);
            if (r >= 0) {
                r = clear_reused(s, im->file, host, n << s->cluster_bits, err);
            }
        }
        if (r >= 0) {
            r = link_run(im, slot, idx, n, host, off, end < step ? end : step,
                         host_end, err);
        }
        off = step;
    }
    qcow2_l2_unpin(slot);
    return r;
}

/* Preallocates [off, end) table by table; the file is then extended to
 * the end of the last cluster. */
static int prealloc_range(img *im, uint64_t off, uint64_t end, uint64_t *cursor,
                          img_err *err)
{
    qcow2_state *s = im->state;
    unsigned span_bits = s->cluster_bits + s->l2_bits;
    uint64_t host_end = 0;
    while (off < end) {
        uint64_t span_end = ((off >> span_bits) + 1) << span_bits;
        uint64_t n = end < span_end ? end : span_end;
        int r = prealloc_table(im, off, n, cursor, &host_end, err);
        if (r < 0) {
            return r;
        }
        off = n;
    }
    img_file *f = s->data_owned ? s->data_owned : im->file;
    uint64_t size = s->data_owned ? s->data_size : s->file_size;
    if (host_end > size) {
        int r = img_file_truncate(f, host_end, err);
        if (r < 0) {
            return r;
        }
        if (s->data_owned) {
            s->data_size = host_end;
        } else {
            s->file_size = s->data_size = host_end;
        }
    }
    return 0;
}

/* Metadata preallocation (and falloc/full with an external data
 * file, whose clusters need no allocation). */
int qcow2_preallocate(img *im, uint64_t off, uint64_t end, img_err *err)
{
    return off < end ? prealloc_range(im, off, end, NULL, err) : 0;
}

/* Grows the file to end, reserving (falloc) or zero-writing (full)
 * [from, end). */
static int grow_file(img_file *f, uint64_t from, uint64_t end, int prealloc,
                     img_err *err)
{
    int r = img_file_truncate(f, end, err);
    if (r < 0 || from >= end || prealloc == IMG_PREALLOC_OFF ||
        prealloc == IMG_PREALLOC_METADATA) {
        return r;
    }
    if (prealloc == IMG_PREALLOC_FALLOC) {
        r = img_file_allocate(f, from, end - from, err);
        return r == -ENOTSUP ? 0 : r;
    }
    static const uint8_t zeros[65536];
    for (uint64_t o = from; o < end && r >= 0; o += sizeof(zeros)) {
        uint64_t n = end - o < sizeof(zeros) ? end - o : sizeof(zeros);
        r = img_file_pwrite(f, zeros, n, o, err);
    }
    return r;
}

/* falloc/full without a data file: QEMU's layout (see the file
 * comment). */
static int prealloc_data_area(img *im, uint64_t old, uint64_t size,
                              int prealloc, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t used, start, got;
    int r = qcow2_last_used_cluster(s, im->file, &used, err);
    if (r < 0) {
        return r;
    }
    uint64_t file_end =
        used ? used << s->cluster_bits
             : (s->file_size + s->cluster_size - 1) & ~(s->cluster_size - 1);
    uint64_t first = qcow2_cluster_start(s, old);
    uint64_t n =
        (((size + s->cluster_size - 1) & ~(s->cluster_size - 1)) - first) >>
        s->cluster_bits;
    uint64_t per_l2 = 1ull << s->l2_bits;
    uint64_t l2s = n / per_l2 + (n % per_l2 != 0) + 1;
    r = qcow2_refcount_area(s, im->file, file_end, n + l2s, 1, 0, 0, &start,
                            err);
    if (r >= 0) {
        r = qcow2_alloc_clusters_at(s, im->file, start, n, &got, err);
    }
    if (r >= 0 && got != n) {
        r = img_err_set(err, EIO, "Could not reserve the data area");
    }
    uint64_t end = start + (n << s->cluster_bits);
    if (r >= 0) {
        uint64_t from = s->file_size > start ? s->file_size : start;
        r = grow_file(im->file, from, end, prealloc, err);
    }
    if (r >= 0) {
        s->file_size = s->data_size = end;
        r = prealloc_range(im, old, size, &start, err);
    }
    return r;
}

/* Grows the external data file with the requested preallocation. */
static int grow_data_file(qcow2_state *s, uint64_t size, int prealloc,
                          img_err *err)
{
    if (size <= s->data_size) {
        return 0;
    }
    int r = grow_file(s->data_owned, s->data_size, size, prealloc, err);
    if (r >= 0) {
        s->data_size = size;
    }
    return r;
}

/* The L1 table first (exactly as long as needed, as QEMU makes it),
 * then the preallocation of [old, size). */
static int grow(img *im, uint64_t old, uint64_t size, int prealloc,
                img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t entries = qcow2_l1_entries_for(s->cluster_bits, s->l2_bits, size);
    int r = qcow2_l1_grow(s, im->file, entries, err);
    if (r < 0) {
        return r;
    }
    if (prealloc == IMG_PREALLOC_OFF) {
        return s->data_owned ? grow_data_file(s, size, prealloc, err) : 0;
    }
    if (prealloc == IMG_PREALLOC_METADATA || s->data_owned) {
        r = qcow2_preallocate(im, old, size, err);
        if (r >= 0 && s->data_owned) {
            r = grow_data_file(s, size, prealloc, err);
        }
        return r;
    }
    return prealloc_data_area(im, old, size, prealloc, err);
}

/* Refuses to cut off anything but zero or unallocated clusters. */
static int check_cut(img *im, uint64_t from, uint64_t to, img_err *err)
{
    qcow2_state *s = im->state;
    while (from < to) {
        qcow2_extent e;
        int r = qcow2_map(s, im->file, from, to - from, &e, err);
        if (r < 0) {
            return r;
        }
        if (e.kind != QCOW2_UNALLOC && e.kind != QCOW2_ZERO_PLAIN) {
            return img_err_set(err, ENOTSUP,
                               "qcow2: Cannot shrink the "
                               "image: there is data beyond the new size "
                               "(at offset %" PRIu64 "); discard it first",
                               from);
        }
        from += e.len;
    }
    return 0;
}

/* Drops the L2 tables past the new end and cuts the file's tail. */
static int shrink(img *im, uint64_t size, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t cut = (size + s->cluster_size - 1) & ~(s->cluster_size - 1);
    int r = check_cut(im, cut, im->size, err);
    uint64_t keep = qcow2_l1_entries_for(s->cluster_bits, s->l2_bits, size);
    for (uint64_t i = keep; r >= 0 && i < s->l1_loaded; i++) {
        uint64_t l2 = s->l1[i] & QCOW2_L1E_OFFSET_MASK;
        if (!s->l1[i]) {
            continue;
        }
        s->l1[i] = 0;
        r = qcow2_write_l1_entry(s, im->file, i, err);
        if (r >= 0 && l2) {
            r = qcow2_defer_free(s, im->file, l2, s->cluster_size, 1, err);
        }
    }
    if (r >= 0) {
        r = qcow2_meta_flush(s, im->file, err);
    }
    uint64_t used;
    if (r >= 0) {
        r = qcow2_last_used_cluster(s, im->file, &used, err);
    }
    if (r >= 0 && (used << s->cluster_bits) < s->file_size) {
        /* a tail that cannot be cut only wastes space */
        if (img_file_truncate(im->file, used << s->cluster_bits, NULL) >= 0) {
            s->file_size = used << s->cluster_bits;
            s->data_size = s->data_owned ? s->data_size : s->file_size;
        }
    }
    return r;
}

/* QEMU's checks first, then grow or shrink, and the new size goes to
 * the header last. */
int qcow2_truncate(img *im, uint64_t size, int prealloc, img_err *err)
{
    qcow2_state *s = im->state;
    if (size % 512) {
        return img_err_set(err, EINVAL,
                           "The new size must be a multiple "
                           "of 512");
    }
    /* v3 snapshots record their own size, so QEMU resizes v3 images
     * that have snapshots (tables past the end lose one reference). */
    if (s->nb_snapshots && s->hdr.version < 3) {
        return img_err_set(err, ENOTSUP,
                           "Can't resize a v2 image which has "
                           "snapshots");
    }
    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE) {
        return img_err_set(err, ENOTSUP,
                           "Resizing encrypted qcow2 images is "
                           "not supported");
    }
    uint64_t old = im->size;
    if (size < old && prealloc != IMG_PREALLOC_OFF) {
        return img_err_set(err, ENOTSUP,
                           "Preallocation can't be used for "
                           "shrinking an image");
    }
    int r = qcow2_prepare_write(s, im->file, err);
    if (r >= 0) {
        r = size < old ? shrink(im, size, err)
                       : grow(im, old, size, prealloc, err);
    }
    uint8_t be[8];
    qcow2_put_be64(be, size);
    if (r >= 0) {
        r = qcow2_header_write_field(s, im->file, QCOW2_HDR_SIZE, be, 8, err);
    }
    if (r >= 0) {
        s->hdr.size = size;
    }
    return r;
}
