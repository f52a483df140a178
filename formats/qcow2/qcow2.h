/* formats/qcow2/qcow2.h -- private state and internal interfaces of the
 * qcow2 driver.
 *
 * The driver is split by concern.  Reading: qcow2_header.c decodes the
 * header and its extensions, qcow2_snapshot.c the snapshot table,
 * qcow2_cluster.c the L1/L2 mapping (with a small L2 cache),
 * qcow2_compress.c compressed clusters, qcow2_refcount.c refcounts (with
 * a refcount block cache).  Writing: qcow2_alloc.c updates refcounts and
 * allocates clusters, qcow2_meta.c orders metadata write-back and keeps
 * the header flags (dirty, corrupt), qcow2_table.c prepares L1/L2 tables
 * for writing, qcow2_write.c writes guest data, qcow2_zero.c zero writes
 * and discard, qcow2_header_write.c encodes the header.  qcow2_create.c,
 * qcow2_resize.c, qcow2_check.c and qcow2_measure.c implement those
 * hooks; qcow2.c is the vtable.  The core
 * serialises the hooks of this driver (it is not IMG_DRV_THREADSAFE), so
 * the state has no locks.
 *
 * Crash safety (see qcow2_meta.c): data reaches the file before the L2
 * entries that point at it; refcount increments before the references;
 * new tables before the entries that point at them; references are
 * removed (and flushed) before refcounts drop.  A crash
 * therefore leaves at worst leaked clusters.  With lazy refcounts the
 * dirty bit is set instead and refcounts are rebuilt on the next
 * read/write open.
 */
#ifndef QCOW2_H
#define QCOW2_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/driver.h"
#include "libimg/parallel.h"
#include "qcow2_format.h"

/* Big-endian field access (bounds are the caller's job). */
static inline uint16_t qcow2_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t qcow2_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t qcow2_be64(const uint8_t *p)
{
    return (uint64_t)qcow2_be32(p) << 32 | qcow2_be32(p + 4);
}

static inline void qcow2_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* The fixed header fields (version 2 fields, then version 3 ones; for
 * version 2 the v3 fields hold their implied values). */
typedef struct qcow2_header {
    uint32_t version;
    uint64_t backing_offset;    /* 0: no backing file */
    uint32_t backing_size;      /* bytes of the name */
    uint32_t cluster_bits;
    uint64_t size;              /* virtual size */
    uint32_t crypt_method;
    uint32_t l1_size;           /* entries */
    uint64_t l1_offset;
    uint64_t reftable_offset;
    uint32_t reftable_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompat;          /* QCOW2_INCOMPAT_* */
    uint64_t compat;            /* QCOW2_COMPAT_* */
    uint64_t autoclear;         /* QCOW2_AUTOCLEAR_* */
    uint32_t refcount_order;    /* 4 for version 2 */
    uint32_t header_length;     /* 72 for version 2 */
    uint8_t compression_type;   /* QCOW2_COMPRESSION_* */
} qcow2_header;

/* One entry of the feature name table extension. */
typedef struct qcow2_feature_name {
    uint8_t type;               /* QCOW2_FEATURE_TYPE_* */
    uint8_t bit;                /* 0..63 */
    char name[QCOW2_FEATURE_NAME_LEN + 1];
} qcow2_feature_name;

/* A header extension we do not interpret, kept for a header rewrite. */
typedef struct qcow2_ext {
    uint32_t type;
    uint32_t len;
    uint8_t *data;              /* malloc'd, len bytes */
} qcow2_ext;

/* What the first cluster holds besides the fixed header. */
typedef struct qcow2_meta {
    char *backing_name;         /* malloc'd or NULL */
    char *backing_fmt;          /* malloc'd or NULL */
    char *data_file;            /* external data file name or NULL */
    qcow2_feature_name *features;
    size_t nfeatures;
    qcow2_ext *others;          /* bitmaps, crypto and unknown types */
    size_t nothers;
    int has_bitmaps;            /* bitmaps extension present */
    uint64_t ext_end;           /* end of the extension area */
} qcow2_meta;

/* An entry of the snapshot table (not loaded as a view; listed by info). */
typedef struct qcow2_snapshot {
    uint64_t l1_offset;         /* not validated until used */
    uint32_t l1_size;
    char *id;                   /* malloc'd */
    char *name;                 /* malloc'd */
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t disk_size;         /* the image size if not recorded */
    int64_t icount;             /* -1 if not recorded */
    uint32_t extra_size;        /* bytes of extra data on disk */
    uint8_t *extra_unknown;     /* extra data past the known fields
                                   (extra_size - QCOW2_SN_EXTRA_KNOWN bytes,
                                   malloc'd), kept for a table rewrite */
} qcow2_snapshot;

