/*
 * tests/emu/test_ide.c -- the ISA IDE channel driven through the bus the
 * way SeaBIOS's ata.c and libata's SFF code drive it: IDENTIFY contents,
 * PIO reads (16- and 32-bit) from raw and qcow2 images, writes kept in
 * the overlay (the image never changes), MULTIPLE blocks, LBA48, CHS,
 * soft reset signature, the absent slave, nIEN, the error paths and
 * machine reset (overlay kept).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/bus/bus.h"
#include "emu/dev/ide.h"
#include "libimg/img.h"
#include "support/tmpdir.h"

#define BASE 0x1F0
#define CTL  0x3F6
#define SECT 512u
enum { DATA = 0, ERR = 1, NSECT = 2, LBAL = 3, LBAM = 4, LBAH = 5,
       DEV = 6, CMD = 7 };

typedef struct fixture {
    emu_bus *bus;
    emu_ide *ide;
    img *disk;
    bool level;         /* IRQ line */
    int raises;         /* 0 -> 1 transitions */
} fixture;

static void irq_cb(void *opaque, unsigned line, bool level)
{
    fixture *f = opaque;

    cr_assert_eq(line, 14);
    f->raises += level && !f->level;
    f->level = level;
}

/* Byte i of sector s in the generated images. */
static uint8_t pat(uint64_t s, unsigned i)
{
    return (uint8_t)(s * 37 + i * 3 + (i >> 8));
}

/* A raw image of nsect patterned sectors in memory, opened read-only
 * (optionally behind a fault wrapper). */
static img *raw_disk(uint64_t nsect, const img_fault_plan *plan)
{
    size_t len = (size_t)nsect * SECT;
    uint8_t *data = malloc(len);
    img_file *file;
    img *im = NULL;
    img_err err;

    cr_assert_not_null(data);
    for (uint64_t s = 0; s < nsect; s++) {
        for (unsigned i = 0; i < SECT; i++) {
            data[s * SECT + i] = pat(s, i);
        }
    }
    file = img_mem_file_new(data, len, 0);
    free(data);
    if (plan != NULL) {
        file = img_fault_file_new(file, plan);
    }
    cr_assert_eq(img_open_file(file, "raw", IMG_OPEN_NO_LOCK, &im, &err), 0,
                 "%s", err.msg);
    return im;
}

static fixture *fx_new(img *disk)
{
    fixture *f = calloc(1, sizeof(*f));

    cr_assert_not_null(f);
    f->bus = emu_bus_new();
    f->disk = disk;
    f->ide = emu_ide_new(f->bus, BASE, CTL, (emu_irq){ irq_cb, f, 14 },
                         disk);
    cr_assert_not_null(f->ide);
    return f;
}

static void fx_free(fixture *f)
{
    emu_ide_free(f->ide);
    emu_bus_free(f->bus);
    img_close(f->disk);
    free(f);
}

static uint8_t in(fixture *f, unsigned reg)
{
    return (uint8_t)emu_bus_pio_read(f->bus, (uint16_t)(BASE + reg), 1);
}

static void out(fixture *f, unsigned reg, uint8_t v)
{
    emu_bus_pio_write(f->bus, (uint16_t)(BASE + reg), 1, v);
}

static uint8_t alt_status(fixture *f)
{
    return (uint8_t)emu_bus_pio_read(f->bus, CTL, 1);
}

/* Issues a 28-bit LBA command. */
static void cmd28(fixture *f, uint8_t cmd, uint32_t lba, uint8_t count)
{
    out(f, NSECT, count);
    out(f, LBAL, (uint8_t)lba);
    out(f, LBAM, (uint8_t)(lba >> 8));
    out(f, LBAH, (uint8_t)(lba >> 16));
    out(f, DEV, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F)));
    out(f, CMD, cmd);
}

/* Issues a 48-bit command: high bytes first, as libata does. */
static void cmd48(fixture *f, uint8_t cmd, uint64_t lba, uint16_t count)
{
    out(f, NSECT, (uint8_t)(count >> 8));
    out(f, LBAL, (uint8_t)(lba >> 24));
    out(f, LBAM, (uint8_t)(lba >> 32));
    out(f, LBAH, (uint8_t)(lba >> 40));
    out(f, NSECT, (uint8_t)count);
    out(f, LBAL, (uint8_t)lba);
    out(f, LBAM, (uint8_t)(lba >> 8));
    out(f, LBAH, (uint8_t)(lba >> 16));
    out(f, DEV, 0x40);
    out(f, CMD, cmd);
}

