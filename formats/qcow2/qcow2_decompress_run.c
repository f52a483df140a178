/* formats/qcow2/qcow2_decompress_run.c -- a run of whole compressed
 * clusters, read at once and decompressed on several threads.
 *
 * A conversion reads a compressed image (a cloud image, say) in chunks of
 * many clusters.  Cluster by cluster (qcow2_read_compressed) they inflate
 * on one core.  Here the caller, who holds the image, reads the compressed
 * bytes of the whole run first; then it and helper threads
 * (img_parallel_for) inflate the clusters straight into the caller's
 * buffer, each thread with its own zstd context, taking clusters in turn.
 * The helpers touch nothing of the image but those contexts and its
 * settings, and are joined before the call returns.  QEMU's qcow2
 * decompresses in a thread pool as well.
 *
 * Memory: the compressed bytes of a run, at most two clusters per
 * cluster of QCOW2_RUN_MAX_BYTES, in a buffer kept between runs.  Each
 * descriptor is bounded by qcow2_compressed_span; a stream that does not
 * fill exactly its cluster fails as it does one cluster at a time.
 */
#include <errno.h>
#include <stdlib.h>

#include "libimg/parallel.h"
#include "qcow2.h"

/* What the threads inflating one run share. */
typedef struct run_job {
    qcow2_state *s;
    const uint8_t *in;     /* the run's compressed bytes */
    const size_t *in_off;  /* cluster i's bytes: in + in_off[i] */
    const size_t *in_len;
    uint8_t *out;          /* cluster i goes to out + i * cluster_size */
} run_job;

/* An img_parallel_fn: inflates cluster i with the thread's own zstd
 * context. */
static int inflate_cluster(void *ctx, size_t i, size_t slot)
{
    run_job *job = ctx;
    qcow2_state *s = job->s;
    return qcow2_decompress(s, &s->run_dctx[slot], job->in + job->in_off[i],
                            job->in_len[i], job->out + i * s->cluster_size);
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
                    .in_len = in_len, .out = out };
    size_t threads = img_parallel_threads(n);
    size_t failed;
    r = img_parallel_for(n, threads, inflate_cluster, &job, &failed);
    if (r < 0) {
        return qcow2_decompress_failed(r, coffset[failed], err);
    }
    return 0;
}
