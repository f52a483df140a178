/* formats/vhdx/vhdx_format.h -- VHDX on-disk layout: structure offsets and
 * sizes, field offsets, signatures, GUIDs, bit fields and the limits we
 * enforce on untrusted files.
 *
 * Spec: Microsoft [MS-VHDX] "Virtual Hard Disk v2 (VHDX) File Format",
 * section 2 (2.2 header section, 2.3 log, 2.4 blocks, 2.5 BAT, 2.6 metadata
 * region).  Every multi-byte value is little-endian; decoders read fields
 * at these offsets with bounds checks, never by casting a buffer to a
 * struct.  Signatures are compared as the byte strings they spell.
 */
#ifndef VHDX_FORMAT_H
#define VHDX_FORMAT_H

#include <stdint.h>

#define VHDX_KIB 1024ull
#define VHDX_MIB (1024ull * 1024)
#define VHDX_TIB (1024ull * 1024 * 1024 * 1024)

/* 2.2: the header section is 1 MiB of five 64 KiB items. */
#define VHDX_FILE_ID_OFFSET   0
#define VHDX_HEADER1_OFFSET   (64 * VHDX_KIB)
#define VHDX_HEADER2_OFFSET   (128 * VHDX_KIB)
#define VHDX_RT1_OFFSET       (192 * VHDX_KIB)
#define VHDX_RT2_OFFSET       (256 * VHDX_KIB)
#define VHDX_HEADER_SECTION   VHDX_MIB
#define VHDX_ITEM_SIZE        (64 * VHDX_KIB) /* each header-section item */
#define VHDX_ALIGN            VHDX_MIB        /* 2.1: objects are MB aligned */

_Static_assert(VHDX_RT2_OFFSET + VHDX_ITEM_SIZE <= VHDX_HEADER_SECTION,
               "the five items fit the header section");

/* 2.2.1 File type identifier. */
#define VHDX_FILE_SIG       "vhdxfile"
#define VHDX_FID_SIG        0   /* 8 bytes */
#define VHDX_FID_CREATOR    8   /* 512 bytes of UTF-16LE */
#define VHDX_FID_CREATOR_LEN 512

/* 2.2.2 Header: a 4 KiB structure (CRC over all of it). */
#define VHDX_HEADER_SIZE     4096
#define VHDX_HDR_SIG         0  /* "head" */
#define VHDX_HDR_CHECKSUM    4  /* u32 CRC-32C */
#define VHDX_HDR_SEQ         8  /* u64 */
#define VHDX_HDR_FILE_WRITE  16 /* GUID */
#define VHDX_HDR_DATA_WRITE  32 /* GUID */
#define VHDX_HDR_LOG_GUID    48 /* GUID */
#define VHDX_HDR_LOG_VERSION 64 /* u16, must be 0 */
#define VHDX_HDR_VERSION     66 /* u16, must be 1 */
#define VHDX_HDR_LOG_LENGTH  68 /* u32, multiple of 1 MiB */
#define VHDX_HDR_LOG_OFFSET  72 /* u64, multiple of 1 MiB */
#define VHDX_HDR_RESERVED    80 /* 4016 bytes, must be 0 */
#define VHDX_HEADER_SIG      "head"
#define VHDX_VERSION         1
#define VHDX_LOG_VERSION     0

_Static_assert(VHDX_HDR_RESERVED + 4016 == VHDX_HEADER_SIZE,
               "header is 4 KiB");

/* 2.2.3 Region table: 64 KiB, a 16-byte header and 32-byte entries. */
#define VHDX_RT_SIZE         VHDX_ITEM_SIZE
#define VHDX_RT_SIG          0  /* "regi" */
#define VHDX_RT_CHECKSUM     4  /* u32 CRC-32C over the 64 KiB */
#define VHDX_RT_COUNT        8  /* u32, <= 2047 */
#define VHDX_RT_RESERVED     12 /* u32, must be 0 */
#define VHDX_RT_HEADER_SIZE  16
#define VHDX_RT_ENTRY_SIZE   32
#define VHDX_RTE_GUID        0  /* GUID */
#define VHDX_RTE_OFFSET      16 /* u64, multiple of 1 MiB, >= 1 MiB */
#define VHDX_RTE_LENGTH      24 /* u32, multiple of 1 MiB */
#define VHDX_RTE_REQUIRED    28 /* u32: bit 0 Required, 31 reserved bits */
#define VHDX_RT_SIGNATURE    "regi"
#define VHDX_RT_MAX_ENTRIES  2047

_Static_assert(VHDX_RT_HEADER_SIZE + VHDX_RT_MAX_ENTRIES *
               VHDX_RT_ENTRY_SIZE <= VHDX_RT_SIZE,
               "2047 region entries fit the table");

