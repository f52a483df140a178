/* convert/ratelimit.c -- "-r RATE": keeps the bytes written per second at
 * or below RATE.  Each request reserves the next slot of the schedule
 * (bytes / RATE seconds long) and sleeps until its slot starts; an idle
 * period does not bank credit beyond "now".
 */
#include <errno.h>

#include "cvt_internal.h"

#define NSEC 1000000000ull

void cvt_ratelimit_init(cvt_ratelimit *rl, uint64_t rate)
{
    pthread_mutex_init(&rl->lock, NULL);
    rl->rate = rate;
    rl->next.tv_sec = 0;
    rl->next.tv_nsec = 0;
}

void cvt_ratelimit_destroy(cvt_ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

/* True when a is earlier than b. */
static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec ||
           (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Adds bytes / rate seconds to t. */
static void ts_add_bytes(struct timespec *t, uint64_t bytes, uint64_t rate)
{
    uint64_t sec = bytes / rate;
    uint64_t ns = (bytes % rate) * NSEC / rate + (uint64_t)t->tv_nsec;
    t->tv_sec += (time_t)(sec + ns / NSEC);
    t->tv_nsec = (long)(ns % NSEC);
}

/* Reserves the slot [max(now, next), +bytes/rate) under the lock, then
 * sleeps outside it until the slot starts. */
void cvt_ratelimit_wait(cvt_ratelimit *rl, uint64_t bytes)
{
    struct timespec now, start;
    if (!rl || rl->rate == 0 || bytes == 0) {
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&rl->lock);
    start = ts_before(&rl->next, &now) ? now : rl->next;
    rl->next = start;
    ts_add_bytes(&rl->next, bytes, rl->rate);
    pthread_mutex_unlock(&rl->lock);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start, NULL) ==
           EINTR) {
        /* interrupted by a signal: sleep the rest */
    }
}
