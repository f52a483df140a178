# tests/emu/machine/boot/reboot.S -- a boot sector that reboots the PC.
#
# Writes "REBOOT" to COM1 and pulses the reset line through the 8042
# (command 0xFE).  The machine's warm reset must bring SeaBIOS back to
# POST (the BIOS copy below 1 MiB is restored) and boot the disk again,
# so boot_e2e.sh sees "Booting from Hard Disk..." several times.
    .code16
    .text
    .globl _start
_start:
    cli
    xor     %ax, %ax
    mov     %ax, %ds
    mov     $msg, %si
1:  lodsb
    test    %al, %al
    jz      2f
    mov     $0x3F8, %dx             # the UART is always ready here
    out     %al, %dx
    jmp     1b
2:  mov     $0xFE, %al              # 8042: pulse the reset line
    out     %al, $0x64
3:  hlt
    jmp     3b
msg: .asciz "REBOOT\r\n"
    .org    510
    .byte   0x55, 0xAA
