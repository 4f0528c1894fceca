/*
 * repair.c: `vigil repair DIR`: move damaged files into DIR/quarantine/ and
 * report exactly what was dropped. The folder must not be open elsewhere
 * (repair takes its lock).
 *
 *  1. Segments: each is opened and every block of every column (and its
 *     sketch) is read; a segment that fails is moved aside and its rows are
 *     counted (when its index could be read; otherwise in files only).
 *  2. Catalog: a catalog that fails its checksum is moved aside and rebuilt
 *     from the segment files, which describe themselves; a good one is
 *     rewritten without the entries of segments moved aside.
 *  3. WAL: a torn tail of the last file is cut (as at start-up); a file
 *     damaged elsewhere is cut at the damage, the bytes from there on are
 *     saved in quarantine/ and the rows of the valid records among them are
 *     counted. The records lost are counted by their LSNs: the missing ones
 *     are numbered with empty records (vg_wal_fill_gap) so that the later
 *     files still replay and the next start finds no gap. Only when no
 *     record follows the damage is the count the damaged record plus the
 *     valid ones after it.
 * Leftover temporary files are removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "io.h"
#include "segment.h"
#include "vigil/vg_alloc.h"
#include "wal.h"

typedef struct repair {
    vg_io_t *io;
    const char *dir;
    char qdir[4200];
    vg_repair_report_t *rep;
    vg_db_log_fn log;
    void *log_ctx;
    int segs_moved;
    /* records dropped at WAL cuts, until the LSNs tell the exact number */
    uint64_t wal_guess;
    vg_error_t *err; /* for the per-file callbacks */
} repair_t;

