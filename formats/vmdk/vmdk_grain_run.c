/* formats/vmdk/vmdk_grain_run.c -- a run of whole compressed grains
 * (streamOptimized VMDK, what an OVA holds), read at once and inflated on
 * several threads.
 *
 * Grain by grain (vmdk_sparse_read_compressed) a read inflates on one
 * core.  Here the caller, who holds the image, reads the header and
 * payload of every grain of the run first, each checked as for a single
 * grain; then the grains are inflated straight into the caller's buffer
 * by the caller and helper threads (img_parallel_for).  zlib's
 * uncompress() keeps no state, so the helpers share nothing but the
 * read-only payloads.
 *
 * Memory: at most VMDK_RUN_MAX_BYTES of grains per run, and for each a
 * slot of vmdk_grain_zin_cap() bytes (two grains and a sector) for its
 * payload, in a buffer kept between runs.
 */
#include <errno.h>
#include <stdlib.h>

#include "libimg/parallel.h"
#include "vmdk.h"

/* Largest run: grains and bytes of them. */
#define VMDK_RUN_MAX_GRAINS 256
#define VMDK_RUN_MAX_BYTES  ((uint64_t)4 << 20)

/* What the threads inflating one run share. */
typedef struct run_job {
    const vmdk_sparse *sp;
    const uint8_t *in;       /* grain i's payload: in + i * slot + hlen[i] */
    uint64_t slot;
    const int *hlen;
    const uint32_t *size;
    uint8_t *out;            /* grain i goes to out + i * grain_bytes */
} run_job;

/* An img_parallel_fn: inflates grain i. */
static int inflate_grain(void *ctx, size_t i, size_t slot)
{
    (void)slot;
    const run_job *job = ctx;
    return vmdk_grain_inflate(job->sp, job->in + i * job->slot + job->hlen[i],
                              job->size[i],
                              job->out + i * job->sp->grain_bytes);
}

/* Grains in the run starting at g: whole compressed grains, at most max
 * and the run limits; their sectors in sector[]. */
static int find_run(img_file *f, vmdk_sparse *sp, uint64_t g, uint64_t max,
                    uint64_t *sector, size_t *n, img_err *err)
{
    uint64_t limit = VMDK_RUN_MAX_BYTES / sp->grain_bytes;
    if (limit > VMDK_RUN_MAX_GRAINS) {
        limit = VMDK_RUN_MAX_GRAINS;
    }
    if (max > limit) {
        max = limit;
    }
    *n = 0;
    while (*n < max) {
        vmdk_grain_kind kind;
        int r = vmdk_sparse_grain(f, sp, g + *n, &kind, &sector[*n], err);
        if (r < 0) {
            return r;
        }
        if (kind != VMDK_GRAIN_COMPRESSED) {
            break;
        }
        (*n)++;
    }
    return 0;
}

/* Makes room for n payload slots in sp->run_in. */
static int run_buffer(vmdk_sparse *sp, size_t n, img_err *err)
{
    size_t len = n * (size_t)vmdk_grain_zin_cap(sp);
    if (len <= sp->run_in_cap) {
        return 0;
    }
    uint8_t *p = realloc(sp->run_in, len);
    if (!p) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    sp->run_in = p;
    sp->run_in_cap = len;
    return 0;
}

int vmdk_read_grain_run(img_file *f, vmdk_sparse *sp, uint64_t g,
                        uint64_t max, uint8_t *out, uint64_t *done,
                        img_err *err)
{
    uint64_t sector[VMDK_RUN_MAX_GRAINS];
    int hlen[VMDK_RUN_MAX_GRAINS];
    uint32_t size[VMDK_RUN_MAX_GRAINS];
    size_t n;
    *done = 0;
    int r = find_run(f, sp, g, max, sector, &n, err);
    if (r < 0 || n < 2) {
        return r;
    }
    r = run_buffer(sp, n, err);
    uint64_t slot = vmdk_grain_zin_cap(sp);
    for (size_t i = 0; r >= 0 && i < n; i++) {
        hlen[i] = vmdk_grain_payload(f, sp, g + i, sector[i],
                                     sp->run_in + i * slot, &size[i], err);
        r = hlen[i];
    }
    if (r < 0) {
        return r;
    }
    run_job job = { .sp = sp, .in = sp->run_in, .slot = slot, .hlen = hlen,
                    .size = size, .out = out };
    size_t threads = img_parallel_threads(n);
    size_t failed;
    if (img_parallel_for(n, threads, inflate_grain, &job, &failed) < 0) {
        return vmdk_grain_corrupt(sector[failed], err);
    }
    *done = n * sp->grain_bytes;
    return 0;
}
