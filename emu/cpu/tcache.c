/*
 * emu/cpu/tcache.c -- the decoded-instruction cache (see tcache.h).
 *
 * Blocks live in two fixed arenas (block headers and instructions) that
 * are reset together when either fills up, as QEMU does with its code
 * buffer.  Blocks are found through a hash of (physical address, mode)
 * and listed per RAM page so that a write to code drops exactly that
 * page's blocks.  Dropped blocks stay in the arena until the next flush,
 * so a block being executed is never freed under the run loop.
 */
#include "tcache.h"

#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "mmu.h"

_Static_assert(EMU_CPU_MAX_SLOTS == 16, "one page array per RAM slot");

/* True for instructions after which a block ends: unconditional control
 * transfers and anything that may change CS, the paging mode, IF or the
 * TLB.  Conditional branches (Jcc, LOOPcc, JCXZ) do not end a block: the
 * run loop leaves it when one is taken (EIP is not the next one's). */
static bool ends_block(const emu_insn *in)
{
    unsigned op = in->op, b = op & 0xFF;

    if (op >= EMU_OP_0F) {
        return b <= 0x0B ||
               (b >= 0x20 && b <= 0x23) || (b >= 0x30 && b <= 0x37) ||
               b == 0xAA;
    }
    if ((op >= 0xC2 && op <= 0xC3) ||
        (op >= 0xCA && op <= 0xCF) || (op >= 0xE4 && op <= 0xEF) ||
        (op >= 0x6C && op <= 0x6F)) {
        return true;
    }
    switch (op) {
    case 0x9A: case 0x9D: case 0xF1: case 0xF4: case 0xFA: case 0xFB:
        return true;
    case 0xFF:
        return in->reg >= 2 && in->reg <= 5;
    default:
        return false;
    }
}

/* Allocates the arenas on first use; false when out of memory. */
static bool tc_alloc(emu_cpu *c)
{
    emu_tcache *t;

    if (c->tc != NULL) {
        return true;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return false;
    }
    t->blocks = malloc(EMU_TC_NBLOCKS * sizeof(*t->blocks));
    t->insns = malloc(EMU_TC_NINSNS * sizeof(*t->insns));
    t->hash = malloc(EMU_TC_HASH * sizeof(*t->hash));
    if (t->blocks == NULL || t->insns == NULL || t->hash == NULL) {
        free(t->blocks);
        free(t->insns);
        free(t->hash);
        free(t);
        return false;
    }
    memset(t->hash, 0xFF, EMU_TC_HASH * sizeof(*t->hash));
    c->tc = t;
    emu_tcache_jc_clear(c);
    return true;
}

void emu_tcache_free(emu_cpu *c)
{
    emu_tcache *t = c->tc;

    if (t == NULL) {
        return;
    }
    for (unsigned i = 0; i < 16; i++) {
        free(t->pages[i]);
    }
    free(t->blocks);
    free(t->insns);
    free(t->hash);
    free(t);
    c->tc = NULL;
}

void emu_tcache_flush(emu_cpu *c)
{
    emu_tcache *t = c->tc;

    if (t == NULL) {
        return;
    }
    t->nblocks = 0;
    t->ninsns = 0;
    t->flushes++;
    memset(t->hash, 0xFF, EMU_TC_HASH * sizeof(*t->hash));
    emu_tcache_jc_clear(c);
    for (unsigned i = 0; i < 16; i++) {
        for (uint32_t p = 0; t->pages[i] != NULL && p < t->npages[i]; p++) {
            t->pages[i][p] = (emu_tc_page){ 0, -1 };
        }
    }
    c->tc_dirty = true;
}

/* Page record of physical address pa, or NULL outside RAM; creates the
 * slot's array when create is set. */
static emu_tc_page *tc_page(emu_cpu *c, uint64_t pa, bool create)
{
    emu_tcache *t = c->tc;

    for (unsigned i = 0; t != NULL && i < c->nslots && i < 16; i++) {
        const emu_cpu_slot *s = &c->slot[i];
        if (pa < s->gpa || pa - s->gpa >= s->size) {
            continue;
        }
        if (t->pages[i] == NULL && create) {
            uint32_t n = (uint32_t)(((s->gpa + s->size - 1) >> 12) -
                                    (s->gpa >> 12) + 1);
            t->pages[i] = malloc(n * sizeof(emu_tc_page));
            if (t->pages[i] == NULL) {
                return NULL;
            }
            for (uint32_t p = 0; p < n; p++) {
                t->pages[i][p] = (emu_tc_page){ 0, -1 };
            }
            t->npages[i] = n;
        }
        if (t->pages[i] == NULL) {
            return NULL;
        }
        return &t->pages[i][(pa >> 12) - (s->gpa >> 12)];
    }
    return NULL;
}

bool emu_tcache_page_has_code(emu_cpu *c, uint64_t pa)
{
    const emu_tc_page *pg = tc_page(c, pa, false);

    return pg != NULL && pg->mask != 0;
}

