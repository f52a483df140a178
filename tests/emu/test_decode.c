/*
 * tests/emu/test_decode.c -- the instruction decoder on known encodings.
 *
 * Byte sequences taken from the SDM's ModRM/SIB tables (and checked with
 * objdump), decoded in 16- and 32-bit code: length, operand and address
 * size, ModRM fields, base/index/scale, displacement, immediates,
 * prefixes, and the errors for truncated and over-long input.
 */
#include <criterion/criterion.h>

#include "emu/accel/accel.h"
#include "emu/cpu/decode.h"

/* Decodes bytes, asserting success and the expected length. */
static emu_insn dec(const uint8_t *b, size_t n, bool code32)
{
    emu_insn in;
    int r = emu_decode(b, n, code32, &in);

    cr_assert_eq(r, (int)n, "decoded length %d, want %zu", r, n);
    cr_assert_eq(in.len, n);
    return in;
}

#define DEC16(...) dec((const uint8_t[]){ __VA_ARGS__ }, \
    sizeof((const uint8_t[]){ __VA_ARGS__ }), false)
#define DEC32(...) dec((const uint8_t[]){ __VA_ARGS__ }, \
    sizeof((const uint8_t[]){ __VA_ARGS__ }), true)

Test(decode, modrm16_base_index_disp16)
{
    emu_insn in = DEC16(0x8B, 0x80, 0x34, 0x12);  /* mov ax,[bx+si+1234] */

    cr_assert_eq(in.op, 0x8B);
    cr_assert_eq(in.opsize, 2);
    cr_assert_eq(in.adsize, 2);
    cr_assert_eq(in.mod, 2);
    cr_assert_eq(in.base, EMU_EBX);
    cr_assert_eq(in.index, EMU_ESI);
    cr_assert_eq(in.disp, 0x1234);
    cr_assert_eq(in.def_seg, EMU_DS);
}

Test(decode, modrm16_bp_defaults_to_ss_and_disp8_sign_extends)
{
    emu_insn in = DEC16(0x36, 0x8B, 0x46, 0xFE);  /* mov ax,ss:[bp-2] */

    cr_assert_eq(in.seg, EMU_SS);
    cr_assert_eq(in.base, EMU_EBP);
    cr_assert_eq(in.index, EMU_REG_NONE);
    cr_assert_eq(in.disp, 0xFFFFFFFEu);
    cr_assert_eq(in.def_seg, EMU_SS);
}

Test(decode, size_prefixes_select_sib_addressing_in_16bit_code)
{
    /* mov eax,[ebx+ecx*4+8] */
    emu_insn in = DEC16(0x66, 0x67, 0x8B, 0x44, 0x8B, 0x08);

    cr_assert_eq(in.opsize, 4);
    cr_assert_eq(in.adsize, 4);
    cr_assert_eq(in.base, EMU_EBX);
    cr_assert_eq(in.index, EMU_ECX);
    cr_assert_eq(in.scale, 2);
    cr_assert_eq(in.disp, 8);
}

Test(decode, disp16_only_and_immediate)
{
    emu_insn in = DEC16(0xC7, 0x06, 0x00, 0x05, 0x34, 0x12);

    cr_assert_eq(in.base, EMU_REG_NONE);
    cr_assert_eq(in.disp, 0x500);
    cr_assert_eq(in.imm, 0x1234);
}

Test(decode, group3_has_immediate_only_for_test)
{
    emu_insn t = DEC16(0xF6, 0x06, 0x00, 0x05, 0x80);   /* test [500],80 */
    emu_insn n = DEC16(0xF7, 0xD0);                     /* not ax */

    cr_assert_eq(t.reg, 0);
    cr_assert_eq(t.imm & 0xFF, 0x80);
    cr_assert_eq(n.reg, 2);
    cr_assert_eq(n.mod, 3);
}

Test(decode, rep_far_jump_and_two_byte_jcc)
{
    emu_insn rep = DEC16(0xF3, 0xA4);
    emu_insn far = DEC16(0xEA, 0x00, 0x7C, 0x00, 0x00);
    emu_insn jcc = DEC16(0x0F, 0x84, 0x10, 0x00);

    cr_assert_eq(rep.rep, 0xF3);
    cr_assert_eq(rep.op, 0xA4);
    cr_assert_eq(far.imm, 0x7C00);
    cr_assert_eq(far.imm2, 0);
    cr_assert_eq(jcc.op, EMU_OP_0F | 0x84);
    cr_assert_eq(jcc.imm, 0x10);
}

Test(decode, code32_sib_forms)
{
    emu_insn esp = DEC32(0x8B, 0x04, 0x24);                   /* [esp] */
    emu_insn abs = DEC32(0x8B, 0x05, 0x78, 0x56, 0x34, 0x12); /* [abs] */
    emu_insn ebp = DEC32(0x8B, 0x44, 0x25, 0x00);             /* [ebp+0] */
    emu_insn nob = DEC32(0x8B, 0x04, 0x8D, 0x10, 0, 0, 0);    /* [ecx*4+16] */

    cr_assert_eq(esp.base, EMU_ESP);
    cr_assert_eq(esp.index, EMU_REG_NONE);
    cr_assert_eq(esp.def_seg, EMU_SS);
    cr_assert_eq(abs.base, EMU_REG_NONE);
    cr_assert_eq(abs.disp, 0x12345678);
    cr_assert_eq(ebp.base, EMU_EBP);
    cr_assert_eq(ebp.def_seg, EMU_SS);
    cr_assert_eq(nob.base, EMU_REG_NONE);
    cr_assert_eq(nob.index, EMU_ECX);
    cr_assert_eq(nob.disp, 16);
    cr_assert_eq(esp.opsize, 4);
}

Test(decode, truncated_and_overlong_input)
{
    const uint8_t part[] = { 0x8B, 0x87, 0x34 };
    uint8_t pfx[16];
    emu_insn in;

    cr_assert_eq(emu_decode(part, sizeof(part), false, &in), -2);
    for (size_t i = 0; i < sizeof(pfx); i++) {
        pfx[i] = 0x66;
    }
    cr_assert_eq(emu_decode(pfx, sizeof(pfx), false, &in), -1);
}
