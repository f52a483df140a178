/*
 * emu/cpu/cpu.c -- interpreter state, memory access and the run loop.
 *
 * Reset state and real-mode segment loads follow SDM vol. 3, section 9.1;
 * real-mode interrupt delivery follows section 20.1.4.  The loop fetches,
 * decodes and executes one instruction at a time, counting retired
 * instructions, which also drive the TSC (no host clock).
 */
#include "cpu_int.h"

#include <errno.h>
#include <string.h>

void emu_cpu_load_seg_real(emu_cpu *c, unsigned sreg, uint16_t sel)
{
    c->seg[sreg].sel = sel;
    c->seg[sreg].base = (uint32_t)sel << 4;
    /* limit and attributes are kept, as on real hardware */
}

void emu_cpu_reset(emu_cpu *c)
{
    memset(c->gpr, 0, sizeof(c->gpr));
    c->gpr[EMU_EDX] = 0x600;           /* family 6 signature */
    c->eip = 0xFFF0;
    emu_cpu_set_flags(c, 0x2);
    for (unsigned s = 0; s < EMU_NSEG; s++) {
        c->seg[s] = (emu_segment){ 0, 0, 0xFFFF, 0x93 };
    }
    c->seg[EMU_CS] = (emu_segment){ 0xF000, 0xFFFF0000u, 0xFFFF, 0x9B };
    c->gdtr = (emu_dtable){ 0, 0xFFFF };
    c->idtr = (emu_dtable){ 0, 0x3FF };
    memset(c->cr, 0, sizeof(c->cr));
    c->cr[0] = 0x60000010u;            /* CD, NW, ET */
    c->halted = false;
    c->shadow = false;
    c->io_pending = false;
    c->irq_vector = -1;
}

void emu_cpu_init(emu_cpu *c)
{
    memset(c, 0, sizeof(*c));
    atomic_init(&c->kicked, false);
    emu_cpu_default_cpuid(c);
    emu_cpu_reset(c);
}

int emu_cpu_map_ram(emu_cpu *c, uint64_t gpa, uint64_t size, void *host)
{
    if (size == 0 || gpa + size < gpa) {
        return -EINVAL;
    }
    for (unsigned i = 0; i < c->nslots; i++) {
        if (gpa < c->slot[i].gpa + c->slot[i].size &&
            c->slot[i].gpa < gpa + size) {
            return -EINVAL;
        }
    }
    if (c->nslots == EMU_CPU_MAX_SLOTS) {
        return -ENOSPC;
    }
    c->slot[c->nslots++] = (emu_cpu_slot){ gpa, size, host };
    return 0;
}

uint32_t emu_reg_get(const emu_cpu *c, unsigned r, unsigned size)
{
    if (size == 1) {
        return r < 4 ? c->gpr[r] & 0xFF : (c->gpr[r - 4] >> 8) & 0xFF;
    }
    return size == 2 ? c->gpr[r] & 0xFFFF : c->gpr[r];
}

void emu_reg_set(emu_cpu *c, unsigned r, unsigned size, uint32_t v)
{
    if (size == 1 && r < 4) {
        c->gpr[r] = (c->gpr[r] & ~0xFFu) | (v & 0xFF);
    } else if (size == 1) {
        c->gpr[r - 4] = (c->gpr[r - 4] & ~0xFF00u) | ((v & 0xFF) << 8);
    } else if (size == 2) {
        c->gpr[r] = (c->gpr[r] & ~0xFFFFu) | (v & 0xFFFF);
    } else {
        c->gpr[r] = v;
    }
}

/* Host pointer for [pa, pa+size) when it lies inside one RAM slot. */
static uint8_t *phys_ptr(emu_cpu *c, uint64_t pa, unsigned size)
{
    for (unsigned i = 0; i < c->nslots; i++) {
        const emu_cpu_slot *s = &c->slot[i];
        if (pa >= s->gpa && pa - s->gpa + size <= s->size) {
            return s->host + (pa - s->gpa);
        }
    }
    return NULL;
}

