/*
 * wal.c: the write-ahead log (wal.h), with group commit.
 *
 * Invariants:
 *  (1) Records are queued in LSN order under w->mu; only the leader writes,
 *      so file order is LSN order.
 *  (2) synced_lsn only grows, and only after vg_io_write_sync (or, in mode
 *      NONE, vg_io_pwrite) returned 0 for bytes that hold every record up
 *      to it.
 *  (3) Once failed is set it stays set; no record is reported durable after
 *      it, and the leader does not touch the file again except to cut it
 *      back to the last synced offset.
 *  (4) A new file's header is synced, and its directory fsynced, before any
 *      record is written into it.
 *  (5) A full disk met by a write (not by an fsync) is not final: the file is
 *      cut back to the last synced byte and that cut synced, every record not
 *      yet durable is rejected, and appends are refused ("nospace") until the
 *      owner has rolled back what those records staged and calls
 *      vg_wal_resume. The rejected LSNs are then given out again (the log
 *      never has a hole), so a record is named by its LSN and the generation
 *      it was appended in: generation g ended with rej[g], the LSNs it
 *      rejected, and a late waiter of generation g is answered from it.
 *      An fsync error, or a failed cut, is final as in (3).
 */
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crc32c.h"
#include "vigil/vg_alloc.h"
#include "wal_int.h"

/* LZ4 acceleration for WAL records; measured: 1 to 16 made no difference
 * next to parsing (bench_ingest), so the best ratio wins. */
#define VG_WAL_LZ4_ACCEL 1

typedef struct wal_file {
    uint64_t seq;
    uint64_t last_lsn; /* 0 when it holds no record */
} wal_file_t;

struct vg_wal {
    vg_io_t *io;
    char dir[4096];
    vg_wal_mode_t mode;
    unsigned group_ms;
    uint64_t file_bytes;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    vg_buf_t pending, spare;
    uint64_t pending_last;
    uint64_t next_lsn;
    uint64_t synced_lsn;
    int leader;
    int failed;
    vg_error_t fail_err;
    /* (5): generation gen; rej[g] = the LSNs generation g rejected (lo > hi:
     * none); the refusal in force */
    uint64_t gen;
    int nospace;
    vg_error_t nospace_err;
    struct wal_rej {
        uint64_t lo, hi;
    } * rej;
    size_t rej_cap;
    /* the flusher: a thread that leads every round as soon as records are
     * queued, so that a writer can stage its next batch while the last one
     * is being synced */
    pthread_t flusher;
    pthread_cond_t flush_cv;
    int has_flusher, stop;
    /* sync round latency (atomic counters) */
    uint64_t sync_bucket[VG_WAL_SYNC_BUCKETS];
    uint64_t sync_count, sync_ns;

    int fd;
    uint64_t seq;
    uint64_t off; /* end of what was written to the current file */
    uint64_t bytes_total;
    wal_file_t *files; /* closed files, oldest first, plus the current one last */
    size_t nfiles, files_cap;
};

static int files_push(vg_wal_t *w, uint64_t seq)
{
    if (w->nfiles == w->files_cap) {
        size_t ncap = w->files_cap ? w->files_cap * 2 : 16;
        wal_file_t *nf = vg_realloc(w->files, ncap * sizeof *nf);
        if (!nf)
            return VG_ENOMEM;
        w->files = nf;
        w->files_cap = ncap;
    }
    w->files[w->nfiles++] = (wal_file_t){seq, 0};
    return VG_OK;
}

/*
 * Create file seq with its header, synced, and its directory entry synced.
 * On failure the new file is removed again (so that a retry after a full
 * disk can create it), and *fsync_failed (may be NULL) tells whether an
 * fsync failed, which makes the failure final.
 */