/* Reads one 512-byte block with 16-bit (or 32-bit) accesses. */
static void pio_in(fixture *f, uint8_t *buf, bool wide)
{
    for (unsigned i = 0; i < SECT; i += wide ? 4 : 2) {
        uint32_t v = emu_bus_pio_read(f->bus, BASE, wide ? 4 : 2);
        for (unsigned k = 0; k < (wide ? 4u : 2u); k++) {
            buf[i + k] = (uint8_t)(v >> (8 * k));
        }
    }
}

static void pio_out(fixture *f, const uint8_t *buf)
{
    for (unsigned i = 0; i < SECT; i += 2) {
        emu_bus_pio_write(f->bus, BASE, 2, buf[i] | buf[i + 1] << 8);
    }
}

/* Writes one block with 32-bit accesses (outsl). */
static void pio_out32(fixture *f, const uint8_t *buf)
{
    for (unsigned i = 0; i < SECT; i += 4) {
        emu_bus_pio_write(f->bus, BASE, 4,
                          (uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8 |
                              (uint32_t)buf[i + 2] << 16 |
                              (uint32_t)buf[i + 3] << 24);
    }
}

static void assert_sector_is_image(const uint8_t *buf, uint64_t s)
{
    for (unsigned i = 0; i < SECT; i++) {
        cr_assert_eq(buf[i], pat(s, i), "sector %llu byte %u",
                     (unsigned long long)s, i);
    }
}

/* Reads sector lba with READ SECTORS into buf; returns the status. */
static uint8_t read1(fixture *f, uint32_t lba, uint8_t *buf)
{
    cmd28(f, 0x20, lba, 1);
    uint8_t st = in(f, CMD);
    if (st & 0x08) {
        pio_in(f, buf, false);
    }
    return st;
}

/* Decodes an ATA string of n words starting at word w. */
static void id_string(const uint8_t *id, unsigned w, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = (char)id[2 * (w + i) + 1];
        out[2 * i + 1] = (char)id[2 * (w + i)];
    }
    out[2 * n] = '\0';
}

static unsigned word(const uint8_t *id, unsigned w)
{
    return id[2 * w] | id[2 * w + 1] << 8;
}

Test(ide, identify_reports_model_capacity_geometry_and_checksum)
{
    fixture *f = fx_new(raw_disk(20160, NULL)); /* 20 x 16 x 63 */
    uint8_t id[SECT];
    char s[41];
    unsigned sum = 0;

    cr_assert_eq(in(f, CMD), 0x50);
    out(f, DEV, 0xA0);
    out(f, CMD, 0xEC);
    cr_assert(f->level);
    cr_assert_eq(alt_status(f), 0x58);
    cr_assert(f->level, "alternate status leaves INTRQ alone");
    cr_assert_eq(in(f, CMD), 0x58);
    cr_assert_not(f->level);
    pio_in(f, id, false);
    cr_assert_eq(in(f, CMD), 0x50, "DRQ drops after the last word");
    id_string(id, 27, 20, s);
    cr_assert_str_eq(s, "VDISK HARDDISK                          ");
    id_string(id, 10, 10, s);
    cr_assert_neq(s[0], ' ');
    cr_assert_eq(word(id, 0) & 0x8000, 0, "ATA, not ATAPI");
    cr_assert_eq(word(id, 1), 20);
    cr_assert_eq(word(id, 3), 16);
    cr_assert_eq(word(id, 6), 63);
    cr_assert_eq(word(id, 54), 20);
    cr_assert_eq(word(id, 55), 16);
    cr_assert_eq(word(id, 56), 63);
    cr_assert_eq(word(id, 57) | word(id, 58) << 16, 20160);
    cr_assert_eq(word(id, 47), 0x8010);
    cr_assert(word(id, 49) & (1u << 9), "LBA");
    cr_assert_eq(word(id, 60) | word(id, 61) << 16, 20160);
    cr_assert(word(id, 83) & (1u << 10), "48-bit feature set");
    cr_assert(word(id, 86) & (1u << 10));
    cr_assert_eq(word(id, 100) | word(id, 101) << 16, 20160);
    cr_assert_eq(word(id, 102) | word(id, 103), 0);
    cr_assert_eq(word(id, 64) & 0x03, 0x03, "PIO 3 and 4");
    for (unsigned i = 0; i < SECT; i++) {
        sum += id[i];
    }
    cr_assert_eq(id[510], 0xA5);
    cr_assert_eq(sum & 0xFF, 0, "integrity word");
    fx_free(f);
}

