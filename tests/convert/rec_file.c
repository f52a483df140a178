/* tests/convert/rec_file.c -- the recording img_file wrapper (see
 * rec_file.h).  Everything is passed to the inner file; a mutex guards the
 * logs so workers may call it from many threads.
 */
#include "rec_file.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOLE_BLOCK 4096

typedef struct rec_file {
    img_file base;        /* must stay first */
    img_file *inner;      /* owned */
    int sparse;           /* report zero blocks as holes */
    pthread_mutex_t lock; /* guards the logs */
    rec_op *ops;          /* write-type calls, in order */
    size_t nops, cap_ops;
    rec_op *reads; /* reads, in order */
    size_t nreads, cap_reads;
    rec_op *prefetches; /* prefetch hints, in order */
    size_t nprefetches, cap_prefetches;
    rec_hook before_read, after_write;
    void *opaque;
    uint64_t bad_off, bad_len; /* reads overlapping this fail */
} rec_file;

static rec_file *to_rec(img_file *f)
{
    return (rec_file *)f;
}

/* Appends to a log (caller holds the lock); aborts when out of memory,
 * which only a broken test can cause. */
static void log_op(rec_op **log, size_t *n, size_t *cap, char kind,
                   uint64_t off, uint64_t len)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *log = realloc(*log, *cap * sizeof(**log));
        if (!*log) {
            abort();
        }
    }
    (*log)[(*n)++] = (rec_op){ .kind = kind, .off = off, .len = len };
}

static void record(rec_file *r, char kind, uint64_t off, uint64_t len)
{
    pthread_mutex_lock(&r->lock);
    log_op(&r->ops, &r->nops, &r->cap_ops, kind, off, len);
    pthread_mutex_unlock(&r->lock);
}

static int rec_pread(img_file *f, void *buf, size_t len, uint64_t off,
                     img_err *err)
{
    rec_file *r = to_rec(f);
    if (r->before_read) {
        r->before_read(r->opaque, off, len);
    }
    pthread_mutex_lock(&r->lock);
    log_op(&r->reads, &r->nreads, &r->cap_reads, 'r', off, len);
    pthread_mutex_unlock(&r->lock);
    if (off < r->bad_off + r->bad_len && r->bad_off < off + len) {
        return img_err_errno(err, EIO, "Bad read at %llu",
                             (unsigned long long)off);
    }
    return img_file_pread(r->inner, buf, len, off, err);
}

static int rec_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                      img_err *err)
{
    rec_file *r = to_rec(f);
    record(r, 'w', off, len); /* attempts count, like the other calls */
    int ret = img_file_pwrite(r->inner, buf, len, off, err);
    if (ret >= 0 && r->after_write) {
        r->after_write(r->opaque, off, len);
    }
    return ret;
}

static void rec_prefetch(img_file *f, uint64_t off, uint64_t len)
{
    rec_file *r = to_rec(f);
    pthread_mutex_lock(&r->lock);
    log_op(&r->prefetches, &r->nprefetches, &r->cap_prefetches, 'p', off,
           len);
    pthread_mutex_unlock(&r->lock);
    img_file_prefetch(r->inner, off, len);
}

static int rec_get_size(img_file *f, uint64_t *size, img_err *err)
{
    return img_file_size(to_rec(f)->inner, size, err);
}

static int rec_truncate(img_file *f, uint64_t size, img_err *err)
{
    record(to_rec(f), 't', size, 0);
    return img_file_truncate(to_rec(f)->inner, size, err);
}

static int rec_flush(img_file *f, img_err *err)
{
    record(to_rec(f), 'f', 0, 0);
    return img_file_flush(to_rec(f)->inner, err);
}

static int rec_punch_hole(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    record(to_rec(f), 'z', off, len);
    return img_file_punch_hole(to_rec(f)->inner, off, len, err);
}

/* Whether the block at off (up to n bytes) reads as zeros. */
static int block_is_zero(rec_file *r, uint64_t off, uint64_t n)
{
    uint8_t buf[HOLE_BLOCK];
    if (img_file_pread(r->inner, buf, (size_t)n, off, NULL) < 0) {
        return 0;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (buf[i]) {
            return 0;
        }
    }
    return 1;
}