/* One L2 table held in memory, in on-disk (big-endian) form. */
typedef struct qcow2_l2_slot {
    uint64_t offset;            /* host offset; 0: slot empty */
    uint64_t last_use;          /* LRU stamp */
    uint8_t *table;             /* cluster_size bytes */
    int dirty;                  /* must be written back */
    int pins;                   /* in use by a writer: not evicted */
} qcow2_l2_slot;

#define QCOW2_L2_CACHE_MAX   16
#define QCOW2_L2_CACHE_BYTES (4u * 1024 * 1024)

/* A run of compressed clusters read at once (qcow2_decompress_run.c):
 * at most this many clusters and bytes of them, inflated by at most
 * IMG_PARALLEL_MAX threads. */
#define QCOW2_RUN_MAX_CLUSTERS 256
#define QCOW2_RUN_MAX_BYTES    ((uint64_t)4 << 20)

/* One refcount block held in memory, in on-disk form. */
typedef struct qcow2_rb_slot {
    uint64_t offset;            /* host offset; 0: slot empty */
    uint64_t last_use;          /* LRU stamp */
    uint8_t *block;             /* cluster_size bytes */
    int dirty;                  /* must be written back */
} qcow2_rb_slot;

#define QCOW2_RB_CACHE_MAX 8

/* Host bytes whose refcount drops once the tables that referenced them
 * are safely on disk (see qcow2_defer_free). */
typedef struct qcow2_free_req {
    uint64_t offset;
    uint64_t len;
    int punch;                  /* punch a hole when it becomes free */
} qcow2_free_req;

/* Refcount table entries: bits 9..63 are the block offset. */
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ull

/* Kinds of guest ranges (QEMU's QCow2SubclusterType). */
typedef enum qcow2_kind {
    QCOW2_UNALLOC,              /* backing file or zeros */
    QCOW2_UNALLOC_ALLOC,        /* same, host cluster reserved (ext L2) */
    QCOW2_ZERO_PLAIN,           /* zeros, no host cluster */
    QCOW2_ZERO_ALLOC,           /* zeros, host cluster preallocated */
    QCOW2_NORMAL,               /* data at host_off */
    QCOW2_COMPRESSED,           /* data compressed; see l2_entry */
} qcow2_kind;

/* A run of guest bytes that share a kind (and, when allocated, are
 * contiguous in the host file).  Never crosses an L2 table. */
typedef struct qcow2_extent {
    qcow2_kind kind;
    uint64_t len;               /* bytes from the requested offset */
    uint64_t host_off;          /* host offset of the first byte */
    uint64_t l2_entry;          /* compressed: the descriptor */
} qcow2_extent;

