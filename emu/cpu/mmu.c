/*
 * emu/cpu/mmu.c -- paging, the software TLB and the linear access path.
 *
 * Implements the 32-bit paging of Intel SDM vol. 3, chapter 4: a page
 * directory at CR3 whose entries map 4 MiB pages (PS=1 with CR4.PSE) or
 * point to page tables of 4 KiB pages (sections 4.3 and 4.6: access
 * rights combine both levels, CR0.WP makes read-only pages binding on the
 * supervisor, user accesses need U/S=1 at both levels; section 4.8: A and
 * D bits; section 4.7: #PF error codes; section 4.10: TLB invalidation).
 * Translations are cached in a direct-mapped TLB (see mmu.h).
 */
#include "cpu_int.h"
#include "mmu.h"
#include "tcache.h"

#include <stdlib.h>
#include <string.h>

/* Paging-entry bits. */
#define PTE_P    0x001u
#define PTE_RW   0x002u
#define PTE_US   0x004u
#define PTE_A    0x020u
#define PTE_D    0x040u
#define PDE_PS   0x080u
#define PDE_4M_RSVD  0x003FE000u   /* bits 21:13 of a 4 MiB PDE (no PSE-36) */

uint8_t *emu_phys_ptr(emu_cpu *c, uint64_t pa, uint64_t size)
{
    for (unsigned i = 0; i < c->nslots; i++) {
        const emu_cpu_slot *s = &c->slot[i];
        if (pa >= s->gpa && pa - s->gpa + size <= s->size) {
            return s->host + (pa - s->gpa);
        }
    }
    return NULL;
}

void emu_tlb_flush_all(emu_cpu *c)
{
    memset(c->tlb, 0xFF, sizeof(c->tlb));
    for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
        c->tlb[i].host = NULL;
    }
    c->tlb_cr0 = c->cr[0];
    c->tlb_cr3 = c->cr[3];
    c->tlb_cr4 = c->cr[4];
    emu_tcache_jc_clear(c);
}

void emu_tlb_flush_page(emu_cpu *c, uint32_t lin)
{
    emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];

    if (e->rtag[0] == (lin & EMU_PAGE_MASK) ||
        e->rtag[1] == (lin & EMU_PAGE_MASK)) {
        e->rtag[0] = e->rtag[1] = EMU_TLB_NONE;
        e->wtag[0] = e->wtag[1] = EMU_TLB_NONE;
    }
    emu_tcache_jc_clear(c);
}

void emu_tlb_protect_phys(emu_cpu *c, uint64_t pa)
{
    for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
        if (c->tlb[i].pa == (pa & EMU_PAGE_MASK)) {
            c->tlb[i].wtag[0] = c->tlb[i].wtag[1] = EMU_TLB_NONE;
        }
    }
}

void emu_cpu_set_a20(emu_cpu *c, bool on)
{
    uint32_t mask = on ? 0xFFFFFFFFu : ~(1u << 20);

    if (mask != c->a20_mask) {
        c->a20_mask = mask;
        emu_tlb_flush_all(c);
    }
}

/* Sets the bits in set of the paging entry at physical address pa. */
static void pte_set_bits(emu_cpu *c, uint64_t pa, uint32_t old,
                         uint32_t set)
{
    if ((old & set) != set) {
        emu_phys_write(c, pa, 4, old | set);
    }
}

/* Rights of a translation: bit 0 writable, bit 1 user. */
static bool rights_allow(const emu_cpu *c, uint32_t rights, int acc,
                         bool user)
{
    bool w = rights & PTE_RW, u = rights & PTE_US;

    if (user && !u) {
        return false;
    }
    if (acc != EMU_ACC_WRITE || w) {
        return true;
    }
    return !user && !(c->cr[0] & EMU_CR0_WP);
}

/* Walks the paging structures; see emu_mmu_translate.  *rights gets the
 * combined U/S and R/W bits, and PTE_D when the page is now dirty. */
