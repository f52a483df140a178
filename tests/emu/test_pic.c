/*
 * tests/emu/test_pic.c -- the 8259A pair: initialisation, priorities,
 * EOI forms, cascade, ELCR level mode, spurious vectors, AEOI, poll.
 */
#include <criterion/criterion.h>

#include "emu/bus/bus.h"
#include "emu/dev/pic.h"

static emu_bus *bus;
static emu_pic *pic;

static void out(uint16_t port, uint8_t val)
{
    emu_bus_pio_write(bus, port, 1, val);
}

static uint8_t in(uint16_t port)
{
    return (uint8_t)emu_bus_pio_read(bus, port, 1);
}

/* The PC BIOS / Linux initialisation: vectors 0x08 and 0x70. */
static void init_pair(uint8_t icw4)
{
    out(0x20, 0x11);
    out(0x21, 0x08);
    out(0x21, 0x04);
    out(0x21, icw4);
    out(0xA0, 0x11);
    out(0xA1, 0x70);
    out(0xA1, 0x02);
    out(0xA1, icw4);
}

static void line(unsigned n, bool level)
{
    emu_irq_set(emu_pic_irq(pic, n), level);
}

static void setup(void)
{
    bus = emu_bus_new();
    pic = emu_pic_new(bus);
    cr_assert_not_null(pic);
    init_pair(0x01);
}

static void teardown(void)
{
    emu_pic_free(pic);
    emu_bus_free(bus);
}

TestSuite(pic, .init = setup, .fini = teardown);

Test(pic, edge_irq_gives_vector_from_icw2_and_sets_isr_until_eoi)
{
    cr_assert_not(emu_pic_pending(pic));
    emu_irq_pulse(emu_pic_irq(pic, 0));
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x08);
    cr_assert_not(emu_pic_pending(pic));
    out(0x20, 0x0B); /* OCW3: read ISR */
    cr_assert_eq(in(0x20), 0x01);
    out(0x20, 0x20); /* non-specific EOI */
    cr_assert_eq(in(0x20), 0x00);
    out(0x20, 0x0A); /* OCW3: read IRR */
    cr_assert_eq(in(0x20), 0x00);
}

Test(pic, fixed_priority_and_nesting)
{
    emu_irq_pulse(emu_pic_irq(pic, 3));
    emu_irq_pulse(emu_pic_irq(pic, 1));
    out(0x20, 0x0A);
    cr_assert_eq(in(0x20), 0x0A); /* IRR: IR1 and IR3 */
    cr_assert_eq(emu_pic_ack(pic), 0x09);
    cr_assert_not(emu_pic_pending(pic)); /* IR3 waits behind IR1 */
    emu_irq_pulse(emu_pic_irq(pic, 0));
    cr_assert(emu_pic_pending(pic)); /* IR0 nests above IR1 */
    cr_assert_eq(emu_pic_ack(pic), 0x08);
    out(0x20, 0x20); /* EOI clears IR0 (highest) */
    out(0x20, 0x0B);
    cr_assert_eq(in(0x20), 0x02);
    out(0x20, 0x20);
    cr_assert_eq(emu_pic_ack(pic), 0x0B);
}

Test(pic, mask_holds_latched_edge_until_unmasked)
{
    out(0x21, 0x10);
    cr_assert_eq(in(0x21), 0x10);
    emu_irq_pulse(emu_pic_irq(pic, 4));
    cr_assert_not(emu_pic_pending(pic));
    out(0x21, 0x00);
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x0C);
}

Test(pic, slave_irq_cascades_through_master_input_2)
{
    emu_irq_pulse(emu_pic_irq(pic, 12));
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x74);
    out(0x20, 0x0B);
    out(0xA0, 0x0B);
    cr_assert_eq(in(0x20), 0x04);
    cr_assert_eq(in(0xA0), 0x10);
    out(0xA0, 0x20);
    out(0x20, 0x20);
    cr_assert_eq(in(0x20), 0x00);
    cr_assert_eq(in(0xA0), 0x00);
}

Test(pic, second_slave_request_delivered_after_eois)
{
    emu_irq_pulse(emu_pic_irq(pic, 14));
    emu_irq_pulse(emu_pic_irq(pic, 15));
    cr_assert_eq(emu_pic_ack(pic), 0x76);
    cr_assert_not(emu_pic_pending(pic));
    out(0xA0, 0x20);
    out(0x20, 0x20);
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x77);
}

Test(pic, masked_slave_line_does_not_reach_the_master)
{
    out(0xA1, 0x01);
    emu_irq_pulse(emu_pic_irq(pic, 8));
    cr_assert_not(emu_pic_pending(pic));
    out(0xA1, 0x00);
    cr_assert_eq(emu_pic_ack(pic), 0x70);
}

Test(pic, elcr_writable_bits_and_level_mode)
{
    out(0x4D0, 0xFF);
    out(0x4D1, 0xFF);
    cr_assert_eq(in(0x4D0), 0xF8);
    cr_assert_eq(in(0x4D1), 0xDE);
    out(0x4D0, 0x20); /* IRQ 5 level */
    out(0x4D1, 0x00);
    line(5, true);
    cr_assert_eq(emu_pic_ack(pic), 0x0D);
    out(0x20, 0x20);
    cr_assert(emu_pic_pending(pic)); /* still asserted: again */
    cr_assert_eq(emu_pic_ack(pic), 0x0D);
    line(5, false);
    out(0x20, 0x20);
    cr_assert_not(emu_pic_pending(pic));
}