/* 2.3 Log: a ring of 4 KiB sectors. */
#define VHDX_LOG_SECTOR      4096
#define VHDX_LOGE_SIG        0  /* "loge" */
#define VHDX_LOGE_CHECKSUM   4  /* u32 CRC-32C over EntryLength bytes */
#define VHDX_LOGE_LENGTH     8  /* u32 EntryLength, multiple of 4 KiB */
#define VHDX_LOGE_TAIL       12 /* u32, ring offset of the sequence start */
#define VHDX_LOGE_SEQ        16 /* u64, > 0 */
#define VHDX_LOGE_DESC_COUNT 24 /* u32 */
#define VHDX_LOGE_RESERVED   28 /* u32, must be 0 */
#define VHDX_LOGE_LOG_GUID   32 /* GUID */
#define VHDX_LOGE_FLUSHED    48 /* u64 FlushedFileOffset */
#define VHDX_LOGE_LAST       56 /* u64 LastFileOffset */
#define VHDX_LOGE_HEADER_SIZE 64
#define VHDX_LOG_ENTRY_SIG   "loge"

/* 2.3.1.2 / 2.3.1.3 descriptors (32 bytes each). */
#define VHDX_DESC_SIZE       32
#define VHDX_DESC_SIG        0  /* "zero" or "desc" */
#define VHDX_DESC_TRAILING   4  /* u32 data: TrailingBytes; zero: reserved */
#define VHDX_DESC_LEADING    8  /* u64 data: LeadingBytes; zero: ZeroLength */
#define VHDX_DESC_OFFSET     16 /* u64 FileOffset, multiple of 4 KiB */
#define VHDX_DESC_SEQ        24 /* u64, equals the entry's */
#define VHDX_ZERO_DESC_SIG   "zero"
#define VHDX_DATA_DESC_SIG   "desc"

/* 2.3.1.4 data sector: 4 KiB carrying bytes 8..4091 of an update. */
#define VHDX_DATA_SIG        0    /* "data" */
#define VHDX_DATA_SEQ_HIGH   4    /* u32 */
#define VHDX_DATA_BYTES      8    /* 4084 bytes of payload */
#define VHDX_DATA_SEQ_LOW    4092 /* u32 */
#define VHDX_DATA_SECTOR_SIG "data"
#define VHDX_DATA_LEADING    8    /* bytes kept in the descriptor */
#define VHDX_DATA_TRAILING   4

_Static_assert(VHDX_DATA_BYTES + 4084 == VHDX_DATA_SEQ_LOW,
               "data sector layout");
_Static_assert(VHDX_DATA_SEQ_LOW + 4 == VHDX_LOG_SECTOR,
               "data sector is 4 KiB");
_Static_assert(VHDX_LOGE_LAST + 8 == VHDX_LOGE_HEADER_SIZE,
               "log entry header is 64 bytes");
_Static_assert(VHDX_LOGE_HEADER_SIZE == 2 * VHDX_DESC_SIZE,
               "the entry header takes two descriptor slots");

/* 2.4 / 2.5 Blocks and the BAT. */
#define VHDX_BAT_ENTRY_SIZE  8
#define VHDX_BAT_STATE_MASK  0x7ull           /* bits 0-2 */
#define VHDX_BAT_RESERVED    0xffff8ull        /* bits 3-19, must be 0 */
#define VHDX_BAT_OFFSET_SHIFT 20               /* FileOffsetMB: bits 20-63 */
#define VHDX_SECTORS_PER_BITMAP (1ull << 23)   /* sectors per SB block */
#define VHDX_SB_BLOCK_SIZE   VHDX_MIB

_Static_assert(VHDX_SECTORS_PER_BITMAP / 8 == VHDX_SB_BLOCK_SIZE,
               "one sector bitmap block is 1 MiB of bits");
_Static_assert((VHDX_BAT_STATE_MASK | VHDX_BAT_RESERVED) ==
               (1ull << VHDX_BAT_OFFSET_SHIFT) - 1,
               "state and reserved bits fill the low 20 bits");

/* 2.5.1.1 payload block states, 2.5.1.2 sector bitmap states. */
enum {
    VHDX_PAYLOAD_NOT_PRESENT = 0,
    VHDX_PAYLOAD_UNDEFINED = 1,
    VHDX_PAYLOAD_ZERO = 2,
    VHDX_PAYLOAD_UNMAPPED = 3,
    VHDX_PAYLOAD_UNMAPPED_V095 = 5, /* draft 0.95 value, read as UNMAPPED */
    VHDX_PAYLOAD_FULLY_PRESENT = 6,
    VHDX_PAYLOAD_PARTIALLY_PRESENT = 7,
};
enum {
    VHDX_SB_NOT_PRESENT = 0,
    VHDX_SB_PRESENT = 6,
};

