/*
 * emu/cpu/exec.c -- instruction dispatch, data movement, control flow.
 *
 * MOV/LEA/XCHG/MOVZX/MOVSX/CMOVcc/SETcc, the stack (PUSH/POP/PUSHA/POPA/
 * PUSHF/POPF), jumps, calls, returns, LOOP/JCXZ, INT/IRET, flag
 * instructions, HLT, CPUID and RDTSC (SDM vol. 2).  Segment loads, far
 * transfers, interrupts and IRET go through seg.c and except.c, which
 * know the real and protected-mode rules.
 */
#include "exec_int.h"
#include "seg_int.h"

/* Near branch target, wrapped to the operand size. */
static void jump_rel(emu_ctx *x, uint32_t rel)
{
    x->next_eip = (x->next_eip + rel) & emu_size_mask(x->in->opsize);
}

/* Far JMP/CALL in the current mode (seg.c sets CS:EIP). */
static void jump_far(emu_ctx *x, uint16_t cs, uint32_t eip, bool call)
{
    emu_far_jump(x->c, cs, eip, x->in->opsize, call, x->next_eip);
    x->next_eip = x->c->eip;
}

/* #GP(0) unless the CPL may execute privileged instructions. */
static void need_ring0(emu_cpu *c)
{
    if (emu_cpu_cpl(c) != 0) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
}

/* CLI/STI: #GP(0) in protected mode when CPL > IOPL. */
static void check_iopl(emu_cpu *c)
{
    if ((c->cr[0] & EMU_CR0_PE) &&
        emu_cpu_cpl(c) > ((c->eflags & EMU_FL_IOPL) >> 12)) {
        emu_raise(c, EMU_EXC_GP, 0);
    }
}

static int ud(emu_ctx *x)
{
    x->fault = EMU_EXC_UD;
    return EMU_EXEC_FAULT;
}

/* Loads a segment register from a MOV/POP/LxS; MOV SS, POP SS inhibit
 * interrupts for one instruction.  CS cannot be a destination. */
static int load_sreg(emu_ctx *x, unsigned sreg, uint16_t sel)
{
    if (sreg == EMU_CS || sreg >= EMU_NSEG) {
        return ud(x);
    }
    emu_seg_load(x->c, sreg, sel);
    if (sreg == EMU_SS) {
        x->c->shadow = true;
    }
    return EMU_EXEC_OK;
}

/* MOV in its 8C, 8E, A0..A3 forms, and C6, C7 with a bad /reg (the
 * other forms are exec_fast.c's). */
static int exec_mov(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned op = x->in->op, size = op_size_bw(x);
    unsigned seg = x->in->seg >= 0 ? (unsigned)x->in->seg : EMU_DS;

    switch (op) {
    case 0x8C:
        if (x->in->reg >= EMU_NSEG) {
            return ud(x);
        }
        rm_write(x, x->in->mod == 3 ? x->in->opsize : 2,
                 c->seg[x->in->reg].sel);
        return EMU_EXEC_OK;
    case 0x8E:
        return load_sreg(x, x->in->reg, (uint16_t)rm_read(x, 2));
    case 0xA0: case 0xA1:
        emu_reg_set(c, EMU_EAX, size, emu_mem_read(c, seg, x->in->disp,
                                                   size));
        return EMU_EXEC_OK;
    case 0xA2: case 0xA3:
        emu_mem_write(c, seg, x->in->disp, size,
                      emu_reg_get(c, EMU_EAX, size));
        return EMU_EXEC_OK;
    default:    /* C6, C7 with /reg != 0 */
        return ud(x);
    }
}

/* XCHG r/m, reg (86, 87) and XCHG eAX, reg (91..97). */
static int exec_xchg(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = x->in->op >= 0x90 ? x->in->opsize : op_size_bw(x);
    uint32_t t;

    if (x->in->op >= 0x90) {
        unsigned r = x->in->op & 7;
        t = emu_reg_get(c, r, size);
        emu_reg_set(c, r, size, emu_reg_get(c, EMU_EAX, size));
        emu_reg_set(c, EMU_EAX, size, t);
        return EMU_EXEC_OK;
    }
    t = rm_read(x, size);
    rm_write(x, size, emu_reg_get(c, x->in->reg, size));
    emu_reg_set(c, x->in->reg, size, t);
    return EMU_EXEC_OK;
}

/* POPF: IOPL only at CPL 0, IF only when CPL <= IOPL (seg.c). */
static void pop_flags(emu_cpu *c, uint32_t v, unsigned size)
{
    emu_flags_load(c, v, size, emu_cpu_cpl(c));
}

