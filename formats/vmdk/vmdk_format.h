/* formats/vmdk/vmdk_format.h -- VMDK on-disk layout: sparse extent header
 * fields, flag bits, stream markers, the ESX "COWD" header, and the limits
 * we enforce on untrusted images.
 *
 * Spec: VMware "Virtual Disk Format 5.0" technote ("Hosted Sparse
 * Extents", "Stream-Optimized Compressed Sparse Extents", "ESXi Host
 * Sparse Extents") and "Virtual Disk Format 1.1".  Everything on disk is
 * little-endian; decoders read fields at these offsets with bounds checks,
 * never by casting a buffer to a struct.
 */
#ifndef VMDK_FORMAT_H
#define VMDK_FORMAT_H

#include <stdint.h>

#define VMDK_SECTOR 512u

/* Magic numbers as they appear in the first four bytes. */
#define VMDK_MAGIC_SPARSE "KDMV" /* hosted sparse (SparseExtentHeader) */
#define VMDK_MAGIC_COWD   "COWD" /* ESX vmfsSparse */

/* SparseExtentHeader fields (byte offsets). */
#define VMDK_HDR_MAGIC        0  /* u32 "KDMV" */
#define VMDK_HDR_VERSION      4  /* u32: 1, 2 or 3 */
#define VMDK_HDR_FLAGS        8  /* u32 */
#define VMDK_HDR_CAPACITY     12 /* u64 sectors */
#define VMDK_HDR_GRAIN        20 /* u64 sectors per grain */
#define VMDK_HDR_DESC_OFFSET  28 /* u64 sector of the embedded descriptor */
#define VMDK_HDR_DESC_SIZE    36 /* u64 sectors */
#define VMDK_HDR_NUM_GTES     44 /* u32 entries per grain table */
#define VMDK_HDR_RGD_OFFSET   48 /* u64 sector of the redundant GD */
#define VMDK_HDR_GD_OFFSET    56 /* u64 sector of the GD, or GD_AT_END */
#define VMDK_HDR_OVERHEAD     64 /* u64 sectors of metadata */
#define VMDK_HDR_UNCLEAN      72 /* u8 */
#define VMDK_HDR_NL_CHARS     73 /* '\n', ' ', '\r', '\n' */
#define VMDK_HDR_COMPRESS     77 /* u16 compression algorithm */
#define VMDK_HDR_LEN          79 /* fields end here; padded to 512 */

_Static_assert(VMDK_HDR_NL_CHARS + 4 == VMDK_HDR_COMPRESS,
               "four newline-detection bytes");
_Static_assert(VMDK_HDR_LEN <= VMDK_SECTOR, "header fits a sector");

/* Header flags. */
#define VMDK_FLAG_NL_DETECT  (1u << 0)  /* newline bytes are valid */
#define VMDK_FLAG_RGD        (1u << 1)  /* redundant GD present */
#define VMDK_FLAG_ZERO_GRAIN (1u << 2)  /* GTE 1 means "zeroed grain" */
#define VMDK_FLAG_COMPRESSED (1u << 16) /* grains are compressed */
#define VMDK_FLAG_MARKERS    (1u << 17) /* stream markers present */
/* Bits 0..15 are compatible features; bits 16.. must be understood. */
#define VMDK_FLAG_INCOMPAT_KNOWN (VMDK_FLAG_COMPRESSED | VMDK_FLAG_MARKERS)
#define VMDK_FLAG_INCOMPAT_MASK  0xffff0000u

#define VMDK_COMPRESS_NONE    0
#define VMDK_COMPRESS_DEFLATE 1

/* gdOffset of a streamOptimized header whose GD is found via the footer. */
#define VMDK_GD_AT_END UINT64_MAX

/* Grain table entry values with a meaning of their own. */
#define VMDK_GTE_UNALLOCATED 0u
#define VMDK_GTE_ZEROED      1u /* with VMDK_FLAG_ZERO_GRAIN */

/* Stream markers: one sector; a grain marker is followed by its data. */
#define VMDK_MARKER_VAL  0  /* u64: lba (grain) or metadata sectors */
#define VMDK_MARKER_SIZE 8  /* u32: compressed bytes; 0 for metadata */
#define VMDK_MARKER_TYPE 12 /* u32: metadata marker type */
#define VMDK_GRAIN_MARKER_LEN 12 /* grain data starts here */

enum {
    VMDK_MARKER_EOS = 0,
    VMDK_MARKER_GT = 1,
    VMDK_MARKER_GD = 2,
    VMDK_MARKER_FOOTER = 3,
};

/* COWD (vmfsSparse) header fields. */
#define VMDK_COWD_MAGIC       0  /* "COWD" */
#define VMDK_COWD_VERSION     4  /* u32: 1 */
#define VMDK_COWD_FLAGS       8  /* u32 */
#define VMDK_COWD_CAPACITY    12 /* u32 sectors */
#define VMDK_COWD_GRAIN       16 /* u32 sectors */
#define VMDK_COWD_GD_OFFSET   20 /* u32 sector */
#define VMDK_COWD_GD_ENTRIES  24 /* u32 */
#define VMDK_COWD_FREE_SECTOR 28 /* u32 */
#define VMDK_COWD_LEN         32
#define VMDK_COWD_GTES        4096 /* entries per grain table */

/* Entries per grain table of a hosted sparse extent (the only value
 * VMware's tools write or read). */
#define VMDK_GTES_PER_GT 512

/* ---- limits on untrusted images ---- */

/* Largest descriptor (embedded or separate) we read. */
#define VMDK_DESC_MAX (64u * 1024)
/* Most extents in a descriptor: a 2 TiB twoGbMaxExtent disk has 1024. */
#define VMDK_MAX_EXTENTS 2048
/* Largest grain: 2048 sectors (1 MiB); VMware writes 128 (64 KiB). */
#define VMDK_MAX_GRAIN_SECTORS 2048
/* Largest virtual disk and extent: 64 TiB (VMware's limit is 62 TB). */
#define VMDK_MAX_SECTORS ((uint64_t)1 << 37)
/* Grain tables cached per sparse extent. */
#define VMDK_GT_CACHE 16

/* ---- what we write ---- */

#define VMDK_DEF_GRAIN_SECTORS 128 /* 64 KiB grains */
#define VMDK_DEF_DESC_SECTORS  20  /* embedded descriptor area */
/* twoGbMaxExtent* split size: 2 GiB per extent file. */
#define VMDK_SPLIT_SECTORS ((uint64_t)4194304)
/* Grain sectors are 32-bit: a sparse extent file ends below 2 TiB. */
#define VMDK_MAX_FILE_SECTORS ((uint64_t)1 << 32)

#endif
