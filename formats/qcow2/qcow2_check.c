/* formats/qcow2/qcow2_check.c -- consistency check and repair (qemu-img
 * check [-r leaks|all]), and the refcount rebuild a dirty image needs.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Host cluster management" and
 * "Cluster mapping".  Like QEMU's qcow2_check_refcounts(): the refcount
 * of every cluster is computed from the metadata (header, active and
 * snapshot L1/L2 tables, snapshot table, refcount table, encryption
 * header, bitmaps, refcount blocks) into an array of the image's refcount
 * width, and compared with the refcounts on disk.  A cluster whose stored
 * refcount is higher is leaked; lower is a corruption.  Repairs: leaks
 * and corruptions are adjusted one by one; when the refcount structure
 * itself is broken (a referenced cluster counted 0, a bad refcount block)
 * it is rebuilt from the array at free places.  Then OFLAG_COPIED is
 * checked (and fixed) in the active tables.  The counts, messages,
 * cluster statistics and image end offset are qemu-img's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* Reserved bits of L1, standard L2 and refcount table entries. */
#define L1E_RESERVED  0x7f000000000001ffull
#define L2E_RESERVED  0x3f000000000001feull
#define REFT_RESERVED 0x00000000000001ffull
/* Bitmap table entries. */
#define BME_OFFSET   0x00fffffffffffe00ull
#define BME_RESERVED 0xff000000000001feull
#define BME_ALL_ONES 1ull
/* Most clusters a check handles (QEMU's limit). */
#define CHECK_MAX_CLUSTERS 0x7fffffffull

/* QEMU's cluster types, for the check's rules. */
typedef enum ctype {
    CT_UNALLOC,
    CT_ZERO_PLAIN,
    CT_ZERO_ALLOC,
    CT_NORMAL,
    CT_COMPRESSED,
} ctype;

typedef struct chk {
    img *im;
    qcow2_state *s;
    img_check_result *res;
    unsigned fix;
    uint8_t *rc;  /* computed refcounts, refcount width */
    uint64_t cap; /* entries rc holds (whole refcount blocks) */
    uint64_t n;   /* clusters looked at: the file's, or more when
                     metadata points past its end */
    int rebuild;  /* the refcount structure must be rebuilt */
} chk;

/* QEMU's qcow2_get_cluster_type(): the zero flag counts in version 2
 * too, and offset 0 is allocated only in a data file with COPIED. */
static ctype cluster_type(const qcow2_state *s, uint64_t e)
{
    if (e & QCOW2_OFLAG_COMPRESSED) {
        return CT_COMPRESSED;
    }
    if ((e & QCOW2_OFLAG_ZERO) && !s->extl2) {
        return (e & QCOW2_L2E_OFFSET_MASK) ? CT_ZERO_ALLOC : CT_ZERO_PLAIN;
    }
    if (!(e & QCOW2_L2E_OFFSET_MASK)) {
        return s->data_file_used && (e & QCOW2_OFLAG_COPIED) ? CT_NORMAL
                                                             : CT_UNALLOC;
    }
    return CT_NORMAL;
}

/* Computed refcount of cluster i (0 past the array). */
static uint64_t rc_get(const chk *c, uint64_t i)
{
    return i < c->cap ? qcow2_rb_entry(c->rc, c->s->hdr.refcount_order, i) : 0;
}

static void rc_set(chk *c, uint64_t i, uint64_t v)
{
    qcow2_rb_set_entry(c->rc, c->s->hdr.refcount_order, i, v);
}

/* Makes rc cover at least n clusters (memory in whole refcount blocks,
 * so that a block's slice can be written as it is). */
