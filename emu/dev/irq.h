/*
 * emu/dev/irq.h -- an interrupt line from a device to a controller.
 *
 * A device holds an emu_irq by value and drives it with emu_irq_set();
 * the controller (the 8259 pair) supplies the callback.  Lines are level
 * signals: edge-triggered inputs see the 0 -> 1 transitions.  A line with
 * no callback is not connected and ignores every change.
 */
#ifndef EMU_DEV_IRQ_H
#define EMU_DEV_IRQ_H

#include <stdbool.h>

/* Called with the new level of input 'line' of the receiver. */
typedef void (*emu_irq_fn)(void *opaque, unsigned line, bool level);

/* One interrupt line: where it goes and which input of the receiver. */
typedef struct emu_irq {
    emu_irq_fn fn;   /* receiver's callback, NULL when unconnected */
    void *opaque;    /* receiver */
    unsigned line;   /* receiver's input number */
} emu_irq;

/* Drives the line to level. */
static inline void emu_irq_set(emu_irq irq, bool level)
{
    if (irq.fn != NULL) {
        irq.fn(irq.opaque, irq.line, level);
    }
}

/* Raises and lowers the line: one edge for edge-triggered inputs. */
static inline void emu_irq_pulse(emu_irq irq)
{
    emu_irq_set(irq, true);
    emu_irq_set(irq, false);
}

#endif /* EMU_DEV_IRQ_H */
