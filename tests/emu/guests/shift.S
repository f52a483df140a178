# tests/emu/guests/shift.S -- SHL/SHR/SAR/ROL/ROR/RCL/RCR with counts of
# 1, immediate and CL, checking results, CF and (count 1) OF.
    .include "guest.inc"
main:
    mov     $0x81, %cl
    shl     $1, %cl                         # 0x02, CF=1, OF=1
    flags_are CF|OF|ZF|SF, CF|OF, 0x01
    cmp     $0x02, %cl
    expect  e, 0x02
    mov     $0x8001, %dx
    shr     $1, %dx                         # 0x4000, CF=1, OF=msb(orig)
    flags_are CF|OF, CF|OF, 0x03
    cmp     $0x4000, %dx
    expect  e, 0x04
    mov     $0x80, %dl
    sar     $3, %dl                         # 0xF0
    flags_are CF|SF, SF, 0x05
    cmp     $0xF0, %dl
    expect  e, 0x06
    mov     $0x8000000F, %edx
    mov     $4, %cl
    sar     %cl, %edx                       # 0xF8000000, CF=1
    expect  c, 0x07
    cmp     $0xF8000000, %edx
    expect  e, 0x08
    mov     $0x81, %dl
    rol     $1, %dl                         # 0x03, CF=1
    expect  c, 0x09
    cmp     $0x03, %dl
    expect  e, 0x0A
    mov     $0x1234, %dx
    ror     $4, %dx                         # 0x4123, CF=0
    expect  nc, 0x0B
    cmp     $0x4123, %dx
    expect  e, 0x0C
    stc
    mov     $0x40, %dl
    rcl     $2, %dl                         # CF:0x40 = 1:0x40 -> 1:0x02
    expect  c, 0x0D
    cmp     $0x02, %dl
    expect  e, 0x0E
    clc
    mov     $0x03, %dl
    rcr     $1, %dl                         # 0x01, CF=1
    expect  c, 0x0F
    cmp     $0x01, %dl
    expect  e, 0x10
    stc
    mov     $0x0001, %dx
    rcr     $1, %dx                         # 0x8000, CF=1
    expect  c, 0x11
    cmp     $0x8000, %dx
    expect  e, 0x12
    mov     $1, %edx
    mov     $31, %cl
    shl     %cl, %edx                       # 0x80000000
    cmp     $0x80000000, %edx
    expect  e, 0x13
    mov     $0xFF, %dl
    stc
    mov     $0, %cl
    shl     %cl, %dl                        # count 0: flags unchanged
    expect  c, 0x14
    shlw    $4, word1                       # memory operand
    cmpw    $0x2340, word1
    expect  e, 0x15
    jmp     pass

word1:  .word 0x1234
