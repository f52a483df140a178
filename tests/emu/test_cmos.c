/*
 * tests/emu/test_cmos.c -- the MC146818 RTC and CMOS RAM: time from the
 * epoch plus virtual time, BCD/binary and 12/24-hour formats, UIP, SET,
 * periodic / update-ended / alarm interrupts on IRQ 8, NMI mask bit.
 */
#include <criterion/criterion.h>

#include "emu/bus/bus.h"
#include "emu/dev/cmos.h"

#define EPOCH 1767225599 /* 2025-12-31 23:59:59 UTC, a Wednesday */
#define SEC   1000000000ull

typedef struct irq_rec {
    bool level;
    int rises;
} irq_rec;

static emu_bus *bus;
static emu_vclock vc;
static irq_rec rec;
static emu_cmos *cmos;

static void rec_irq(void *opaque, unsigned line, bool level)
{
    irq_rec *r = opaque;

    cr_assert_eq(line, 8);
    if (level && !r->level) {
        r->rises++;
    }
    r->level = level;
}

static uint8_t rd(uint8_t idx)
{
    emu_bus_pio_write(bus, 0x70, 1, idx);
    return (uint8_t)emu_bus_pio_read(bus, 0x71, 1);
}

static void wr(uint8_t idx, uint8_t val)
{
    emu_bus_pio_write(bus, 0x70, 1, idx);
    emu_bus_pio_write(bus, 0x71, 1, val);
}

static void setup(void)
{
    emu_vclock_init(&vc);
    rec = (irq_rec){ 0 };
    bus = emu_bus_new();
    cmos = emu_cmos_new(bus, &vc, (emu_irq){ rec_irq, &rec, 8 }, EPOCH);
    cr_assert_not_null(cmos);
}

static void teardown(void)
{
    emu_cmos_free(cmos);
    emu_bus_free(bus);
}

TestSuite(cmos, .init = setup, .fini = teardown);

Test(cmos, epoch_shown_in_bcd_24h_and_advances_with_virtual_time)
{
    cr_assert_eq(rd(0x00), 0x59);
    cr_assert_eq(rd(0x02), 0x59);
    cr_assert_eq(rd(0x04), 0x23);
    cr_assert_eq(rd(0x06), 4); /* Wednesday, Sunday = 1 */
    cr_assert_eq(rd(0x07), 0x31);
    cr_assert_eq(rd(0x08), 0x12);
    cr_assert_eq(rd(0x09), 0x25);
    cr_assert_eq(rd(0x32), 0x20);
    emu_vclock_advance(&vc, SEC - 1);
    cr_assert_eq(rd(0x00), 0x59);
    emu_vclock_advance(&vc, SEC); /* 2026-01-01 00:00:00 Thu */
    cr_assert_eq(rd(0x00), 0x00);
    cr_assert_eq(rd(0x04), 0x00);
    cr_assert_eq(rd(0x06), 5);
    cr_assert_eq(rd(0x07), 0x01);
    cr_assert_eq(rd(0x08), 0x01);
    cr_assert_eq(rd(0x09), 0x26);
    emu_vclock_advance(&vc, 3662 * SEC); /* 01:01:01 */
    cr_assert_eq(rd(0x04), 0x01);
    cr_assert_eq(rd(0x02), 0x01);
    cr_assert_eq(rd(0x00), 0x01);
}

Test(cmos, binary_and_12_hour_modes)
{
    wr(0x0B, 0x06); /* binary, 24 h */
    cr_assert_eq(rd(0x00), 59);
    cr_assert_eq(rd(0x04), 23);
    cr_assert_eq(rd(0x09), 25);
    cr_assert_eq(rd(0x32), 20);
    wr(0x0B, 0x00);               /* BCD, 12 h */
    cr_assert_eq(rd(0x04), 0x91); /* 11 PM */
    emu_vclock_advance(&vc, SEC);
    cr_assert_eq(rd(0x04), 0x12); /* 12 AM */
    wr(0x0B, 0x04);               /* binary, 12 h */
    emu_vclock_advance(&vc, SEC + 13 * 3600 * SEC);
    cr_assert_eq(rd(0x04), 0x81); /* 1 PM */
}

Test(cmos, uip_set_just_before_each_update)
{
    cr_assert_eq(rd(0x0A), 0x26);
    emu_vclock_advance(&vc, SEC - 244001);
    cr_assert_eq(rd(0x0A) & 0x80, 0);
    emu_vclock_advance(&vc, SEC - 244000);
    cr_assert_eq(rd(0x0A), 0xA6);
    emu_vclock_advance(&vc, SEC);
    cr_assert_eq(rd(0x0A) & 0x80, 0);
    cr_assert_eq(rd(0x0D), 0x80);
}

