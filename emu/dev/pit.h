/*
 * emu/dev/pit.h -- the 8254 programmable interval timer and port 0x61.
 *
 * Three channels at ports 0x40-0x43 clocked at 1.193182 MHz of virtual
 * time: channel 0 drives IRQ 0, channel 2's gate and output are reached
 * through port 0x61 (NMI status and control), which firmware and Linux
 * use to calibrate the TSC.  Counters are computed from emu_vclock_now()
 * when read, and timers are armed only for IRQ 0 edges.
 */
#ifndef EMU_DEV_PIT_H
#define EMU_DEV_PIT_H

#include "emu/bus/bus.h"
#include "emu/dev/irq.h"
#include "emu/dev/vclock.h"

typedef struct emu_pit emu_pit;

/* Creates the PIT on ports 0x40-0x43 and 0x61 of b; NULL on failure.
 * The clock is borrowed and must outlive the device. */
emu_pit *emu_pit_new(emu_bus *b, emu_vclock *vc, emu_irq irq0);
void emu_pit_free(emu_pit *p);
/* Machine reset: every channel back to mode 3 with a count of 65536
 * (channel 2's gate low), port 0x61 cleared.  (added by the device
 * helper) */
void emu_pit_reset(emu_pit *p);

#endif /* EMU_DEV_PIT_H */
