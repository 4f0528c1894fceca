/*
 * io.c: the I/O layer's front (io.h): backend choice, errno mapping and
 * the fd -> path table. The test hooks' controls are in io_fault.c.
 *
 * The backends (io_uring.c, io_posix.c) return raw -errno results; this file
 * alone turns them into VG_ENOSPC (ENOSPC, EDQUOT) or VG_EIO, with
 * err->sys_errno set and a message naming the operation and the path
 * ("fdatasync of /data/wal/00000003.wal: Input/output error"). For
 * operations on an fd the path comes from the table filled at open time.
 *
 * Invariants: io->ops and the backend state are fixed after vg_io_create;
 * everything mutable (fd table, fault state, op log) sits behind a mutex,
 * so any number of threads may call in at once.
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_int.h"
#include "vigil/vg_alloc.h"

void *vg__io_state(vg_io_t *io)
{
    return io->state;
}

void vg__io_set_state(vg_io_t *io, void *state)
{
    io->state = state;
}

/* ---- errors ---- */

/* Map -errno (neg) to VG_ENOSPC / VG_EIO and describe it: "<what>: <strerror>". */
__attribute__((format(printf, 3, 4))) static int io_fail(vg_error_t *err, int neg, const char *fmt,
                                                         ...)
{
    int e = -neg;
    int code = (e == ENOSPC || e == EDQUOT) ? VG_ENOSPC : VG_EIO;
    if (err) {
        char what[VG_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        vg_error_sys(err, code, e, "%s", what);
    }
    return code;
}

/* ---- the fd -> path table (for messages and the op log) ---- */

static void fd_remember(vg_io_t *io, int fd, const char *path)
{
    pthread_mutex_lock(&io->fd_mu);
    if ((size_t)fd >= io->fd_cap) {
        size_t cap = io->fd_cap ? io->fd_cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        char **p = vg_realloc(io->fd_path, cap * sizeof *p);
        if (!p)
            goto out; /* messages then say "fd N": not worth failing the open */
        memset(p + io->fd_cap, 0, (cap - io->fd_cap) * sizeof *p);
        io->fd_path = p;
        io->fd_cap = cap;
    }
    vg_free(io->fd_path[fd]);
    io->fd_path[fd] = vg_strdup(path);
out:
    pthread_mutex_unlock(&io->fd_mu);
}

static void fd_forget(vg_io_t *io, int fd)
{
    pthread_mutex_lock(&io->fd_mu);
    if ((size_t)fd < io->fd_cap) {
        vg_free(io->fd_path[fd]);
        io->fd_path[fd] = NULL;
    }
    pthread_mutex_unlock(&io->fd_mu);
}

/* The path fd was opened with, or "fd N", copied into buf. */
static const char *fd_label(vg_io_t *io, int fd, char *buf, size_t n)
{
    pthread_mutex_lock(&io->fd_mu);
    if (fd >= 0 && (size_t)fd < io->fd_cap && io->fd_path[fd])
        snprintf(buf, n, "%s", io->fd_path[fd]);
    else
        snprintf(buf, n, "fd %d", fd);
    pthread_mutex_unlock(&io->fd_mu);
    return buf;
}

/* ---- the op log ---- */

#ifdef VG_TESTING
static void op_log(vg_io_t *io, vg_io_op_t op, const char *path, int fd, long result)
{
    pthread_mutex_lock(&io->t.log_mu);
    if (io->t.log)
        io->t.log(io->t.log_ctx, op, path, fd, result);
    pthread_mutex_unlock(&io->t.log_mu);
}

static void op_log_fd(vg_io_t *io, vg_io_op_t op, int fd, long result)
{
    pthread_mutex_lock(&io->t.log_mu);
    if (io->t.log) {
        char path[VG_ERROR_MSG_MAX] = "";
        int known = 0;
        pthread_mutex_lock(&io->fd_mu);
        if (fd >= 0 && (size_t)fd < io->fd_cap && io->fd_path[fd]) {
            snprintf(path, sizeof path, "%s", io->fd_path[fd]);
            known = 1;
        }
        pthread_mutex_unlock(&io->fd_mu);
        io->t.log(io->t.log_ctx, op, known ? path : NULL, fd, result);
    }
    pthread_mutex_unlock(&io->t.log_mu);
}
#define OP_LOG(io, op, path, fd, res) op_log((io), (op), (path), (fd), (res))
#define OP_LOG_FD(io, op, fd, res)    op_log_fd((io), (op), (fd), (res))
#define FAULT(io, op)                 vg__io_fault_take((io), (op), NULL)

/* The power-loss tracker, locked, or NULL when not tracking. */
static struct vg_pw *pw_enter(vg_io_t *io)
{
    struct vg_pw *pw = io->t.pw;
    if (pw)
        vg__pw_lock(pw);
    return pw;
}
#define PW_LEAVE(pw) ((pw) ? vg__pw_unlock(pw) : (void)0)
#define PW_DEAD(pw)  vg__pw_dead(pw)
#define PW(pw, call) ((pw) ? (void)(call) : (void)0)
/* An fsync boundary: the crash point io.fsync, then an armed power cut. */
static struct vg_pw *pw_boundary(vg_io_t *io, int *cut)
{
    vg_io_crash_point(io, "io.fsync");
    struct vg_pw *pw = pw_enter(io);
    *cut = pw && (vg__pw_dead(pw) || vg__pw_boundary(pw));
    return pw;
}
#else
#define OP_LOG(io, op, path, fd, res) ((void)0)
#define OP_LOG_FD(io, op, fd, res)    ((void)0)
#define FAULT(io, op)                 0
struct vg_pw;
static inline struct vg_pw *pw_enter(vg_io_t *io)
{
    (void)io;
    return NULL;
}
static inline struct vg_pw *pw_boundary(vg_io_t *io, int *cut)
{
    (void)io;
    *cut = 0;
    return NULL;
}
#define PW_LEAVE(pw)                  ((void)(pw))
#define PW_DEAD(pw)                   0
#define PW(pw, call)                  ((void)(pw))
#endif

/* ---- create / destroy ---- */

/* VIGIL_IO=posix|uring|auto overrides the kind asked for. */
static int pick_kind(vg_io_kind_t asked, vg_io_kind_t *kind, vg_error_t *err)
{
    const char *env = getenv("VIGIL_IO");
    *kind = asked;
    if (!env || !*env)
        return 0;
    if (strcmp(env, "posix") == 0)
        *kind = VG_IO_POSIX;
    else if (strcmp(env, "uring") == 0 || strcmp(env, "io_uring") == 0)
        *kind = VG_IO_URING;
    else if (strcmp(env, "auto") == 0)
        *kind = VG_IO_AUTO;
    else
        return vg_error_set(err, VG_EINVAL, "VIGIL_IO=%s: expected posix, uring or auto", env);
    return 0;
}

static int start_backend(vg_io_t *io, const vg_io_opts_t *o, vg_io_kind_t kind, vg_error_t *err)
{
    if (kind != VG_IO_POSIX) {
        const char *why = "io_uring setup";
        int rc = vg__io_uring_ops.init(io, o->ring_entries ? o->ring_entries : 64, &why);
        if (rc == 0) {
            io->ops = &vg__io_uring_ops;
            return 0;
        }
        if (kind == VG_IO_URING)
            return io_fail(err, rc, "io_uring unavailable (%s)", why);
        if (o->log) {
            char msg[256];
            snprintf(msg, sizeof msg, "io_uring unavailable (%s: %s): using pwrite/fdatasync", why,
                     strerror(-rc));
            o->log(o->log_ctx, "warn", msg);
        }
    }
    const char *why = "";
    int rc = vg__io_posix_ops.init(io, 0, &why);
    if (rc < 0)
        return io_fail(err, rc, "I/O setup (%s)", why);
    io->ops = &vg__io_posix_ops;
    return 0;
}

int vg_io_create(const vg_io_opts_t *o, vg_io_t **out, vg_error_t *err)
{
    static const vg_io_opts_t defaults = {.kind = VG_IO_AUTO};
    vg_io_kind_t kind;
    if (!o)
        o = &defaults;
    int rc = pick_kind(o->kind, &kind, err);
    if (rc < 0)
        return rc;
    vg_io_t *io = vg_calloc(1, sizeof *io);
    if (!io)
        return vg_error_set(err, VG_ENOMEM, "allocating the I/O layer");
    pthread_mutex_init(&io->fd_mu, NULL);
#ifdef VG_TESTING
    rc = vg__io_testing_init(io, err);
#endif
    if (rc == 0)
        rc = start_backend(io, o, kind, err);
    if (rc < 0) {
        vg_io_destroy(io);
        return rc;
    }
    *out = io;
    return 0;
}

void vg_io_destroy(vg_io_t *io)
{
    if (!io)
        return;
    if (io->ops)
        io->ops->fini(io);
    for (size_t i = 0; i < io->fd_cap; i++)
        vg_free(io->fd_path[i]);
    vg_free(io->fd_path);
    pthread_mutex_destroy(&io->fd_mu);
#ifdef VG_TESTING
    vg__io_testing_fini(io);
#endif
    vg_free(io);
}

const char *vg_io_backend(const vg_io_t *io)
{
    return io->ops->name;
}

/* ---- files ---- */

/* Tracking: an O_TRUNC open of an existing file is a truncate to 0. */
static int open_tracked(vg_io_t *io, struct vg_pw *pw, const char *path, int flags, mode_t mode)
{
    int existed = access(path, F_OK) == 0;
    if ((flags & O_TRUNC) && existed) {
        int t = open(path, O_RDONLY | O_CLOEXEC);
        if (t >= 0) {
            PW(pw, vg__pw_before_truncate(pw, t, 0));
            close(t);
        }
    }
    int rc = io->ops->open(io, path, flags, mode, VG_IO_OP_OPEN);
    if (rc >= 0 && !existed)
        PW(pw, vg__pw_created(pw, path, rc));
    return rc;
}

int vg_io_open(vg_io_t *io, const char *path, int flags, mode_t mode, int *fd, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int changes = flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR);
    int rc;
    if (pw && changes)
        rc = PW_DEAD(pw) ? -EIO : open_tracked(io, pw, path, flags, mode);
    else
        rc = io->ops->open(io, path, flags, mode, VG_IO_OP_OPEN);
    PW_LEAVE(pw);
    OP_LOG(io, VG_IO_OP_OPEN, path, rc >= 0 ? rc : -1, rc);
    if (rc < 0)
        return io_fail(err, rc, "open of %s", path);
    fd_remember(io, rc, path);
    *fd = rc;
    return 0;
}

