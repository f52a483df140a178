/*
 * tests/emu/test_mmu.c -- paging, the software TLB and the decoded-
 * instruction cache.
 *
 * Unit tests drive emu_mmu_translate and the linear access functions on
 * page tables written from C (SDM vol. 3, chapter 4); cache tests run
 * tiny machine-code snippets and look at the cache's counters; the guest
 * programs paging.S, smc.S and fpu.S (assembled at build time) run to "PASS".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/bus/bus.h"
#include "emu/cpu/cpu.h"
#include "emu/cpu/tcache.h"
#include "emu/dev/debugcon.h"

#define RAM_SIZE   (1u << 20)
#define PD         0x20000u
#define PT         0x21000u

static emu_cpu *cpu_new(uint8_t **ram)
{
    emu_cpu *c = calloc(1, sizeof(*c));

    *ram = calloc(1, RAM_SIZE);
    cr_assert(c != NULL && *ram != NULL);
    emu_cpu_init(c);
    cr_assert_eq(emu_cpu_map_ram(c, 0, RAM_SIZE, *ram), 0);
    return c;
}

static void cpu_free(emu_cpu *c, uint8_t *ram)
{
    emu_cpu_fini(c);
    free(c);
    free(ram);
}

static void put32(uint8_t *ram, uint32_t a, uint32_t v)
{
    memcpy(ram + a, &v, 4);    /* the tests run on little-endian hosts */
}

static uint32_t get32(const uint8_t *ram, uint32_t a)
{
    uint32_t v;

    memcpy(&v, ram + a, 4);
    return v;
}

/* Paging on: PDE 1 (4..8 MiB) -> PT; PT[0] maps 0x400000 to 0x30000
 * (pte_flags), PDE 2 is a 4 MiB page at 0 (pde2_flags), PDE 0 absent. */
static void paging_setup(emu_cpu *c, uint8_t *ram, uint32_t pte_flags,
                         uint32_t pde2_flags)
{
    put32(ram, PD + 4, PT | 0x007);
    put32(ram, PD + 8, 0x000080 | pde2_flags);
    put32(ram, PT, 0x30000 | pte_flags);
    c->cr[3] = PD;
    c->cr[4] |= EMU_CR4_PSE;
    c->cr[0] |= EMU_CR0_PE | EMU_CR0_PG;
}

static int xlate(emu_cpu *c, uint32_t lin, int acc, bool user,
                 uint64_t *pa, uint32_t *err)
{
    *pa = 0;
    *err = 0xFFFF;
    return emu_mmu_translate(c, lin, acc, user, pa, err);
}

Test(mmu, translates_4k_and_4m_pages_and_sets_accessed_dirty)
{
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);
    uint64_t pa;
    uint32_t err;

    paging_setup(c, ram, 0x007, 0x003);
    cr_assert_eq(xlate(c, 0x400123, EMU_ACC_READ, false, &pa, &err), 0);
    cr_expect_eq(pa, 0x30123);
    cr_expect_eq(get32(ram, PT) & 0x60, 0x20, "read sets A only");
    cr_expect(get32(ram, PD + 4) & 0x20, "PDE accessed");
    cr_assert_eq(xlate(c, 0x400FFF, EMU_ACC_WRITE, true, &pa, &err), 0);
    cr_expect_eq(get32(ram, PT) & 0x60, 0x60, "write sets D");
    cr_assert_eq(xlate(c, 0x8ABCDE, EMU_ACC_WRITE, false, &pa, &err), 0);
    cr_expect_eq(pa, 0x0ABCDE);
    cr_expect_eq(get32(ram, PD + 8) & 0x60, 0x60, "4 MiB PDE gets A and D");
    cpu_free(c, ram);
}

