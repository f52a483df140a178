/* libimg/img_edit.c -- changing open images in place: amend, backing file
 * references, reopening a chain member read/write and emptying a layer
 * (the library side of qemu-img amend, rebase and commit).
 *
 * Each call checks what the core can check (a writable image, a driver
 * that has the hook) and hands over to the driver; the core fields the
 * driver does not own (backing name and format of the handle) are kept in
 * step here.  Reopening follows QEMU's bdrv_reopen_set_read_only(): the
 * file is opened again read/write, the locks move to the new descriptor
 * and the driver is reopened on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* Permissions QEMU takes for a writer, and what it shares with others. */
#define RW_PERM   (IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE | IMG_PERM_RESIZE)
#define RW_SHARED (IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED)
/* ... and for a reader. */
#define RO_PERM   IMG_PERM_CONSISTENT_READ
#define RO_SHARED (IMG_PERM_ALL & ~(IMG_PERM_WRITE | IMG_PERM_RESIZE))

const img_opt_desc *img_driver_amend_opts(const img_driver *drv)
{
    return drv && drv->amend ? drv->amend_opts : NULL;
}

/* -EACCES unless im was opened read/write. */
static int need_writable(const img *im, img_err *err)
{
    if (!(im->flags & IMG_OPEN_RDWR)) {
        return img_err_set(err, EACCES, "The image is opened read-only");
    }
    return 0;
}

int img_amend(img *im, const img_opts *opts, int force, img_progress_fn cb,
              void *opaque, img_err *err)
{
    if (!im->drv->amend) {
        return img_err_set(err, ENOTSUP, "Format driver '%s' does not "
                           "support option amendment", im->drv->name);
    }
    int r = need_writable(im, err);
    return r < 0 ? r : im->drv->amend(im, opts, force, cb, opaque, err);
}

/* Replaces *field with a copy of value (NULL or "" clears it). */
static int set_field(char **field, const char *value, img_err *err)
{
    char *copy = NULL;
    if (value && value[0]) {
        copy = strdup(value);
        if (!copy) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
    }
    free(*field);
    *field = copy;
    return 0;
}

int img_change_backing(img *im, const char *name, const char *fmt,
                       img_err *err)
{
    if (!im->drv->change_backing) {
        return img_err_set(err, ENOTSUP, "Operation not supported");
    }
    if (fmt && !name) {
        return img_err_set(err, EINVAL, "A backing format needs a backing "
                           "file");
    }
    int r = need_writable(im, err);
    if (r >= 0) {
        r = im->drv->change_backing(im, name, fmt, err);
    }
    if (r >= 0) {
        r = set_field(&im->backing_name, name, err);
    }
    if (r >= 0) {
        r = set_field(&im->backing_fmt, fmt, err);
    }
    return r;
}

int img_make_empty(img *im, img_err *err)
{
    if (!im->drv->make_empty) {
        return img_err_set(err, ENOTSUP, "Operation not supported");
    }
    int r = need_writable(im, err);
    return r < 0 ? r : im->drv->make_empty(im, err);
}

/* Opens the (closed) driver again on file with flags; the handle's
 * backing name and format are refreshed by the driver's open. */
static int driver_open_again(img *im, img_file *file, unsigned flags,
                             img_err *err)
{
    memset(im->state, 0, im->drv->state_size ? im->drv->state_size : 1);
    free(im->backing_name);
    free(im->backing_fmt);
    im->backing_name = NULL;
    im->backing_fmt = NULL;
    im->file = file;
    im->flags = flags;
    return im->drv->open(im, file, flags, err);
}

/* Moves the locks from the read-only descriptor to the new one; on
 * failure the old locks are back in place. */
static int move_locks(img *im, img_file *old, img_file *nf, img_err *err)
{
    if (im->flags & (IMG_OPEN_NO_LOCK | IMG_OPEN_FORCE_SHARE)) {
        return 0;
    }
    int r = img_file_set_perm(old, 0, IMG_PERM_ALL, err);
    if (r >= 0) {
        r = img_file_set_perm(nf, RW_PERM, RW_SHARED, err);
        if (r < 0) {
            (void)img_file_set_perm(old, RO_PERM, RO_SHARED, NULL);
        }
    }
    return r;
}

int img_reopen_rw(img *im, img_err *err)
{
    if (im->flags & IMG_OPEN_RDWR) {
        return 0;
    }
    if (im->flags & IMG_OPEN_FORCE_SHARE) {
        return img_err_set(err, EINVAL, "force-share=on can only be used "
                           "with read-only images");
    }
    if (!im->file->path) {
        return img_err_set(err, ENOTSUP, "Cannot reopen '%s' read/write",
                           im->filename);
    }
    img_file *old = im->file, *nf;
    int r = img_file_open_host(im->file->path, IMG_FILE_RDWR, &nf, err);
    if (r >= 0) {
        r = move_locks(im, old, nf, err);
        if (r < 0) {
            img_file_close(nf);
        }
    }
    if (r < 0) {
        return r;
    }
    unsigned ro_flags = im->flags;
    if (im->drv->close) {
        im->drv->close(im);
    }
    r = driver_open_again(im, nf, ro_flags | IMG_OPEN_RDWR, err);
    if (r >= 0) {
        img_file_close(old);
        return 0;
    }
    /* back to the read-only descriptor (the locks too) */
    img_file_close(nf);
    (void)img_file_set_perm(old, RO_PERM, RO_SHARED, NULL);
    if (driver_open_again(im, old, ro_flags, NULL) < 0) {
        im->drv = NULL; /* unusable: img_close() only releases it */
    }
    return r;
}
