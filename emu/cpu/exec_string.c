/*
 * emu/cpu/exec_string.c -- string instructions and port I/O.
 *
 * MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE (SDM vol. 2, "REP"), run in
 * chunks so that a long REP stays interruptible and inside the budget: a
 * chunk that leaves the count non-zero does not advance EIP, and the next
 * step resumes it.  IN/OUT leave the run loop as an EMU_EXIT_IO exit.
 */
#include "exec_int.h"

#define STRING_CHUNK  4096u   /* iterations per step */

/* Per-iteration stride for DF and element size. */
static uint32_t str_delta(emu_cpu *c, unsigned size)
{
    return (c->eflags & EMU_FL_DF) ? (uint32_t)-(int32_t)size : size;
}

/* Advances index register r (SI or DI) by the stride, at address size. */
static void str_step(emu_ctx *x, unsigned r, unsigned size)
{
    unsigned as = x->in->adsize;

    emu_reg_set(x->c, r, as,
                emu_reg_get(x->c, r, as) + str_delta(x->c, size));
}

/* One iteration; returns false when a REPE/REPNE condition ends it. */
static bool str_once(emu_ctx *x, unsigned size)
{
    emu_cpu *c = x->c;
    unsigned as = x->in->adsize;
    unsigned src = x->in->seg >= 0 ? (unsigned)x->in->seg : EMU_DS;
    uint32_t si = emu_reg_get(c, EMU_ESI, as);
    uint32_t di = emu_reg_get(c, EMU_EDI, as);
    uint8_t kind = (uint8_t)x->in->op & 0xFE;

    switch (kind) {
    case 0xA4:   /* MOVS */
        emu_mem_write(c, EMU_ES, di, size, emu_mem_read(c, src, si, size));
        str_step(x, EMU_ESI, size);
        str_step(x, EMU_EDI, size);
        return true;
    case 0xAA:   /* STOS */
        emu_mem_write(c, EMU_ES, di, size, emu_reg_get(c, EMU_EAX, size));
        str_step(x, EMU_EDI, size);
        return true;
    case 0xAC:   /* LODS */
        emu_reg_set(c, EMU_EAX, size, emu_mem_read(c, src, si, size));
        str_step(x, EMU_ESI, size);
        return true;
    case 0xA6:   /* CMPS */
        emu_cpu_alu(c, EMU_ALU_CMP, size, emu_mem_read(c, src, si, size),
                    emu_mem_read(c, EMU_ES, di, size));
        str_step(x, EMU_ESI, size);
        str_step(x, EMU_EDI, size);
        break;
    default:     /* SCAS */
        emu_cpu_alu(c, EMU_ALU_CMP, size, emu_reg_get(c, EMU_EAX, size),
                    emu_mem_read(c, EMU_ES, di, size));
        str_step(x, EMU_EDI, size);
        break;
    }
    if (x->in->rep == 0) {
        return true;
    }
    /* REPE (F3) continues while ZF=1, REPNE (F2) while ZF=0. */
    return ((emu_cpu_get_flags(c) & EMU_FL_ZF) != 0) == (x->in->rep == 0xF3);
}

static int exec_string_op(emu_ctx *x)
{
    unsigned size = op_size_bw(x), as = x->in->adsize;
    emu_cpu *c = x->c;
    uint32_t n;

    if (x->in->rep == 0) {
        str_once(x, size);
        return EMU_EXEC_OK;
    }
    n = emu_reg_get(c, EMU_ECX, as);
    for (unsigned i = 0; n != 0 && i < STRING_CHUNK; i++) {
        bool go_on = str_once(x, size);
        emu_reg_set(c, EMU_ECX, as, --n);
        if (!go_on) {
            return EMU_EXEC_OK;
        }
    }
    if (n != 0) {
        x->next_eip = c->eip;       /* resume on the next step */
    }
    return EMU_EXEC_OK;
}

int emu_exec_string(emu_ctx *x)
{
    switch (x->in->op) {
    case 0xA4: case 0xA5: case 0xAA: case 0xAB: case 0xAC: case 0xAD:
    case 0xA6: case 0xA7: case 0xAE: case 0xAF:
        return exec_string_op(x);
    default:
        return -1;
    }
}

/* IN/OUT (E4..E7 with imm8, EC..EF with DX) become run-loop exits. */
int emu_exec_io(emu_ctx *x)
{
    unsigned op = x->in->op;
    emu_cpu *c = x->c;
    emu_exit *ex = c->exit;
    unsigned size = op_size_bw(x);
    uint16_t port;

    if (!((op >= 0xE4 && op <= 0xE7) || (op >= 0xEC && op <= 0xEF))) {
        return -1;
    }
    port = op >= 0xEC ? (uint16_t)c->gpr[EMU_EDX]
                      : (uint16_t)(x->in->imm & 0xFF);
    emu_check_io(c, port, size);
    ex->reason = EMU_EXIT_IO;
    ex->io.port = port;
    ex->io.size = (uint8_t)size;
    ex->io.is_write = op & 2;
    if (ex->io.is_write) {
        ex->io.data = emu_reg_get(c, EMU_EAX, size);
    } else {
        c->io_pending = true;
        c->io_reg_size = (uint8_t)size;
    }
    return EMU_EXEC_EXIT;
}