Test(ide, read_sectors_16_and_32_bit_with_irq_per_sector)
{
    fixture *f = fx_new(raw_disk(64, NULL));
    uint8_t buf[SECT];

    cmd28(f, 0x20, 5, 3);
    for (unsigned k = 0; k < 3; k++) {
        cr_assert_eq(f->raises, (int)k + 1);
        cr_assert_eq(in(f, CMD), 0x58);
        pio_in(f, buf, k == 1);
        assert_sector_is_image(buf, 5 + k);
    }
    cr_assert_eq(f->raises, 3, "no interrupt after the last block");
    cr_assert_eq(in(f, CMD), 0x50);
    cr_assert_eq(emu_ide_sectors_read(f->ide), 3);
    /* The last sector of the disk is readable; one past it is not. */
    cr_assert_eq(read1(f, 63, buf), 0x58);
    assert_sector_is_image(buf, 63);
    fx_free(f);
}

Test(ide, out_of_range_lba_gives_idnf)
{
    fixture *f = fx_new(raw_disk(64, NULL));

    cmd28(f, 0x20, 63, 2);
    cr_assert(f->level);
    cr_assert_eq(in(f, CMD), 0x51);
    cr_assert_eq(in(f, ERR), 0x10);
    cmd48(f, 0x24, 1ull << 32, 1);
    cr_assert_eq(in(f, CMD), 0x51);
    cr_assert_eq(in(f, ERR), 0x10);
    cmd28(f, 0x40, 60, 8);                   /* READ VERIFY checks too */
    cr_assert_eq(in(f, CMD), 0x51);
    cmd28(f, 0x40, 60, 4);
    cr_assert_eq(in(f, CMD), 0x50);
    fx_free(f);
}

Test(ide, writes_go_to_overlay_and_reads_merge_with_image)
{
    fixture *f = fx_new(raw_disk(64, NULL));
    uint8_t buf[SECT], w[SECT];
    size_t len;
    const uint8_t *bytes = img_mem_file_data(img_get_file(f->disk), &len);

    memset(w, 0xA7, sizeof(w));
    cmd28(f, 0x30, 9, 2);
    cr_assert_eq(f->raises, 0, "data-out: first DRQ without interrupt");
    cr_assert_eq(in(f, CMD), 0x58);
    pio_out(f, w);
    cr_assert_eq(f->raises, 1);
    cr_assert_eq(in(f, CMD), 0x58);
    w[0] = 0x11;
    w[510] = 0x22;
    pio_out32(f, w);
    cr_assert_eq(f->raises, 2);
    cr_assert_eq(in(f, CMD), 0x50);
    cr_assert_eq(emu_ide_sectors_written(f->ide), 2);
    /* Sectors 8..11 straddle the written ones and chunk boundaries. */
    cmd28(f, 0x20, 8, 4);
    for (unsigned k = 0; k < 4; k++) {
        in(f, CMD);
        pio_in(f, buf, true);
        if (k == 0 || k == 3) {
            assert_sector_is_image(buf, 8 + k);
        } else {
            cr_assert_eq(buf[0], k == 1 ? 0xA7 : 0x11);
            cr_assert_eq(buf[510], k == 1 ? 0xA7 : 0x22);
            cr_assert_eq(buf[511], 0xA7);
        }
    }
    /* The image itself is unchanged. */
    cr_assert_eq(len, 64 * SECT);
    for (uint64_t s = 0; s < 64; s++) {
        assert_sector_is_image(bytes + s * SECT, s);
    }
    fx_free(f);
}

