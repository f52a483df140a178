/* libimg/img_compress.c -- compressed writes in two steps: compressing a
 * cluster (thread-safe, no lock) and storing a cluster compressed before
 * (serialised like img_pwrite).  convert -c uses them to compress on all
 * cores while the clusters still land in order; the drivers' hooks are
 * compress_cluster and pwrite_compressed (driver.h).
 */
#include <errno.h>

#include "driver.h"

int img_has_compress_hooks(const img *im)
{
    return im->drv->compress_cluster && im->drv->pwrite_compressed &&
           (im->drv->flags & IMG_DRV_COMPRESSION);
}

/* -ENOTSUP unless the image takes compressed writes in two steps. */
static int check_hooks(const img *im, img_err *err)
{
    if (!img_has_compress_hooks(im)) {
        return img_err_set(err, ENOTSUP, "Format '%s' cannot store "
                           "clusters compressed elsewhere", im->drv->name);
    }
    return 0;
}

/* No lock: the hook reads only what open fixed. */
int img_compress_cluster(img *im, const void *buf, uint64_t len, void *out,
                         size_t cap, size_t *out_len, img_err *err)
{
    *out_len = 0;
    int r = check_hooks(im, err);
    if (r < 0) {
        return r;
    }
    return im->drv->compress_cluster(im, buf, len, out, cap, out_len, err);
}

/* The checks of img_pwrite, then the hook under the image's lock. */
int img_pwrite_compressed(img *im, const void *buf, uint64_t len,
                          uint64_t off, const void *cdata, size_t clen,
                          img_err *err)
{
    int r = check_hooks(im, err);
    if (r < 0) {
        return r;
    }
    if (!(im->flags & IMG_OPEN_RDWR)) {
        return img_err_set(err, EPERM, "Image is read-only");
    }
    if (off > im->size || len > im->size - off || len == 0) {
        return img_err_set(err, EINVAL, "Request at offset %llu, length "
                           "%llu is beyond the end of the image",
                           (unsigned long long)off, (unsigned long long)len);
    }
    img_drv_lock(im);
    r = im->drv->pwrite_compressed(im, buf, len, off, cdata, clen, err);
    img_drv_unlock(im);
    return r;
}
