/*
 * emu/dev/fw_cfg.h -- QEMU's firmware configuration device (I/O ports).
 *
 * Selector at port 0x510 (16-bit), data at 0x511 (byte-wise reads), and
 * the DMA interface at 0x514 (big-endian 64-bit address of a
 * FWCfgDmaAccess) for SeaBIOS.  Items are numbered keys (signature "QEMU",
 * ID, RAM size, CPU counts, ...) plus named files listed in the file
 * directory (key 0x19), which the machine adds before the guest starts:
 * "etc/e820", "etc/show-boot-menu", "etc/sercon-port", ...  Items are
 * read-only for the guest.  See QEMU's docs/specs/fw_cfg.rst.
 * Implemented in emu/dev/fw_cfg.c.
 */
#ifndef EMU_DEV_FW_CFG_H
#define EMU_DEV_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "emu/bus/bus.h"

#define EMU_FW_CFG_SIGNATURE  0x00
#define EMU_FW_CFG_ID         0x01
#define EMU_FW_CFG_RAM_SIZE   0x03
#define EMU_FW_CFG_NB_CPUS    0x05
#define EMU_FW_CFG_MAX_CPUS   0x0f
#define EMU_FW_CFG_FILE_DIR   0x19
#define EMU_FW_CFG_FILE_FIRST 0x20

typedef struct emu_fw_cfg emu_fw_cfg;

/* Creates the device on b with the signature and ID items; the bus is
 * also used for DMA transfers into guest memory.  NULL on failure. */
emu_fw_cfg *emu_fw_cfg_new(emu_bus *b);
void emu_fw_cfg_free(emu_fw_cfg *f);
/* Adds a numbered item (the data is copied).  0 or -errno. */
int emu_fw_cfg_add(emu_fw_cfg *f, uint16_t key, const void *data,
                   size_t len);
/* Adds a little-endian 16/32/64-bit numbered item. */
int emu_fw_cfg_add_i16(emu_fw_cfg *f, uint16_t key, uint16_t v);
int emu_fw_cfg_add_i32(emu_fw_cfg *f, uint16_t key, uint32_t v);
int emu_fw_cfg_add_i64(emu_fw_cfg *f, uint16_t key, uint64_t v);
/* Adds a named file (data copied) and lists it in the directory; names
 * are at most 55 bytes.  0 or -errno (-EEXIST, -ENOSPC, -EINVAL). */
int emu_fw_cfg_add_file(emu_fw_cfg *f, const char *name, const void *data,
                        size_t len);
/* Machine reset: selector 0 (the signature), read offset 0 and no DMA
 * address half pending, as QEMU's fw_cfg_reset; every item, file and
 * the directory are kept. */
void emu_fw_cfg_reset(emu_fw_cfg *f);

#endif /* EMU_DEV_FW_CFG_H */
