/*
 * io_uring.c: the io_uring backend (liburing 2.3).
 *
 * A small pool of rings serves all threads: an operation takes a free ring
 * (waiting on a condition variable when all are busy), submits its SQEs,
 * waits for exactly their completions, and gives the ring back. So every
 * call is synchronous for its caller, and a buffer is never touched by us
 * nor released to the caller before its CQE arrived.
 *
 * write_sync links the write to an fdatasync with IOSQE_IO_LINK (never
 * IOSQE_IO_HARDLINK: a hard link would run the fsync after a failed write
 * and make it look durable). A short write breaks the link and the fsync
 * completes -ECANCELED: the remainder is resubmitted, linked to a new fsync,
 * until every byte is written and an fsync after them returned 0. -EAGAIN /
 * -EINTR in a write completion resubmit that write; an fsync is never
 * resubmitted once it ran ("fsyncgate").
 *
 * Opcodes are probed at setup; one the kernel lacks goes through the posix
 * backend instead (which then also takes the faults for it).
 *
 * Test faults (VG_TESTING) arrive in the completion, as the kernel would
 * deliver them: an injected write error is submitted against fd -1 so the
 * chain breaks for real and the linked fsync is cancelled; ops with side
 * effects (open, rename, ...) become a NOP whose result is replaced; an
 * fsync runs and its result is replaced.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>

#include "io_int.h"
#include "vigil/vg_alloc.h"

#define RING_POOL 4
/* One SQE moves at most this much (the kernel caps a read/write near 2 GiB). */
#define RING_MAX_IO ((size_t)1 << 30)

struct ring {
    struct io_uring r;
    int busy;   /* under uring_state.mu */
    int broken; /* written by the ring's holder, read under mu only when not busy */
};

struct uring_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned nrings;
    struct ring rings[RING_POOL];
    unsigned char have[IORING_OP_LAST]; /* opcodes the kernel supports */
};

/* ---- the pool ---- */

