# tests/emu/machine/fw/window.S -- an interrupt that becomes pending while
# IF=0 is delivered as soon as STI's one-instruction shadow ends.
#
# With interrupts disabled, spins for more than one 10 ms PIT period (the
# test runs it at 1000 ns per instruction), then executes "sti; nop; jmp" and
# looks at the tick counter right after the NOP: "WINDOW" when the IRQ 0
# handler already ran, "NOIRQ" when not.  No HLT is involved, so the
# machine must have used the interrupt-window exit.
    .include "fw.inc"
    .include "pit.inc"
main:
    movw    $0, 0x600
    movw    $irq0, 0x20
    movw    %cs, 0x22
    pic_pit_10ms
    mov     $20000, %ecx            # 20000 x LOOP at 1 us = 20 ms
1:  addr32 loop 1b
    cmpw    $0, 0x600
    jne     bad                     # delivered with IF=0
    sti
    nop                             # the STI shadow
    jmp     1f                      # (the interpreter takes interrupts
1:  cli                             #  between decoded blocks only)
    cmpw    $0, 0x600
    je      bad
    mov     $msg_ok, %si
    call    puts
    jmp     stop
bad:
    mov     $msg_bad, %si
    call    puts
    jmp     stop
irq0:
    push    %ax
    incw    %ss:0x600
    mov     $0x20, %al
    out     %al, $0x20
    pop     %ax
    iret
msg_ok:  .asciz "WINDOW"
msg_bad: .asciz "NOIRQ"
    .include "fw_end.inc"
