/*
 * emu/cpu/flags.c -- lazy arithmetic flags and the two-operand ALU.
 *
 * Flag-setting instructions record their operands and result in cpu->lf;
 * CF, PF, AF, ZF, SF and OF are computed only when something reads them
 * (Jcc, PUSHF, ADC...).  Definitions follow the SDM vol. 1 appendix A and
 * the per-instruction "Flags Affected" sections of vol. 2.
 */
#include "cpu_int.h"

/* PF is set when the low byte of the result has an even number of ones. */
static uint32_t parity_flag(uint32_t res)
{
    return (__builtin_popcount(res & 0xFF) & 1) ? 0 : EMU_FL_PF;
}

/* ZF, SF and PF of a size-byte result. */
uint32_t emu_flags_zsp(uint32_t res, unsigned size)
{
    uint32_t f = parity_flag(res);

    res &= emu_size_mask(size);
    if (res == 0) {
        f |= EMU_FL_ZF;
    }
    if (res & emu_sign_bit(size)) {
        f |= EMU_FL_SF;
    }
    return f;
}

/* CF and OF of an addition a + b + cin giving res. */
static uint32_t add_cf_of(const emu_lazy *l, uint32_t sign)
{
    uint32_t f = 0;
    bool carry = l->cin ? l->res <= l->a : l->res < l->a;

    if (carry) {
        f |= EMU_FL_CF;
    }
    if ((l->a ^ l->res) & (l->b ^ l->res) & sign) {
        f |= EMU_FL_OF;
    }
    return f;
}

/* CF and OF of a subtraction a - b - cin giving res. */
static uint32_t sub_cf_of(const emu_lazy *l, uint32_t sign)
{
    uint32_t f = 0;
    bool borrow = l->cin ? l->a <= l->b : l->a < l->b;

    if (borrow) {
        f |= EMU_FL_CF;
    }
    if ((l->a ^ l->b) & (l->a ^ l->res) & sign) {
        f |= EMU_FL_OF;
    }
    return f;
}

/* Evaluates the arithmetic flags recorded in lf. */
static uint32_t lazy_eval(const emu_lazy *l)
{
    uint32_t sign = emu_sign_bit(l->size);
    uint32_t f = emu_flags_zsp(l->res, l->size);
    uint32_t af = (l->a ^ l->b ^ l->res) & EMU_FL_AF;

    switch (l->op) {
    case EMU_LAZY_ADD:
    case EMU_LAZY_ADC:
        return f | af | add_cf_of(l, sign);
    case EMU_LAZY_SUB:
    case EMU_LAZY_SBB:
        return f | af | sub_cf_of(l, sign);
    case EMU_LAZY_INC:      /* cin holds the CF that INC keeps */
        return f | af | (l->cin ? EMU_FL_CF : 0) |
               (l->res == sign ? EMU_FL_OF : 0);
    case EMU_LAZY_DEC:
        return f | af | (l->cin ? EMU_FL_CF : 0) |
               (l->res == sign - 1 ? EMU_FL_OF : 0);
    case EMU_LAZY_SHIFT:
        return f | (l->cin ? EMU_FL_CF : 0) | (l->b ? EMU_FL_OF : 0);
    case EMU_LAZY_MUL:
        return f | (l->cin ? EMU_FL_CF | EMU_FL_OF : 0);
    default:    /* LOGIC */
        return f;
    }
}

uint32_t emu_cpu_get_flags(emu_cpu *c)
{
    if (c->lf.op != EMU_LAZY_NONE) {
        c->eflags = (c->eflags & ~EMU_FL_ARITH) |
                    lazy_eval(&c->lf);
        c->lf.op = EMU_LAZY_NONE;
    }
    return c->eflags;
}

void emu_cpu_set_flags(emu_cpu *c, uint32_t fl)
{
    c->lf.op = EMU_LAZY_NONE;
    c->eflags = fl | 0x2;
}

/* Records a lazy operation; the caller has already truncated res. */
/* CF of the current state without materialising the other flags. */
static bool lazy_cf(const emu_cpu *c)
{
    const emu_lazy *l = &c->lf;

    switch (l->op) {
    case EMU_LAZY_NONE:
        return c->eflags & EMU_FL_CF;
    case EMU_LAZY_ADD:
    case EMU_LAZY_ADC:
        return l->cin ? l->res <= l->a : l->res < l->a;
    case EMU_LAZY_SUB:
    case EMU_LAZY_SBB:
        return l->cin ? l->a <= l->b : l->a < l->b;
    case EMU_LAZY_INC:
    case EMU_LAZY_DEC:
    case EMU_LAZY_SHIFT:
    case EMU_LAZY_MUL:
        return l->cin != 0;
    default:
        return false;
    }
}

