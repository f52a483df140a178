/*
 * emu/cpu/exec_fast.c -- direct handlers for the most frequent opcodes.
 *
 * When a block is decoded (tcache.c), emu_exec_select() gives each
 * instruction the handler that will run it: one of the small functions
 * below for the instructions that dominate real code (MOV, the ALU
 * group, TEST, INC/DEC, PUSH/POP, Jcc/JMP/CALL/RET, LEA, MOVZX/MOVSX,
 * SETcc/CMOVcc), or emu_exec(), the full dispatcher, for everything
 * else.  These opcodes are implemented only here (SDM vol. 2): the
 * generic path calls the same handlers through emu_exec_direct().
 * Instructions with a LOCK prefix take the generic path, which checks
 * that LOCK is allowed first.
 */
#include "exec_int.h"

/* 88, 89: MOV r/m, reg.  The rmreg32 forms have a 32-bit register as
 * r/m (mod 3), the mem32 forms a 32-bit memory operand: constant sizes
 * let the compiler drop the size and mod tests from the common cases. */
static int h_mov_rm_r(emu_ctx *x)
{
    unsigned size = op_size_bw(x);

    rm_write(x, size, emu_reg_get(x->c, x->in->reg, size));
    return EMU_EXEC_OK;
}

static int h_mov_mem32_reg(emu_ctx *x)
{
    emu_mem_write(x->c, ea_seg(x), ea_off(x), 4, x->c->gpr[x->in->reg]);
    return EMU_EXEC_OK;
}

static int h_mov_rmreg32_reg(emu_ctx *x)
{
    x->c->gpr[x->in->rm] = x->c->gpr[x->in->reg];
    return EMU_EXEC_OK;
}

/* 8A, 8B: MOV reg, r/m. */
static int h_mov_r_rm(emu_ctx *x)
{
    unsigned size = op_size_bw(x);

    emu_reg_set(x->c, x->in->reg, size, rm_read(x, size));
    return EMU_EXEC_OK;
}

static int h_mov_reg32_mem(emu_ctx *x)
{
    x->c->gpr[x->in->reg] = emu_mem_read(x->c, ea_seg(x), ea_off(x), 4);
    return EMU_EXEC_OK;
}

static int h_mov_reg32_rmreg(emu_ctx *x)
{
    x->c->gpr[x->in->reg] = x->c->gpr[x->in->rm];
    return EMU_EXEC_OK;
}

/* MOV between a register and r/m: the variant for the operand shape. */
static emu_exec_fn select_mov(const emu_insn *in)
{
    bool to_reg = in->op & 2, wide32 = (in->op & 1) && in->opsize == 4;

    if (!wide32) {
        return to_reg ? h_mov_r_rm : h_mov_rm_r;
    }
    if (in->mod == 3) {
        return to_reg ? h_mov_reg32_rmreg : h_mov_rmreg32_reg;
    }
    return to_reg ? h_mov_reg32_mem : h_mov_mem32_reg;
}

/* B0..BF: MOV reg, imm. */
static int h_mov_r_imm(emu_ctx *x)
{
    unsigned size = x->in->op >= 0xB8 ? x->in->opsize : 1;

    emu_reg_set(x->c, x->in->op & 7, size, x->in->imm);
    return EMU_EXEC_OK;
}

/* C6 /0, C7 /0: MOV r/m, imm. */
static int h_mov_rm_imm(emu_ctx *x)
{
    rm_write(x, op_size_bw(x), x->in->imm);
    return EMU_EXEC_OK;
}

/* 00..3D (forms 0..5): ALU op r/m,reg / reg,r/m / acc,imm, for an
 * operand size known to the caller. */
static inline int alu_body(emu_ctx *x, unsigned size)
{
    unsigned op = (x->in->op >> 3) & 7, form = x->in->op & 7;
    emu_cpu *c = x->c;
    uint32_t r;

    if (form >= 4) {
        r = emu_alu(c, op, size, emu_reg_get(c, EMU_EAX, size),
                    x->in->imm);
        if (op != EMU_ALU_CMP) {
            emu_reg_set(c, EMU_EAX, size, r);
        }
    } else if (form < 2) {
        r = emu_alu(c, op, size, rm_read(x, size),
                    emu_reg_get(c, x->in->reg, size));
        if (op != EMU_ALU_CMP) {
            rm_write(x, size, r);
        }
    } else {
        r = emu_alu(c, op, size, emu_reg_get(c, x->in->reg, size),
                    rm_read(x, size));
        if (op != EMU_ALU_CMP) {
            emu_reg_set(c, x->in->reg, size, r);
        }
    }
    return EMU_EXEC_OK;
}

