/* libimg/img.c -- image handles: open (probing, locking, backing chain),
 * create, close, info and check.  Range checks for I/O live in io.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backing.h"
#include "driver.h"

/* Bytes read from the start of a file to probe its format. */
#define PROBE_LEN 4096

static int probe_file(img_file *file, const img_driver **drv, img_err *err)
{
    uint8_t buf[PROBE_LEN];
    uint64_t size;
    int r = img_file_size(file, &size, err);
    if (r < 0) {
        return r;
    }
    size_t len = size < PROBE_LEN ? (size_t)size : PROBE_LEN;
    r = img_file_pread(file, buf, len, 0, err);
    if (r < 0) {
        img_err_prepend(err, "Could not read image for determining its "
                        "format: ");
        return r;
    }
    *drv = img_driver_probe(buf, len);
    return 0;
}

static int pick_driver(img_file *file, const char *format,
                       const img_driver **drv, img_err *err)
{
    if (!format) {
        return probe_file(file, drv, err);
    }
    *drv = img_driver_find(format);
    if (!*drv) {
        return img_err_set(err, EINVAL, "Unknown driver '%s'", format);
    }
    return 0;
}

/* QEMU's permissions for a read-only and a writable user of an image. */
static int take_locks(img_file *file, unsigned flags, img_err *err)
{
    if (flags & (IMG_OPEN_FORCE_SHARE | IMG_OPEN_NO_LOCK)) {
        return 0;
    }
    unsigned perm = IMG_PERM_CONSISTENT_READ;
    unsigned shared = IMG_PERM_ALL & ~(IMG_PERM_WRITE | IMG_PERM_RESIZE);
    if (flags & IMG_OPEN_RDWR) {
        perm |= IMG_PERM_WRITE | IMG_PERM_RESIZE;
        shared = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED;
    }
    return img_file_set_perm(file, perm, shared, err);
}

static void warn_probed_raw(const img *im)
{
    if ((im->flags & (IMG_OPEN_RDWR | IMG_OPEN_QUIET)) != IMG_OPEN_RDWR) {
        return;
    }
    fprintf(stderr,
            "WARNING: Image format was not specified for '%s' and probing "
            "guessed raw.\n"
            "         Automatically detecting the format is dangerous for "
            "raw images, write operations on block 0 will be restricted.\n"
            "         Specify the 'raw' format explicitly to remove the "
            "restrictions.\n", im->filename);
}

static img *img_alloc(img_file *file, const char *filename, unsigned flags)
{
    img *im = calloc(1, sizeof(*im));
    if (!im) {
        return NULL;
    }
    im->filename = strdup(filename ? filename : "");
    if (!im->filename) {
        free(im);
        return NULL;
    }
    im->file = file;
    im->flags = flags;
    pthread_mutex_init(&im->lock, NULL);
    return im;
}

/* Frees the handle itself; the driver must already be closed. */
static void img_release(img *im)
{
    img_close(im->backing);
    img_file_close(im->file);
    pthread_mutex_destroy(&im->lock);
    free(im->state);
    free(im->filename);
    free(im->backing_name);
    free(im->backing_fmt);
    free(im->backing_path);
    free(im);
}

static int driver_open(img *im, const img_driver *drv, img_err *err)
{
    if (drv->abi != IMG_DRIVER_ABI || !drv->open || !drv->pread) {
        return img_err_set(err, EINVAL, "Driver '%s' is incomplete",
                           drv->name);
    }
    im->drv = drv;
    im->state = calloc(1, drv->state_size ? drv->state_size : 1);
    if (!im->state) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return drv->open(im, im->file, im->flags, err);
}