static void say(repair_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(repair_t *r, const char *fmt, ...)
{
    if (!r->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->log(r->log_ctx, "info", msg);
}

/* Move path into quarantine/ under its base name plus suffix. */
static int quarantine(repair_t *r, const char *path, const char *suffix, vg_error_t *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char to[4500];
    snprintf(to, sizeof to, "%s/%s%s", r->qdir, base, suffix);
    int rc = vg_io_rename(r->io, path, to, err);
    if (rc == VG_OK)
        rc = vg_io_fsync_dir(r->io, r->qdir, err);
    if (rc == VG_OK)
        rc = vg_io_fsync_parent(r->io, path, err); /* the old name is gone for good */
    if (rc == VG_OK) {
        r->rep->files_quarantined++;
        say(r, "moved %s to %s", path, to);
    }
    return rc;
}

/* Read every block of every column; VG_OK when the whole segment is sound. */
static int seg_check(const vg_seg_t *s, vg_error_t *err)
{
    uint32_t maxrows = vg_seg_max_block_rows(s);
    int64_t *ts = vg_malloc((maxrows + 1) * sizeof *ts);
    uint32_t *ser = vg_malloc((maxrows + 1) * sizeof *ser);
    int rc = ts && ser ? VG_OK : vg_error_set(err, VG_ENOMEM, "checking a segment");
    for (uint32_t b = 0; b < vg_seg_nblocks(s) && rc == VG_OK; b++) {
        rc = vg_seg_read_ts(s, b, ts, err);
        if (rc == VG_OK)
            rc = vg_seg_read_series(s, b, ser, err);
        for (uint32_t c = 0; c < vg_seg_ncols(s) && rc == VG_OK; c++) {
            vg_colvec_t cv = {0};
            rc = vg_seg_read_col(s, b, c, &cv, err);
            vg_colvec_free(&cv);
            /* sketches too: a percentile query reads them alone */
            vg_sketch_t sk;
            vg_sketch_init(&sk);
            if (rc == VG_OK && (rc = vg_seg_block_sketch(s, b, c, &sk, err)) == VG_ENOTFOUND)
                rc = VG_OK;
            vg_sketch_reset(&sk);
        }
    }
    vg_free(ts);
    vg_free(ser);
    return rc;
}

/* One file of segments/: a leftover temporary goes, a damaged segment moves. */
static int repair_one(void *ctx, const char *name)
{
    repair_t *r = ctx;
    vg_error_t *err = r->err;
    size_t l = strlen(name);
    int tmp = l > 4 && strcmp(name + l - 4, ".tmp") == 0;
    int seg = l > 4 && strcmp(name + l - 4, ".seg") == 0;
    char path[4500];
    snprintf(path, sizeof path, "%s/segments/%s", r->dir, name);
    if (tmp)
        return vg_io_unlink(r->io, path, err);
    if (!seg)
        return VG_OK;
    vg_seg_t *s = NULL;
    vg_error_t why = {0};
    int bad = vg_seg_open(r->io, path, &s, &why);
    uint64_t rows = 0;
    if (bad == VG_OK) {
        rows = vg_seg_nrows(s);
        bad = seg_check(s, &why);
        vg_seg_close(s);
    }
    if (bad == VG_ECORRUPT) {
        say(r, "%s (%" PRIu64 " rows)", why.msg, rows);
        r->rep->rows_dropped += rows;
        r->segs_moved = 1;
        return quarantine(r, path, "", err);
    }
    return bad ? vg_error_set(err, bad, "%s", why.msg) : VG_OK;
}

static int repair_segments(repair_t *r, vg_error_t *err)
{
    char sdir[4200];
    snprintf(sdir, sizeof sdir, "%s/segments", r->dir);
    r->err = err;
    return vg_io_list(r->io, sdir, "", repair_one, r, err);
}

static int repair_catalog(repair_t *r, vg_error_t *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/CATALOG", r->dir);
    char *text = NULL;
    size_t len;
    vg_error_t why = {0};
    int rc = vg_catalog_read(r->io, path, &text, &len, &why);
    uint64_t dropped = 0;
    if (rc == VG_ENOTFOUND)
        return VG_OK;
    if (rc == VG_ECORRUPT) {
        say(r, "%s: rebuilding it from the segment files", why.msg);
        rc = quarantine(r, path, "", err);
        if (rc == VG_OK)
            rc = vg_catalog_rebuild(r->io, r->dir, NULL, &dropped, err);
    } else if (rc == VG_OK) {
        /* rewrite only when a segment it names is gone */
        rc = vg_catalog_rebuild(r->io, r->dir, text, &dropped, err);
        if (rc == VG_OK && dropped)
            say(r, "catalog: dropped %" PRIu64 " entries of missing segments", dropped);
    } else {
        rc = vg_error_set(err, rc, "%s", why.msg);
    }
    vg_free(text);
    return rc;
}

/* Cut one damaged WAL file at the damage, saving the rest in quarantine. */
static int cut_wal(repair_t *r, const char *file, uint64_t off, vg_error_t *err)
{
    uint64_t recs = 0, lines = 0;
    int rc = vg_wal_count_after(r->io, file, off, &recs, &lines, err);
    if (rc)
        return rc;
    r->wal_guess += (off < VG_WAL_FILE_HEADER ? 0 : 1) + recs;
    r->rep->rows_dropped += lines;
    say(r,
        "WAL %s: damage at offset %" PRIu64 ": dropping the damaged record and %" PRIu64
        " valid records after it (%" PRIu64 " rows)",
        file, off, recs, lines);
    if (off < VG_WAL_FILE_HEADER)
        return quarantine(r, file, "", err);
    /* keep the bytes from the damage on in quarantine, then cut the file */
    vg_io_map_t m;
    rc = vg_io_map(r->io, file, &m, err);
    if (rc)
        return rc;
    const char *base = strrchr(file, '/');
    char to[4800];
    snprintf(to, sizeof to, "%s/%s.from-%" PRIu64, r->qdir, base ? base + 1 : file, off);
    int fd;
    rc = vg_io_open(r->io, to, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644, &fd, err);
    if (rc == VG_OK) {
        rc = vg_io_write_sync(r->io, fd, m.p + off, m.len - off, 0, err);
        vg_io_close(r->io, fd);
    }
    vg_io_unmap(r->io, &m);
    if (rc == VG_OK)
        rc = vg_io_open(r->io, file, O_WRONLY | O_CLOEXEC, 0, &fd, err);
    if (rc == VG_OK) {
        rc = vg_io_ftruncate(r->io, fd, (off_t)off, err);
        if (rc == VG_OK)
            rc = vg_io_fsync(r->io, fd, 0, err);
        vg_io_close(r->io, fd);
    }
    if (rc == VG_OK)
        r->rep->files_quarantined++;
    return rc;
}

/* The catalog's sealed LSN: WAL records above it must all be there. */
static uint64_t sealed_lsn(repair_t *r)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/CATALOG", r->dir);
    char *text = NULL;
    size_t len;
    uint64_t lsn = 0;
    if (vg_catalog_read(r->io, path, &text, &len, NULL) == VG_OK) {
        const char *p = strstr(text, "\nsealed_lsn ");
        if (p)
            lsn = strtoull(p + 12, NULL, 10);
    }
    vg_free(text);
    return lsn;
}

/* Records missing (a file cut at a record boundary, or the rest of a file
 * cut at damage): number them with empty records so that the records after
 * them replay, and count them exactly. */
static int fill_gap(repair_t *r, const vg_wal_replay_report_t *rep, vg_error_t *err)
{
    uint64_t n = rep->gap_last - rep->gap_first + 1;
    r->rep->wal_records_dropped += n;
    r->wal_guess = 0; /* the gap covers what the last cut dropped */
    say(r, "WAL: %" PRIu64 " records (LSN %" PRIu64 " to %" PRIu64 ") are lost", n, rep->gap_first,
        rep->gap_last);
    return vg_wal_fill_gap(r->io, rep->gap_file, rep->gap_offset, rep->gap_first, rep->gap_last,
                           err);
}

static int repair_wal(repair_t *r, vg_error_t *err)
{
    char wdir[4200];
    snprintf(wdir, sizeof wdir, "%s/wal", r->dir);
    uint64_t after = sealed_lsn(r);
    for (int round = 0; round < 10000; round++) {
        vg_wal_replay_report_t rep;
        vg_error_t why = {0};
        int rc = vg_wal_replay(r->io, wdir, after, 1, NULL, NULL, &rep, &why);
        r->rep->wal_bytes_cut += rep.torn_bytes;
        if (rep.torn_bytes)
            say(r, "WAL %s: cut a torn tail of %" PRIu64 " bytes", rep.torn_file, rep.torn_bytes);
        if (rc == VG_OK) {
            r->rep->wal_records_dropped += r->wal_guess;
            return VG_OK;
        }
        if (rc != VG_ECORRUPT || !rep.bad_file[0])
            return vg_error_set(err, rc, "%s", why.msg);
        say(r, "%s", why.msg);
        rc = rep.gap_last ? fill_gap(r, &rep, err) : cut_wal(r, rep.bad_file, rep.bad_offset, err);
        if (rc)
            return rc;
    }
    return vg_error_set(err, VG_ECORRUPT, "WAL in %s: too much damage to repair", wdir);
}

static int lock_dir(vg_io_t *io, const char *dir, int *fd, vg_error_t *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int rc = vg_io_open(io, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644, fd, err);
    if (rc)
        return rc;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(*fd, F_OFD_SETLK, &fl) != 0) {
        vg_io_close(io, *fd);
        return vg_error_set(err, VG_ELOCKED,
                            "database %s is in use by another process: stop it "
                            "before repairing",
                            dir);
    }
    return VG_OK;
}

