/*
 * emu/machine/pc_run.c -- the PC's run loop: virtual time, exits,
 * interrupt injection, idle skipping and boot-stage detection.
 *
 * Virtual time is the retired-instruction count times cfg.ns_per_insn.
 * Each run() gets a budget that ends at the next timer deadline, so a
 * timer fires at the exact instruction its deadline falls on whatever
 * the host speed; the clock moves at every exit, before the exit is
 * served, so that a device read sees the time of its instruction.  A HLT
 * with IF=1 jumps straight to the next deadline (the TSC follows); a HLT
 * that nothing can wake stops the guest.  PIC interrupts are injected
 * the way a KVM user does it: ask for an interrupt-window exit while
 * INTR is high, then acknowledge the PIC (INTA) and inject the vector.
 */
#include "pc_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Instructions that fit before the next deadline (at least one). */
static uint64_t pc_budget(const emu_pc *pc, uint64_t until_ns)
{
    uint64_t now = emu_vclock_now(&pc->vc);
    uint64_t end = emu_vclock_next_deadline(&pc->vc);
    uint64_t ns = pc->cfg.ns_per_insn, n;

    if (pc->watching) {
        return 1;
    }
    end = end < until_ns ? end : until_ns;
    n = end > now ? (end - now + ns - 1) / ns : 1;
    return n > PC_MAX_BUDGET ? PC_MAX_BUDGET : n;
}

/* Requests the interrupt window exactly while the PIC asserts INTR. */
static void pc_update_window(emu_pc *pc)
{
    bool want = emu_pic_pending(pc->pic);

    if (want != pc->want_window) {
        pc->accel->ops->want_irq_window(pc->accel, want);
        pc->want_window = want;
    }
}

/* INTA and injection; the CPU is known to accept an interrupt now. */
static void pc_inject(emu_pc *pc)
{
    if (!emu_pic_pending(pc->pic)) {
        return;             /* the request went away in the meantime */
    }
    uint8_t vec = emu_pic_ack(pc->pic);
    pc->accel->ops->inject_irq(pc->accel, vec);
    pc->accel->ops->want_irq_window(pc->accel, false);
    pc->want_window = false;
}

/* Moves virtual time forward by n instructions' worth. */
static void pc_advance(emu_pc *pc, uint64_t insns)
{
    pc->retired += insns;
    emu_vclock_advance(&pc->vc, pc->vc.now_ns +
                                insns * pc->cfg.ns_per_insn);
}

/* HLT: wake on a pending interrupt, or sleep until the next deadline. */
static void pc_halted(emu_pc *pc, uint64_t until_ns)
{
    emu_regs r;
    uint64_t next, now = pc->vc.now_ns;

    pc->accel->ops->get_regs(pc->accel, &r);
    if (!(r.eflags & EMU_FL_IF)) {
        pc_stop(pc, "guest halted with interrupts disabled at "
                "%04x:%08" PRIx32, r.seg[EMU_CS].sel, r.eip);
        return;
    }
    if (emu_pic_pending(pc->pic)) {
        pc_inject(pc);
        return;
    }
    next = emu_vclock_next_deadline(&pc->vc);
    if (next == EMU_VCLOCK_NEVER) {
        pc_stop(pc, "guest halted with no timer armed at "
                "%04x:%08" PRIx32, r.seg[EMU_CS].sel, r.eip);
        return;
    }
    next = next < until_ns ? next : until_ns;
    if (next > now) {
        r.tsc += (next - now) / pc->cfg.ns_per_insn;
        pc->accel->ops->set_regs(pc->accel, &r);
        emu_vclock_advance(&pc->vc, next);
    }
}

/* Port I/O through the bus; INs are completed at once. */
static void pc_port_io(emu_pc *pc, const emu_exit *ex)
{
    if (ex->io.is_write) {
        emu_bus_pio_write(pc->bus, ex->io.port, ex->io.size, ex->io.data);
        if (ex->io.port == 0x402) {
            pc_flush_debugcon(pc);
        }
        return;
    }
    pc->accel->ops->complete_io(pc->accel,
        emu_bus_pio_read(pc->bus, ex->io.port, ex->io.size));
}

/* MMIO exits (hardware backends; the interpreter serves MMIO itself). */
static void pc_mmio(emu_pc *pc, const emu_exit *ex)
{
    if (ex->mmio.is_write) {
        emu_bus_mem_write(pc->bus, ex->mmio.addr, ex->mmio.size,
                          ex->mmio.data);
        return;
    }
    pc->accel->ops->complete_io(pc->accel,
        emu_bus_mem_read(pc->bus, ex->mmio.addr, ex->mmio.size));
}

