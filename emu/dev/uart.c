/*
 * emu/dev/uart.c -- a National Semiconductor 16550A UART.
 *
 * Register file per the PC16550D datasheet: RBR/THR, IER, IIR/FCR, LCR
 * (DLAB selects the divisor latch at offsets 0/1), MCR, LSR, MSR and SCR.
 * The virtual line is infinitely fast: a byte written to THR reaches the
 * sink (or, in loopback mode, the receiver) at once, so THRE and TEMT
 * are always set.  Received bytes sit in a 16-byte FIFO (one holding
 * register while FIFOs are off) fed from a host-side backlog.
 *
 * Interrupt identification follows the chip's priorities: receiver line
 * status, received data (or character timeout when the FIFO holds fewer
 * bytes than its trigger level: with no time on the line it is reported
 * at once), transmitter holding register empty, modem status.  The THRE
 * source is raised when THR empties or ETBEI goes 0 -> 1 with THR empty,
 * and is cleared by reading IIR while it is the reported source or by
 * writing THR.  As on PC boards, the IRQ reaches the controller only
 * while MCR.OUT2 is set, and never in loopback (OUT2 is then internal).
 * The IRQ is a level that follows "IIR shows an interrupt".
 */
#include "uart.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define UART_FIFO_SIZE   16
#define UART_BACKLOG     4096   /* host bytes waiting for FIFO space */

/* Register offsets. */
enum {
    UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3,
    UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define IER_ERBFI  0x01u  /* received data available */
#define IER_ETBEI  0x02u  /* THR empty */
#define IER_ELSI   0x04u  /* receiver line status */
#define IER_EDSSI  0x08u  /* modem status */

#define IIR_NONE     0x01u
#define IIR_MSR      0x00u
#define IIR_THRE     0x02u
#define IIR_RDA      0x04u
#define IIR_RLS      0x06u
#define IIR_TIMEOUT  0x0Cu
#define IIR_FIFO_ON  0xC0u

#define FCR_ENABLE   0x01u
#define FCR_CLR_RX   0x02u
#define FCR_CLR_TX   0x04u

#define LCR_DLAB     0x80u

#define MCR_DTR   0x01u
#define MCR_RTS   0x02u
#define MCR_OUT1  0x04u
#define MCR_OUT2  0x08u
#define MCR_LOOP  0x10u

#define LSR_DR    0x01u
#define LSR_OE    0x02u
#define LSR_ERRS  0x1Eu   /* OE, PE, FE, BI: line status interrupt */
#define LSR_THRE  0x20u
#define LSR_TEMT  0x40u

#define MSR_DCTS  0x01u
#define MSR_DDSR  0x02u
#define MSR_TERI  0x04u
#define MSR_DDCD  0x08u
#define MSR_CTS   0x10u
#define MSR_DSR   0x20u
#define MSR_RI    0x40u
#define MSR_DCD   0x80u

struct emu_uart {
    emu_irq irq;              /* output line */
    bool irq_level;           /* last level driven */
    emu_uart_sink_fn sink;    /* transmitted bytes */
    void *sink_opaque;
    uint16_t base;            /* first port */
    uint8_t ier, lcr, mcr, scr;
    uint8_t fcr;              /* last FCR value (write-only register) */
    uint8_t lsr_err;          /* sticky OE/PE/FE/BI bits */
    uint8_t msr_delta;        /* DCTS, DDSR, TERI, DDCD */
    uint8_t msr_lines;        /* CTS, DSR, RI, DCD as seen by the chip */
    uint16_t divisor;         /* DLL | DLM << 8 */
    bool thr_ipending;        /* THRE interrupt source armed */
    uint8_t rx[UART_FIFO_SIZE]; /* receive FIFO (ring) */
    unsigned rx_head, rx_count;
    uint8_t rbr_last;         /* value read when the FIFO is empty */
    uint8_t backlog[UART_BACKLOG]; /* host input not yet in the FIFO */
    size_t bl_head, bl_count;
};

/* Receive capacity: 16 with FIFOs, 1 holding register without. */
static unsigned uart_rx_cap(const emu_uart *u)
{
    return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

/* FIFO trigger level from FCR bits 7:6. */
static unsigned uart_rx_trigger(const emu_uart *u)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };

    return (u->fcr & FCR_ENABLE) ? levels[u->fcr >> 6] : 1;
}

/* Current interrupt identification (low 4 bits of IIR). */
static uint8_t uart_iir_id(const emu_uart *u)
{
    if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_ERRS)) {
        return IIR_RLS;
    }
    if ((u->ier & IER_ERBFI) && u->rx_count > 0) {
        return u->rx_count >= uart_rx_trigger(u) ? IIR_RDA : IIR_TIMEOUT;
    }
    if ((u->ier & IER_ETBEI) && u->thr_ipending) {
        return IIR_THRE;
    }
    if ((u->ier & IER_EDSSI) && (u->msr_delta & 0x0F)) {
        return IIR_MSR;
    }
    return IIR_NONE;
}

