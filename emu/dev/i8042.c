/*
 * emu/dev/i8042.c -- 8042 keyboard controller with an idle AT keyboard.
 *
 * Port 0x64 reads the status register and takes controller commands;
 * port 0x60 reads the output buffer and takes command parameters or
 * bytes for the keyboard.  Behaviour follows the IBM PC/AT technical
 * reference and the PS/2 (8042/"KBC") conventions firmware and Linux
 * probe for:
 *   status  bit 0 OBF, 1 IBF (always 0: input is consumed at once),
 *           2 SYS, 3 last write was a command, 4 not inhibited,
 *           5 byte is from the aux port, 6 timeout.
 *   commands 0x20-0x3F / 0x60-0x7F read / write controller RAM (byte 0
 *           is the command byte), 0xA7/0xA8 aux disable/enable, 0xA9
 *           aux interface test, 0xAA self test (0x55, sets SYS), 0xAB
 *           keyboard interface test, 0xAD/0xAE keyboard disable/enable,
 *           0xD0/0xD1 read/write output port (bit 0 low = reset, bit 1
 *           = A20), 0xD2/0xD3 write keyboard/aux output buffer, 0xD4
 *           write to the aux device, 0xDD/0xDF A20 off/on, 0xF0-0xFF
 *           pulse output lines (bit 0 clear pulses reset: 0xFE).
 * The keyboard answers reset (0xFA 0xAA), identify (0xFA 0xAB 0x83),
 * enable/disable/defaults, LEDs, typematic and scan-code set with 0xFA
 * and anything unknown with 0xFE.  No mouse is attached: a byte written
 * to the aux device gets 0xFE with the timeout bit, as a PC reports a
 * missing device.  Replies wait in a small FIFO; IRQ 1 (keyboard byte)
 * or IRQ 12 (aux byte) is high while the head byte is waiting and the
 * command byte enables that interrupt; each read makes a fresh edge.
 */
#include "i8042.h"

#include <stdlib.h>

#define KBC_QUEUE 16 /* reply FIFO depth */

#define ST_OBF      0x01
#define ST_SYS      0x04
#define ST_CMD      0x08
#define ST_UNLOCKED 0x10
#define ST_AUX      0x20
#define ST_TIMEOUT  0x40

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20

#define OUT_RESET   0x01 /* output port: low holds the CPU in reset */
#define OUT_A20     0x02
#define OUT_KBD_OBF 0x10
#define OUT_AUX_OBF 0x20

#define KBD_ACK    0xFA
#define KBD_NAK    0xFE
#define KBD_BAT_OK 0xAA

/* Flags kept with each queued byte. */
#define Q_AUX     0x01
#define Q_TIMEOUT 0x02

struct emu_i8042 {
    uint8_t q[KBC_QUEUE];  /* reply FIFO */
    uint8_t qf[KBC_QUEUE]; /* Q_* flags of each byte */
    unsigned qhead, qlen;
    uint8_t last;        /* last byte read (read again when empty) */
    uint8_t ram[32];     /* controller RAM; ram[0] = command byte */
    uint8_t outport;     /* output port */
    uint8_t pending;     /* controller command waiting for data */
    uint8_t kbd_pending; /* keyboard command waiting for a param */
    bool sys;            /* status SYS flag */
    bool cmd_last;       /* last write went to port 0x64 */
    bool scanning;       /* keyboard enabled (0xF4/0xF5) */
    uint8_t scanset;     /* 1..3 */
    uint8_t leds;
    uint8_t typematic;
    emu_irq irq1, irq12;
    bool irq1_level, irq12_level;
    emu_reset_fn reset;
    emu_i8042_a20_fn a20;
    void *opaque;
};

/* Drives the two interrupt lines from the head of the FIFO. */
static void kbc_update_irq(emu_i8042 *k)
{
    bool aux = k->qlen > 0 && (k->qf[k->qhead] & Q_AUX);
    bool l1 = k->qlen > 0 && !aux && (k->ram[0] & CTR_KBDINT);
    bool l12 = aux && (k->ram[0] & CTR_AUXINT);

    if (l1 != k->irq1_level) {
        k->irq1_level = l1;
        emu_irq_set(k->irq1, l1);
    }
    if (l12 != k->irq12_level) {
        k->irq12_level = l12;
        emu_irq_set(k->irq12, l12);
    }
}

/* Queues a reply byte; dropped when the FIFO is full. */
static void kbc_push(emu_i8042 *k, uint8_t byte, uint8_t flags)
{
    if (k->qlen < KBC_QUEUE) {
        unsigned i = (k->qhead + k->qlen) % KBC_QUEUE;
        k->q[i] = byte;
        k->qf[i] = flags;
        k->qlen++;
    }
}

/* The status register (port 0x64 read). */
static uint8_t kbc_status(const emu_i8042 *k)
{
    uint8_t st = ST_UNLOCKED;

    if (k->qlen > 0) {
        uint8_t f = k->qf[k->qhead];
        st |= ST_OBF;
        st |= (f & Q_AUX) ? ST_AUX : 0;
        st |= (f & Q_TIMEOUT) ? ST_TIMEOUT : 0;
    }
    st |= k->sys ? ST_SYS : 0;
    st |= k->cmd_last ? ST_CMD : 0;
    return st;
}