typedef struct qcow2_state {
    qcow2_header hdr;
    qcow2_meta meta;
    unsigned cluster_bits;
    uint64_t cluster_size;
    unsigned l2_bits;           /* log2 of entries per L2 table */
    unsigned l2_entry_size;     /* 8 or 16 */
    unsigned sc_bits;           /* log2 of the subcluster size */
    int extl2;                  /* extended L2 entries */
    int data_file_used;         /* incompatible bit 2 */
    uint64_t file_size;         /* of the qcow2 file: at open, then as
                                   our writes grow it */

    uint64_t *l1;               /* host order, l1_loaded entries */
    uint32_t l1_loaded;         /* entries covering the virtual size */
    uint8_t *l1_dirty;          /* writer: entries not yet on disk */
    uint32_t l1_ndirty;         /* how many */

    qcow2_l2_slot l2_cache[QCOW2_L2_CACHE_MAX];
    unsigned l2_cache_slots;    /* slots in use for this cluster size */
    uint64_t l2_clock;          /* LRU counter */

    img_file *data;             /* where guest clusters live */
    img_file *data_owned;       /* external data file (closed by us) */
    char *data_path;            /* its resolved path */
    uint64_t data_size;         /* of data: at open, then as our
                                   writes grow it */

    unsigned csize_shift;       /* compressed descriptor geometry */
    uint64_t csize_mask;
    uint64_t coffset_mask;
    uint8_t *cmp_in;            /* 2 clusters: compressed bytes */
    uint8_t *cmp_out;           /* 1 cluster: last decompressed */
    uint64_t cmp_entry;         /* descriptor of cmp_out's cluster */
    int cmp_valid;
    void *zstd_dctx;            /* lazily created */
    uint8_t *run_in;            /* compressed bytes of a run of clusters */
    size_t run_in_cap;
    void *run_dctx[IMG_PARALLEL_MAX]; /* a zstd context per thread */

    qcow2_snapshot *snapshots;
    uint32_t nb_snapshots;
    uint64_t snapshots_size;    /* bytes of the snapshot table */

    uint64_t *reftable;         /* host order, loaded on first use */
    uint64_t reftable_entries;
    qcow2_rb_slot rb_cache[QCOW2_RB_CACHE_MAX];
    uint64_t rb_clock;          /* LRU counter */
    unsigned rb_bits;           /* log2 of entries per refcount block */
    uint64_t refcount_max;      /* largest refcount the width holds */
    int prealloc_checked;       /* metadata_prealloc is known */
    int metadata_prealloc;      /* holes in the file read as zeros */

    /* The writer. */
    int writable;               /* opened read/write */
    int creating;               /* inside create: no lazy refcounts */
    int no_flush;               /* never sync the files (create,
                                   IMG_OPEN_NO_FLUSH) */
    uint64_t free_cluster_index; /* search for free clusters from here */
    uint64_t free_byte_offset;  /* packing of compressed clusters */
    int l2_wait_ref;            /* dirty L2 tables need refblocks first */
    int l2_wait_data;           /* data written since the last flush */
    int lazy;                   /* lazy refcounts: dirty bit instead */
    int dirty_set;              /* we set the dirty bit on disk */
    int corrupt;                /* metadata overlap seen: no writes */
    int prepared;               /* first-write header update done */
    int keep_bitmaps;           /* the bitmap command: bitmaps stay valid */
    qcow2_free_req *frees;      /* deferred refcount decrements */
    size_t nfrees, frees_cap;
    uint8_t *cow_buf;           /* 2 clusters: composing partial writes */
    uint8_t *cmp_wbuf;          /* compressed output, 1 cluster */
    int cmp_written;            /* compressed data written: the file end
                                   is aligned to 512 on flush */
    void *zstd_cctx;            /* lazily created */
    int quiet;                  /* no messages on stderr */
} qcow2_state;

/* qcow2_header.c */
/* Number of L1 entries needed to map size bytes. */
uint64_t qcow2_l1_entries_for(unsigned cluster_bits, unsigned l2_bits,
                              uint64_t size);

/* Decodes and validates the fixed header from the first len bytes of
 * the file (len >= 512).  Returns 0 or -errno. */
int qcow2_header_decode(const uint8_t *buf, size_t len, qcow2_header *h,
                        img_err *err);
/* Decodes the backing file name and the header extensions from the first
 * cluster (buf holds len = cluster_size bytes, zero-filled past EOF).
 * On failure m is left cleared. */
int qcow2_meta_decode(const uint8_t *buf, size_t len, const qcow2_header *h,
                      qcow2_meta *m, img_err *err);
void qcow2_meta_clear(qcow2_meta *m);
/* Adds an extension kept verbatim (a copy of len bytes of data) to the
 * ones written back with the header. */
int qcow2_meta_keep_ext(qcow2_meta *m, uint32_t type, const uint8_t *data,
                        uint32_t len, img_err *err);
/* Refuses incompatible features we do not know: "Unsupported qcow2
 * feature(s): ..." naming them from the feature table when possible. */
int qcow2_check_features(const qcow2_header *h, const qcow2_meta *m,
                         img_err *err);
/* Checks table positions against the file size and the open flags. */
int qcow2_header_check_layout(const qcow2_header *h, uint64_t file_size,
                              img_err *err);

/* qcow2_snapshot.c */
/* Reads the snapshot table (counts and offsets bounded). */
int qcow2_snapshots_load(qcow2_state *s, img_file *file, img_err *err);
void qcow2_snapshots_free(qcow2_state *s);

/* qcow2_snapshot_write.c: the snapshot hooks (see img_snapshot_*). */
int qcow2_snapshot_list(img *im, img_snapshot_info **out, size_t *n,
                        img_err *err);
int qcow2_snapshot_create(img *im, const img_snapshot_info *info,
                          img_err *err);
int qcow2_snapshot_goto(img *im, const char *id_or_name, img_err *err);
int qcow2_snapshot_delete(img *im, const char *id, const char *name,
                          img_err *err);
