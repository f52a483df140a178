/*
 * emu/dev/vclock.c -- virtual time and the sorted list of armed timers.
 *
 * The clock is a counter of virtual nanoseconds that only the machine
 * moves.  Armed timers sit in a singly linked list ordered by deadline
 * (ties keep arming order, so runs are reproducible).  While a timer's
 * callback runs the clock reads exactly that timer's deadline, so a
 * periodic device re-arms relative to the event and never drifts, and
 * device registers read inside the callback show the state at the edge.
 */
#include "vclock.h"

#include <stddef.h>

void emu_vclock_init(emu_vclock *vc)
{
    vc->now_ns = 0;
    vc->head = NULL;
}

/* Unlinks t from the list; t must be armed on vc. */
static void vclock_unlink(emu_vclock *vc, emu_timer *t)
{
    emu_timer **pp = &vc->head;

    while (*pp != NULL && *pp != t) {
        pp = &(*pp)->next;
    }
    if (*pp == t) {
        *pp = t->next;
    }
    t->next = NULL;
    t->armed = false;
}

void emu_vclock_advance(emu_vclock *vc, uint64_t now_ns)
{
    if (now_ns < vc->now_ns) {
        now_ns = vc->now_ns; /* time never goes backwards */
    }
    while (vc->head != NULL && vc->head->deadline <= now_ns) {
        emu_timer *t = vc->head;

        vclock_unlink(vc, t);
        /* Overdue timers (armed in the past) fire at the current time. */
        if (t->deadline > vc->now_ns) {
            vc->now_ns = t->deadline;
        }
        t->fn(t->opaque, vc->now_ns);
    }
    vc->now_ns = now_ns;
}

uint64_t emu_vclock_next_deadline(const emu_vclock *vc)
{
    return vc->head != NULL ? vc->head->deadline : EMU_VCLOCK_NEVER;
}

void emu_timer_init(emu_timer *t, emu_timer_fn fn, void *opaque)
{
    t->deadline = EMU_VCLOCK_NEVER;
    t->fn = fn;
    t->opaque = opaque;
    t->armed = false;
    t->next = NULL;
}

void emu_timer_mod(emu_vclock *vc, emu_timer *t, uint64_t deadline_ns)
{
    emu_timer **pp = &vc->head;

    if (t->armed) {
        vclock_unlink(vc, t);
    }
    /* Insert after every timer due at or before the same deadline. */
    while (*pp != NULL && (*pp)->deadline <= deadline_ns) {
        pp = &(*pp)->next;
    }
    t->deadline = deadline_ns;
    t->next = *pp;
    t->armed = true;
    *pp = t;
}

void emu_timer_del(emu_vclock *vc, emu_timer *t)
{
    if (t->armed) {
        vclock_unlink(vc, t);
    }
}
