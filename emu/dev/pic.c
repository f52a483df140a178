/*
 * emu/dev/pic.c -- two cascaded 8259A programmable interrupt controllers.
 *
 * Implements Intel's 8259A datasheet as a PC wires it: the slave's INT
 * output drives master input 2.  Supported: the ICW1-ICW4 initialisation
 * sequence (vector base from ICW2, single/cascade and ICW4 flags, level
 * mode from ICW1.LTIM), OCW1 masking, OCW2 EOIs (non-specific, specific,
 * with and without rotation, set-priority, rotate-in-AEOI), OCW3 (IRR/ISR
 * read select, poll, special mask mode), auto-EOI, special fully nested
 * mode on the master, and the PC's edge/level control registers (ELCR,
 * ports 0x4D0/0x4D1; IRQ 0, 1, 2, 8 and 13 are always edge triggered).
 *
 * Edge-triggered inputs latch a request in IRR on a 0 -> 1 transition;
 * level-triggered inputs make IRR follow the line.  An INTA with no
 * request left (the line dropped after INTR was seen) yields the spurious
 * vector of IR7 of the chip that answered, without setting ISR.
 */
#include "pic.h"

#include <stdlib.h>

#define PIC_CASCADE 2     /* master input wired to the slave */
#define PIC_NONE    8     /* "no priority level" from pic_priority() */
#define ELCR_MASK_M 0xF8u /* IRQ 0-2 cannot be level triggered */
#define ELCR_MASK_S 0xDEu /* nor IRQ 8 and 13 */

/* Where the next data-port write goes during initialisation. */
enum { INIT_NONE, INIT_ICW2, INIT_ICW3, INIT_ICW4 };

/* One 8259A. */
typedef struct pic_chip {
    uint8_t irr;       /* interrupt request register */
    uint8_t isr;       /* in-service register */
    uint8_t imr;       /* interrupt mask register (OCW1) */
    uint8_t lines;     /* current levels of the IR inputs */
    uint8_t elcr;      /* level-triggered inputs (ELCR) */
    uint8_t elcr_mask; /* ELCR bits that can be set */
    uint8_t base;      /* vector of IR0 (ICW2 & 0xF8) */
    uint8_t prio_add;  /* IR with the highest priority (rotation) */
    uint8_t icw3;      /* last ICW3 (kept for completeness) */
    uint8_t init;      /* INIT_* */
    bool icw4_needed;  /* ICW1.IC4 */
    bool single;       /* ICW1.SNGL */
    bool ltim;         /* ICW1.LTIM: every input level triggered */
    bool aeoi;         /* ICW4.AEOI */
    bool sfnm;         /* ICW4.SFNM (meaningful on the master) */
    bool rotate_aeoi;  /* OCW2 "rotate in automatic EOI mode" */
    bool read_isr;     /* OCW3.RIS: command port reads ISR, not IRR */
    bool poll;         /* OCW3.P: next read is a poll */
    bool special_mask; /* OCW3 special mask mode */
    bool is_master;
} pic_chip;

struct emu_pic {
    pic_chip chip[2]; /* [0] master, [1] slave */
};

/* Inputs currently treated as level triggered. */
static uint8_t chip_level_mask(const pic_chip *c)
{
    return c->ltim ? 0xFF : c->elcr;
}

/* Priority level (0 = highest) of the best bit in mask, or PIC_NONE. */
static unsigned pic_priority(const pic_chip *c, uint8_t mask)
{
    for (unsigned p = 0; p < 8; p++) {
        if (mask & (1u << ((p + c->prio_add) & 7))) {
            return p;
        }
    }
    return PIC_NONE;
}

/* The IR input that would be delivered now, or -1. */
static int chip_get_irq(const pic_chip *c)
{
    unsigned req = pic_priority(c, c->irr & ~c->imr);
    uint8_t busy = c->isr;

    if (req == PIC_NONE) {
        return -1;
    }
    if (c->special_mask) {
        busy &= ~c->imr; /* masked levels do not block lower ones */
    }
    if (c->is_master && c->sfnm) {
        busy &= ~(1u << PIC_CASCADE); /* the slave may nest */
    }
    if (req >= pic_priority(c, busy)) {
        return -1;
    }
    return (int)((req + c->prio_add) & 7);
}

/* Drives input n of a chip to level. */
static void chip_set_line(pic_chip *c, unsigned n, bool level)
{
    uint8_t bit = (uint8_t)(1u << n);
    bool was = (c->lines & bit) != 0;

    c->lines = level ? (c->lines | bit) : (c->lines & ~bit);
    if (chip_level_mask(c) & bit) {
        c->irr = level ? (c->irr | bit) : (c->irr & ~bit);
    } else if (level && !was) {
        c->irr |= bit;
    }
}