int qcow2_snapshot_load_tmp(img *im, const char *id, const char *name,
                            img_err *err);

/* qcow2_cluster.c */
static inline uint64_t qcow2_cluster_offset_in(const qcow2_state *s,
                                               uint64_t off)
{
    return off & (s->cluster_size - 1);
}

static inline uint64_t qcow2_cluster_start(const qcow2_state *s,
                                           uint64_t off)
{
    return off & ~(s->cluster_size - 1);
}

/* Loads the active L1 table (the entries covering the virtual size). */
int qcow2_l1_load(qcow2_state *s, img_file *file, img_err *err);
void qcow2_cluster_free(qcow2_state *s);
/* Describes the guest range starting at off (at most len bytes, never
 * past the current L2 table).  Returns 0 or -errno (corrupt metadata). */
int qcow2_map(qcow2_state *s, img_file *file, uint64_t off, uint64_t len,
              qcow2_extent *ext, img_err *err);
/* The cache slot of the L2 table at l2_off (validated by the caller),
 * read on a miss.  A dirty victim is written back first. */
int qcow2_l2_load(qcow2_state *s, img_file *file, uint64_t l2_off,
                  qcow2_l2_slot **slot, img_err *err);
/* A slot for a new table at l2_off whose content the caller fills. */
int qcow2_l2_new_slot(qcow2_state *s, img_file *file, uint64_t l2_off,
                      qcow2_l2_slot **slot, img_err *err);
/* Forgets a cached table (its cluster was freed); never writes it. */
void qcow2_l2_drop(qcow2_state *s, uint64_t l2_off);

/* L2 entry access (idx < entries per table). */
static inline uint64_t qcow2_l2e(const qcow2_state *s, const uint8_t *t,
                                 uint64_t idx)
{
    return qcow2_be64(t + idx * s->l2_entry_size);
}

static inline uint64_t qcow2_l2_bitmap(const qcow2_state *s,
                                       const uint8_t *t, uint64_t idx)
{
    return s->extl2 ? qcow2_be64(t + idx * s->l2_entry_size + 8) : 0;
}

static inline void qcow2_set_l2e(const qcow2_state *s, uint8_t *t,
                                 uint64_t idx, uint64_t entry,
                                 uint64_t bitmap)
{
    qcow2_put_be64(t + idx * s->l2_entry_size, entry);
    if (s->extl2) {
        qcow2_put_be64(t + idx * s->l2_entry_size + 8, bitmap);
    }
}

static inline void qcow2_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void qcow2_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Host bytes [*coffset, *coffset + *csize) of a compressed descriptor. */
void qcow2_compressed_range(const qcow2_state *s, uint64_t entry,
                            uint64_t *coffset, uint64_t *csize);

/* qcow2_refcount.c */
/* Geometry of the refcount structures (rb_bits, refcount_max). */
void qcow2_refcount_setup(qcow2_state *s);
/* Loads the refcount table (bounded by the header checks); idempotent. */
int qcow2_reftable_load(qcow2_state *s, img_file *file, img_err *err);
/* Reads the refcount of host cluster number cluster (0 past the table). */
int qcow2_get_refcount(qcow2_state *s, img_file *file, uint64_t cluster,
                       uint64_t *refcount, img_err *err);
/* The cached refcount block at off (reftable index idx, for messages),
 * read on a miss; a dirty victim is written back first. */
int qcow2_rb_load(qcow2_state *s, img_file *file, uint64_t off, uint64_t idx,
                  qcow2_rb_slot **slot, img_err *err);
/* A zeroed slot for a new refcount block at off. */
int qcow2_rb_new_slot(qcow2_state *s, img_file *file, uint64_t off,
                      qcow2_rb_slot **slot, img_err *err);
/* Writes every dirty refcount block (no flush). */
int qcow2_rb_write_all(qcow2_state *s, img_file *file, img_err *err);
/* Forgets a cached block without writing it. */
void qcow2_rb_drop(qcow2_state *s, uint64_t off);
/* Forgets every cached block (after the refcount structure changed). */
void qcow2_rb_drop_all(qcow2_state *s);
/* Entry i of a refcount block with 2^order-bit entries. */
uint64_t qcow2_rb_entry(const uint8_t *b, unsigned order, uint64_t i);
void qcow2_rb_set_entry(uint8_t *b, unsigned order, uint64_t i, uint64_t v);
/* 1 when the image looks metadata-preallocated (QEMU's heuristic), 0 when
 * not, -errno on a read error. */
