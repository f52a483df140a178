/*
 * emu/dev/pit.c -- Intel 8254 programmable interval timer and port 0x61.
 *
 * Follows the 8254 datasheet: three 16-bit down counters clocked at
 * 1.193182 MHz, modes 0-5, LSB/MSB/LSB-then-MSB access with separate
 * read and write flip-flops, the counter latch command, the read-back
 * command with status bytes (OUT, NULL COUNT, RW, mode, BCD) and BCD
 * counting.  Nothing ticks: each counter remembers the tick at which it
 * started and every read computes the count and OUT from the virtual
 * clock (ticks = ns * 1193182 / 10^9, exact integer math).  The only
 * timer is channel 0's, armed for the next change of its OUT, which is
 * the IRQ 0 line.  A GATE low stops modes 0 and 4 (the count is kept)
 * and holds modes 2 and 3 with OUT high (they reload on the rising
 * edge); modes 1 and 5 start on a GATE rising edge.  The one-clock load
 * delay of the real chip is not modelled: counting starts at the write.
 *
 * Port 0x61 (PC/AT system control port B): bit 0 channel 2 GATE, bit 1
 * speaker data enable, bits 2-3 stored, bit 4 the DRAM refresh toggle
 * (every 15.085 us of virtual time), bit 5 channel 2 OUT.
 */
#include "pit.h"

#include <stdlib.h>

#define PIT_HZ     1193182u
#define NS_PER_S   1000000000u
#define PIT_NEVER  UINT64_MAX
#define REFRESH_NS 15085u /* half period of port 0x61 bit 4 */

/* One counter. */
typedef struct pit_chan {
    uint32_t count;     /* initial count: 1..65536 (10000 in BCD) */
    uint64_t start;     /* tick at which counting (re)started */
    uint64_t frozen;    /* elapsed ticks when GATE went low */
    uint16_t latch;     /* latched counter value */
    uint8_t latch_left; /* latched bytes still to read (0: none) */
    uint8_t status;     /* latched status byte */
    bool status_latched;
    uint8_t mode;    /* 0..5 */
    uint8_t rw;      /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;        /* counts in BCD (modulo 10000) */
    bool rd_msb;     /* RW 3: next live read returns the MSB */
    bool wr_msb;     /* RW 3: next write is the MSB */
    uint8_t wr_lsb;  /* LSB written, waiting for the MSB */
    bool null_count; /* count written but not yet in the counter */
    bool gate;       /* GATE input level */
    bool loaded;     /* a count was written after the control word */
    bool triggered;  /* modes 1 and 5: GATE edge seen since loading */
} pit_chan;

struct emu_pit {
    pit_chan ch[3];
    emu_vclock *vc; /* borrowed */
    emu_irq irq0;
    bool irq_level;  /* level last driven on IRQ 0 */
    emu_timer timer; /* channel 0's next OUT change */
    uint8_t port61;  /* bits 0-3 as written */
};

/* Virtual ns -> PIT ticks elapsed, exact: floor(ns * PIT_HZ / 10^9). */
static uint64_t pit_ns_to_ticks(uint64_t ns)
{
    uint64_t q = ns / NS_PER_S, r = ns % NS_PER_S;

    return q * PIT_HZ + r * PIT_HZ / NS_PER_S;
}

/* First virtual ns at which tick t has been reached (inverse of above). */
static uint64_t pit_ticks_to_ns(uint64_t t)
{
    uint64_t q = t / PIT_HZ, r = t % PIT_HZ;

    return q * NS_PER_S + (r * NS_PER_S + PIT_HZ - 1) / PIT_HZ;
}

/* The PIT clock count at the current virtual time. */
static uint64_t pit_now_ticks(const emu_pit *p)
{
    return pit_ns_to_ticks(emu_vclock_now(p->vc));
}

/* Counting range: 2^16 in binary, 10^4 in BCD (a count of 0 is the
 * maximum). */
static uint32_t chan_modulus(const pit_chan *c)
{
    return c->bcd ? 10000 : 65536;
}

/* Modes 1 and 5 count only after a GATE trigger. */
static bool chan_gate_triggered_mode(const pit_chan *c)
{
    return c->mode == 1 || c->mode == 5;
}

