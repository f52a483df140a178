/* libimg/img.h -- the public image API.
 *
 * An img is an open disk image: a format driver over an img_file, with an
 * optional backing image below it.  Offsets and lengths are 64-bit bytes.
 * Every function returns >= 0 on success and -errno on failure with err set
 * (err may be NULL).  pread/pwrite/block_status may be called from many
 * threads at once on one img (the core serialises drivers that are not
 * thread-safe).
 */
#ifndef IMG_IMG_H
#define IMG_IMG_H

#include <stdint.h>

#include "err.h"
#include "file.h"
#include "opts.h"
#include "value.h"

typedef struct img img;
typedef struct img_driver img_driver;

/* Open flags. */
enum {
    IMG_OPEN_RDWR        = 1u << 0, /* writable */
    IMG_OPEN_NO_BACKING  = 1u << 1, /* do not open the backing chain */
    IMG_OPEN_FORCE_SHARE = 1u << 2, /* -U: read-only, take no locks */
    IMG_OPEN_UNTRUSTED   = 1u << 3, /* references must stay in the image dir */
    IMG_OPEN_NO_LOCK     = 1u << 4, /* memory images, tests */
    IMG_OPEN_QUIET       = 1u << 5, /* no warnings on stderr */
    IMG_OPEN_TRUST_EXTENTS = 1u << 6, /* VMDK: extent files may be absolute,
                                         outside the image's directory or
                                         devices (ignored when UNTRUSTED) */
    IMG_OPEN_CHECK       = 1u << 7, /* for check/repair (QEMU's
                                       BDRV_O_CHECK): dirty images are not
                                       repaired at open, corrupt ones may
                                       be opened read/write */
    IMG_OPEN_NO_FLUSH    = 1u << 8, /* cache=unsafe (QEMU's BDRV_O_NO_FLUSH):
                                       drivers write their metadata back
                                       but never sync the file */
    IMG_OPEN_READ_ONCE   = 1u << 9, /* read-only, each byte read about once
                                       (convert's sources): its files, its
                                       backing chain's too, open with
                                       IMG_FILE_READ_ONCE */
};

/* block_status mask (QEMU BDRV_BLOCK_*). */
enum {
    IMG_BS_DATA         = 1u << 0, /* reads come from stored data */
    IMG_BS_ZERO         = 1u << 1, /* reads return zeros */
    IMG_BS_OFFSET_VALID = 1u << 2, /* *host_off is the offset in the file */
    IMG_BS_ALLOCATED    = 1u << 3, /* this layer decides the content; when
                                      clear, the backing image does */
};

/* Write flags. */
enum {
    IMG_WRITE_COMPRESSED = 1u << 0, /* store compressed (convert -c) */
    IMG_WRITE_MAY_UNMAP  = 1u << 1, /* write_zeroes may deallocate */
};

/* Longest chain of backing files followed before giving up. */
#define IMG_MAX_BACKING_DEPTH 32

/* Opens filename with format (NULL: probe the content).  An image of
 * unspecified format that probes as raw opens with a warning when
 * writable, and writes to its first 512 bytes are then refused. */
int img_open(const char *filename, const char *format, unsigned flags,
             img **out, img_err *err);
/* Same over an already opened container, which the img then owns (also on
 * failure).  Backing names are resolved against dir (may be NULL). */
int img_open_file(img_file *file, const char *format, unsigned flags,
                  img **out, img_err *err);
void img_close(img *im); /* NULL is a no-op; closes the backing chain too */
/* The IMG_FILE_* flags for a file of an image opened with open_flags:
 * RDWR when writable, READ_ONCE when the image is read once.  Drivers
 * use it for the files they open themselves (data files, extents). */
unsigned img_file_flags(unsigned open_flags, int writable);

/* Creates a new image file.  size is the virtual size; opts holds the
 * driver's -o options (may be NULL). */
typedef struct img_create_opts {
    uint64_t size;
    const char *backing_file; /* NULL: none */
    const char *backing_fmt;  /* NULL: probe when opened */
    const img_opts *opts;     /* driver options, parsed against its desc */
} img_create_opts;
int img_create(const char *filename, const char *format,
               const img_create_opts *o, img_err *err);
