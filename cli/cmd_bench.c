/* cli/cmd_bench.c -- "bench", qemu-img 7.2 compatible.
 *
 *   bench [-c count] [-d depth] [-f fmt] [--flush-interval=interval]
 *         [--no-drain] [-i aio] [-n] [-o offset] [--pattern=byte] [-q]
 *         [-s buffer_size] [-S step_size] [-t cache] [-w] [-U]
 *         [--image-opts] filename
 *
 * Follows qemu-img's img_bench(): count requests of buffer_size bytes
 * (reads, or writes of the pattern byte with -w), the first at offset,
 * each next one step_size further (wrapping at the end of the image),
 * depth of them in flight; with --flush-interval a flush after every
 * that many writes.  Prints the same two lines ("Sending ...", "Run
 * completed in S seconds.").  Differences, all documented in docs/cli.md:
 * the requests in flight are served by at most BENCH_THREADS threads of
 * vdisk's block layer (not a kernel AIO queue); -t none and directsync
 * do not bypass the host page cache; writethrough and directsync flush
 * after every write; --no-drain flushes like the default; and a depth of
 * 0, with which qemu-img never finishes, is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_mode.h"
#include "opt_common.h"

#define BENCH_THREADS 4
/* Buffers of all threads together stay below this (one thread at least). */
#define BENCH_BUFFER_BUDGET ((uint64_t)256 << 20)

enum {
    OPT_FLUSH_INTERVAL = CLI_OPT_LOCAL,
    OPT_PATTERN,
    OPT_NO_DRAIN,
};

typedef struct bench_args {
    const char *fmt;      /* -f */
    const char *filename;
    const char *cache;    /* -t */
    cli_cache_mode mode;  /* what -t asks for; writeback without it */
    const char *aio;      /* -i, or "native" for -n */
    uint64_t count;       /* -c */
    uint64_t depth;       /* -d */
    int64_t offset;       /* -o */
    int64_t bufsize;      /* -s */
    int64_t step;         /* -S, 0: bufsize */
    unsigned pattern;     /* --pattern */
    uint64_t flush_interval;
    int write;            /* -w */
    int force_share;      /* -U */
    int quiet;            /* -q */
    int image_opts;       /* --image-opts */
} bench_args;

/* qemu_strtoul() of a count that must not exceed max; -1 when bad. */
static int parse_ulong(const char *s, unsigned long max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || end == s || *end || strchr(s, '-') || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int bad(const cli_env *env, const char *what)
{
    cli_error(env, "%s", what);
    return 1;
}

/* One of bench's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    bench_args *a = args;
    uint64_t v;
    switch (c) {
    case 'c':
        return parse_ulong(optarg, INT_MAX, &a->count) < 0
                   ? bad(env, "Invalid request count specified") : -1;
    case 'd':
        /* qemu-img takes 0 and then waits forever */
        return parse_ulong(optarg, INT_MAX, &a->depth) < 0 || a->depth == 0
                   ? bad(env, "Invalid queue depth specified") : -1;
    case 'f':
        a->fmt = optarg;
        return -1;
    case 'n':
        a->aio = "native";
        return -1;
    case 'i':
        if (strcmp(optarg, "threads") && strcmp(optarg, "native") &&
            strcmp(optarg, "io_uring")) {
            cli_error(env, "Invalid aio option: %s", optarg);
            return 1;
        }
        a->aio = optarg;
        return -1;
    case 'o':
        return cli_cvtnum(env, "offset", optarg, 0, INT64_MAX, &a->offset) < 0
                   ? 1 : -1;
    case 'q':
        a->quiet = 1;
        return -1;
    case 's':
        return cli_cvtnum(env, "buffer size", optarg, 0, INT_MAX,
                          &a->bufsize) < 0 ? 1 : -1;
    case 'S':
        return cli_cvtnum(env, "step_size", optarg, 0, INT_MAX, &a->step) < 0
                   ? 1 : -1;
    case 't':
        a->cache = optarg;
        return -1;
    case 'w':
        a->write = 1;
        return -1;
    case 'U':
        a->force_share = 1;
        return -1;
    case OPT_PATTERN:
        if (parse_ulong(optarg, 0xff, &v) < 0) {
            return bad(env, "Invalid pattern byte specified");
        }
        a->pattern = (unsigned)v;
        return -1;
    case OPT_FLUSH_INTERVAL:
        return parse_ulong(optarg, INT_MAX, &a->flush_interval) < 0
                   ? bad(env, "Invalid flush interval specified") : -1;
    default: /* --no-drain: flushes wait for the requests in any case */
        return -1;
    }
}

