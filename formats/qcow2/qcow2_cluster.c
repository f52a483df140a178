/* formats/qcow2/qcow2_cluster.c -- guest-to-host mapping through the L1
 * and L2 tables, with a small LRU cache of L2 tables.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Cluster mapping" (standard L2
 * entries, zero flag, compressed descriptors) and "Extended L2 Entries"
 * (32 subclusters with allocation and zero bitmaps).  Table offsets from
 * the image are checked (alignment, inside the file) before use; entries
 * that are contradictory are reported as corruption (-EIO), as QEMU does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

int qcow2_l1_load(qcow2_state *s, img_file *file, img_err *err)
{
    /* Entries beyond the virtual size only map VM state of snapshots. */
    uint64_t n = qcow2_l1_entries_for(s->cluster_bits, s->l2_bits,
                                      s->hdr.size);
    if (n == 0) {
        return 0;
    }
    /* qcow2_header_decode() bounded n by l1_size (<= 32 MiB of entries)
     * and the layout check put the table inside the file. */
    s->l1 = malloc(n * sizeof(*s->l1));
    if (!s->l1) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = img_file_pread(file, s->l1, n * QCOW2_L1E_SIZE,
                           s->hdr.l1_offset, err);
    if (r < 0) {
        img_err_prepend(err, "Could not read L1 table: ");
        free(s->l1);
        s->l1 = NULL;
        return r;
    }
    /* Converted in place to host order; entries are validated when a
     * lookup uses them, as QEMU does. */
    for (uint64_t i = 0; i < n; i++) {
        s->l1[i] = qcow2_be64((const uint8_t *)&s->l1[i]);
    }
    s->l1_loaded = (uint32_t)n;
    return 0;
}

void qcow2_compressed_range(const qcow2_state *s, uint64_t entry,
                            uint64_t *coffset, uint64_t *csize)
{
    /* The size is the sectors used minus the part of the first sector
     * before the offset. */
    uint64_t sectors = ((entry >> s->csize_shift) & s->csize_mask) + 1;
    *coffset = entry & s->coffset_mask;
    *csize = sectors * QCOW2_COMPRESSED_SECTOR -
             (*coffset % QCOW2_COMPRESSED_SECTOR);
}

/* Frees the L1 table and the L2 cache (idempotent). */
void qcow2_cluster_free(qcow2_state *s)
{
    for (unsigned i = 0; i < QCOW2_L2_CACHE_MAX; i++) {
        free(s->l2_cache[i].table);
        s->l2_cache[i] = (qcow2_l2_slot){ 0 };
    }
    free(s->l1);
    s->l1 = NULL;
    s->l1_loaded = 0;
    free(s->l1_dirty);
    s->l1_dirty = NULL;
    s->l1_ndirty = 0;
}

/* The least recently used slot that is not pinned (an empty one first);
 * a dirty victim is written back (qcow2_meta.c orders that write). */
