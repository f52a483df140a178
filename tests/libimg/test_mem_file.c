/* tests/libimg/test_mem_file.c -- the memory img_file backend
 * (libimg/mem_file.c) and the wrapper defaults it relies on. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/file.h"

/* True when len bytes at buf all equal c. */
static int all_bytes(const uint8_t *buf, size_t len, uint8_t c)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != c) {
            return 0;
        }
    }
    return 1;
}

static uint64_t size_of(img_file *f)
{
    uint64_t size = 0;
    cr_assert_eq(img_file_size(f, &size, NULL), 0);
    return size;
}

Test(mem_file, holds_a_copy_of_the_initial_data)
{
    uint8_t data[5] = { 1, 2, 3, 4, 5 };
    img_file *f = img_mem_file_new(data, sizeof(data), 0);
    cr_assert(f);
    data[0] = 9; /* the file must not see this */
    uint8_t buf[5];
    cr_assert_eq(img_file_pread(f, buf, 5, 0, NULL), 0);
    cr_assert_eq(buf[0], 1);
    cr_assert_eq(buf[4], 5);
    cr_assert_eq(size_of(f), 5);
    cr_assert_str_eq(f->ops->name, "memory");
    cr_assert_null(f->path);
    img_file_close(f);
}

Test(mem_file, read_past_end_is_zero)
{
    uint8_t data[4] = { 7, 7, 7, 7 };
    img_file *f = img_mem_file_new(data, sizeof(data), 0);
    uint8_t buf[16];
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(img_file_pread(f, buf, sizeof(buf), 2, NULL), 0);
    cr_assert(all_bytes(buf, 2, 7));
    cr_assert(all_bytes(buf + 2, 14, 0));
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(img_file_pread(f, buf, sizeof(buf), 1u << 30, NULL), 0);
    cr_assert(all_bytes(buf, sizeof(buf), 0));
    img_file_close(f);
}

Test(mem_file, write_grows_with_zero_gap)
{
    img_file *f = img_mem_file_new(NULL, 0, 1);
    uint8_t buf[100];
    memset(buf, 0x42, sizeof(buf));
    cr_assert_eq(img_file_pwrite(f, buf, sizeof(buf), 100000, NULL), 0);
    cr_assert_eq(size_of(f), 100100);
    size_t len = 0;
    const uint8_t *p = img_mem_file_data(f, &len);
    cr_assert_eq(len, 100100);
    cr_assert(all_bytes(p, 100000, 0));
    cr_assert(all_bytes(p + 100000, 100, 0x42));
    img_file_close(f);
}

Test(mem_file, read_only_refuses_every_write)
{
    uint8_t data[8] = { 0 };
    img_file *f = img_mem_file_new(data, sizeof(data), 0);
    img_err err = { 0 };
    cr_assert_eq(img_file_pwrite(f, data, 1, 0, &err), -EPERM);
    cr_assert_eq(err.code, EPERM);
    cr_assert_eq(img_file_truncate(f, 100, NULL), -EPERM);
    cr_assert_eq(img_file_punch_hole(f, 0, 4, NULL), -EPERM);
    cr_assert_eq(img_file_write_zeroes(f, 0, 4, NULL), -EPERM);
    cr_assert_eq(img_file_allocate(f, 0, 64, NULL), -EPERM);
    /* Calling the backend directly is refused too. */
    cr_assert_eq(f->ops->pwrite(f, data, 1, 0, NULL), -EPERM);
    cr_assert_eq(size_of(f), 8);
    img_file_close(f);
}