/* A free, healthy ring that supports opcode, or NULL: then use the posix backend. */
static struct ring *ring_take(vg_io_t *io, int opcode)
{
    struct uring_state *s = vg__io_state(io);
    if (!s->have[opcode])
        return NULL;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int healthy = 0;
        for (unsigned i = 0; i < s->nrings; i++) {
            struct ring *r = &s->rings[i];
            if (r->busy) {
                healthy = 1;
                continue;
            }
            if (r->broken)
                continue;
            r->busy = 1;
            pthread_mutex_unlock(&s->mu);
            return r;
        }
        if (!healthy) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

static void ring_put(vg_io_t *io, struct ring *r)
{
    struct uring_state *s = vg__io_state(io);
    pthread_mutex_lock(&s->mu);
    r->busy = 0;
    /* broadcast: a ring that just broke may leave waiters with none healthy */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The caller sets the slot (user_data) after its prep call. */
static struct io_uring_sqe *sqe_next(struct ring *r)
{
    /* The ring is drained after every operation and holds >= 4 entries. */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->r);
    assert(sqe != NULL);
    return sqe;
}

/*
 * Submit the n prepared SQEs and wait for all of their completions; res[i]
 * receives the result of the SQE in slot i. Returns 0, or -errno when the
 * ring itself failed (then it is marked broken and never used again).
 */
static int ring_run(struct ring *r, unsigned n, int *res)
{
    unsigned submitted = 0, tries = 0;
    int rc = 0;
    while (submitted < n) {
        int k = io_uring_submit(&r->r);
        if (k < 0 && (k == -EINTR || k == -EAGAIN || k == -EBUSY) && ++tries < VG_IO_MAX_RETRY)
            continue;
        if (k <= 0) {
            rc = k < 0 ? k : -EIO;
            r->broken = 1;
            break;
        }
        submitted += (unsigned)k;
    }
    /* Whatever was submitted owns its buffers until its CQE: wait for all of it. */
    for (unsigned i = 0; i < submitted; i++) {
        struct io_uring_cqe *cqe;
        int w;
        do
            w = io_uring_wait_cqe(&r->r, &cqe);
        while (w == -EINTR);
        if (w < 0) {
            r->broken = 1;
            return w;
        }
        uint64_t slot = io_uring_cqe_get_data64(cqe);
        if (slot < n)
            res[slot] = cqe->res;
        io_uring_cqe_seen(&r->r, cqe);
    }
    return rc;
}

/* Run one prepared SQE in slot 0; an injected fault f replaces its result. */
static int ring_finish(vg_io_t *io, struct ring *r, int f)
{
    int res = 0;
    int rc = ring_run(r, 1, &res);
    ring_put(io, r);
    if (rc < 0)
        return rc;
    return f ? -f : res;
}

/* The result of an fsync that ran: consult (and count) the fsync fault. */
static int fsync_result(vg_io_t *io, int res, vg_io_op_t fop)
{
    if (res == -ECANCELED)
        return res; /* it never ran */
    int f = vg__io_fault_take(io, fop, NULL);
    return f ? -f : res;
}

/* ---- setup ---- */

static int probe_ops(struct uring_state *s, const char **why)
{
    struct io_uring_probe *p = io_uring_get_probe_ring(&s->rings[0].r);
    if (!p) {
        *why = "io_uring_get_probe_ring";
        return -ENOSYS;
    }
    static const int ops[] = {IORING_OP_NOP,     IORING_OP_WRITE,    IORING_OP_READ,
                              IORING_OP_FSYNC,   IORING_OP_OPENAT,   IORING_OP_CLOSE,
                              IORING_OP_RENAMEAT, IORING_OP_UNLINKAT, IORING_OP_MKDIRAT};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        s->have[ops[i]] = io_uring_opcode_supported(p, ops[i]) ? 1 : 0;
    io_uring_free_probe(p);
    /* The data path must be on the ring; the rest may fall back per op. */
    if (!s->have[IORING_OP_NOP] || !s->have[IORING_OP_WRITE] || !s->have[IORING_OP_READ] ||
        !s->have[IORING_OP_FSYNC]) {
        *why = "kernel lacks IORING_OP_WRITE/READ/FSYNC";
        return -ENOSYS;
    }
    return 0;
}

static int uring_init(vg_io_t *io, unsigned entries, const char **why)
{
    struct uring_state *s = vg_calloc(1, sizeof *s);
    if (!s) {
        *why = "allocating the ring pool";
        return -ENOMEM;
    }
    if (entries < 4)
        entries = 4;
    int rc = io_uring_queue_init(entries, &s->rings[0].r, 0);
    if (rc < 0) {
        *why = "io_uring_queue_init";
        vg_free(s);
        return rc;
    }
    s->nrings = 1;
    rc = probe_ops(s, why);
    if (rc < 0) {
        io_uring_queue_exit(&s->rings[0].r);
        vg_free(s);
        return rc;
    }
    /* More rings only add concurrency: settle for fewer when memory is short. */
    while (s->nrings < RING_POOL && io_uring_queue_init(entries, &s->rings[s->nrings].r, 0) == 0)
        s->nrings++;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    vg__io_set_state(io, s);
    return 0;
}

static void uring_fini(vg_io_t *io)
{
    struct uring_state *s = vg__io_state(io);
    if (!s)
        return;
    for (unsigned i = 0; i < s->nrings; i++)
        io_uring_queue_exit(&s->rings[i].r);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    vg_free(s);
    vg__io_set_state(io, NULL);
}

/* ---- single operations ---- */

static int uring_open(vg_io_t *io, const char *path, int flags, mode_t mode, vg_io_op_t fop)
{
    struct ring *r = ring_take(io, IORING_OP_OPENAT);
    if (!r)
        return vg__io_posix_ops.open(io, path, flags, mode, fop);
    int f = fop != VG_IO_OP_NONE ? vg__io_fault_take(io, fop, NULL) : 0;
    struct io_uring_sqe *sqe = sqe_next(r);
    if (f)
        io_uring_prep_nop(sqe);
    else
        io_uring_prep_openat(sqe, AT_FDCWD, path, flags, mode);
    io_uring_sqe_set_data64(sqe, 0);
    return ring_finish(io, r, f);
}

static int uring_close(vg_io_t *io, int fd)
{
    struct ring *r = ring_take(io, IORING_OP_CLOSE);
    if (!r)
        return vg__io_posix_ops.close(io, fd);
    struct io_uring_sqe *sqe = sqe_next(r);
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, 0);
    return ring_finish(io, r, 0);
}

