# tests/emu/machine/fw/reset.S -- warm resets through port 0x92 and the
# 8042.
#
# A counter at 0x500 survives the resets (RAM is kept).  First boot:
# "BOOT1", mask every PIC line but one (IMR 0xFE), close A20, write 5A to
# the UART's scratch register and move fw_cfg off the signature (select
# the ID item, read a byte), then fast reset through port 0x92 bit 0.
# Second: "BOOT2", the IMR and port 0x92 as four hex digits (a reset PIC
# has IMR 0, port 0x92 reads 02: A20 open), then the UART scratch and the
# next fw_cfg data byte as four more (a reset UART has scratch 00, a reset
# fw_cfg reads the signature's 'Q', 51), close A20 again, then the 8042's
# reset pulse (command 0xFE).  Third: "BOOT3", the same eight digits,
# stop.
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
    mov     $0x5A, %al
    mov     $0x3FF, %dx
    out     %al, %dx                # UART scratch register
    mov     $0x0001, %ax
    mov     $0x510, %dx
    out     %ax, %dx                # fw_cfg: select the ID item
    inc     %dx
    in      %dx, %al
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
    call    hex4
    mov     $0x3FF, %dx                 # UART scratch in AH
    in      %dx, %al
    mov     %al, %ah
    mov     $0x511, %dx                 # next fw_cfg data byte in AL
    in      %dx, %al
    jmp     hex4
msg1: .asciz "BOOT1"
msg2: .asciz "BOOT2"
msg3: .asciz "BOOT3"
    .include "fw_end.inc"
