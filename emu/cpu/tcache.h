/*
 * emu/cpu/tcache.h -- the decoded-instruction cache.
 *
 * Instructions are decoded once into blocks: runs of consecutive
 * instructions inside one physical page, ending after an unconditional
 * control transfer or system instruction (a taken conditional branch
 * leaves a block early), keyed by the physical address of the first
 * instruction and the decode mode (CS.D, CR0.PE, CR0.PG).  Each RAM page
 * that holds decoded code has a mask of the 64-byte chunks it covers; a
 * write into such a chunk (which always takes the slow path, see mmu.h)
 * drops every block of the page, so self-modifying code is seen.
 */
#ifndef EMU_CPU_TCACHE_H
#define EMU_CPU_TCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "emu/cpu/cpu.h"
#include "emu/cpu/decode.h"

#define EMU_TC_BLOCK_MAX   32           /* instructions per block */
#define EMU_TC_NBLOCKS     (1u << 14)   /* blocks before a full flush */
#define EMU_TC_NINSNS      (1u << 16)   /* decoded instructions, ditto */
#define EMU_TC_HASH        (1u << 14)   /* hash buckets */
#define EMU_TC_JC          (1u << 12)   /* jump-cache entries */

/* Mode bits of the block key. */
#define EMU_TC_CODE32  1u   /* CS.D */
#define EMU_TC_PE      2u   /* CR0.PE */
#define EMU_TC_PG      4u   /* CR0.PG */
#define EMU_TC_USER    8u   /* CPL 3: jump-cache key only */

/* A block of decoded instructions. */
typedef struct emu_tblock {
    uint32_t pa;        /* physical address of the first instruction */
    uint8_t mode;       /* EMU_TC_* bits it was decoded under */
    uint8_t ninsn;      /* instructions in the block (>= 1) */
    bool dead;          /* invalidated; never found again */
    uint32_t first;     /* index of its first instruction in the arena */
    int32_t hnext;      /* next block in the hash bucket, or -1 */
    int32_t pnext;      /* next block of the same page, or -1 */
} emu_tblock;

/* Code bookkeeping of one RAM page. */
typedef struct emu_tc_page {
    uint64_t mask;      /* 64-byte chunks holding decoded instructions */
    int32_t head;       /* first block of the page, or -1 */
} emu_tc_page;

/* A jump-cache entry: the block last run from a linear address. */
typedef struct emu_tc_jc {
    uint32_t lin;       /* linear address of CS:EIP */
    uint32_t mode;      /* EMU_TC_* bits including EMU_TC_USER */
    int32_t blk;        /* block index, -1 for none */
} emu_tc_jc;

/* The cache: fixed arenas, flushed as a whole when one fills up. */
typedef struct emu_tcache {
    emu_tblock *blocks;     /* EMU_TC_NBLOCKS */
    uint32_t nblocks;
    emu_insn *insns;        /* EMU_TC_NINSNS */
    uint32_t ninsns;
    int32_t *hash;          /* EMU_TC_HASH bucket heads */
    emu_tc_page *pages[16]; /* per CPU RAM slot, allocated on first use */
    uint32_t npages[16];    /* pages covered by each slot's array */
    emu_tc_jc jc[EMU_TC_JC];/* linear address -> block, skips the
                               TLB and hash; cleared with the TLB */
    uint64_t builds;        /* statistics: blocks decoded */
    uint64_t invalidations; /* pages invalidated by writes */
    uint64_t flushes;       /* whole-cache flushes */
} emu_tcache;

/*
 * Returns the block starting at physical address pa for decode mode
 * mode, decoding it on a miss; NULL when the code there cannot be cached
 * (not in RAM, an instruction crossing the page end, an undefined
 * opcode first, or no memory), in which case the caller decodes itself.
 */
const emu_tblock *emu_tcache_find(struct emu_cpu *c, uint64_t pa,
                                  unsigned mode);
/* The decoded instructions of a block. */
static inline const emu_insn *emu_tcache_insns(const struct emu_cpu *c,
                                               const emu_tblock *b)
{
    return &c->tc->insns[b->first];
}
/* True when the RAM page holding pa has decoded code. */
bool emu_tcache_page_has_code(struct emu_cpu *c, uint64_t pa);
/*
 * Notes a write of len bytes at physical pa (len within one page): drops
 * the page's blocks when the write touches decoded code and then sets
 * c->tc_dirty so that the block being executed stops.
 */
void emu_tcache_write(struct emu_cpu *c, uint64_t pa, unsigned len);
/*
 * Jump cache: the block for linear address lin in mode (EMU_TC_* with
 * EMU_TC_USER), or NULL; emu_tcache_jc_put records one.  Valid until the
 * TLB is flushed (emu_tcache_jc_clear) or the block is dropped.
 */
static inline unsigned emu_tcache_jc_index(uint32_t lin)
{
    return (lin ^ (lin >> 12)) & (EMU_TC_JC - 1);
}

static inline const emu_tblock *emu_tcache_jc_get(struct emu_cpu *c,
                                                  uint32_t lin,
                                                  unsigned mode)
{
    const emu_tc_jc *j;
    const emu_tblock *b;

    if (c->tc == NULL) {
        return NULL;
    }
    j = &c->tc->jc[emu_tcache_jc_index(lin)];
    if (j->lin != lin || j->mode != mode || j->blk < 0) {
        return NULL;
    }
    b = &c->tc->blocks[j->blk];
    return b->dead ? NULL : b;
}
void emu_tcache_jc_put(struct emu_cpu *c, uint32_t lin, unsigned mode,
                       const emu_tblock *b);
void emu_tcache_jc_clear(struct emu_cpu *c);
/* Drops all decoded code (kept allocated). */
void emu_tcache_flush(struct emu_cpu *c);
/* Frees the cache; the CPU may run again afterwards. */
void emu_tcache_free(struct emu_cpu *c);

#endif /* EMU_CPU_TCACHE_H */
