/*
 * emu/cpu/fpu.c -- x87 FPU basics (Intel SDM vol. 1, chapter 8; the
 * instruction pages of vol. 2; opcode map of vol. 2, appendix A.4).
 *
 * FNINIT, FNCLEX, FNSTSW, FNSTCW/FLDCW, FWAIT, FLD/FST/FSTP (m32, m64,
 * m80, ST(i)), FILD/FIST/FISTP (m16, m32, m64), constants, FADD/FSUB/
 * FMUL/FDIV with their R, P and integer forms, FCOM/FUCOM(P)(P), FCOMI/
 * FUCOMI(P), FTST, FXAM, FXCH, FCHS, FABS, FSQRT, FRNDINT, FFREE, FCMOVcc,
 * FINCSTP/FDECSTP and FXSAVE/FXRSTOR.  CR0.EM or CR0.TS gives #NM (WAIT:
 * TS with MP).  Registers are host doubles (see fpu.h); exceptions use
 * the masked response and only set status flags.
 */
#include "fpu.h"

#include <math.h>
#include <string.h>

#include "exec_int.h"

/* Status word bits. */
#define SW_IE  0x0001u
#define SW_ZE  0x0004u
#define SW_PE  0x0020u
#define SW_SF  0x0040u
#define SW_ES  0x0080u
#define SW_C0  0x0100u
#define SW_C1  0x0200u
#define SW_C2  0x0400u
#define SW_C3  0x4000u
#define SW_CC  (SW_C0 | SW_C1 | SW_C2 | SW_C3)

void emu_fpu_init(emu_fpu *f)
{
    memset(f->st, 0, sizeof(f->st));
    f->cw = 0x037F;
    f->sw = 0;
    f->top = 0;
    f->tag_empty = 0xFF;
    f->fop = 0;
    f->fip = f->fdp = 0;
    f->fcs = f->fds = 0;
    f->mxcsr = 0x1F80;
}

/* The status word as FNSTSW stores it. */
static uint16_t fpu_sw(const emu_fpu *f)
{
    uint16_t sw = (uint16_t)((f->sw & ~0x3880u) | ((f->top & 7u) << 11));

    if (sw & ~f->cw & 0x3F) {
        sw |= SW_ES | 0x8000u;
    }
    return sw;
}

/* ------------------------------------------------------------------ */
/* The register stack                                                   */

static unsigned phys_reg(const emu_fpu *f, unsigned i)
{
    return (f->top + i) & 7;
}

/* Reads ST(i); an empty register is a stack underflow (NaN result). */
static double st_get(emu_fpu *f, unsigned i)
{
    unsigned r = phys_reg(f, i);

    if (f->tag_empty & (1u << r)) {
        f->sw = (uint16_t)((f->sw | SW_IE | SW_SF) & ~SW_C1);
        return NAN;
    }
    return f->st[r];
}

static void st_set(emu_fpu *f, unsigned i, double v)
{
    unsigned r = phys_reg(f, i);

    f->st[r] = v;
    f->tag_empty &= (uint8_t)~(1u << r);
}

static void fpu_push(emu_fpu *f, double v)
{
    f->top = (f->top - 1) & 7;
    if (!(f->tag_empty & (1u << f->top))) {
        f->sw |= SW_IE | SW_SF | SW_C1;      /* stack overflow */
        v = NAN;
    }
    st_set(f, 0, v);
}

static void fpu_pop(emu_fpu *f)
{
    f->tag_empty |= (uint8_t)(1u << f->top);
    f->top = (f->top + 1) & 7;
}

/* ------------------------------------------------------------------ */
/* Memory formats                                                       */

static double from_bits64(uint64_t b)
{
    double d;

    memcpy(&d, &b, 8);
    return d;
}

static uint64_t to_bits64(double d)
{
    uint64_t b;

    memcpy(&b, &d, 8);
    return b;
}

static double from_bits32(uint32_t b)
{
    float v;

    memcpy(&v, &b, 4);
    return v;
}

