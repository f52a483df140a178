/*
 * emu/dev/cmos.c -- MC146818A real-time clock and 128 bytes of CMOS RAM.
 *
 * Port 0x70 selects a register (bit 7 is the NMI mask), port 0x71 reads
 * or writes it.  Registers follow the MC146818A datasheet:
 *   0x00-0x09  seconds, alarm seconds, minutes, alarm minutes, hours,
 *              alarm hours, day of week (1 = Sunday), day of month,
 *              month, year; 0x32 holds the century (PC convention).
 *              BCD or binary per B.DM, 12-hour (bit 7 = PM) or 24-hour
 *              per B.24/12, converted at every read.
 *   A (0x0A)   UIP (set in the 244 us before each update), divider and
 *              rate select bits.
 *   B (0x0B)   SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE.
 *   C (0x0C)   IRQF, PF, AF, UF; reading clears them and IRQ 8.
 *   D (0x0D)   VRT, always 1.
 * The clock itself is a count of seconds: base_secs at virtual time
 * base_ns plus elapsed virtual seconds, so the same run shows the same
 * dates.  The guest sets the time either with B.SET (the registers then
 * hold the values and are committed when SET clears) or by writing a
 * field directly.  Interrupt flags are computed lazily from virtual time
 * at each register access; a timer is armed only while an enabled
 * interrupt (periodic, update-ended, alarm) can still raise IRQ 8.
 */
#include "cmos.h"

#include <stdlib.h>

#define NS_PER_S 1000000000u
#define RTC_HZ   32768u  /* time base of the divider chain */
#define UIP_NS   244000u /* UIP lead time before an update */

#define REG_SEC     0x00
#define REG_SEC_AL  0x01
#define REG_MIN     0x02
#define REG_MIN_AL  0x03
#define REG_HOUR    0x04
#define REG_HOUR_AL 0x05
#define REG_DOW     0x06
#define REG_MDAY    0x07
#define REG_MON     0x08
#define REG_YEAR    0x09
#define REG_A       0x0A
#define REG_B       0x0B
#define REG_C       0x0C
#define REG_D       0x0D
#define REG_CENTURY 0x32

#define A_UIP  0x80
#define B_SET  0x80
#define B_PIE  0x40
#define B_AIE  0x20
#define B_UIE  0x10
#define B_SQWE 0x08
#define B_DM   0x04 /* 1: binary, 0: BCD */
#define B_24H  0x02
#define C_IRQF 0x80
#define C_PF   0x40
#define C_AF   0x20
#define C_UF   0x10
#define D_VRT  0x80

struct emu_cmos {
    uint8_t ram[128];    /* CMOS bytes; RTC time bytes used under SET */
    uint8_t index;       /* selected register */
    bool nmi_masked;     /* bit 7 of the last port 0x70 write */
    emu_vclock *vc;      /* borrowed */
    emu_irq irq;         /* IRQ 8 */
    bool irq_level;      /* level driven on IRQ 8 */
    int64_t base_secs;   /* RTC time (Unix seconds) at base_ns */
    uint64_t base_ns;    /* virtual time of base_secs */
    uint64_t flags_upto; /* interrupt flags account for time up to */
    emu_timer timer;     /* next enabled interrupt event */
};

/* A broken-down RTC time. */
typedef struct rtc_tm {
    int sec, min, hour; /* 0..59, 0..59, 0..23 */
    int dow;            /* 0 = Sunday */
    int mday, mon;      /* 1..31, 1..12 */
    int64_t year;       /* e.g. 2026 */
} rtc_tm;

/* Floor division for the calendar arithmetic. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Days since 1970-01-01 of a proleptic Gregorian date.  Years are
 * counted from March so that the leap day ends the year; 400-year eras
 * have 146097 days (the well-known public-domain "days from civil"). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400; /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */

    return era * 146097 + doe - 719468;
}

/* The inverse: date of a day number. */
static void civil_from_days(int64_t z, rtc_tm *tm)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153; /* March = 0 */

    tm->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    tm->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    tm->year = yoe + era * 400 + (tm->mon <= 2);
}

/* Unix seconds -> calendar fields and day of week. */
static void rtc_tm_from_secs(int64_t secs, rtc_tm *tm)
{
    int64_t days = floor_div(secs, 86400);
    int64_t rem = secs - days * 86400;

    civil_from_days(days, tm);
    tm->hour = (int)(rem / 3600);
    tm->min = (int)(rem / 60 % 60);
    tm->sec = (int)(rem % 60);
    tm->dow = (int)(days - floor_div(days + 4, 7) * 7 + 4); /* 1970: Thu */
}