/* Output port as read by 0xD0: bits 4/5 mirror the output buffer. */
static uint8_t kbc_outport(const emu_i8042 *k)
{
    uint8_t v = k->outport & (uint8_t) ~(OUT_KBD_OBF | OUT_AUX_OBF);

    if (k->qlen > 0) {
        v |= (k->qf[k->qhead] & Q_AUX) ? OUT_AUX_OBF : OUT_KBD_OBF;
    }
    return v;
}

/* Output port write: reports A20 changes; bit 0 low resets. */
static void kbc_write_outport(emu_i8042 *k, uint8_t val)
{
    uint8_t old = k->outport;

    k->outport = val;
    if (((old ^ val) & OUT_A20) && k->a20 != NULL) {
        k->a20(k->opaque, (val & OUT_A20) != 0);
    }
    if (!(val & OUT_RESET) && k->reset != NULL) {
        k->reset(k->opaque);
    }
}

/* Keyboard power-on defaults (also 0xF5 and 0xF6). */
static void kbd_defaults(emu_i8042 *k)
{
    k->scanset = 2;
    k->typematic = 0x2B;
    k->kbd_pending = 0;
}

/* The parameter byte of 0xED, 0xF0 or 0xF3. */
static void kbd_param(emu_i8042 *k, uint8_t cmd, uint8_t val)
{
    kbc_push(k, KBD_ACK, 0);
    if (cmd == 0xED) {
        k->leds = val & 7;
    } else if (cmd == 0xF3) {
        k->typematic = val;
    } else if (val == 0) {
        kbc_push(k, k->scanset, 0); /* 0xF0 0x00: report the set */
    } else if (val <= 3) {
        k->scanset = val;
    }
}

/* A byte sent to the keyboard through port 0x60. */
static void kbd_write(emu_i8042 *k, uint8_t val)
{
    uint8_t cmd = k->kbd_pending;

    k->kbd_pending = 0;
    if (cmd != 0 && val < 0x80) {
        kbd_param(k, cmd, val);
        return;
    }
    switch (val) {
    case 0xFF:
        kbd_defaults(k);
        k->scanning = true;
        k->leds = 0;
        kbc_push(k, KBD_ACK, 0);
        kbc_push(k, KBD_BAT_OK, 0);
        break;
    case 0xF2:
        kbc_push(k, KBD_ACK, 0);
        kbc_push(k, 0xAB, 0);
        kbc_push(k, 0x83, 0);
        break;
    case 0xF4:
    case 0xF5:
    case 0xF6:
        if (val != 0xF4) {
            kbd_defaults(k);
        }
        k->scanning = (val != 0xF5);
        kbc_push(k, KBD_ACK, 0);
        break;
    case 0xED:
    case 0xF0:
    case 0xF3:
        k->kbd_pending = val;
        kbc_push(k, KBD_ACK, 0);
        break;
    case 0xEE:
        kbc_push(k, 0xEE, 0); /* echo */
        break;
    default:
        if (val >= 0xF7 && val <= 0xFD && val != 0xFE) {
            kbc_push(k, KBD_ACK, 0); /* set-3 key attributes: accepted */
        } else {
            kbc_push(k, KBD_NAK, 0);
        }
        break;
    }
}

/* The data byte that completes controller command k->pending. */
static void kbc_command_data(emu_i8042 *k, uint8_t cmd, uint8_t val)
{
    if (cmd >= 0x60 && cmd <= 0x7F) {
        k->ram[cmd & 0x1F] = val;
        if (cmd == 0x60) {
            k->sys = (val & CTR_SYS) != 0;
        }
        return;
    }
    switch (cmd) {
    case 0xD1:
        kbc_write_outport(k, val);
        break;
    case 0xD2:
        kbc_push(k, val, 0);
        break;
    case 0xD3:
        kbc_push(k, val, Q_AUX);
        break;
    default: /* 0xD4: nothing answers on the aux port */
        kbc_push(k, KBD_NAK, Q_AUX | Q_TIMEOUT);
        break;
    }
}

/* Controller commands that act at once (0xA7-0xDF). */
static void kbc_simple_command(emu_i8042 *k, uint8_t cmd)
{
    switch (cmd) {
    case 0xA7:
        k->ram[0] |= CTR_AUXDIS;
        break;
    case 0xA8:
        k->ram[0] &= (uint8_t)~CTR_AUXDIS;
        break;
    case 0xA9: /* aux interface test: no error */
    case 0xAB: /* keyboard interface test: no error */
        kbc_push(k, 0x00, 0);
        break;
    case 0xAA: /* self test passed */
        k->sys = true;
        kbc_push(k, 0x55, 0);
        break;
    case 0xAD:
        k->ram[0] |= CTR_KBDDIS;
        break;
    case 0xAE:
        k->ram[0] &= (uint8_t)~CTR_KBDDIS;
        break;
    case 0xD0:
        kbc_push(k, kbc_outport(k), 0);
        break;
    case 0xDD:
    case 0xDF:
        kbc_write_outport(k, (uint8_t)((k->outport & ~OUT_A20) |
                                       (cmd == 0xDF ? OUT_A20 : 0)));
        break;
    default:
        break; /* unknown commands are ignored */
    }
}

