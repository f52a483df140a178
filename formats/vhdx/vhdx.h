/* formats/vhdx/vhdx.h -- private state of the VHDX driver and the
 * functions its files share.
 *
 * One open image is a vhdx_state (im->state).  Open decodes the file
 * identifier and both headers (vhdx_header.c), replays the log
 * (vhdx_log.c), then decodes a region table, the metadata region
 * (vhdx_metadata.c) and the BAT (vhdx_bat.c).  Every read of the file goes
 * through vhdx_read(), which lays the in-memory log replay of a read-only
 * open over the file's bytes.  Writes update payload blocks in place and
 * every other structure through the log; headers are updated in turn
 * (2.2.2.1).  The core serialises the hooks (the driver is not marked
 * thread-safe), so the state needs no lock.
 */
#ifndef VHDX_H
#define VHDX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libimg/driver.h"
#include "vhdx_format.h"

/* ---- little-endian fields ---- */

static inline uint16_t vhdx_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t vhdx_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t vhdx_le64(const uint8_t *p)
{
    return (uint64_t)vhdx_le32(p) | (uint64_t)vhdx_le32(p + 4) << 32;
}

static inline void vhdx_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void vhdx_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void vhdx_put64(uint8_t *p, uint64_t v)
{
    vhdx_put32(p, (uint32_t)v);
    vhdx_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t vhdx_round_up(uint64_t v, uint64_t align)
{
    return (v + align - 1) / align * align;
}

static inline int vhdx_is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* ---- decoded structures ---- */

/* 2.2.2 one header. */
typedef struct vhdx_header {
    uint64_t seq;           /* SequenceNumber */
    vhdx_guid file_write;   /* FileWriteGuid */
    vhdx_guid data_write;   /* DataWriteGuid */
    vhdx_guid log_guid;     /* LogGuid, zero: no log to replay */
    uint16_t log_version;   /* LogVersion, must be 0 */
    uint16_t version;       /* Version, must be 1 */
    uint32_t log_length;    /* LogLength */
    uint64_t log_offset;    /* LogOffset */
    int reserved_nonzero;   /* the 4016 reserved bytes are not all zero */
} vhdx_header;

/* 2.2.3.2 one region table entry. */
typedef struct vhdx_region {
    vhdx_guid guid;
    uint64_t offset;
    uint32_t length;
    uint32_t required_field; /* the raw Required field (bit 0 + reserved) */
} vhdx_region;

/* 2.2.3 a decoded region table. */
typedef struct vhdx_region_table {
    unsigned count;
    vhdx_region entries[VHDX_RT_MAX_ENTRIES];
    int reserved_nonzero;    /* header Reserved field not zero */
} vhdx_region_table;

/* 2.6.1.2 one metadata table entry. */
typedef struct vhdx_meta_entry {
    vhdx_guid item_id;
    uint32_t offset;        /* from the start of the metadata region */
    uint32_t length;
    uint32_t flags;         /* VHDX_MTE_* bits, reserved bits included */
    uint32_t reserved2;
} vhdx_meta_entry;

/* 2.6.1 a decoded metadata table. */
typedef struct vhdx_meta_table {
    unsigned count;
    vhdx_meta_entry *entries; /* malloc'd, count of them */
    int reserved_nonzero;     /* Reserved/Reserved2 of the header */
} vhdx_meta_table;

/* One key/value pair of the parent locator, converted to UTF-8. */
typedef struct vhdx_kv {
    char *key;
    char *value;
} vhdx_kv;

/* 2.6.2.6 the parent locator. */
typedef struct vhdx_parent_locator {
    vhdx_guid type;
    unsigned count;
    vhdx_kv *kv;              /* malloc'd */
} vhdx_parent_locator;

/* 2.6.2 the virtual disk's parameters. */
typedef struct vhdx_params {
    uint32_t block_size;      /* BlockSize */
    uint32_t fp_flags;        /* File Parameters flags word, raw */
    int leave_allocated;      /* LeaveBlockAllocated */
    int has_parent;           /* HasParent */
    uint64_t disk_size;       /* VirtualDiskSize */
    vhdx_guid disk_id;        /* Page 83 VirtualDiskId */
    uint32_t logical_sector;  /* LogicalSectorSize */
    uint32_t physical_sector; /* PhysicalSectorSize */
    uint32_t disk_size_off;   /* region-relative offset of the size item */
} vhdx_params;

/* One in-memory replayed update of a read-only open (2.3.3, note 5). */
typedef struct vhdx_overlay_op {
    uint64_t offset;
    uint64_t length;
    uint8_t *data;            /* length bytes, or NULL for zeros */
} vhdx_overlay_op;

/* A changed 4 KiB sector of a sector bitmap block, until it is logged. */
typedef struct vhdx_sb_sector {
    uint64_t offset;          /* file offset, multiple of 4 KiB */
    uint8_t data[VHDX_LOG_SECTOR];
} vhdx_sb_sector;

/* A 4 KiB metadata sector update to write through the log. */
typedef struct vhdx_log_update {
    uint64_t offset;          /* file offset, multiple of 4 KiB */
    const uint8_t *data;      /* 4096 bytes */
} vhdx_log_update;

typedef struct vhdx_state {
    img *im;                  /* the image this state belongs to */
    img_file *file;           /* borrowed: im->file */
    int writable;             /* opened read-write */
    int quiet;                /* IMG_OPEN_QUIET: no messages on stderr */

    vhdx_header hdr[2];       /* both headers (hdr_valid says which) */
    int hdr_valid[2];
    int cur;                  /* index of the current header */
    vhdx_region_table rt;     /* the region table in use */
    int rt_used;              /* 0 or 1: which copy is in use */
    uint64_t bat_offset;      /* BAT region */
    uint32_t bat_length;
    uint64_t meta_offset;     /* metadata region */
    uint32_t meta_length;
    vhdx_meta_table mt;
    vhdx_params p;
    vhdx_parent_locator pl;
    vhdx_guid linkage[2];     /* parent_linkage(2) (DataWriteGuid) */
    int n_linkage;
    int parent_checked;       /* parent linkage verified (lazily) */

    /* Geometry (2.4, 2.5). */
    uint64_t chunk_ratio;     /* payload blocks per sector bitmap block */
    uint64_t n_payload;       /* payload blocks */
    uint64_t n_sb;            /* sector bitmap blocks */
    uint64_t bat_needed;      /* BAT entries the disk size needs */
    uint64_t bat_cap;         /* entries loaded (whole 4 KiB sectors) */
    uint64_t *bat;            /* bat_cap entries, host order */
    uint8_t *bat_dirty;       /* one flag per BAT sector with changes */
    vhdx_sb_sector *sb_dirty; /* changed sector bitmap sectors */
    size_t n_sb_dirty, cap_sb_dirty;
    int block_bits;           /* log2(block_size) */

    /* Log (2.3). */
    uint64_t log_offset;
    uint32_t log_length;
    uint32_t log_head;        /* ring offset of the next entry */
    uint32_t pend_pos;        /* ring offset of the last entry written */
    uint32_t pend_len;        /* its length; 0 when no entry is needed */
    uint64_t log_seq;         /* sequence number of the next entry */
    int replayed_on_open;     /* a writable open replayed the log */
    int log_stale;            /* LogGuid set, but no valid sequence */
    vhdx_overlay_op *ovl;     /* read-only replay, in replay order */
    size_t n_ovl;
    uint64_t ovl_lo, ovl_hi;  /* range the overlay touches */

    /* Writing session (2.2.2.1). */
    int session_started;      /* headers updated with new guids */
    int log_active;           /* current header has our LogGuid */
    int data_guid_done;       /* DataWriteGuid changed this session */
    vhdx_guid session_file_guid; /* FileWriteGuid of this session */
    uint64_t file_end;        /* allocation frontier, MB aligned */
    uint64_t flushed_size;    /* file size at the last flush */
    uint64_t *free_blocks;    /* block-sized holes freed this session */
    size_t n_free, cap_free;
    uint64_t alloc_pending;   /* blocks allocated since the last BAT
                                 commit: their data is flushed first */
} vhdx_state;

/* ---- vhdx_crc.c ---- */

/* CRC-32C (Castagnoli) of buf continuing from crc (0 to start), with the
 * zlib convention: the result of one call can be passed to the next. */
uint32_t vhdx_crc32c(uint32_t crc, const void *buf, size_t len);
/* CRC-32C of buf[0..len) reading the 4 bytes at field as zero (2.2.2,
 * 2.2.3.1, 2.3.1.1: the checksum field takes the value zero). */
uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t field);

