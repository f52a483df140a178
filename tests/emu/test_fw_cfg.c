/*
 * tests/emu/test_fw_cfg.c -- QEMU fw_cfg device driven through the bus as
 * SeaBIOS and Linux drive it: selector/data ports, file directory, and
 * the DMA interface into a RAM slot, including hostile descriptors, and
 * machine reset.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "emu/bus/bus.h"
#include "emu/dev/fw_cfg.h"

#define RAM_SIZE  0x10000u
#define DESC      0x1000u   /* where tests put the FWCfgDmaAccess */
#define BUF       0x2000u   /* DMA destination */

/* DMA control bits (docs/specs/fw_cfg.rst). */
#define CTL_ERROR  0x01u
#define CTL_READ   0x02u
#define CTL_SKIP   0x04u
#define CTL_SELECT 0x08u
#define CTL_WRITE  0x10u

typedef struct fixture {
    emu_bus *bus;
    emu_fw_cfg *fw;
    uint8_t ram[RAM_SIZE];
} fixture;

static fixture *fx_new(void)
{
    fixture *f = calloc(1, sizeof(*f));

    cr_assert_not_null(f);
    f->bus = emu_bus_new();
    cr_assert_eq(emu_bus_add_ram(f->bus, 0, RAM_SIZE, f->ram), 0);
    f->fw = emu_fw_cfg_new(f->bus);
    cr_assert_not_null(f->fw);
    return f;
}

static void fx_free(fixture *f)
{
    emu_fw_cfg_free(f->fw);
    emu_bus_free(f->bus);
    free(f);
}

static void select_key(fixture *f, uint16_t key)
{
    emu_bus_pio_write(f->bus, 0x510, 2, key);
}

static void read_data(fixture *f, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)emu_bus_pio_read(f->bus, 0x511, 1);
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
}

static uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) |
           (v << 24);
}

/* Writes a descriptor at gpa (inside ram) and kicks it like SeaBIOS:
 * only the low half of the address, as outl(cpu_to_be32(addr)). */
static void dma(fixture *f, uint32_t desc, uint32_t control, uint32_t len,
                uint64_t addr)
{
    put_be(f->ram + desc, control, 4);
    put_be(f->ram + desc + 4, len, 4);
    put_be(f->ram + desc + 8, addr, 8);
    emu_bus_pio_write(f->bus, 0x518, 4, bswap32(desc));
}

Test(fw_cfg, signature_and_id_through_the_data_port)
{
    fixture *f = fx_new();
    uint8_t b[6];

    select_key(f, EMU_FW_CFG_SIGNATURE);
    read_data(f, b, 6);
    cr_assert_eq(memcmp(b, "QEMU\0\0", 6), 0);   /* zeros past the end */
    select_key(f, EMU_FW_CFG_ID);
    read_data(f, b, 4);
    cr_assert_eq(b[0], 0x03);                    /* traditional + DMA */
    cr_assert_eq(b[1] | b[2] | b[3], 0);
    select_key(f, 0x1234);                       /* no such item */
    read_data(f, b, 2);
    cr_assert_eq(b[0] | b[1], 0);
    fx_free(f);
}

Test(fw_cfg, selecting_again_rewinds_and_wide_reads_are_sequential)
{
    fixture *f = fx_new();

    cr_assert_eq(emu_fw_cfg_add_i32(f->fw, EMU_FW_CFG_RAM_SIZE, 0x11223344),
                 0);
    select_key(f, EMU_FW_CFG_RAM_SIZE);
    cr_assert_eq(emu_bus_pio_read(f->bus, 0x511, 1), 0x44);
    select_key(f, EMU_FW_CFG_RAM_SIZE);
    cr_assert_eq(emu_bus_pio_read(f->bus, 0x511, 2), 0x3344);
    cr_assert_eq(emu_bus_pio_read(f->bus, 0x511, 2), 0x1122);
    /* Replacing an item keeps one entry with the new value. */
    cr_assert_eq(emu_fw_cfg_add_i16(f->fw, EMU_FW_CFG_RAM_SIZE, 0xBEEF), 0);
    select_key(f, EMU_FW_CFG_RAM_SIZE);
    cr_assert_eq(emu_bus_pio_read(f->bus, 0x511, 4), 0x0000BEEF);
    fx_free(f);
}

