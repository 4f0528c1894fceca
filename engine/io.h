/*
 * io.h: the one interface all of Vigil's file I/O goes through.
 *
 * Two implementations sit behind it: io_uring (io_uring.c), used where the
 * kernel allows a ring, and plain pwrite/fdatasync (io_posix.c). vg_io_create
 * with VG_IO_AUTO tries the ring first; when ring setup fails (a seccomp
 * profile, kernel.io_uring_disabled, an old kernel) it logs one line through
 * the log callback and uses the fallback. Every call is synchronous for its
 * caller and a vg_io_t may be used from several threads at once (not across
 * fork(): a child shares the parent's rings, so it creates its own).
 * The environment variable VIGIL_IO=posix|uring|auto overrides the kind
 * asked for (any other value: VG_EINVAL).
 *
 * Durability rules the callers rely on:
 *  - vg_io_write_sync() returns 0 only after every byte was written (short
 *    writes completed) and an fdatasync issued after those writes (linked
 *    with IOSQE_IO_LINK on the ring, never hard-linked) returned 0.
 *  - An error is returned as it came: no operation is retried after a failed
 *    fsync (the kernel may have dropped the dirty pages: "fsyncgate").
 *  - errno values are mapped here, and only here, to VG_EIO / VG_ENOSPC with
 *    err->sys_errno set.
 *
 * Test hooks (VG_TESTING builds only): fail the nth operation of a kind once
 * or from then on, complete a write short, return a chosen error in a
 * completion, log every operation, _exit at named crash points, and
 * simulate a power loss (drop or tear every write not covered by an fsync).
 * Environment (read by vg_io_create, VG_TESTING builds):
 *   VIGIL_CRASH_AT=<point>:<n>   _exit(VG_CRASH_EXIT) at the nth hit of point
 *   VIGIL_POWER_LOSS=drop|tear   track unsynced changes; a crash point that
 *                                fires applies that power loss first
 *   VIGIL_POWER_LOSS_SEED=<n>    the seed of "tear" (default: the pid)
 */
#ifndef VG_ENGINE_IO_H
#define VG_ENGINE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/vg_error.h"

typedef struct vg_io vg_io_t;

typedef enum vg_io_kind {
    VG_IO_AUTO = 0, /* io_uring when possible, else posix */
    VG_IO_URING,    /* io_uring or fail */
    VG_IO_POSIX,
} vg_io_kind_t;

/* One log line from the I/O layer (the fallback notice); may be NULL. */
typedef void (*vg_log_fn)(void *ctx, const char *level, const char *msg);

typedef struct vg_io_opts {
    vg_io_kind_t kind;
    unsigned ring_entries; /* default 64 */
    vg_log_fn log;
    void *log_ctx;
} vg_io_opts_t;

/* Ownership: *out is the caller's; free with vg_io_destroy (NULL is a no-op). */
int vg_io_create(const vg_io_opts_t *o, vg_io_t **out, vg_error_t *err);
void vg_io_destroy(vg_io_t *io);
/* "io_uring" or "posix". */
const char *vg_io_backend(const vg_io_t *io);

/* open(2) flags and mode; *fd set on success. */
int vg_io_open(vg_io_t *io, const char *path, int flags, mode_t mode, int *fd, vg_error_t *err);
/* fd < 0 is a no-op; 0 or VG_EIO/VG_ENOSPC (the fd is released either way). */
int vg_io_close(vg_io_t *io, int fd);
/* Write all len bytes at off, completing short writes. */
int vg_io_pwrite(vg_io_t *io, int fd, const void *buf, size_t len, off_t off, vg_error_t *err);
/* Write all len bytes at off, then fdatasync, ordered after the write. */
int vg_io_write_sync(vg_io_t *io, int fd, const void *buf, size_t len, off_t off, vg_error_t *err);
/* The same; on failure *failed_op (may be NULL) is set to 1
 * when the fsync failed, 0 when the write did (a full disk is final only after an fsync). */