/* ---- vhdx_header.c: GUIDs, file identifier, headers, region table ---- */

int vhdx_guid_is_zero(const vhdx_guid *g);
int vhdx_guid_eq(const vhdx_guid *a, const vhdx_guid *b);
/* Fresh random (version 4) GUID from getrandom()/urandom. */
int vhdx_guid_generate(vhdx_guid *g, img_err *err);
/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" in lower case. */
void vhdx_guid_format(const vhdx_guid *g, char out[39]);
/* Parses that form (any case, braces required); 0 or -EINVAL. */
int vhdx_guid_parse(const char *s, vhdx_guid *g);

int vhdx_file_id_decode(const uint8_t *buf, size_t len, img_err *err);
/* Fills the first 64 KiB item (signature and creator). */
void vhdx_file_id_encode(uint8_t *buf, size_t len, const char *creator);
/* Decodes one 4 KiB header; -EINVAL (err says why) when not valid. */
int vhdx_header_decode(const uint8_t *buf, size_t len, vhdx_header *out,
                       img_err *err);
void vhdx_header_encode(const vhdx_header *h, uint8_t *buf, size_t len);
/* Checks the current header's fields (2.2.2) against the file size. */
int vhdx_header_validate(const vhdx_header *h, uint64_t file_size,
                         img_err *err);
