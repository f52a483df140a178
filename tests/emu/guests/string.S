# tests/emu/guests/string.S -- MOVS/STOS/LODS/CMPS/SCAS, with and without
# REP/REPE/REPNE, both directions, and a REP long enough to be split
# into several interpreter steps.
    .include "guest.inc"
main:
    cld
    mov     $src, %si
    mov     $dst, %di
    mov     $8, %cx
    rep movsb
    test    %cx, %cx
    expect  z, 0x01
    cmp     $src + 8, %si
    expect  e, 0x02
    cmp     $dst + 8, %di
    expect  e, 0x03
    mov     dst + 4, %eax
    cmp     src + 4, %eax
    expect  e, 0x04
    mov     $0xAA55, %ax
    mov     $buf, %di
    mov     $4, %cx
    rep stosw
    cmpw    $0xAA55, buf + 6
    expect  e, 0x05
    cmpw    $0, buf + 8
    expect  e, 0x06
    mov     $src, %si
    lodsb
    cmp     $'A', %al
    expect  e, 0x07
    std
    lodsb                                   # DF=1 walks backwards
    cld
    cmp     $src, %si
    expect  e, 0x08
    mov     $src, %si
    mov     $other, %di
    mov     $8, %cx
    repe cmpsb                              # mismatch at index 4
    expect  ne, 0x09
    cmp     $3, %cx
    expect  e, 0x0A
    cmp     $src + 5, %si
    expect  e, 0x0B
    mov     $'E', %al
    mov     $src, %di
    mov     $8, %cx
    repne scasb
    expect  e, 0x0C
    cmp     $src + 5, %di
    expect  e, 0x0D
    cmp     $3, %cx
    expect  e, 0x0E
    std
    mov     $src + 6, %si
    mov     $dst2 + 6, %di
    mov     $4, %cx
    rep movsw                               # backwards, word at a time
    cld
    mov     dst2, %eax
    cmp     src, %eax
    expect  e, 0x0F
    cmp     $dst2 - 2, %di
    expect  e, 0x10
    xor     %cx, %cx
    mov     $dst, %di
    rep stosb                               # CX=0: nothing happens
    cmp     $dst, %di
    expect  e, 0x11
    mov     $0x1000, %ax
    mov     %ax, %es
    xor     %di, %di
    mov     $0x5A, %al
    mov     $10000, %cx
    rep stosb                               # several 4096-byte chunks
    xor     %ax, %ax
    mov     %ax, %es
    jmp     check_big

check_big:
    mov     $0x1000, %ax
    mov     %ax, %ds
    cmpb    $0x5A, 9999
    expect  e, 0x12
    cmpb    $0x00, 10000
    expect  e, 0x13
    xor     %ax, %ax
    mov     %ax, %ds
    mov     $0x1000, %ax
    mov     %ax, %es
    mov     $src, %si
    xor     %di, %di
    mov     $2, %cx
    rep movsl %ds:(%si), %es:(%di)          # 32-bit elements, ES target
    xor     %ax, %ax
    mov     %ax, %es
    mov     %es:src, %eax
    mov     $0x1000, %dx
    mov     %dx, %fs
    cmp     %fs:0, %eax
    expect  e, 0x14
    jmp     bulk

# Long REPs that run many elements at once: overlapping copies in both
# directions, 16-bit offset wrap, dwords straddling a page, a backward
# copy across pages, and a REP MOVS that patches the code right after it.
bulk:
    mov     $0x2000, %ax
    mov     %ax, %ds
    mov     %ax, %es
    cld
    xor     %di, %di
    xor     %eax, %eax
    mov     $0x4000, %cx
    rep stosl                               # zero 2000:0000..FFFF
    movb    $'X', 0
    xor     %si, %si
    mov     $1, %di
    mov     $5000, %cx
    rep movsb                               # overlap: replicates 'X'
    cmpb    $'X', 5000
    expect  e, 0x15
    cmpb    $'X', 4096
    expect  e, 0x16
    cmpb    $0, 5001
    expect  e, 0x17
    std
    movb    $'Y', 0x9000
    mov     $0x9000, %si
    mov     $0x8FFF, %di
    mov     $6000, %cx
    rep movsb                               # overlap, backwards
    cld
    cmpb    $'Y', 0x7890
    expect  e, 0x18
    cmpb    $0, 0x788F
    expect  e, 0x19
    cmp     $0x788F, %di
    expect  e, 0x1A
    mov     $0xFFF8, %di
    mov     $4, %cx
    mov     $0x11223344, %eax
    rep stosl                               # DI wraps at 64 KiB
    cmp     $8, %di
    expect  e, 0x1B
    cmpl    $0x11223344, 4
    expect  e, 0x1C
    cmpl    $0x11223344, 0xFFFC
    expect  e, 0x1D
    mov     $0x1FFE, %di
    mov     $3, %cx
    mov     $0xA1B2C3D4, %eax
    rep stosl                               # dwords across a page
    cmpl    $0xA1B2C3D4, 0x2002
    expect  e, 0x1E
    cmp     $0x200A, %di
    expect  e, 0x1F
    mov     $0x4000, %di
    mov     $0x800, %cx
    mov     $0x55667788, %eax
    rep stosl
    std
    mov     $0x5FFC, %si
    mov     $0xBFFC, %di
    mov     $0x800, %cx
    rep movsl                               # backwards, across pages
    cld
    cmpl    $0x55667788, 0xA000
    expect  e, 0x20
    cmp     $0x9FFC, %di
    expect  e, 0x21
    cmp     $0x3FFC, %si
    expect  e, 0x22
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     $patch, %si
    mov     $patched, %di
    mov     $2, %cx
    rep movsb                               # rewrites the next insn
patched:
    mov     $0, %al
    cmp     $1, %al
    expect  e, 0x23
    jmp     pass

patch:  mov     $1, %al

src:    .ascii "ABCDEFGH"
other:  .ascii "ABCDXFGH"
dst:    .fill 8, 1, 0
dst2:   .fill 8, 1, 0
buf:    .fill 10, 1, 0
