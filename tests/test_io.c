/*
 * test_io.c: the I/O layer (engine/io.h) on both backends.
 *
 * Every test in BOTH() runs once on posix and once on io_uring (skipped when
 * no ring can be set up here). File contents are checked with plain libc
 * calls, independently of the layer under test. Each test gets a fresh temp
 * dir under $VG_TEST_TMP (or /tmp), removed afterwards.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"

struct fx {
    vg_io_kind_t kind;
    vg_io_t *io;
    char dir[PATH_MAX - 64];
};

static struct fx fx_posix = {.kind = VG_IO_POSIX};
static struct fx fx_uring = {.kind = VG_IO_URING};

/* ---- helpers ---- */

static const char *tmp_base(void)
{
    const char *b = getenv("VG_TEST_TMP");
    if (!b || !*b)
        return "/tmp";
    mkdir(b, 0755); /* ctest's dir may not exist yet */
    return b;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup(void **state)
{
    struct fx *fx = *state;
    snprintf(fx->dir, sizeof fx->dir, "%s/test_io.XXXXXX", tmp_base());
    if (!mkdtemp(fx->dir))
        return -1;
    vg_io_opts_t o = {.kind = fx->kind};
    vg_error_t err;
    fx->io = NULL;
    if (vg_io_create(&o, &fx->io, &err) < 0 && fx->kind != VG_IO_URING) {
        fprintf(stderr, "vg_io_create: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    vg_io_destroy(fx->io);
    fx->io = NULL;
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* The fixture's io; skips the test when the ring could not be set up. */
static vg_io_t *fx_io(void **state)
{
    struct fx *fx = *state;
    if (!fx->io)
        skip();
    return fx->io;
}

static void path_in(void **state, const char *name, char *out, size_t n)
{
    struct fx *fx = *state;
    snprintf(out, n, "%s/%s", fx->dir, name);
}

/* Deterministic bytes (xorshift64*), so a misplaced chunk is always caught. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 2654435761u + 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        p[i] = (uint8_t)((x * 2685821657736338717ull) >> 56);
    }
}

/* The whole file through libc; caller frees. */
static uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, p + got, (size_t)st.st_size - got, (off_t)got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return p;
}

static int open_new(vg_io_t *io, const char *path)
{
    int fd = -1;
    vg_error_t err;
    int rc = vg_io_open(io, path, O_CREAT | O_RDWR | O_CLOEXEC, 0644, &fd, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    return fd;
}

static void assert_file_is(const char *path, const uint8_t *want, size_t n)
{
    size_t len;
    uint8_t *got = slurp(path, &len);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
    free(got);
}

/* ---- round trips ---- */

static void test_io_round_trips_write_fsync_read(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "a.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t data[3000], back[4000];
    fill(data, sizeof data, 1);
    vg_error_t err;
    /* out of order, to check offsets */
    assert_int_equal(vg_io_pwrite(io, fd, data + 2000, 1000, 2000, &err), 0);
    assert_int_equal(vg_io_pwrite(io, fd, data, 2000, 0, &err), 0);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    assert_int_equal(vg_io_fsync(io, fd, 0, &err), 0);
    size_t got = 0;
    assert_int_equal(vg_io_pread(io, fd, back, sizeof back, 0, &got, &err), 0);
    assert_int_equal(got, 3000); /* stops at end of file */
    assert_memory_equal(back, data, 3000);
    assert_int_equal(vg_io_pread(io, fd, back, 10, 2995, &got, &err), 0);
    assert_int_equal(got, 5);
    assert_memory_equal(back, data + 2995, 5);
    assert_int_equal(vg_io_close(io, fd), 0);
    assert_file_is(path, data, sizeof data);
}

static void test_io_write_sync_writes_a_large_buffer(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "big.dat", path, sizeof path);
    int fd = open_new(io, path);
    size_t n = 8u << 20;
    uint8_t *buf = malloc(n + 4096);
    assert_non_null(buf);
    memset(buf, 0, 4096);
    fill(buf + 4096, n, 2);
    vg_error_t err;
    assert_int_equal(vg_io_write_sync(io, fd, buf + 4096, n, 4096, &err), 0);
    assert_int_equal(vg_io_close(io, fd), 0);
    assert_file_is(path, buf, n + 4096); /* the hole reads as zeros */
    free(buf);
}

static void test_io_completes_a_short_write_transparently(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "short.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t buf[100001];
    fill(buf, sizeof buf, 3);
    vg_error_t err;
    unsigned long w0 = vg_io_op_count(io, VG_IO_OP_WRITE);
    unsigned long f0 = vg_io_op_count(io, VG_IO_OP_FSYNC);
    vg_io_fault_short_write(io, 1);
    assert_int_equal(vg_io_write_sync(io, fd, buf, sizeof buf, 0, &err), 0);
    /* half, then the rest; one fsync ran (on the ring the first was cancelled) */
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_WRITE) - w0, 2);
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_FSYNC) - f0, 1);
    assert_file_is(path, buf, sizeof buf);
    /* and in a plain pwrite, on the second write from now */
    vg_io_fault_short_write(io, 2);
    assert_int_equal(vg_io_pwrite(io, fd, buf, 1000, 0, &err), 0);
    assert_int_equal(vg_io_pwrite(io, fd, buf + 1000, 5000, 1000, &err), 0);
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_WRITE) - w0, 5);
    vg_io_close(io, fd);
    assert_file_is(path, buf, sizeof buf);
}

