/*
 * emu/dev/pic.h -- the two cascaded 8259A interrupt controllers of a PC.
 *
 * Master at ports 0x20/0x21, slave at 0xA0/0xA1 on master input 2, and
 * the edge/level control registers (ELCR) at 0x4D0/0x4D1.  Devices get
 * their line with emu_pic_irq(); the machine asks emu_pic_pending() and,
 * when the CPU can take an interrupt, emu_pic_ack() performs the INTA
 * cycle and returns the vector.
 */
#ifndef EMU_DEV_PIC_H
#define EMU_DEV_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/bus/bus.h"
#include "emu/dev/irq.h"

typedef struct emu_pic emu_pic;

/* Creates the pair and claims its ports on b; NULL on failure. */
emu_pic *emu_pic_new(emu_bus *b);
void emu_pic_free(emu_pic *p);
/* The line for ISA IRQ n (0..15). */
emu_irq emu_pic_irq(emu_pic *p, unsigned n);
/* True when an unmasked request is waiting for the CPU (INTR high). */
bool emu_pic_pending(const emu_pic *p);
/* INTA: acknowledges the highest-priority request, returns its vector
 * (the spurious vector 7 / 15 when the request went away). */
uint8_t emu_pic_ack(emu_pic *p);
/* Machine reset: both chips back to their power-on state (uninitialised,
 * nothing in service, vector base 0, ELCR clear); line levels are kept.
 * (added by the device helper) */
void emu_pic_reset(emu_pic *p);

#endif /* EMU_DEV_PIC_H */
