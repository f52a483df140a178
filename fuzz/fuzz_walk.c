/* fuzz/fuzz_walk.c -- what every harness does with an image: open it from
 * a memory file, then info, block status over the image, a few reads and a
 * read-only check, as "qemu-img info/map/compare/check" would.
 *
 * The work per input is bounded (a fixed number of extents and reads of at
 * most WALK_READ_MAX bytes) so that a header claiming an exabyte-sized disk
 * stays fast.  Besides crashes and sanitizer reports, the walk aborts when
 * libimg breaks its documented contract: a failure without err set, or a
 * block status whose *pnum is not within [1, len].
 */
#include "fuzz_walk.h"

#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"

enum {
    WALK_MAX_EXTENTS = 256,    /* block_status calls per walk */
    WALK_MAX_DATA = 8,         /* data extents read back */
    /* Bytes per pread: the first read covers several clusters or grains,
     * so runs of compressed ones are inflated on several threads. */
    WALK_READ_MAX = 256 * 1024,
};

/* Flags of every open: no locks, no warnings, nothing outside the input. */
#define WALK_OPEN_FLAGS \
    (IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET | IMG_OPEN_NO_BACKING)

/* A broken API contract is a bug even when nothing crashed. */
static void walk_require(int cond)
{
    if (!cond) {
        abort();
    }
}

/* See fuzz_walk.h. */
void fuzz_failed(int ret, const img_err *err)
{
    walk_require(ret < 0);
    walk_require(err->code > 0);
    walk_require(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The accessors return terminated strings (or NULL where allowed). */
static void walk_accessors(img *im)
{
    const char *s[] = { img_format(im), img_backing_name(im),
                        img_backing_format(im), img_filename(im) };
    volatile size_t total = 0; /* reads every byte; ASan checks them */
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        if (s[i]) {
            total += strlen(s[i]);
        }
    }
    (void)total;
    walk_require(img_format(im) != NULL);
}

static void walk_info(img *im)
{
    img_info info;
    img_err err;
    memset(&info, 0, sizeof(info));
    memset(&err, 0, sizeof(err));
    int ret = img_get_info(im, &info, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
    img_info_clear(&info);
}

/* Walks block status from offset 0, remembering where data was found. */
static void walk_block_status(img *im, uint64_t size, uint64_t *data,
                              unsigned *ndata)
{
    uint64_t off = 0;
    for (unsigned i = 0; i < WALK_MAX_EXTENTS && off < size; i++) {
        uint64_t pnum = 0;
        uint64_t host = 0;
        img_err err;
        memset(&err, 0, sizeof(err));
        int ret = img_block_status(im, off, size - off, &pnum, &host, &err);
        if (ret < 0) {
            fuzz_failed(ret, &err);
            return;
        }
        walk_require(pnum >= 1 && pnum <= size - off);
        if ((ret & IMG_BS_DATA) && *ndata < WALK_MAX_DATA) {
            data[(*ndata)++] = off;
        }
        off += pnum;
    }
}

/* The same through the (here one-layer) chain. */
static void walk_block_status_above(img *im, uint64_t size)
{
    uint64_t off = 0;
    for (unsigned i = 0; i < WALK_MAX_EXTENTS / 4 && off < size; i++) {
        uint64_t pnum = 0;
        uint64_t host = 0;
        int depth = 0;
        img *file_img = NULL;
        img_err err;
        memset(&err, 0, sizeof(err));
        int ret = img_block_status_above(im, NULL, off, size - off, &pnum,
                                         &host, &depth, &file_img, &err);
        if (ret < 0) {
            fuzz_failed(ret, &err);
            return;
        }
        walk_require(pnum >= 1 && pnum <= size - off);
        off += pnum;
    }
}

/* Reads [off, off+len) clipped to the image; failures are fine. */
static void walk_read(img *im, uint8_t *buf, uint64_t size, uint64_t off,
                      uint64_t len)
{
    if (off >= size) {
        return;
    }
    len = min_u64(min_u64(len, size - off), WALK_READ_MAX);
    img_err err;
    memset(&err, 0, sizeof(err));
    int ret = img_pread(im, buf, len, off, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
}

/* Reads the start, the end, an unaligned middle piece and data extents. */
static void walk_reads(img *im, uint64_t size, const uint64_t *data,
                       unsigned ndata)
{
    uint8_t *buf = malloc(WALK_READ_MAX);
    if (!buf) {
        return;
    }
    walk_read(im, buf, size, 0, WALK_READ_MAX);
    walk_read(im, buf, size, size > 4096 ? size - 4096 : 0, 4096);
    walk_read(im, buf, size, size / 2 > 100 ? size / 2 - 100 : 0, 1000);
    for (unsigned i = 0; i < ndata; i++) {
        walk_read(im, buf, size, data[i], 4096);
    }
    free(buf);
}

static void walk_check(img *im)
{
    img_check_result res;
    img_err err;
    memset(&err, 0, sizeof(err));
    int ret = img_check(im, &res, 0, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
}

img *fuzz_open(const uint8_t *data, size_t size, const char *format)
{
    img_file *file = img_mem_file_new(data, size, 0);
    img *im = NULL;
    img_err err;
    if (!file) {
        return NULL;
    }
    memset(&err, 0, sizeof(err));
    /* The img owns file from here on, also when opening fails. */
    int ret = img_open_file(file, format, WALK_OPEN_FLAGS, &im, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
        return NULL;
    }
    return im;
}

void fuzz_walk(img *im)
{
    uint64_t found[WALK_MAX_DATA];
    unsigned nfound = 0;
    uint64_t disk_size = img_size(im);
    walk_accessors(im);
    walk_info(im);
    walk_block_status(im, disk_size, found, &nfound);
    walk_block_status_above(im, disk_size);
    walk_reads(im, disk_size, found, nfound);
    walk_check(im);
}

void fuzz_open_and_walk(const uint8_t *data, size_t size, const char *format)
{
    img *im = fuzz_open(data, size, format);
    if (im) {
        fuzz_walk(im);
        img_close(im);
    }
}