void emu_pc_describe_cpu(emu_pc *pc, char *buf, size_t len)
{
    emu_regs r;
    char bytes[3 * 12 + 1] = "";
    uint32_t lin;

    pc->accel->ops->get_regs(pc->accel, &r);
    lin = r.seg[EMU_CS].base + r.eip;
    for (unsigned i = 0; i < 12; i++) {
        unsigned v = (unsigned)emu_bus_mem_read(pc->bus, lin + i, 1);
        snprintf(bytes + 3 * i, 4, " %02x", v & 0xFF);
    }
    snprintf(buf, len, "at %04x:%08" PRIx32 " (%s, linear %08" PRIx32
             "%s), bytes%s", r.seg[EMU_CS].sel, r.eip,
             !(r.cr[0] & 1u) ? "real mode" :
             (r.seg[EMU_CS].attr & EMU_SEG_DB) ? "32-bit" : "16-bit",
             lin, (r.cr[0] & 0x80000000u) ? ", paged" : "", bytes);
}

/* Stops the guest with reason plus where the CPU is and the bytes there
 * (as fetched without paging). */
static void pc_stop_at(emu_pc *pc, const char *reason)
{
    char where[160];

    emu_pc_describe_cpu(pc, where, sizeof(where));
    pc_stop(pc, "%s %s", reason, where);
}

static void pc_handle_exit(emu_pc *pc, const emu_exit *ex, uint64_t until)
{
    switch (ex->reason) {
    case EMU_EXIT_IO:
        pc_port_io(pc, ex);
        break;
    case EMU_EXIT_MMIO:
        pc_mmio(pc, ex);
        break;
    case EMU_EXIT_HLT:
        pc_halted(pc, until);
        break;
    case EMU_EXIT_IRQ_WINDOW:
        pc_inject(pc);
        break;
    case EMU_EXIT_SHUTDOWN:
        pc_stop_at(pc, "triple fault: the CPU shut down");
        break;
    default:
        break;              /* budget or kick: nothing to do */
    }
}

/* Boot-sector watch: once an MBR signature sits at 0x7DFE, single-step
 * until CS:IP reaches 0000:7C00 in real mode (or give up). */
static void pc_watch_boot(emu_pc *pc, const emu_regs *r)
{
    const uint8_t *sig = pc->ram + PC_BOOT_ADDR + 510;

    if (!pc->watching) {
        pc->watching = sig[0] == 0x55 && sig[1] == 0xAA &&
                       pc->watch_steps < PC_WATCH_LIMIT;
        return;
    }
    if (!(r->cr[0] & 1u) && r->seg[EMU_CS].base + r->eip == PC_BOOT_ADDR) {
        pc->watching = false;
        pc_stage(pc, EMU_PC_STAGE_BOOTSECTOR, "at %04x:%04" PRIx32,
                 r->seg[EMU_CS].sel, r->eip);
        return;
    }
    if (++pc->watch_steps >= PC_WATCH_LIMIT) {
        pc->watching = false;
    }
}

/* Looks at the register state for the stages still to be seen. */
static void pc_check_stages(emu_pc *pc)
{
    const unsigned all = (1u << EMU_PC_STAGE_COUNT) - 1;
    emu_regs r;

    if ((pc->stages | (1u << EMU_PC_STAGE_OUTPUT)) == all) {
        return;
    }
    pc->accel->ops->get_regs(pc->accel, &r);
    if (r.cr[0] & 1u) {
        pc_stage(pc, EMU_PC_STAGE_PROTECTED, "at %04x:%08" PRIx32,
                 r.seg[EMU_CS].sel, r.eip);
    }
    if (r.cr[0] & 0x80000000u) {
        pc_stage(pc, EMU_PC_STAGE_PAGING, "at %04x:%08" PRIx32,
                 r.seg[EMU_CS].sel, r.eip);
    }
    if (!emu_pc_stage_seen(pc, EMU_PC_STAGE_BOOTSECTOR)) {
        pc_watch_boot(pc, &r);
    }
}

/* One run() of the accelerator and the handling of its exit. */
static void pc_step(emu_pc *pc, uint64_t until_ns)
{
    emu_exit ex;
    int r;

    pc_update_window(pc);
    r = pc->accel->ops->run(pc->accel, pc_budget(pc, until_ns), &ex);
    if (r < 0) {
        pc_stop(pc, "the %s accelerator failed: %s",
                pc->accel->ops->name, strerror(-r));
        return;
    }
    pc_advance(pc, ex.retired);
    pc_handle_exit(pc, &ex, until_ns);
    pc_check_stages(pc);
    if (pc->reset_pending && !pc->stopped) {
        pc_reset(pc);
    }
}

int emu_pc_run(emu_pc *pc, uint64_t until_ns)
{
    pc_stage(pc, EMU_PC_STAGE_FIRMWARE, "%s, %zu bytes", pc->fw_name,
             pc->fw_size);
    while (!pc->stopped) {
        if (pc->stop_requested) {
            pc->stop_requested = false;
            return EMU_PC_REQUESTED;
        }
        if (emu_vclock_now(&pc->vc) >= until_ns) {
            return EMU_PC_DEADLINE;
        }
        pc_step(pc, until_ns);
    }
    return EMU_PC_STOPPED;
}