/* True once counting has begun after the last control word. */
static bool chan_running(const pit_chan *c)
{
    return c->loaded && (!chan_gate_triggered_mode(c) || c->triggered);
}

/* True when a low GATE is currently holding the counter. */
static bool chan_held(const pit_chan *c)
{
    return !c->gate && !chan_gate_triggered_mode(c);
}

/* Ticks counted since the start, 0 when not counting. */
static uint64_t chan_elapsed(const pit_chan *c, uint64_t tick)
{
    if (!chan_running(c)) {
        return 0;
    }
    return chan_held(c) ? c->frozen : tick - c->start;
}

/* The value in the counting element at tick. */
static uint32_t chan_counter(const pit_chan *c, uint64_t tick)
{
    uint64_t d = chan_elapsed(c, tick);
    uint32_t m = chan_modulus(c);

    switch (c->mode) {
    case 2:
        return (uint32_t)(c->count - d % c->count) % m;
    case 3:
        return (uint32_t)(c->count - (2 * d) % c->count) % m;
    default:
        return (uint32_t)((c->count + m - d % m) % m);
    }
}

/* The OUT pin at tick. */
static bool chan_out(const pit_chan *c, uint64_t tick)
{
    uint64_t d;

    if (!c->loaded) {
        return c->mode != 0; /* mode 0 sets OUT low, the others high */
    }
    if (!chan_running(c)) {
        return true; /* modes 1 and 5 before their trigger */
    }
    if (chan_held(c) && (c->mode == 2 || c->mode == 3)) {
        return true;
    }
    d = chan_elapsed(c, tick);
    switch (c->mode) {
    case 0:
    case 1:
        return d >= c->count;
    case 2:
        return c->count < 2 || d % c->count != c->count - 1;
    case 3:
        return c->count < 2 || d % c->count < (c->count + 1) / 2;
    default:
        return d != c->count; /* modes 4 and 5: one low clock */
    }
}

/* Tick of the next OUT change after tick, or PIT_NEVER. */
static uint64_t chan_next_change(const pit_chan *c, uint64_t tick)
{
    uint64_t d, base, r;

    if (!chan_running(c) || chan_held(c)) {
        return PIT_NEVER;
    }
    d = tick - c->start;
    switch (c->mode) {
    case 0:
    case 1:
        return d < c->count ? c->start + c->count : PIT_NEVER;
    case 2:
    case 3:
        if (c->count < 2) {
            return PIT_NEVER;
        }
        r = d % c->count;
        base = tick - r; /* start of the current period */
        if (c->mode == 2) {
            return base + (r < c->count - 1 ? c->count - 1 : c->count);
        }
        return base + (r < (c->count + 1) / 2 ? (c->count + 1) / 2 : c->count);
    default:
        if (d < c->count) {
            return c->start + c->count;
        }
        return d == c->count ? c->start + c->count + 1 : PIT_NEVER;
    }
}

/* Drives IRQ 0 from channel 0's OUT and arms the timer for its next
 * change; called after every channel 0 change and from the timer. */
static void pit_irq_update(emu_pit *p)
{
    uint64_t tick = pit_now_ticks(p);
    bool out = chan_out(&p->ch[0], tick);
    uint64_t next = chan_next_change(&p->ch[0], tick);

    if (out != p->irq_level) {
        p->irq_level = out;
        emu_irq_set(p->irq0, out);
    }
    if (next == PIT_NEVER) {
        emu_timer_del(p->vc, &p->timer);
    } else {
        emu_timer_mod(p->vc, &p->timer, pit_ticks_to_ns(next));
    }
}

/* Channel 0's timer: the clock reads exactly the edge time here. */
static void pit_timer_fire(void *opaque, uint64_t now_ns)
{
    (void)now_ns;
    pit_irq_update(opaque);
}

/* Changes a channel's GATE input at tick. */
static void chan_set_gate(pit_chan *c, uint64_t tick, bool gate)
{
    if (gate == c->gate) {
        return;
    }
    if (!gate) {
        if (chan_running(c) && !chan_gate_triggered_mode(c)) {
            c->frozen = tick - c->start;
        }
        c->gate = false;
        return;
    }
    c->gate = true;
    if (!c->loaded) {
        return;
    }
    if (c->mode == 0 || c->mode == 4) {
        c->start = tick - c->frozen; /* resume where it stopped */
    } else {
        c->start = tick; /* 2, 3 reload; 1, 5 trigger */
        c->triggered = true;
    }
}