static void test_io_fsync_error_after_a_short_write_is_still_reported(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "shortfail.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t buf[4096];
    fill(buf, sizeof buf, 4);
    vg_error_t err;
    vg_io_fault_short_write(io, 1);
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 1, 0, EIO); /* the first fsync that runs */
    assert_int_equal(vg_io_write_sync(io, fd, buf, sizeof buf, 0, &err), VG_EIO);
    assert_int_equal(err.sys_errno, EIO);
    assert_non_null(strstr(err.msg, "fdatasync of "));
    vg_io_close(io, fd);
}

/*
 * In a child: RLIMIT_FSIZE (SIGXFSZ ignored) makes the kernel itself cut a
 * write at the limit, a genuine short write; the next write fails EFBIG.
 * write_sync must resubmit the rest and report EFBIG as a write error with
 * no fsync having run (each linked fsync was cancelled).
 */
static int fsize_child(vg_io_kind_t kind, const char *path)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 6000, .rlim_max = RLIM_INFINITY};
    vg_io_opts_t o = {.kind = kind};
    vg_io_t *io;
    vg_error_t err;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || vg_io_create(&o, &io, NULL) != 0)
        return 2;
    int fd;
    if (vg_io_open(io, path, O_CREAT | O_RDWR, 0644, &fd, NULL) != 0)
        return 3;
    static uint8_t b[10000];
    fill(b, sizeof b, 10);
    int rc = vg_io_write_sync(io, fd, b, sizeof b, 0, &err);
    if (rc != VG_EIO || err.sys_errno != EFBIG || !strstr(err.msg, "write of "))
        return 4;
    if (vg_io_op_count(io, VG_IO_OP_WRITE) != 2 || vg_io_op_count(io, VG_IO_OP_FSYNC) != 0)
        return 5;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != 6000)
        return 6;
    return 0;
}

static void test_io_genuine_short_write_is_resubmitted(void **state)
{
    struct fx *fx = *state;
    char path[PATH_MAX];
    fx_io(state);
    path_in(state, "fsize.dat", path, sizeof path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fsize_child(fx->kind, path));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t len;
    uint8_t *got = slurp(path, &len), want[6000];
    fill(want, sizeof want, 10);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(got, want, sizeof want);
    free(got);
}

/* ---- faults ---- */