/* Options, operand and their combinations, in qemu-img's order; returns
 * -1 to go on, else the exit status. */
static int parse_args(const cli_env *env, int argc, char **argv,
                      bench_args *a, unsigned *flags)
{
    static const struct option extra[] = {
        { "flush-interval", required_argument, NULL, OPT_FLUSH_INTERVAL },
        { "pattern", required_argument, NULL, OPT_PATTERN },
        { "no-drain", no_argument, NULL, OPT_NO_DRAIN },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "bench",
        .shortopts = ":hc:d:f:ni:o:qs:S:t:wU",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts_file(env, argc, argv, &spec, a, &a->filename);
    if (r >= 0) {
        return r;
    }
    if (a->cache && (cli_cache_mode_parse(a->cache, &a->mode) < 0 ||
                     cli_cache_flags(a->cache, flags) < 0)) {
        return bad(env, "Invalid cache mode");
    }
    if (!a->write && a->flush_interval) {
        return bad(env, "--flush-interval is only available in write tests");
    }
    if (a->flush_interval && a->flush_interval < a->depth) {
        return bad(env, "Flush interval can't be smaller than depth");
    }
    if (a->aio && !strcmp(a->aio, "native") && !a->mode.direct) {
        cli_error(env, "Could not open '%s': aio=native was specified, but "
                  "it requires cache.direct=on, which was not specified.",
                  a->filename);
        return 1;
    }
    return -1;
}

/* ---- the run ---- */

typedef struct bench_run {
    img *im;
    const bench_args *a;
    uint64_t size;        /* of the image */
    int flush_each;       /* writethrough: a flush after every write */
    pthread_mutex_t lock;
    uint64_t next;        /* offset of the next request */
    uint64_t left;        /* requests of the current batch not started */
    int failed;
    img_err err;
} bench_run;

/* Takes the next request: 1 and its offset, or 0 when none is left. */
static int take(bench_run *b, uint64_t *off)
{
    pthread_mutex_lock(&b->lock);
    int got = b->left > 0 && !b->failed;
    if (got) {
        b->left--;
        *off = b->next;
        b->next = (b->next + (uint64_t)b->a->step) % b->size;
    }
    pthread_mutex_unlock(&b->lock);
    return got;
}

static void fail(bench_run *b, const img_err *err)
{
    pthread_mutex_lock(&b->lock);
    if (!b->failed) {
        b->failed = 1;
        b->err = *err;
    }
    pthread_mutex_unlock(&b->lock);
}

/* One request: out of the image is an I/O error, as in QEMU. */
static int request(bench_run *b, uint8_t *buf, uint64_t off, img_err *err)
{
    uint64_t len = (uint64_t)b->a->bufsize;
    if (off > b->size || len > b->size - off) {
        return img_err_set(err, EIO, "%s", strerror(EIO));
    }
    if (!b->a->write) {
        return img_pread(b->im, buf, len, off, err);
    }
    int r = img_pwrite(b->im, buf, len, off, 0, err);
    return r >= 0 && b->flush_each ? img_flush(b->im, err) : r;
}

static void *worker(void *arg)
{
    bench_run *b = arg;
    uint8_t *buf = malloc(b->a->bufsize ? (size_t)b->a->bufsize : 1);
    img_err err = { 0 };
    if (!buf) {
        img_err_set(&err, ENOMEM, "%s", strerror(ENOMEM));
        fail(b, &err);
        return NULL;
    }
    memset(buf, (int)b->a->pattern, (size_t)b->a->bufsize);
    uint64_t off;
    while (take(b, &off)) {
        if (request(b, buf, off, &err) < 0) {
            fail(b, &err);
        }
    }
    free(buf);
    return NULL;
}

/* Runs n requests on up to nthreads threads and waits for them. */
static int run_batch(bench_run *b, uint64_t n, unsigned nthreads)
{
    pthread_t t[BENCH_THREADS];
    unsigned started = 0;
    b->left = n;
    for (; started < nthreads; started++) {
        if (pthread_create(&t[started], NULL, worker, b) != 0) {
            break;
        }
    }
    if (started == 0) {
        worker(b); /* no thread to be had: do them here */
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
    }
    return b->failed ? -1 : 0;
}

/* Threads: as many as requests may be in flight, at most BENCH_THREADS,
 * and fewer for buffers so large that they would not fit the budget. */
static unsigned thread_count(const bench_args *a)
{
    uint64_t n = a->depth < BENCH_THREADS ? a->depth : BENCH_THREADS;
    if (a->bufsize > 0) {
        uint64_t fit = BENCH_BUFFER_BUDGET / (uint64_t)a->bufsize;
        n = fit < n ? fit : n;
    }
    return n ? (unsigned)n : 1;
}

/* All requests, in batches of flush_interval each followed by a flush. */
static int run_all(bench_run *b)
{
    const bench_args *a = b->a;
    unsigned nthreads = thread_count(a);
    uint64_t left = a->count;
    uint64_t batch = a->flush_interval ? a->flush_interval : left;
    while (left > 0) {
        uint64_t n = left < batch ? left : batch;
        if (run_batch(b, n, nthreads) < 0) {
            return -1;
        }
        left -= n;
        if (a->flush_interval && n == batch &&
            img_flush(b->im, &b->err) < 0) {
            b->failed = 1;
            return -1;
        }
    }
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int cmd_bench(const cli_env *env, int argc, char **argv)
{
    bench_args a = { .count = 75000, .depth = 64, .bufsize = 4096 };
    unsigned flags = 0;
    int r = parse_args(env, argc, argv, &a, &flags);
    if (r >= 0) {
        return r;
    }
    flags |= (a.write ? IMG_OPEN_RDWR : 0) |
             (a.force_share ? IMG_OPEN_FORCE_SHARE : 0) |
             (a.quiet ? IMG_OPEN_QUIET : 0) |
             (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0);
    img *im = cli_open(env, a.filename, a.fmt, flags);
    if (!im) {
        return 1;
    }
    if (a.step == 0) {
        a.step = a.bufsize;
    }
    bench_run b = { .im = im, .a = &a, .size = img_size(im),
                    .next = (uint64_t)a.offset };
    b.flush_each = a.write && a.mode.writethrough;
    pthread_mutex_init(&b.lock, NULL);
    printf("Sending %" PRIu64 " %s requests, %" PRId64 " bytes each, %" PRIu64
           " in parallel (starting at offset %" PRId64 ", step size %" PRId64
           ")\n",
           a.count, a.write ? "write" : "read", a.bufsize, a.depth, a.offset,
           a.step);
    if (a.flush_interval) {
        printf("Sending flush every %" PRIu64 " requests\n", a.flush_interval);
    }
    fflush(stdout);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* an empty image wraps nowhere: every request is out of it */
    r = b.size == 0 && a.count ? (b.failed = 1,
                                  img_err_set(&b.err, EIO, "%s",
                                              strerror(EIO)))
                               : run_all(&b);
    if (r == 0) {
        printf("Run completed in %3.3f seconds.\n", seconds_since(&t0));
    } else {
        cli_error(env, "Failed request: %s", b.err.msg);
    }
    pthread_mutex_destroy(&b.lock);
    img_err err = { 0 };
    if (r == 0 && a.write && img_flush(im, &err) < 0) {
        cli_error_img(env, a.filename, &err);
        r = -1;
    }
    img_close(im);
    return r == 0 ? 0 : 1;
}