/* Virtual seconds since base_ns, and the RTC time now. */
static int64_t rtc_elapsed_s(const emu_cmos *c)
{
    return (int64_t)((emu_vclock_now(c->vc) - c->base_ns) / NS_PER_S);
}

/* Unix seconds the RTC shows now. */
static int64_t rtc_secs(const emu_cmos *c)
{
    return c->base_secs + rtc_elapsed_s(c);
}

/* Encodes a value 0..99 in the data mode of register B. */
static uint8_t rtc_enc(const emu_cmos *c, int v)
{
    if (c->ram[REG_B] & B_DM) {
        return (uint8_t)v;
    }
    return (uint8_t)((v / 10 % 10) << 4 | v % 10);
}

/* Decodes a value written in the data mode of register B. */
static int rtc_dec(const emu_cmos *c, uint8_t v)
{
    if (c->ram[REG_B] & B_DM) {
        return v;
    }
    return (v >> 4) * 10 + (v & 15);
}

/* Hours: 24-hour, or 1..12 with bit 7 for PM. */
static uint8_t rtc_enc_hour(const emu_cmos *c, int h)
{
    if (c->ram[REG_B] & B_24H) {
        return rtc_enc(c, h);
    }
    return (uint8_t)(rtc_enc(c, h % 12 != 0 ? h % 12 : 12) |
                     (h >= 12 ? 0x80 : 0));
}

/* Inverse of rtc_enc_hour(): 0..23. */
static int rtc_dec_hour(const emu_cmos *c, uint8_t v)
{
    int h = rtc_dec(c, v & 0x7F);

    if (c->ram[REG_B] & B_24H) {
        return h;
    }
    return h % 12 + ((v & 0x80) ? 12 : 0);
}

/* The guest-visible value of a time register computed from the clock. */
static uint8_t rtc_time_field(const emu_cmos *c, unsigned idx)
{
    rtc_tm tm;

    rtc_tm_from_secs(rtc_secs(c), &tm);
    switch (idx) {
    case REG_SEC:
        return rtc_enc(c, tm.sec);
    case REG_MIN:
        return rtc_enc(c, tm.min);
    case REG_HOUR:
        return rtc_enc_hour(c, tm.hour);
    case REG_DOW:
        return rtc_enc(c, tm.dow + 1);
    case REG_MDAY:
        return rtc_enc(c, tm.mday);
    case REG_MON:
        return rtc_enc(c, tm.mon);
    case REG_YEAR:
        return rtc_enc(c, (int)(tm.year % 100));
    default: /* REG_CENTURY */
        return rtc_enc(c, (int)(tm.year / 100));
    }
}

/* Registers computed from the clock (alarms are plain RAM). */
static bool rtc_is_time_reg(unsigned idx)
{
    return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR ||
           (idx >= REG_DOW && idx <= REG_YEAR) || idx == REG_CENTURY;
}

/* Copies the running time into the time registers (SET begins). */
static void rtc_snapshot(emu_cmos *c)
{
    static const uint8_t regs[] = { REG_SEC,  REG_MIN, REG_HOUR, REG_DOW,
                                    REG_MDAY, REG_MON, REG_YEAR, REG_CENTURY };

    for (size_t i = 0; i < sizeof(regs); i++) {
        c->ram[regs[i]] = rtc_time_field(c, regs[i]);
    }
}

/* Limits a decoded field to its calendar range. */
static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Starts the clock from the time registers (SET ends). */
static void rtc_commit(emu_cmos *c)
{
    int cent = rtc_dec(c, c->ram[REG_CENTURY]);
    int yy = clamp(rtc_dec(c, c->ram[REG_YEAR]), 0, 99);
    int mon = clamp(rtc_dec(c, c->ram[REG_MON]), 1, 12);
    int mday = clamp(rtc_dec(c, c->ram[REG_MDAY]), 1, 31);
    int hour = clamp(rtc_dec_hour(c, c->ram[REG_HOUR]), 0, 23);
    int min = clamp(rtc_dec(c, c->ram[REG_MIN]), 0, 59);
    int sec = clamp(rtc_dec(c, c->ram[REG_SEC]), 0, 59);
    int64_t days;

    if (cent < 19 || cent > 99) {
        cent = yy < 70 ? 20 : 19; /* no sensible century byte */
    }
    days = days_from_civil(cent * 100 + yy, mon, mday);
    c->base_secs = days * 86400 + hour * 3600 + min * 60 + sec;
    c->base_ns = emu_vclock_now(c->vc);
}

/* Periodic interrupt period in 32.768 kHz ticks, 0 when off. */
static uint64_t rtc_period(const emu_cmos *c)
{
    unsigned rs = c->ram[REG_A] & 0x0F;

    if (rs == 0) {
        return 0;
    }
    return rs <= 2 ? 1u << (rs + 6) : 1u << (rs - 1);
}

