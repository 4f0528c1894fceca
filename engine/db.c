/*
 * db.c: opening and closing a database folder, its lock, the background
 * thread (sealing, compaction, retention), and stats.
 *
 * Folder layout:
 *   DIR/LOCK            exclusive fcntl lock of the writing process, holds its pid
 *   DIR/CATALOG         tables, columns, segments, sealed LSN (docs/format.md)
 *   DIR/wal/NNN.wal     write-ahead log files
 *   DIR/segments/NNN.seg  immutable column segments
 *   DIR/quarantine/     damaged files moved aside by `vigil repair`
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"
#include "vigil/vg_alloc.h"

void vg_db_opts_default(vg_db_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->create = 1;
    o->wal_sync = VG_WAL_SYNC_FULL;
    o->group_ms = 2;
    o->retention_ns = 30 * 86400 * VG_NS_PER_SEC;
    o->future_ns = 3600 * VG_NS_PER_SEC;
    o->partition_ns = 86400 * VG_NS_PER_SEC;
    o->max_series = 1000000;
    o->seal_rows = 1000000;
    o->seal_bytes = 256u << 20;
    o->seal_age_ns = 600 * VG_NS_PER_SEC;
    o->wal_segment_bytes = 64u << 20;
    o->max_batch_bytes = 25000000;
    o->compact_min_segments = 4;
    vg_lp_limits_default(&o->lp);
    o->background = 1;
    o->late_probe_per_s = 20000;
}

int64_t vg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * VG_NS_PER_SEC + ts.tv_nsec;
}

void vg__db_log(vg_db_t *db, const char *level, const char *fmt, ...)
{
    if (!db->o.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    db->o.log(db->o.log_ctx, level, msg);
}

static void io_log(void *ctx, const char *level, const char *msg)
{
    vg__db_log(ctx, level, "%s", msg);
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = vg_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int take_lock(vg_db_t *db, vg_error_t *err)
{
    char *path = path_join(db->dir, "LOCK");
    if (!path)
        return vg_error_set(err, VG_ENOMEM, "lock path");
    int fd, rc = vg_io_open(db->io, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644, &fd, err);
    if (rc) {
        vg_free(path);
        return rc;
    }
    /* An open-file-description lock: unlike a POSIX record lock it also
     * refuses a second open of the folder in the same process. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        char pid[32] = {0};
        size_t got = 0;
        vg_io_pread(db->io, fd, pid, sizeof pid - 1, 0, &got, NULL);
        pid[strcspn(pid, "\n")] = '\0';
        vg_io_close(db->io, fd);
        rc = vg_error_set(err, VG_ELOCKED,
                          "database %s is in use by process %s: open it read-only, or "
                          "talk to that server with --connect",
                          db->dir, pid[0] ? pid : "?");
        vg_free(path);
        return rc;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    rc = vg_io_ftruncate(db->io, fd, 0, err);
    if (rc == VG_OK)
        rc = vg_io_pwrite(db->io, fd, pid, (size_t)n, 0, err);
    vg_free(path);
    if (rc) {
        vg_io_close(db->io, fd);
        return rc;
    }
    db->lock_fd = fd;
    return VG_OK;
}

static int make_dirs(vg_db_t *db, vg_error_t *err)
{
    struct stat st;
    if (stat(db->dir, &st) != 0) {
        if (!db->o.create || db->read_only)
            return vg_error_sys(err, VG_ENOTFOUND, errno, "opening database %s", db->dir);
        int rc = vg_io_mkdir(db->io, db->dir, err);
        if (rc)
            return rc;
    } else if (!S_ISDIR(st.st_mode)) {
        return vg_error_set(err, VG_EINVAL, "%s is not a folder", db->dir);
    }
    if (db->read_only)
        return VG_OK;
    int rc = vg_io_mkdir(db->io, db->wal_dir, err); /* each made durable by vg_io_mkdir */
    if (rc == VG_OK)
        rc = vg_io_mkdir(db->io, db->seg_dir, err);
    return rc;
}

static int need_seal(vg_db_t *db)
{
    int64_t now = vg_now_ns();
    int need = 0;
    pthread_mutex_lock(&db->write_mu);
    for (uint32_t i = 0; i < db->ntables && !need; i++) {
        vg_head_t *h = db->tables[i]->head;
        uint32_t vis = h->visible;
        if (vis == 0)
            continue;
        need = vis >= db->o.seal_rows || h->bytes >= db->o.seal_bytes ||
               (h->born_ns && now - h->born_ns >= db->o.seal_age_ns);
    }
    pthread_mutex_unlock(&db->write_mu);
    return need;
}

