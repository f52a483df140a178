/*
 * emu/cpu/run.c -- the run loop: blocks of decoded instructions.
 *
 * Each iteration delivers a pending external interrupt if IF and the
 * STI / MOV SS shadow allow (SDM vol. 3, section 6.8.3), checks the exit
 * conditions, then executes one block from the decoded-instruction cache
 * (tcache.h) found by the physical address of CS:EIP.  Interrupts are
 * thus taken at block boundaries; a block ends early when an instruction
 * jumps, exits, faults or invalidates decoded code.  Code that cannot be
 * cached (outside RAM, crossing a page) is fetched and decoded one
 * instruction at a time.  Faults unwind here through emu_raise().
 */
#include "exec_int.h"
#include "tcache.h"

#include <errno.h>
#include <string.h>

/* Decode-mode key of the current code segment and paging state. */
static unsigned decode_mode(const emu_cpu *c)
{
    return ((c->seg[EMU_CS].attr & EMU_SEG_DB) ? EMU_TC_CODE32 : 0) |
           ((c->cr[0] & EMU_CR0_PE) ? EMU_TC_PE : 0) |
           ((c->cr[0] & EMU_CR0_PG) ? EMU_TC_PG : 0);
}

/* Mask of EIP in the current code segment (64 KiB unless CS.D). */
static uint32_t eip_mask(const emu_cpu *c)
{
    return (c->seg[EMU_CS].attr & EMU_SEG_DB) ? 0xFFFFFFFFu : 0xFFFFu;
}

/* Executes one decoded instruction at c->eip with its handler; raises
 * its faults.  mask is eip_mask(c). */
static inline int exec_one(emu_cpu *c, const emu_insn *in, uint32_t mask)
{
    emu_ctx x = { .c = c, .in = in, .next_eip = (c->eip + in->len) & mask };
    int r;

    c->shadow = false;
    c->insn_esp = c->gpr[EMU_ESP];
    r = in->exec(&x);
    if (r == EMU_EXEC_FAULT) {
        emu_raise(c, (unsigned)x.fault, 0);
    }
    c->eip = x.next_eip;
    c->icount++;
    return r;
}

/* Fetches and executes one instruction without the cache (the bytes may
 * cross a page boundary or come from MMIO). */
static int step_uncached(emu_cpu *c, uint32_t lin)
{
    uint8_t buf[EMU_INSN_MAX];
    unsigned have = EMU_PAGE_SIZE - (lin & 0xFFF), n = 0;
    bool code32 = c->seg[EMU_CS].attr & EMU_SEG_DB;
    emu_insn in;
    int r;

    have = have > EMU_INSN_MAX ? EMU_INSN_MAX : have;
    c->insn_esp = c->gpr[EMU_ESP];
    for (;;) {
        for (; n < have; n++) {
            buf[n] = (uint8_t)emu_lin_read(c, lin + n, 1);
        }
        r = emu_decode(buf, have, code32, &in);
        if (r != -2 || have == EMU_INSN_MAX) {
            break;
        }
        have = EMU_INSN_MAX;    /* needs the next page too */
    }
    if (r < 0) {
        emu_raise(c, EMU_EXC_UD, 0);
    }
    in.exec = emu_exec_select(&in);
    return exec_one(c, &in, eip_mask(c));
}

/* Runs the block at CS:EIP for at most left instructions. */
static int run_block(emu_cpu *c, uint64_t left)
{
    uint32_t lin = c->seg[EMU_CS].base + c->eip, expect = c->eip;
    unsigned mode = decode_mode(c);
    unsigned jmode = mode | (emu_user_mode(c) ? EMU_TC_USER : 0);
    const emu_tblock *b = emu_tcache_jc_get(c, lin, jmode);
    const emu_insn *in;
    uint32_t mask;
    int r = EMU_EXEC_OK;

    /* A fetch fault below restores ESP from here, not from the previous
     * instruction (an IRET to ring 3 whose target page is not present
     * would otherwise push the kernel's ESP as the user's). */
    c->insn_esp = c->gpr[EMU_ESP];
    if (b == NULL) {
        b = emu_tcache_find(c, emu_mmu_fetch_pa(c, lin), mode);
        if (b == NULL) {
            return step_uncached(c, lin);
        }
        emu_tcache_jc_put(c, lin, jmode, b);
    }
    in = emu_tcache_insns(c, b);
    c->tc_dirty = false;
    if (c->shadow && c->irq_vector >= 0) {
        left = 1;   /* STI / MOV SS shadow: the IRQ comes after one insn */
    }
    mask = eip_mask(c);
    for (unsigned i = 0; i < b->ninsn && left > 0; i++, left--) {
        expect += in[i].len;
        r = exec_one(c, &in[i], mask);
        if (r != EMU_EXEC_OK || c->tc_dirty || c->eip != expect) {
            break;
        }
    }
    return r;
}

/* Delivers a queued external interrupt when IF and no shadow allow it. */
static void take_irq(emu_cpu *c)
{
    unsigned v;

    if (c->irq_vector < 0 || c->shadow || !(c->eflags & EMU_FL_IF)) {
        return;
    }
    v = (unsigned)c->irq_vector;
    c->irq_vector = -1;
    c->halted = false;
    c->insn_esp = c->gpr[EMU_ESP];
    emu_interrupt(c, v, EMU_INTR_EXT, 0, c->eip);
}

/* Checks for conditions that end run() before the next block. */
static bool run_should_stop(emu_cpu *c, emu_exit *ex, uint64_t start,
                            uint64_t budget)
{
    if (atomic_load_explicit(&c->kicked, memory_order_relaxed) &&
        atomic_exchange(&c->kicked, false)) {
        ex->reason = EMU_EXIT_KICK;
    } else if (c->want_window && (c->eflags & EMU_FL_IF) && !c->shadow) {
        ex->reason = EMU_EXIT_IRQ_WINDOW;
    } else if (c->icount - start >= budget) {
        ex->reason = EMU_EXIT_BUDGET;
    } else {
        return false;
    }
    return true;
}

/* The loop proper; returns when ex is filled. */
static void run_loop(emu_cpu *c, uint64_t start, uint64_t budget,
                     emu_exit *ex)
{
    for (;;) {
        take_irq(c);
        if (c->halted) {
            ex->reason = EMU_EXIT_HLT;
            return;
        }
        if (run_should_stop(c, ex, start, budget)) {
            return;
        }
        emu_mmu_sync(c);
        int r = run_block(c, budget - (c->icount - start));
        if (r == EMU_EXEC_HALT) {
            c->halted = true;
        } else if (r == EMU_EXEC_EXIT) {
            return;
        }
    }
}

int emu_cpu_run(emu_cpu *c, uint64_t budget, emu_exit *ex)
{
    uint64_t start = c->icount;

    if (c->io_pending) {
        return -EBUSY;
    }
    memset(ex, 0, sizeof(*ex));
    c->exit = ex;
    c->in_run = true;
    if (setjmp(c->fault_jmp) != 0) {
        if (!emu_exception(c, c->fault_vec, c->fault_err)) {
            ex->reason = EMU_EXIT_SHUTDOWN;     /* triple fault */
            c->halted = true;
            goto done;
        }
    }
    run_loop(c, start, budget, ex);
done:
    ex->retired = c->icount - start;
    c->exit = NULL;
    c->in_run = false;
    return 0;
}