static uint8_t phys_read8(emu_cpu *c, uint64_t pa)
{
    uint8_t *p = phys_ptr(c, pa, 1);

    if (p != NULL) {
        return *p;
    }
    return c->bus ? (uint8_t)emu_bus_mem_read(c->bus, pa, 1) : 0xFF;
}

uint32_t emu_phys_read(emu_cpu *c, uint64_t pa, unsigned size)
{
    uint8_t *p = phys_ptr(c, pa, size);
    uint32_t v = 0;

    if (p == NULL && c->bus != NULL && phys_ptr(c, pa, 1) == NULL) {
        return (uint32_t)emu_bus_mem_read(c->bus, pa, size);
    }
    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)(p ? p[i] : phys_read8(c, pa + i)) << (8 * i);
    }
    return v;
}

void emu_phys_write(emu_cpu *c, uint64_t pa, unsigned size, uint32_t v)
{
    uint8_t *p = phys_ptr(c, pa, size);

    if (p == NULL && c->bus != NULL && phys_ptr(c, pa, 1) == NULL) {
        emu_bus_mem_write(c->bus, pa, size, v);
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t *q = p ? p + i : phys_ptr(c, pa + i, 1);
        if (q != NULL) {
            *q = (uint8_t)(v >> (8 * i));
        } else if (c->bus != NULL) {
            emu_bus_mem_write(c->bus, pa + i, 1, (v >> (8 * i)) & 0xFF);
        }
    }
}

/* Linear address to physical: identity until paging exists. */
static uint64_t lin_to_phys(const emu_cpu *c, uint32_t lin)
{
    (void)c;
    return lin;
}

uint32_t emu_mem_read(emu_cpu *c, unsigned seg, uint32_t off,
                      unsigned size)
{
    return emu_phys_read(c, lin_to_phys(c, c->seg[seg].base + off), size);
}

void emu_mem_write(emu_cpu *c, unsigned seg, uint32_t off, unsigned size,
                   uint32_t v)
{
    emu_phys_write(c, lin_to_phys(c, c->seg[seg].base + off), size, v);
}

/* Stack-pointer width: 4 when SS is a 32-bit (B=1) segment. */
static unsigned stack_size(const emu_cpu *c)
{
    return (c->seg[EMU_SS].attr & EMU_SEG_DB) ? 4 : 2;
}

void emu_push(emu_cpu *c, uint32_t v, unsigned size)
{
    unsigned ss = stack_size(c);
    uint32_t sp = emu_reg_get(c, EMU_ESP, ss) - size;

    sp &= emu_size_mask(ss);
    emu_mem_write(c, EMU_SS, sp, size, v);
    emu_reg_set(c, EMU_ESP, ss, sp);
}

uint32_t emu_pop(emu_cpu *c, unsigned size)
{
    unsigned ss = stack_size(c);
    uint32_t sp = emu_reg_get(c, EMU_ESP, ss);
    uint32_t v = emu_mem_read(c, EMU_SS, sp, size);

    emu_reg_set(c, EMU_ESP, ss, sp + size);
    return v;
}

void emu_interrupt_real(emu_cpu *c, uint8_t vector, uint32_t ret_eip)
{
    uint32_t ivt = c->idtr.base + vector * 4u;
    uint32_t ip = emu_phys_read(c, ivt, 2);
    uint16_t cs = (uint16_t)emu_phys_read(c, ivt + 2, 2);

    emu_push(c, emu_cpu_get_flags(c), 2);
    emu_push(c, c->seg[EMU_CS].sel, 2);
    emu_push(c, ret_eip, 2);
    c->eflags &= ~(EMU_FL_IF | EMU_FL_TF | 0x40000u);
    emu_cpu_load_seg_real(c, EMU_CS, cs);
    c->eip = ip;
}

