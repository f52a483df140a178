/* tests/libimg/test_parallel.c -- img_parallel_for: every item done once,
 * slots within the thread count, the lowest failed item reported, and
 * the thread count bounds. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>

#include "libimg/parallel.h"

typedef struct counts {
    int *done;            /* times each item ran */
    size_t threads;       /* slots must stay below */
    int bad_slot;         /* a slot out of range was seen */
    size_t fail_a, fail_b; /* items that fail (-5 and -7) */
} counts;

static int count_item(void *ctx, size_t i, size_t slot)
{
    counts *c = ctx;
    __atomic_add_fetch(&c->done[i], 1, __ATOMIC_SEQ_CST);
    if (slot >= c->threads) {
        __atomic_store_n(&c->bad_slot, 1, __ATOMIC_SEQ_CST);
    }
    if (i == c->fail_a) {
        return -5;
    }
    return i == c->fail_b ? -7 : 0;
}

Test(parallel, every_item_once)
{
    static const size_t ns[] = { 0, 1, 7, 1000 };
    for (size_t t = 1; t <= IMG_PARALLEL_MAX + 2; t++) {
        for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
            size_t n = ns[k];
            counts c = { .done = calloc(n + 1, sizeof(int)),
                         .threads = t < IMG_PARALLEL_MAX ? t
                                                         : IMG_PARALLEL_MAX,
                         .fail_a = SIZE_MAX, .fail_b = SIZE_MAX };
            cr_assert(c.done);
            size_t failed = 12345;
            cr_assert_eq(img_parallel_for(n, t, count_item, &c, &failed), 0);
            cr_assert_eq(failed, 12345, "failed_i set on success");
            for (size_t i = 0; i < n; i++) {
                cr_assert_eq(c.done[i], 1, "n %zu threads %zu: item %zu ran "
                             "%d times", n, t, i, c.done[i]);
            }
            cr_assert_not(c.bad_slot, "slot beyond %zu threads", t);
            free(c.done);
        }
    }
}

Test(parallel, the_lowest_failure_is_reported)
{
    for (int round = 0; round < 50; round++) {
        counts c = { .done = calloc(600, sizeof(int)), .threads = 4,
                     .fail_a = 500, .fail_b = 10 };
        cr_assert(c.done);
        size_t failed = 0;
        cr_assert_eq(img_parallel_for(600, 4, count_item, &c, &failed), -7);
        cr_assert_eq(failed, 10);
        for (size_t i = 0; i < 600; i++) {
            cr_assert_leq(c.done[i], 1, "item %zu ran twice", i);
        }
        free(c.done);
    }
}

Test(parallel, thread_counts_are_bounded)
{
    cr_assert_eq(img_parallel_threads(0), 1);
    cr_assert_eq(img_parallel_threads(1), 1);
    cr_assert_eq(img_parallel_threads(IMG_PARALLEL_MIN_ITEMS - 1), 1);
    size_t t = img_parallel_threads(1000);
    cr_assert(t >= 1 && t <= IMG_PARALLEL_MAX, "%zu", t);
}
