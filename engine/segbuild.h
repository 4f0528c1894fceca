/*
 * segbuild.h: turning rows of a table into a published segment file.
 *
 * The rows come as timestamps and table series ids; their columns come from
 * a provider, asked for one column at a time in the segment's row order, so
 * that each value is copied once, straight into place: from a frozen head
 * when sealing, from a merged partition when compacting.
 */
#ifndef VG_ENGINE_SEGBUILD_H
#define VG_ENGINE_SEGBUILD_H

#include "db_int.h"
#include "merge.h"

/* Fill out (allocated by the provider) with column col of rows perm[0..n). */
typedef int (*vg_col_source_fn)(void *ctx, uint32_t col, vg_type_t type, const uint32_t *perm,
                                size_t n, vg_colvec_t *out);

typedef struct vg_rowset {
    size_t n;
    const int64_t *ts;
    const uint32_t *series; /* table series ids */
    const vg_field_t *fields;
    uint32_t nfields;
    vg_col_source_fn col;
    void *ctx;
} vg_rowset_t;

/*
 * Order the rows by (series in canonical tag order, ts), write them as a new
 * segment of t for partition part covering WAL LSN lsn, publish it, and open
 * it as *out (the caller adds it to the table).
 */
int vg__segbuild(vg_db_t *db, vg_table_t *t, const vg_rowset_t *rs, int64_t part, uint64_t lsn,
                 vg_segref_t **out, vg_error_t *err);

/* Provider over a merged partition (ctx: vg_merged_t *). Each column is freed
 * from the merged set once copied, to keep peak memory down. */
int vg__colsrc_merged(void *ctx, uint32_t col, vg_type_t type, const uint32_t *perm, size_t n,
                      vg_colvec_t *out);

/* Provider over rows of a head (ctx: vg_headrows_t *). */
typedef struct vg_headrows {
    const vg_head_t *h;
    const uint32_t *rows; /* head row of each rowset row */
    uint32_t *ordered;    /* rows[perm[k]], built on first use; freed by the caller */
} vg_headrows_t;
int vg__colsrc_head(void *ctx, uint32_t col, vg_type_t type, const uint32_t *perm, size_t n,
                    vg_colvec_t *out);

#endif
