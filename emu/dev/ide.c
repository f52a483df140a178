/*
 * emu/dev/ide.c -- an ISA IDE channel with one ATA disk backed by libimg.
 *
 * Implements the PIO subset of ATA/ATAPI-6 (T13/1410D) that BIOSes and
 * Linux's legacy drivers use: the command block (data, error/features,
 * sector count, LBA low/mid/high with their HOB copies for 48-bit
 * commands, device/head, status/command), the control block (alternate
 * status, device control with nIEN, SRST and HOB), IDENTIFY DEVICE,
 * READ/WRITE SECTORS and MULTIPLE in 28- and 48-bit forms, READ VERIFY,
 * SET MULTIPLE MODE, INITIALIZE DEVICE PARAMETERS, SET FEATURES, FLUSH
 * CACHE, the power commands and EXECUTE DEVICE DIAGNOSTIC.  Anything
 * else is aborted (ABRT).
 *
 * Commands complete at once (BSY is only seen while SRST is held): a
 * data-in command loads its first DRQ block and interrupts; each block
 * the guest drains loads the next one and interrupts again.  A data-out
 * command asks for its first block without an interrupt; each block
 * written is stored and interrupts.  INTRQ is pending until the status
 * register is read or a command is written; the line is gated by nIEN.
 * A machine reset (emu_ide_reset) is the RESET- signal: the drive comes
 * back as at power-on, but a disk keeps its data, so the overlay stays.
 *
 * Only the master drive exists.  As in QEMU, a selected absent slave
 * reads 0 in status and error (SeaBIOS and libata take that as "no
 * device") while the other task file registers are shared by both
 * positions, and a channel without any drive reads 0 everywhere.
 * Task file writes are ignored while BSY or DRQ is set, as are commands.
 *
 * The image is never written: guest writes go to a sparse in-memory
 * overlay of 4 KiB chunks (a hash table keyed by chunk index, with a
 * valid bit per sector), capped in size; reads merge overlay and image.
 */
#include "ide.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define IDE_SECTOR        512u
#define IDE_MAX_MULT      16u        /* sectors per DRQ block, max */
#define IDE_CHUNK_SECT    8u         /* overlay chunk: 4 KiB */
#define IDE_CHUNK_BYTES   (IDE_CHUNK_SECT * IDE_SECTOR)
#define IDE_OVERLAY_MAX   (256ull << 20) /* default overlay cap, bytes */
#define IDE_LBA28_MAX     0x0FFFFFFFull

/* Status register. */
#define ST_ERR   0x01u
#define ST_DRQ   0x08u
#define ST_DSC   0x10u
#define ST_DF    0x20u
#define ST_DRDY  0x40u
#define ST_BSY   0x80u

/* Error register. */
#define ER_ABRT  0x04u
#define ER_IDNF  0x10u
#define ER_UNC   0x40u
#define ER_DIAG_OK 0x01u   /* diagnostic code: device 0 passed */

/* Device/head and device control registers. */
#define DH_DEV   0x10u
#define DH_LBA   0x40u
#define DC_NIEN  0x02u
#define DC_SRST  0x04u
#define DC_HOB   0x80u

/* Command block register offsets. */
enum {
    REG_DATA = 0, REG_ERROR = 1, REG_NSECT = 2, REG_LBAL = 3,
    REG_LBAM = 4, REG_LBAH = 5, REG_DEVICE = 6, REG_STATUS = 7,
};

/* What the data port is doing. */
typedef enum {
    XFER_NONE,      /* no DRQ */
    XFER_PIO_IN,    /* a one-block buffer (IDENTIFY) */
    XFER_READ,      /* sectors from the disk */
    XFER_WRITE,     /* sectors to the overlay */
} ide_xfer;

/* One overlay chunk: up to 8 sectors written by the guest. */
typedef struct ide_chunk {
    uint64_t idx;                    /* chunk number (LBA / 8) */
    uint8_t valid;                   /* bit i: sector i is present */
    uint8_t data[IDE_CHUNK_BYTES];   /* sector contents */
} ide_chunk;

/* Open-addressing hash table of chunks. */
typedef struct ide_overlay {
    ide_chunk **slot;      /* cap entries, NULL when free */
    size_t cap;            /* power of two, or 0 */
    size_t count;          /* chunks stored */
    size_t max_chunks;     /* cap on count */
} ide_overlay;

