/*
 * emu/cpu/exec_arith.c -- integer arithmetic, logic, shifts and bit ops.
 *
 * INC/DEC r/m, NOT/NEG, MUL/IMUL/DIV/IDIV (with #DE), the shift/rotate
 * group, BT/BTS/BTR/BTC, BSF/BSR and CBW/CWDE/CWD/CDQ, per the SDM vol. 2
 * instruction pages (ADD..CMP, TEST and INC/DEC reg are in exec_fast.c).  Flags that the
 * SDM leaves undefined are given QEMU-like values (AF=0 after logic ops).
 */
#include "exec_int.h"

uint32_t emu_incdec(emu_cpu *c, bool dec, unsigned size, uint32_t v)
{
    uint32_t r = (dec ? v - 1 : v + 1) & emu_size_mask(size);

    emu_lazy_set(c, dec ? EMU_LAZY_DEC : EMU_LAZY_INC, size, v, 1, r, 0);
    return r;
}

/* CF and OF for MUL/IMUL: set when the high half carries information;
 * ZF/SF/PF from the low half, AF=0, all left pending (EMU_LAZY_MUL). */
static void mul_flags(emu_cpu *c, bool overflow, uint32_t lo, unsigned size)
{
    c->lf = (emu_lazy){ EMU_LAZY_MUL, (uint8_t)size, 0, 0,
                        lo & emu_size_mask(size), overflow };
}

/* Writes a double-size result to AX, DX:AX or EDX:EAX. */
static void put_wide(emu_cpu *c, unsigned size, uint64_t v)
{
    if (size == 1) {
        emu_reg_set(c, EMU_EAX, 2, (uint32_t)v);
    } else {
        emu_reg_set(c, EMU_EAX, size, (uint32_t)v);
        emu_reg_set(c, EMU_EDX, size, (uint32_t)(v >> (size * 8)));
    }
}

/* Reads the double-size dividend AX, DX:AX or EDX:EAX. */
static uint64_t get_wide(const emu_cpu *c, unsigned size)
{
    if (size == 1) {
        return emu_reg_get(c, EMU_EAX, 2);
    }
    return ((uint64_t)emu_reg_get(c, EMU_EDX, size) << (size * 8)) |
           emu_reg_get(c, EMU_EAX, size);
}

/* Stores quotient and remainder (AL/AH for byte, eAX/eDX otherwise). */
static void put_divres(emu_cpu *c, unsigned size, uint32_t q, uint32_t r)
{
    emu_reg_set(c, EMU_EAX, size, q);
    emu_reg_set(c, size == 1 ? 4 : EMU_EDX, size, r);   /* 4 is AH */
}

static int exec_div(emu_ctx *x, unsigned size, uint32_t d)
{
    uint64_t n = get_wide(x->c, size), q;

    if (d == 0 || (q = n / d) > emu_size_mask(size)) {
        x->fault = EMU_EXC_DE;
        return EMU_EXEC_FAULT;
    }
    put_divres(x->c, size, (uint32_t)q, (uint32_t)(n % d));
    return EMU_EXEC_OK;
}

static int exec_idiv(emu_ctx *x, unsigned size, uint32_t dv)
{
    unsigned bits = size * 16;
    uint64_t raw = get_wide(x->c, size);
    int64_t n = bits == 64 ? (int64_t)raw
                           : (int64_t)(raw << (64 - bits)) >> (64 - bits);
    int64_t d = sext(dv, size), q;
    int64_t lim = (int64_t)1 << (size * 8 - 1);

    if (d == 0 || (d == -1 && n == INT64_MIN)) {
        x->fault = EMU_EXC_DE;
        return EMU_EXEC_FAULT;
    }
    q = n / d;
    if (q >= lim || q < -lim) {
        x->fault = EMU_EXC_DE;
        return EMU_EXEC_FAULT;
    }
    put_divres(x->c, size, (uint32_t)q, (uint32_t)(n % d));
    return EMU_EXEC_OK;
}

/* F6/F7: TEST, NOT, NEG, MUL, IMUL, DIV, IDIV. */
static int exec_grp3(emu_ctx *x)
{
    unsigned size = op_size_bw(x);
    emu_cpu *c = x->c;
    uint32_t v = rm_read(x, size), m = emu_size_mask(size);
    uint64_t w;
    int64_t s;

    switch (x->in->reg) {
    case 0: case 1:
        emu_cpu_alu(c, EMU_ALU_AND, size, v, x->in->imm);
        return EMU_EXEC_OK;
    case 2:
        rm_write(x, size, ~v & m);
        return EMU_EXEC_OK;
    case 3:
        rm_write(x, size, emu_cpu_alu(c, EMU_ALU_SUB, size, 0, v));
        return EMU_EXEC_OK;
    case 4:
        w = (uint64_t)emu_reg_get(c, EMU_EAX, size) * v;
        put_wide(c, size, w);
        mul_flags(c, (w >> (size * 8)) != 0, (uint32_t)w, size);
        return EMU_EXEC_OK;
    case 5:
        s = (int64_t)sext(emu_reg_get(c, EMU_EAX, size), size) *
            sext(v, size);
        put_wide(c, size, (uint64_t)s);
        mul_flags(c, s != sext((uint32_t)s & m, size), (uint32_t)s, size);
        return EMU_EXEC_OK;
    case 6:
        return exec_div(x, size, v);
    default:
        return exec_idiv(x, size, v);
    }
}

