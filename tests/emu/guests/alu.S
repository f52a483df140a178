# tests/emu/guests/alu.S -- ADD/ADC/SUB/SBB/AND/OR/XOR/CMP/TEST, INC/DEC,
# NEG/NOT in 8-, 16- and 32-bit forms, register, immediate and memory
# operands; every result and flag checked against SDM-derived values.
    .include "guest.inc"
main:
    mov     $0xFF, %cl
    add     $1, %cl                         # 0xFF + 1
    flags_are ARITH, CF|ZF|AF|PF, 0x01
    mov     $0x7F, %cl
    add     $1, %cl                         # signed overflow
    flags_are ARITH, OF|SF|AF, 0x02
    cmp     $0x80, %cl
    expect  e, 0x03
    xor     %cx, %cx
    sub     $1, %cx                         # 0 - 1
    flags_are ARITH, CF|SF|AF|PF, 0x04
    cmp     $0xFFFF, %cx
    expect  e, 0x05
    mov     $0x8000, %cx
    sub     $1, %cx                         # signed overflow down
    flags_are ARITH, OF|AF|PF, 0x06
    stc
    mov     $0xFFFF, %cx
    adc     $0, %cx                         # carry in wraps to zero
    flags_are ARITH, CF|ZF|AF|PF, 0x07
    test    %cx, %cx
    expect  z, 0x08
    stc
    xor     %cx, %cx                        # clears CF: set it again
    stc
    sbb     $0, %cx                         # 0 - 0 - 1
    flags_are ARITH, CF|SF|AF|PF, 0x09
    cmp     $0xFFFF, %cx
    expect  e, 0x0A
    mov     $0xFFFFFFFF, %ecx
    add     $1, %ecx                        # 32-bit wrap
    flags_are ARITH, CF|ZF|AF|PF, 0x0B
    stc
    mov     $0xF0, %cl
    and     $0x0F, %cl                      # logic clears CF/OF
    flags_are ARITH, ZF|PF, 0x0C
    mov     $0x80, %cl
    or      $0x01, %cl
    flags_are ARITH, SF|PF, 0x0D
    xor     $0x81, %cl
    flags_are ARITH, ZF|PF, 0x0E
    stc
    mov     $0x7FFF, %cx
    inc     %cx                             # INC keeps CF
    flags_are ARITH, CF|OF|SF|AF|PF, 0x0F
    clc
    mov     $0x8000, %cx
    dec     %cx
    flags_are ARITH, OF|AF|PF, 0x10
    cmp     $0x7FFF, %cx
    expect  e, 0x11
    mov     $5, %cx
    neg     %cx
    flags_are ARITH, CF|SF|AF, 0x12
    cmp     $0xFFFB, %cx
    expect  e, 0x13
    xor     %cx, %cx
    neg     %cx                             # NEG 0: CF=0
    flags_are ARITH, ZF|PF, 0x14
    stc
    mov     $0x00FF, %cx
    not     %cx                             # NOT leaves flags alone
    flags_are CF, CF, 0x15
    cmp     $0xFF00, %cx
    expect  e, 0x16
    stc
    mov     $0x7F, %cl
    adc     $0, %cl
    flags_are ARITH, OF|SF|AF, 0x17
    stc
    mov     $0x80, %cl
    sbb     $0, %cl
    flags_are ARITH, OF|AF, 0x18
    cmp     $0x7F, %cl
    expect  e, 0x19
    mov     $3, %bx
    mov     $4, %cx
    add     %bx, %cx                        # reg, reg
    cmp     $7, %cx
    expect  e, 0x1A
    movw    $1234, var
    addw    $5, var                         # memory read-modify-write
    cmpw    $1239, var
    expect  e, 0x1B
    mov     $var, %bx
    subw    (%bx), %cx                      # reg - mem via BX
    flags_are ARITH, CF|SF|PF, 0x1C
    cmp     $(7 - 1239) & 0xFFFF, %cx
    expect  e, 0x1D
    movb    $0x80, %dl
    testb   $0x80, %dl
    flags_are ARITH, SF, 0x1E
    cmpb    $0x81, %dl                      # 0x80 - 0x81: borrow
    expect  b, 0x1F
    expect  l, 0x20
    mov     $0x40000000, %edx
    add     %edx, %edx                      # 32-bit signed overflow
    expect  o, 0x21
    cmp     $0x80000000, %edx
    expect  e, 0x22
    andl    $0, var32
    orl     $0x12345678, var32
    xorl    $0x12340000, var32
    cmpl    $0x5678, var32
    expect  e, 0x23
    incb    var
    decw    var32
    cmpw    $0x5677, var32
    expect  e, 0x24
    jmp     pass

var:    .word 0
var32:  .long 0
