/*
 * vg_db.h: a Vigil database, a folder of tables.
 *
 * A table is a line-protocol measurement. Rows have a timestamp, tags and
 * typed fields; the schema grows as new keys arrive (schema on write) and a
 * field keeps the type of its first write. A point is identified by
 * table + tag set + timestamp: writing the same point again merges its
 * fields into the stored point, the new values winning.
 *
 * Writes go to a write-ahead log (acknowledged after fdatasync by default),
 * then to an in-memory head per table, which is sealed into immutable,
 * compressed, memory-mapped segment files partitioned by time.
 *
 * One process writes a folder (an exclusive lock file); others may open it
 * read-only. A vg_db_t may be used from several threads at once.
 */
#ifndef VIGIL_VG_DB_H
#define VIGIL_VG_DB_H

#include <stddef.h>
#include <stdint.h>

#include "vg_error.h"
#include "vg_lp.h"
#include "vg_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vg_db vg_db_t;

typedef enum vg_wal_sync {
    VG_WAL_SYNC_FULL = 0, /* fdatasync before every acknowledgement (batches share one) */
    VG_WAL_SYNC_GROUP,    /* wait up to group_ms to gather batches, then fdatasync */
    VG_WAL_SYNC_NONE,     /* write, no fsync: survives a process crash, not a power loss */
} vg_wal_sync_t;

/* Log callback: level is "debug", "info", "warn" or "error". */
typedef void (*vg_db_log_fn)(void *ctx, const char *level, const char *msg);

typedef struct vg_db_opts {
    int read_only;             /* open without writing anything (no replay into files) */
    int create;                /* create the folder if missing (default on) */
    vg_wal_sync_t wal_sync;
    unsigned group_ms;         /* with VG_WAL_SYNC_GROUP */
    int io_kind;               /* 0 auto, 1 io_uring only, 2 posix only */
    int64_t retention_ns;      /* default 30 days */
    int64_t future_ns;         /* reject rows this far past the wall clock; default 1h */
    int64_t partition_ns;      /* segment time partition; default 1 day */
    uint64_t max_series;       /* distinct series per table; default 1,000,000 */
    uint64_t seal_rows;        /* seal a table's head past this many rows; default 1,000,000 */
    uint64_t seal_bytes;       /* ... or past this much head memory; default 256 MiB */
    int64_t seal_age_ns;       /* ... or when its oldest row is this old; default 10 min */
    uint64_t wal_segment_bytes;/* roll the WAL file past this size; default 64 MiB */
    size_t max_batch_bytes;    /* one write call's body; default 25,000,000 */
    unsigned compact_min_segments; /* merge a partition's segments under seal_rows/2 rows
                                      once it has this many; default 4 */
    vg_lp_limits_t lp;         /* line-protocol limits */
    int background;            /* run sealing, compaction and retention on a thread (default on) */
    uint32_t late_probe_per_s; /* rows older than sealed rows of their series looked up in the
                                  segments, per second, to tell an out-of-order row (cheap to
                                  read) from a rewritten point (its partition merged on read
                                  until compacted); past this, rows count as rewritten.
                                  0: never look. Default 20,000 */
    vg_db_log_fn log;
    void *log_ctx;
} vg_db_opts_t;

/* Fill o with the defaults above. */
void vg_db_opts_default(vg_db_opts_t *o);

/*
 * Open (and recover) the database in dir. opts may be NULL for defaults.
 * VG_ELOCKED (message names the holder's pid) when another process writes
 * the folder and read_only is off. Ownership: close with vg_db_close.
 */
int vg_db_open(const char *dir, const vg_db_opts_t *opts, vg_db_t **out, vg_error_t *err);
/* Seal nothing, sync the WAL, stop the background thread, release the lock. NULL ok. */
int vg_db_close(vg_db_t *db, vg_error_t *err);

/* One rejected line of a write. */
typedef struct vg_line_error {
    uint64_t lineno;
    uint32_t column;
    char reason[200];
} vg_line_error_t;

typedef struct vg_write_opts {
    vg_precision_t precision;
    uint64_t first_lineno;   /* number of the buffer's first line, default 1 */
    size_t max_errors;       /* keep at most this many line errors (counted beyond); default 1000 */
} vg_write_opts_t;

/* Ownership: errors is allocated by the write; free with vg_write_result_free. */
typedef struct vg_write_result {
    uint64_t lines;     /* physical lines seen */
    uint64_t rows;      /* rows committed */
    uint64_t rejected;  /* lines rejected */
    uint64_t last_lineno; /* number of the last physical line of the buffer */
    vg_line_error_t *errors;
    size_t nerrors;     /* <= max_errors */
    uint64_t bytes;     /* bytes of line protocol taken */
} vg_write_result_t;

void vg_write_result_free(vg_write_result_t *r);

/*
 * Write a buffer of line protocol. The good lines are committed as one
 * atomic batch: when this returns VG_OK they are in the WAL (synced as
 * wal_sync says) and visible to every later read; bad lines are reported in
 * res and nothing of them is stored. A non-zero return means the whole
 * batch failed (I/O error, full disk, read-only) and nothing of it will
 * ever be applied; after an I/O error the database turns read-only.
 * opts may be NULL.
 */
int vg_db_write_lp(vg_db_t *db, const char *buf, size_t len, const vg_write_opts_t *opts,
                   vg_write_result_t *res, vg_error_t *err);

