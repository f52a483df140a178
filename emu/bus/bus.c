/*
 * emu/bus/bus.c -- guest-physical memory map and port I/O dispatch.
 *
 * Small linear tables: a PC has a handful of RAM slots, MMIO regions and
 * port ranges, and the CPU backend keeps its own fast path for RAM.
 */
#include "bus.h"

#include <errno.h>
#include <stdlib.h>

#define BUS_MAX_RAM   16
#define BUS_MAX_MMIO  32
#define BUS_MAX_PIO   64

typedef struct bus_mmio {
    uint64_t gpa, size;         /* region */
    emu_mmio_read_fn rd;        /* may be NULL: reads all-ones */
    emu_mmio_write_fn wr;       /* may be NULL: writes ignored */
    void *opaque;               /* device instance */
} bus_mmio;

typedef struct bus_pio {
    uint16_t base;              /* first port */
    unsigned count;             /* number of ports */
    emu_pio_read_fn rd;         /* may be NULL */
    emu_pio_write_fn wr;        /* may be NULL */
    void *opaque;               /* device instance */
} bus_pio;

struct emu_bus {
    emu_ram_slot ram[BUS_MAX_RAM];
    size_t nram;
    bus_mmio mmio[BUS_MAX_MMIO];
    size_t nmmio;
    bus_pio pio[BUS_MAX_PIO];
    size_t npio;
    emu_ram_written_fn ram_written;  /* observer of device RAM writes */
    void *ram_written_opaque;
};

emu_bus *emu_bus_new(void)
{
    return calloc(1, sizeof(emu_bus));
}

void emu_bus_free(emu_bus *b)
{
    free(b);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
                           uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* True when [gpa, gpa+size) touches any RAM or MMIO range. */
static bool bus_mem_taken(const emu_bus *b, uint64_t gpa, uint64_t size)
{
    for (size_t i = 0; i < b->nram; i++) {
        if (ranges_overlap(gpa, size, b->ram[i].gpa, b->ram[i].size)) {
            return true;
        }
    }
    for (size_t i = 0; i < b->nmmio; i++) {
        if (ranges_overlap(gpa, size, b->mmio[i].gpa, b->mmio[i].size)) {
            return true;
        }
    }
    return false;
}

int emu_bus_add_ram(emu_bus *b, uint64_t gpa, uint64_t size, void *host)
{
    if (size == 0 || gpa + size < gpa || bus_mem_taken(b, gpa, size)) {
        return -EINVAL;
    }
    if (b->nram == BUS_MAX_RAM) {
        return -ENOMEM;
    }
    b->ram[b->nram++] = (emu_ram_slot){ gpa, size, host };
    return 0;
}

int emu_bus_add_mmio(emu_bus *b, uint64_t gpa, uint64_t size,
                     emu_mmio_read_fn rd, emu_mmio_write_fn wr,
                     void *opaque)
{
    if (size == 0 || gpa + size < gpa || bus_mem_taken(b, gpa, size)) {
        return -EINVAL;
    }
    if (b->nmmio == BUS_MAX_MMIO) {
        return -ENOMEM;
    }
    b->mmio[b->nmmio++] = (bus_mmio){ gpa, size, rd, wr, opaque };
    return 0;
}

int emu_bus_add_ports(emu_bus *b, uint16_t base, unsigned count,
                      emu_pio_read_fn rd, emu_pio_write_fn wr,
                      void *opaque)
{
    if (count == 0 || base + count > 0x10000) {
        return -EINVAL;
    }
    for (size_t i = 0; i < b->npio; i++) {
        if (ranges_overlap(base, count, b->pio[i].base, b->pio[i].count)) {
            return -EBUSY;
        }
    }
    if (b->npio == BUS_MAX_PIO) {
        return -ENOMEM;
    }
    b->pio[b->npio++] = (bus_pio){ base, count, rd, wr, opaque };
    return 0;
}

size_t emu_bus_ram_count(const emu_bus *b)
{
    return b->nram;
}

const emu_ram_slot *emu_bus_ram_slot(const emu_bus *b, size_t i)
{
    return i < b->nram ? &b->ram[i] : NULL;
}

static const bus_pio *bus_find_pio(const emu_bus *b, uint16_t port)
{
    for (size_t i = 0; i < b->npio; i++) {
        if (port >= b->pio[i].base &&
            (unsigned)(port - b->pio[i].base) < b->pio[i].count) {
            return &b->pio[i];
        }
    }
    return NULL;
}

uint32_t emu_bus_pio_read(emu_bus *b, uint16_t port, unsigned size)
{
    const bus_pio *p = bus_find_pio(b, port);
    uint32_t ones = size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;

    if (p == NULL || p->rd == NULL) {
        return ones;
    }
    return p->rd(p->opaque, port, size) & ones;
}

void emu_bus_pio_write(emu_bus *b, uint16_t port, unsigned size,
                       uint32_t val)
{
    const bus_pio *p = bus_find_pio(b, port);

    if (p != NULL && p->wr != NULL) {
        p->wr(p->opaque, port, size, val);
    }
}

/* Byte-wise RAM access, little endian; false when gpa is not RAM. */
static bool bus_ram_rw(emu_bus *b, uint64_t gpa, unsigned size,
                       uint64_t *val, bool write)
{
    for (size_t i = 0; i < b->nram; i++) {
        const emu_ram_slot *s = &b->ram[i];
        if (gpa < s->gpa || gpa - s->gpa + size > s->size) {
            continue;
        }
        uint8_t *p = s->host + (gpa - s->gpa);
        if (write) {
            for (unsigned k = 0; k < size; k++) {
                p[k] = (uint8_t)(*val >> (8 * k));
            }
        } else {
            *val = 0;
            for (unsigned k = 0; k < size; k++) {
                *val |= (uint64_t)p[k] << (8 * k);
            }
        }
        return true;
    }
    return false;
}

static const bus_mmio *bus_find_mmio(const emu_bus *b, uint64_t gpa)
{
    for (size_t i = 0; i < b->nmmio; i++) {
        if (gpa >= b->mmio[i].gpa && gpa - b->mmio[i].gpa < b->mmio[i].size) {
            return &b->mmio[i];
        }
    }
    return NULL;
}

uint64_t emu_bus_mem_read(emu_bus *b, uint64_t gpa, unsigned size)
{
    uint64_t v;
    const bus_mmio *m;

    if (bus_ram_rw(b, gpa, size, &v, false)) {
        return v;
    }
    m = bus_find_mmio(b, gpa);
    v = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    if (m != NULL && m->rd != NULL) {
        return m->rd(m->opaque, gpa - m->gpa, size) & v;
    }
    return v;
}

void emu_bus_mem_write(emu_bus *b, uint64_t gpa, unsigned size,
                       uint64_t val)
{
    const bus_mmio *m;

    if (bus_ram_rw(b, gpa, size, &val, true)) {
        if (b->ram_written != NULL) {
            b->ram_written(b->ram_written_opaque, gpa, size);
        }
        return;
    }
    m = bus_find_mmio(b, gpa);
    if (m != NULL && m->wr != NULL) {
        m->wr(m->opaque, gpa - m->gpa, size, val);
    }
}

void emu_bus_set_ram_written(emu_bus *b, emu_ram_written_fn fn,
                             void *opaque)
{
    b->ram_written = fn;
    b->ram_written_opaque = opaque;
}
