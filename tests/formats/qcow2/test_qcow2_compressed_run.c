/* tests/formats/qcow2/test_qcow2_compressed_run.c -- reads that cover
 * many compressed clusters (qcow2_decompress_run.c: their compressed bytes
 * read at once, inflated on several threads): the same bytes as cluster by
 * cluster reads, with zlib and zstd, small and large clusters, runs broken
 * by other kinds of cluster and longer than one run, and a corrupt
 * cluster inside a run named in the error, the first one when there are
 * two.
 *
 * The images are made in memory by vdisk's own compressed writes; the
 * other qcow2 read tests check compressed images qemu-img made.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/file.h"
#include "libimg/img.h"
#include "support/mem_image.h"

/* Guest bytes of cluster i: compressible, and different per cluster. */
static void fill_cluster(uint8_t *p, uint64_t cs, uint64_t i)
{
    for (uint64_t k = 0; k < cs; k++) {
        p[k] = (uint8_t)((k / 7 + i * 13) % 251);
    }
}

/* Kinds of cluster in a test image, one letter each: c compressed, d
 * plain data, z zeros, u unallocated (reads as zeros). */
typedef struct layout {
    const char *kinds;
    uint64_t cluster;
    const char *ctype; /* "zlib" or "zstd" */
} layout;

typedef struct made {
    img *im;
    uint8_t *want; /* the guest bytes */
    uint64_t size;
} made;

/* A qcow2 image in memory with the given layout, and its content. */
static made make(const layout *l)
{
    made m;
    uint64_t n = strlen(l->kinds);
    m.size = n * l->cluster;
    char spec[96];
    snprintf(spec, sizeof(spec), "compression_type=%s,cluster_size=%" PRIu64,
             l->ctype, l->cluster);
    m.im = test_mem_image_new("qcow2", m.size, spec);
    img_err err = { 0 };
    m.want = calloc(1, (size_t)m.size);
    cr_assert(m.want);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t *p = m.want + i * l->cluster;
        uint64_t off = i * l->cluster;
        int r = 0;
        switch (l->kinds[i]) {
        case 'c':
            fill_cluster(p, l->cluster, i);
            r = img_pwrite(m.im, p, l->cluster, off, IMG_WRITE_COMPRESSED,
                           &err);
            break;
        case 'd':
            fill_cluster(p, l->cluster, i);
            r = img_pwrite(m.im, p, l->cluster, off, 0, &err);
            break;
        case 'z':
            r = img_pwrite_zeroes(m.im, off, l->cluster, 0, &err);
            break;
        }
        cr_assert_eq(r, 0, "cluster %" PRIu64 ": %s", i, err.msg);
    }
    cr_assert_eq(img_flush(m.im, &err), 0, "%s", err.msg);
    return m;
}

static void unmake(made *m)
{
    img_close(m->im);
    free(m->want);
}

/* Reads [off, off+len) with one request and compares. */
static void read_same(const made *m, uint64_t off, uint64_t len)
{
    uint8_t *buf = malloc((size_t)len);
    cr_assert(buf);
    memset(buf, 0xa5, (size_t)len);
    img_err err = { 0 };
    int r = img_pread(m->im, buf, len, off, &err);
    cr_assert_eq(r, 0, "read of %" PRIu64 " at %" PRIu64 ": %s", len, off,
                 err.msg);
    cr_assert(memcmp(buf, m->want + off, (size_t)len) == 0,
              "read of %" PRIu64 " at %" PRIu64 " differs", len, off);
    free(buf);
}

/* Reads the whole image at once, then cluster by cluster. */
static void check_layout(const layout *l)
{
    made m = make(l);
    read_same(&m, 0, m.size);
    for (uint64_t off = 0; off < m.size; off += l->cluster) {
        read_same(&m, off, l->cluster);
    }
    unmake(&m);
}

Test(qcow2_compressed_run, zlib_64k_clusters_read_at_once)
{
    check_layout(&(layout){ "cccccccccccccccccccccccccccccccc", 65536,
                            "zlib" });
}

Test(qcow2_compressed_run, zstd_64k_clusters_read_at_once)
{
    check_layout(&(layout){ "cccccccccccccccccccccccccccccccc", 65536,
                            "zstd" });
}

