/* libimg/fault_file.c -- img_file wrapper that injects I/O faults.
 *
 * Drives error paths and crash consistency tests (libyal's failing file,
 * QEMU's blkdebug).  It numbers reads (pread) and writes (pwrite, truncate,
 * punch_hole, allocate and flush) from 1, with atomic counters so many
 * threads may use it:
 *   - read number fail_read_at and write number fail_write_at fail with EIO;
 *   - write number drop_from and every later write "succeed" without
 *     reaching the inner file, which is what a power cut leaves behind.
 * Everything else is passed through to the inner file, which the wrapper
 * owns and closes.
 */
#include "file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct fault_file {
    img_file base;               /* must stay first */
    img_file *inner;             /* owned */
    img_fault_plan plan;         /* copied at creation */
    atomic_uint_fast64_t reads;  /* reads seen so far */
    atomic_uint_fast64_t writes; /* writes seen so far */
} fault_file;

static const img_file_ops fault_ops;

/* The wrapper state behind an img_file of this backend. */
static fault_file *to_fault(img_file *f)
{
    return (fault_file *)f;
}

/* What happens to one write. */
enum { WRITE_PASS, WRITE_FAIL, WRITE_DROP };

/* Numbers the next write and decides its fate; sets err on failure. */
static int next_write(fault_file *ff, img_err *err)
{
    uint64_t n = atomic_fetch_add(&ff->writes, 1) + 1;
    if (n == ff->plan.fail_write_at) {
        img_err_errno(err, EIO, "Injected fault at write %" PRIu64, n);
        return WRITE_FAIL;
    }
    if (ff->plan.drop_from != 0 && n >= ff->plan.drop_from) {
        return WRITE_DROP;
    }
    return WRITE_PASS;
}

/* The return value of a write that is not passed through. */
static int write_outcome(int fate)
{
    return fate == WRITE_FAIL ? -EIO : 0;
}

/* Numbers the read; the fail_read_at-th one fails, the others pass. */
static int fault_pread(img_file *f, void *buf, size_t len, uint64_t off,
                       img_err *err)
{
    fault_file *ff = to_fault(f);
    uint64_t n = atomic_fetch_add(&ff->reads, 1) + 1;
    if (n == ff->plan.fail_read_at) {
        return img_err_errno(err, EIO, "Injected fault at read %" PRIu64, n);
    }
    return img_file_pread(ff->inner, buf, len, off, err);
}

/* The write hooks below share one pattern: number the write, then fail,
 * drop or pass it to the inner file. */
static int fault_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                        img_err *err)
{
    fault_file *ff = to_fault(f);
    int fate = next_write(ff, err);
    if (fate != WRITE_PASS) {
        return write_outcome(fate);
    }
    return img_file_pwrite(ff->inner, buf, len, off, err);
}

/* Queries are passed through uncounted. */
static int fault_get_size(img_file *f, uint64_t *size, img_err *err)
{
    return img_file_size(to_fault(f)->inner, size, err);
}

static int fault_truncate(img_file *f, uint64_t size, img_err *err)
{
    fault_file *ff = to_fault(f);
    int fate = next_write(ff, err);
    if (fate != WRITE_PASS) {
        return write_outcome(fate);
    }
    return img_file_truncate(ff->inner, size, err);
}

static int fault_flush(img_file *f, img_err *err)
{
    fault_file *ff = to_fault(f);
    int fate = next_write(ff, err);
    if (fate != WRITE_PASS) {
        return write_outcome(fate);
    }
    return img_file_flush(ff->inner, err);
}

static int fault_punch_hole(img_file *f, uint64_t off, uint64_t len,
                            img_err *err)
{
    fault_file *ff = to_fault(f);
    int fate = next_write(ff, err);
    if (fate != WRITE_PASS) {
        return write_outcome(fate);
    }
    return img_file_punch_hole(ff->inner, off, len, err);
}

static int fault_allocate(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    fault_file *ff = to_fault(f);
    int fate = next_write(ff, err);
    if (fate != WRITE_PASS) {
        return write_outcome(fate);
    }
    return img_file_allocate(ff->inner, off, len, err);
}

/* Allocation queries, locks and identity are the inner file's. */
static int fault_extent(img_file *f, uint64_t off, uint64_t len, int *is_data,
                        uint64_t *pnum, img_err *err)
{
    return img_file_extent(to_fault(f)->inner, off, len, is_data, pnum, err);
}

static int fault_allocated_size(img_file *f, uint64_t *bytes, img_err *err)
{
    return img_file_allocated_size(to_fault(f)->inner, bytes, err);
}

static int fault_set_perm(img_file *f, unsigned perm, unsigned shared,
                          img_err *err)
{
    return img_file_set_perm(to_fault(f)->inner, perm, shared, err);
}

static int fault_identity(img_file *f, uint64_t *dev, uint64_t *ino)
{
    return img_file_identity(to_fault(f)->inner, dev, ino);
}

/* Closes the inner file too: the wrapper owns it. */
static void fault_close(img_file *f)
{
    fault_file *ff = to_fault(f);
    img_file_close(ff->inner);
    free(f->path);
    free(ff);
}

/* copy_range stays NULL: callers fall back to counted reads and writes. */
static const img_file_ops fault_ops = {
    .name = "fault",
    .pread = fault_pread,
    .pwrite = fault_pwrite,
    .get_size = fault_get_size,
    .truncate = fault_truncate,
    .flush = fault_flush,
    .punch_hole = fault_punch_hole,
    .allocate = fault_allocate,
    .extent = fault_extent,
    .allocated_size = fault_allocated_size,
    .set_perm = fault_set_perm,
    .identity = fault_identity,
    .close = fault_close,
};

/* Returns the wrapper, or NULL when out of memory (inner is then closed).
 * plan may be NULL: no faults, the wrapper only counts. */
img_file *img_fault_file_new(img_file *inner, const img_fault_plan *plan)
{
    fault_file *ff = calloc(1, sizeof(*ff));
    char *path = ff && inner->path ? strdup(inner->path) : NULL;
    if (!ff || (inner->path && !path)) {
        free(ff);
        img_file_close(inner);
        return NULL;
    }
    ff->base.ops = &fault_ops;
    ff->base.path = path;
    ff->base.flags = inner->flags;
    ff->inner = inner;
    if (plan) {
        ff->plan = *plan;
    }
    atomic_init(&ff->reads, 0);
    atomic_init(&ff->writes, 0);
    return &ff->base;
}

/* Writes seen so far; 0 for a file that is not a fault wrapper. */
uint64_t img_fault_file_writes(img_file *f)
{
    if (!f || f->ops != &fault_ops) {
        return 0;
    }
    return atomic_load(&to_fault(f)->writes);
}