static uint32_t to_bits32(double d)
{
    float v = (float)d;
    uint32_t b;

    memcpy(&b, &v, 4);
    return b;
}

/* Converts an 80-bit extended real (64-bit mantissa with explicit
 * integer bit, 15-bit exponent) to a double. */
static double from_ext80(uint64_t mant, uint16_t se)
{
    int exp = se & 0x7FFF;
    double sign = (se & 0x8000) ? -1.0 : 1.0;

    if (exp == 0x7FFF) {
        return (mant << 1) == 0 ? sign * INFINITY : NAN;
    }
    if (mant == 0) {
        return sign * 0.0;
    }
    return sign * ldexp((double)mant, (exp == 0 ? 1 : exp) - 16383 - 63);
}

/* Converts a double to 80-bit extended real. */
static void to_ext80(double d, uint64_t *mant, uint16_t *se)
{
    uint64_t b = to_bits64(d);
    uint16_t sign = (b >> 63) ? 0x8000 : 0;
    int exp;

    if (isnan(d)) {
        *mant = 0xC000000000000000ull;        /* QNaN indefinite */
        *se = 0xFFFF;
    } else if (isinf(d)) {
        *mant = 0x8000000000000000ull;
        *se = sign | 0x7FFF;
    } else if (d == 0) {
        *mant = 0;
        *se = sign;
    } else {
        double m = frexp(fabs(d), &exp);      /* m in [0.5, 1) */
        *mant = (uint64_t)ldexp(m, 64);
        *se = (uint16_t)(sign | (exp - 1 + 16383));
    }
}

/* Rounds to an integer by the control word's RC field. */
static double fpu_round(const emu_fpu *f, double v)
{
    switch ((f->cw >> 10) & 3) {
    case 1: return floor(v);
    case 2: return ceil(v);
    case 3: return trunc(v);
    default: {
        double r = floor(v), diff = v - r;
        if (diff > 0.5 || (diff == 0.5 && fmod(r, 2.0) != 0)) {
            r += 1.0;
        }
        return r;
    }
    }
}

/* Converts for FIST: rounded, or the integer indefinite with IE. */
static int64_t fpu_to_int(emu_fpu *f, double v, unsigned bytes)
{
    double lim = ldexp(1.0, (int)bytes * 8 - 1);
    double r = fpu_round(f, v);

    if (isnan(r) || r >= lim || r < -lim) {
        f->sw |= SW_IE;
        return bytes == 8 ? INT64_MIN : -(int64_t)lim;
    }
    if (r != v) {
        f->sw |= SW_PE;
    }
    return (int64_t)r;
}

/* ------------------------------------------------------------------ */
/* Memory operands                                                      */

static uint64_t mem_read64(emu_ctx *x, uint32_t add)
{
    unsigned s = ea_seg(x);
    uint32_t off = ea_off(x) + add;
    uint64_t lo = emu_mem_read(x->c, s, off, 4);

    return lo | (uint64_t)emu_mem_read(x->c, s, off + 4, 4) << 32;
}

static void mem_write64(emu_ctx *x, uint32_t add, uint64_t v)
{
    unsigned s = ea_seg(x);
    uint32_t off = ea_off(x) + add;

    emu_mem_write(x->c, s, off, 4, (uint32_t)v);
    emu_mem_write(x->c, s, off + 4, 4, (uint32_t)(v >> 32));
}

static double load_ext80(emu_ctx *x, uint32_t add)
{
    uint64_t m = mem_read64(x, add);
    uint16_t se = (uint16_t)emu_mem_read(x->c, ea_seg(x),
                                         ea_off(x) + add + 8, 2);

    return from_ext80(m, se);
}

static void store_ext80(emu_ctx *x, uint32_t add, double v)
{
    uint64_t m;
    uint16_t se;

    to_ext80(v, &m, &se);
    mem_write64(x, add, m);
    emu_mem_write(x->c, ea_seg(x), ea_off(x) + add + 8, 2, se);
}

