# tests/emu/machine/boot/mbr.S -- the boot sector of the end-to-end test
# disk (boot_e2e.sh).
#
# Loaded by the BIOS (INT 19h) at 0000:7C00.  Prints a first marker with
# INT 10h teletype (AH=0Eh), which SeaBIOS's serial console (fw_cfg
# "etc/sercon-port") forwards to COM1, then lets a few timer ticks pass
# with "sti; hlt" (so SeaBIOS flushes its console buffer and the PIT,
# PIC and HLT skipping are exercised), writes a second marker straight
# to the UART at 0x3F8 (polling LSR bit 5, THR empty) and halts with
# interrupts disabled.
    .code16
    .text
    .globl _start
_start:
    cli
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     $0x7C00, %sp
    sti
    mov     $msg_bios, %si
1:  lodsb                           # INT 10h, AH=0Eh: teletype output
    test    %al, %al
    jz      2f
    mov     $0x0E, %ah
    mov     $0x0007, %bx            # page 0, light grey
    int     $0x10
    jmp     1b
2:  mov     $4, %cx                 # about four 55 ms BIOS timer ticks
3:  hlt
    loop    3b
    mov     $msg_com, %si
4:  lodsb                           # COM1, by hand
    test    %al, %al
    jz      6f
    mov     %al, %cl
    mov     $0x3FD, %dx             # line status register
5:  in      %dx, %al
    test    $0x20, %al
    jz      5b
    mov     $0x3F8, %dx             # transmit holding register
    mov     %cl, %al
    out     %al, %dx
    jmp     4b
6:  cli
    hlt
    jmp     6b
msg_bios: .asciz "vdisk-mbr: INT10 MARKER-A\r\n"
msg_com:  .asciz "vdisk-mbr: COM1 MARKER-B\r\n"
    .org    510
    .byte   0x55, 0xAA
