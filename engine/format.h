/*
 * format.h: the on-disk layout of Vigil's files, as fixed-size structs.
 *
 * Every struct here is written and read with memcpy, never cast onto a
 * mapping, so the file needs no alignment. Fields are little-endian (the
 * engine only builds on little-endian hosts: see the assert below), laid out
 * so that no struct has compiler padding; the _Static_asserts pin each size
 * so a field added by mistake changes no file silently. Reserved fields are
 * written as zero and ignored on read. docs/format.md is the prose version.
 */
#ifndef VG_ENGINE_FORMAT_H
#define VG_ENGINE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "on-disk structs are little-endian");

/* ---- Segment files (segment_write.c writes, segment.c reads) ------------------------------------------
 *
 *   [header 32][data region: chunks and sketches][meta region][footer 40]
 *
 * The data region holds, block after block: the ts chunk, the series
 * chunk, then each field column's chunk followed by its sketch (if any).
 * Readers only follow the offsets in the chunk table, never this order.
 * The footer is read first: it locates the meta region and carries its CRC.
 * The meta region starts with vg_fmt_seg_meta, followed by these arrays,
 * in this order and without gaps:
 *   series  [nseries]                   vg_fmt_seg_series
 *   tags    [ntags]                     vg_fmt_seg_tag
 *   cols    [ncols]                     vg_fmt_seg_col
 *   blocks  [nblocks]                   vg_fmt_seg_block
 *   chunks  [nblocks * (2 + ncols)]     vg_fmt_seg_chunk (block-major:
 *                                        ts, series, then field columns)
 *   heap    [heap_len]                  strings, each followed by a NUL
 * so meta_len is a function of the counts and is checked exactly.
 */

#define VG_FMT_SEG_MAGIC     "VGSEG\0\0\1" /* 8 bytes, the NUL included */
#define VG_FMT_SEG_MAGIC_LEN 8
#define VG_FMT_SEG_VERSION   1

/* At offset 0. crc = CRC32C of bytes [0, 28). */
typedef struct vg_fmt_seg_header {
    uint8_t magic[8];
    uint32_t version;
    uint32_t flags;       /* none defined: must be 0 */
    uint32_t header_size; /* sizeof(vg_fmt_seg_header_t) */
    uint32_t footer_size; /* sizeof(vg_fmt_seg_footer_t) */
    uint32_t reserved;
    uint32_t crc;
} vg_fmt_seg_header_t;
_Static_assert(sizeof(vg_fmt_seg_header_t) == 32, "segment header is 32 bytes");
#define VG_FMT_SEG_HEADER_CRC_LEN 28

/* The last 40 bytes of the file. crc = CRC32C of bytes [0, 28). The
 * meta region must end exactly where the footer begins. */
typedef struct vg_fmt_seg_footer {
    uint64_t meta_off;
    uint64_t meta_len;
    uint32_t meta_crc; /* CRC32C of the whole meta region */
    uint32_t version;
    uint32_t reserved;
    uint32_t crc;
    uint8_t magic[8];
} vg_fmt_seg_footer_t;
_Static_assert(sizeof(vg_fmt_seg_footer_t) == 40, "segment footer is 40 bytes");
#define VG_FMT_SEG_FOOTER_CRC_LEN 28

/* The start of the meta region. Heap references are (offset, length)
 * pairs relative to the heap's first byte. */
typedef struct vg_fmt_seg_meta {
    int64_t part_start, part_end; /* the partition [start, end), ns */
    int64_t ts_min, ts_max;       /* over all rows; 0, 0 when nrows == 0 */
    uint64_t nrows;
    uint64_t wal_lsn;
    uint32_t nseries;
    uint32_t ntags; /* tag entries over all series */
    uint32_t ncols; /* field columns */
    uint32_t nblocks;
    uint32_t table_off, table_len; /* heap */
    uint32_t heap_len;
    uint32_t reserved;
    uint64_t data_off, data_len; /* the data region: [header end, meta_off) */
} vg_fmt_seg_meta_t;
_Static_assert(sizeof(vg_fmt_seg_meta_t) == 96, "segment meta header is 96 bytes");

