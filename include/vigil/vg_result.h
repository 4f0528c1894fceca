/*
 * vg_result.h: a query's answer as a table of typed cells, and the three
 * ways Vigil prints it (the same embedded, remote and in every format):
 *
 *   CSV   RFC 4180: a header row, an empty cell for null, times as RFC 3339
 *         UTC with fraction digits only when they are not zero.
 *   JSON  {"columns":[{"name":..,"type":..}],"rows":[[..],..]}: null for null
 *         and for values JSON cannot hold (NaN, infinities), times as integer
 *         nanoseconds; picture columns are not among "columns" or "rows".
 *         Optional keys, each written only when it says something, so that a
 *         consumer reading names, types and rows sees what it always saw (and
 *         a float column holds numbers or null only), and so that the remote
 *         CLI rebuilds the very result and prints what the embedded one does:
 *           per column  "histogram":true   STRING cells are histogram() cells;
 *           after rows  "windows":true     rows are windows (EVERY);
 *                       "pictures":[{"name":..,"column":i,"rows":[..]}]
 *                                          each hidden picture column, its index
 *                                          i among all columns (visible ones
 *                                          fill the other places in order) and
 *                                          one string or null per row;
 *                       "nonfinite":[[row,col,"NaN"|"+Inf"|"-Inf"],..]
 *                                          the float cells written as null in
 *                                          "rows" that hold NaN or an infinity
 *                                          (col counts "columns" only).
 *   table columns aligned for a person, times as RFC 3339 UTC.
 *
 * Column types: VG_TYPE_TIME (int64 ns in .i), VG_TYPE_TAG and VG_TYPE_STRING
 * (.s), VG_TYPE_FLOAT, VG_TYPE_INT, VG_TYPE_UINT, VG_TYPE_BOOL.
 */
#ifndef VIGIL_VG_RESULT_H
#define VIGIL_VG_RESULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vg_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_result_col {
    char *name;
    vg_type_t type;
    int histogram; /* STRING cells "[lo,hi):n; ...": the table also draws them as bars */
    int picture;   /* a hidden STRING column: the two distributions behind the drift
                      column before it, "lo,hi,cur,ref;..." (shares); only the table
                      shows it, as two histograms side by side */
} vg_result_col_t;

/* Ownership: a result owns its names, cells and string bytes; vg_result_free. */
typedef struct vg_result {
    size_t ncols, nrows, cap;
    vg_result_col_t *cols;
    vg_value_t *cells; /* row-major, nrows * ncols */
    uint8_t *null;     /* one byte per cell */
    struct vg_result_str *strings; /* blocks holding string cells */
    int windows; /* rows are windows of aggregates (EVERY): the table draws sparklines */
} vg_result_t;

/* An empty result of ncols columns, each named and typed with vg_result_col. */
int vg_result_init(vg_result_t *r, size_t ncols);
int vg_result_col(vg_result_t *r, size_t col, const char *name, vg_type_t type);
/* Append a row of null cells; *row is its index. */
int vg_result_add_row(vg_result_t *r, size_t *row);
/* Set a cell (a string value is copied). */
int vg_result_set(vg_result_t *r, size_t row, size_t col, const vg_value_t *v);
static inline const vg_value_t *vg_result_cell(const vg_result_t *r, size_t row, size_t col)
{
    return r->null[row * r->ncols + col] ? NULL : &r->cells[row * r->ncols + col];
}
void vg_result_free(vg_result_t *r);

/* "time", "tag", "float", "integer", "unsigned", "boolean", "string". */
const char *vg_result_type_name(vg_type_t t);

/* Format a time as RFC 3339 UTC, fraction digits only when not zero. Returns the length. */
size_t vg_format_time(int64_t ns, char *buf, size_t cap);

int vg_result_write_csv(const vg_result_t *r, FILE *out);
int vg_result_write_json(const vg_result_t *r, FILE *out);

#define VG_TABLE_ASCII 1 /* plain ASCII: no box characters or block sparklines */
/* The table format for a person; for a result of windows, each numeric
 * column also gets a sparkline of its values (per group, in row order). */
int vg_result_write_table(const vg_result_t *r, FILE *out, int flags);

#ifdef __cplusplus
}
#endif
#endif
