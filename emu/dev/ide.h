/*
 * emu/dev/ide.h -- an ISA IDE channel with one ATA disk backed by libimg.
 *
 * Command block at base (0x1F0-0x1F7), control block at ctl (0x3F6), IRQ
 * 14 for the primary channel.  The master drive is a libimg image of any
 * format: IDENTIFY DEVICE, READ/WRITE SECTORS, READ/WRITE MULTIPLE, SET
 * MULTIPLE MODE, their LBA48 EXT forms, INITIALIZE DEVICE PARAMETERS,
 * SET FEATURES, FLUSH CACHE and soft reset through the control register
 * (PIO only).  The image is only read: guest writes are kept in an
 * in-memory overlay so that booting never changes the image, and reads
 * see them.  CHS geometry for IDENTIFY follows the usual LBA-assisted
 * translation limits (16 heads, 63 sectors).
 * Implemented in emu/dev/ide.c.
 */
#ifndef EMU_DEV_IDE_H
#define EMU_DEV_IDE_H

#include <stdint.h>

#include "emu/bus/bus.h"
#include "emu/dev/irq.h"
#include "libimg/img.h"

typedef struct emu_ide emu_ide;

/* Creates the channel; disk is borrowed (NULL: no drive attached) and
 * must outlive the device.  NULL on failure. */
emu_ide *emu_ide_new(emu_bus *b, uint16_t base, uint16_t ctl, emu_irq irq,
                     img *disk);
void emu_ide_free(emu_ide *d);
/* Sectors the guest read and wrote so far (for boot reports). */
uint64_t emu_ide_sectors_read(const emu_ide *d);
uint64_t emu_ide_sectors_written(const emu_ide *d);
/* Caps the write overlay at bytes (rounded down to 4 KiB chunks; the
 * default is 256 MiB).  Writes that would need more fail with ERR/ABRT. */
void emu_ide_set_overlay_limit(emu_ide *d, uint64_t bytes);
/* Machine reset (the RESET- signal): the drive ends any command, shows
 * the signature with status DRDY|DSC and diagnostic code 01h, drops its
 * interrupt, clears nIEN and returns SET MULTIPLE, SET FEATURES and the
 * CHS translation to their power-on values.  The disk, the write overlay
 * (and its limit) and the transfer counters are kept. */
void emu_ide_reset(emu_ide *d);

#endif /* EMU_DEV_IDE_H */