/* PUSHA/POPA (60, 61): POPA skips the saved eSP. */
static int exec_pusha_popa(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = x->in->opsize;

    if (x->in->op == 0x60) {
        uint32_t sp = emu_reg_get(c, EMU_ESP, size);
        for (unsigned r = 0; r < 8; r++) {
            emu_push(c, r == EMU_ESP ? sp : emu_reg_get(c, r, size), size);
        }
        return EMU_EXEC_OK;
    }
    for (int r = 7; r >= 0; r--) {
        uint32_t v = emu_pop(c, size);
        if (r != EMU_ESP) {
            emu_reg_set(c, (unsigned)r, size, v);
        }
    }
    return EMU_EXEC_OK;
}

/* Stack instructions other than PUSHA/POPA and PUSH/POP reg or imm. */
static int exec_stack(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned op = x->in->op, size = x->in->opsize;

    if (op == 0x8F) {
        if (x->in->reg != 0) {
            return ud(x);
        }
        rm_write(x, size, emu_pop(c, size));  /* EA sees the new eSP */
    } else if (op == 0x9C) {
        emu_push(c, emu_cpu_get_flags(c) & ~0x30000u, size);
    } else if (op == 0x9D) {
        pop_flags(c, emu_pop(c, size), size);
    } else if (op == 0xC9) {             /* LEAVE */
        unsigned ss = (c->seg[EMU_SS].attr & EMU_SEG_DB) ? 4 : 2;
        emu_reg_set(c, EMU_ESP, ss, emu_reg_get(c, EMU_EBP, ss));
        emu_reg_set(c, EMU_EBP, size, emu_pop(c, size));
    } else {
        return -1;
    }
    return EMU_EXEC_OK;
}

/* PUSH/POP of segment registers: 06/07 0E 16/17 1E/1F, 0F A0/A1/A8/A9. */
static int exec_sreg_stack(emu_ctx *x)
{
    unsigned op = x->in->op, sreg;
    bool pop;

    if (op >= EMU_OP_0F) {
        sreg = (op & 0xFF) >= 0xA8 ? EMU_GS : EMU_FS;
        pop = op & 1;
    } else {
        sreg = op >> 3;
        pop = op & 1;
    }
    if (!pop) {
        emu_push(x->c, x->c->seg[sreg].sel, x->in->opsize);
        return EMU_EXEC_OK;
    }
    return load_sreg(x, sreg, (uint16_t)emu_pop(x->c, x->in->opsize));
}

/* Far CALL/JMP/RET, RET imm16, LOOPcc, JCXZ (near relative transfers
 * are exec_fast.c's). */
static int exec_branch(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned op = x->in->op, size = x->in->opsize, as = x->in->adsize, ss;
    uint32_t t;

    switch (op) {
    case 0x9A: case 0xEA:
        jump_far(x, (uint16_t)x->in->imm2, x->in->imm, op == 0x9A);
        return EMU_EXEC_OK;
    case 0xC2:      /* RET imm16 releases parameter bytes */
        x->next_eip = emu_pop(c, size);
        ss = (c->seg[EMU_SS].attr & EMU_SEG_DB) ? 4 : 2;
        emu_reg_set(c, EMU_ESP, ss, emu_reg_get(c, EMU_ESP, ss) +
                                    (x->in->imm & 0xFFFF));
        return EMU_EXEC_OK;
    case 0xCA: case 0xCB:
        emu_far_ret(c, size, op == 0xCA ? (uint16_t)x->in->imm : 0);
        x->next_eip = c->eip;
        return EMU_EXEC_OK;
    case 0xE0: case 0xE1: case 0xE2:
        t = emu_reg_get(c, EMU_ECX, as) - 1;
        emu_reg_set(c, EMU_ECX, as, t);
        if ((t & emu_size_mask(as)) != 0 &&
            (op == 0xE2 ||
             ((emu_cpu_get_flags(c) & EMU_FL_ZF) != 0) == (op == 0xE1))) {
            jump_rel(x, x->in->imm);
        }
        return EMU_EXEC_OK;
    case 0xE3:
        if (emu_reg_get(c, EMU_ECX, as) == 0) {
            jump_rel(x, x->in->imm);
        }
        return EMU_EXEC_OK;
    default:
        return -1;
    }
}

/* FF /3, /5: indirect far CALL/JMP (/7 is #UD; /0../2, /4, /6 are
 * elsewhere). */
