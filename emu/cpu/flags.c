/*
 * emu/cpu/flags.c -- lazy arithmetic flags and the two-operand ALU.
 *
 * Flag-setting instructions record their operands and result in cpu->lf;
 * CF, PF, AF, ZF, SF and OF are computed only when something reads them
 * (Jcc, PUSHF, ADC...).  Definitions follow the SDM vol. 1 appendix A and
 * the per-instruction "Flags Affected" sections of vol. 2.
 */
#include "cpu_int.h"

uint32_t emu_size_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
}

uint32_t emu_sign_bit(unsigned size)
{
    return 1u << (size * 8 - 1);
}

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
static uint32_t lazy_eval(const emu_lazy *l, uint32_t old)
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
    case EMU_LAZY_INC:
        return f | af | (old & EMU_FL_CF) |
               (l->res == sign ? EMU_FL_OF : 0);
    case EMU_LAZY_DEC:
        return f | af | (old & EMU_FL_CF) |
               (l->res == sign - 1 ? EMU_FL_OF : 0);
    default:    /* LOGIC */
        return f;
    }
}

uint32_t emu_cpu_get_flags(emu_cpu *c)
{
    if (c->lf.op != EMU_LAZY_NONE) {
        c->eflags = (c->eflags & ~EMU_FL_ARITH) |
                    lazy_eval(&c->lf, c->eflags);
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
void emu_lazy_set(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                  uint32_t b, uint32_t res, uint32_t cin)
{
    if (op == EMU_LAZY_INC || op == EMU_LAZY_DEC) {
        emu_cpu_get_flags(c);          /* CF must survive in eflags */
    }
    c->lf = (emu_lazy){ (uint8_t)op, (uint8_t)size, a, b, res, cin };
}

uint32_t emu_cpu_alu(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                     uint32_t b)
{
    uint32_t m = emu_size_mask(size);
    uint32_t cin = 0;
    uint32_t r;

    a &= m;
    b &= m;
    switch (op) {
    case EMU_ALU_ADC:
        cin = emu_cpu_get_flags(c) & EMU_FL_CF;
        /* fall through */
    case EMU_ALU_ADD:
        r = (a + b + cin) & m;
        emu_lazy_set(c, op == EMU_ALU_ADC ? EMU_LAZY_ADC : EMU_LAZY_ADD,
                     size, a, b, r, cin);
        return r;
    case EMU_ALU_SBB:
        cin = emu_cpu_get_flags(c) & EMU_FL_CF;
        /* fall through */
    case EMU_ALU_SUB:
    case EMU_ALU_CMP:
        r = (a - b - cin) & m;
        emu_lazy_set(c, EMU_LAZY_SUB + (op == EMU_ALU_SBB), size, a, b, r,
                     cin);
        return r;
    case EMU_ALU_AND:
        r = a & b;
        break;
    case EMU_ALU_OR:
        r = a | b;
        break;
    default:
        r = a ^ b;
        break;
    }
    emu_lazy_set(c, EMU_LAZY_LOGIC, size, a, b, r, 0);
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

bool emu_cond(emu_cpu *c, unsigned cc)
{
    uint32_t f;
    bool sf, of, r;

    /* JZ/JNZ/JS/JNS after arithmetic: no need to materialise EFLAGS. */
    if (c->lf.op != EMU_LAZY_NONE && ((cc >> 1) == 2 || (cc >> 1) == 4)) {
        r = lazy_zs(&c->lf, (cc >> 1) == 4);
        return (cc & 1) ? !r : r;
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
