/* libimg/io.c -- the I/O entry points: range, read-only and probed-raw
 * checks, per-image serialisation of drivers that are not thread-safe, and
 * block status through a backing chain.  Drivers may assert what is checked
 * here.
 */
#include <errno.h>
#include <string.h>

#include "driver.h"

/* Sector 0 of a probed raw image is guarded, as in QEMU. */
#define PROBED_GUARD 512

static int check_range(const img *im, uint64_t off, uint64_t len,
                       img_err *err)
{
    if (off > im->size || len > im->size - off) {
        return img_err_set(err, EINVAL, "Request at offset %llu, length "
                           "%llu is beyond the end of the image",
                           (unsigned long long)off, (unsigned long long)len);
    }
    return 0;
}

static int check_writable(const img *im, img_err *err)
{
    if (!(im->flags & IMG_OPEN_RDWR)) {
        return img_err_set(err, EPERM, "Image is read-only");
    }
    return 0;
}

/* A probed raw image must not be turned into something that probes as
 * another format: a write to the first sector must be whole and must not
 * change the probed format (QEMU's rule, which stops a guest from writing
 * a qcow2 header pointing at host files). */
static int check_probed_write(const img *im, const void *buf, uint64_t len,
                              uint64_t off, img_err *err)
{
    if (!im->probed_raw || off >= PROBED_GUARD || len == 0) {
        return 0;
    }
    if (off != 0 || len < PROBED_GUARD) {
        return img_err_set(err, EINVAL, "Writes to the first sector of an "
                           "image probed as raw must cover the whole sector");
    }
    if (!buf || img_driver_probe(buf, PROBED_GUARD) != im->drv) {
        return img_err_set(err, EPERM, "Refusing to write a header of "
                           "another format to an image probed as raw");
    }
    return 0;
}

int img_pread(img *im, void *buf, uint64_t len, uint64_t off, img_err *err)
{
    int r = check_range(im, off, len, err);
    if (r < 0 || len == 0) {
        return r;
    }
    img_drv_lock(im);
    r = im->drv->pread(im, buf, len, off, err);
    img_drv_unlock(im);
    return r;
}

void img_prefetch(img *im, uint64_t off, uint64_t len)
{
    if (!im->drv->prefetch || off >= im->size || len == 0) {
        return;
    }
    if (len > im->size - off) {
        len = im->size - off;
    }
    img_drv_lock(im);
    im->drv->prefetch(im, off, len);
    img_drv_unlock(im);
}

int img_can_prefetch(const img *im)
{
    return im->drv->prefetch != NULL;
}

int img_reads_in_parallel(const img *im)
{
    return (im->drv->flags & IMG_DRV_THREADSAFE) != 0;
}

int img_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
               unsigned flags, img_err *err)
{
    int r = check_writable(im, err);
    if (r >= 0) {
        r = check_range(im, off, len, err);
    }
    if (r >= 0) {
        r = check_probed_write(im, buf, len, off, err);
    }
    if (r < 0 || len == 0) {
        return r;
    }
    if (!im->drv->pwrite) {
        return img_err_set(err, ENOTSUP, "Format '%s' does not support "
                           "writing", im->drv->name);
    }
    if ((flags & IMG_WRITE_COMPRESSED) &&
        !(im->drv->flags & IMG_DRV_COMPRESSION)) {
        return img_err_set(err, ENOTSUP, "Compression not supported for "
                           "this file format");
    }
    img_drv_lock(im);
    r = im->drv->pwrite(im, buf, len, off, flags, err);
    img_drv_unlock(im);
    return r;
}

/* Zeroes by writing zero buffers, for drivers without a zero hook. */
static int write_zero_buffers(img *im, uint64_t off, uint64_t len,
                              img_err *err)
{
    static const uint8_t zeros[65536];
    while (len > 0) {
        uint64_t n = len < sizeof(zeros) ? len : sizeof(zeros);
        int r = im->drv->pwrite(im, zeros, n, off, 0, err);
        if (r < 0) {
            return r;
        }
        off += n;
        len -= n;
    }
    return 0;
}