/* Fetches and decodes the instruction at CS:EIP. */
static int fetch_decode(emu_cpu *c, emu_insn *in)
{
    uint8_t buf[EMU_INSN_MAX];
    bool code32 = c->seg[EMU_CS].attr & EMU_SEG_DB;
    const uint8_t *p = phys_ptr(c, lin_to_phys(c, c->seg[EMU_CS].base +
                                                  c->eip), EMU_INSN_MAX);

    if (p != NULL) {        /* common case: all 15 bytes in one RAM slot */
        return emu_decode(p, EMU_INSN_MAX, code32, in);
    }
    for (unsigned i = 0; i < EMU_INSN_MAX; i++) {
        buf[i] = (uint8_t)emu_mem_read(c, EMU_CS, c->eip + i, 1);
    }
    return emu_decode(buf, sizeof(buf), code32, in);
}

/* Delivers a queued external interrupt when IF and no shadow allow it. */
static bool take_irq(emu_cpu *c)
{
    if (c->irq_vector < 0 || c->shadow || !(c->eflags & EMU_FL_IF)) {
        return false;
    }
    emu_interrupt_real(c, (uint8_t)c->irq_vector, c->eip);
    c->irq_vector = -1;
    c->halted = false;
    return true;
}

/* Executes one instruction; returns an enum emu_exec_result. */
static int step(emu_cpu *c)
{
    emu_insn in;
    emu_ctx x = { c, &in, 0, 0 };
    int r;

    c->shadow = false;
    if (fetch_decode(c, &in) < 0) {
        x.fault = EMU_EXC_UD;
        r = EMU_EXEC_FAULT;
    } else {
        x.next_eip = (c->eip + in.len) &
                     emu_size_mask(c->seg[EMU_CS].attr & EMU_SEG_DB ? 4 : 2);
        r = emu_exec(&x);
    }
    if (r == EMU_EXEC_FAULT) {
        emu_interrupt_real(c, (uint8_t)x.fault, c->eip);
        return EMU_EXEC_OK;
    }
    c->icount++;
    return r;
}

/* Checks for conditions that end run() before the next instruction. */
static bool run_should_stop(emu_cpu *c, emu_exit *ex, uint64_t start,
                            uint64_t budget)
{
    if (atomic_exchange(&c->kicked, false)) {
        ex->reason = EMU_EXIT_KICK;
    } else if (c->want_window && (c->eflags & EMU_FL_IF) && !c->shadow) {
        ex->reason = EMU_EXIT_IRQ_WINDOW;
    } else if (c->icount - start >= budget) {
        ex->reason = EMU_EXIT_BUDGET;
    } else {
        return false;
    }
    return true;
}

int emu_cpu_run(emu_cpu *c, uint64_t budget, emu_exit *ex)
{
    uint64_t start = c->icount;

    if (c->io_pending) {
        return -EBUSY;
    }
    memset(ex, 0, sizeof(*ex));
    c->exit = ex;
    for (;;) {
        take_irq(c);
        if (c->halted) {
            ex->reason = EMU_EXIT_HLT;
            break;
        }
        if (run_should_stop(c, ex, start, budget)) {
            break;
        }
        int r = step(c);
        if (r == EMU_EXEC_HALT) {
            c->halted = true;
        } else if (r == EMU_EXEC_EXIT) {
            break;
        }
    }
    ex->retired = c->icount - start;
    c->exit = NULL;
    return 0;
}

int emu_cpu_complete_io(emu_cpu *c, uint64_t data)
{
    if (!c->io_pending) {
        return -EINVAL;
    }
    emu_reg_set(c, EMU_EAX, c->io_reg_size, (uint32_t)data);
    c->io_pending = false;
    return 0;
}

void emu_cpu_default_cpuid(emu_cpu *c)
{
    /* "GenuineIntel" as EBX, EDX, ECX; family 6, model 3, stepping 3. */
    static const emu_cpuid_entry table[] = {
        { 0, 0, 1, 0x756E6547u, 0x6C65746Eu, 0x49656E69u },
        { 1, 0, 0x633, 0, 0, EMU_CPUID_TSC | EMU_CPUID_CX8 |
                             EMU_CPUID_CMOV | EMU_CPUID_FXSR },
    };

    memcpy(c->cpuid, table, sizeof(table));
    c->ncpuid = sizeof(table) / sizeof(table[0]);
}
