# tests/emu/guests/ring3.S -- privilege changes: IRET to ring 3, INT
# from ring 3 through a DPL 3 gate with the stack switch to the TSS's
# SS0:ESP0 (frame SS, ESP, EFLAGS, CS, EIP), faults in ring 3 (#GP(0) for
# CLI and MOV CR0, #GP(vector*8+2) for a DPL 0 gate), a call gate from
# ring 3 to ring 0 copying one parameter, and the outer RET back.
    .include "guest.inc"
    .include "pm.inc"

    .set USER_ESP, 0x8000

    .code16
main:
    cli
    enter_pm

    .code32
pm_main:
    mov     $SEL_TSS, %ax
    ltr     %ax
    movl    $ring3_a, resume
    # IRET to ring 3 (IOPL 0).
    push    $SEL_DATA3 | 3
    push    $USER_ESP
    push    $0x2
    push    $SEL_CODE3 | 3
    push    $ring3
    iret

ring3:
    mov     %cs, %ax
    cmp     $SEL_CODE3 | 3, %ax
    expect32 e, 0x01
    mov     %ss, %ax
    cmp     $SEL_DATA3 | 3, %ax
    expect32 e, 0x02
    cmp     $USER_ESP, %esp
    expect32 e, 0x03
    # DS still holds the ring-0 data segment (DPL 0 < CPL 3): IRET made
    # it unusable (null).
    mov     %ds, %ax
    test    %ax, %ax
    expect32 z, 0x04
    mov     $SEL_DATA3 | 3, %ax
    mov     %ax, %ds
    mov     %ax, %es
    int     $0x80                   # resumes at ring3_a (in ring 3)
ring3_a:
    cmpl    $0x80, got_vec
    expect32 e, 0x05
    cmpl    $SEL_CODE3 | 3, got_cs
    expect32 e, 0x06
    cmpl    $USER_ESP, got_esp3
    expect32 e, 0x07
    cmpl    $SEL_DATA3 | 3, got_ss3
    expect32 e, 0x08
    cmpl    $0x9000 - 20, got_hesp  # handler ran on the TSS stack
    expect32 e, 0x09
    mov     %cs, %ax
    cmp     $SEL_CODE3 | 3, %ax
    expect32 e, 0x0A
    cmp     $USER_ESP, %esp
    expect32 e, 0x0B

    # CLI with CPL > IOPL: #GP(0), delivered on the ring-0 stack.
    movl    $1f, resume
    cli
1:  cmpl    $13, got_vec
    expect32 e, 0x0C
    cmpl    $0, got_err
    expect32 e, 0x0D
    cmpl    $0x9000 - 20, got_hesp  # EIP slot: below it only the code
    expect32 e, 0x0E
    # MOV from CR0 in ring 3: #GP(0).
    movl    $1f, resume
    movl    $0, got_vec
    mov     %cr0, %eax
1:  cmpl    $13, got_vec
    expect32 e, 0x0F
    # INT through a DPL 0 gate: #GP(0x21 * 8 + 2).
    movl    $1f, resume
    int     $0x21
1:  cmpl    $13, got_vec
    expect32 e, 0x10
    cmpl    $0x21 * 8 + 2, got_err
    expect32 e, 0x11
    # OUT with CPL > IOPL to a port the I/O bitmap denies: #GP(0).
    movl    $1f, resume
    movl    $0, got_vec
    mov     $0x80, %dx
    out     %al, %dx
1:  cmpl    $13, got_vec
    expect32 e, 0x12

    # Call gate to ring 0 with one parameter; outer RET back.
    push    $0xABCD1234
    lcall   $SEL_GATE | 3, $0      # lret $4 also drops it here
    cmp     $0xABCD1234, %eax       # the copied parameter
    expect32 e, 0x13
    cmp     $SEL_CODE32, %ebx       # CS inside the gate target
    expect32 e, 0x14
    cmp     $0x9000 - 20, %ecx      # ring-0 ESP after the frame
    expect32 e, 0x15
    mov     %cs, %ax
    cmp     $SEL_CODE3 | 3, %ax
    expect32 e, 0x16
    cmp     $USER_ESP, %esp
    expect32 e, 0x17
    jmp     pass32                  # from ring 3 (port 0x402 allowed)

call_target:
    mov     8(%esp), %eax           # parameter
    mov     %cs, %ebx
    mov     %esp, %ecx
    lret    $4