/* 2.6.1 Metadata table: 64 KiB at the start of the metadata region. */
#define VHDX_MT_SIZE         VHDX_ITEM_SIZE
#define VHDX_MT_SIG          0  /* "metadata" */
#define VHDX_MT_RESERVED     8  /* u16, must be 0 */
#define VHDX_MT_COUNT        10 /* u16, <= 2047 */
#define VHDX_MT_RESERVED2    12 /* 20 bytes, must be 0 */
#define VHDX_MT_HEADER_SIZE  32
#define VHDX_MT_ENTRY_SIZE   32
#define VHDX_MTE_ITEM_ID     0  /* GUID */
#define VHDX_MTE_OFFSET      16 /* u32, >= 64 KiB from the region start */
#define VHDX_MTE_LENGTH      20 /* u32, <= 1 MiB */
#define VHDX_MTE_FLAGS       24 /* u32: IsUser, IsVirtualDisk, IsRequired */
#define VHDX_MTE_RESERVED2   28 /* u32, must be 0 */
#define VHDX_MT_SIGNATURE    "metadata"
#define VHDX_MT_MAX_ENTRIES  2047
#define VHDX_MT_MAX_USER     1024
#define VHDX_MT_ITEM_MIN_OFFSET (64 * VHDX_KIB)
#define VHDX_MT_ITEM_MAX_LEN    VHDX_MIB
#define VHDX_MTE_IS_USER     (1u << 0)
#define VHDX_MTE_IS_VDISK    (1u << 1)
#define VHDX_MTE_IS_REQUIRED (1u << 2)
#define VHDX_MTE_FLAGS_KNOWN 0x7u

_Static_assert(VHDX_MT_HEADER_SIZE + VHDX_MT_MAX_ENTRIES *
               VHDX_MT_ENTRY_SIZE <= VHDX_MT_SIZE,
               "2047 metadata entries fit the table");
_Static_assert(VHDX_MT_RESERVED2 + 20 == VHDX_MT_HEADER_SIZE,
               "metadata table header is 32 bytes");

/* 2.6.2 known metadata items and their sizes. */
#define VHDX_FP_BLOCK_SIZE   0 /* u32 */
#define VHDX_FP_FLAGS        4 /* u32: LeaveBlockAllocated, HasParent */
#define VHDX_FP_SIZE         8
#define VHDX_FP_LEAVE_ALLOC  (1u << 0)
#define VHDX_FP_HAS_PARENT   (1u << 1)
#define VHDX_VDS_SIZE        8  /* u64 VirtualDiskSize */
#define VHDX_PAGE83_SIZE     16 /* GUID VirtualDiskId */
#define VHDX_SECTOR_ITEM_SIZE 4 /* u32 logical / physical sector size */
#define VHDX_BLOCK_MIN       VHDX_MIB
#define VHDX_BLOCK_MAX       (256 * VHDX_MIB)
#define VHDX_MAX_DISK_SIZE   (64 * VHDX_TIB)

/* 2.6.2.6 parent locator: 20-byte header, 12-byte key/value entries. */
#define VHDX_PL_TYPE         0  /* GUID */
#define VHDX_PL_RESERVED     16 /* u16, must be 0 */
#define VHDX_PL_COUNT        18 /* u16 KeyValueCount */
#define VHDX_PL_HEADER_SIZE  20
#define VHDX_PLE_KEY_OFFSET  0  /* u32 */
#define VHDX_PLE_VALUE_OFFSET 4 /* u32 */
#define VHDX_PLE_KEY_LENGTH  8  /* u16 */
#define VHDX_PLE_VALUE_LENGTH 10 /* u16 */
#define VHDX_PL_ENTRY_SIZE   12

/* Limits of our own on untrusted files (beyond the spec's). */
#define VHDX_MAX_FILE_SIZE   (1ull << 47) /* 128 TiB: payload + metadata */
#define VHDX_MAX_RO_REPLAY   (64 * VHDX_MIB) /* log data replayed in memory */

/* A GUID in its binary on-disk form (Data1-3 little-endian). */
typedef struct vhdx_guid {
    uint8_t b[16];
} vhdx_guid;

/* Known region (2.2.3.2) and metadata item (2.6.2) identifiers, and the
 * VHDX parent locator type (2.6.2.6.3); defined in vhdx_header.c. */
extern const vhdx_guid vhdx_guid_bat;
extern const vhdx_guid vhdx_guid_metadata;
extern const vhdx_guid vhdx_guid_file_params;
extern const vhdx_guid vhdx_guid_disk_size;
extern const vhdx_guid vhdx_guid_page83;
extern const vhdx_guid vhdx_guid_logical_sector;
extern const vhdx_guid vhdx_guid_physical_sector;
extern const vhdx_guid vhdx_guid_parent_locator;
extern const vhdx_guid vhdx_guid_parent_vhdx;

#endif
