/* convert/cvt_internal.h -- pieces shared by the conversion engine's files
 * (private to convert/): the concatenated sources (sources.c), the chunk
 * planner (plan.c), the chunk writer (write.c) and the rate limiter
 * (ratelimit.c).  engine.c runs them on worker threads.
 */
#ifndef CVT_INTERNAL_H
#define CVT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"

/* What to do with a range of the target. */
typedef enum cvt_kind {
    CVT_DATA, /* read from the sources and write (minus zero blocks) */
    CVT_ZERO, /* reads as zeros: zero it, or skip on a zero target */
    CVT_SKIP, /* leave alone: the target's backing file shows through */
} cvt_kind;

/* One unit of work. */
typedef struct cvt_chunk {
    uint64_t off; /* target offset */
    uint64_t len; /* bytes, >= 1 */
    cvt_kind kind;
    int explicit_zero; /* CVT_DATA made of zeros (min_sparse 0) */
    uint64_t seq;      /* ticket: position in write order */
} cvt_chunk;

/* A chunk's clusters compressed by its worker before its turn to write
 * (convert -c with a target that has img_compress_cluster). */
typedef struct cvt_packed {
    int valid;           /* data/len describe every cluster of the chunk */
    uint64_t cluster;    /* cluster size */
    const uint8_t *data; /* cluster i compressed at data + i * cluster */
    const int64_t *len;  /* cluster i: compressed bytes, 0 when it did not
                            shrink (stored as it is), -1 for zeros */
} cvt_packed;

/* ---- sources.c: the sources as one virtual disk ---- */

/* Bytes source i occupies in the concatenation (size rounded up to 512). */
uint64_t cvt_src_span(img *src);
/* Index of the source holding target offset off (< total) and the target
 * offset where it starts. */
int cvt_src_locate(const cvt_params *p, uint64_t off, uint64_t *start);
/* Reads [off, off+len) of the concatenation; tails past a source's size
 * read as zeros.  Returns 0 or -errno. */
int cvt_src_read(const cvt_params *p, void *buf, uint64_t len, uint64_t off,
                 img_err *err);
/* Same, for --salvage: a failed read is retried sector by sector, and
 * each sector that still fails is warned about and read as zeros. */
void cvt_src_read_salvage(const cvt_params *p, uint8_t *buf, uint64_t len,
                          uint64_t off);
/* Passes a formatted warning to p->warn (if set). */
void cvt_warn(const cvt_params *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Copies [off, off+len), which lies in one raw source and inside its
 * size, to the same offset of a raw target in the kernel.  -ENOTSUP when
 * that is not possible (caller falls back to read + write). */
int cvt_src_copy_offload(const cvt_params *p, uint64_t off, uint64_t len,
                         img_err *err);

/* Hints that [off, off+len) of the concatenation will be read soon
 * (img_prefetch on each source it touches). */
void cvt_src_prefetch(const cvt_params *p, uint64_t off, uint64_t len);

/* ---- plan.c: cutting the target into chunks by block status ---- */

typedef struct cvt_plan {
    const cvt_params *p;
    uint64_t total;    /* target bytes to cover */
    uint64_t chunk;    /* data chunk length */
    uint64_t pos;      /* next target offset */
    uint64_t run_end;  /* end of the cached block-status run */
    cvt_kind run_kind; /* its kind */
    int quiet;         /* no salvage warnings (the progress pre-scan) */
} cvt_plan;

/* Starts a walk over the whole concatenation.  chunk is the data unit
 * (the cluster size when compressing). */
void cvt_plan_init(cvt_plan *pl, const cvt_params *p, uint64_t chunk);
/* Fills c with the next chunk: returns 1, 0 at the end, or -errno
 * ("error while reading block status at offset N: ..."). */
int cvt_plan_next(cvt_plan *pl, cvt_chunk *c, img_err *err);
/* True when the chunk counts towards progress (it is written as data). */
int cvt_chunk_counts(const cvt_chunk *c);

/* ---- prefetch.c: reading ahead of the workers ---- */

typedef struct cvt_prefetch {
    const cvt_params *p;
    cvt_plan plan;         /* its own walk, the same as the workers' */
    cvt_chunk next;        /* the chunk it stopped at (have_next) */
    int have_next;
    uint64_t window;       /* how far past the claimed end it may go */
    uint64_t head;         /* bytes at the start of a data stretch to fetch */
    uint64_t stretch;      /* where the current data stretch starts */
    pthread_mutex_t lock;  /* guards claimed, stop */
    pthread_cond_t moved;  /* claimed moved on, or stop was set */
    uint64_t claimed;      /* end of the furthest chunk claimed so far */
    int stop;
    int started;           /* the thread runs */
    pthread_t thread;
} cvt_prefetch;

/* Prepares a prefetcher for p's sources, walking with data unit chunk,
 * staying at most window bytes past the claimed end, and fetching the
 * first head bytes of each stretch of data chunks. */
void cvt_prefetch_init(cvt_prefetch *pf, const cvt_params *p, uint64_t chunk,
                       uint64_t window, uint64_t head);
/* One step of the walk: 1 when a chunk was prefetched or passed over, 0
 * when the next one is beyond the window, -1 at the end of the walk (or
 * when a block-status query failed: the workers will report that). */
int cvt_prefetch_step(cvt_prefetch *pf);
/* Starts the thread that steps, and waits while the window is full;
 * nothing when no source can prefetch or the thread cannot start. */
void cvt_prefetch_start(cvt_prefetch *pf);
/* The workers have claimed everything before end. */
void cvt_prefetch_claimed(cvt_prefetch *pf, uint64_t end);
/* Stops and joins the thread, if it runs. */
void cvt_prefetch_stop(cvt_prefetch *pf);
/* Stops it and frees its state. */
void cvt_prefetch_destroy(cvt_prefetch *pf);

/* ---- ratelimit.c: -r, a write-bandwidth limit ---- */

typedef struct cvt_ratelimit {
    pthread_mutex_t lock;
    uint64_t rate;        /* bytes per second, 0: unlimited */
    struct timespec next; /* when the next request may start */
} cvt_ratelimit;

void cvt_ratelimit_init(cvt_ratelimit *rl, uint64_t rate);
void cvt_ratelimit_destroy(cvt_ratelimit *rl);
/* Sleeps until bytes more may be written without exceeding the rate. */
void cvt_ratelimit_wait(cvt_ratelimit *rl, uint64_t bytes);

/* ---- write.c: writing one chunk ---- */

/* Writes chunk c; for CVT_DATA its bytes are in buf, and pk (may be
 * NULL) its compressed form when the worker made one.  Adds what it did
 * to st.  Returns 0 or -errno with err set ("error while writing at byte
 * N: ..."). */
int cvt_write_chunk(const cvt_params *p, const cvt_chunk *c, const uint8_t *buf,
                    const cvt_packed *pk, cvt_ratelimit *rl, cvt_stats *st,
                    img_err *err);
/* Whether a compressed data chunk is written as data (zero clusters are
 * written as zeros unless min_sparse is 0). */
int cvt_compressed_is_data(const cvt_params *p, const uint8_t *buf,
                           uint64_t len);

#endif