/* Run the operation of kind op against the fixture; return its status. */
static int run_op(vg_io_t *io, void **state, vg_io_op_t op, int fd, vg_error_t *err)
{
    char p1[PATH_MAX], p2[PATH_MAX];
    uint8_t b[16] = {0};
    size_t got;
    vg_io_map_t m;
    int tmp;
    path_in(state, "f.dat", p1, sizeof p1);
    path_in(state, "g.dat", p2, sizeof p2);
    switch (op) {
    case VG_IO_OP_OPEN: return vg_io_open(io, p2, O_CREAT | O_RDWR, 0644, &tmp, err);
    case VG_IO_OP_WRITE: return vg_io_pwrite(io, fd, b, sizeof b, 0, err);
    case VG_IO_OP_FSYNC: return vg_io_fsync(io, fd, 1, err);
    case VG_IO_OP_READ: return vg_io_pread(io, fd, b, sizeof b, 0, &got, err);
    case VG_IO_OP_RENAME: return vg_io_rename(io, p1, p2, err);
    case VG_IO_OP_UNLINK: return vg_io_unlink(io, p1, err);
    case VG_IO_OP_TRUNCATE: return vg_io_ftruncate(io, fd, 0, err);
    case VG_IO_OP_FSYNC_DIR: return vg_io_fsync_dir(io, ((struct fx *)*state)->dir, err);
    case VG_IO_OP_MKDIR: return vg_io_mkdir(io, p2, err);
    case VG_IO_OP_MAP:
        tmp = vg_io_map(io, p1, &m, err);
        if (tmp == 0)
            vg_io_unmap(io, &m);
        return tmp;
    case VG_IO_OP_FALLOCATE: return vg_io_fallocate(io, fd, 0, 4096, err);
    default: fail(); return 0;
    }
}

static void test_io_fault_on_each_op_returns_eio_naming_the_path(void **state)
{
    vg_io_t *io = fx_io(state);
    static const char *const words[VG_IO_OP__COUNT] = {
        "open of", "write of", "fdatasync of", "read of", "rename of", "unlink of",
        "ftruncate of", "fsync of directory", "mkdir of", "mmap of", "fallocate of"};
    char p1[PATH_MAX], p2[PATH_MAX];
    path_in(state, "f.dat", p1, sizeof p1);
    path_in(state, "g.dat", p2, sizeof p2);
    int fd = open_new(io, p1);
    for (int op = 0; op < VG_IO_OP__COUNT; op++) {
        vg_error_t err = {0};
        unsigned long c0 = vg_io_op_count(io, (vg_io_op_t)op);
        vg_io_fault_fail(io, (vg_io_op_t)op, 1, 0, EIO);
        assert_int_equal(run_op(io, state, (vg_io_op_t)op, fd, &err), VG_EIO);
        assert_int_equal(err.code, VG_EIO);
        assert_int_equal(err.sys_errno, EIO);
        assert_non_null(strstr(err.msg, words[op]));
        const char *want = op == VG_IO_OP_OPEN || op == VG_IO_OP_MKDIR ? p2
                           : op == VG_IO_OP_FSYNC_DIR             ? ((struct fx *)*state)->dir
                                                                  : p1;
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, strerror(EIO)));
        assert_int_equal(vg_io_op_count(io, (vg_io_op_t)op) - c0, 1);
        /* the failed op had no effect, and the next one works */
        assert_int_equal(access(p1, F_OK), 0);
        assert_int_equal(access(p2, F_OK), -1);
        if (op != VG_IO_OP_RENAME && op != VG_IO_OP_UNLINK && op != VG_IO_OP_OPEN &&
            op != VG_IO_OP_MKDIR)
            assert_int_equal(run_op(io, state, (vg_io_op_t)op, fd, &err), 0);
    }
    vg_io_close(io, fd);
}

static void test_io_once_fault_fails_one_op_and_sticky_fails_all_later(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "s.dat", path, sizeof path);
    int fd = open_new(io, path);
    vg_error_t err;
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 2, 0, EIO);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), VG_EIO);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 2, 1, EIO);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(vg_io_fsync(io, fd, 1, &err), VG_EIO);
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 0, 0, 0); /* disarm */
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    vg_io_close(io, fd);
}

static void test_io_enospc_and_edquot_map_to_vg_enospc(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "full.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t b[512] = {1};
    vg_error_t err;
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 0, ENOSPC);
    assert_int_equal(vg_io_write_sync(io, fd, b, sizeof b, 0, &err), VG_ENOSPC);
    assert_int_equal(err.code, VG_ENOSPC);
    assert_int_equal(err.sys_errno, ENOSPC);
    assert_non_null(strstr(err.msg, path));
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 0, EDQUOT);
    assert_int_equal(vg_io_pwrite(io, fd, b, sizeof b, 0, &err), VG_ENOSPC);
    assert_int_equal(err.sys_errno, EDQUOT);
    vg_io_fault_fail(io, VG_IO_OP_FALLOCATE, 1, 0, ENOSPC);
    assert_int_equal(vg_io_fallocate(io, fd, 0, 1 << 20, &err), VG_ENOSPC);
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 1, 0, ENOSPC);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), VG_ENOSPC);
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 0, EROFS); /* anything else: EIO */
    assert_int_equal(vg_io_pwrite(io, fd, b, sizeof b, 0, &err), VG_EIO);
    assert_int_equal(err.sys_errno, EROFS);
    vg_io_close(io, fd);
}

