# tests/emu/guests/bench_loop.S -- MIPS benchmark (a): a tight loop.
# 20 million iterations of ADD, XOR, DEC, JNZ (80 M instructions), then
# PASS.  Run by tests/emu/emu_mips (bench/emu_mips.sh), not by a test.
    .include "guest.inc"

main:
    mov     $20000000, %ecx
    xor     %eax, %eax
    mov     $1, %ebx
1:  add     %ebx, %eax
    xor     %ecx, %ebx
    dec     %ecx
    jnz     1b
    jmp     pass
