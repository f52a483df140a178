# tests/emu/guests/bench_mixed.S -- MIPS benchmark (b): a mixed workload.
# Each of 20000 rounds copies 256 bytes with REP MOVSB, fills 64 dwords
# with REP STOSD, calls a function that sums 32 words of an array with
# loads, pushes and pops, and stores the sum; then PASS.  Run by
# tests/emu/emu_mips (bench/emu_mips.sh), not by a test.
    .include "guest.inc"

    .set SRC, 0x2000
    .set DST, 0x3000
    .set ARR, 0x4000

main:
    mov     $20000, %ebp
    cld
round:
    mov     $SRC, %si
    mov     $DST, %di
    mov     $256, %cx
    rep movsb
    mov     $ARR, %di
    mov     %ebp, %eax
    mov     $64, %cx
    rep stosl
    call    sum
    mov     %ax, (DST)
    dec     %ebp
    jnz     round
    jmp     pass

# sum: AX = sum of the 32 words at ARR (clobbers BX, CX, SI).
sum:
    push    %bx
    push    %si
    xor     %ax, %ax
    mov     $ARR, %si
    mov     $32, %cx
1:  mov     (%si), %bx
    add     %bx, %ax
    add     $2, %si
    loop    1b
    pop     %si
    pop     %bx
    ret
