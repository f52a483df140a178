/*
 * emu/cpu/cpu.h -- state and entry points of the x86 interpreter.
 *
 * The CPU state (GPRs, EIP, EFLAGS with lazily evaluated arithmetic flags,
 * segment registers with cached descriptors, control registers) plus the
 * guest RAM slots it reads directly.  Port I/O leaves the run loop as an
 * exit; accesses outside RAM go to an optional bus (MMIO).  Real mode
 * and 16/32-bit protected mode (segmentation, IDT, TSS stack switches).
 */
#ifndef EMU_CPU_CPU_H
#define EMU_CPU_CPU_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "emu/accel/accel.h"
#include "emu/bus/bus.h"
#include "emu/cpu/decode.h"
#include "emu/cpu/fpu.h"
#include "emu/cpu/mmu.h"

#define EMU_CPU_MAX_SLOTS   16
#define EMU_CPU_MAX_CPUID   16

/* Operation whose flags are pending evaluation (lazy flags). */
enum emu_lazy_op {
    EMU_LAZY_NONE,   /* eflags holds everything */
    EMU_LAZY_ADD, EMU_LAZY_ADC, EMU_LAZY_SUB, EMU_LAZY_SBB,
    EMU_LAZY_LOGIC,  /* AND/OR/XOR/TEST: CF=OF=AF=0 */
    EMU_LAZY_INC, EMU_LAZY_DEC,  /* as ADD/SUB 1; cin = the CF kept */
    EMU_LAZY_SHIFT,  /* SHL/SHR/SAR: cin = CF, b = OF, AF=0 */
    EMU_LAZY_MUL,    /* MUL/IMUL: cin = CF = OF, AF=0 */
};

/* ALU operation numbers, in the /reg order of opcodes 80..83. */
enum emu_alu_op {
    EMU_ALU_ADD, EMU_ALU_OR, EMU_ALU_ADC, EMU_ALU_SBB,
    EMU_ALU_AND, EMU_ALU_SUB, EMU_ALU_XOR, EMU_ALU_CMP
};

/* Operands of the last flag-setting operation. */
typedef struct emu_lazy {
    uint8_t op;        /* enum emu_lazy_op */
    uint8_t size;      /* operand size in bytes: 1, 2, 4 */
    uint32_t a, b;     /* source operands */
    uint32_t res;      /* result, truncated to size */
    uint32_t cin;      /* carry in (ADC/SBB) */
} emu_lazy;

/* A guest RAM slot as the CPU sees it. */
typedef struct emu_cpu_slot {
    uint64_t gpa, size;  /* guest-physical range */
    uint8_t *host;       /* borrowed host memory */
} emu_cpu_slot;