int qcow2_detect_metadata_prealloc(qcow2_state *s, img_file *file,
                                   img_err *err);
void qcow2_refcount_free(qcow2_state *s);

/* qcow2_compress.c */
/* Where the compressed bytes of descriptor l2_entry lie in the file:
 * *csize bytes (at most two clusters) from *coffset; -EIO when they start
 * past the end of the file. */
int qcow2_compressed_span(const qcow2_state *s, uint64_t l2_entry,
                          uint64_t *coffset, size_t *csize, img_err *err);
/* Decompresses in_len bytes at in into one cluster at out; 0, or -ENOMEM
 * or -EIO (not a stream that fills exactly a cluster).  Reads only the
 * image's settings, so threads may call it at once, each with its own
 * *dctx (a zstd context created on first use; free it with
 * qcow2_decompress_ctx_free). */
int qcow2_decompress(const qcow2_state *s, void **dctx, const uint8_t *in,
                     size_t in_len, uint8_t *out);
void qcow2_decompress_ctx_free(void *dctx);
/* The message for qcow2_decompress's failure r on the cluster whose
 * bytes are at coffset; returns the -errno. */
int qcow2_decompress_failed(int r, uint64_t coffset, img_err *err);
/* Returns the decompressed cluster for a compressed descriptor in
 * *cluster (borrowed from s, valid until the next call). */
int qcow2_read_compressed(qcow2_state *s, img_file *file, uint64_t l2_entry,
                          const uint8_t **cluster, img_err *err);
void qcow2_compress_free(qcow2_state *s);

/* Compresses one cluster into out (cap bytes) with the image's
 * compression type: *out_len is set, or 0 when it does not fit. */
int qcow2_compress_cluster(qcow2_state *s, const uint8_t *in, uint8_t *out,
                           size_t cap, size_t *out_len, img_err *err);
/* The same for any thread: compresses one cluster (cluster_size bytes
 * at in) with compression type type; *cctx caches a zstd context for
 * the caller (NULL: none is kept). */
int qcow2_compress_buf(unsigned type, uint64_t cluster_size, void **cctx,
                       const uint8_t *in, uint8_t *out, size_t cap,
                       size_t *out_len, img_err *err);

/* qcow2_decompress_run.c */
/* Decompresses the n whole clusters of descriptors entries[] (n at most
 * qcow2_run_max(s)) into out, one cluster after the other, on several
 * threads; the caller holds the image.  0, or -errno with the error of
 * the first cluster that failed. */
int qcow2_read_compressed_run(qcow2_state *s, img_file *file,
                              const uint64_t *entries, size_t n,
                              uint8_t *out, img_err *err);
/* The most clusters one run may hold (>= 1). */
size_t qcow2_run_max(const qcow2_state *s);

/* qcow2_alloc.c */
/* Adds addend to (or, with decrease, subtracts it from) the refcount of
 * every cluster touching [off, off + len).  When adding, may allocate
 * refcount blocks and grow the refcount table; then returns -EAGAIN (after
 * undoing its own changes) so that a caller searching free clusters
 * searches again.  A decrease never allocates: a cluster without a
 * refcount block fails with EINVAL, as one whose count is 0.
 * With punch, a cluster that becomes free is punched out of the file. */
int qcow2_update_refcount(qcow2_state *s, img_file *file, uint64_t off,
                          uint64_t len, uint64_t addend, int decrease,
                          int punch, img_err *err);
/* Allocates bytes (rounded up to clusters) of contiguous free clusters
 * with refcount 1; *off is the first one. */
int qcow2_alloc_clusters(qcow2_state *s, img_file *file, uint64_t bytes,
                         uint64_t *off, img_err *err);
/* Allocates up to n free clusters starting exactly at off; *got is how
 * many (it stops at the first one in use). */
int qcow2_alloc_clusters_at(qcow2_state *s, img_file *file, uint64_t off,
                            uint64_t n, uint64_t *got, img_err *err);
/* Allocates size bytes (<= one cluster) for a compressed cluster, packed
 * after the previous one. */
int qcow2_alloc_bytes(qcow2_state *s, img_file *file, uint64_t size,
                      uint64_t *off, img_err *err);
/* Allocates clusters for len bytes of new metadata and writes buf there:
 * the new refcounts first, then the bytes, flushed; on failure the
 * clusters are freed again.  *off is where they went. */
int qcow2_write_new_clusters(qcow2_state *s, img_file *file,
                             const void *buf, uint64_t len, uint64_t *off,
                             img_err *err);
