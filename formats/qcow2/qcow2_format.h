/* formats/qcow2/qcow2_format.h -- qcow2 on-disk layout: field offsets,
 * sizes, flag bits and the limits we enforce on untrusted images.
 *
 * Spec: QEMU docs/interop/qcow2.txt ("Header", "Header extensions",
 * "Cluster mapping", "Extended L2 Entries", "Snapshots").  Everything on
 * disk is big-endian; decoders read fields at these offsets with bounds
 * checks, never by casting a buffer to a struct.
 */
#ifndef QCOW2_FORMAT_H
#define QCOW2_FORMAT_H

#include <stdint.h>

/* "QFI\xfb" */
#define QCOW2_MAGIC 0x514649fbu

/* Header fields (byte offsets from the start of the file). */
#define QCOW2_HDR_MAGIC            0  /* u32 */
#define QCOW2_HDR_VERSION          4  /* u32: 2 or 3 */
#define QCOW2_HDR_BACKING_OFFSET   8  /* u64 */
#define QCOW2_HDR_BACKING_SIZE     16 /* u32 */
#define QCOW2_HDR_CLUSTER_BITS     20 /* u32 */
#define QCOW2_HDR_SIZE             24 /* u64: virtual size */
#define QCOW2_HDR_CRYPT_METHOD     32 /* u32 */
#define QCOW2_HDR_L1_SIZE          36 /* u32: entries */
#define QCOW2_HDR_L1_OFFSET        40 /* u64 */
#define QCOW2_HDR_REFTABLE_OFFSET  48 /* u64 */
#define QCOW2_HDR_REFTABLE_CLUSTERS 56 /* u32 */
#define QCOW2_HDR_NB_SNAPSHOTS     60 /* u32 */
#define QCOW2_HDR_SNAPSHOTS_OFFSET 64 /* u64 */
#define QCOW2_HDR_V2_LEN           72 /* version 2 ends here */
#define QCOW2_HDR_INCOMPAT         72 /* u64, v3 */
#define QCOW2_HDR_COMPAT           80 /* u64, v3 */
#define QCOW2_HDR_AUTOCLEAR        88 /* u64, v3 */
#define QCOW2_HDR_REFCOUNT_ORDER   96 /* u32, v3 */
#define QCOW2_HDR_HEADER_LENGTH    100 /* u32, v3 */
#define QCOW2_HDR_V3_MIN_LEN       104 /* smallest v3 header_length */
#define QCOW2_HDR_COMPRESSION_TYPE 104 /* u8, present if header_length > */
#define QCOW2_HDR_V3_LEN           112 /* what QEMU writes (padded to 8) */

_Static_assert(QCOW2_HDR_SNAPSHOTS_OFFSET + 8 == QCOW2_HDR_V2_LEN,
               "version 2 header is 72 bytes");
_Static_assert(QCOW2_HDR_HEADER_LENGTH + 4 == QCOW2_HDR_V3_MIN_LEN,
               "version 3 header is at least 104 bytes");
_Static_assert(QCOW2_HDR_V3_LEN % 8 == 0, "header length is padded to 8");

/* Incompatible feature bits. */
#define QCOW2_INCOMPAT_DIRTY       (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT     (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2       (1ull << 4)
#define QCOW2_INCOMPAT_KNOWN       ((1ull << 5) - 1)

/* Compatible and autoclear feature bits. */
#define QCOW2_COMPAT_LAZY_REFCOUNTS  (1ull << 0)
#define QCOW2_AUTOCLEAR_BITMAPS      (1ull << 0)
#define QCOW2_AUTOCLEAR_DATA_RAW     (1ull << 1)

/* compression_type values. */
#define QCOW2_COMPRESSION_ZLIB 0
#define QCOW2_COMPRESSION_ZSTD 1

/* crypt_method values. */
#define QCOW2_CRYPT_NONE 0
#define QCOW2_CRYPT_AES  1
#define QCOW2_CRYPT_LUKS 2

/* Header extensions: u32 type, u32 length, data padded to 8. */
#define QCOW2_EXT_HDR_LEN        8
#define QCOW2_EXT_END            0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857u
#define QCOW2_EXT_BITMAPS        0x23852875u
#define QCOW2_EXT_CRYPTO         0x0537be77u
#define QCOW2_EXT_DATA_FILE      0x44415441u

/* Feature name table entry: u8 type, u8 bit, 46 bytes of name. */
#define QCOW2_FEATURE_ENTRY_LEN  48
#define QCOW2_FEATURE_NAME_LEN   46
#define QCOW2_FEATURE_TYPE_INCOMPAT  0
#define QCOW2_FEATURE_TYPE_COMPAT    1
#define QCOW2_FEATURE_TYPE_AUTOCLEAR 2
_Static_assert(2 + QCOW2_FEATURE_NAME_LEN == QCOW2_FEATURE_ENTRY_LEN,
               "feature name table entries are 48 bytes");

/* L1 entries (8 bytes). */
#define QCOW2_L1E_SIZE          8
#define QCOW2_L1E_OFFSET_MASK   0x00fffffffffffe00ull
#define QCOW2_OFLAG_COPIED      (1ull << 63)

