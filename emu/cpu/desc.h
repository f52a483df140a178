/*
 * emu/cpu/desc.h -- segment and gate descriptors (SDM vol. 3, 3.4-3.5).
 *
 * Decoding of the 8-byte GDT/LDT/IDT entries into the cached form the
 * segment registers hold, the privilege and type checks that a segment
 * load performs (as pure functions so they can be unit tested), and the
 * table look-up by selector.
 */
#ifndef EMU_CPU_DESC_H
#define EMU_CPU_DESC_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu.h"

/* Access-byte bits of emu_segment.attr (bits 0..7 = descriptor byte 5). */
#define EMU_DESC_A      0x01u   /* accessed (segments) */
#define EMU_DESC_RW     0x02u   /* readable code / writable data */
#define EMU_DESC_EC     0x04u   /* conforming code / expand-down data */
#define EMU_DESC_CODE   0x08u   /* code segment (with S) */
#define EMU_DESC_S      0x10u   /* code/data (1) or system (0) */
#define EMU_DESC_P      0x80u   /* present */
#define EMU_DESC_G      0x8000u /* limit in 4 KiB units */

/* System descriptor and gate types (attr & 0x1F with S = 0). */
enum emu_sys_type {
    EMU_SYS_TSS16 = 1, EMU_SYS_LDT = 2, EMU_SYS_TSS16_BUSY = 3,
    EMU_SYS_CALL16 = 4, EMU_SYS_TASK = 5, EMU_SYS_INT16 = 6,
    EMU_SYS_TRAP16 = 7, EMU_SYS_TSS32 = 9, EMU_SYS_TSS32_BUSY = 11,
    EMU_SYS_CALL32 = 12, EMU_SYS_INT32 = 14, EMU_SYS_TRAP32 = 15,
};

/* A decoded descriptor. */
typedef struct emu_desc {
    uint32_t lo, hi;     /* raw dwords */
    uint32_t base;       /* segment base */
    uint32_t limit;      /* byte-granular limit */
    uint16_t attr;       /* emu_segment.attr layout */
    uint16_t gate_sel;   /* gates: target selector */
    uint32_t gate_off;   /* gates: target offset (32-bit form) */
    uint8_t gate_count;  /* call gates: parameter count */
} emu_desc;

/* Decodes the two dwords of a descriptor. */
void emu_desc_decode(uint32_t lo, uint32_t hi, emu_desc *d);

static inline unsigned emu_desc_dpl(uint16_t attr)
{
    return (attr >> 5) & 3;
}

static inline unsigned emu_desc_type(uint16_t attr)
{
    return attr & 0x1F;    /* S bit and the 4-bit type */
}

/* True for a null selector (index 0 in the GDT). */
static inline bool emu_sel_null(uint16_t sel)
{
    return (sel & 0xFFFC) == 0;
}

/*
 * Checks a descriptor for a MOV/POP/LxS load of data segment register
 * sreg (ES, SS, DS, FS, GS; not a null selector) at privilege cpl.
 * Returns -1 when the load is allowed, otherwise the exception vector
 * (#GP, #SS or #NP) with its error code in *err (SDM vol. 2, MOV).
 */
int emu_desc_check_data(unsigned sreg, uint16_t sel, const emu_desc *d,
                        unsigned cpl, uint32_t *err);

/*
 * Checks a code-segment descriptor as the target of a far JMP/CALL
 * (direct or through a gate: dpl_max is CPL for direct transfers).
 * Returns -1 or the vector with *err as above.
 */
int emu_desc_check_code(uint16_t sel, const emu_desc *d, unsigned cpl,
                        uint32_t *err);

/* Reads the descriptor for sel from the GDT or LDT; false when the
 * selector lies beyond the table limit (or the LDT is unusable). */
bool emu_desc_fetch(emu_cpu *c, uint16_t sel, emu_desc *d);
/* Reads the descriptor or raises #GP(sel) (with ext: bit 0 set). */
void emu_desc_fetch_or_gp(emu_cpu *c, uint16_t sel, emu_desc *d,
                          unsigned ext);
/* Sets the accessed bit of a segment descriptor in memory. */
void emu_desc_touch(emu_cpu *c, uint16_t sel, emu_desc *d);
/* The cached segment register a descriptor yields. */
emu_segment emu_desc_segment(uint16_t sel, const emu_desc *d);

#endif /* EMU_CPU_DESC_H */