Test(ide, multiple_mode_blocks_and_set_multiple_validation)
{
    fixture *f = fx_new(raw_disk(64, NULL));
    uint8_t buf[SECT], w[SECT];

    cmd28(f, 0xC4, 0, 4);                    /* multiple mode is off */
    cr_assert_eq(in(f, CMD), 0x51);
    cr_assert_eq(in(f, ERR), 0x04);
    out(f, NSECT, 3);
    out(f, CMD, 0xC6);
    cr_assert_eq(in(f, CMD), 0x51, "3 is not a power of two");
    out(f, NSECT, 4);
    out(f, CMD, 0xC6);
    cr_assert_eq(in(f, CMD), 0x50);
    f->raises = 0;
    cmd28(f, 0xC4, 16, 10);                  /* blocks of 4, 4, 2 */
    for (unsigned s = 0; s < 10; s++) {
        if (s % 4 == 0) {
            cr_assert_eq(f->raises, (int)(s / 4) + 1);
            cr_assert_eq(in(f, CMD), 0x58);
        }
        pio_in(f, buf, false);
        assert_sector_is_image(buf, 16 + s);
    }
    cr_assert_eq(in(f, CMD), 0x50);
    f->raises = 0;
    memset(w, 0x3C, sizeof(w));
    cmd48(f, 0x39, 40, 8);                   /* WRITE MULTIPLE EXT */
    for (unsigned s = 0; s < 8; s++) {
        pio_out(f, w);
        if (s == 3) {
            cr_assert_eq(f->raises, 1, "interrupt after the first block");
            cr_assert_eq(in(f, CMD), 0x58); /* acknowledges it */
        }
    }
    cr_assert_eq(f->raises, 2, "one interrupt per block");
    cr_assert_eq(in(f, CMD), 0x50);
    cr_assert_eq(read1(f, 47, buf), 0x58);
    cr_assert_eq(buf[100], 0x3C);
    fx_free(f);
}

Test(ide, qcow2_image_read_lba48_and_file_untouched_by_writes)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "d.qcow2");
    uint8_t buf[SECT], w[SECT];
    img *im = NULL;
    img_err err;
    char *before, *after;
    size_t nb, na;

    cr_assert_not_null(dir);
    if (test_sh("qemu-img create -q -f qcow2 '%s' 8M && qemu-io -f qcow2 "
                "-c 'write -P 0x5e 1M 64k' '%s' >/dev/null", path, path)) {
        test_tmpdir_free(dir);
        free(path);
        cr_skip_test("qemu-img/qemu-io not available");
    }
    cr_assert_eq(img_open(path, "qcow2", IMG_OPEN_NO_LOCK, &im, &err), 0,
                 "%s", err.msg);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    before = malloc(1 << 20);
    nb = fread(before, 1, 1 << 20, fp);
    fclose(fp);

    fixture *f = fx_new(im);
    cmd48(f, 0x24, 2047, 2);                 /* hole, then data */
    in(f, CMD);
    pio_in(f, buf, false);
    for (unsigned i = 0; i < SECT; i++) {
        cr_assert_eq(buf[i], 0);
    }
    in(f, CMD);
    pio_in(f, buf, true);
    for (unsigned i = 0; i < SECT; i++) {
        cr_assert_eq(buf[i], 0x5E);
    }
    memset(w, 0x99, sizeof(w));
    cmd48(f, 0x34, 2048, 1);
    pio_out(f, w);
    cr_assert_eq(in(f, CMD), 0x50);
    cr_assert_eq(read1(f, 2048, buf), 0x58);
    cr_assert_eq(buf[0], 0x99);
    fx_free(f);

    fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    after = malloc(1 << 20);
    na = fread(after, 1, 1 << 20, fp);
    fclose(fp);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(before, after, nb), 0, "image file changed");
    free(before);
    free(after);
    test_tmpdir_free(dir);
    free(path);
}

Test(ide, overlay_cap_fails_writes_cleanly)
{
    fixture *f = fx_new(raw_disk(64, NULL));
    uint8_t buf[SECT], w[SECT];

    memset(w, 0xEE, sizeof(w));
    emu_ide_set_overlay_limit(f->ide, 4096);  /* one chunk: sectors 0-7 */
    cmd28(f, 0x30, 3, 1);
    pio_out(f, w);
    cr_assert_eq(in(f, CMD), 0x50);
    cmd28(f, 0x30, 7, 2);                     /* 7 fits, 8 needs a chunk */
    pio_out(f, w);
    cr_assert_eq(in(f, CMD), 0x58, "first block stored");
    pio_out(f, w);
    cr_assert_eq(in(f, CMD), 0x51);
    cr_assert_eq(in(f, ERR), 0x04);
    cr_assert_eq(read1(f, 8, buf), 0x58);
    assert_sector_is_image(buf, 8);
    cr_assert_eq(read1(f, 7, buf), 0x58);
    cr_assert_eq(buf[0], 0xEE);
    fx_free(f);
}

Test(ide, image_read_error_gives_unc_status)
{
    img_fault_plan plan = { .fail_read_at = 1 };
    fixture *f = fx_new(raw_disk(64, &plan));
    uint8_t buf[SECT];

    cr_assert_eq(read1(f, 12, buf), 0x51);
    cr_assert_eq(in(f, ERR), 0x40);
    cr_assert_eq(in(f, LBAL), 12, "failing sector reported");
    cr_assert_eq(read1(f, 12, buf), 0x58, "later reads work");
    assert_sector_is_image(buf, 12);
    fx_free(f);
}

