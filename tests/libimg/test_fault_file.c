/* tests/libimg/test_fault_file.c -- the fault injecting img_file wrapper
 * (libimg/fault_file.c): failed reads and writes, dropped writes (power
 * loss) and the write counter. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "libimg/file.h"

/* A fault wrapper over a writable memory file of len zero bytes; *inner
 * receives the memory file so tests can look under the wrapper. */
static img_file *faulty(size_t len, const img_fault_plan *plan,
                        img_file **inner)
{
    uint8_t zeros[64] = { 0 };
    cr_assert_leq(len, sizeof(zeros));
    *inner = img_mem_file_new(zeros, len, 1);
    cr_assert(*inner);
    img_file *f = img_fault_file_new(*inner, plan);
    cr_assert(f);
    return f;
}

/* Byte off of the memory file under the wrapper. */
static uint8_t inner_byte(img_file *inner, size_t off)
{
    size_t len = 0;
    const uint8_t *p = img_mem_file_data(inner, &len);
    return off < len ? p[off] : 0;
}

Test(fault_file, nth_write_fails_with_eio_and_others_pass)
{
    img_fault_plan plan = { .fail_write_at = 3 };
    img_file *inner;
    img_file *f = faulty(16, &plan, &inner);
    img_err err = { 0 };
    for (uint8_t i = 1; i <= 5; i++) {
        int r = img_file_pwrite(f, &i, 1, i, &err);
        if (i == 3) {
            cr_assert_eq(r, -EIO);
            cr_assert_eq(err.code, EIO);
            cr_assert(strstr(err.msg, "Input/output error"), "%s", err.msg);
        } else {
            cr_assert_eq(r, 0, "write %u: %s", i, err.msg);
        }
    }
    cr_assert_eq(inner_byte(inner, 2), 2);
    cr_assert_eq(inner_byte(inner, 3), 0, "failed write reached the file");
    cr_assert_eq(inner_byte(inner, 4), 4);
    cr_assert_eq(img_fault_file_writes(f), 5);
    img_file_close(f);
}

Test(fault_file, nth_read_fails_and_reads_are_not_writes)
{
    img_fault_plan plan = { .fail_read_at = 2 };
    img_file *inner;
    img_file *f = faulty(16, &plan, &inner);
    uint8_t b;
    cr_assert_eq(img_file_pread(f, &b, 1, 0, NULL), 0);
    cr_assert_eq(img_file_pread(f, &b, 1, 0, NULL), -EIO);
    cr_assert_eq(img_file_pread(f, &b, 1, 0, NULL), 0);
    cr_assert_eq(img_fault_file_writes(f), 0);
    img_file_close(f);
}

Test(fault_file, writes_from_drop_point_never_reach_inner)
{
    img_fault_plan plan = { .drop_from = 3 };
    img_file *inner;
    img_file *f = faulty(8, &plan, &inner);
    uint8_t v = 0xaa;
    cr_assert_eq(img_file_pwrite(f, &v, 1, 0, NULL), 0);   /* write 1 */
    cr_assert_eq(img_file_flush(f, NULL), 0);              /* write 2 */
    cr_assert_eq(img_file_pwrite(f, &v, 1, 1, NULL), 0);   /* dropped */
    cr_assert_eq(img_file_truncate(f, 2, NULL), 0);        /* dropped */
    cr_assert_eq(img_file_punch_hole(f, 0, 8, NULL), 0);   /* dropped */
    cr_assert_eq(img_file_pwrite(f, &v, 1, 100, NULL), 0); /* dropped */
    cr_assert_eq(img_fault_file_writes(f), 6);
    size_t len = 0;
    img_mem_file_data(inner, &len);
    cr_assert_eq(len, 8, "dropped truncate/write changed the size");
    cr_assert_eq(inner_byte(inner, 0), 0xaa);
    cr_assert_eq(inner_byte(inner, 1), 0, "dropped write reached the file");
    /* Reads still pass through and see what survived. */
    uint8_t b = 0;
    cr_assert_eq(img_file_pread(f, &b, 1, 0, NULL), 0);
    cr_assert_eq(b, 0xaa);
    img_file_close(f);
}