struct emu_ide {
    emu_irq irq;              /* IRQ 14 on the primary channel */
    bool irq_level;           /* last level driven */
    bool intrq;               /* interrupt pending in the drive */
    img *disk;                /* borrowed; NULL: no drive */
    uint64_t nsectors;        /* disk size in sectors */
    uint16_t base, ctl;       /* command and control block ports */

    /* Task file, shared by both drive positions; hob_* are the values
     * written before the current ones (48-bit commands). */
    uint8_t feature, nsect, lbal, lbam, lbah;
    uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
    uint8_t select;           /* device/head */
    uint8_t status, error;    /* master drive */
    uint8_t devctl;           /* device control */

    uint16_t cyls, heads, secs;          /* default CHS geometry */
    uint16_t cur_cyls, cur_heads, cur_secs; /* current translation */
    unsigned mult;            /* READ/WRITE MULTIPLE block, 0: off */
    bool wcache, lookahead;   /* SET FEATURES state (for IDENTIFY) */

    ide_xfer xfer;            /* data port state */
    uint64_t lba;             /* first sector of the current block */
    uint32_t remaining;       /* sectors left, current block included */
    bool lba48;               /* current command is a 48-bit one */
    unsigned block;           /* sectors per DRQ block */
    unsigned cur_block;       /* sectors in buf */
    size_t pos, len;          /* data port position in buf */
    uint8_t buf[IDE_MAX_MULT * IDE_SECTOR];

    ide_overlay ovl;          /* guest writes */
    uint64_t nread, nwritten; /* sectors transferred */
};

/* ---- overlay -------------------------------------------------------- */

/* Fibonacci hashing of the chunk number into a power-of-two table. */
static size_t ovl_hash(uint64_t idx, size_t cap)
{
    return (size_t)((idx * 0x9E3779B97F4A7C15ull) >> 29) & (cap - 1);
}

/* The chunk idx or NULL; linear probing, the table is never full. */
static ide_chunk *ovl_find(const ide_overlay *o, uint64_t idx)
{
    if (o->cap == 0) {
        return NULL;
    }
    for (size_t h = ovl_hash(idx, o->cap);; h = (h + 1) & (o->cap - 1)) {
        if (o->slot[h] == NULL || o->slot[h]->idx == idx) {
            return o->slot[h];
        }
    }
}

/* Puts c in the first free slot of its probe sequence. */
static void ovl_insert(ide_chunk **slot, size_t cap, ide_chunk *c)
{
    size_t h = ovl_hash(c->idx, cap);

    while (slot[h] != NULL) {
        h = (h + 1) & (cap - 1);
    }
    slot[h] = c;
}

/* Doubles the table.  0 or -ENOMEM. */
static int ovl_grow(ide_overlay *o)
{
    size_t ncap = o->cap ? o->cap * 2 : 64;
    ide_chunk **ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < o->cap; i++) {
        if (o->slot[i] != NULL) {
            ovl_insert(ns, ncap, o->slot[i]);
        }
    }
    free(o->slot);
    o->slot = ns;
    o->cap = ncap;
    return 0;
}

/* The chunk idx, created empty when missing; NULL when out of memory. */
static ide_chunk *ovl_get(ide_overlay *o, uint64_t idx)
{
    ide_chunk *c = ovl_find(o, idx);

    if (c != NULL) {
        return c;
    }
    if ((o->count + 1) * 2 > o->cap && ovl_grow(o) < 0) {
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c != NULL) {
        c->idx = idx;
        ovl_insert(o->slot, o->cap, c);
        o->count++;
    }
    return c;
}

/* Chunks that writing [lba, lba+n) would add. */
static size_t ovl_new_chunks(const ide_overlay *o, uint64_t lba, unsigned n)
{
    size_t add = 0;

    for (uint64_t i = lba / IDE_CHUNK_SECT; i <= (lba + n - 1) / IDE_CHUNK_SECT;
         i++) {
        add += ovl_find(o, i) == NULL;
    }
    return add;
}

/* Stores n sectors.  0, -ENOSPC (over the cap) or -ENOMEM. */
static int ovl_write(ide_overlay *o, uint64_t lba, const uint8_t *buf,
                     unsigned n)
{
    if (o->count + ovl_new_chunks(o, lba, n) > o->max_chunks) {
        return -ENOSPC;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t s = lba + i;
        ide_chunk *c = ovl_get(o, s / IDE_CHUNK_SECT);
        if (c == NULL) {
            return -ENOMEM;
        }
        memcpy(c->data + (s % IDE_CHUNK_SECT) * IDE_SECTOR,
               buf + (size_t)i * IDE_SECTOR, IDE_SECTOR);
        c->valid |= (uint8_t)(1u << (s % IDE_CHUNK_SECT));
    }
    return 0;
}

