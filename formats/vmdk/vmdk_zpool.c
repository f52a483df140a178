/* formats/vmdk/vmdk_zpool.c -- compressing streamOptimized grains on
 * several cores.
 *
 * The driver runs serialised (one call at a time per image), so the
 * stream writer hands each finished grain to this pool and goes on; worker
 * threads deflate grains (zlib format, as "Stream-Optimized Compressed
 * Sparse Extents" require) into per-slot buffers, and the results are
 * written back through the caller's sink strictly in submission order, so
 * the file is the same whatever the number of threads.  Slots form a ring
 * of 2 per worker; a submit that finds its slot still in use first writes
 * out the oldest results (waiting for them when needed).  With no worker
 * threads, grains are compressed inline at submit time.
 *
 * Locking: mu protects the slot states and stop; the driver thread alone
 * moves a slot out of FREE (submit) and back to FREE (drain), so it may
 * read a slot's grain number and input without a race while the slot is
 * in use.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vmdk.h"

#define ZPOOL_MAX_THREADS 8

typedef enum slot_state {
    SLOT_FREE,   /* no grain */
    SLOT_QUEUED, /* waiting for a worker */
    SLOT_BUSY,   /* being compressed */
    SLOT_DONE,   /* compressed, waiting to be written */
} slot_state;

typedef struct zslot {
    slot_state state;
    uint64_t g;       /* grain number */
    uint64_t seq;     /* submission number */
    uint8_t *in;      /* grain data (grain_bytes) */
    uint8_t *out;     /* marker room, then compressed data */
    uint64_t len;     /* compressed bytes */
    int failed;       /* deflate failed */
} zslot;

struct vmdk_zpool {
    uint64_t grain_bytes;
    uint64_t out_cap;        /* bytes of each out buffer */
    zslot *slots;
    int n_slots;
    uint64_t next_seq;       /* next submission */
    uint64_t drain_seq;      /* next result to write */
    pthread_mutex_t mu;
    pthread_cond_t work;     /* a slot was queued, or stop */
    pthread_cond_t done;     /* a slot was compressed */
    int stop;
    pthread_t th[ZPOOL_MAX_THREADS];
    int n_threads;
    z_stream inline_zs;      /* for n_threads == 0 */
    int inline_ready;
};

/* See vmdk.h. */
uint64_t vmdk_zpool_out_cap(uint64_t grain_bytes)
{
    uint64_t n = VMDK_GRAIN_MARKER_LEN + compressBound((uLong)grain_bytes);
    return (n + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1);
}

/* Deflates s->in into s->out after the marker room. */
static void compress_slot(z_stream *zs, const vmdk_zpool *p, zslot *s)
{
    s->failed = 1;
    if (deflateReset(zs) != Z_OK) {
        return;
    }
    zs->next_in = s->in;
    zs->avail_in = (uInt)p->grain_bytes;
    zs->next_out = s->out + VMDK_GRAIN_MARKER_LEN;
    zs->avail_out = (uInt)(p->out_cap - VMDK_GRAIN_MARKER_LEN);
    if (deflate(zs, Z_FINISH) == Z_STREAM_END) {
        s->len = zs->total_out;
        s->failed = 0;
    }
}

/* The queued slot submitted first, or NULL. */
static zslot *oldest_queued(vmdk_zpool *p)
{
    zslot *best = NULL;
    for (int i = 0; i < p->n_slots; i++) {
        zslot *s = &p->slots[i];
        if (s->state == SLOT_QUEUED && (!best || s->seq < best->seq)) {
            best = s;
        }
    }
    return best;
}

/* A compression thread: takes the oldest queued slot until stopped. */
static void *worker(void *arg)
{
    vmdk_zpool *p = arg;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    int ok = deflateInit(&zs, Z_DEFAULT_COMPRESSION) == Z_OK;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        zslot *s = oldest_queued(p);
        if (!s) {
            if (p->stop) {
                break;
            }
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&p->mu);
        if (ok) {
            compress_slot(&zs, p, s);
        } else {
            s->failed = 1;
        }
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    if (ok) {
        deflateEnd(&zs);
    }
    return NULL;
}

