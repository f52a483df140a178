/* tests/formats/qcow2/test_qcow2_check.c -- check and repair find the
 * corruption injected into images vdisk wrote: a cluster referenced but
 * counted free, a cluster referenced twice, a bad L1 entry, a wrong
 * OFLAG_COPIED flag, a leaked cluster, a refcount block past the end of
 * the file.  The counts are qemu-img's (tests/cross/qcow2_check.sh
 * compares the reports themselves), and each repair must leave an image
 * that checks clean, reads back the data and stays safe to write.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcow2_oracle.h"
#include "qcow2_shadow.h"
#include "support/tmpdir.h"

#define CLUSTER     4096
#define COPIED      (1ull << 63)
#define OFFSET_MASK 0x00fffffffffffe00ull

/* The image under test: 4 KiB clusters, 1 MiB, data in clusters 0-15
 * and 128-129, written by vdisk; the shadow holds its content. */
typedef struct fixture {
    char *dir;
    char *path;
    shadow_img sh;
} fixture;

static void setup(fixture *f)
{
    oracle_require_qemu();
    f->dir = test_tmpdir_new();
    f->path = test_path(f->dir, "c.qcow2");
    shadow_create(f->path, "cluster_size=4k", 1 << 20, &f->sh);
    shadow_write(&f->sh, 0, 16 * CLUSTER, 1, 0);
    shadow_write(&f->sh, 128 * CLUSTER, 2 * CLUSTER, 2, 0);
    shadow_close(&f->sh);
}

static void teardown(fixture *f)
{
    shadow_free(&f->sh);
    free(f->path);
    test_tmpdir_free(f->dir);
}

static uint64_t get64(const char *path, uint64_t off)
{
    uint8_t b[8];
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, b, 8, (off_t)off), 8);
    close(fd);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

static void put(const char *path, uint64_t off, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) {
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, b, (size_t)bytes, (off_t)off), bytes);
    close(fd);
}

/* Where things are: the first L2 table, the first refcount block. */
static uint64_t l2_table(const char *path)
{
    return get64(path, get64(path, 40)) & OFFSET_MASK;
}

static uint64_t refblock(const char *path)
{
    return get64(path, get64(path, 48));
}

/* Host cluster of guest cluster i (from the first L2 table). */
static uint64_t host_of(const char *path, int i)
{
    return get64(path, l2_table(path) + 8 * (uint64_t)i) & OFFSET_MASK;
}

static void set_refcount(const char *path, uint64_t host, unsigned rc)
{
    put(path, refblock(path) + 2 * (host / CLUSTER), rc, 2);
}

/* Opens (read/write when fixing) and checks. */
static int check(const fixture *f, unsigned fix, img_check_result *res)
{
    img *im = NULL;
    img_err err = { 0 };
    unsigned flags =
        IMG_OPEN_QUIET | IMG_OPEN_CHECK | (fix ? IMG_OPEN_RDWR : 0);
    cr_assert_eq(img_open(f->path, "qcow2", flags, &im, &err), 0, "%s",
                 err.msg);
    int r = img_check(im, res, fix, &err);
    img_close(im);
    return r;
}

static void assert_clean(const fixture *f)
{
    img_check_result res;
    cr_assert_eq(check(f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 0, "%d corruptions", res.corruptions);
    cr_assert_eq(res.leaks, 0, "%d leaks", res.leaks);
    cr_assert_eq(res.check_errors, 0);
    oracle_qemu_check_clean(f->path);
}

/* The image reads as the shadow. */
static void assert_data(fixture *f)
{
    img *im = oracle_open(f->path);
    f->sh.im = im;
    shadow_verify(&f->sh);
    img_close(im);
    f->sh.im = NULL;
}

Test(qcow2_check, clean_image_statistics)
{
    fixture f;
    setup(&f);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions + res.leaks + res.check_errors, 0);
    cr_assert_eq(res.total_clusters, 256);
    cr_assert_eq(res.allocated_clusters, 18);
    /* the two runs of data were written one after the other */
    cr_assert_eq(res.fragmented_clusters, 0);
    uint64_t size;
    img_file *file;
    img_err err = { 0 };
    cr_assert_eq(img_file_open_host(f.path, 0, &file, &err), 0);
    cr_assert_eq(img_file_size(file, &size, &err), 0);
    img_file_close(file);
    cr_assert_eq((uint64_t)res.image_end_offset, size);
    teardown(&f);
}

/* A referenced cluster counted as free: only -r all can fix it, by
 * rebuilding the refcounts. */
Test(qcow2_check, freed_but_referenced_cluster)
{
    fixture f;
    setup(&f);
    set_refcount(f.path, host_of(f.path, 3), 0);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 2, "refcount 0, and OFLAG_COPIED set");
    cr_assert_eq(res.leaks, 0);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS, &res), -EIO,
                 "fixing leaks is not enough: the refcounts need a rebuild");
    cr_assert_eq(check(&f, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &res), 0);
    cr_assert_eq(res.corruptions_fixed, 1);
    assert_clean(&f);
    assert_data(&f);
    teardown(&f);
}

/* Two L2 entries share a cluster: its refcount is raised to 2, the
 * orphaned cluster is freed, OFLAG_COPIED cleared; a later write to one
 * guest cluster must then copy, not change the other.  (The other entry
 * is then left without OFLAG_COPIED at refcount 1, as QEMU leaves it: a
 * flag repair fixes that.) */
