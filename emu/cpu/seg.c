/*
 * emu/cpu/seg.c -- segment loads and far transfers in every mode.
 *
 * Real mode loads only the selector and base, keeping the cached limit
 * and attributes (which is what makes "unreal mode" work, SDM vol. 3,
 * 20.1.1).  Protected mode follows the "Operation" sections of MOV, POP,
 * JMP, CALL, RET and IRET in SDM vol. 2: descriptor checks, call gates
 * (with the stack switch through the TSS, vol. 3, 5.8.5), returns to an
 * outer privilege level.  Task switches are refused with #GP.
 */
#include "seg_int.h"

/* The protected-mode load of a data segment register (not CS). */
static void load_pm(emu_cpu *c, unsigned sreg, uint16_t sel)
{
    emu_desc d;
    uint32_t err;
    int v;

    if (emu_sel_null(sel)) {
        if (sreg == EMU_SS) {
            emu_raise(c, EMU_EXC_GP, 0);
        }
        c->seg[sreg] = (emu_segment){ sel, 0, 0, 0 };   /* unusable */
        return;
    }
    emu_desc_fetch_or_gp(c, sel, &d, 0);
    v = emu_desc_check_data(sreg, sel, &d, emu_cpu_cpl(c), &err);
    if (v >= 0) {
        emu_raise(c, (unsigned)v, err);
    }
    emu_desc_touch(c, sel, &d);
    c->seg[sreg] = emu_desc_segment(sel, &d);
}

void emu_seg_load(emu_cpu *c, unsigned sreg, uint16_t sel)
{
    if (!(c->cr[0] & EMU_CR0_PE) || (c->eflags & EMU_FL_VM)) {
        emu_cpu_load_seg_real(c, sreg, sel);
    } else {
        load_pm(c, sreg, sel);
    }
}

/* Stack-pointer mask of a stack segment (by its B bit). */
uint32_t emu_stack_mask(uint16_t attr)
{
    return (attr & EMU_SEG_DB) ? 0xFFFFFFFFu : 0xFFFFu;
}

void emu_stk_push(emu_cpu *c, emu_stk *s, uint32_t v, unsigned size)
{
    s->sp = (s->sp - size) & s->mask;
    emu_lin_write_sys(c, s->base + s->sp, size, v);
}

/* Reads the size-byte value at SS:(ESP + off) without popping. */
static uint32_t stack_peek(emu_cpu *c, uint32_t off, unsigned size)
{
    uint32_t mask = emu_stack_mask(c->seg[EMU_SS].attr);

    return emu_mem_read(c, EMU_SS, (c->gpr[EMU_ESP] + off) & mask, size);
}

/* Sets ESP (or SP for a 16-bit stack) to sp. */
void emu_set_sp(emu_cpu *c, uint32_t sp)
{
    uint32_t mask = emu_stack_mask(c->seg[EMU_SS].attr);

    c->gpr[EMU_ESP] = (c->gpr[EMU_ESP] & ~mask) | (sp & mask);
}

void emu_tss_stack(emu_cpu *c, unsigned dpl, unsigned ext, uint16_t *ss,
                   uint32_t *esp)
{
    bool tss32 = c->tr.attr & 8;
    uint32_t off = tss32 ? 4 + dpl * 8 : 2 + dpl * 4;

    if (!(c->tr.attr & EMU_DESC_P) || off + (tss32 ? 5 : 3) > c->tr.limit) {
        emu_raise(c, EMU_EXC_TS, (c->tr.sel & 0xFFFCu) | ext);
    }
    *esp = emu_lin_read_sys(c, c->tr.base + off, tss32 ? 4 : 2);
    *ss = (uint16_t)emu_lin_read_sys(c, c->tr.base + off + (tss32 ? 4 : 2),
                                     2);
}

