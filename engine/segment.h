/*
 * segment.h: immutable column segments, one table and one time partition
 * each. The byte layout is in format.h (with _Static_asserts) and is
 * described in docs/format.md.
 *
 * A segment holds rows sorted by (series, ts) with no two rows sharing both
 * (duplicates are resolved before writing: see db.c). Rows are cut into
 * blocks; a block never holds more than max_block_rows rows and is cut at a
 * series boundary once it holds min_block_rows, so blocks of big series
 * cover one series and their stats answer a query grouped by tags.
 * Every block column is encoded (encode.h), LZ4-compressed and checksummed
 * (CRC32C), with stats: count, nulls, min, max, sum and, for numeric
 * columns, a DDSketch.
 *
 * Writing goes through the I/O layer: write a temporary file, fsync it,
 * rename it into place, fsync the directory. Reading maps the file; open
 * checks the header, footer and index checksums; a block's checksum is
 * checked when it is read, so a damaged block fails only the reads that
 * touch it (VG_ECORRUPT naming the file and offset).
 */
#ifndef VG_ENGINE_SEGMENT_H
#define VG_ENGINE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "colvec.h"
#include "io.h"
#include "sketch.h"
#include "vigil/vg_error.h"

/* One series' tags, canonical: keys sorted bytewise, unescaped bytes. */
typedef struct vg_seg_series {
    uint32_t ntags;
    const char *const *keys;
    const uint32_t *klens;
    const char *const *vals;
    const uint32_t *vlens;
} vg_seg_series_t;

/* One field column of the input: a name, a type and nrows values. */
typedef struct vg_seg_col_in {
    const char *name;
    const vg_colvec_t *vals; /* type FLOAT, INT, UINT, BOOL or STRING; n == nrows */
} vg_seg_col_in_t;

typedef struct vg_seg_input {
    const char *table;
    int64_t part_start, part_end; /* the partition [start, end), ns */
    uint64_t wal_lsn;             /* highest WAL record LSN these rows came from */
    size_t nrows;
    const int64_t *ts;      /* nrows, sorted within each series */
    const uint32_t *series; /* nrows, local ids 0..nseries-1, non-decreasing */
    uint32_t nseries;
    const vg_seg_series_t *series_tags; /* nseries */
    uint32_t ncols;
    const vg_seg_col_in_t *cols;
} vg_seg_input_t;

typedef struct vg_seg_write_opts {
    uint32_t min_block_rows; /* default 1024 */
    uint32_t max_block_rows; /* default 8192 */
    int lz4_accel;           /* LZ4 acceleration, default 1 */
} vg_seg_write_opts_t;

/*
 * Write and publish dir/name (through dir/name.tmp). opts may be NULL.
 * On success *bytes_out (may be NULL) is the file size.
 */
int vg_seg_write(vg_io_t *io, const char *dir, const char *name, const vg_seg_input_t *in,
                 const vg_seg_write_opts_t *opts, uint64_t *bytes_out, vg_error_t *err);

/* Per-block, per-column statistics. min/max/sum are in the column's type:
 * f for FLOAT (NaN never stored), i for INT, u for UINT; for BOOL, sum is the
 * number of true values (in i), min/max 0/1; for STRING only count/nulls. */
typedef struct vg_seg_stats {
    uint32_t count; /* non-null values */
    uint32_t nulls;
    vg_value_t min, max;
    union {
        double f;
        int64_t i;  /* wraps on overflow: use only when no overflow flag */
        uint64_t u;
    } sum;
    int sum_overflow; /* INT/UINT: the sum overflowed 64 bits */
} vg_seg_stats_t;

typedef struct vg_seg vg_seg_t;

typedef struct vg_seg_colinfo {
    const char *name;
    vg_type_t type;
} vg_seg_colinfo_t;

typedef struct vg_seg_blockinfo {
    uint32_t nrows;
    uint32_t series_lo, series_hi; /* local ids */
    int64_t ts_min, ts_max;
} vg_seg_blockinfo_t;

/* Map and check a segment. Ownership: close with vg_seg_close (NULL ok). */
int vg_seg_open(vg_io_t *io, const char *path, vg_seg_t **out, vg_error_t *err);
void vg_seg_close(vg_seg_t *s);

const char *vg_seg_path(const vg_seg_t *s);
const char *vg_seg_table(const vg_seg_t *s);
int64_t vg_seg_part_start(const vg_seg_t *s);
int64_t vg_seg_part_end(const vg_seg_t *s);
int64_t vg_seg_ts_min(const vg_seg_t *s);
int64_t vg_seg_ts_max(const vg_seg_t *s);
uint64_t vg_seg_nrows(const vg_seg_t *s);
uint64_t vg_seg_wal_lsn(const vg_seg_t *s);
uint64_t vg_seg_file_bytes(const vg_seg_t *s);

uint32_t vg_seg_nseries(const vg_seg_t *s);
/* Tags of local series id; pointers into the mapping, valid until close. */
int vg_seg_series(const vg_seg_t *s, uint32_t id, vg_seg_series_t *out);

/* Field columns (ts and series are not listed). */
uint32_t vg_seg_ncols(const vg_seg_t *s);
vg_seg_colinfo_t vg_seg_col(const vg_seg_t *s, uint32_t col);
/* Index of a column by name, or -1. */
int vg_seg_col_find(const vg_seg_t *s, const char *name);

uint32_t vg_seg_nblocks(const vg_seg_t *s);
/* The most rows any block holds (to size buffers for vg_seg_read_ts & co). */
uint32_t vg_seg_max_block_rows(const vg_seg_t *s);
vg_seg_blockinfo_t vg_seg_block(const vg_seg_t *s, uint32_t block);
/* Stats of a column in a block, or NULL if the column has no values there. */
const vg_seg_stats_t *vg_seg_block_stats(const vg_seg_t *s, uint32_t block, uint32_t col);
/* The block's sketch of a numeric column (decoded into *out, which the caller
 * initialised and resets). VG_ENOTFOUND when the column has none. */
int vg_seg_block_sketch(const vg_seg_t *s, uint32_t block, uint32_t col, vg_sketch_t *out,
                        vg_error_t *err);

/* Decode a block's timestamps / local series ids into caller arrays of
 * block.nrows entries. Checks the block checksum. */
int vg_seg_read_ts(const vg_seg_t *s, uint32_t block, int64_t *out, vg_error_t *err);
int vg_seg_read_series(const vg_seg_t *s, uint32_t block, uint32_t *out, vg_error_t *err);
/* Decode a field column of a block into out (which the caller frees with
 * vg_colvec_free). A column absent from the block decodes as all null. */
int vg_seg_read_col(const vg_seg_t *s, uint32_t block, uint32_t col, vg_colvec_t *out,
                    vg_error_t *err);

#endif
