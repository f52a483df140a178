/*
 * emu/cpu/exec_sys.c -- system instructions.
 *
 * Descriptor-table registers (LGDT/LIDT/SGDT/SIDT, LLDT/SLDT, LTR/STR),
 * control and debug registers (MOV CRn/DRn, LMSW/SMSW, CLTS), segment
 * inspection (LAR, LSL, VERR, VERW, ARPL), cache and TLB control (INVD,
 * WBINVD, INVLPG) and the model-specific registers (RDMSR/WRMSR: TSC,
 * SYSENTER, APIC base, microcode revision), per their SDM vol. 2 pages.
 */
#include "exec_int.h"
#include "seg_int.h"

/* MSR numbers. */
#define MSR_TSC            0x10
#define MSR_APIC_BASE      0x1B
#define MSR_UCODE_REV      0x8B     /* IA32_BIOS_SIGN_ID */
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_EIP   0x176

/* APIC base as read: default address, BSP, globally disabled (no APIC). */
#define APIC_BASE_VALUE    0xFEE00100u

/* CR4 bits this CPU accepts (VME..PGE, PCE, OSFXSR, OSXMMEXCPT). */
#define CR4_VALID          0x000006FFu

static int raise_ud(emu_ctx *x)
{
    x->fault = EMU_EXC_UD;
    return EMU_EXEC_FAULT;
}

static bool protected_mode(const emu_cpu *c)
{
    return (c->cr[0] & EMU_CR0_PE) && !(c->eflags & EMU_FL_VM);
}

/* #GP(0) unless at CPL 0. */
static void need_cpl0(emu_cpu *c)
{
    if (emu_cpu_cpl(c) != 0) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
}

/* Sets ZF to z, keeping the other flags. */
static void set_zf(emu_cpu *c, bool z)
{
    uint32_t f = emu_cpu_get_flags(c) & ~EMU_FL_ZF;

    emu_cpu_set_flags(c, f | (z ? EMU_FL_ZF : 0));
}

/* LLDT: a present LDT descriptor from the GDT, or null. */
static void load_ldt(emu_cpu *c, uint16_t sel)
{
    emu_desc d;

    if (emu_sel_null(sel)) {
        c->ldtr = (emu_segment){ sel, 0, 0, 0 };
        return;
    }
    if ((sel & 4) || !emu_desc_fetch(c, sel, &d) ||
        emu_desc_type(d.attr) != EMU_SYS_LDT) {
        emu_raise(c, EMU_EXC_GP, sel & 0xFFFCu);
    }
    if (!(d.attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, sel & 0xFFFCu);
    }
    c->ldtr = emu_desc_segment(sel, &d);
}