/* ns -> 32.768 kHz ticks, exact, and the first ns of a tick. */
static uint64_t rtc_ns_to_ticks(uint64_t ns)
{
    return ns / NS_PER_S * RTC_HZ + ns % NS_PER_S * RTC_HZ / NS_PER_S;
}

/* First virtual ns at which 32 kHz tick t has been reached. */
static uint64_t rtc_ticks_to_ns(uint64_t t)
{
    return t / RTC_HZ * NS_PER_S +
           (t % RTC_HZ * NS_PER_S + RTC_HZ - 1) / RTC_HZ;
}

/* True when the alarm registers match the current time. */
static bool rtc_alarm_match(const emu_cmos *c)
{
    static const uint8_t pairs[3][2] = { { REG_SEC_AL, REG_SEC },
                                         { REG_MIN_AL, REG_MIN },
                                         { REG_HOUR_AL, REG_HOUR } };

    for (unsigned i = 0; i < 3; i++) {
        uint8_t al = c->ram[pairs[i][0]];
        if ((al & 0xC0) != 0xC0 && al != rtc_time_field(c, pairs[i][1])) {
            return false;
        }
    }
    return true;
}

/* Sets PF, UF and AF for the events in (flags_upto, now]. */
static void rtc_account(emu_cmos *c, uint64_t now)
{
    uint64_t per = rtc_period(c);

    if (per != 0 &&
        rtc_ns_to_ticks(now) / per > rtc_ns_to_ticks(c->flags_upto) / per) {
        c->ram[REG_C] |= C_PF;
    }
    if (!(c->ram[REG_B] & B_SET) &&
        (now - c->base_ns) / NS_PER_S >
            (c->flags_upto - c->base_ns) / NS_PER_S) {
        c->ram[REG_C] |= C_UF;
        if (rtc_alarm_match(c)) {
            c->ram[REG_C] |= C_AF;
        }
    }
    c->flags_upto = now;
}

/* Virtual ns of the next event that could raise IRQ 8, or NEVER. */
static uint64_t rtc_next_event(const emu_cmos *c, uint64_t now)
{
    uint8_t b = c->ram[REG_B];
    uint64_t next = EMU_VCLOCK_NEVER;
    uint64_t per = rtc_period(c);

    if ((b & B_PIE) && per != 0) {
        next = rtc_ticks_to_ns((rtc_ns_to_ticks(now) / per + 1) * per);
    }
    if ((b & (B_UIE | B_AIE)) && !(b & B_SET)) {
        uint64_t s = (now - c->base_ns) / NS_PER_S + 1;
        uint64_t t = c->base_ns + s * NS_PER_S;
        next = t < next ? t : next;
    }
    return next;
}

/* Brings the flags up to date, drives IRQ 8 and arms the timer. */
static void rtc_sync(emu_cmos *c)
{
    uint64_t now = emu_vclock_now(c->vc);
    uint8_t b = c->ram[REG_B];
    uint8_t f;

    rtc_account(c, now);
    f = c->ram[REG_C];
    if (((f & C_PF) && (b & B_PIE)) || ((f & C_AF) && (b & B_AIE)) ||
        ((f & C_UF) && (b & B_UIE))) {
        c->ram[REG_C] |= C_IRQF;
    }
    bool level = (c->ram[REG_C] & C_IRQF) != 0;
    if (level != c->irq_level) {
        c->irq_level = level;
        emu_irq_set(c->irq, level);
    }
    /* While IRQF is set nothing new can interrupt: no timer needed. */
    uint64_t next = level ? EMU_VCLOCK_NEVER : rtc_next_event(c, now);
    if (next == EMU_VCLOCK_NEVER) {
        emu_timer_del(c->vc, &c->timer);
    } else {
        emu_timer_mod(c->vc, &c->timer, next);
    }
}

/* Timer: an enabled event is due (the clock reads its exact time). */
static void rtc_timer_fire(void *opaque, uint64_t now_ns)
{
    (void)now_ns;
    rtc_sync(opaque);
}

/* True in the UIP window just before each once-a-second update. */
static bool rtc_uip(const emu_cmos *c)
{
    uint64_t frac = (emu_vclock_now(c->vc) - c->base_ns) % NS_PER_S;

    return !(c->ram[REG_B] & B_SET) && frac >= NS_PER_S - UIP_NS;
}

