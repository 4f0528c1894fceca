/*
 * db_int.h: the layout shared by the database's files (db.c, db_write.c,
 * db_seal.c, db_recover.c, rows.c, head.c, table.c). Not part of the API.
 *
 * NOTES ON THE DESIGN
 * (1) A table's rows live in three places: segments (immutable files), at
 *     most a few frozen heads (being sealed) and the active head. A reader
 *     takes a snapshot of all three under the table mutex (refcounts) and
 *     then reads without locks.
 * (2) Head rows are appended under db->write_mu in WAL (LSN) order and
 *     become visible to readers only when the WAL record holding them is
 *     durable: head->visible is a prefix of head->nrows.
 * (3) Duplicates (same series and ts) are resolved:
 *       - inside the head at insert time: the new row takes the old row's
 *         fields it lacks, and the old row is marked dead by the new row's
 *         index (dead_by), which a reader honours only when the new row is
 *         inside its snapshot;
 *       - between the head and segments, or between segments of one
 *         partition, by merging on read (rows.c sorts and merges each
 *         partition) and for good by compaction (db_seal.c), which marks the
 *         partition clean again. A partition that may hold such duplicates is
 *         "dirty"; block statistics must not be used for dirty partitions.
 * (4) A segment covers a WAL LSN; the catalog records sealed_lsn, the LSN
 *     below which every row is in a published segment. Recovery replays only
 *     records above it, so sealed rows are never replayed twice.
 */
#ifndef VG_ENGINE_DB_INT_H
#define VG_ENGINE_DB_INT_H

#include <pthread.h>
#include <stdint.h>

#include "buf.h"
#include "colvec.h"
#include "io.h"
#include "segment.h"
#include "shape.h"
#include "strmap.h"
#include "vigil/vg_db.h"
#include "wal.h"

#define VG_HEAD_CHUNK 4096u
#define VG_MAX_COLUMNS 1024u /* fields per table (the line-protocol field limit) */

typedef struct vg_hstr {
    const char *p;
    uint32_t len;
} vg_hstr_t;

/* One column's values within one head chunk. */
typedef struct vg_hcol {
    uint8_t *valid; /* one byte per row: no two writers share a byte with readers */
    void *vals;     /* double/int64/uint64/uint8/vg_hstr_t [VG_HEAD_CHUNK] */
} vg_hcol_t;

typedef struct vg_hchunk {
    int64_t ts[VG_HEAD_CHUNK];
    uint32_t series[VG_HEAD_CHUNK];
    uint32_t dead_by[VG_HEAD_CHUNK]; /* 0 alive, else 1 + index of the replacing row */
    uint32_t prev[VG_HEAD_CHUNK];    /* previous row of the same series, or UINT32_MAX */
    vg_hcol_t *cols[VG_MAX_COLUMNS]; /* set with release stores; NULL: all null */
} vg_hchunk_t;

typedef struct vg_head {
    int refs; /* the table's reference plus readers' */
    vg_hchunk_t **chunks;
    uint32_t nchunks, chunks_cap;
    uint32_t nrows;   /* appended (under write_mu) */
    uint32_t visible; /* durable and readable (atomic) */
    uint64_t last_lsn;
    int64_t ts_min, ts_max;
    int64_t born_ns; /* wall clock of the first row, for seal_age */
    uint64_t bytes;  /* approximate memory */
    vg_buf_t *strings; /* blocks of string bytes, never moved */
    size_t nstrings, strings_cap;
    uint64_t replaced; /* duplicates merged inside this head */
} vg_head_t;

typedef struct vg_series {
    const char *key; /* canonical: k=v pairs sorted, "\0"-separated, in the strmap arena */
    uint32_t keylen;
    uint32_t ntags;
    const char **tag_keys, **tag_vals; /* ntags, NUL-terminated copies */
    uint32_t head_last;   /* last head row of this series, or UINT32_MAX */
    int64_t head_max_ts;  /* INT64_MIN when no head row */
    int64_t sealed_max_ts; /* newest row sealed or frozen */
    /* its last row in the head frozen most recently (UINT32_MAX: none), for probe.c */
    uint32_t frozen_last;
    const vg_head_t *frozen_head;
} vg_series_t;

typedef struct vg_field {
    char *name;
    vg_type_t type;
} vg_field_t;

/* A published segment, shared by snapshots. */
typedef struct vg_segref {
    int refs;
    vg_seg_t *seg;
    char *file;        /* name inside segments/ */
    uint32_t *gseries; /* local series id -> table series id */
    int doomed;        /* unlink the file when the last reference goes */
    vg_io_t *io;
} vg_segref_t;