int vg_io_close(vg_io_t *io, int fd)
{
    if (fd < 0)
        return 0;
    fd_forget(io, fd);
    int rc = io->ops->close(io, fd);
    return rc < 0 ? io_fail(NULL, rc, "close") : 0;
}

int vg_io_pwrite(vg_io_t *io, int fd, const void *buf, size_t len, off_t off, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int rc = -EIO;
    if (!PW_DEAD(pw)) {
        PW(pw, vg__pw_before_write(pw, fd, off, len));
        rc = io->ops->pwrite(io, fd, buf, len, off);
    }
    PW_LEAVE(pw);
    OP_LOG_FD(io, VG_IO_OP_WRITE, fd, rc < 0 ? rc : (long)len);
    if (rc < 0) {
        char where[VG_ERROR_MSG_MAX];
        return io_fail(err, rc, "write of %s at offset %lld", fd_label(io, fd, where, sizeof where),
                       (long long)off);
    }
    return 0;
}

int vg_io_write_sync(vg_io_t *io, int fd, const void *buf, size_t len, off_t off, vg_error_t *err)
{
    return vg_io_write_sync_step(io, fd, buf, len, off, NULL, err);
}

int vg_io_write_sync_step(vg_io_t *io, int fd, const void *buf, size_t len, off_t off,
                          int *fsync_failed, vg_error_t *err)
{
    if (fsync_failed)
        *fsync_failed = 0;
    vg_io_op_t failed = VG_IO_OP_WRITE;
    int cut, rc = -EIO;
    struct vg_pw *pw = pw_boundary(io, &cut);
    if (!cut) {
        PW(pw, vg__pw_before_write(pw, fd, off, len));
        rc = io->ops->write_sync(io, fd, buf, len, off, &failed);
        if (rc == 0)
            PW(pw, vg__pw_synced(pw, fd));
    }
    PW_LEAVE(pw);
    int write_failed = rc < 0 && failed == VG_IO_OP_WRITE;
    OP_LOG_FD(io, VG_IO_OP_WRITE, fd, write_failed ? rc : (long)len);
    if (!write_failed)
        OP_LOG_FD(io, VG_IO_OP_FSYNC, fd, rc);
    if (rc < 0) {
        char where[VG_ERROR_MSG_MAX];
        fd_label(io, fd, where, sizeof where);
        if (write_failed)
            return io_fail(err, rc, "write of %s at offset %lld", where, (long long)off);
        if (fsync_failed)
            *fsync_failed = 1;
        return io_fail(err, rc, "fdatasync of %s", where);
    }
    return 0;
}

