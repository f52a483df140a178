/* formats/qcow2/qcow2_refcount.c -- reading reference counts, and the
 * refcount block cache the writer updates them in.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Host cluster management": a
 * refcount table (contiguous, reftable_clusters long) points at refcount
 * blocks of one cluster, each holding cluster_size * 8 / refcount_bits
 * entries of 1 to 64 bits (sub-byte widths start at the least significant
 * bit).  Blocks are cached (LRU, a few slots) in on-disk form; the writer
 * marks slots dirty and qcow2_meta.c decides when they are written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

void qcow2_refcount_setup(qcow2_state *s)
{
    unsigned order = s->hdr.refcount_order;
    /* cluster_bits + 3 bits per block, 2^order bits per entry */
    s->rb_bits = s->cluster_bits + 3 - order;
    s->refcount_max = order == 6 ? UINT64_MAX : (1ull << (1u << order)) - 1;
}

/* Loads the refcount table (bounded and inside the file by the header
 * checks). */
int qcow2_reftable_load(qcow2_state *s, img_file *file, img_err *err)
{
    if (s->reftable) {
        return 0;
    }
    uint64_t n = ((uint64_t)s->hdr.reftable_clusters << s->cluster_bits) / 8;
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

/* Writes one dirty slot back (the caller orders it). */
static int rb_write(qcow2_state *s, img_file *file, qcow2_rb_slot *c,
                    img_err *err)
{
    int r =
        qcow2_file_write(s, file, c->block, s->cluster_size, c->offset, err);
    if (r < 0) {
        img_err_prepend(err, "Could not write refcount block %#" PRIx64 ": ",
                        c->offset);
        return r;
    }
    c->dirty = 0;
    return 0;
}

int qcow2_rb_write_all(qcow2_state *s, img_file *file, img_err *err)
{
    for (unsigned i = 0; i < QCOW2_RB_CACHE_MAX; i++) {
        qcow2_rb_slot *c = &s->rb_cache[i];
        if (c->offset && c->dirty) {
            int r = rb_write(s, file, c, err);
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

/* The least recently used slot (an empty one first); a dirty victim is
 * written back.  Refcount blocks depend on nothing that is still only in
 * memory (decrements are deferred until their references are gone from
 * the disk), so a single block can go out at any time. */
static int rb_victim(qcow2_state *s, img_file *file, qcow2_rb_slot **out,
                     img_err *err)
{
    qcow2_rb_slot *v = &s->rb_cache[0];
    for (unsigned i = 0; i < QCOW2_RB_CACHE_MAX; i++) {
        qcow2_rb_slot *c = &s->rb_cache[i];
        if (c->offset == 0) {
            v = c;
            break;
        }
        if (c->last_use < v->last_use) {
            v = c;
        }
    }
    if (v->offset && v->dirty) {
        int r = rb_write(s, file, v, err);
        if (r < 0) {
            return r;
        }
    }
    v->offset = 0;
    if (!v->block && !(v->block = malloc(s->cluster_size))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    *out = v;
    return 0;
}

static qcow2_rb_slot *rb_find(qcow2_state *s, uint64_t off)
{
    for (unsigned i = 0; i < QCOW2_RB_CACHE_MAX; i++) {
        if (s->rb_cache[i].offset == off) {
            s->rb_cache[i].last_use = ++s->rb_clock;
            return &s->rb_cache[i];
        }
    }
    return NULL;
}

int qcow2_rb_load(qcow2_state *s, img_file *file, uint64_t off, uint64_t idx,
                  qcow2_rb_slot **slot, img_err *err)
{
    if ((*slot = rb_find(s, off)) != NULL) {
        return 0;
    }
    /* As in QEMU, a block past the end of the file reads as zeros. */
    if (qcow2_cluster_offset_in(s, off) || off > QCOW2_MAX_HOST_OFFSET) {
        return img_err_set(err, EIO,
                           "Refblock offset %#" PRIx64 " invalid "
                           "(reftable index: %#" PRIx64 ")",
                           off, idx);
    }
    qcow2_rb_slot *v;
    int r = rb_victim(s, file, &v, err);
    if (r >= 0) {
        r = img_file_pread(file, v->block, s->cluster_size, off, err);
    }
    if (r < 0) {
        return r;
    }
    v->offset = off;
    v->dirty = 0;
    v->last_use = ++s->rb_clock;
    *slot = v;
    return 0;
}

int qcow2_rb_new_slot(qcow2_state *s, img_file *file, uint64_t off,
                      qcow2_rb_slot **slot, img_err *err)
{
    qcow2_rb_slot *v = rb_find(s, off);
    int r = v ? 0 : rb_victim(s, file, &v, err);
    if (r < 0) {
        return r;
    }
    memset(v->block, 0, s->cluster_size);
    v->offset = off;
    v->dirty = 1;
    v->last_use = ++s->rb_clock;
    *slot = v;
    return 0;
}

void qcow2_rb_drop(qcow2_state *s, uint64_t off)
{
    for (unsigned i = 0; i < QCOW2_RB_CACHE_MAX; i++) {
        if (s->rb_cache[i].offset == off) {
            s->rb_cache[i].offset = 0;
            s->rb_cache[i].dirty = 0;
        }
    }
}

void qcow2_rb_drop_all(qcow2_state *s)
{
    for (unsigned i = 0; i < QCOW2_RB_CACHE_MAX; i++) {
        s->rb_cache[i].offset = 0;
        s->rb_cache[i].dirty = 0;
    }
}

uint64_t qcow2_rb_entry(const uint8_t *b, unsigned order, uint64_t i)
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

void qcow2_rb_set_entry(uint8_t *b, unsigned order, uint64_t i, uint64_t v)
{
    unsigned bits = 1u << order;
    if (bits < 8) {
        unsigned shift = (unsigned)((i * bits) % 8);
        unsigned mask = ((1u << bits) - 1) << shift;
        uint8_t *p = &b[i * bits / 8];
        *p = (uint8_t)((*p & ~mask) | ((v << shift) & mask));
        return;
    }
    unsigned bytes = bits / 8;
    for (unsigned k = 0; k < bytes; k++) {
        b[i * bytes + bytes - 1 - k] = (uint8_t)(v >> (8 * k));
    }
}

int qcow2_get_refcount(qcow2_state *s, img_file *file, uint64_t cluster,
                       uint64_t *refcount, img_err *err)
{
    unsigned block_bits = s->cluster_bits + 3 - s->hdr.refcount_order;
    uint64_t idx = cluster >> block_bits;
    *refcount = 0;
    int r = qcow2_reftable_load(s, file, err);
    if (r < 0 || idx >= s->reftable_entries) {
        return r;
    }
    uint64_t off = s->reftable[idx] & QCOW2_REFT_OFFSET_MASK;
    if (off == 0) {
        return 0;
    }
    qcow2_rb_slot *slot;
    r = qcow2_rb_load(s, file, off, idx, &slot, err);
    if (r >= 0) {
        *refcount = qcow2_rb_entry(slot->block, s->hdr.refcount_order,
                                   cluster & ((1ull << block_bits) - 1));
    }
    return r;
}

/* QEMU's heuristic: when clearly more clusters are in use (refcount > 0)
 * than the host file really stores, the image had its metadata
 * preallocated and holes in the file read as zeros. */
int qcow2_detect_metadata_prealloc(qcow2_state *s, img_file *file, img_err *err)
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
    for (unsigned i = 0; i < QCOW2_RB_CACHE_MAX; i++) {
        free(s->rb_cache[i].block);
        s->rb_cache[i] = (qcow2_rb_slot){ 0 };
    }
}
