/* formats/qcow2/qcow2_zero.c -- zero writes and discard.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Standard Cluster Descriptor" (bit 0,
 * the zero flag, version 3) and "Extended L2 Entries" (per-subcluster zero
 * bits).  Whole clusters (or subclusters) become zero clusters: with
 * IMG_WRITE_MAY_UNMAP, or for a compressed cluster, the host cluster is
 * dropped; otherwise it stays preallocated.  A partial cluster that
 * already reads as zeros is left alone (or made a zero cluster when all of
 * it reads as zeros); anything else is written with zeros.  Version 2 has
 * no zero flag, so zeros are written there.  Discard follows QEMU: whole
 * clusters only, and a discarded cluster reads as zeros in version 3 (it
 * falls through to the backing file in version 2).
 *
 * As for writes, a host cluster that loses its reference is freed after
 * the L2 change is on disk (qcow2_defer_free); those are punched out of
 * the file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* All zero bits of an extended L2 bitmap, no allocation bits. */
#define ALL_ZEROES (QCOW2_SC_ALLOC_MASK << QCOW2_SC_ZERO_SHIFT)

static int entry_allocated(const qcow2_state *s, uint64_t e)
{
    return (e & QCOW2_L2E_OFFSET_MASK) ||
           (s->data_file_used && (e & QCOW2_OFLAG_COPIED));
}

/* Frees the host space of an entry that was replaced (punched). */
static int release(qcow2_state *s, img_file *file, uint64_t old, img_err *err)
{
    if (old & QCOW2_OFLAG_COMPRESSED) {
        uint64_t coff, csize;
        qcow2_compressed_range(s, old, &coff, &csize);
        return qcow2_defer_free(s, file, coff, csize, 1, err);
    }
    uint64_t host = old & QCOW2_L2E_OFFSET_MASK;
    if (!host || s->data_file_used) {
        return 0;
    }
    return qcow2_defer_free(s, file, host, s->cluster_size, 1, err);
}

/* Replaces entry idx, freeing its host cluster when unmap. */
static int replace(qcow2_state *s, img_file *file, qcow2_l2_slot *slot,
                   uint64_t idx, uint64_t e, uint64_t bm, int unmap,
                   img_err *err)
{
    uint64_t old = qcow2_l2e(s, slot->table, idx);
    if (old == e && qcow2_l2_bitmap(s, slot->table, idx) == bm) {
        return 0;
    }
    qcow2_set_l2e(s, slot->table, idx, e, bm);
    slot->dirty = 1;
    return unmap ? release(s, file, old, err) : 0;
}

/* Zeroes the whole cluster of entry idx. */
static int zero_cluster(qcow2_state *s, img_file *file, qcow2_l2_slot *slot,
                        uint64_t idx, unsigned flags, img_err *err)
{
    uint64_t e = qcow2_l2e(s, slot->table, idx);
    int compressed = (e & QCOW2_OFLAG_COMPRESSED) != 0;
    int unmap =
        compressed || ((flags & IMG_WRITE_MAY_UNMAP) && entry_allocated(s, e));
    uint64_t keep = unmap ? 0 : e;
    if (s->extl2) {
        return replace(s, file, slot, idx, keep, ALL_ZEROES, unmap, err);
    }
    return replace(s, file, slot, idx, keep | QCOW2_OFLAG_ZERO, 0, unmap, err);
}

/* Extended L2: subclusters [a, b] of entry idx read as zeros. */
static int zero_subclusters(img *im, qcow2_l2_slot *slot, uint64_t idx,
                            unsigned a, unsigned b, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t e = qcow2_l2e(s, slot->table, idx);
    uint64_t bm = qcow2_l2_bitmap(s, slot->table, idx);
    uint64_t n = b - a + 1;
    uint64_t bits = (n >= 32 ? QCOW2_SC_ALLOC_MASK : (1ull << n) - 1) << a;
    if (e & QCOW2_OFLAG_COMPRESSED) {
        return -ENOTSUP; /* no subclusters: the caller writes zeros */
    }
    bm = (bm & ~bits) | (bits << QCOW2_SC_ZERO_SHIFT);
    return replace(s, im->file, slot, idx, e, bm, 0, err);
}

/* Writes real zeros over [off, off + len). */
static int write_zero_data(img *im, uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint8_t *zeros = calloc(1, s->cluster_size);
    if (!zeros) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = 0;
    while (r >= 0 && len > 0) {
        uint64_t n = len < s->cluster_size ? len : s->cluster_size;
        r = qcow2_pwrite(im, zeros, n, off, 0, err);
        off += n;
        len -= n;
    }
    free(zeros);
    return r;
}