/* Propagates the slave's INT output to master input 2. */
static void pic_update(emu_pic *p)
{
    chip_set_line(&p->chip[0], PIC_CASCADE, chip_get_irq(&p->chip[1]) >= 0);
}

/* Accepts the request on input irq of c: the chip's part of INTA. */
static void chip_intack(pic_chip *c, unsigned irq)
{
    uint8_t bit = (uint8_t)(1u << irq);

    if (!(chip_level_mask(c) & bit)) {
        c->irr &= ~bit; /* an edge request is consumed */
    }
    if (!c->aeoi) {
        c->isr |= bit;
    } else if (c->rotate_aeoi) {
        c->prio_add = (uint8_t)((irq + 1) & 7);
    }
}

/* ICW1: starts the initialisation sequence and resets the chip state. */
static void chip_icw1(pic_chip *c, uint8_t val)
{
    c->icw4_needed = (val & 0x01) != 0;
    c->single = (val & 0x02) != 0;
    c->ltim = (val & 0x08) != 0;
    c->isr = 0;
    c->imr = 0;
    c->prio_add = 0;
    c->aeoi = false;
    c->sfnm = false;
    c->rotate_aeoi = false;
    c->read_isr = false;
    c->poll = false;
    c->special_mask = false;
    /* Edge inputs must see a new rising edge; level inputs stay. */
    c->irr = c->lines & chip_level_mask(c);
    c->init = INIT_ICW2;
}

/* OCW2: end of interrupt and priority rotation. */
static void chip_ocw2(pic_chip *c, uint8_t val)
{
    unsigned level = val & 7;
    unsigned cmd = val >> 5;
    unsigned prio;

    switch (cmd) {
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */
        prio = pic_priority(c, c->isr);
        if (prio != PIC_NONE) {
            unsigned irq = (prio + c->prio_add) & 7;
            c->isr &= ~(1u << irq);
            if (cmd == 5) {
                c->prio_add = (uint8_t)((irq + 1) & 7);
            }
        }
        break;
    case 3: /* specific EOI */
        c->isr &= ~(1u << level);
        break;
    case 7: /* rotate on specific EOI */
        c->isr &= ~(1u << level);
        c->prio_add = (uint8_t)((level + 1) & 7);
        break;
    case 6: /* set priority: level becomes the lowest */
        c->prio_add = (uint8_t)((level + 1) & 7);
        break;
    case 4:
    case 0:
        c->rotate_aeoi = (cmd == 4);
        break;
    default: /* 2: no operation */
        break;
    }
}

/* OCW3: read register select, poll and special mask mode. */
static void chip_ocw3(pic_chip *c, uint8_t val)
{
    if (val & 0x02) {
        c->read_isr = (val & 0x01) != 0;
    }
    if (val & 0x04) {
        c->poll = true;
    }
    if ((val & 0x60) == 0x60) {
        c->special_mask = true;
    } else if ((val & 0x60) == 0x40) {
        c->special_mask = false;
    }
}

/* A write to the data port: an ICW during initialisation, else OCW1. */
static void chip_write_data(pic_chip *c, uint8_t val)
{
    switch (c->init) {
    case INIT_ICW2:
        c->base = val & 0xF8;
        c->init = !c->single       ? INIT_ICW3
                  : c->icw4_needed ? INIT_ICW4
                                   : INIT_NONE;
        break;
    case INIT_ICW3:
        c->icw3 = val;
        c->init = c->icw4_needed ? INIT_ICW4 : INIT_NONE;
        break;
    case INIT_ICW4:
        c->aeoi = (val & 0x02) != 0;
        c->sfnm = (val & 0x10) != 0;
        c->init = INIT_NONE;
        break;
    default:
        c->imr = val;
        break;
    }
}

/* Poll command read: acknowledges like INTA and reports the level. */
static uint8_t chip_poll(pic_chip *c)
{
    int irq = chip_get_irq(c);

    c->poll = false;
    if (irq < 0) {
        return 0x00;
    }
    chip_intack(c, (unsigned)irq);
    return (uint8_t)(0x80 | irq);
}

/* Command port: a poll, or IRR / ISR per OCW3; data port: IMR. */
static uint32_t pic_read(void *opaque, uint16_t port, unsigned size)
{
    emu_pic *p = opaque;
    pic_chip *c = &p->chip[(port & 0x80) ? 1 : 0];
    uint8_t v;

    (void)size;
    if (c->poll) {
        v = chip_poll(c);
        pic_update(p);
        return v;
    }
    if (port & 1) {
        return c->imr;
    }
    return c->read_isr ? c->isr : c->irr;
}