/* Drops one reference to [off, off + len) now (the caller has made sure
 * nothing on disk refers to it any more). */
int qcow2_free_clusters(qcow2_state *s, img_file *file, uint64_t off,
                        uint64_t len, int punch, img_err *err);
/* Places new refcount blocks and a new refcount table at start (cluster
 * aligned, free up to the end of the file) so that additional more
 * clusters after them are covered; a block at rb_offset may be entered
 * at index rb_index first (0: none).  *end is the first byte after the
 * new structures. */
int qcow2_refcount_area(qcow2_state *s, img_file *file, uint64_t start,
                        uint64_t additional, int exact, uint64_t rb_index,
                        uint64_t rb_offset, uint64_t *end, img_err *err);
/* Bytes of refcount table and blocks needed to cover clusters clusters
 * and themselves (QEMU's fixed point); *blocks gets the block count. */
uint64_t qcow2_refcount_metadata_size(uint64_t clusters,
                                      uint64_t cluster_size,
                                      unsigned refcount_order,
                                      int generous, uint64_t *blocks);
/* Host cluster index past the last one with a non-zero refcount. */
int qcow2_last_used_cluster(qcow2_state *s, img_file *file, uint64_t *end,
                            img_err *err);

/* qcow2_meta.c */
/* How far past the end of the qcow2 file a refcount block or a data
 * cluster already in the tables may lie and still be written (by an
 * update, an in-place write, or check's repair growing the file to hold
 * a refcount block).  A crash leaves such a cluster at most a few
 * clusters past the end; one further away comes from a crafted or
 * damaged table entry, and following it, as QEMU does for any offset,
 * grows the file (and, in check, its refcount array) to whatever size
 * the entry says. */
#define QCOW2_PAST_END_MAX ((uint64_t)64 << 20)

/* Whether host offset off lies further than QCOW2_PAST_END_MAX past the
 * end of the qcow2 file. */
int qcow2_far_past_end(const qcow2_state *s, uint64_t off);
/* Writes to the image file (tracking its size). */
int qcow2_file_write(qcow2_state *s, img_file *file, const void *buf,
                     uint64_t len, uint64_t off, img_err *err);
/* Writes guest data to the data file (the image or the external one). */
int qcow2_data_write(qcow2_state *s, const void *buf, uint64_t len,
                     uint64_t off, img_err *err);
/* Flushes the image file and the external data file. */
int qcow2_flush_files(qcow2_state *s, img_file *file, img_err *err);
/* Writes one dirty L2 table, after what it depends on. */
int qcow2_l2_writeback(qcow2_state *s, img_file *file, qcow2_l2_slot *slot,
                       img_err *err);
/* Writes back all cached metadata in a crash-safe order and flushes,
 * then applies the deferred refcount decrements. */
int qcow2_meta_flush(qcow2_state *s, img_file *file, img_err *err);
/* Queues a refcount decrement until the next metadata flush. */
int qcow2_defer_free(qcow2_state *s, img_file *file, uint64_t off,
                     uint64_t len, int punch, img_err *err);
/* Writes bytes [off, off + len) of the fixed header from buf. */
int qcow2_header_write_field(qcow2_state *s, img_file *file, uint64_t off,
                             const void *buf, size_t len, img_err *err);
/* Writes s->hdr.incompat (version 3 only) and flushes. */
int qcow2_write_incompat(qcow2_state *s, img_file *file, img_err *err);
/* Clears the dirty bit after flushing everything (lazy refcounts). */
int qcow2_mark_clean(qcow2_state *s, img_file *file, img_err *err);
/* Sets the corrupt bit and stops writes; returns -EIO with a message. */
int qcow2_mark_corrupt(qcow2_state *s, img_file *file, img_err *err,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clears the corrupt bit (after a successful repair). */
int qcow2_mark_consistent(qcow2_state *s, img_file *file, img_err *err);
/* Refuses (and marks the image corrupt) a write to [off, off + len) of
 * the image file that would hit metadata. */
int qcow2_overlap_check(qcow2_state *s, img_file *file, uint64_t off,
                        uint64_t len, img_err *err);
/* Everything a modification needs first: refuses corrupt images,
 * clears autoclear bits we do not maintain, sets the dirty bit with lazy
 * refcounts. */
int qcow2_prepare_write(qcow2_state *s, img_file *file, img_err *err);
/* Releases the writer's buffers. */
void qcow2_writer_free(qcow2_state *s);

/* qcow2_table.c */
/* The L2 table mapping guest offset off, ready to be modified (pinned:
 * release with qcow2_l2_unpin): allocated when missing, copied when
 * shared with a snapshot. */
int qcow2_l2_for_write(img *im, uint64_t off, qcow2_l2_slot **slot,
                       img_err *err);
static inline void qcow2_l2_unpin(qcow2_l2_slot *slot)
{
    slot->pins--;
}
/* Writes L1 entry idx of the active table from s->l1. */
int qcow2_write_l1_entry(qcow2_state *s, img_file *file, uint64_t idx,
                         img_err *err);
/* Marks L1 entry idx changed; qcow2_meta_flush writes it once the L2
 * table it points at is on disk. */
int qcow2_l1_mark_dirty(qcow2_state *s, uint64_t idx, img_err *err);
/* Writes the changed L1 entries (the caller has flushed the tables). */
int qcow2_l1_write_dirty(qcow2_state *s, img_file *file, img_err *err);
/* Makes the active L1 table hold at least entries entries (a new table
 * when it must grow); s->l1 then covers them. */
int qcow2_l1_grow(qcow2_state *s, img_file *file, uint64_t entries,
                  img_err *err);

/* qcow2_write.c */
int qcow2_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
                 unsigned flags, img_err *err);
