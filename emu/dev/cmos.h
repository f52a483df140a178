/*
 * emu/dev/cmos.h -- MC146818 CMOS RAM and real-time clock (ports 0x70/71).
 *
 * 128 bytes of CMOS with the RTC registers on top.  The wall-clock time
 * is a fixed, configurable epoch plus virtual time, so that two boots see
 * the same dates.  Bit 7 of a write to port 0x70 is the NMI mask.  The
 * machine fills the memory-size and equipment bytes with emu_cmos_set().
 */
#ifndef EMU_DEV_CMOS_H
#define EMU_DEV_CMOS_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/bus/bus.h"
#include "emu/dev/irq.h"
#include "emu/dev/vclock.h"

typedef struct emu_cmos emu_cmos;

/* Creates the device on ports 0x70/0x71; epoch is the time (seconds since
 * 1970-01-01 UTC) the RTC shows at virtual time 0.  NULL on failure. */
emu_cmos *emu_cmos_new(emu_bus *b, emu_vclock *vc, emu_irq irq8,
                       int64_t epoch);
void emu_cmos_free(emu_cmos *c);
/* Sets / reads a CMOS byte (index 0..127) from the host side. */
void emu_cmos_set(emu_cmos *c, unsigned index, uint8_t val);
uint8_t emu_cmos_get(const emu_cmos *c, unsigned index);
/* (added by the device helper) True while the guest masks NMIs (bit 7 of
 * the last write to port 0x70). */
bool emu_cmos_nmi_masked(const emu_cmos *c);
/* (added by the device helper) Machine reset, as the chip's RESET pin:
 * clears PIE, AIE, UIE, SQWE and the flags of register C; the clock and
 * the RAM bytes keep their values. */
void emu_cmos_reset(emu_cmos *c);

#endif /* EMU_DEV_CMOS_H */
