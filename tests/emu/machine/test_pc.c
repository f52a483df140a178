/*
 * tests/emu/machine/test_pc.c -- the PC machine and its run loop.
 *
 * Each test boots a tiny 64 KiB "firmware" assembled from fw/<name>.S
 * at build time (no SeaBIOS): the reset vector, CMOS and fw_cfg
 * contents, the A20 gate, PIT interrupts through the PIC with HLT
 * skipping to the next deadline, injection at the interrupt window after
 * STI, a triple fault, warm resets, stop requests, deadlines and the
 * protected-mode, paging and boot-sector stages.  Output comes back
 * through the debug console callback.  Firmware loading errors are
 * checked with in-memory and missing images.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/machine/pc.h"

#define FW_SIZE   (64u << 10)
#define MS        1000000ull

/* A machine under test and what it printed. */
typedef struct pc_test {
    emu_pc *pc;
    uint8_t fw[FW_SIZE];
    char out[256];           /* debug console output */
    size_t len;
    bool stop_on_byte;       /* request a stop at every byte */
} pc_test;

static void on_byte(void *opaque, uint8_t byte)
{
    pc_test *t = opaque;

    if (t->len + 1 < sizeof(t->out)) {
        t->out[t->len++] = (char)byte;
        t->out[t->len] = '\0';
    }
    if (t->stop_on_byte) {
        emu_pc_request_stop(t->pc);
    }
}

/* Reads EMU_FW_DIR/<name>.bin into t->fw. */
static void load_fw(pc_test *t, const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.bin", EMU_FW_DIR, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fread(t->fw, 1, FW_SIZE, f), FW_SIZE, "%s: short", path);
    fclose(f);
}

/* Builds a machine with ram bytes of RAM running firmware name, each
 * instruction taking ns nanoseconds of virtual time. */
static pc_test *boot_ns(const char *name, uint64_t ram, uint32_t ns)
{
    pc_test *t = calloc(1, sizeof(*t));
    emu_pc_config cfg;
    img_err err = { 0 };

    cr_assert_not_null(t);
    load_fw(t, name);
    emu_pc_config_init(&cfg);
    cfg.ram_size = ram;
    cfg.ns_per_insn = ns;
    cfg.bios_data = t->fw;
    cfg.bios_len = FW_SIZE;
    cfg.debugcon = on_byte;
    cfg.debugcon_opaque = t;
    cr_assert_eq(emu_pc_new(&cfg, &t->pc, &err), 0, "%s", err.msg);
    return t;
}

static pc_test *boot(const char *name, uint64_t ram)
{
    return boot_ns(name, ram, EMU_PC_DEFAULT_NS);
}

static void done(pc_test *t)
{
    emu_pc_free(t->pc);
    free(t);
}

Test(pc, reset_vector_cmos_fw_cfg_and_a20)
{
    pc_test *t = boot("hello", EMU_PC_DEFAULT_RAM);

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    /* 128 MiB: (128 - 16) MiB / 64 KiB = 0x0700 in CMOS 0x34/0x35 */
    cr_assert_str_eq(t->out, "HELLO 0700 QEMU A20:wo");
    cr_assert(strstr(emu_pc_stop_reason(t->pc), "interrupts disabled"),
              "%s", emu_pc_stop_reason(t->pc));
    cr_assert(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_FIRMWARE));
    cr_assert(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_OUTPUT));
    cr_assert_not(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_PROTECTED));
    cr_assert(emu_pc_a20(t->pc));
    /* stopped stays stopped */
    cr_assert_eq(emu_pc_run(t->pc, 2000 * MS), EMU_PC_STOPPED);
    done(t);
}

Test(pc, cmos_follows_memory_size)
{
    pc_test *t = boot("hello", 64ull << 20);

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert(strncmp(t->out, "HELLO 0300 ", 11) == 0, "%s", t->out);
    done(t);
}

Test(pc, pit_interrupts_wake_hlt_and_time_skips_ahead)
{
    pc_test *t = boot("timer", EMU_PC_DEFAULT_RAM);
    uint64_t now;

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "TICKS");
    /* ten periods of 11932 / 1.193182 MHz = 10.0001 ms each */
    now = emu_pc_now_ns(t->pc);
    cr_assert(now >= 100 * MS && now < 101 * MS, "now %llu",
              (unsigned long long)now);
    /* idle time was skipped, not executed (100 ms would be 10M insns) */
    cr_assert_lt(emu_pc_retired(t->pc), 10000);
    done(t);
}

Test(pc, interrupt_pending_with_if0_is_injected_after_sti)
{
    pc_test *t = boot_ns("window", EMU_PC_DEFAULT_RAM, 1000);

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "WINDOW");
    /* the 20000-iteration spin alone took 20 ms at 1 us/instruction */
    cr_assert_geq(emu_pc_now_ns(t->pc), 20 * MS);
    done(t);
}

Test(pc, same_guest_same_time_and_instruction_count)
{
    pc_test *a = boot("timer", EMU_PC_DEFAULT_RAM);
    pc_test *b = boot("timer", EMU_PC_DEFAULT_RAM);

    emu_pc_run(a->pc, 1000 * MS);
    emu_pc_run(b->pc, 1000 * MS);
    cr_assert_eq(emu_pc_now_ns(a->pc), emu_pc_now_ns(b->pc));
    cr_assert_eq(emu_pc_retired(a->pc), emu_pc_retired(b->pc));
    done(a);
    done(b);
}