/* LTR: an available TSS from the GDT, which becomes busy. */
static void load_tr(emu_cpu *c, uint16_t sel)
{
    emu_desc d;
    unsigned t;

    if (emu_sel_null(sel)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    if ((sel & 4) || !emu_desc_fetch(c, sel, &d)) {
        emu_raise(c, EMU_EXC_GP, sel & 0xFFFCu);
    }
    t = emu_desc_type(d.attr);
    if (t != EMU_SYS_TSS16 && t != EMU_SYS_TSS32) {
        emu_raise(c, EMU_EXC_GP, sel & 0xFFFCu);
    }
    if (!(d.attr & EMU_DESC_P)) {
        emu_raise(c, EMU_EXC_NP, sel & 0xFFFCu);
    }
    d.hi |= 0x200;                      /* busy */
    d.attr |= 2;
    emu_lin_write_sys(c, c->gdtr.base + (sel & 0xFFF8u) + 4, 4, d.hi);
    c->tr = emu_desc_segment(sel, &d);
}

/*
 * Whether sel names a descriptor that LAR (want 0), LSL (1), VERR (2) or
 * VERW (3) accepts at the current privilege; *d receives it.
 */
static bool inspect_ok(emu_cpu *c, uint16_t sel, int want, emu_desc *d)
{
    static const uint32_t sys_lar = 0x1A3E, sys_lsl = 0x0A0E;  /* types */
    bool code, conforming;

    if (emu_sel_null(sel) || !emu_desc_fetch(c, sel, d)) {
        return false;
    }
    code = (d->attr & EMU_DESC_CODE) != 0;
    conforming = code && (d->attr & EMU_DESC_EC);
    if (!(d->attr & EMU_DESC_S)) {
        uint32_t ok = want == 0 ? sys_lar : want == 1 ? sys_lsl : 0;
        if (!((ok >> (d->attr & 0xF)) & 1)) {
            return false;
        }
    } else if (want == 2 && code && !(d->attr & EMU_DESC_RW)) {
        return false;                /* execute-only */
    } else if (want == 3 && (code || !(d->attr & EMU_DESC_RW))) {
        return false;
    }
    if (!conforming) {
        unsigned dpl = emu_desc_dpl(d->attr), rpl = sel & 3;
        if (dpl < emu_cpu_cpl(c) || dpl < rpl) {
            return false;
        }
    }
    return true;
}

/* LAR, LSL (0F 02, 0F 03). */
static int exec_lar_lsl(emu_ctx *x)
{
    emu_cpu *c = x->c;
    bool lsl = x->in->op == (EMU_OP_0F | 0x03);
    uint16_t sel = (uint16_t)rm_read(x, 2);
    emu_desc d;
    bool ok;

    if (!protected_mode(c)) {
        return raise_ud(x);
    }
    ok = inspect_ok(c, sel, lsl ? 1 : 0, &d);
    if (ok) {
        uint32_t v = lsl ? d.limit : d.hi & 0x00F0FF00u;
        emu_reg_set(c, x->in->reg, x->in->opsize, v);
    }
    set_zf(c, ok);
    return EMU_EXEC_OK;
}

/* Group 6 (0F 00): SLDT, STR, LLDT, LTR, VERR, VERW. */
static int exec_grp6(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned r = x->in->reg;
    unsigned wsize = x->in->mod == 3 ? x->in->opsize : 2;
    emu_desc d;

    if (!protected_mode(c) || r > 5) {
        return raise_ud(x);
    }
    switch (r) {
    case 0: rm_write(x, wsize, c->ldtr.sel); break;
    case 1: rm_write(x, wsize, c->tr.sel); break;
    case 2: case 3:
        need_cpl0(c);
        if (r == 2) {
            load_ldt(c, (uint16_t)rm_read(x, 2));
        } else {
            load_tr(c, (uint16_t)rm_read(x, 2));
        }
        break;
    default:
        set_zf(c, inspect_ok(c, (uint16_t)rm_read(x, 2), (int)r - 2, &d));
        break;
    }
    return EMU_EXEC_OK;
}

/* LGDT/LIDT/SGDT/SIDT: a 6-byte limit:base operand (base 24 bits
 * with a 16-bit operand size). */
static int exec_dtable(emu_ctx *x, emu_dtable *t, bool load)
{
    emu_cpu *c = x->c;
    unsigned seg = ea_seg(x);
    uint32_t off = ea_off(x);
    uint32_t mask = x->in->opsize == 4 ? 0xFFFFFFFFu : 0x00FFFFFFu;

    if (load) {
        need_cpl0(c);
        uint16_t limit = (uint16_t)emu_mem_read(c, seg, off, 2);
        uint32_t base = emu_mem_read(c, seg, off + 2, 4) & mask;
        t->limit = limit;
        t->base = base;
    } else {
        emu_mem_write(c, seg, off, 2, t->limit);
        emu_mem_write(c, seg, off + 2, 4, t->base & mask);
    }
    return EMU_EXEC_OK;
}

/* Group 7 (0F 01): the table registers, SMSW, LMSW, INVLPG. */
static int exec_grp7(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned r = x->in->reg;

    if (x->in->mod == 3 && r != 4 && r != 6) {
        return raise_ud(x);         /* MONITOR, SWAPGS, ...: absent */
    }
    switch (r) {
    case 0: return exec_dtable(x, &c->gdtr, false);
    case 1: return exec_dtable(x, &c->idtr, false);
    case 2: return exec_dtable(x, &c->gdtr, true);
    case 3: return exec_dtable(x, &c->idtr, true);
    case 4:
        rm_write(x, x->in->mod == 3 ? x->in->opsize : 2, c->cr[0]);
        return EMU_EXEC_OK;
    case 6: {
        uint32_t v = rm_read(x, 2) & 0xF;
        need_cpl0(c);
        /* PE can be set but not cleared; MP, EM, TS are loaded. */
        c->cr[0] = (c->cr[0] & ~0xEu) | v | (c->cr[0] & EMU_CR0_PE);
        return EMU_EXEC_OK;
    }
    case 7:
        need_cpl0(c);
        emu_tlb_flush_page(c, c->seg[ea_seg(x)].base + ea_off(x));
        return EMU_EXEC_OK;
    default:
        return raise_ud(x);
    }
}

/* MOV to CR0, CR2, CR3, CR4 with the SDM's #GP(0) checks.  The decoded
 * block ends after a change of translation (tc_dirty). */
static void write_cr(emu_cpu *c, unsigned n, uint32_t v)
{
    c->tc_dirty = n != 2;
    switch (n) {
    case 0:
        if ((v & EMU_CR0_PG) && !(v & EMU_CR0_PE)) {
            emu_raise(c, EMU_EXC_GP, 0);
        }
        c->cr[0] = v | EMU_CR0_ET;
        emu_tlb_flush_all(c);
        break;
    case 3:
        c->cr[3] = v;
        emu_tlb_flush_all(c);
        break;
    case 4:
        if (v & ~CR4_VALID) {
            emu_raise(c, EMU_EXC_GP, 0);
        }
        c->cr[4] = v;
        emu_tlb_flush_all(c);
        break;
    default:
        c->cr[2] = v;
        break;
    }
}

/* MOV r32, CRn / DRn and back (0F 20..23); ModRM mod is ignored. */
static int exec_mov_crdr(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned n = x->in->reg, op = x->in->op & 0xFF;
    bool cr = op == 0x20 || op == 0x22, to = op & 2;

    if (cr && (n == 1 || n > 4)) {
        return raise_ud(x);
    }
    need_cpl0(c);
    if (!cr && (n == 4 || n == 5)) {
        n += 2;                     /* DR4/DR5 alias DR6/DR7 */
    }
    if (!to) {
        c->gpr[x->in->rm] = cr ? c->cr[n] : c->dr[n];
    } else if (cr) {
        write_cr(c, n, c->gpr[x->in->rm]);
    } else {
        c->dr[n] = c->gpr[x->in->rm];
    }
    return EMU_EXEC_OK;
}

/* RDMSR / WRMSR (0F 32, 0F 30); unknown MSRs raise #GP(0). */
static int exec_msr(emu_ctx *x)
{
    emu_cpu *c = x->c;
    uint32_t n = c->gpr[EMU_ECX];
    uint64_t v = ((uint64_t)c->gpr[EMU_EDX] << 32) | c->gpr[EMU_EAX];
    bool wr = x->in->op == (EMU_OP_0F | 0x30);

    need_cpl0(c);
    if (n == MSR_TSC) {
        if (wr) {
            c->tsc_offset = (int64_t)(v - c->icount);
        }
        v = c->icount + (uint64_t)c->tsc_offset;
    } else if (n >= MSR_SYSENTER_CS && n <= MSR_SYSENTER_EIP) {
        if (wr) {
            c->sysenter[n - MSR_SYSENTER_CS] = (uint32_t)v;
        }
        v = c->sysenter[n - MSR_SYSENTER_CS];
    } else if (n == MSR_APIC_BASE && !wr) {
        v = APIC_BASE_VALUE;
    } else if (n == MSR_UCODE_REV) {
        v = 0;                      /* no microcode: writes ignored */
    } else {
        emu_raise(c, EMU_EXC_GP, 0);
    }
    if (!wr) {
        c->gpr[EMU_EAX] = (uint32_t)v;
        c->gpr[EMU_EDX] = (uint32_t)(v >> 32);
    }
    return EMU_EXEC_OK;
}

/* ARPL r/m16, r16 (63): raise the destination RPL to the source's. */
static int exec_arpl(emu_ctx *x)
{
    uint32_t dst = rm_read(x, 2), src = emu_reg_get(x->c, x->in->reg, 2);

    if (!protected_mode(x->c)) {
        return raise_ud(x);
    }
    if ((dst & 3) < (src & 3)) {
        rm_write(x, 2, (dst & ~3u) | (src & 3));
        set_zf(x->c, true);
    } else {
        set_zf(x->c, false);
    }
    return EMU_EXEC_OK;
}

int emu_exec_sys(emu_ctx *x)
{
    unsigned op = x->in->op;

    switch (op) {
    case EMU_OP_0F | 0x00: return exec_grp6(x);
    case EMU_OP_0F | 0x01: return exec_grp7(x);
    case EMU_OP_0F | 0x02: case EMU_OP_0F | 0x03: return exec_lar_lsl(x);
    case EMU_OP_0F | 0x06:
        need_cpl0(x->c);
        x->c->cr[0] &= ~EMU_CR0_TS;
        return EMU_EXEC_OK;
    case EMU_OP_0F | 0x08: case EMU_OP_0F | 0x09:   /* INVD, WBINVD */
        need_cpl0(x->c);
        return EMU_EXEC_OK;
    case EMU_OP_0F | 0x20: case EMU_OP_0F | 0x21:
    case EMU_OP_0F | 0x22: case EMU_OP_0F | 0x23:
        return exec_mov_crdr(x);
    case EMU_OP_0F | 0x30: case EMU_OP_0F | 0x32:
        return exec_msr(x);
    case 0x63:
        return exec_arpl(x);
    default:
        if (op >= (EMU_OP_0F | 0x18) && op <= (EMU_OP_0F | 0x1E)) {
            return EMU_EXEC_OK;     /* hint NOPs */
        }
        return -1;
    }
}