Test(cmos, set_bit_freezes_and_commits_the_time)
{
    wr(0x0B, 0x82); /* SET */
    emu_vclock_advance(&vc, 5 * SEC);
    cr_assert_eq(rd(0x00), 0x59); /* frozen while SET */
    wr(0x32, 0x20);
    wr(0x09, 0x00);
    wr(0x08, 0x02);
    wr(0x07, 0x29);
    wr(0x04, 0x12);
    wr(0x02, 0x34);
    wr(0x00, 0x56);
    wr(0x0B, 0x02);            /* run */
    cr_assert_eq(rd(0x06), 3); /* 2000-02-29 was a Tuesday */
    emu_vclock_advance(&vc, 9 * SEC);
    cr_assert_eq(rd(0x00), 0x00);
    cr_assert_eq(rd(0x02), 0x35);
    cr_assert_eq(rd(0x07), 0x29);
    cr_assert_eq(rd(0x08), 0x02);
    cr_assert_eq(rd(0x09), 0x00);
    cr_assert_eq(rd(0x32), 0x20);
}

Test(cmos, direct_field_write_while_running)
{
    wr(0x02, 0x10); /* minutes := 10 */
    cr_assert_eq(rd(0x02), 0x10);
    cr_assert_eq(rd(0x04), 0x23);
    cr_assert_eq(rd(0x00), 0x59);
    emu_vclock_advance(&vc, SEC);
    cr_assert_eq(rd(0x02), 0x11);
    cr_assert_eq(rd(0x00), 0x00);
}

Test(cmos, periodic_interrupt_on_irq8_until_c_is_read)
{
    wr(0x0B, 0x42); /* PIE, 1024 Hz */
    cr_assert_not(rec.level);
    /* 32 ticks of 32.768 kHz = 976562.5 ns */
    cr_assert_eq(emu_vclock_next_deadline(&vc), 976563);
    emu_vclock_advance(&vc, 976562);
    cr_assert_not(rec.level);
    emu_vclock_advance(&vc, 976563);
    cr_assert(rec.level);
    cr_assert_eq(emu_vclock_next_deadline(&vc), EMU_VCLOCK_NEVER);
    cr_assert_eq(rd(0x0C), 0xC0);
    cr_assert_not(rec.level);
    cr_assert_eq(rd(0x0C), 0x00);
    emu_vclock_advance(&vc, 2 * 976563);
    cr_assert_eq(rec.rises, 2);
    wr(0x0A, 0x2F); /* 2 Hz */
    cr_assert_eq(rd(0x0C), 0xC0);
    emu_vclock_advance(&vc, SEC / 2 - 1);
    cr_assert_not(rec.level);
    emu_vclock_advance(&vc, SEC / 2);
    cr_assert(rec.level);
}

Test(cmos, update_ended_and_alarm_interrupts)
{
    wr(0x01, 0x05); /* alarm 00:00:05 */
    wr(0x03, 0x00);
    wr(0x05, 0x00);
    wr(0x0B, 0x12); /* UIE */
    emu_vclock_advance(&vc, SEC);
    cr_assert(rec.level);
    cr_assert_eq(rd(0x0C) & 0xB0, 0x90); /* PF is set too, not enabled */
    wr(0x0B, 0x22);                      /* AIE only */
    emu_vclock_advance(&vc, 5 * SEC);
    cr_assert_not(rec.level);
    emu_vclock_advance(&vc, 6 * SEC);
    cr_assert(rec.level);
    cr_assert_eq(rd(0x0C) & 0xA0, 0xA0);
}

Test(cmos, flags_set_without_interrupts_enabled)
{
    emu_vclock_advance(&vc, 2 * SEC);
    cr_assert_eq(rd(0x0C), 0x50); /* PF and UF, no IRQF */
    cr_assert_eq(rec.rises, 0);
    cr_assert_eq(emu_vclock_next_deadline(&vc), EMU_VCLOCK_NEVER);
}

Test(cmos, ram_bytes_nmi_mask_and_host_access)
{
    emu_cmos_set(cmos, 0x15, 0x80);
    emu_cmos_set(cmos, 0x34, 0x12);
    cr_assert_eq(rd(0x15), 0x80);
    cr_assert_eq(rd(0x34), 0x12);
    wr(0x10, 0x44);
    cr_assert_eq(emu_cmos_get(cmos, 0x10), 0x44);
    cr_assert_eq(emu_cmos_get(cmos, 0x00), 0x59);
    emu_bus_pio_write(bus, 0x70, 1, 0x8F);
    cr_assert(emu_cmos_nmi_masked(cmos));
    emu_bus_pio_write(bus, 0x71, 1, 0x0A);
    cr_assert_eq(emu_cmos_get(cmos, 0x0F), 0x0A);
    emu_bus_pio_write(bus, 0x70, 1, 0x0F);
    cr_assert_not(emu_cmos_nmi_masked(cmos));
    wr(0x0D, 0x00); /* read-only */
    cr_assert_eq(rd(0x0D), 0x80);
}

Test(cmos, reset_disables_interrupts)
{
    wr(0x0B, 0x72);
    emu_vclock_advance(&vc, SEC);
    cr_assert(rec.level);
    emu_cmos_reset(cmos);
    cr_assert_not(rec.level);
    cr_assert_eq(rd(0x0B), 0x02);
    cr_assert_eq(emu_vclock_next_deadline(&vc), EMU_VCLOCK_NEVER);
}