/* Two/three-operand IMUL: 0F AF, 69, 6B. */
int emu_exec_imul(emu_ctx *x)
{
    unsigned size = x->in->opsize;
    uint32_t src2 = x->in->op == (EMU_OP_0F | 0xAF)
                        ? emu_reg_get(x->c, x->in->reg, size) : x->in->imm;
    int64_t s = (int64_t)sext(rm_read(x, size), size) * sext(src2, size);
    uint32_t lo = (uint32_t)s & emu_size_mask(size);

    emu_reg_set(x->c, x->in->reg, size, lo);
    mul_flags(x->c, s != sext(lo, size), lo, size);
    return EMU_EXEC_OK;
}

/* Flags after a rotate: CF and OF as given, the others kept. */
static void rotate_flags(emu_cpu *c, bool cf, bool of)
{
    uint32_t f = emu_cpu_get_flags(c) & (EMU_FL_ZF | EMU_FL_SF |
                                         EMU_FL_PF | EMU_FL_AF);

    set_arith(c, f | (cf ? EMU_FL_CF : 0) | (of ? EMU_FL_OF : 0));
}

/* Flags after SHL/SHR/SAR, left pending: ZF/SF/PF from res, CF and OF
 * as given, AF=0 (see EMU_LAZY_SHIFT). */
static void shift_lazy(emu_cpu *c, uint32_t res, unsigned size, bool cf,
                       bool of)
{
    c->lf = (emu_lazy){ EMU_LAZY_SHIFT, (uint8_t)size, 0, of, res, cf };
}

/* RCL/RCR one bit at a time through CF (counts are at most 32). */
static uint32_t rotate_carry(emu_cpu *c, bool left, unsigned size,
                             uint32_t v, unsigned n)
{
    uint32_t msb = emu_sign_bit(size), m = emu_size_mask(size);
    bool cf = emu_cpu_get_flags(c) & EMU_FL_CF, of;

    n %= size * 8 + 1;
    for (unsigned i = 0; i < n; i++) {
        bool out = left ? (v & msb) != 0 : (v & 1) != 0;
        v = left ? ((v << 1) | cf) & m : (v >> 1) | (cf ? msb : 0);
        cf = out;
    }
    of = left ? (((v & msb) != 0) ^ cf)
              : (((v & msb) != 0) ^ ((v & (msb >> 1)) != 0));
    rotate_flags(c, cf, of);
    return v;
}

/* The /reg operation of the shift group on v by count n (n != 0). */
static uint32_t do_shift(emu_cpu *c, unsigned op, unsigned size, uint32_t v,
                         unsigned n)
{
    unsigned bits = size * 8, k;
    uint32_t msb = emu_sign_bit(size), m = emu_size_mask(size), r;

    switch (op) {
    case 0: case 1:      /* ROL, ROR */
        k = n % bits;
        r = op == 0 ? ((v << k) | (v >> ((bits - k) % bits))) & m
                    : ((v >> k) | (v << ((bits - k) % bits))) & m;
        if (op == 0) {
            rotate_flags(c, r & 1, ((r & msb) != 0) ^ (r & 1));
        } else {
            rotate_flags(c, (r & msb) != 0,
                         ((r & msb) != 0) ^ ((r & (msb >> 1)) != 0));
        }
        return r;
    case 2: case 3:
        return rotate_carry(c, op == 2, size, v, n);
    case 5:              /* SHR */
        r = n >= bits ? 0 : v >> n;
        shift_lazy(c, r, size, n <= bits && ((v >> (n - 1)) & 1),
                   (v & msb) != 0);
        return r;
    case 7:              /* SAR */
        r = (uint32_t)(sext(v, size) >> (n > 31 ? 31 : n)) & m;
        shift_lazy(c, r, size,
                   (sext(v, size) >> (n - 1 > 31 ? 31 : n - 1)) & 1, false);
        return r;
    default:             /* SHL/SAL (4 and 6) */
        r = n >= 32 ? 0 : (v << n) & m;
        {
            bool cf = n <= bits && ((uint64_t)v << n >> bits) & 1;
            shift_lazy(c, r, size, cf, ((r & msb) != 0) ^ cf);
        }
        return r;
    }
}

