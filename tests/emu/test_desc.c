/*
 * tests/emu/test_desc.c -- unit tests of descriptor decoding and of the
 * protected-mode segment-load checks (emu/cpu/desc.c), against the rules
 * of SDM vol. 2 (MOV, JMP) and the layouts of SDM vol. 3, figure 3-8.
 */
#include <criterion/criterion.h>

#include "emu/cpu/cpu_int.h"
#include "emu/cpu/desc.h"

/* Decodes a descriptor given as one 64-bit value. */
static emu_desc desc_of(uint64_t q)
{
    emu_desc d;

    emu_desc_decode((uint32_t)q, (uint32_t)(q >> 32), &d);
    return d;
}

Test(desc, decode_flat_code_with_granularity)
{
    emu_desc d = desc_of(0x00CF9A000000FFFFull);

    cr_expect_eq(d.base, 0);
    cr_expect_eq(d.limit, 0xFFFFFFFFu);
    cr_expect_eq(d.attr, 0xC09A);
    cr_expect(d.attr & EMU_SEG_DB);
}

Test(desc, decode_base_and_byte_limit)
{
    emu_desc d = desc_of(0x12409234567801FFull);

    cr_expect_eq(d.base, 0x12345678u);
    cr_expect_eq(d.limit, 0x001FFu);
    cr_expect_eq(d.attr & 0xFF, 0x92);
    cr_expect_eq(emu_desc_dpl(d.attr), 0);
}

Test(desc, decode_call_gate)
{
    emu_desc d = desc_of(0x1234EC0200085678ull);

    cr_expect_eq(d.gate_sel, 0x0008);
    cr_expect_eq(d.gate_off, 0x12345678u);
    cr_expect_eq(d.gate_count, 2);
    cr_expect_eq(emu_desc_type(d.attr), EMU_SYS_CALL32);
    cr_expect_eq(emu_desc_dpl(d.attr), 3);
}

Test(desc, data_load_allowed_at_equal_privilege)
{
    emu_desc d = desc_of(0x00CFF2000000FFFFull);   /* DPL 3 data */
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_data(EMU_DS, 0x33, &d, 3, &err), -1);
    cr_expect_eq(emu_desc_check_data(EMU_SS, 0x33, &d, 3, &err), -1);
}

Test(desc, data_load_more_privileged_segment_is_gp)
{
    emu_desc d = desc_of(0x00CF92000000FFFFull);   /* DPL 0 data */
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_data(EMU_DS, 0x13, &d, 0, &err),
                 EMU_EXC_GP);
    cr_expect_eq(err, 0x10);
    cr_expect_eq(emu_desc_check_data(EMU_ES, 0x10, &d, 3, &err),
                 EMU_EXC_GP);
}

Test(desc, not_present_is_np_for_ds_and_ss_for_ss)
{
    emu_desc d = desc_of(0x00CF12000000FFFFull);   /* P = 0 */
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_data(EMU_FS, 0x48, &d, 0, &err),
                 EMU_EXC_NP);
    cr_expect_eq(err, 0x48);
    cr_expect_eq(emu_desc_check_data(EMU_SS, 0x48, &d, 0, &err),
                 EMU_EXC_SS);
}

Test(desc, stack_needs_writable_data_at_cpl)
{
    emu_desc ro = desc_of(0x00CF90000000FFFFull);  /* read-only data */
    emu_desc code = desc_of(0x00CF9A000000FFFFull);
    emu_desc rw = desc_of(0x00CF92000000FFFFull);
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_data(EMU_SS, 0x10, &ro, 0, &err),
                 EMU_EXC_GP);
    cr_expect_eq(emu_desc_check_data(EMU_SS, 0x08, &code, 0, &err),
                 EMU_EXC_GP);
    cr_expect_eq(emu_desc_check_data(EMU_SS, 0x11, &rw, 0, &err),
                 EMU_EXC_GP);              /* RPL != CPL */
    cr_expect_eq(emu_desc_check_data(EMU_SS, 0x10, &rw, 0, &err), -1);
}

Test(desc, readable_code_in_ds_but_not_execute_only)
{
    emu_desc rx = desc_of(0x00CF9A000000FFFFull);
    emu_desc x = desc_of(0x00CF98000000FFFFull);
    emu_desc conf = desc_of(0x00CF9E000000FFFFull); /* conforming, DPL 0 */
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_data(EMU_DS, 0x08, &rx, 0, &err), -1);
    cr_expect_eq(emu_desc_check_data(EMU_DS, 0x08, &x, 0, &err),
                 EMU_EXC_GP);
    /* Conforming readable code skips the privilege check. */
    cr_expect_eq(emu_desc_check_data(EMU_DS, 0x0B, &conf, 3, &err), -1);
}

Test(desc, system_descriptor_in_data_register_is_gp)
{
    emu_desc tss = desc_of(0x0000890000000067ull);
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_data(EMU_DS, 0x38, &tss, 0, &err),
                 EMU_EXC_GP);
    cr_expect_eq(err, 0x38);
}

Test(desc, far_jump_code_checks)
{
    emu_desc code0 = desc_of(0x00CF9A000000FFFFull);
    emu_desc conf0 = desc_of(0x00CF9E000000FFFFull);
    emu_desc absent = desc_of(0x00CF1A000000FFFFull);
    emu_desc data = desc_of(0x00CF92000000FFFFull);
    uint32_t err = 0;

    cr_expect_eq(emu_desc_check_code(0x08, &code0, 0, &err), -1);
    cr_expect_eq(emu_desc_check_code(0x08, &code0, 3, &err), EMU_EXC_GP);
    cr_expect_eq(emu_desc_check_code(0x0B, &code0, 0, &err), EMU_EXC_GP);
    cr_expect_eq(emu_desc_check_code(0x08, &conf0, 3, &err), -1);
    cr_expect_eq(emu_desc_check_code(0x08, &absent, 0, &err), EMU_EXC_NP);
    cr_expect_eq(emu_desc_check_code(0x10, &data, 0, &err), EMU_EXC_GP);
    cr_expect_eq(err, 0x10);
}
