/* convert/engine.c -- the conversion engine's threads: workers claim chunks
 * from the planner, read them, wait for their turn (unless out of order)
 * and write them.  See engine.h for what gets copied.
 *
 * Model: QEMU's convert_co_do_copy, with threads instead of coroutines.
 * One mutex guards the planner, the tickets, the first error and the
 * progress count.  A chunk's ticket is its position in offset order; in
 * order mode a worker writes only when write_seq equals its ticket, then
 * advances write_seq and wakes the others, so reads overlap while writes
 * stay ascending.  The first failure is recorded, wakes every waiter, and
 * no chunk is written after it.
 *
 * Batches: a source that reports its data in short runs (a compressed
 * qcow2 reports each cluster on its own) gives as many short chunks.
 * QEMU copies those one by one, and vdisk keeps them, because where a
 * chunk ends decides where zero detection may leave a hole.  But a worker
 * claims consecutive data chunks together, up to one chunk size, and
 * reads them with a single request (which lets qcow2 inflate a run of
 * compressed clusters on several threads), then writes them one by one,
 * each with its own ticket.
 *
 * Compression (-c) with a target that has img_compress_cluster: each
 * worker compresses its cluster right after reading it, before waiting
 * for its turn, so clusters are compressed on every core while they are
 * still written in order (QEMU compresses inside the in-order write, on
 * one core).  Other targets compress inside img_pwrite.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <unistd.h>

#include "cvt_internal.h"

/* Buffers are aligned for O_DIRECT-friendly I/O. */
#define BUF_ALIGN 4096
/* Bytes of clusters a compressing worker takes at once. */
#define PACKED_CHUNK ((uint64_t)1 << 20)
/* Most chunks a worker claims at once (a batch). */
#define BATCH_MAX 64
/* Read-ahead (prefetch.c): how far past the claimed chunks, and how much
 * of each stretch of data.  Chosen with bench/convert.sh on a cold cache:
 * a 32 MiB window keeps the device streaming where 16 MiB did not, and
 * fetching more than the first 8 MiB of a stretch made long sequential
 * copies slower (the kernel reads ahead inside a stretch by itself). */
#define PREFETCH_WINDOW ((uint64_t)32 << 20)
#define PREFETCH_HEAD ((uint64_t)8 << 20)

/* State shared by the workers of one cvt_run(). */
typedef struct cvt_run_state {
    const cvt_params *p;
    uint64_t chunk;          /* data buffer size */
    pthread_mutex_t lock;    /* guards every field below but rl */
    pthread_cond_t turn;     /* write_seq moved on, or a worker failed */
    cvt_plan plan;           /* hands out chunks in offset order */
    uint64_t next_seq;       /* ticket of the next claimed chunk */
    uint64_t write_seq;      /* ticket allowed to write (in order mode) */
    int failed;              /* set once: everyone stops */
    int ret;                 /* the first failure's -errno */
    img_err err;             /* and its message */
    int offload;             /* copy offloading is still worth trying */
    int packed;              /* workers compress (img_compress_cluster) */
    int batching;            /* workers may claim batches of chunks */
    cvt_chunk pending;       /* from the planner, not yet handed out */
    int have_pending;
    uint64_t progress_total; /* bytes of chunks that count for progress */
    uint64_t progress_done;
    cvt_stats stats;  /* the workers' counts, summed at their end */
    cvt_ratelimit rl; /* has its own lock */
    cvt_prefetch prefetch; /* has its own lock */
} cvt_run_state;

void cvt_params_init(cvt_params *p)
{
    memset(p, 0, sizeof(*p));
    p->min_sparse = CVT_DEFAULT_MIN_SPARSE;
    p->target_backing_size = CVT_NO_BACKING_SIZE;
}

/* Enough threads to overlap reads and writes on small machines, and no
 * more than qemu-img's 8 coroutines on big ones. */
int cvt_default_workers(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long n = ncpu > 0 ? ncpu * 2 : 2;
    if (n < 2) {
        n = 2;
    }
    return n > 8 ? 8 : (int)n;
}