Test(pic, edge_line_held_high_interrupts_once)
{
    line(6, true);
    cr_assert_eq(emu_pic_ack(pic), 0x0E);
    out(0x20, 0x20);
    cr_assert_not(emu_pic_pending(pic));
    line(6, false);
    line(6, true);
    cr_assert(emu_pic_pending(pic));
}

Test(pic, vanished_level_request_gives_spurious_7_without_isr)
{
    out(0x4D0, 0x20);
    line(5, true);
    cr_assert(emu_pic_pending(pic));
    line(5, false);
    cr_assert_not(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x0F);
    out(0x20, 0x0B);
    cr_assert_eq(in(0x20), 0x00);
}

Test(pic, vanished_slave_request_gives_spurious_15)
{
    out(0x4D1, 0x04); /* IRQ 10 level */
    line(10, true);
    line(10, false);
    /* The master latched the cascade edge and still asks for service. */
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x77);
    out(0xA0, 0x0B);
    cr_assert_eq(in(0xA0), 0x00);
    out(0x20, 0x0B);
    cr_assert_eq(in(0x20), 0x04); /* master's IR2 needs its EOI */
}

Test(pic, auto_eoi_leaves_isr_clear)
{
    init_pair(0x03);
    emu_irq_pulse(emu_pic_irq(pic, 1));
    cr_assert_eq(emu_pic_ack(pic), 0x09);
    out(0x20, 0x0B);
    cr_assert_eq(in(0x20), 0x00);
    emu_irq_pulse(emu_pic_irq(pic, 3));
    cr_assert_eq(emu_pic_ack(pic), 0x0B); /* nothing blocks it */
}

Test(pic, poll_command_acknowledges_and_reports_level)
{
    emu_irq_pulse(emu_pic_irq(pic, 5));
    out(0x20, 0x0C); /* OCW3 poll */
    cr_assert_eq(in(0x20), 0x85);
    out(0x20, 0x0B);
    cr_assert_eq(in(0x20), 0x20); /* ISR set like an INTA */
    out(0x20, 0x0C);
    cr_assert_eq(in(0x20), 0x00); /* nothing else requesting */
}

Test(pic, specific_and_rotating_eoi)
{
    emu_irq_pulse(emu_pic_irq(pic, 3));
    cr_assert_eq(emu_pic_ack(pic), 0x0B);
    out(0x20, 0x63); /* specific EOI for IR3 */
    out(0x20, 0x0B);
    cr_assert_eq(in(0x20), 0x00);
    /* Rotate on non-specific EOI: IR1 becomes the lowest priority. */
    emu_irq_pulse(emu_pic_irq(pic, 1));
    cr_assert_eq(emu_pic_ack(pic), 0x09);
    out(0x20, 0xA0);
    emu_irq_pulse(emu_pic_irq(pic, 1));
    emu_irq_pulse(emu_pic_irq(pic, 4));
    cr_assert_eq(emu_pic_ack(pic), 0x0C);
    out(0x20, 0xC7); /* set priority: IR7 lowest again */
    out(0x20, 0x20);
    cr_assert_eq(emu_pic_ack(pic), 0x09);
}

Test(pic, special_mask_mode_lets_lower_levels_in)
{
    emu_irq_pulse(emu_pic_irq(pic, 3));
    cr_assert_eq(emu_pic_ack(pic), 0x0B);
    emu_irq_pulse(emu_pic_irq(pic, 5));
    cr_assert_not(emu_pic_pending(pic));
    out(0x21, 0x08); /* mask the level in service */
    out(0x20, 0x68); /* set special mask mode */
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x0D);
    out(0x20, 0x48); /* reset special mask mode */
    emu_irq_pulse(emu_pic_irq(pic, 6));
    cr_assert_not(emu_pic_pending(pic));
}

Test(pic, icw1_clears_mask_and_latched_edges)
{
    out(0x21, 0xFF);
    emu_irq_pulse(emu_pic_irq(pic, 1));
    init_pair(0x01);
    cr_assert_eq(in(0x21), 0x00);
    cr_assert_not(emu_pic_pending(pic));
}

Test(pic, reset_forgets_programming)
{
    out(0x21, 0x5A);
    out(0x4D0, 0x20);
    emu_pic_reset(pic);
    cr_assert_eq(in(0x21), 0x00);
    cr_assert_eq(in(0x4D0), 0x00);
}

Test(pic, special_fully_nested_mode_lets_the_slave_nest)
{
    init_pair(0x01);
    out(0x20, 0x11); /* master again, ICW4 with SFNM */
    out(0x21, 0x08);
    out(0x21, 0x04);
    out(0x21, 0x11);
    emu_irq_pulse(emu_pic_irq(pic, 12));
    cr_assert_eq(emu_pic_ack(pic), 0x74);
    emu_irq_pulse(emu_pic_irq(pic, 9)); /* higher than IRQ 12 */
    cr_assert(emu_pic_pending(pic));
    cr_assert_eq(emu_pic_ack(pic), 0x71);
    emu_irq_pulse(emu_pic_irq(pic, 13)); /* lower: waits */
    cr_assert_not(emu_pic_pending(pic));
}

Test(pic, without_sfnm_the_slave_cannot_nest)
{
    emu_irq_pulse(emu_pic_irq(pic, 12));
    cr_assert_eq(emu_pic_ack(pic), 0x74);
    emu_irq_pulse(emu_pic_irq(pic, 9));
    cr_assert_not(emu_pic_pending(pic));
    out(0xA0, 0x20);
    out(0x20, 0x20);
    cr_assert_eq(emu_pic_ack(pic), 0x71);
}
