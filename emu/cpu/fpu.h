/*
 * emu/cpu/fpu.h -- x87 FPU state and entry point (Intel SDM vol. 1,
 * chapter 8; FXSAVE layout from vol. 2, FXSAVE, table 3-53).
 *
 * Registers hold host doubles: results are deterministic on every host
 * but carry 53 bits of mantissa, not 64.  80-bit memory operands are
 * converted on load and store.  Exceptions are masked-response only
 * (flags are set in the status word; nothing unmasked is delivered).
 */
#ifndef EMU_CPU_FPU_H
#define EMU_CPU_FPU_H

#include <stdint.h>

/* The x87 (and FXSAVE-visible SSE) state. */
typedef struct emu_fpu {
    double st[8];        /* physical registers R0..R7 */
    uint16_t cw;         /* control word */
    uint16_t sw;         /* status word without TOP */
    uint8_t top;         /* stack top (status word bits 13:11) */
    uint8_t tag_empty;   /* bit i set: physical register i is empty */
    uint16_t fop;        /* last opcode (11 bits) */
    uint32_t fip, fdp;   /* last instruction and operand offsets */
    uint16_t fcs, fds;   /* and their selectors */
    uint32_t mxcsr;      /* SSE control/status (FXSAVE round trip) */
    uint8_t xmm[8][16];  /* XMM0..7 (FXSAVE round trip only) */
} emu_fpu;

/* Puts the FPU in its FNINIT state. */
void emu_fpu_init(emu_fpu *f);

#endif /* EMU_CPU_FPU_H */
