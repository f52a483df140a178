/*
 * emu/dev/port92.h -- system control port A (port 0x92): A20 and reset.
 *
 * Bit 1 is the A20 gate (reported to the machine through a callback so
 * that it can mask address line 20), bit 0 a fast reset.
 */
#ifndef EMU_DEV_PORT92_H
#define EMU_DEV_PORT92_H

#include <stdbool.h>

#include "emu/bus/bus.h"
#include "emu/dev/i8042.h"

typedef struct emu_port92 emu_port92;

/* Called when the guest changes the A20 gate. */
typedef void (*emu_a20_fn)(void *opaque, bool enabled);

/* Creates the port on b; NULL on failure.  A20 starts enabled. */
emu_port92 *emu_port92_new(emu_bus *b, emu_a20_fn a20, emu_reset_fn reset,
                           void *opaque);
void emu_port92_free(emu_port92 *p);
/* (added by the device helper) Machine reset: the register goes back to
 * 0x02 (A20 on, reset bit clear) without calling the A20 callback; the
 * machine restores A20 itself. */
void emu_port92_reset(emu_port92 *p);

#endif /* EMU_DEV_PORT92_H */