Test(fw_cfg, file_directory_is_sorted_big_endian_and_selects_files)
{
    fixture *f = fx_new();
    uint8_t dir[4 + 3 * 64], b[8];

    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "etc/e820", "E820DATA", 8), 0);
    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "etc/boot-fail-wait", "\x05\0\0",
                                     4), 0);
    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "etc/sercon-port", "\xf8\x03",
                                     2), 0);
    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "etc/e820", "x", 1), -EEXIST);
    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "", "x", 1), -EINVAL);
    char longname[64];
    memset(longname, 'a', 56);
    longname[56] = '\0';
    cr_assert_eq(emu_fw_cfg_add_file(f->fw, longname, "x", 1), -EINVAL);
    cr_assert_eq(emu_fw_cfg_add(f->fw, EMU_FW_CFG_FILE_DIR, "x", 1), -EINVAL);

    select_key(f, EMU_FW_CFG_FILE_DIR);
    read_data(f, dir, sizeof(dir));
    cr_assert_eq(be32(dir), 3);
    const char *names[3] = { "etc/boot-fail-wait", "etc/e820",
                             "etc/sercon-port" };
    const uint32_t sizes[3] = { 4, 8, 2 };
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *e = dir + 4 + 64 * i;
        cr_assert_eq(be32(e), sizes[i]);
        cr_assert_eq((unsigned)(e[4] << 8 | e[5]), 0x20 + i);
        cr_assert_eq(e[6] | e[7], 0);
        cr_assert_str_eq((const char *)e + 8, names[i]);
    }
    select_key(f, 0x21);
    read_data(f, b, 8);
    cr_assert_eq(memcmp(b, "E820DATA", 8), 0);
    fx_free(f);
}

Test(fw_cfg, dma_select_and_read_fills_ram_and_zero_pads)
{
    fixture *f = fx_new();
    uint8_t expect[16] = "hello fw_cfg!";

    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "opt/test", expect, 13), 0);
    memset(f->ram + BUF, 0xCC, 32);
    dma(f, DESC, 0x20u << 16 | CTL_SELECT | CTL_READ, 16, BUF);
    cr_assert_eq(be32(f->ram + DESC), 0, "control cleared on success");
    cr_assert_eq(memcmp(f->ram + BUF, expect, 16), 0); /* 3 zero bytes */
    cr_assert_eq(f->ram[BUF + 16], 0xCC, "nothing beyond length");
    fx_free(f);
}

Test(fw_cfg, dma_skip_then_read_continues_and_write_is_refused)
{
    fixture *f = fx_new();

    select_key(f, EMU_FW_CFG_SIGNATURE);
    dma(f, DESC, CTL_SKIP, 2, 0);               /* address unused */
    cr_assert_eq(be32(f->ram + DESC), 0);
    dma(f, DESC, CTL_READ, 2, BUF);
    cr_assert_eq(memcmp(f->ram + BUF, "MU", 2), 0);
    dma(f, DESC, CTL_SELECT | CTL_WRITE, 4, BUF);
    cr_assert_eq(be32(f->ram + DESC), CTL_ERROR);
    fx_free(f);
}

Test(fw_cfg, dma_outside_ram_fails_without_touching_memory)
{
    fixture *f = fx_new();

    /* Buffer ends past RAM: ERROR, and RAM below the end is untouched. */
    memset(f->ram + RAM_SIZE - 4, 0x5A, 4);
    dma(f, DESC, CTL_SELECT | CTL_READ, 8, RAM_SIZE - 4);
    cr_assert_eq(be32(f->ram + DESC), CTL_ERROR);
    cr_assert_eq(f->ram[RAM_SIZE - 4], 0x5A);
    /* Hostile length: 4 GiB - 1 fails at once. */
    dma(f, DESC, CTL_SELECT | CTL_READ, 0xFFFFFFFFu, BUF);
    cr_assert_eq(be32(f->ram + DESC), CTL_ERROR);
    /* Address wrapping around 2^64. */
    dma(f, DESC, CTL_SELECT | CTL_READ, 0x100, 0xFFFFFFFFFFFFFF80ull);
    cr_assert_eq(be32(f->ram + DESC), CTL_ERROR);
    fx_free(f);
}

