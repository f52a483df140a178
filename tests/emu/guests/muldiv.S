# tests/emu/guests/muldiv.S -- MUL/IMUL (one-, two- and three-operand),
# DIV/IDIV at 8, 16 and 32 bits, and the divide error (#DE) delivered
# through the real-mode IVT with the faulting instruction's address.
    .include "guest.inc"
main:
    movw    $de_handler, 0                  # IVT vector 0 -> de_handler
    movw    $0, 2
    mov     $0x80, %al
    mov     $2, %cl
    mul     %cl                             # AX = 0x100
    expect  c, 0x01
    cmp     $0x100, %ax
    expect  e, 0x02
    mov     $0x10, %al
    mul     %cl                             # AX = 0x20, no carry
    expect  nc, 0x03
    mov     $0x1234, %ax
    mov     $0x100, %cx
    mul     %cx                             # DX:AX = 0x0012:0x3400
    expect  o, 0x04
    cmp     $0x12, %dx
    expect  e, 0x05
    cmp     $0x3400, %ax
    expect  e, 0x06
    mov     $0x10000, %eax
    mov     $0x10000, %ecx
    mul     %ecx                            # EDX:EAX = 1:0
    cmp     $1, %edx
    expect  e, 0x07
    test    %eax, %eax
    expect  z, 0x08
    mov     $-2, %al
    mov     $3, %cl
    imul    %cl                             # AX = -6, fits in AL
    expect  nc, 0x09
    cmp     $-6, %ax
    expect  e, 0x0A
    mov     $0x40, %al
    mov     $4, %cl
    imul    %cl                             # 0x100 does not fit in AL
    expect  c, 0x0B
    mov     $7, %cx
    imul    $-3, %cx, %dx                   # three-operand form
    cmp     $-21, %dx
    expect  e, 0x0C
    mov     $100000, %eax
    mov     $100000, %ecx
    imul    %ecx, %eax                      # 0F AF, overflows 32 bits
    expect  o, 0x0D
    cmp     $0x540BE400, %eax
    expect  e, 0x0E
    mov     $1000, %ax
    mov     $7, %cl
    div     %cl                             # 142 r 6
    cmp     $0x068E, %ax
    expect  e, 0x0F
    mov     $1, %dx
    xor     %ax, %ax
    mov     $3, %cx
    div     %cx                             # 65536 / 3
    cmp     $0x5555, %ax
    expect  e, 0x10
    cmp     $1, %dx
    expect  e, 0x11
    xor     %edx, %edx
    mov     $100, %eax
    mov     $7, %ecx
    div     %ecx
    cmp     $14, %eax
    expect  e, 0x12
    cmp     $2, %edx
    expect  e, 0x13
    mov     $-100, %ax
    mov     $7, %cl
    idiv    %cl                             # -14 r -2
    cmp     $0xFEF2, %ax
    expect  e, 0x14
    mov     $-1000, %ax
    cwd
    mov     $-3, %cx
    idiv    %cx                             # 333 r -1
    cmp     $333, %ax
    expect  e, 0x15
    cmp     $-1, %dx
    expect  e, 0x16
    mov     $1, %ax
    xor     %cl, %cl
    div     %cl                             # divide by zero -> #DE
    cmpb    $1, de_count
    expect  e, 0x17
    cmp     $1, %ax                         # destination untouched
    expect  e, 0x18
    mov     $0x1000, %ax
    mov     $2, %cl
    div     %cl                             # quotient 0x800 > 0xFF
    cmpb    $2, de_count
    expect  e, 0x19
    mov     $0x8000, %ax
    mov     $-1, %cl
    idiv    %cl                             # 32768 > 127
    cmpb    $3, de_count
    expect  e, 0x1A
    jmp     pass

# #DE handler: count, then skip the 2-byte DIV/IDIV that faulted.
de_handler:
    incb    de_count
    push    %bp
    mov     %sp, %bp
    addw    $2, 2(%bp)
    pop     %bp
    iret

de_count: .byte 0