typedef struct vg_table {
    char *name;
    uint32_t id;
    pthread_mutex_t mu; /* guards segs, frozen, head pointer, dirty, fields array growth */
    /* schema (written under db->write_mu; fields array replaced, never realloc'd in place) */
    vg_field_t *fields;
    uint32_t nfields, fields_cap;
    vg_strmap_t field_map;
    vg_strmap_t tagkey_map;
    char **tag_keys;
    uint32_t ntagkeys, tagkeys_cap;
    /* series */
    vg_strmap_t series_map; /* canonical key -> id */
    vg_strmap_t raw_map;    /* series text as the client wrote it -> id (a cache) */
    vg_series_t *series;
    uint32_t nseries, series_cap;
    /* data */
    vg_head_t *head;
    vg_head_t **frozen;
    uint32_t nfrozen;
    vg_segref_t **segs;
    uint32_t nsegs, segs_cap;
    vg_shapes_t shapes; /* recent line shapes (shape.h), under db->write_mu */
    int64_t *dirty; /* partition starts that may hold cross-source duplicates */
    uint32_t ndirty, dirty_cap;
    uint64_t replaced;
} vg_table_t;

/* Rows of a head that become visible once the WAL is synced past lsn. */
typedef struct vg_pending_vis {
    uint64_t lsn;
    vg_head_t *head; /* referenced */
    uint32_t nrows;
} vg_pending_vis_t;

struct vg_db {
    char *dir;
    char *seg_dir, *wal_dir;
    vg_db_opts_t o;
    vg_io_t *io;
    vg_wal_t *wal; /* NULL when read-only */
    int lock_fd;
    int read_only;
    int failed; /* turned read-only by an I/O error */

    pthread_mutex_t write_mu; /* one writer at a time: parse, stage, WAL append */
    pthread_mutex_t meta_mu;  /* catalog writes, sealing, compaction, retention */
    pthread_mutex_t tables_mu; /* the table list (a leaf lock) */
    vg_table_t **tables;
    uint32_t ntables, tables_cap;
    vg_strmap_t table_map;

    uint64_t sealed_lsn;
    uint64_t seg_seq; /* next segment file number */
    int64_t last_auto_ts;

    /* write path scratch, under write_mu */
    struct vg_probe *probe; /* probe.c's caches; NULL until the first late row */
    vg_lp_parser_t lp;
    vg_buf_t wal_payload;
    vg_table_t *last_table; /* the table named by last_meas (as written), a cache */
    vg_buf_t last_meas;
    char *unesc;
    size_t unesc_cap;

    /* LSN -> per-table row counts to publish after a sync */
    struct vg_pending_vis *vis;
    size_t nvis, vis_cap;

    pthread_t bg;
    int bg_running, bg_stop;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cv;
};

