/*
 * emu/accel/accel.h -- the CPU accelerator interface.
 *
 * Everything the PC platform needs from "something that runs x86 code":
 * map guest RAM, read and write the register state, set CPUID, run with an
 * instruction budget until an exit, complete port I/O, inject an external
 * interrupt and kick a running CPU.  The software interpreter (emu/cpu) is
 * the first backend; KVM and WHPX backends can implement the same vtable.
 * Interrupt controllers and timers stay in the emulator for every backend.
 *
 * Conventions: hooks return >= 0 on success and -errno on failure.
 */
#ifndef EMU_ACCEL_H
#define EMU_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General-purpose register numbers (ModRM encoding order). */
enum emu_gpr {
    EMU_EAX, EMU_ECX, EMU_EDX, EMU_EBX, EMU_ESP, EMU_EBP, EMU_ESI, EMU_EDI
};

/* Segment register numbers (encoding order of the sreg ModRM field). */
enum emu_sreg { EMU_ES, EMU_CS, EMU_SS, EMU_DS, EMU_FS, EMU_GS, EMU_NSEG };

/* EFLAGS bits. */
#define EMU_FL_CF   0x0001u
#define EMU_FL_PF   0x0004u
#define EMU_FL_AF   0x0010u
#define EMU_FL_ZF   0x0040u
#define EMU_FL_SF   0x0080u
#define EMU_FL_TF   0x0100u
#define EMU_FL_IF   0x0200u
#define EMU_FL_DF   0x0400u
#define EMU_FL_OF   0x0800u
#define EMU_FL_ARITH (EMU_FL_CF | EMU_FL_PF | EMU_FL_AF | EMU_FL_ZF | \
                      EMU_FL_SF | EMU_FL_OF)

/* Segment attribute bits kept in emu_segment.attr (descriptor layout). */
#define EMU_SEG_DB   0x4000u  /* default operand/stack size is 32 bits */

/* A segment register with its cached (hidden) descriptor. */
typedef struct emu_segment {
    uint16_t sel;    /* visible selector */
    uint32_t base;   /* cached linear base */
    uint32_t limit;  /* cached byte-granular limit */
    uint16_t attr;   /* cached access rights (type, DPL, P, D/B, G) */
} emu_segment;

/* A descriptor-table register (GDTR, IDTR). */
typedef struct emu_dtable {
    uint32_t base;   /* linear base */
    uint16_t limit;  /* byte limit */
} emu_dtable;

/* The architectural register state exchanged with a backend. */
typedef struct emu_regs {
    uint32_t gpr[8];          /* indexed by enum emu_gpr */
    uint32_t eip;             /* instruction pointer */
    uint32_t eflags;          /* fully materialised flags */
    emu_segment seg[EMU_NSEG];/* indexed by enum emu_sreg */
    emu_dtable gdtr, idtr;    /* descriptor tables */
    uint32_t cr[5];           /* CR0..CR4 (CR1 unused) */
    uint64_t tsc;             /* time-stamp counter */
} emu_regs;

/* One CPUID leaf as the guest sees it. */
typedef struct emu_cpuid_entry {
    uint32_t leaf, subleaf;          /* inputs EAX, ECX */
    uint32_t eax, ebx, ecx, edx;     /* outputs */
} emu_cpuid_entry;

/* Why run() returned. */
enum emu_exit_reason {
    EMU_EXIT_IO = 1,      /* port I/O: see exit.io; IN needs complete_io */
    EMU_EXIT_MMIO,        /* access outside RAM (hardware backends) */
    EMU_EXIT_HLT,         /* HLT with no deliverable interrupt */
    EMU_EXIT_IRQ_WINDOW,  /* guest can take an interrupt now (requested) */
    EMU_EXIT_SHUTDOWN,    /* triple fault or unrecoverable state */
    EMU_EXIT_BUDGET,      /* instruction budget used up */
    EMU_EXIT_KICK,        /* kick() was called */
};

/* Details of an exit; only the member matching reason is meaningful. */
typedef struct emu_exit {
    enum emu_exit_reason reason;
    struct {
        uint16_t port;    /* I/O port */
        uint8_t size;     /* 1, 2 or 4 bytes */
        bool is_write;    /* OUT (data valid) or IN (complete_io) */
        uint32_t data;    /* value written by OUT */
    } io;
    struct {
        uint64_t addr;    /* guest-physical address */
        uint8_t size;     /* 1, 2, 4 or 8 bytes */
        bool is_write;    /* write (data valid) or read (complete_io) */
        uint64_t data;    /* value written */
    } mmio;
    uint64_t retired;     /* instructions retired during this run */
} emu_exit;

typedef struct emu_accel emu_accel;

/* The backend vtable. */
typedef struct emu_accel_ops {
    const char *name;                         /* "interp", "kvm", ... */
    /* Frees the backend; NULL is a no-op at the call site. */
    void (*free)(emu_accel *a);
    /* Maps host memory (borrowed, must outlive the accel) as guest RAM. */
    int (*map_ram)(emu_accel *a, uint64_t gpa, uint64_t size, void *host);
    int (*get_regs)(emu_accel *a, emu_regs *out);
    int (*set_regs)(emu_accel *a, const emu_regs *in);
    /* Replaces the CPUID table (copied). */
    int (*set_cpuid)(emu_accel *a, const emu_cpuid_entry *e, size_t n);
    /* Runs at most budget instructions; fills *ex; returns 0 or -errno. */
    int (*run)(emu_accel *a, uint64_t budget, emu_exit *ex);
    /* Supplies the value of the IN or MMIO read that caused the exit. */
    int (*complete_io)(emu_accel *a, uint64_t data);
    /* Queues an external interrupt, delivered once IF allows. */
    int (*inject_irq)(emu_accel *a, uint8_t vector);
    /* Asks for an EMU_EXIT_IRQ_WINDOW exit as soon as IF=1 (or stops). */
    void (*want_irq_window)(emu_accel *a, bool on);
    /* Makes a run() in progress (on another thread) return soon. */
    void (*kick)(emu_accel *a);
} emu_accel_ops;

/* Base of every backend object: backends embed it as their first member. */
struct emu_accel {
    const emu_accel_ops *ops;
};

/* Creates the interpreter backend; returns NULL on allocation failure. */
emu_accel *emu_interp_new(void);

struct emu_bus;
/*
 * Interpreter only: guest-physical accesses outside the mapped RAM go to
 * this bus's MMIO handlers synchronously instead of reading all-ones and
 * dropping writes (the bus is borrowed; NULL detaches it).  Hardware
 * backends report such accesses as EMU_EXIT_MMIO instead.
 */
void emu_interp_attach_bus(emu_accel *a, struct emu_bus *bus);
/*
 * Interpreter only: opens or closes the A20 gate (physical address bit 20
 * reads as 0 while closed), as port 0x92 asks.  A hardware backend would
 * alias the memory slots instead.
 */
void emu_interp_set_a20(emu_accel *a, bool on);
/*
 * Interpreter only: a device wrote guest RAM [gpa, gpa+len) behind the
 * CPU's back (fw_cfg DMA); drops decoded instructions cached from there.
 */
void emu_interp_phys_written(emu_accel *a, uint64_t gpa, uint64_t len);

#endif /* EMU_ACCEL_H */
