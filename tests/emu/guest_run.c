/* tests/emu/guest_run.c -- see guest_run.h. */
#include "guest_run.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define RAM_SIZE    (1u << 20)
#define LOAD_ADDR   0x7C00u
#define MAX_RUNS    100000      /* run() calls before giving up */
#define BUDGET      1000000u    /* instructions per run() */

/* Loads guests/<name>.bin into ram at LOAD_ADDR. */
static void load_guest(const char *name, uint8_t *ram)
{
    char path[512];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s.bin", EMU_GUEST_DIR, name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    n = fread(ram + LOAD_ADDR, 1, RAM_SIZE - LOAD_ADDR, f);
    fclose(f);
    cr_assert_gt(n, 0, "%s is empty", path);
}

void guest_vm_init(guest_vm *vm, const char *name)
{
    emu_regs r;

    vm->ram = calloc(1, RAM_SIZE);
    vm->bus = emu_bus_new();
    vm->cpu = emu_interp_new();
    cr_assert(vm->ram && vm->bus && vm->cpu);
    cr_assert_eq(emu_bus_add_ram(vm->bus, 0, RAM_SIZE, vm->ram), 0);
    vm->con402 = emu_debugcon_new(vm->bus, 0x402);
    vm->con_e9 = emu_debugcon_new(vm->bus, 0xE9);
    cr_assert(vm->con402 && vm->con_e9);
    cr_assert_eq(vm->cpu->ops->map_ram(vm->cpu, 0, RAM_SIZE, vm->ram), 0);
    load_guest(name, vm->ram);
    /* real mode, CS = 0 (a present, writable code segment), IP = 7C00 */
    cr_assert_eq(vm->cpu->ops->get_regs(vm->cpu, &r), 0);
    r.seg[EMU_CS] = (emu_segment){ 0, 0, 0xFFFF, 0x9B };
    r.eip = LOAD_ADDR;
    cr_assert_eq(vm->cpu->ops->set_regs(vm->cpu, &r), 0);
}

void guest_vm_fini(guest_vm *vm)
{
    vm->cpu->ops->free(vm->cpu);
    emu_debugcon_free(vm->con402);
    emu_debugcon_free(vm->con_e9);
    emu_bus_free(vm->bus);
    free(vm->ram);
}

enum emu_exit_reason guest_vm_run(guest_vm *vm)
{
    emu_exit ex;

    for (int i = 0; i < MAX_RUNS; i++) {
        cr_assert_eq(vm->cpu->ops->run(vm->cpu, BUDGET, &ex), 0);
        if (ex.reason == EMU_EXIT_IO && ex.io.is_write) {
            emu_bus_pio_write(vm->bus, ex.io.port, ex.io.size, ex.io.data);
        } else if (ex.reason == EMU_EXIT_IO) {
            /* an IN: the bus answers, the CPU completes the instruction */
            uint32_t v = emu_bus_pio_read(vm->bus, ex.io.port, ex.io.size);
            cr_assert_eq(vm->cpu->ops->complete_io(vm->cpu, v), 0);
        } else if (ex.reason != EMU_EXIT_BUDGET) {
            return ex.reason;
        }
    }
    cr_assert_fail("guest did not stop");
    return EMU_EXIT_BUDGET;
}

void guest_expect_run(const char *name, const char *expect,
                      enum emu_exit_reason want)
{
    guest_vm vm;
    enum emu_exit_reason why;

    guest_vm_init(&vm, name);
    why = guest_vm_run(&vm);
    cr_expect_str_eq(emu_debugcon_output(vm.con402, NULL), expect,
                     "guest %s printed \"%s\"", name,
                     emu_debugcon_output(vm.con402, NULL));
    cr_expect_eq(why, want, "guest %s stopped with exit %d", name,
                 (int)why);
    guest_vm_fini(&vm);
}
