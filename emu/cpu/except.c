/*
 * emu/cpu/except.c -- interrupt and exception delivery.
 *
 * Real mode goes through the IVT (cpu.c).  Protected mode follows SDM
 * vol. 3, sections 6.10-6.13: the IDT gate (16/32-bit interrupt and trap
 * gates; task gates are refused with #GP), the handler's code segment,
 * the stack switch through the TSS when the privilege rises, the frame
 * (SS, ESP, EFLAGS, CS, EIP, error code) and the EXT bit of error codes.
 * Section 6.15 (table 6-5) decides when a fault during delivery becomes
 * a double fault, and a fault while delivering #DF shuts the CPU down.
 * Nothing is committed until the whole frame is written, so a fault
 * during delivery leaves the interrupted state intact.
 */
#include <string.h>

#include "seg_int.h"

/* True for the vectors whose exceptions push an error code. */
static bool has_error_code(unsigned v)
{
    return v == EMU_EXC_DF || (v >= EMU_EXC_TS && v <= EMU_EXC_PF) ||
           v == EMU_EXC_AC;
}

/* Exception classes of table 6-4. */
enum { CLASS_BENIGN, CLASS_CONTRIB, CLASS_PF };

static int exc_class(unsigned v)
{
    if (v == EMU_EXC_DE || (v >= EMU_EXC_TS && v <= EMU_EXC_GP)) {
        return CLASS_CONTRIB;
    }
    return v == EMU_EXC_PF ? CLASS_PF : CLASS_BENIGN;
}

/* Table 6-5: does 'second', raised while delivering 'first', make #DF? */
static bool makes_double(unsigned first, unsigned second)
{
    int a = exc_class(first), b = exc_class(second);

    return (a == CLASS_CONTRIB && b == CLASS_CONTRIB) ||
           (a == CLASS_PF && b != CLASS_BENIGN);
}

/* Reads and checks IDT gate 'vector'; returns it decoded. */
static void idt_gate(emu_cpu *c, unsigned vector, unsigned kind,
                     emu_desc *g)
{
    unsigned ext = kind != EMU_INTR_SOFT;
    uint32_t gerr = vector * 8 + 2 + ext;

    if (vector * 8 + 7 > c->idtr.limit) {
        emu_raise(c, EMU_EXC_GP, gerr);
    }
    emu_desc_decode(emu_lin_read_sys(c, c->idtr.base + vector * 8, 4),
                    emu_lin_read_sys(c, c->idtr.base + vector * 8 + 4, 4),
                    g);
    switch (emu_desc_type(g->attr)) {
    case EMU_SYS_INT16: case EMU_SYS_TRAP16:
    case EMU_SYS_INT32: case EMU_SYS_TRAP32:
        break;
    default:            /* task gates (task switches unsupported), junk */
        emu_raise(c, EMU_EXC_GP, gerr);
    }
    if (kind == EMU_INTR_SOFT && emu_desc_dpl(g->attr) < emu_cpu_cpl(c)) {
        emu_raise(c, EMU_EXC_GP, gerr);
    }
    if (!(g->attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, gerr);
    }
}

/* Fetches and checks the handler's code segment named by the gate. */
static void handler_cs(emu_cpu *c, uint16_t sel, unsigned ext, emu_desc *d)
{
    if (emu_sel_null(sel)) {
        emu_raise(c, EMU_EXC_GP, ext);
    }
    emu_desc_fetch_or_gp(c, sel, d, ext);
    if ((d->attr & (EMU_DESC_S | EMU_DESC_CODE)) !=
            (EMU_DESC_S | EMU_DESC_CODE) ||
        emu_desc_dpl(d->attr) > emu_cpu_cpl(c)) {
        emu_raise(c, EMU_EXC_GP, (sel & 0xFFFCu) | ext);
    }
    if (!(d->attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, (sel & 0xFFFCu) | ext);
    }
}

/* Opens the handler's stack: the TSS stack for level newcpl when the
 * privilege rises (the old SS:ESP pushed first; *ss_sel and *sd describe
 * it), otherwise the current one.  Returns true for the inner case. */
