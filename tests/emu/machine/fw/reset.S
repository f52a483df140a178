# tests/emu/machine/fw/reset.S -- warm resets through port 0x92 and the
# 8042.
#
# A counter at 0x500 survives the resets (RAM is kept).  First boot:
# "BOOT1", mask every PIC line but one (IMR 0xFE) and close A20, then
# fast reset through port 0x92 bit 0.  Second: "BOOT2", the IMR and port
# 0x92 as four hex digits (a reset PIC has IMR 0, port 0x92 reads 02:
# A20 open), close A20 again, then the 8042's reset pulse (command 0xFE).
# Third: "BOOT3", the same four digits, stop.
    .include "fw.inc"
main:
    incw    0x500
    mov     0x500, %ax
    cmp     $1, %ax
    je      first
    cmp     $2, %ax
    je      second
    mov     $msg3, %si
    call    puts
    call    show
    jmp     stop
first:
    mov     $msg1, %si
    call    puts
    mov     $0xFE, %al
    out     %al, $0x21
    in      $0x92, %al
    and     $0xFD, %al              # A20 off
    or      $0x01, %al              # fast reset
    out     %al, $0x92
    jmp     .
second:
    mov     $msg2, %si
    call    puts
    call    show
    in      $0x92, %al
    and     $0xFD, %al
    out     %al, $0x92
    mov     $0xFE, %al
    out     %al, $0x64
    jmp     .
show:                               # IMR in AH, port 0x92 in AL
    in      $0x21, %al
    mov     %al, %ah
    in      $0x92, %al
    jmp     hex4
msg1: .asciz "BOOT1"
msg2: .asciz "BOOT2"
msg3: .asciz "BOOT3"
    .include "fw_end.inc"