/* One cluster's aligned units [off, off + len) (the whole cluster, or
 * subclusters). */
static int zero_units(img *im, qcow2_l2_slot *slot, uint64_t off, uint64_t len,
                      unsigned flags, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    uint64_t in = qcow2_cluster_offset_in(s, off);
    /* the cluster cut by the end of the image counts as whole */
    if (in == 0 && (len >= s->cluster_size || off + len == im->size)) {
        return zero_cluster(s, im->file, slot, idx, flags, err);
    }
    unsigned a = (unsigned)(in >> s->sc_bits);
    unsigned b = (unsigned)((in + len - 1) >> s->sc_bits);
    int r = zero_subclusters(im, slot, idx, a, b, err);
    return r == -ENOTSUP ? write_zero_data(im, off, len, err) : r;
}

/* Whether [off, off + len) of the backing chain reads as zeros (an
 * unallocated range of ours then reads as zeros too). */
static int backing_zero(img *im, uint64_t off, uint64_t len, img_err *err)
{
    img *b = im->backing;
    if (!b || off >= img_size(b)) {
        return 1;
    }
    uint64_t end = off + len < img_size(b) ? off + len : img_size(b);
    while (off < end) {
        uint64_t pnum, host;
        int depth;
        img *fi;
        int r = img_block_status_above(b, NULL, off, end - off, &pnum, &host,
                                       &depth, &fi, err);
        if (r < 0) {
            return r;
        }
        if (!(r & IMG_BS_ZERO)) {
            return 0;
        }
        off += pnum;
    }
    return 1;
}

/* A partial unit [off, off + len) inside unit [ustart, uend). */
static int zero_partial(img *im, uint64_t off, uint64_t len, uint64_t ustart,
                        uint64_t uend, img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_extent e;
    int r = qcow2_map(s, im->file, ustart, uend - ustart, &e, err);
    if (r < 0) {
        return r;
    }
    int whole = e.len >= uend - ustart;
    if (whole && (e.kind == QCOW2_ZERO_PLAIN || e.kind == QCOW2_ZERO_ALLOC)) {
        return 0; /* reads as zeros already */
    }
    if (whole && (e.kind == QCOW2_UNALLOC || e.kind == QCOW2_UNALLOC_ALLOC) &&
        s->hdr.version >= 3) {
        r = backing_zero(im, ustart, uend - ustart, err);
        if (r < 0) {
            return r;
        }
        if (r) {
            /* all of it reads as zeros: a zero unit says the same */
            qcow2_l2_slot *slot;
            r = qcow2_l2_for_write(im, ustart, &slot, err);
            if (r >= 0) {
                r = zero_units(im, slot, ustart, uend - ustart, 0, err);
                qcow2_l2_unpin(slot);
            }
            return r;
        }
    }
    return write_zero_data(im, off, len, err);
}

/* Aligned zero units over [off, end), split at L2 table boundaries. */
static int zero_aligned(img *im, uint64_t off, uint64_t end, unsigned flags,
                        img_err *err)
{
    qcow2_state *s = im->state;
    unsigned span_bits = s->cluster_bits + s->l2_bits;
    while (off < end) {
        uint64_t span_end = ((off >> span_bits) + 1) << span_bits;
        uint64_t n = end - off < span_end - off ? end - off : span_end - off;
        qcow2_l2_slot *slot;
        int r = qcow2_l2_for_write(im, off, &slot, err);
        if (r < 0) {
            return r;
        }
        for (uint64_t done = 0; r >= 0 && done < n;) {
            uint64_t c =
                s->cluster_size - qcow2_cluster_offset_in(s, off + done);
            c = c < n - done ? c : n - done;
            r = zero_units(im, slot, off + done, c, flags, err);
            done += c;
        }
        qcow2_l2_unpin(slot);
        if (r < 0) {
            return r;
        }
        off += n;
    }
    return 0;
}

/* Version 2 (no zero flag): zeros are written, except where the image
 * already reads as zeros. */
static int zero_v2(img *im, uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    while (len > 0) {
        qcow2_extent e;
        int r = qcow2_map(s, im->file, off, len, &e, err);
        if (r >= 0 && e.kind == QCOW2_UNALLOC) {
            r = backing_zero(im, off, e.len, err);
            r = r < 0 ? r : r ? 0 : write_zero_data(im, off, e.len, err);
        } else if (r >= 0) {
            r = write_zero_data(im, off, e.len, err);
        }
        if (r < 0) {
            return r;
        }
        off += e.len;
        len -= e.len;
    }
    return 0;
}