/* Series id i owns tags [first_tag, first_tag + ntags), keys sorted. */
typedef struct vg_fmt_seg_series {
    uint32_t first_tag;
    uint32_t ntags;
} vg_fmt_seg_series_t;
_Static_assert(sizeof(vg_fmt_seg_series_t) == 8, "series entry is 8 bytes");

typedef struct vg_fmt_seg_tag {
    uint32_t key_off, key_len; /* heap */
    uint32_t val_off, val_len; /* heap */
} vg_fmt_seg_tag_t;
_Static_assert(sizeof(vg_fmt_seg_tag_t) == 16, "tag entry is 16 bytes");

typedef struct vg_fmt_seg_col {
    uint32_t name_off, name_len; /* heap; no NUL inside the name */
    uint8_t type;                /* vg_type_t: FLOAT, INT, UINT, BOOL or STRING */
    uint8_t reserved[7];
} vg_fmt_seg_col_t;
_Static_assert(sizeof(vg_fmt_seg_col_t) == 16, "column entry is 16 bytes");

/* Rows of a block are consecutive: block b starts after the rows of
 * blocks 0..b-1. series_lo/hi are the first and last row's series. */
typedef struct vg_fmt_seg_block {
    uint32_t nrows; /* >= 1 */
    uint32_t series_lo, series_hi;
    uint32_t reserved;
    int64_t ts_min, ts_max;
} vg_fmt_seg_block_t;
_Static_assert(sizeof(vg_fmt_seg_block_t) == 32, "block entry is 32 bytes");

/* Chunk flags. */
#define VG_FMT_CHUNK_PRESENT      0x01 /* stored; absent field chunks are all null */
#define VG_FMT_CHUNK_LZ4          0x02 /* LZ4 block format; else stored raw, clen == rlen */
#define VG_FMT_CHUNK_SKETCH       0x04 /* sketch_off/len/crc locate a DDSketch */
#define VG_FMT_CHUNK_SUM_OVERFLOW 0x08 /* INT/UINT sum wrapped */
#define VG_FMT_CHUNK_KNOWN        0x0f

/* Chunk encodings: what the (decompressed) bytes are. */
enum vg_fmt_enc {
    VG_FMT_ENC_NONE = 0, /* absent chunk */
    VG_FMT_ENC_TS = 1,   /* vg_enc_ts over the block's rows */
    VG_FMT_ENC_SERIES = 2, /* vg_enc_u64 of the series ids */
    /* Field chunks: a u32 bitmap_len, then bitmap_len bytes of
     * vg_enc_bitmap over the block's rows (bitmap_len is 0 exactly when
     * the block has no nulls), then the present values' encoding: */
    VG_FMT_ENC_F64 = 3,  /* vg_enc_f64 */
    VG_FMT_ENC_I64 = 4,  /* vg_enc_i64 */
    VG_FMT_ENC_U64 = 5,  /* vg_enc_u64 */
    VG_FMT_ENC_BOOL = 6, /* vg_enc_bool */
    VG_FMT_ENC_STR = 7,  /* vg_enc_str */
};

/*
 * One column of one block. off/clen locate the stored bytes in the data
 * region and crc is their CRC32C; rlen is the decoded-from length (after
 * LZ4). Stats (field chunks only; zero for ts and series): count and nulls
 * add up to the block's rows; min/max/sum hold the bits of a double (FLOAT),
 * int64 (INT, and BOOL: min/max 0/1, sum = trues) or uint64 (UINT).
 */
typedef struct vg_fmt_seg_chunk {
    uint64_t off;
    uint64_t sketch_off;
    uint32_t clen;
    uint32_t rlen;
    uint32_t crc;
    uint32_t sketch_len;
    uint32_t sketch_crc;
    uint32_t count;
    uint32_t nulls;
    uint8_t flags;
    uint8_t enc;
    uint16_t reserved;
    uint64_t min, max, sum;
} vg_fmt_seg_chunk_t;
_Static_assert(sizeof(vg_fmt_seg_chunk_t) == 72, "chunk entry is 72 bytes");

#endif