void emu_new_stack(emu_cpu *c, uint16_t ss, unsigned dpl, unsigned ext,
                   emu_desc *d)
{
    uint32_t e = (ss & 0xFFFCu) | ext;
    unsigned t;

    if (emu_sel_null(ss)) {
        emu_raise(c, EMU_EXC_TS, ext);
    }
    if ((ss & 3) != dpl || !emu_desc_fetch(c, ss, d)) {
        emu_raise(c, EMU_EXC_TS, e);
    }
    t = d->attr & (EMU_DESC_S | EMU_DESC_CODE | EMU_DESC_RW);
    if (t != (EMU_DESC_S | EMU_DESC_RW) || emu_desc_dpl(d->attr) != dpl) {
        emu_raise(c, EMU_EXC_TS, e);
    }
    if (!(d->attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_SS, e);
    }
    emu_desc_touch(c, ss, d);
}

/* Real-mode far JMP/CALL: CS = sel the 8086 way. */
static void far_real(emu_cpu *c, uint16_t sel, uint32_t off,
                     unsigned opsize, bool call, uint32_t ret_eip)
{
    if (call) {
        emu_push(c, c->seg[EMU_CS].sel, opsize);
        emu_push(c, ret_eip, opsize);
    }
    emu_cpu_load_seg_real(c, EMU_CS, sel);
    c->eip = off & (opsize == 4 ? 0xFFFFFFFFu : 0xFFFFu);
}

/* Commits a new CS (RPL forced to cpl) and EIP after a limit check. */
static void set_cs(emu_cpu *c, uint16_t sel, emu_desc *d, unsigned cpl,
                   uint32_t eip)
{
    if (eip > d->limit) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    emu_desc_touch(c, sel, d);
    c->seg[EMU_CS] = emu_desc_segment((uint16_t)((sel & ~3u) | cpl), d);
    c->eip = eip;
    c->tc_dirty = true;         /* the decoded block ends with CS */
}

/* CALL through a gate to a more privileged non-conforming segment:
 * switch to the TSS stack and copy the gate's parameters. */
static void call_inner(emu_cpu *c, const emu_desc *gate, uint16_t tsel,
                       emu_desc *code, uint32_t ret_eip)
{
    unsigned dpl = emu_desc_dpl(code->attr);
    unsigned size = (gate->attr & 8) ? 4 : 2;
    uint32_t eip = size == 4 ? gate->gate_off : gate->gate_off & 0xFFFF;
    uint16_t ss;
    uint32_t esp, old_esp = c->gpr[EMU_ESP];
    emu_desc sd;
    emu_stk s;

    emu_tss_stack(c, dpl, 0, &ss, &esp);
    emu_new_stack(c, ss, dpl, 0, &sd);
    if (eip > code->limit) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    s = (emu_stk){ sd.base, esp, emu_stack_mask(sd.attr) };
    emu_stk_push(c, &s, c->seg[EMU_SS].sel, size);
    emu_stk_push(c, &s, old_esp, size);
    for (int i = gate->gate_count - 1; i >= 0; i--) {
        emu_stk_push(c, &s, stack_peek(c, (uint32_t)i * size, size), size);
    }
    emu_stk_push(c, &s, c->seg[EMU_CS].sel, size);
    emu_stk_push(c, &s, ret_eip, size);
    c->seg[EMU_SS] = emu_desc_segment(ss, &sd);
    c->gpr[EMU_ESP] = (sd.attr & EMU_SEG_DB) ? s.sp
                      : (c->gpr[EMU_ESP] & 0xFFFF0000u) | s.sp;
    set_cs(c, tsel, code, dpl, eip);
}