/* L2 entries: 8 bytes, or 16 with extended L2 (entry + subcluster
 * bitmap). */
#define QCOW2_L2E_SIZE          8
#define QCOW2_L2E_SIZE_EXTENDED 16
#define QCOW2_L2E_OFFSET_MASK   0x00fffffffffffe00ull
#define QCOW2_OFLAG_COMPRESSED  (1ull << 62)
#define QCOW2_OFLAG_ZERO        (1ull << 0)

/* Extended L2: 32 subclusters; bitmap low half "allocated", high half
 * "reads as zeros". */
#define QCOW2_SUBCLUSTERS         32
#define QCOW2_SC_ALLOC_MASK       0x00000000ffffffffull
#define QCOW2_SC_ZERO_SHIFT       32

/* Compressed cluster descriptor: offset in the low (62 - (cluster_bits -
 * 8)) bits, then the count of additional 512-byte sectors. */
#define QCOW2_COMPRESSED_SECTOR   512
#define QCOW2_COMPRESSED_DESC_BITS 62

/* Snapshot table entry: fixed part, then extra data, id, name, padding. */
#define QCOW2_SN_L1_OFFSET      0  /* u64 */
#define QCOW2_SN_L1_SIZE        8  /* u32 */
#define QCOW2_SN_ID_LEN         12 /* u16 */
#define QCOW2_SN_NAME_LEN       14 /* u16 */
#define QCOW2_SN_DATE_SEC       16 /* u32 */
#define QCOW2_SN_DATE_NSEC      20 /* u32 */
#define QCOW2_SN_VM_CLOCK_NSEC  24 /* u64 */
#define QCOW2_SN_VM_STATE_SIZE  32 /* u32 */
#define QCOW2_SN_EXTRA_SIZE     36 /* u32 */
#define QCOW2_SN_FIXED_LEN      40
#define QCOW2_SN_EXTRA_VM_STATE 0  /* u64, offsets within the extra data */
#define QCOW2_SN_EXTRA_DISK_SIZE 8 /* u64 */
#define QCOW2_SN_EXTRA_ICOUNT   16 /* u64 */
#define QCOW2_SN_EXTRA_KNOWN    24 /* what QEMU 7.2 writes at least */
_Static_assert(QCOW2_SN_EXTRA_SIZE + 4 == QCOW2_SN_FIXED_LEN,
               "snapshot entry fixed part is 40 bytes");

/* Limits enforced on every image (most are QEMU's implementation
 * limits, so anything QEMU writes is accepted). */
#define QCOW2_MIN_CLUSTER_BITS   9
#define QCOW2_MAX_CLUSTER_BITS   21      /* 2 MiB */
#define QCOW2_MIN_EXTL2_CLUSTER_BITS 14  /* extended L2 needs 16 KiB */
#define QCOW2_MAX_REFCOUNT_ORDER 6       /* 64-bit refcounts */
#define QCOW2_V2_REFCOUNT_ORDER  4       /* implied for version 2 */
#define QCOW2_MAX_L1_BYTES       (32u * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_BYTES (8u * 1024 * 1024)
#define QCOW2_MAX_BACKING_NAME   1023
#define QCOW2_MAX_FORMAT_NAME    15      /* backing format extension */
#define QCOW2_MAX_SNAPSHOTS      65536
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024
#define QCOW2_MAX_SNAPSHOT_TABLE (64u * 1024 * 1024)

/* Persistent bitmaps: the extension's data (nb_bitmaps, reserved,
 * directory size and offset), directory entries (QCOW2_BME_LEN fixed
 * bytes, extra data, name, padded to 8) and their limits, as QEMU sets
 * them. */
#define QCOW2_BITMAPS_EXT_LEN 24
#define QCOW2_BME_LEN 24
#define QCOW2_MAX_BITMAPS 65535u
#define QCOW2_BME_MAX_NAME 1023u
#define QCOW2_MAX_BITMAP_DIRECTORY ((uint64_t)QCOW2_MAX_BITMAPS * 1024)
#define QCOW2_BME_FLAG_IN_USE (1u << 0)
#define QCOW2_BME_FLAG_AUTO (1u << 1)
#define QCOW2_BME_FLAG_EXTRA_COMPATIBLE (1u << 2)
#define QCOW2_BME_KNOWN_FLAGS 7u
#define QCOW2_BME_TYPE_DIRTY 1
#define QCOW2_BME_MIN_GRANULARITY_BITS 9
#define QCOW2_BME_MAX_GRANULARITY_BITS 31
/* Bitmap table entries: a data cluster's offset, or 0 (all zeros), or
 * 0 with the all-ones flag (every bit set); the rest is reserved. */
#define QCOW2_BME_TABLE_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_BME_TABLE_ALL_ONES 1ull
#define QCOW2_BME_TABLE_RESERVED_MASK 0xff000000000001feull
/* Offsets of metadata and data must stay below 2^56 (the L2 offset
 * field); files larger than this are refused. */
#define QCOW2_MAX_HOST_OFFSET    (1ull << 56)

#endif
