/*
 * tests/emu/test_cpu_real.c -- runs the real-mode guest programs.
 *
 * Each guest (tests/emu/guests/<name>.S, assembled at build time) is
 * loaded at 0000:7C00 in 1 MiB of RAM behind the interpreter backend,
 * with a debug console on ports 0x402 and 0xE9 (the machine of
 * guest_run.c).  The harness expects a HLT exit with "PASS" on the
 * console; the negative control must report its failure.
 */
#include <criterion/criterion.h>

#include "guest_run.h"

/* Runs guest 'name' and checks that it halts printing 'expect'. */
static void expect_output(const char *name, const char *expect)
{
    guest_expect_run(name, expect, EMU_EXIT_HLT);
}

Test(cpu_real, alu_add_sub_logic_incdec)
{
    expect_output("alu", "PASS");
}

Test(cpu_real, shifts_and_rotates)
{
    expect_output("shift", "PASS");
}

Test(cpu_real, mul_div_and_divide_error)
{
    expect_output("muldiv", "PASS");
}

Test(cpu_real, stack_jumps_calls_interrupts)
{
    expect_output("flow", "PASS");
}

Test(cpu_real, string_ops_with_rep)
{
    expect_output("string", "PASS");
}

Test(cpu_real, moves_bits_cpuid_rdtsc_io)
{
    expect_output("misc", "PASS");
}

Test(cpu_real, negative_control_reports_failure)
{
    expect_output("negative", "FAIL:01");
}

Test(cpu_real, cmpxchg_xadd_bswap_shld_shrd)
{
    expect_output("ext", "PASS");
}