static uint32_t tc_hash(uint64_t pa, unsigned mode)
{
    uint32_t h = (uint32_t)pa * 0x9E3779B1u ^ mode;

    return (h >> 16 ^ h) & (EMU_TC_HASH - 1);
}

/* Removes block i from its hash bucket and marks it dead. */
static void tc_unlink(emu_tcache *t, int32_t i)
{
    emu_tblock *b = &t->blocks[i];
    int32_t *pp = &t->hash[tc_hash(b->pa, b->mode)];

    while (*pp >= 0 && *pp != i) {
        pp = &t->blocks[*pp].hnext;
    }
    if (*pp == i) {
        *pp = b->hnext;
    }
    b->dead = true;
}

/* Mask of the 64-byte chunks that [off, off + len) touches. */
static uint64_t chunk_bits(unsigned off, unsigned len)
{
    unsigned lo = off >> 6, hi = (off + len - 1) >> 6;

    return (hi >= 63 ? ~0ull : (2ull << hi) - 1) & ~((1ull << lo) - 1);
}

void emu_tcache_write(emu_cpu *c, uint64_t pa, unsigned len)
{
    emu_tc_page *pg = tc_page(c, pa, false);

    if (pg == NULL || pg->mask == 0 || len == 0 ||
        !(pg->mask & chunk_bits(pa & 0xFFF, len))) {
        return;
    }
    for (int32_t i = pg->head; i >= 0; i = c->tc->blocks[i].pnext) {
        tc_unlink(c->tc, i);
    }
    pg->head = -1;
    pg->mask = 0;
    c->tc->invalidations++;
    c->tc_dirty = true;
}

/* Decodes instructions from the page at host pointer page, starting at
 * offset off, into the arena; returns how many (0 if none decodes). */
static unsigned tc_decode_run(emu_tcache *t, const uint8_t *page,
                              unsigned off, bool code32, unsigned *bytes)
{
    unsigned n = 0, pos = off;

    while (n < EMU_TC_BLOCK_MAX && t->ninsns + n < EMU_TC_NINSNS &&
           pos < EMU_PAGE_SIZE) {
        emu_insn *in = &t->insns[t->ninsns + n];
        size_t avail = EMU_PAGE_SIZE - pos;
        if (emu_decode(page + pos, avail, code32, in) <= 0) {
            break;
        }
        in->exec = emu_exec_select(in);
        pos += in->len;
        n++;
        if (ends_block(in)) {
            break;
        }
    }
    *bytes = pos - off;
    return n;
}

/* Decodes and records a new block; NULL when nothing can be cached. */
static const emu_tblock *tc_build(emu_cpu *c, uint64_t pa, unsigned mode)
{
    emu_tcache *t = c->tc;
    const uint8_t *page = emu_phys_ptr(c, pa & ~0xFFFull, EMU_PAGE_SIZE);
    emu_tc_page *pg = tc_page(c, pa, true);
    unsigned n, bytes;
    emu_tblock *b;
    uint32_t h;

    if (page == NULL || pg == NULL) {
        return NULL;
    }
    if (t->nblocks == EMU_TC_NBLOCKS ||
        t->ninsns + EMU_TC_BLOCK_MAX > EMU_TC_NINSNS) {
        emu_tcache_flush(c);
    }
    n = tc_decode_run(t, page, pa & 0xFFF, mode & EMU_TC_CODE32, &bytes);
    if (n == 0) {
        return NULL;
    }
    if (pg->mask == 0) {
        emu_tlb_protect_phys(c, pa);   /* writes here now go slow */
    }
    pg->mask |= chunk_bits(pa & 0xFFF, bytes);
    h = tc_hash(pa, mode);
    b = &t->blocks[t->nblocks];
    *b = (emu_tblock){ (uint32_t)pa, (uint8_t)mode, (uint8_t)n, false,
                       t->ninsns, t->hash[h], pg->head };
    t->hash[h] = (int32_t)t->nblocks;
    pg->head = (int32_t)t->nblocks;
    t->nblocks++;
    t->ninsns += n;
    t->builds++;
    return b;
}

const emu_tblock *emu_tcache_find(emu_cpu *c, uint64_t pa, unsigned mode)
{
    emu_tcache *t;

    if (pa >> 32 || !tc_alloc(c)) {
        return NULL;
    }
    t = c->tc;
    for (int32_t i = t->hash[tc_hash(pa, mode)]; i >= 0;
         i = t->blocks[i].hnext) {
        const emu_tblock *b = &t->blocks[i];
        if (b->pa == (uint32_t)pa && b->mode == mode) {
            return b;
        }
    }
    return tc_build(c, pa, mode);
}

void emu_tcache_jc_put(emu_cpu *c, uint32_t lin, unsigned mode,
                       const emu_tblock *b)
{
    emu_tc_jc *j = &c->tc->jc[emu_tcache_jc_index(lin)];

    j->lin = lin;
    j->mode = mode;
    j->blk = (int32_t)(b - c->tc->blocks);
}

void emu_tcache_jc_clear(emu_cpu *c)
{
    if (c->tc != NULL) {
        memset(c->tc->jc, 0xFF, sizeof(c->tc->jc));
    }
}