int vg_io_fsync(vg_io_t *io, int fd, int datasync, vg_error_t *err)
{
    int cut, rc = -EIO;
    struct vg_pw *pw = pw_boundary(io, &cut);
    if (!cut) {
        rc = io->ops->fsync(io, fd, datasync, VG_IO_OP_FSYNC);
        if (rc == 0)
            PW(pw, vg__pw_synced(pw, fd));
    }
    PW_LEAVE(pw);
    OP_LOG_FD(io, VG_IO_OP_FSYNC, fd, rc);
    if (rc < 0) {
        char where[VG_ERROR_MSG_MAX];
        return io_fail(err, rc, "%s of %s", datasync ? "fdatasync" : "fsync",
                       fd_label(io, fd, where, sizeof where));
    }
    return 0;
}

int vg_io_pread(vg_io_t *io, int fd, void *buf, size_t len, off_t off, size_t *got, vg_error_t *err)
{
    size_t n = 0;
    int rc = io->ops->pread(io, fd, buf, len, off, &n);
    OP_LOG_FD(io, VG_IO_OP_READ, fd, rc < 0 ? rc : (long)n);
    *got = n;
    if (rc < 0) {
        char where[VG_ERROR_MSG_MAX];
        return io_fail(err, rc, "read of %s at offset %lld", fd_label(io, fd, where, sizeof where),
                       (long long)(off + (off_t)n));
    }
    return 0;
}