/* Reads both headers and chooses the current one (2.2.2). */
int vhdx_headers_load(vhdx_state *s, img_err *err);
/* The 2.2.2.1 update procedure, done twice: writes the non-current header
 * with SequenceNumber + 1 (new FileWriteGuid on the session's first update,
 * a new DataWriteGuid when new_data_guid), log_guid as the LogGuid, and
 * flushes after each write. */
int vhdx_headers_update(vhdx_state *s, int new_data_guid,
                        const vhdx_guid *log_guid, img_err *err);
int vhdx_region_table_decode(const uint8_t *buf, size_t len,
                             vhdx_region_table *out, img_err *err);
void vhdx_region_table_encode(const vhdx_region_table *rt, uint8_t *buf,
                              size_t len);
/* Reads both copies, chooses one and checks the regions against each
 * other, the header section and the log. */
int vhdx_regions_load(vhdx_state *s, uint64_t file_size, img_err *err);
/* Whether [a, a+alen) and [b, b+blen) overlap. */
int vhdx_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen);

/* ---- vhdx_metadata.c ---- */

int vhdx_meta_table_decode(const uint8_t *buf, size_t len,
                           uint32_t region_length, vhdx_meta_table *out,
                           img_err *err);
/* Reads and decodes the table and every known item into s->p / s->pl. */
int vhdx_metadata_load(vhdx_state *s, img_err *err);
int vhdx_parent_locator_decode(const uint8_t *buf, size_t len,
                               vhdx_parent_locator *out, img_err *err);
void vhdx_parent_locator_clear(vhdx_parent_locator *pl);
const char *vhdx_parent_locator_get(const vhdx_parent_locator *pl,
                                    const char *key);
/* Encodes a VHDX parent locator from UTF-8 pairs into buf (len bytes);
 * returns the item length or -ENOSPC / -EINVAL. */
int vhdx_parent_locator_encode(const vhdx_kv *kv, unsigned n, uint8_t *buf,
                               size_t len, img_err *err);
/* Builds a metadata region image (64 KiB table + items) for create. */
int vhdx_metadata_build(const vhdx_params *p, const uint8_t *locator,
                        size_t locator_len, uint8_t *buf, size_t len,
                        img_err *err);
void vhdx_meta_table_clear(vhdx_meta_table *mt);

/* ---- vhdx_bat.c ---- */

/* Derives chunk ratio, block and entry counts from s->p (2.4, 2.5). */
int vhdx_geometry(vhdx_state *s, img_err *err);
/* Entry counts for given parameters (also used by create and measure). */
uint64_t vhdx_chunk_ratio(uint32_t block_size, uint32_t logical_sector);
uint64_t vhdx_bat_entries(uint64_t disk_size, uint32_t block_size,
                          uint32_t logical_sector, int has_parent);
