/*
 * tests/emu/test_cpu_pm.c -- runs the protected-mode guest programs.
 *
 * As test_cpu_real.c, on the machine of guest_run.c: each guest
 * (tests/emu/guests/<name>.S) is loaded at 0000:7C00 in 1 MiB of RAM
 * behind the interpreter backend, with a debug console on port 0x402.
 * The guests switch to protected mode themselves (guests/pm.inc) and
 * print "PASS" or "FAIL:<check>"; the triple-fault guest must end in a
 * shutdown.
 */
#include <criterion/criterion.h>

#include "guest_run.h"

Test(cpu_pm, segments_faults_system_insns_unreal_mode)
{
    guest_expect_run("pmode", "PASS", EMU_EXIT_HLT);
}

Test(cpu_pm, ring3_interrupts_tss_stack_call_gate)
{
    guest_expect_run("ring3", "PASS", EMU_EXIT_HLT);
}

Test(cpu_pm, triple_fault_shuts_down)
{
    guest_expect_run("triple", "PM", EMU_EXIT_SHUTDOWN);
}

Test(cpu_pm, bcd_bound_enter_ins_outs)
{
    guest_expect_run("legacy", "PASS", EMU_EXIT_HLT);
}