/* Four BCD digits -> binary (invalid digits are taken at face value). */
static uint16_t bcd_to_bin(uint16_t v)
{
    return (uint16_t)(((v >> 12) & 15) * 1000 + ((v >> 8) & 15) * 100 +
                      ((v >> 4) & 15) * 10 + (v & 15));
}

/* Binary 0..9999 -> four BCD digits. */
static uint16_t bin_to_bcd(uint32_t v)
{
    return (uint16_t)(((v / 1000 % 10) << 12) | ((v / 100 % 10) << 8) |
                      ((v / 10 % 10) << 4) | (v % 10));
}

/* A new count arrives: counting restarts (or, in modes 1 and 5, waits
 * for the next GATE trigger). */
static void chan_load(pit_chan *c, uint64_t tick, uint16_t raw)
{
    uint32_t v = c->bcd ? bcd_to_bin(raw) : raw;

    c->count = v == 0 ? chan_modulus(c) : v;
    c->null_count = false;
    c->loaded = true;
    c->triggered = false;
    c->start = tick;
    c->frozen = 0;
}

/* A control word for this channel (not latch or read-back). */
static void chan_control(pit_chan *c, uint8_t val)
{
    c->rw = (val >> 4) & 3;
    c->mode = (val >> 1) & 7;
    if (c->mode > 5) {
        c->mode -= 4; /* 6 and 7 are aliases of 2 and 3 */
    }
    c->bcd = (val & 1) != 0;
    c->loaded = false;
    c->triggered = false;
    c->null_count = true;
    c->rd_msb = false;
    c->wr_msb = false;
    c->latch_left = 0;
    c->status_latched = false;
}

/* Counter latch: a second latch before the value is read is ignored. */
static void chan_latch_count(pit_chan *c, uint64_t tick)
{
    if (c->latch_left == 0) {
        uint32_t v = chan_counter(c, tick);

        c->latch = c->bcd ? bin_to_bcd(v) : (uint16_t)v;
        c->latch_left = c->rw == 3 ? 2 : 1;
    }
}

/* Read-back status latch: OUT, NULL COUNT and the control word. */
static void chan_latch_status(pit_chan *c, uint64_t tick)
{
    if (!c->status_latched) {
        c->status = (uint8_t)((chan_out(c, tick) ? 0x80 : 0) |
                              (c->null_count ? 0x40 : 0) | (c->rw << 4) |
                              (c->mode << 1) | (c->bcd ? 1 : 0));
        c->status_latched = true;
    }
}

/* Byte of a 16-bit value selected by the access mode. */
static uint8_t chan_byte(uint16_t v, bool msb)
{
    return (uint8_t)(msb ? v >> 8 : v & 0xFF);
}

/* A read of the channel port: latched status first, then a latched
 * count, else the live counter through the read flip-flop. */
static uint8_t chan_read(pit_chan *c, uint64_t tick)
{
    bool msb;

    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->latch_left > 0) {
        msb = c->rw == 2 || (c->rw == 3 && c->latch_left == 1);
        c->latch_left--;
        return chan_byte(c->latch, msb);
    }
    uint32_t v = chan_counter(c, tick);
    uint16_t w = c->bcd ? bin_to_bcd(v) : (uint16_t)v;

    msb = c->rw == 2 || (c->rw == 3 && c->rd_msb);
    if (c->rw == 3) {
        c->rd_msb = !c->rd_msb;
    }
    return chan_byte(w, msb);
}

/* A write of the channel port: a count byte per the access mode. */
static void chan_write(pit_chan *c, uint64_t tick, uint8_t val)
{
    switch (c->rw) {
    case 1:
        chan_load(c, tick, val);
        break;
    case 2:
        chan_load(c, tick, (uint16_t)(val << 8));
        break;
    case 3:
        if (!c->wr_msb) {
            c->wr_lsb = val;
            c->wr_msb = true;
            if (c->mode == 0) {
                c->loaded = false; /* the first byte stops mode 0 */
            }
        } else {
            c->wr_msb = false;
            chan_load(c, tick, (uint16_t)(c->wr_lsb | val << 8));
        }
        break;
    default:
        break; /* no access mode programmed yet */
    }
}

