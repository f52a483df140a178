/*
 * emu/machine/pc.c -- building the ISA PC: memory map, devices, CMOS and
 * fw_cfg contents, reset.
 *
 * The layout follows QEMU's isapc machine (hw/i386/pc_piix.c with
 * pci_enabled = false): RAM from 0 with the VGA hole at 0xA0000-0xBFFFF,
 * the firmware at 4 GiB minus its size and its last 128 KiB (the
 * "isa-bios") below 1 MiB as writable RAM, which SeaBIOS needs because
 * an ISA PC has no shadow-RAM controller.  The CMOS bytes are those of
 * QEMU's pc_cmos_init() and pc_cmos_init_late(); the fw_cfg items are the
 * ones SeaBIOS's src/fw/paravirt.c reads (docs/specs/fw_cfg.rst).
 */
#include "pc_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware.h"

/* CMOS indexes (QEMU hw/i386/pc.c, SeaBIOS src/hw/rtc.h). */
#define CMOS_HD_TYPES      0x12   /* drive 0 / 1 types, high / low nibble */
#define CMOS_EQUIPMENT     0x14
#define CMOS_BASE_LO       0x15   /* base memory in KiB */
#define CMOS_EXT_LO        0x17   /* memory from 1 MiB in KiB (and 0x30) */
#define CMOS_HD0_TYPE      0x19
#define CMOS_HD0_INFO      0x1B   /* 9 bytes of geometry */
#define CMOS_EXT_LO2       0x30
#define CMOS_EXT16_LO      0x34   /* memory from 16 MiB in 64 KiB units */
#define CMOS_BOOTFLAG1     0x38   /* third boot device, floppy check */
#define CMOS_HD_TRANS      0x39   /* BIOS CHS translation, 2 bits/drive */
#define CMOS_BOOTFLAG2     0x3D   /* first and second boot devices */
#define CMOS_HIGH_LO       0x5B   /* memory above 4 GiB, 64 KiB units */
#define CMOS_SMP_COUNT     0x5F   /* number of CPUs - 1 */

#define BOOT_DEV_HD        2      /* QEMU's set_boot_dev() code for 'c' */
#define E820_RAM           1

void emu_pc_config_init(emu_pc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ram_size = EMU_PC_DEFAULT_RAM;
    cfg->ns_per_insn = EMU_PC_DEFAULT_NS;
    cfg->rtc_epoch = EMU_PC_DEFAULT_EPOCH;
}

const char *emu_pc_bios_path(const emu_pc_config *cfg)
{
    const char *env = getenv(EMU_PC_BIOS_ENV);

    if (cfg->bios_path != NULL) {
        return cfg->bios_path;
    }
    return env != NULL && *env != '\0' ? env : EMU_PC_DEFAULT_BIOS;
}

void pc_stage(emu_pc *pc, enum emu_pc_stage s, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    if (pc->stages & (1u << s)) {
        return;
    }
    pc->stages |= 1u << s;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (pc->cfg.stage != NULL) {
        pc->cfg.stage(pc->cfg.stage_opaque, s, pc->vc.now_ns, detail);
    }
}

void pc_stop(emu_pc *pc, const char *fmt, ...)
{
    va_list ap;

    if (pc->stopped) {
        return;             /* the first reason is the interesting one */
    }
    pc->stopped = true;
    va_start(ap, fmt);
    vsnprintf(pc->stop_reason, sizeof(pc->stop_reason), fmt, ap);
    va_end(ap);
}

/* ---- output sinks ---- */

static void pc_output_seen(emu_pc *pc, const char *where)
{
    pc_stage(pc, EMU_PC_STAGE_OUTPUT, "on %s", where);
}

static void serial_sink(void *opaque, uint8_t byte)
{
    emu_pc *pc = opaque;

    pc_output_seen(pc, "COM1");
    if (pc->cfg.serial != NULL) {
        pc->cfg.serial(pc->cfg.serial_opaque, byte);
    }
}

void pc_flush_debugcon(emu_pc *pc)
{
    size_t len;
    const char *s = emu_debugcon_output(pc->dcon, &len);

    if (len == 0) {
        return;
    }
    pc_output_seen(pc, "the debug console");
    for (size_t i = 0; i < len && pc->cfg.debugcon != NULL; i++) {
        pc->cfg.debugcon(pc->cfg.debugcon_opaque, (uint8_t)s[i]);
    }
    emu_debugcon_clear(pc->dcon);
}