int vg_db_repair(const char *dir, vg_repair_report_t *rep, vg_db_log_fn log, void *log_ctx,
                 vg_error_t *err)
{
    memset(rep, 0, sizeof *rep);
    if (access(dir, F_OK) != 0)
        return vg_error_sys(err, VG_ENOTFOUND, errno, "repairing %s", dir);
    repair_t r = {.dir = dir, .rep = rep, .log = log, .log_ctx = log_ctx};
    snprintf(r.qdir, sizeof r.qdir, "%s/quarantine", dir);
    vg_io_opts_t o = {.kind = VG_IO_AUTO, .log = log, .log_ctx = log_ctx};
    int rc = vg_io_create(&o, &r.io, err), lockfd = -1;
    if (rc == VG_OK)
        rc = lock_dir(r.io, dir, &lockfd, err);
    if (rc == VG_OK)
        rc = vg_io_mkdir(r.io, r.qdir, err);
    if (rc == VG_OK)
        rc = repair_segments(&r, err);
    if (rc == VG_OK)
        rc = repair_catalog(&r, err);
    if (rc == VG_OK)
        rc = repair_wal(&r, err);
    if (lockfd >= 0)
        vg_io_close(r.io, lockfd);
    vg_io_destroy(r.io);
    return rc;
}