static int rc_grow(chk *c, uint64_t n, img_err *err)
{
    qcow2_state *s = c->s;
    uint64_t per = 1ull << s->rb_bits;
    uint64_t blocks = n / per + (n % per != 0);
    if (n > c->n) {
        c->n = n;
    }
    if (blocks * per <= c->cap && c->rc) {
        return 0;
    }
    if (n > CHECK_MAX_CLUSTERS) {
        c->res->check_errors++;
        return img_err_set(err, EFBIG, "Image file too large to check");
    }
    uint64_t old = (c->cap / per) * s->cluster_size;
    uint8_t *p = realloc(c->rc, (blocks ? blocks : 1) * s->cluster_size);
    if (!p) {
        c->res->check_errors++;
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    memset(p + old, 0, (blocks ? blocks : 1) * s->cluster_size - old);
    c->rc = p;
    c->cap = (blocks ? blocks : 1) * per;
    return 0;
}

/* The image file's current length (it may change during repairs). */
static uint64_t file_length(const chk *c)
{
    uint64_t size = 0;
    (void)img_file_size(c->im->file, &size, NULL);
    return size;
}

/* Counts one reference to every cluster of [off, off + size) (QEMU's
 * qcow2_inc_refcounts_imrt). */
static int inc_range(chk *c, uint64_t off, uint64_t size, img_err *err)
{
    qcow2_state *s = c->s;
    if (size == 0) {
        return 0;
    }
    uint64_t len = file_length(c);
    if (off + size > len && off + size - len >= s->cluster_size) {
        qcow2_report(s,
                     "ERROR: counting reference for region exceeding the "
                     "end of the file by one cluster or more: offset 0x%" PRIx64
                     " size 0x%" PRIx64,
                     off, size);
        c->res->corruptions++;
        return 0;
    }
    uint64_t first = off >> s->cluster_bits;
    uint64_t last = (off + size - 1) >> s->cluster_bits;
    int r = rc_grow(c, last + 1, err);
    for (uint64_t k = first; r >= 0 && k <= last; k++) {
        uint64_t v = rc_get(c, k);
        if (v == s->refcount_max) {
            qcow2_report(s, "ERROR: overflow cluster offset=0x%" PRIx64,
                         k << s->cluster_bits);
            qcow2_report(s, "Use qemu-img amend to increase the refcount "
                            "entry width or qemu-img convert to create a clean "
                            "copy if the image cannot be opened for writing");
            c->res->corruptions++;
            continue;
        }
        rc_set(c, k, v + 1);
    }
    return r;
}

/* Reads a table of n 8-byte entries (host order); free the result. */
static uint64_t *read_table(chk *c, uint64_t off, uint64_t bytes, img_err *err)
{
    uint64_t *t = malloc(bytes ? bytes : 1);
    if (!t) {
        c->res->check_errors++;
        img_err_set(err, ENOMEM, "Out of memory");
        return NULL;
    }
    if (img_file_pread(c->im->file, t, bytes, off, err) < 0) {
        c->res->check_errors++;
        free(t);
        return NULL;
    }
    return t;
}

/* Rewrites entry i of the L2 table at l2 as a zero cluster. */
static int fix_by_zero(chk *c, uint64_t l2, uint8_t *table, uint64_t i,
                       img_err *err)
{
    qcow2_state *s = c->s;
    uint64_t e = s->extl2 ? 0 : QCOW2_OFLAG_ZERO;
    uint64_t bm = s->extl2 ? QCOW2_SC_ALLOC_MASK << QCOW2_SC_ZERO_SHIFT : 0;
    qcow2_set_l2e(s, table, i, e, bm);
    uint64_t at = l2 + i * s->l2_entry_size;
    qcow2_l2_drop(s, l2);
    int r = qcow2_file_write(s, c->im->file, table + i * s->l2_entry_size,
                             s->l2_entry_size, at, err);
    if (r >= 0) {
        r = qcow2_flush_files(s, c->im->file, err);
    }
    if (r < 0) {
        c->res->check_errors++;
        return r;
    }
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    return 0;
}

/* An allocated standard (or preallocated zero) cluster. */
static int check_data_entry(chk *c, uint8_t *table, uint64_t l2, uint64_t i,
                            uint64_t e, uint64_t bm, int frag, uint64_t *next,
                            img_err *err)
{
    qcow2_state *s = c->s;
    uint64_t off = e & QCOW2_L2E_OFFSET_MASK;
    if ((bm >> QCOW2_SC_ZERO_SHIFT) & bm) {
        c->res->corruptions++;
        qcow2_report(s,
                     "ERROR offset=%" PRIx64 ": Allocated cluster has "
                     "corrupted subcluster allocation bitmap",
                     off);
    }
    if (qcow2_cluster_offset_in(s, off)) {
        int data = s->extl2 ? (bm & QCOW2_SC_ALLOC_MASK) != 0
                            : !(e & QCOW2_OFLAG_ZERO);
        c->res->corruptions++;
        if (data) {
            qcow2_report(s,
                         "ERROR offset=%" PRIx64 ": Data cluster is not "
                         "properly aligned; L2 entry corrupted.",
                         off);
        } else {
            int fix = (c->fix & IMG_FIX_ERRORS) != 0;
            qcow2_report(s,
                         "%s offset=%" PRIx64 ": Preallocated cluster is "
                         "not properly aligned; L2 entry corrupted.",
                         fix ? "Repairing" : "ERROR", off);
            if (fix && fix_by_zero(c, l2, table, i, err) >= 0) {
                return 0; /* no longer in use */
            }
        }
    }
    if (frag) {
        c->res->allocated_clusters++;
        if (*next && off != *next) {
            c->res->fragmented_clusters++;
        }
        *next = off + s->cluster_size;
    }
    return s->data_file_used ? 0 : inc_range(c, off, s->cluster_size, err);
}

/* A compressed cluster. */
static int check_compressed(chk *c, uint64_t i, uint64_t e, uint64_t bm,
                            int frag, img_err *err)
{
    qcow2_state *s = c->s;
    if (e & QCOW2_OFLAG_COPIED) {
        qcow2_report(s,
                     "ERROR: coffset=0x%" PRIx64 ": copied flag must "
                     "never be set for compressed clusters",
                     e & s->coffset_mask);
        e &= ~QCOW2_OFLAG_COPIED;
        c->res->corruptions++;
    }
    if (s->data_file_used || bm) {
        qcow2_report(s,
                     "ERROR compressed cluster %" PRIu64 " with %s, "
                     "entry=0x%" PRIx64,
                     i,
                     s->data_file_used
                         ? "data file"
                         : "non-zero subcluster allocation bitmap",
                     e);
        c->res->corruptions++;
        return 0;
    }
    uint64_t coff, csize;
    qcow2_compressed_range(s, e, &coff, &csize);
    if (frag) {
        c->res->allocated_clusters++;
        c->res->compressed_clusters++;
        c->res->fragmented_clusters++;
    }
    return inc_range(c, coff, csize, err);
}

/* One L2 table (QEMU's check_refcounts_l2). */
static int check_l2(chk *c, uint64_t l2, int frag, img_err *err)
{
    qcow2_state *s = c->s;
    uint8_t *table = (uint8_t *)read_table(c, l2, s->cluster_size, err);
    if (!table) {
        qcow2_report(s, "ERROR: I/O error in check_refcounts_l2");
        return -EIO;
    }
    uint64_t next = 0;
    int r = 0;
    for (uint64_t i = 0; r >= 0 && i < (1ull << s->l2_bits); i++) {
        uint64_t e = qcow2_l2e(s, table, i);
        uint64_t bm = qcow2_l2_bitmap(s, table, i);
        ctype t = cluster_type(s, e);
        if (t != CT_COMPRESSED && (e & L2E_RESERVED)) {
            qcow2_report(
                s, "ERROR found l2 entry with reserved bits set: %" PRIx64, e);
            c->res->corruptions++;
        }
        if (t == CT_COMPRESSED) {
            r = check_compressed(c, i, e, bm, frag, err);
        } else if (t == CT_NORMAL || t == CT_ZERO_ALLOC) {
            r = check_data_entry(c, table, l2, i, e, bm, frag, &next, err);
        } else if (t == CT_UNALLOC && (bm & QCOW2_SC_ALLOC_MASK)) {
            c->res->corruptions++;
            qcow2_report(s, "ERROR: Unallocated cluster has non-zero "
                            "subcluster allocation map");
        }
    }
    free(table);
    return r;
}

/* One L1 table and its L2 tables (QEMU's check_refcounts_l1). */
static int check_l1(chk *c, uint64_t off, uint64_t n, int active, img_err *err)
{
    qcow2_state *s = c->s;
    if (n == 0) {
        return 0;
    }
    int r = inc_range(c, off, n * 8, err);
    uint64_t *t = r < 0 ? NULL : read_table(c, off, n * 8, err);
    if (!t) {
        qcow2_report(s, "ERROR: I/O error in check_refcounts_l1");
        return r < 0 ? r : -EIO;
    }
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        uint64_t e = qcow2_be64((const uint8_t *)&t[i]);
        if (!e) {
            continue;
        }
        if (e & L1E_RESERVED) {
            qcow2_report(
                s, "ERROR found L1 entry with reserved bits set: %" PRIx64, e);
            c->res->corruptions++;
        }
        uint64_t l2 = e & QCOW2_L1E_OFFSET_MASK;
        r = inc_range(c, l2, s->cluster_size, err);
        if (r >= 0 && qcow2_cluster_offset_in(s, l2)) {
            qcow2_report(s,
                         "ERROR l2_offset=%" PRIx64 ": Table is not "
                         "cluster aligned; L1 entry corrupted",
                         l2);
            c->res->corruptions++;
        }
        if (r >= 0) {
            r = check_l2(c, l2, active, err);
        }
    }
    free(t);
    return r;
}