Test(mmu, fault_error_codes)
{
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);
    uint64_t pa;
    uint32_t err;

    paging_setup(c, ram, 0x001, 0x001);   /* supervisor, read-only */
    cr_expect_eq(xlate(c, 0x001000, EMU_ACC_READ, false, &pa, &err), -1);
    cr_expect_eq(err, 0, "not present, read, supervisor");
    cr_expect_eq(xlate(c, 0x001000, EMU_ACC_WRITE, true, &pa, &err), -1);
    cr_expect_eq(err, EMU_PF_W | EMU_PF_U);
    cr_expect_eq(xlate(c, 0x400000, EMU_ACC_READ, true, &pa, &err), -1);
    cr_expect_eq(err, EMU_PF_P | EMU_PF_U, "user read of supervisor page");
    /* Supervisor write to a read-only page: allowed unless CR0.WP. */
    cr_expect_eq(xlate(c, 0x400000, EMU_ACC_WRITE, false, &pa, &err), 0);
    c->cr[0] |= EMU_CR0_WP;
    cr_expect_eq(xlate(c, 0x400000, EMU_ACC_WRITE, false, &pa, &err), -1);
    cr_expect_eq(err, EMU_PF_P | EMU_PF_W);
    cr_expect_eq(xlate(c, 0x800000, EMU_ACC_WRITE, false, &pa, &err), -1);
    cr_expect_eq(err, EMU_PF_P | EMU_PF_W, "read-only 4 MiB page");
    /* User access needs U/S at both levels (the PDE has it here). */
    put32(ram, PT, 0x30000 | 0x007);
    put32(ram, PD + 4, PT | 0x003);
    cr_expect_eq(xlate(c, 0x400000, EMU_ACC_READ, true, &pa, &err), -1);
    cr_expect_eq(err, EMU_PF_P | EMU_PF_U);
    /* Reserved bits 21:13 of a 4 MiB PDE. */
    put32(ram, PD + 8, 0x000083 | 0x2000);
    cr_expect_eq(xlate(c, 0x800000, EMU_ACC_READ, false, &pa, &err), -1);
    cr_expect_eq(err, EMU_PF_P | EMU_PF_RSVD);
    /* Without CR4.PSE the PS bit is ignored: PDE 2 points to a table. */
    c->cr[4] &= ~EMU_CR4_PSE;
    put32(ram, PD + 8, PT | 0x083);
    cr_expect_eq(xlate(c, 0x800000, EMU_ACC_READ, false, &pa, &err), 0);
    cr_expect_eq(pa, 0x30000);
    cpu_free(c, ram);
}

Test(mmu, a20_gate_masks_bit_20)
{
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);
    uint64_t pa;
    uint32_t err;

    ram[0x123] = 0x5A;
    cr_expect_eq(emu_lin_read(c, 0x100123, 1), 0xFF, "beyond RAM");
    emu_cpu_set_a20(c, false);
    cr_assert_eq(xlate(c, 0x100123, EMU_ACC_READ, false, &pa, &err), 0);
    cr_expect_eq(pa, 0x123);
    cr_expect_eq(emu_lin_read(c, 0x100123, 1), 0x5A, "wraps like an 8086");
    emu_cpu_set_a20(c, true);
    cr_expect_eq(emu_lin_read(c, 0x100123, 1), 0xFF);
    cpu_free(c, ram);
}

Test(mmu, tlb_caches_until_invlpg_and_cr3_reload)
{
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);

    paging_setup(c, ram, 0x003, 0x003);
    put32(ram, 0x30000, 0x11111111);
    put32(ram, 0x31000, 0x22222222);
    cr_expect_eq(emu_lin_read(c, 0x400000, 4), 0x11111111);
    put32(ram, PT, 0x31000 | 0x003);      /* remap without a flush */
    cr_expect_eq(emu_lin_read(c, 0x400000, 4), 0x11111111, "TLB hit");
    emu_tlb_flush_page(c, 0x400ABC);
    cr_expect_eq(emu_lin_read(c, 0x400000, 4), 0x22222222, "INVLPG");
    put32(ram, PT, 0x30000 | 0x003);
    c->cr[3] = PD;                        /* MOV CR3 with the same value */
    emu_tlb_flush_all(c);
    cr_expect_eq(emu_lin_read(c, 0x400000, 4), 0x11111111, "CR3 load");
    cpu_free(c, ram);
}