static int start_file(vg_wal_t *w, uint64_t seq, int *fsync_failed, vg_error_t *err)
{
    char path[4200];
    int dummy;
    if (!fsync_failed)
        fsync_failed = &dummy;
    *fsync_failed = 0;
    file_path(w->dir, seq, path, sizeof path);
    int fd, rc = vg_io_open(w->io, path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644, &fd, err);
    if (rc)
        return rc;
    uint8_t hdr[VG_WAL_FILE_HEADER];
    memcpy(hdr, VG_WAL_FILE_MAGIC, 8);
    put_u32(hdr + 8, 1);
    put_u32(hdr + 12, vg_crc32c(0, hdr, 12));
    /* Preallocation keeps appends from changing the file's block map, so most
     * fdatasyncs write data only; failure to preallocate is harmless. */
    if (vg_io_fallocate(w->io, fd, 0, (off_t)w->file_bytes, NULL) != VG_OK)
        /* ext4 keeps the blocks of a preallocation that failed half-way:
         * on a nearly full disk they would take every free block, and even
         * the header write (extent conversion) would fail. Give them back. */
        (void)vg_io_ftruncate(w->io, fd, 0, NULL);
    rc = vg_io_write_sync_step(w->io, fd, hdr, sizeof hdr, 0, fsync_failed, err);
    if (rc == VG_OK) {
        rc = vg_io_fsync_dir(w->io, w->dir, err);
        *fsync_failed = rc != VG_OK;
    }
    if (rc == VG_OK)
        rc = files_push(w, seq);
    if (rc) {
        vg_io_close(w->io, fd);
        /* Not in files[]: nothing will ever write it. Its name must go, or
         * the next attempt fails on O_EXCL; if that fails, the failure is final. */
        if (vg_io_unlink(w->io, path, NULL) != VG_OK)
            *fsync_failed = 1;
        return rc;
    }
    if (w->fd >= 0)
        vg_io_close(w->io, w->fd);
    w->fd = fd;
    w->seq = seq;
    w->off = VG_WAL_FILE_HEADER;
    __atomic_fetch_add(&w->bytes_total, VG_WAL_FILE_HEADER, __ATOMIC_RELAXED);
    return VG_OK;
}

static void *flusher_main(void *arg);

int vg_wal_open(vg_io_t *io, const char *dir, const vg_wal_opts_t *o, vg_wal_t **out,
                vg_error_t *err)
{
    vg_wal_t *w = vg_calloc(1, sizeof *w);
    if (!w)
        return vg_error_set(err, VG_ENOMEM, "allocating the WAL");
    w->io = io;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->mode = o->mode;
    w->group_ms = o->group_ms;
    w->file_bytes = o->file_bytes ? o->file_bytes : (64u << 20);
    w->next_lsn = o->next_lsn ? o->next_lsn : 1;
    w->synced_lsn = w->next_lsn - 1;
    w->pending_last = w->synced_lsn;
    w->fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->flush_cv, NULL);
    /* Files left by the previous run hold records up to next_lsn - 1: they go
     * when a seal covers that LSN. A file with none (replay has cut torn
     * tails) goes now, with its preallocated blocks, or every run that only
     * read would leave one behind; but not the oldest: replay checks that the
     * records after it start right after the seal's LSN, so a whole first
     * file lost is found. (The last run's empty file is kept until here on
     * purpose: while it is the newest, the file before it is not the last, so
     * damage to that one's tail is reported as corruption, not cut as torn.) */
    uint64_t *old = NULL;
    size_t nold = 0;
    int rc = vg_wal_list_files(io, dir, &old, &nold, err);
    for (size_t i = 0; i < nold && rc == VG_OK; i++) {
        char path[4200];
        struct stat st;
        file_path(dir, old[i], path, sizeof path);
        if (i > 0 && stat(path, &st) == 0 && st.st_size <= (off_t)VG_WAL_FILE_HEADER) {
            rc = vg_io_unlink(io, path, err);
            continue;
        }
        rc = files_push(w, old[i]);
        if (rc == VG_OK)
            w->files[w->nfiles - 1].last_lsn = w->next_lsn - 1;
    }
    vg_free(old);
    if (rc == VG_OK)
        rc = start_file(w, o->next_seq ? o->next_seq : 1, NULL, err);
    if (rc == VG_OK && o->flusher) {
        if (pthread_create(&w->flusher, NULL, flusher_main, w) != 0)
            rc = vg_error_set(err, VG_ENOMEM, "starting the WAL flusher thread");
        else
            w->has_flusher = 1;
    }
    if (rc) {
        vg_wal_close(w, NULL);
        return rc;
    }
    *out = w;
    return VG_OK;
}

int vg_wal_append(vg_wal_t *w, const void *payload, size_t len, uint64_t *lsn, vg_error_t *err)
{
    return vg_wal_append_gen(w, payload, len, lsn, NULL, err);
}