/* Snapshot L1 tables and the snapshot table. */
static int check_snapshots(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    int r = 0;
    if (s->data_file_used && s->nb_snapshots) {
        qcow2_report(s,
                     "ERROR %" PRIu32 " snapshots in image with data "
                     "file",
                     s->nb_snapshots);
        c->res->corruptions++;
    }
    for (uint32_t i = 0; r >= 0 && i < s->nb_snapshots; i++) {
        const qcow2_snapshot *sn = &s->snapshots[i];
        if (qcow2_cluster_offset_in(s, sn->l1_offset) ||
            sn->l1_size > QCOW2_MAX_L1_BYTES / 8) {
            qcow2_report(s,
                         "ERROR snapshot %s (%s) l1_offset=%#" PRIx64
                         ": L1 table is not cluster aligned or too large; "
                         "snapshot table entry corrupted",
                         sn->id, sn->name, sn->l1_offset);
            c->res->corruptions++;
            continue;
        }
        r = check_l1(c, sn->l1_offset, sn->l1_size, 0, err);
    }
    if (r >= 0 && s->nb_snapshots) {
        r = inc_range(c, s->hdr.snapshots_offset, s->snapshots_size, err);
    }
    return r;
}

/* The encryption header the crypto extension points at. */
static int check_crypto(chk *c, img_err *err)
{
    const qcow2_meta *m = &c->s->meta;
    for (size_t i = 0; i < m->nothers; i++) {
        const qcow2_ext *x = &m->others[i];
        if (x->type == QCOW2_EXT_CRYPTO && x->len >= 16) {
            return inc_range(c, qcow2_be64(x->data), qcow2_be64(x->data + 8),
                             err);
        }
    }
    return 0;
}