Test(mmu, first_write_through_a_read_fill_sets_dirty)
{
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);

    paging_setup(c, ram, 0x003, 0x003);
    cr_expect_eq(emu_lin_read(c, 0x400010, 4), 0);
    cr_expect_eq(get32(ram, PT) & 0x40, 0, "clean after the read");
    emu_lin_write(c, 0x400010, 4, 0xABCD1234);
    cr_expect_eq(get32(ram, PT) & 0x40, 0x40, "dirty after the write");
    cr_expect_eq(get32(ram, 0x30010), 0xABCD1234);
    /* A dword across the page end reaches both physical pages. */
    put32(ram, PT + 4, 0x50000 | 0x003);
    emu_lin_write(c, 0x400FFE, 4, 0x44332211);
    cr_expect_eq(ram[0x30FFE], 0x11);
    cr_expect_eq(ram[0x30FFF], 0x22);
    cr_expect_eq(ram[0x50000], 0x33);
    cr_expect_eq(ram[0x50001], 0x44);
    cr_expect_eq(emu_lin_read(c, 0x400FFF, 2), 0x3322);
    cpu_free(c, ram);
}

/* Runs from 0x1000 in flat 32-bit (code32) or 16-bit mode until HLT. */
static void run_code(emu_cpu *c, bool code32)
{
    emu_exit ex;

    c->seg[EMU_CS] = (emu_segment){ 0, 0, 0xFFFFFFFFu,
                                    code32 ? 0xC09B : 0x9B };
    c->eip = 0x1000;
    c->halted = false;
    cr_assert_eq(emu_cpu_run(c, 1000, &ex), 0);
    cr_assert_eq(ex.reason, EMU_EXIT_HLT);
}

Test(tcache, blocks_are_reused_and_keyed_by_mode)
{
    static const uint8_t code[] = { 0xB8, 0x78, 0x56, 0x34, 0x12, 0xF4 };
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);
    uint64_t builds;

    memcpy(ram + 0x1000, code, sizeof(code));
    run_code(c, true);
    cr_expect_eq(c->gpr[EMU_EAX], 0x12345678);
    builds = c->tc->builds;
    c->gpr[EMU_EAX] = 0;
    run_code(c, true);
    cr_expect_eq(c->gpr[EMU_EAX], 0x12345678);
    cr_expect_eq(c->tc->builds, builds, "second run decodes nothing");
    /* As 16-bit code: MOV AX, 5678h; XOR AL, 12h; HLT. */
    c->gpr[EMU_EAX] = 0;
    run_code(c, false);
    cr_expect_eq(c->gpr[EMU_EAX], 0x566A);
    cr_expect_gt(c->tc->builds, builds, "new mode, new block");
    cpu_free(c, ram);
}

