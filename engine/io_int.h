/*
 * io_int.h: what io.c shares with its two backends (io_posix.c, io_uring.c)
 * and with the fault-injection controls (io_fault.c): struct vg_io itself.
 *
 * A backend is a table of primitives that return raw kernel results: a
 * non-negative value on success, -errno on failure. They never touch a
 * vg_error_t: io.c alone turns -errno into VG_EIO / VG_ENOSPC and a message.
 *
 * Fault injection: before (or, for an fsync on the ring, after) each
 * operation a backend asks vg__io_fault_take() whether the test hooks want
 * it to fail, and with which errno. In builds without VG_TESTING that call
 * is an inline constant 0 and costs nothing.
 */
#ifndef VG_ENGINE_IO_INT_H
#define VG_ENGINE_IO_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "io.h"

/* Give up after this many EAGAIN/EINTR results in a row for one operation,
 * so that a persistent EAGAIN cannot spin forever. */
#define VG_IO_MAX_RETRY 64

/* Passed as the fault kind of an operation that must not consume faults
 * (the open and close around a directory fsync, the fd of a map). */
#define VG_IO_OP_NONE VG_IO_OP__COUNT

struct vg_io_ops {
    const char *name; /* "io_uring" or "posix" */
    /* Set up the backend state (vg__io_set_state); 0 or -errno, *why says which call failed. */
    int (*init)(vg_io_t *io, unsigned ring_entries, const char **why);
    void (*fini)(vg_io_t *io);
    /* fd, or -errno. fop: the fault kind to consult (VG_IO_OP_NONE for none). */
    int (*open)(vg_io_t *io, const char *path, int flags, mode_t mode, vg_io_op_t fop);
    int (*close)(vg_io_t *io, int fd);
    /* All len bytes at off, short writes completed: 0 or -errno. */
    int (*pwrite)(vg_io_t *io, int fd, const void *buf, size_t len, off_t off);
    /*
     * All len bytes at off, then an fdatasync ordered after them: 0 or
     * -errno. On failure *failed_op says which step failed (VG_IO_OP_WRITE
     * or VG_IO_OP_FSYNC).
     */
    int (*write_sync)(vg_io_t *io, int fd, const void *buf, size_t len, off_t off,
                      vg_io_op_t *failed_op);
    int (*fsync)(vg_io_t *io, int fd, int datasync, vg_io_op_t fop);
    /* Up to len bytes, short reads retried until EOF: 0 or -errno, *got = bytes read. */
    int (*pread)(vg_io_t *io, int fd, void *buf, size_t len, off_t off, size_t *got);
    int (*rename)(vg_io_t *io, const char *from, const char *to);
    int (*unlink)(vg_io_t *io, const char *path);
    int (*mkdir)(vg_io_t *io, const char *path, mode_t mode);
};

extern const struct vg_io_ops vg__io_posix_ops;
extern const struct vg_io_ops vg__io_uring_ops;

#ifdef VG_TESTING
/* The test hooks' state (io_fault.c). */
struct vg_io_fault {
    unsigned long countdown; /* fail the countdown-th op from now; 0: off */
    int sticky;
    int firing; /* a sticky fault that triggered: fail every op */
    int errno_val;
};

/* Everything the test hooks change, behind mu (the op log behind log_mu). */
struct vg_io_testing {
    pthread_mutex_t mu;
    struct vg_io_fault fault[VG_IO_OP__COUNT];
    unsigned long count[VG_IO_OP__COUNT];
    unsigned long short_countdown;
    char crash_point[96];
    unsigned long crash_countdown; /* 0: disarmed */
    pthread_mutex_t log_mu;
    vg_io_log_op_fn log;
    void *log_ctx;
    /* power loss (io_power.c); pw is set at create or by vg_io_power_track,
     * before any thread but the creator's uses the layer */
    struct vg_pw *pw;
    int pw_mode; /* VIGIL_POWER_LOSS: applied when a crash point fires; 0: none */
    uint64_t pw_seed;
};
#endif

struct vg_io {
    const struct vg_io_ops *ops;
    void *state; /* the backend's */
    pthread_mutex_t fd_mu;
    char **fd_path; /* fd_path[fd]: the path fd was opened with, or NULL */
    size_t fd_cap;
#ifdef VG_TESTING
    struct vg_io_testing t;
#endif
};

/* The backend's private state, owned by the backend (set in init, freed in fini). */
void *vg__io_state(vg_io_t *io);
void vg__io_set_state(vg_io_t *io, void *state);

#ifdef VG_TESTING
/* Set up and free io->t (io_fault.c): the mutexes, then VIGIL_CRASH_AT and
 * VIGIL_POWER_LOSS from the environment. */
int vg__io_testing_init(vg_io_t *io, vg_error_t *err);
void vg__io_testing_fini(vg_io_t *io);

/*
 * Called once per operation of kind op a backend runs (each write and read
 * syscall or SQE, each fsync that really ran). Counts it and returns the
 * errno to inject (0: none). For writes, *go_short (may be NULL) is set
 * non-zero when this write must complete with half its bytes.
 */
int vg__io_fault_take(vg_io_t *io, vg_io_op_t op, int *go_short);

/*
 * The power-loss tracker (io_power.c). io.c calls these with the tracker's
 * lock held (vg__pw_lock), around every change it makes to a file or a
 * folder, so that a simulated power cut never races a half-done operation.
 */
struct vg_pw;
struct vg_pw *vg__pw_new(void);
void vg__pw_free(struct vg_pw *pw);
void vg__pw_lock(struct vg_pw *pw);
void vg__pw_unlock(struct vg_pw *pw);
/* After a power cut every change fails with EIO, as on a machine that is off. */
int vg__pw_dead(struct vg_pw *pw);
void vg__pw_before_write(struct vg_pw *pw, int fd, off_t off, size_t len);
void vg__pw_before_truncate(struct vg_pw *pw, int fd, off_t len);
void vg__pw_synced(struct vg_pw *pw, int fd);
void vg__pw_created(struct vg_pw *pw, const char *path, int fd);
void vg__pw_before_rename(struct vg_pw *pw, const char *from, const char *to);
void vg__pw_before_unlink(struct vg_pw *pw, const char *path);
void vg__pw_dir_synced(struct vg_pw *pw, const char *dir);
/* After a mkdir that created path (its parent not yet fsynced). */
void vg__pw_mkdir(struct vg_pw *pw, const char *path);
unsigned long vg__pw_apply(struct vg_pw *pw, int mode, uint64_t seed);
/* Count an fsync boundary; 1 when the armed power cut happened at it. */
int vg__pw_boundary(struct vg_pw *pw);
void vg__pw_arm(struct vg_pw *pw, unsigned long k, int mode, uint64_t seed);
unsigned long vg__pw_boundaries(struct vg_pw *pw);
#else
static inline int vg__io_fault_take(vg_io_t *io, vg_io_op_t op, int *go_short)
{
    (void)io;
    (void)op;
    if (go_short)
        *go_short = 0;
    return 0;
}
#endif

#endif