/* One bitmap's table and data clusters. */
static int check_bitmap_table(chk *c, uint64_t off, uint32_t n, img_err *err)
{
    qcow2_state *s = c->s;
    int r = inc_range(c, off, (uint64_t)n * 8, err);
    if (r < 0 || n > QCOW2_MAX_L1_BYTES / 8) {
        return r;
    }
    uint64_t *t = read_table(c, off, (uint64_t)n * 8, err);
    if (!t) {
        return -EIO;
    }
    for (uint32_t i = 0; r >= 0 && i < n; i++) {
        uint64_t e = qcow2_be64((const uint8_t *)&t[i]);
        uint64_t data = e & BME_OFFSET;
        if ((e & BME_RESERVED) || (data && (e & BME_ALL_ONES)) ||
            qcow2_cluster_offset_in(s, data)) {
            c->res->corruptions++;
            continue;
        }
        r = data ? inc_range(c, data, s->cluster_size, err) : 0;
    }
    free(t);
    return r;
}

/* Persistent bitmaps: directory, tables and data (only while the
 * autoclear bit says they are valid). */
static int check_bitmaps(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    const qcow2_ext *x = qcow2_bitmaps_ext(s);
    if (!x || x->len < QCOW2_BITMAPS_EXT_LEN ||
        !(s->hdr.autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;
    }
    uint64_t dsize = qcow2_be64(x->data + 8), doff = qcow2_be64(x->data + 16);
    int r = inc_range(c, doff, dsize, err);
    uint8_t *dir = r < 0 || dsize > QCOW2_MAX_SNAPSHOT_TABLE
                       ? NULL
                       : (uint8_t *)read_table(c, doff, dsize, err);
    if (!dir) {
        c->res->corruptions += r >= 0;
        return r;
    }
    for (uint64_t p = 0; r >= 0 && p + 24 <= dsize;) {
        uint64_t len = 24 + qcow2_be32(dir + p + 20) + qcow2_be16(dir + p + 18);
        r = check_bitmap_table(c, qcow2_be64(dir + p), qcow2_be32(dir + p + 8),
                               err);
        p += (len + 7) & ~7ull;
    }
    free(dir);
    return r;
}

/* A refcount block outside the file: with -r all the file is extended
 * to hold it (QEMU's repair) when it is near the end; else, as when the
 * file cannot grow, the refcount structure is rebuilt. */
static int refblock_outside(chk *c, uint64_t i, uint64_t off, img_err *err)
{
    qcow2_state *s = c->s;
    int fix = (c->fix & IMG_FIX_ERRORS) != 0;
    c->res->corruptions++;
    qcow2_report(s, "%s refcount block %" PRIu64 " is outside image",
                 fix ? "Repairing" : "ERROR", i);
    if (!fix) {
        return 0;
    }
    if (qcow2_far_past_end(s, off)) {
        c->rebuild = 1;
        qcow2_report(s, "ERROR could not resize image: the refcount block "
                     "lies more than %" PRIu64 " MiB past the end of the "
                     "file", QCOW2_PAST_END_MAX >> 20);
        return 0;
    }
    int r = img_file_truncate(c->im->file, off + s->cluster_size, err);
    if (r < 0) {
        c->rebuild = 1;
        qcow2_report(s, "ERROR could not resize image: %s", err->msg);
        return 0;
    }
    s->file_size = off + s->cluster_size;
    r = rc_grow(c, (off >> s->cluster_bits) + 1, err);
    if (r < 0) {
        return r;
    }
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    return inc_range(c, off, s->cluster_size, err);
}

/* The refcount blocks themselves (QEMU's check_refblocks). */
static int check_refblocks(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    int r = 0;
    for (uint64_t i = 0; r >= 0 && i < s->reftable_entries; i++) {
        uint64_t off = s->reftable[i] & QCOW2_REFT_OFFSET_MASK;
        uint64_t cl = off >> s->cluster_bits;
        if (s->reftable[i] & REFT_RESERVED) {
            qcow2_report(s,
                         "ERROR refcount table entry %" PRIu64 " has "
                         "reserved bits set",
                         i);
        } else if (qcow2_cluster_offset_in(s, off)) {
            qcow2_report(s,
                         "ERROR refcount block %" PRIu64 " is not cluster "
                         "aligned; refcount table entry corrupted",
                         i);
        } else if (off && cl >= c->n) {
            r = refblock_outside(c, i, off, err);
            continue;
        } else {
            if (off) {
                r = inc_range(c, off, s->cluster_size, err);
            }
            if (off && r >= 0 && rc_get(c, cl) != 1) {
                qcow2_report(
                    s, "ERROR refcount block %" PRIu64 " refcount=%" PRIu64, i,
                    rc_get(c, cl));
                c->res->corruptions++;
                c->rebuild = 1;
            }
            continue;
        }
        c->res->corruptions++;
        c->rebuild = 1;
    }
    return r;
}

/* Computes every cluster's refcount from the metadata. */
static int calculate(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    img_check_result *res = c->res;
    res->allocated_clusters = res->fragmented_clusters = 0;
    res->compressed_clusters = 0;
    memset(c->rc, 0, (c->cap >> s->rb_bits) * s->cluster_size);
    int r = inc_range(c, 0, s->cluster_size, err);
    if (r >= 0) {
        r = check_l1(c, s->hdr.l1_offset, s->hdr.l1_size, 1, err);
    }
    if (r >= 0) {
        r = check_snapshots(c, err);
    }
    if (r >= 0) {
        r = inc_range(c, s->hdr.reftable_offset,
                      (uint64_t)s->hdr.reftable_clusters << s->cluster_bits,
                      err);
    }
    if (r >= 0) {
        r = check_crypto(c, err);
    }
    if (r >= 0) {
        r = check_bitmaps(c, err);
    }
    return r < 0 ? r : check_refblocks(c, err);
}

/* Adjusts the stored refcount of cluster i by the difference. */
static int fix_refcount(chk *c, uint64_t i, uint64_t have, uint64_t want)
{
    qcow2_state *s = c->s;
    int dec = have > want;
    return qcow2_update_refcount(s, c->im->file, i << s->cluster_bits, 1,
                                 dec ? have - want : want - have, dec, 1, NULL);
}

/* Stored against computed refcounts (QEMU's compare_refcounts). */
static void compare(chk *c, unsigned fix, uint64_t *highest)
{
    qcow2_state *s = c->s;
    *highest = 0;
    for (uint64_t i = 0; i < c->n; i++) {
        uint64_t have, want = rc_get(c, i);
        img_err e = { 0 };
        if (qcow2_get_refcount(s, c->im->file, i, &have, &e) < 0) {
            qcow2_report(s, "Can't get refcount for cluster %" PRIu64 ": %s", i,
                         e.msg);
            c->res->check_errors++;
            continue;
        }
        if (have || want) {
            *highest = i;
        }
        if (have == want) {
            continue;
        }
        int *fixed = NULL;
        if (have == 0) {
            c->rebuild = 1;
        } else if (have > want && (fix & IMG_FIX_LEAKS)) {
            fixed = &c->res->leaks_fixed;
        } else if (have < want && (fix & IMG_FIX_ERRORS)) {
            fixed = &c->res->corruptions_fixed;
        }
        qcow2_report(
            s, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
            fixed         ? "Repairing"
            : have < want ? "ERROR"
                          : "Leaked",
            i, have, want);
        if (fixed && fix_refcount(c, i, have, want) >= 0) {
            (*fixed)++;
            continue;
        }
        if (have < want) {
            c->res->corruptions++;
        } else {
            c->res->leaks++;
        }
    }
}

/* n contiguous free clusters in the computed refcounts, from *first
 * (QEMU's alloc_clusters_imrt); they get refcount 1. */
static int alloc_imrt(chk *c, uint64_t n, uint64_t *first, uint64_t *off,
                      img_err *err)
{
    uint64_t cl = *first, run = 0;
    int seen_free = 0;
    for (; cl < c->n && run < n; cl++) {
        if (rc_get(c, cl)) {
            run = 0;
            continue;
        }
        run++;
        if (!seen_free) {
            *first = cl;
            seen_free = 1;
        }
    }
    if (run < n) {
        int r = rc_grow(c, cl + n - run, err);
        if (r < 0) {
            return r;
        }
        cl += n - run;
    }
    cl -= n;
    for (uint64_t i = 0; i < n; i++) {
        rc_set(c, cl + i, 1);
    }
    *off = cl << c->s->cluster_bits;
    return 0;
}

/* The rebuilt table being assembled. */
typedef struct new_reftable {
    uint64_t *t;
    uint64_t n;
} new_reftable;

/* Gives every block with a non-zero refcount in [first, end) a place and
 * writes it (QEMU's rebuild_refcounts_write_refblocks); 1 when the
 * table grew. */
static int write_refblocks(chk *c, uint64_t first, uint64_t end,
                           new_reftable *nt, img_err *err)
{
    qcow2_state *s = c->s;
    uint64_t per = 1ull << s->rb_bits, free_from = 0;
    int grown = 0;
    for (uint64_t cl = first; cl < end; cl++) {
        if (!rc_get(c, cl)) {
            continue;
        }
        uint64_t bi = cl / per, off;
        if (bi < nt->n && nt->t[bi]) {
            off = nt->t[bi];
        } else {
            free_from = free_from < bi * per ? bi * per : free_from;
            int r = alloc_imrt(c, 1, &free_from, &off, err);
            if (r < 0) {
                return r;
            }
            if ((off >> s->cluster_bits) >= end) {
                end = (off >> s->cluster_bits) + 1;
            }
            if (bi >= nt->n) {
                uint64_t n = ((bi + 1) * 8 + s->cluster_size - 1) /
                             s->cluster_size * (s->cluster_size / 8);
                uint64_t *t = realloc(nt->t, n * 8);
                if (!t) {
                    return img_err_set(err, ENOMEM, "Out of memory");
                }
                memset(t + nt->n, 0, (n - nt->n) * 8);
                nt->t = t;
                nt->n = n;
                grown = 1;
            }
            nt->t[bi] = off;
        }
        int r = qcow2_file_write(s, c->im->file, c->rc + bi * s->cluster_size,
                                 s->cluster_size, off, err);
        if (r < 0) {
            return r;
        }
        cl = bi * per + per - 1;
    }
    return grown;
}

/* Writes the rebuilt table at off and points the header at it. */
static int install_reftable(chk *c, new_reftable *nt, uint64_t off,
                            img_err *err)
{
    qcow2_state *s = c->s;
    uint8_t *be = malloc(nt->n * 8);
    if (!be) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint64_t i = 0; i < nt->n; i++) {
        qcow2_put_be64(be + i * 8, nt->t[i]);
    }
    int r = qcow2_file_write(s, c->im->file, be, nt->n * 8, off, err);
    free(be);
    uint8_t hdr[12];
    uint32_t clusters = (uint32_t)((nt->n * 8) >> s->cluster_bits);
    qcow2_put_be64(hdr, off);
    qcow2_put_be32(hdr + 8, clusters);
    if (r >= 0) {
        r = qcow2_flush_files(s, c->im->file, err);
    }
    if (r >= 0) {
        r = qcow2_header_write_field(s, c->im->file, QCOW2_HDR_REFTABLE_OFFSET,
                                     hdr, sizeof(hdr), err);
    }
    if (r < 0) {
        return r;
    }
    free(s->reftable);
    s->reftable = nt->t;
    s->reftable_entries = nt->n;
    s->hdr.reftable_offset = off;
    s->hdr.reftable_clusters = clusters;
    nt->t = NULL;
    return 0;
}