/* C0/C1/D0..D3: the shift group with imm8, 1 or CL as count. */
int emu_exec_shift(emu_ctx *x)
{
    unsigned size = op_size_bw(x), n;
    uint8_t op = (uint8_t)x->in->op;

    if (op <= 0xC1) {
        n = x->in->imm & 31;
    } else if (op <= 0xD1) {
        n = 1;
    } else {
        n = x->c->gpr[EMU_ECX] & 31;
    }
    if (n != 0) {
        rm_write(x, size, do_shift(x->c, x->in->reg, size,
                                   rm_read(x, size), n));
    }
    return EMU_EXEC_OK;
}

/* BT/BTS/BTR/BTC (0F A3/AB/B3/BB with a register, 0F BA with imm8). */
static int exec_bt(emu_ctx *x, unsigned kind, uint32_t bitoff, bool isreg)
{
    unsigned size = x->in->opsize, bits = size * 8;
    emu_cpu *c = x->c;
    uint32_t off = 0, v, mask;

    if (x->in->mod != 3 && isreg) {
        /* A register bit offset may select memory outside the operand. */
        off = (uint32_t)((sext(bitoff, size) >> (size == 2 ? 4 : 5)) *
                         (int32_t)size);
    }
    bitoff &= bits - 1;
    mask = 1u << bitoff;
    if (x->in->mod == 3) {
        v = emu_reg_get(c, x->in->rm, size);
    } else {
        v = emu_mem_read(c, ea_seg(x), ea_off(x) + off, size);
    }
    set_arith(c, (emu_cpu_get_flags(c) & ~EMU_FL_CF) |
                 ((v & mask) ? EMU_FL_CF : 0));
    if (kind == 0) {
        return EMU_EXEC_OK;
    }
    v = kind == 1 ? v | mask : kind == 2 ? v & ~mask : v ^ mask;
    if (x->in->mod == 3) {
        emu_reg_set(c, x->in->rm, size, v);
    } else {
        emu_mem_write(c, ea_seg(x), ea_off(x) + off, size, v);
    }
    return EMU_EXEC_OK;
}

/* BSF/BSR: ZF=1 and destination unchanged when the source is zero. */
static int exec_bsf_bsr(emu_ctx *x, bool reverse)
{
    unsigned size = x->in->opsize;
    uint32_t v = rm_read(x, size);
    uint32_t f = emu_cpu_get_flags(x->c) & ~EMU_FL_ZF;

    if (v == 0) {
        set_arith(x->c, f | EMU_FL_ZF);
        return EMU_EXEC_OK;
    }
    emu_reg_set(x->c, x->in->reg, size,
                reverse ? 31u - (unsigned)__builtin_clz(v)
                        : (unsigned)__builtin_ctz(v));
    set_arith(x->c, f);
    return EMU_EXEC_OK;
}

/* CBW/CWDE (98) and CWD/CDQ (99). */
static int exec_convert(emu_ctx *x)
{
    unsigned size = x->in->opsize;
    emu_cpu *c = x->c;

    if (x->in->op == 0x98) {
        emu_reg_set(c, EMU_EAX, size,
                    (uint32_t)sext(emu_reg_get(c, EMU_EAX, size / 2),
                                   size / 2));
    } else {
        bool neg = emu_reg_get(c, EMU_EAX, size) & emu_sign_bit(size);
        emu_reg_set(c, EMU_EDX, size, neg ? 0xFFFFFFFFu : 0);
    }
    return EMU_EXEC_OK;
}

/* FE/FF /0 /1: INC/DEC r/m. */
static int exec_incdec(emu_ctx *x)
{
    unsigned size = op_size_bw(x);

    rm_write(x, size, emu_incdec(x->c, x->in->reg == 1, size,
                                 rm_read(x, size)));
    return EMU_EXEC_OK;
}

int emu_exec_arith(emu_ctx *x)
{
    unsigned op = x->in->op;

    if ((op == 0xFE || op == 0xFF) && x->in->reg < 2) {
        return exec_incdec(x);
    }
    switch (op) {
    case 0xF6: case 0xF7:
        return exec_grp3(x);
    case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3:
        return emu_exec_shift(x);
    case 0x69: case 0x6B: case EMU_OP_0F | 0xAF:
        return emu_exec_imul(x);
    case 0x98: case 0x99:
        return exec_convert(x);
    case EMU_OP_0F | 0xA3: case EMU_OP_0F | 0xAB:
    case EMU_OP_0F | 0xB3: case EMU_OP_0F | 0xBB:
        return exec_bt(x, ((op & 0xFF) - 0xA3) >> 3,
                       emu_reg_get(x->c, x->in->reg, x->in->opsize), true);
    case EMU_OP_0F | 0xBA:
        if (x->in->reg < 4) {
            x->fault = EMU_EXC_UD;
            return EMU_EXEC_FAULT;
        }
        return exec_bt(x, x->in->reg - 4u, x->in->imm & 0xFF, false);
    case EMU_OP_0F | 0xBC: case EMU_OP_0F | 0xBD:
        return exec_bsf_bsr(x, op & 1);
    default:
        return -1;
    }
}