/*
 * The two halves of vg_db_write_lp, so that a writer can prepare its next
 * batch while this one is synced. vg_db_write_lp_begin parses, checks and
 * stages the batch and queues its WAL record (the WAL's flusher starts
 * syncing it at once); *ticket names it (0 when there was nothing to commit).
 * Nothing of it is visible or acknowledged until vg_db_write_wait(ticket)
 * returns VG_OK. Tickets of one writer must be waited for in order; a failed
 * wait fails every later ticket too (the database turns read-only).
 */
int vg_db_write_lp_begin(vg_db_t *db, const char *buf, size_t len, const vg_write_opts_t *opts,
                         vg_write_result_t *res, uint64_t *ticket, vg_error_t *err);
int vg_db_write_wait(vg_db_t *db, uint64_t ticket, vg_error_t *err);

/* Seal every head to segments now and truncate the WAL they cover. */
int vg_db_flush(vg_db_t *db, vg_error_t *err);
/* Merge each partition's small segments (resolving duplicates) and drop partitions past retention. */
int vg_db_compact(vg_db_t *db, vg_error_t *err);

/* Non-zero when the database refuses writes (opened read-only, or after an I/O error). */
int vg_db_read_only(const vg_db_t *db);
/* Test hook: a named crash point (engine/io.h); a no-op outside VG_TESTING builds. */
void vg_db_crash_point(vg_db_t *db, const char *point);

/* ---- schema and stats ---- */

typedef struct vg_col_info {
    char *name;
    vg_type_t type;  /* VG_TYPE_TAG for tag keys */
} vg_col_info_t;

typedef struct vg_table_stats {
    char *name;
    uint64_t rows;          /* distinct points stored */
    uint64_t series;
    uint64_t segments;
    uint64_t head_rows;     /* rows not yet sealed */
    uint64_t disk_bytes;    /* segment bytes */
    uint64_t raw_bytes;     /* uncompressed size of the stored values */
    uint64_t replaced;      /* points written again and merged */
    int64_t ts_min, ts_max; /* INT64_MAX / INT64_MIN when empty */
    size_t ncols;
    vg_col_info_t *cols;    /* tags first (sorted), then fields (sorted) */
} vg_table_stats_t;

typedef struct vg_db_stats {
    size_t ntables;
    vg_table_stats_t *tables; /* sorted by name */
    uint64_t wal_bytes;
    uint64_t disk_bytes;      /* everything in the folder */
    /* WAL sync rounds since open (a write and the fdatasync after it):
     * counts in buckets with upper bounds 0.5 1 2 5 10 20 50 100 200 500 1000 ms
     * and +Inf, their number and total time */
    uint64_t wal_sync_bucket[12];
    uint64_t wal_syncs, wal_sync_ns;
    const char *io_backend;   /* "io_uring" or "posix"; static string */
} vg_db_stats_t;

/* Ownership: free with vg_db_stats_free. */
int vg_db_stats(vg_db_t *db, vg_db_stats_t *out, vg_error_t *err);
void vg_db_stats_free(vg_db_stats_t *s);

/* ---- reading rows ---- */

/* One stored row, as a dump sees it. Valid until the next vg_rows_next. */
typedef struct vg_row {
    int64_t ts;
    size_t ntags;
    const char *const *tag_keys;  /* sorted */
    const char *const *tag_vals;
    size_t nfields;
    const char *const *field_keys; /* sorted; only non-null fields */
    const vg_type_t *field_types;
    const vg_value_t *field_vals;
} vg_row_t;

typedef struct vg_rows vg_rows_t;

/*
 * Every stored row of a table with t0 <= ts < t1, in time order (then by
 * series), duplicates merged. Ownership: close with vg_rows_close.
 */
int vg_rows_open(vg_db_t *db, const char *table, int64_t t0, int64_t t1, vg_rows_t **out,
                 vg_error_t *err);
/* 1: *row filled; 0: end; < 0: error (a damaged block names file and offset). */
int vg_rows_next(vg_rows_t *r, vg_row_t *row, vg_error_t *err);
void vg_rows_close(vg_rows_t *r);

/* Columns of a table (tags, then fields, each sorted). Ownership: vg_cols_free. */
int vg_db_columns(vg_db_t *db, const char *table, vg_col_info_t **cols, size_t *ncols,
                  vg_error_t *err);
void vg_cols_free(vg_col_info_t *cols, size_t ncols);

/*
 * Move damaged files of dir (a failed checksum in the WAL, the catalog or a
 * segment) into dir/quarantine/ and report what was dropped. The folder
 * must not be open elsewhere.
 */
typedef struct vg_repair_report {
    uint64_t files_quarantined;
    uint64_t wal_records_dropped;
    uint64_t rows_dropped;     /* rows of quarantined segments and WAL records, where known */
    uint64_t wal_bytes_cut;    /* torn tail cut from the last WAL file */
} vg_repair_report_t;
int vg_db_repair(const char *dir, vg_repair_report_t *rep, vg_db_log_fn log, void *log_ctx,
                 vg_error_t *err);

/* Parse a time literal: RFC 3339 ("2026-11-27T03:14:00Z", fractions and
 * offsets allowed), integer nanoseconds, "now()" or "now() - 2h". */
int vg_time_parse(const char *s, int64_t now_ns, int64_t *out, vg_error_t *err);
/* Parse a duration "30s", "5m", "1h30m", "7d", "2w", "250ms" into ns. */
int vg_duration_parse(const char *s, int64_t *out, vg_error_t *err);
/* Wall clock, ns since the epoch. */
int64_t vg_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