/* The op log, kept in an array. */
struct oplog {
    int n;
    vg_io_op_t op[32];
    long res[32];
    char path[32][PATH_MAX];
};

static void record(void *ctx, vg_io_op_t op, const char *path, int fd, long result)
{
    struct oplog *l = ctx;
    (void)fd;
    if (l->n >= 32)
        return;
    l->op[l->n] = op;
    l->res[l->n] = result;
    snprintf(l->path[l->n], sizeof l->path[0], "%s", path ? path : "");
    l->n++;
}

static void test_io_failed_fsync_in_write_sync_is_reported_not_retried(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "wal.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t b[8192];
    fill(b, sizeof b, 5);
    static struct oplog log;
    memset(&log, 0, sizeof log);
    vg_io_set_op_log(io, record, &log);
    vg_error_t err;
    unsigned long f0 = vg_io_op_count(io, VG_IO_OP_FSYNC);
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 1, 0, EIO);
    assert_int_equal(vg_io_write_sync(io, fd, b, sizeof b, 0, &err), VG_EIO);
    assert_int_equal(err.sys_errno, EIO);
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "fdatasync of %s: %s", path, strerror(EIO));
    assert_string_equal(err.msg, want);
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_FSYNC) - f0, 1); /* not retried */
    assert_int_equal(log.n, 2);
    assert_int_equal(log.op[0], VG_IO_OP_WRITE);
    assert_int_equal(log.res[0], (long)sizeof b);
    assert_int_equal(log.op[1], VG_IO_OP_FSYNC);
    assert_int_equal(log.res[1], -EIO);
    vg_io_set_op_log(io, NULL, NULL);
    vg_io_close(io, fd);
}

static void test_io_failed_write_in_write_sync_never_reports_an_fsync(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "wal.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t b[8192];
    fill(b, sizeof b, 6);
    static struct oplog log;
    memset(&log, 0, sizeof log);
    vg_io_set_op_log(io, record, &log);
    vg_error_t err;
    unsigned long f0 = vg_io_op_count(io, VG_IO_OP_FSYNC);
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 0, EIO);
    assert_int_equal(vg_io_write_sync(io, fd, b, sizeof b, 0, &err), VG_EIO);
    assert_non_null(strstr(err.msg, "write of "));
    assert_non_null(strstr(err.msg, path));
    /* on the ring the linked fsync was cancelled: it never ran */
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_FSYNC) - f0, 0);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.op[0], VG_IO_OP_WRITE);
    assert_int_equal(log.res[0], -EIO);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    vg_io_set_op_log(io, NULL, NULL);
    vg_io_close(io, fd);
}

static void test_io_eagain_and_eintr_in_a_write_are_retried(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "again.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t b[20000];
    fill(b, sizeof b, 7);
    vg_error_t err;
    unsigned long w0 = vg_io_op_count(io, VG_IO_OP_WRITE);
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 0, EAGAIN);
    assert_int_equal(vg_io_write_sync(io, fd, b, 10000, 0, &err), 0);
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_WRITE) - w0, 2);
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 0, EINTR);
    assert_int_equal(vg_io_pwrite(io, fd, b + 10000, 10000, 10000, &err), 0);
    assert_file_is(path, b, sizeof b);
    /* a persistent EAGAIN is not retried forever */
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 1, 1, EAGAIN);
    assert_int_equal(vg_io_write_sync(io, fd, b, 100, 0, &err), VG_EIO);
    assert_int_equal(err.sys_errno, EAGAIN);
    vg_io_fault_fail(io, VG_IO_OP_WRITE, 0, 0, 0);
    vg_io_close(io, fd);
}