int vg_wal_append_gen(vg_wal_t *w, const void *payload, size_t len, uint64_t *lsn, uint64_t *gen,
                      vg_error_t *err)
{
    if (len > VG_WAL_MAX_RECORD)
        return vg_error_set(err, VG_ELIMIT, "WAL record of %zu bytes exceeds the %u byte limit",
                            len, VG_WAL_MAX_RECORD);
    int bound = LZ4_compressBound((int)len);
    pthread_mutex_lock(&w->mu);
    if (w->failed || w->nospace) {
        const vg_error_t *e = w->failed ? &w->fail_err : &w->nospace_err;
        int rc = vg_error_set(err, e->code, "%s", e->msg);
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    if (vg_buf_reserve(&w->pending, VG_WAL_REC_HEADER + (size_t)bound) != VG_OK) {
        pthread_mutex_unlock(&w->mu);
        return vg_error_set(err, VG_ENOMEM, "queuing a WAL record of %zu bytes", len);
    }
    uint8_t *h = w->pending.p + w->pending.len;
    uint8_t *body = h + VG_WAL_REC_HEADER;
    int clen =
        len ? LZ4_compress_fast(payload, (char *)body, (int)len, bound, VG_WAL_LZ4_ACCEL) : 0;
    uint32_t flags = 1;
    if (clen <= 0 || (size_t)clen >= len) {
        memcpy(body, payload, len);
        clen = (int)len;
        flags = 0;
    }
    uint64_t l = w->next_lsn++;
    put_u32(h, VG_WAL_REC_MAGIC);
    put_u64(h + VG_WAL_OFF_LSN, l);
    put_u32(h + VG_WAL_OFF_CLEN, (uint32_t)clen);
    put_u32(h + VG_WAL_OFF_RLEN, (uint32_t)len);
    put_u32(h + VG_WAL_OFF_FLAGS, flags);
    put_u32(h + 28, 0);
    put_u32(h + VG_WAL_OFF_CRC,
            vg_crc32c(0, h + VG_WAL_OFF_LSN, VG_WAL_REC_HEADER - VG_WAL_OFF_LSN + (size_t)clen));
    w->pending.len += VG_WAL_REC_HEADER + (size_t)clen;
    w->pending_last = l;
    if (w->has_flusher && !w->leader)
        pthread_cond_signal(&w->flush_cv);
    if (gen)
        *gen = w->gen;
    pthread_mutex_unlock(&w->mu);
    *lsn = l;
    return VG_OK;
}

static void fail_locked(vg_wal_t *w, const vg_error_t *e)
{
    __atomic_store_n(&w->failed, 1, __ATOMIC_RELAXED); /* vg_wal_failed reads it unlocked */
    w->fail_err = *e;
    /* Cut back anything written after the last successful sync so that a
     * batch answered with an error is not replayed at the next start. If
     * this fails too, the error was already reported; nothing more to do. */
    if (w->fd >= 0)
        (void)vg_io_ftruncate(w->io, w->fd, (off_t)w->off, NULL);
}

/* Was record lsn of generation gen rejected? Under w->mu. */
static int rejected_locked(const vg_wal_t *w, uint64_t lsn, uint64_t gen)
{
    return gen < w->gen && lsn >= w->rej[gen].lo && lsn <= w->rej[gen].hi;
}

/*
 * (5): a full disk met by a write. Cut the file back to the last synced byte
 * and sync the cut (a crash must not bring back a whole record of a batch
 * answered with an error), reject every record not yet durable, and refuse
 * appends until vg_wal_resume. Under w->mu. Returns non-zero when the cut
 * failed: then the failure is final.
 */
static int nospace_locked(vg_wal_t *w, const vg_error_t *e)
{
    if (w->fd >= 0 && (vg_io_ftruncate(w->io, w->fd, (off_t)w->off, NULL) != VG_OK ||
                       vg_io_fsync(w->io, w->fd, 1, NULL) != VG_OK))
        return -1;
    if (w->gen >= VG_WAL_MAX_GEN)
        return -1; /* tickets carry 16 bits of generation: final from here */
    if (w->gen == w->rej_cap) {
        size_t nc = w->rej_cap ? w->rej_cap * 2 : 8;
        struct wal_rej *nr = vg_realloc(w->rej, nc * sizeof *nr);
        if (!nr)
            return -1;
        w->rej = nr;
        w->rej_cap = nc;
    }
    uint64_t lo = w->synced_lsn + 1, hi = w->next_lsn - 1;
    w->rej[w->gen++] = (struct wal_rej){lo, hi};
    w->pending.len = 0;
    w->pending_last = hi;
    w->nospace = 1;
    w->nospace_err = *e;
    return 0;
}

int vg_wal_nospace(vg_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->nospace;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void vg_wal_resume(vg_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->nospace) {
        /* nothing is queued (appends were refused): the next record takes
         * the first rejected LSN, so the log has no hole */
        w->next_lsn = w->synced_lsn + 1;
        w->pending_last = w->synced_lsn;
        w->nospace = 0;
    }
    pthread_mutex_unlock(&w->mu);
}

/* Leader: write the swapped-out buffer; called without w->mu held. */
static int leader_write(vg_wal_t *w, vg_buf_t *b, int *fsync_failed, vg_error_t *err)
{
    int rc = VG_OK;
    *fsync_failed = 0;
    if (w->off + b->len > w->file_bytes && w->off > VG_WAL_FILE_HEADER)
        rc = start_file(w, w->seq + 1, fsync_failed, err);
    if (rc)
        return rc;
    vg_io_crash_point(w->io, "wal.submitted");
    if (w->mode == VG_WAL_SYNC_MODE_NONE)
        rc = vg_io_pwrite(w->io, w->fd, b->p, b->len, (off_t)w->off, err);
    else
        rc = vg_io_write_sync_step(w->io, w->fd, b->p, b->len, (off_t)w->off, fsync_failed, err);
    if (rc == VG_OK)
        vg_io_crash_point(w->io, "wal.synced");
    return rc;
}

const double vg_wal_sync_bounds_ms[VG_WAL_SYNC_BUCKETS - 1] = {0.5, 1,   2,   5,   10,  20,
                                                               50,  100, 200, 500, 1000};

static void sync_record(vg_wal_t *w, uint64_t ns)
{
    size_t b = 0;
    while (b < VG_WAL_SYNC_BUCKETS - 1 && (double)ns / 1e6 > vg_wal_sync_bounds_ms[b])
        b++;
    __atomic_add_fetch(&w->sync_bucket[b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&w->sync_count, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&w->sync_ns, ns, __ATOMIC_RELAXED);
}

void vg_wal_sync_stats(vg_wal_t *w, uint64_t buckets[VG_WAL_SYNC_BUCKETS], uint64_t *count,
                       uint64_t *sum_ns)
{
    for (size_t b = 0; b < VG_WAL_SYNC_BUCKETS; b++)
        buckets[b] = __atomic_load_n(&w->sync_bucket[b], __ATOMIC_RELAXED);
    *count = __atomic_load_n(&w->sync_count, __ATOMIC_RELAXED);
    *sum_ns = __atomic_load_n(&w->sync_ns, __ATOMIC_RELAXED);
}

/* One leader round, with w->mu held (released during the I/O): write every
 * queued record and sync them. */
static void lead_locked(vg_wal_t *w)
{
    w->leader = 1;
    if (w->mode == VG_WAL_SYNC_MODE_GROUP && w->group_ms) {
        pthread_mutex_unlock(&w->mu);
        struct timespec ts = {w->group_ms / 1000, (long)(w->group_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&w->mu);
    }
    vg_buf_t b = w->pending;
    w->pending = w->spare;
    w->pending.len = 0;
    uint64_t last = w->pending_last;
    pthread_mutex_unlock(&w->mu);

    vg_error_t e = {0};
    struct timespec t0, t1;
    int fsync_failed = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = b.len ? leader_write(w, &b, &fsync_failed, &e) : VG_OK;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (b.len)
        sync_record(w, (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
                           (uint64_t)(t1.tv_nsec - t0.tv_nsec));

    pthread_mutex_lock(&w->mu);
    if (rc == VG_OK) {
        w->off += b.len;
        /* read without the lock by vg_wal_bytes / vg_wal_last_lsn */
        __atomic_fetch_add(&w->bytes_total, b.len, __ATOMIC_RELAXED);
        __atomic_store_n(&w->synced_lsn, last, __ATOMIC_RELAXED);
        if (last > w->files[w->nfiles - 1].last_lsn && b.len)
            w->files[w->nfiles - 1].last_lsn = last;
    } else if (rc != VG_ENOSPC || fsync_failed || nospace_locked(w, &e) != 0) {
        fail_locked(w, &e);
    }
    b.len = 0;
    w->spare = b;
    w->leader = 0;
    pthread_cond_broadcast(&w->cv);
}

static void *flusher_main(void *arg)
{
    vg_wal_t *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (w->failed || w->leader || w->pending.len == 0)
            pthread_cond_wait(&w->flush_cv, &w->mu);
        else
            lead_locked(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int vg_wal_sync(vg_wal_t *w, uint64_t lsn, vg_error_t *err)
{
    pthread_mutex_lock(&w->mu);
    uint64_t gen = w->gen;
    pthread_mutex_unlock(&w->mu);
    return vg_wal_sync_gen(w, lsn, gen, err);
}

int vg_wal_sync_gen(vg_wal_t *w, uint64_t lsn, uint64_t gen, vg_error_t *err)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (rejected_locked(w, lsn, gen)) {
            int rc = vg_error_set(err, w->nospace_err.code, "%s", w->nospace_err.msg);
            if (err)
                err->sys_errno = w->nospace_err.sys_errno;
            pthread_mutex_unlock(&w->mu);
            return rc;
        }
        if (w->failed) {
            int rc = vg_error_set(err, w->fail_err.code, "%s", w->fail_err.msg);
            if (err)
                err->sys_errno = w->fail_err.sys_errno;
            pthread_mutex_unlock(&w->mu);
            return rc;
        }
        if (w->synced_lsn >= lsn || gen < w->gen)
            break; /* an older generation's record not rejected was synced */
        if (w->leader || w->has_flusher) {
            if (!w->leader)
                pthread_cond_signal(&w->flush_cv);
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        lead_locked(w);
    }
    pthread_mutex_unlock(&w->mu);
    return VG_OK;
}

int vg_wal_roll(vg_wal_t *w, uint64_t *last_lsn, vg_error_t *err)
{
    pthread_mutex_lock(&w->mu);
    uint64_t upto = w->next_lsn - 1;
    pthread_mutex_unlock(&w->mu);
    int rc = vg_wal_sync(w, upto, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&w->mu);
    while (w->leader)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->mode == VG_WAL_SYNC_MODE_NONE && w->fd >= 0)
        rc = vg_io_fsync(w->io, w->fd, 1, err);
    int fsync_failed = 0;
    if (rc == VG_OK)
        rc = start_file(w, w->seq + 1, &fsync_failed, err);
    if (rc == VG_OK)
        *last_lsn = w->next_lsn - 1;
    else if (rc == VG_ENOSPC && !fsync_failed) {
        /* no new file, nothing lost: the current one goes on (5) */
    } else if (!w->failed) {
        vg_error_t e = {0};
        vg_error_set(&e, rc, "%s", err ? err->msg : "rolling the WAL");
        fail_locked(w, &e);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int vg_wal_truncate(vg_wal_t *w, uint64_t lsn, vg_error_t *err)
{
    pthread_mutex_lock(&w->mu);
    /* A leader may be starting a new file (files_push) without w->mu: the
     * list must not be rewritten under it, or a file's last_lsn is lost and
     * a file holding uncovered records could be deleted. */
    while (w->leader)
        pthread_cond_wait(&w->cv, &w->mu);
    size_t keep = 0;
    int rc = VG_OK;
    for (size_t i = 0; i < w->nfiles; i++) {
        wal_file_t f = w->files[i];
        int current = (i == w->nfiles - 1);
        if (!current && f.last_lsn <= lsn && rc == VG_OK) {
            char path[4200];
            file_path(w->dir, f.seq, path, sizeof path);
            rc = vg_io_unlink(w->io, path, err);
            if (rc == VG_OK)
                continue;
        }
        w->files[keep++] = f;
    }
    w->nfiles = keep;
    pthread_mutex_unlock(&w->mu);
    if (rc == VG_OK)
        vg_io_crash_point(w->io, "wal.truncated");
    return rc;
}

int vg_wal_close(vg_wal_t *w, vg_error_t *err)
{
    if (!w)
        return VG_OK;
    int rc = VG_OK;
    pthread_mutex_lock(&w->mu);
    /* after (5) the last records may be rejected: nothing is left to sync */
    int skip = w->failed || w->nospace;
    pthread_mutex_unlock(&w->mu);
    if (w->fd >= 0 && !skip) {
        rc = vg_wal_sync(w, w->next_lsn - 1, err);
        if (rc == VG_OK && w->mode == VG_WAL_SYNC_MODE_NONE)
            rc = vg_io_fsync(w->io, w->fd, 1, err);
    }
    if (w->has_flusher) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->flush_cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->flusher, NULL);
    }
    if (w->fd >= 0)
        vg_io_close(w->io, w->fd);
    vg_buf_free(&w->pending);
    vg_buf_free(&w->spare);
    vg_free(w->files);
    vg_free(w->rej);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->flush_cv);
    vg_free(w);
    return rc;
}

int vg_wal_failed(const vg_wal_t *w)
{
    return __atomic_load_n(&w->failed, __ATOMIC_RELAXED);
}

uint64_t vg_wal_bytes(const vg_wal_t *w)
{
    return __atomic_load_n(&w->bytes_total, __ATOMIC_RELAXED);
}

uint64_t vg_wal_last_lsn(const vg_wal_t *w)
{
    return __atomic_load_n(&w->synced_lsn, __ATOMIC_RELAXED);
}