void emu_lazy_set(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                  uint32_t b, uint32_t res, uint32_t cin)
{
    if (op == EMU_LAZY_INC || op == EMU_LAZY_DEC) {
        cin = lazy_cf(c);               /* INC/DEC keep CF */
    }
    c->lf = (emu_lazy){ (uint8_t)op, (uint8_t)size, a, b, res, cin };
}

uint32_t emu_cpu_alu(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                     uint32_t b)
{
    uint32_t m = emu_size_mask(size), cin, r;

    if (op != EMU_ALU_ADC && op != EMU_ALU_SBB) {
        return emu_alu(c, op, size, a, b);
    }
    a &= m;
    b &= m;
    cin = emu_cpu_get_flags(c) & EMU_FL_CF;
    if (op == EMU_ALU_ADC) {
        r = (a + b + cin) & m;
        emu_lazy_set(c, EMU_LAZY_ADC, size, a, b, r, cin);
    } else {
        r = (a - b - cin) & m;
        emu_lazy_set(c, EMU_LAZY_SBB, size, a, b, r, cin);
    }
    return r;
}

/* Condition code cc (low nibble of Jcc/SETcc/CMOVcc) against the flags. */
/* ZF (zero) or SF (sign) of the pending lazy result, which every lazy
 * operation derives from the result alone. */
static bool lazy_zs(const emu_lazy *l, bool sign)
{
    uint32_t res = l->res & emu_size_mask(l->size);

    return sign ? (res & emu_sign_bit(l->size)) != 0 : res == 0;
}

/* Conditions after CMP/SUB (no borrow in) straight from the operands:
 * the unsigned and signed comparisons of a and b.  Returns -1 for the
 * ones that need the materialised flags (O, P). */
static int lazy_sub_cond(const emu_lazy *l, unsigned cc)
{
    uint32_t m = emu_size_mask(l->size), a = l->a & m, b = l->b & m;
    unsigned sh = 32 - 8u * l->size;
    int32_t sa = (int32_t)(a << sh) >> sh, sb = (int32_t)(b << sh) >> sh;

    switch (cc >> 1) {
    case 1: return a < b;
    case 2: return a == b;
    case 3: return a <= b;
    case 6: return sa < sb;
    case 7: return sa <= sb;
    default: return -1;
    }
}

/* Conditions after a logic operation (CF = OF = 0), or -1 for P. */
static int lazy_logic_cond(const emu_lazy *l, unsigned cc)
{
    bool z = lazy_zs(l, false), s = lazy_zs(l, true);

    switch (cc >> 1) {
    case 0: case 1: return 0;
    case 2: case 3: return z;
    case 4: case 6: return s;
    case 7: return z || s;
    default: return -1;
    }
}

/* A condition from the pending lazy operation, or -1. */
static int lazy_cond(const emu_lazy *l, unsigned cc)
{
    if (l->op == EMU_LAZY_SUB && l->cin == 0) {
        return lazy_sub_cond(l, cc);
    }
    if (l->op == EMU_LAZY_LOGIC) {
        return lazy_logic_cond(l, cc);
    }
    if ((cc >> 1) == 2 || (cc >> 1) == 4) {     /* ZF, SF: any op */
        return lazy_zs(l, (cc >> 1) == 4);
    }
    return -1;
}

bool emu_cond(emu_cpu *c, unsigned cc)
{
    uint32_t f;
    bool sf, of, r;
    int lr;

    if (c->lf.op != EMU_LAZY_NONE && (lr = lazy_cond(&c->lf, cc)) >= 0) {
        return (cc & 1) ? !lr : lr != 0;
    }
    f = emu_cpu_get_flags(c);
    sf = f & EMU_FL_SF;
    of = f & EMU_FL_OF;
    switch (cc >> 1) {
    case 0: r = f & EMU_FL_OF; break;
    case 1: r = f & EMU_FL_CF; break;
    case 2: r = f & EMU_FL_ZF; break;
    case 3: r = f & (EMU_FL_CF | EMU_FL_ZF); break;
    case 4: r = sf; break;
    case 5: r = f & EMU_FL_PF; break;
    case 6: r = sf != of; break;
    default: r = (f & EMU_FL_ZF) || sf != of; break;
    }
    return (cc & 1) ? !r : r;
}
