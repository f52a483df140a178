/* formats/raw/raw.c -- the raw format: the image is its file, byte for byte.
 *
 * Holes in the host file are reported as zero (SEEK_DATA/SEEK_HOLE through
 * img_file_extent), like QEMU's file-posix.  Creation allocates the first
 * 4 KiB as QEMU does, so that "map" of an image we create equals qemu-img's.
 */
#include <errno.h>
#include <string.h>

#include "libimg/driver.h"

/* QEMU writes zeros over the first block of a new raw file (it helps later
 * alignment probing); we do the same to produce identical images. */
#define RAW_FIRST_BLOCK 4096

static const img_opt_desc raw_create_opts[] = {
    { .name = "size", .type = IMG_OPT_SIZE, .help = "Virtual disk size" },
    { .name = "nocow", .type = IMG_OPT_BOOL, .flags = IMG_OPT_PROTOCOL,
      .help = "Turn off copy-on-write (valid only on btrfs)" },
    { .name = "preallocation", .type = IMG_OPT_STRING,
      .flags = IMG_OPT_PROTOCOL,
      .help = "Preallocation mode (allowed values: off, falloc, full)" },
    { .name = "extent_size_hint", .type = IMG_OPT_SIZE,
      .flags = IMG_OPT_PROTOCOL,
      .help = "Extent size hint for the image file, 0 to disable" },
    { .name = NULL },
};

static int raw_probe(const uint8_t *buf, size_t len)
{
    (void)buf;
    (void)len;
    return 1; /* anything can be raw */
}

/* QEMU counts sizes in 512-byte sectors: a raw file whose length is not a
 * multiple of 512 shows a virtual size rounded up, the tail reading as
 * zeros (the file backend zero-fills reads past its end). */
static uint64_t round_up_sector(uint64_t size)
{
    return size > UINT64_MAX - 511 ? size : (size + 511) & ~(uint64_t)511;
}

static int raw_open(img *im, img_file *file, unsigned flags, img_err *err)
{
    (void)flags;
    uint64_t size;
    int r = img_file_size(file, &size, err);
    if (r >= 0) {
        im->size = round_up_sector(size);
    }
    return r;
}

static int raw_pread(img *im, void *buf, uint64_t len, uint64_t off,
                     img_err *err)
{
    return img_file_pread(im->file, buf, len, off, err);
}

/* Guest offsets are file offsets. */
static void raw_prefetch(img *im, uint64_t off, uint64_t len)
{
    img_file_prefetch(im->file, off, len);
}

static int raw_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
                      unsigned flags, img_err *err)
{
    (void)flags;
    return img_file_pwrite(im->file, buf, len, off, err);
}

static int raw_pwrite_zeroes(img *im, uint64_t off, uint64_t len,
                             unsigned flags, img_err *err)
{
    (void)flags;
    return img_file_write_zeroes(im->file, off, len, err);
}

static int raw_discard(img *im, uint64_t off, uint64_t len, img_err *err)
{
    int r = img_file_punch_hole(im->file, off, len, err);
    return r == -ENOTSUP ? 0 : r; /* discard is advisory */
}

static int raw_block_status(img *im, uint64_t off, uint64_t len,
                            uint64_t *pnum, uint64_t *host_off, img_err *err)
{
    int is_data;
    int r = img_file_extent(im->file, off, len, &is_data, pnum, err);
    if (r < 0) {
        return r;
    }
    *host_off = off;
    return (is_data ? IMG_BS_DATA : IMG_BS_ZERO) | IMG_BS_OFFSET_VALID |
           IMG_BS_ALLOCATED;
}

static int raw_flush(img *im, img_err *err)
{
    return img_file_flush(im->file, err);
}

/* Grows file from old to new size with the given preallocation. */
static int raw_grow(img_file *file, uint64_t old, uint64_t size,
                    int prealloc, img_err *err)
{
    int r = img_file_truncate(file, size, err);
    if (r < 0 || size <= old) {
        return r;
    }
    if (prealloc == IMG_PREALLOC_FALLOC) {
        return img_file_allocate(file, old, size - old, err);
    }
    if (prealloc == IMG_PREALLOC_FULL) {
        static const uint8_t zeros[65536];
        for (uint64_t off = old; off < size; off += sizeof(zeros)) {
            uint64_t n = size - off < sizeof(zeros) ? size - off
                                                     : sizeof(zeros);
            r = img_file_pwrite(file, zeros, n, off, err);
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

static int raw_truncate(img *im, uint64_t size, int prealloc, img_err *err)
{
    if (prealloc == IMG_PREALLOC_METADATA) {
        return img_err_set(err, ENOTSUP, "Unsupported preallocation mode: "
                           "metadata");
    }
    return raw_grow(im->file, im->size, size, prealloc, err);
}

static int raw_create(img_file *file, const img_create_opts *o, img_err *err)
{
    int prealloc;
    const char *mode = o->opts ? img_opts_get_str(o->opts, "preallocation",
                                                  "off")
                               : "off";
    int r = img_prealloc_parse(mode, &prealloc, err);
    if (r >= 0 && prealloc == IMG_PREALLOC_METADATA) {
        r = img_err_set(err, EINVAL, "Unsupported preallocation mode: "
                        "metadata");
    }
    if (r < 0) {
        return r;
    }
    /* Like QEMU, the file is a whole number of sectors. */
    uint64_t size = round_up_sector(o->size);
    r = img_file_truncate(file, 0, err);
    if (r >= 0) {
        r = raw_grow(file, 0, size, prealloc, err);
    }
    if (r >= 0 && prealloc != IMG_PREALLOC_FULL && size > 0) {
        static const uint8_t zeros[RAW_FIRST_BLOCK];
        uint64_t n = size < RAW_FIRST_BLOCK ? size : RAW_FIRST_BLOCK;
        r = img_file_pwrite(file, zeros, n, 0, err);
    }
    return r;
}

static int raw_measure(const img_opts *opts, uint64_t size, img *in,
                       img_measure *out, img_err *err)
{
    (void)opts;
    (void)in;
    (void)err;
    /* qemu-img counts the whole virtual size for raw, sparse or not. */
    out->required = round_up_sector(size);
    out->fully_allocated = out->required;
    return 0;
}

const img_driver img_raw_driver = {
    .abi = IMG_DRIVER_ABI,
    .name = "raw",
    .flags = IMG_DRV_THREADSAFE | IMG_DRV_ZERO_INIT,
    .create_opts = raw_create_opts,
    .probe = raw_probe,
    .open = raw_open,
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .pwrite_zeroes = raw_pwrite_zeroes,
    .discard = raw_discard,
    .block_status = raw_block_status,
    .flush = raw_flush,
    .truncate = raw_truncate,
    .create = raw_create,
    .measure = raw_measure,
    .prefetch = raw_prefetch,
};