static uint64_t block_end(uint64_t off, uint64_t end)
{
    uint64_t next = (off / HOLE_BLOCK + 1) * HOLE_BLOCK;
    return next < end ? next : end;
}

static int rec_extent(img_file *f, uint64_t off, uint64_t len, int *is_data,
                      uint64_t *pnum, img_err *err)
{
    rec_file *r = to_rec(f);
    (void)err;
    if (!r->sparse) {
        *is_data = 1;
        *pnum = len;
        return 0;
    }
    uint64_t end = off + len, pos = block_end(off, end);
    int zero = block_is_zero(r, off, pos - off);
    while (pos < end) {
        uint64_t next = block_end(pos, end);
        if (block_is_zero(r, pos, next - pos) != zero) {
            break;
        }
        pos = next;
    }
    *is_data = !zero;
    *pnum = pos - off;
    return 0;
}

static void rec_close(img_file *f)
{
    rec_file *r = to_rec(f);
    img_file_close(r->inner);
    pthread_mutex_destroy(&r->lock);
    free(r->ops);
    free(r->reads);
    free(r->prefetches);
    free(r);
}

static const img_file_ops rec_ops = {
    .name = "recording",
    .pread = rec_pread,
    .pwrite = rec_pwrite,
    .get_size = rec_get_size,
    .truncate = rec_truncate,
    .flush = rec_flush,
    .punch_hole = rec_punch_hole,
    .extent = rec_extent,
    .prefetch = rec_prefetch,
    .close = rec_close,
};

img_file *rec_file_new(img_file *inner, int sparse)
{
    rec_file *r = calloc(1, sizeof(*r));
    if (!r || !inner) {
        free(r);
        img_file_close(inner);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->inner = inner;
    r->sparse = sparse;
    r->base.ops = &rec_ops;
    r->base.flags = inner->flags;
    return &r->base;
}

/* Copies up to max entries of a log (under the lock); returns its length. */
static size_t copy_log(rec_file *r, const rec_op *const *log, const size_t *n,
                       rec_op *out, size_t max)
{
    pthread_mutex_lock(&r->lock);
    size_t len = *n;
    if (len > 0) { /* an empty log may still be NULL */
        memcpy(out, *log, (len < max ? len : max) * sizeof(*out));
    }
    pthread_mutex_unlock(&r->lock);
    return len;
}

size_t rec_file_ops(img_file *f, rec_op *out, size_t max)
{
    rec_file *r = to_rec(f);
    return copy_log(r, (const rec_op *const *)&r->ops, &r->nops, out, max);
}

size_t rec_file_prefetches(img_file *f, rec_op *out, size_t max)
{
    rec_file *r = to_rec(f);
    return copy_log(r, (const rec_op *const *)&r->prefetches,
                    &r->nprefetches, out, max);
}

uint64_t rec_file_reads_in(img_file *f, uint64_t off, uint64_t len)
{
    rec_file *r = to_rec(f);
    uint64_t count = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->nreads; i++) {
        const rec_op *o = &r->reads[i];
        count += o->off < off + len && off < o->off + o->len;
    }
    pthread_mutex_unlock(&r->lock);
    return count;
}

void rec_file_fail_reads(img_file *f, uint64_t off, uint64_t len)
{
    to_rec(f)->bad_off = off;
    to_rec(f)->bad_len = len;
}

void rec_file_set_hooks(img_file *f, rec_hook before_read, rec_hook after_write,
                        void *opaque)
{
    rec_file *r = to_rec(f);
    r->before_read = before_read;
    r->after_write = after_write;
    r->opaque = opaque;
}

img *rec_raw_image(const void *data, size_t len, int writable, int sparse,
                   img_file **rec)
{
    img_file *f = rec_file_new(img_mem_file_new(data, len, writable), sparse);
    img *im = NULL;
    unsigned flags = IMG_OPEN_NO_LOCK | (writable ? IMG_OPEN_RDWR : 0);
    if (f && img_open_file(f, "raw", flags, &im, NULL) < 0) {
        im = NULL;
    }
    if (rec) {
        *rec = im ? f : NULL;
    }
    return im;
}

const uint8_t *rec_file_data(img_file *f, size_t *len)
{
    return img_mem_file_data(to_rec(f)->inner, len);
}
