/*
 * emu/machine/firmware.h -- loading the PC firmware image (private).
 *
 * The firmware is a flat ROM image (SeaBIOS's bios-256k.bin) whose last
 * byte sits at 4 GiB - 1.  As QEMU does, its size must be a non-zero
 * multiple of 64 KiB; we also cap it at EMU_PC_MAX_FIRMWARE.
 */
#ifndef EMU_MACHINE_FIRMWARE_H
#define EMU_MACHINE_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/err.h"

/* Checks a firmware size; 0 or -EINVAL with err naming 'what'. */
int emu_fw_check_size(size_t len, const char *what, img_err *err);

/* Reads the firmware file at path into a new buffer (*data, free() it).
 * 0, or -errno with err set when unreadable or oddly sized. */
int emu_fw_load(const char *path, uint8_t **data, size_t *len,
                img_err *err);

#endif /* EMU_MACHINE_FIRMWARE_H */
