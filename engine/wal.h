/*
 * wal.h: the write-ahead log.
 *
 * A folder of files named <seq>.wal (16 hex digits), each a header then
 * records; a record is one write batch:
 *
 *   u32 magic 'VGWR' | u32 crc32c (of everything after this field) |
 *   u64 lsn | u32 payload_len | u32 raw_len | u32 flags | u32 reserved |
 *   payload (LZ4 block when flags & 1, else raw)
 *
 * LSNs increase by one per record across files. Files are only appended;
 * a new file is started at open (never appending after a possibly torn
 * tail) and whenever the heads are sealed, so that a file's records are all
 * covered, or none, by the segments (truncation deletes whole files).
 *
 * Group commit: vg_wal_append() only queues a record in memory; vg_wal_sync()
 * makes every queued record up to an LSN durable. The first caller to find
 * unsynced records becomes the leader: it writes everything queued and
 * issues one fdatasync (vg_io_write_sync), while followers wait on a
 * condition variable. With a flusher thread (opts.flusher) the flusher is
 * the only leader and starts as soon as a record is queued, so a writer can
 * prepare its next batch while the previous one is synced. After a write or fsync error the log is failed for
 * good: every pending and later sync returns the error (never retry an
 * fsync and then acknowledge), and the file is cut back to the last synced
 * byte where possible so that a failed batch is never replayed.
 */
#ifndef VG_ENGINE_WAL_H
#define VG_ENGINE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "vigil/vg_error.h"

#define VG_WAL_FILE_MAGIC "VGWAL\0\0\1"
#define VG_WAL_FILE_HEADER 16u /* 8 magic + u32 version + u32 crc of the first 12 */
#define VG_WAL_REC_MAGIC 0x52574756u /* "VGWR" little-endian */
#define VG_WAL_REC_HEADER 32u
#define VG_WAL_MAX_RECORD (256u << 20)

typedef enum { VG_WAL_SYNC_MODE_FULL, VG_WAL_SYNC_MODE_GROUP, VG_WAL_SYNC_MODE_NONE } vg_wal_mode_t;

typedef struct vg_wal vg_wal_t;

typedef struct vg_wal_opts {
    vg_wal_mode_t mode;
    unsigned group_ms;
    uint64_t file_bytes; /* roll past this size */
    uint64_t next_lsn;   /* first LSN to assign (after replay) */
    uint64_t next_seq;   /* file number of the new file */
    int flusher;         /* run a thread that syncs queued records at once */
} vg_wal_opts_t;

/* Start a new WAL file in dir. Ownership: close with vg_wal_close. */
int vg_wal_open(vg_io_t *io, const char *dir, const vg_wal_opts_t *o, vg_wal_t **out,
                vg_error_t *err);
/* Sync what is queued (unless failed) and close. NULL ok. */
int vg_wal_close(vg_wal_t *w, vg_error_t *err);

/*
 * Queue a record (compressing payload with LZ4). Assigns *lsn. Copies the
 * payload: the caller may reuse it at once. The caller serialises appends
 * (the db write lock) so that LSN order is head order.
 */
int vg_wal_append(vg_wal_t *w, const void *payload, size_t len, uint64_t *lsn, vg_error_t *err);
/* Block until every record up to lsn is durable (as the mode says). */
int vg_wal_sync(vg_wal_t *w, uint64_t lsn, vg_error_t *err);
/* Sync everything, then start a new file; *last_lsn = highest LSN in the old files. */
int vg_wal_roll(vg_wal_t *w, uint64_t *last_lsn, vg_error_t *err);
/* Delete every file whose records all have LSN <= lsn (never the current one). */
int vg_wal_truncate(vg_wal_t *w, uint64_t lsn, vg_error_t *err);
/* Time of each sync round (the write and the fdatasync after it), counted in
 * buckets with upper bounds VG_WAL_SYNC_BOUNDS_MS (the last one is +Inf). */
