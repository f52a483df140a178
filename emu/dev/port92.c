/*
 * emu/dev/port92.c -- PS/2 system control port A (port 0x92).
 *
 * Bit 1 gates address line 20 (the "fast A20" of PS/2 machines and
 * chipsets), bit 0 is the fast reset: a 0 -> 1 transition resets the
 * CPU, and the bit keeps reading 1 until software clears it (IBM PS/2
 * technical reference; QEMU behaves the same).  The other bits are kept
 * and read back as written.
 */
#include "port92.h"

#include <stdlib.h>

#define P92_RESET 0x01
#define P92_A20   0x02

struct emu_port92 {
    uint8_t val;        /* last value written */
    emu_a20_fn a20;     /* may be NULL */
    emu_reset_fn reset; /* may be NULL */
    void *opaque;       /* argument of both callbacks */
};

static uint32_t port92_read(void *opaque, uint16_t port, unsigned size)
{
    emu_port92 *p = opaque;

    (void)port;
    (void)size;
    return p->val;
}

static void port92_write(void *opaque, uint16_t port, unsigned size,
                         uint32_t val32)
{
    emu_port92 *p = opaque;
    uint8_t old = p->val;
    uint8_t val = (uint8_t)val32;

    (void)port;
    (void)size;
    p->val = val;
    if (((old ^ val) & P92_A20) && p->a20 != NULL) {
        p->a20(p->opaque, (val & P92_A20) != 0);
    }
    if ((val & P92_RESET) && !(old & P92_RESET) && p->reset != NULL) {
        p->reset(p->opaque);
    }
}

emu_port92 *emu_port92_new(emu_bus *b, emu_a20_fn a20, emu_reset_fn reset,
                           void *opaque)
{
    emu_port92 *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    p->val = P92_A20;
    p->a20 = a20;
    p->reset = reset;
    p->opaque = opaque;
    if (emu_bus_add_ports(b, 0x92, 1, port92_read, port92_write, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void emu_port92_free(emu_port92 *p)
{
    free(p);
}

void emu_port92_reset(emu_port92 *p)
{
    p->val = P92_A20;
}