/* Reads a memory operand of the arithmetic groups D8/DA/DC/DE. */
static double arith_operand(emu_ctx *x)
{
    switch (x->in->op) {
    case 0xD8: return from_bits32(emu_mem_read(x->c, ea_seg(x),
                                               ea_off(x), 4));
    case 0xDC: return from_bits64(mem_read64(x, 0));
    case 0xDA: return (int32_t)emu_mem_read(x->c, ea_seg(x), ea_off(x), 4);
    default:   return (int16_t)emu_mem_read(x->c, ea_seg(x), ea_off(x), 2);
    }
}

/* ------------------------------------------------------------------ */
/* Arithmetic and comparisons                                           */

/* op: 0 add, 1 mul, 4 a-b, 5 b-a, 6 a/b, 7 b/a. */
static double arith(emu_fpu *f, unsigned op, double a, double b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a * b;
    case 4: return a - b;
    case 5: return b - a;
    case 6:
        if (b == 0 && !isnan(a) && a != 0) {
            f->sw |= SW_ZE;
        }
        return a / b;
    default:
        if (a == 0 && !isnan(b) && b != 0) {
            f->sw |= SW_ZE;
        }
        return b / a;
    }
}

/* Compares a with b into C3/C2/C0 (FCOM) or ZF/PF/CF (FCOMI). */
static void fpu_compare(emu_ctx *x, double a, double b, bool to_eflags,
                        bool unordered_ok)
{
    emu_fpu *f = &x->c->fpu;
    unsigned cc;

    if (isnan(a) || isnan(b)) {
        cc = 7;
        if (!unordered_ok) {
            f->sw |= SW_IE;
        }
    } else {
        cc = a > b ? 0 : a < b ? 1 : 4;
    }
    if (to_eflags) {
        uint32_t fl = emu_cpu_get_flags(x->c) & ~EMU_FL_ARITH;
        fl |= ((cc & 1) ? EMU_FL_CF : 0) | ((cc & 2) ? EMU_FL_PF : 0) |
              ((cc & 4) ? EMU_FL_ZF : 0);
        emu_cpu_set_flags(x->c, fl);
        f->sw &= (uint16_t)~SW_C1;
        return;
    }
    f->sw = (uint16_t)((f->sw & ~SW_CC) | ((cc & 1) ? SW_C0 : 0) |
                       ((cc & 2) ? SW_C2 : 0) | ((cc & 4) ? SW_C3 : 0));
}

/* D8 / DC / DA / DE: two-operand arithmetic and FCOM(P). */
static int exec_arith_group(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    const emu_insn *in = x->in;
    unsigned op = in->reg, i = in->rm;
    bool mem = in->mod != 3, pop = in->op == 0xDE;
    double a, b;

    if (op == 2 || op == 3) {             /* FCOM, FCOMP, FCOMPP (DE D9) */
        if (!mem && in->op == 0xDE && (op != 3 || i != 1)) {
            return -1;
        }
        a = st_get(f, 0);
        fpu_compare(x, a, mem ? arith_operand(x) : st_get(f, i), false,
                    false);
        if (op == 3) {
            fpu_pop(f);
        }
        if (op == 3 && !mem && in->op == 0xDE) {
            fpu_pop(f);
        }
        return EMU_EXEC_OK;
    }
    if (mem) {
        st_set(f, 0, arith(f, op, st_get(f, 0), arith_operand(x)));
        return EMU_EXEC_OK;
    }
    if (in->op == 0xD8) {
        st_set(f, 0, arith(f, op, st_get(f, 0), st_get(f, i)));
        return EMU_EXEC_OK;
    }
    /* DC/DE register forms: ST(i) op= ST(0), R forms swapped. */
    a = st_get(f, i);
    b = st_get(f, 0);
    st_set(f, i, arith(f, op >= 4 ? op ^ 1 : op, a, b));
    if (pop) {
        fpu_pop(f);
    }
    return EMU_EXEC_OK;
}

