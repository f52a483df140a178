# tests/emu/guests/loader.S -- a boot sector that runs a test guest under
# a real BIOS: it moves itself to 0000:0600, reads the 64 sectors that
# follow it on the boot disk (INT 13h, CHS 0/0/2..) to 0000:7C00, and
# jumps there with interrupts off, as the test harnesses start a guest.
# Used to run the same guest on QEMU and on "vdisk boot" (tests/cross).
    .code16
    .text
    .globl _start
_start:
    cli
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     $0x7000, %sp
    mov     $0x7C00, %si            # relocate out of the guest's way
    mov     $0x0600, %di
    mov     $256, %cx
    cld
    rep movsw
    ljmp    $0, $0x0600 + (relocated - _start)
relocated:
    sti
    mov     $0x0240, %ax            # AH=2 read, AL=64 sectors
    mov     $0x0002, %cx            # cylinder 0, sector 2
    xor     %dh, %dh                # head 0, DL = boot drive
    mov     $0x7C00, %bx            # ES:BX
    int     $0x13
    jc      failed
    cli
    ljmp    $0, $0x7C00
failed:
    mov     $0x0600 + (msg - _start), %si
    mov     $0x402, %dx
1:  lodsb
    test    %al, %al
    jz      2f
    out     %al, %dx
    jmp     1b
2:  cli
    hlt
msg: .asciz "LOADER: read error"
    .org    510
    .byte   0x55, 0xAA
