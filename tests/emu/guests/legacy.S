# tests/emu/guests/legacy.S -- real mode: DAA/DAS/AAA/AAS/AAM/AAD
# (with #DE for AAM 0), BOUND (#BR through the IVT), ENTER with nesting
# levels, LFS/LGS/LSS, SALC, REP INSB from the debug console (reads back 0xE9) and REP OUTSB,
# which prints the final "PASS" itself.
    .include "guest.inc"
main:
    movw    $exc_rm, 0 * 4          # #DE and #BR handlers
    movw    $0, 0 * 4 + 2
    movw    $exc_rm, 5 * 4
    movw    $0, 5 * 4 + 2

    mov     $0x79, %al
    add     $0x35, %al              # 0xAE
    daa
    expect  c, 0x01
    cmp     $0x14, %al
    expect  e, 0x02
    mov     $0x35, %al
    sub     $0x47, %al              # 0xEE, CF=1
    das
    expect  c, 0x03
    cmp     $0x88, %al
    expect  e, 0x04
    mov     $0x0009, %ax
    add     $8, %al                 # 0x11, AF=1
    aaa
    expect  c, 0x05
    cmp     $0x0107, %ax
    expect  e, 0x06
    mov     $0x0102, %ax
    sub     $5, %al                 # 0xFD, AF=1
    aas
    expect  c, 0x07
    cmp     $0x0007, %ax
    expect  e, 0x08
    mov     $79, %al
    aam
    cmp     $0x0709, %ax
    expect  e, 0x09
    aad
    cmp     $79, %ax
    expect  e, 0x0A
    movw    $2, skip
    movw    $0, hits
    .byte   0xD4, 0x00              # AAM 0: #DE
    cmpw    $1, hits
    expect  e, 0x0B

    mov     $5, %ax
    bound   %ax, bounds             # 2..9: fine
    movw    $4, skip
    mov     $10, %ax
    bound   %ax, bounds             # #BR
    cmpw    $2, hits
    expect  e, 0x0C

    mov     %sp, %cx                # ENTER $4, $2
    mov     $0x7000, %bp
    movw    $0x1234, 0x7000 - 2
    enter   $4, $2
    mov     %cx, %dx
    sub     $2, %dx
    cmp     %dx, %bp                # BP = old SP - 2
    expect  e, 0x0D
    sub     $8, %dx
    cmp     %dx, %sp                # 2 pushes + 4 bytes below BP
    expect  e, 0x0E
    mov     %sp, %si
    cmpw    $0x1234, 6(%si)         # copied display entry
    expect  e, 0x0F
    cmp     %bp, 4(%si)             # the new frame pointer
    expect  e, 0x10
    leave
    cmp     $0x7000, %bp
    expect  e, 0x11
    cmp     %cx, %sp
    expect  e, 0x12

    lfs     farptr, %ax             # LFS/LGS/LSS: offset and selector
    cmp     $0x1234, %ax
    expect  e, 0x18
    mov     %fs, %ax
    cmp     $0x5678, %ax
    expect  e, 0x19
    lgs     farptr, %bx
    mov     %gs, %ax
    cmp     $0x5678, %ax
    expect  e, 0x1A
    mov     %sp, %si
    lss     farptr0, %sp
    mov     %ss, %ax
    mov     %sp, %dx
    mov     %si, %sp                # (SS is 0 again)
    test    %ax, %ax
    expect  z, 0x1B
    cmp     $0x7B00, %dx
    expect  e, 0x1C
    stc
    .byte   0xD6                    # SALC
    cmp     $0xFF, %al
    expect  e, 0x1D

    mov     $buf, %di
    mov     $3, %cx
    mov     $0x402, %dx
    cld
    rep insb
    test    %cx, %cx
    expect  z, 0x13
    cmp     $buf + 3, %di
    expect  e, 0x14
    cmpw    $0xE9E9, buf
    expect  e, 0x15
    cmpb    $0xE9, buf + 2
    expect  e, 0x16
    cmpb    $0, buf + 3
    expect  e, 0x17

    mov     $msg_pass, %si
    mov     $4, %cx
    rep outsb
    hlt

# Real-mode exception handler: counts, skips 'skip' bytes.
exc_rm:
    incw    %cs:hits
    push    %bp
    mov     %sp, %bp
    push    %ax
    mov     %cs:skip, %ax
    add     %ax, 2(%bp)
    pop     %ax
    pop     %bp
    iret

hits:   .word 0
skip:   .word 0
bounds: .word 2, 9
farptr: .word 0x1234, 0x5678
farptr0: .word 0x7B00, 0
buf:    .fill 4, 1, 0
