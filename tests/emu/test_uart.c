/*
 * tests/emu/test_uart.c -- 16550A UART driven through the bus the way
 * SeaBIOS (detect_serial, sercon) and Linux's 8250 autoconfig and
 * startup probes drive it, plus transmit, receive, loopback and the
 * interrupt identification priorities, OUT2 gating and machine reset.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "emu/bus/bus.h"
#include "emu/dev/uart.h"

#define COM1 0x3F8
enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

typedef struct fixture {
    emu_bus *bus;
    emu_uart *uart;
    uint8_t sent[64];     /* bytes that reached the sink */
    size_t nsent;
    bool level;           /* IRQ line */
    int raises;           /* 0 -> 1 transitions */
} fixture;

static void sink(void *opaque, uint8_t byte)
{
    fixture *f = opaque;

    if (f->nsent < sizeof(f->sent)) {
        f->sent[f->nsent++] = byte;
    }
}

static void irq_cb(void *opaque, unsigned line, bool level)
{
    fixture *f = opaque;

    cr_assert_eq(line, 4);
    f->raises += level && !f->level;
    f->level = level;
}

static fixture *fx_new(void)
{
    fixture *f = calloc(1, sizeof(*f));

    cr_assert_not_null(f);
    f->bus = emu_bus_new();
    f->uart = emu_uart_new(f->bus, COM1, (emu_irq){ irq_cb, f, 4 }, sink, f);
    cr_assert_not_null(f->uart);
    return f;
}

static void fx_free(fixture *f)
{
    emu_uart_free(f->uart);
    emu_bus_free(f->bus);
    free(f);
}

static uint8_t in(fixture *f, unsigned reg)
{
    return (uint8_t)emu_bus_pio_read(f->bus, (uint16_t)(COM1 + reg), 1);
}

static void out(fixture *f, unsigned reg, uint8_t v)
{
    emu_bus_pio_write(f->bus, (uint16_t)(COM1 + reg), 1, v);
}

Test(uart, seabios_detect_serial_sees_thre_interrupt)
{
    fixture *f = fx_new();

    out(f, IER, 0x02);
    cr_assert_eq(in(f, IER), 0x02);
    cr_assert_eq(in(f, IIR), 0x02);          /* exact: FIFOs are off */
    cr_assert_eq(in(f, IIR), 0x01, "IIR read acknowledged THRE");
    out(f, IER, 0x00);
    fx_free(f);
}

Test(uart, linux_autoconfig_ier_loopback_and_fifo_probes)
{
    fixture *f = fx_new();

    out(f, IER, 0x00);
    cr_assert_eq(in(f, IER) & 0x0F, 0x00);
    out(f, IER, 0x0F);
    cr_assert_eq(in(f, IER) & 0x0F, 0x0F);
    out(f, IER, 0xFF);
    cr_assert_eq(in(f, IER), 0x0F, "no UUE/sleep bits: not XScale/16750");
    out(f, IER, 0);
    out(f, SCR, 0xA5);
    cr_assert_eq(in(f, SCR), 0xA5);
    /* Loopback: RTS -> CTS, OUT2 -> DCD. */
    out(f, MCR, 0x10 | 0x0A);
    cr_assert_eq(in(f, MSR) & 0xF0, 0x90);
    out(f, MCR, 0x10 | 0x05);                /* DTR -> DSR, OUT1 -> RI */
    cr_assert_eq(in(f, MSR) & 0xF0, 0x60);
    out(f, MCR, 0);
    /* FIFO detection: IIR bits 7:6 = 3 means 16550A; no 64-byte bit. */
    out(f, LCR, 0xBF);
    out(f, FCR, 0);
    out(f, LCR, 0);
    out(f, FCR, 0x01);
    cr_assert_eq(in(f, IIR) >> 6, 3);
    out(f, FCR, 0x21);
    cr_assert_eq(in(f, IIR) >> 5, 6, "bit 5 stays clear (not a 16750)");
    out(f, FCR, 0);
    cr_assert_eq(in(f, IIR), 0x01);
    fx_free(f);
}

Test(uart, linux_startup_thre_reasserts_on_each_enable)
{
    fixture *f = fx_new();

    out(f, IER, 0x02);
    cr_assert_eq(in(f, IIR) & 0x01, 0);
    out(f, IER, 0);
    out(f, IER, 0x02);
    cr_assert_eq(in(f, IIR) & 0x0F, 0x02);
    out(f, IER, 0);
    cr_assert_eq(in(f, LSR) & 0x60, 0x60);   /* THRE and TEMT */
    fx_free(f);
}