/* The overlay's copy of sector lba, or NULL. */
static const uint8_t *ovl_sector(const ide_overlay *o, uint64_t lba)
{
    const ide_chunk *c = ovl_find(o, lba / IDE_CHUNK_SECT);
    unsigned k = (unsigned)(lba % IDE_CHUNK_SECT);

    if (c == NULL || !(c->valid & (1u << k))) {
        return NULL;
    }
    return c->data + k * IDE_SECTOR;
}

/* Frees every chunk and the table. */
static void ovl_clear(ide_overlay *o)
{
    for (size_t i = 0; i < o->cap; i++) {
        free(o->slot[i]);
    }
    free(o->slot);
    o->slot = NULL;
    o->cap = o->count = 0;
}

/*
 * Reads n sectors at lba, overlay first, runs of other sectors from the
 * image.  0, or -EIO with *bad set to the first sector that failed.
 */
static int ide_disk_read(emu_ide *d, uint64_t lba, uint8_t *buf, unsigned n,
                         uint64_t *bad)
{
    unsigned i = 0;

    while (i < n) {
        const uint8_t *s = ovl_sector(&d->ovl, lba + i);
        if (s != NULL) {
            memcpy(buf + (size_t)i * IDE_SECTOR, s, IDE_SECTOR);
            i++;
            continue;
        }
        unsigned j = i + 1;
        while (j < n && ovl_sector(&d->ovl, lba + j) == NULL) {
            j++;
        }
        if (img_pread(d->disk, buf + (size_t)i * IDE_SECTOR,
                      (uint64_t)(j - i) * IDE_SECTOR,
                      (lba + i) * IDE_SECTOR, NULL) < 0) {
            *bad = lba + i;
            return -EIO;
        }
        i = j;
    }
    return 0;
}

/* ---- interrupt and status ------------------------------------------- */

/* INTRQ reaches the line unless nIEN is set; only changes are sent. */
static void ide_update_irq(emu_ide *d)
{
    bool level = d->intrq && !(d->devctl & DC_NIEN);

    if (level != d->irq_level) {
        d->irq_level = level;
        emu_irq_set(d->irq, level);
    }
}

/* The drive requests an interrupt (pending until status is read). */
static void ide_raise(emu_ide *d)
{
    d->intrq = true;
    ide_update_irq(d);
}

/* True when the selected position holds the drive. */
static bool ide_selected_present(const emu_ide *d)
{
    return d->disk != NULL && !(d->select & DH_DEV);
}

/* Ends the command: status DRDY|DSC (plus ERR with err != 0), IRQ. */
static void ide_finish(emu_ide *d, uint8_t err)
{
    d->xfer = XFER_NONE;
    d->error = err;
    d->status = (uint8_t)(ST_DRDY | ST_DSC | (err ? ST_ERR : 0));
    ide_raise(d);
}

/* Power-on / reset values: the ATA signature and diagnostic code. */
static void ide_set_signature(emu_ide *d)
{
    d->nsect = d->lbal = 1;
    d->lbam = d->lbah = 0;
    d->hob_nsect = d->hob_lbal = d->hob_lbam = d->hob_lbah = 0;
    d->select = 0;
    d->error = ER_DIAG_OK;
}

/* ---- addressing ----------------------------------------------------- */

/* Sector count of the command: 0 means 256 (28-bit) or 65536 (48-bit). */
static uint32_t ide_count(const emu_ide *d, bool lba48)
{
    uint32_t n = lba48 ? ((uint32_t)d->hob_nsect << 8 | d->nsect) : d->nsect;

    if (n == 0) {
        n = lba48 ? 65536 : 256;
    }
    return n;
}

/* Starting sector from the task file; false for an invalid CHS. */
static bool ide_get_lba(const emu_ide *d, bool lba48, uint64_t *lba)
{
    if (lba48) {
        *lba = (uint64_t)d->hob_lbah << 40 | (uint64_t)d->hob_lbam << 32 |
               (uint64_t)d->hob_lbal << 24 | (uint64_t)d->lbah << 16 |
               (uint64_t)d->lbam << 8 | d->lbal;
    } else if (d->select & DH_LBA) {
        *lba = (uint64_t)(d->select & 0x0F) << 24 | (uint64_t)d->lbah << 16 |
               (uint64_t)d->lbam << 8 | d->lbal;
    } else {
        unsigned cyl = (unsigned)d->lbah << 8 | d->lbam;
        unsigned head = d->select & 0x0F;
        if (d->lbal == 0 || d->lbal > d->cur_secs || head >= d->cur_heads) {
            return false;
        }
        *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs +
               d->lbal - 1;
    }
    return true;
}

