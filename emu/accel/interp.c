/*
 * emu/accel/interp.c -- the software interpreter as an accelerator backend.
 *
 * Wraps emu_cpu (emu/cpu) in the emu_accel vtable so that the platform
 * drives it exactly as it would drive KVM or WHPX.  RAM slots are mapped
 * into the CPU; port I/O comes back as exits; MMIO is served in-process
 * through an attached bus (emu_interp_attach_bus).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu/accel/accel.h"
#include "emu/cpu/cpu.h"

typedef struct interp {
    emu_accel base;   /* must be first */
    emu_cpu cpu;      /* interpreter state */
} interp;

static emu_cpu *cpu_of(emu_accel *a)
{
    return &((interp *)a)->cpu;
}

static void interp_free(emu_accel *a)
{
    emu_cpu_fini(cpu_of(a));
    free(a);
}

static int interp_map_ram(emu_accel *a, uint64_t gpa, uint64_t size,
                          void *host)
{
    return emu_cpu_map_ram(cpu_of(a), gpa, size, host);
}

static int interp_get_regs(emu_accel *a, emu_regs *r)
{
    emu_cpu *c = cpu_of(a);

    memcpy(r->gpr, c->gpr, sizeof(r->gpr));
    r->eip = c->eip;
    r->eflags = emu_cpu_get_flags(c);
    memcpy(r->seg, c->seg, sizeof(r->seg));
    r->gdtr = c->gdtr;
    r->idtr = c->idtr;
    memcpy(r->cr, c->cr, sizeof(r->cr));
    r->tsc = c->icount + (uint64_t)c->tsc_offset;
    return 0;
}

static int interp_set_regs(emu_accel *a, const emu_regs *r)
{
    emu_cpu *c = cpu_of(a);

    memcpy(c->gpr, r->gpr, sizeof(c->gpr));
    c->eip = r->eip;
    emu_cpu_set_flags(c, r->eflags);
    memcpy(c->seg, r->seg, sizeof(c->seg));
    c->gdtr = r->gdtr;
    c->idtr = r->idtr;
    memcpy(c->cr, r->cr, sizeof(c->cr));
    c->tsc_offset = (int64_t)(r->tsc - c->icount);
    return 0;
}

static int interp_set_cpuid(emu_accel *a, const emu_cpuid_entry *e,
                            size_t n)
{
    emu_cpu *c = cpu_of(a);

    if (n > EMU_CPU_MAX_CPUID) {
        return -E2BIG;
    }
    memcpy(c->cpuid, e, n * sizeof(*e));
    c->ncpuid = (unsigned)n;
    return 0;
}

static int interp_run(emu_accel *a, uint64_t budget, emu_exit *ex)
{
    return emu_cpu_run(cpu_of(a), budget, ex);
}

static int interp_complete_io(emu_accel *a, uint64_t data)
{
    return emu_cpu_complete_io(cpu_of(a), data);
}

static int interp_inject_irq(emu_accel *a, uint8_t vector)
{
    emu_cpu *c = cpu_of(a);

    if (c->irq_vector >= 0) {
        return -EBUSY;      /* one pending vector, like KVM_INTERRUPT */
    }
    c->irq_vector = vector;
    return 0;
}

static void interp_want_irq_window(emu_accel *a, bool on)
{
    cpu_of(a)->want_window = on;
}

static void interp_kick(emu_accel *a)
{
    atomic_store(&cpu_of(a)->kicked, true);
}

static const emu_accel_ops interp_ops = {
    .name = "interp",
    .free = interp_free,
    .map_ram = interp_map_ram,
    .get_regs = interp_get_regs,
    .set_regs = interp_set_regs,
    .set_cpuid = interp_set_cpuid,
    .run = interp_run,
    .complete_io = interp_complete_io,
    .inject_irq = interp_inject_irq,
    .want_irq_window = interp_want_irq_window,
    .kick = interp_kick,
};

void emu_interp_attach_bus(emu_accel *a, struct emu_bus *bus)
{
    cpu_of(a)->bus = bus;
}

void emu_interp_set_a20(emu_accel *a, bool on)
{
    emu_cpu_set_a20(cpu_of(a), on);
}

void emu_interp_phys_written(emu_accel *a, uint64_t gpa, uint64_t len)
{
    emu_cpu_phys_written(cpu_of(a), gpa, len);
}

emu_accel *emu_interp_new(void)
{
    interp *it = calloc(1, sizeof(*it));

    if (it == NULL) {
        return NULL;
    }
    it->base.ops = &interp_ops;
    emu_cpu_init(&it->cpu);
    return &it->base;
}