Test(ide, absent_slave_reads_zero_status_but_shares_task_file)
{
    fixture *f = fx_new(raw_disk(64, NULL));

    out(f, DEV, 0xB0);
    out(f, NSECT, 0x55);
    out(f, LBAL, 0xAA);
    cr_assert_eq(in(f, NSECT), 0x55);
    cr_assert_eq(in(f, LBAL), 0xAA);
    cr_assert_eq(in(f, DEV), 0xB0);
    cr_assert_eq(in(f, CMD), 0x00);
    cr_assert_eq(alt_status(f), 0x00);
    cr_assert_eq(in(f, ERR), 0x00);
    out(f, CMD, 0xEC);                        /* ignored */
    cr_assert_not(f->level);
    cr_assert_eq(in(f, CMD), 0x00);
    out(f, DEV, 0xA0);
    cr_assert_eq(in(f, CMD), 0x50);
    fx_free(f);
}

Test(ide, soft_reset_sets_signature_and_no_drive_reads_zero)
{
    fixture *f = fx_new(raw_disk(64, NULL));

    cmd28(f, 0x20, 1, 1);
    emu_bus_pio_write(f->bus, CTL, 1, 0x06);  /* SRST | nIEN */
    cr_assert_eq(alt_status(f) & 0x80, 0x80, "BSY while SRST is held");
    emu_bus_pio_write(f->bus, CTL, 1, 0x02);
    cr_assert_eq(in(f, CMD), 0x50);
    cr_assert_eq(in(f, ERR), 0x01);
    cr_assert_eq(in(f, NSECT), 0x01);
    cr_assert_eq(in(f, LBAL), 0x01);
    cr_assert_eq(in(f, LBAM), 0x00);
    cr_assert_eq(in(f, LBAH), 0x00);
    cr_assert_eq(in(f, DEV), 0x00);
    fx_free(f);

    emu_bus *b = emu_bus_new();
    emu_ide *none = emu_ide_new(b, BASE, CTL, (emu_irq){ 0 }, NULL);
    cr_assert_not_null(none);
    emu_bus_pio_write(b, BASE + NSECT, 1, 0x55);
    cr_assert_eq(emu_bus_pio_read(b, BASE + NSECT, 1), 0);
    cr_assert_eq(emu_bus_pio_read(b, BASE + CMD, 1), 0);
    emu_ide_free(none);
    emu_bus_free(b);
}

Test(ide, nien_masks_the_line_until_cleared)
{
    fixture *f = fx_new(raw_disk(64, NULL));

    emu_bus_pio_write(f->bus, CTL, 1, 0x02);
    out(f, CMD, 0xE7);                        /* FLUSH CACHE */
    cr_assert_not(f->level);
    emu_bus_pio_write(f->bus, CTL, 1, 0x00);
    cr_assert(f->level, "pending interrupt shows once nIEN clears");
    in(f, CMD);
    cr_assert_not(f->level);
    fx_free(f);
}

Test(ide, hob_readback_and_misc_commands)
{
    fixture *f = fx_new(raw_disk(64, NULL));

    out(f, LBAL, 0x12);
    out(f, LBAL, 0x34);
    emu_bus_pio_write(f->bus, CTL, 1, 0x80);
    cr_assert_eq(in(f, LBAL), 0x12);
    emu_bus_pio_write(f->bus, CTL, 1, 0x00);
    cr_assert_eq(in(f, LBAL), 0x34);
    out(f, NSECT, 0);
    out(f, CMD, 0xE5);                        /* CHECK POWER MODE */
    cr_assert_eq(in(f, CMD), 0x50);
    cr_assert_eq(in(f, NSECT), 0xFF);
    out(f, ERR, 0x03);                        /* SET FEATURES xfer mode */
    out(f, NSECT, 0x0C);                      /* PIO 4 */
    out(f, CMD, 0xEF);
    cr_assert_eq(in(f, CMD), 0x50);
    out(f, NSECT, 0x45);                      /* UDMA 5: no DMA here */
    out(f, CMD, 0xEF);
    cr_assert_eq(in(f, CMD), 0x51);
    const uint8_t aborted[] = { 0xA1, 0x00, 0xC8, 0xB0, 0xF8 };
    for (unsigned i = 0; i < sizeof(aborted); i++) {
        out(f, CMD, aborted[i]);
        cr_assert_eq(in(f, CMD), 0x51, "command %#x", aborted[i]);
        cr_assert_eq(in(f, ERR), 0x04);
    }
    out(f, CMD, 0xE3);                        /* IDLE */
    cr_assert_eq(in(f, CMD), 0x50);
    out(f, CMD, 0xEA);                        /* FLUSH CACHE EXT */
    cr_assert_eq(in(f, CMD), 0x50);
    fx_free(f);
}