/* ------------------------------------------------------------------ */
/* Loads, stores and control                                            */

static void fpu_fninit(emu_fpu *f)
{
    emu_fpu_init(f);
}

/* D9 with a register operand: FLD ST(i), FXCH and the specials. */
static int exec_d9_reg(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    unsigned i = x->in->rm, m = 0xC0 | (x->in->reg << 3) | i;
    static const double consts[7] = { 1.0, 3.321928094887362347870,
        1.442695040888963407360, 3.141592653589793238463,
        0.301029995663981195214, 0.693147180559945309417, 0.0 };
    double t;

    if (x->in->reg == 0) {
        fpu_push(f, st_get(f, i));
        return EMU_EXEC_OK;
    }
    if (x->in->reg == 1) {
        t = st_get(f, 0);
        st_set(f, 0, st_get(f, i));
        st_set(f, i, t);
        return EMU_EXEC_OK;
    }
    if (m >= 0xE8 && m <= 0xEE) {
        fpu_push(f, consts[m - 0xE8]);
        return EMU_EXEC_OK;
    }
    switch (m) {
    case 0xD0: return EMU_EXEC_OK;                               /* FNOP */
    case 0xE0: st_set(f, 0, -st_get(f, 0)); return EMU_EXEC_OK;  /* FCHS */
    case 0xE1: st_set(f, 0, fabs(st_get(f, 0))); return EMU_EXEC_OK;
    case 0xE4: fpu_compare(x, st_get(f, 0), 0.0, false, false);  /* FTST */
        return EMU_EXEC_OK;
    case 0xE5: {                                                 /* FXAM */
        unsigned r = phys_reg(f, 0);
        double v = f->st[r];
        uint16_t cc = (f->tag_empty & (1u << r)) ? (SW_C3 | SW_C0)
                      : isnan(v) ? SW_C0 : isinf(v) ? (SW_C2 | SW_C0)
                      : v == 0 ? SW_C3 : SW_C2;
        if (signbit(v)) {
            cc |= SW_C1;
        }
        f->sw = (uint16_t)((f->sw & ~SW_CC) | cc);
        return EMU_EXEC_OK;
    }
    case 0xF6: f->top = (f->top - 1) & 7; return EMU_EXEC_OK;  /* FDECSTP */
    case 0xF7: f->top = (f->top + 1) & 7; return EMU_EXEC_OK;  /* FINCSTP */
    case 0xFA:                                                  /* FSQRT */
        t = st_get(f, 0);
        if (t < 0) {
            f->sw |= SW_IE;
            st_set(f, 0, NAN);
        } else {
            st_set(f, 0, sqrt(t));
        }
        return EMU_EXEC_OK;
    case 0xFC: st_set(f, 0, fpu_round(f, st_get(f, 0)));      /* FRNDINT */
        return EMU_EXEC_OK;
    default:
        return -1;
    }
}

/* D9 with a memory operand: FLD/FST/FSTP m32, FLDCW, FNSTCW. */
static int exec_d9_mem(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    unsigned s = ea_seg(x);
    uint32_t off = ea_off(x);

    switch (x->in->reg) {
    case 0: fpu_push(f, from_bits32(emu_mem_read(x->c, s, off, 4)));
        return EMU_EXEC_OK;
    case 2: case 3:
        emu_mem_write(x->c, s, off, 4, to_bits32(st_get(f, 0)));
        if (x->in->reg == 3) {
            fpu_pop(f);
        }
        return EMU_EXEC_OK;
    case 5: f->cw = (uint16_t)(emu_mem_read(x->c, s, off, 2) | 0x40);
        return EMU_EXEC_OK;
    case 7: emu_mem_write(x->c, s, off, 2, f->cw);
        return EMU_EXEC_OK;
    default:
        return -1;                   /* FLDENV, FNSTENV: not yet */
    }
}