static int walk(emu_cpu *c, uint32_t lin, int acc, bool user, uint64_t *pa,
                uint32_t *rights, uint32_t *err)
{
    uint32_t ec = (acc == EMU_ACC_WRITE ? EMU_PF_W : 0) |
                  (user ? EMU_PF_U : 0);
    uint64_t pde_pa = ((c->cr[3] & EMU_PAGE_MASK) | ((lin >> 20) & 0xFFC)) &
                      c->a20_mask;
    uint32_t pde = emu_phys_read(c, pde_pa, 4), pte, r;
    uint64_t pte_pa;

    if (!(pde & PTE_P)) {
        *err = ec;
        return -1;
    }
    if ((pde & PDE_PS) && (c->cr[4] & EMU_CR4_PSE)) {
        if (pde & PDE_4M_RSVD) {
            *err = ec | EMU_PF_P | EMU_PF_RSVD;
            return -1;
        }
        if (!rights_allow(c, pde, acc, user)) {
            *err = ec | EMU_PF_P;
            return -1;
        }
        pte_set_bits(c, pde_pa, pde,
                     PTE_A | (acc == EMU_ACC_WRITE ? PTE_D : 0));
        *rights = (pde & (PTE_RW | PTE_US)) |
                  (acc == EMU_ACC_WRITE ? PTE_D : (pde & PTE_D));
        *pa = ((pde & 0xFFC00000u) | (lin & 0x3FFFFFu)) & c->a20_mask;
        return 0;
    }
    pte_pa = ((pde & EMU_PAGE_MASK) | ((lin >> 10) & 0xFFC)) & c->a20_mask;
    pte = emu_phys_read(c, pte_pa, 4);
    if (!(pte & PTE_P)) {
        *err = ec;
        return -1;
    }
    r = pde & pte & (PTE_RW | PTE_US);
    if (!rights_allow(c, r, acc, user)) {
        *err = ec | EMU_PF_P;
        return -1;
    }
    pte_set_bits(c, pde_pa, pde, PTE_A);
    pte_set_bits(c, pte_pa, pte, PTE_A | (acc == EMU_ACC_WRITE ? PTE_D : 0));
    *rights = r | (acc == EMU_ACC_WRITE ? PTE_D : (pte & PTE_D));
    *pa = ((pte & EMU_PAGE_MASK) | (lin & 0xFFF)) & c->a20_mask;
    return 0;
}

/* Translation with the rights it grants (all rights without paging). */
static int translate(emu_cpu *c, uint32_t lin, int acc, bool user,
                     uint64_t *pa, uint32_t *rights, uint32_t *err)
{
    if (!(c->cr[0] & EMU_CR0_PG)) {
        *pa = lin & c->a20_mask;
        *rights = PTE_RW | PTE_US | PTE_D;
        return 0;
    }
    return walk(c, lin, acc, user, pa, rights, err);
}

int emu_mmu_translate(emu_cpu *c, uint32_t lin, int acc, bool user,
                      uint64_t *pa, uint32_t *err)
{
    uint32_t rights;

    return translate(c, lin, acc, user, pa, &rights, err);
}

/* Records a translation in the TLB.  Direct writes need a RAM page
 * without decoded code whose D bit is set; a supervisor may write a
 * read-only page while CR0.WP is clear. */
static void tlb_fill(emu_cpu *c, uint32_t lin, uint64_t pa, uint32_t rights)
{
    emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
    uint32_t page = lin & EMU_PAGE_MASK;
    bool ok;

    pa &= ~(uint64_t)0xFFF;
    e->pa = (uint32_t)pa;
    e->host = pa >> 32 ? NULL : emu_phys_ptr(c, pa, EMU_PAGE_SIZE);
    ok = e->host != NULL && (rights & PTE_D) &&
         !emu_tcache_page_has_code(c, pa);
    e->rtag[0] = page;
    e->rtag[1] = (rights & PTE_US) ? page : EMU_TLB_NONE;
    e->wtag[0] = ok && ((rights & PTE_RW) || !(c->cr[0] & EMU_CR0_WP))
                 ? page : EMU_TLB_NONE;
    e->wtag[1] = ok && (rights & PTE_RW) && (rights & PTE_US)
                 ? page : EMU_TLB_NONE;
}

/* Translates for an access that missed the TLB, raising #PF on a fault. */
static uint64_t translate_or_raise(emu_cpu *c, uint32_t lin, int acc,
                                   bool user)
{
    uint64_t pa;
    uint32_t rights, err;

    emu_mmu_sync(c);
    if (translate(c, lin, acc, user, &pa, &rights, &err) < 0) {
        c->cr[2] = lin;
        emu_raise(c, EMU_EXC_PF, err);
    }
    tlb_fill(c, lin, pa, rights);
    return pa;
}

uint64_t emu_mmu_fetch_pa(emu_cpu *c, uint32_t lin)
{
    bool user = emu_cpu_cpl(c) == 3;
    const emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];

    if (e->rtag[user] == (lin & EMU_PAGE_MASK)) {
        return e->pa | (lin & 0xFFF);
    }
    return translate_or_raise(c, lin, EMU_ACC_READ, user);
}