Test(mem_file, truncate_shrinks_then_grows_with_zeros)
{
    uint8_t data[64];
    memset(data, 0x31, sizeof(data));
    img_file *f = img_mem_file_new(data, sizeof(data), 1);
    cr_assert_eq(img_file_truncate(f, 10, NULL), 0);
    cr_assert_eq(size_of(f), 10);
    cr_assert_eq(img_file_truncate(f, 64, NULL), 0);
    uint8_t buf[64];
    cr_assert_eq(img_file_pread(f, buf, 64, 0, NULL), 0);
    cr_assert(all_bytes(buf, 10, 0x31));
    cr_assert(all_bytes(buf + 10, 54, 0), "cut bytes must not come back");
    img_file_close(f);
}

Test(mem_file, punch_and_write_zeroes_clear_data)
{
    uint8_t data[256];
    memset(data, 0xab, sizeof(data));
    img_file *f = img_mem_file_new(data, sizeof(data), 1);
    cr_assert_eq(img_file_punch_hole(f, 16, 16, NULL), 0);
    cr_assert_eq(img_file_write_zeroes(f, 200, 100, NULL), 0);
    cr_assert_eq(size_of(f), 300, "write_zeroes grows like a write");
    size_t len = 0;
    const uint8_t *p = img_mem_file_data(f, &len);
    cr_assert_eq(len, 300);
    cr_assert(all_bytes(p, 16, 0xab));
    cr_assert(all_bytes(p + 16, 16, 0));
    cr_assert(all_bytes(p + 32, 168, 0xab));
    cr_assert(all_bytes(p + 200, 100, 0));
    img_file_close(f);
}

Test(mem_file, defaults_for_missing_hooks)
{
    img_file *f = img_mem_file_new("abc", 3, 1);
    int is_data = 0;
    uint64_t pnum = 0;
    cr_assert_eq(img_file_extent(f, 0, 1000, &is_data, &pnum, NULL), 0);
    cr_assert_eq(is_data, 1);
    cr_assert_eq(pnum, 1000);
    cr_assert_eq(img_file_flush(f, NULL), 0);
    cr_assert_eq(img_file_set_perm(f, IMG_PERM_ALL, 0, NULL), 0);
    uint64_t dev, ino;
    cr_assert_eq(img_file_identity(f, &dev, &ino), -ENOTSUP);
    img_file *g = img_mem_file_new(NULL, 0, 1);
    img_err err = { 0 };
    cr_assert_eq(img_file_copy_range(f, 0, g, 0, 3, &err), -ENOTSUP);
    cr_assert_eq(err.code, ENOTSUP);
    cr_assert_eq(img_file_allocate(g, 0, 4096, NULL), 0);
    cr_assert_eq(size_of(g), 4096);
    uint64_t alloc = 0;
    cr_assert_eq(img_file_allocated_size(g, &alloc, NULL), 0);
    cr_assert_eq(alloc, 4096);
    img_file_close(f);
    img_file_close(g);
}

Test(mem_file, data_view_rejects_other_backends)
{
    img_file *f = img_fault_file_new(img_mem_file_new("xy", 2, 1), NULL);
    cr_assert(f);
    size_t len = 99;
    cr_assert_null(img_mem_file_data(f, &len));
    cr_assert_eq(len, 0);
    len = 99;
    cr_assert_null(img_mem_file_data(NULL, &len));
    cr_assert_eq(len, 0);
    img_file_close(f);
}

/* Each writer appends its own small blocks at interleaved offsets, so the
 * file keeps growing while the others write. */
struct writer_job {
    img_file *f;
    unsigned id;
};

#define WRITERS 4
#define BLOCKS  2048
#define BLOCK   64

static void *writer(void *arg)
{
    struct writer_job *job = arg;
    uint8_t buf[BLOCK];
    memset(buf, (int)(job->id + 1), sizeof(buf));
    for (unsigned i = 0; i < BLOCKS; i++) {
        uint64_t off = ((uint64_t)i * WRITERS + job->id) * BLOCK;
        if (img_file_pwrite(job->f, buf, sizeof(buf), off, NULL) < 0) {
            return (void *)1;
        }
        uint8_t back[BLOCK];
        if (img_file_pread(job->f, back, sizeof(back), off, NULL) < 0 ||
            memcmp(back, buf, sizeof(buf)) != 0) {
            return (void *)2;
        }
    }
    return NULL;
}