/* The ring of slots with their buffers; -1 on ENOMEM. */
static int alloc_slots(vmdk_zpool *p)
{
    p->slots = calloc((size_t)p->n_slots, sizeof(*p->slots));
    if (!p->slots) {
        return -1;
    }
    for (int i = 0; i < p->n_slots; i++) {
        p->slots[i].in = malloc(p->grain_bytes);
        p->slots[i].out = malloc(p->out_cap);
        if (!p->slots[i].in || !p->slots[i].out) {
            return -1;
        }
    }
    return 0;
}

/* See vmdk.h.  At most ZPOOL_MAX_THREADS threads. */
vmdk_zpool *vmdk_zpool_new(uint64_t grain_bytes, int threads)
{
    vmdk_zpool *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    threads = threads < 0 ? 0 : threads;
    threads = threads > ZPOOL_MAX_THREADS ? ZPOOL_MAX_THREADS : threads;
    p->grain_bytes = grain_bytes;
    p->out_cap = vmdk_zpool_out_cap(grain_bytes);
    p->n_slots = threads ? 2 * threads : 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (alloc_slots(p) < 0) {
        vmdk_zpool_free(p);
        return NULL;
    }
    p->inline_ready = deflateInit(&p->inline_zs, Z_DEFAULT_COMPRESSION) ==
                      Z_OK;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->th[i], NULL, worker, p) != 0) {
            break; /* fewer threads still work */
        }
        p->n_threads++;
    }
    if (!p->inline_ready) {
        vmdk_zpool_free(p);
        return NULL;
    }
    return p;
}

/* See vmdk.h.  NULL is a no-op. */
void vmdk_zpool_free(vmdk_zpool *p)
{
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++) {
        pthread_join(p->th[i], NULL);
    }
    for (int i = 0; p->slots && i < p->n_slots; i++) {
        free(p->slots[i].in);
        free(p->slots[i].out);
    }
    if (p->inline_ready) {
        deflateEnd(&p->inline_zs);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->slots);
    free(p);
}

/* Writes the oldest result (waiting for it); 0 when nothing is left. */
static int drain_one(vmdk_zpool *p, vmdk_zpool_sink sink, void *opaque,
                     img_err *err)
{
    if (p->drain_seq == p->next_seq) {
        return 0;
    }
    zslot *s = &p->slots[p->drain_seq % (uint64_t)p->n_slots];
    pthread_mutex_lock(&p->mu);
    while (s->state != SLOT_DONE) {
        pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    int r = s->failed ? img_err_set(err, EIO, "Could not compress grain %"
                                    PRIu64, s->g)
                      : sink(opaque, s->g, s->out, s->len, err);
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_FREE; /* only this thread leaves DONE */
    pthread_mutex_unlock(&p->mu);
    p->drain_seq++;
    return r < 0 ? r : 1;
}

/* See vmdk.h. */
int vmdk_zpool_drain(vmdk_zpool *p, vmdk_zpool_sink sink, void *opaque,
                     img_err *err)
{
    int r;
    while ((r = drain_one(p, sink, opaque, err)) > 0) {
    }
    return r;
}

/* See vmdk.h.  Waits for the oldest result only when every slot is
 * taken. */
int vmdk_zpool_submit(vmdk_zpool *p, uint64_t g, uint8_t **buf,
                      vmdk_zpool_sink sink, void *opaque, img_err *err)
{
    while (p->next_seq - p->drain_seq >= (uint64_t)p->n_slots) {
        int r = drain_one(p, sink, opaque, err);
        if (r < 0) {
            return r;
        }
    }
    zslot *s = &p->slots[p->next_seq % (uint64_t)p->n_slots];
    uint8_t *t = s->in; /* swap: the caller keeps a free buffer */
    s->in = *buf;
    *buf = t;
    s->g = g;
    s->seq = p->next_seq++;
    if (p->n_threads == 0) {
        compress_slot(&p->inline_zs, p, s);
        s->state = SLOT_DONE;
        int r = drain_one(p, sink, opaque, err);
        return r < 0 ? r : 0;
    }
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_QUEUED;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* See vmdk.h.  Only slots not yet drained are looked at. */
const uint8_t *vmdk_zpool_find(const vmdk_zpool *p, uint64_t g)
{
    for (uint64_t q = p->drain_seq; q < p->next_seq; q++) {
        const zslot *s = &p->slots[q % (uint64_t)p->n_slots];
        if (s->g == g) {
            return s->in;
        }
    }
    return NULL;
}