Test(uart, transmit_reaches_sink_at_once_and_divisor_latch_is_separate)
{
    fixture *f = fx_new();

    out(f, LCR, 0x83);
    out(f, RBR, 0x01);                       /* DLL: 115200 baud */
    out(f, IER, 0x00);                       /* DLM */
    cr_assert_eq(in(f, RBR), 0x01);
    cr_assert_eq(in(f, IER), 0x00);
    out(f, LCR, 0x03);
    cr_assert_eq(f->nsent, 0, "divisor writes are not data");
    cr_assert_eq(in(f, IER), 0x00);
    for (const char *p = "ok\n"; *p; p++) {
        cr_assert(in(f, LSR) & 0x20);
        out(f, RBR, (uint8_t)*p);
    }
    cr_assert_eq(f->nsent, 3);
    cr_assert_eq(memcmp(f->sent, "ok\n", 3), 0);
    out(f, LCR, 0x80);
    cr_assert_eq(in(f, RBR), 0x01, "divisor kept");
    fx_free(f);
}

Test(uart, loopback_sends_tx_to_rx_not_to_sink)
{
    fixture *f = fx_new();

    out(f, MCR, 0x10);
    out(f, RBR, 'x');
    cr_assert_eq(f->nsent, 0);
    cr_assert_eq(in(f, LSR) & 0x01, 0x01);
    cr_assert_eq(in(f, RBR), 'x');
    cr_assert_eq(in(f, LSR) & 0x01, 0x00);
    /* Without FIFOs a second byte overruns the holding register. */
    out(f, RBR, 'a');
    out(f, RBR, 'b');
    uint8_t lsr = in(f, LSR);
    cr_assert_eq(lsr & 0x03, 0x03, "DR and OE");
    cr_assert_eq(in(f, LSR) & 0x02, 0, "OE clears on read");
    cr_assert_eq(in(f, RBR), 'b', "the new byte overwrote RBR");
    /* With FIFOs the 17th byte is the one lost. */
    out(f, FCR, 0x07);
    for (unsigned i = 0; i < 17; i++) {
        out(f, RBR, (uint8_t)('A' + i));
    }
    cr_assert_eq(in(f, LSR) & 0x03, 0x03);
    for (unsigned i = 0; i < 16; i++) {
        cr_assert_eq(in(f, RBR), 'A' + i);
    }
    cr_assert_eq(in(f, LSR) & 0x01, 0);
    fx_free(f);
}

Test(uart, receive_interrupt_needs_out2_and_follows_iir)
{
    fixture *f = fx_new();
    const uint8_t msg[2] = { 'h', 'i' };

    out(f, IER, 0x01);
    cr_assert_eq(emu_uart_input(f->uart, msg, 2), 2);
    cr_assert_eq(in(f, IIR), 0x04);
    cr_assert_not(f->level, "OUT2 clear: the line stays low");
    out(f, MCR, 0x0B);                       /* DTR, RTS, OUT2 */
    cr_assert(f->level);
    cr_assert_eq(in(f, RBR), 'h');           /* no FIFO: second byte next */
    cr_assert(f->level);
    cr_assert_eq(in(f, RBR), 'i');
    cr_assert_not(f->level);
    cr_assert_eq(in(f, IIR), 0x01);
    cr_assert_eq(f->raises, 1);
    fx_free(f);
}

Test(uart, fifo_trigger_level_and_timeout_identification)
{
    fixture *f = fx_new();
    uint8_t buf[100];

    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)i;
    }
    out(f, FCR, 0x47);                       /* enable, clear, trigger 4 */
    out(f, IER, 0x01);
    emu_uart_input(f->uart, buf, 2);
    cr_assert_eq(in(f, IIR), 0xCC, "below trigger: character timeout");
    emu_uart_input(f->uart, buf + 2, sizeof(buf) - 2);
    cr_assert_eq(in(f, IIR), 0xC4);
    for (unsigned i = 0; i < sizeof(buf); i++) {
        cr_assert(in(f, LSR) & 0x01);
        cr_assert_eq(in(f, RBR), i, "byte %u", i);
    }
    cr_assert_eq(in(f, LSR) & 0x01, 0);
    cr_assert_eq(in(f, IIR), 0xC1);
    fx_free(f);
}

