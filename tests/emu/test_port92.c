/*
 * tests/emu/test_port92.c -- port 0x92: A20 gate, fast reset, read back.
 */
#include <criterion/criterion.h>

#include "emu/bus/bus.h"
#include "emu/dev/port92.h"

typedef struct machine {
    int a20_calls;
    bool a20;
    int resets;
} machine;

static void m_a20(void *opaque, bool on)
{
    machine *m = opaque;

    m->a20_calls++;
    m->a20 = on;
}

static void m_reset(void *opaque)
{
    ((machine *)opaque)->resets++;
}

Test(port92, a20_starts_on_and_changes_are_reported)
{
    machine m = { .a20 = true };
    emu_bus *b = emu_bus_new();
    emu_port92 *p = emu_port92_new(b, m_a20, m_reset, &m);

    cr_assert_not_null(p);
    cr_assert_eq(emu_bus_pio_read(b, 0x92, 1), 0x02);
    emu_bus_pio_write(b, 0x92, 1, 0x02); /* no change: no call */
    cr_assert_eq(m.a20_calls, 0);
    emu_bus_pio_write(b, 0x92, 1, 0x00);
    cr_assert_eq(m.a20_calls, 1);
    cr_assert_not(m.a20);
    cr_assert_eq(emu_bus_pio_read(b, 0x92, 1), 0x00);
    emu_bus_pio_write(b, 0x92, 1, 0x02);
    cr_assert(m.a20);
    cr_assert_eq(m.resets, 0);
    emu_port92_free(p);
    emu_bus_free(b);
}

Test(port92, reset_on_rising_bit0_only)
{
    machine m = { .a20 = true };
    emu_bus *b = emu_bus_new();
    emu_port92 *p = emu_port92_new(b, m_a20, m_reset, &m);

    emu_bus_pio_write(b, 0x92, 1, 0x03);
    cr_assert_eq(m.resets, 1);
    cr_assert_eq(emu_bus_pio_read(b, 0x92, 1), 0x03);
    emu_bus_pio_write(b, 0x92, 1, 0x03); /* still set: nothing */
    cr_assert_eq(m.resets, 1);
    emu_port92_reset(p);
    cr_assert_eq(emu_bus_pio_read(b, 0x92, 1), 0x02);
    emu_bus_pio_write(b, 0x92, 1, 0x03);
    cr_assert_eq(m.resets, 2);
    cr_assert_eq(m.a20_calls, 0);
    emu_port92_free(p);
    emu_bus_free(b);
}

Test(port92, null_callbacks_are_allowed)
{
    emu_bus *b = emu_bus_new();
    emu_port92 *p = emu_port92_new(b, NULL, NULL, NULL);

    emu_bus_pio_write(b, 0x92, 1, 0x01);
    cr_assert_eq(emu_bus_pio_read(b, 0x92, 1), 0x01);
    emu_port92_free(p);
    emu_bus_free(b);
}