/* Writes sector lba back into the task file (error reporting). */
static void ide_set_lba(emu_ide *d, uint64_t lba, bool lba48)
{
    if (lba48 || (d->select & DH_LBA)) {
        d->lbal = (uint8_t)lba;
        d->lbam = (uint8_t)(lba >> 8);
        d->lbah = (uint8_t)(lba >> 16);
        if (lba48) {
            d->hob_lbal = (uint8_t)(lba >> 24);
            d->hob_lbam = (uint8_t)(lba >> 32);
            d->hob_lbah = (uint8_t)(lba >> 40);
        } else {
            d->select = (uint8_t)((d->select & 0xF0) | ((lba >> 24) & 0x0F));
        }
        return;
    }
    uint64_t per_cyl = (uint64_t)d->cur_heads * d->cur_secs;
    uint64_t cyl = lba / per_cyl, rem = lba % per_cyl;
    d->lbam = (uint8_t)cyl;
    d->lbah = (uint8_t)(cyl >> 8);
    d->select = (uint8_t)((d->select & 0xF0) | (rem / d->cur_secs));
    d->lbal = (uint8_t)(rem % d->cur_secs + 1);
}

/*
 * Decodes the address and count of a transfer command into d->lba and
 * d->remaining.  On a bad address finishes the command with IDNF and
 * returns false.
 */
static bool ide_prepare(emu_ide *d, bool lba48)
{
    uint64_t lba;
    uint32_t n = ide_count(d, lba48);

    if (!ide_get_lba(d, lba48, &lba) || lba >= d->nsectors ||
        n > d->nsectors - lba) {
        ide_finish(d, ER_IDNF);
        return false;
    }
    d->lba = lba;
    d->remaining = n;
    d->lba48 = lba48;
    return true;
}

/* ---- data transfers ------------------------------------------------- */

/* Loads the next block of a read and raises DRQ and the interrupt. */
static void ide_read_block(emu_ide *d)
{
    unsigned n = d->remaining < d->block ? d->remaining : d->block;
    uint64_t bad;

    if (ide_disk_read(d, d->lba, d->buf, n, &bad) < 0) {
        ide_set_lba(d, bad, d->lba48);
        ide_finish(d, ER_UNC);
        return;
    }
    d->cur_block = n;
    d->pos = 0;
    d->len = (size_t)n * IDE_SECTOR;
    d->xfer = XFER_READ;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    ide_raise(d);
}

/* Opens the buffer for the next block of a write (DRQ). */
static void ide_want_block(emu_ide *d)
{
    d->cur_block = d->remaining < d->block ? d->remaining : d->block;
    d->pos = 0;
    d->len = (size_t)d->cur_block * IDE_SECTOR;
    d->xfer = XFER_WRITE;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
}

/* The guest drained the buffer. */
static void ide_in_done(emu_ide *d)
{
    if (d->xfer == XFER_PIO_IN) {
        d->xfer = XFER_NONE;
        d->status = ST_DRDY | ST_DSC;
        return;
    }
    d->nread += d->cur_block;
    d->lba += d->cur_block;
    d->remaining -= d->cur_block;
    if (d->remaining > 0) {
        ide_read_block(d);
        return;
    }
    d->xfer = XFER_NONE;
    d->status = ST_DRDY | ST_DSC; /* no interrupt after the last block */
}

/* The guest filled the buffer: store it, interrupt, ask for more. */
static void ide_out_done(emu_ide *d)
{
    if (ovl_write(&d->ovl, d->lba, d->buf, d->cur_block) < 0) {
        ide_finish(d, ER_ABRT);
        return;
    }
    d->nwritten += d->cur_block;
    d->lba += d->cur_block;
    d->remaining -= d->cur_block;
    if (d->remaining > 0) {
        ide_want_block(d);
        ide_raise(d);
        return;
    }
    ide_finish(d, 0);
}

/* One word from the data port; the block's last word ends the block.
 * Outside a data-in phase the port reads 0. */
