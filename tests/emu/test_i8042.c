/*
 * tests/emu/test_i8042.c -- the keyboard controller: status, controller
 * commands, keyboard replies, the missing mouse, IRQ 1/12, reset and A20.
 */
#include <criterion/criterion.h>

#include "emu/bus/bus.h"
#include "emu/dev/i8042.h"

/* Machine side: interrupt edges, resets and A20 changes. */
typedef struct machine {
    bool irq1, irq12;
    int edges1, edges12;
    int resets;
    int a20_calls;
    bool a20;
} machine;

static emu_bus *bus;
static machine m;
static emu_i8042 *kbc;

static void m_irq(void *opaque, unsigned line, bool level)
{
    machine *mm = opaque;
    bool *cur = line == 1 ? &mm->irq1 : &mm->irq12;
    int *edges = line == 1 ? &mm->edges1 : &mm->edges12;

    if (level && !*cur) {
        (*edges)++;
    }
    *cur = level;
}

static void m_reset(void *opaque)
{
    ((machine *)opaque)->resets++;
}

static void m_a20(void *opaque, bool on)
{
    machine *mm = opaque;

    mm->a20_calls++;
    mm->a20 = on;
}

static void cmd(uint8_t v)
{
    emu_bus_pio_write(bus, 0x64, 1, v);
}

static void data(uint8_t v)
{
    emu_bus_pio_write(bus, 0x60, 1, v);
}

static uint8_t status(void)
{
    return (uint8_t)emu_bus_pio_read(bus, 0x64, 1);
}

static uint8_t rd(void)
{
    return (uint8_t)emu_bus_pio_read(bus, 0x60, 1);
}

/* Reads one queued byte, asserting that OBF announced it. */
static uint8_t next(void)
{
    cr_assert(status() & 0x01, "output buffer empty");
    return rd();
}

static void setup(void)
{
    m = (machine){ .a20 = true };
    bus = emu_bus_new();
    kbc = emu_i8042_new(bus, (emu_irq){ m_irq, &m, 1 }, m_reset, &m);
    cr_assert_not_null(kbc);
    emu_i8042_set_a20(kbc, m_a20);
    emu_i8042_set_irq12(kbc, (emu_irq){ m_irq, &m, 12 });
}

static void teardown(void)
{
    emu_i8042_free(kbc);
    emu_bus_free(bus);
}

TestSuite(i8042, .init = setup, .fini = teardown);

Test(i8042, self_test_interface_tests_and_sys_flag)
{
    cr_assert_eq(status() & 0x05, 0x00);
    cmd(0xAA);
    cr_assert_eq(status() & 0x0D, 0x0D); /* OBF, SYS, command last */
    cr_assert_eq(rd(), 0x55);
    cr_assert_eq(status() & 0x05, 0x04); /* SYS now set, empty */
    cmd(0xAB);
    cr_assert_eq(next(), 0x00);
    cmd(0xA9);
    cr_assert_eq(next(), 0x00);
    cr_assert_eq(status() & 0x01, 0);
}

Test(i8042, command_byte_read_write_and_port_enables)
{
    cmd(0x60);
    data(0x45);
    cr_assert_eq(status() & 0x08, 0); /* data write */
    cmd(0x20);
    cr_assert_eq(next(), 0x45);
    cr_assert_eq(status() & 0x04, 0x04); /* SYS follows bit 2 */
    cmd(0xAD);
    cmd(0xA7);
    cmd(0x20);
    cr_assert_eq(next(), 0x75);
    cmd(0xAE);
    cmd(0xA8);
    cmd(0x20);
    cr_assert_eq(next(), 0x45);
}

Test(i8042, keyboard_reset_and_identify_with_irq1_edges)
{
    cmd(0x60);
    data(0x01); /* keyboard interrupts on */
    data(0xFF);
    cr_assert(m.irq1);
    cr_assert_eq(m.edges1, 1);
    cr_assert_eq(rd(), 0xFA);
    cr_assert(m.irq1);
    cr_assert_eq(m.edges1, 2); /* a new edge for 0xAA */
    cr_assert_eq(rd(), 0xAA);
    cr_assert_not(m.irq1);
    data(0xF2);
    cr_assert_eq(next(), 0xFA);
    cr_assert_eq(next(), 0xAB);
    cr_assert_eq(next(), 0x83);
    cr_assert_not(m.irq1);
    cr_assert_eq(rd(), 0x83); /* empty: last byte again */
}