int img_open_at_depth(img_file *file, const char *filename,
                      const char *format, unsigned flags, int depth,
                      const img_chain_seen *seen, img **out, img_err *err)
{
    *out = NULL;
    if ((flags & IMG_OPEN_FORCE_SHARE) && (flags & IMG_OPEN_RDWR)) {
        img_file_close(file);
        return img_err_set(err, EINVAL, "force-share=on can only be used "
                           "with read-only images");
    }
    img *im = img_alloc(file, filename, flags);
    if (!im) {
        img_file_close(file);
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    im->depth = depth;
    const img_driver *drv = NULL;
    int r = take_locks(file, flags, err);
    if (r >= 0) {
        r = pick_driver(file, format, &drv, err);
    }
    if (r >= 0) {
        r = driver_open(im, drv, err);
        if (r < 0) {
            im->drv = NULL; /* close must not run after a failed open */
        }
    }
    if (r >= 0) {
        im->probed_raw = !format && drv == &img_raw_driver;
        if (im->probed_raw) {
            warn_probed_raw(im);
        }
        r = img_backing_open(im, seen, err);
    }
    if (r < 0) {
        img_close(im);
        return r;
    }
    *out = im;
    return 0;
}

int img_open_file(img_file *file, const char *format, unsigned flags,
                  img **out, img_err *err)
{
    return img_open_at_depth(file, file->path, format, flags, 0, NULL, out,
                             err);
}

unsigned img_file_flags(unsigned open_flags, int writable)
{
    if (writable) {
        return IMG_FILE_RDWR;
    }
    return (open_flags & IMG_OPEN_READ_ONCE) ? IMG_FILE_READ_ONCE : 0;
}

int img_open(const char *filename, const char *format, unsigned flags,
             img **out, img_err *err)
{
    img_file *file;
    *out = NULL;
    unsigned fflags = img_file_flags(flags, (flags & IMG_OPEN_RDWR) != 0);
    int r = img_file_open_host(filename, fflags, &file, err);
    if (r < 0) {
        return r;
    }
    return img_open_at_depth(file, filename, format, flags, 0, NULL, out,
                             err);
}

void img_close(img *im)
{
    if (!im) {
        return;
    }
    if (im->drv && im->drv->close) {
        im->drv->close(im);
    }
    img_release(im);
}

int img_create_file(img_file *file, const char *format,
                    const img_create_opts *o, img_err *err)
{
    const img_driver *drv = img_driver_find(format);
    if (!drv) {
        return img_err_set(err, EINVAL, "Unknown file format '%s'",
                           format ? format : "");
    }
    if (!drv->create) {
        return img_err_set(err, ENOTSUP, "Format driver '%s' does not "
                           "support image creation", drv->name);
    }
    if (o->backing_file && !(drv->flags & IMG_DRV_BACKING)) {
        return img_err_set(err, ENOTSUP, "Backing file not supported for "
                           "file format '%s'", drv->name);
    }
    return drv->create(file, o, err);
}

int img_create(const char *filename, const char *format,
               const img_create_opts *o, img_err *err)
{
    if (!img_driver_find(format)) {
        return img_err_set(err, EINVAL, "Unknown file format '%s'",
                           format ? format : "");
    }
    img_file *file;
    int existed = access(filename, F_OK) == 0;
    int r = img_file_open_host(filename, IMG_FILE_RDWR | IMG_FILE_CREATE,
                               &file, err);
    if (r < 0) {
        return r;
    }
    r = img_file_set_perm(file, IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE |
                          IMG_PERM_RESIZE, IMG_PERM_CONSISTENT_READ |
                          IMG_PERM_WRITE_UNCHANGED, err);
    if (r >= 0) {
        r = img_create_file(file, format, o, err);
    }
    if (r >= 0) {
        r = img_file_flush(file, err);
    }
    img_file_close(file);
    if (r < 0 && !existed) {
        unlink(filename); /* leave no half-made image behind */
    }
    return r;
}

int img_get_info(img *im, img_info *out, img_err *err)
{
    memset(out, 0, sizeof(*out));
    out->virtual_size = im->size;
    uint64_t used;
    out->actual_size = -1;
    if (img_file_allocated_size(im->file, &used, NULL) >= 0) {
        out->actual_size = (int64_t)used;
    }
    if (im->drv->info) {
        int r = im->drv->info(im, out, err);
        if (r < 0) {
            img_info_clear(out);
            return r;
        }
    }
    return 0;
}

void img_info_clear(img_info *info)
{
    img_val_free(info->format_specific);
    info->format_specific = NULL;
}

int img_check(img *im, img_check_result *res, unsigned fix, img_err *err)
{
    memset(res, 0, sizeof(*res));
    if (!im->drv->check) {
        return img_err_set(err, ENOTSUP,
                           "This image format does not support checks");
    }
    if (fix && !(im->flags & IMG_OPEN_RDWR)) {
        return img_err_set(err, EPERM, "Repairing needs a writable image");
    }
    return im->drv->check(im, res, fix, err);
}

uint64_t img_size(const img *im) { return im->size; }
const char *img_filename(const img *im) { return im->filename; }

const char *img_host_file_name(img *im, uint64_t off)
{
    const char *name = NULL;
    if (im->drv->host_file_name) {
        img_drv_lock(im);
        name = im->drv->host_file_name(im, off);
        img_drv_unlock(im);
    }
    return name ? name : im->filename;
}
const char *img_format(const img *im) { return im->drv->name; }
img *img_backing(const img *im) { return im->backing; }
const char *img_backing_name(const img *im) { return im->backing_name; }
const char *img_backing_path(const img *im) { return im->backing_path; }
const char *img_backing_format(const img *im) { return im->backing_fmt; }
img_file *img_get_file(const img *im) { return im->file; }
int img_probed_raw(const img *im) { return im->probed_raw; }
const img_driver *img_get_driver(const img *im) { return im->drv; }

int img_is_writable(const img *im)
{
    return (im->flags & IMG_OPEN_RDWR) != 0;
}

int img_has_zero_init(const img *im)
{
    return (im->drv->flags & IMG_DRV_ZERO_INIT) != 0;
}

int img_prealloc_parse(const char *s, int *out, img_err *err)
{
    static const char *const names[] = { "off", "metadata", "falloc",
                                          "full" };
    for (int i = 0; i < 4; i++) {
        if (s && !strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    }
    return img_err_set(err, EINVAL, "invalid parameter value: %s",
                       s ? s : "");
}
