/*
 * tests/emu/test_accel.c -- the accelerator interface on the interpreter.
 *
 * Exit reasons and their bookkeeping, driven by a few hand-assembled bytes
 * (encodings from the SDM's opcode map): HLT and waking it with an
 * injected interrupt, port I/O exits and completion, the interrupt window
 * with the STI shadow, a pending interrupt taken just after the shadow,
 * budget, kick, #UD delivery through the IVT, and
 * the instruction-count TSC across get_regs/set_regs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu/accel/accel.h"
#include "emu/bus/bus.h"

#define RAM_SIZE  0x10000u
#define ORG       0x7C00u

static uint8_t *ram;
static emu_accel *acc;

/* Fresh CPU with 64 KiB of RAM, CS:IP = 0000:7C00, code copied there. */
static void setup_code(const uint8_t *code, size_t len)
{
    emu_regs r;

    ram = calloc(1, RAM_SIZE);
    acc = emu_interp_new();
    cr_assert(ram && acc);
    cr_assert_eq(acc->ops->map_ram(acc, 0, RAM_SIZE, ram), 0);
    cr_assert_eq(acc->ops->map_ram(acc, 0x8000, 16, ram), -EINVAL);
    memcpy(ram + ORG, code, len);
    acc->ops->get_regs(acc, &r);
    r.seg[EMU_CS] = (emu_segment){ 0, 0, 0xFFFF, 0x9B };
    r.eip = ORG;
    r.gpr[EMU_ESP] = ORG;
    acc->ops->set_regs(acc, &r);
}

static void teardown_code(void)
{
    acc->ops->free(acc);
    free(ram);
}

/* Points IVT entry vec at 0000:off. */
static void set_vector(unsigned vec, uint16_t off)
{
    ram[vec * 4] = off & 0xFF;
    ram[vec * 4 + 1] = off >> 8;
    ram[vec * 4 + 2] = 0;
    ram[vec * 4 + 3] = 0;
}

static uint32_t eip_now(void)
{
    emu_regs r;

    acc->ops->get_regs(acc, &r);
    return r.eip;
}

Test(accel, hlt_then_injected_interrupt_runs_handler_and_io_exit)
{
    /* sti; hlt; jmp $   --  handler at 0x7D00: mov al,'A'; out 0xE9,al;
       iret */
    static const uint8_t code[] = { 0xFB, 0xF4, 0xEB, 0xFE };
    static const uint8_t handler[] = { 0xB0, 'A', 0xE6, 0xE9, 0xCF };
    emu_exit ex;

    setup_code(code, sizeof(code));
    memcpy(ram + 0x7D00, handler, sizeof(handler));
    set_vector(0x20, 0x7D00);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
    cr_assert_eq(ex.retired, 2);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);   /* still halted */
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
    cr_assert_eq(ex.retired, 0);
    cr_assert_eq(acc->ops->inject_irq(acc, 0x20), 0);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_IO);
    cr_assert(ex.io.is_write);
    cr_assert_eq(ex.io.port, 0xE9);
    cr_assert_eq(ex.io.size, 1);
    cr_assert_eq(ex.io.data, 'A');
    cr_assert_eq(acc->ops->run(acc, 10, &ex), 0);    /* iret, then jmp $ */
    cr_assert_eq(ex.reason, EMU_EXIT_BUDGET);
    cr_assert_eq(ex.retired, 10);
    cr_assert_eq(eip_now(), ORG + 2);
    teardown_code();
}

Test(accel, in_exit_needs_completion)
{
    /* in al,0x60; hlt */
    static const uint8_t code[] = { 0xE4, 0x60, 0xF4 };
    emu_exit ex;
    emu_regs r;

    setup_code(code, sizeof(code));
    cr_assert_eq(acc->ops->complete_io(acc, 1), -EINVAL);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_IO);
    cr_assert_not(ex.io.is_write);
    cr_assert_eq(ex.io.port, 0x60);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), -EBUSY);
    cr_assert_eq(acc->ops->complete_io(acc, 0x1234), 0);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
    acc->ops->get_regs(acc, &r);
    cr_assert_eq(r.gpr[EMU_EAX] & 0xFFFF, 0x0034);   /* AL only */
    teardown_code();
}

Test(accel, interrupt_window_opens_after_the_sti_shadow)
{
    /* cli; nop; sti; nop; jmp $ */
    static const uint8_t code[] = { 0xFA, 0x90, 0xFB, 0x90, 0xEB, 0xFE };
    emu_exit ex;

    setup_code(code, sizeof(code));
    acc->ops->want_irq_window(acc, true);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_IRQ_WINDOW);
    cr_assert_eq(eip_now(), ORG + 4);
    acc->ops->want_irq_window(acc, false);
    acc->ops->kick(acc);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_KICK);
    cr_assert_eq(ex.retired, 0);
    teardown_code();
}