Test(ide, chs_addressing_uses_initialize_device_parameters)
{
    fixture *f = fx_new(raw_disk(2048, NULL));
    uint8_t buf[SECT];

    out(f, NSECT, 17);
    out(f, DEV, 0xA3);                        /* 4 heads */
    out(f, CMD, 0x91);
    cr_assert_eq(in(f, CMD), 0x50);
    /* C/H/S = 2/1/5 -> (2 * 4 + 1) * 17 + 4 = 157 */
    out(f, NSECT, 1);
    out(f, LBAL, 5);
    out(f, LBAM, 2);
    out(f, LBAH, 0);
    out(f, DEV, 0xA1);
    out(f, CMD, 0x20);
    cr_assert_eq(in(f, CMD), 0x58);
    pio_in(f, buf, false);
    assert_sector_is_image(buf, 157);
    out(f, LBAL, 0);                          /* sector 0 is invalid */
    out(f, CMD, 0x20);
    cr_assert_eq(in(f, CMD), 0x51);
    cr_assert_eq(in(f, ERR), 0x10);
    fx_free(f);
}

Test(ide, machine_reset_returns_power_on_state_and_keeps_written_data)
{
    fixture *f = fx_new(raw_disk(2048, NULL));
    uint8_t buf[SECT], w[SECT], id[SECT];

    memset(w, 0xA7, sizeof(w));
    cmd28(f, 0x30, 9, 1);
    pio_out(f, w);
    out(f, NSECT, 4);
    out(f, CMD, 0xC6);                        /* SET MULTIPLE 4 */
    out(f, ERR, 0x82);
    out(f, CMD, 0xEF);                        /* write cache off */
    out(f, NSECT, 17);
    out(f, DEV, 0xA3);
    out(f, CMD, 0x91);                        /* 4 heads, 17 sectors */
    cmd28(f, 0x20, 20, 2);                    /* read left half done */
    emu_bus_pio_read(f->bus, BASE, 2);
    emu_bus_pio_write(f->bus, CTL, 1, 0x80);  /* HOB */
    cr_assert(f->level);
    cr_assert_eq(alt_status(f), 0x58);
    emu_ide_reset(f->ide);
    cr_assert_not(f->level, "INTRQ dropped");
    cr_assert_eq(alt_status(f), 0x50, "not busy, no DRQ");
    cr_assert_eq(emu_bus_pio_read(f->bus, BASE, 2), 0, "no transfer");
    cr_assert_eq(in(f, ERR), 0x01);
    cr_assert_eq(in(f, NSECT), 0x01, "signature, HOB clear");
    cr_assert_eq(in(f, LBAL), 0x01);
    cr_assert_eq(in(f, LBAM), 0x00);
    cr_assert_eq(in(f, LBAH), 0x00);
    cr_assert_eq(in(f, DEV), 0x00);
    cr_assert_eq(in(f, CMD), 0x50);
    /* The guest's write survives the reboot. */
    cr_assert_eq(read1(f, 9, buf), 0x58);
    for (unsigned i = 0; i < SECT; i++) {
        cr_assert_eq(buf[i], 0xA7);
    }
    cr_assert_eq(emu_ide_sectors_written(f->ide), 1);
    /* Settings back to power-on defaults. */
    out(f, CMD, 0xEC);
    in(f, CMD);
    pio_in(f, id, false);
    cr_assert_eq(word(id, 59), 0, "multiple mode off");
    cr_assert_eq(word(id, 54), word(id, 1));
    cr_assert_eq(word(id, 55), word(id, 3));
    cr_assert_eq(word(id, 56), word(id, 6));
    cr_assert(word(id, 85) & (1u << 5), "write cache on");
    /* SRST and nIEN held across the reset are released by it. */
    emu_bus_pio_write(f->bus, CTL, 1, 0x06);
    emu_ide_reset(f->ide);
    cr_assert_eq(alt_status(f), 0x50);
    out(f, CMD, 0xE7);                        /* FLUSH CACHE */
    cr_assert(f->level, "nIEN cleared");
    fx_free(f);
}