/* log through opts.log */
void vg__db_log(vg_db_t *db, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- table.c: tables, schema, series ---- */
int vg__table_get(vg_db_t *db, const char *name, size_t len, int create, vg_table_t **out,
                  vg_error_t *err);
vg_table_t *vg__table_find(vg_db_t *db, const char *name);
void vg__table_free(vg_table_t *t);
/* Look up or add a field; VG_ECONFLICT when the type differs. */
int vg__table_field(vg_table_t *t, const char *name, size_t len, vg_type_t type, uint32_t *idx,
                    vg_type_t *had, vg_error_t *err);
int vg__table_tagkey(vg_table_t *t, const char *name, size_t len, vg_error_t *err);
/* Series id for canonical tags (sorted, unescaped) given as parallel arrays. */
int vg__table_series(vg_table_t *t, uint32_t ntags, const char *const *keys,
                     const uint32_t *klens, const char *const *vals, const uint32_t *vlens,
                     int create, uint32_t *id, vg_error_t *err);
int vg__table_mark_dirty(vg_table_t *t, int64_t part_start);
int vg__table_is_dirty(vg_table_t *t, int64_t part_start);
void vg__table_clear_dirty(vg_table_t *t, int64_t part_start);

/* ---- head.c ---- */
vg_head_t *vg__head_new(void);
void vg__head_unref(vg_head_t *h);
void vg__head_ref(vg_head_t *h);
/* Append a row slot; returns its index or UINT32_MAX on ENOMEM. */
uint32_t vg__head_add_row(vg_head_t *h, int64_t ts, uint32_t series, pthread_mutex_t *mu);
static inline vg_hchunk_t *vg__head_chunk(const vg_head_t *h, uint32_t row)
{
    return h->chunks[row / VG_HEAD_CHUNK];
}
int vg__head_set(vg_head_t *h, uint32_t row, uint32_t col, vg_type_t type, const vg_value_t *v);
/* Copy col of row `from` into row `to` when `to` has no value there. */
int vg__head_inherit(vg_head_t *h, uint32_t to, uint32_t from, uint32_t ncols,
                     const vg_field_t *fields);
/* Forget rows >= nrows (staged rows of a failed batch). */
void vg__head_truncate(vg_head_t *h, uint32_t nrows);
int vg__head_get(const vg_head_t *h, uint32_t row, uint32_t col, vg_type_t type, vg_value_t *v);
int vg__head_alive(const vg_head_t *h, uint32_t row, uint32_t visible);
/* Column col of the given head rows, in that order, into out (allocated here;
 * the caller frees it with vg_colvec_free). Typed loops: the seal's hot copy. */
int vg__head_col_gather(const vg_head_t *h, uint32_t col, vg_type_t type, const uint32_t *rows,
                        size_t n, vg_colvec_t *out);

/* ---- snapshots (rows.c) ---- */
typedef struct vg_snap {
    vg_table_t *t;
    vg_head_t *heads[8]; /* frozen heads then the active one */
    uint32_t visible[8];
    uint32_t nheads;
    vg_segref_t **segs;
    uint32_t nsegs;
    vg_field_t *fields; /* copy */
    uint32_t nfields;
    uint32_t nseries;
    vg_series_t *series; /* copy of the first nseries (their strings are the table's) */
    const char **tag_keys; /* copy of the table's tag key list (strings are the table's) */
    uint32_t ntagkeys;
    int64_t *dirty; /* copy of the dirty partition starts */
    uint32_t ndirty;
} vg_snap_t;
int vg__snap_take(vg_db_t *db, vg_table_t *t, vg_snap_t *s, vg_error_t *err);
int vg__snap_is_dirty(const vg_snap_t *s, int64_t part);
/* Partition starts (sorted, unique) holding data of the snapshot in [t0, t1).
 * Ownership: *parts is the caller's (vg_free). */
int vg__snap_parts(const vg_db_t *db, const vg_snap_t *s, int64_t t0, int64_t t1,
                   int64_t **parts, size_t *n);
void vg__snap_release(vg_snap_t *s);
void vg__segref_unref(vg_segref_t *r);

void vg__publish(vg_db_t *db);
/* After the WAL rejected records for a full disk: drop what they staged and
 * resume (db_write.c). Under write_mu. */
void vg__db_nospace_recover(vg_db_t *db);

#ifdef VG_TESTING
/* The database's I/O layer, for tests that inject faults (io.h hooks). */
vg_io_t *vg__db_io(vg_db_t *db);
#endif

/* ---- db_seal.c ---- */
int vg__seal_all(vg_db_t *db, vg_error_t *err);
int vg__compact_all(vg_db_t *db, vg_error_t *err);
int vg__retention(vg_db_t *db, vg_error_t *err);
int vg__catalog_write(vg_db_t *db, vg_error_t *err);
int64_t vg__part_start(const vg_db_t *db, int64_t ts);

/* probe.c: may sealed or frozen data of t already hold (sid, ts)? 1 (yes, or
 * cannot tell cheaply) or 0. Under write_mu; takes t->mu. */
typedef struct vg_probe vg_probe_t;
int vg__probe_may_hold(vg_db_t *db, vg_table_t *t, uint32_t sid, int64_t ts);
void vg__probe_free(vg_probe_t *p);

/* ---- db_recover.c ---- */
int vg__recover(vg_db_t *db, vg_error_t *err);
int vg__apply_lines(vg_db_t *db, const char *buf, size_t len, int replay, uint64_t lsn,
                    vg_write_result_t *res, const vg_write_opts_t *wo, vg_buf_t *walbuf,
                    vg_error_t *err);
/* Open segments/file for table t. ids (may be NULL) maps the segment's local
 * series ids to the table's when the caller knows it (it just wrote the file);
 * otherwise they are looked up, and added, by their tags. */
int vg__segref_open(vg_db_t *db, vg_table_t *t, const char *file, const uint32_t *ids,
                    uint32_t nids, vg_segref_t **out, vg_error_t *err);
int vg__table_add_seg(vg_table_t *t, vg_segref_t *r);

#endif
