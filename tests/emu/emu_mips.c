/*
 * tests/emu/emu_mips.c -- measures the interpreter's speed in MIPS.
 *
 *   emu_mips GUEST.bin [REPEAT]
 *
 * Loads a real-mode guest program at 0000:7C00 in 1 MiB of RAM (as the
 * guest tests do), runs it to its final HLT REPEAT times (default 3) and
 * prints the retired instructions and the best rate in millions of
 * instructions per second of CPU time (process CPU time, so that other load on the machine matters less).  Port writes are discarded and
 * port reads return all ones.  A benchmark tool, not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu/accel/accel.h"

#define RAM_SIZE   (1u << 20)
#define LOAD_ADDR  0x7C00u

/* Loads the guest image; returns its size or 0 on error. */
static size_t load(const char *path, uint8_t *ram)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        perror(path);
        return 0;
    }
    n = fread(ram + LOAD_ADDR, 1, RAM_SIZE - LOAD_ADDR, f);
    fclose(f);
    return n;
}

/* Runs the guest once to HLT; returns retired instructions or 0. */
static uint64_t run_once(const char *path)
{
    uint8_t *ram = calloc(1, RAM_SIZE);
    emu_accel *cpu = emu_interp_new();
    uint64_t total = 0;
    emu_regs r;
    emu_exit ex;

    if (ram == NULL || cpu == NULL || load(path, ram) == 0 ||
        cpu->ops->map_ram(cpu, 0, RAM_SIZE, ram) < 0) {
        goto out;
    }
    cpu->ops->get_regs(cpu, &r);
    r.seg[EMU_CS] = (emu_segment){ 0, 0, 0xFFFF, 0x9B };
    r.eip = LOAD_ADDR;
    cpu->ops->set_regs(cpu, &r);
    for (;;) {
        if (cpu->ops->run(cpu, 100000000u, &ex) < 0) {
            total = 0;
            break;
        }
        total += ex.retired;
        if (ex.reason == EMU_EXIT_IO && !ex.io.is_write) {
            cpu->ops->complete_io(cpu, 0xFFFFFFFFu);
        } else if (ex.reason != EMU_EXIT_IO && ex.reason != EMU_EXIT_BUDGET) {
            break;
        }
    }
out:
    if (cpu != NULL) {
        cpu->ops->free(cpu);
    }
    free(ram);
    return total;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int repeat = argc > 2 ? atoi(argv[2]) : 3;
    double best = 0;
    uint64_t n = 0;

    if (argc < 2 || repeat < 1) {
        fprintf(stderr, "usage: emu_mips GUEST.bin [REPEAT]\n");
        return 2;
    }
    for (int i = 0; i < repeat; i++) {
        double t0 = now(), mips;
        n = run_once(argv[1]);
        mips = (double)n / (now() - t0) / 1e6;
        if (n == 0) {
            fprintf(stderr, "emu_mips: %s: guest did not run\n", argv[1]);
            return 1;
        }
        best = mips > best ? mips : best;
    }
    printf("%s: %llu instructions, %.1f MIPS\n", argv[1],
           (unsigned long long)n, best);
    return 0;
}