Test(fw_cfg, dma_descriptor_outside_ram_is_ignored_and_high_half_resets)
{
    fixture *f = fx_new();

    /* A descriptor above 4 GiB (high half 1) is not RAM: ignored. */
    put_be(f->ram + DESC, CTL_SELECT | CTL_READ, 4);
    put_be(f->ram + DESC + 4, 4, 4);
    put_be(f->ram + DESC + 8, BUF, 8);
    emu_bus_pio_write(f->bus, 0x514, 4, bswap32(1));
    emu_bus_pio_write(f->bus, 0x518, 4, bswap32(DESC));
    cr_assert_eq(be32(f->ram + DESC), CTL_SELECT | CTL_READ);
    /* The high half was consumed: a low-only kick now works. */
    emu_bus_pio_write(f->bus, 0x518, 4, bswap32(DESC));
    cr_assert_eq(be32(f->ram + DESC), 0);
    cr_assert_eq(memcmp(f->ram + BUF, "QEMU", 4), 0);
    fx_free(f);
}

Test(fw_cfg, dma_register_reads_back_the_signature)
{
    fixture *f = fx_new();
    uint32_t hi = emu_bus_pio_read(f->bus, 0x514, 4);
    uint32_t lo = emu_bus_pio_read(f->bus, 0x518, 4);

    cr_assert_eq(bswap32(hi), 0x51454D55u);      /* "QEMU" big endian */
    cr_assert_eq(bswap32(lo), 0x20434647u);      /* " CFG" */
    fx_free(f);
}

Test(fw_cfg, dma_may_cross_adjacent_ram_slots)
{
    fixture *f = fx_new();
    uint8_t hi[0x100] = { 0 }, data[40];

    for (unsigned i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i + 1);
    }
    cr_assert_eq(emu_bus_add_ram(f->bus, RAM_SIZE, sizeof(hi), hi), 0);
    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "opt/x", data, sizeof(data)), 0);
    /* Starts 13 bytes below the boundary: odd split of 8-byte stores. */
    dma(f, DESC, 0x20u << 16 | CTL_SELECT | CTL_READ, sizeof(data),
        RAM_SIZE - 13);
    cr_assert_eq(be32(f->ram + DESC), 0);
    cr_assert_eq(memcmp(f->ram + RAM_SIZE - 13, data, 13), 0);
    cr_assert_eq(memcmp(hi, data + 13, sizeof(data) - 13), 0);
    cr_assert_eq(hi[sizeof(data) - 13], 0);
    fx_free(f);
}

Test(fw_cfg, machine_reset_selects_signature_and_keeps_items)
{
    fixture *f = fx_new();
    uint8_t b[8];

    cr_assert_eq(emu_fw_cfg_add_file(f->fw, "etc/keep", "kept", 4), 0);
    select_key(f, EMU_FW_CFG_ID);
    read_data(f, b, 1);                          /* offset 1 */
    emu_bus_pio_write(f->bus, 0x514, 4, bswap32(1)); /* high half pending */
    emu_fw_cfg_reset(f->fw);
    /* Selector 0 at offset 0: the data port reads the signature. */
    read_data(f, b, 4);
    cr_assert_eq(memcmp(b, "QEMU", 4), 0);
    /* The DMA high half was dropped: a low-only kick reaches RAM. */
    dma(f, DESC, 0x20u << 16 | CTL_SELECT | CTL_READ, 4, BUF);
    cr_assert_eq(be32(f->ram + DESC), 0);
    cr_assert_eq(memcmp(f->ram + BUF, "kept", 4), 0, "file kept");
    select_key(f, EMU_FW_CFG_FILE_DIR);
    read_data(f, b, 8);
    cr_assert_eq(be32(b), 1, "directory kept");
    cr_assert_eq(be32(b + 4), 4);
    select_key(f, EMU_FW_CFG_ID);
    read_data(f, b, 1);
    cr_assert_eq(b[0], 0x03);
    fx_free(f);
}
