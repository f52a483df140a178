/* formats/qcow2/qcow2_refcount.c -- reading reference counts.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Host cluster management": a
 * refcount table (contiguous, reftable_clusters long) points at refcount
 * blocks of one cluster, each holding cluster_size * 8 / refcount_bits
 * entries of 1 to 64 bits (sub-byte widths start at the least significant
 * bit).  The read side needs refcounts only to detect images with
 * preallocated metadata (see qcow2_detect_metadata_prealloc); a writer
 * builds its allocator on the same table and block cache.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* Refcount table entries: bits 9..63 are the block offset. */
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ull

/* Loads the refcount table on first use (bounded and inside the file by
 * the header checks). */
static int reftable_load(qcow2_state *s, img_file *file, img_err *err)
{
    if (s->reftable) {
        return 0;
    }
    uint64_t n = ((uint64_t)s->hdr.reftable_clusters << s->cluster_bits) /
                 8;
    uint64_t *t = malloc(n * sizeof(*t));
    if (!t) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = img_file_pread(file, t, n * 8, s->hdr.reftable_offset, err);
    if (r < 0) {
        img_err_prepend(err, "Could not read the refcount table: ");
        free(t);
        return r;
    }
    for (uint64_t i = 0; i < n; i++) {
        t[i] = qcow2_be64((const uint8_t *)&t[i]);
    }
    s->reftable = t;
    s->reftable_entries = n;
    return 0;
}

/* Returns the refcount block at off in s->refblock (a one-block cache). */
static int refblock_get(qcow2_state *s, img_file *file, uint64_t off,
                        uint64_t idx, img_err *err)
{
    if (s->refblock && s->refblock_offset == off) {
        return 0;
    }
    if (qcow2_cluster_offset_in(s, off) || off > s->file_size ||
        s->cluster_size > s->file_size - off) {
        return img_err_set(err, EIO, "Refblock offset %#" PRIx64 " invalid "
                           "(reftable index: %#" PRIx64 ")", off, idx);
    }
    if (!s->refblock && !(s->refblock = malloc(s->cluster_size))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    s->refblock_offset = 0;
    int r = img_file_pread(file, s->refblock, s->cluster_size, off, err);
    if (r < 0) {
        return r;
    }
    s->refblock_offset = off;
    return 0;
}

/* Entry i of a refcount block with 2^order-bit entries. */
static uint64_t refblock_entry(const uint8_t *b, unsigned order, uint64_t i)
{
    unsigned bits = 1u << order;
    if (bits < 8) {
        unsigned shift = (unsigned)((i * bits) % 8);
        return (b[i * bits / 8] >> shift) & ((1u << bits) - 1);
    }
    uint64_t v = 0;
    for (unsigned k = 0; k < bits / 8; k++) {
        v = v << 8 | b[i * (bits / 8) + k];
    }
    return v;
}

int qcow2_get_refcount(qcow2_state *s, img_file *file, uint64_t cluster,
                       uint64_t *refcount, img_err *err)
{
    unsigned block_bits = s->cluster_bits + 3 - s->hdr.refcount_order;
    uint64_t idx = cluster >> block_bits;
    *refcount = 0;
    int r = reftable_load(s, file, err);
    if (r < 0 || idx >= s->reftable_entries) {
        return r;
    }
    uint64_t off = s->reftable[idx] & QCOW2_REFT_OFFSET_MASK;
    if (off == 0) {
        return 0;
    }
    r = refblock_get(s, file, off, idx, err);
    if (r >= 0) {
        *refcount = refblock_entry(s->refblock, s->hdr.refcount_order,
                                   cluster & ((1ull << block_bits) - 1));
    }
    return r;
}

/* QEMU's heuristic: when clearly more clusters are in use (refcount > 0)
 * than the host file really stores, the image had its metadata
 * preallocated and holes in the file read as zeros. */
int qcow2_detect_metadata_prealloc(qcow2_state *s, img_file *file,
                                   img_err *err)
{
    uint64_t allocated;
    if (img_file_allocated_size(file, &allocated, NULL) < 0) {
        return 0; /* unknown (memory files): assume none */
    }
    uint64_t real = allocated >> s->cluster_bits;
    uint64_t threshold = real * 10 / 9 > real + 2 ? real * 10 / 9 : real + 2;
    uint64_t end = (s->file_size + s->cluster_size - 1) >> s->cluster_bits;
    uint64_t count = 0;
    for (uint64_t i = 0; i < end && count < threshold; i++) {
        uint64_t rc;
        int r = qcow2_get_refcount(s, file, i, &rc, err);
        if (r < 0) {
            return r;
        }
        count += rc != 0;
    }
    return count >= threshold;
}

void qcow2_refcount_free(qcow2_state *s)
{
    free(s->reftable);
    s->reftable = NULL;
    s->reftable_entries = 0;
    free(s->refblock);
    s->refblock = NULL;
    s->refblock_offset = 0;
}