static int h_alu(emu_ctx *x)
{
    return alu_body(x, (x->in->op & 1) ? x->in->opsize : 1);
}

static int h_alu32(emu_ctx *x)
{
    return alu_body(x, 4);
}

/* 80, 81, 83: ALU op r/m, imm. */
static inline int alu_imm_body(emu_ctx *x, unsigned size)
{
    uint32_t r = emu_alu(x->c, x->in->reg, size, rm_read(x, size),
                         x->in->imm);

    if (x->in->reg != EMU_ALU_CMP) {
        rm_write(x, size, r);
    }
    return EMU_EXEC_OK;
}

static int h_alu_imm(emu_ctx *x)
{
    return alu_imm_body(x, (x->in->op & 1) ? x->in->opsize : 1);
}

static int h_alu_imm32(emu_ctx *x)
{
    return alu_imm_body(x, 4);
}

/* 84, 85: TEST r/m, reg; A8, A9: TEST acc, imm. */
static int h_test(emu_ctx *x)
{
    unsigned size = op_size_bw(x);
    emu_cpu *c = x->c;

    if (x->in->op >= 0xA8) {
        emu_alu(c, EMU_ALU_AND, size, emu_reg_get(c, EMU_EAX, size),
                x->in->imm);
    } else {
        emu_alu(c, EMU_ALU_AND, size, rm_read(x, size),
                emu_reg_get(c, x->in->reg, size));
    }
    return EMU_EXEC_OK;
}

/* 40..4F: INC/DEC reg (CF kept, see emu_lazy_set). */
static int h_incdec_r(emu_ctx *x)
{
    unsigned r = x->in->op & 7, size = x->in->opsize;
    bool dec = x->in->op >= 0x48;
    uint32_t v = emu_reg_get(x->c, r, size);

    emu_reg_set(x->c, r, size, emu_incdec(x->c, dec, size, v));
    return EMU_EXEC_OK;
}

/* 50..57: PUSH reg. */
static int h_push_r(emu_ctx *x)
{
    unsigned size = x->in->opsize;

    emu_push(x->c, emu_reg_get(x->c, x->in->op & 7, size), size);
    return EMU_EXEC_OK;
}

/* 58..5F: POP reg. */
static int h_pop_r(emu_ctx *x)
{
    unsigned size = x->in->opsize;

    emu_reg_set(x->c, x->in->op & 7, size, emu_pop(x->c, size));
    return EMU_EXEC_OK;
}

/* 68, 6A: PUSH imm. */
static int h_push_imm(emu_ctx *x)
{
    emu_push(x->c, x->in->imm, x->in->opsize);
    return EMU_EXEC_OK;
}

/* Near relative jump, wrapped to the operand size. */
static inline void jump_rel(emu_ctx *x)
{
    x->next_eip = (x->next_eip + x->in->imm) &
                  emu_size_mask(x->in->opsize);
}

/* 70..7F, 0F 80..8F: Jcc. */
static int h_jcc(emu_ctx *x)
{
    if (emu_cond(x->c, x->in->op & 0xF)) {
        jump_rel(x);
    }
    return EMU_EXEC_OK;
}

/* E9, EB: JMP rel. */
static int h_jmp(emu_ctx *x)
{
    jump_rel(x);
    return EMU_EXEC_OK;
}

/* E8: CALL rel. */
static int h_call(emu_ctx *x)
{
    emu_push(x->c, x->next_eip, x->in->opsize);
    jump_rel(x);
    return EMU_EXEC_OK;
}

/* C3: RET. */
static int h_ret(emu_ctx *x)
{
    x->next_eip = emu_pop(x->c, x->in->opsize);
    return EMU_EXEC_OK;
}

/* FF /2 CALL r/m, /4 JMP r/m, /6 PUSH r/m. */
static int h_grp5_near(emu_ctx *x)
{
    unsigned size = x->in->opsize;
    uint32_t v = rm_read(x, size);

    if (x->in->reg == 6) {
        emu_push(x->c, v, size);
        return EMU_EXEC_OK;
    }
    if (x->in->reg == 2) {
        emu_push(x->c, x->next_eip, size);
    }
    x->next_eip = v & emu_size_mask(size);
    return EMU_EXEC_OK;
}

/* 8D: LEA (mod != 3). */
static int h_lea(emu_ctx *x)
{
    emu_reg_set(x->c, x->in->reg, x->in->opsize, ea_off(x));
    return EMU_EXEC_OK;
}

