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

/* Mask of a size-byte value (size 1, 2 or 4). */
static inline uint32_t emu_size_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
}

/* Sign bit of a size-byte value. */
static inline uint32_t emu_sign_bit(unsigned size)
{
    return 1u << (size * 8 - 1);
}

/* ADD, OR, AND, SUB, XOR, CMP on size-byte operands with lazy flags,
 * inline for the fast handlers; ADC/SBB call emu_cpu_alu (flags.c). */
static inline uint32_t emu_alu(emu_cpu *c, unsigned op, unsigned size,
                               uint32_t a, uint32_t b)
{
    uint32_t m = emu_size_mask(size), r;
    unsigned lazy = EMU_LAZY_LOGIC;

    a &= m;
    b &= m;
    switch (op) {
    case EMU_ALU_ADD:
        r = (a + b) & m;
        lazy = EMU_LAZY_ADD;
        break;
    case EMU_ALU_SUB:
    case EMU_ALU_CMP:
        r = (a - b) & m;
        lazy = EMU_LAZY_SUB;
        break;
    case EMU_ALU_AND:
        r = a & b;
        break;
    case EMU_ALU_OR:
        r = a | b;
        break;
    case EMU_ALU_XOR:
        r = a ^ b;
        break;
    default:
        return emu_cpu_alu(c, op, size, a, b);
    }
    c->lf = (emu_lazy){ (uint8_t)lazy, (uint8_t)size, a, b, r, 0 };
    return r;
}

/* flags.c */
uint32_t emu_flags_zsp(uint32_t res, unsigned size);
void emu_lazy_set(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                  uint32_t b, uint32_t res, uint32_t cin);
bool emu_cond(emu_cpu *c, unsigned cc);

/* Registers by ModRM number: for size 1, numbers 4..7 are AH..BH. */
static inline uint32_t emu_reg_get(const emu_cpu *c, unsigned r,
                                   unsigned size)
{
    if (size == 4) {
        return c->gpr[r];
    }
    if (size == 2) {
        return c->gpr[r] & 0xFFFF;
    }
    return r < 4 ? c->gpr[r] & 0xFF : (c->gpr[r - 4] >> 8) & 0xFF;
}

static inline void emu_reg_set(emu_cpu *c, unsigned r, unsigned size,
                               uint32_t v)
{
    if (size == 4) {
        c->gpr[r] = v;
    } else if (size == 2) {
        c->gpr[r] = (c->gpr[r] & ~0xFFFFu) | (v & 0xFFFF);
    } else if (r < 4) {
        c->gpr[r] = (c->gpr[r] & ~0xFFu) | (v & 0xFF);
    } else {
        c->gpr[r - 4] = (c->gpr[r - 4] & ~0xFF00u) | ((v & 0xFF) << 8);
    }
}

/* cpu.c: memory by segment and offset, linear and physical */
uint32_t emu_phys_read(emu_cpu *c, uint64_t pa, unsigned size);
void emu_phys_write(emu_cpu *c, uint64_t pa, unsigned size, uint32_t v);

/* Flushes the TLB if CR0, CR3 or CR4 changed since it was filled; inline
 * because the run loop checks before every block. */
static inline void emu_mmu_sync(emu_cpu *c)
{
    if (c->tlb_cr0 != c->cr[0] || c->tlb_cr3 != c->cr[3] ||
        c->tlb_cr4 != c->cr[4]) {
        emu_tlb_flush_all(c);
    }
}

/* Current privilege level: 0 in real mode, 3 in virtual-8086 mode, else
 * the RPL of CS (which the SDM keeps equal to the CPL).  Inline: every
 * memory access asks. */
static inline unsigned emu_cpu_cpl(const emu_cpu *c)
{
    if (!(c->cr[0] & EMU_CR0_PE)) {
        return 0;
    }
    if (c->eflags & 0x20000u) {        /* EFLAGS.VM */
        return 3;
    }
    return c->seg[EMU_CS].sel & 3;
}

/* True at CPL 3: accesses are user accesses. */
static inline bool emu_user_mode(const emu_cpu *c)
{
    return emu_cpu_cpl(c) == 3;
}

/* Host pointer for a size-byte access at lin that the TLB allows
 * directly (see emu_tlb_ptr), or NULL; the access must not cross the
 * page.  Inlined so that the common case costs no call. */
static inline uint8_t *emu_tlb_hit(emu_cpu *c, uint32_t lin, unsigned size,
                                   int acc)
{
    const emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
    bool user = emu_user_mode(c);
    uint32_t tag = acc == EMU_ACC_WRITE ? e->wtag[user] : e->rtag[user];

    if (tag != (lin & EMU_PAGE_MASK) || (lin & 0xFFF) > EMU_PAGE_SIZE - size ||
        e->host == NULL) {
        return NULL;
    }
    return e->host + (lin & 0xFFF);
}

/* Little-endian load and store of size (1, 2 or 4) bytes. */
static inline uint32_t emu_load_le(const uint8_t *p, unsigned size)
{
    if (size == 4) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
               (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    return size == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : p[0];
}

static inline void emu_store_le(uint8_t *p, unsigned size, uint32_t v)
{
    p[0] = (uint8_t)v;
    if (size >= 2) {
        p[1] = (uint8_t)(v >> 8);
    }
    if (size == 4) {
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
    }
}

/* Segment-relative accesses: the segment base plus the offset is a
 * linear address (limit and rights checks are the segment code's).  A
 * TLB hit is served inline; the rest goes through mmu.c. */
static inline uint32_t emu_mem_read(emu_cpu *c, unsigned seg, uint32_t off,
                                    unsigned size)
{
    uint32_t lin = c->seg[seg].base + off;
    const uint8_t *p = emu_tlb_hit(c, lin, size, EMU_ACC_READ);

    return p != NULL ? emu_load_le(p, size) : emu_lin_read(c, lin, size);
}

static inline void emu_mem_write(emu_cpu *c, unsigned seg, uint32_t off,
                                 unsigned size, uint32_t v)
{
    uint32_t lin = c->seg[seg].base + off;
    uint8_t *p = emu_tlb_hit(c, lin, size, EMU_ACC_WRITE);

    if (p != NULL) {
        emu_store_le(p, size, v);
    } else {
        emu_lin_write(c, lin, size, v);
    }
}

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

/* exec.c: executes one decoded instruction by searching the handler
 * groups (the generic handler of exec_fast.c's table); the caller moves
 * EIP to x->next_eip unless it returns EMU_EXEC_FAULT. */
int emu_exec(emu_ctx *x);

#endif /* EMU_CPU_CPU_INT_H */