static void *bg_main(void *arg)
{
    vg_db_t *db = arg;
    pthread_mutex_lock(&db->bg_mu);
    while (!db->bg_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&db->bg_cv, &db->bg_mu, &ts);
        if (db->bg_stop || db->failed)
            continue;
        pthread_mutex_unlock(&db->bg_mu);
        vg_error_t e = {0};
        int rc = VG_OK;
        if (need_seal(db))
            rc = vg__seal_all(db, &e);
        if (rc == VG_OK)
            rc = vg__compact_all(db, &e);
        if (rc == VG_OK)
            rc = vg__retention(db, &e);
        if (rc)
            vg__db_log(db, "error", "background maintenance: %s", e.msg);
        pthread_mutex_lock(&db->bg_mu);
    }
    pthread_mutex_unlock(&db->bg_mu);
    return NULL;
}

static void db_free(vg_db_t *db)
{
    for (uint32_t i = 0; i < db->ntables; i++)
        vg__table_free(db->tables[i]);
    vg_free(db->tables);
    vg_strmap_free(&db->table_map);
    for (size_t i = 0; i < db->nvis; i++)
        vg__head_unref(db->vis[i].head);
    vg_free(db->vis);
    vg_lp_reset(&db->lp);
    vg_buf_free(&db->wal_payload);
    vg_buf_free(&db->last_meas);
    vg_free(db->unesc);
    vg__probe_free(db->probe);
    if (db->lock_fd >= 0)
        vg_io_close(db->io, db->lock_fd);
    vg_io_destroy(db->io);
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->meta_mu);
    pthread_mutex_destroy(&db->tables_mu);
    pthread_mutex_destroy(&db->bg_mu);
    pthread_cond_destroy(&db->bg_cv);
    vg_free(db->dir);
    vg_free(db->wal_dir);
    vg_free(db->seg_dir);
    vg_free(db);
}

int vg_db_open(const char *dir, const vg_db_opts_t *opts, vg_db_t **out, vg_error_t *err)
{
    vg_db_t *db = vg_calloc(1, sizeof *db);
    if (!db)
        return vg_error_set(err, VG_ENOMEM, "opening database");
    if (opts)
        db->o = *opts;
    else
        vg_db_opts_default(&db->o);
    db->lock_fd = -1;
    db->read_only = db->o.read_only;
    pthread_mutex_init(&db->write_mu, NULL);
    pthread_mutex_init(&db->meta_mu, NULL);
    pthread_mutex_init(&db->tables_mu, NULL);
    pthread_mutex_init(&db->bg_mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    vg_strmap_init(&db->table_map);
    vg_lp_init(&db->lp, &db->o.lp, VG_PREC_NS);
    db->dir = vg_strdup(dir);
    db->wal_dir = path_join(dir, "wal");
    db->seg_dir = path_join(dir, "segments");
    int rc = VG_OK;
    if (!db->dir || !db->wal_dir || !db->seg_dir) {
        rc = vg_error_set(err, VG_ENOMEM, "opening database");
        goto fail;
    }
    vg_io_opts_t io = {.kind = (vg_io_kind_t)db->o.io_kind, .log = io_log, .log_ctx = db};
    rc = vg_io_create(&io, &db->io, err);
    if (rc == VG_OK)
        rc = make_dirs(db, err);
    if (rc == VG_OK && !db->read_only)
        rc = take_lock(db, err);
    if (rc == VG_OK)
        rc = vg__recover(db, err);
    if (rc)
        goto fail;
    if (!db->read_only && db->o.background) {
        if (pthread_create(&db->bg, NULL, bg_main, db) == 0)
            db->bg_running = 1;
    }
    *out = db;
    return VG_OK;
fail:
    vg_wal_close(db->wal, NULL);
    db_free(db);
    return rc;
}

static void bg_stop(vg_db_t *db)
{
    if (!db->bg_running)
        return;
    pthread_mutex_lock(&db->bg_mu);
    db->bg_stop = 1;
    pthread_cond_signal(&db->bg_cv);
    pthread_mutex_unlock(&db->bg_mu);
    pthread_join(db->bg, NULL);
    db->bg_running = 0;
}

int vg_db_close(vg_db_t *db, vg_error_t *err)
{
    if (!db)
        return VG_OK;
    bg_stop(db);
    int rc = VG_OK;
    if (db->wal) {
        rc = db->failed ? VG_OK : vg_wal_close(db->wal, err);
        if (db->failed)
            vg_wal_close(db->wal, NULL);
    }
    db_free(db);
    return rc;
}

int vg_db_read_only(const vg_db_t *db)
{
    return db->read_only || db->failed;
}

int vg_db_flush(vg_db_t *db, vg_error_t *err)
{
    if (db->read_only || db->failed)
        return vg_error_set(err, VG_EREADONLY, "database %s is read-only", db->dir);
    return vg__seal_all(db, err);
}

int vg_db_compact(vg_db_t *db, vg_error_t *err)
{
    if (db->read_only || db->failed)
        return vg_error_set(err, VG_EREADONLY, "database %s is read-only", db->dir);
    int rc = vg__compact_all(db, err);
    return rc ? rc : vg__retention(db, err);
}

void vg_db_crash_point(vg_db_t *db, const char *point)
{
    vg_io_crash_point(db ? db->io : NULL, point);
}

#ifdef VG_TESTING
vg_io_t *vg__db_io(vg_db_t *db)
{
    return db->io;
}
#endif
