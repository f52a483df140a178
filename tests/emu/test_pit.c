/*
 * tests/emu/test_pit.c -- the 8254: modes, latches, read-back, BCD,
 * channel 2 through port 0x61 (firmware/Linux TSC calibration) and the
 * IRQ 0 edges of channel 0 under virtual time.
 */
#include <criterion/criterion.h>

#include "emu/bus/bus.h"
#include "emu/dev/pic.h"
#include "emu/dev/pit.h"

/* Records IRQ 0: current level and rising edges with their times. */
typedef struct irq_rec {
    emu_vclock *vc;
    bool level;
    int rises;
    uint64_t rise_at[64];
} irq_rec;

static emu_bus *bus;
static emu_vclock vc;
static irq_rec rec;
static emu_pit *pit;

static void rec_irq(void *opaque, unsigned line, bool level)
{
    irq_rec *r = opaque;

    (void)line;
    if (level && !r->level && r->rises < 64) {
        r->rise_at[r->rises++] = emu_vclock_now(r->vc);
    }
    r->level = level;
}

static void out(uint16_t port, uint8_t val)
{
    emu_bus_pio_write(bus, port, 1, val);
}

static uint8_t in(uint16_t port)
{
    return (uint8_t)emu_bus_pio_read(bus, port, 1);
}

/* Reads LSB then MSB (the order matters, so not in one expression). */
static unsigned in16(uint16_t port)
{
    unsigned lo = in(port);

    return lo | (unsigned)in(port) << 8;
}

/* First ns at which PIT tick t is reached: ceil(t * 10^9 / 1193182). */
static uint64_t tick_ns(uint64_t t)
{
    return (t * 1000000000u + 1193181u) / 1193182u;
}

static void at_tick(uint64_t t)
{
    emu_vclock_advance(&vc, tick_ns(t));
}

static void setup(void)
{
    emu_vclock_init(&vc);
    rec = (irq_rec){ .vc = &vc };
    bus = emu_bus_new();
    pit = emu_pit_new(bus, &vc, (emu_irq){ rec_irq, &rec, 0 });
    cr_assert_not_null(pit);
}

static void teardown(void)
{
    emu_pit_free(pit);
    emu_bus_free(bus);
}

TestSuite(pit, .init = setup, .fini = teardown);

/* Channel 2, mode 0, LSB then MSB, as SeaBIOS and Linux program it. */
static void ch2_mode0(uint16_t count)
{
    out(0x61, (uint8_t)((in(0x61) & ~0x02) | 0x01));
    out(0x43, 0xB0);
    out(0x42, count & 0xFF);
    out(0x42, count >> 8);
}

Test(pit, channel2_mode0_out_rises_exactly_after_count_ticks)
{
    emu_vclock_advance(&vc, 12345); /* start off a tick boundary */
    uint64_t t0 = 12345 * 1193182ull / 1000000000u;

    ch2_mode0(11932); /* about 10 ms */
    cr_assert_eq(in(0x61) & 0x21, 0x01);
    emu_vclock_advance(&vc, tick_ns(t0 + 11932) - 1);
    cr_assert_eq(in(0x61) & 0x20, 0);
    emu_vclock_advance(&vc, tick_ns(t0 + 11932));
    cr_assert_eq(in(0x61) & 0x20, 0x20);
    at_tick(t0 + 70000); /* OUT stays high in mode 0 */
    cr_assert_eq(in(0x61) & 0x20, 0x20);
}

Test(pit, live_lsb_msb_reads_count_down)
{
    ch2_mode0(0xFFFF);
    at_tick(0x1234);
    cr_assert_eq(in(0x42), (0xFFFF - 0x1234) & 0xFF);
    cr_assert_eq(in(0x42), (0xFFFF - 0x1234) >> 8);
    at_tick(0x8000);
    cr_assert_eq(in16(0x42), 0xFFFF - 0x8000);
}

Test(pit, counter_latch_freezes_the_value_read)
{
    ch2_mode0(50000);
    at_tick(100);
    out(0x43, 0x80); /* latch channel 2 */
    at_tick(900);
    out(0x43, 0x80); /* ignored: already latched */
    cr_assert_eq(in(0x42), (50000 - 100) & 0xFF);
    cr_assert_eq(in(0x42), (50000 - 100) >> 8);
    cr_assert_eq(in(0x42), (50000 - 900) & 0xFF); /* live again */
}

