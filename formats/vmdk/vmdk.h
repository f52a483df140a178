/* formats/vmdk/vmdk.h -- private state and internal interfaces of the VMDK
 * driver.
 *
 * A VMDK image is a descriptor (text) and a list of extents that together
 * make up the virtual disk.  The driver is split by concern:
 * vmdk_descriptor.c parses and writes descriptors, vmdk_sparse.c reads and
 * writes hosted sparse (and ESX "COWD") extents, vmdk_stream.c writes
 * streamOptimized extents (vmdk_zpool.c compresses their grains on
 * several cores), vmdk_flat.c handles FLAT/VMFS/ZERO extents,
 * vmdk_create.c makes new images, vmdk_check.c checks them and vmdk.c
 * holds the vtable, open (with the extent-file safety rules) and the
 * request loops.  The core serialises the hooks of this driver (it is not
 * IMG_DRV_THREADSAFE), so the state has no locks.
 */
#ifndef VMDK_H
#define VMDK_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/driver.h"
#include "vmdk_format.h"

/* ---- little-endian field access (bounds are the caller's job) ---- */

static inline uint16_t vmdk_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t vmdk_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t vmdk_le64(const uint8_t *p)
{
    return (uint64_t)vmdk_le32(p) | (uint64_t)vmdk_le32(p + 4) << 32;
}