/* Splits the range into a partial unit at each end and whole units
 * (clusters, or subclusters with extended L2 entries) between. */
int qcow2_pwrite_zeroes(img *im, uint64_t off, uint64_t len, unsigned flags,
                        img_err *err)
{
    qcow2_state *s = im->state;
    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE) {
        return img_err_set(err, ENOTSUP,
                           "Writing encrypted qcow2 images is "
                           "not supported");
    }
    int r = qcow2_prepare_write(s, im->file, err);
    if (r >= 0 && (s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
        /* the data file must read as zeros there too */
        r = img_file_write_zeroes(s->data, off, len, err);
    }
    if (r < 0 || s->hdr.version < 3) {
        return r < 0 ? r : zero_v2(im, off, len, err);
    }
    uint64_t unit = 1ull << (s->extl2 ? s->sc_bits : s->cluster_bits);
    uint64_t end = off + len;
    uint64_t astart = (off + unit - 1) & ~(unit - 1);
    /* the unit cut by the end of the image counts as whole */
    uint64_t aend = end == im->size ? end : end & ~(unit - 1);
    uint64_t ustart = off & ~(unit - 1);
    if (astart > aend || (astart == aend && aend == end)) {
        /* inside one unit, which it does not cover */
        return zero_partial(im, off, len, ustart, ustart + unit, err);
    }
    if (off < astart) {
        r = zero_partial(im, off, astart - off, astart - unit, astart, err);
    }
    if (r >= 0 && astart < aend) {
        r = zero_aligned(im, astart, aend, flags, err);
    }
    if (r >= 0 && aend < end) {
        r = zero_partial(im, aend, end - aend, aend, aend + unit, err);
    }
    return r;
}

/* Discards entry idx as QEMU does: it then reads as zeros (version 3) or
 * from the backing file (version 2). */
static int discard_entry(img *im, qcow2_l2_slot *slot, uint64_t idx,
                         uint64_t guest, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t e = qcow2_l2e(s, slot->table, idx);
    int allocated = entry_allocated(s, e) || (e & QCOW2_OFLAG_COMPRESSED);
    if (!im->backing && !allocated) {
        return 0; /* reads as zeros already */
    }
    uint64_t ne = s->extl2 || s->hdr.version < 3 ? 0 : QCOW2_OFLAG_ZERO;
    uint64_t nb = s->extl2 ? ALL_ZEROES : 0;
    int r = replace(s, im->file, slot, idx, ne, nb, 1, err);
    if (r >= 0 && s->data_file_used && allocated) {
        (void)img_file_punch_hole(s->data, guest, s->cluster_size, NULL);
    }
    return r;
}

/* Discards the whole clusters of [off, end) in one L2 table. */
static int discard_in_table(img *im, uint64_t off, uint64_t end, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t l1_idx = off >> (s->cluster_bits + s->l2_bits);
    if (!im->backing && l1_idx < s->l1_loaded && !s->l1[l1_idx]) {
        return 0; /* no table: nothing allocated */
    }
    qcow2_l2_slot *slot;
    int r = qcow2_l2_for_write(im, off, &slot, err);
    if (r < 0) {
        return r;
    }
    for (; r >= 0 && off < end; off += s->cluster_size) {
        uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
        r = discard_entry(im, slot, idx, off, err);
    }
    qcow2_l2_unpin(slot);
    return r;
}

/* Discard is advisory: partial clusters are left alone. */
int qcow2_discard(img *im, uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t start = (off + s->cluster_size - 1) & ~(s->cluster_size - 1);
    uint64_t end = off + len;
    /* partial clusters are ignored, except the last one of the image */
    if (end != im->size) {
        end &= ~(s->cluster_size - 1);
    }
    if (start >= end) {
        return 0;
    }
    if (s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW) {
        /* the raw data file must read the same: zeros there as well */
        return qcow2_pwrite_zeroes(im, start, end - start, IMG_WRITE_MAY_UNMAP,
                                   err);
    }
    int r = qcow2_prepare_write(s, im->file, err);
    unsigned span_bits = s->cluster_bits + s->l2_bits;
    while (r >= 0 && start < end) {
        uint64_t span_end = ((start >> span_bits) + 1) << span_bits;
        uint64_t n = end < span_end ? end : span_end;
        r = discard_in_table(im, start, n, err);
        start = n;
    }
    return r;
}
