/*
 * io_fault.c: the controls of the I/O layer's fault injection (io.h, test
 * hooks; VG_TESTING builds only): failures at the Nth operation, short
 * writes, named crash points, the operation log, and the power-loss
 * tracker's switches (the tracker itself is io_power.c). The backends ask
 * vg__io_fault_take before each operation; io.c logs and tracks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "io_int.h"

#ifdef VG_TESTING
/* VIGIL_CRASH_AT=<point>:<n> (n defaults to 1). */
static int crash_from_env(vg_io_t *io, vg_error_t *err)
{
    const char *env = getenv("VIGIL_CRASH_AT");
    if (!env || !*env)
        return 0;
    char name[sizeof io->t.crash_point];
    unsigned long n = 1;
    const char *colon = strrchr(env, ':');
    size_t len = colon ? (size_t)(colon - env) : strlen(env);
    if (colon) {
        char *end;
        errno = 0;
        n = strtoul(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || n == 0)
            len = 0;
    }
    if (len == 0 || len >= sizeof name)
        return vg_error_set(err, VG_EINVAL, "VIGIL_CRASH_AT=%s: expected <point>:<n>, n >= 1", env);
    memcpy(name, env, len);
    name[len] = '\0';
    vg_io_crash_arm(io, name, n);
    return 0;
}

/* VIGIL_POWER_LOSS=drop|tear (and VIGIL_POWER_LOSS_SEED=<n>): track from the start. */
static int power_from_env(vg_io_t *io, vg_error_t *err)
{
    const char *env = getenv("VIGIL_POWER_LOSS");
    if (!env || !*env)
        return 0;
    if (strcmp(env, "drop") == 0)
        io->t.pw_mode = VG_IO_POWER_DROP;
    else if (strcmp(env, "tear") == 0)
        io->t.pw_mode = VG_IO_POWER_TEAR;
    else
        return vg_error_set(err, VG_EINVAL, "VIGIL_POWER_LOSS=%s: expected drop or tear", env);
    const char *seed = getenv("VIGIL_POWER_LOSS_SEED");
    io->t.pw_seed = seed && *seed ? strtoull(seed, NULL, 10) : (uint64_t)getpid();
    io->t.pw = vg__pw_new();
    if (!io->t.pw)
        return vg_error_set(err, VG_ENOMEM, "allocating the power-loss tracker");
    return 0;
}
int vg__io_testing_init(vg_io_t *io, vg_error_t *err)
{
    pthread_mutex_init(&io->t.mu, NULL);
    pthread_mutex_init(&io->t.log_mu, NULL);
    int rc = crash_from_env(io, err);
    return rc ? rc : power_from_env(io, err);
}

void vg__io_testing_fini(vg_io_t *io)
{
    pthread_mutex_destroy(&io->t.mu);
    pthread_mutex_destroy(&io->t.log_mu);
    vg__pw_free(io->t.pw);
}

const char *vg_io_op_name(vg_io_op_t op)
{
    static const char *const names[VG_IO_OP__COUNT] = {
        [VG_IO_OP_OPEN] = "open",           [VG_IO_OP_WRITE] = "write",
        [VG_IO_OP_FSYNC] = "fsync",         [VG_IO_OP_READ] = "read",
        [VG_IO_OP_RENAME] = "rename",       [VG_IO_OP_UNLINK] = "unlink",
        [VG_IO_OP_TRUNCATE] = "truncate",   [VG_IO_OP_FSYNC_DIR] = "fsync_dir",
        [VG_IO_OP_MKDIR] = "mkdir",         [VG_IO_OP_MAP] = "map",
        [VG_IO_OP_FALLOCATE] = "fallocate",
    };
    return (unsigned)op < VG_IO_OP__COUNT ? names[op] : "?";
}

int vg__io_fault_take(vg_io_t *io, vg_io_op_t op, int *go_short)
{
    if (go_short)
        *go_short = 0;
    if ((unsigned)op >= VG_IO_OP__COUNT)
        return 0;
    int e = 0;
    pthread_mutex_lock(&io->t.mu);
    io->t.count[op]++;
    struct vg_io_fault *f = &io->t.fault[op];
    if (f->firing) {
        e = f->errno_val;
    } else if (f->countdown > 0 && --f->countdown == 0) {
        e = f->errno_val;
        f->firing = f->sticky;
    }
    if (op == VG_IO_OP_WRITE && io->t.short_countdown > 0 && --io->t.short_countdown == 0 &&
        go_short)
        *go_short = 1;
    pthread_mutex_unlock(&io->t.mu);
    return e;
}