static void test_io_cancelled_fsync_after_a_full_write_is_an_error(void **state)
{
    vg_io_t *io = fx_io(state);
    char path[PATH_MAX];
    path_in(state, "cancel.dat", path, sizeof path);
    int fd = open_new(io, path);
    uint8_t b[100] = {9};
    vg_error_t err;
    unsigned long w0 = vg_io_op_count(io, VG_IO_OP_WRITE);
    vg_io_fault_fail(io, VG_IO_OP_FSYNC, 1, 0, ECANCELED);
    assert_int_equal(vg_io_write_sync(io, fd, b, sizeof b, 0, &err), VG_EIO);
    assert_int_equal(err.sys_errno, ECANCELED);
    assert_int_equal(vg_io_op_count(io, VG_IO_OP_WRITE) - w0, 1); /* nothing resubmitted */
    vg_io_close(io, fd);
}

/* ---- names, directories, maps ---- */

static void test_io_rename_and_fsync_dir_publish_a_file(void **state)
{
    vg_io_t *io = fx_io(state);
    struct fx *fx = *state;
    char sub[PATH_MAX], tmp[PATH_MAX], fin[PATH_MAX];
    path_in(state, "seg", sub, sizeof sub);
    vg_error_t err;
    assert_int_equal(vg_io_mkdir(io, sub, &err), 0);
    assert_int_equal(vg_io_mkdir(io, sub, &err), 0); /* EEXIST is fine */
    path_in(state, "seg/x.tmp", tmp, sizeof tmp);
    path_in(state, "seg/x.seg", fin, sizeof fin);
    int fd = open_new(io, tmp);
    uint8_t b[777];
    fill(b, sizeof b, 8);
    assert_int_equal(vg_io_write_sync(io, fd, b, sizeof b, 0, &err), 0);
    assert_int_equal(vg_io_close(io, fd), 0);
    assert_int_equal(vg_io_rename(io, tmp, fin, &err), 0);
    assert_int_equal(vg_io_fsync_dir(io, sub, &err), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_file_is(fin, b, sizeof b);
    assert_int_equal(vg_io_unlink(io, fin, &err), 0);
    assert_int_equal(access(fin, F_OK), -1);
    /* missing things fail with the errno kept */
    assert_int_equal(vg_io_unlink(io, fin, &err), VG_EIO);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_int_equal(vg_io_rename(io, tmp, fin, &err), VG_EIO);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_int_equal(vg_io_fsync_dir(io, fin, &err), VG_EIO);
    assert_non_null(strstr(err.msg, fin));
    assert_int_equal(vg_io_fsync_dir(io, fx->dir, &err), 0);
}

static void test_io_maps_empty_and_nonempty_files(void **state)
{
    vg_io_t *io = fx_io(state);
    char empty[PATH_MAX], full[PATH_MAX], none[PATH_MAX];
    path_in(state, "empty", empty, sizeof empty);
    path_in(state, "full", full, sizeof full);
    path_in(state, "none", none, sizeof none);
    vg_io_close(io, open_new(io, empty));
    int fd = open_new(io, full);
    uint8_t b[10000];
    fill(b, sizeof b, 9);
    vg_error_t err;
    assert_int_equal(vg_io_write_sync(io, fd, b, sizeof b, 0, &err), 0);
    vg_io_close(io, fd);
    vg_io_map_t m = {(const uint8_t *)1, 99};
    assert_int_equal(vg_io_map(io, empty, &m, &err), 0);
    assert_null(m.p);
    assert_int_equal(m.len, 0);
    vg_io_unmap(io, &m);
    assert_int_equal(vg_io_map(io, full, &m, &err), 0);
    assert_non_null(m.p);
    assert_int_equal(m.len, sizeof b);
    assert_memory_equal(m.p, b, sizeof b);
    vg_io_unmap(io, &m);
    assert_null(m.p);
    assert_int_equal(vg_io_map(io, none, &m, &err), VG_EIO);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, none));
}

/* ---- crash points ---- */

/* In a child: create an io, reach the point twice (armed for the 2nd hit). */
static void crash_child(vg_io_kind_t kind, int by_env, int pipe_w)
{
    if (by_env)
        setenv("VIGIL_CRASH_AT", "test.point:2", 1);
    vg_io_opts_t o = {.kind = kind};
    vg_io_t *io;
    if (vg_io_create(&o, &io, NULL) != 0)
        _exit(3);
    if (!by_env)
        vg_io_crash_arm(io, "test.point", 2);
    vg_io_crash_point(io, "other.point");
    vg_io_crash_point(io, "test.point");
    if (write(pipe_w, "1", 1) != 1)
        _exit(4);
    vg_io_crash_point(io, "test.point");
    _exit(0); /* not reached when the point works */
}

