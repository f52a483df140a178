# tests/emu/machine/fw/timer.S -- PIT channel 0 interrupts through the 8259s.
#
# Programs the PICs (IRQ 0 at vector 8, everything else masked) and PIT
# channel 0 in mode 2 with divisor 11932 (a 10 ms period), then waits in
# "sti; hlt" until the IRQ 0 handler has counted 10 ticks, and prints
# "TICKS" (or "EARLY" if a HLT ever returned without a tick).
    .include "fw.inc"
    .include "pit.inc"
main:
    movw    $0, 0x600               # tick counter
    movw    $irq0, 0x20             # IVT entry 8
    movw    %cs, 0x22
    pic_pit_10ms
    xor     %bx, %bx                # ticks seen so far
wait:
    sti
    hlt
    cli
    mov     0x600, %ax
    cmp     %bx, %ax
    je      early                   # woke up without a tick
    mov     %ax, %bx
    cmp     $10, %ax
    jb      wait
    mov     $msg_ticks, %si
    call    puts
    jmp     stop
early:
    mov     $msg_early, %si
    call    puts
    jmp     stop
irq0:
    push    %ax
    incw    %ss:0x600
    mov     $0x20, %al              # non-specific EOI
    out     %al, $0x20
    pop     %ax
    iret
msg_ticks: .asciz "TICKS"
msg_early: .asciz "EARLY"
    .include "fw_end.inc"
