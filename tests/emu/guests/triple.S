# tests/emu/guests/triple.S -- a triple fault.  In protected mode with an
# IDT limit of 0, INT3 cannot be delivered (#GP), nor can that #GP (#DF),
# nor the #DF: the CPU shuts down.  Prints "PM" first to show it got
# there; the harness expects EMU_EXIT_SHUTDOWN after it.
    .include "guest.inc"
    .include "pm.inc"

    .code16
main:
    cli
    enter_pm

    .code32
pm_main:
    mov     $'P', %al
    mov     $0x402, %dx
    out     %al, %dx
    mov     $'M', %al
    out     %al, %dx
    lidtl   empty_idtr
    int3
    jmp     pass32                  # not reached

call_target:
    lret

empty_idtr:
    .word   0
    .long   0
