# tests/emu/guests/misc.S -- CBW/CWD/CWDE/CDQ, MOVZX/MOVSX, SETcc,
# CMOVcc, BT/BTS/BTR/BTC, BSF/BSR, XCHG, LEA and 32-bit addressing
# (67h + SIB), XLAT, LAHF/SAHF, LES, moffs moves, CPUID, RDTSC and IN
# from the debug console (which reads back 0xE9).
    .include "guest.inc"
main:
    mov     $0x80, %al
    cbw
    cmp     $0xFF80, %ax
    expect  e, 0x01
    mov     $0x8000, %ax
    cwd
    cmp     $0xFFFF, %dx
    expect  e, 0x02
    cwde
    cmp     $0xFFFF8000, %eax
    expect  e, 0x03
    mov     $0x80000000, %eax
    cdq
    cmp     $0xFFFFFFFF, %edx
    expect  e, 0x04
    mov     $0xF0, %cl
    movzbl  %cl, %eax
    cmp     $0xF0, %eax
    expect  e, 0x05
    movsbl  %cl, %eax
    cmp     $0xFFFFFFF0, %eax
    expect  e, 0x06
    movw    $0x8001, %cx
    movswl  %cx, %edx
    cmp     $0xFFFF8001, %edx
    expect  e, 0x07
    stc
    setc    %dl
    cmp     $1, %dl
    expect  e, 0x08
    setz    %dl                             # ZF=1 from the CMP
    cmp     $0, %dl
    setnz   %dl
    cmp     $1, %dl
    expect  e, 0x09
    mov     $1, %ax
    mov     $2, %cx
    cmp     %ax, %ax
    cmove   %cx, %ax
    cmovne  %dx, %ax
    cmp     $2, %ax
    expect  e, 0x0A
    mov     $0x10, %ax
    bt      $4, %ax
    expect  c, 0x0B
    bts     $0, %ax
    expect  nc, 0x0C
    btr     $4, %ax
    expect  c, 0x0D
    btc     $1, %ax
    cmp     $0x03, %ax
    expect  e, 0x0E
    mov     $35, %cx
    bts     %cx, bitmap                     # bit 35: word 2, bit 3
    cmpb    $0x08, bitmap + 4
    expect  e, 0x0F
    mov     $-1, %cx
    bt      %cx, bitmap + 4                 # negative offset: bit 15 of
    expect  nc, 0x10                        # the word before
    mov     $0x0120, %cx
    bsf     %cx, %dx
    cmp     $5, %dx
    expect  e, 0x11
    bsr     %cx, %dx
    cmp     $8, %dx
    expect  e, 0x12
    xor     %cx, %cx
    mov     $0x99, %dx
    bsf     %cx, %dx                        # zero source: ZF=1
    expect  z, 0x13
    mov     $1, %cx
    mov     $2, %dx
    xchg    %cx, %dx
    cmp     $2, %cx
    expect  e, 0x14
    mov     $3, %bx
    mov     $4, %ax
    xchg    %ax, %bx                        # 93: XCHG eAX, r
    cmp     $3, %ax
    expect  e, 0x15
    mov     $0x10, %bx
    mov     $0x20, %si
    lea     4(%bx, %si), %ax
    cmp     $0x34, %ax
    expect  e, 0x16
    mov     $table, %ebx
    mov     $2, %ecx
    lea     8(%ebx, %ecx, 4), %eax          # 67h + SIB
    cmp     $table + 16, %eax
    expect  e, 0x17
    mov     (%ebx, %ecx, 2), %ax            # table[2]
    cmp     $0x3333, %ax
    expect  e, 0x18
    mov     $table8, %bx
    mov     $3, %al
    xlat
    cmp     $0x44, %al
    expect  e, 0x19
    stc
    lahf
    clc
    sahf
    expect  c, 0x1A
    les     farptr, %di
    mov     %es, %ax
    cmp     $0x1234, %ax
    expect  e, 0x1B
    cmp     $0x5678, %di
    expect  e, 0x1C
    xor     %ax, %ax
    mov     %ax, %es
    movb    $0x42, %al
    mov     %al, moffs_var                  # A2
    xor     %al, %al
    mov     moffs_var, %al                  # A0
    cmp     $0x42, %al
    expect  e, 0x1D
    xor     %eax, %eax
    cpuid
    cmp     $0x756E6547, %ebx               # "Genu"
    expect  e, 0x1E
    mov     $1, %eax
    cpuid
    and     $0x01008110, %edx               # FXSR, CMOV, CX8, TSC
    cmp     $0x01008110, %edx
    expect  e, 0x1F
    rdtsc
    mov     %eax, %esi
    nop
    rdtsc
    sub     %esi, %eax                      # RDTSC, MOV, NOP retired
    cmp     $3, %eax
    expect  e, 0x20
    in      $0xE9, %al
    cmp     $0xE9, %al
    expect  e, 0x21
    mov     $0x402, %dx
    in      %dx, %al
    cmp     $0xE9, %al
    expect  e, 0x22
    mov     %ds, %ax                        # 8C
    mov     %ax, %fs                        # 8E
    mov     %fs, %cx
    cmp     %ax, %cx
    expect  e, 0x23
    jmp     pass

bitmap:     .fill 8, 1, 0
table:      .word 0x1111, 0x2222, 0x3333, 0x4444
table8:     .byte 0x11, 0x22, 0x33, 0x44
farptr:     .word 0x5678, 0x1234
moffs_var:  .byte 0
