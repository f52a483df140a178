/* tests/convert/test_order.c -- write ordering of the conversion engine:
 * without out_of_order (qemu-img without -W) writes land in ascending
 * offset order however the workers' reads finish; with it, a later chunk
 * may be written first.  Hooks in the recording file (rec_file.h) delay
 * or hold reads to force the interleavings.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "convert/engine.h"
#include "rec_file.h"

#define KiB ((size_t)1024)

/* Source: random data with zero holes every few chunks. */
static uint8_t *pattern_new(size_t len)
{
    uint8_t *buf = malloc(len);
    cr_assert(buf);
    uint32_t x = 99;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)((x >> 16) % 255 + 1);
    }
    for (size_t off = 40 * KiB; off + 24 * KiB <= len; off += 136 * KiB) {
        memset(buf + off, 0, 24 * KiB);
    }
    return buf;
}

/* Delays each read by 0..750 us, depending on its offset, so reads of
 * later chunks often finish first. */
static void jitter(void *opaque, uint64_t off, uint64_t len)
{
    (void)opaque;
    (void)len;
    uint64_t h = (off / 4096) * 0x9e3779b97f4a7c15ull;
    usleep((useconds_t)((h >> 60) % 4) * 250);
}

/* Every write and zeroing, in recorded order, must continue exactly where
 * the previous one ended, from 0 to len. */
static void assert_ascending_cover(img_file *rec, uint64_t len)
{
    static rec_op ops[8192];
    size_t n = rec_file_ops(rec, ops, 8192);
    cr_assert_leq(n, 8192);
    uint64_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != 'w' && ops[i].kind != 'z') {
            continue;
        }
        cr_assert_eq(ops[i].off, next, "op %zu (%c) at %llu, expected %llu", i,
                     ops[i].kind, (unsigned long long)ops[i].off,
                     (unsigned long long)next);
        next += ops[i].len;
    }
    cr_assert_eq(next, len);
}

static void convert(img *src, img *dst, int workers, int ooo, uint64_t chunk)
{
    cvt_params p;
    cvt_params_init(&p);
    p.src = &src;
    p.nsrc = 1;
    p.dst = dst;
    p.workers = workers;
    p.out_of_order = ooo;
    p.chunk_size = chunk;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), 0, "%s", err.msg);
}

/* A target of len bytes of 0xaa: zero ranges must be zeroed explicitly,
 * so every byte of it shows up in the log. */
static img *dirty_target(size_t len, img_file **rec)
{
    uint8_t *buf = malloc(len);
    cr_assert(buf);
    memset(buf, 0xaa, len);
    img *dst = rec_raw_image(buf, len, 1, 0, rec);
    free(buf);
    cr_assert(dst);
    return dst;
}

Test(order, writes_ascend_with_16_workers_and_jittered_reads)
{
    const size_t len = 2048 * KiB;
    uint8_t *data = pattern_new(len);
    for (int sparse = 0; sparse <= 1; sparse++) {
        img_file *src_rec, *rec;
        img *src = rec_raw_image(data, len, 0, sparse, &src_rec);
        cr_assert(src);
        rec_file_set_hooks(src_rec, jitter, NULL, NULL);
        img *dst = dirty_target(len, &rec);
        convert(src, dst, 16, 0, 16 * KiB);
        size_t have;
        cr_assert(memcmp(rec_file_data(rec, &have), data, len) == 0);
        assert_ascending_cover(rec, len);
        img_close(dst);
        img_close(src);
    }
    free(data);
}

/* Two workers: the read of chunk 0 is held until chunk 1 has been read,
 * so chunk 1 is ready to be written first. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int chunk1_read;   /* the read of chunk 1 has started */
    int later_written; /* a write past chunk 0 happened */
    int wait_ms;       /* how long chunk 0 waits for such a write */
} gate;

#define GATE_CHUNK (64 * KiB)

/* Waits on g->cond until *flag or ms elapse (caller holds the lock). */
static void wait_flag(gate *g, const int *flag, int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    while (!*flag && pthread_cond_timedwait(&g->cond, &g->lock, &t) == 0) {
        /* woken: check again */
    }
}

static void gate_read(void *opaque, uint64_t off, uint64_t len)
{
    gate *g = opaque;
    (void)len;
    pthread_mutex_lock(&g->lock);
    if (off == GATE_CHUNK) {
        g->chunk1_read = 1;
        pthread_cond_broadcast(&g->cond);
    } else if (off == 0) {
        wait_flag(g, &g->chunk1_read, 10000);
        wait_flag(g, &g->later_written, g->wait_ms);
    }
    pthread_mutex_unlock(&g->lock);
}

static void gate_write(void *opaque, uint64_t off, uint64_t len)
{
    gate *g = opaque;
    (void)len;
    pthread_mutex_lock(&g->lock);
    if (off >= GATE_CHUNK) {
        g->later_written = 1;
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
}

/* Runs the gated conversion; returns the offset of the first write. */
static uint64_t gated_first_write(int ooo, int wait_ms)
{
    const size_t len = 4 * GATE_CHUNK;
    uint8_t *data = pattern_new(len);
    gate g = { .wait_ms = wait_ms };
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.cond, NULL);
    img_file *src_rec, *rec;
    img *src = rec_raw_image(data, len, 0, 0, &src_rec);
    cr_assert(src);
    img *dst = dirty_target(len, &rec);
    rec_file_set_hooks(src_rec, gate_read, NULL, &g);
    rec_file_set_hooks(rec, NULL, gate_write, &g);
    convert(src, dst, 2, ooo, GATE_CHUNK);
    rec_op ops[64];
    size_t n = rec_file_ops(rec, ops, 64);
    cr_assert_gt(n, 0);
    uint64_t first = ops[0].off;
    if (!ooo) {
        assert_ascending_cover(rec, len);
    }
    img_close(dst);
    img_close(src);
    pthread_cond_destroy(&g.cond);
    pthread_mutex_destroy(&g.lock);
    free(data);
    return first;
}

/* In order: chunk 1 is read first but waits; chunk 0 waits 200 ms for
 * a write that must not come. */
Test(order, ready_later_chunk_waits_for_earlier_one)
{
    cr_assert_eq(gated_first_write(0, 200), 0);
}

/* -W: chunk 0 holds its read until chunk 1 has been written. */
Test(order, out_of_order_lets_a_later_chunk_go_first)
{
    cr_assert_eq(gated_first_write(1, 10000), GATE_CHUNK);
}

/* More workers than chunks, and a single worker, still copy it all. */
Test(order, worker_count_does_not_matter_for_tiny_images)
{
    const size_t len = 24 * KiB;
    uint8_t *data = pattern_new(len);
    static const int workers[] = { 1, 16 };
    for (int i = 0; i < 2; i++) {
        img_file *rec;
        img *src = rec_raw_image(data, len, 0, 0, NULL);
        img *dst = dirty_target(len, &rec);
        convert(src, dst, workers[i], 0, 0);
        assert_ascending_cover(rec, len);
        img_close(dst);
        img_close(src);
    }
    free(data);
}
