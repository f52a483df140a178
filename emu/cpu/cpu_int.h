/*
 * emu/cpu/cpu_int.h -- helpers shared by the interpreter's source files.
 *
 * Register and memory accessors, the stack, and the result codes through
 * which instruction handlers report exits and exceptions to the run loop.
 */
#ifndef EMU_CPU_CPU_INT_H
#define EMU_CPU_CPU_INT_H

#include "cpu.h"

/* Exception vectors used so far. */
#define EMU_EXC_DE   0   /* divide error */
#define EMU_EXC_UD   6   /* invalid opcode */

/* What an instruction handler tells the run loop. */
enum emu_exec_result {
    EMU_EXEC_OK,       /* retired; continue */
    EMU_EXEC_EXIT,     /* retired; leave run() with c->exit filled */
    EMU_EXEC_HALT,     /* HLT retired */
    EMU_EXEC_FAULT,    /* not retired; deliver exception c->fault */
};

/* Execution context of one instruction. */
typedef struct emu_ctx {
    emu_cpu *c;           /* the CPU */
    const emu_insn *in;   /* the decoded instruction */
    uint32_t next_eip;    /* EIP of the following instruction */
    int fault;            /* vector when returning EMU_EXEC_FAULT */
} emu_ctx;

/* flags.c */
uint32_t emu_size_mask(unsigned size);
uint32_t emu_sign_bit(unsigned size);
uint32_t emu_flags_zsp(uint32_t res, unsigned size);
void emu_lazy_set(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                  uint32_t b, uint32_t res, uint32_t cin);
bool emu_cond(emu_cpu *c, unsigned cc);

/* cpu.c: registers */
uint32_t emu_reg_get(const emu_cpu *c, unsigned r, unsigned size);
void emu_reg_set(emu_cpu *c, unsigned r, unsigned size, uint32_t v);

/* cpu.c: memory by segment and offset, linear and physical */
uint32_t emu_phys_read(emu_cpu *c, uint64_t pa, unsigned size);
void emu_phys_write(emu_cpu *c, uint64_t pa, unsigned size, uint32_t v);
uint32_t emu_mem_read(emu_cpu *c, unsigned seg, uint32_t off,
                      unsigned size);
void emu_mem_write(emu_cpu *c, unsigned seg, uint32_t off, unsigned size,
                   uint32_t v);

/* cpu.c: the stack (SS:eSP, width from SS.B) */
void emu_push(emu_cpu *c, uint32_t v, unsigned size);
uint32_t emu_pop(emu_cpu *c, unsigned size);

/* cpu.c: real-mode interrupt delivery through the IVT */
void emu_interrupt_real(emu_cpu *c, uint8_t vector, uint32_t ret_eip);

/* exec.c: executes one decoded instruction */
int emu_exec(emu_ctx *x);

#endif /* EMU_CPU_CPU_INT_H */