int vg_io_write_sync_step(vg_io_t *io, int fd, const void *buf, size_t len, off_t off,
                          int *fsync_failed, vg_error_t *err);
/* fdatasync (datasync != 0) or fsync. */
int vg_io_fsync(vg_io_t *io, int fd, int datasync, vg_error_t *err);
/* Read up to len bytes at off (retrying short reads until EOF); *got = bytes read. */
int vg_io_pread(vg_io_t *io, int fd, void *buf, size_t len, off_t off, size_t *got,
                vg_error_t *err);
int vg_io_ftruncate(vg_io_t *io, int fd, off_t len, vg_error_t *err);
/* Preallocate (fallocate, keep size); EOPNOTSUPP is not an error. */
int vg_io_fallocate(vg_io_t *io, int fd, off_t off, off_t len, vg_error_t *err);
int vg_io_rename(vg_io_t *io, const char *from, const char *to, vg_error_t *err);
int vg_io_unlink(vg_io_t *io, const char *path, vg_error_t *err);
/* Create a folder (one that exists is fine); a folder it creates is made
 * durable at once by an fsync of its parent, so that a power loss cannot take
 * it, and all that is later made durable inside it, away. */
int vg_io_mkdir(vg_io_t *io, const char *path, vg_error_t *err);
/* fsync a directory so that creates, renames and unlinks in it are durable. */
int vg_io_fsync_dir(vg_io_t *io, const char *dir, vg_error_t *err);
/* fsync the folder that holds path ("." for a bare name). */
int vg_io_fsync_parent(vg_io_t *io, const char *path, vg_error_t *err);

/*
 * Call fn(ctx, name) for every entry of dir whose name ends with suffix
 * ("" for all but . and ..), in no particular order; a missing folder has
 * no entries. A non-zero return of fn stops the walk and is returned.
 */
typedef int (*vg_io_list_fn)(void *ctx, const char *name);
int vg_io_list(vg_io_t *io, const char *dir, const char *suffix, vg_io_list_fn fn, void *ctx,
               vg_error_t *err);

/*
 * Map a whole file read-only. The size is taken with fstat first; an empty
 * file maps to p == NULL, len == 0. Ownership: unmap with vg_io_unmap.
 * Only sealed, fsynced files that nothing truncates are mapped (SIGBUS).
 */
typedef struct vg_io_map {
    const uint8_t *p;
    size_t len;
} vg_io_map_t;
int vg_io_map(vg_io_t *io, const char *path, vg_io_map_t *out, vg_error_t *err);
void vg_io_unmap(vg_io_t *io, vg_io_map_t *m);

/*
 * Crash points: engine code calls vg_io_crash_point(io, "wal.synced") at
 * each named point; in a VG_TESTING build armed for that point it calls
 * _exit(VG_CRASH_EXIT) on the nth hit. Arm with vg_io_crash_arm, or with
 * the environment variable VIGIL_CRASH_AT=<point>:<n> read by vg_io_create.
 * In other builds it does nothing.
 */
#define VG_CRASH_EXIT 86
void vg_io_crash_point(vg_io_t *io, const char *point);

/* Operation kinds, for the test hooks and the operation log (always defined so the
 * backends can name them; the hooks themselves exist only in VG_TESTING builds). */
typedef enum vg_io_op {
    VG_IO_OP_OPEN = 0,
    VG_IO_OP_WRITE,
    VG_IO_OP_FSYNC, /* file fsync/fdatasync, including the one in write_sync */
    VG_IO_OP_READ,
    VG_IO_OP_RENAME,
    VG_IO_OP_UNLINK,
    VG_IO_OP_TRUNCATE,
    VG_IO_OP_FSYNC_DIR,
    VG_IO_OP_MKDIR,
    VG_IO_OP_MAP,
    VG_IO_OP_FALLOCATE, /* the preallocation of vg_io_fallocate (ENOSPC tests) */
    VG_IO_OP__COUNT
} vg_io_op_t;

