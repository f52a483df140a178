/*
 * emu/dev/fw_cfg.c -- QEMU's firmware configuration device over I/O ports.
 *
 * Implements the x86 port interface of QEMU's docs/specs/fw_cfg.rst:
 * a 16-bit selector at 0x510, a byte-wide data port at 0x511 whose reads
 * walk the selected item (zeros past its end), and the DMA address
 * register at 0x514 (high half, big endian) / 0x518 (low half; writing
 * it starts the transfer); one port range 0x510-0x51B is claimed, the
 * unused 0x512/0x513 read as 0.  Numbered items live in a small table; named
 * files are kept sorted by name, numbered from key 0x20 in that order,
 * and listed by the file directory item (key 0x19).  All items are
 * read-only for the guest: a DMA WRITE sets the ERROR bit.
 *
 * DMA only ever touches guest RAM: a transfer whose buffer is not wholly
 * inside RAM slots of the bus fails with ERROR, so a hostile length is
 * bounded by the size of guest RAM and never runs away.
 */
#include "fw_cfg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FW_CFG_PORT_SEL     0x510   /* selector, 16-bit write */
#define FW_CFG_PORT_DMA     0x514   /* DMA address, 2 x 32-bit BE */
#define FW_CFG_PORT_COUNT   12      /* 0x510..0x51B */
#define FW_CFG_ID_TRAD      0x01u   /* ID: traditional interface */
#define FW_CFG_ID_DMA       0x02u   /* ID: DMA interface */
#define FW_CFG_KEY_WRITE    0x4000u /* selector bit ignored on lookup */
#define FW_CFG_MAX_ITEMS    64      /* numbered items */
#define FW_CFG_MAX_FILES    64      /* named files */
#define FW_CFG_NAME_LEN     56      /* name field incl. NUL */
#define FW_CFG_DIR_ENTRY    64      /* bytes per directory entry */

/* FWCfgDmaAccess control bits. */
#define FW_CFG_DMA_ERROR    0x01u
#define FW_CFG_DMA_READ     0x02u
#define FW_CFG_DMA_SKIP     0x04u
#define FW_CFG_DMA_SELECT   0x08u
#define FW_CFG_DMA_WRITE    0x10u

/* Value read back from the DMA address register: "QEMU CFG". */
static const char fw_cfg_dma_sig[8] = "QEMU CFG";

/* One item: a key and its bytes (owned). */
typedef struct fw_cfg_item {
    uint16_t key;        /* selector value */
    uint8_t *data;       /* contents, NULL when len == 0 */
    uint32_t len;        /* bytes */
    char name[FW_CFG_NAME_LEN]; /* file name, "" for numbered items */
} fw_cfg_item;

struct emu_fw_cfg {
    emu_bus *bus;                          /* ports and DMA memory */
    fw_cfg_item items[FW_CFG_MAX_ITEMS];   /* numbered items */
    size_t nitems;
    fw_cfg_item files[FW_CFG_MAX_FILES];   /* named files, sorted by name */
    size_t nfiles;
    uint8_t *dir;        /* file directory image (key 0x19) */
    uint32_t dir_len;
    uint16_t cur_key;    /* selected key */
    uint32_t cur_off;    /* read offset in the selected item */
    uint64_t dma_addr;   /* DMA address being assembled */
};

/* Big-endian stores and loads for the directory and DMA descriptors. */
static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) |
           (v << 24);
}

/* The item selected by key, or NULL (reads then give zeros). */
static const fw_cfg_item *fw_cfg_find(const emu_fw_cfg *f, uint16_t key)
{
    key &= (uint16_t)~FW_CFG_KEY_WRITE;
    if (key == EMU_FW_CFG_FILE_DIR) {
        return NULL; /* served from f->dir, see fw_cfg_data() */
    }
    if (key >= EMU_FW_CFG_FILE_FIRST &&
        key - EMU_FW_CFG_FILE_FIRST < (int)f->nfiles) {
        return &f->files[key - EMU_FW_CFG_FILE_FIRST];
    }
    for (size_t i = 0; i < f->nitems; i++) {
        if (f->items[i].key == key) {
            return &f->items[i];
        }
    }
    return NULL;
}

/* Contents and length of the selected item (len 0 when none). */
static const uint8_t *fw_cfg_data(const emu_fw_cfg *f, uint32_t *len)
{
    const fw_cfg_item *it;

    if ((f->cur_key & ~FW_CFG_KEY_WRITE) == EMU_FW_CFG_FILE_DIR) {
        *len = f->dir_len;
        return f->dir;
    }
    it = fw_cfg_find(f, f->cur_key);
    *len = it != NULL ? it->len : 0;
    return it != NULL ? it->data : NULL;
}

