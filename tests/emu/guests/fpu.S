# tests/emu/guests/fpu.S -- x87 basics (SDM vol. 1, chapter 8): FNINIT
# state, FNSTSW/FNSTCW/FLDCW, loads and stores of every width, integer
# loads/stores with the rounding control, arithmetic including the
# reversed and popping register forms (encoded by hand: AT&T assemblers
# swap FSUB/FSUBR), FCOM + FNSTSW AX + SAHF, FCOMI, FUCOMIP, FXCH, FCHS,
# FABS, FSQRT, the zero-divide flag and FNCLEX, #NM from CR0.TS with the
# usual CLTS-and-retry handler, and an FXSAVE/FXRSTOR round trip.
    .include "guest.inc"

main:
    # #NM handler in the IVT.
    movw    $nm_handler, 7 * 4
    movw    $0, 7 * 4 + 2
    fninit
    # 1-2: FNINIT state.
    fnstsw  %ax
    cmp     $0, %ax
    expect  e, 0x01
    fnstcw  cw
    cmpw    $0x037F, cw
    expect  e, 0x02
    # 3: 2 + 1 = 3 (FILD m32, FLD1, FADDP, FISTP m32).
    fildl   two
    fld1
    faddp
    fistpl  res
    cmpl    $3, res
    expect  e, 0x03
    # 4: 1.5 * 4.0 = 6.0 in double precision (FLD/FMUL/FSTP m64).
    fldl    d15
    fmull   d4
    fstpl   res64
    cmpl    $0, res64
    expect  e, 0x04
    cmpl    $0x40180000, res64 + 4
    expect  e, 0x05
    # 5: 1 / 4 = 0.25 as a float, then 4 / 0.25 = 16 (FDIVR m64).
    fld1
    fdivl   d4
    fsts    res
    cmpl    $0x3E800000, res
    expect  e, 0x06
    fdivrl  d4
    fistps  res16
    cmpw    $16, res16
    expect  e, 0x07
    # 6: register forms with ST0 = 1, ST1 = 4.
    fldl    d4
    fld1
    .byte   0xD8, 0xE1             # FSUB ST0, ST1: ST0 = 1 - 4
    fistl   res
    cmpl    $-3, res
    expect  e, 0x08
    .byte   0xD8, 0xE9             # FSUBR ST0, ST1: ST0 = 4 - (-3)
    fistl   res
    cmpl    $7, res
    expect  e, 0x09
    .byte   0xDE, 0xE9             # FSUBP ST1, ST0: ST1 = 4 - 7, pop
    fistl   res
    cmpl    $-3, res
    expect  e, 0x0A
    fldl    d4
    .byte   0xDE, 0xF9             # FDIVP ST1, ST0: ST1 = -3 / 4, pop
    fmull   d4                     # -3
    fldl    d4
    .byte   0xDE, 0xF1             # FDIVRP ST1, ST0: ST1 = 4 / -3, pop
    fmull   d15                    # -2
    fistpl  res
    cmpl    $-2, res
    expect  e, 0x0B
    # 7: FCOM + FNSTSW AX + SAHF: 4 > 1.
    fld1
    fldl    d4
    fcom    %st(1)
    fnstsw  %ax
    sahf
    expect  a, 0x0C
    # 8: FCOMI: 4 > 1 sets neither ZF nor CF; FXCH swaps: 1 < 4.
    fcomi   %st(1), %st
    expect  a, 0x0D
    fxch    %st(1)
    fcomi   %st(1), %st
    expect  b, 0x0E
    fstp    %st(0)
    fstp    %st(0)
    # 9: FUCOMIP of equal values sets ZF and pops once.
    fld1
    fld1
    fucomip %st(1), %st
    expect  e, 0x0F
    fstp    %st(0)
    # 10: FCHS, FABS.
    fld1
    fchs
    fistl   res
    cmpl    $-1, res
    expect  e, 0x10
    fabs
    fistpl  res
    cmpl    $1, res
    expect  e, 0x11
    # 11: FSQRT of 16 (FILD m16).
    filds   sixteen
    fsqrt
    fistpl  res
    cmpl    $4, res
    expect  e, 0x12
    # 12: 80-bit round trip of 1.0 and of -3.5 via FILD m64.
    fldt    ext_one
    fstpt   ext_out
    cmpl    $0, ext_out
    expect  e, 0x13
    cmpl    $0x80000000, ext_out + 4
    expect  e, 0x14
    cmpw    $0x3FFF, ext_out + 8
    expect  e, 0x15
    fildll  m7
    fdivl   d2
    fstpt   ext_out
    cmpl    $0xE0000000, ext_out + 4
    expect  e, 0x16
    cmpw    $0xC000, ext_out + 8
    expect  e, 0x17
    # 13: rounding control: 2.5 -> 2 (nearest even), -2.5 -> -2 (chop),
    # -2.5 -> -3 (down).
    fldl    d25
    fistpl  res
    cmpl    $2, res
    expect  e, 0x18
    fldcw   cw_chop
    fldl    d25
    fchs
    fistpl  res
    cmpl    $-2, res
    expect  e, 0x19
    fldcw   cw_down
    fldl    d25
    fchs
    fistpl  res
    cmpl    $-3, res
    expect  e, 0x1A
    fldcw   cw_near
    # 14: the stack is balanced: TOP = 0.
    fnstsw  %ax
    and     $0x3800, %ax
    expect  z, 0x1B
    # 15: zero divide sets ZE; FNCLEX clears it.
    fld1
    fldz
    .byte   0xDE, 0xF9             # FDIVP: 1 / 0
    fstp    %st(0)
    fnstsw  %ax
    test    $0x04, %al
    expect  nz, 0x1C
    fnclex
    fnstsw  %ax
    test    $0x04, %al
    expect  z, 0x1D
    # 16: CR0.TS: the FPU instruction traps (#NM) and is retried.
    mov     %cr0, %eax
    or      $0x08, %eax
    mov     %eax, %cr0
    fld1
    cmpw    $1, nm_count
    expect  e, 0x1E
    fistpl  res
    cmpl    $1, res
    expect  e, 0x1F
    # 17: FXSAVE, FNINIT, FXRSTOR gives back the register and CW.
    fldcw   cw_chop
    fldpi
    fxsave  fxarea
    fninit
    fxrstor fxarea
    fnstcw  cw
    cmpw    $0x0F7F, cw
    expect  e, 0x20
    fistpl  res
    cmpl    $3, res
    expect  e, 0x21
    cmpb    $0, fxarea + 4         # abridged tag: ST0 was valid
    expect  ne, 0x22
    jmp     pass

nm_handler:
    clts
    incw    nm_count
    iret

    .p2align 3
two:     .long 2
res:     .long 0
res16:   .word 0
cw:      .word 0
cw_chop: .word 0x0F7F
cw_down: .word 0x077F
cw_near: .word 0x037F
sixteen: .word 16
nm_count: .word 0
    .p2align 3
d15:     .double 1.5
d4:      .double 4.0
d2:      .double 2.0
d25:     .double 2.5
m7:      .quad -7
res64:   .quad 0
ext_one: .long 0, 0x80000000
         .word 0x3FFF
ext_out: .fill 10, 1, 0
    .p2align 4
fxarea:  .fill 512, 1, 0
