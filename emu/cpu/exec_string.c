/*
 * emu/cpu/exec_string.c -- string instructions and port I/O.
 *
 * MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE (SDM vol. 2, "REP"), run in
 * chunks so that a long REP stays interruptible and inside the budget: a
 * chunk that leaves the count non-zero does not advance EIP, and the next
 * step resumes it.  REP MOVS/STOS copy or fill whole runs on host memory
 * while both ranges stay in RAM pages the TLB maps directly.  IN/OUT
 * leave the run loop as an EMU_EXIT_IO exit.
 */
#include "exec_int.h"

#include <stddef.h>
#include <string.h>

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

/*
 * Elements of size bytes that a REP can take, stepping by DF from offset
 * off (linear address lin), before the run leaves lin's page or wraps
 * the address size as.  0 when the first element itself straddles.
 */
static uint32_t str_room(emu_cpu *c, uint32_t off, uint32_t lin,
                         unsigned size, unsigned as)
{
    uint32_t pg = lin & 0xFFF, lim = emu_size_mask(as), a, b;

    if (pg > EMU_PAGE_SIZE - size || off > lim - (size - 1)) {
        return 0;
    }
    if (c->eflags & EMU_FL_DF) {
        a = pg / size + 1;
        b = off / size + 1;
    } else {
        a = (EMU_PAGE_SIZE - pg) / size;
        b = (lim - off - (size - 1)) / size + 1;
    }
    return a < b ? a : b;
}

/* Moves index register r by k elements of size bytes in direction DF. */
static void str_advance(emu_ctx *x, unsigned r, unsigned size, uint32_t k)
{
    unsigned as = x->in->adsize;
    uint32_t d = k * size;

    if (x->c->eflags & EMU_FL_DF) {
        d = (uint32_t)-d;
    }
    emu_reg_set(x->c, r, as, emu_reg_get(x->c, r, as) + d);
}

/* Copies k MOVS elements from s to d (the first elements), in the order
 * the CPU would: one block when the ranges are disjoint, else element by
 * element so that overlapping copies replicate like the hardware's. */
static void movs_copy(uint8_t *d, const uint8_t *s, unsigned size,
                      uint32_t k, bool down)
{
    size_t len = (size_t)k * size;
    ptrdiff_t step = down ? -(ptrdiff_t)size : (ptrdiff_t)size;
    uintptr_t d0 = (uintptr_t)d - (down ? len - size : 0);
    uintptr_t s0 = (uintptr_t)s - (down ? len - size : 0);

    if (d0 + len <= s0 || s0 + len <= d0) {
        memcpy((void *)d0, (const void *)s0, len);
        return;
    }
    for (uint32_t i = 0; i < k; i++, d += step, s += step) {
        memmove(d, s, size);
    }
}

/* Fills k STOS elements of size bytes with v, starting at d. */
static void stos_fill(uint8_t *d, unsigned size, uint32_t k, bool down,
                      uint32_t v)
{
    size_t len = (size_t)k * size;
    uint8_t *d0 = d - (down ? len - size : 0);

    if (size == 1) {
        memset(d0, (int)(v & 0xFF), len);
        return;
    }
    for (size_t i = 0; i < len; i += size) {
        for (unsigned j = 0; j < size; j++) {
            d0[i + j] = (uint8_t)(v >> (8 * j));
        }
    }
}

/*
 * REP MOVS/STOS fast path: runs up to n iterations directly on host
 * memory while source and destination stay in RAM pages that the TLB
 * already maps for this access (pages holding decoded code are never
 * mapped for writing, so self-modifying code takes the slow path).
 * Returns the iterations done, with ESI/EDI updated; 0 when the next
 * iteration needs the slow path.
 */
static uint32_t str_bulk(emu_ctx *x, unsigned size, uint32_t n)
{
    emu_cpu *c = x->c;
    unsigned as = x->in->adsize, src = x->in->seg >= 0
                  ? (unsigned)x->in->seg : EMU_DS;
    bool movs = (x->in->op & 0xFE) == 0xA4;
    bool down = (c->eflags & EMU_FL_DF) != 0;
    uint32_t si = emu_reg_get(c, EMU_ESI, as);
    uint32_t di = emu_reg_get(c, EMU_EDI, as);
    uint32_t ls = c->seg[src].base + si, ld = c->seg[EMU_ES].base + di;
    uint32_t k = str_room(c, di, ld, size, as);
    uint8_t *d = k ? emu_tlb_ptr(c, ld, EMU_ACC_WRITE) : NULL;
    const uint8_t *s = NULL;

    if (movs && d != NULL) {
        uint32_t ks = str_room(c, si, ls, size, as);
        k = ks < k ? ks : k;
        s = k ? emu_tlb_ptr(c, ls, EMU_ACC_READ) : NULL;
    }
    k = n < k ? n : k;
    if (d == NULL || k == 0 || (movs && s == NULL)) {
        return 0;
    }
    if (movs) {
        movs_copy(d, s, size, k, down);
        str_advance(x, EMU_ESI, size, k);
    } else {
        stos_fill(d, size, k, down, emu_reg_get(c, EMU_EAX, size));
    }
    str_advance(x, EMU_EDI, size, k);
    return k;
}

static int exec_string_op(emu_ctx *x)
{
    unsigned size = op_size_bw(x), as = x->in->adsize;
    unsigned kind = x->in->op & 0xFE;
    bool bulk = kind == 0xA4 || kind == 0xAA;
    emu_cpu *c = x->c;
    uint32_t n, i = 0;

    if (x->in->rep == 0) {
        str_once(x, size);
        return EMU_EXEC_OK;
    }
    n = emu_reg_get(c, EMU_ECX, as);
    while (n != 0 && i < STRING_CHUNK) {
        uint32_t k = bulk ? str_bulk(x, size, STRING_CHUNK - i < n
                                              ? STRING_CHUNK - i : n) : 0;
        bool go_on = true;

        if (k == 0) {       /* one iteration the slow way */
            go_on = str_once(x, size);
            k = 1;
        }
        n -= k;
        i += k;
        emu_reg_set(c, EMU_ECX, as, n);
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