/* Writing the selector picks an item and rewinds its read offset. */
static void fw_cfg_select(emu_fw_cfg *f, uint16_t key)
{
    f->cur_key = key;
    f->cur_off = 0;
}

/* Next byte of the selected item; 0 past its end. */
static uint8_t fw_cfg_next_byte(emu_fw_cfg *f)
{
    uint32_t len;
    const uint8_t *d = fw_cfg_data(f, &len);

    if (f->cur_off >= len) {
        return 0;
    }
    return d[f->cur_off++];
}

/* ---- DMA ------------------------------------------------------------ */

/* Bytes from gpa to the end of the RAM slot holding it; 0: not RAM. */
static uint64_t fw_cfg_slot_avail(const emu_bus *b, uint64_t gpa)
{
    for (size_t i = 0; i < emu_bus_ram_count(b); i++) {
        const emu_ram_slot *s = emu_bus_ram_slot(b, i);
        if (gpa >= s->gpa && gpa - s->gpa < s->size) {
            return s->size - (gpa - s->gpa);
        }
    }
    return 0;
}

/* True when [gpa, gpa+len) lies wholly inside (adjacent) RAM slots. */
static bool fw_cfg_in_ram(const emu_bus *b, uint64_t gpa, uint64_t len)
{
    while (len > 0) {
        uint64_t avail = fw_cfg_slot_avail(b, gpa);
        if (avail == 0) {
            return false;
        }
        if (avail >= len) {
            return true;
        }
        gpa += avail;
        len -= avail;
    }
    return true;
}

/*
 * Copies len bytes (src NULL: zeros) to guest RAM through the bus, in
 * 8-byte stores that never straddle two slots.  The caller checked the
 * range with fw_cfg_in_ram().
 */
static void fw_cfg_mem_copy(emu_bus *b, uint64_t gpa, const uint8_t *src,
                            uint64_t len)
{
    uint64_t i = 0;

    while (i < len) {
        uint64_t end = fw_cfg_slot_avail(b, gpa + i);
        end = i + (end < len - i ? end : len - i);
        if (end == i) {
            return; /* not RAM: cannot happen after fw_cfg_in_ram() */
        }
        for (; i + 8 <= end; i += 8) {
            uint64_t v = 0;
            for (unsigned k = 0; src != NULL && k < 8; k++) {
                v |= (uint64_t)src[i + k] << (8 * k);
            }
            emu_bus_mem_write(b, gpa + i, 8, v);
        }
        for (; i < end; i++) {
            emu_bus_mem_write(b, gpa + i, 1, src != NULL ? src[i] : 0);
        }
    }
}

/* Reads a big-endian field of n bytes of the descriptor at gpa. */
static uint64_t fw_cfg_mem_be(emu_bus *b, uint64_t gpa, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = (v << 8) | emu_bus_mem_read(b, gpa + i, 1);
    }
    return v;
}

/*
 * READ or SKIP of len bytes for the selected item at guest address addr
 * (READ only).  Bytes past the item's end read as zeros.  Returns false
 * when the buffer is not in RAM.
 */
static bool fw_cfg_dma_read(emu_fw_cfg *f, uint64_t addr, uint32_t len,
                            bool copy)
{
    uint32_t item_len, n;
    const uint8_t *d = fw_cfg_data(f, &item_len);

    if (copy && !fw_cfg_in_ram(f->bus, addr, len)) {
        return false;
    }
    n = f->cur_off < item_len ? item_len - f->cur_off : 0;
    n = n < len ? n : len;
    if (copy) {
        fw_cfg_mem_copy(f->bus, addr, n > 0 ? d + f->cur_off : NULL, n);
        fw_cfg_mem_copy(f->bus, addr + n, NULL, len - n);
    }
    f->cur_off += n;
    return true;
}

