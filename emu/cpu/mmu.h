/*
 * emu/cpu/mmu.h -- linear-to-physical translation, software TLB, faults.
 *
 * 32-bit two-level paging with 4 KiB pages and 4 MiB pages (CR4.PSE),
 * U/S and R/W checks by CPL with CR0.WP, accessed/dirty bits, #PF with CR2
 * and its error code (Intel SDM vol. 3, sections 4.3, 4.6, 4.7 and 4.10),
 * plus the A20 gate.  A direct-mapped TLB caches, per linear page, a host
 * pointer for RAM pages with separate read and write tags for supervisor
 * and user accesses; MMIO pages and pages holding decoded code always take
 * the slow path (the latter so that writes invalidate decoded blocks).
 *
 * Faults are reported with emu_raise() (cpu_int.h), which unwinds to the
 * run loop; the faulting instruction has then not retired.
 */
#ifndef EMU_CPU_MMU_H
#define EMU_CPU_MMU_H

#include <stdbool.h>
#include <stdint.h>

#define EMU_TLB_BITS   8
#define EMU_TLB_SIZE   (1u << EMU_TLB_BITS)
#define EMU_PAGE_SIZE  4096u
#define EMU_PAGE_MASK  0xFFFFF000u
#define EMU_TLB_NONE   0xFFFFFFFFu   /* tag that matches no page */

/* CR0, CR4 bits used by the MMU and the FPU. */
#define EMU_CR0_PE     0x00000001u
#define EMU_CR0_MP     0x00000002u
#define EMU_CR0_EM     0x00000004u
#define EMU_CR0_TS     0x00000008u
#define EMU_CR0_NE     0x00000020u
#define EMU_CR0_WP     0x00010000u
#define EMU_CR0_PG     0x80000000u
#define EMU_CR4_PSE    0x00000010u
#define EMU_CR4_OSFXSR 0x00000200u

/* #PF error code bits (SDM vol. 3, figure 4-12). */
#define EMU_PF_P       0x01u   /* protection violation (else not present) */
#define EMU_PF_W       0x02u   /* write access */
#define EMU_PF_U       0x04u   /* user-mode access */
#define EMU_PF_RSVD    0x08u   /* reserved bit set in a paging entry */

/* Kind of a memory access. */
enum emu_access {
    EMU_ACC_READ  = 0,   /* data read or instruction fetch */
    EMU_ACC_WRITE = 1,
};

/* One TLB entry: a linear page and what accesses may use it directly. */
typedef struct emu_tlb_entry {
    uint32_t rtag[2];   /* linear page readable by [0]=supervisor [1]=user */
    uint32_t wtag[2];   /* linear page writable directly, same indexing */
    uint8_t *host;      /* host address of the page, NULL for MMIO */
    uint32_t pa;        /* physical page address */
} emu_tlb_entry;

struct emu_cpu;

/*
 * Translates lin for an access of kind acc, as a user access when user
 * is true.  On success stores the physical address (A20 applied), sets
 * the accessed/dirty bits and returns 0; on a fault returns -1 and stores
 * the #PF error code in *err without raising anything.
 */
int emu_mmu_translate(struct emu_cpu *c, uint32_t lin, int acc, bool user,
                      uint64_t *pa, uint32_t *err);

/* Physical address of an instruction fetch at lin (CPL privilege);
 * raises #PF. */
uint64_t emu_mmu_fetch_pa(struct emu_cpu *c, uint32_t lin);
/* emu_mmu_sync (cpu_int.h, inline) flushes the TLB if CR0, CR3 or CR4
 * changed since it was filled. */

/* Drops every TLB entry (CR3 load, CR0.PG/WP or CR4 change, A20 toggle). */
void emu_tlb_flush_all(struct emu_cpu *c);
/* Drops the entry of the page holding lin (INVLPG). */
void emu_tlb_flush_page(struct emu_cpu *c, uint32_t lin);
/* Disables direct writes to physical page pa (it now holds code). */
void emu_tlb_protect_phys(struct emu_cpu *c, uint64_t pa);

/* Opens (true) or closes the A20 gate; closed masks physical bit 20. */
void emu_cpu_set_a20(struct emu_cpu *c, bool on);

/* emu_cpu_cpl (cpu_int.h, inline) is the current privilege level. */

/*
 * Raises exception vec with error code err from inside an instruction:
 * restores ESP to its value at the start of the instruction and unwinds
 * to the run loop, which delivers it.  Never returns.
 */
_Noreturn void emu_raise(struct emu_cpu *c, unsigned vec, uint32_t err);

/*
 * Linear-address accesses.  The plain forms check privilege by CPL; the
 * _sys forms are implicit supervisor accesses (descriptor tables, IDT,
 * TSS).  A fault raises #PF (emu_raise) with CR2 set.  Accesses may cross
 * a page boundary; both pages are checked before anything is written.
 */
uint32_t emu_lin_read(struct emu_cpu *c, uint32_t lin, unsigned size);
void emu_lin_write(struct emu_cpu *c, uint32_t lin, unsigned size,
                   uint32_t v);
uint32_t emu_lin_read_sys(struct emu_cpu *c, uint32_t lin, unsigned size);
void emu_lin_write_sys(struct emu_cpu *c, uint32_t lin, unsigned size,
                       uint32_t v);

/*
 * Host pointer for the byte at linear address lin when the TLB already
 * allows a direct access of kind acc at the CPL (a RAM page, and for a
 * write one without decoded code); NULL otherwise.  Never faults and
 * never fills the TLB: callers fall back to emu_lin_read/emu_lin_write.
 * The pointer is valid up to the end of lin's page.
 */
uint8_t *emu_tlb_ptr(struct emu_cpu *c, uint32_t lin, int acc);

/* Host pointer for [pa, pa + size) if it lies in one RAM slot, else NULL. */
uint8_t *emu_phys_ptr(struct emu_cpu *c, uint64_t pa, uint64_t size);

#endif /* EMU_CPU_MMU_H */
