/*
 * emu/cpu/exec_legacy.c -- the remaining one-byte instructions.
 *
 * Decimal adjust (DAA, DAS, AAA, AAS, AAM, AAD), BOUND, ENTER, the string
 * port instructions INS/OUTS (one element per port exit, REP re-executes
 * the instruction), and the I/O permission check of IN/OUT/INS/OUTS
 * (IOPL, then the TSS I/O bitmap; SDM vol. 1, 19.5).
 */
#include "exec_int.h"
#include "seg_int.h"

/* Arithmetic flags of a BCD result in AL plus CF/AF. */
static void bcd_flags(emu_cpu *c, uint32_t al, bool cf, bool af)
{
    set_arith(c, emu_flags_zsp(al & 0xFF, 1) | (cf ? EMU_FL_CF : 0) |
                 (af ? EMU_FL_AF : 0));
}

/* DAA (27) and DAS (2F). */
static int exec_daa_das(emu_ctx *x)
{
    emu_cpu *c = x->c;
    uint32_t f = emu_cpu_get_flags(c), al = c->gpr[EMU_EAX] & 0xFF;
    uint32_t old = al;
    bool sub = x->in->op == 0x2F, cf = false, af = false;

    if ((al & 0xF) > 9 || (f & EMU_FL_AF)) {
        cf = (f & EMU_FL_CF) || (sub ? al < 6 : al + 6 > 0xFF);
        al = (sub ? al - 6 : al + 6) & 0xFF;
        af = true;
    }
    if (old > 0x99 || (f & EMU_FL_CF)) {
        al = (sub ? al - 0x60 : al + 0x60) & 0xFF;
        cf = true;
    }
    emu_reg_set(c, EMU_EAX, 1, al);
    bcd_flags(c, al, cf, af);
    return EMU_EXEC_OK;
}

/* AAA (37) and AAS (3F). */
static int exec_aaa_aas(emu_ctx *x)
{
    emu_cpu *c = x->c;
    uint32_t f = emu_cpu_get_flags(c), ax = c->gpr[EMU_EAX] & 0xFFFF;
    bool adj = (ax & 0xF) > 9 || (f & EMU_FL_AF);

    if (adj && x->in->op == 0x37) {
        ax += 0x106;
    } else if (adj) {
        ax = ((ax - 6) & 0xFF) | ((ax - 0x100) & 0xFF00);
    }
    ax &= 0xFF0F;
    emu_reg_set(c, EMU_EAX, 2, ax);
    bcd_flags(c, ax, adj, adj);
    return EMU_EXEC_OK;
}

/* AAM imm8 (D4) and AAD imm8 (D5). */
static int exec_aam_aad(emu_ctx *x)
{
    emu_cpu *c = x->c;
    uint32_t base = x->in->imm & 0xFF, al = c->gpr[EMU_EAX] & 0xFF;
    uint32_t ah = (c->gpr[EMU_EAX] >> 8) & 0xFF;

    if (x->in->op == 0xD4) {
        if (base == 0) {
            x->fault = EMU_EXC_DE;
            return EMU_EXEC_FAULT;
        }
        ah = al / base;
        al %= base;
    } else {
        al = (al + ah * base) & 0xFF;
        ah = 0;
    }
    emu_reg_set(c, EMU_EAX, 2, (ah << 8) | al);
    bcd_flags(c, al, false, false);
    return EMU_EXEC_OK;
}

/* BOUND r, m (62): #BR unless lower <= index <= upper (signed). */
static int exec_bound(emu_ctx *x)
{
    unsigned size = x->in->opsize;
    int32_t idx, lo, hi;

    if (x->in->mod == 3) {
        x->fault = EMU_EXC_UD;
        return EMU_EXEC_FAULT;
    }
    idx = sext(emu_reg_get(x->c, x->in->reg, size), size);
    lo = sext(emu_mem_read(x->c, ea_seg(x), ea_off(x), size), size);
    hi = sext(emu_mem_read(x->c, ea_seg(x), ea_off(x) + size, size), size);
    if (idx < lo || idx > hi) {
        x->fault = EMU_EXC_BR;
        return EMU_EXEC_FAULT;
    }
    return EMU_EXEC_OK;
}

/* ENTER imm16, imm8 (C8): frame with 'level' display pointers. */
static int exec_enter(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = x->in->opsize, level = x->in->imm2 & 31;
    unsigned ss = (c->seg[EMU_SS].attr & EMU_SEG_DB) ? 4 : 2;
    uint32_t frame, bp = emu_reg_get(c, EMU_EBP, ss);

    emu_push(c, emu_reg_get(c, EMU_EBP, size), size);
    frame = emu_reg_get(c, EMU_ESP, ss);
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            bp = (bp - size) & emu_size_mask(ss);
            emu_push(c, emu_mem_read(c, EMU_SS, bp, size), size);
        }
        emu_push(c, frame, size);
    }
    emu_reg_set(c, EMU_EBP, size, frame);
    emu_reg_set(c, EMU_ESP, ss,
                emu_reg_get(c, EMU_ESP, ss) - (x->in->imm & 0xFFFF));
    return EMU_EXEC_OK;
}