void vg_io_fault_fail(vg_io_t *io, vg_io_op_t op, unsigned long n, int sticky, int errno_val)
{
    if ((unsigned)op >= VG_IO_OP__COUNT)
        return;
    pthread_mutex_lock(&io->t.mu);
    io->t.fault[op] = (struct vg_io_fault){
        .countdown = n, .sticky = n ? sticky : 0, .firing = 0, .errno_val = errno_val};
    pthread_mutex_unlock(&io->t.mu);
}

void vg_io_fault_short_write(vg_io_t *io, unsigned long n)
{
    pthread_mutex_lock(&io->t.mu);
    io->t.short_countdown = n;
    pthread_mutex_unlock(&io->t.mu);
}

void vg_io_crash_arm(vg_io_t *io, const char *point, unsigned long n)
{
    pthread_mutex_lock(&io->t.mu);
    snprintf(io->t.crash_point, sizeof io->t.crash_point, "%s", point ? point : "");
    io->t.crash_countdown = point ? n : 0;
    pthread_mutex_unlock(&io->t.mu);
}

void vg_io_crash_point(vg_io_t *io, const char *point)
{
    if (!io)
        return;
    pthread_mutex_lock(&io->t.mu);
    int hit = io->t.crash_countdown > 0 && strcmp(io->t.crash_point, point) == 0 &&
              --io->t.crash_countdown == 0;
    pthread_mutex_unlock(&io->t.mu);
    if (!hit)
        return;
    if (io->t.pw && io->t.pw_mode) {
        /* the lock is never released: no thread changes the files again */
        vg__pw_lock(io->t.pw);
        vg__pw_apply(io->t.pw, io->t.pw_mode, io->t.pw_seed);
    }
    _exit(VG_CRASH_EXIT); /* as abrupt as a kill: no atexit, no stdio flush */
}

unsigned long vg_io_op_count(vg_io_t *io, vg_io_op_t op)
{
    if ((unsigned)op >= VG_IO_OP__COUNT)
        return 0;
    pthread_mutex_lock(&io->t.mu);
    unsigned long n = io->t.count[op];
    pthread_mutex_unlock(&io->t.mu);
    return n;
}

void vg_io_set_op_log(vg_io_t *io, vg_io_log_op_fn fn, void *ctx)
{
    pthread_mutex_lock(&io->t.log_mu);
    io->t.log = fn;
    io->t.log_ctx = ctx;
    pthread_mutex_unlock(&io->t.log_mu);
}

/* Only while no other thread uses io (io.h): pw is read without a lock. */
void vg_io_power_track(vg_io_t *io, int on)
{
    if (on && !io->t.pw)
        io->t.pw = vg__pw_new();
    else if (!on) {
        vg__pw_free(io->t.pw);
        io->t.pw = NULL;
    }
}

int vg_io_power_loss(vg_io_t *io, int mode, uint64_t seed)
{
    struct vg_pw *pw = io->t.pw;
    if (!pw || (mode != VG_IO_POWER_DROP && mode != VG_IO_POWER_TEAR))
        return VG_EINVAL;
    vg__pw_lock(pw);
    unsigned long n = vg__pw_apply(pw, mode, seed);
    vg__pw_unlock(pw);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

void vg_io_power_loss_at(vg_io_t *io, unsigned long k, int mode, uint64_t seed)
{
    struct vg_pw *pw = io->t.pw;
    if (!pw)
        return;
    vg__pw_lock(pw);
    vg__pw_arm(pw, k, mode, seed);
    vg__pw_unlock(pw);
}

unsigned long vg_io_power_boundaries(vg_io_t *io)
{
    struct vg_pw *pw = io->t.pw;
    if (!pw)
        return 0;
    vg__pw_lock(pw);
    unsigned long n = vg__pw_boundaries(pw);
    vg__pw_unlock(pw);
    return n;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int vg__io_fault_unused;
#endif