Test(tcache, writes_invalidate_only_code_chunks)
{
    /* MOV [0x1800], EAX; MOV BYTE [0x1010], 0x02; HLT; ... at 0x1010:
     * MOV EAX, 1; HLT.  Called twice via the two entry points. */
    static const uint8_t code[] = {
        0xA3, 0x00, 0x18, 0x00, 0x00,              /* 1000 */
        0xF4,                                      /* 1005 */
    };
    static const uint8_t code2[] = { 0xB8, 0x01, 0, 0, 0, 0xF4 };
    static const uint8_t patch[] = {
        0xC6, 0x05, 0x21, 0x10, 0x00, 0x00, 0x02, /* 1040: MOV [1021], 2 */
        0xF4,
    };
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);

    memcpy(ram + 0x1000, code, sizeof(code));
    memcpy(ram + 0x1020, code2, sizeof(code2));
    memcpy(ram + 0x1040, patch, sizeof(patch));
    c->gpr[EMU_EAX] = 0xAA;
    run_code(c, true);                   /* data write, other chunk */
    cr_expect_eq(get32(ram, 0x1800), 0xAA);
    cr_expect(emu_tcache_page_has_code(c, 0x1000));
    cr_expect_eq(c->tc->invalidations, 0, "data write kept the code");
    c->eip = 0x1020;
    c->halted = false;
    {
        emu_exit ex;
        cr_assert_eq(emu_cpu_run(c, 100, &ex), 0);
    }
    cr_expect_eq(c->gpr[EMU_EAX], 1);
    c->eip = 0x1040;                      /* patch the immediate */
    c->halted = false;
    {
        emu_exit ex;
        cr_assert_eq(emu_cpu_run(c, 100, &ex), 0);
    }
    cr_expect_eq(c->tc->invalidations, 1, "code write dropped the page");
    c->eip = 0x1020;
    c->halted = false;
    {
        emu_exit ex;
        cr_assert_eq(emu_cpu_run(c, 100, &ex), 0);
    }
    cr_expect_eq(c->gpr[EMU_EAX], 2, "patched code ran");
    cpu_free(c, ram);
}

/* Runs guest program name (tests/emu/guests) to HLT; returns output. */
static char *run_guest(const char *name)
{
    char path[512];
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);
    emu_bus *bus = emu_bus_new();
    emu_debugcon *con = emu_debugcon_new(bus, 0x402);
    FILE *f;
    emu_exit ex;
    char *out;

    cr_assert(bus != NULL && con != NULL);
    snprintf(path, sizeof(path), "%s/%s.bin", EMU_GUEST_DIR, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_gt(fread(ram + 0x7C00, 1, RAM_SIZE - 0x7C00, f), 0);
    fclose(f);
    c->seg[EMU_CS] = (emu_segment){ 0, 0, 0xFFFF, 0x9B };
    c->eip = 0x7C00;
    for (int i = 0; i < 10000; i++) {
        cr_assert_eq(emu_cpu_run(c, 1000000, &ex), 0);
        if (ex.reason == EMU_EXIT_IO && ex.io.is_write) {
            emu_bus_pio_write(bus, ex.io.port, ex.io.size, ex.io.data);
        } else if (ex.reason == EMU_EXIT_IO) {
            emu_cpu_complete_io(c, emu_bus_pio_read(bus, ex.io.port,
                                                    ex.io.size));
        } else if (ex.reason != EMU_EXIT_BUDGET) {
            break;
        }
    }
    out = strdup(emu_debugcon_output(con, NULL));
    emu_debugcon_free(con);
    emu_bus_free(bus);
    cpu_free(c, ram);
    return out;
}

Test(mmu_guest, paging_mappings_faults_invlpg)
{
    char *out = run_guest("paging");

    cr_expect_str_eq(out, "PASS");
    free(out);
}

Test(mmu_guest, self_modifying_code)
{
    char *out = run_guest("smc");

    cr_expect_str_eq(out, "PASS");
    free(out);
}

Test(mmu_guest, x87_basics_and_fxsave)
{
    char *out = run_guest("fpu");

    cr_expect_str_eq(out, "PASS");
    free(out);
}

Test(tcache, device_writes_reported_drop_decoded_code)
{
    static const uint8_t code[] = { 0xB8, 0x01, 0, 0, 0, 0xF4 };
    uint8_t *ram;
    emu_cpu *c = cpu_new(&ram);

    memcpy(ram + 0x1000, code, sizeof(code));
    run_code(c, true);
    cr_expect_eq(c->gpr[EMU_EAX], 1);
    ram[0x1001] = 9;                       /* "DMA" behind the CPU */
    emu_cpu_phys_written(c, 0x0FF0, 0x20); /* range across the page */
    run_code(c, true);
    cr_expect_eq(c->gpr[EMU_EAX], 9);
    cr_expect_eq(c->tc->invalidations, 1);
    cpu_free(c, ram);
}