static int uring_rename(vg_io_t *io, const char *from, const char *to)
{
    struct ring *r = ring_take(io, IORING_OP_RENAMEAT);
    if (!r)
        return vg__io_posix_ops.rename(io, from, to);
    int f = vg__io_fault_take(io, VG_IO_OP_RENAME, NULL);
    struct io_uring_sqe *sqe = sqe_next(r);
    if (f)
        io_uring_prep_nop(sqe);
    else
        io_uring_prep_renameat(sqe, AT_FDCWD, from, AT_FDCWD, to, 0);
    io_uring_sqe_set_data64(sqe, 0);
    return ring_finish(io, r, f);
}

static int uring_unlink(vg_io_t *io, const char *path)
{
    struct ring *r = ring_take(io, IORING_OP_UNLINKAT);
    if (!r)
        return vg__io_posix_ops.unlink(io, path);
    int f = vg__io_fault_take(io, VG_IO_OP_UNLINK, NULL);
    struct io_uring_sqe *sqe = sqe_next(r);
    if (f)
        io_uring_prep_nop(sqe);
    else
        io_uring_prep_unlinkat(sqe, AT_FDCWD, path, 0);
    io_uring_sqe_set_data64(sqe, 0);
    return ring_finish(io, r, f);
}

static int uring_mkdir(vg_io_t *io, const char *path, mode_t mode)
{
    struct ring *r = ring_take(io, IORING_OP_MKDIRAT);
    if (!r)
        return vg__io_posix_ops.mkdir(io, path, mode);
    int f = vg__io_fault_take(io, VG_IO_OP_MKDIR, NULL);
    struct io_uring_sqe *sqe = sqe_next(r);
    if (f)
        io_uring_prep_nop(sqe);
    else
        io_uring_prep_mkdirat(sqe, AT_FDCWD, path, mode);
    io_uring_sqe_set_data64(sqe, 0);
    return ring_finish(io, r, f);
}

static int uring_fsync(vg_io_t *io, int fd, int datasync, vg_io_op_t fop)
{
    struct ring *r = ring_take(io, IORING_OP_FSYNC);
    if (!r)
        return vg__io_posix_ops.fsync(io, fd, datasync, fop);
    struct io_uring_sqe *sqe = sqe_next(r);
    io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    io_uring_sqe_set_data64(sqe, 0);
    int res = 0;
    int rc = ring_run(r, 1, &res);
    ring_put(io, r);
    if (rc < 0)
        return rc;
    return fsync_result(io, res, fop);
}

static int uring_pread(vg_io_t *io, int fd, void *buf, size_t len, off_t off, size_t *got)
{
    struct ring *r = ring_take(io, IORING_OP_READ);
    if (!r)
        return vg__io_posix_ops.pread(io, fd, buf, len, off, got);
    char *p = buf;
    size_t done = 0;
    unsigned retries = 0;
    int rc = 0;
    while (done < len) {
        size_t sub = len - done < RING_MAX_IO ? len - done : RING_MAX_IO;
        int f = vg__io_fault_take(io, VG_IO_OP_READ, NULL);
        struct io_uring_sqe *sqe = sqe_next(r);
        if (f)
            io_uring_prep_nop(sqe);
        else
            io_uring_prep_read(sqe, fd, p + done, (unsigned)sub, (uint64_t)off + done);
        io_uring_sqe_set_data64(sqe, 0);
        int res = 0;
        rc = ring_run(r, 1, &res);
        if (rc < 0)
            break;
        if (f)
            res = -f;
        if (res < 0) {
            if ((res == -EAGAIN || res == -EINTR) && ++retries < VG_IO_MAX_RETRY)
                continue;
            rc = res;
            break;
        }
        if (res == 0)
            break; /* end of file */
        retries = 0;
        done += (size_t)res;
    }
    ring_put(io, r);
    *got = done;
    return rc;
}

/* ---- writes ---- */

/* The state of one write(+fsync) submission round. */
struct wround {
    size_t want;   /* bytes still to write */
    size_t sub;    /* bytes this round's SQE asks for */
    int fault;     /* injected errno for the write, 0 for none */
    int go_short;  /* test hook: this write was deliberately shortened */
    int wres, fres;
};