static inline uint64_t vhdx_bat_index(const vhdx_state *s, uint64_t block)
{
    return block + block / s->chunk_ratio;
}
static inline uint64_t vhdx_sb_index(const vhdx_state *s, uint64_t chunk)
{
    return chunk * (s->chunk_ratio + 1) + s->chunk_ratio;
}
static inline unsigned vhdx_bat_state(uint64_t e)
{
    return (unsigned)(e & VHDX_BAT_STATE_MASK);
}
static inline uint64_t vhdx_bat_offset(uint64_t e)
{
    return (e >> VHDX_BAT_OFFSET_SHIFT) << 20;
}
static inline uint64_t vhdx_bat_make(unsigned state, uint64_t offset)
{
    return (offset >> 20) << VHDX_BAT_OFFSET_SHIFT | state;
}
/* Reads the BAT and checks every entry a reader relies on; sets
 * s->file_end past the last block. */
int vhdx_bat_load(vhdx_state *s, uint64_t file_size, img_err *err);
/* Changes one entry in memory and marks its sector for the next commit. */
void vhdx_bat_set(vhdx_state *s, uint64_t index, uint64_t entry);
/* Writes the changed BAT and sector bitmap sectors through the log,
 * after flushing the data of the blocks allocated since the last commit
 * (alloc_pending), so a logged entry never points at unwritten data. */
int vhdx_bat_commit(vhdx_state *s, img_err *err);
/* Encodes BAT sector i (512 entries) into buf. */
void vhdx_bat_encode_sector(const vhdx_state *s, uint64_t i, uint8_t *buf);

/* ---- vhdx_log.c ---- */

/* Finds the active sequence (2.3.3) and replays it: on the file when
 * writable (headers updated first, log cleared after), else in memory.
 * *file_size grows to the head entry's LastFileOffset when smaller. */
int vhdx_log_open(vhdx_state *s, uint64_t *file_size, img_err *err);
/* Writes the updates through the log: entry, flush, apply (2.3). */
int vhdx_log_write(vhdx_state *s, const vhdx_log_update *u, size_t n,
                   img_err *err);
/* Lays the in-memory replay over buf (file bytes [off, off+len)). */
void vhdx_overlay_apply(const vhdx_state *s, uint8_t *buf, uint64_t len,
                        uint64_t off);
void vhdx_overlay_free(vhdx_state *s);

/* ---- vhdx.c: I/O helpers shared by the files above ---- */

/* Checks once that the parent is the image the child was made from: its
 * DataWriteGuid is a parent_linkage value (2.6.2.6.3).  0 without one. */
int vhdx_parent_linkage_check(vhdx_state *s, img_err *err);
/* Reads virtual disk bytes (the driver's pread, without the core). */
int vhdx_read_virtual(vhdx_state *s, void *buf, uint64_t len, uint64_t off,
                      img_err *err);
/* Reads file bytes as the replayed log says they are. */
int vhdx_read(vhdx_state *s, void *buf, uint64_t len, uint64_t off,
              img_err *err);
/* Starts a writing session before the first change: new FileWriteGuid and
 * LogGuid in both headers, and a new DataWriteGuid before the first change
 * a reader can see (user_data) (2.2.2, 2.2.2.1). */
int vhdx_begin_write(vhdx_state *s, int user_data, img_err *err);
/* Ends it: everything flushed, LogGuid cleared so the log reads empty. */
int vhdx_end_write(vhdx_state *s, img_err *err);
/* Flushes the file and records the size that is now stable; with
 * IMG_OPEN_NO_FLUSH (cache=unsafe) the sync itself is skipped. */
int vhdx_flush_file(vhdx_state *s, img_err *err);

/* ---- vhdx_write.c: the driver's writing hooks ---- */

int vhdx_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
                unsigned flags, img_err *err);
int vhdx_pwrite_zeroes(img *im, uint64_t off, uint64_t len, unsigned flags,
                       img_err *err);
int vhdx_discard(img *im, uint64_t off, uint64_t len, img_err *err);
int vhdx_flush(img *im, img_err *err);
int vhdx_truncate(img *im, uint64_t size, int prealloc, img_err *err);

/* ---- vhdx_create.c ---- */

extern const img_opt_desc vhdx_create_opts[];
int vhdx_create(img_file *file, const img_create_opts *o, img_err *err);
int vhdx_measure(const img_opts *opts, uint64_t size, img *in,
                 img_measure *out, img_err *err);

/* ---- vhdx_check.c ---- */

int vhdx_check(img *im, img_check_result *res, unsigned fix, img_err *err);

#endif
