# tests/emu/guests/pmode.S -- protected mode: entering it, 32-bit code,
# segment loads and their faults with error codes (#GP, #NP, #SS...),
# IDT delivery, #DF when a fault hits a not-present gate, far transfers,
# LAR/LSL/VERR/VERW/ARPL, SGDT/SLDT/STR, LLDT, MSRs, CR checks, and the
# return to real mode keeping cached descriptors (unreal mode).
# Assembled with --defsym QEMU_TCG=1 (tests/cross/emu_guests.sh) it skips
# the three checks where QEMU's TCG is laxer than the SDM: #GP for CR0.PG
# without PE and for unknown MSRs, and the accessed bit of CS.
    .include "guest.inc"
    .include "pm.inc"

# fault N, SEL/INSN...: expects the instruction(s) between 'fault_at' and
# 'fault_end' to raise vector VEC with error code ERR, else fail N.
    .macro check_fault vec, err, n
    cmpl    $\vec, got_vec
    expect32 e, \n
    cmpl    $\err, got_err
    expect32 e, \n
    .endm

    .macro arm label
    movl    $\label, resume
    movl    $0xFF, got_vec
    .endm

    .code16
main:
    cli
    enter_pm

    .code32
pm_main:
    # 32-bit default operand size: PUSH moves ESP by 4.
    mov     %esp, %eax
    push    $0x12345678
    sub     %esp, %eax
    cmp     $4, %eax
    expect32 e, 0x01
    pop     %eax
    # The accessed bit of the data descriptor was set by the load.
    testb   $1, gdt + 0x10 + 5
    expect32 nz, 0x02

    # Selector beyond the GDT limit: #GP(selector).
    arm     1f
    mov     $0x1000, %ax
    mov     %ax, %ds
1:  check_fault 13, 0x1000, 0x03
    # Not-present data segment: #NP(selector).
    arm     1f
    mov     $SEL_NOTP, %ax
    mov     %ax, %fs
1:  check_fault 11, SEL_NOTP, 0x04
    # Code segment into SS: #GP(selector).
    arm     1f
    mov     $SEL_CODE32, %ax
    mov     %ax, %ss
1:  check_fault 13, SEL_CODE32, 0x05
    # RPL 3 selector for a DPL 0 data segment: #GP(selector, RPL cleared).
    arm     1f
    mov     $SEL_DATA32 | 3, %ax
    mov     %ax, %gs
1:  check_fault 13, SEL_DATA32, 0x06
    # Execute-only code into DS: #GP; null SS: #GP(0).
    arm     1f
    mov     $SEL_XONLY, %ax
    mov     %ax, %es
1:  check_fault 13, SEL_XONLY, 0x07
    arm     1f
    xor     %eax, %eax
    mov     %ax, %ss
1:  check_fault 13, 0, 0x08
    # A null selector is fine in DS..GS.
    xor     %eax, %eax
    mov     %ax, %gs
    # LSS with a bad selector faults and leaves ESP alone.
    arm     1f
    mov     %esp, %edx
    lss     badptr, %esp
1:  check_fault 13, SEL_CODE32, 0x2B
    cmp     %edx, %esp
    expect32 e, 0x2C
    # UD2, divide error, INT through a DPL 0 gate, beyond the IDT limit.
    arm     1f
    ud2
1:  check_fault 6, -1, 0x09
    arm     1f
    xor     %ecx, %ecx
    div     %ecx
1:  check_fault 0, -1, 0x0A
    arm     1f
    int     $0x21
1:  check_fault 0x21, -1, 0x0B
    cmpl    $1b, got_eip            # trap: EIP after INT
    expect32 e, 0x0C
    arm     1f
    int     $0x90
1:  check_fault 13, (0x90*8+2), 0x0D
    # Far jump to a data segment: #GP(sel); past a code limit: #GP(0).
    arm     1f
    ljmp    $SEL_DATA32, $0
1:  check_fault 13, SEL_DATA32, 0x0E
    arm     1f
    ljmp    $SEL_CODE16, $0x12345
1:  check_fault 13, 0, 0x0F
    # Fault EIP is the faulting instruction.
    arm     1f
2:  mov     $0x1000, %ax
    mov     %ax, %ds
1:  mov     $2b + 4, %eax
    cmp     got_eip, %eax
    expect32 e, 0x10
    cmpl    $SEL_CODE32, got_cs
    expect32 e, 0x11

    # #GP while the #GP gate is not present: #NP is contributory -> #DF.
    andb    $0x7F, idt + 13 * 8 + 5
    arm     1f
    mov     $0x1000, %ax
    mov     %ax, %ds
1:  orb     $0x80, idt + 13 * 8 + 5
    check_fault 8, 0, 0x12

    # Privileged and system instructions.
    .ifndef QEMU_TCG                # QEMU does not check this
    arm     1f
    mov     %cr0, %eax
    or      $0x80000000, %eax
    and     $~1, %eax
    mov     %eax, %cr0              # PG without PE: #GP(0)