Test(uart, iir_priorities_line_status_then_data_then_thre_then_modem)
{
    fixture *f = fx_new();

    out(f, MCR, 0x10);                       /* loopback, no FIFO */
    out(f, RBR, 1);
    out(f, RBR, 2);                          /* overrun */
    out(f, MCR, 0x12);                       /* RTS on: DCTS delta */
    out(f, IER, 0x0F);
    cr_assert_eq(in(f, IIR), 0x06);
    in(f, LSR);
    cr_assert_eq(in(f, IIR), 0x04);
    in(f, RBR);
    cr_assert_eq(in(f, IIR), 0x02);          /* THRE, and this read ... */
    cr_assert_eq(in(f, IIR), 0x00);          /* ... leaves modem status */
    cr_assert_eq(in(f, MSR) & 0x11, 0x11);   /* CTS and DCTS */
    cr_assert_eq(in(f, IIR), 0x01);
    cr_assert_eq(in(f, MSR) & 0x0F, 0, "deltas cleared by the read");
    fx_free(f);
}

Test(uart, thr_write_rearms_the_transmit_interrupt)
{
    fixture *f = fx_new();

    out(f, MCR, 0x08);
    out(f, IER, 0x02);
    cr_assert(f->level);
    cr_assert_eq(in(f, IIR), 0x02);
    cr_assert_not(f->level);
    out(f, RBR, 'z');
    cr_assert(f->level, "THR emptied again at once");
    cr_assert_eq(f->raises, 2);
    out(f, IER, 0);
    cr_assert_not(f->level);
    fx_free(f);
}

/* Writes n (register, value) pairs in order. */
static void out_seq(fixture *f, const uint8_t (*seq)[2], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out(f, seq[i][0], seq[i][1]);
    }
}

Test(uart, machine_reset_gives_datasheet_values_and_keeps_sent_output)
{
    /* Send "ab", then fill the FIFO in loopback ... */
    static const uint8_t send[][2] = {
        { RBR, 'a' }, { RBR, 'b' }, { FCR, 0xC7 }, { MCR, 0x10 },
    };
    /* ... and leave modem deltas, every interrupt enabled with one
     * pending, divisor 0x0201, 8E1 framing and a scratch value. */
    static const uint8_t dirty[][2] = {
        { MCR, 0x0B }, { IER, 0x0F }, { LCR, 0x80 }, { RBR, 0x01 },
        { IER, 0x02 }, { LCR, 0x1B }, { SCR, 0x5A },
    };
    fixture *f = fx_new();

    out_seq(f, send, sizeof(send) / sizeof(send[0]));
    for (unsigned i = 0; i < 17; i++) {
        out(f, RBR, (uint8_t)i);             /* the 17th overruns */
    }
    out_seq(f, dirty, sizeof(dirty) / sizeof(dirty[0]));
    cr_assert(f->level);
    emu_uart_reset(f->uart);
    cr_assert_not(f->level, "INTR low after reset");
    cr_assert_eq(in(f, IER), 0x00);
    cr_assert_eq(in(f, IIR), 0x01, "no interrupt, FIFOs off");
    cr_assert_eq(in(f, LCR), 0x00);
    cr_assert_eq(in(f, MCR), 0x00);
    cr_assert_eq(in(f, LSR), 0x60, "only THRE and TEMT: FIFO emptied");
    cr_assert_eq(in(f, MSR), 0xB0, "lines without deltas");
    cr_assert_eq(in(f, SCR), 0x00);
    out(f, LCR, 0x80);
    cr_assert_eq(in(f, RBR), 12, "divisor back to its power-on value");
    cr_assert_eq(in(f, IER), 0);
    out(f, LCR, 0x03);
    /* The output already sent stays, and the sink still receives. */
    out(f, RBR, 'c');
    cr_assert_eq(f->nsent, 3);
    cr_assert_eq(memcmp(f->sent, "abc", 3), 0);
    fx_free(f);
}

Test(uart, machine_reset_keeps_host_input_not_yet_received)
{
    fixture *f = fx_new();
    const uint8_t msg[3] = { 'x', 'y', 'z' };

    out(f, FCR, 0x01);
    out(f, MCR, 0x10);
    for (unsigned i = 0; i < 16; i++) {
        out(f, RBR, 0xEE);                   /* the FIFO is full */
    }
    out(f, MCR, 0);
    cr_assert_eq(emu_uart_input(f->uart, msg, 3), 3);
    emu_uart_reset(f->uart);
    /* The FIFO's bytes are gone; the host's are still on the line. */
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(in(f, LSR), 0x61);
        cr_assert_eq(in(f, RBR), msg[i]);
    }
    cr_assert_eq(in(f, LSR), 0x60);
    fx_free(f);
}