/* Runs the FWCfgDmaAccess at desc and writes its control word back. */
static void fw_cfg_dma_run(emu_fw_cfg *f, uint64_t desc)
{
    uint32_t control, length, result = 0;
    uint64_t addr;
    uint8_t out[4];

    /* Descriptor: be32 control, be32 length, be64 address. */
    if (!fw_cfg_in_ram(f->bus, desc, 16)) {
        return; /* nowhere to report: ignore, like a bus abort */
    }
    control = (uint32_t)fw_cfg_mem_be(f->bus, desc, 4);
    length = (uint32_t)fw_cfg_mem_be(f->bus, desc + 4, 4);
    addr = fw_cfg_mem_be(f->bus, desc + 8, 8);
    /* SELECT happens first; then one of READ, WRITE, SKIP, in QEMU's
     * order of precedence.  Only SELECT: nothing is transferred. */
    if (control & FW_CFG_DMA_SELECT) {
        fw_cfg_select(f, (uint16_t)(control >> 16));
    }
    if (control & FW_CFG_DMA_READ) {
        result = fw_cfg_dma_read(f, addr, length, true) ? 0
                                                        : FW_CFG_DMA_ERROR;
    } else if (control & FW_CFG_DMA_WRITE) {
        result = FW_CFG_DMA_ERROR; /* every item is read-only */
    } else if (control & FW_CFG_DMA_SKIP) {
        fw_cfg_dma_read(f, 0, length, false);
    }
    /* Completion: control becomes 0, or just ERROR, which is what
     * SeaBIOS polls for. */
    put_be32(out, result);
    fw_cfg_mem_copy(f->bus, desc, out, 4);
}

/* ---- ports ---------------------------------------------------------- */

/* Selector and data ports (0x510, 0x511). */
static uint32_t fw_cfg_data_read(emu_fw_cfg *f, unsigned off, unsigned size)
{
    uint32_t v = 0;

    if (off == 1) {
        /* Data: wider reads return consecutive bytes, first one lowest. */
        for (unsigned i = 0; i < size; i++) {
            v |= (uint32_t)fw_cfg_next_byte(f) << (8 * i);
        }
    }
    return v;
}

/* The DMA register reads back "QEMU CFG" in memory order. */
static uint32_t fw_cfg_sig_read(unsigned off, unsigned size)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < size && off + i < 8; i++) {
        v |= (uint32_t)(uint8_t)fw_cfg_dma_sig[off + i] << (8 * i);
    }
    return v;
}

static uint32_t fw_cfg_pio_read(void *opaque, uint16_t port, unsigned size)
{
    unsigned off = port - FW_CFG_PORT_SEL;

    if (port >= FW_CFG_PORT_DMA) {
        return fw_cfg_sig_read(port - FW_CFG_PORT_DMA, size);
    }
    return fw_cfg_data_read(opaque, off, size);
}

/* The guest writes each DMA address half with outl(cpu_to_be32(x)). */
static void fw_cfg_dma_reg_write(emu_fw_cfg *f, uint16_t port, uint32_t val)
{
    uint64_t half = bswap32(val);

    if (port == FW_CFG_PORT_DMA) {
        f->dma_addr = half << 32;
    } else if (port == FW_CFG_PORT_DMA + 4) {
        uint64_t desc = f->dma_addr | half;
        f->dma_addr = 0;
        fw_cfg_dma_run(f, desc);
    }
}

static void fw_cfg_pio_write(void *opaque, uint16_t port, unsigned size,
                             uint32_t val)
{
    emu_fw_cfg *f = opaque;

    if (port == FW_CFG_PORT_SEL) {
        fw_cfg_select(f, (uint16_t)val);
    } else if (port >= FW_CFG_PORT_DMA && size == 4) {
        fw_cfg_dma_reg_write(f, port, val);
    }
    /* Writes to the data port are ignored (deprecated in QEMU too). */
}

/* ---- items ---------------------------------------------------------- */

/* Fills it with a copy of data. */
static int fw_cfg_item_set(fw_cfg_item *it, uint16_t key, const void *data,
                           size_t len)
{
    uint8_t *copy = NULL;

    if (len > UINT32_MAX) {
        return -EINVAL;
    }
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL) {
            return -ENOMEM;
        }
        memcpy(copy, data, len);
    }
    free(it->data);
    it->key = key;
    it->data = copy;
    it->len = (uint32_t)len;
    return 0;
}

/* Rebuilds the file directory image and renumbers the files. */
static int fw_cfg_dir_rebuild(emu_fw_cfg *f)
{
    uint32_t len = 4 + (uint32_t)f->nfiles * FW_CFG_DIR_ENTRY;
    uint8_t *d = calloc(1, len);

    if (d == NULL) {
        return -ENOMEM;
    }
    /* be32 count, then per file: be32 size, be16 select, be16 reserved,
     * char name[56] (NUL padded, zeroed by calloc). */
    put_be32(d, (uint32_t)f->nfiles);
    for (size_t i = 0; i < f->nfiles; i++) {
        uint8_t *e = d + 4 + i * FW_CFG_DIR_ENTRY;
        f->files[i].key = (uint16_t)(EMU_FW_CFG_FILE_FIRST + i);
        put_be32(e, f->files[i].len);
        put_be16(e + 4, f->files[i].key);
        memcpy(e + 8, f->files[i].name, FW_CFG_NAME_LEN);
    }
    free(f->dir);
    f->dir = d;
    f->dir_len = len;
    return 0;
}