int qcow2_pwrite_zeroes(img *im, uint64_t off, uint64_t len, unsigned flags,
                        img_err *err);
int qcow2_discard(img *im, uint64_t off, uint64_t len, img_err *err);
/* compress_cluster hook: thread-safe, reads only the cluster size and
 * the compression type. */
int qcow2_compress_hook(img *im, const void *buf, uint64_t len, void *out,
                        size_t cap, size_t *out_len, img_err *err);
/* pwrite_compressed hook: stores a cluster compressed by the hook above
 * (clen 0: buf uncompressed). */
int qcow2_pwrite_compressed(img *im, const void *buf, uint64_t len,
                            uint64_t off, const void *cdata, size_t clen,
                            img_err *err);
/* Reads the guest view of [off, off + len) (used for copy-on-write). */
int qcow2_read_guest(img *im, uint8_t *buf, uint64_t len, uint64_t off,
                     img_err *err);

/* qcow2_header_write.c */
/* Encodes the first cluster (header, extensions, backing file name) of
 * s into buf (cluster_size bytes). */
int qcow2_header_encode(const qcow2_state *s, const char *backing_name,
                        const char *backing_fmt, uint8_t *buf,
                        img_err *err);
/* Rewrites the whole first cluster from s. */
int qcow2_header_rewrite(qcow2_state *s, img_file *file,
                         const char *backing_name, const char *backing_fmt,
                         img_err *err);

/* qcow2_resize.c */
int qcow2_truncate(img *im, uint64_t size, int prealloc, img_err *err);
/* Allocates host clusters for the unallocated clusters of [off, end)
 * without writing data (preallocation); the partial cluster at the end
 * is filled from the guest view. */
int qcow2_preallocate(img *im, uint64_t off, uint64_t end, img_err *err);

/* qcow2_check.c */
int qcow2_check(img *im, img_check_result *res, unsigned fix, img_err *err);

/* qcow2_create.c */
extern const img_opt_desc qcow2_create_opts[];
int qcow2_create(img_file *file, const img_create_opts *o, img_err *err);

/* qcow2_measure.c */
int qcow2_measure(const img_opts *opts, uint64_t size, img *in,
                  img_measure *out, img_err *err);

/* qcow2.c */
/* Opens the qcow2 image in file into im (the create path uses it on a
 * handle of its own). */
