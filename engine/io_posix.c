/*
 * io_posix.c: the plain-syscall backend (pwrite, fdatasync, ...).
 *
 * Used when no io_uring ring can be set up, when VIGIL_IO=posix, and by the
 * ring backend for any opcode the running kernel lacks. Every primitive
 * returns -errno on failure and never maps it (io.c does).
 *
 * Invariants: pwrite completes short writes and retries EINTR/EAGAIN (at
 * most VG_IO_MAX_RETRY times in a row); fsync is never retried; a failed
 * write in write_sync returns before any fsync. Injected faults are returned
 * from the wrapper without making the syscall, as if the kernel had failed it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_int.h"

static int posix_init(vg_io_t *io, unsigned ring_entries, const char **why)
{
    (void)ring_entries;
    (void)why;
    vg__io_set_state(io, NULL);
    return 0;
}

static void posix_fini(vg_io_t *io)
{
    (void)io;
}

static int posix_open(vg_io_t *io, const char *path, int flags, mode_t mode, vg_io_op_t fop)
{
    if (fop != VG_IO_OP_NONE) {
        int f = vg__io_fault_take(io, fop, NULL);
        if (f)
            return -f;
    }
    int fd;
    do
        fd = open(path, flags, mode);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int posix_close(vg_io_t *io, int fd)
{
    (void)io;
    /* Linux releases the fd even when close reports EINTR: never retry. */
    return close(fd) < 0 ? -errno : 0;
}

static int posix_pwrite(vg_io_t *io, int fd, const void *buf, size_t len, off_t off)
{
    const char *p = buf;
    size_t done = 0;
    unsigned retries = 0;
    while (done < len) {
        int go_short = 0;
        int f = vg__io_fault_take(io, VG_IO_OP_WRITE, &go_short);
        size_t want = len - done;
        if (go_short && want >= 2)
            want /= 2;
        ssize_t n = f ? -1 : pwrite(fd, p + done, want, off + (off_t)done);
        if (n < 0) {
            int e = f ? f : errno;
            if ((e == EINTR || e == EAGAIN) && ++retries < VG_IO_MAX_RETRY)
                continue;
            return -e;
        }
        if (n == 0 && want > 0)
            return -EIO; /* no progress on a regular file: do not spin */
        retries = 0;
        done += (size_t)n;
    }
    return 0;
}

static int posix_fsync(vg_io_t *io, int fd, int datasync, vg_io_op_t fop)
{
    int f = vg__io_fault_take(io, fop, NULL);
    if (f)
        return -f;
    /* No retry, not even on EINTR: after a failed fsync the kernel may have
     * dropped the dirty pages, and a second call could "succeed" without them. */
    int rc = datasync ? fdatasync(fd) : fsync(fd);
    return rc < 0 ? -errno : 0;
}

static int posix_write_sync(vg_io_t *io, int fd, const void *buf, size_t len, off_t off,
                            vg_io_op_t *failed_op)
{
    int rc = posix_pwrite(io, fd, buf, len, off);
    if (rc < 0) {
        *failed_op = VG_IO_OP_WRITE;
        return rc;
    }
    vg_io_crash_point(io, "wal.written"); /* write_sync is the WAL's: written, not yet synced */
    rc = posix_fsync(io, fd, 1, VG_IO_OP_FSYNC);
    if (rc < 0)
        *failed_op = VG_IO_OP_FSYNC;
    return rc;
}

static int posix_pread(vg_io_t *io, int fd, void *buf, size_t len, off_t off, size_t *got)
{
    char *p = buf;
    size_t done = 0;
    unsigned retries = 0;
    while (done < len) {
        int f = vg__io_fault_take(io, VG_IO_OP_READ, NULL);
        ssize_t n = f ? -1 : pread(fd, p + done, len - done, off + (off_t)done);
        if (n < 0) {
            int e = f ? f : errno;
            if ((e == EINTR || e == EAGAIN) && ++retries < VG_IO_MAX_RETRY)
                continue;
            *got = done;
            return -e;
        }
        if (n == 0)
            break; /* end of file */
        retries = 0;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

static int posix_rename(vg_io_t *io, const char *from, const char *to)
{
    int f = vg__io_fault_take(io, VG_IO_OP_RENAME, NULL);
    if (f)
        return -f;
    return rename(from, to) < 0 ? -errno : 0;
}

static int posix_unlink(vg_io_t *io, const char *path)
{
    int f = vg__io_fault_take(io, VG_IO_OP_UNLINK, NULL);
    if (f)
        return -f;
    return unlink(path) < 0 ? -errno : 0;
}

static int posix_mkdir(vg_io_t *io, const char *path, mode_t mode)
{
    int f = vg__io_fault_take(io, VG_IO_OP_MKDIR, NULL);
    if (f)
        return -f;
    return mkdir(path, mode) < 0 ? -errno : 0;
}

const struct vg_io_ops vg__io_posix_ops = {
    .name = "posix",
    .init = posix_init,
    .fini = posix_fini,
    .open = posix_open,
    .close = posix_close,
    .pwrite = posix_pwrite,
    .write_sync = posix_write_sync,
    .fsync = posix_fsync,
    .pread = posix_pread,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
};