/* Whether the workers compress clusters before their turn (-c to a
 * target with img_compress_cluster). */
static int workers_compress(const cvt_params *p)
{
    return p->compress && img_has_compress_hooks(p->dst);
}

/* Whether some source can be read by several workers at once. */
static int sources_read_in_parallel(const cvt_params *p)
{
    for (int i = 0; i < p->nsrc; i++) {
        if (img_reads_in_parallel(p->src[i])) {
            return 1;
        }
    }
    return 0;
}

/* One worker for sources whose format works under the image's lock
 * (every format but raw; qcow2 lets go of it only while it waits for
 * plain data clusters): more workers cannot read them much faster, and
 * they cost time.  They contend for the source's lock, the planner's
 * block status of one chunk against the read of another, with a wake-up
 * at each hand-over, and their reads at scattered offsets disturb the
 * kernel's read-ahead of the source file.  A single worker reads the
 * file in order, and the kernel reads ahead of it while it writes.  Measured with cold caches:
 * a zlib-compressed qcow2 to raw took 2.1 s with one worker, 3.2 s with
 * four; a qcow2 of 820 MiB of data to raw took 0.26 s instead of 0.40 s.
 * Workers that compress still go in parallel: they compress on every
 * core. */
int cvt_workers_for(const cvt_params *p)
{
    if (p->workers > 0) {
        return p->workers;
    }
    if (!workers_compress(p) && !sources_read_in_parallel(p)) {
        return 1;
    }
    return cvt_default_workers();
}

/* Records the first failure and wakes every waiting worker. */
static void fail(cvt_run_state *st, int r, const img_err *err)
{
    pthread_mutex_lock(&st->lock);
    if (!st->failed) {
        st->failed = 1;
        st->ret = r;
        st->err = *err;
    }
    pthread_cond_broadcast(&st->turn);
    pthread_mutex_unlock(&st->lock);
}

/* Counts a claimed chunk towards progress (caller holds the lock). */
static void progress_locked(cvt_run_state *st, const cvt_chunk *c)
{
    const cvt_params *p = st->p;
    if (!p->progress || !cvt_chunk_counts(c) || st->progress_total == 0) {
        return;
    }
    st->progress_done += c->len;
    p->progress(p->progress_opaque, (float)(100.0 * (double)st->progress_done /
                                            (double)st->progress_total));
}

/* Chunks claimed together: consecutive, read with one request. */
typedef struct cvt_batch {
    cvt_chunk c[BATCH_MAX];
    int n;
    uint64_t len; /* bytes of all n */
} cvt_batch;

/* Whether chunk c is copied by reading the sources. */
static int reads_source(const cvt_chunk *c)
{
    return c->kind == CVT_DATA && !c->explicit_zero;
}

/* The chunk a batch left behind, else the planner's next one; returns
 * as cvt_plan_next (caller holds the lock). */
static int next_chunk_locked(cvt_run_state *st, cvt_chunk *c, img_err *err)
{
    if (st->have_pending) {
        st->have_pending = 0;
        *c = st->pending;
        return 1;
    }
    return cvt_plan_next(&st->plan, c, err);
}

/* Gives a handed-out chunk its ticket (caller holds the lock). */
static void ticket_locked(cvt_run_state *st, cvt_chunk *c)
{
    c->seq = st->next_seq++;
    progress_locked(st, c);
}

/* Adds the next chunk to a batch of data chunks when it is data too and
 * fits in a chunk buffer; otherwise keeps it for the next claim.  A
 * planner failure is left for the next claim to meet (the planner did
 * not move).  Returns 1 when a chunk was added. */
static int extend_locked(cvt_run_state *st, cvt_batch *b)
{
    if (!st->batching || b->n == BATCH_MAX || !reads_source(&b->c[0])) {
        return 0;
    }
    cvt_chunk c;
    img_err err = { 0 };
    if (next_chunk_locked(st, &c, &err) <= 0) {
        return 0;
    }
    if (!reads_source(&c) || b->len + c.len > st->chunk) {
        st->pending = c;
        st->have_pending = 1;
        return 0;
    }
    ticket_locked(st, &c);
    b->c[b->n++] = c;
    b->len += c.len;
    return 1;
}

