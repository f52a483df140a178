/*
 * emu/dev/uart.h -- a 16550A UART (COM1 at 0x3F8, IRQ 4).
 *
 * Transmitted bytes go to a sink callback at once (the virtual line is
 * infinitely fast; THR-empty is always reported); received bytes are
 * queued with emu_uart_input().  Registers, divisor latch, FIFO control,
 * scratch register, modem control loopback and the interrupt
 * identification logic behave as on the real chip so that firmware and
 * Linux's 8250 driver probe it successfully.
 * Implemented in emu/dev/uart.c.
 */
#ifndef EMU_DEV_UART_H
#define EMU_DEV_UART_H

#include <stddef.h>
#include <stdint.h>

#include "emu/bus/bus.h"
#include "emu/dev/irq.h"

typedef struct emu_uart emu_uart;

/* Receives each byte the guest transmits. */
typedef void (*emu_uart_sink_fn)(void *opaque, uint8_t byte);

/* Creates a UART with 8 ports at base on b; NULL on failure. */
emu_uart *emu_uart_new(emu_bus *b, uint16_t base, emu_irq irq,
                       emu_uart_sink_fn sink, void *opaque);
void emu_uart_free(emu_uart *u);
/* Queues bytes for the guest to receive; returns how many were queued. */
size_t emu_uart_input(emu_uart *u, const uint8_t *buf, size_t len);
/* Machine reset (the chip's MR pin): IER, FCR, LCR, MCR and the line
 * and modem status deltas get their reset values, both FIFOs empty and
 * the IRQ line drops; the divisor latch and scratch register return to
 * this model's power-on values (12, 0).  The sink, the bytes already
 * sent to it and host input still queued for the guest are kept. */
void emu_uart_reset(emu_uart *u);

#endif /* EMU_DEV_UART_H */