/* A new refcount structure from the computed refcounts (QEMU's
 * rebuild_refcount_structure); the old one is left to leak. */
static int rebuild(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    new_reftable nt = { NULL, 0 };
    qcow2_rb_drop_all(s);
    qcow2_report(s, "Rebuilding refcount structure");
    int r = write_refblocks(c, 0, c->n, &nt, err);
    uint64_t off = 0;
    while (r > 0) {
        uint64_t clusters = (nt.n * 8 + s->cluster_size - 1) >> s->cluster_bits,
                 first = 0;
        r = alloc_imrt(c, clusters, &first, &off, err);
        if (r >= 0) {
            uint64_t start = off >> s->cluster_bits;
            r = write_refblocks(c, start, start + clusters, &nt, err);
        }
    }
    if (r >= 0) {
        r = install_reftable(c, &nt, off, err);
    }
    free(nt.t);
    if (r < 0) {
        c->res->check_errors++;
    }
    s->free_cluster_index = 0;
    return r;
}

/* The rebuild path of QEMU's qcow2_check_refcounts(). */
static int rebuild_and_recheck(chk *c, uint64_t *highest, img_err *err)
{
    img_check_result old = *c->res;
    int r = rebuild(c, err);
    if (r < 0) {
        return r;
    }
    c->res->corruptions = c->res->leaks = 0;
    c->rebuild = 0;
    r = calculate(c, err);
    if (r < 0) {
        return r;
    }
    int fresh = 0;
    if (c->fix & IMG_FIX_LEAKS) {
        /* the old structure leaked: fix that quietly */
        img_check_result saved = *c->res;
        memset(c->res, 0, sizeof(*c->res));
        compare(c, IMG_FIX_LEAKS, highest);
        if (c->rebuild) {
            qcow2_report(c->s, "ERROR rebuilt refcount structure is still "
                               "broken");
        }
        fresh = c->res->leaks;
        *c->res = saved;
    }
    if (c->res->corruptions < old.corruptions) {
        c->res->corruptions_fixed += old.corruptions - c->res->corruptions;
    }
    if (c->res->leaks < old.leaks) {
        c->res->leaks_fixed += old.leaks - c->res->leaks;
    }
    c->res->leaks += fresh;
    return 0;
}