/* FIST/FISTP of bytes (2, 4, 8) to the memory operand. */
static void fist(emu_ctx *x, unsigned bytes, bool pop)
{
    emu_fpu *f = &x->c->fpu;
    int64_t v = fpu_to_int(f, st_get(f, 0), bytes);

    if (bytes == 8) {
        mem_write64(x, 0, (uint64_t)v);
    } else {
        emu_mem_write(x->c, ea_seg(x), ea_off(x), bytes, (uint32_t)v);
    }
    if (pop) {
        fpu_pop(f);
    }
}

/* FCMOVcc (DA/DB C0..DF): B, E, BE, U and their negations. */
static int exec_fcmov(emu_ctx *x)
{
    static const uint8_t cc[4] = { 2, 4, 6, 0xA };   /* B E BE P */
    emu_fpu *f = &x->c->fpu;
    bool cond = emu_cond(x->c, cc[x->in->reg & 3]);

    if (x->in->op == 0xDB) {
        cond = !cond;
    }
    if (cond) {
        st_set(f, 0, st_get(f, x->in->rm));
    }
    return EMU_EXEC_OK;
}

/* DB: FILD/FIST(P) m32, FLD/FSTP m80, FCMOVNcc, FNCLEX, FNINIT, FCOMI. */
static int exec_db(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    unsigned m = 0xC0 | (x->in->reg << 3) | x->in->rm;

    if (x->in->mod != 3) {
        switch (x->in->reg) {
        case 0: fpu_push(f, (int32_t)emu_mem_read(x->c, ea_seg(x),
                                                  ea_off(x), 4));
            return EMU_EXEC_OK;
        case 2: case 3: fist(x, 4, x->in->reg == 3); return EMU_EXEC_OK;
        case 5: fpu_push(f, load_ext80(x, 0)); return EMU_EXEC_OK;
        case 7: store_ext80(x, 0, st_get(f, 0)); fpu_pop(f);
            return EMU_EXEC_OK;
        default: return -1;
        }
    }
    if (x->in->reg < 4) {
        return exec_fcmov(x);
    }
    if (m == 0xE2) {
        f->sw &= (uint16_t)~0x80FFu;                           /* FNCLEX */
    } else if (m == 0xE3) {
        fpu_fninit(f);
    } else if (m == 0xE0 || m == 0xE1 || m == 0xE4) {
        /* FENI, FDISI, FSETPM: no-ops on a 387 and later */
    } else if (x->in->reg == 5 || x->in->reg == 6) {       /* FUCOMI, FCOMI */
        fpu_compare(x, st_get(f, 0), st_get(f, x->in->rm), true,
                    x->in->reg == 5);
    } else {
        return -1;
    }
    return EMU_EXEC_OK;
}

/* DD: FLD/FST/FSTP m64, FNSTSW m16, FFREE, FST(P) ST(i), FUCOM(P). */
static int exec_dd(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    unsigned i = x->in->rm;

    if (x->in->mod != 3) {
        switch (x->in->reg) {
        case 0: fpu_push(f, from_bits64(mem_read64(x, 0))); break;
        case 2: case 3:
            mem_write64(x, 0, to_bits64(st_get(f, 0)));
            if (x->in->reg == 3) {
                fpu_pop(f);
            }
            break;
        case 7: emu_mem_write(x->c, ea_seg(x), ea_off(x), 2, fpu_sw(f));
            break;
        default: return -1;          /* FRSTOR, FNSAVE, FISTTP: not yet */
        }
        return EMU_EXEC_OK;
    }
    switch (x->in->reg) {
    case 0: f->tag_empty |= (uint8_t)(1u << phys_reg(f, i)); break;
    case 2: case 3:
        st_set(f, i, st_get(f, 0));
        if (x->in->reg == 3) {
            fpu_pop(f);
        }
        break;
    case 4: case 5:
        fpu_compare(x, st_get(f, 0), st_get(f, i), false, true);
        if (x->in->reg == 5) {
            fpu_pop(f);
        }
        break;
    default: return -1;
    }
    return EMU_EXEC_OK;
}