/* No ring opcode for ftruncate in liburing 2.3: both backends use the syscall. */
int vg_io_ftruncate(vg_io_t *io, int fd, off_t len, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int rc = PW_DEAD(pw) ? -EIO : -FAULT(io, VG_IO_OP_TRUNCATE);
    if (rc == 0) {
        PW(pw, vg__pw_before_truncate(pw, fd, len));
        if (ftruncate(fd, len) < 0)
            rc = -errno;
    }
    PW_LEAVE(pw);
    OP_LOG_FD(io, VG_IO_OP_TRUNCATE, fd, rc);
    if (rc < 0) {
        char where[VG_ERROR_MSG_MAX];
        return io_fail(err, rc, "ftruncate of %s to %lld bytes",
                       fd_label(io, fd, where, sizeof where), (long long)len);
    }
    return 0;
}

int vg_io_fallocate(vg_io_t *io, int fd, off_t off, off_t len, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int rc = PW_DEAD(pw) ? -EIO : -FAULT(io, VG_IO_OP_FALLOCATE);
    PW_LEAVE(pw); /* KEEP_SIZE: nothing a power cut could show */
    if (rc == 0) {
        while (fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len) < 0) {
            if (errno == EINTR)
                continue;
            rc = errno == EOPNOTSUPP ? 0 : -errno; /* the file system cannot: fine */
            break;
        }
    }
    OP_LOG_FD(io, VG_IO_OP_FALLOCATE, fd, rc);
    if (rc < 0) {
        char where[VG_ERROR_MSG_MAX];
        return io_fail(err, rc, "fallocate of %lld bytes at offset %lld of %s", (long long)len,
                       (long long)off, fd_label(io, fd, where, sizeof where));
    }
    return 0;
}

/* ---- names ---- */

int vg_io_rename(vg_io_t *io, const char *from, const char *to, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int rc = -EIO;
    if (!PW_DEAD(pw)) {
        PW(pw, vg__pw_before_rename(pw, from, to));
        rc = io->ops->rename(io, from, to);
    }
    PW_LEAVE(pw);
    OP_LOG(io, VG_IO_OP_RENAME, from, -1, rc);
    if (rc < 0)
        return io_fail(err, rc, "rename of %s to %s", from, to);
    return 0;
}

int vg_io_unlink(vg_io_t *io, const char *path, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int rc = -EIO;
    if (!PW_DEAD(pw)) {
        PW(pw, vg__pw_before_unlink(pw, path));
        rc = io->ops->unlink(io, path);
    }
    PW_LEAVE(pw);
    OP_LOG(io, VG_IO_OP_UNLINK, path, -1, rc);
    if (rc < 0)
        return io_fail(err, rc, "unlink of %s", path);
    return 0;
}

