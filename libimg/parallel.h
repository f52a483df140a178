/* libimg/parallel.h -- one piece of work split over several threads for
 * the length of a call: the caller and helper threads take items in turn
 * until none is left.  For CPU-bound work inside a driver hook (inflating
 * a run of compressed clusters), where the hook holds its image and the
 * items touch nothing shared but what fn is given.
 */
#ifndef IMG_PARALLEL_H
#define IMG_PARALLEL_H

#include <stddef.h>

/* Largest number of threads img_parallel_for runs. */
#define IMG_PARALLEL_MAX 8
/* Fewer items than this are not worth a helper thread. */
#define IMG_PARALLEL_MIN_ITEMS 4

/* Does item i on the thread with slot number slot (0 is the caller, then
 * 1..threads-1: a slot indexes per-thread state such as a decompression
 * context).  Returns 0 or a negative value. */
typedef int (*img_parallel_fn)(void *ctx, size_t i, size_t slot);

/* The threads worth using for n items on this machine: 1 for fewer than
 * IMG_PARALLEL_MIN_ITEMS, else one per online CPU, at most n and
 * IMG_PARALLEL_MAX. */
size_t img_parallel_threads(size_t n);

/* Runs fn for every i in [0, n) on the caller and up to threads - 1
 * helpers (fewer when a helper cannot be started), all joined before it
 * returns.  Returns 0, or the result of the failed item with the lowest i,
 * which *failed_i is set to; items not yet started when an item fails
 * are left undone. */
int img_parallel_for(size_t n, size_t threads, img_parallel_fn fn,
                     void *ctx, size_t *failed_i);

#endif