/* DF: FILD/FIST(P) m16 and m64, FNSTSW AX, FUCOMIP, FCOMIP, FFREEP. */
static int exec_df(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;

    if (x->in->mod != 3) {
        switch (x->in->reg) {
        case 0: fpu_push(f, (int16_t)emu_mem_read(x->c, ea_seg(x),
                                                  ea_off(x), 2));
            return EMU_EXEC_OK;
        case 2: case 3: fist(x, 2, x->in->reg == 3); return EMU_EXEC_OK;
        case 5: fpu_push(f, (double)(int64_t)mem_read64(x, 0));
            return EMU_EXEC_OK;
        case 7: fist(x, 8, true); return EMU_EXEC_OK;
        default: return -1;          /* FBLD, FBSTP, FISTTP: not yet */
        }
    }
    if (x->in->reg == 4 && x->in->rm == 0) {                /* FNSTSW AX */
        emu_reg_set(x->c, EMU_EAX, 2, fpu_sw(f));
    } else if (x->in->reg == 5 || x->in->reg == 6) {
        fpu_compare(x, st_get(f, 0), st_get(f, x->in->rm), true,
                    x->in->reg == 5);
        fpu_pop(f);
    } else if (x->in->reg == 0) {                              /* FFREEP */
        f->tag_empty |= (uint8_t)(1u << phys_reg(f, x->in->rm));
        fpu_pop(f);
    } else {
        return -1;
    }
    return EMU_EXEC_OK;
}

/* ------------------------------------------------------------------ */
/* FXSAVE / FXRSTOR (0F AE /0, /1)                                      */

static void fxsave(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    emu_cpu *c = x->c;
    unsigned s = ea_seg(x);
    uint32_t o = ea_off(x);

    emu_mem_write(c, s, o, 2, f->cw);
    emu_mem_write(c, s, o + 2, 2, fpu_sw(f));
    emu_mem_write(c, s, o + 4, 2, (uint8_t)~f->tag_empty);
    emu_mem_write(c, s, o + 6, 2, f->fop);
    emu_mem_write(c, s, o + 8, 4, f->fip);
    emu_mem_write(c, s, o + 12, 4, f->fcs);
    emu_mem_write(c, s, o + 16, 4, f->fdp);
    emu_mem_write(c, s, o + 20, 4, f->fds);
    emu_mem_write(c, s, o + 24, 4, f->mxcsr);
    emu_mem_write(c, s, o + 28, 4, 0xFFBF);      /* MXCSR_MASK */
    for (unsigned i = 0; i < 8; i++) {
        uint64_t m;
        uint16_t se;
        to_ext80(f->st[phys_reg(f, i)], &m, &se);
        mem_write64(x, 32 + 16 * i, m);
        emu_mem_write(c, s, o + 40 + 16 * i, 4, se);
        emu_mem_write(c, s, o + 44 + 16 * i, 4, 0);
    }
    for (unsigned i = 0; i < 8 * 16; i += 4) {
        uint32_t v;
        memcpy(&v, &f->xmm[0][0] + i, 4);
        emu_mem_write(c, s, o + 160 + i, 4, v);
    }
}

