/*
 * emu/cpu/cpu_int.h -- helpers shared by the interpreter's source files.
 *
 * Register and memory accessors, the stack, and the result codes through
 * which instruction handlers report exits and exceptions to the run loop.
 */
#ifndef EMU_CPU_CPU_INT_H
#define EMU_CPU_CPU_INT_H

#include "cpu.h"
#include "mmu.h"

/* Exception vectors (SDM vol. 3, table 6-1). */
#define EMU_EXC_DE   0   /* divide error */
#define EMU_EXC_DB   1   /* debug */
#define EMU_EXC_BP   3   /* breakpoint (INT3) */
#define EMU_EXC_OF   4   /* overflow (INTO) */
#define EMU_EXC_BR   5   /* BOUND range exceeded */
#define EMU_EXC_UD   6   /* invalid opcode */
#define EMU_EXC_NM   7   /* device not available */
#define EMU_EXC_DF   8   /* double fault (error code 0) */
#define EMU_EXC_TS   10  /* invalid TSS (error code) */
#define EMU_EXC_NP   11  /* segment not present (error code) */
#define EMU_EXC_SS   12  /* stack fault (error code) */
#define EMU_EXC_GP   13  /* general protection (error code) */
#define EMU_EXC_PF   14  /* page fault (error code, CR2) */
#define EMU_EXC_AC   17  /* alignment check (error code) */

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

/*
 * except.c: exceptions.  Code running inside emu_cpu_run reports a fault
 * with emu_raise() (mmu.h), which unwinds to the run loop with nothing
 * retired (c->eip still addresses the faulting instruction).  The loop
 * then calls emu_exception(), which delivers it (real-mode IVT or
 * protected-mode IDT) and applies the double-fault rules; it returns
 * false on a triple fault (shutdown).  The error code is pushed only for
 * vectors that define one (8, 10-14, 17), so others may pass 0.
 */
bool emu_exception(emu_cpu *c, unsigned vector, uint32_t err);

/* Kinds of event for emu_interrupt(). */
enum emu_intr_kind {
    EMU_INTR_SOFT,     /* INT n / INT3 / INTO: gate DPL checked, EXT=0 */
    EMU_INTR_EXT,      /* external (PIC) interrupt: EXT=1 */
    EMU_INTR_EXC,      /* processor exception: EXT=1, error code */
};
/* Delivers an interrupt in the current mode with return address ret_eip;
 * sets CS:EIP to the handler.  Faults during delivery are raised. */
void emu_interrupt(emu_cpu *c, unsigned vector, unsigned kind,
                   uint32_t err, uint32_t ret_eip);

/* seg.c: segment loads and far transfers in the current mode; faults
 * are raised.  The far transfers set CS, EIP and ESP themselves. */
void emu_seg_load(emu_cpu *c, unsigned sreg, uint16_t sel);
void emu_far_jump(emu_cpu *c, uint16_t sel, uint32_t off, unsigned opsize,
                  bool call, uint32_t ret_eip);
void emu_far_ret(emu_cpu *c, unsigned opsize, uint16_t release);
void emu_iret(emu_cpu *c, unsigned opsize);

/* exec.c: executes one decoded instruction */
int emu_exec(emu_ctx *x);

#endif /* EMU_CPU_CPU_INT_H */