static bool handler_stack(emu_cpu *c, unsigned newcpl, unsigned ext,
                          unsigned size, emu_stk *s, uint16_t *ss_sel,
                          emu_desc *sd)
{
    uint32_t esp;

    if (newcpl >= emu_cpu_cpl(c)) {
        *s = (emu_stk){ c->seg[EMU_SS].base, c->gpr[EMU_ESP],
                        emu_stack_mask(c->seg[EMU_SS].attr) };
        return false;
    }
    emu_tss_stack(c, newcpl, ext, ss_sel, &esp);
    emu_new_stack(c, *ss_sel, newcpl, ext, sd);
    *s = (emu_stk){ sd->base, esp, emu_stack_mask(sd->attr) };
    emu_stk_push(c, s, c->seg[EMU_SS].sel, size);
    emu_stk_push(c, s, c->gpr[EMU_ESP], size);
    return true;
}

/* Protected-mode delivery through the IDT. */
static void interrupt_pm(emu_cpu *c, unsigned vector, unsigned kind,
                         uint32_t err, uint32_t ret_eip)
{
    unsigned ext = kind != EMU_INTR_SOFT, newcpl, size;
    uint32_t fl = emu_cpu_get_flags(c), eip;
    uint16_t ss = 0;
    emu_desc g, d, sd;
    emu_stk s;
    bool inner;

    idt_gate(c, vector, kind, &g);
    handler_cs(c, g.gate_sel, ext, &d);
    size = (g.attr & 8) ? 4 : 2;
    eip = size == 4 ? g.gate_off : g.gate_off & 0xFFFF;
    newcpl = (d.attr & EMU_DESC_EC) ? emu_cpu_cpl(c) : emu_desc_dpl(d.attr);
    if (eip > d.limit) {
        emu_raise(c, EMU_EXC_GP, ext);
    }
    inner = handler_stack(c, newcpl, ext, size, &s, &ss, &sd);
    emu_stk_push(c, &s, fl, size);
    emu_stk_push(c, &s, c->seg[EMU_CS].sel, size);
    emu_stk_push(c, &s, ret_eip, size);
    if (kind == EMU_INTR_EXC && has_error_code(vector)) {
        emu_stk_push(c, &s, err, size);
    }
    /* Everything is written: commit. */
    if (inner) {
        c->seg[EMU_SS] = emu_desc_segment(ss, &sd);
    }
    emu_set_sp(c, s.sp);
    emu_desc_touch(c, g.gate_sel, &d);
    c->seg[EMU_CS] = emu_desc_segment(
        (uint16_t)((g.gate_sel & ~3u) | newcpl), &d);
    c->eip = eip;
    c->tc_dirty = true;
    fl &= ~(EMU_FL_TF | EMU_FL_NT | EMU_FL_RF | EMU_FL_VM);
    if (!(emu_desc_type(g.attr) & 1)) {      /* interrupt gate */
        fl &= ~EMU_FL_IF;
    }
    emu_cpu_set_flags(c, fl);
}

void emu_interrupt(emu_cpu *c, unsigned vector, unsigned kind,
                   uint32_t err, uint32_t ret_eip)
{
    c->insn_esp = c->gpr[EMU_ESP];    /* what a fault here restores */
    if (!(c->cr[0] & EMU_CR0_PE)) {
        emu_interrupt_real(c, (uint8_t)vector, ret_eip);
    } else {
        interrupt_pm(c, vector, kind, err, ret_eip);
    }
}

bool emu_exception(emu_cpu *c, unsigned vector, uint32_t err)
{
    jmp_buf outer;
    volatile unsigned v = vector;
    volatile uint32_t e = err;
    bool ok = true;

    memcpy(outer, c->fault_jmp, sizeof(jmp_buf));
    for (;;) {
        if (setjmp(c->fault_jmp) == 0) {
            emu_interrupt(c, v, EMU_INTR_EXC, e, c->eip);
            break;
        }
        if (v == EMU_EXC_DF) {
            ok = false;                 /* triple fault */
            break;
        }
        if (makes_double(v, c->fault_vec)) {
            v = EMU_EXC_DF;
            e = 0;
        } else {
            v = c->fault_vec;
            e = c->fault_err;
        }
    }
    memcpy(c->fault_jmp, outer, sizeof(jmp_buf));
    c->halted = false;
    return ok;
}