Test(pit, read_back_status_and_count)
{
    out(0x61, 0x01);
    out(0x43, 0xB0);
    out(0x43, 0xE8);              /* read-back status of ch 2 */
    cr_assert_eq(in(0x42), 0x70); /* OUT 0, NULL COUNT, RW 3, m0 */
    out(0x42, 0x10);
    out(0x42, 0x00);
    at_tick(0x10);
    out(0x43, 0xC8); /* status and count */
    at_tick(0x20);
    cr_assert_eq(in(0x42), 0xB0); /* OUT high, count loaded */
    cr_assert_eq(in(0x42), 0x00);
    cr_assert_eq(in(0x42), 0x00);
}

Test(pit, lsb_only_and_msb_only_access)
{
    out(0x61, 0x01);
    out(0x43, 0x90); /* ch 2, LSB only, mode 0 */
    out(0x42, 200);
    at_tick(50);
    cr_assert_eq(in(0x42), 150);
    cr_assert_eq(in(0x42), 150);
    out(0x43, 0xA0); /* ch 2, MSB only, mode 0 */
    out(0x42, 0x02); /* count 0x200 */
    at_tick(50 + 0x100);
    cr_assert_eq(in(0x42), 0x01);
}

Test(pit, gate_low_holds_mode0_count)
{
    ch2_mode0(1000);
    at_tick(100);
    out(0x61, 0x00); /* gate off */
    at_tick(5000);
    out(0x43, 0x80);
    cr_assert_eq(in16(0x42), 900);
    cr_assert_eq(in(0x61) & 0x20, 0);
    out(0x61, 0x01); /* resume */
    at_tick(5000 + 899);
    cr_assert_eq(in(0x61) & 0x20, 0);
    at_tick(5000 + 900);
    cr_assert_eq(in(0x61) & 0x20, 0x20);
}

Test(pit, mode1_one_shot_starts_on_gate_edge)
{
    out(0x61, 0x00);
    out(0x43, 0xB2); /* ch 2, mode 1 */
    out(0x42, 100);
    out(0x42, 0);
    at_tick(500);
    cr_assert_eq(in(0x61) & 0x20, 0x20); /* not triggered yet */
    out(0x61, 0x01);                     /* trigger */
    cr_assert_eq(in(0x61) & 0x20, 0);
    at_tick(599);
    cr_assert_eq(in(0x61) & 0x20, 0);
    at_tick(600);
    cr_assert_eq(in(0x61) & 0x20, 0x20);
}

Test(pit, bcd_counting)
{
    out(0x61, 0x01);
    out(0x43, 0xB1); /* ch 2, mode 0, BCD */
    out(0x42, 0x00);
    out(0x42, 0x10); /* 1000 decimal */
    at_tick(1);
    cr_assert_eq(in(0x42), 0x99);
    cr_assert_eq(in(0x42), 0x09);
    at_tick(1001); /* wraps modulo 10000 */
    cr_assert_eq(in(0x42), 0x99);
    cr_assert_eq(in(0x42), 0x99);
}

Test(pit, channel0_mode2_rate_generator_raises_irq0_each_period)
{
    out(0x43, 0x34); /* ch 0, LSB/MSB, mode 2 */
    out(0x40, 1193 & 0xFF);
    out(0x40, 1193 >> 8);
    rec.rises = 0;
    cr_assert_eq(emu_vclock_next_deadline(&vc), tick_ns(1192));
    emu_vclock_advance(&vc, 10000000); /* 10 ms: 11931 ticks */
    cr_assert_eq(rec.rises, 10);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(rec.rise_at[i], tick_ns(1193 * (uint64_t)(i + 1)));
    }
    cr_assert(rec.level);
}