/* True when the TSS I/O bitmap allows size bytes at port. */
static bool io_bitmap_allows(emu_cpu *c, uint16_t port, unsigned size)
{
    uint32_t base, bits;

    if ((c->tr.attr & 0x1D) != EMU_SYS_TSS32 || c->tr.limit < 0x67) {
        return false;                /* no 32-bit TSS: no bitmap */
    }
    base = emu_lin_read_sys(c, c->tr.base + 0x66, 2) + port / 8u;
    if (base + 1 > c->tr.limit) {
        return false;
    }
    bits = emu_lin_read_sys(c, c->tr.base + base, 2) >> (port & 7);
    return (bits & ((1u << size) - 1)) == 0;
}

void emu_check_io(emu_cpu *c, uint16_t port, unsigned size)
{
    if (!(c->cr[0] & EMU_CR0_PE) ||
        (emu_cpu_cpl(c) <= ((c->eflags & EMU_FL_IOPL) >> 12) &&
         !(c->eflags & EMU_FL_VM))) {
        return;
    }
    if (!io_bitmap_allows(c, port, size)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
}

/* Index-register step of a string element (DF decides the sign). */
static void str_advance(emu_cpu *c, unsigned r, unsigned size, unsigned as)
{
    uint32_t d = (c->eflags & EMU_FL_DF) ? (uint32_t)-size : size;

    emu_reg_set(c, r, as, emu_reg_get(c, r, as) + d);
}

/* Fills the port exit of an INS/OUTS element. */
static int port_exit(emu_ctx *x, unsigned size, bool wr, uint32_t v)
{
    emu_exit *ex = x->c->exit;

    ex->reason = EMU_EXIT_IO;
    ex->io.port = (uint16_t)x->c->gpr[EMU_EDX];
    ex->io.size = (uint8_t)size;
    ex->io.is_write = wr;
    ex->io.data = v;
    return EMU_EXEC_EXIT;
}

/*
 * INS (6C, 6D): the first execution requests the port read; after
 * complete_io (c->io_have) the re-executed instruction stores the value
 * and, under REP, requests the next element.  An interrupt cannot slip in
 * between (the exit sets the interrupt shadow).
 */
static int exec_ins(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = op_size_bw(x), as = x->in->adsize;
    bool rep = x->in->rep != 0;

    if (rep && emu_reg_get(c, EMU_ECX, as) == 0) {
        return EMU_EXEC_OK;
    }
    emu_check_io(c, (uint16_t)c->gpr[EMU_EDX], size);
    if (c->io_have) {
        emu_mem_write(c, EMU_ES, emu_reg_get(c, EMU_EDI, as), size,
                      c->io_value);
        c->io_have = false;
        str_advance(c, EMU_EDI, size, as);
        if (rep) {
            emu_reg_set(c, EMU_ECX, as, emu_reg_get(c, EMU_ECX, as) - 1);
        }
        if (!rep || emu_reg_get(c, EMU_ECX, as) == 0) {
            return EMU_EXEC_OK;
        }
    }
    c->io_pending = true;
    c->io_string = true;
    c->io_reg_size = (uint8_t)size;
    c->shadow = true;
    x->next_eip = c->eip;            /* re-execute to store the value */
    return port_exit(x, size, false, 0);
}

/* OUTS (6E, 6F): one element per exit; REP re-executes until eCX = 0. */
static int exec_outs(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = op_size_bw(x), as = x->in->adsize;
    bool rep = x->in->rep != 0;
    uint32_t v;

    if (rep && emu_reg_get(c, EMU_ECX, as) == 0) {
        return EMU_EXEC_OK;
    }
    emu_check_io(c, (uint16_t)c->gpr[EMU_EDX], size);
    v = emu_mem_read(c, ea_seg(x), emu_reg_get(c, EMU_ESI, as), size);
    str_advance(c, EMU_ESI, size, as);
    if (rep) {
        emu_reg_set(c, EMU_ECX, as, emu_reg_get(c, EMU_ECX, as) - 1);
        if (emu_reg_get(c, EMU_ECX, as) != 0) {
            x->next_eip = c->eip;
        }
    }
    return port_exit(x, size, true, v);
}

int emu_exec_legacy(emu_ctx *x)
{
    switch (x->in->op) {
    case 0x27: case 0x2F: return exec_daa_das(x);
    case 0x37: case 0x3F: return exec_aaa_aas(x);
    case 0xD4: case 0xD5: return exec_aam_aad(x);
    case 0x62: return exec_bound(x);
    case 0xC8: return exec_enter(x);
    case 0x6C: case 0x6D: return exec_ins(x);
    case 0x6E: case 0x6F: return exec_outs(x);
    default:
        return -1;
    }
}
