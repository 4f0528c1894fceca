/*
 * vg_scan.h: reading a table the way the query kernels want it: in chunks
 * of columns, with the statistics that let a query skip decoding.
 *
 * vg_scan_open takes a snapshot of a table over [t0, t1): the segments'
 * blocks, and the rows still in memory, cut into chunks. A chunk holds rows
 * of any order (not sorted by time across chunks); it may hold rows outside
 * [t0, t1) when it straddles an edge (its ts_min/ts_max say so), so the
 * caller filters by time. Every point appears once: partitions where a point
 * may have been written twice are merged before they are cut into chunks.
 *
 * A chunk that is a whole segment block (in a partition that holds no
 * replaced points) carries per-column statistics: count, nulls, min, max,
 * sum and, for numeric columns, a DDSketch. A query may answer from them
 * alone when the chunk lies wholly inside its window and its series all
 * qualify. Other chunks have no statistics.
 *
 * The scan itself is immutable once open and may be shared by threads;
 * decoding happens in a vg_scan_reader_t, one per thread.
 * Ownership: vg_scan_close releases the snapshot; pointers a reader hands
 * out stay valid until that reader reads another chunk or is freed.
 */
#ifndef VIGIL_VG_SCAN_H
#define VIGIL_VG_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "vg_db.h"
#include "vg_error.h"
#include "vg_sketch.h"
#include "vg_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_scan vg_scan_t;
typedef struct vg_scan_reader vg_scan_reader_t;

int vg_scan_open(vg_db_t *db, const char *table, int64_t t0, int64_t t1, vg_scan_t **out,
                 vg_error_t *err);
void vg_scan_close(vg_scan_t *s);

/* ---- schema of the snapshot ---- */
uint32_t vg_scan_nfields(const vg_scan_t *s);
const char *vg_scan_field_name(const vg_scan_t *s, uint32_t field);
vg_type_t vg_scan_field_type(const vg_scan_t *s, uint32_t field);
/* Index of a field by name, or -1. */
int vg_scan_field_find(const vg_scan_t *s, const char *name);

uint32_t vg_scan_ntags(const vg_scan_t *s);
const char *vg_scan_tag_name(const vg_scan_t *s, uint32_t tag);
int vg_scan_tag_find(const vg_scan_t *s, const char *name);

/* Series are numbered 0 .. nseries-1 for the table; a row's series gives its tags. */
uint32_t vg_scan_nseries(const vg_scan_t *s);
/* The value of tag (index) for a series, or NULL when the series lacks it. */
const char *vg_scan_series_tag(const vg_scan_t *s, uint32_t series, uint32_t tag);

/* ---- chunks ---- */
typedef struct vg_scan_chunk {
    uint32_t nrows;
    int64_t ts_min, ts_max;
    uint32_t series_lo, series_hi; /* every row's series is one of these when equal;
                                      else see vg_scan_chunk_series */
    int has_stats;                 /* a whole segment block: statistics exist */
} vg_scan_chunk_t;

uint32_t vg_scan_nchunks(const vg_scan_t *s);
vg_scan_chunk_t vg_scan_chunk(const vg_scan_t *s, uint32_t chunk);
/* The distinct series of a chunk (sorted), without decoding: *n entries
 * valid until vg_scan_close. Only for chunks with statistics. */
int vg_scan_chunk_series(const vg_scan_t *s, uint32_t chunk, const uint32_t **series,
                         uint32_t *n);

/* Statistics of a field in a chunk with has_stats. min/max/sum use the
 * field's type: f for FLOAT, i for INT (sum in sum_i unless sum_overflow),
 * u for UINT; for BOOL sum_i counts the true values; STRING has only counts. */
typedef struct vg_scan_stats {
    uint32_t count, nulls;
    vg_value_t min, max;
    double sum_f;
    int64_t sum_i;
    uint64_t sum_u;
    int sum_overflow;
} vg_scan_stats_t;

/* 1 and *out when the chunk has statistics for the field; 0 when the field
 * has no value in the chunk (all null) or the chunk has no statistics. */
int vg_scan_chunk_stats(const vg_scan_t *s, uint32_t chunk, uint32_t field,
                        vg_scan_stats_t *out);
/* Merge the chunk's sketch of a numeric field into dst. VG_ENOTFOUND when
 * the chunk has none (no statistics, or no value). */
int vg_scan_chunk_sketch(const vg_scan_t *s, uint32_t chunk, uint32_t field, vg_sketch_t *dst,
                         vg_error_t *err);

/* ---- decoding ---- */

/* One column of a chunk: dense, slot i for row i, a null slot holds 0. */
typedef struct vg_scan_col {
    vg_type_t type;
    uint32_t n;
    const uint8_t *valid; /* n bits, LSB first; NULL: no nulls */
    union {
        const double *f;
        const int64_t *i;
        const uint64_t *u;
        const uint8_t *b; /* one byte per bool */
    } v;
    const char *sdata;      /* STRING: value i is sdata[soffs[i] .. soffs[i+1]) */
    const uint32_t *soffs;
} vg_scan_col_t;

static inline int vg_scan_col_valid(const vg_scan_col_t *c, uint32_t i)
{
    return c->valid == NULL || ((c->valid[i >> 3] >> (i & 7)) & 1);
}

int vg_scan_reader_create(vg_scan_t *s, vg_scan_reader_t **out, vg_error_t *err);
void vg_scan_reader_free(vg_scan_reader_t *r);
/* The rows' timestamps and series (table ids) of a chunk. A damaged block is
 * VG_ECORRUPT naming the file and offset. */
int vg_scan_read_time(vg_scan_reader_t *r, uint32_t chunk, const int64_t **ts,
                      const uint32_t **series, vg_error_t *err);
/* A field of a chunk; a field absent from the chunk comes back all null. */
int vg_scan_read_col(vg_scan_reader_t *r, uint32_t chunk, uint32_t field, vg_scan_col_t *out,
                     vg_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
