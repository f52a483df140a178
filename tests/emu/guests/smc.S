# tests/emu/guests/smc.S -- self-modifying code under the decoded-
# instruction cache: patching a function's immediate after it ran,
# patching the very next instruction in the same straight-line run,
# a loop that rewrites its own code each iteration, copying code over
# code with REP MOVSB, and the same in real mode (16-bit decode) and
# again after paging is enabled (same physical code, new decode mode).
    .include "guest.inc"
    .include "pm.inc"

    .code16
main:
    cli
    # Real mode: patch an immediate of code that already ran.
    call    rm_fn
    cmp     $1, %ax
    expect  e, 0x01
    movb    $7, rm_fn + 1
    call    rm_fn
    cmp     $7, %ax
    expect  e, 0x02
    enter_pm

    .code32
pm_main:
    # 1: a function runs, its immediate is patched, it runs again.
    call    fn
    cmp     $1, %eax
    expect32 e, 0x10
    movl    $2, fn + 1
    call    fn
    cmp     $2, %eax
    expect32 e, 0x11
    # 2: the store patches the next instruction of the same run.
    movb    $0x42, 2f + 1
2:  mov     $0x00, %al
    cmp     $0x42, %al
    expect32 e, 0x12
    # 3: a loop rewrites its own ADD immediate (1, 2, ..., 100).
    xor     %edx, %edx
    mov     $1, %ecx
3:  movb    %cl, 4f + 2
4:  add     $0x00, %edx
    inc     %ecx
    cmp     $101, %ecx
    jne     3b
    cmp     $5050, %edx
    expect32 e, 0x13
    # 4: copy fn2's code over fn with REP MOVSB, then call fn.
    call    fn
    cmp     $2, %eax
    expect32 e, 0x14
    mov     $fn2, %esi
    mov     $fn, %edi
    mov     $fn2_end - fn2, %ecx
    cld
    rep movsb
    call    fn
    cmp     $0x55AA, %eax
    expect32 e, 0x15
    # 5: after paging is on (identity 4 MiB page), the same code still
    # runs and patches still take effect.
    movl    $0x00000083, 0x20000    # PDE 0: 4 MiB page at 0
    mov     $0x20000, %eax
    mov     %eax, %cr3
    mov     %cr4, %eax
    or      $0x10, %eax
    mov     %eax, %cr4
    mov     %cr0, %eax
    or      $0x80000000, %eax
    mov     %eax, %cr0
    jmp     5f
5:  call    fn
    cmp     $0x55AA, %eax
    expect32 e, 0x16
    movl    $0x1234, fn2 + 1
    mov     $fn2, %esi
    mov     $fn, %edi
    mov     $fn2_end - fn2, %ecx
    rep movsb
    call    fn
    cmp     $0x1234, %eax
    expect32 e, 0x17
    jmp     pass32

fn:
    mov     $1, %eax
    ret
    nop
    nop
fn2:
    mov     $0x55AA, %eax
    ret
fn2_end:

    .code16
rm_fn:
    mov     $1, %ax
    ret

# Target of the call gate pm.inc declares (not used here).
    .code32
call_target:
    hlt