Test(pit, channel0_mode3_square_wave_levels)
{
    out(0x43, 0x36);
    out(0x40, 100);
    out(0x40, 0);
    cr_assert(rec.level);
    at_tick(49);
    cr_assert(rec.level);
    at_tick(50);
    cr_assert_not(rec.level);
    at_tick(99);
    cr_assert_not(rec.level);
    at_tick(100);
    cr_assert(rec.level);
    out(0x43, 0x00); /* latch: counts down by 2 */
    at_tick(110);
    cr_assert_eq(in16(0x40), 100);
    cr_assert_eq(in16(0x40), 80);
}

Test(pit, channel0_mode0_interrupts_once_then_disarms)
{
    out(0x43, 0x30);
    cr_assert_not(rec.level);
    out(0x40, 0x00);
    out(0x40, 0x01); /* 256 ticks */
    rec.rises = 0;
    at_tick(255);
    cr_assert_eq(rec.rises, 0);
    at_tick(256);
    cr_assert_eq(rec.rises, 1);
    cr_assert_eq(emu_vclock_next_deadline(&vc), EMU_VCLOCK_NEVER);
}

Test(pit, channel0_mode4_strobe_is_one_clock_low)
{
    out(0x43, 0x38);
    out(0x40, 10);
    out(0x40, 0);
    rec.rises = 0;
    at_tick(9);
    cr_assert(rec.level);
    at_tick(10);
    cr_assert_not(rec.level);
    at_tick(11);
    cr_assert(rec.level);
    cr_assert_eq(rec.rises, 1);
    cr_assert_eq(emu_vclock_next_deadline(&vc), EMU_VCLOCK_NEVER);
}

Test(pit, power_on_channel0_runs_at_18_2_hz)
{
    rec.rises = 0;
    at_tick(65536 * 3);
    cr_assert_eq(rec.rises, 3);
}

Test(pit, port61_refresh_toggle_and_speaker_bits)
{
    cr_assert_eq(in(0x61) & 0x10, 0);
    emu_vclock_advance(&vc, 15085);
    cr_assert_eq(in(0x61) & 0x10, 0x10);
    emu_vclock_advance(&vc, 30170);
    cr_assert_eq(in(0x61) & 0x10, 0);
    out(0x61, 0x0F);
    cr_assert_eq(in(0x61) & 0x0F, 0x0F);
}

Test(pit, reset_restores_power_on_state)
{
    out(0x43, 0x30);
    out(0x61, 0x03);
    emu_pit_reset(pit);
    cr_assert_eq(in(0x61) & 0x0F, 0);
    out(0x43, 0xE2); /* status of channel 0 */
    cr_assert_eq(in(0x40), 0x80 | 0x36);
}

/* With the real PIC: one vector 0x08 per period while the CPU keeps up,
 * and a single latched request when it does not. */
Test(pit, irq0_through_the_pic_at_the_programmed_rate)
{
    emu_bus *b2 = emu_bus_new();
    emu_pic *pic = emu_pic_new(b2);
    emu_pit *pit2 = emu_pit_new(b2, &vc, emu_pic_irq(pic, 0));
    static const uint8_t init[] = { 0x11, 0x08, 0x04, 0x01 };
    int taken = 0;

    emu_bus_pio_write(b2, 0x20, 1, init[0]);
    for (int i = 1; i < 4; i++) {
        emu_bus_pio_write(b2, 0x21, 1, init[i]);
    }
    emu_bus_pio_write(b2, 0x43, 1, 0x34); /* mode 2, 1000 Hz */
    emu_bus_pio_write(b2, 0x40, 1, 1193 & 0xFF);
    emu_bus_pio_write(b2, 0x40, 1, 1193 >> 8);
    for (uint64_t ns = 0; ns <= 5000000; ns += 100000) {
        emu_vclock_advance(&vc, ns);
        if (emu_pic_pending(pic)) {
            cr_assert_eq(emu_pic_ack(pic), 0x08);
            emu_bus_pio_write(b2, 0x20, 1, 0x20); /* EOI */
            taken++;
        }
    }
    cr_assert_eq(taken, 5);            /* 5 ms at 1000 Hz */
    emu_vclock_advance(&vc, 20000000); /* CPU busy for 15 ms */
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x08);
    emu_bus_pio_write(b2, 0x20, 1, 0x20);
    cr_assert_not(emu_pic_pending(pic));
    emu_pit_free(pit2);
    emu_pic_free(pic);
    emu_bus_free(b2);
}
