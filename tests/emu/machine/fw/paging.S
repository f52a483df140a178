# tests/emu/machine/fw/paging.S -- protected mode and paging switches.
#
# Builds a page directory at 0x1000 whose first entry points to a page
# table at 0x2000 mapping the first 4 MiB one to one, loads CR3 and sets
# CR0.PE and CR0.PG together (still running 16-bit code from the cached
# CS, which the identity map keeps valid), prints "PAGED" and stops.
# The machine must report both stages.
    .include "fw.inc"
main:
    mov     $0x2000, %di            # page table: 1024 identity entries
    mov     $0x003, %eax            # present, writable
1:  mov     %eax, (%di)
    add     $0x1000, %eax
    add     $4, %di
    cmp     $0x3000, %di
    jb      1b
    mov     $0x1000, %di            # page directory: entry 0 only
    movl    $0x2003, (%di)
    mov     $0x1004, %di
2:  movl    $0, (%di)
    add     $4, %di
    cmp     $0x2000, %di
    jb      2b
    mov     $0x1000, %eax
    mov     %eax, %cr3
    mov     %cr0, %eax
    or      $0x80000001, %eax
    mov     %eax, %cr0
    mov     $msg, %si
    call    puts
    jmp     stop
msg: .asciz "PAGED"
    .include "fw_end.inc"