/* 0F B6, B7, BE, BF: MOVZX, MOVSX. */
static int h_movx(emu_ctx *x)
{
    unsigned src = (x->in->op & 1) ? 2 : 1;
    uint32_t v = rm_read(x, src);

    if (x->in->op >= (EMU_OP_0F | 0xBE)) {
        v = (uint32_t)sext(v, src);
    }
    emu_reg_set(x->c, x->in->reg, x->in->opsize, v);
    return EMU_EXEC_OK;
}

/* 0F 90..9F: SETcc. */
static int h_setcc(emu_ctx *x)
{
    rm_write(x, 1, emu_cond(x->c, x->in->op & 0xF));
    return EMU_EXEC_OK;
}

/* 0F 40..4F: CMOVcc (the source is read even when false). */
static int h_cmovcc(emu_ctx *x)
{
    uint32_t v = rm_read(x, x->in->opsize);

    if (emu_cond(x->c, x->in->op & 0xF)) {
        emu_reg_set(x->c, x->in->reg, x->in->opsize, v);
    }
    return EMU_EXEC_OK;
}

/* 90: NOP (and PAUSE). */
static int h_nop(emu_ctx *x)
{
    (void)x;
    return EMU_EXEC_OK;
}

/* Opcodes only the arithmetic group handles (shifts, group 3, IMUL,
 * CBW/CWD, bit tests and scans): straight to it.  It claims every
 * /reg of these opcodes; #UD should it ever decline one. */
static int h_arith(emu_ctx *x)
{
    int r = emu_exec_arith(x);

    if (r < 0) {
        x->fault = EMU_EXC_UD;
        return EMU_EXEC_FAULT;
    }
    return r;
}

/* Handler of a one-byte opcode, or NULL for the generic path. */
static emu_exec_fn select_1byte(const emu_insn *in)
{
    unsigned op = in->op;

    if (op < 0x40) {
        if ((op & 7) >= 6) {
            return NULL;
        }
        return (op & 1) && in->opsize == 4 ? h_alu32 : h_alu;
    }
    if (op < 0x50) {
        return h_incdec_r;
    }
    if (op < 0x58) {
        return h_push_r;
    }
    if (op < 0x60) {
        return h_pop_r;
    }
    if (op >= 0x70 && op <= 0x7F) {
        return h_jcc;
    }
    if (op >= 0xB0 && op <= 0xBF) {
        return h_mov_r_imm;
    }
    switch (op) {
    case 0x68: case 0x6A: return h_push_imm;
    case 0x80: case 0x82: return h_alu_imm;
    case 0x81: case 0x83:
        return in->opsize == 4 ? h_alu_imm32 : h_alu_imm;
    case 0x84: case 0x85: case 0xA8: case 0xA9: return h_test;
    case 0x88: case 0x89: case 0x8A: case 0x8B: return select_mov(in);
    case 0x8D: return in->mod != 3 ? h_lea : NULL;
    case 0x90: return h_nop;
    case 0xC6: case 0xC7: return in->reg == 0 ? h_mov_rm_imm : NULL;
    case 0xC3: return h_ret;
    case 0xE8: return h_call;
    case 0xE9: case 0xEB: return h_jmp;
    case 0xFF:
        return in->reg == 2 || in->reg == 4 || in->reg == 6 ? h_grp5_near
                                                            : NULL;
    case 0x69: case 0x6B: return emu_exec_imul;
    case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3:
        return emu_exec_shift;
    case 0x98: case 0x99: case 0xF6: case 0xF7:
        return h_arith;
    default:
        return NULL;
    }
}

/* Handler of a 0F xx opcode, or NULL for the generic path. */
static emu_exec_fn select_0f(const emu_insn *in)
{
    unsigned op = in->op & 0xFF;

    if (op >= 0x80 && op <= 0x8F) {
        return h_jcc;
    }
    if (op >= 0x90 && op <= 0x9F) {
        return h_setcc;
    }
    if (op >= 0x40 && op <= 0x4F) {
        return h_cmovcc;
    }
    switch (op) {
    case 0xB6: case 0xB7: case 0xBE: case 0xBF: return h_movx;
    case 0xAF: return emu_exec_imul;
    case 0xA3: case 0xAB: case 0xB3: case 0xBB: case 0xBC: case 0xBD:
        return h_arith;
    default:
        return NULL;
    }
}

emu_exec_fn emu_exec_direct(const emu_insn *in)
{
    return in->op >= EMU_OP_0F ? select_0f(in) : select_1byte(in);
}

emu_exec_fn emu_exec_select(const emu_insn *in)
{
    emu_exec_fn fn = in->lock ? NULL : emu_exec_direct(in);

    return fn != NULL ? fn : emu_exec;
}