Test(qcow2_compressed_run, small_and_large_clusters)
{
    check_layout(&(layout){ "cccccccccccccccccccccccccccccccccccccccc", 512,
                            "zlib" });
    /* 2 MiB clusters: runs of two (QCOW2_RUN_MAX_BYTES). */
    check_layout(&(layout){ "ccccc", 2 << 20, "zstd" });
}

Test(qcow2_compressed_run, runs_broken_by_other_clusters)
{
    layout l = { "ccdcczcucccccdzzcccuuc", 4096, "zlib" };
    check_layout(&l);
    made m = make(&l);
    /* Reads that start and end inside clusters, across the runs. */
    uint64_t cs = l.cluster;
    read_same(&m, 100, 5 * cs);
    read_same(&m, 3 * cs + 17, 9 * cs);
    read_same(&m, 8 * cs, 6 * cs - 1);
    read_same(&m, cs - 1, m.size - cs);
    unmake(&m);
}

Test(qcow2_compressed_run, longer_than_one_run)
{
    /* 300 clusters of 4 KiB: more than QCOW2_RUN_MAX_CLUSTERS (256). */
    char kinds[301];
    memset(kinds, 'c', 300);
    kinds[300] = '\0';
    check_layout(&(layout){ kinds, 4096, "zstd" });
}

/* The host offset of cluster i's compressed bytes, from its L2 entry
 * (one L2 table; 4 KiB clusters: offset in the low 58 bits). */
static uint64_t compressed_offset(const uint8_t *d, uint64_t i)
{
    uint64_t l1 = 0, l2 = 0, e = 0;
    for (int k = 0; k < 8; k++) {
        l1 = l1 << 8 | d[40 + k];
    }
    for (int k = 0; k < 8; k++) {
        l2 = l2 << 8 | d[l1 + k];
    }
    l2 &= 0x00fffffffffffe00ull;
    for (int k = 0; k < 8; k++) {
        e = e << 8 | d[l2 + i * 8 + k];
    }
    cr_assert(e & (1ull << 62), "cluster %" PRIu64 " is not compressed", i);
    return e & ((1ull << 58) - 1);
}

/* The image of m with the compressed bytes of the listed clusters
 * overwritten by bytes that are no zlib stream, reopened read-only. */
static img *corrupted(made *m, const uint64_t *bad, size_t nbad,
                      uint64_t *bad_off)
{
    size_t len;
    const uint8_t *d = img_mem_file_data(img_get_file(m->im), &len);
    uint8_t *copy = malloc(len);
    cr_assert(copy);
    memcpy(copy, d, len);
    for (size_t k = 0; k < nbad; k++) {
        bad_off[k] = compressed_offset(copy, bad[k]);
        memset(copy + bad_off[k], 0xff, 16);
    }
    img_file *f = img_mem_file_new(copy, len, 0);
    free(copy);
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(f, "qcow2", IMG_OPEN_NO_LOCK, &im, &err), 0,
                 "%s", err.msg);
    return im;
}

/* A read of the whole image fails naming the cluster at want_off. */
static void expect_error_at(img *im, uint64_t size, uint64_t want_off)
{
    uint8_t *buf = malloc((size_t)size);
    cr_assert(buf);
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, size, 0, &err), -EIO);
    char want[96];
    snprintf(want, sizeof(want), "Could not decompress the cluster at host "
             "offset %#" PRIx64, want_off);
    cr_assert_str_eq(err.msg, want);
    free(buf);
}

Test(qcow2_compressed_run, a_corrupt_cluster_is_named)
{
    layout l = { "cccccccccccccccccccccccc", 4096, "zlib" };
    made m = make(&l);
    uint64_t one[] = { 13 }, off[2];
    img *im = corrupted(&m, one, 1, off);
    expect_error_at(im, m.size, off[0]);
    img_close(im);
    /* Two: the error names the first, whichever thread met it. */
    uint64_t two[] = { 5, 20 };
    for (int round = 0; round < 20; round++) {
        im = corrupted(&m, two, 2, off);
        expect_error_at(im, m.size, off[0]);
        img_close(im);
    }
    unmake(&m);
}