static int l2_victim(qcow2_state *s, img_file *file, qcow2_l2_slot **out,
                     img_err *err)
{
    qcow2_l2_slot *v = NULL;
    for (unsigned i = 0; i < s->l2_cache_slots; i++) {
        qcow2_l2_slot *c = &s->l2_cache[i];
        if (c->pins) {
            continue;
        }
        if (c->offset == 0) {
            v = c;
            break;
        }
        if (!v || c->last_use < v->last_use) {
            v = c;
        }
    }
    if (!v) {
        return img_err_set(err, EIO, "qcow2: L2 table cache exhausted");
    }
    if (v->offset && v->dirty) {
        int r = qcow2_l2_writeback(s, file, v, err);
        if (r < 0) {
            return r;
        }
    }
    /* The slot is marked empty until it is filled, so a failed read
     * never leaves a half-filled table in the cache. */
    v->offset = 0;
    v->dirty = 0;
    if (!v->table && !(v->table = malloc(s->cluster_size))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    *out = v;
    return 0;
}

static qcow2_l2_slot *l2_find(qcow2_state *s, uint64_t l2_off)
{
    for (unsigned i = 0; i < s->l2_cache_slots; i++) {
        if (s->l2_cache[i].offset == l2_off) {
            s->l2_cache[i].last_use = ++s->l2_clock;
            return &s->l2_cache[i];
        }
    }
    return NULL;
}

int qcow2_l2_load(qcow2_state *s, img_file *file, uint64_t l2_off,
                  qcow2_l2_slot **slot, img_err *err)
{
    if ((*slot = l2_find(s, l2_off)) != NULL) {
        return 0;
    }
    qcow2_l2_slot *v;
    int r = l2_victim(s, file, &v, err);
    if (r >= 0) {
        r = img_file_pread(file, v->table, s->cluster_size, l2_off, err);
        if (r < 0) {
            img_err_prepend(err, "Could not read L2 table at %#" PRIx64
                            ": ", l2_off);
        }
    }
    if (r < 0) {
        return r;
    }
    v->offset = l2_off;
    v->last_use = ++s->l2_clock;
    *slot = v;
    return 0;
}

int qcow2_l2_new_slot(qcow2_state *s, img_file *file, uint64_t l2_off,
                      qcow2_l2_slot **slot, img_err *err)
{
    qcow2_l2_slot *v = l2_find(s, l2_off);
    int r = v ? 0 : l2_victim(s, file, &v, err);
    if (r < 0) {
        return r;
    }
    v->offset = l2_off;
    v->dirty = 1;
    v->last_use = ++s->l2_clock;
    *slot = v;
    return 0;
}

void qcow2_l2_drop(qcow2_state *s, uint64_t l2_off)
{
    for (unsigned i = 0; i < QCOW2_L2_CACHE_MAX; i++) {
        if (s->l2_cache[i].offset == l2_off && !s->l2_cache[i].pins) {
            s->l2_cache[i].offset = 0;
            s->l2_cache[i].dirty = 0;
        }
    }
}

/* Returns the L2 table at l2_off (validated by the caller). */
static int l2_get(qcow2_state *s, img_file *file, uint64_t l2_off,
                  const uint8_t **table, img_err *err)
{
    qcow2_l2_slot *slot;
    int r = qcow2_l2_load(s, file, l2_off, &slot, err);
    if (r >= 0) {
        *table = slot->table;
    }
    return r;
}

/* The L2 table offset from L1 entry idx: 0 when unallocated. */
static int l1_lookup(const qcow2_state *s, uint64_t idx, uint64_t *l2_off,
                     img_err *err)
{
    *l2_off = idx < s->l1_loaded ? s->l1[idx] & QCOW2_L1E_OFFSET_MASK : 0;
    if (*l2_off == 0) {
        return 0;
    }
    if (qcow2_cluster_offset_in(s, *l2_off)) {
        return img_err_set(err, EIO, "L2 table offset %#" PRIx64
                           " unaligned (L1 index: %#" PRIx64 ")", *l2_off,
                           idx);
    }
        /* L2 tables are whole clusters inside the image file. */
    if (*l2_off > s->file_size || s->cluster_size > s->file_size - *l2_off) {
        return img_err_set(err, EIO, "L2 table offset %#" PRIx64 " is "
                           "beyond the end of the file (L1 index: %#"
                           PRIx64 ")", *l2_off, idx);
    }
    return 0;
}

/* One unit of mapping: a cluster, or a subcluster with extended L2. */
typedef struct qcow2_unit {
    qcow2_kind kind;
    uint64_t host;              /* host offset of the unit's start */
    uint64_t entry;             /* the L2 entry's first word */
} qcow2_unit;

/* Kind of an allocated (host offset or external data) extended entry. */
static int kind_extended(uint64_t bitmap, unsigned sc, int allocated,
                         qcow2_kind *kind)
{
    uint64_t zero = 1ull << (QCOW2_SC_ZERO_SHIFT + sc);
    if (allocated) {
        if ((bitmap >> QCOW2_SC_ZERO_SHIFT) & bitmap) {
            return -1; /* both allocated and zero */
        }
        *kind = (bitmap & zero) ? QCOW2_ZERO_ALLOC
                : (bitmap & (1ull << sc)) ? QCOW2_NORMAL
                : QCOW2_UNALLOC_ALLOC;
        return 0;
    }
    if (bitmap & QCOW2_SC_ALLOC_MASK) {
        return -1; /* allocated subclusters without a host cluster */
    }
    *kind = (bitmap & zero) ? QCOW2_ZERO_PLAIN : QCOW2_UNALLOC;
    return 0;
}

/* Kind of a standard entry.  Version 2 has no zero flag (bit 0 is
 * reserved there). */
static qcow2_kind kind_standard(const qcow2_state *s, uint64_t entry,
                                int allocated)
{
    if ((entry & QCOW2_OFLAG_ZERO) && s->hdr.version >= 3) {
        return (entry & QCOW2_L2E_OFFSET_MASK) ? QCOW2_ZERO_ALLOC
                                                : QCOW2_ZERO_PLAIN;
    }
    return allocated ? QCOW2_NORMAL : QCOW2_UNALLOC;
}

/* Checks the host offset of a unit that has one: cluster aligned and,
 * with an external data file, equal to the guest offset (the data file
 * is mapped one to one). */
static int check_host(const qcow2_state *s, uint64_t guest, uint64_t host,
                      uint64_t l2_off, uint64_t l2_idx, img_err *err)
{
    if (qcow2_cluster_offset_in(s, host)) {
        return img_err_set(err, EIO, "Cluster allocation offset %#" PRIx64
                           " unaligned (L2 offset: %#" PRIx64 ", L2 index: "
                           "%#" PRIx64 ")", host, l2_off, l2_idx);
    }
    if (s->data_file_used && host != qcow2_cluster_start(s, guest)) {
        return img_err_set(err, EIO, "External data file host cluster "
                           "offset %#" PRIx64 " does not match guest cluster "
                           "offset %#" PRIx64, host,
                           qcow2_cluster_start(s, guest));
    }
    return 0;
}

static int kind_has_host(qcow2_kind k)
{
    return k == QCOW2_NORMAL || k == QCOW2_ZERO_ALLOC ||
           k == QCOW2_UNALLOC_ALLOC;
}

/* Classifies the unit containing guest offset off, from its L2 entry. */
static int classify(const qcow2_state *s, const uint8_t *table,
                    uint64_t l2_off, uint64_t off, qcow2_unit *u,
                    img_err *err)
{
    uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    const uint8_t *e = table + idx * s->l2_entry_size;
    uint64_t entry = qcow2_be64(e);
    uint64_t host = entry & QCOW2_L2E_OFFSET_MASK;
    u->entry = entry;
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        u->kind = QCOW2_COMPRESSED;
        if (s->data_file_used) {
            return img_err_set(err, EIO, "Compressed cluster entry found in "
                               "image with external data file (L2 offset: %#"
                               PRIx64 ", L2 index: %#" PRIx64 ")", l2_off,
                               idx);
        }
        return 0;
    }
    /* Offset 0 is valid in an external data file; bit 63 tells. */
    int allocated = host || (s->data_file_used &&
                             (entry & QCOW2_OFLAG_COPIED));
    if (!s->extl2) {
        u->kind = kind_standard(s, entry, allocated);
    } else {
        /* The second word is the subcluster bitmap. */
        unsigned sc = (unsigned)(qcow2_cluster_offset_in(s, off) >>
                                 s->sc_bits);
        if (kind_extended(qcow2_be64(e + 8), sc, allocated, &u->kind) < 0) {
            return img_err_set(err, EIO, "Invalid cluster entry found (L2 "
                               "offset: %#" PRIx64 ", L2 index: %#" PRIx64
                               ")", l2_off, idx);
        }
    }
    u->host = host + (qcow2_cluster_offset_in(s, off) & ~((1ull <<
                                                         s->sc_bits) - 1));
    if (kind_has_host(u->kind)) {
        return check_host(s, off, host, l2_off, idx, err);
    }
    return 0;
}