int emu_fw_cfg_add(emu_fw_cfg *f, uint16_t key, const void *data, size_t len)
{
    size_t i;

    key &= (uint16_t)~FW_CFG_KEY_WRITE;
    if (key == EMU_FW_CFG_FILE_DIR ||
        (key >= EMU_FW_CFG_FILE_FIRST &&
         key < EMU_FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES)) {
        return -EINVAL; /* reserved for the directory and the files */
    }
    /* Replace an existing item with this key, or append a new one. */
    for (i = 0; i < f->nitems && f->items[i].key != key; i++) {
    }
    if (i == FW_CFG_MAX_ITEMS) {
        return -ENOSPC;
    }
    int r = fw_cfg_item_set(&f->items[i], key, data, len);
    if (r == 0 && i == f->nitems) {
        f->nitems++;
    }
    return r;
}

int emu_fw_cfg_add_i16(emu_fw_cfg *f, uint16_t key, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

    return emu_fw_cfg_add(f, key, b, sizeof(b));
}

int emu_fw_cfg_add_i32(emu_fw_cfg *f, uint16_t key, uint32_t v)
{
    uint8_t b[4];

    for (unsigned i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return emu_fw_cfg_add(f, key, b, sizeof(b));
}

int emu_fw_cfg_add_i64(emu_fw_cfg *f, uint16_t key, uint64_t v)
{
    uint8_t b[8];

    for (unsigned i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return emu_fw_cfg_add(f, key, b, sizeof(b));
}

int emu_fw_cfg_add_file(emu_fw_cfg *f, const char *name, const void *data,
                        size_t len)
{
    size_t nlen = strlen(name), pos = 0;
    fw_cfg_item it = { 0 };
    int r;

    if (nlen == 0 || nlen >= FW_CFG_NAME_LEN) {
        return -EINVAL;
    }
    if (f->nfiles == FW_CFG_MAX_FILES) {
        return -ENOSPC;
    }
    /* Insertion point that keeps the directory sorted by name, as QEMU
     * does; keys follow the sorted order (renumbered on each insert). */
    while (pos < f->nfiles && strcmp(f->files[pos].name, name) < 0) {
        pos++;
    }
    if (pos < f->nfiles && strcmp(f->files[pos].name, name) == 0) {
        return -EEXIST;
    }
    r = fw_cfg_item_set(&it, 0, data, len);
    if (r < 0) {
        return r;
    }
    memcpy(it.name, name, nlen + 1);
    memmove(&f->files[pos + 1], &f->files[pos],
            (f->nfiles - pos) * sizeof(f->files[0]));
    f->files[pos] = it;
    f->nfiles++;
    r = fw_cfg_dir_rebuild(f);
    if (r < 0) {
        /* Undo the insertion so the directory stays consistent. */
        free(f->files[pos].data);
        memmove(&f->files[pos], &f->files[pos + 1],
                (f->nfiles - pos - 1) * sizeof(f->files[0]));
        f->nfiles--;
    }
    return r;
}

/* The contents are the machine's configuration: only the guest-visible
 * cursor state goes back to its power-on values. */
void emu_fw_cfg_reset(emu_fw_cfg *f)
{
    fw_cfg_select(f, EMU_FW_CFG_SIGNATURE);
    f->dma_addr = 0;
}

emu_fw_cfg *emu_fw_cfg_new(emu_bus *b)
{
    emu_fw_cfg *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    f->bus = b;
    if (fw_cfg_dir_rebuild(f) < 0 ||
        emu_fw_cfg_add(f, EMU_FW_CFG_SIGNATURE, "QEMU", 4) < 0 ||
        emu_fw_cfg_add_i32(f, EMU_FW_CFG_ID,
                           FW_CFG_ID_TRAD | FW_CFG_ID_DMA) < 0 ||
        emu_bus_add_ports(b, FW_CFG_PORT_SEL, FW_CFG_PORT_COUNT,
                          fw_cfg_pio_read, fw_cfg_pio_write, f) < 0) {
        emu_fw_cfg_free(f);
        return NULL;
    }
    return f;
}

void emu_fw_cfg_free(emu_fw_cfg *f)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < f->nitems; i++) {
        free(f->items[i].data);
    }
    for (size_t i = 0; i < f->nfiles; i++) {
        free(f->files[i].data);
    }
    free(f->dir);
    free(f);
}