static int exec_grp5(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = x->in->opsize;
    uint32_t v;

    switch (x->in->reg) {
    case 3: case 5:
        if (x->in->mod == 3) {
            return ud(x);
        }
        v = rm_read(x, size);
        {
            uint16_t cs = (uint16_t)emu_mem_read(c, ea_seg(x),
                                                 ea_off(x) + size, 2);
            jump_far(x, cs, v, x->in->reg == 3);
        }
        return EMU_EXEC_OK;
    default:
        return ud(x);
    }
}

/* INT3, INT n, INTO and IRET in real mode. */
static int exec_int(emu_ctx *x)
{
    emu_cpu *c = x->c;
    unsigned size = x->in->opsize;

    switch (x->in->op) {
    case 0xCC:
        emu_interrupt(c, EMU_EXC_BP, EMU_INTR_SOFT, 0, x->next_eip);
        break;
    case 0xCD:
        emu_interrupt(c, x->in->imm & 0xFF, EMU_INTR_SOFT, 0, x->next_eip);
        break;
    case 0xCE:
        if (!(emu_cpu_get_flags(c) & EMU_FL_OF)) {
            return EMU_EXEC_OK;
        }
        emu_interrupt(c, EMU_EXC_OF, EMU_INTR_SOFT, 0, x->next_eip);
        break;
    default:    /* IRET */
        emu_iret(c, size);
        break;
    }
    x->next_eip = c->eip;    /* delivery or IRET set CS:EIP */
    return EMU_EXEC_OK;
}

/* LES, LDS, LSS, LFS, LGS: offset and selector from memory; the
 * register is written only once the segment load succeeded. */
static int load_far_ptr(emu_ctx *x, unsigned sreg)
{
    uint32_t off;
    uint16_t sel;
    int r;

    if (x->in->mod == 3) {
        return ud(x);
    }
    off = rm_read(x, x->in->opsize);
    sel = (uint16_t)emu_mem_read(x->c, ea_seg(x),
                                 ea_off(x) + x->in->opsize, 2);
    r = load_sreg(x, sreg, sel);
    if (r == EMU_EXEC_OK) {
        emu_reg_set(x->c, x->in->reg, x->in->opsize, off);
    }
    return r;
}

/* CPUID from the table: the highest leaf <= EAX, subleaf ECX if listed. */
static int exec_cpuid(emu_ctx *x)
{
    emu_cpu *c = x->c;
    uint32_t leaf = c->gpr[EMU_EAX], sub = c->gpr[EMU_ECX];
    const emu_cpuid_entry *hit = NULL;

    for (unsigned i = 0; i < c->ncpuid; i++) {
        const emu_cpuid_entry *e = &c->cpuid[i];
        if (e->leaf == leaf && (hit == NULL || e->subleaf == sub)) {
            hit = e;
        }
    }
    c->gpr[EMU_EAX] = hit ? hit->eax : 0;
    c->gpr[EMU_EBX] = hit ? hit->ebx : 0;
    c->gpr[EMU_ECX] = hit ? hit->ecx : 0;
    c->gpr[EMU_EDX] = hit ? hit->edx : 0;
    return EMU_EXEC_OK;
}

/* Flag instructions, SAHF/LAHF, SALC, HLT, NOP, CPUID, RDTSC, XLAT, LEA,
 * LxS. */
