/*
 * emu/dev/i8042.h -- a minimal 8042 keyboard controller (ports 0x60/0x64).
 *
 * Enough for firmware and kernels to find a controller with a keyboard
 * that never types: status register, controller commands (self test,
 * interface test, command byte read/write, output port), keyboard reset
 * and identify replies, and the reset pulse (command 0xFE), which calls
 * the machine's reset callback.  IRQ 1 is raised when a reply is queued
 * and the command byte enables it.
 */
#ifndef EMU_DEV_I8042_H
#define EMU_DEV_I8042_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emu/bus/bus.h"
#include "emu/dev/irq.h"

typedef struct emu_i8042 emu_i8042;

/* Called when the guest asks for a system reset. */
typedef void (*emu_reset_fn)(void *opaque);

/* Creates the controller on ports 0x60 and 0x64; NULL on failure. */
emu_i8042 *emu_i8042_new(emu_bus *b, emu_irq irq1, emu_reset_fn reset,
                         void *opaque);
void emu_i8042_free(emu_i8042 *k);

/* (added by the device helper) */
/* Called when the guest changes A20 through the output port (0xD1, 0xDD,
 * 0xDF); same signature as emu_a20_fn of port92.h. */
typedef void (*emu_i8042_a20_fn)(void *opaque, bool enabled);
/* Sets the A20 callback; it receives the opaque given to _new. */
void emu_i8042_set_a20(emu_i8042 *k, emu_i8042_a20_fn a20);
/* Connects IRQ 12 (aux port bytes: 0xD3 echoes and the 0xFE replies of
 * the missing mouse); unconnected by default. */
void emu_i8042_set_irq12(emu_i8042 *k, emu_irq irq12);
/* Machine reset: empty FIFO, command byte 0x03, output port 0xCF. */
void emu_i8042_reset(emu_i8042 *k);
/* Queues keyboard scan codes as if typed; returns how many were taken
 * (0 while the keyboard or its interface is disabled). */
size_t emu_i8042_kbd_input(emu_i8042 *k, const uint8_t *codes, size_t n);

#endif /* EMU_DEV_I8042_H */