/* OFLAG_COPIED of one active L2 table's entries; fixes when repair. */
static int copied_l2(chk *c, uint64_t l2, int repair, img_err *err)
{
    qcow2_state *s = c->s;
    uint8_t *t = (uint8_t *)read_table(c, l2, s->cluster_size, err);
    if (!t) {
        qcow2_report(s, "ERROR: Could not read L2 table: %s", err->msg);
        return -EIO;
    }
    int dirty = 0;
    for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
        uint64_t e = qcow2_l2e(s, t, j), rc = 1;
        ctype ty = cluster_type(s, e);
        if (ty != CT_NORMAL && ty != CT_ZERO_ALLOC) {
            continue;
        }
        if (!s->data_file_used &&
            qcow2_get_refcount(s, c->im->file,
                               (e & QCOW2_L2E_OFFSET_MASK) >> s->cluster_bits,
                               &rc, NULL) < 0) {
            continue;
        }
        if ((rc == 1) == ((e & QCOW2_OFLAG_COPIED) != 0)) {
            continue;
        }
        c->res->corruptions++;
        qcow2_report(s,
                     "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64
                     " refcount=%" PRIu64,
                     repair ? "Repairing" : "ERROR", e, rc);
        if (repair) {
            e = rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
            qcow2_put_be64(t + j * s->l2_entry_size, e);
            dirty++;
        }
    }
    int r = 0;
    if (dirty) {
        qcow2_l2_drop(s, l2);
        r = qcow2_file_write(s, c->im->file, t, s->cluster_size, l2, err);
        if (r < 0) {
            qcow2_report(s, "ERROR: Could not write L2 table: %s", err->msg);
            c->res->check_errors++;
        } else {
            c->res->corruptions -= dirty;
            c->res->corruptions_fixed += dirty;
        }
    }
    free(t);
    return r;
}