Test(fault_file, every_write_kind_is_counted)
{
    img_file *inner;
    img_file *f = faulty(8, NULL, &inner);
    uint8_t v = 1;
    cr_assert_eq(img_file_pwrite(f, &v, 1, 0, NULL), 0);
    cr_assert_eq(img_file_truncate(f, 32, NULL), 0);
    cr_assert_eq(img_file_punch_hole(f, 0, 4, NULL), 0);
    cr_assert_eq(img_file_allocate(f, 0, 64, NULL), 0);
    cr_assert_eq(img_file_flush(f, NULL), 0);
    cr_assert_eq(img_fault_file_writes(f), 5);
    /* Queries are not writes. */
    uint64_t size = 0;
    int is_data;
    uint64_t pnum;
    cr_assert_eq(img_file_size(f, &size, NULL), 0);
    cr_assert_eq(size, 64);
    cr_assert_eq(img_file_extent(f, 0, 8, &is_data, &pnum, NULL), 0);
    cr_assert_eq(img_fault_file_writes(f), 5);
    cr_assert_str_eq(f->ops->name, "fault");
    img_file_close(f);
}

Test(fault_file, failed_truncate_leaves_size_alone)
{
    img_fault_plan plan = { .fail_write_at = 1 };
    img_file *inner;
    img_file *f = faulty(8, &plan, &inner);
    cr_assert_eq(img_file_truncate(f, 100, NULL), -EIO);
    cr_assert_eq(img_file_flush(f, NULL), 0);
    size_t len = 0;
    img_mem_file_data(inner, &len);
    cr_assert_eq(len, 8);
    img_file_close(f);
}

Test(fault_file, counter_of_a_non_fault_file_is_zero)
{
    img_file *m = img_mem_file_new(NULL, 0, 1);
    cr_assert_eq(img_file_pwrite(m, "x", 1, 0, NULL), 0);
    cr_assert_eq(img_fault_file_writes(m), 0);
    cr_assert_eq(img_fault_file_writes(NULL), 0);
    img_file_close(m);
}

Test(fault_file, read_only_inner_stays_read_only)
{
    img_file *inner = img_mem_file_new("abc", 3, 0);
    img_file *f = img_fault_file_new(inner, NULL);
    cr_assert_eq(f->flags & IMG_FILE_RDWR, 0);
    cr_assert_eq(img_file_pwrite(f, "x", 1, 0, NULL), -EPERM);
    img_file_close(f);
}

/* Writes WRITES_PER_THREAD single bytes through the shared wrapper. */
#define THREADS           4
#define WRITES_PER_THREAD 500

static void *hammer(void *arg)
{
    img_file *f = arg;
    for (unsigned i = 0; i < WRITES_PER_THREAD; i++) {
        uint8_t v = (uint8_t)i;
        if (img_file_pwrite(f, &v, 1, i % 64, NULL) < 0) {
            return (void *)1;
        }
    }
    return NULL;
}

Test(fault_file, counter_is_exact_under_concurrent_writes)
{
    img_file *inner;
    img_file *f = faulty(64, NULL, &inner);
    pthread_t th[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, f), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_null(res);
    }
    cr_assert_eq(img_fault_file_writes(f), THREADS * WRITES_PER_THREAD);
    img_file_close(f);
}

Test(fault_file, exactly_one_concurrent_write_fails)
{
    img_fault_plan plan = { .fail_write_at = 777 };
    img_file *inner;
    img_file *f = faulty(64, &plan, &inner);
    pthread_t th[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, f), 0);
    }
    unsigned failed = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        void *res;
        pthread_join(th[i], &res);
        failed += res != NULL;
    }
    /* The failing thread stops early, so the count is below the total. */
    cr_assert_eq(failed, 1);
    cr_assert_lt(img_fault_file_writes(f), THREADS * WRITES_PER_THREAD);
    cr_assert_geq(img_fault_file_writes(f), 777);
    img_file_close(f);
}