Test(accel, pending_interrupt_is_taken_right_after_the_sti_shadow)
{
    /* cli; xor bx,bx; sti; nop; cli; hlt -- handler at 0x7D00:
       mov bx,0x1234; iret.  A pending IRQ must be taken after the NOP
       that the STI shadow covers, before the CLI closes the window. */
    static const uint8_t code[] = { 0xFA, 0x31, 0xDB, 0xFB, 0x90, 0xFA,
                                    0xF4 };
    static const uint8_t handler[] = { 0xBB, 0x34, 0x12, 0xCF };
    emu_exit ex;
    emu_regs r;

    setup_code(code, sizeof(code));
    memcpy(ram + 0x7D00, handler, sizeof(handler));
    set_vector(0x20, 0x7D00);
    cr_assert_eq(acc->ops->inject_irq(acc, 0x20), 0);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
    acc->ops->get_regs(acc, &r);
    cr_expect_eq(r.gpr[EMU_EBX] & 0xFFFF, 0x1234, "handler did not run");
    cr_expect_eq(r.eip, ORG + sizeof(code), "halted at %x", r.eip);
    teardown_code();
}

Test(accel, undefined_opcode_is_delivered_with_faulting_eip)
{
    /* nop; ud2   --  #UD handler at 0x7D00: hlt */
    static const uint8_t code[] = { 0x90, 0x0F, 0x0B };
    emu_exit ex;

    setup_code(code, sizeof(code));
    ram[0x7D00] = 0xF4;
    set_vector(6, 0x7D00);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
    cr_assert_eq(eip_now(), 0x7D01);
    /* The pushed IP is the UD2 itself, at ORG + 1 (stack top). */
    cr_assert_eq(ram[ORG - 6] | ram[ORG - 5] << 8, ORG + 1);
    teardown_code();
}

Test(accel, tsc_counts_retired_instructions_from_set_regs)
{
    static const uint8_t code[] = { 0xEB, 0xFE };   /* jmp $ */
    emu_exit ex;
    emu_regs r;

    setup_code(code, sizeof(code));
    acc->ops->get_regs(acc, &r);
    r.tsc = 1000;
    acc->ops->set_regs(acc, &r);
    cr_assert_eq(acc->ops->run(acc, 25, &ex), 0);
    acc->ops->get_regs(acc, &r);
    cr_assert_eq(r.tsc, 1025);
    teardown_code();
}

Test(accel, set_cpuid_replaces_the_table)
{
    /* cpuid; hlt */
    static const uint8_t code[] = { 0x66, 0x31, 0xC0, 0x0F, 0xA2, 0xF4 };
    const emu_cpuid_entry e = { 0, 0, 7, 0x11, 0x22, 0x33 };
    emu_exit ex;
    emu_regs r;

    setup_code(code, sizeof(code));
    cr_assert_eq(acc->ops->set_cpuid(acc, &e, 1), 0);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    acc->ops->get_regs(acc, &r);
    cr_assert_eq(r.gpr[EMU_EAX], 7);
    cr_assert_eq(r.gpr[EMU_EBX], 0x11);
    cr_assert_eq(r.gpr[EMU_EDX], 0x33);
    cr_assert_str_eq(acc->ops->name, "interp");
    teardown_code();
}

/* MMIO device for the attach test: a register that reads back writes. */
static uint64_t mmio_reg;

static uint64_t reg_read(void *opaque, uint64_t off, unsigned size)
{
    (void)opaque;
    (void)size;
    return off == 4 ? mmio_reg : 0;
}

static void reg_write(void *opaque, uint64_t off, unsigned size,
                      uint64_t val)
{
    (void)opaque;
    (void)size;
    if (off == 4) {
        mmio_reg = val + 1;
    }
}

Test(accel, attached_bus_serves_mmio_outside_ram)
{
    /* mov ax,0xF000; mov ds,ax; mov word [4],0x1233; mov bx,[4];
       mov cx,[0x100]; hlt   --  DS base 0xF0000 is outside the RAM */
    static const uint8_t code[] = {
        0xB8, 0x00, 0xF0, 0x8E, 0xD8, 0xC7, 0x06, 0x04, 0x00, 0x33, 0x12,
        0x8B, 0x1E, 0x04, 0x00, 0x8B, 0x0E, 0x00, 0x01, 0xF4 };
    emu_bus *bus = emu_bus_new();
    emu_exit ex;
    emu_regs r;

    setup_code(code, sizeof(code));
    cr_assert_eq(emu_bus_add_mmio(bus, 0xF0000, 0x100, reg_read, reg_write,
                                  NULL), 0);
    emu_interp_attach_bus(acc, bus);
    cr_assert_eq(acc->ops->run(acc, 100, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
    acc->ops->get_regs(acc, &r);
    cr_assert_eq(r.gpr[EMU_EBX] & 0xFFFF, 0x1234);
    cr_assert_eq(r.gpr[EMU_ECX] & 0xFFFF, 0xFFFF);  /* unclaimed */
    teardown_code();
    emu_bus_free(bus);
}
