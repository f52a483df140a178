/*
 * emu/dev/debugcon.c -- debug console device (ports 0x402 and 0xE9).
 *
 * The guest writes bytes one at a time; they are appended to a growable
 * buffer (capped, so a runaway guest cannot exhaust host memory).  A read
 * returns 0xE9, the signature SeaBIOS and Bochs use to probe the port.
 */
#include "debugcon.h"

#include <stdlib.h>
#include <string.h>

#define DEBUGCON_MAX   (1u << 20)  /* bytes kept before output is dropped */
#define DEBUGCON_SIG   0xE9u       /* value read back from the port */

struct emu_debugcon {
    char *buf;      /* collected bytes plus a NUL */
    size_t len;     /* bytes collected */
    size_t cap;     /* allocated size of buf */
};

static uint32_t debugcon_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque;
    (void)port;
    (void)size;
    return DEBUGCON_SIG;
}

/* Appends one byte; drops it when the cap is reached or memory is short. */
static void debugcon_put(emu_debugcon *d, char c)
{
    if (d->len + 1 >= d->cap) {
        size_t ncap = d->cap * 2;
        char *n;
        if (ncap > DEBUGCON_MAX || (n = realloc(d->buf, ncap)) == NULL) {
            return;
        }
        d->buf = n;
        d->cap = ncap;
    }
    d->buf[d->len++] = c;
    d->buf[d->len] = '\0';
}

static void debugcon_write(void *opaque, uint16_t port, unsigned size,
                           uint32_t val)
{
    (void)port;
    (void)size;
    /* Only the low byte is meaningful, as on QEMU's isa-debugcon. */
    debugcon_put(opaque, (char)(val & 0xFF));
}

emu_debugcon *emu_debugcon_new(emu_bus *b, uint16_t port)
{
    emu_debugcon *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        return NULL;
    }
    d->cap = 256;
    d->buf = calloc(1, d->cap);
    if (d->buf == NULL ||
        emu_bus_add_ports(b, port, 1, debugcon_read, debugcon_write, d) < 0) {
        free(d->buf);
        free(d);
        return NULL;
    }
    return d;
}

void emu_debugcon_free(emu_debugcon *d)
{
    if (d != NULL) {
        free(d->buf);
        free(d);
    }
}

const char *emu_debugcon_output(const emu_debugcon *d, size_t *len)
{
    if (len != NULL) {
        *len = d->len;
    }
    return d->buf;
}

void emu_debugcon_clear(emu_debugcon *d)
{
    d->len = 0;
    d->buf[0] = '\0';
}
