/*
 * emu/dev/vclock.h -- virtual time and timers shared by the devices.
 *
 * Time in the emulated PC is virtual: the machine derives it from the
 * number of retired instructions and moves it forward with
 * emu_vclock_advance(), which fires the timers that became due, in
 * deadline order.  Nothing here reads a host clock, so a run is
 * deterministic.  Devices read the current time (e.g. to compute a PIT
 * counter) with emu_vclock_now() and arm one-shot timers for the events
 * they will cause (an IRQ 0 edge, an RTC update).  While the CPU halts,
 * the machine skips straight to emu_vclock_next_deadline().
 *
 * A timer is owned by its device (embedded in it); the clock only links
 * it into its sorted list while it is armed.  While a callback runs, the
 * clock reads exactly that timer's deadline (events happen at their own
 * time, and periodic devices re-arm without drift).
 */
#ifndef EMU_DEV_VCLOCK_H
#define EMU_DEV_VCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define EMU_VCLOCK_NEVER  UINT64_MAX   /* no deadline */

typedef struct emu_timer emu_timer;

/* Called when the timer's deadline is reached; now is the clock's time. */
typedef void (*emu_timer_fn)(void *opaque, uint64_t now_ns);

struct emu_timer {
    uint64_t deadline;   /* virtual ns; meaningful while armed */
    emu_timer_fn fn;     /* callback */
    void *opaque;        /* its argument */
    bool armed;          /* linked into a clock */
    emu_timer *next;     /* next armed timer, by deadline */
};

/* The clock: current virtual time and the armed timers. */
typedef struct emu_vclock {
    uint64_t now_ns;     /* current virtual time in nanoseconds */
    emu_timer *head;     /* armed timers, earliest first */
} emu_vclock;

/* Starts a clock at time 0 with no timers. */
void emu_vclock_init(emu_vclock *vc);
/* Current virtual time. */
static inline uint64_t emu_vclock_now(const emu_vclock *vc)
{
    return vc->now_ns;
}
/*
 * Moves time to now_ns (never backwards) and runs every timer whose
 * deadline is <= now_ns, earliest first; a callback may re-arm its timer.
 */
void emu_vclock_advance(emu_vclock *vc, uint64_t now_ns);
/* Earliest armed deadline, or EMU_VCLOCK_NEVER. */
uint64_t emu_vclock_next_deadline(const emu_vclock *vc);

/* Prepares an unarmed timer. */
void emu_timer_init(emu_timer *t, emu_timer_fn fn, void *opaque);
/* Arms (or re-arms) t for deadline_ns. */
void emu_timer_mod(emu_vclock *vc, emu_timer *t, uint64_t deadline_ns);
/* Disarms t; a no-op when it is not armed. */
void emu_timer_del(emu_vclock *vc, emu_timer *t);

#endif /* EMU_DEV_VCLOCK_H */
