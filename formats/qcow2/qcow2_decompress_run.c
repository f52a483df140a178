/* formats/qcow2/qcow2_decompress_run.c -- a run of whole compressed
 * clusters, read at once and decompressed on several threads.
 *
 * A conversion reads a compressed image (a cloud image, say) in chunks of
 * many clusters.  Cluster by cluster (qcow2_read_compressed) they inflate
 * on one core.  Here the caller, who holds the image, reads the compressed
 * bytes of the whole run first; then it and up to QCOW2_RUN_THREADS - 1
 * helper threads inflate the clusters straight into the caller's buffer,
 * each thread with its own zstd context, claiming clusters in turn.  The
 * helpers touch nothing of the image but those contexts and its settings,
 * and are joined before the call returns.  QEMU's qcow2 decompresses in a
 * thread pool as well.
 *
 * Memory: the compressed bytes of a run, at most two clusters per
 * cluster of QCOW2_RUN_MAX_BYTES, in a buffer kept between runs.  Each
 * descriptor is bounded by qcow2_compressed_span; a stream that does not
 * fill exactly its cluster fails as it does one cluster at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "qcow2.h"

/* Runs shorter than this are not worth a thread. */
#define RUN_MIN_PARALLEL 4

/* What the threads of one run share. */
typedef struct run_job {
    const qcow2_state *s;
    const uint8_t *in;     /* the run's compressed bytes */
    const size_t *in_off;  /* cluster i's bytes: in + in_off[i] */
    const size_t *in_len;
    uint8_t *out;          /* cluster i goes to out + i * cluster_size */
    size_t n;
    pthread_mutex_t lock;  /* guards next and the failure */
    size_t next;           /* next cluster to claim */
    size_t failed;         /* first failed cluster; n: none */
    int failed_r;          /* its qcow2_decompress result */
} run_job;

/* One thread's share: its zstd context. */
typedef struct run_thread {
    run_job *job;
    void **dctx;
    pthread_t tid;
} run_thread;

/* The next cluster to inflate, or n when all are taken. */
static size_t claim(run_job *job)
{
    pthread_mutex_lock(&job->lock);
    size_t i = job->failed < job->n ? job->n : job->next;
    if (i < job->n) {
        job->next++;
    }
    pthread_mutex_unlock(&job->lock);
    return i;
}

static void record_failure(run_job *job, size_t i, int r)
{
    pthread_mutex_lock(&job->lock);
    if (i < job->failed) {
        job->failed = i;
        job->failed_r = r;
    }
    pthread_mutex_unlock(&job->lock);
}

static void *inflate_clusters(void *arg)
{
    run_thread *t = arg;
    run_job *job = t->job;
    uint64_t cs = job->s->cluster_size;
    for (size_t i = claim(job); i < job->n; i = claim(job)) {
        int r = qcow2_decompress(job->s, t->dctx, job->in + job->in_off[i],
                                 job->in_len[i], job->out + i * cs);
        if (r < 0) {
            record_failure(job, i, r);
        }
    }
    return NULL;
}

/* Threads for a run of n clusters: one per CPU, at most
 * QCOW2_RUN_THREADS, none for short runs. */
static size_t threads_for(size_t n)
{
    if (n < RUN_MIN_PARALLEL) {
        return 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t t = cpus > 1 ? (size_t)cpus : 1;
    t = t < QCOW2_RUN_THREADS ? t : QCOW2_RUN_THREADS;
    return t < n ? t : n;
}

/* Inflates every cluster of the job: the caller and helper threads; a
 * helper that cannot be started leaves its share to the others. */
static void inflate_all(qcow2_state *s, run_job *job)
{
    run_thread th[QCOW2_RUN_THREADS];
    size_t want = threads_for(job->n), started = 0;
    for (size_t k = 1; k < want; k++) {
        th[started] = (run_thread){ .job = job, .dctx = &s->run_dctx[k] };
        if (pthread_create(&th[started].tid, NULL, inflate_clusters,
                           &th[started]) == 0) {
            started++;
        }
    }
    run_thread self = { .job = job, .dctx = &s->run_dctx[0] };
    inflate_clusters(&self);
    for (size_t k = 0; k < started; k++) {
        pthread_join(th[k].tid, NULL);
    }
}

/* Makes room for len compressed bytes in s->run_in. */
static int run_buffer(qcow2_state *s, size_t len, img_err *err)
{
    if (len <= s->run_in_cap) {
        return 0;
    }
    uint8_t *p = realloc(s->run_in, len);
    if (!p) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    s->run_in = p;
    s->run_in_cap = len;
    return 0;
}

size_t qcow2_run_max(const qcow2_state *s)
{
    uint64_t n = QCOW2_RUN_MAX_BYTES / s->cluster_size;
    if (n > QCOW2_RUN_MAX_CLUSTERS) {
        n = QCOW2_RUN_MAX_CLUSTERS;
    }
    return n > 0 ? (size_t)n : 1;
}

/* Reads the compressed bytes of each cluster, one after the other, into
 * s->run_in; sets where each one lies there. */
static int read_run(qcow2_state *s, img_file *file, const uint64_t *entries,
                    size_t n, size_t *in_off, size_t *in_len,
                    uint64_t *coffset, img_err *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int r = qcow2_compressed_span(s, entries[i], &coffset[i],
                                      &in_len[i], err);
        if (r < 0) {
            return r;
        }
        in_off[i] = total;
        total += in_len[i];
    }
    int r = run_buffer(s, total, err);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        /* The last sector may run past the end of the file: zeros. */
        r = img_file_pread(file, s->run_in + in_off[i], in_len[i],
                           coffset[i], err);
    }
    return r;
}

int qcow2_read_compressed_run(qcow2_state *s, img_file *file,
                              const uint64_t *entries, size_t n,
                              uint8_t *out, img_err *err)
{
    size_t in_off[QCOW2_RUN_MAX_CLUSTERS], in_len[QCOW2_RUN_MAX_CLUSTERS];
    uint64_t coffset[QCOW2_RUN_MAX_CLUSTERS];
    if (n == 0 || n > qcow2_run_max(s)) {
        return img_err_set(err, EINVAL, "Bad run of compressed clusters");
    }
    int r = read_run(s, file, entries, n, in_off, in_len, coffset, err);
    if (r < 0) {
        return r;
    }
    run_job job = { .s = s, .in = s->run_in, .in_off = in_off,
                    .in_len = in_len, .out = out, .n = n, .failed = n };
    pthread_mutex_init(&job.lock, NULL);
    inflate_all(s, &job);
    pthread_mutex_destroy(&job.lock);
    if (job.failed < n) {
        return qcow2_decompress_failed(job.failed_r, coffset[job.failed],
                                       err);
    }
    return 0;
}
