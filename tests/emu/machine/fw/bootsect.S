# tests/emu/machine/fw/bootsect.S -- what INT 19h does, in miniature:
# copy a boot sector (with its 55 AA signature) to 0000:7C00 and jump
# there.  The sector prints "MBR" and stops; the machine must report the
# boot-sector stage at 0000:7C00.
    .include "fw.inc"
main:
    mov     $sector, %si
    mov     $0x7C00, %di
    mov     $(sector_end - sector), %cx
    cs rep movsb                    # CS:SI -> ES:DI
    movw    $0xAA55, 0x7DFE
    mov     $msg, %si
    call    puts
    ljmp    $0, $0x7C00
sector:                             # position-independent: runs at 7C00
    mov     $0x402, %dx
    mov     $'M', %al
    out     %al, %dx
    mov     $'B', %al
    out     %al, %dx
    mov     $'R', %al
    out     %al, %dx
    cli
    hlt
sector_end:
msg: .asciz "LOAD "
    .include "fw_end.inc"