/* ---- memory map ---- */

/* The firmware at the top of 4 GiB reads from the image, ignores writes. */
static uint64_t fw_read(void *opaque, uint64_t off, unsigned size)
{
    emu_pc *pc = opaque;
    uint64_t v = 0;

    for (unsigned i = 0; i < size && off + i < pc->fw_size; i++) {
        v |= (uint64_t)pc->fw[off + i] << (8 * i);
    }
    return v;
}

static void fw_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
    (void)opaque, (void)off, (void)size, (void)v;   /* ROM */
}

/* Copies the firmware's last 128 KiB (or all of it) below 1 MiB. */
static void pc_copy_isa_bios(emu_pc *pc)
{
    size_t n = pc->fw_size < EMU_PC_ISA_BIOS_SIZE ? pc->fw_size
                                                  : EMU_PC_ISA_BIOS_SIZE;

    memcpy(pc->ram + PC_1M - n, pc->fw + pc->fw_size - n, n);
}

/* Maps [gpa, gpa+size) of pc->ram on the bus and in the accelerator. */
/* A device (fw_cfg DMA) wrote guest RAM: decoded code there is stale. */
static void pc_dma_written(void *opaque, uint64_t gpa, uint64_t len)
{
    emu_pc *pc = opaque;

    emu_interp_phys_written(pc->accel, gpa, len);
}

static int pc_map_ram(emu_pc *pc, uint64_t gpa, uint64_t size, img_err *err)
{
    int r = emu_bus_add_ram(pc->bus, gpa, size, pc->ram + gpa);

    if (r >= 0) {
        r = pc->accel->ops->map_ram(pc->accel, gpa, size, pc->ram + gpa);
    }
    if (r < 0) {
        return img_err_set(err, -r, "cannot map RAM at %#" PRIx64 ": %s",
                           gpa, strerror(-r));
    }
    return 0;
}

static int pc_setup_memory(emu_pc *pc, img_err *err)
{
    uint64_t top = 1ull << 32;
    int r;

    pc->ram = calloc(1, pc->cfg.ram_size);
    if (pc->ram == NULL) {
        return img_err_set(err, ENOMEM, "cannot allocate %" PRIu64
                           " bytes of guest RAM", pc->cfg.ram_size);
    }
    r = pc_map_ram(pc, 0, PC_LOW_RAM_END, err);
    if (r >= 0) {
        r = pc_map_ram(pc, PC_UPPER_START,
                       pc->cfg.ram_size - PC_UPPER_START, err);
    }
    if (r >= 0) {
        r = emu_bus_add_mmio(pc->bus, top - pc->fw_size, pc->fw_size,
                             fw_read, fw_write, pc);
        if (r < 0) {
            return img_err_set(err, -r, "cannot map the firmware: %s",
                               strerror(-r));
        }
    }
    if (r >= 0) {
        pc_copy_isa_bios(pc);
        emu_interp_attach_bus(pc->accel, pc->bus);
        emu_bus_set_ram_written(pc->bus, pc_dma_written, pc);
    }
    return r;
}

static int pc_load_firmware(emu_pc *pc, img_err *err)
{
    const char *path = emu_pc_bios_path(&pc->cfg);

    if (pc->cfg.bios_data != NULL) {
        snprintf(pc->fw_name, sizeof(pc->fw_name), "<memory>");
        pc->fw_size = pc->cfg.bios_len;
        if (emu_fw_check_size(pc->fw_size, pc->fw_name, err) < 0) {
            return -EINVAL;
        }
        pc->fw = malloc(pc->fw_size);
        if (pc->fw == NULL) {
            return img_err_set(err, ENOMEM, "out of memory");
        }
        memcpy(pc->fw, pc->cfg.bios_data, pc->fw_size);
        return 0;
    }
    snprintf(pc->fw_name, sizeof(pc->fw_name), "%s", path);
    return emu_fw_load(path, &pc->fw, &pc->fw_size, err);
}

/* ---- A20 and reset callbacks from port 0x92 and the 8042 ---- */

static void pc_a20(void *opaque, bool enabled)
{
    emu_pc *pc = opaque;

    pc->a20 = enabled;
    emu_interp_set_a20(pc->accel, enabled);
}

static void pc_reset_request(void *opaque)
{
    emu_pc_request_reset(opaque);
}

void emu_pc_request_reset(emu_pc *pc)
{
    pc->reset_pending = true;
}

/* ---- CMOS ---- */