/* Reads register idx without side effects. */
static uint8_t cmos_peek(const emu_cmos *c, unsigned idx)
{
    if (rtc_is_time_reg(idx) && !(c->ram[REG_B] & B_SET)) {
        return rtc_time_field(c, idx);
    }
    switch (idx) {
    case REG_A:
        return (uint8_t)((c->ram[REG_A] & 0x7F) | (rtc_uip(c) ? A_UIP : 0));
    case REG_D:
        return D_VRT;
    default:
        return c->ram[idx];
    }
}

/* A guest read; reading C returns and clears the flags and IRQ 8. */
static uint8_t cmos_reg_read(emu_cmos *c, unsigned idx)
{
    uint8_t v;

    if (idx != REG_C) {
        return cmos_peek(c, idx);
    }
    rtc_sync(c);
    v = c->ram[REG_C];
    c->ram[REG_C] = 0;
    rtc_sync(c); /* lowers IRQ 8 and re-arms */
    return v;
}

/* Register B write: SET snapshots / commits the time. */
static void rtc_write_b(emu_cmos *c, uint8_t val)
{
    uint8_t old = c->ram[REG_B];

    if (val & B_SET) {
        val &= (uint8_t)~B_UIE; /* setting SET clears UIE */
        if (!(old & B_SET)) {
            rtc_snapshot(c);
        }
    }
    c->ram[REG_B] = val;
    if ((old & B_SET) && !(val & B_SET)) {
        rtc_commit(c);
    }
}

/* A guest (or host) write to register idx. */
static void cmos_reg_write(emu_cmos *c, unsigned idx, uint8_t val)
{
    rtc_sync(c); /* account for the past under the old settings */
    if (rtc_is_time_reg(idx)) {
        bool running = !(c->ram[REG_B] & B_SET);
        if (running) {
            rtc_snapshot(c);
        }
        c->ram[idx] = val;
        if (running) {
            rtc_commit(c);
        }
    } else if (idx == REG_A) {
        c->ram[REG_A] = val & 0x7F;
    } else if (idx == REG_B) {
        rtc_write_b(c, val);
    } else if (idx != REG_C && idx != REG_D) {
        c->ram[idx] = val;
    }
    rtc_sync(c);
}

/* Port 0x70 is write-only; 0x71 reads the selected register. */
static uint32_t cmos_read(void *opaque, uint16_t port, unsigned size)
{
    emu_cmos *c = opaque;

    (void)size;
    if ((port & 1) == 0) {
        return 0xFF; /* the index register is write-only */
    }
    return cmos_reg_read(c, c->index);
}

/* Port 0x70 selects (bit 7 masks NMI), 0x71 writes. */
static void cmos_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
    emu_cmos *c = opaque;

    (void)size;
    if ((port & 1) == 0) {
        c->index = val & 0x7F;
        c->nmi_masked = (val & 0x80) != 0;
    } else {
        cmos_reg_write(c, c->index, (uint8_t)val);
    }
}

/* Registers at 0x70/0x71 show epoch at virtual time 0 (BCD, 24 h). */
emu_cmos *emu_cmos_new(emu_bus *b, emu_vclock *vc, emu_irq irq8, int64_t epoch)
{
    emu_cmos *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->vc = vc;
    c->irq = irq8;
    c->base_secs = epoch; /* shown at virtual time 0 */
    c->base_ns = 0;
    c->flags_upto = emu_vclock_now(vc);
    c->ram[REG_A] = 0x26;  /* 32.768 kHz, 1024 Hz rate */
    c->ram[REG_B] = B_24H; /* BCD, 24-hour */
    c->ram[REG_D] = D_VRT;
    emu_timer_init(&c->timer, rtc_timer_fire, c);
    if (emu_bus_add_ports(b, 0x70, 2, cmos_read, cmos_write, c) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* Disarms the timer before freeing; NULL is a no-op. */
void emu_cmos_free(emu_cmos *c)
{
    if (c != NULL) {
        emu_timer_del(c->vc, &c->timer);
        free(c);
    }
}

/* Host writes go through the guest path so the clock stays coherent. */
void emu_cmos_set(emu_cmos *c, unsigned index, uint8_t val)
{
    if (index < 128) {
        cmos_reg_write(c, index, val);
    }
}

/* Host reads have no side effects (register C is not cleared). */
uint8_t emu_cmos_get(const emu_cmos *c, unsigned index)
{
    return index < 128 ? cmos_peek(c, index) : 0xFF;
}

/* Bit 7 of the last index write. */
bool emu_cmos_nmi_masked(const emu_cmos *c)
{
    return c->nmi_masked;
}

/* The RESET pin: interrupt enables and flags clear, time runs on. */
void emu_cmos_reset(emu_cmos *c)
{
    rtc_sync(c);
    c->ram[REG_B] &= (uint8_t) ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    c->ram[REG_C] = 0;
    rtc_sync(c);
}