int vg_io_mkdir(vg_io_t *io, const char *path, vg_error_t *err)
{
    struct vg_pw *pw = pw_enter(io);
    int rc = PW_DEAD(pw) ? -EIO : io->ops->mkdir(io, path, 0755);
    if (rc == 0)
        PW(pw, vg__pw_mkdir(pw, path));
    PW_LEAVE(pw);
    OP_LOG(io, VG_IO_OP_MKDIR, path, -1, rc == -EEXIST ? 0 : rc);
    if (rc == -EEXIST)
        return 0;
    if (rc < 0)
        return io_fail(err, rc, "mkdir of %s", path);
    return vg_io_fsync_parent(io, path, err);
}

int vg_io_fsync_parent(vg_io_t *io, const char *path, vg_error_t *err)
{
    char parent[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else
        snprintf(parent, sizeof parent, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return vg_io_fsync_dir(io, parent, err);
}

int vg_io_fsync_dir(vg_io_t *io, const char *dir, vg_error_t *err)
{
    int cut;
    struct vg_pw *pw = pw_boundary(io, &cut);
    int fd =
        cut ? -EIO : io->ops->open(io, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, VG_IO_OP_NONE);
    if (fd < 0) {
        PW_LEAVE(pw);
        OP_LOG(io, VG_IO_OP_FSYNC_DIR, dir, -1, fd);
        return io_fail(err, fd, "open of directory %s", dir);
    }
    int rc = io->ops->fsync(io, fd, 0, VG_IO_OP_FSYNC_DIR);
    io->ops->close(io, fd); /* read-only: nothing to lose */
    if (rc == 0)
        PW(pw, vg__pw_dir_synced(pw, dir));
    PW_LEAVE(pw);
    OP_LOG(io, VG_IO_OP_FSYNC_DIR, dir, fd, rc);
    if (rc < 0)
        return io_fail(err, rc, "fsync of directory %s", dir);
    return 0;
}

/* ---- maps ---- */

/* Open, size and map path; -errno with *what naming the failed step. */
static int map_file(const char *path, vg_io_map_t *out, const char **what)
{
    int fd;
    *what = "open for mmap";
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    struct stat st;
    void *p = NULL;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        *what = "fstat";
        rc = -errno;
    } else if (st.st_size > 0) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            *what = "mmap";
            rc = -errno;
        }
    }
    close(fd); /* the mapping keeps the file */
    if (rc == 0) {
        out->p = p;
        out->len = (size_t)st.st_size;
    }
    return rc;
}

int vg_io_map(vg_io_t *io, const char *path, vg_io_map_t *out, vg_error_t *err)
{
    const char *what = "mmap";
    vg_io_map_t m = {NULL, 0};
    int rc = -FAULT(io, VG_IO_OP_MAP);
    (void)io;
    if (rc == 0)
        rc = map_file(path, &m, &what);
    OP_LOG(io, VG_IO_OP_MAP, path, -1, rc < 0 ? rc : (long)m.len);
    if (rc < 0) /* every map failure is an I/O error, ENOSPC included */
        return vg_error_sys(err, VG_EIO, -rc, "%s of %s", what, path);
    *out = m;
    return 0;
}

void vg_io_unmap(vg_io_t *io, vg_io_map_t *m)
{
    (void)io;
    if (!m)
        return;
    if (m->p)
        munmap((void *)m->p, m->len);
    m->p = NULL;
    m->len = 0;
}

#ifndef VG_TESTING
void vg_io_crash_point(vg_io_t *io, const char *point)
{
    (void)io;
    (void)point;
}
#endif

int vg_io_list(vg_io_t *io, const char *dir, const char *suffix, vg_io_list_fn fn, void *ctx,
               vg_error_t *err)
{
    (void)io; /* directory reads need no fault hooks: nothing is written */
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? VG_OK : vg_error_sys(err, VG_EIO, errno, "listing %s", dir);
    size_t sl = strlen(suffix);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || l < sl ||
            strcmp(de->d_name + l - sl, suffix) != 0)
            continue;
        rc = fn(ctx, de->d_name);
    }
    closedir(d);
    return rc;
}
