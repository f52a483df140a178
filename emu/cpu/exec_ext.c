/*
 * emu/cpu/exec_ext.c -- 486/Pentium additions to the integer core.
 *
 * CMPXCHG, XADD, BSWAP, CMPXCHG8B (CPUID advertises CX8) and the
 * double-precision shifts SHLD/SHRD, per their SDM vol. 2 pages.  With a
 * single CPU and no concurrent device DMA inside an instruction, the
 * locked forms need no extra care.
 */
#include "exec_int.h"

/* CMPXCHG r/m, reg (0F B0, B1): compare with the accumulator. */
static int exec_cmpxchg(emu_ctx *x)
{
    unsigned size = (x->in->op & 1) ? x->in->opsize : 1;
    emu_cpu *c = x->c;
    uint32_t dest = rm_read(x, size);

    emu_cpu_alu(c, EMU_ALU_CMP, size, emu_reg_get(c, EMU_EAX, size), dest);
    if (emu_cpu_get_flags(c) & EMU_FL_ZF) {
        rm_write(x, size, emu_reg_get(c, x->in->reg, size));
    } else {
        rm_write(x, size, dest);         /* the processor always writes */
        emu_reg_set(c, EMU_EAX, size, dest);
    }
    return EMU_EXEC_OK;
}

/* XADD r/m, reg (0F C0, C1): exchange, then add. */
static int exec_xadd(emu_ctx *x)
{
    unsigned size = (x->in->op & 1) ? x->in->opsize : 1;
    emu_cpu *c = x->c;
    uint32_t dest = rm_read(x, size);
    uint32_t src = emu_reg_get(c, x->in->reg, size);
    uint32_t sum = emu_cpu_alu(c, EMU_ALU_ADD, size, dest, src);

    emu_reg_set(c, x->in->reg, size, dest);
    rm_write(x, size, sum);
    return EMU_EXEC_OK;
}

/* CMPXCHG8B m64 (0F C7 /1). */
static int exec_cmpxchg8b(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned seg = ea_seg(x);
    uint32_t off, lo, hi, f;

    if (x->in->reg != 1 || x->in->mod == 3) {
        x->fault = EMU_EXC_UD;
        return EMU_EXEC_FAULT;
    }
    off = ea_off(x);
    lo = emu_mem_read(c, seg, off, 4);
    hi = emu_mem_read(c, seg, off + 4, 4);
    f = emu_cpu_get_flags(c) & ~EMU_FL_ZF;
    if (lo == c->gpr[EMU_EAX] && hi == c->gpr[EMU_EDX]) {
        emu_mem_write(c, seg, off, 4, c->gpr[EMU_EBX]);
        emu_mem_write(c, seg, off + 4, 4, c->gpr[EMU_ECX]);
        emu_cpu_set_flags(c, f | EMU_FL_ZF);
        return EMU_EXEC_OK;
    }
    emu_mem_write(c, seg, off, 4, lo);
    emu_mem_write(c, seg, off + 4, 4, hi);
    c->gpr[EMU_EAX] = lo;
    c->gpr[EMU_EDX] = hi;
    emu_cpu_set_flags(c, f);
    return EMU_EXEC_OK;
}

/* BSWAP r32 (0F C8+r); the 16-bit form is undefined and gives 0. */
static int exec_bswap(emu_ctx *x)
{
    unsigned r = x->in->op & 7;

    if (x->in->opsize == 2) {
        emu_reg_set(x->c, r, 2, 0);
    } else {
        x->c->gpr[r] = __builtin_bswap32(x->c->gpr[r]);
    }
    return EMU_EXEC_OK;
}

/* SHLD/SHRD r/m, reg, imm8|CL (0F A4, A5, AC, AD). */
static int exec_shxd(emu_ctx *x)
{
    unsigned size = x->in->opsize, bits = size * 8;
    unsigned op = x->in->op & 0xFF;
    unsigned n = ((op & 1) ? x->c->gpr[EMU_ECX] : x->in->imm) & 31;
    uint32_t dest = rm_read(x, size), m = emu_size_mask(size);
    uint64_t src = emu_reg_get(x->c, x->in->reg, size);
    uint64_t v;
    uint32_t r;
    bool cf;

    if (n == 0 || n > bits) {
        return EMU_EXEC_OK;     /* no-op, or undefined for 16-bit */
    }
    if (op < 0xA8) {            /* SHLD: dest:src shifted left */
        v = ((uint64_t)dest << bits) | src;
        r = (uint32_t)((v << n) >> bits) & m;
        cf = (v << (n - 1)) >> (2 * bits - 1) & 1;
    } else {                    /* SHRD: src:dest shifted right */
        v = (src << bits) | dest;
        r = (uint32_t)(v >> n) & m;
        cf = (v >> (n - 1)) & 1;
    }
    rm_write(x, size, r);
    set_arith(x->c, emu_flags_zsp(r, size) | (cf ? EMU_FL_CF : 0) |
                    (((r ^ dest) & emu_sign_bit(size)) ? EMU_FL_OF : 0));
    return EMU_EXEC_OK;
}

int emu_exec_ext(emu_ctx *x)
{
    switch (x->in->op) {
    case EMU_OP_0F | 0xB0: case EMU_OP_0F | 0xB1:
        return exec_cmpxchg(x);
    case EMU_OP_0F | 0xC0: case EMU_OP_0F | 0xC1:
        return exec_xadd(x);
    case EMU_OP_0F | 0xC7:
        return exec_cmpxchg8b(x);
    case EMU_OP_0F | 0xA4: case EMU_OP_0F | 0xA5:
    case EMU_OP_0F | 0xAC: case EMU_OP_0F | 0xAD:
        return exec_shxd(x);
    default:
        if (x->in->op >= (EMU_OP_0F | 0xC8) &&
            x->in->op <= (EMU_OP_0F | 0xCF)) {
            return exec_bswap(x);
        }
        return -1;
    }
}