/* Takes the next chunk, or batch of data chunks, with their tickets; 0
 * when there is nothing (more) to do or the run failed. */
static int claim(cvt_run_state *st, cvt_batch *b)
{
    img_err err = { 0 };
    b->n = 0;
    pthread_mutex_lock(&st->lock);
    int r = st->failed ? 0 : next_chunk_locked(st, &b->c[0], &err);
    if (r < 0 && !st->failed) {
        st->failed = 1;
        st->ret = r;
        st->err = err;
        pthread_cond_broadcast(&st->turn);
    } else if (r > 0) {
        ticket_locked(st, &b->c[0]);
        b->n = 1;
        b->len = b->c[0].len;
        while (extend_locked(st, b)) {
            /* next chunk of the batch */
        }
    }
    pthread_mutex_unlock(&st->lock);
    if (b->n > 0) {
        cvt_prefetch_claimed(&st->prefetch, b->c[0].off + b->len);
    }
    return b->n > 0;
}

/* Waits until chunk c may be written; 0 when the run failed meanwhile. */
static int take_turn(cvt_run_state *st, const cvt_chunk *c)
{
    pthread_mutex_lock(&st->lock);
    while (!st->p->out_of_order && !st->failed && st->write_seq != c->seq) {
        pthread_cond_wait(&st->turn, &st->lock);
    }
    int go = !st->failed;
    pthread_mutex_unlock(&st->lock);
    return go;
}

