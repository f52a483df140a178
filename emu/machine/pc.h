/*
 * emu/machine/pc.h -- an ISA-only PC (like qemu-system-i386 -M isapc).
 *
 * RAM below 4 GiB, the firmware image at the top of 4 GiB (read-only) with
 * its last 128 KiB copied to RAM below 1 MiB, and the ISA devices a BIOS
 * and a bootloader expect: two 8259 PICs, the 8254 PIT, CMOS/RTC, a 16550
 * UART (COM1), an IDE disk backed by a libimg image, a minimal 8042, port
 * 0x92 (A20, fast reset), QEMU's fw_cfg and a debug console at 0x402.
 * The CPU is reached only through the accelerator interface (emu/accel).
 *
 * Time is virtual: retired instructions times a fixed number of
 * nanoseconds, so two runs of the same guest behave identically.  The
 * run loop cuts instruction budgets at the next timer deadline, skips
 * idle (HLT) time to that deadline and injects PIC interrupts when the
 * CPU opens its interrupt window.  It reports boot stages as it sees
 * them: firmware started, first firmware output, protected mode, paging
 * and the first instruction of the boot sector at 0000:7C00.
 */
#ifndef EMU_MACHINE_PC_H
#define EMU_MACHINE_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/accel/accel.h"
#include "libimg/err.h"
#include "libimg/img.h"

/* Defaults and limits. */
#define EMU_PC_DEFAULT_RAM      (128ull << 20)
#define EMU_PC_MIN_RAM          (2ull << 20)
#define EMU_PC_MAX_RAM          0xE0000000ull   /* 3.5 GiB, as isapc */
/* SeaBIOS's 128 KiB build, which QEMU's isapc machine loads too: the
 * 256 KiB build links code below 0xE0000 that only a PCI chipset's
 * shadow-RAM unlock copies there, so on an ISA PC it triple-faults (QEMU
 * -M isapc -bios bios-256k.bin stops at the same place). */
#define EMU_PC_DEFAULT_BIOS     "/usr/share/seabios/bios.bin"
#define EMU_PC_BIOS_ENV         "VDISK_BIOS"
#define EMU_PC_DEFAULT_NS       10u   /* ns per instruction: 100 MIPS */
#define EMU_PC_DEFAULT_EPOCH    1767225600   /* 2026-01-01 00:00:00 UTC */
#define EMU_PC_MAX_FIRMWARE     (16u << 20)
#define EMU_PC_ISA_BIOS_SIZE    (128u << 10)

/* Boot stages, in the order a normal boot reaches them. */
enum emu_pc_stage {
    EMU_PC_STAGE_FIRMWARE,    /* CPU started at the reset vector */
    EMU_PC_STAGE_OUTPUT,      /* first byte on the serial or debug port */
    EMU_PC_STAGE_PROTECTED,   /* CR0.PE seen set for the first time */
    EMU_PC_STAGE_PAGING,      /* CR0.PG seen set for the first time */
    EMU_PC_STAGE_BOOTSECTOR,  /* first instruction at 0000:7C00 */
    EMU_PC_STAGE_COUNT
};

/* What emu_pc_run() stopped for. */
enum emu_pc_status {
    EMU_PC_DEADLINE,          /* virtual time reached until_ns */
    EMU_PC_REQUESTED,         /* emu_pc_request_stop() was called */
    EMU_PC_STOPPED,           /* the guest stopped: see emu_pc_stop_reason */
};

/* Receives one byte of guest output (serial line or debug console). */
typedef void (*emu_pc_byte_fn)(void *opaque, uint8_t byte);
/* Reports a stage the first time it is reached; detail may be "". */
typedef void (*emu_pc_stage_fn)(void *opaque, enum emu_pc_stage stage,
                                uint64_t now_ns, const char *detail);

/* How to build the machine.  Pointers are borrowed for its lifetime. */
typedef struct emu_pc_config {
    uint64_t ram_size;         /* bytes, multiple of 64 KiB */
    const char *bios_path;     /* NULL: $VDISK_BIOS, else the default */
    const uint8_t *bios_data;  /* firmware in memory (overrides path) */
    size_t bios_len;           /* its size */
    uint32_t ns_per_insn;      /* virtual ns per retired instruction */
    int64_t rtc_epoch;         /* RTC time at virtual time 0 (Unix s) */
    img *disk;                 /* IDE master, NULL for none */
    emu_pc_byte_fn serial;     /* COM1 output sink (may be NULL) */
    void *serial_opaque;
    emu_pc_byte_fn debugcon;   /* port 0x402 output sink (may be NULL) */
    void *debugcon_opaque;
    emu_pc_stage_fn stage;     /* stage reports (may be NULL) */
    void *stage_opaque;
} emu_pc_config;

typedef struct emu_pc emu_pc;

/* Fills *cfg with the defaults (128 MiB, default BIOS, no disk). */
void emu_pc_config_init(emu_pc_config *cfg);

/* The firmware path cfg selects: bios_path, $VDISK_BIOS or the default. */
const char *emu_pc_bios_path(const emu_pc_config *cfg);

/*
 * Builds the machine, loads the firmware and puts the CPU at its reset
 * vector.  Returns 0 and *out, or -errno with err set (unreadable or
 * oddly sized firmware, bad RAM size, allocation failure).
 */
int emu_pc_new(const emu_pc_config *cfg, emu_pc **out, img_err *err);
/* Frees the machine (not the disk); NULL is a no-op. */
void emu_pc_free(emu_pc *pc);

/*
 * Runs the guest until virtual time until_ns, a stop request or the
 * guest stopping (triple fault, HLT that can never wake, accelerator
 * failure).  Returns an enum emu_pc_status; once stopped, it stays so.
 */
int emu_pc_run(emu_pc *pc, uint64_t until_ns);
/* Makes emu_pc_run() return EMU_PC_REQUESTED after the current exit;
 * meant for the output and stage callbacks. */
void emu_pc_request_stop(emu_pc *pc);
/* Requests a warm reset (CPU and firmware copy), done at the next exit. */
void emu_pc_request_reset(emu_pc *pc);

/* Why the guest stopped (a phrase), "" while it has not. */
const char *emu_pc_stop_reason(const emu_pc *pc);
/* Current virtual time in nanoseconds. */
uint64_t emu_pc_now_ns(const emu_pc *pc);
/* Instructions retired since the machine was built. */
uint64_t emu_pc_retired(const emu_pc *pc);
/* Whether stage s was reached. */
bool emu_pc_stage_seen(const emu_pc *pc, enum emu_pc_stage s);
/* A short name of stage s ("boot sector"). */
const char *emu_pc_stage_name(enum emu_pc_stage s);
/* Describes where the CPU is, for error messages: "at CS:EIP (mode,
 * linear address), bytes XX XX ..." (the next 12 bytes, read without
 * paging).  Useful when a guest times out spinning on an instruction the
 * CPU does not implement. */
void emu_pc_describe_cpu(emu_pc *pc, char *buf, size_t len);
/* Whether address line 20 is enabled (port 0x92). */
bool emu_pc_a20(const emu_pc *pc);

/* For tests and tools: the accelerator and guest RAM (borrowed). */
emu_accel *emu_pc_accel(emu_pc *pc);
uint8_t *emu_pc_ram(emu_pc *pc, uint64_t *size);

#endif /* EMU_MACHINE_PC_H */