Test(mem_file, concurrent_writers_growing_the_file)
{
    img_file *f = img_mem_file_new(NULL, 0, 1);
    pthread_t th[WRITERS];
    struct writer_job jobs[WRITERS];
    for (unsigned i = 0; i < WRITERS; i++) {
        jobs[i] = (struct writer_job){ f, i };
        cr_assert_eq(pthread_create(&th[i], NULL, writer, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < WRITERS; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_null(res, "writer %u failed", i);
    }
    size_t len = 0;
    const uint8_t *p = img_mem_file_data(f, &len);
    cr_assert_eq(len, (size_t)WRITERS * BLOCKS * BLOCK);
    for (size_t b = 0; b < (size_t)WRITERS * BLOCKS; b++) {
        cr_assert(all_bytes(p + b * BLOCK, BLOCK, (uint8_t)(b % WRITERS + 1)),
                  "block %zu", b);
    }
    img_file_close(f);
}

/* ---- write_zeroes fallback (libimg/file.c) ------------------------------ */

/* A backend that forwards to a memory file but cannot punch holes, and
 * records the writes it sees. */
struct nohole_file {
    img_file base;
    img_file *mem;
    unsigned writes;
    size_t max_write;
};

static int nohole_pread(img_file *f, void *buf, size_t len, uint64_t off,
                        img_err *err)
{
    return img_file_pread(((struct nohole_file *)f)->mem, buf, len, off, err);
}

static int nohole_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                         img_err *err)
{
    struct nohole_file *n = (struct nohole_file *)f;
    n->writes++;
    n->max_write = len > n->max_write ? len : n->max_write;
    return img_file_pwrite(n->mem, buf, len, off, err);
}

static int nohole_get_size(img_file *f, uint64_t *size, img_err *err)
{
    return img_file_size(((struct nohole_file *)f)->mem, size, err);
}

static int nohole_punch(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    (void)f, (void)off, (void)len;
    return img_err_set(err, ENOTSUP, "no holes here");
}

static const img_file_ops nohole_ops = {
    .name = "nohole",
    .pread = nohole_pread,
    .pwrite = nohole_pwrite,
    .get_size = nohole_get_size,
    .punch_hole = nohole_punch,
};

Test(file_wrappers, write_zeroes_falls_back_to_bounded_zero_writes)
{
    size_t len = 3u << 20;
    uint8_t *data = malloc(len);
    cr_assert(data);
    memset(data, 0x5c, len);
    struct nohole_file n = {
        .base = { .ops = &nohole_ops, .flags = IMG_FILE_RDWR },
        .mem = img_mem_file_new(data, len, 1),
    };
    img_err err = { 0 };
    cr_assert_eq(img_file_write_zeroes(&n.base, 100, len - 200, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(err.code, 0, "the ENOTSUP from punching must not leak");
    cr_assert_geq(n.writes, 3);
    cr_assert_leq(n.max_write, (size_t)1 << 20);
    size_t got = 0;
    const uint8_t *p = img_mem_file_data(n.mem, &got);
    cr_assert_eq(got, len);
    cr_assert(all_bytes(p, 100, 0x5c));
    cr_assert(all_bytes(p + 100, len - 200, 0));
    cr_assert(all_bytes(p + len - 100, 100, 0x5c));
    /* Optional hooks left NULL get their documented defaults. */
    cr_assert_eq(img_file_truncate(&n.base, 10, NULL), -ENOTSUP);
    cr_assert_eq(img_file_allocate(&n.base, 0, 10, NULL), -ENOTSUP);
    uint64_t bytes;
    cr_assert_eq(img_file_allocated_size(&n.base, &bytes, NULL), -ENOTSUP);
    img_file_close(n.mem);
    free(data);
}