/* Drives the IRQ line from the interrupt state and the OUT2 gate. */
static void uart_update_irq(emu_uart *u)
{
    bool gate = (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
    bool level = gate && uart_iir_id(u) != IIR_NONE;

    if (level != u->irq_level) {
        u->irq_level = level;
        emu_irq_set(u->irq, level);
    }
}

/* Moves backlog bytes into the FIFO while there is room. */
static void uart_refill(emu_uart *u)
{
    while (u->bl_count > 0 && u->rx_count < uart_rx_cap(u)) {
        u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] =
            u->backlog[u->bl_head];
        u->rx_count++;
        u->bl_head = (u->bl_head + 1) % UART_BACKLOG;
        u->bl_count--;
    }
}

/*
 * A byte arriving on the line (loopback).  On overrun the chip sets OE;
 * without FIFOs the new byte replaces the one in RBR, with FIFOs it is
 * lost (PC16550D, LSR bit 1).
 */
static void uart_receive(emu_uart *u, uint8_t byte)
{
    if (u->rx_count >= uart_rx_cap(u)) {
        u->lsr_err |= LSR_OE;
        if (!(u->fcr & FCR_ENABLE)) {
            u->rx[u->rx_head] = byte;
        }
        return;
    }
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
    u->rx_count++;
}

/* Pops the oldest received byte; an empty FIFO repeats the last one. */
static uint8_t uart_read_rbr(emu_uart *u)
{
    if (u->rx_count > 0) {
        u->rbr_last = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
        u->rx_count--;
        uart_refill(u);
    }
    return u->rbr_last;
}

/* The modem input lines: loopback maps MCR outputs onto them; otherwise
 * the virtual cable reports a ready modem (CTS, DSR, DCD). */
static uint8_t uart_modem_lines(const emu_uart *u)
{
    if (u->mcr & MCR_LOOP) {
        return (uint8_t)(((u->mcr & MCR_RTS) ? MSR_CTS : 0) |
                         ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
                         ((u->mcr & MCR_OUT1) ? MSR_RI : 0) |
                         ((u->mcr & MCR_OUT2) ? MSR_DCD : 0));
    }
    return MSR_CTS | MSR_DSR | MSR_DCD;
}

/* Recomputes the lines and latches the delta bits of any change. */
static void uart_update_msr(emu_uart *u)
{
    uint8_t now = uart_modem_lines(u), diff = now ^ u->msr_lines;

    if (diff & MSR_CTS) {
        u->msr_delta |= MSR_DCTS;
    }
    if (diff & MSR_DSR) {
        u->msr_delta |= MSR_DDSR;
    }
    if ((u->msr_lines & MSR_RI) && !(now & MSR_RI)) {
        u->msr_delta |= MSR_TERI; /* trailing edge of RI only */
    }
    if (diff & MSR_DCD) {
        u->msr_delta |= MSR_DDCD;
    }
    u->msr_lines = now;
}

/* Transmits at once: to the sink, or back to the receiver in loopback. */
static void uart_write_thr(emu_uart *u, uint8_t byte)
{
    if (u->mcr & MCR_LOOP) {
        uart_receive(u, byte);
    } else if (u->sink != NULL) {
        u->sink(u->sink_opaque, byte);
    }
    /* The byte left at once: THR is empty again, which is an event. */
    u->thr_ipending = true;
}

/* IER keeps its four enable bits; the upper ones read as 0 on a 16550A
 * (Linux's autoconfig uses this to tell it from XScale/16750 parts). */
static void uart_write_ier(emu_uart *u, uint8_t val)
{
    uint8_t old = u->ier;

    u->ier = val & 0x0F;
    if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI)) {
        u->thr_ipending = true;  /* enabling with THR empty fires */
    } else if (!(u->ier & IER_ETBEI)) {
        u->thr_ipending = false;
    }
}

/* FCR: FIFO enable, RX/TX reset (self-clearing) and trigger level. */
static void uart_write_fcr(emu_uart *u, uint8_t val)
{
    if ((val ^ u->fcr) & FCR_ENABLE) {
        u->rx_count = 0; /* switching FIFO mode resets both FIFOs */
    }
    if (val & FCR_CLR_RX) {
        u->rx_count = 0;
    }
    u->fcr = val & (uint8_t)~(FCR_CLR_RX | FCR_CLR_TX);
    uart_refill(u);
}

/* IIR: the highest-priority pending source, bits 7:6 set with FIFOs. */
static uint8_t uart_read_iir(emu_uart *u)
{
    uint8_t id = uart_iir_id(u);

    if (id == IIR_THRE) {
        u->thr_ipending = false; /* reading IIR acknowledges THRE */
    }
    return (uint8_t)(id | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0));
}

/* LSR: THRE and TEMT are always set since transmission is instant. */
static uint8_t uart_read_lsr(emu_uart *u)
{
    uint8_t v = (uint8_t)(LSR_THRE | LSR_TEMT | u->lsr_err |
                          (u->rx_count > 0 ? LSR_DR : 0));

    u->lsr_err = 0; /* error bits clear on read */
    return v;
}

