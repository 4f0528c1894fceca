/*
 * merge.h: the rows of one table partition gathered from every source
 * (segments, oldest first, then heads) and merged: sorted by
 * (series, ts), one row per point, each field taken from the newest source
 * that has a value for it (InfluxDB's duplicate-point rule). Compaction
 * writes the result as one segment; the row reader (rows.c) serves it.
 */
#ifndef VG_ENGINE_MERGE_H
#define VG_ENGINE_MERGE_H

#include "colvec.h"
#include "db_int.h"

typedef struct vg_merged {
    size_t n;
    int64_t *ts;
    uint32_t *series; /* table series ids */
    uint32_t ncols;   /* = the snapshot's field count */
    vg_colvec_t *cols;
    uint64_t replaced; /* duplicate rows folded */
    uint64_t lsn;      /* highest WAL LSN among the sources */
} vg_merged_t;

/*
 * Merge the rows with part_start <= ts < part_end (and t0 <= ts < t1) of
 * the snapshot's sources. Ownership: free with vg_merged_free.
 */
int vg_merge_partition(const vg_snap_t *s, int64_t part_start, int64_t part_end, int64_t t0,
                       int64_t t1, vg_merged_t *out, vg_error_t *err);
void vg_merged_free(vg_merged_t *m);

#endif
