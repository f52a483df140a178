# tests/emu/guests/negative.S -- negative control: checks a flag the
# wrong way on purpose, so it must report FAIL:01.  Proves that the
# harness sees failures (a harness that always read "PASS" would not).
    .include "guest.inc"
main:
    mov     $0xFF, %al
    add     $1, %al             # CF=1, ZF=1
    flags_are CF, 0, 0x01       # wrong on purpose: CF is set
    jmp     pass