/* Creates into an existing container (memory files in tests). */
int img_create_file(img_file *file, const char *format,
                    const img_create_opts *o, img_err *err);

int img_pread(img *im, void *buf, uint64_t len, uint64_t off, img_err *err);
int img_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
               unsigned flags, img_err *err);
int img_pwrite_zeroes(img *im, uint64_t off, uint64_t len, unsigned flags,
                      img_err *err);
int img_discard(img *im, uint64_t off, uint64_t len, img_err *err);
/* Hints that [off, off+len) will be read soon, so that the format can
 * start fetching it from its file (a cold source reads faster when the
 * next chunks are already on their way).  The range is clipped to the
 * size; a no-op for formats without the hook. */
void img_prefetch(img *im, uint64_t off, uint64_t len);
/* True when img_prefetch can do something for this image. */
int img_can_prefetch(const img *im);
/* True when several threads' img_pread calls on this image run at once;
 * false when the format's hooks run under the image's lock (a format
 * that is not IMG_DRV_THREADSAFE, see driver.h; such a hook may still let
 * go of the lock while it waits for I/O). */
int img_reads_in_parallel(const img *im);
int img_flush(img *im, img_err *err);
/* Preallocation modes (QEMU's PreallocMode order). */
enum {
    IMG_PREALLOC_OFF,
    IMG_PREALLOC_METADATA,
    IMG_PREALLOC_FALLOC,
    IMG_PREALLOC_FULL,
};
/* "off", "metadata", "falloc", "full" -> IMG_PREALLOC_*; -EINVAL with
 * "Invalid parameter 'x'" otherwise. */
int img_prealloc_parse(const char *s, int *out, img_err *err);

/* Changes the virtual size (shrinking must be asked for by the caller).
 * prealloc is an IMG_PREALLOC_* mode for the new part. */
int img_truncate(img *im, uint64_t size, int prealloc, img_err *err);

/* Status of [off, off+len) in this layer only: returns an IMG_BS_* mask,
 * sets *pnum (>= 1, <= len) and, with OFFSET_VALID, *host_off. */
int img_block_status(img *im, uint64_t off, uint64_t len, uint64_t *pnum,
                     uint64_t *host_off, img_err *err);
/* Status through the chain from im down to (not including) base (NULL:
 * whole chain).  *depth is the layer that decided (0 = im); *file_img the
 * image whose file *host_off refers to.  A range allocated nowhere returns
 * 0 (or IMG_BS_ZERO when the chain end reads as zeros). */
int img_block_status_above(img *im, img *base, uint64_t off, uint64_t len,
                           uint64_t *pnum, uint64_t *host_off, int *depth,
                           img **file_img, img_err *err);

/* Compressed writes in two steps (libimg/img_compress.c), for callers
 * that compress on several threads (convert -c).  img_compress_cluster
 * is thread-safe and takes no lock: it compresses the cluster at buf
 * (len bytes: one cluster, or the short last one) into out (cap bytes)
 * and sets *out_len, 0 when the result would not be smaller than a
 * cluster.  img_pwrite_compressed then stores the cluster at off (cluster
 * aligned): the clen compressed bytes at cdata, or buf itself when clen
 * is 0.  Both return -ENOTSUP when the format has no such hooks; then
 * use img_pwrite(IMG_WRITE_COMPRESSED). */
int img_compress_cluster(img *im, const void *buf, uint64_t len, void *out,
                         size_t cap, size_t *out_len, img_err *err);
int img_pwrite_compressed(img *im, const void *buf, uint64_t len,
                          uint64_t off, const void *cdata, size_t clen,
                          img_err *err);
/* Whether the two calls above are available for this image. */
int img_has_compress_hooks(const img *im);