Test(pc, deadline_returns_at_exact_time_and_resumes)
{
    pc_test *t = boot("timer", EMU_PC_DEFAULT_RAM);

    cr_assert_eq(emu_pc_run(t->pc, 55 * MS), EMU_PC_DEADLINE);
    cr_assert_eq(emu_pc_now_ns(t->pc), 55 * MS);   /* idle up to it */
    cr_assert_str_eq(t->out, "");
    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "TICKS");
    done(t);
}

Test(pc, triple_fault_stops_the_guest)
{
    pc_test *t = boot("triple", EMU_PC_DEFAULT_RAM);

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "FAULT");
    cr_assert(strstr(emu_pc_stop_reason(t->pc), "triple fault"), "%s",
              emu_pc_stop_reason(t->pc));
    cr_assert(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_PROTECTED));
    done(t);
}

Test(pc, warm_reset_from_port92_and_8042_restarts_firmware)
{
    pc_test *t = boot("reset", EMU_PC_DEFAULT_RAM);

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    /* after each reset: PIC IMR 00, port 0x92 = 02 (A20 open), UART
     * scratch 00, fw_cfg back on the signature ('Q' = 51) */
    cr_assert_str_eq(t->out, "BOOT1BOOT200020051BOOT300020051");
    cr_assert(emu_pc_a20(t->pc));
    done(t);
}

Test(pc, stop_request_from_callback_returns_and_run_continues)
{
    pc_test *t = boot("hello", EMU_PC_DEFAULT_RAM);

    t->stop_on_byte = true;
    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_REQUESTED);
    cr_assert_str_eq(t->out, "H");
    t->stop_on_byte = false;
    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "HELLO 0700 QEMU A20:wo");
    done(t);
}

Test(pc, boot_sector_stage_at_7c00)
{
    pc_test *t = boot("bootsect", EMU_PC_DEFAULT_RAM);

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "LOAD MBR");
    cr_assert(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_BOOTSECTOR));
    done(t);
}

Test(pc, protected_mode_and_paging_stages)
{
    pc_test *t = boot("paging", EMU_PC_DEFAULT_RAM);
    char where[160];

    cr_assert_eq(emu_pc_run(t->pc, 1000 * MS), EMU_PC_STOPPED);
    cr_assert_str_eq(t->out, "PAGED");
    cr_assert(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_PROTECTED));
    cr_assert(emu_pc_stage_seen(t->pc, EMU_PC_STAGE_PAGING));
    emu_pc_describe_cpu(t->pc, where, sizeof(where));
    cr_assert(strstr(where, "16-bit, linear 000f"), "%s", where);
    cr_assert(strstr(where, ", paged), bytes "), "%s", where);
    done(t);
}

/* ---- configuration errors ---- */

static int try_new(emu_pc_config *cfg, img_err *err)
{
    emu_pc *pc = NULL;
    int r = emu_pc_new(cfg, &pc, err);

    emu_pc_free(pc);
    return r;
}

Test(pc, firmware_of_odd_size_is_refused)
{
    static uint8_t fw[FW_SIZE + 512];
    emu_pc_config cfg;
    img_err err = { 0 };

    emu_pc_config_init(&cfg);
    cfg.bios_data = fw;
    cfg.bios_len = sizeof(fw);
    cr_assert_eq(try_new(&cfg, &err), -EINVAL);
    cr_assert(strstr(err.msg, "not a multiple of 64 KiB"), "%s", err.msg);
    cfg.bios_len = 0;
    cr_assert_eq(try_new(&cfg, &err), -EINVAL);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
}

Test(pc, unreadable_firmware_file_is_refused)
{
    emu_pc_config cfg;
    img_err err = { 0 };

    emu_pc_config_init(&cfg);
    cfg.bios_path = "/nonexistent/vdisk-test-bios.bin";
    cr_assert_eq(try_new(&cfg, &err), -ENOENT);
    cr_assert(strstr(err.msg, "cannot open firmware "
                     "'/nonexistent/vdisk-test-bios.bin'"), "%s", err.msg);
    cfg.bios_path = "/dev/null";            /* not a regular file */
    cr_assert_eq(try_new(&cfg, &err), -EINVAL);
}

Test(pc, firmware_path_option_then_environment_then_default)
{
    emu_pc_config cfg;

    emu_pc_config_init(&cfg);
    unsetenv(EMU_PC_BIOS_ENV);
    cr_assert_str_eq(emu_pc_bios_path(&cfg), EMU_PC_DEFAULT_BIOS);
    setenv(EMU_PC_BIOS_ENV, "/tmp/env-bios.bin", 1);
    cr_assert_str_eq(emu_pc_bios_path(&cfg), "/tmp/env-bios.bin");
    cfg.bios_path = "/tmp/opt-bios.bin";
    cr_assert_str_eq(emu_pc_bios_path(&cfg), "/tmp/opt-bios.bin");
    unsetenv(EMU_PC_BIOS_ENV);
}

Test(pc, memory_size_limits)
{
    static uint8_t fw[FW_SIZE];
    emu_pc_config cfg;
    img_err err = { 0 };

    emu_pc_config_init(&cfg);
    cfg.bios_data = fw;
    cfg.bios_len = sizeof(fw);
    cfg.ram_size = 1u << 20;
    cr_assert_eq(try_new(&cfg, &err), -EINVAL);
    cr_assert(strstr(err.msg, "outside 2 MiB..3.5 GiB"), "%s", err.msg);
    cfg.ram_size = (64u << 20) + 4096;
    cr_assert_eq(try_new(&cfg, &err), -EINVAL);
    cfg.ram_size = 4ull << 30;
    cr_assert_eq(try_new(&cfg, &err), -EINVAL);
}
