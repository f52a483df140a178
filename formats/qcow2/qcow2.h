/* formats/qcow2/qcow2.h -- private state and internal interfaces of the
 * qcow2 driver.
 *
 * The driver is split by concern: qcow2_header.c decodes the header and
 * its extensions, qcow2_snapshot.c the snapshot table, qcow2_cluster.c the
 * L1/L2 mapping (with a small L2 cache), qcow2_compress.c compressed
 * clusters, and qcow2.c the vtable.  The core serialises the hooks of
 * this driver (it is not IMG_DRV_THREADSAFE), so the state has no locks.
 *
 * The state is laid out so that a writer can be added: the L1 table is
 * kept in host order with its on-disk offset and size, L2 cache slots
 * carry a dirty flag, the refcount table geometry is kept, and unknown
 * header extensions are kept verbatim for a header rewrite.
 */
#ifndef QCOW2_H
#define QCOW2_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/driver.h"
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
} qcow2_snapshot;

/* One L2 table held in memory, in on-disk (big-endian) form. */
typedef struct qcow2_l2_slot {
    uint64_t offset;            /* host offset; 0: slot empty */
    uint64_t last_use;          /* LRU stamp */
    uint8_t *table;             /* cluster_size bytes */
    int dirty;                  /* for a writer: must be written back */
} qcow2_l2_slot;

#define QCOW2_L2_CACHE_MAX   16
#define QCOW2_L2_CACHE_BYTES (4u * 1024 * 1024)

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
    uint64_t file_size;         /* of the qcow2 file at open */

    uint64_t *l1;               /* host order, l1_loaded entries */
    uint32_t l1_loaded;         /* entries covering the virtual size */

    qcow2_l2_slot l2_cache[QCOW2_L2_CACHE_MAX];
    unsigned l2_cache_slots;    /* slots in use for this cluster size */
    uint64_t l2_clock;          /* LRU counter */

    img_file *data;             /* where guest clusters live */
    img_file *data_owned;       /* external data file (closed by us) */
    char *data_path;            /* its resolved path */
    uint64_t data_size;         /* of data at open */

    unsigned csize_shift;       /* compressed descriptor geometry */
    uint64_t csize_mask;
    uint64_t coffset_mask;
    uint8_t *cmp_in;            /* 2 clusters: compressed bytes */
    uint8_t *cmp_out;           /* 1 cluster: last decompressed */
    uint64_t cmp_entry;         /* descriptor of cmp_out's cluster */
    int cmp_valid;
    void *zstd_dctx;            /* lazily created */

    qcow2_snapshot *snapshots;
    uint32_t nb_snapshots;

    uint64_t *reftable;         /* host order, loaded on first use */
    uint64_t reftable_entries;
    uint8_t *refblock;          /* one cached refcount block */
    uint64_t refblock_offset;   /* its host offset; 0: none */
    int prealloc_checked;       /* metadata_prealloc is known */
    int metadata_prealloc;      /* holes in the file read as zeros */
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

/* qcow2_refcount.c */
/* Reads the refcount of host cluster number cluster (0 past the table). */
int qcow2_get_refcount(qcow2_state *s, img_file *file, uint64_t cluster,
                       uint64_t *refcount, img_err *err);
/* 1 when the image looks metadata-preallocated (QEMU's heuristic), 0 when
 * not, -errno on a read error. */
int qcow2_detect_metadata_prealloc(qcow2_state *s, img_file *file,
                                   img_err *err);
void qcow2_refcount_free(qcow2_state *s);

/* qcow2_compress.c */
/* Returns the decompressed cluster for a compressed descriptor in
 * *cluster (borrowed from s, valid until the next call). */
int qcow2_read_compressed(qcow2_state *s, img_file *file, uint64_t l2_entry,
                          const uint8_t **cluster, img_err *err);
void qcow2_compress_free(qcow2_state *s);

#endif
