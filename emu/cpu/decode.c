/*
 * emu/cpu/decode.c -- x86 instruction decoder (16- and 32-bit code).
 *
 * Prefixes, opcode (one byte or 0F xx), ModRM with 16-bit addressing forms
 * or 32-bit SIB forms, displacements and immediates, following the
 * encoding tables of Intel SDM vol. 2, chapter 2 and appendix A.
 * 64-bit mode, VEX and the three-byte maps are out of scope.
 */
#include "decode.h"

#include "emu/accel/accel.h"

/* Operand-shape attributes of an opcode. */
enum {
    A_M     = 0x01,  /* has ModRM */
    A_I8    = 0x02,  /* imm8 */
    A_IV    = 0x04,  /* imm16/32 by operand size */
    A_I16   = 0x08,  /* imm16 */
    A_FAR   = 0x10,  /* ptr16:16/32 */
    A_MOFFS = 0x20,  /* offset by address size */
    A_GRP3  = 0x40,  /* F6/F7: immediate only for /0 and /1 */
    A_UD    = 0x80,  /* not decodable here */
};

/* Attributes of one-byte opcodes. */
static unsigned op1_attr(uint8_t b)
{
    if (b < 0x40 && (b & 7) < 4) {
        return A_M;                  /* ALU r/m forms, 00..3B */
    }
    if (b < 0x40 && (b & 7) == 4) {
        return A_I8;                 /* ALU AL, imm8 */
    }
    if (b < 0x40 && (b & 7) == 5) {
        return A_IV;                 /* ALU eAX, imm */
    }
    if ((b >= 0x70 && b <= 0x7F) || (b >= 0xB0 && b <= 0xB7) ||
        (b >= 0xE0 && b <= 0xE7)) {
        return A_I8;                 /* Jcc rel8, MOV r8, imm8, LOOP, I/O */
    }
    if (b >= 0xB8 && b <= 0xBF) {
        return A_IV;
    }
    if ((b >= 0x84 && b <= 0x8F) || (b >= 0xD0 && b <= 0xD3) ||
        (b >= 0xD8 && b <= 0xDF) || b == 0x62 || b == 0x63 ||
        b == 0xC4 || b == 0xC5 || b == 0xFE || b == 0xFF) {
        return A_M;
    }
    switch (b) {
    case 0x68: case 0xE8: case 0xE9: case 0xA9:
        return A_IV;
    case 0x6A: case 0xA8: case 0xCD: case 0xD4: case 0xD5: case 0xEB:
        return A_I8;
    case 0x69: case 0x81: case 0xC7:
        return A_M | A_IV;
    case 0x6B: case 0x80: case 0x82: case 0x83: case 0xC0: case 0xC1:
    case 0xC6:
        return A_M | A_I8;
    case 0xC2: case 0xCA:
        return A_I16;
    case 0xC8:
        return A_I16 | A_I8;
    case 0x9A: case 0xEA:
        return A_FAR;
    case 0xA0: case 0xA1: case 0xA2: case 0xA3:
        return A_MOFFS;
    case 0xF6: case 0xF7:
        return A_M | A_GRP3;
    case 0xF1:
        return A_UD;
    default:
        return 0;
    }
}

/* Attributes of two-byte (0F xx) opcodes. */
static unsigned op2_attr(uint8_t b)
{
    if (b >= 0x80 && b <= 0x8F) {
        return A_IV;                 /* Jcc rel16/32 */
    }
    if ((b >= 0x40 && b <= 0x4F) || (b >= 0x90 && b <= 0x9F) ||
        (b >= 0xB0 && b <= 0xBF && b != 0xB9 && b != 0xBA) ||
        b <= 0x03 || (b >= 0x20 && b <= 0x23) ||
        (b >= 0x18 && b <= 0x1F) ||
        b == 0xA3 || b == 0xAB || b == 0xA5 || b == 0xAD || b == 0xAF ||
        b == 0xC0 || b == 0xC1 || b == 0xC7) {
        return A_M;
    }
    switch (b) {
    case 0xAE:                       /* FXSAVE, FXRSTOR (fpu.c) */
        return A_M;
    case 0xA4: case 0xAC: case 0xBA:
        return A_M | A_I8;
    case 0x06: case 0x08: case 0x09: case 0x0B: case 0x30: case 0x31:
    case 0x32: case 0xA0: case 0xA1: case 0xA2: case 0xA8: case 0xA9:
        return 0;
    default:
        if (b >= 0xC8 && b <= 0xCF) {
            return 0;                /* BSWAP */
        }
        return A_UD;
    }
}

/* Cursor over the instruction bytes. */
typedef struct dcur {
    const uint8_t *buf;
    size_t avail;
    size_t pos;
    bool short_input;   /* ran past avail */
} dcur;

/* Reads n little-endian bytes (1, 2 or 4); 0 past the end. */
static uint32_t dget(dcur *c, unsigned n)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        if (c->pos >= c->avail) {
            c->short_input = true;
            return 0;
        }
        v |= (uint32_t)c->buf[c->pos++] << (8 * i);
    }
    return v;
}

static uint32_t sext8(uint32_t v)
{
    return (uint32_t)(int32_t)(int8_t)v;
}

static uint32_t sext16(uint32_t v)
{
    return (uint32_t)(int32_t)(int16_t)v;
}