/* Information for "info". */
typedef struct img_info {
    uint64_t virtual_size;
    int64_t actual_size;   /* host bytes used, -1 when unknown */
    uint64_t cluster_size; /* 0: not applicable */
    int encrypted;
    int dirty_flag;
    int has_dirty_flag;    /* format reports a dirty flag */
    img_val *format_specific; /* owned dict {"type":..,"data":{..}} or NULL */
} img_info;
int img_get_info(img *im, img_info *out, img_err *err);
void img_info_clear(img_info *info);

/* Consistency check (qemu-img check). */
typedef struct img_check_result {
    int corruptions;
    int leaks;
    int check_errors;
    int corruptions_fixed;
    int leaks_fixed;
    int64_t image_end_offset;  /* 0: not reported */
    uint64_t total_clusters;   /* 0: no cluster statistics */
    uint64_t allocated_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
} img_check_result;
enum { IMG_FIX_LEAKS = 1, IMG_FIX_ERRORS = 2 };
/* -ENOTSUP when the format has no check. */
int img_check(img *im, img_check_result *res, unsigned fix, img_err *err);

/* Accessors. */
uint64_t img_size(const img *im);
const char *img_filename(const img *im);  /* as given to img_open */
/* The file that a host offset from img_block_status at guest offset off
 * refers to (what qemu-img map prints as "File"): an external data file
 * or extent file where the format has them, else img_filename(). */
const char *img_host_file_name(img *im, uint64_t off);
const char *img_format(const img *im);    /* driver name */
img *img_backing(const img *im);          /* NULL when none/not opened */
const char *img_backing_name(const img *im); /* as stored in the image */
const char *img_backing_path(const img *im); /* resolved; NULL if none */
const char *img_backing_format(const img *im); /* stored backing format */
img_file *img_get_file(const img *im);
int img_is_writable(const img *im);
int img_probed_raw(const img *im);        /* raw by probing (sector 0 safe) */
/* Whether a freshly created image of this format reads as zeros. */
int img_has_zero_init(const img *im);
/* Sets the backing file recorded in the image (rebase -u); -ENOTSUP. */
const img_driver *img_get_driver(const img *im);

/* Drivers. */
const img_driver *img_driver_find(const char *name);
/* Best-scoring driver for the first bytes of a file (never NULL: raw). */
const img_driver *img_driver_probe(const uint8_t *buf, size_t len);
const img_driver *img_driver_at(unsigned i); /* NULL past the end */
const char *img_driver_name(const img_driver *drv);
/* The driver's create options (terminated by name NULL), or NULL. */
const img_opt_desc *img_driver_create_opts(const img_driver *drv);
int img_driver_supports_compression(const img_driver *drv);
int img_driver_supports_backing(const img_driver *drv);

/* Size a new image of this format would need (qemu-img measure).  in may be
 * NULL (--size only); size is the virtual size. */
typedef struct img_measure {
    uint64_t required;
    uint64_t fully_allocated;
    int has_bitmaps;  /* report "bitmaps" (qcow2 v3 from a source that can
                         hold persistent bitmaps); callers zero the struct */
    uint64_t bitmaps; /* bytes needed for the source's persistent bitmaps */
} img_measure;
int img_driver_measure(const img_driver *drv, const img_opts *opts,
                       uint64_t size, img *in, img_measure *out,
                       img_err *err);

/* Changing an image in place (qemu-img amend, rebase, commit). */
/* Progress of a long operation: done out of total units (total > 0). */
typedef void (*img_progress_fn)(void *opaque, uint64_t done,
                                uint64_t total);
/* The driver's amend options (terminated by name NULL), or NULL when the
 * format cannot amend. */
const img_opt_desc *img_driver_amend_opts(const img_driver *drv);
/* Changes the options of the open (read/write) image: opts is parsed
 * against img_driver_amend_opts(); cb (may be NULL) reports progress.
 * -ENOTSUP when the format cannot amend. */
int img_amend(img *im, const img_opts *opts, int force, img_progress_fn cb,
              void *opaque, img_err *err);
/* Records a new backing file name (NULL: none) and format (NULL: none)
 * in the image.  The opened chain is not changed.  -ENOTSUP when the
 * format cannot. */
