/* libimg/parallel.c -- see parallel.h. */
#include "parallel.h"

#include <pthread.h>
#include <unistd.h>

/* What the threads of one call share. */
typedef struct job {
    img_parallel_fn fn;
    void *ctx;
    size_t n;
    pthread_mutex_t lock; /* guards next and the failure */
    size_t next;          /* next item to take */
    size_t failed;        /* lowest failed item; n: none */
    int failed_r;
} job;

typedef struct helper {
    job *j;
    size_t slot;
    pthread_t tid;
} helper;

/* The next item, or n when none is left or one failed. */
static size_t take(job *j)
{
    pthread_mutex_lock(&j->lock);
    size_t i = j->failed < j->n ? j->n : j->next;
    if (i < j->n) {
        j->next++;
    }
    pthread_mutex_unlock(&j->lock);
    return i;
}

static void record_failure(job *j, size_t i, int r)
{
    pthread_mutex_lock(&j->lock);
    if (i < j->failed) {
        j->failed = i;
        j->failed_r = r;
    }
    pthread_mutex_unlock(&j->lock);
}

static void work(job *j, size_t slot)
{
    for (size_t i = take(j); i < j->n; i = take(j)) {
        int r = j->fn(j->ctx, i, slot);
        if (r < 0) {
            record_failure(j, i, r);
        }
    }
}

static void *helper_main(void *arg)
{
    helper *h = arg;
    work(h->j, h->slot);
    return NULL;
}

size_t img_parallel_threads(size_t n)
{
    if (n < IMG_PARALLEL_MIN_ITEMS) {
        return 1;
    }
    size_t max = n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t t = cpus > 1 ? (size_t)cpus : 1;
    if (max > IMG_PARALLEL_MAX) {
        max = IMG_PARALLEL_MAX;
    }
    return t < max ? t : max;
}

int img_parallel_for(size_t n, size_t threads, img_parallel_fn fn,
                     void *ctx, size_t *failed_i)
{
    job j = { .fn = fn, .ctx = ctx, .n = n, .failed = n };
    helper h[IMG_PARALLEL_MAX];
    size_t started = 0;
    if (threads > IMG_PARALLEL_MAX) {
        threads = IMG_PARALLEL_MAX;
    }
    if (threads > n) {
        threads = n;
    }
    pthread_mutex_init(&j.lock, NULL);
    for (size_t k = 1; k < threads; k++) {
        h[started] = (helper){ .j = &j, .slot = started + 1 };
        if (pthread_create(&h[started].tid, NULL, helper_main,
                           &h[started]) == 0) {
            started++;
        }
    }
    work(&j, 0);
    for (size_t k = 0; k < started; k++) {
        pthread_join(h[k].tid, NULL);
    }
    pthread_mutex_destroy(&j.lock);
    if (j.failed < n) {
        *failed_i = j.failed;
        return j.failed_r;
    }
    return 0;
}