Test(qcow2_check, doubly_referenced_cluster)
{
    fixture f;
    setup(&f);
    uint64_t l2 = l2_table(f.path);
    put(f.path, l2 + 8 * 5, get64(f.path, l2 + 8 * 4), 8);
    memcpy(f.sh.data + 5 * CLUSTER, f.sh.data + 4 * CLUSTER, CLUSTER);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 1, "refcount 1, referenced twice");
    cr_assert_eq(res.leaks, 1, "the cluster nothing refers to now");
    cr_assert_eq(check(&f, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &res), 0);
    cr_assert_eq(res.leaks_fixed, 1);
    cr_assert_eq(res.corruptions_fixed, 3, "refcount, 2 OFLAG_COPIED");
    assert_clean(&f);
    shadow_free(&f.sh);
    shadow_open(f.path, &f.sh);
    shadow_write(&f.sh, 5 * CLUSTER + 100, 200, 9, 0);
    shadow_verify(&f.sh);
    shadow_close(&f.sh);
    assert_data(&f);
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 1, "OFLAG_COPIED at refcount 1");
    cr_assert_eq(res.leaks, 0);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS, &res), 0);
    assert_clean(&f);
    assert_data(&f);
    teardown(&f);
}

/* An L1 entry that points into the middle of a cluster. */
Test(qcow2_check, bad_l1_entry)
{
    fixture f;
    setup(&f);
    uint64_t l1 = get64(f.path, 40);
    put(f.path, l1, get64(f.path, l1) + 0x200, 8);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0, "check completes on corrupt images");
    cr_assert(res.corruptions >= 2, "unaligned table, counts: %d",
              res.corruptions);
    img *im = oracle_open(f.path);
    uint8_t buf[512];
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 0, &err), -EIO);
    img_close(im);
    teardown(&f);
}

/* OFLAG_COPIED missing on a data cluster whose refcount is 1. */
Test(qcow2_check, oflag_copied_mismatch)
{
    fixture f;
    setup(&f);
    uint64_t l2 = l2_table(f.path);
    put(f.path, l2 + 8 * 2, get64(f.path, l2 + 8 * 2) & ~COPIED, 8);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 1);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS, &res), 0);
    cr_assert_eq(res.corruptions_fixed, 1, "safe to fix with -r leaks");
    assert_clean(&f);
    cr_assert(get64(f.path, l2 + 8 * 2) & COPIED);
    teardown(&f);
}

/* A cluster nothing refers to any more is leaked; -r leaks frees it. */
Test(qcow2_check, leaked_cluster)
{
    fixture f;
    setup(&f);
    uint64_t l2 = l2_table(f.path);
    put(f.path, l2 + 8 * 7, 0, 8);
    memset(f.sh.data + 7 * CLUSTER, 0, CLUSTER);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.leaks, 1);
    cr_assert_eq(res.corruptions, 0);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS, &res), 0);
    cr_assert_eq(res.leaks_fixed, 1);
    assert_clean(&f);
    assert_data(&f);
    teardown(&f);
}

/* A refcount block counted twice must be rebuilt. */
Test(qcow2_check, refcount_block_refcount_wrong)
{
    fixture f;
    setup(&f);
    set_refcount(f.path, refblock(f.path), 2);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.leaks, 1);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &res), 0);
    assert_clean(&f);
    assert_data(&f);
    teardown(&f);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* A refcount block just past the end of the file: -r all extends the
 * file to hold it, as qemu-img does. */
Test(qcow2_check, refcount_block_outside_the_file)
{
    fixture f;
    setup(&f);
    uint64_t end = (file_size(f.path) + CLUSTER - 1) / CLUSTER * CLUSTER;
    put(f.path, get64(f.path, 48) + 8, end + 4 * CLUSTER, 8);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 1);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &res), 0);
    cr_assert_eq(res.corruptions_fixed, 2, "as qemu-img counts them");
    cr_assert_eq(file_size(f.path), end + 5 * CLUSTER);
    assert_clean(&f);
    assert_data(&f);
    teardown(&f);
}

/* One far past the end (a crafted entry: qemu-img would grow the file to
 * 1 TiB and size its refcount array to match): -r all rebuilds the
 * refcount structure inside the file instead. */
Test(qcow2_check, refcount_block_far_outside_the_file)
{
    fixture f;
    setup(&f);
    uint64_t before = file_size(f.path);
    put(f.path, get64(f.path, 48) + 8, 1ull << 40, 8);
    img_check_result res;
    cr_assert_eq(check(&f, 0, &res), 0);
    cr_assert_eq(res.corruptions, 1);
    cr_assert_eq(check(&f, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &res), 0);
    cr_assert_eq(res.corruptions, 0, "%d corruptions left", res.corruptions);
    cr_assert_lt(file_size(f.path), before + (1 << 20), "the file grew to "
                 "%" PRIu64, file_size(f.path));
    assert_clean(&f);
    assert_data(&f);
    teardown(&f);
}

/* Repairs need a writable image. */
Test(qcow2_check, repair_needs_write_access)
{
    fixture f;
    setup(&f);
    img *im = oracle_open(f.path);
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, IMG_FIX_LEAKS, &err), -EPERM);
    img_close(im);
    teardown(&f);
}