/* Far JMP/CALL through a call gate (SDM vol. 3, 5.8.4). */
static void far_gate(emu_cpu *c, uint16_t sel, const emu_desc *gate,
                     bool call, uint32_t ret_eip)
{
    unsigned cpl = emu_cpu_cpl(c), gdpl = emu_desc_dpl(gate->attr);
    unsigned size = (gate->attr & 8) ? 4 : 2;
    uint16_t tsel = gate->gate_sel;
    emu_desc d;
    unsigned dpl;

    if (gdpl < cpl || gdpl < (sel & 3u)) {
        emu_raise(c, EMU_EXC_GP, sel & 0xFFFCu);
    }
    if (!(gate->attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, sel & 0xFFFCu);
    }
    if (emu_sel_null(tsel)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    emu_desc_fetch_or_gp(c, tsel, &d, 0);
    dpl = emu_desc_dpl(d.attr);
    if ((d.attr & (EMU_DESC_S | EMU_DESC_CODE)) !=
            (EMU_DESC_S | EMU_DESC_CODE) || dpl > cpl ||
        (!call && !(d.attr & EMU_DESC_EC) && dpl != cpl)) {
        emu_raise(c, EMU_EXC_GP, tsel & 0xFFFCu);
    }
    if (!(d.attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, tsel & 0xFFFCu);
    }
    if (call && !(d.attr & EMU_DESC_EC) && dpl < cpl) {
        call_inner(c, gate, tsel, &d, ret_eip);
        return;
    }
    if (call) {
        emu_push(c, c->seg[EMU_CS].sel, size);
        emu_push(c, ret_eip, size);
    }
    set_cs(c, tsel, &d, cpl,
           size == 4 ? gate->gate_off : gate->gate_off & 0xFFFF);
}

void emu_far_jump(emu_cpu *c, uint16_t sel, uint32_t off, unsigned opsize,
                  bool call, uint32_t ret_eip)
{
    unsigned cpl = emu_cpu_cpl(c);
    emu_desc d;
    uint32_t err;
    int v;

    if (!(c->cr[0] & EMU_CR0_PE) || (c->eflags & EMU_FL_VM)) {
        far_real(c, sel, off, opsize, call, ret_eip);
        return;
    }
    if (emu_sel_null(sel)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    emu_desc_fetch_or_gp(c, sel, &d, 0);
    if (d.attr & EMU_DESC_S) {
        v = emu_desc_check_code(sel, &d, cpl, &err);
        if (v >= 0) {
            emu_raise(c, (unsigned)v, err);
        }
        if (call) {
            emu_push(c, c->seg[EMU_CS].sel, opsize);
            emu_push(c, ret_eip, opsize);
        }
        set_cs(c, sel, &d, cpl, opsize == 4 ? off : off & 0xFFFF);
        return;
    }
    switch (emu_desc_type(d.attr)) {
    case EMU_SYS_CALL16: case EMU_SYS_CALL32:
        far_gate(c, sel, &d, call, ret_eip);
        return;
    default:        /* task gates and TSSs: task switches unsupported */
        emu_raise(c, EMU_EXC_GP, sel & 0xFFFCu);
    }
}

/* Makes DS, ES, FS, GS unusable when their DPL is below the new CPL
 * (data and non-conforming code only), after a return outward. */
static void drop_inner_segs(emu_cpu *c, unsigned cpl)
{
    static const unsigned regs[] = { EMU_ES, EMU_DS, EMU_FS, EMU_GS };

    for (unsigned i = 0; i < 4; i++) {
        emu_segment *s = &c->seg[regs[i]];
        bool conforming = (s->attr & (EMU_DESC_CODE | EMU_DESC_EC)) ==
                          (EMU_DESC_CODE | EMU_DESC_EC);
        if (!conforming && emu_desc_dpl(s->attr) < cpl) {
            *s = (emu_segment){ 0, 0, 0, 0 };
        }
    }
}

/* Checks the CS popped by RET/IRET (SDM vol. 2, RET "Operation"). */
static void check_ret_cs(emu_cpu *c, uint16_t sel, emu_desc *d)
{
    unsigned rpl = sel & 3, dpl;

    if (emu_sel_null(sel)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    emu_desc_fetch_or_gp(c, sel, d, 0);
    dpl = emu_desc_dpl(d->attr);
    if (rpl < emu_cpu_cpl(c) ||
        (d->attr & (EMU_DESC_S | EMU_DESC_CODE)) !=
            (EMU_DESC_S | EMU_DESC_CODE) ||
        ((d->attr & EMU_DESC_EC) ? dpl > rpl : dpl != rpl)) {
        emu_raise(c, EMU_EXC_GP, sel & 0xFFFCu);
    }
    if (!(d->attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, sel & 0xFFFCu);
    }
}

/* Checks the SS popped by a return to an outer level rpl. */
static void check_ret_ss(emu_cpu *c, uint16_t ss, unsigned rpl,
                         emu_desc *d)
{
    uint32_t err;
    int v;

    if (emu_sel_null(ss)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    emu_desc_fetch_or_gp(c, ss, d, 0);
    v = emu_desc_check_data(EMU_SS, ss, d, rpl, &err);
    if (v >= 0) {
        emu_raise(c, (unsigned)v, err);
    }
}

/* Common tail of RET and IRET in protected mode: frame is the size of
 * the popped EIP/CS(/EFLAGS) part; release is RET's imm16. */
static void ret_pm(emu_cpu *c, uint32_t eip, uint16_t sel, unsigned size,
                   uint32_t frame, uint16_t release)
{
    unsigned rpl = sel & 3;
    uint32_t esp = c->gpr[EMU_ESP] + frame + release;
    emu_desc d, sd;

    check_ret_cs(c, sel, &d);
    if (rpl == emu_cpu_cpl(c)) {
        set_cs(c, sel, &d, rpl, eip);
        emu_set_sp(c, esp);
        return;
    }
    uint32_t new_esp = stack_peek(c, frame + release, size);
    uint16_t ss = (uint16_t)stack_peek(c, frame + release + size, size);
    check_ret_ss(c, ss, rpl, &sd);
    set_cs(c, sel, &d, rpl, eip);
    emu_desc_touch(c, ss, &sd);
    c->seg[EMU_SS] = emu_desc_segment(ss, &sd);
    if (size == 2) {
        new_esp &= 0xFFFF;
    }
    emu_set_sp(c, new_esp + release);
    drop_inner_segs(c, rpl);
}

void emu_far_ret(emu_cpu *c, unsigned opsize, uint16_t release)
{
    uint32_t eip = stack_peek(c, 0, opsize);
    uint16_t sel = (uint16_t)stack_peek(c, opsize, opsize);

    if (!(c->cr[0] & EMU_CR0_PE) || (c->eflags & EMU_FL_VM)) {
        emu_set_sp(c, c->gpr[EMU_ESP] + 2 * opsize + release);
        emu_cpu_load_seg_real(c, EMU_CS, sel);
        c->eip = eip & (opsize == 4 ? 0xFFFFFFFFu : 0xFFFFu);
        return;
    }
    ret_pm(c, opsize == 4 ? eip : eip & 0xFFFF, sel, opsize, 2 * opsize,
           release);
}

void emu_flags_load(emu_cpu *c, uint32_t v, unsigned size, unsigned cpl)
{
    uint32_t mask = EMU_FL_POPF_MASK, f = emu_cpu_get_flags(c);

    if (c->cr[0] & EMU_CR0_PE) {
        if (cpl > 0) {
            mask &= ~EMU_FL_IOPL;
        }
        if (cpl > ((f & EMU_FL_IOPL) >> 12)) {
            mask &= ~EMU_FL_IF;
        }
    }
    if (size == 2) {
        mask &= 0xFFFF;
    }
    emu_cpu_set_flags(c, (f & ~mask) | (v & mask));
}

void emu_iret(emu_cpu *c, unsigned opsize)
{
    uint32_t eip = stack_peek(c, 0, opsize);
    uint16_t sel = (uint16_t)stack_peek(c, opsize, opsize);
    uint32_t fl = stack_peek(c, 2 * opsize, opsize);
    unsigned cpl = emu_cpu_cpl(c);

    if (!(c->cr[0] & EMU_CR0_PE)) {
        emu_set_sp(c, c->gpr[EMU_ESP] + 3 * opsize);
        emu_cpu_load_seg_real(c, EMU_CS, sel);
        c->eip = eip & (opsize == 4 ? 0xFFFFFFFFu : 0xFFFFu);
        emu_flags_load(c, fl, opsize, 0);
        return;
    }
    if ((c->eflags & (EMU_FL_VM | EMU_FL_NT)) ||
        (opsize == 4 && (fl & EMU_FL_VM) && cpl == 0)) {
        emu_raise(c, EMU_EXC_GP, 0);   /* task return and V86: refused */
    }
    ret_pm(c, opsize == 4 ? eip : eip & 0xFFFF, sel, opsize, 3 * opsize, 0);
    emu_flags_load(c, fl, opsize, cpl);
}