/* One active L1 entry's OFLAG_COPIED against its table's refcount. */
static int copied_l1(chk *c, uint64_t *l1, uint64_t i, int repair, img_err *err)
{
    qcow2_state *s = c->s;
    uint64_t e = l1[i], l2 = e & QCOW2_L1E_OFFSET_MASK, rc;
    if (qcow2_get_refcount(s, c->im->file, l2 >> s->cluster_bits, &rc, NULL) <
        0) {
        return 1; /* skip quietly, as QEMU does */
    }
    if ((rc == 1) == ((e & QCOW2_OFLAG_COPIED) != 0)) {
        return 0;
    }
    c->res->corruptions++;
    qcow2_report(s,
                 "%s OFLAG_COPIED L2 cluster: l1_index=%" PRIu64
                 " l1_entry=%" PRIx64 " refcount=%" PRIu64,
                 repair ? "Repairing" : "ERROR", i, e, rc);
    if (!repair) {
        return 0;
    }
    l1[i] = rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
    if (i < s->l1_loaded) {
        s->l1[i] = l1[i];
    }
    uint8_t be[8];
    qcow2_put_be64(be, l1[i]);
    int r =
        qcow2_file_write(s, c->im->file, be, 8, s->hdr.l1_offset + i * 8, err);
    if (r < 0) {
        c->res->check_errors++;
        return r;
    }
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    return 0;
}

