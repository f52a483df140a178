# tests/emu/guests/flow.S -- the stack (PUSH/POP/PUSHA/POPA/PUSHF/POPF/
# LEAVE), near and far JMP/CALL/RET (direct, indirect, RET imm), Jcc with
# 8- and 16-bit displacements, LOOP/LOOPE/LOOPNE/JCXZ and INT/IRET.
    .include "guest.inc"
main:
    mov     $0x1234, %ax
    push    %ax
    pop     %cx
    cmp     $0x1234, %cx
    expect  e, 0x01
    pushl   $0x12345678                     # 32-bit push in 16-bit code
    popl    %ecx
    cmp     $0x12345678, %ecx
    expect  e, 0x02
    cmp     $0x7C00, %sp
    expect  e, 0x03
    clc
    pushf
    pop     %ax
    or      $CF, %ax
    push    %ax
    popf                                    # sets CF through POPF
    expect  c, 0x04
    mov     $1, %ax
    mov     $2, %cx
    mov     $3, %dx
    mov     $4, %bx
    mov     $5, %bp
    mov     $6, %si
    mov     $7, %di
    pusha
    xor     %ax, %ax
    xor     %cx, %cx
    xor     %dx, %dx
    xor     %bp, %bp
    xor     %si, %si
    xor     %di, %di
    popa
    cmp     $1, %ax
    expect  e, 0x05
    cmp     $7, %di
    expect  e, 0x06
    cmp     $5, %bp
    expect  e, 0x07
    cmp     $0x7C00, %sp
    expect  e, 0x08
    xor     %cx, %cx
    call    sub_near
    cmp     $0x55, %cx
    expect  e, 0x09
    push    $1
    push    $2
    call    sub_ret4                        # RET 4 drops both words
    cmp     $0x7C00, %sp
    expect  e, 0x0A
    lcall   $0, $sub_far
    cmp     $0x66, %cx
    expect  e, 0x0B
    xor     %cx, %cx
    lcall   *farptr                         # CALL m16:16
    cmp     $0x66, %cx
    expect  e, 0x0C
    ljmp    $0x07C0, $(far_target - _start) # CS=07C0 runs the same code
back:
    cmp     $0x77, %cx
    expect  e, 0x0D
    mov     $5, %cx
    xor     %dx, %dx
1:  inc     %dx
    loop    1b
    cmp     $5, %dx
    expect  e, 0x0E
    jcxz    2f
    movb    $0x0F, %bl
    jmp     fail
2:  mov     $10, %cx
    xor     %dx, %dx
3:  inc     %dx
    cmp     $4, %dx
    loopne  3b                              # stops when DX == 4
    cmp     $6, %cx
    expect  e, 0x10
    movw    $int_handler, 0x80 * 4
    movw    $0, 0x80 * 4 + 2
    sti
    int     $0x80
    cli
    cmp     $0xBEEF, %dx
    expect  e, 0x11
    test    $0x0200, %si                    # IF seen inside the handler
    expect  z, 0x12
    test    $0x0200, %di                    # IF restored by IRET
    expect  nz, 0x13
    mov     $ind_target, %ax
    jmp     *%ax                            # JMP r/m16
    movb    $0x14, %bl
    jmp     fail
ind_target:
    mov     $sub_near, %bx
    xor     %cx, %cx
    call    *%bx                            # CALL r/m16
    cmp     $0x55, %cx
    expect  e, 0x15
    mov     $-1, %ax
    cmp     $1, %ax
    expect  a, 0x16                         # unsigned 0xFFFF > 1
    expect  l, 0x17                         # signed -1 < 1
    expect  s, 0x18
    mov     $0x7FFF, %ax
    cmp     $-1, %ax
    expect  g, 0x19
    expect  b, 0x1A
    xor     %ax, %ax
    je      long_target                     # rel16 Jcc (0F 84)
    movb    $0x1B, %bl
    jmp     fail
    .fill   200, 1, 0x90
long_target:
    push    %bp
    mov     %sp, %bp
    sub     $8, %sp
    leave
    cmp     $0x7C00, %sp
    expect  e, 0x1C
    jmp     pass

sub_near:
    mov     $0x55, %cx
    ret
sub_ret4:
    ret     $4
sub_far:
    mov     $0x66, %cx
    lret
far_target:
    mov     %cs, %ax
    cmp     $0x07C0, %ax
    jne     1f
    mov     $0x77, %cx
1:  ljmp    $0, $back

# INT 0x80 handler: records FLAGS in SI; DI gets the caller's FLAGS.
int_handler:
    pushf
    pop     %si
    mov     %sp, %bp
    mov     4(%bp), %di
    mov     $0xBEEF, %dx
    iret

farptr: .word sub_far, 0