1:  check_fault 13, 0, 0x13
    .endif
    .ifndef QEMU_TCG                # QEMU does not check this
    arm     1f
    mov     $0x12345678, %ecx
    rdmsr
1:  check_fault 13, 0, 0x14
    .endif
    mov     $0x174, %ecx            # SYSENTER_CS round trip
    mov     $0x1234, %eax
    xor     %edx, %edx
    wrmsr
    xor     %eax, %eax
    rdmsr
    cmp     $0x1234, %eax
    expect32 e, 0x15

    mov     $SEL_CODE32, %ecx
    lsl     %ecx, %eax
    expect32 z, 0x16
    cmp     $0xFFFFFFFF, %eax
    expect32 e, 0x17
    lar     %ecx, %eax
    expect32 z, 0x18
    .ifdef QEMU_TCG                 # QEMU leaves CS's A bit clear
    or      $0x100, %eax
    .endif
    cmp     $0x00C09B00, %eax       # accessed: CS was loaded
    expect32 e, 0x19
    verr    %cx
    expect32 z, 0x1A
    verw    %cx
    expect32 nz, 0x1B
    mov     $0x1000, %ecx
    lsl     %ecx, %eax
    expect32 nz, 0x1C
    mov     $SEL_DATA32, %cx
    verw    %cx
    expect32 z, 0x1D
    mov     $SEL_NOTP, %cx
    lar     %ecx, %eax              # LAR does not need P
    expect32 z, 0x1E
    mov     $0x0010, %ax
    mov     $0x0003, %cx
    arpl    %cx, %ax
    expect32 z, 0x1F
    cmp     $0x0013, %ax
    expect32 e, 0x20

    sgdtl   scratch
    movzwl  scratch, %eax
    cmp     $gdt_end - gdt - 1, %eax
    expect32 e, 0x21
    cmpl    $gdt, scratch + 2
    expect32 e, 0x22
    mov     $SEL_LDT, %ax
    lldt    %ax
    sldt    %ecx
    cmp     $SEL_LDT, %ecx
    expect32 e, 0x23
    mov     $0x04, %ax              # LDT entry 0
    mov     %ax, %fs
    mov     $SEL_TSS, %ax
    ltr     %ax
    str     %ecx
    cmp     $SEL_TSS, %ecx
    expect32 e, 0x24
    testb   $2, gdt + SEL_TSS + 5   # TSS marked busy
    expect32 nz, 0x25
    arm     1f
    ltr     %ax                     # busy TSS: #GP(sel)
1:  check_fault 13, SEL_TSS, 0x26

    # Far CALL and RET to a 16-bit code segment and back.
    lcall   $SEL_CODE16, $code16_ret
    cmp     $0x1616, %ax
    expect32 e, 0x27

    # Same-privilege call through the gate: no stack switch.
    mov     %esp, %edx
    lcall   $SEL_GATE, $0
    cmp     $0x6A7E, %eax
    expect32 e, 0x28
    cmp     %edx, %esp
    expect32 e, 0x29
    cmp     $SEL_CODE32, %ebx
    expect32 e, 0x2A

    # Unreal mode: FS keeps base 0x10000, ES a 4 GiB limit.
    movl    $0xCAFEF00D, 0x10000
    movl    $0x600DF00D, 0x90000
    mov     $SEL_BASE1M, %ax
    mov     %ax, %fs
    ljmp    $SEL_CODE16, $to_real

call_target:
    mov     $0x6A7E, %eax
    mov     %cs, %ebx
    lret

    .code16
code16_ret:
    mov     $0x1616, %ax
    lretl
to_real:
    mov     $SEL_DATA16, %ax
    mov     %ax, %ss
    mov     %cr0, %eax
    and     $~1, %eax
    mov     %eax, %cr0
    ljmp    $0, $real_again
real_again:
    xor     %ax, %ax
    mov     %ax, %ss
    mov     %ax, %ds
    mov     $0x7C00, %sp
    cmpl    $0xCAFEF00D, %fs:0      # cached base 0x10000 survived
    expect  e, 0x30
    mov     $0x90000, %esi
    cmpl    $0x600DF00D, %es:(%esi) # 32-bit offset through ES
    expect  e, 0x31
    mov     %fs, %ax
    cmp     $SEL_BASE1M, %ax
    expect  e, 0x32
    mov     $0x1000, %ax            # a real-mode load sets base = sel*16
    mov     %ax, %fs
    cmpl    $0xCAFEF00D, %fs:0
    expect  e, 0x33
    jmp     pass

    .align 4
scratch: .fill 8, 1, 0
badptr:  .long 0x1000
         .word SEL_CODE32