#ifdef VG_TESTING
/* "open", "write", "fsync", ... */
const char *vg_io_op_name(vg_io_op_t op);

/*
 * Make the nth operation of kind op from now (n >= 1) fail with errno_val
 * (EIO, ENOSPC, EAGAIN, ECANCELED ...), and every later one too when sticky.
 * On the ring the error is delivered in the completion (cqe->res), as the
 * kernel would. n = 0 disarms.
 */
void vg_io_fault_fail(vg_io_t *io, vg_io_op_t op, unsigned long n, int sticky, int errno_val);
/* The nth write from now completes short (half its bytes); the layer must finish it. */
void vg_io_fault_short_write(vg_io_t *io, unsigned long n);
/* Arm a crash point by name: _exit(VG_CRASH_EXIT) on its nth hit from now. */
void vg_io_crash_arm(vg_io_t *io, const char *point, unsigned long n);
/* How many operations of a kind ran (for tests that sweep n). */
unsigned long vg_io_op_count(vg_io_t *io, vg_io_op_t op);

/*
 * Operation log: every operation, with its path (or fd) and result, in order.
 * path is the one the fd was opened with when known, NULL otherwise; a rename
 * logs its source. result: bytes for write/read, the fd for open, else 0 or
 * -errno. fn runs under the log's lock: it must not call back into io.
 */
typedef void (*vg_io_log_op_fn)(void *ctx, vg_io_op_t op, const char *path, int fd, long result);
void vg_io_set_op_log(vg_io_t *io, vg_io_log_op_fn fn, void *ctx);

/*
 * Power loss (io_power.c). While tracking, the layer keeps every write and
 * ftruncate not yet covered by a successful fsync of its file (with the
 * bytes it overwrote), and every create, rename and unlink not yet covered
 * by an fsync of its folder. vg_io_power_loss then makes the files look as
 * a power cut would have left them:
 *   VG_IO_POWER_DROP: every unsynced change reverted (appended bytes cut,
 *                     overwritten ranges restored, names put back);
 *   VG_IO_POWER_TEAR: a random prefix (seeded) of each unsynced write
 *                     survives, cut at a 512-byte boundary; past the old end
 *                     of the file the rest is cut, zeros or garbage; a random
 *                     prefix of the folder operations survives.
 * After it the layer is "off": every later change (write, fsync, rename,
 * unlink, create ...) fails with EIO, so the code under test cannot touch
 * the files again; reads still work. Returns the number of changes undone
 * or torn, or VG_EINVAL when tracking is off.
 *
 * Tracking starts at vg_io_create when the environment variable
 *   VIGIL_POWER_LOSS=drop|tear
 * is set (any other value: VG_EINVAL), or with vg_io_power_track. With the
 * variable set, a crash point that fires (VIGIL_CRASH_AT, vg_io_crash_arm)
 * first applies that power loss, then _exits; the tear seed is
 * VIGIL_POWER_LOSS_SEED (decimal) when set, else the pid.
 * Every fsync-family operation (vg_io_fsync, vg_io_write_sync,
 * vg_io_fsync_dir) is an "fsync boundary" and also the crash point
 * "io.fsync", hit just before the operation runs; vg_io_power_loss_at arms
 * a power cut at the kth boundary from now (that operation then fails with
 * EIO), for in-process sweeps over every boundary.
 */
#define VG_IO_POWER_DROP 1
#define VG_IO_POWER_TEAR 2
void vg_io_power_track(vg_io_t *io, int on);
int vg_io_power_loss(vg_io_t *io, int mode, uint64_t seed);
void vg_io_power_loss_at(vg_io_t *io, unsigned long k, int mode, uint64_t seed);
/* fsync boundaries seen while tracking. */
unsigned long vg_io_power_boundaries(vg_io_t *io);
#endif

#endif