int img_pwrite_zeroes(img *im, uint64_t off, uint64_t len, unsigned flags,
                      img_err *err)
{
    int r = check_writable(im, err);
    if (r >= 0) {
        r = check_range(im, off, len, err);
    }
    if (r >= 0 && im->probed_raw && off < PROBED_GUARD && len > 0) {
        uint8_t zeros[PROBED_GUARD] = { 0 };
        r = check_probed_write(im, zeros, len, off, err);
    }
    if (r < 0 || len == 0) {
        return r;
    }
    if (!im->drv->pwrite_zeroes && !im->drv->pwrite) {
        return img_err_set(err, ENOTSUP, "Format '%s' does not support "
                           "writing", im->drv->name);
    }
    img_drv_lock(im);
    if (im->drv->pwrite_zeroes) {
        r = im->drv->pwrite_zeroes(im, off, len, flags, err);
    } else {
        r = write_zero_buffers(im, off, len, err);
    }
    img_drv_unlock(im);
    return r;
}

int img_discard(img *im, uint64_t off, uint64_t len, img_err *err)
{
    int r = check_writable(im, err);
    if (r >= 0) {
        r = check_range(im, off, len, err);
    }
    if (r < 0 || len == 0 || !im->drv->discard) {
        return r; /* discard is advisory: no hook means nothing to do */
    }
    img_drv_lock(im);
    r = im->drv->discard(im, off, len, err);
    img_drv_unlock(im);
    return r;
}

int img_flush(img *im, img_err *err)
{
    if (!(im->flags & IMG_OPEN_RDWR)) {
        return 0;
    }
    img_drv_lock(im);
    int r = im->drv->flush ? im->drv->flush(im, err)
                           : img_file_flush(im->file, err);
    img_drv_unlock(im);
    return r;
}

int img_truncate(img *im, uint64_t size, int prealloc, img_err *err)
{
    int r = check_writable(im, err);
    if (r < 0) {
        return r;
    }
    if (!im->drv->truncate) {
        return img_err_set(err, ENOTSUP, "Image format driver does not "
                           "support resize");
    }
    img_drv_lock(im);
    r = im->drv->truncate(im, size, prealloc, err);
    if (r >= 0) {
        im->size = size;
    }
    img_drv_unlock(im);
    return r;
}

int img_block_status(img *im, uint64_t off, uint64_t len, uint64_t *pnum,
                     uint64_t *host_off, img_err *err)
{
    uint64_t dummy_off;
    int r = check_range(im, off, len, err);
    if (r < 0) {
        return r;
    }
    if (len == 0) {
        *pnum = 0;
        return 0;
    }
    if (!host_off) {
        host_off = &dummy_off;
    }
    if (!im->drv->block_status) {
        *pnum = len;
        return IMG_BS_DATA | IMG_BS_ALLOCATED;
    }
    img_drv_lock(im);
    r = im->drv->block_status(im, off, len, pnum, host_off, err);
    img_drv_unlock(im);
    if (r >= 0 && (*pnum == 0 || *pnum > len)) {
        return img_err_set(err, EIO, "Driver '%s' returned a bad block "
                           "status length", im->drv->name);
    }
    return r;
}

int img_block_status_above(img *im, img *base, uint64_t off, uint64_t len,
                           uint64_t *pnum, uint64_t *host_off, int *depth,
                           img **file_img, img_err *err)
{
    img *cur = im;
    int d = 0;
    int r = check_range(im, off, len, err);
    if (r < 0) {
        return r;
    }
    *pnum = len;
    int ret = IMG_BS_ZERO; /* what the end of a chain reads as */
    for (;;) {
        if (cur == base) {
            ret = 0; /* content comes from base: unknown here */
            break;
        }
        r = img_block_status(cur, off, len, pnum, host_off, err);
        if (r < 0) {
            return r;
        }
        if (r & IMG_BS_ALLOCATED) {
            *depth = d;
            *file_img = cur;
            return r;
        }
        len = *pnum; /* the unallocated run continues below */
        if (!cur->backing || off >= cur->backing->size) {
            /* Zeros: end of chain, or past a shorter backing file.  A host
             * offset the last layer reported (a reserved cluster) stays
             * visible, as qemu-img map shows it. */
            ret = IMG_BS_ZERO | (r & IMG_BS_OFFSET_VALID);
            if (r & IMG_BS_OFFSET_VALID) {
                *depth = d;
                *file_img = cur;
                return ret;
            }
            break;
        }
        if (len > cur->backing->size - off) {
            len = cur->backing->size - off;
            *pnum = len;
        }
        cur = cur->backing;
        d++;
    }
    *depth = d;
    *file_img = NULL;
    return ret;
}
