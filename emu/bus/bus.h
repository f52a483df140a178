/*
 * emu/bus/bus.h -- guest-physical memory map and port I/O dispatch.
 *
 * A bus instance holds RAM slots (host memory mapped at a guest-physical
 * address), MMIO regions with read/write handlers and port ranges that
 * each device registers for itself.  There is no global bus: a machine
 * creates one and hands it to its devices.
 */
#ifndef EMU_BUS_H
#define EMU_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct emu_bus emu_bus;

/* Port handlers: size is 1, 2 or 4; unhandled bytes read as all-ones. */
typedef uint32_t (*emu_pio_read_fn)(void *opaque, uint16_t port,
                                    unsigned size);
typedef void (*emu_pio_write_fn)(void *opaque, uint16_t port,
                                 unsigned size, uint32_t val);
/* MMIO handlers: off is relative to the region start. */
typedef uint64_t (*emu_mmio_read_fn)(void *opaque, uint64_t off,
                                     unsigned size);
typedef void (*emu_mmio_write_fn)(void *opaque, uint64_t off,
                                  unsigned size, uint64_t val);

/* A RAM slot as returned by emu_bus_ram_slot(). */
typedef struct emu_ram_slot {
    uint64_t gpa;    /* guest-physical start */
    uint64_t size;   /* bytes */
    uint8_t *host;   /* borrowed host memory */
} emu_ram_slot;

/* Allocates an empty bus; NULL on allocation failure. */
emu_bus *emu_bus_new(void);
/* Frees the bus (not the RAM it maps); NULL is a no-op. */
void emu_bus_free(emu_bus *b);

/* Maps borrowed host memory at gpa.  0 or -EINVAL (overlap), -ENOMEM. */
int emu_bus_add_ram(emu_bus *b, uint64_t gpa, uint64_t size, void *host);
/* Registers an MMIO region.  0 or -EINVAL (overlap), -ENOMEM. */
int emu_bus_add_mmio(emu_bus *b, uint64_t gpa, uint64_t size,
                     emu_mmio_read_fn rd, emu_mmio_write_fn wr,
                     void *opaque);
/* Registers ports [base, base+count).  0 or -EBUSY (taken), -ENOMEM. */
int emu_bus_add_ports(emu_bus *b, uint16_t base, unsigned count,
                      emu_pio_read_fn rd, emu_pio_write_fn wr,
                      void *opaque);

/* Number of RAM slots and the i-th one (for handing RAM to a backend). */
size_t emu_bus_ram_count(const emu_bus *b);
const emu_ram_slot *emu_bus_ram_slot(const emu_bus *b, size_t i);

/* Port access: unclaimed ports read as all-ones and ignore writes. */
uint32_t emu_bus_pio_read(emu_bus *b, uint16_t port, unsigned size);
void emu_bus_pio_write(emu_bus *b, uint16_t port, unsigned size,
                       uint32_t val);

/* Physical access through RAM or MMIO; unmapped reads give all-ones. */
uint64_t emu_bus_mem_read(emu_bus *b, uint64_t gpa, unsigned size);
void emu_bus_mem_write(emu_bus *b, uint64_t gpa, unsigned size,
                       uint64_t val);

/*
 * Device writes to RAM through emu_bus_mem_write() (DMA) are reported to
 * fn, so that a CPU backend can drop what it cached about those bytes
 * (decoded instructions).  The CPU's own stores do not come through here.
 */
typedef void (*emu_ram_written_fn)(void *opaque, uint64_t gpa, uint64_t len);
void emu_bus_set_ram_written(emu_bus *b, emu_ram_written_fn fn,
                             void *opaque);

#endif /* EMU_BUS_H */