static uint16_t ide_data_read16(emu_ide *d)
{
    uint16_t v;

    if (d->xfer != XFER_READ && d->xfer != XFER_PIO_IN) {
        return 0;
    }
    v = (uint16_t)(d->buf[d->pos] | d->buf[d->pos + 1] << 8);
    d->pos += 2;
    if (d->pos >= d->len) {
        ide_in_done(d);
    }
    return v;
}

/* One word to the data port; ignored outside a data-out phase. */
static void ide_data_write16(emu_ide *d, uint16_t v)
{
    if (d->xfer != XFER_WRITE) {
        return;
    }
    d->buf[d->pos] = (uint8_t)v;
    d->buf[d->pos + 1] = (uint8_t)(v >> 8);
    d->pos += 2;
    if (d->pos >= d->len) {
        ide_out_done(d);
    }
}

/* ---- IDENTIFY DEVICE ------------------------------------------------ */

/* Stores an ATA string: space padded, first character in the high byte. */
static void ide_id_string(uint16_t *w, unsigned nwords, const char *str)
{
    size_t len = strlen(str);

    for (unsigned i = 0; i < nwords * 2; i++) {
        uint8_t c = i < len ? (uint8_t)str[i] : ' ';
        w[i / 2] |= (uint16_t)(i % 2 ? c : c << 8);
    }
}

/* Capabilities and feature-set words (49-88). */
static void ide_id_features(const emu_ide *d, uint16_t *w)
{
    w[48] = 0x0001;                      /* 32-bit data port (pre-ATA-4) */
    w[49] = 1u << 11 | 1u << 9;          /* IORDY, LBA */
    w[50] = 0x4000;
    w[51] = 0x0200;                      /* PIO timing mode 2 (obsolete) */
    w[53] = 0x0003;                      /* words 54-58 and 64-70 valid */
    w[64] = 0x0003;                      /* PIO modes 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120; /* cycle times, ns */
    w[80] = 0x007E;                      /* ATA-1 .. ATA/ATAPI-6 */
    w[82] = 1u << 5 | 1u << 6;           /* write cache, look-ahead */
    w[83] = 0x4000 | 1u << 13 | 1u << 12 | 1u << 10; /* FLUSH EXT, FLUSH, 48 */
    w[84] = 0x4000;
    w[85] = (uint16_t)((d->wcache ? 1u << 5 : 0) |
                       (d->lookahead ? 1u << 6 : 0));
    w[86] = 1u << 13 | 1u << 12 | 1u << 10;
    w[87] = 0x4000;
    w[93] = 0x400B;                      /* device 0, jumper, diag passed */
}

/* Fills the 256 IDENTIFY words, word 255 being the integrity word. */
static void ide_identify_words(const emu_ide *d, uint16_t *w)
{
    uint64_t cur = (uint64_t)d->cur_cyls * d->cur_heads * d->cur_secs;
    uint64_t lba28 = d->nsectors < IDE_LBA28_MAX ? d->nsectors : IDE_LBA28_MAX;
    unsigned sum = 0;

    memset(w, 0, 256 * sizeof(*w));
    w[0] = 0x0040;                       /* fixed ATA device */
    w[1] = d->cyls;
    w[3] = d->heads;
    w[6] = d->secs;
    ide_id_string(&w[10], 10, "VD0000000001");
    ide_id_string(&w[23], 4, "1.0");
    ide_id_string(&w[27], 20, "VDISK HARDDISK");
    w[47] = 0x8000 | IDE_MAX_MULT;
    ide_id_features(d, w);
    w[54] = d->cur_cyls;
    w[55] = d->cur_heads;
    w[56] = d->cur_secs;
    w[57] = (uint16_t)cur;
    w[58] = (uint16_t)(cur >> 16);
    w[59] = (uint16_t)(d->mult ? 0x100 | d->mult : 0);
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    for (unsigned i = 0; i < 4; i++) {
        w[100 + i] = (uint16_t)(d->nsectors >> (16 * i));
    }
    w[255] = 0x00A5;
    for (unsigned i = 0; i < 255; i++) {
        sum += (w[i] & 0xFF) + (w[i] >> 8);
    }
    sum += 0xA5;
    w[255] |= (uint16_t)(((256 - (sum & 0xFF)) & 0xFF) << 8);
}

