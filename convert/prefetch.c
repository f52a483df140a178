/* convert/prefetch.c -- reading ahead of the workers.
 *
 * A worker reads its chunk, then waits for its turn and writes it.  With
 * a source that is not in the page cache every read waits for the device,
 * and the device idles while the workers write.  The kernel reads ahead
 * by itself inside a long stretch of data read in order, but each stretch
 * that starts after a hole starts cold: a sparse source is copied at
 * about the sum of its read and write times.
 *
 * The prefetcher is one more thread that walks the same plan as the
 * workers (its own planner, so the walk needs no shared lock) and asks the
 * sources to start fetching the first bytes of each data stretch
 * (img_prefetch: posix_fadvise WILLNEED for a host file), up to a window
 * past the furthest chunk the workers have claimed.  The device then
 * streams while the workers copy.
 *
 * Chunks the workers have already claimed are passed over, so with a
 * warm source, where the workers run ahead, the thread only walks the
 * plan.  The window bounds the page cache it fills ahead of use.
 *
 * Only raw sources prefetch (their guest holes are holes of the file).
 * A qcow2 hook was tried and made qcow2 -> raw slower: qemu-img writes
 * data clusters one after another in the file, so the kernel already
 * streams them, and the hints only added work under the image lock.
 */
#include <string.h>

#include "cvt_internal.h"

void cvt_prefetch_init(cvt_prefetch *pf, const cvt_params *p, uint64_t chunk,
                       uint64_t window, uint64_t head)
{
    memset(pf, 0, sizeof(*pf));
    pf->p = p;
    pf->window = window;
    pf->head = head;
    cvt_plan_init(&pf->plan, p, chunk);
    pf->plan.quiet = 1; /* the workers' planner warns, not this one */
    pthread_mutex_init(&pf->lock, NULL);
    pthread_cond_init(&pf->moved, NULL);
}

static uint64_t claimed_end(cvt_prefetch *pf)
{
    pthread_mutex_lock(&pf->lock);
    uint64_t end = pf->claimed;
    pthread_mutex_unlock(&pf->lock);
    return end;
}

/* The chunk the walk stopped at lies past the window (which starts at
 * claimed, the end of what the workers have claimed). */
static int beyond_window(const cvt_prefetch *pf, uint64_t claimed)
{
    return pf->next.off >= claimed + pf->window;
}

/* Only chunks the workers will read from the sources are worth it. */
static int reads_source(const cvt_chunk *c)
{
    return c->kind == CVT_DATA && !c->explicit_zero;
}

int cvt_prefetch_step(cvt_prefetch *pf)
{
    if (!pf->have_next) {
        if (cvt_plan_next(&pf->plan, &pf->next, NULL) <= 0) {
            return -1;
        }
        pf->have_next = 1;
    }
    const cvt_chunk *c = &pf->next;
    uint64_t claimed = claimed_end(pf);
    if (beyond_window(pf, claimed)) {
        return 0;
    }
    if (!reads_source(c)) {
        pf->stretch = c->off + c->len; /* the next data starts a stretch */
    } else if (c->off + c->len > claimed &&
               c->off - pf->stretch < pf->head) {
        cvt_src_prefetch(pf->p, c->off, c->len);
    }
    pf->have_next = 0;
    return 1;
}

/* Steps until the end or stop, sleeping while the window is full. */
static void *prefetch_main(void *arg)
{
    cvt_prefetch *pf = arg;
    for (;;) {
        int r = cvt_prefetch_step(pf);
        if (r < 0) {
            return NULL;
        }
        pthread_mutex_lock(&pf->lock);
        while (r == 0 && !pf->stop && beyond_window(pf, pf->claimed)) {
            pthread_cond_wait(&pf->moved, &pf->lock);
        }
        int stop = pf->stop;
        pthread_mutex_unlock(&pf->lock);
        if (stop) {
            return NULL;
        }
    }
}

/* Whether any source can start fetching ahead. */
static int any_source_prefetches(const cvt_params *p)
{
    for (int i = 0; i < p->nsrc; i++) {
        if (img_can_prefetch(p->src[i])) {
            return 1;
        }
    }
    return 0;
}

void cvt_prefetch_start(cvt_prefetch *pf)
{
    if (any_source_prefetches(pf->p) &&
        pthread_create(&pf->thread, NULL, prefetch_main, pf) == 0) {
        pf->started = 1;
    }
}

void cvt_prefetch_claimed(cvt_prefetch *pf, uint64_t end)
{
    pthread_mutex_lock(&pf->lock);
    if (end > pf->claimed) {
        pf->claimed = end;
        pthread_cond_signal(&pf->moved);
    }
    pthread_mutex_unlock(&pf->lock);
}

void cvt_prefetch_stop(cvt_prefetch *pf)
{
    if (pf->started) {
        pthread_mutex_lock(&pf->lock);
        pf->stop = 1;
        pthread_cond_signal(&pf->moved);
        pthread_mutex_unlock(&pf->lock);
        pthread_join(pf->thread, NULL);
        pf->started = 0;
    }
}

void cvt_prefetch_destroy(cvt_prefetch *pf)
{
    cvt_prefetch_stop(pf);
    pthread_cond_destroy(&pf->moved);
    pthread_mutex_destroy(&pf->lock);
}