/* MSR: line states plus the deltas latched since the last read. */
static uint8_t uart_read_msr(emu_uart *u)
{
    uint8_t v = (uint8_t)(u->msr_lines | u->msr_delta);

    u->msr_delta = 0;
    return v;
}

/* Register read by offset; DLAB swaps RBR/IER for the divisor latch. */
static uint8_t uart_read_reg(emu_uart *u, unsigned reg)
{
    bool dlab = u->lcr & LCR_DLAB;

    switch (reg) {
    case UART_RBR:
        return dlab ? (uint8_t)u->divisor : uart_read_rbr(u);
    case UART_IER:
        return dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    case UART_IIR:
        return uart_read_iir(u);
    case UART_LCR:
        return u->lcr;
    case UART_MCR:
        return u->mcr;
    case UART_LSR:
        return uart_read_lsr(u);
    case UART_MSR:
        return uart_read_msr(u);
    default:
        return u->scr;
    }
}

/* Register write by offset; DLAB swaps THR/IER for the divisor latch. */
static void uart_write_reg(emu_uart *u, unsigned reg, uint8_t val)
{
    bool dlab = u->lcr & LCR_DLAB;

    switch (reg) {
    case UART_RBR:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0xFF00u) | val);
        } else {
            uart_write_thr(u, val);
        }
        break;
    case UART_IER:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0xFFu) | (val << 8));
        } else {
            uart_write_ier(u, val);
        }
        break;
    case UART_IIR:
        uart_write_fcr(u, val);
        break;
    case UART_LCR:
        u->lcr = val;
        break;
    case UART_MCR:
        u->mcr = val & 0x1F;
        uart_update_msr(u);
        break;
    case UART_SCR:
        u->scr = val;
        break;
    default:
        break; /* LSR and MSR writes are factory test only: ignored */
    }
}

/* Bus handlers: every access may change the interrupt state. */
static uint32_t uart_pio_read(void *opaque, uint16_t port, unsigned size)
{
    emu_uart *u = opaque;
    uint8_t v;

    (void)size; /* byte registers: wider reads see the byte */
    v = uart_read_reg(u, (unsigned)(port - u->base));
    uart_update_irq(u);
    return v;
}

static void uart_pio_write(void *opaque, uint16_t port, unsigned size,
                           uint32_t val)
{
    emu_uart *u = opaque;

    (void)size;
    uart_write_reg(u, (unsigned)(port - u->base), (uint8_t)val);
    uart_update_irq(u);
}

/* Host input: queued in the backlog (up to 4 KiB), which refills the
 * FIFO as the guest reads.  Returns the bytes accepted. */
size_t emu_uart_input(emu_uart *u, const uint8_t *buf, size_t len)
{
    size_t n = 0;

    while (n < len && u->bl_count < UART_BACKLOG) {
        u->backlog[(u->bl_head + u->bl_count) % UART_BACKLOG] = buf[n++];
        u->bl_count++;
    }
    uart_refill(u);
    uart_update_irq(u);
    return n;
}

/*
 * Register state at power-on and after MR (PC16550D, "UART Reset
 * Configuration"): IER, FCR, LCR and MCR 0, so IIR reads 01h; LSR shows
 * only THRE and TEMT; MSR's deltas are clear; both FIFOs are empty.  MR
 * leaves the divisor latch and RBR alone, whose power-on contents the
 * datasheet leaves undefined: like QEMU this model starts them at 12
 * (9600 baud) and 0, as it does the scratch register.
 */
static void uart_init_regs(emu_uart *u)
{
    u->ier = u->lcr = u->mcr = u->scr = u->fcr = 0;
    u->lsr_err = u->msr_delta = 0;
    u->divisor = 12;
    u->thr_ipending = false;
    u->rx_head = u->rx_count = 0;
    u->rbr_last = 0;
    u->msr_lines = uart_modem_lines(u); /* MCR 0: not looped back */
}

/* The host backlog models bytes still on the line, so it survives and
 * refills the (now empty) receiver at once, as QEMU's chardev does. */
void emu_uart_reset(emu_uart *u)
{
    uart_init_regs(u);
    uart_refill(u);
    uart_update_irq(u); /* OUT2 is 0: the line drops */
}

emu_uart *emu_uart_new(emu_bus *b, uint16_t base, emu_irq irq,
                       emu_uart_sink_fn sink, void *opaque)
{
    emu_uart *u = calloc(1, sizeof(*u));

    if (u == NULL) {
        return NULL;
    }
    u->irq = irq;
    u->sink = sink;
    u->sink_opaque = opaque;
    u->base = base;
    uart_init_regs(u);
    if (emu_bus_add_ports(b, base, 8, uart_pio_read, uart_pio_write, u) < 0) {
        free(u);
        return NULL;
    }
    return u;
}

void emu_uart_free(emu_uart *u)
{
    free(u);
}