static void test_io_crash_point_exits_with_the_crash_status(void **state)
{
    struct fx *fx = *state;
    fx_io(state);
    for (int by_env = 0; by_env < 2; by_env++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(fx->kind, by_env, p[1]);
        }
        close(p[1]);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        char c = 0;
        assert_int_equal(read(p[0], &c, 1), 1); /* survived the first hit */
        close(p[0]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), VG_CRASH_EXIT);
    }
}

/* ---- op log ---- */

static void test_io_op_log_records_the_publish_sequence_in_order(void **state)
{
    vg_io_t *io = fx_io(state);
    struct fx *fx = *state;
    char tmp[PATH_MAX], fin[PATH_MAX];
    path_in(state, "c.tmp", tmp, sizeof tmp);
    path_in(state, "c.cat", fin, sizeof fin);
    static struct oplog log;
    memset(&log, 0, sizeof log);
    vg_io_set_op_log(io, record, &log);
    vg_error_t err;
    int fd = open_new(io, tmp);
    uint8_t b[300] = {1, 2, 3};
    assert_int_equal(vg_io_pwrite(io, fd, b, sizeof b, 0, &err), 0);
    assert_int_equal(vg_io_fsync(io, fd, 1, &err), 0);
    vg_io_close(io, fd);
    assert_int_equal(vg_io_rename(io, tmp, fin, &err), 0);
    assert_int_equal(vg_io_fsync_dir(io, fx->dir, &err), 0);
    vg_io_set_op_log(io, NULL, NULL);
    static const vg_io_op_t want[] = {VG_IO_OP_OPEN, VG_IO_OP_WRITE, VG_IO_OP_FSYNC,
                                      VG_IO_OP_RENAME, VG_IO_OP_FSYNC_DIR};
    assert_int_equal(log.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(log.op[i], want[i]);
        assert_string_equal(log.path[i], i < 4 ? tmp : fx->dir);
    }
    assert_int_equal(log.res[1], (long)sizeof b);
    assert_int_equal(log.res[2], 0);
    assert_string_equal(vg_io_op_name(VG_IO_OP_FSYNC_DIR), "fsync_dir");
}

/* ---- backend choice ---- */

static void test_io_vigil_io_env_forces_posix(void **state)
{
    (void)state;
    char *saved = getenv("VIGIL_IO") ? strdup(getenv("VIGIL_IO")) : NULL;
    vg_io_t *io = NULL;
    vg_io_opts_t o = {.kind = VG_IO_URING};
    vg_error_t err;
    setenv("VIGIL_IO", "posix", 1);
    assert_int_equal(vg_io_create(&o, &io, &err), 0);
    assert_string_equal(vg_io_backend(io), "posix");
    vg_io_destroy(io);
    setenv("VIGIL_IO", "sometimes", 1);
    assert_int_equal(vg_io_create(&o, &io, &err), VG_EINVAL);
    assert_non_null(strstr(err.msg, "VIGIL_IO"));
    if (saved)
        setenv("VIGIL_IO", saved, 1);
    else
        unsetenv("VIGIL_IO");
    free(saved);
    o.kind = VG_IO_POSIX;
    assert_int_equal(vg_io_create(&o, &io, &err), 0);
    assert_string_equal(vg_io_backend(io), "posix");
    vg_io_destroy(io);
}

struct warnlog {
    int n;
    char level[16];
    char msg[256];
};

static void count_log(void *ctx, const char *level, const char *msg)
{
    struct warnlog *w = ctx;
    w->n++;
    snprintf(w->level, sizeof w->level, "%s", level);
    snprintf(w->msg, sizeof w->msg, "%s", msg);
}