/* Consumes prefixes; returns the first opcode byte. */
static uint8_t decode_prefixes(dcur *c, bool code32, emu_insn *in)
{
    static const int8_t segpfx[] = { [0x26] = EMU_ES + 1,
        [0x2E] = EMU_CS + 1, [0x36] = EMU_SS + 1, [0x3E] = EMU_DS + 1,
        [0x64] = EMU_FS + 1, [0x65] = EMU_GS + 1 };
    bool osz = false, asz = false;

    for (;;) {
        uint8_t b = (uint8_t)dget(c, 1);
        if (c->short_input) {
            return 0;
        }
        if (b < sizeof(segpfx) && segpfx[b] != 0) {
            in->seg = (int8_t)(segpfx[b] - 1);
        } else if (b == 0x66) {
            osz = true;
        } else if (b == 0x67) {
            asz = true;
        } else if (b == 0xF2 || b == 0xF3) {
            in->rep = b;
        } else if (b == 0xF0) {
            in->lock = true;
        } else {
            in->opsize = (code32 ^ osz) ? 4 : 2;
            in->adsize = (code32 ^ asz) ? 4 : 2;
            return b;
        }
    }
}

/* 16-bit addressing forms (SDM vol. 2, table 2-1). */
static void decode_ea16(dcur *c, emu_insn *in)
{
    static const int8_t base[8] = { EMU_EBX, EMU_EBX, EMU_EBP, EMU_EBP,
        EMU_ESI, EMU_EDI, EMU_EBP, EMU_EBX };
    static const int8_t index[8] = { EMU_ESI, EMU_EDI, EMU_ESI, EMU_EDI,
        EMU_REG_NONE, EMU_REG_NONE, EMU_REG_NONE, EMU_REG_NONE };

    in->base = base[in->rm];
    in->index = index[in->rm];
    if (in->mod == 0 && in->rm == 6) {
        in->base = EMU_REG_NONE;
        in->disp = dget(c, 2);
    } else if (in->mod == 1) {
        in->disp = sext8(dget(c, 1));
    } else if (in->mod == 2) {
        in->disp = sext16(dget(c, 2));
    }
    in->def_seg = in->base == EMU_EBP ? EMU_SS : EMU_DS;
}

/* 32-bit addressing forms with SIB (SDM vol. 2, tables 2-2 and 2-3). */
static void decode_ea32(dcur *c, emu_insn *in)
{
    in->base = (int8_t)in->rm;
    if (in->rm == 4) {
        uint8_t sib = (uint8_t)dget(c, 1);
        in->scale = sib >> 6;
        in->index = ((sib >> 3) & 7) == 4 ? EMU_REG_NONE
                                          : (int8_t)((sib >> 3) & 7);
        in->base = (int8_t)(sib & 7);
        if (in->base == EMU_EBP && in->mod == 0) {
            in->base = EMU_REG_NONE;
            in->disp = dget(c, 4);
        }
    } else if (in->rm == 5 && in->mod == 0) {
        in->base = EMU_REG_NONE;
        in->disp = dget(c, 4);
    }
    if (in->mod == 1) {
        in->disp = sext8(dget(c, 1));
    } else if (in->mod == 2) {
        in->disp = dget(c, 4);
    }
    in->def_seg = (in->base == EMU_EBP || in->base == EMU_ESP) ? EMU_SS
                                                               : EMU_DS;
}

static void decode_modrm(dcur *c, emu_insn *in)
{
    uint8_t m = (uint8_t)dget(c, 1);

    in->has_modrm = true;
    in->mod = m >> 6;
    in->reg = (m >> 3) & 7;
    in->rm = m & 7;
    if (in->mod == 3) {
        return;
    }
    if (in->adsize == 2) {
        decode_ea16(c, in);
    } else {
        decode_ea32(c, in);
    }
}

/* Reads the immediates described by attr. */
static void decode_imm(dcur *c, unsigned attr, emu_insn *in)
{
    if (attr & A_GRP3) {
        if (in->reg < 2) {
            attr |= (in->op & 1) ? A_IV : A_I8;
        }
    }
    if (attr & A_FAR) {
        in->imm = dget(c, in->opsize);
        in->imm2 = dget(c, 2);
    } else if (attr & A_MOFFS) {
        in->disp = dget(c, in->adsize);
    } else if (attr & A_I16) {
        in->imm = dget(c, 2);
        if (attr & A_I8) {
            in->imm2 = dget(c, 1);     /* ENTER level */
        }
    } else if (attr & A_IV) {
        in->imm = in->opsize == 2 ? sext16(dget(c, 2)) : dget(c, 4);
    } else if (attr & A_I8) {
        in->imm = sext8(dget(c, 1));
    }
}

int emu_decode(const uint8_t *buf, size_t avail, bool code32,
               emu_insn *out)
{
    dcur c = { buf, avail > EMU_INSN_MAX ? EMU_INSN_MAX : avail, 0, false };
    emu_insn in = { .seg = -1, .base = EMU_REG_NONE,
                    .index = EMU_REG_NONE, .def_seg = EMU_DS };
    unsigned attr;
    uint8_t b = decode_prefixes(&c, code32, &in);

    if (b == 0x0F) {
        b = (uint8_t)dget(&c, 1);
        in.op = EMU_OP_0F | b;
        attr = op2_attr(b);
    } else {
        in.op = b;
        attr = op1_attr(b);
    }
    if (!c.short_input && (attr & A_M)) {
        decode_modrm(&c, &in);
    }
    if (!c.short_input) {
        decode_imm(&c, attr, &in);
    }
    if (c.short_input) {
        return avail >= EMU_INSN_MAX ? -1 : -2;
    }
    if (attr & A_UD) {
        return -1;
    }
    in.len = (uint8_t)c.pos;
    *out = in;
    return in.len;
}