/* OFLAG_COPIED in the active tables (QEMU's check_oflag_copied). */
static int check_copied(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    const img_check_result *res = c->res;
    int repair = (c->fix & IMG_FIX_ERRORS) ||
                 ((c->fix & IMG_FIX_LEAKS) && !res->check_errors &&
                  !res->corruptions && !res->leaks);
    uint64_t n = s->hdr.l1_size;
    uint64_t *l1 = read_table(c, s->hdr.l1_offset, n * 8, err);
    if (!l1) {
        return -EIO;
    }
    for (uint64_t i = 0; i < n; i++) {
        l1[i] = qcow2_be64((const uint8_t *)&l1[i]);
        /* entries we hold are newer than the disk's */
        l1[i] = i < s->l1_loaded ? s->l1[i] : l1[i];
    }
    int r = 0;
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        if (!(l1[i] & QCOW2_L1E_OFFSET_MASK)) {
            continue;
        }
        r = copied_l1(c, l1, i, repair, err);
        if (r == 0) {
            r = copied_l2(c, l1[i] & QCOW2_L1E_OFFSET_MASK, repair, err);
        } else if (r > 0) {
            r = 0;
        }
    }
    free(l1);
    return r;
}

/* QEMU's qcow2_check_refcounts(). */
static int check_refcounts(chk *c, img_err *err)
{
    qcow2_state *s = c->s;
    uint64_t highest = 0;
    uint64_t nb = (file_length(c) + s->cluster_size - 1) >> s->cluster_bits;
    c->res->total_clusters =
        (c->im->size + s->cluster_size - 1) >> s->cluster_bits;
    int r = rc_grow(c, nb ? nb : 1, err);
    if (r >= 0) {
        r = calculate(c, err);
    }
    if (r < 0) {
        return r;
    }
    img_check_result pre = *c->res;
    compare(c, 0, &highest);
    if (c->rebuild && (c->fix & IMG_FIX_ERRORS)) {
        r = rebuild_and_recheck(c, &highest, err);
    } else if (c->fix && c->rebuild) {
        qcow2_report(s, "ERROR need to rebuild refcount structures");
        c->res->check_errors++;
        return img_err_set(err, EIO,
                           "The refcount structures must be "
                           "rebuilt (use -r all)");
    } else if (c->fix && (c->res->leaks || c->res->corruptions)) {
        *c->res = pre;
        compare(c, c->fix, &highest);
    }
    if (r >= 0) {
        r = check_copied(c, err);
    }
    if (r >= 0) {
        c->res->image_end_offset = (int64_t)((highest + 1) << s->cluster_bits);
    }
    return r;
}

/* QEMU's qcow2_co_check_locked(): the caches are written back first
 * (the check reads the tables from disk), and a successful repair clears
 * the dirty and corrupt bits. */
int qcow2_check(img *im, img_check_result *res, unsigned fix, img_err *err)
{
    qcow2_state *s = im->state;
    chk c = { .im = im, .s = s, .res = res, .fix = fix };
    memset(res, 0, sizeof(*res));
    if (fix && !s->writable) {
        return img_err_set(err, EPERM, "Repairing needs a writable image");
    }
    int r = qcow2_flush(im, err);
    if (r >= 0) {
        r = qcow2_reftable_load(s, im->file, err);
    }
    if (r >= 0) {
        r = check_refcounts(&c, err);
    }
    free(c.rc);
    if (r >= 0 && fix) {
        r = qcow2_meta_flush(s, im->file, err);
    }
    if (r >= 0 && fix && !res->check_errors && !res->corruptions) {
        r = qcow2_mark_clean(s, im->file, err);
        if (r >= 0) {
            r = qcow2_mark_consistent(s, im->file, err);
        }
    }
    return r;
}