int qcow2_open(img *im, img_file *file, unsigned flags, img_err *err);
void qcow2_close(img *im);
int qcow2_flush(img *im, img_err *err);
/* Prints a check/repair message on stderr unless the image is quiet. */
void qcow2_report(const qcow2_state *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* qcow2_amend.c (amend), qcow2_downgrade.c, qcow2_refcount_order.c */
extern const img_opt_desc qcow2_amend_opts[];
/* The steps of an amend, for progress reporting. */
typedef enum qcow2_amend_op {
    QCOW2_AMEND_NONE,
    QCOW2_AMEND_UPGRADE,
    QCOW2_AMEND_REFCOUNT_ORDER,
    QCOW2_AMEND_DOWNGRADE,
} qcow2_amend_op;
/* QEMU's Qcow2AmendHelperCBInfo: one progress over several steps. */
typedef struct qcow2_amend_progress {
    img_progress_fn cb;         /* NULL: no reports */
    void *opaque;
    int total_ops;              /* steps that report progress */
    int ops_done;
    qcow2_amend_op current;     /* set by the step that runs */
    qcow2_amend_op last;
    uint64_t offset_done;       /* work of the finished steps */
    uint64_t last_work;         /* work size of the running step */
} qcow2_amend_progress;
/* Reports done of work units of the current step. */
void qcow2_amend_progress_report(qcow2_amend_progress *p, uint64_t done,
                                 uint64_t work);
int qcow2_amend(img *im, const img_opts *opts, int force, img_progress_fn cb,
                void *opaque, img_err *err);
/* To version 2: refuses what it cannot hold, expands zero clusters. */
int qcow2_downgrade(img *im, qcow2_amend_progress *p, img_err *err);
/* New refcount structures with 2^order-bit entries. */
int qcow2_change_refcount_order(img *im, unsigned order,
                                qcow2_amend_progress *p, img_err *err);

/* qcow2_backing.c */
int qcow2_change_backing(img *im, const char *name, const char *fmt,
                         img_err *err);
int qcow2_make_empty(img *im, img_err *err);

/* qcow2_bitmaps.c: the persistent bitmaps' directory. */
typedef struct qcow2_bitmap {
    uint64_t table_off;  /* bitmap table (table_size 8-byte entries) */
    uint32_t table_size;
    uint32_t flags;      /* QCOW2_BME_FLAG_* */
    uint8_t type;
    uint8_t gbits;       /* granularity: 1 << gbits bytes per bit */
    char *name;          /* malloc'd */
    uint8_t *extra;      /* malloc'd, extra_len bytes kept as they are */
    uint32_t extra_len;
} qcow2_bitmap;

typedef struct qcow2_bitmap_dir {
    qcow2_bitmap *b;     /* malloc'd, n entries */
    uint32_t n;
    uint64_t off, size;  /* where the directory is in the file */
} qcow2_bitmap_dir;

/* The bitmaps extension of the header (the last, when repeated, as for
 * QEMU), or NULL.  Its length is the caller's to check. */
const qcow2_ext *qcow2_bitmaps_ext(const qcow2_state *s);
/* Reads and checks the directory; d->n is 0 when the image has no valid
 * bitmaps (none, or the autoclear bit cleared).  Free with
 * qcow2_bitmap_dir_free (also after a failure). */
int qcow2_bitmap_dir_load(const qcow2_state *s, img_file *file,
                          qcow2_bitmap_dir *d, img_err *err);
void qcow2_bitmap_dir_free(qcow2_bitmap_dir *d);
/* The bitmaps' names, flags and granularity for info, as a list of dicts
 * in qemu-img's form; *out is NULL when the image has no valid bitmaps. */
int qcow2_bitmaps_info(const qcow2_state *s, img_file *file, img_val **out,
                       img_err *err);
/* The bitmaps for convert --bitmaps (driver hook). */
int qcow2_bitmap_list(img *im, img_bitmap_info **out, size_t *n,
                      img_err *err);
/* qcow2_bitmaps_write.c: the bitmap command's change (driver hook). */
int qcow2_bitmap_change(img *im, const img_bitmap_change *c, img_err *err);

/* qcow2_bitmaps_merge.c: a bitmap's contents, through its table (which
 * the caller has checked has the entries the disk size needs). */
typedef struct qcow2_bitmap_ref {
    qcow2_state *s;
    img_file *file;
    const qcow2_bitmap *b;
    const uint64_t *table; /* b->table_size entries */
} qcow2_bitmap_ref;

/* Bits of a bitmap of granularity 1 << gbits over disk_size bytes. */
uint64_t qcow2_bitmap_bits(uint64_t disk_size, unsigned gbits);
/* Merges src's bits into dst (disks of the same size): new_table gets
 * dst's table with a new cluster for each cluster that gained bits; the
 * caller stores it, then frees the clusters it replaced.  On failure the
 * new clusters are freed again and new_table equals dst's table. */
int qcow2_bitmap_merge_data(const qcow2_bitmap_ref *dst,
                            const qcow2_bitmap_ref *src, uint64_t *new_table,
                            img_err *err);

/* qcow2_crypt_info.c: the "encrypt" dict of info for an encrypted image
 * (the LUKS header's algorithms and key slots, or the legacy AES method);
 * *out is NULL when the image is not encrypted. */
int qcow2_crypt_info(const qcow2_state *s, img_file *file, img_val **out,
                     img_err *err);

#endif