/* Lets the next ticket write (in order mode; nothing to do with -W). */
static void pass_turn(cvt_run_state *st)
{
    if (st->p->out_of_order) {
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->write_seq++;
    pthread_cond_broadcast(&st->turn);
    pthread_mutex_unlock(&st->lock);
}

/* Whether copy offloading is still on: the first chunk that cannot be
 * offloaded turns it off for the rest of the run. */
static int offload_enabled(cvt_run_state *st)
{
    pthread_mutex_lock(&st->lock);
    int on = st->offload;
    pthread_mutex_unlock(&st->lock);
    return on;
}

/* Reads a data chunk's bytes into buf. */
static int read_chunk(cvt_run_state *st, const cvt_chunk *c, uint8_t *buf,
                      cvt_stats *local, img_err *err)
{
    local->reads++;
    int r = cvt_src_read(st->p, buf, c->len, c->off, err);
    if (r < 0 && st->p->salvage) {
        img_err_clear(err);
        cvt_src_read_salvage(st->p, buf, c->len, c->off);
        return 0;
    }
    if (r < 0) {
        img_err_prepend(err, "error while reading at byte %" PRIu64 ": ",
                        c->off);
    }
    return r;
}

/* Gets what the write needs: the data, zeros for -S 0, or nothing when
 * the chunk will be copied in the kernel (*offload). */
static int fetch(cvt_run_state *st, const cvt_chunk *c, uint8_t *buf,
                 int *offload, cvt_stats *local, img_err *err)
{
    *offload = 0;
    if (c->kind != CVT_DATA) {
        return 0;
    }
    if (c->explicit_zero) {
        memset(buf, 0, c->len);
        return 0;
    }
    if (st->p->copy_offload && offload_enabled(st)) {
        *offload = 1;
        return 0;
    }
    return read_chunk(st, c, buf, local, err);
}

/* Copies a data chunk with copy offloading; on any failure turns
 * offloading off and copies it the normal way (as qemu-img does). */
static int offload_chunk(cvt_run_state *st, const cvt_chunk *c, uint8_t *buf,
                         cvt_stats *local, img_err *err)
{
    cvt_ratelimit_wait(&st->rl, c->len);
    int r = cvt_src_copy_offload(st->p, c->off, c->len, err);
    if (r >= 0) {
        local->offloaded += c->len;
        return r;
    }
    img_err_clear(err);
    pthread_mutex_lock(&st->lock);
    st->offload = 0;
    pthread_mutex_unlock(&st->lock);
    r = read_chunk(st, c, buf, local, err);
    if (r < 0) {
        return r;
    }
    return cvt_write_chunk(st->p, c, buf, NULL, &st->rl, local, err);
}

/* One worker's buffers and counts. */
typedef struct cvt_worker {
    uint8_t *buf;    /* chunk data */
    uint8_t *cbuf;   /* packed: its clusters compressed, else NULL */
    int64_t *clen;   /* packed: their lengths (see cvt_packed) */
    cvt_stats local; /* added to the run's at the end */
} cvt_worker;

/* Compresses the clusters of a data chunk ahead of its turn when the
 * workers do that; zero clusters are marked to be written as zeros. */
static int pack(cvt_run_state *st, const cvt_chunk *c, cvt_worker *w,
                cvt_packed *pk, img_err *err)
{
    const cvt_params *p = st->p;
    uint64_t cs = p->cluster_size;
    memset(pk, 0, sizeof(*pk));
    if (!st->packed || c->kind != CVT_DATA) {
        return 0;
    }
    for (uint64_t i = 0, done = 0; done < c->len; i++, done += cs) {
        uint64_t n = c->len - done < cs ? c->len - done : cs;
        size_t len = 0;
        if (!cvt_compressed_is_data(p, w->buf + done, n)) {
            w->clen[i] = -1;
            continue;
        }
        int r = img_compress_cluster(p->dst, w->buf + done, n,
                                     w->cbuf + done, (size_t)cs, &len, err);
        if (r < 0) {
            img_err_prepend(err, "error while compressing at byte %" PRIu64
                            ": ", c->off + done);
            return r;
        }
        w->clen[i] = (int64_t)len;
    }
    pk->valid = 1;
    pk->cluster = cs;
    pk->data = w->cbuf;
    pk->len = w->clen;
    return 0;
}

/* Processes one claimed chunk; returns 0 to go on, -1 to stop. */
static int do_chunk(cvt_run_state *st, const cvt_chunk *c, cvt_worker *w)
{
    img_err err = { 0 };
    int offload;
    cvt_packed pk = { 0 };
    uint8_t *buf = w->buf;
    cvt_stats *local = &w->local;
    int r = fetch(st, c, buf, &offload, local, &err);
    if (r >= 0 && !offload) {
        r = pack(st, c, w, &pk, &err);
    }
    if (r < 0) {
        fail(st, r, &err);
        return -1;
    }
    if (!take_turn(st, c)) {
        return -1;
    }
    if (offload) {
        r = offload_chunk(st, c, buf, local, &err);
    } else {
        r = cvt_write_chunk(st->p, c, buf, &pk, &st->rl, local, &err);
    }
    if (r < 0) {
        fail(st, r, &err); /* before passing the turn: nothing after it */
    }
    pass_turn(st);
    return r < 0 ? -1 : 0;
}

/* Reads a batch's chunks into buf with one request.  When that fails,
 * they are read one by one, so that the error names the chunk that
 * cannot be read, as without batches. */
static int read_batch(cvt_run_state *st, const cvt_batch *b, uint8_t *buf,
                      cvt_stats *local, img_err *err)
{
    local->reads++;
    if (cvt_src_read(st->p, buf, b->len, b->c[0].off, err) >= 0) {
        return 0;
    }
    img_err_clear(err);
    for (int i = 0; i < b->n; i++) {
        const cvt_chunk *c = &b->c[i];
        int r = read_chunk(st, c, buf + (c->off - b->c[0].off), local, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* Processes a claimed batch: one read, then each chunk written in its
 * turn; returns 0 to go on, -1 to stop. */
static int do_batch(cvt_run_state *st, const cvt_batch *b, cvt_worker *w)
{
    if (b->n == 1) {
        return do_chunk(st, &b->c[0], w);
    }
    img_err err = { 0 };
    int r = read_batch(st, b, w->buf, &w->local, &err);
    if (r < 0) {
        fail(st, r, &err);
        return -1;
    }
    for (int i = 0; i < b->n; i++) {
        const cvt_chunk *c = &b->c[i];
        if (!take_turn(st, c)) {
            return -1;
        }
        r = cvt_write_chunk(st->p, c, w->buf + (c->off - b->c[0].off), NULL,
                            &st->rl, &w->local, &err);
        if (r < 0) {
            fail(st, r, &err); /* before passing the turn */
        }
        pass_turn(st);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* Adds a worker's counts to the run's (caller holds the lock). */
static void add_stats(cvt_stats *to, const cvt_stats *from)
{
    to->data_written += from->data_written;
    to->zero_written += from->zero_written;
    to->skipped += from->skipped;
    to->offloaded += from->offloaded;
    to->reads += from->reads;
}

/* The chunk buffer: whole pages mapped and populated at once
 * (MAP_POPULATE), so that the first reads into it do not take a page
 * fault per page, which costs much on virtual machines; NULL on failure.
 * Where mmap cannot populate (not Linux), an aligned heap buffer. */
#ifdef MAP_POPULATE
static uint8_t *chunk_buf_new(uint64_t len)
{
    void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void chunk_buf_free(uint8_t *buf, uint64_t len)
{
    if (buf) {
        munmap(buf, (size_t)len);
    }
}
#else
static uint8_t *chunk_buf_new(uint64_t len)
{
    void *p = NULL;
    return posix_memalign(&p, 4096, (size_t)len) == 0 ? p : NULL;
}

static void chunk_buf_free(uint8_t *buf, uint64_t len)
{
    (void)len;
    free(buf);
}
#endif

/* The worker's buffers: the chunk (page aligned, which BUF_ALIGN needs),
 * and its compressed form when the workers compress. */
static int worker_alloc(cvt_run_state *st, cvt_worker *w)
{
    _Static_assert(BUF_ALIGN <= 4096, "mmap gives page alignment");
    memset(w, 0, sizeof(*w));
    w->buf = chunk_buf_new(st->chunk);
    if (!w->buf) {
        return -1;
    }
    if (!st->packed) {
        return 0;
    }
    uint64_t clusters = st->chunk / st->p->cluster_size;
    w->cbuf = malloc((size_t)st->chunk);
    w->clen = malloc((size_t)clusters * sizeof(*w->clen));
    if (!w->cbuf || !w->clen) {
        chunk_buf_free(w->buf, st->chunk);
        free(w->cbuf);
        free(w->clen);
        return -1;
    }
    return 0;
}

/* One worker: its own buffers and counters, then claim, fetch, write
 * until the planner runs dry or the run fails. */
static void *worker_main(void *arg)
{
    cvt_run_state *st = arg;
    cvt_worker w;
    if (worker_alloc(st, &w) < 0) {
        img_err err = { 0 };
        fail(st, img_err_set(&err, ENOMEM, "Out of memory"), &err);
        return NULL;
    }
    cvt_batch b;
    while (claim(st, &b) && do_batch(st, &b, &w) == 0) {
        /* next chunk */
    }
    chunk_buf_free(w.buf, st->chunk);
    free(w.cbuf);
    free(w.clen);
    pthread_mutex_lock(&st->lock);
    add_stats(&st->stats, &w.local);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Sums the bytes that count for progress with a planner of its own (the
 * same walk the workers will make), as qemu-img's first pass does. */
static int prescan(cvt_run_state *st, img_err *err)
{
    cvt_plan pl;
    cvt_chunk c;
    int r;
    cvt_plan_init(&pl, st->p, st->chunk);
    pl.quiet = 1;
    while ((r = cvt_plan_next(&pl, &c, err)) > 0) {
        if (cvt_chunk_counts(&c)) {
            st->progress_total += c.len;
        }
    }
    return r;
}

/* Runs the workers: workers - 1 threads plus the calling thread.  If a
 * thread cannot be started, the others do its share. */
static void run_workers(cvt_run_state *st, int workers)
{
    pthread_t tid[CVT_MAX_WORKERS];
    int started = 0;
    for (int i = 1; i < workers; i++) {
        if (pthread_create(&tid[started], NULL, worker_main, st) == 0) {
            started++;
        }
    }
    worker_main(st);
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
    }
}

/* Rejects parameters the engine cannot honour. */
static int check_params(const cvt_params *p, img_err *err)
{
    if (!p->src || p->nsrc < 1 || !p->dst) {
        return img_err_set(err, EINVAL, "No source or target image");
    }
    for (int i = 0; i < p->nsrc; i++) {
        if (!p->src[i]) {
            return img_err_set(err, EINVAL, "Source image %d missing", i);
        }
    }
    if (p->workers > CVT_MAX_WORKERS || p->chunk_size > CVT_MAX_CHUNK) {
        return img_err_set(err, EINVAL,
                           "Too many workers or too large "
                           "a chunk");
    }
    if (p->compress &&
        (p->cluster_size == 0 || p->cluster_size > CVT_MAX_CHUNK)) {
        return img_err_set(err, EINVAL, "invalid cluster size");
    }
    if (img_size(p->dst) < cvt_total_size(p->src, p->nsrc)) {
        return img_err_set(err, EINVAL,
                           "output file is smaller than "
                           "input file");
    }
    return 0;
}

/* The data unit: whole clusters when compressing, one at a time (as
 * qemu-img) unless the workers compress: then up to PACKED_CHUNK of
 * them, so that a worker waiting for its turn holds much work done and
 * turns pass less often; else the configured chunk. */
static uint64_t chunk_size(const cvt_params *p, int packed)
{
    if (p->compress && packed && p->cluster_size < PACKED_CHUNK) {
        return PACKED_CHUNK / p->cluster_size * p->cluster_size;
    }
    if (p->compress) {
        return p->cluster_size;
    }
    return p->chunk_size ? p->chunk_size : CVT_DEFAULT_CHUNK;
}

/* Runs the copy and the final flush; the state is set up. */
static int run(cvt_run_state *st, img_err *err)
{
    const cvt_params *p = st->p;
    int r = p->progress || p->prescan ? prescan(st, err) : 0;
    if (r < 0) {
        return r;
    }
    cvt_prefetch_start(&st->prefetch);
    run_workers(st, cvt_workers_for(p));
    cvt_prefetch_stop(&st->prefetch);
    if (st->failed) {
        if (err) {
            *err = st->err;
        }
        return st->ret;
    }
    r = p->no_flush ? 0 : img_flush(p->dst, err);
    if (r < 0) {
        img_err_prepend(err, "error while flushing: ");
    }
    return r;
}

/* Sets up the shared state, runs, and tears it down whatever happened. */
int cvt_run(const cvt_params *p, cvt_stats *stats, img_err *err)
{
    int r = check_params(p, err);
    if (r < 0) {
        return r;
    }
    cvt_run_state st;
    memset(&st, 0, sizeof(st));
    st.p = p;
    st.packed = workers_compress(p);
    /* Not with -c (clusters are the unit), --salvage (it reads chunk by
     * chunk) or -C (offloaded chunks are not read). */
    st.batching = !p->compress && !p->salvage && !p->copy_offload;
    st.chunk = chunk_size(p, st.packed);
    st.offload = p->copy_offload;
    pthread_mutex_init(&st.lock, NULL);
    pthread_cond_init(&st.turn, NULL);
    cvt_ratelimit_init(&st.rl, p->rate_limit);
    cvt_plan_init(&st.plan, p, st.chunk);
    cvt_prefetch_init(&st.prefetch, p, st.chunk, PREFETCH_WINDOW,
                      PREFETCH_HEAD);
    r = run(&st, err);
    if (stats) {
        *stats = st.stats;
    }
    cvt_prefetch_destroy(&st.prefetch);
    cvt_ratelimit_destroy(&st.rl);
    pthread_cond_destroy(&st.turn);
    pthread_mutex_destroy(&st.lock);
    return r;
}
