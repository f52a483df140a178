/* libimg/driver.h -- the format-driver interface (internal to libimg and
 * formats/).
 *
 * The core (img.c, io.c) validates ranges, alignment and read-only before it
 * calls a driver, so drivers may assert those preconditions.  A NULL hook
 * gets a default or -ENOTSUP; a driver without open or pread is rejected.
 * The core allocates state_size zeroed bytes for the driver (im->state) and
 * frees them after close.
 */
#ifndef IMG_DRIVER_H
#define IMG_DRIVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "img.h"

#define IMG_DRIVER_ABI 1

/* Driver flags. */
enum {
    IMG_DRV_THREADSAFE   = 1u << 0, /* hooks may run concurrently; otherwise
                                       the core serialises them per image */
    IMG_DRV_COMPRESSION  = 1u << 1, /* accepts IMG_WRITE_COMPRESSED */
    IMG_DRV_BACKING      = 1u << 2, /* supports backing files */
    IMG_DRV_ZERO_INIT    = 1u << 3, /* freshly created images read as zero */
};

struct img_driver {
    unsigned abi;       /* IMG_DRIVER_ABI; mismatch rejected */
    const char *name;   /* "qcow2" */
    size_t state_size;  /* core allocates (zeroed) and frees */
    unsigned flags;     /* IMG_DRV_* */
    const img_opt_desc *create_opts; /* terminated by name NULL */

    /* Confidence 0..100 that buf (the first len bytes) is this format. */
    int (*probe)(const uint8_t *buf, size_t len);
    /* Opens: sets im->size and, if any, im->backing_name/backing_fmt.
     * Undoes its own partial work on failure. */
    int (*open)(img *im, img_file *file, unsigned flags, img_err *err);
    void (*close)(img *im);
    /* Fills the whole buffer or fails.  Unallocated ranges: zeros or the
     * backing image (im->backing, may be NULL). */
    int (*pread)(img *im, void *buf, uint64_t len, uint64_t off, img_err *err);
    int (*pwrite)(img *im, const void *buf, uint64_t len, uint64_t off,
                  unsigned flags, img_err *err);
    int (*pwrite_zeroes)(img *im, uint64_t off, uint64_t len, unsigned flags,
                         img_err *err);
    int (*discard)(img *im, uint64_t off, uint64_t len, img_err *err);
    /* Returns IMG_BS_* mask and sets *pnum; see img_block_status(). */
    int (*block_status)(img *im, uint64_t off, uint64_t len, uint64_t *pnum,
                        uint64_t *host_off, img_err *err);
    int (*flush)(img *im, img_err *err);
    int (*truncate)(img *im, uint64_t size, int prealloc, img_err *err);
    int (*create)(img_file *file, const img_create_opts *o, img_err *err);
    int (*check)(img *im, img_check_result *res, unsigned fix, img_err *err);
    /* Fills format-specific fields; the core fills sizes beforehand. */
    int (*info)(img *im, img_info *out, img_err *err);
    int (*measure)(const img_opts *opts, uint64_t size, img *in,
                   img_measure *out, img_err *err);
    /* Internal snapshots (see img_snapshot_*); NULL: -ENOTSUP. */
    int (*snapshot_list)(img *im, img_snapshot_info **out, size_t *n,
                         img_err *err);
    int (*snapshot_create)(img *im, const img_snapshot_info *sn,
                           img_err *err);
    int (*snapshot_goto)(img *im, const char *id_or_name, img_err *err);
    int (*snapshot_delete)(img *im, const char *id, const char *name,
                           img_err *err);
    int (*snapshot_load_tmp)(img *im, const char *id, const char *name,
                             img_err *err);
    /* Persistent bitmaps (see img_bitmap_change_apply); NULL: -ENOTSUP. */
    int (*bitmap_change)(img *im, const img_bitmap_change *c, img_err *err);
    /* -ENOTSUP when this image cannot hold them (see img_bitmap_list). */
    int (*bitmap_list)(img *im, img_bitmap_info **out, size_t *n,
                       img_err *err);
    /* qemu-img amend: options (terminated by name NULL; NULL: no amend)
     * and the change itself, on an image opened read/write. */
    const img_opt_desc *amend_opts;
    int (*amend)(img *im, const img_opts *opts, int force,
                 img_progress_fn cb, void *opaque, img_err *err);
    /* Rewrites the backing file reference (name and fmt may be NULL). */
    int (*change_backing)(img *im, const char *name, const char *fmt,
                          img_err *err);
    /* Drops all data of this layer (qemu-img commit). */
    int (*make_empty)(img *im, img_err *err);
    /* Compressed writes in two steps, so that convert -c compresses on
     * every core (see img_compress_cluster): compress_cluster may run on
     * many threads at once and outside the per-image lock, so it reads
     * only what open fixed; pwrite_compressed is serialised like pwrite.
     * Both set or both NULL. */
    int (*compress_cluster)(img *im, const void *buf, uint64_t len,
                            void *out, size_t cap, size_t *out_len,
                            img_err *err);
    int (*pwrite_compressed)(img *im, const void *buf, uint64_t len,
                             uint64_t off, const void *cdata, size_t clen,
                             img_err *err);
    /* Hints that guest bytes [off, off+len) (inside the size) will be
     * read soon; called under the per-image lock unless thread-safe.
     * Only a hint: no result.  May be NULL (nothing to do). */
    void (*prefetch)(img *im, uint64_t off, uint64_t len);
    /* The name of the file that block_status's host offset for guest
     * offset off refers to, when that is not the image's own file (a
     * qcow2 external data file, a VMDK extent file); NULL otherwise.
     * Borrowed, valid while the image is open.  May be NULL. */
    const char *(*host_file_name)(img *im, uint64_t off);
};

/* The open image.  Drivers read and set the fields marked "driver". */
struct img {
    const img_driver *drv;
    void *state;          /* driver: its private state */
    img_file *file;       /* owned container */
    char *filename;       /* owned, as given */
    unsigned flags;       /* IMG_OPEN_* */
    uint64_t size;        /* driver: virtual size in bytes */
    char *backing_name;   /* driver: malloc'd name stored in the image */
    char *backing_fmt;    /* driver: malloc'd format stored, or NULL */
    char *backing_path;   /* core: resolved path of the backing file */
    img *backing;         /* core: opened backing image, or NULL */
    int probed_raw;       /* core: raw by probing, sector 0 protected */
    int depth;            /* core: position in the chain (0 = top) */
    pthread_mutex_t lock; /* core: serialises non-thread-safe drivers */
};

/* Core: the lock around a driver hook, taken unless the driver is
 * thread-safe (IMG_DRV_THREADSAFE). */
static inline void img_drv_lock(img *im)
{
    if (!(im->drv->flags & IMG_DRV_THREADSAFE)) {
        pthread_mutex_lock(&im->lock);
    }
}

static inline void img_drv_unlock(img *im)
{
    if (!(im->drv->flags & IMG_DRV_THREADSAFE)) {
        pthread_mutex_unlock(&im->lock);
    }
}

/* Registry (registry.c). */
extern const img_driver img_raw_driver;
extern const img_driver img_qcow2_driver;
extern const img_driver img_vhdx_driver;
extern const img_driver img_vmdk_driver;

#endif