int img_change_backing(img *im, const char *name, const char *fmt,
                       img_err *err);
/* Reopens an open image (typically one of a chain) read/write in place.
 * On failure the image stays usable read-only unless the driver could
 * not be reopened at all (then only img_close() is allowed). */
int img_reopen_rw(img *im, img_err *err);
/* Drops everything this layer stores (reads then come from the backing
 * image), as after a commit.  -ENOTSUP when the format cannot. */
int img_make_empty(img *im, img_err *err);

/* Internal snapshots (qemu-img snapshot, convert -l). */
typedef struct img_snapshot_info {
    char *id;               /* malloc'd (list); ignored by create */
    char *name;             /* malloc'd (list); the tag */
    uint64_t vm_state_size; /* bytes of saved VM state (0: disk only) */
    uint32_t date_sec;      /* wall clock at creation */
    uint32_t date_nsec;
    uint64_t vm_clock_nsec; /* guest clock at creation */
    int64_t icount;         /* instruction count, -1 when not recorded */
} img_snapshot_info;
/* *out gets a malloc'd array of *n snapshots (NULL when none); free it
 * with img_snapshot_list_free.  -ENOTSUP when the format has none. */
int img_snapshot_list(img *im, img_snapshot_info **out, size_t *n,
                      img_err *err);
void img_snapshot_list_free(img_snapshot_info *list, size_t n);
/* Creates a snapshot of the current state named sn->name with sn's date,
 * clock and icount; the id is the next free number.  Read/write only. */
int img_snapshot_create(img *im, const img_snapshot_info *sn, img_err *err);
/* Reverts the image to the snapshot whose id, else whose name, is
 * id_or_name (-ENOENT when none). */
int img_snapshot_apply(img *im, const char *id_or_name, img_err *err);
/* Deletes the snapshot matching id and name (either may be NULL, not
 * both; -ENOENT when none). */
int img_snapshot_delete(img *im, const char *id, const char *name,
                        img_err *err);

/* Read-only images: reads show the snapshot matching id and name (either
 * may be NULL) from now on (QEMU's bdrv_snapshot_load_tmp). */
int img_snapshot_load_tmp(img *im, const char *id, const char *name,
                          img_err *err);

/* Persistent dirty bitmaps (qemu-img bitmap): one change to the bitmap
 * called name, on an image opened read/write.  Adding makes an empty
 * bitmap of the given granularity (0: the format's default) that records
 * writes (unless disabled); disabling stops that.  Merging sets in name
 * every area that the bitmap src_name of the image src (which may be im
 * itself, and is only read) marks; the two images must have the same
 * size.  -ENOTSUP for formats without them. */
typedef enum img_bitmap_op {
    IMG_BITMAP_ADD,
    IMG_BITMAP_REMOVE,
    IMG_BITMAP_CLEAR,
    IMG_BITMAP_ENABLE,
    IMG_BITMAP_DISABLE,
    IMG_BITMAP_MERGE,
} img_bitmap_op;

typedef struct img_bitmap_change {
    img_bitmap_op op;
    const char *name;
    uint64_t granularity; /* IMG_BITMAP_ADD only; 0: default */
    int disabled;         /* IMG_BITMAP_ADD only: add it not recording */
    img *src;             /* IMG_BITMAP_MERGE only */
    const char *src_name; /* IMG_BITMAP_MERGE only */
} img_bitmap_change;

int img_bitmap_change_apply(img *im, const img_bitmap_change *c,
                            img_err *err);

/* The persistent bitmaps of an image, for convert --bitmaps; -ENOTSUP
 * when its format (or version) cannot hold them. */
typedef struct img_bitmap_info {
    char *name;           /* malloc'd */
    uint64_t granularity; /* bytes per bit */
    int enabled;          /* records writes */
    int inconsistent;     /* left in use by a program that stopped: its
                             contents cannot be trusted */
} img_bitmap_info;

int img_bitmap_list(img *im, img_bitmap_info **out, size_t *n, img_err *err);
void img_bitmap_list_free(img_bitmap_info *list, size_t n);

#endif