/* Sets a little-endian 16-bit value at CMOS index i. */
static void cmos_set16(emu_cmos *c, unsigned i, uint32_t v)
{
    emu_cmos_set(c, i, v & 0xFF);
    emu_cmos_set(c, i + 1, (v >> 8) & 0xFF);
}

/* Memory size registers, as QEMU's pc_cmos_init() fills them. */
static void pc_cmos_memory(emu_pc *pc)
{
    uint64_t ram = pc->cfg.ram_size;
    uint64_t base = ram / 1024 < 640 ? ram / 1024 : 640;
    uint64_t ext = ram > PC_1M ? (ram - PC_1M) / 1024 : 0;
    uint64_t ext16 = ram > (16u << 20) ? (ram - (16u << 20)) >> 16 : 0;

    ext = ext > 65535 ? 65535 : ext;
    ext16 = ext16 > 65535 ? 65535 : ext16;
    cmos_set16(pc->cmos, CMOS_BASE_LO, (uint32_t)base);
    cmos_set16(pc->cmos, CMOS_EXT_LO, (uint32_t)ext);
    cmos_set16(pc->cmos, CMOS_EXT_LO2, (uint32_t)ext);
    cmos_set16(pc->cmos, CMOS_EXT16_LO, (uint32_t)ext16);
    for (unsigned i = 0; i < 3; i++) {
        emu_cmos_set(pc->cmos, CMOS_HIGH_LO + i, 0);   /* nothing > 4 GiB */
    }
}

/*
 * The disk's geometry as QEMU guesses it without a usable partition
 * table (hw/block/hd-geometry.c, guess_chs_for_size): 16 heads, 63
 * sectors, 2..16383 cylinders; BIOS translation "none" up to 1024
 * cylinders, else LBA.
 */
static void pc_cmos_disk(emu_pc *pc)
{
    uint64_t sectors = img_size(pc->cfg.disk) / 512;
    uint64_t cyls64 = sectors / (16 * 63);
    unsigned cyls = cyls64 > 16383 ? 16383 : cyls64 < 2 ? 2 : (unsigned)cyls64;
    unsigned heads = 16, secs = 63, info = CMOS_HD0_INFO;

    emu_cmos_set(pc->cmos, CMOS_HD_TYPES, 0xF0);
    emu_cmos_set(pc->cmos, CMOS_HD0_TYPE, 47);     /* user-defined type */
    cmos_set16(pc->cmos, info, cyls);
    emu_cmos_set(pc->cmos, info + 2, heads);
    emu_cmos_set(pc->cmos, info + 3, 0xFF);        /* no write precomp */
    emu_cmos_set(pc->cmos, info + 4, 0xFF);
    emu_cmos_set(pc->cmos, info + 5, 0xC0 | ((heads > 8) << 3));
    cmos_set16(pc->cmos, info + 6, cyls);          /* landing zone */
    emu_cmos_set(pc->cmos, info + 8, secs);
    emu_cmos_set(pc->cmos, CMOS_HD_TRANS, cyls <= 1024 ? 0 : 1);
}

static void pc_cmos_init(emu_pc *pc)
{
    pc_cmos_memory(pc);
    emu_cmos_set(pc->cmos, CMOS_SMP_COUNT, 0);      /* one CPU */
    /* FPU present, PS/2 mouse port; no floppy drives. */
    emu_cmos_set(pc->cmos, CMOS_EQUIPMENT, 0x06);
    /* Boot order "c": hard disk only; keep the floppy signature check. */
    emu_cmos_set(pc->cmos, CMOS_BOOTFLAG2, BOOT_DEV_HD);
    emu_cmos_set(pc->cmos, CMOS_BOOTFLAG1, 0x00);
    if (pc->cfg.disk != NULL) {
        pc_cmos_disk(pc);
    }
}

/* ---- fw_cfg ---- */