/* Prepare and run one round: a write of p[0..want) (when want > 0), linked to an fdatasync. */
static int write_round(vg_io_t *io, struct ring *r, int fd, const char *p, off_t off, int sync,
                       struct wround *w)
{
    unsigned n = 0;
    int res[2] = {0, 0};
    w->sub = w->want < RING_MAX_IO ? w->want : RING_MAX_IO;
    w->fault = w->go_short = 0;
    if (w->want > 0) {
        w->fault = vg__io_fault_take(io, VG_IO_OP_WRITE, &w->go_short);
        if (w->go_short && w->sub >= 2)
            w->sub /= 2;
        struct io_uring_sqe *sqe = sqe_next(r);
        /* fd -1 makes the kernel fail the write, so the link breaks for real. */
        io_uring_prep_write(sqe, w->fault ? -1 : fd, p, (unsigned)w->sub, (uint64_t)off);
        io_uring_sqe_set_data64(sqe, n++);
        if (sync)
            io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
    }
    if (sync) {
        struct io_uring_sqe *sqe = sqe_next(r);
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(sqe, n++);
    }
    int rc = ring_run(r, n, res);
    if (rc < 0)
        return rc;
    w->wres = w->want > 0 ? res[0] : 0;
    w->fres = sync ? res[n - 1] : 0;
    if (w->fault)
        w->wres = -w->fault;
    /* A shortened write was complete for the kernel, which let the fsync run;
     * a genuinely short write would have cancelled it: report that. */
    if (w->go_short && w->sub < w->want && w->wres == (int)w->sub && w->fres == 0)
        w->fres = -ECANCELED;
    if (sync)
        w->fres = fsync_result(io, w->fres, VG_IO_OP_FSYNC);
    return 0;
}

/*
 * Write all of p[0..len) at off, each round linked to an fdatasync when
 * sync, until every byte is written and (sync) an fsync after the last
 * byte returned 0. On failure *failed_op names the step.
 */
static int write_loop(vg_io_t *io, struct ring *r, int fd, const char *p, size_t len, off_t off,
                      int sync, vg_io_op_t *failed_op)
{
    size_t done = 0;
    unsigned retries = 0;
    *failed_op = VG_IO_OP_WRITE;
    for (;;) {
        struct wround w = {.want = len - done};
        if (w.want == 0 && !sync)
            return 0;
        int rc = write_round(io, r, fd, p + done, off + (off_t)done, sync, &w);
        if (rc < 0)
            return rc;
        if (w.wres < 0) {
            /* The linked fsync was cancelled with it: resubmitting is not a retried fsync. */
            if ((w.wres == -EAGAIN || w.wres == -EINTR) && ++retries < VG_IO_MAX_RETRY)
                continue;
            return w.wres;
        }
        if (w.wres == 0 && w.want > 0)
            return -EIO; /* no progress on a regular file: do not spin */
        retries = 0;
        done += (size_t)w.wres;
        /* -ECANCELED after a short write only means "not run yet"; anything
         * else negative is the fsync's own failure, final. */
        if (w.fres < 0 && (w.fres != -ECANCELED || done == len)) {
            *failed_op = VG_IO_OP_FSYNC;
            return w.fres;
        }
        if (done == len)
            return 0;
    }
}

static int uring_pwrite(vg_io_t *io, int fd, const void *buf, size_t len, off_t off)
{
    struct ring *r = ring_take(io, IORING_OP_WRITE);
    if (!r)
        return vg__io_posix_ops.pwrite(io, fd, buf, len, off);
    vg_io_op_t failed;
    int rc = write_loop(io, r, fd, buf, len, off, 0, &failed);
    ring_put(io, r);
    return rc;
}

static int uring_write_sync(vg_io_t *io, int fd, const void *buf, size_t len, off_t off,
                            vg_io_op_t *failed_op)
{
    struct ring *r = ring_take(io, IORING_OP_WRITE);
    if (!r)
        return vg__io_posix_ops.write_sync(io, fd, buf, len, off, failed_op);
    int rc = write_loop(io, r, fd, buf, len, off, 1, failed_op);
    ring_put(io, r);
    return rc;
}

const struct vg_io_ops vg__io_uring_ops = {
    .name = "io_uring",
    .init = uring_init,
    .fini = uring_fini,
    .open = uring_open,
    .close = uring_close,
    .pwrite = uring_pwrite,
    .write_sync = uring_write_sync,
    .fsync = uring_fsync,
    .pread = uring_pread,
    .rename = uring_rename,
    .unlink = uring_unlink,
    .mkdir = uring_mkdir,
};