/* Port 0x43, SC = 3: the read-back command. */
static void pit_read_back(emu_pit *p, uint64_t tick, uint8_t val)
{
    for (unsigned i = 0; i < 3; i++) {
        if (!(val & (2u << i))) {
            continue;
        }
        if (!(val & 0x20)) {
            chan_latch_count(&p->ch[i], tick);
        }
        if (!(val & 0x10)) {
            chan_latch_status(&p->ch[i], tick);
        }
    }
}

/* Ports 0x40-0x43. */
static uint32_t pit_read(void *opaque, uint16_t port, unsigned size)
{
    emu_pit *p = opaque;
    unsigned i = port & 3;

    (void)size;
    if (i == 3) {
        return 0xFF; /* the control word register is write-only */
    }
    return chan_read(&p->ch[i], pit_now_ticks(p));
}

/* Ports 0x40-0x42 take counts; 0x43 control words, latch and
 * read-back commands.  Channel 0 changes re-evaluate IRQ 0. */
static void pit_write(void *opaque, uint16_t port, unsigned size,
                      uint32_t val32)
{
    emu_pit *p = opaque;
    uint64_t tick = pit_now_ticks(p);
    uint8_t val = (uint8_t)val32;
    unsigned i = port & 3;

    (void)size;
    if (i < 3) {
        chan_write(&p->ch[i], tick, val);
    } else if ((val >> 6) == 3) {
        pit_read_back(p, tick, val);
        return;
    } else if ((val & 0x30) == 0) {
        chan_latch_count(&p->ch[val >> 6], tick);
        return;
    } else {
        i = val >> 6;
        chan_control(&p->ch[i], val);
    }
    if (i == 0) {
        pit_irq_update(p);
    }
}

/* Port 0x61: stored bits 0-3, refresh toggle, channel 2 OUT. */
static uint32_t port61_read(void *opaque, uint16_t port, unsigned size)
{
    emu_pit *p = opaque;
    uint64_t now = emu_vclock_now(p->vc);
    uint32_t v = p->port61 & 0x0F;

    (void)port;
    (void)size;
    if ((now / REFRESH_NS) & 1) {
        v |= 0x10;
    }
    if (chan_out(&p->ch[2], pit_ns_to_ticks(now))) {
        v |= 0x20;
    }
    return v;
}

/* Port 0x61: bit 0 drives channel 2's GATE, bits 1-3 are stored. */
static void port61_write(void *opaque, uint16_t port, unsigned size,
                         uint32_t val)
{
    emu_pit *p = opaque;

    (void)port;
    (void)size;
    p->port61 = val & 0x0F;
    chan_set_gate(&p->ch[2], pit_now_ticks(p), (val & 1) != 0);
}

/* Power-on state; see pit.h. */
void emu_pit_reset(emu_pit *p)
{
    uint64_t tick = pit_now_ticks(p);

    /* Like QEMU's: every channel in mode 3 with a count of 65536. */
    for (unsigned i = 0; i < 3; i++) {
        pit_chan *c = &p->ch[i];

        *c = (pit_chan){ 0 };
        chan_control(c, (uint8_t)(i << 6 | 0x36));
        c->gate = (i != 2);
        chan_load(c, tick, 0);
    }
    p->port61 = 0;
    pit_irq_update(p);
}

/* Claims 0x40-0x43 and 0x61; the clock is borrowed. */
emu_pit *emu_pit_new(emu_bus *b, emu_vclock *vc, emu_irq irq0)
{
    emu_pit *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    p->vc = vc;
    p->irq0 = irq0;
    emu_timer_init(&p->timer, pit_timer_fire, p);
    if (emu_bus_add_ports(b, 0x40, 4, pit_read, pit_write, p) < 0 ||
        emu_bus_add_ports(b, 0x61, 1, port61_read, port61_write, p) < 0) {
        free(p);
        return NULL;
    }
    emu_pit_reset(p);
    return p;
}

/* Disarms the timer before freeing; NULL is a no-op. */
void emu_pit_free(emu_pit *p)
{
    if (p != NULL) {
        emu_timer_del(p->vc, &p->timer);
        free(p);
    }
}