Test(i8042, irq1_only_when_command_byte_enables_it)
{
    cmd(0x60);
    data(0x00);
    data(0xF4);
    cr_assert_not(m.irq1);
    cr_assert_eq(status() & 0x01, 0x01);
    cmd(0x60);
    data(0x01);
    cr_assert(m.irq1); /* waiting byte now signals */
    cr_assert_eq(rd(), 0xFA);
    cr_assert_not(m.irq1);
}

Test(i8042, keyboard_commands_with_parameters)
{
    data(0xED);
    cr_assert_eq(next(), 0xFA);
    data(0x07);
    cr_assert_eq(next(), 0xFA);
    data(0xF3);
    cr_assert_eq(next(), 0xFA);
    data(0x20);
    cr_assert_eq(next(), 0xFA);
    data(0xF0);
    data(0x01); /* select set 1 */
    data(0xF0);
    data(0x00); /* query */
    cr_assert_eq(next(), 0xFA);
    cr_assert_eq(next(), 0xFA);
    cr_assert_eq(next(), 0xFA);
    cr_assert_eq(next(), 0xFA);
    cr_assert_eq(next(), 0x01);
    data(0xF5);
    cr_assert_eq(next(), 0xFA);
    data(0xEE);
    cr_assert_eq(next(), 0xEE);
    data(0x42); /* unknown */
    cr_assert_eq(next(), 0xFE);
    cr_assert_eq(status() & 0x01, 0);
}

Test(i8042, reset_pulse_and_output_port)
{
    cmd(0xFF); /* pulses nothing */
    cr_assert_eq(m.resets, 0);
    cmd(0xFE);
    cr_assert_eq(m.resets, 1);
    cmd(0xD0);
    cr_assert_eq(next() & 0x03, 0x03);
    cmd(0xD1);
    data(0xCD); /* A20 off, no reset */
    cr_assert_eq(m.resets, 1);
    cr_assert_eq(m.a20_calls, 1);
    cr_assert_not(m.a20);
    cmd(0xD0);
    cr_assert_eq(next() & 0x03, 0x01);
    cmd(0xDF);
    cr_assert(m.a20);
    cmd(0xD1);
    data(0xCE); /* bit 0 low: reset */
    cr_assert_eq(m.resets, 2);
}

Test(i8042, missing_mouse_answers_with_timeout_on_aux)
{
    cmd(0x60);
    data(0x03); /* both interrupts on */
    cmd(0xD4);
    data(0xFF);
    cr_assert_eq(status() & 0x61, 0x61); /* OBF, aux, timeout */
    cr_assert(m.irq12);
    cr_assert_not(m.irq1);
    cr_assert_eq(rd(), 0xFE);
    cr_assert_not(m.irq12);
    cr_assert_eq(status() & 0x61, 0x00);
}

Test(i8042, d2_d3_write_output_buffers)
{
    cmd(0xD3);
    data(0x5A);
    cr_assert_eq(status() & 0x61, 0x21);
    cr_assert_eq(rd(), 0x5A);
    cmd(0xD2);
    data(0x1C);
    cr_assert_eq(status() & 0x61, 0x01);
    cr_assert_eq(rd(), 0x1C);
}

Test(i8042, typed_scan_codes_and_reset)
{
    static const uint8_t codes[] = { 0x1C, 0xF0, 0x1C };

    cr_assert_eq(emu_i8042_kbd_input(kbc, codes, 3), 3);
    cr_assert(m.irq1); /* default command byte 0x03 */
    cr_assert_eq(next(), 0x1C);
    emu_i8042_reset(kbc);
    cr_assert_not(m.irq1);
    cr_assert_eq(status() & 0x01, 0);
    cmd(0xAD);
    cr_assert_eq(emu_i8042_kbd_input(kbc, codes, 3), 0);
}
