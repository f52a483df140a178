/*
 * emu/machine/pc_int.h -- the PC machine's state, shared by pc.c (wiring,
 * CMOS and fw_cfg contents, reset) and pc_run.c (the run loop).
 */
#ifndef EMU_MACHINE_PC_INT_H
#define EMU_MACHINE_PC_INT_H

#include "emu/bus/bus.h"
#include "emu/dev/cmos.h"
#include "emu/dev/debugcon.h"
#include "emu/dev/fw_cfg.h"
#include "emu/dev/i8042.h"
#include "emu/dev/ide.h"
#include "emu/dev/pic.h"
#include "emu/dev/pit.h"
#include "emu/dev/port92.h"
#include "emu/dev/uart.h"
#include "emu/dev/vclock.h"
#include "emu/machine/pc.h"

/* Physical layout below 1 MiB. */
#define PC_LOW_RAM_END   0xA0000u    /* end of conventional memory */
#define PC_UPPER_START   0xC0000u    /* option ROM area, then BIOS copy */
#define PC_1M            0x100000u
#define PC_BOOT_ADDR     0x7C00u     /* where INT 19h loads the MBR */

/* Longest single-step watch for the boot sector (instructions). */
#define PC_WATCH_LIMIT   (4u << 20)
/* Longest budget per run() so that stop requests are seen. */
#define PC_MAX_BUDGET    (1u << 20)

struct emu_pc {
    emu_pc_config cfg;          /* as given (pointers borrowed) */
    uint8_t *ram;               /* guest RAM, cfg.ram_size bytes */
    uint8_t *fw;                /* firmware image (owned) */
    size_t fw_size;
    char fw_name[256];          /* path or "<memory>", for messages */
    emu_bus *bus;
    emu_accel *accel;
    emu_vclock vc;              /* virtual time and timers */
    emu_pic *pic;
    emu_pit *pit;
    emu_cmos *cmos;
    emu_uart *uart;
    emu_ide *ide;
    emu_i8042 *kbd;
    emu_port92 *port92;
    emu_fw_cfg *fw_cfg;
    emu_debugcon *dcon;
    bool a20;                   /* address line 20 enabled */
    bool want_window;           /* interrupt window requested */
    bool reset_pending;         /* a reset was requested by a device */
    bool stop_requested;        /* emu_pc_request_stop() */
    bool stopped;               /* the guest can never run again */
    char stop_reason[256];
    unsigned stages;            /* bit s set once stage s was reported */
    bool watching;              /* single-stepping towards 0000:7C00 */
    uint64_t watch_steps;       /* instructions single-stepped so far */
    uint64_t retired;           /* instructions retired in total */
};

/* pc.c */
void pc_stage(emu_pc *pc, enum emu_pc_stage s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_stop(emu_pc *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pc_reset(emu_pc *pc);
void pc_flush_debugcon(emu_pc *pc);

#endif /* EMU_MACHINE_PC_INT_H */
