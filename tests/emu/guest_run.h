/*
 * tests/emu/guest_run.h -- runs a guest program on a tiny machine, shared
 * by the real-mode and protected-mode guest tests.
 *
 * A guest (tests/emu/guests/<name>.S, assembled at build time into
 * EMU_GUEST_DIR) is loaded at 0000:7C00 in 1 MiB of RAM behind the
 * interpreter backend, with debug consoles on ports 0x402 and 0xE9.  Port
 * I/O exits are serviced through the bus.  Every helper asserts.
 */
#ifndef TESTS_EMU_GUEST_RUN_H
#define TESTS_EMU_GUEST_RUN_H

#include <stdint.h>

#include "emu/accel/accel.h"
#include "emu/bus/bus.h"
#include "emu/dev/debugcon.h"

/* A tiny machine: RAM, bus, debug consoles and the interpreter. */
typedef struct guest_vm {
    uint8_t *ram;
    emu_bus *bus;
    emu_debugcon *con402, *con_e9;
    emu_accel *cpu;
} guest_vm;

/* Builds the machine with guests/<name>.bin loaded, CS:IP at 0:7C00. */
void guest_vm_init(guest_vm *vm, const char *name);
/* Frees everything guest_vm_init made. */
void guest_vm_fini(guest_vm *vm);
/* Runs until an exit other than port I/O or budget; returns it. */
enum emu_exit_reason guest_vm_run(guest_vm *vm);
/* Runs guest 'name'; expects 'expect' on port 0x402 and exit 'want'. */
void guest_expect_run(const char *name, const char *expect,
                      enum emu_exit_reason want);

#endif
