/* tests/convert/rec_file.h -- an img_file wrapper for the conversion tests:
 * records every write-type call in order and every prefetch hint, can
 * report all-zero 4 KiB blocks as holes (like a sparse host file), and can
 * call hooks before reads and after writes so tests can steer the order in
 * which workers proceed.
 */
#ifndef TESTS_CONVERT_REC_FILE_H
#define TESTS_CONVERT_REC_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/file.h"
#include "libimg/img.h"

/* One recorded call. */
typedef struct rec_op {
    char kind; /* 'w' pwrite, 'z' punch_hole, 't' truncate, 'f' flush */
    uint64_t off;
    uint64_t len;
} rec_op;

typedef void (*rec_hook)(void *opaque, uint64_t off, uint64_t len);

/* Wraps inner (owned).  With sparse, extent() reports 4 KiB-aligned
 * blocks that read as zeros as holes.  NULL when out of memory. */
img_file *rec_file_new(img_file *inner, int sparse);
/* Copies up to max recorded calls to out; returns how many there are. */
size_t rec_file_ops(img_file *f, rec_op *out, size_t max);
/* Same for prefetch hints (kind 'p'), recorded apart from the writes. */
size_t rec_file_prefetches(img_file *f, rec_op *out, size_t max);
/* Counts reads that overlap [off, off+len). */
uint64_t rec_file_reads_in(img_file *f, uint64_t off, uint64_t len);
/* Makes every read overlapping [off, off+len) fail with EIO. */
void rec_file_fail_reads(img_file *f, uint64_t off, uint64_t len);
/* Hooks: before each pread, after each recorded pwrite. */
void rec_file_set_hooks(img_file *f, rec_hook before_read, rec_hook after_write,
                        void *opaque);

/* A raw image over a recording memory file holding data[0..len).  *rec
 * (may be NULL) receives the wrapper, which the image owns. */
img *rec_raw_image(const void *data, size_t len, int writable, int sparse,
                   img_file **rec);
/* The current bytes of the memory file under a rec_file (borrowed). */
const uint8_t *rec_file_data(img_file *f, size_t *len);

#endif
