/*
 * tests/emu/test_vclock.c -- virtual clock: ordering, re-arming, deletion.
 */
#include <criterion/criterion.h>

#include "emu/dev/vclock.h"

/* Records which timers fired and the clock's time at each call. */
typedef struct tlog {
    emu_vclock *vc;
    int ids[16];
    uint64_t at[16];
    int n;
    uint64_t period; /* > 0: re-arm this far after each firing */
    int left;        /* re-arms still to do */
} tlog;

typedef struct probe {
    emu_timer t;
    tlog *lg;
    int id;
} probe;

static void probe_fire(void *opaque, uint64_t now)
{
    probe *p = opaque;
    tlog *lg = p->lg;

    cr_assert_eq(now, emu_vclock_now(lg->vc));
    if (lg->n < 16) {
        lg->ids[lg->n] = p->id;
        lg->at[lg->n] = now;
        lg->n++;
    }
    if (lg->period > 0 && lg->left > 0) {
        lg->left--;
        emu_timer_mod(lg->vc, &p->t, now + lg->period);
    }
}

static void probe_init(probe *p, tlog *lg, int id)
{
    p->lg = lg;
    p->id = id;
    emu_timer_init(&p->t, probe_fire, p);
}

Test(vclock, timers_fire_in_deadline_order_at_their_deadline)
{
    emu_vclock vc;
    tlog lg = { .vc = &vc };
    probe a, b, c;

    emu_vclock_init(&vc);
    probe_init(&a, &lg, 1);
    probe_init(&b, &lg, 2);
    probe_init(&c, &lg, 3);
    cr_assert_eq(emu_vclock_next_deadline(&vc), EMU_VCLOCK_NEVER);
    emu_timer_mod(&vc, &a.t, 300);
    emu_timer_mod(&vc, &b.t, 100);
    emu_timer_mod(&vc, &c.t, 200);
    cr_assert_eq(emu_vclock_next_deadline(&vc), 100);
    emu_vclock_advance(&vc, 250);
    cr_assert_eq(lg.n, 2);
    cr_assert_eq(lg.ids[0], 2);
    cr_assert_eq(lg.at[0], 100);
    cr_assert_eq(lg.ids[1], 3);
    cr_assert_eq(lg.at[1], 200);
    cr_assert_eq(emu_vclock_now(&vc), 250);
    cr_assert(a.t.armed);
    cr_assert_not(b.t.armed);
    cr_assert_eq(emu_vclock_next_deadline(&vc), 300);
    emu_vclock_advance(&vc, 300);
    cr_assert_eq(lg.n, 3);
    cr_assert_eq(lg.ids[2], 1);
}

Test(vclock, equal_deadlines_fire_in_arming_order)
{
    emu_vclock vc;
    tlog lg = { .vc = &vc };
    probe a, b;

    emu_vclock_init(&vc);
    probe_init(&a, &lg, 1);
    probe_init(&b, &lg, 2);
    emu_timer_mod(&vc, &b.t, 50);
    emu_timer_mod(&vc, &a.t, 50);
    emu_vclock_advance(&vc, 50);
    cr_assert_eq(lg.n, 2);
    cr_assert_eq(lg.ids[0], 2);
    cr_assert_eq(lg.ids[1], 1);
}

Test(vclock, callback_rearm_fires_again_within_one_advance)
{
    emu_vclock vc;
    tlog lg = { .vc = &vc, .period = 10, .left = 3 };
    probe a;

    emu_vclock_init(&vc);
    probe_init(&a, &lg, 7);
    emu_timer_mod(&vc, &a.t, 5);
    emu_vclock_advance(&vc, 1000);
    cr_assert_eq(lg.n, 4);
    cr_assert_eq(lg.at[0], 5);
    cr_assert_eq(lg.at[3], 35);
    cr_assert_not(a.t.armed);
    cr_assert_eq(emu_vclock_now(&vc), 1000);
}

Test(vclock, del_and_mod_move_a_timer)
{
    emu_vclock vc;
    tlog lg = { .vc = &vc };
    probe a, b;

    emu_vclock_init(&vc);
    probe_init(&a, &lg, 1);
    probe_init(&b, &lg, 2);
    emu_timer_mod(&vc, &a.t, 10);
    emu_timer_mod(&vc, &b.t, 20);
    emu_timer_mod(&vc, &a.t, 30); /* re-arm later */
    cr_assert_eq(emu_vclock_next_deadline(&vc), 20);
    emu_timer_del(&vc, &b.t);
    emu_timer_del(&vc, &b.t); /* second delete is a no-op */
    cr_assert_eq(emu_vclock_next_deadline(&vc), 30);
    emu_vclock_advance(&vc, 25);
    cr_assert_eq(lg.n, 0);
    emu_vclock_advance(&vc, 30);
    cr_assert_eq(lg.n, 1);
    cr_assert_eq(lg.ids[0], 1);
}

Test(vclock, time_never_goes_backwards_and_past_deadlines_fire_now)
{
    emu_vclock vc;
    tlog lg = { .vc = &vc };
    probe a;

    emu_vclock_init(&vc);
    probe_init(&a, &lg, 1);
    emu_vclock_advance(&vc, 500);
    emu_vclock_advance(&vc, 100);
    cr_assert_eq(emu_vclock_now(&vc), 500);
    emu_timer_mod(&vc, &a.t, 200); /* already overdue */
    emu_vclock_advance(&vc, 500);
    cr_assert_eq(lg.n, 1);
    cr_assert_eq(lg.at[0], 500);
}
