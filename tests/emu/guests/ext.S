# tests/emu/guests/ext.S -- CMPXCHG, XADD, BSWAP, CMPXCHG8B, SHLD/SHRD
# and a LOCK-prefixed memory operation.
    .include "guest.inc"
main:
    movw    $5, mem16
    mov     $5, %ax
    mov     $9, %cx
    cmpxchg %cx, mem16                      # equal: mem16 = 9, ZF=1
    expect  z, 0x01
    cmpw    $9, mem16
    expect  e, 0x02
    mov     $1, %ax
    cmpxchg %cx, mem16                      # differ: AX = 9, ZF=0
    expect  nz, 0x03
    cmp     $9, %ax
    expect  e, 0x04
    mov     $3, %dx
    xadd    %dx, mem16                      # mem16 = 12, DX = 9
    cmp     $9, %dx
    expect  e, 0x05
    cmpw    $12, mem16
    expect  e, 0x06
    mov     $0x12345678, %eax
    bswap   %eax
    cmp     $0x78563412, %eax
    expect  e, 0x07
    mov     $0x11111111, %eax
    mov     $0x22222222, %edx
    mov     $0xAAAAAAAA, %ebx
    mov     $0xBBBBBBBB, %ecx
    cmpxchg8b mem64                         # differ: EDX:EAX = mem64
    expect  nz, 0x08
    cmp     $0x01234567, %edx
    expect  e, 0x09
    cmpxchg8b mem64                         # now equal: store ECX:EBX
    expect  z, 0x0A
    cmpl    $0xBBBBBBBB, mem64 + 4
    expect  e, 0x0B
    mov     $0x1234, %ax
    mov     $0xABCD, %dx
    shld    $4, %dx, %ax                    # 0x234A, CF = bit 12 = 1
    expect  c, 0x0C
    cmp     $0x234A, %ax
    expect  e, 0x0D
    mov     $0x12345678, %eax
    mov     $0x9ABCDEF0, %edx
    mov     $8, %cl
    shrd    %cl, %edx, %eax                 # 0xF0123456, CF = 0x78 bit 7
    expect  nc, 0x0E
    cmp     $0xF0123456, %eax
    expect  e, 0x0F
    lock incw mem16                         # LOCK with memory operand
    cmpw    $13, mem16
    expect  e, 0x10
    mov     $0x7000, %cx
    lock addw %cx, mem16                    # LOCK on a directly run op
    expect  no, 0x11                        # 13 + 0x7000: no overflow
    cmpw    $0x700D, mem16
    expect  e, 0x12
    jmp     pass

mem16:  .word 0
mem64:  .long 0x89ABCDEF, 0x01234567
