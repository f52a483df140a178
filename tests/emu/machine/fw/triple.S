# tests/emu/machine/fw/triple.S -- a triple fault: with an empty IDT, INT 3 in
# protected mode raises #GP, delivering it raises #GP again (a double
# fault), and delivering #DF fails too, which shuts the CPU down.
    .include "fw.inc"
main:
    mov     $msg, %si
    call    puts
    lidt    %cs:empty_idt
    mov     %cr0, %eax
    or      $1, %eax
    mov     %eax, %cr0
    int     $3
    mov     $msg_bad, %si           # never reached
    call    puts
    jmp     stop
empty_idt: .word 0
    .long 0
msg:     .asciz "FAULT"
msg_bad: .asciz "SURVIVED"
    .include "fw_end.inc"
