/*
 * emu/cpu/decode.h -- x86 instruction decoder (16- and 32-bit code).
 *
 * Decoding is a pure function from instruction bytes to an emu_insn, kept
 * apart from execution so that a later slice can decode once and cache
 * the result keyed by physical address (Intel SDM vol. 2, chapter 2).
 */
#ifndef EMU_CPU_DECODE_H
#define EMU_CPU_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_INSN_MAX   15     /* architectural instruction length limit */
#define EMU_OP_0F      0x100  /* added to the second byte of 0F xx */
#define EMU_REG_NONE   (-1)   /* no base / index register */

struct emu_ctx;

/* A decoded instruction: everything execution needs, nothing else. */
typedef struct emu_insn {
    int (*exec)(struct emu_ctx *x);  /* its handler: NULL from emu_decode,
                                        set by emu_exec_select() */
    uint16_t op;        /* opcode byte, or EMU_OP_0F | second byte */
    uint8_t len;        /* total length in bytes */
    uint8_t opsize;     /* operand size: 2 or 4 (byte ops use op bits) */
    uint8_t adsize;     /* address size: 2 or 4 */
    int8_t seg;         /* segment override (enum emu_sreg) or -1 */
    uint8_t rep;        /* 0, 0xF2 (REPNE) or 0xF3 (REP/REPE) */
    bool lock;          /* LOCK prefix seen */
    bool has_modrm;     /* ModRM byte present */
    uint8_t mod, reg, rm;   /* ModRM fields */
    int8_t base;        /* memory base register or EMU_REG_NONE */
    int8_t index;       /* memory index register or EMU_REG_NONE */
    uint8_t scale;      /* index shift: 0..3 */
    int8_t def_seg;     /* default segment of the memory operand */
    uint32_t disp;      /* displacement (sign-extended) or moffs */
    uint32_t imm;       /* first immediate (sign-extended where the ISA
                           says so), or far-pointer offset */
    uint32_t imm2;      /* second immediate (ENTER level, far selector) */
} emu_insn;

/*
 * Decodes one instruction from buf (avail bytes readable).  code32 is the
 * default operand/address size of the code segment.  Returns the length
 * (>0), -1 for an undefined or over-long instruction (#UD / #GP), or -2
 * when more than avail bytes would be needed.
 */
int emu_decode(const uint8_t *buf, size_t avail, bool code32,
               emu_insn *out);

#endif /* EMU_CPU_DECODE_H */