/* IDENTIFY DEVICE: one data-in block, little-endian words. */
static void ide_cmd_identify(emu_ide *d)
{
    uint16_t w[256];

    ide_identify_words(d, w);
    for (unsigned i = 0; i < 256; i++) {
        d->buf[2 * i] = (uint8_t)w[i];
        d->buf[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
    d->pos = 0;
    d->len = IDE_SECTOR;
    d->xfer = XFER_PIO_IN;
    d->error = 0;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    ide_raise(d);
}

/* ---- commands ------------------------------------------------------- */

/* READ SECTORS / MULTIPLE (block = sectors per DRQ block). */
static void ide_cmd_read(emu_ide *d, unsigned block, bool lba48)
{
    if (block == 0) {
        ide_finish(d, ER_ABRT); /* MULTIPLE while multiple mode is off */
        return;
    }
    if (ide_prepare(d, lba48)) {
        d->block = block;
        d->error = 0;
        ide_read_block(d);
    }
}

/* WRITE SECTORS / MULTIPLE: DRQ for the first block, no interrupt. */
static void ide_cmd_write(emu_ide *d, unsigned block, bool lba48)
{
    if (block == 0) {
        ide_finish(d, ER_ABRT);
        return;
    }
    if (ide_prepare(d, lba48)) {
        d->block = block;
        d->error = 0;
        ide_want_block(d);
    }
}

/* READ VERIFY: only the address range is checked. */
static void ide_cmd_verify(emu_ide *d, bool lba48)
{
    if (ide_prepare(d, lba48)) {
        ide_finish(d, 0);
    }
}

/* SET MULTIPLE MODE: 0 (off) or a power of two up to 16. */
static void ide_cmd_set_multiple(emu_ide *d)
{
    unsigned n = d->nsect;

    if (n > IDE_MAX_MULT || (n & (n - 1)) != 0) {
        ide_finish(d, ER_ABRT);
        return;
    }
    d->mult = n;
    ide_finish(d, 0);
}

/* Cylinders of a heads x secs translation, as ATA computes them. */
static uint16_t ide_cyls_for(uint64_t total, unsigned heads, unsigned secs)
{
    uint64_t c = total / ((uint64_t)heads * secs);

    return (uint16_t)(c > 65535 ? 65535 : c);
}

/* INITIALIZE DEVICE PARAMETERS: heads from the device register, sectors
 * per track from the count. */
static void ide_cmd_init_params(emu_ide *d)
{
    if (d->nsect == 0) {
        ide_finish(d, ER_ABRT);
        return;
    }
    d->cur_heads = (uint16_t)((d->select & 0x0F) + 1);
    d->cur_secs = d->nsect;
    d->cur_cyls = ide_cyls_for(d->nsectors, d->cur_heads, d->cur_secs);
    ide_finish(d, 0);
}

/* SET FEATURES: PIO transfer modes, write cache, look-ahead, defaults. */
static void ide_cmd_set_features(emu_ide *d)
{
    uint8_t err = 0;

    switch (d->feature) {
    case 0x03: /* transfer mode: PIO default or PIO flow control 0-4 */
        if (d->nsect > 0x01 && (d->nsect < 0x08 || d->nsect > 0x0C)) {
            err = ER_ABRT;
        }
        break;
    case 0x02:
    case 0x82:
        d->wcache = d->feature == 0x02;
        break;
    case 0xAA:
    case 0x55:
        d->lookahead = d->feature == 0xAA;
        break;
    case 0x66:
    case 0xCC:
        break;
    default:
        err = ER_ABRT;
        break;
    }
    ide_finish(d, err);
}

/* EXECUTE DEVICE DIAGNOSTIC: signature and code 01h. */
static void ide_cmd_diagnostic(emu_ide *d)
{
    ide_set_signature(d);
    d->xfer = XFER_NONE;
    d->status = ST_DRDY | ST_DSC;
    ide_raise(d);
}

/* Data transfer commands; false when cmd is not one of them. */
static bool ide_exec_rw(emu_ide *d, uint8_t cmd)
{
    switch (cmd) {
    case 0x20: case 0x21: ide_cmd_read(d, 1, false); break;
    case 0x24: ide_cmd_read(d, 1, true); break;
    case 0xC4: ide_cmd_read(d, d->mult, false); break;
    case 0x29: ide_cmd_read(d, d->mult, true); break;
    case 0x30: case 0x31: ide_cmd_write(d, 1, false); break;
    case 0x34: ide_cmd_write(d, 1, true); break;
    case 0xC5: ide_cmd_write(d, d->mult, false); break;
    case 0x39: ide_cmd_write(d, d->mult, true); break;
    case 0x40: case 0x41: ide_cmd_verify(d, false); break;
    case 0x42: ide_cmd_verify(d, true); break;
    default: return false;
    }
    return true;
}

/* Runs a command written to the command register (master only). */
static void ide_exec(emu_ide *d, uint8_t cmd)
{
    if (ide_exec_rw(d, cmd)) {
        return;
    }
    switch (cmd) {
    case 0xEC: ide_cmd_identify(d); break;
    case 0xC6: ide_cmd_set_multiple(d); break;
    case 0x91: ide_cmd_init_params(d); break;
    case 0xEF: ide_cmd_set_features(d); break;
    case 0x90: ide_cmd_diagnostic(d); break;
    case 0xE5: /* CHECK POWER MODE: active or idle */
        d->nsect = 0xFF;
        ide_finish(d, 0);
        break;
    case 0xE7: case 0xEA: /* FLUSH CACHE (EXT): the overlay is memory */
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: /* standby, idle */
        ide_finish(d, 0);
        break;
    default:
        if ((cmd & 0xF0) == 0x10) { /* RECALIBRATE (obsolete) */
            ide_finish(d, 0);
        } else {
            ide_finish(d, ER_ABRT);
        }
        break;
    }
}

/* ---- registers ------------------------------------------------------ */

/* Status of the selected position (0 for an absent drive). */
static uint8_t ide_status(const emu_ide *d)
{
    return ide_selected_present(d) ? d->status : 0;
}

/* Command block reads (offsets 1-7); HOB selects the previous values
 * of the 48-bit registers. */
static uint8_t ide_read_reg(emu_ide *d, unsigned reg)
{
    bool hob = d->devctl & DC_HOB;

    if (d->disk == NULL) {
        return 0;
    }
    switch (reg) {
    case REG_ERROR:
        return ide_selected_present(d) ? d->error : 0;
    case REG_NSECT:
        return hob ? d->hob_nsect : d->nsect;
    case REG_LBAL:
        return hob ? d->hob_lbal : d->lbal;
    case REG_LBAM:
        return hob ? d->hob_lbam : d->lbam;
    case REG_LBAH:
        return hob ? d->hob_lbah : d->lbah;
    case REG_DEVICE:
        return d->select;
    default:
        d->intrq = false; /* reading status acknowledges INTRQ */
        ide_update_irq(d);
        return ide_status(d);
    }
}

/* Shifts the old value of a register into its HOB copy. */
static void ide_write_pair(uint8_t *cur, uint8_t *hob, uint8_t val)
{
    *hob = *cur;
    *cur = val;
}

/* Command block writes (offsets 1-7); any of them clears HOB. */
static void ide_write_reg(emu_ide *d, unsigned reg, uint8_t val)
{
    if (ide_status(d) & (ST_BSY | ST_DRQ)) {
        return; /* the drive is busy: command block writes are ignored */
    }
    d->devctl &= (uint8_t)~DC_HOB;
    switch (reg) {
    case REG_ERROR:
        ide_write_pair(&d->feature, &d->hob_feature, val);
        break;
    case REG_NSECT:
        ide_write_pair(&d->nsect, &d->hob_nsect, val);
        break;
    case REG_LBAL:
        ide_write_pair(&d->lbal, &d->hob_lbal, val);
        break;
    case REG_LBAM:
        ide_write_pair(&d->lbam, &d->hob_lbam, val);
        break;
    case REG_LBAH:
        ide_write_pair(&d->lbah, &d->hob_lbah, val);
        break;
    case REG_DEVICE:
        d->select = val;
        break;
    default:
        if (ide_selected_present(d)) { /* absent slave: ignored */
            d->intrq = false;
            ide_exec(d, val);
            ide_update_irq(d);
        }
        break;
    }
}

/* Device control: SRST held keeps the drive busy, its release resets. */
static void ide_write_devctl(emu_ide *d, uint8_t val)
{
    if ((val & DC_SRST) && !(d->devctl & DC_SRST)) {
        d->xfer = XFER_NONE;
        d->status = ST_BSY | ST_DSC;
        d->intrq = false;
    } else if (!(val & DC_SRST) && (d->devctl & DC_SRST)) {
        ide_set_signature(d);
        d->status = ST_DRDY | ST_DSC;
    }
    d->devctl = val;
    ide_update_irq(d);
}

/* Bus handlers: 16- and 32-bit data port accesses move 1 or 2 words;
 * a byte access to the data port moves a word and keeps its low byte. */
static uint32_t ide_pio_read(void *opaque, uint16_t port, unsigned size)
{
    emu_ide *d = opaque;

    if (port == d->ctl) {
        return ide_status(d); /* alternate status: INTRQ untouched */
    }
    if (port != d->base) {
        return ide_read_reg(d, (unsigned)(port - d->base));
    }
    uint32_t v = ide_data_read16(d);
    if (size == 4) {
        v |= (uint32_t)ide_data_read16(d) << 16;
    }
    return v;
}

static void ide_pio_write(void *opaque, uint16_t port, unsigned size,
                          uint32_t val)
{
    emu_ide *d = opaque;

    if (port == d->ctl) {
        ide_write_devctl(d, (uint8_t)val);
    } else if (port != d->base) {
        ide_write_reg(d, (unsigned)(port - d->base), (uint8_t)val);
    } else {
        ide_data_write16(d, (uint16_t)val);
        if (size == 4) {
            ide_data_write16(d, (uint16_t)(val >> 16));
        }
    }
}

/* ---- life cycle ----------------------------------------------------- */

/* Default CHS: LBA-assisted 16 heads x 63 sectors, at most 16383
 * cylinders; small disks get fewer heads so the geometry fits. */
static void ide_default_geometry(emu_ide *d)
{
    uint64_t total = d->nsectors;

    d->secs = total >= 63 ? 63 : (uint16_t)(total ? total : 1);
    d->heads = 16;
    if (total < 16ull * d->secs) {
        d->heads = (uint16_t)(total / d->secs ? total / d->secs : 1);
    }
    uint64_t c = total / ((uint64_t)d->heads * d->secs);
    d->cyls = (uint16_t)(c > 16383 ? 16383 : (c ? c : 1));
}

/*
 * State after power-on or a hardware reset (ATA/ATAPI-6, power-on and
 * hardware reset protocol): no command or data transfer in progress,
 * INTRQ clear, device control 0 (nIEN, SRST and HOB clear), the
 * signature and diagnostic code in the task file, status DRDY|DSC, and
 * the settings of SET MULTIPLE, SET FEATURES and INITIALIZE DEVICE
 * PARAMETERS back to their defaults.
 */
static void ide_power_on(emu_ide *d)
{
    d->intrq = false;
    d->feature = d->hob_feature = 0;
    d->devctl = 0;
    d->cur_cyls = d->cyls;
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
    d->mult = 0;
    d->wcache = d->lookahead = true;
    d->xfer = XFER_NONE;
    d->lba = 0;
    d->remaining = 0;
    d->lba48 = false;
    d->block = d->cur_block = 0;
    d->pos = d->len = 0;
    ide_set_signature(d);
    d->status = ST_DRDY | ST_DSC;
}

emu_ide *emu_ide_new(emu_bus *b, uint16_t base, uint16_t ctl, emu_irq irq,
                     img *disk)
{
    emu_ide *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        return NULL;
    }
    d->irq = irq;
    d->disk = disk;
    d->nsectors = disk != NULL ? img_size(disk) / IDE_SECTOR : 0;
    d->base = base;
    d->ctl = ctl;
    d->ovl.max_chunks = IDE_OVERLAY_MAX / IDE_CHUNK_BYTES;
    ide_default_geometry(d);
    ide_power_on(d);
    if (emu_bus_add_ports(b, base, 8, ide_pio_read, ide_pio_write, d) < 0) {
        free(d);
        return NULL;
    }
    if (emu_bus_add_ports(b, ctl, 1, ide_pio_read, ide_pio_write, d) < 0) {
        /* The command block stays claimed: the bus must be discarded. */
        free(d);
        return NULL;
    }
    return d;
}

void emu_ide_free(emu_ide *d)
{
    if (d != NULL) {
        ovl_clear(&d->ovl);
        free(d);
    }
}

/* A disk keeps its data across a reboot: the overlay is not touched. */
void emu_ide_reset(emu_ide *d)
{
    ide_power_on(d);
    ide_update_irq(d); /* INTRQ is clear: the line drops */
}

void emu_ide_set_overlay_limit(emu_ide *d, uint64_t bytes)
{
    d->ovl.max_chunks = (size_t)(bytes / IDE_CHUNK_BYTES);
}

uint64_t emu_ide_sectors_read(const emu_ide *d)
{
    return d->nread;
}

uint64_t emu_ide_sectors_written(const emu_ide *d)
{
    return d->nwritten;
}