/* Mapping granularity: subclusters, except for compressed clusters. */
static unsigned unit_bits_of(const qcow2_state *s, qcow2_kind kind)
{
    return s->extl2 && kind != QCOW2_COMPRESSED ? s->sc_bits
                                                : s->cluster_bits;
}

/* Extends ext (starting at off) over following units of the same kind
 * and, for allocated kinds, contiguous host offsets, up to end. */
static int extend_run(const qcow2_state *s, const uint8_t *table,
                      uint64_t l2_off, uint64_t off, uint64_t end,
                      const qcow2_unit *first, qcow2_extent *ext,
                      img_err *err)
{
    unsigned unit_bits = unit_bits_of(s, first->kind);
    uint64_t unit = ((off >> unit_bits) + 1) << unit_bits;
    /* Compressed clusters are handled one at a time. */
    while (unit < end && first->kind != QCOW2_COMPRESSED) {
        qcow2_unit u = {0};
        int r = classify(s, table, l2_off, unit, &u, err);
        if (r < 0) {
            return r;
        }
        if (u.kind != first->kind ||
            (kind_has_host(u.kind) && u.host != first->host + (unit -
             (off & ~((1ull << unit_bits) - 1))))) {
            break;
        }
        unit += 1ull << unit_bits;
    }
    ext->len = (unit < end ? unit : end) - off;
    return 0;
}

/* One L1 entry covers 2^(cluster_bits + l2_bits) guest bytes; the run
 * is cut there so that it needs a single L2 table. */
int qcow2_map(qcow2_state *s, img_file *file, uint64_t off, uint64_t len,
              qcow2_extent *ext, img_err *err)
{
    unsigned span_bits = s->cluster_bits + s->l2_bits;
    uint64_t l1_idx = off >> span_bits;
    uint64_t span_end = (l1_idx + 1) << span_bits;
    uint64_t end = len < span_end - off ? off + len : span_end;
    uint64_t l2_off;
    const uint8_t *table = NULL;
    memset(ext, 0, sizeof(*ext));
    int r = l1_lookup(s, l1_idx, &l2_off, err);
    if (r < 0 || l2_off == 0) {
        ext->kind = QCOW2_UNALLOC;
        ext->len = end - off;
        return r;
    }
    r = l2_get(s, file, l2_off, &table, err);
    qcow2_unit first = {0};
    if (r >= 0) {
        r = classify(s, table, l2_off, off, &first, err);
    }
    if (r >= 0) {
        r = extend_run(s, table, l2_off, off, end, &first, ext, err);
    }
    if (r < 0) {
        return r;
    }
    ext->kind = first.kind;
    ext->l2_entry = first.entry;
    unsigned unit_bits = unit_bits_of(s, first.kind);
    ext->host_off = first.host + (off & ((1ull << unit_bits) - 1));
    return 0;
}
