/* convert/engine.h -- the conversion engine: copies one or more source
 * images (concatenated) into an open target image, as "qemu-img convert"
 * does.
 *
 * The engine is usable outside the CLI (verify/, tests): fill a cvt_params
 * with cvt_params_init() and the images, then call cvt_run().  It runs
 * params.workers threads; each claims the next chunk of the virtual disk
 * (under one lock), reads it, and writes it.  Without out_of_order the
 * writes land in ascending offset order (a ticket per chunk), which formats
 * that append (streamOptimized VMDK) need; reads still overlap.
 *
 * What is copied (QEMU's convert_iteration_sectors and convert_co_write):
 *   - block status through each source's chain decides data, zero, or
 *     "leave alone" (with target_has_backing: only what the source's top
 *     layer allocates is copied, the rest stays unallocated);
 *   - zero ranges are skipped when target_is_zero, else written with
 *     img_pwrite_zeroes(IMG_WRITE_MAY_UNMAP);
 *   - data chunks are scanned for zero blocks: runs of at least min_sparse
 *     bytes (and leading/trailing zero blocks of a chunk) are treated as
 *     zero ranges; min_sparse 0 writes every byte, zeros included;
 *   - compress writes whole clusters compressed: each worker compresses
 *     its cluster with img_compress_cluster before its turn and writes it
 *     with img_pwrite_compressed (targets without those hooks get
 *     img_pwrite with IMG_WRITE_COMPRESSED);
 *   - with salvage, a failed read is retried sector by sector, and
 *     sectors that cannot be read (or whose status cannot) become zeros
 *     (qemu-img --salvage).
 * Every source is taken to span its size rounded up to 512 bytes (QEMU
 * counts sectors), the tail reading as zeros.
 */
#ifndef CVT_ENGINE_H
#define CVT_ENGINE_H

#include <stdint.h>

#include "libimg/img.h"

/* Data read/write unit (qemu-img's IO_BUF_SIZE). */
#define CVT_DEFAULT_CHUNK ((uint64_t)2 << 20)
/* Largest data chunk and largest -S value accepted (qemu-img's
 * MAX_BUF_SECTORS * 512). */
#define CVT_MAX_CHUNK ((uint64_t)16 << 20)
/* qemu-img's default -S: zero runs of at least 4 KiB become holes. */
#define CVT_DEFAULT_MIN_SPARSE 4096
/* Most workers cvt_run accepts (qemu-img's MAX_COROUTINES). */
#define CVT_MAX_WORKERS 16
/* target_backing_size when the target has no backing (or it is unknown). */
#define CVT_NO_BACKING_SIZE UINT64_MAX

/* Called with the percentage of the data copied so far (0..100), from one
 * thread at a time, in increasing order; the count moves when a chunk is
 * claimed, as in qemu-img, so the sequence is reproducible. */
typedef void (*cvt_progress_fn)(void *opaque, float percent);

/* Called with a warning such as "error while reading offset 512: ...",
 * possibly from several threads at once. */
typedef void (*cvt_warn_fn)(void *opaque, const char *msg);

typedef struct cvt_params {
    img *const *src;        /* sources, concatenated in order (borrowed) */
    int nsrc;               /* number of sources, >= 1 */
    img *dst;               /* open writable target, size >= cvt_total_size() */
    int workers;            /* threads, 1..CVT_MAX_WORKERS; <= 0: default */
    int out_of_order;       /* -W: writes may land in any order */
    uint64_t min_sparse;    /* -S in bytes; 0: write everything (no holes) */
    uint64_t chunk_size;    /* data unit, <= CVT_MAX_CHUNK; 0: default */
    int compress;           /* -c: whole clusters with IMG_WRITE_COMPRESSED */
    uint64_t cluster_size;  /* target cluster size; required by compress */
    int target_is_zero;     /* target reads as zeros: skip zero ranges */
    int target_has_backing; /* copy only the sources' top layers */
    uint64_t target_backing_size; /* zeros past it need not be written */
    int copy_offload;    /* -C: copy raw data with img_file_copy_range */
    uint64_t rate_limit; /* -r: bytes per second written; 0: unlimited */
    int no_flush;        /* skip the final img_flush (-t unsafe on raw) */
    int salvage;         /* --salvage: unreadable sectors become zeros */
    cvt_warn_fn warn;    /* salvage warnings; NULL: silent */
    void *warn_opaque;
    cvt_progress_fn progress; /* NULL: no progress */
    void *progress_opaque;
    int prescan; /* walk the sources' block status before writing (as
                  * qemu-img always does): an unreadable map then fails
                  * before the target changes.  Implied by progress. */
} cvt_params;

/* What a run did, in bytes of the target. */
typedef struct cvt_stats {
    uint64_t data_written; /* written with img_pwrite */
    uint64_t zero_written; /* written with img_pwrite_zeroes */
    uint64_t skipped;      /* left alone: zero target or backing shows */
    uint64_t offloaded;    /* copied with img_file_copy_range */
    uint64_t reads;        /* requests made to the sources (img_pread) */
} cvt_stats;

/* Zeroes p and sets the defaults: no sources yet, default workers and
 * chunk size, min_sparse CVT_DEFAULT_MIN_SPARSE, in-order writes, no
 * backing, flush at the end. */
void cvt_params_init(cvt_params *p);

/* min(8, max(2, 2 * CPUs)): the threads of a run whose sources can be
 * read by several threads at once, or whose workers compress. */
int cvt_default_workers(void);

/* The threads cvt_run() uses: params.workers when it is > 0; else 1 when
 * no source can be read by several threads at once (img_reads_in_parallel)
 * and the workers do not compress; else cvt_default_workers(). */
int cvt_workers_for(const cvt_params *p);

/* Size of the concatenation: the sum of the sources' sizes, each rounded
 * up to 512 bytes.  This is the size a new target must have. */
uint64_t cvt_total_size(img *const *src, int nsrc);

/* Copies the sources into p->dst and flushes it (unless no_flush).
 * Returns 0, or -errno with err set to a message such as "error while
 * writing at byte 65536: ..." (the first failure; the other workers stop
 * soon after).  stats may be NULL.  Never writes to a source. */
int cvt_run(const cvt_params *p, cvt_stats *stats, img_err *err);

#endif
