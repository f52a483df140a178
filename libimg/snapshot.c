/* libimg/snapshot.c -- the public internal-snapshot API (img_snapshot_*)
 * and the persistent-bitmap ones (img_bitmap_change_apply, img_bitmap_list):
 * argument and mode checks, the driver lock, and QEMU's messages for
 * formats without snapshots (block/snapshot.c: bdrv_snapshot_*).
 */
#include <errno.h>
#include <stdlib.h>

#include "driver.h"
#include "img.h"

/* Changes need a writable image. */
static int need_writable(const img *im, img_err *err)
{
    if (!(im->flags & IMG_OPEN_RDWR)) {
        return img_err_set(err, EPERM, "Image is read-only");
    }
    return 0;
}

int img_snapshot_list(img *im, img_snapshot_info **out, size_t *n,
                      img_err *err)
{
    *out = NULL;
    *n = 0;
    if (!im->drv->snapshot_list) {
        return img_err_set(err, ENOTSUP, "Block driver does not support "
                           "snapshots");
    }
    img_drv_lock(im);
    int r = im->drv->snapshot_list(im, out, n, err);
    img_drv_unlock(im);
    return r;
}

void img_snapshot_list_free(img_snapshot_info *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].id);
        free(list[i].name);
    }
    free(list);
}

int img_snapshot_create(img *im, const img_snapshot_info *sn, img_err *err)
{
    int r = need_writable(im, err);
    if (r < 0) {
        return r;
    }
    if (!im->drv->snapshot_create) {
        return img_err_set(err, ENOTSUP, "Block driver does not support "
                           "snapshots");
    }
    img_drv_lock(im);
    r = im->drv->snapshot_create(im, sn, err);
    img_drv_unlock(im);
    return r;
}

int img_snapshot_apply(img *im, const char *id_or_name, img_err *err)
{
    int r = need_writable(im, err);
    if (r < 0) {
        return r;
    }
    if (!im->drv->snapshot_goto) {
        return img_err_set(err, ENOTSUP, "Block driver does not support "
                           "snapshots");
    }
    img_drv_lock(im);
    r = im->drv->snapshot_goto(im, id_or_name, err);
    img_drv_unlock(im);
    if (r < 0) {
        img_err_prepend(err, "Failed to load snapshot: ");
    }
    return r;
}

int img_snapshot_delete(img *im, const char *id, const char *name,
                        img_err *err)
{
    int r = need_writable(im, err);
    if (r < 0) {
        return r;
    }
    if (!id && !name) {
        return img_err_set(err, EINVAL, "One of the snapshot ID and name "
                           "must be given");
    }
    if (!im->drv->snapshot_delete) {
        return img_err_set(err, ENOTSUP, "Block format '%s' used by device "
                           "'' does not support internal snapshot "
                           "deletion", im->drv->name);
    }
    img_drv_lock(im);
    r = im->drv->snapshot_delete(im, id, name, err);
    img_drv_unlock(im);
    return r;
}

int img_snapshot_load_tmp(img *im, const char *id, const char *name,
                          img_err *err)
{
    if (!id && !name) {
        return img_err_set(err, EINVAL, "snapshot_id and name are both "
                           "NULL");
    }
    if (im->flags & IMG_OPEN_RDWR) {
        return img_err_set(err, EINVAL, "Device '' is writable");
    }
    if (!im->drv->snapshot_load_tmp) {
        return img_err_set(err, ENOTSUP, "Block format '%s' used by device "
                           "'' does not support temporarily loading "
                           "internal snapshots", im->drv->name);
    }
    img_drv_lock(im);
    int r = im->drv->snapshot_load_tmp(im, id, name, err);
    img_drv_unlock(im);
    return r;
}

int img_bitmap_change_apply(img *im, const img_bitmap_change *c,
                            img_err *err)
{
    int r = need_writable(im, err);
    if (r < 0) {
        return r;
    }
    if (!im->drv->bitmap_change) {
        return img_err_set(err, ENOTSUP, "Can't store persistent bitmaps "
                           "to '%s': Operation not supported", im->filename);
    }
    if (c->op == IMG_BITMAP_MERGE && !c->src) {
        return img_err_set(err, EINVAL, "No source image to merge from");
    }
    img *src = c->op == IMG_BITMAP_MERGE && c->src != im ? c->src : NULL;
    img_drv_lock(im);
    if (src) {
        img_drv_lock(src);
    }
    r = im->drv->bitmap_change(im, c, err);
    if (src) {
        img_drv_unlock(src);
    }
    img_drv_unlock(im);
    return r;
}

int img_bitmap_list(img *im, img_bitmap_info **out, size_t *n, img_err *err)
{
    *out = NULL;
    *n = 0;
    if (!im->drv->bitmap_list) {
        return img_err_set(err, ENOTSUP, "Format driver '%s' does not "
                           "support bitmaps", im->drv->name);
    }
    img_drv_lock(im);
    int r = im->drv->bitmap_list(im, out, n, err);
    img_drv_unlock(im);
    return r;
}

void img_bitmap_list_free(img_bitmap_info *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
    }
    free(list);
}