static inline void vmdk_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void vmdk_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void vmdk_put_le64(uint8_t *p, uint64_t v)
{
    vmdk_put_le32(p, (uint32_t)v);
    vmdk_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- descriptor (vmdk_descriptor.c) ---- */

typedef enum vmdk_ext_type {
    VMDK_EXT_FLAT,       /* raw data in a file, at an offset */
    VMDK_EXT_SPARSE,     /* hosted sparse (KDMV) */
    VMDK_EXT_ZERO,       /* reads as zeros, no file */
    VMDK_EXT_VMFS,       /* raw data on VMFS (same as FLAT here) */
    VMDK_EXT_VMFSSPARSE, /* ESX sparse (COWD) */
} vmdk_ext_type;

typedef enum vmdk_access {
    VMDK_ACCESS_RW,
    VMDK_ACCESS_RDONLY,
    VMDK_ACCESS_NOACCESS,
} vmdk_access;

/* One extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */
typedef struct vmdk_desc_extent {
    vmdk_access access;
    uint64_t sectors;
    vmdk_ext_type type;
    char *name;      /* as written; NULL for ZERO */
    uint64_t offset; /* sectors into the file (FLAT, VMFS) */
} vmdk_desc_extent;

typedef struct vmdk_desc {
    unsigned version;     /* version= */
    uint32_t cid;         /* CID= */
    uint32_t parent_cid;  /* parentCID= (0xffffffff: none) */
    char *create_type;    /* createType= */
    char *parent_hint;    /* parentFileNameHint=, or NULL */
    vmdk_desc_extent *extents;
    size_t n_extents;
} vmdk_desc;

/* 100 when buf starts like a descriptor file (after comment and blank
 * lines, a "version=N" line), else 0; as QEMU probes. */
int vmdk_desc_probe(const uint8_t *buf, size_t len);
/* Parses len bytes of descriptor text (a NUL ends it early).  Extent
 * lines are bounded by VMDK_MAX_EXTENTS and their sizes by
 * VMDK_MAX_SECTORS.  Fills *out (clear it with vmdk_desc_clear). */
int vmdk_desc_parse(const char *text, size_t len, vmdk_desc *out,
                    img_err *err);
void vmdk_desc_clear(vmdk_desc *d);
/* Descriptor name of an extent type ("FLAT", "SPARSE", ...). */
const char *vmdk_ext_type_name(vmdk_ext_type t);
/* createType values we open; and the ones allowed for untrusted images
 * (a single file: monolithicSparse and streamOptimized). */
int vmdk_create_type_known(const char *ct);
int vmdk_create_type_untrusted_ok(const char *ct);

/* What vmdk_desc_format writes. */
typedef struct vmdk_desc_out {
    uint32_t cid, parent_cid;
    const char *create_type;
    const char *parent_hint;  /* NULL: none */
    const vmdk_desc_extent *extents;
    size_t n_extents;
    const char *hwversion;    /* ddb.virtualHWVersion */
    const char *adapter;      /* ddb.adapterType */
    const char *tools;        /* ddb.toolsVersion */
    uint64_t sectors;         /* virtual size, for the geometry */
    const uint8_t *uuid;      /* 16 bytes: ddb.uuid, ddb.longContentID */
} vmdk_desc_out;
/* Formats a descriptor; returns a malloc'd string or NULL (ENOMEM). */
char *vmdk_desc_format(const vmdk_desc_out *d);
/* Replaces the value of the CID= line in text (len bytes, the same length
 * afterwards when the old value had 8 digits).  Returns a malloc'd copy. */
char *vmdk_desc_set_cid(const char *text, size_t len, uint32_t cid);

/* ---- sparse extents (vmdk_sparse.c) ---- */

/* A decoded SparseExtentHeader. */
typedef struct vmdk_header {
    uint32_t version;
    uint32_t flags;
    uint64_t capacity;    /* sectors */
    uint64_t grain;       /* sectors */
    uint64_t desc_offset; /* sectors */
    uint64_t desc_size;   /* sectors */
    uint32_t num_gtes;
    uint64_t rgd_offset;  /* sectors */
    uint64_t gd_offset;   /* sectors, or VMDK_GD_AT_END */
    uint64_t overhead;    /* sectors */
    uint8_t unclean;
    uint8_t nl[4];        /* newline-detection bytes */
    uint16_t compress;
} vmdk_header;

/* Decodes a header from a 512-byte sector (checks the magic only). */
int vmdk_header_decode(const uint8_t *buf, size_t len, vmdk_header *h,
                       img_err *err);
/* Encodes h into a zeroed 512-byte sector, newline bytes included. */
void vmdk_header_encode(const vmdk_header *h, uint8_t *sector);

/* One cached grain table. */
typedef struct vmdk_gt_slot {
    uint64_t sector;  /* where it lives; 0: slot empty */
    uint64_t used;    /* LRU tick */
    uint32_t *tbl;    /* host order */
} vmdk_gt_slot;

typedef struct vmdk_stream vmdk_stream;

/* An open sparse extent. */
typedef struct vmdk_sparse {
    vmdk_header h;        /* effective header (the footer's for GD_AT_END) */
    int cowd;             /* ESX vmfsSparse extent */
    int gd_at_end;        /* header at 0 says GD_AT_END */
    int compressed;       /* deflate grains */
    int markers;          /* grain markers with LBA */
    int zero_grain;       /* GTE 1 reads as zeros */
    uint64_t grain_bytes;
    uint32_t gtes;        /* entries per grain table */
    uint64_t gt_bytes;    /* bytes of one grain table on disk */
    uint32_t gd_entries;
    uint32_t *gd;         /* host order, gd_entries */
    uint32_t *rgd;        /* redundant GD, or NULL */
    vmdk_gt_slot cache[VMDK_GT_CACHE];
    uint64_t tick;
    uint64_t file_size;   /* bytes; grows with allocations */
    uint64_t next_alloc;  /* bytes: where the next grain goes */
    uint8_t *wbuf;        /* grain-sized scratch for writes, lazily */
    uint8_t *zin;         /* compressed grain read buffer, lazily */
    uint8_t *zout;        /* decompressed grain */
    uint64_t zgrain;      /* grain held in zout, UINT64_MAX: none */
    uint8_t *run_in;      /* compressed grains of a run (vmdk_grain_run.c) */
    size_t run_in_cap;
    vmdk_stream *stream;  /* writer of a compressed extent, or NULL */
} vmdk_sparse;

/* What a grain is. */
typedef enum vmdk_grain_kind {
    VMDK_GRAIN_UNALLOC,    /* this extent does not have it */
    VMDK_GRAIN_ZERO,       /* zeroed-grain GTE */
    VMDK_GRAIN_DATA,       /* stored uncompressed at *sector */
    VMDK_GRAIN_COMPRESSED, /* stored compressed at *sector */
    VMDK_GRAIN_PENDING,    /* in the stream writer's buffer */
} vmdk_grain_kind;

/* Opens a sparse extent (KDMV or COWD, by magic) in f; name is for
 * messages.  writable asks for write support (refused for COWD, for
 * version 3 uncompressed extents, and for compressed extents without
 * markers).  *out is freed with vmdk_sparse_free. */
int vmdk_sparse_open(img_file *f, const char *name, int writable,
                     vmdk_sparse **out, img_err *err);
void vmdk_sparse_free(vmdk_sparse *sp);
/* Grain number g: its kind and, for DATA/COMPRESSED, its sector. */
int vmdk_sparse_grain(img_file *f, vmdk_sparse *sp, uint64_t g,
                      vmdk_grain_kind *kind, uint64_t *sector, img_err *err);
/* Reads n bytes at offset in of compressed grain g stored at sector. */
int vmdk_sparse_read_compressed(img_file *f, vmdk_sparse *sp, uint64_t g,
                                uint64_t sector, void *buf, uint64_t in,
                                uint64_t n, img_err *err);
/* Bytes a compressed grain's header and payload may take. */
uint64_t vmdk_grain_zin_cap(const vmdk_sparse *sp);
/* Reads compressed grain g's header and payload, stored at sector, into
 * buf (vmdk_grain_zin_cap bytes), checking the header: the payload's
 * length in *size; returns the header's length or -errno. */
int vmdk_grain_payload(img_file *f, const vmdk_sparse *sp, uint64_t g,
                       uint64_t sector, uint8_t *buf, uint32_t *size,
                       img_err *err);
/* Inflates size bytes at in into one grain at out (zero-filled past the
 * stream's end); -EINVAL for a corrupt stream.  Any thread may call it. */
int vmdk_grain_inflate(const vmdk_sparse *sp, const uint8_t *in,
                       uint32_t size, uint8_t *out);
/* "Compressed grain at sector N is corrupt"; returns -EINVAL. */
int vmdk_grain_corrupt(uint64_t sector, img_err *err);

/* ---- runs of compressed grains (vmdk_grain_run.c) ---- */

/* Reads the whole compressed grains from grain g on, at most max of them
 * and at most a run's worth, into out: their payloads first, then every
 * grain inflated on several threads.  Sets *done to their bytes, or to 0
 * (nothing read) when fewer than two compressed grains start there. */
int vmdk_read_grain_run(img_file *f, vmdk_sparse *sp, uint64_t g,
                        uint64_t max, uint8_t *out, uint64_t *done,
                        img_err *err);
/* Reads a grain table (host order) for check; *tbl is borrowed from the
 * cache until the next lookup. */
int vmdk_sparse_load_gt(img_file *f, vmdk_sparse *sp, uint64_t sector,
                        uint32_t **tbl, img_err *err);

/* ---- streamOptimized writer (vmdk_stream.c) ---- */

/* Starts writing to a compressed extent opened read-write: loads every
 * grain table into memory; grains are then appended. */
int vmdk_stream_start(img_file *f, vmdk_sparse *sp, img_err *err);
/* The GTE of grain g held by the writer. */
uint32_t vmdk_stream_gte(const vmdk_sparse *sp, uint64_t g);
/* The pending grain's buffer when g is the grain being assembled. */
const uint8_t *vmdk_stream_pending(const vmdk_sparse *sp, uint64_t g);
/* Writes n bytes (buf NULL: zeros) at byte offset off of extent e,
 * within one grain; a new grain starts as the backing image's content (or
 * zeros).  Grains already written cannot be written again. */
struct vmdk_extent;
int vmdk_stream_write(img *im, struct vmdk_extent *e, const void *buf,
                      uint64_t n, uint64_t off, img_err *err);
/* Writes the pending grain, the grain tables, the grain directory, the
 * footer and the end-of-stream marker; the file is then complete. */
int vmdk_stream_finish(img_file *f, vmdk_sparse *sp, img_err *err);
void vmdk_stream_free(vmdk_stream *st);
/* Writes the metadata of an empty streamOptimized extent (header with
 * GD_AT_END, the descriptor in its area, GD, footer and EOS) into f. */
int vmdk_stream_create(img_file *f, uint64_t capacity, const char *desc,
                       img_err *err);

/* ---- parallel grain compression (vmdk_zpool.c) ---- */

typedef struct vmdk_zpool vmdk_zpool;
/* Receives grain g compressed: frame has VMDK_GRAIN_MARKER_LEN bytes of
 * room, then zlen bytes of zlib data, then room up to the next sector. */
typedef int (*vmdk_zpool_sink)(void *opaque, uint64_t g, uint8_t *frame,
                               uint64_t zlen, img_err *err);
/* Bytes of a frame: marker room and the worst-case compressed grain,
 * rounded up to a sector. */
uint64_t vmdk_zpool_out_cap(uint64_t grain_bytes);
/* A pool of threads (0: compress inline) for grains of grain_bytes;
 * NULL on allocation failure. */
vmdk_zpool *vmdk_zpool_new(uint64_t grain_bytes, int threads);
/* Stops the threads; results not drained are dropped. */
void vmdk_zpool_free(vmdk_zpool *p);
/* Queues grain g, whose data is in *buf (grain_bytes); *buf is swapped
 * for a free buffer.  Results are handed to sink in submission order,
 * here or in a later call. */
int vmdk_zpool_submit(vmdk_zpool *p, uint64_t g, uint8_t **buf,
                      vmdk_zpool_sink sink, void *opaque, img_err *err);
/* Waits for every queued grain and hands it to sink. */
int vmdk_zpool_drain(vmdk_zpool *p, vmdk_zpool_sink sink, void *opaque,
                     img_err *err);
/* The data of grain g if it is queued and not yet handed to the sink. */
const uint8_t *vmdk_zpool_find(const vmdk_zpool *p, uint64_t g);

/* ---- the image ---- */

/* One extent of the virtual disk. */
typedef struct vmdk_extent {
    vmdk_ext_type type;
    vmdk_access access;
    uint64_t start;       /* virtual byte offset of its first byte */
    uint64_t len;         /* bytes */
    img_file *file;       /* NULL for ZERO */
    int own_file;         /* closed with the image (not im->file) */
    char *path;           /* as reported by info */
    const char *info_type; /* "format" in info: descriptor type or "" */
    uint64_t flat_off;    /* bytes into the file (FLAT, VMFS) */
    vmdk_sparse *sp;      /* SPARSE, VMFSSPARSE */
} vmdk_extent;

typedef struct vmdk_state {
    vmdk_extent *ext;
    size_t n_ext;
    uint32_t cid;
    uint32_t parent_cid;
    char *create_type;
    int cid_checked;     /* parent CID verified against the backing */
    int cid_updated;     /* CID renewed after the first write */
    uint64_t desc_off;   /* bytes: descriptor in im->file */
    uint64_t desc_cap;   /* bytes available there (0: no descriptor) */
} vmdk_state;

/* Flat and zero extents (vmdk_flat.c): e-relative byte offsets. */
int vmdk_flat_read(vmdk_extent *e, void *buf, uint64_t n, uint64_t off,
                   img_err *err);
int vmdk_flat_write(vmdk_extent *e, const void *buf, uint64_t n,
                    uint64_t off, img_err *err);
int vmdk_flat_status(vmdk_extent *e, uint64_t off, uint64_t n,
                     uint64_t *pnum, uint64_t *host_off, img_err *err);

/* Sparse I/O within one extent (vmdk_sparse.c); off is e-relative. */
int vmdk_sparse_read(img *im, vmdk_extent *e, void *buf, uint64_t n,
                     uint64_t off, img_err *err);
int vmdk_sparse_write(img *im, vmdk_extent *e, const void *buf, uint64_t n,
                      uint64_t off, img_err *err);
int vmdk_sparse_status(img *im, vmdk_extent *e, uint64_t off, uint64_t n,
                       uint64_t *pnum, uint64_t *host_off, img_err *err);

/* Reads n bytes of the backing image at virtual offset off (zeros past
 * its end, or with no backing image), after checking the parent CID. */
int vmdk_read_backing(img *im, void *buf, uint64_t n, uint64_t off,
                      img_err *err);

/* Create (vmdk_create.c) and check (vmdk_check.c). */
extern const img_opt_desc vmdk_create_opts[];
int vmdk_create(img_file *file, const img_create_opts *o, img_err *err);
int vmdk_check(img *im, img_check_result *res, unsigned fix, img_err *err);
/* Fills buf with n random bytes (getrandom, else a weak fallback). */
void vmdk_random(void *buf, size_t n);

#endif
