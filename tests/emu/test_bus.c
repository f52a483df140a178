/*
 * tests/emu/test_bus.c -- memory map, port dispatch and debug console.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "emu/bus/bus.h"
#include "emu/dev/debugcon.h"

/* An MMIO device that records the last access. */
typedef struct probe {
    uint64_t off;
    unsigned size;
    uint64_t val;
} probe;

static uint64_t probe_read(void *opaque, uint64_t off, unsigned size)
{
    probe *p = opaque;

    p->off = off;
    p->size = size;
    return 0xA5A5A5A5A5A5A5A5ull;
}

static void probe_write(void *opaque, uint64_t off, unsigned size,
                        uint64_t val)
{
    probe *p = opaque;

    p->off = off;
    p->size = size;
    p->val = val;
}

Test(bus, ram_is_little_endian_and_unmapped_reads_all_ones)
{
    uint8_t ram[64] = { 0 };
    emu_bus *b = emu_bus_new();

    cr_assert_eq(emu_bus_add_ram(b, 0x1000, sizeof(ram), ram), 0);
    emu_bus_mem_write(b, 0x1004, 4, 0x11223344);
    cr_assert_eq(ram[4], 0x44);
    cr_assert_eq(ram[7], 0x11);
    cr_assert_eq(emu_bus_mem_read(b, 0x1005, 2), 0x2233);
    cr_assert_eq(emu_bus_mem_read(b, 0x2000, 2), 0xFFFF);
    cr_assert_eq(emu_bus_add_ram(b, 0x1020, 0x100, ram), -EINVAL);
    cr_assert_eq(emu_bus_ram_count(b), 1);
    cr_assert_eq(emu_bus_ram_slot(b, 0)->gpa, 0x1000);
    emu_bus_free(b);
}

Test(bus, mmio_handler_sees_region_relative_offsets)
{
    probe p = { 0 };
    emu_bus *b = emu_bus_new();

    cr_assert_eq(emu_bus_add_mmio(b, 0xFEC00000, 0x1000, probe_read,
                                  probe_write, &p), 0);
    cr_assert_eq(emu_bus_mem_read(b, 0xFEC00010, 2), 0xA5A5);
    cr_assert_eq(p.off, 0x10);
    cr_assert_eq(p.size, 2);
    emu_bus_mem_write(b, 0xFEC00020, 4, 0xCAFE);
    cr_assert_eq(p.off, 0x20);
    cr_assert_eq(p.val, 0xCAFE);
    emu_bus_free(b);
}

Test(bus, ports_dispatch_to_their_own_instance)
{
    emu_bus *b = emu_bus_new();
    emu_debugcon *d1 = emu_debugcon_new(b, 0x402);
    emu_debugcon *d2 = emu_debugcon_new(b, 0xE9);

    cr_assert(d1 && d2);
    cr_assert_null(emu_debugcon_new(b, 0x402));    /* port taken */
    emu_bus_pio_write(b, 0x402, 1, 'h');
    emu_bus_pio_write(b, 0x402, 1, 0x100 | 'i');   /* low byte only */
    emu_bus_pio_write(b, 0xE9, 1, 'x');
    cr_assert_str_eq(emu_debugcon_output(d1, NULL), "hi");
    cr_assert_str_eq(emu_debugcon_output(d2, NULL), "x");
    cr_assert_eq(emu_bus_pio_read(b, 0x402, 1), 0xE9);
    cr_assert_eq(emu_bus_pio_read(b, 0x403, 1), 0xFF);
    cr_assert_eq(emu_bus_pio_read(b, 0x403, 2), 0xFFFF);
    emu_debugcon_clear(d1);
    cr_assert_str_eq(emu_debugcon_output(d1, NULL), "");
    emu_debugcon_free(d1);
    emu_debugcon_free(d2);
    emu_bus_free(b);
}

/* Records the last RAM write a device made through the bus. */
typedef struct ram_seen {
    uint64_t gpa, len;
    int calls;
} ram_seen;

static void note_ram_written(void *opaque, uint64_t gpa, uint64_t len)
{
    ram_seen *s = opaque;

    s->gpa = gpa;
    s->len = len;
    s->calls++;
}

Test(bus, device_ram_writes_are_reported)
{
    static uint8_t ram[4096];
    emu_bus *b = emu_bus_new();
    ram_seen seen = {0};

    cr_assert_eq(emu_bus_add_ram(b, 0x1000, sizeof(ram), ram), 0);
    emu_bus_set_ram_written(b, note_ram_written, &seen);
    emu_bus_mem_write(b, 0x1010, 4, 0xAABBCCDD);
    cr_assert_eq(seen.calls, 1);
    cr_assert_eq(seen.gpa, 0x1010);
    cr_assert_eq(seen.len, 4);
    cr_assert_eq(ram[0x10], 0xDD);
    emu_bus_mem_write(b, 0x9000, 4, 1);    /* unmapped: not RAM */
    cr_assert_eq(seen.calls, 1);
    emu_bus_free(b);
}