static void fxrstor(emu_ctx *x)
{
    emu_fpu *f = &x->c->fpu;
    emu_cpu *c = x->c;
    unsigned s = ea_seg(x);
    uint32_t o = ea_off(x), sw = emu_mem_read(c, s, o + 2, 2);

    f->cw = (uint16_t)emu_mem_read(c, s, o, 2);
    f->sw = (uint16_t)(sw & ~0x3880u);
    f->top = (sw >> 11) & 7;
    f->tag_empty = (uint8_t)~emu_mem_read(c, s, o + 4, 1);
    f->fop = (uint16_t)emu_mem_read(c, s, o + 6, 2);
    f->fip = emu_mem_read(c, s, o + 8, 4);
    f->fcs = (uint16_t)emu_mem_read(c, s, o + 12, 2);
    f->fdp = emu_mem_read(c, s, o + 16, 4);
    f->fds = (uint16_t)emu_mem_read(c, s, o + 20, 2);
    f->mxcsr = emu_mem_read(c, s, o + 24, 4) & 0xFFBF;
    for (unsigned i = 0; i < 8; i++) {
        f->st[phys_reg(f, i)] = load_ext80(x, 32 + 16 * i);
    }
    for (unsigned i = 0; i < 8 * 16; i += 4) {
        uint32_t v = emu_mem_read(c, s, o + 160 + i, 4);
        memcpy(&f->xmm[0][0] + i, &v, 4);
    }
}

static int exec_fxsr(emu_ctx *x)
{
    uint32_t cr0 = x->c->cr[0];

    if (x->in->mod == 3 || x->in->reg > 1) {
        return -1;
    }
    if (cr0 & EMU_CR0_EM) {
        x->fault = EMU_EXC_UD;
        return EMU_EXEC_FAULT;
    }
    if (cr0 & EMU_CR0_TS) {
        x->fault = EMU_EXC_NM;
        return EMU_EXEC_FAULT;
    }
    if ((x->c->seg[ea_seg(x)].base + ea_off(x)) & 15) {
        emu_raise(x->c, EMU_EXC_GP, 0);        /* needs 16-byte alignment */
    }
    if (x->in->reg == 0) {
        fxsave(x);
    } else {
        fxrstor(x);
    }
    return EMU_EXEC_OK;
}

/* ------------------------------------------------------------------ */

/* Runs an escape opcode; -1 when it is one we do not implement. */
static int exec_escape(emu_ctx *x)
{
    switch (x->in->op) {
    case 0xD9:
        return x->in->mod == 3 ? exec_d9_reg(x) : exec_d9_mem(x);
    case 0xDA:
        if (x->in->mod == 3 && x->in->reg < 4) {
            return exec_fcmov(x);
        }
        if (x->in->mod == 3 && (x->in->reg != 5 || x->in->rm != 1)) {
            return -1;
        }
        if (x->in->mod == 3) {                                /* FUCOMPP */
            emu_fpu *f = &x->c->fpu;
            fpu_compare(x, st_get(f, 0), st_get(f, 1), false, true);
            fpu_pop(f);
            fpu_pop(f);
            return EMU_EXEC_OK;
        }
        return exec_arith_group(x);
    case 0xDB: return exec_db(x);
    case 0xDD: return exec_dd(x);
    case 0xDF: return exec_df(x);
    default:   return exec_arith_group(x);             /* D8, DC, DE */
    }
}

int emu_exec_fpu(emu_ctx *x)
{
    unsigned op = x->in->op;
    uint32_t cr0 = x->c->cr[0];
    int r;

    if (op == (EMU_OP_0F | 0xAE)) {
        return exec_fxsr(x);
    }
    if (op == 0x9B) {                                           /* FWAIT */
        x->fault = EMU_EXC_NM;
        return ((cr0 & EMU_CR0_TS) && (cr0 & EMU_CR0_MP)) ? EMU_EXEC_FAULT
                                                          : EMU_EXEC_OK;
    }
    if (op < 0xD8 || op > 0xDF) {
        return -1;
    }
    if (cr0 & (EMU_CR0_EM | EMU_CR0_TS)) {
        x->fault = EMU_EXC_NM;
        return EMU_EXEC_FAULT;
    }
    r = exec_escape(x);
    if (r < 0) {
        x->fault = EMU_EXC_UD;         /* not implemented: say so loudly */
        return EMU_EXEC_FAULT;
    }
    x->c->fpu.fop = (uint16_t)(((op & 7) << 8) |
                               (x->in->mod << 6) | (x->in->reg << 3) |
                               x->in->rm);
    return r;
}
