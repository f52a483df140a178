# tests/emu/guests/paging.S -- 32-bit paging (SDM vol. 3, chapter 4).
# Identity-maps the low 4 MiB with 4 KiB pages, maps 0x400000.. to
# physical 0x30000.. (not the identity), 0x800000.. as a 4 MiB page on
# physical 0 (CR4.PSE), then checks reads and writes through the
# mappings, accessed/dirty bits, #PF with CR2 and error code for a
# not-present page and a read-only page under CR0.WP, WP=0, accesses
# crossing a page boundary, INVLPG after a PTE change and the ESP a
# fetch fault after RET reports.
    .include "guest.inc"
    .include "pm.inc"

    .set PD,  0x20000      # page directory
    .set PT0, 0x21000      # page table for 0..4 MiB (identity)
    .set PT1, 0x22000      # page table for 4..8 MiB
    .set DATA, 0x30000     # physical target of 0x400000

# arm LABEL: the next fault resumes at LABEL; got_vec reads 0xFF until
# a fault arrives.
    .macro arm label
    movl    $\label, resume
    movl    $0xFF, got_vec
    .endm

# faulted ERR, CR2, N: a #PF with error code ERR at address CR2 happened.
    .macro faulted err, cr2, n
    cmpl    $14, got_vec
    expect32 e, \n
    cmpl    $\err, got_err
    expect32 e, \n + 1
    mov     %cr2, %eax
    cmp     $\cr2, %eax
    expect32 e, \n + 2
    .endm

    .code16
main:
    cli
    enter_pm

    .code32
pm_main:
    # PT0: identity, present + writable.
    mov     $PT0, %edi
    mov     $0x003, %eax
    mov     $1024, %ecx
1:  stosl
    add     $0x1000, %eax
    loop    1b
    # PT1: 0x400000 -> 0x30000 (RW), 0x401000 -> 0x31000 (read-only),
    # 0x402000 not present.
    movl    $DATA + 0x003, PT1
    movl    $DATA + 0x1001, PT1 + 4
    movl    $0, PT1 + 8
    movl    $PT0 + 0x003, PD
    movl    $PT1 + 0x003, PD + 4
    movl    $0x000083, PD + 8      # 4 MiB page at physical 0 (PS, RW, P)
    movl    $0x12345678, DATA
    movl    $0x9ABCDEF0, DATA + 0x1000
    # Paging on with WP and PSE.
    mov     $PD, %eax
    mov     %eax, %cr3
    mov     %cr4, %eax
    or      $0x10, %eax
    mov     %eax, %cr4
    mov     %cr0, %eax
    or      $0x80010000, %eax
    mov     %eax, %cr0
    jmp     2f
2:
    # 1: read through the non-identity mapping.
    cmpl    $0x12345678, 0x400000
    expect32 e, 0x01
    # 2: write through it, read back physically (identity).
    movl    $0xCAFEBABE, 0x400004
    cmpl    $0xCAFEBABE, DATA + 4
    expect32 e, 0x02
    # 3: A and D set in the PTE of the written page, A in its PDE.
    mov     PT1, %eax
    and     $0x60, %eax
    cmp     $0x60, %eax
    expect32 e, 0x03
    testl   $0x20, PD + 4
    expect32 nz, 0x04
    # 4: read of the read-only page sets A but not D.
    cmpl    $0x9ABCDEF0, 0x401000
    expect32 e, 0x05
    mov     PT1 + 4, %eax
    and     $0x60, %eax
    cmp     $0x20, %eax
    expect32 e, 0x06
    # 5: the 4 MiB page aliases physical memory.
    cmpl    $0xCAFEBABE, 0x800000 + DATA + 4
    expect32 e, 0x07
    testl   $0x20, PD + 8
    expect32 nz, 0x08
    # 6: not-present page: #PF, CR2 = address, error code 0 (read).
    arm     3f
    mov     0x402010, %eax
3:  faulted 0, 0x402010, 0x10
    # 7: write to the read-only page with WP=1: error code P|W.
    arm     3f
    movl    $1, 0x401010
3:  faulted 3, 0x401010, 0x13
    cmpl    $0, DATA + 0x1010
    expect32 e, 0x16
    # 8: a dword crossing from 0x400FFE into 0x401000.
    movw    $0xBEEF, DATA + 0xFFE
    cmpl    $0xDEF0BEEF, 0x400FFE
    expect32 e, 0x20
    # 9: a write crossing into the not-present page faults with CR2 on
    # the second page and writes nothing.
    movl    $0x11111111, DATA + 0x1FFC
    arm     3f
    mov     %cr0, %eax
    and     $~0x10000, %eax        # WP=0: the read-only page is writable
    mov     %eax, %cr0
    movl    $0x22222222, 0x401FFE
3:  faulted 2, 0x402000, 0x21
    cmpl    $0x11111111, DATA + 0x1FFC
    expect32 e, 0x24
    # 10: with WP=0 the supervisor writes the read-only page.
    movl    $0xFF, got_vec
    movl    $0x5A5A5A5A, 0x401020
    cmpl    $0x5A5A5A5A, DATA + 0x1020
    expect32 e, 0x25
    cmpl    $0xFF, got_vec
    expect32 e, 0x26
    # 11: remap 0x400000 to 0x31000, INVLPG, read the new target.
    movl    $DATA + 0x1003, PT1
    invlpg  0x400000
    cmpl    $0x9ABCDEF0, 0x400000
    expect32 e, 0x30
    # 12: CR3 reload after making 0x401000 not present.
    movl    $0, PT1 + 4
    mov     %cr3, %eax
    mov     %eax, %cr3
    arm     3f
    mov     0x401000, %eax
3:  faulted 0, 0x401000, 0x31
    # 13: RET to a not-present page: the fetch fault at the start of the
    # next block keeps the ESP the RET left (the return address popped).
    arm     3f
    mov     %esp, %esi
    push    $0x402000
    ret
3:  faulted 0, 0x402000, 0x34
    cmp     %esp, %esi
    expect32 e, 0x37
    jmp     pass32

# Target of the call gate pm.inc declares (not used here).
    .code32
call_target:
    hlt
