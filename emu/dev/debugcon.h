/*
 * emu/dev/debugcon.h -- Bochs/QEMU-style debug console (ports 0x402, 0xE9).
 *
 * Bytes written to either port are collected in a buffer the host can
 * inspect; reading the port returns 0xE9, which is how firmware (SeaBIOS)
 * detects that the console exists.
 */
#ifndef EMU_DEV_DEBUGCON_H
#define EMU_DEV_DEBUGCON_H

#include <stddef.h>
#include <stdint.h>

#include "emu/bus/bus.h"

typedef struct emu_debugcon emu_debugcon;

/* Creates a console on port 'port' of bus b; NULL on failure. */
emu_debugcon *emu_debugcon_new(emu_bus *b, uint16_t port);
/* Frees the console; NULL is a no-op.  The bus must not be used after. */
void emu_debugcon_free(emu_debugcon *d);
/* Collected output, NUL-terminated; borrowed, valid until the next write. */
const char *emu_debugcon_output(const emu_debugcon *d, size_t *len);
/* Forgets the collected output. */
void emu_debugcon_clear(emu_debugcon *d);

#endif /* EMU_DEV_DEBUGCON_H */
