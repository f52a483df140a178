/*
 * emu/cpu/seg_int.h -- helpers shared by the protected-mode files.
 *
 * Stack cursors for pushes onto a stack that is not yet SS (privilege
 * changes), the TSS stack look-up, EFLAGS loading with the privilege
 * rules of POPF/IRET, and the EFLAGS bits they need.
 */
#ifndef EMU_CPU_SEG_INT_H
#define EMU_CPU_SEG_INT_H

#include "cpu_int.h"
#include "desc.h"

/* EFLAGS system bits. */
#define EMU_FL_IOPL  0x3000u
#define EMU_FL_NT    0x4000u
#define EMU_FL_RF    0x10000u
#define EMU_FL_VM    0x20000u
#define EMU_FL_AC    0x40000u
#define EMU_FL_ID    0x200000u
/* Bits POPF/IRET may change (before the CPL/IOPL rules). */
#define EMU_FL_POPF_MASK  (0x7FD5u | EMU_FL_AC | EMU_FL_ID)

/* A stack being written through its base (supervisor accesses). */
typedef struct emu_stk {
    uint32_t base;   /* segment base */
    uint32_t sp;     /* stack pointer (wrapped to mask) */
    uint32_t mask;   /* 0xFFFF or 0xFFFFFFFF (B bit) */
} emu_stk;

/* Pushes size bytes onto *s. */
void emu_stk_push(emu_cpu *c, emu_stk *s, uint32_t v, unsigned size);
/* Stack-pointer mask of a stack segment with attributes attr. */
uint32_t emu_stack_mask(uint16_t attr);
/* Sets SP or ESP (by SS.B) to sp. */
void emu_set_sp(emu_cpu *c, uint32_t sp);
/* Reads SS:ESP for privilege level dpl from the current TSS (#TS). */
void emu_tss_stack(emu_cpu *c, unsigned dpl, unsigned ext, uint16_t *ss,
                   uint32_t *esp);
/* Fetches and checks a new stack segment for level dpl (#TS, #SS). */
void emu_new_stack(emu_cpu *c, uint16_t ss, unsigned dpl, unsigned ext,
                   emu_desc *d);
/* Loads EFLAGS from POPF/IRET with the IOPL and IF rules at cpl. */
void emu_flags_load(emu_cpu *c, uint32_t v, unsigned size, unsigned cpl);

#endif /* EMU_CPU_SEG_INT_H */