/* Command port: ICW1, OCW2 or OCW3 by bits 4 and 3; data port:
 * ICW2-4 during initialisation, OCW1 after. */
static void pic_write(void *opaque, uint16_t port, unsigned size,
                      uint32_t val32)
{
    emu_pic *p = opaque;
    pic_chip *c = &p->chip[(port & 0x80) ? 1 : 0];
    uint8_t val = (uint8_t)val32;

    (void)size;
    if (port & 1) {
        chip_write_data(c, val);
    } else if (val & 0x10) {
        chip_icw1(c, val);
    } else if (val & 0x08) {
        chip_ocw3(c, val);
    } else {
        chip_ocw2(c, val);
    }
    pic_update(p);
}

/* Ports 0x4D0 (master) and 0x4D1 (slave). */
static uint32_t elcr_read(void *opaque, uint16_t port, unsigned size)
{
    emu_pic *p = opaque;

    (void)size;
    return p->chip[port & 1].elcr;
}

/* Bits that cannot be level triggered stay 0. */
static void elcr_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
    emu_pic *p = opaque;
    pic_chip *c = &p->chip[port & 1];
    uint8_t became_level;

    (void)size;
    became_level = (uint8_t)(val & c->elcr_mask & ~c->elcr);
    c->elcr = (uint8_t)(val & c->elcr_mask);
    /* Inputs switched to level mode now report their line in IRR. */
    c->irr = (uint8_t)((c->irr & ~became_level) | (c->lines & became_level));
    pic_update(p);
}

/* The emu_irq callback: ISA IRQ n changes level. */
static void pic_irq_line(void *opaque, unsigned n, bool level)
{
    emu_pic *p = opaque;

    if (n < 8) {
        if (n != PIC_CASCADE) {
            chip_set_line(&p->chip[0], n, level);
        }
    } else if (n < 16) {
        chip_set_line(&p->chip[1], n - 8, level);
    }
    pic_update(p);
}

/* Power-on state; see pic.h. */
void emu_pic_reset(emu_pic *p)
{
    for (unsigned i = 0; i < 2; i++) {
        pic_chip *c = &p->chip[i];
        uint8_t lines = c->lines;

        *c = (pic_chip){ 0 };
        c->lines = lines;
        c->is_master = (i == 0);
        c->elcr_mask = (i == 0) ? ELCR_MASK_M : ELCR_MASK_S;
    }
    pic_update(p);
}

/* Claims 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1. */
emu_pic *emu_pic_new(emu_bus *b)
{
    emu_pic *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    emu_pic_reset(p);
    if (emu_bus_add_ports(b, 0x20, 2, pic_read, pic_write, p) < 0 ||
        emu_bus_add_ports(b, 0xA0, 2, pic_read, pic_write, p) < 0 ||
        emu_bus_add_ports(b, 0x4D0, 2, elcr_read, elcr_write, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* NULL is a no-op. */
void emu_pic_free(emu_pic *p)
{
    free(p);
}

/* Lines 0..15; line 2 is the cascade and ignores devices. */
emu_irq emu_pic_irq(emu_pic *p, unsigned n)
{
    return (emu_irq){ .fn = pic_irq_line, .opaque = p, .line = n };
}

/* INTR: the master has a request it would deliver now. */
bool emu_pic_pending(const emu_pic *p)
{
    return chip_get_irq(&p->chip[0]) >= 0;
}

/* The two INTA cycles: master, then the slave when IR2 was chosen. */
uint8_t emu_pic_ack(emu_pic *p)
{
    pic_chip *m = &p->chip[0];
    pic_chip *s = &p->chip[1];
    int irq = chip_get_irq(m);
    uint8_t vec;

    if (irq < 0) {
        vec = (uint8_t)(m->base + 7); /* spurious IRQ 7 */
    } else if (irq != PIC_CASCADE) {
        chip_intack(m, (unsigned)irq);
        vec = (uint8_t)(m->base + irq);
    } else {
        int irq2 = chip_get_irq(s);

        chip_intack(m, PIC_CASCADE);
        if (irq2 < 0) {
            vec = (uint8_t)(s->base + 7); /* spurious IRQ 15 */
        } else {
            chip_intack(s, (unsigned)irq2);
            vec = (uint8_t)(s->base + irq2);
        }
        /* The slave's INT drops during INTA: a request still waiting on
         * it makes a fresh edge on the master's cascade input. */
        m->lines &= ~(1u << PIC_CASCADE);
    }
    pic_update(p);
    return vec;
}