static int exec_misc(emu_ctx *x)
{
    emu_cpu *c = x->c;
    uint32_t f = emu_cpu_get_flags(c);
    uint64_t tsc;

    switch (x->in->op) {
    case 0xF5: emu_cpu_set_flags(c, f ^ EMU_FL_CF); break;
    case 0xF8: emu_cpu_set_flags(c, f & ~EMU_FL_CF); break;
    case 0xF9: emu_cpu_set_flags(c, f | EMU_FL_CF); break;
    case 0xFA:
        check_iopl(c);
        emu_cpu_set_flags(c, f & ~EMU_FL_IF);
        break;
    case 0xFB:
        check_iopl(c);
        c->shadow = !(f & EMU_FL_IF);   /* STI delays one instruction */
        emu_cpu_set_flags(c, f | EMU_FL_IF);
        break;
    case 0xFC: emu_cpu_set_flags(c, f & ~EMU_FL_DF); break;
    case 0xFD: emu_cpu_set_flags(c, f | EMU_FL_DF); break;
    case 0x9E:
        emu_cpu_set_flags(c, (f & ~0xD5u) | (emu_reg_get(c, 4, 1) & 0xD5));
        break;
    case 0x9F: emu_reg_set(c, 4, 1, (f & 0xD5) | 0x2); break;
    case 0xF4:
        need_ring0(c);
        return EMU_EXEC_HALT;
    case EMU_OP_0F | 0x1F: break;      /* NOP r/m */
    case EMU_OP_0F | 0xA2: return exec_cpuid(x);
    case EMU_OP_0F | 0x31:
        if (c->cr[4] & 0x4) {           /* CR4.TSD: RDTSC at CPL 0 only */
            need_ring0(c);
        }
        tsc = c->icount + (uint64_t)c->tsc_offset;
        c->gpr[EMU_EAX] = (uint32_t)tsc;
        c->gpr[EMU_EDX] = (uint32_t)(tsc >> 32);
        break;
    case 0xD7:
        emu_reg_set(c, EMU_EAX, 1, emu_mem_read(c,
            x->in->seg >= 0 ? (unsigned)x->in->seg : EMU_DS,
            (c->gpr[EMU_EBX] + (c->gpr[EMU_EAX] & 0xFF)) &
                emu_size_mask(x->in->adsize), 1));
        break;
    case 0x8D:      /* LEA with a register operand */
        return ud(x);
    case 0xC4:
        return load_far_ptr(x, EMU_ES);
    case 0xC5:
        return load_far_ptr(x, EMU_DS);
    case EMU_OP_0F | 0xB2:
        return load_far_ptr(x, EMU_SS);
    case EMU_OP_0F | 0xB4:
        return load_far_ptr(x, EMU_FS);
    case EMU_OP_0F | 0xB5:
        return load_far_ptr(x, EMU_GS);
    case 0xD6:                              /* SALC (undocumented) */
        emu_reg_set(c, EMU_EAX, 1, (f & EMU_FL_CF) ? 0xFF : 0);
        break;
    default:
        return -1;
    }
    return EMU_EXEC_OK;
}

/* XCHG and the MOV forms exec_fast.c leaves to the generic path. */
static int exec_ranges(emu_ctx *x)
{
    unsigned op = x->in->op;

    if ((op >= 0x91 && op <= 0x97) || op == 0x86 || op == 0x87) {
        return exec_xchg(x);
    }
    if (op == 0x8C || op == 0x8E || (op >= 0xA0 && op <= 0xA3) ||
        op == 0xC6 || op == 0xC7) {
        return exec_mov(x);
    }
    return -1;
}

/*
 * Tries each handler group in turn; -1 means "not mine".  The groups
 * claim disjoint opcodes (or ModRM.reg values of one opcode), so the
 * group that took an opcode last is tried first: it is the only one
 * that can take it, unless it declines this ModRM.reg, and then the
 * full scan runs.
 */
static int exec_dispatch(emu_ctx *x)
{
    static int (*const groups[])(emu_ctx *) = {
        emu_exec_arith, exec_ranges, exec_stack, exec_branch,
        exec_misc, emu_exec_string, emu_exec_io, emu_exec_ext,
        emu_exec_sys, emu_exec_fpu, emu_exec_legacy,
    };
    unsigned op = x->in->op, memo = x->c->exec_grp[op & 0x1FF];
    int r;

    if (memo != 0 && (r = groups[memo - 1](x)) >= 0) {
        return r;
    }
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if ((r = groups[i](x)) >= 0) {
            x->c->exec_grp[op & 0x1FF] = (uint8_t)(i + 1);
            return r;
        }
    }
    if (op == 0x60 || op == 0x61) {
        return exec_pusha_popa(x);
    }
    if (op == 0xFF) {
        return exec_grp5(x);
    }
    if (op >= 0xCC && op <= 0xCF) {
        return exec_int(x);
    }
    if ((op < 0x20 && (op & 7) >= 6 && op != 0x0F) ||
        op == (EMU_OP_0F | 0xA0) || op == (EMU_OP_0F | 0xA1) ||
        op == (EMU_OP_0F | 0xA8) || op == (EMU_OP_0F | 0xA9)) {
        return exec_sreg_stack(x);
    }
    return ud(x);
}

int emu_exec(emu_ctx *x)
{
    emu_exec_fn direct;

    /* One CPU, so LOCK needs no action; it is only valid with a memory
     * destination (the SDM's list of lockable instructions is finer). */
    if (x->in->lock && (!x->in->has_modrm || x->in->mod == 3)) {
        return ud(x);
    }
    direct = emu_exec_direct(x->in);
    return direct != NULL ? direct(x) : exec_dispatch(x);
}