/* Stores v little-endian in n bytes at p. */
static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static int pc_fw_cfg_init(emu_pc *pc)
{
    uint8_t e820[20], word[2];
    int r;

    put_le(e820, 0, 8);                     /* struct e820_entry */
    put_le(e820 + 8, pc->cfg.ram_size, 8);
    put_le(e820 + 16, E820_RAM, 4);
    r = emu_fw_cfg_add_i64(pc->fw_cfg, EMU_FW_CFG_RAM_SIZE,
                           pc->cfg.ram_size);
    r = r < 0 ? r : emu_fw_cfg_add_i16(pc->fw_cfg, EMU_FW_CFG_NB_CPUS, 1);
    r = r < 0 ? r : emu_fw_cfg_add_i16(pc->fw_cfg, EMU_FW_CFG_MAX_CPUS, 1);
    r = r < 0 ? r : emu_fw_cfg_add_file(pc->fw_cfg, "etc/e820", e820,
                                        sizeof(e820));
    put_le(word, 0, 2);
    r = r < 0 ? r : emu_fw_cfg_add_file(pc->fw_cfg, "etc/show-boot-menu",
                                        word, sizeof(word));
    put_le(word, 0x3F8, 2);                 /* INT 10h text to COM1 */
    r = r < 0 ? r : emu_fw_cfg_add_file(pc->fw_cfg, "etc/sercon-port",
                                        word, sizeof(word));
    return r;
}

/* ---- devices ---- */

static int pc_setup_devices(emu_pc *pc, img_err *err)
{
    emu_vclock_init(&pc->vc);
    pc->pic = emu_pic_new(pc->bus);
    if (pc->pic == NULL) {
        return img_err_set(err, ENOMEM, "cannot create the PIC");
    }
    pc->pit = emu_pit_new(pc->bus, &pc->vc, emu_pic_irq(pc->pic, 0));
    pc->cmos = emu_cmos_new(pc->bus, &pc->vc, emu_pic_irq(pc->pic, 8),
                            pc->cfg.rtc_epoch);
    pc->uart = emu_uart_new(pc->bus, 0x3F8, emu_pic_irq(pc->pic, 4),
                            serial_sink, pc);
    pc->ide = emu_ide_new(pc->bus, 0x1F0, 0x3F6, emu_pic_irq(pc->pic, 14),
                          pc->cfg.disk);
    pc->kbd = emu_i8042_new(pc->bus, emu_pic_irq(pc->pic, 1),
                            pc_reset_request, pc);
    pc->port92 = emu_port92_new(pc->bus, pc_a20, pc_reset_request, pc);
    pc->fw_cfg = emu_fw_cfg_new(pc->bus);
    pc->dcon = emu_debugcon_new(pc->bus, 0x402);
    if (!pc->pit || !pc->cmos || !pc->uart || !pc->ide || !pc->kbd ||
        !pc->port92 || !pc->fw_cfg || !pc->dcon) {
        return img_err_set(err, ENOMEM, "cannot create the devices");
    }
    emu_i8042_set_a20(pc->kbd, pc_a20);     /* output port bit 1 */
    emu_i8042_set_irq12(pc->kbd, emu_pic_irq(pc->pic, 12));
    pc_cmos_init(pc);
    if (pc_fw_cfg_init(pc) < 0) {
        return img_err_set(err, ENOMEM, "cannot fill fw_cfg");
    }
    return 0;
}

static int pc_check_config(const emu_pc_config *cfg, img_err *err)
{
    if (cfg->ram_size < EMU_PC_MIN_RAM || cfg->ram_size > EMU_PC_MAX_RAM) {
        return img_err_set(err, EINVAL, "memory size %" PRIu64 " is "
                           "outside 2 MiB..3.5 GiB", cfg->ram_size);
    }
    if (cfg->ram_size % (64u << 10) != 0) {
        return img_err_set(err, EINVAL, "memory size %" PRIu64 " is not "
                           "a multiple of 64 KiB", cfg->ram_size);
    }
    if (cfg->ns_per_insn == 0) {
        return img_err_set(err, EINVAL, "nanoseconds per instruction "
                           "must be at least 1");
    }
    return 0;
}

int emu_pc_new(const emu_pc_config *cfg, emu_pc **out, img_err *err)
{
    emu_pc *pc;
    int r = pc_check_config(cfg, err);

    if (r < 0) {
        return r;
    }
    pc = calloc(1, sizeof(*pc));
    if (pc == NULL) {
        return img_err_set(err, ENOMEM, "out of memory");
    }
    pc->cfg = *cfg;
    pc->a20 = true;
    pc->bus = emu_bus_new();
    pc->accel = emu_interp_new();
    if (pc->bus == NULL || pc->accel == NULL) {
        r = img_err_set(err, ENOMEM, "out of memory");
    }
    r = r < 0 ? r : pc_load_firmware(pc, err);
    r = r < 0 ? r : pc_setup_memory(pc, err);
    r = r < 0 ? r : pc_setup_devices(pc, err);
    if (r < 0) {
        emu_pc_free(pc);
        return r;
    }
    *out = pc;
    return 0;
}

