/*
 * emu/cpu/exec_int.h -- operand helpers for the instruction handlers.
 *
 * Effective-address arithmetic (SDM vol. 1, section 3.7.5) and reading or
 * writing the ModRM r/m operand, shared by the exec_*.c files.
 */
#ifndef EMU_CPU_EXEC_INT_H
#define EMU_CPU_EXEC_INT_H

#include "cpu_int.h"

/* Operand size of an opcode whose bit 0 selects byte (0) or full size. */
static inline unsigned op_size_bw(const emu_ctx *x)
{
    return (x->in->op & 1) ? x->in->opsize : 1;
}

/* Segment of the memory operand (override or default). */
static inline unsigned ea_seg(const emu_ctx *x)
{
    return x->in->seg >= 0 ? (unsigned)x->in->seg
                           : (unsigned)x->in->def_seg;
}

/* Offset of the memory operand, wrapped to the address size. */
static inline uint32_t ea_off(const emu_ctx *x)
{
    const emu_insn *in = x->in;
    uint32_t off = in->disp;

    if (in->base != EMU_REG_NONE) {
        off += x->c->gpr[in->base];
    }
    if (in->index != EMU_REG_NONE) {
        off += x->c->gpr[in->index] << in->scale;
    }
    return off & emu_size_mask(in->adsize);
}

/* Reads the r/m operand (register when mod == 3). */
static inline uint32_t rm_read(const emu_ctx *x, unsigned size)
{
    if (x->in->mod == 3) {
        return emu_reg_get(x->c, x->in->rm, size);
    }
    return emu_mem_read(x->c, ea_seg(x), ea_off(x), size);
}

/* Writes the r/m operand. */
static inline void rm_write(const emu_ctx *x, unsigned size, uint32_t v)
{
    if (x->in->mod == 3) {
        emu_reg_set(x->c, x->in->rm, size, v);
    } else {
        emu_mem_write(x->c, ea_seg(x), ea_off(x), size, v);
    }
}

/* Sign-extends a size-byte value to 32 bits. */
static inline int32_t sext(uint32_t v, unsigned size)
{
    unsigned sh = 32 - size * 8;
    return sh == 0 ? (int32_t)v : (int32_t)(v << sh) >> sh;
}

/* Sets the arithmetic flags to f (materialised, not lazy). */
static inline void set_arith(emu_cpu *c, uint32_t f)
{
    uint32_t fl = emu_cpu_get_flags(c);
    emu_cpu_set_flags(c, (fl & ~EMU_FL_ARITH) | (f & EMU_FL_ARITH));
}

/* Handler groups, each returning an enum emu_exec_result or -1 when the
 * opcode is not theirs. */
int emu_exec_arith(emu_ctx *x);
int emu_exec_string(emu_ctx *x);
int emu_exec_io(emu_ctx *x);
int emu_exec_ext(emu_ctx *x);
int emu_exec_sys(emu_ctx *x);
int emu_exec_legacy(emu_ctx *x);
int emu_exec_fpu(emu_ctx *x);    /* fpu.c: x87, WAIT, FXSAVE/FXRSTOR */

/* exec_fast.c: the handler that runs a decoded instruction, a direct
 * one for the frequent opcodes, else emu_exec (the full dispatch);
 * emu_exec_direct gives the direct one or NULL, ignoring LOCK. */
typedef int (*emu_exec_fn)(emu_ctx *x);
emu_exec_fn emu_exec_select(const emu_insn *in);
emu_exec_fn emu_exec_direct(const emu_insn *in);

/* exec_arith.c: INC or DEC of a size-byte value (CF kept); the shift
 * group C0/C1/D0..D3 and two/three-operand IMUL (0F AF, 69, 6B), which
 * exec_fast.c calls directly. */
uint32_t emu_incdec(emu_cpu *c, bool dec, unsigned size, uint32_t v);
int emu_exec_shift(emu_ctx *x);
int emu_exec_imul(emu_ctx *x);

/* IN/OUT permission: #GP(0) when CPL > IOPL and the TSS I/O bitmap
 * denies the ports (exec_legacy.c). */
void emu_check_io(emu_cpu *c, uint16_t port, unsigned size);

#endif /* EMU_CPU_EXEC_INT_H */
