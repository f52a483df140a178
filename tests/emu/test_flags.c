/*
 * tests/emu/test_flags.c -- lazy arithmetic flags of ADD/ADC/SUB/SBB.
 *
 * Edge cases (carry out, signed overflow, auxiliary carry, parity, zero)
 * at 8, 16 and 32 bits, with expected values worked out from the SDM's
 * definitions by hand, plus the interaction of lazy and stored flags.
 */
#include <criterion/criterion.h>

#include "emu/cpu/cpu.h"

#define CF EMU_FL_CF
#define PF EMU_FL_PF
#define AF EMU_FL_AF
#define ZF EMU_FL_ZF
#define SF EMU_FL_SF
#define OF EMU_FL_OF

/* One ALU case: op(size, a, b) with CF=cin gives res and flags. */
typedef struct flag_case {
    unsigned op, size, cin;
    uint32_t a, b, res, flags;
} flag_case;

static const flag_case cases[] = {
    { EMU_ALU_ADD, 1, 0, 0xFF, 0x01, 0x00, CF | ZF | AF | PF },
    { EMU_ALU_ADD, 1, 0, 0x7F, 0x01, 0x80, OF | SF | AF },
    { EMU_ALU_ADD, 1, 0, 0x01, 0x02, 0x03, PF },
    { EMU_ALU_ADD, 1, 0, 0x01, 0x06, 0x07, 0 },
    { EMU_ALU_ADD, 2, 0, 0x8000, 0x8000, 0x0000, CF | OF | ZF | PF },
    { EMU_ALU_ADD, 4, 0, 0x0F, 0x01, 0x10, AF },
    { EMU_ALU_ADD, 4, 0, 0x7FFFFFFF, 1, 0x80000000u, OF | SF | AF | PF },
    { EMU_ALU_ADD, 4, 1, 0xFFFFFFFF, 1, 0, CF | ZF | AF | PF }, /* no cin */
    { EMU_ALU_ADC, 1, 1, 0xFF, 0x00, 0x00, CF | ZF | AF | PF },
    { EMU_ALU_ADC, 1, 1, 0x7F, 0x7F, 0xFF, OF | SF | AF | PF },
    { EMU_ALU_ADC, 2, 1, 0xFFFF, 0xFFFF, 0xFFFF, CF | SF | AF | PF },
    { EMU_ALU_ADC, 4, 0, 0xFFFFFFFF, 0, 0xFFFFFFFF, SF | PF },
    { EMU_ALU_SUB, 1, 0, 0x00, 0x01, 0xFF, CF | SF | AF | PF },
    { EMU_ALU_SUB, 1, 0, 0x80, 0x01, 0x7F, OF | AF },
    { EMU_ALU_SUB, 2, 0, 0x0000, 0x8000, 0x8000, CF | OF | SF | PF },
    { EMU_ALU_SUB, 4, 0, 3, 3, 0, ZF | PF },
    { EMU_ALU_CMP, 4, 0, 0x80000000u, 1, 0x7FFFFFFF, OF | AF | PF },
    { EMU_ALU_SBB, 1, 1, 0x00, 0xFF, 0x00, CF | ZF | AF | PF },
    { EMU_ALU_SBB, 2, 1, 0x8000, 0x0000, 0x7FFF, OF | AF | PF },
    { EMU_ALU_SBB, 4, 1, 5, 5, 0xFFFFFFFF, CF | SF | AF | PF },
    { EMU_ALU_SBB, 1, 0, 0x10, 0x01, 0x0F, AF | PF },
    { EMU_ALU_AND, 1, 1, 0xF0, 0x0F, 0x00, ZF | PF },
    { EMU_ALU_XOR, 2, 1, 0x8000, 0x0001, 0x8001, SF },
};

static void cpu_init(emu_cpu *c)
{
    emu_cpu_init(c);
}

Test(flags, alu_results_and_flags_match_hand_computed_values)
{
    emu_cpu c;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const flag_case *k = &cases[i];
        cpu_init(&c);
        emu_cpu_set_flags(&c, k->cin ? CF : 0);
        uint32_t r = emu_cpu_alu(&c, k->op, k->size, k->a, k->b);
        cr_expect_eq(r, k->res, "case %zu: result %#x, want %#x", i, r,
                     k->res);
        uint32_t f = emu_cpu_get_flags(&c) & EMU_FL_ARITH;
        cr_expect_eq(f, k->flags, "case %zu: flags %#x, want %#x", i, f,
                     k->flags);
    }
}

Test(flags, lazy_evaluation_keeps_control_flags)
{
    emu_cpu c;

    cpu_init(&c);
    emu_cpu_set_flags(&c, EMU_FL_IF | EMU_FL_DF | OF);
    emu_cpu_alu(&c, EMU_ALU_ADD, 1, 1, 1);
    cr_assert_eq(emu_cpu_get_flags(&c),
                 EMU_FL_IF | EMU_FL_DF | 0x2u);   /* OF cleared by ADD */
}

Test(flags, flags_read_twice_are_stable)
{
    emu_cpu c;

    cpu_init(&c);
    emu_cpu_alu(&c, EMU_ALU_SUB, 2, 0, 1);
    uint32_t f1 = emu_cpu_get_flags(&c);
    uint32_t f2 = emu_cpu_get_flags(&c);
    cr_assert_eq(f1, f2);
    cr_assert_eq(f1 & EMU_FL_ARITH, CF | SF | AF | PF);
}

Test(flags, set_flags_discards_pending_lazy_state)
{
    emu_cpu c;

    cpu_init(&c);
    emu_cpu_alu(&c, EMU_ALU_ADD, 1, 0xFF, 1);    /* CF ZF AF PF pending */
    emu_cpu_set_flags(&c, SF);
    cr_assert_eq(emu_cpu_get_flags(&c), SF | 0x2u);
}