void emu_pc_free(emu_pc *pc)
{
    if (pc == NULL) {
        return;
    }
    emu_debugcon_free(pc->dcon);
    emu_fw_cfg_free(pc->fw_cfg);
    emu_port92_free(pc->port92);
    emu_i8042_free(pc->kbd);
    emu_ide_free(pc->ide);
    emu_uart_free(pc->uart);
    emu_cmos_free(pc->cmos);
    emu_pit_free(pc->pit);
    emu_pic_free(pc->pic);
    if (pc->accel != NULL) {
        pc->accel->ops->free(pc->accel);
    }
    emu_bus_free(pc->bus);
    free(pc->fw);
    free(pc->ram);
    free(pc);
}

/*
 * Warm reset: the CPU goes back to its power-on register state (the
 * TSC keeps counting), the PICs, the PIT, the RTC's interrupt state, the
 * 8042, port 0x92, the UART, the IDE drive and fw_cfg's selector get
 * their reset values, A20 is enabled again and the BIOS copy below
 * 1 MiB is restored from the image, as QEMU's ROM reset does, so that
 * SeaBIOS runs its POST again.  Kept: RAM, CMOS bytes, the serial output
 * already sent, the disk with its write overlay and fw_cfg's items.
 */
void pc_reset(emu_pc *pc)
{
    emu_regs r;
    uint64_t tsc;

    pc->reset_pending = false;
    pc->accel->ops->get_regs(pc->accel, &r);
    tsc = r.tsc;
    memset(&r, 0, sizeof(r));
    r.gpr[EMU_EDX] = 0x633;             /* family 6 model 3 stepping 3 */
    r.eip = 0xFFF0;
    r.eflags = 0x2;
    for (unsigned s = 0; s < EMU_NSEG; s++) {
        r.seg[s] = (emu_segment){ 0, 0, 0xFFFF, 0x93 };
    }
    r.seg[EMU_CS] = (emu_segment){ 0xF000, 0xFFFF0000u, 0xFFFF, 0x9B };
    r.gdtr = (emu_dtable){ 0, 0xFFFF };
    r.idtr = (emu_dtable){ 0, 0x3FF };
    r.cr[0] = 0x60000010u;
    r.tsc = tsc;
    pc->accel->ops->set_regs(pc->accel, &r);
    emu_pic_reset(pc->pic);
    emu_pit_reset(pc->pit);
    emu_cmos_reset(pc->cmos);
    emu_i8042_reset(pc->kbd);
    emu_port92_reset(pc->port92);
    emu_uart_reset(pc->uart);
    emu_ide_reset(pc->ide);
    emu_fw_cfg_reset(pc->fw_cfg);
    pc_a20(pc, true);
    pc_copy_isa_bios(pc);
}

/* ---- accessors ---- */

void emu_pc_request_stop(emu_pc *pc)
{
    pc->stop_requested = true;
}

const char *emu_pc_stop_reason(const emu_pc *pc)
{
    return pc->stop_reason;
}

uint64_t emu_pc_now_ns(const emu_pc *pc)
{
    return emu_vclock_now(&pc->vc);
}

uint64_t emu_pc_retired(const emu_pc *pc)
{
    return pc->retired;
}

bool emu_pc_stage_seen(const emu_pc *pc, enum emu_pc_stage s)
{
    return (pc->stages >> s) & 1u;
}

const char *emu_pc_stage_name(enum emu_pc_stage s)
{
    static const char *const names[EMU_PC_STAGE_COUNT] = {
        [EMU_PC_STAGE_FIRMWARE] = "firmware started",
        [EMU_PC_STAGE_OUTPUT] = "firmware output",
        [EMU_PC_STAGE_PROTECTED] = "protected mode",
        [EMU_PC_STAGE_PAGING] = "paging enabled",
        [EMU_PC_STAGE_BOOTSECTOR] = "boot sector running",
    };

    return (unsigned)s < EMU_PC_STAGE_COUNT ? names[s] : "?";
}

bool emu_pc_a20(const emu_pc *pc)
{
    return pc->a20;
}

emu_accel *emu_pc_accel(emu_pc *pc)
{
    return pc->accel;
}

uint8_t *emu_pc_ram(emu_pc *pc, uint64_t *size)
{
    if (size != NULL) {
        *size = pc->cfg.ram_size;
    }
    return pc->ram;
}