/* Little-endian load and store of size bytes at p. */
static uint32_t load_le(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static void store_le(uint8_t *p, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Slow read: TLB miss, MMIO, or an access crossing a page boundary. */
static uint32_t lin_read_slow(emu_cpu *c, uint32_t lin, unsigned size,
                              bool user)
{
    uint32_t off = lin & 0xFFF, first = EMU_PAGE_SIZE - off;
    uint64_t pa = translate_or_raise(c, lin, EMU_ACC_READ, user), pa2;
    uint32_t v = 0;

    if (first >= size) {
        return emu_phys_read(c, pa, size);
    }
    pa2 = translate_or_raise(c, lin + first, EMU_ACC_READ, user);
    for (unsigned i = 0; i < size; i++) {
        uint64_t a = i < first ? pa + i : pa2 + (i - first);
        v |= emu_phys_read(c, a, 1) << (8 * i);
    }
    return v;
}

/* Slow write: as lin_read_slow, and writes that may hit decoded code. */
static void lin_write_slow(emu_cpu *c, uint32_t lin, unsigned size,
                           uint32_t v, bool user)
{
    uint32_t off = lin & 0xFFF, first = EMU_PAGE_SIZE - off;
    uint64_t pa = translate_or_raise(c, lin, EMU_ACC_WRITE, user), pa2;

    if (first >= size) {
        emu_tcache_write(c, pa, size);
        emu_phys_write(c, pa, size, v);
        return;
    }
    pa2 = translate_or_raise(c, lin + first, EMU_ACC_WRITE, user);
    emu_tcache_write(c, pa, first);
    emu_tcache_write(c, pa2, size - first);
    for (unsigned i = 0; i < size; i++) {
        uint64_t a = i < first ? pa + i : pa2 + (i - first);
        emu_phys_write(c, a, 1, (v >> (8 * i)) & 0xFF);
    }
}

/* Fast paths: a TLB hit on a RAM page with the access inside the page. */
static inline uint32_t lin_read_as(emu_cpu *c, uint32_t lin, unsigned size,
                                   bool user)
{
    const emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];

    if (e->rtag[user] == (lin & EMU_PAGE_MASK) &&
        (lin & 0xFFF) <= EMU_PAGE_SIZE - size && e->host != NULL) {
        return load_le(e->host + (lin & 0xFFF), size);
    }
    return lin_read_slow(c, lin, size, user);
}

static inline void lin_write_as(emu_cpu *c, uint32_t lin, unsigned size,
                                uint32_t v, bool user)
{
    const emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];

    if (e->wtag[user] == (lin & EMU_PAGE_MASK) &&
        (lin & 0xFFF) <= EMU_PAGE_SIZE - size) {
        store_le(e->host + (lin & 0xFFF), size, v);
        return;
    }
    lin_write_slow(c, lin, size, v, user);
}

uint32_t emu_lin_read(emu_cpu *c, uint32_t lin, unsigned size)
{
    return lin_read_as(c, lin, size, emu_cpu_cpl(c) == 3);
}

void emu_lin_write(emu_cpu *c, uint32_t lin, unsigned size, uint32_t v)
{
    lin_write_as(c, lin, size, v, emu_cpu_cpl(c) == 3);
}

uint32_t emu_lin_read_sys(emu_cpu *c, uint32_t lin, unsigned size)
{
    return lin_read_as(c, lin, size, false);
}

void emu_lin_write_sys(emu_cpu *c, uint32_t lin, unsigned size, uint32_t v)
{
    lin_write_as(c, lin, size, v, false);
}

uint8_t *emu_tlb_ptr(emu_cpu *c, uint32_t lin, int acc)
{
    const emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
    bool user = emu_cpu_cpl(c) == 3;
    uint32_t tag = acc == EMU_ACC_WRITE ? e->wtag[user] : e->rtag[user];

    if (tag != (lin & EMU_PAGE_MASK) || e->host == NULL) {
        return NULL;
    }
    return e->host + (lin & 0xFFF);
}

_Noreturn void emu_raise(emu_cpu *c, unsigned vec, uint32_t err)
{
    if (!c->in_run) {
        abort();        /* programmer error: no instruction is running */
    }
    c->gpr[EMU_ESP] = c->insn_esp;
    c->fault_vec = (uint8_t)vec;
    c->fault_err = err;
    longjmp(c->fault_jmp, 1);
}