/* Interpreter state. */
typedef struct emu_cpu {
    uint32_t gpr[8];            /* general registers */
    uint32_t eip;               /* instruction pointer */
    uint32_t eflags;            /* flags; arithmetic bits may be in lf */
    emu_lazy lf;                /* pending arithmetic flags */
    emu_segment seg[EMU_NSEG];  /* segment registers */
    emu_dtable gdtr, idtr;      /* descriptor tables */
    emu_segment ldtr, tr;       /* LDT and task registers (cached) */
    uint32_t cr[5];             /* CR0..CR4 */
    uint32_t dr[8];             /* debug registers (stored only) */
    uint32_t sysenter[3];       /* SYSENTER_CS/ESP/EIP MSRs */
    bool io_string;             /* the pending IN belongs to an INS */
    bool io_have;               /* INS: complete_io supplied io_value */
    uint32_t io_value;          /* value read for a pending INS */
    jmp_buf fault_jmp;          /* where emu_raise() unwinds to */
    bool in_run;                /* inside emu_cpu_run (raise allowed) */
    uint32_t insn_esp;          /* ESP at the start of the instruction */
    uint8_t fault_vec;          /* exception being raised */
    uint32_t fault_err;         /* and its error code */
    uint64_t icount;            /* retired instructions (the TSC source) */
    int64_t tsc_offset;         /* TSC = icount + tsc_offset */
    bool halted;                /* stopped by HLT until an interrupt */
    bool shadow;                /* interrupts inhibited for one insn */
    bool io_pending;            /* an IN awaits complete_io */
    uint8_t io_reg_size;        /* size of the pending IN */
    int irq_vector;             /* queued external interrupt or -1 */
    bool want_window;           /* exit when interrupts are accepted */
    atomic_bool kicked;         /* set by kick(), cleared by run() */
    emu_cpu_slot slot[EMU_CPU_MAX_SLOTS];  /* guest RAM */
    unsigned nslots;
    emu_bus *bus;               /* MMIO fallback, may be NULL */
    emu_cpuid_entry cpuid[EMU_CPU_MAX_CPUID];
    unsigned ncpuid;
    emu_exit *exit;             /* exit being filled by run() */
    emu_tlb_entry tlb[EMU_TLB_SIZE];  /* software TLB (mmu.c) */
    uint32_t tlb_cr0, tlb_cr3, tlb_cr4; /* CRs the TLB was filled under */
    uint32_t a20_mask;          /* physical address mask of the A20 gate */
    struct emu_tcache *tc;      /* decoded blocks (tcache.c), lazily made */
    bool tc_dirty;              /* decoded code was dropped: leave block */
    emu_fpu fpu;                /* x87 state (fpu.c) */
    uint8_t exec_grp[0x200];    /* exec.c: 1 + the handler group that last
                                   took each opcode, 0 not yet known */
} emu_cpu;

/* Initialises all of *c: no RAM, default CPUID, reset state. */
void emu_cpu_init(emu_cpu *c);
/* Frees what the CPU allocated while running (the decoded-code cache);
 * *c stays usable. */
void emu_cpu_fini(emu_cpu *c);
/* Tells the CPU that something other than itself (a DMA-capable device
 * writing RAM through the bus) changed [pa, pa+len): decoded code there
 * is dropped. */
void emu_cpu_phys_written(emu_cpu *c, uint64_t pa, uint64_t len);
/* Puts the CPU in its reset state (CS:IP = F000:FFF0, real mode). */
void emu_cpu_reset(emu_cpu *c);
/* Adds a RAM slot; 0, -EINVAL (overlap/empty) or -ENOSPC. */
int emu_cpu_map_ram(emu_cpu *c, uint64_t gpa, uint64_t size, void *host);
/* Runs at most budget instructions; returns 0 and fills *ex. */
int emu_cpu_run(emu_cpu *c, uint64_t budget, emu_exit *ex);

/* Supplies the value of a pending IN; 0 or -EINVAL when none pends. */
int emu_cpu_complete_io(emu_cpu *c, uint64_t data);
/* Installs the default CPUID table (P6 class with FPU, TSC, CX8, CMOV,
 * FXSR). */
void emu_cpu_default_cpuid(emu_cpu *c);

/* CPUID leaf 1 EDX feature bits advertised by default. */
#define EMU_CPUID_FPU    (1u << 0)
#define EMU_CPUID_TSC    (1u << 4)
#define EMU_CPUID_CX8    (1u << 8)
#define EMU_CPUID_CMOV   (1u << 15)
#define EMU_CPUID_FXSR   (1u << 24)

/* Materialised EFLAGS (evaluates the lazy flags). */
uint32_t emu_cpu_get_flags(emu_cpu *c);
/* Replaces EFLAGS (bit 1 is forced set). */
void emu_cpu_set_flags(emu_cpu *c, uint32_t fl);
/* Performs an ALU operation on size-byte operands, setting the flags. */
uint32_t emu_cpu_alu(emu_cpu *c, unsigned op, unsigned size, uint32_t a,
                     uint32_t b);

/* CR0.ET (the other CR0 bits are in mmu.h). */
#define EMU_CR0_ET   0x00000010u

/* Loads a segment register the real-mode way (base = sel << 4). */
void emu_cpu_load_seg_real(emu_cpu *c, unsigned sreg, uint16_t sel);

#endif /* EMU_CPU_CPU_H */
