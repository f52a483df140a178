/*
 * emu/cpu/cpu.c -- interpreter state, memory access and the run loop.
 *
 * Reset state and real-mode segment loads follow SDM vol. 3, section 9.1;
 * real-mode interrupt delivery follows section 20.1.4.  Linear accesses
 * go through the MMU (mmu.c); the run loop is in run.c.
 */
#include "cpu_int.h"
#include "tcache.h"

#include <errno.h>
#include <string.h>

void emu_cpu_load_seg_real(emu_cpu *c, unsigned sreg, uint16_t sel)
{
    c->seg[sreg].sel = sel;
    c->seg[sreg].base = (uint32_t)sel << 4;
    if (sreg == EMU_CS) {
        c->tc_dirty = true;     /* the decoded block ends with CS */
    }
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
    c->ldtr = (emu_segment){ 0, 0, 0xFFFF, 0x82 };
    c->tr = (emu_segment){ 0, 0, 0xFFFF, 0x8B };
    memset(c->dr, 0, sizeof(c->dr));
    c->dr[6] = 0xFFFF0FF0u;
    c->dr[7] = 0x400;
    c->io_string = false;
    c->io_have = false;
    emu_fpu_init(&c->fpu);
    emu_tlb_flush_all(c);
}

void emu_cpu_init(emu_cpu *c)
{
    memset(c, 0, sizeof(*c));
    atomic_init(&c->kicked, false);
    c->a20_mask = 0xFFFFFFFFu;
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
    emu_tlb_flush_all(c);           /* cached MMIO pages may be RAM now */
    return 0;
}

void emu_cpu_fini(emu_cpu *c)
{
    emu_tcache_free(c);
}

void emu_cpu_phys_written(emu_cpu *c, uint64_t pa, uint64_t len)
{
    while (c->tc != NULL && len > 0) {
        uint64_t n = 4096 - (pa & 0xFFF);
        n = n < len ? n : len;
        emu_tcache_write(c, pa, (unsigned)n);
        pa += n;
        len -= n;
    }
}

/* Host pointer for [pa, pa+size) when it lies inside one RAM slot. */
static uint8_t *phys_ptr(emu_cpu *c, uint64_t pa, unsigned size)
{
    return emu_phys_ptr(c, pa, size);
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
    unsigned first = 4096 - (unsigned)(pa & 0xFFF);

    if (c->tc != NULL) {            /* writes into decoded code */
        emu_tcache_write(c, pa, first < size ? first : size);
        if (first < size) {
            emu_tcache_write(c, pa + first, size - first);
        }
    }

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

int emu_cpu_complete_io(emu_cpu *c, uint64_t data)
{
    if (!c->io_pending) {
        return -EINVAL;
    }
    if (c->io_string) {         /* INS stores it when re-executed */
        c->io_value = (uint32_t)data;
        c->io_have = true;
        c->io_string = false;
    } else {
        emu_reg_set(c, EMU_EAX, c->io_reg_size, (uint32_t)data);
    }
    c->io_pending = false;
    return 0;
}

void emu_cpu_default_cpuid(emu_cpu *c)
{
    /* "GenuineIntel" as EBX, EDX, ECX; family 6, model 3, stepping 3. */
    static const emu_cpuid_entry table[] = {
        { 0, 0, 1, 0x756E6547u, 0x6C65746Eu, 0x49656E69u },
        { 1, 0, 0x633, 0, 0, EMU_CPUID_FPU | EMU_CPUID_TSC |
                             EMU_CPUID_CX8 | EMU_CPUID_CMOV |
                             EMU_CPUID_FXSR },
    };

    memcpy(c->cpuid, table, sizeof(table));
    c->ncpuid = sizeof(table) / sizeof(table[0]);
}