#define VG_WAL_SYNC_BUCKETS 12
extern const double vg_wal_sync_bounds_ms[VG_WAL_SYNC_BUCKETS - 1];
void vg_wal_sync_stats(vg_wal_t *w, uint64_t buckets[VG_WAL_SYNC_BUCKETS], uint64_t *count,
                       uint64_t *sum_ns);

/*
 * A full disk met by a write is not final (wal.c invariant 5): the records
 * not yet durable are rejected (their syncs return VG_ENOSPC) and appends are
 * refused until vg_wal_resume. vg_wal_nospace says whether that refusal is in
 * force; the owner rolls back what the rejected records staged, then resumes.
 */
int vg_wal_nospace(vg_wal_t *w);
void vg_wal_resume(vg_wal_t *w);
/*
 * After a resume the rejected LSNs are given out again (no hole in the log),
 * so a record is named by its LSN and the generation it was appended in
 * (one generation per refusal, at most VG_WAL_MAX_GEN; past it a full disk
 * is final). vg_wal_append_gen also returns that generation; vg_wal_sync_gen
 * returns VG_ENOSPC for a rejected record, VG_OK for a durable one.
 */
#define VG_WAL_MAX_GEN 0xffffu
int vg_wal_append_gen(vg_wal_t *w, const void *payload, size_t len, uint64_t *lsn,
                      uint64_t *gen, vg_error_t *err);
int vg_wal_sync_gen(vg_wal_t *w, uint64_t lsn, uint64_t gen, vg_error_t *err);
/* Non-zero after a write or fsync error. */
int vg_wal_failed(const vg_wal_t *w);
uint64_t vg_wal_bytes(const vg_wal_t *w);
uint64_t vg_wal_last_lsn(const vg_wal_t *w);

/* ---- replay ---- */

typedef int (*vg_wal_replay_fn)(void *ctx, uint64_t lsn, const char *payload, size_t len,
                                vg_error_t *err);

typedef struct vg_wal_replay_report {
    uint64_t files, records, skipped; /* skipped: LSN <= after_lsn */
    uint64_t last_lsn;                /* highest LSN seen (0 when none) */
    uint64_t last_seq;                /* highest file number (0 when none) */
    uint64_t torn_bytes;              /* cut from the tail of the last file */
    char torn_file[512];
    /* on VG_ECORRUPT: where the damage starts (for `vigil repair`) */
    char bad_file[512];
    uint64_t bad_offset;
    /* ... and when it is records missing (LSNs gap_first..gap_last are in
     * no file: a file cut or zeroed at a record boundary), where they
     * belong: at gap_offset of gap_file, after its last record */
    uint64_t gap_first, gap_last;
    char gap_file[512];
    uint64_t gap_offset;
} vg_wal_replay_report_t;

/*
 * Read every WAL file in dir in order and call fn for each record with
 * LSN > after_lsn. A torn tail of the last file (a record that runs past the
 * end, or bad bytes after which no valid record follows) is cut when
 * cut_tail is set, and reported. Any other checksum or framing failure is
 * VG_ECORRUPT naming the file and offset. dry_run reads without cutting.
 */
int vg_wal_replay(vg_io_t *io, const char *dir, uint64_t after_lsn, int cut_tail,
                  vg_wal_replay_fn fn, void *ctx, vg_wal_replay_report_t *rep, vg_error_t *err);

/*
 * For `vigil repair`: count the valid records found in path after the damage
 * at offset off (the damaged record itself is not counted), and the lines of
 * line protocol they hold. These records are lost when the file is cut at off.
 */
int vg_wal_count_after(vg_io_t *io, const char *path, uint64_t off, uint64_t *records,
                       uint64_t *lines, vg_error_t *err);

/*
 * For `vigil repair`: number the records a report's gap says are missing
 * with empty records, so that the LSNs run on and later records replay:
 * path is cut at off and they are appended. The caller counts them as
 * dropped.
 */
int vg_wal_fill_gap(vg_io_t *io, const char *path, uint64_t off, uint64_t first, uint64_t last,
                    vg_error_t *err);

#endif