/* In a child: deny io_uring_setup with EPERM (as docker's seccomp profile does). */
static int deny_io_uring(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int fallback_child(void)
{
    unsetenv("VIGIL_IO");
    if (deny_io_uring() != 0)
        return 77;
    struct warnlog w = {0};
    vg_io_opts_t o = {.kind = VG_IO_AUTO, .log = count_log, .log_ctx = &w};
    vg_io_t *io = NULL;
    vg_error_t err;
    if (vg_io_create(&o, &io, &err) != 0 || strcmp(vg_io_backend(io), "posix") != 0)
        return 10;
    vg_io_destroy(io);
    if (w.n != 1 || strcmp(w.level, "warn") != 0 ||
        !strstr(w.msg, "io_uring unavailable (") || !strstr(w.msg, strerror(EPERM)) ||
        !strstr(w.msg, "): using pwrite/fdatasync"))
        return 11;
    o.kind = VG_IO_URING;
    if (vg_io_create(&o, &io, &err) != VG_EIO || err.sys_errno != EPERM ||
        !strstr(err.msg, "io_uring unavailable") || w.n != 1)
        return 12;
    return 0;
}

static void test_io_auto_falls_back_to_posix_with_one_warning(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fallback_child());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* no seccomp here */
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- threads ---- */

enum { NTHREADS = 8, NRECORDS = 64, RECLEN = 3000 };

struct worker {
    vg_io_t *io;
    char path[PATH_MAX];
    int id;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int fd = -1;
    if (vg_io_open(w->io, w->path, O_CREAT | O_RDWR, 0644, &fd, NULL) != 0) {
        w->failures++;
        return NULL;
    }
    uint8_t rec[RECLEN];
    for (int i = 0; i < NRECORDS; i++) {
        fill(rec, sizeof rec, (uint64_t)(w->id * 1000 + i));
        if (vg_io_write_sync(w->io, fd, rec, sizeof rec, (off_t)i * RECLEN, NULL) != 0)
            w->failures++;
    }
    if (vg_io_close(w->io, fd) != 0)
        w->failures++;
    return NULL;
}

static void test_io_many_threads_write_sync_concurrently(void **state)
{
    vg_io_t *io = fx_io(state);
    static struct worker w[NTHREADS];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.wal", i);
        w[i] = (struct worker){.io = io, .id = i};
        path_in(state, name, w[i].path, sizeof w[i].path);
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    static uint8_t want[NRECORDS * RECLEN];
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].failures, 0);
        for (int r = 0; r < NRECORDS; r++)
            fill(want + r * RECLEN, RECLEN, (uint64_t)(i * 1000 + r));
        assert_file_is(w[i].path, want, sizeof want);
    }
}

static void test_io_reports_its_backend(void **state)
{
    vg_io_t *io = fx_io(state);
    struct fx *fx = *state;
    const char *env = getenv("VIGIL_IO");
    if (fx->kind == VG_IO_URING && !(env && strcmp(env, "posix") == 0))
        assert_string_equal(vg_io_backend(io), "io_uring");
    else
        assert_string_equal(vg_io_backend(io), "posix");
}

/* One test, run on each backend. */
#define BOTH(f)                                                                                  \
    {"posix/" #f, f, setup, teardown, &fx_posix}, {"uring/" #f, f, setup, teardown, &fx_uring}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_io_reports_its_backend),
        BOTH(test_io_round_trips_write_fsync_read),
        BOTH(test_io_write_sync_writes_a_large_buffer),
        BOTH(test_io_completes_a_short_write_transparently),
        BOTH(test_io_fsync_error_after_a_short_write_is_still_reported),
        BOTH(test_io_genuine_short_write_is_resubmitted),
        BOTH(test_io_fault_on_each_op_returns_eio_naming_the_path),
        BOTH(test_io_once_fault_fails_one_op_and_sticky_fails_all_later),
        BOTH(test_io_enospc_and_edquot_map_to_vg_enospc),
        BOTH(test_io_failed_fsync_in_write_sync_is_reported_not_retried),
        BOTH(test_io_failed_write_in_write_sync_never_reports_an_fsync),
        BOTH(test_io_eagain_and_eintr_in_a_write_are_retried),
        BOTH(test_io_cancelled_fsync_after_a_full_write_is_an_error),
        BOTH(test_io_rename_and_fsync_dir_publish_a_file),
        BOTH(test_io_maps_empty_and_nonempty_files),
        BOTH(test_io_crash_point_exits_with_the_crash_status),
        BOTH(test_io_op_log_records_the_publish_sequence_in_order),
        BOTH(test_io_many_threads_write_sync_concurrently),
        cmocka_unit_test(test_io_vigil_io_env_forces_posix),
        cmocka_unit_test(test_io_auto_falls_back_to_posix_with_one_warning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
