/*
 * emu/cpu/desc.c -- descriptor decoding, look-up and load checks.
 *
 * Layout from SDM vol. 3, figure 3-8 (segment descriptors) and 5-8
 * (gates); the checks follow the "Operation" sections of MOV, POP, JMP
 * and CALL in SDM vol. 2 for protected mode.
 */
#include "desc.h"

#include "cpu_int.h"

void emu_desc_decode(uint32_t lo, uint32_t hi, emu_desc *d)
{
    d->lo = lo;
    d->hi = hi;
    d->base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000u);
    d->limit = (lo & 0xFFFF) | (hi & 0xF0000u);
    d->attr = (uint16_t)((hi >> 8) & 0xF0FF);
    if (d->attr & EMU_DESC_G) {
        d->limit = (d->limit << 12) | 0xFFF;
    }
    d->gate_sel = (uint16_t)(lo >> 16);
    d->gate_off = (lo & 0xFFFF) | (hi & 0xFFFF0000u);
    d->gate_count = hi & 0x1F;
}

/* Records a failed check: vector with error code sel (RPL cleared). */
static int deny(int vector, uint16_t sel, uint32_t *err)
{
    *err = sel & 0xFFFC;
    return vector;
}

/* Checks of a load into SS: a writable data segment at exactly CPL. */
static int check_stack(uint16_t sel, const emu_desc *d, unsigned cpl,
                       uint32_t *err)
{
    unsigned t = d->attr & (EMU_DESC_S | EMU_DESC_CODE | EMU_DESC_RW);

    if ((sel & 3) != cpl || t != (EMU_DESC_S | EMU_DESC_RW) ||
        emu_desc_dpl(d->attr) != cpl) {
        return deny(EMU_EXC_GP, sel, err);
    }
    if (!(d->attr & EMU_DESC_P)) {
        return deny(EMU_EXC_SS, sel, err);
    }
    return -1;
}

int emu_desc_check_data(unsigned sreg, uint16_t sel, const emu_desc *d,
                        unsigned cpl, uint32_t *err)
{
    uint16_t a = d->attr;
    bool code = a & EMU_DESC_CODE;

    if (sreg == EMU_SS) {
        return check_stack(sel, d, cpl, err);
    }
    if (!(a & EMU_DESC_S) || (code && !(a & EMU_DESC_RW))) {
        return deny(EMU_EXC_GP, sel, err);   /* system or execute-only */
    }
    if ((!code || !(a & EMU_DESC_EC)) &&
        ((sel & 3u) > emu_desc_dpl(a) || cpl > emu_desc_dpl(a))) {
        return deny(EMU_EXC_GP, sel, err);
    }
    if (!(a & EMU_DESC_P)) {
        return deny(EMU_EXC_NP, sel, err);
    }
    return -1;
}

int emu_desc_check_code(uint16_t sel, const emu_desc *d, unsigned cpl,
                        uint32_t *err)
{
    uint16_t a = d->attr;
    unsigned dpl = emu_desc_dpl(a);

    if ((a & (EMU_DESC_S | EMU_DESC_CODE)) != (EMU_DESC_S | EMU_DESC_CODE)) {
        return deny(EMU_EXC_GP, sel, err);
    }
    if ((a & EMU_DESC_EC) ? dpl > cpl
                          : ((sel & 3u) > cpl || dpl != cpl)) {
        return deny(EMU_EXC_GP, sel, err);
    }
    if (!(a & EMU_DESC_P)) {
        return deny(EMU_EXC_NP, sel, err);
    }
    return -1;
}

/* Linear address of the descriptor for sel, or false if out of range. */
static bool desc_addr(const emu_cpu *c, uint16_t sel, uint32_t *lin)
{
    uint32_t base = c->gdtr.base, limit = c->gdtr.limit;

    if (sel & 4) {
        if (!(c->ldtr.attr & EMU_DESC_P) || emu_sel_null(c->ldtr.sel)) {
            return false;
        }
        base = c->ldtr.base;
        limit = c->ldtr.limit;
    }
    if ((uint32_t)(sel | 7u) > limit) {
        return false;
    }
    *lin = base + (sel & 0xFFF8u);
    return true;
}

bool emu_desc_fetch(emu_cpu *c, uint16_t sel, emu_desc *d)
{
    uint32_t lin;

    if (!desc_addr(c, sel, &lin)) {
        return false;
    }
    emu_desc_decode(emu_lin_read_sys(c, lin, 4),
                    emu_lin_read_sys(c, lin + 4, 4), d);
    return true;
}

void emu_desc_fetch_or_gp(emu_cpu *c, uint16_t sel, emu_desc *d,
                          unsigned ext)
{
    if (!emu_desc_fetch(c, sel, d)) {
        emu_raise(c, EMU_EXC_GP, (sel & 0xFFFCu) | ext);
    }
}

void emu_desc_touch(emu_cpu *c, uint16_t sel, emu_desc *d)
{
    uint32_t lin;

    if ((d->attr & EMU_DESC_S) && !(d->attr & EMU_DESC_A) &&
        desc_addr(c, sel, &lin)) {
        d->hi |= 0x100;
        d->attr |= EMU_DESC_A;
        emu_lin_write_sys(c, lin + 4, 4, d->hi);
    }
}

emu_segment emu_desc_segment(uint16_t sel, const emu_desc *d)
{
    return (emu_segment){ sel, d->base, d->limit, d->attr };
}
