# tests/emu/machine/fw/hello.S -- reset vector, debug console, CMOS memory size,
# fw_cfg signature and the A20 gate of port 0x92.
#
# Prints "HELLO", the CMOS word at 0x34 (RAM above 16 MiB in 64 KiB
# units), the fw_cfg signature, then "A20:" and one letter per check:
# with the gate closed a write at FFFF:0510 (0x100500) must land at
# 0x500 ("w"), with it open it must not ("o"); "x" marks a failure.
    .include "fw.inc"
main:
    mov     $msg_hello, %si
    call    puts
    mov     $0x35, %al              # CMOS 0x34/0x35, high byte first
    out     %al, $0x70
    in      $0x71, %al
    mov     %al, %ah
    mov     $0x34, %al
    out     %al, $0x70
    in      $0x71, %al
    call    hex4
    mov     $' ', %al
    mov     $0x402, %dx
    out     %al, %dx
    xor     %ax, %ax                # fw_cfg: select the signature item
    mov     $0x510, %dx
    out     %ax, %dx
    mov     $4, %cx
1:  mov     $0x511, %dx
    in      %dx, %al
    mov     $0x402, %dx
    out     %al, %dx
    loop    1b
    mov     $msg_a20, %si
    call    puts
    movb    $0x11, 0x500
    in      $0x92, %al              # close the gate
    and     $0xFD, %al
    out     %al, $0x92
    mov     $0xFFFF, %ax
    mov     %ax, %es
    movb    $0xAB, %es:0x510        # 0x100500 -> 0x500
    mov     $'w', %al
    cmpb    $0xAB, 0x500
    je      2f
    mov     $'x', %al
2:  mov     $0x402, %dx
    out     %al, %dx
    in      $0x92, %al              # open it again
    or      $0x02, %al
    out     %al, $0x92
    movb    $0xCD, %es:0x510        # now really 0x100500
    mov     $'o', %al
    cmpb    $0xAB, 0x500
    je      3f
    mov     $'x', %al
3:  mov     $0x402, %dx
    out     %al, %dx
    jmp     stop
msg_hello: .asciz "HELLO "
msg_a20:   .asciz " A20:"
    .include "fw_end.inc"