/* A write to port 0x64. */
static void kbc_command(emu_i8042 *k, uint8_t cmd)
{
    if (cmd <= 0x3F && cmd >= 0x20) {
        kbc_push(k, k->ram[cmd & 0x1F], 0);
    } else if ((cmd >= 0x60 && cmd <= 0x7F) || (cmd >= 0xD1 && cmd <= 0xD4)) {
        k->pending = cmd;
    } else if (cmd >= 0xF0) {
        if (!(cmd & 1) && k->reset != NULL) {
            k->reset(k->opaque); /* pulse the reset line */
        }
    } else {
        kbc_simple_command(k, cmd);
    }
}

/* Port 0x64 reads status; 0x60 pops the FIFO (the last byte again
 * when empty, as the real output buffer keeps it). */
static uint32_t kbc_read(void *opaque, uint16_t port, unsigned size)
{
    emu_i8042 *k = opaque;

    (void)size;
    if (port == 0x64) {
        return kbc_status(k);
    }
    if (k->qlen > 0) {
        k->last = k->q[k->qhead];
        k->qhead = (k->qhead + 1) % KBC_QUEUE;
        k->qlen--;
        /* Drop the lines so the next byte makes a new edge. */
        if (k->irq1_level) {
            k->irq1_level = false;
            emu_irq_set(k->irq1, false);
        }
        if (k->irq12_level) {
            k->irq12_level = false;
            emu_irq_set(k->irq12, false);
        }
        kbc_update_irq(k);
    }
    return k->last;
}

/* Port 0x64 takes commands; 0x60 parameters or keyboard bytes. */
static void kbc_write(void *opaque, uint16_t port, unsigned size,
                      uint32_t val32)
{
    emu_i8042 *k = opaque;
    uint8_t val = (uint8_t)val32;

    (void)size;
    if (port == 0x64) {
        k->cmd_last = true;
        k->pending = 0;
        kbc_command(k, val);
    } else {
        uint8_t cmd = k->pending;

        k->cmd_last = false;
        k->pending = 0;
        if (cmd != 0) {
            kbc_command_data(k, cmd, val);
        } else {
            k->ram[0] &= (uint8_t)~CTR_KBDDIS; /* sending enables it */
            kbd_write(k, val);
        }
    }
    kbc_update_irq(k);
}

/* Power-on state; see i8042.h. */
void emu_i8042_reset(emu_i8042 *k)
{
    k->qhead = k->qlen = 0;
    k->last = 0;
    for (unsigned i = 0; i < sizeof(k->ram); i++) {
        k->ram[i] = 0;
    }
    k->ram[0] = CTR_KBDINT | CTR_AUXINT;
    k->outport = 0xCF; /* reset inactive, A20 on */
    k->pending = 0;
    k->sys = false;
    k->cmd_last = true;
    k->scanning = true;
    k->leds = 0;
    kbd_defaults(k);
    kbc_update_irq(k);
}

/* Claims ports 0x60 and 0x64. */
emu_i8042 *emu_i8042_new(emu_bus *b, emu_irq irq1, emu_reset_fn reset,
                         void *opaque)
{
    emu_i8042 *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        return NULL;
    }
    k->irq1 = irq1;
    k->reset = reset;
    k->opaque = opaque;
    if (emu_bus_add_ports(b, 0x60, 1, kbc_read, kbc_write, k) < 0 ||
        emu_bus_add_ports(b, 0x64, 1, kbc_read, kbc_write, k) < 0) {
        free(k);
        return NULL;
    }
    emu_i8042_reset(k);
    return k;
}

/* NULL is a no-op. */
void emu_i8042_free(emu_i8042 *k)
{
    free(k);
}

/* The callback gets the opaque given to emu_i8042_new(). */
void emu_i8042_set_a20(emu_i8042 *k, emu_i8042_a20_fn a20)
{
    k->a20 = a20;
}

/* Connects the aux interrupt line. */
void emu_i8042_set_irq12(emu_i8042 *k, emu_irq irq12)
{
    k->irq12 = irq12;
    k->irq12_level = false;
    kbc_update_irq(k);
}

/* Scan codes are queued as given (no set 2 -> set 1 translation). */
size_t emu_i8042_kbd_input(emu_i8042 *k, const uint8_t *codes, size_t n)
{
    size_t done = 0;

    if (!k->scanning || (k->ram[0] & CTR_KBDDIS)) {
        return 0;
    }
    while (done < n && k->qlen < KBC_QUEUE) {
        kbc_push(k, codes[done++], 0);
    }
    kbc_update_irq(k);
    return done;
}
