/* fuzz/fuzz_write.c -- what the harnesses do with a writable copy of an
 * image: a few writes, a write of zeros, a discard and a flush, as
 * "convert -n", "commit" or a guest would, on a file that cannot grow
 * past FUZZ_CAP_LEN.
 *
 * The findings this is for: a crafted table entry that makes a write land
 * far past the end of the file (growing it to any size), metadata updates
 * that crash on broken tables, and failures without a message.  A write
 * may fail; it must say why.
 */
#include "fuzz_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/file.h"
#include "libimg/img.h"

/* The writable copy never grows past this: a write beyond fails with
 * ENOSPC, like a full disk, where a memory file would take any size. */
#define FUZZ_CAP_LEN ((uint64_t)64 << 20)
/* Images with larger clusters or blocks are not written: one allocation
 * would fill the cap. */
#define FUZZ_WRITE_MAX_CLUSTER ((uint64_t)2 << 20)

typedef struct capped_file {
    img_file base;   /* must stay first */
    img_file *inner; /* owned memory file */
} capped_file;

static img_file *inner_of(img_file *f)
{
    return ((capped_file *)f)->inner;
}

static int capped_pread(img_file *f, void *buf, size_t len, uint64_t off,
                        img_err *err)
{
    return img_file_pread(inner_of(f), buf, len, off, err);
}

static int capped_pwrite(img_file *f, const void *buf, size_t len,
                         uint64_t off, img_err *err)
{
    if (off > FUZZ_CAP_LEN || len > FUZZ_CAP_LEN - off) {
        return img_err_set(err, ENOSPC, "Fuzzing file is full");
    }
    return img_file_pwrite(inner_of(f), buf, len, off, err);
}

static int capped_size(img_file *f, uint64_t *size, img_err *err)
{
    return img_file_size(inner_of(f), size, err);
}

static int capped_truncate(img_file *f, uint64_t size, img_err *err)
{
    if (size > FUZZ_CAP_LEN) {
        return img_err_set(err, ENOSPC, "Fuzzing file is full");
    }
    return img_file_truncate(inner_of(f), size, err);
}

static int capped_flush(img_file *f, img_err *err)
{
    return img_file_flush(inner_of(f), err);
}

static void capped_close(img_file *f)
{
    img_file_close(inner_of(f));
    free(f);
}

static const img_file_ops capped_ops = {
    .name = "capped",
    .pread = capped_pread,
    .pwrite = capped_pwrite,
    .get_size = capped_size,
    .truncate = capped_truncate,
    .flush = capped_flush,
    .close = capped_close,
};

/* A writable memory copy of data that refuses to grow past the cap. */
static img_file *capped_new(const uint8_t *data, size_t len)
{
    capped_file *c = calloc(1, sizeof(*c));
    img_file *inner = img_mem_file_new(data, len, 1);
    if (!c || !inner) {
        free(c);
        img_file_close(inner);
        return NULL;
    }
    c->base.ops = &capped_ops;
    c->base.flags = IMG_FILE_RDWR;
    c->inner = inner;
    return &c->base;
}

/* Calls that may fail, each with a fresh error. */
static void do_write(img *im, const void *buf, uint64_t len, uint64_t off)
{
    img_err err = { 0 };
    int ret = img_pwrite(im, buf, len, off, 0, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
}

static void do_zeroes(img *im, uint64_t off, uint64_t len)
{
    img_err err = { 0 };
    int ret = img_pwrite_zeroes(im, off, len, 0, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
}

static void do_discard_and_flush(img *im, uint64_t off, uint64_t len)
{
    img_err err = { 0 };
    int ret = img_discard(im, off, len, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
    memset(&err, 0, sizeof(err));
    ret = img_flush(im, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
}

/* Whether the image is small-grained enough to write into. */
static int writable_geometry(img *im)
{
    img_info info;
    img_err err = { 0 };
    memset(&info, 0, sizeof(info));
    int ok = img_get_info(im, &info, &err) >= 0 &&
             info.cluster_size <= FUZZ_WRITE_MAX_CLUSTER &&
             img_size(im) >= 8192;
    img_info_clear(&info);
    return ok;
}

void fuzz_write_walk(const uint8_t *data, size_t size, const char *format)
{
    img_file *f = capped_new(data, size);
    img *im = NULL;
    img_err err = { 0 };
    if (!f || img_open_file(f, format, IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK |
                            IMG_OPEN_QUIET | IMG_OPEN_NO_BACKING, &im,
                            &err) < 0) {
        return; /* the image owns f from the open on */
    }
    if (writable_geometry(im)) {
        static const uint8_t pattern[8192] = { 0x5a, 0xa5 };
        uint64_t disk = img_size(im);
        do_write(im, pattern, 4096, disk / 3);
        do_write(im, pattern, sizeof(pattern), 512); /* unaligned, spans */
        do_write(im, pattern, 4096, disk - 4096);
        do_zeroes(im, 0, 4096);
        uint64_t at = disk / 2 & ~(uint64_t)4095;
        do_discard_and_flush(im, at, disk - at < 65536 ? disk - at : 65536);
    }
    img_close(im);
}
