/* tests/convert/test_compress.c -- convert -c on several workers: the
 * workers compress clusters with img_compress_cluster and the clusters
 * still land in order, so the qcow2 file is byte for byte the one a
 * single img_pwrite(IMG_WRITE_COMPRESSED) caller makes, for zlib and
 * zstd, and reads back as the source.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/engine.h"
#include "libimg/driver.h"
#include "support/mem_image.h"

#define KiB ((size_t)1024)
#define CLUSTER (64 * KiB)
/* 40 clusters and a short last one. */
#define SRC_LEN (40 * CLUSTER + 3 * 512)

/* Compressible bytes (runs of one value) in most clusters, random ones
 * (which do not shrink) in cluster 5, zeros in clusters 9 and 10. */
static uint8_t *source_new(void)
{
    uint8_t *buf = malloc(SRC_LEN);
    cr_assert(buf);
    uint32_t x = 12345;
    for (size_t i = 0; i < SRC_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t c = i / CLUSTER;
        buf[i] = c == 5 ? (uint8_t)x : (uint8_t)((i / 97) * 31 + c);
    }
    memset(buf + 9 * CLUSTER, 0, 2 * CLUSTER);
    return buf;
}

/* An empty qcow2 image of SRC_LEN bytes in memory with the given
 * compression type. */
static img *qcow2_new(const char *ctype)
{
    char spec[64];
    snprintf(spec, sizeof(spec), "compression_type=%s", ctype);
    return test_mem_image_new("qcow2", SRC_LEN, spec);
}

/* The whole qcow2 file of im. */
static uint8_t *file_bytes(img *im, size_t *len)
{
    const uint8_t *p = img_mem_file_data(img_get_file(im), len);
    uint8_t *copy = malloc(*len);
    cr_assert(copy);
    memcpy(copy, p, *len);
    return copy;
}

/* Converts src into a new image with the engine and `workers` threads. */
static img *convert(img *src, const char *ctype, int workers)
{
    img *dst = qcow2_new(ctype);
    cr_assert(img_has_compress_hooks(dst));
    cvt_params p;
    cvt_params_init(&p);
    p.src = &src;
    p.nsrc = 1;
    p.dst = dst;
    p.workers = workers;
    p.compress = 1;
    p.cluster_size = CLUSTER;
    p.target_is_zero = 1;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), 0, "%s", err.msg);
    return dst;
}

/* The reference: every cluster through img_pwrite, one after another. */
static img *reference(const uint8_t *data, const char *ctype)
{
    img *dst = qcow2_new(ctype);
    img_err err = { 0 };
    for (size_t off = 0; off < SRC_LEN; off += CLUSTER) {
        size_t n = SRC_LEN - off < CLUSTER ? SRC_LEN - off : CLUSTER;
        int zero = 1;
        for (size_t i = 0; i < n && zero; i++) {
            zero = data[off + i] == 0;
        }
        if (!zero) {
            cr_assert_eq(img_pwrite(dst, data + off, n, off,
                                    IMG_WRITE_COMPRESSED, &err), 0, "%s",
                         err.msg);
        }
    }
    cr_assert_eq(img_flush(dst, &err), 0, "%s", err.msg);
    return dst;
}

static void same_file_as_reference(const char *ctype)
{
    uint8_t *data = source_new();
    img *src = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(img_mem_file_new(data, SRC_LEN, 0), "raw",
                               IMG_OPEN_NO_LOCK, &src, &err), 0, "%s",
                 err.msg);
    img *ref = reference(data, ctype);
    size_t ref_len, len;
    uint8_t *want = file_bytes(ref, &ref_len);
    for (int workers = 1; workers <= 4; workers += 3) {
        img *dst = convert(src, ctype, workers);
        uint8_t *got = file_bytes(dst, &len);
        cr_assert_eq(len, ref_len, "%d workers: %zu bytes, want %zu",
                     workers, len, ref_len);
        cr_assert(memcmp(got, want, len) == 0, "%d workers: files differ",
                  workers);
        uint8_t *back = malloc(SRC_LEN);
        cr_assert_eq(img_pread(dst, back, SRC_LEN, 0, &err), 0, "%s",
                     err.msg);
        cr_assert(memcmp(back, data, SRC_LEN) == 0);
        free(back);
        free(got);
        img_close(dst);
    }
    free(want);
    img_close(ref);
    img_close(src);
    free(data);
}

Test(compress, workers_write_the_same_zlib_file_as_one_caller)
{
    same_file_as_reference("zlib");
}

/* Whether this build writes zstd clusters (zstd is an optional
 * dependency). */
static int have_zstd(void)
{
    const img_driver *drv = img_driver_find("qcow2");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_file *f = img_mem_file_new(NULL, 0, 1);
    img_create_opts co = { .size = CLUSTER, .opts = o };
    int ok = img_opts_parse(o, "compression_type=zstd", NULL) == 0 &&
             img_create_file(f, "qcow2", &co, NULL) == 0;
    img_file_close(f);
    img_opts_free(o);
    return ok;
}

Test(compress, workers_write_the_same_zstd_file_as_one_caller)
{
    if (!have_zstd()) {
        cr_skip_test("built without zstd");
    }
    same_file_as_reference("zstd");
}

/* Clusters made of zeros and clusters that do not shrink are stored as
 * zeros and as plain data, not compressed. */
Test(compress, incompressible_and_zero_clusters_are_not_compressed)
{
    uint8_t *data = source_new();
    img *src = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(img_mem_file_new(data, SRC_LEN, 0), "raw",
                               IMG_OPEN_NO_LOCK, &src, &err), 0, "%s",
                 err.msg);
    img *dst = convert(src, "zlib", 4);
    uint64_t pnum, host;
    int st = img_block_status(dst, 5 * CLUSTER, CLUSTER, &pnum, &host, &err);
    cr_assert(st & IMG_BS_OFFSET_VALID, "random cluster stored plain");
    st = img_block_status(dst, 9 * CLUSTER, 2 * CLUSTER, &pnum, &host, &err);
    cr_assert(!(st & IMG_BS_DATA), "zero clusters left unallocated");
    st = img_block_status(dst, 0, CLUSTER, &pnum, &host, &err);
    cr_assert((st & IMG_BS_DATA) && !(st & IMG_BS_OFFSET_VALID),
              "compressed cluster has no plain host offset");
    img_close(dst);
    img_close(src);
    free(data);
}
