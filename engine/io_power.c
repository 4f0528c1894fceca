/*
 * io_power.c: the power-loss simulator of the I/O layer (VG_TESTING only).
 *
 * While tracking is on, io.c reports every change it is about to make to a
 * file or a directory, and every fsync that succeeded:
 *  - a write or ftruncate of a file is kept (with the bytes it overwrites,
 *    its "pre-image", and the size before it) until an fsync of that file
 *    succeeds;
 *  - a create, mkdir, rename or unlink is kept until an fsync of its
 *    directory (both directories for a rename) succeeds; an unlinked or
 *    replaced file stays reachable through an fd so that its contents can be
 *    put back.
 * vg__pw_apply() then makes the disk look as a power cut would have left it:
 *  - drop: every unsynced change is reverted, newest first (appended bytes
 *    cut, overwritten ranges restored, created files removed, created folders
 *    removed with all they hold, renames undone, unlinked files recreated);
 *  - tear: of each unsynced write a random prefix survives, cut at a 512-byte
 *    boundary of the file; the rest holds its old bytes or, past the old end
 *    of the file, is cut, zeros or garbage. Directory operations survive as a
 *    random prefix of their order (a journal replays in order).
 * Files are identified by device and inode, so renames do not lose them.
 * The tracker allocates with the C library directly: the failing-allocation
 * hook (vg_alloc.h) must not see it.
 */
#ifdef VG_TESTING

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_int.h"

enum { OP_WRITE, OP_TRUNC };
enum { D_CREATE, D_MKDIR, D_RENAME, D_UNLINK };

struct pw_op {
    int kind;
    off_t off;         /* write: first byte; trunc: the new length */
    off_t len;         /* write: bytes written */
    off_t size_before; /* the file's size before the change */
    uint8_t *pre;      /* write: old bytes of [off, min(off+len, size_before));
                          trunc: the bytes cut, [off, size_before) */
    size_t prelen;
};

struct pw_file {
    dev_t dev;
    ino_t ino;
    int fd; /* our own, for reverting even after rename or unlink */
    struct pw_op *ops;
    size_t n, cap;
};

struct pw_dop {
    int kind;
    char *a, *b; /* path (create, unlink), from and to (rename) */
    dev_t dev;   /* the file the operation named */
    ino_t ino;
    dev_t pdev[2]; /* parent folders of a and b */
    ino_t pino[2];
    int covered[2]; /* their fsync came */
    int keep_fd;    /* unlink: the file; rename: the file it replaced; or -1 */
};

struct vg_pw {
    pthread_mutex_t mu;
    int dead;
    struct pw_file *files;
    size_t nfiles, files_cap;
    struct pw_dop *dops;
    size_t ndops, dops_cap;
    unsigned long boundaries; /* fsync-family operations seen */
    unsigned long at;         /* lose power at this boundary (0: off) */
    int at_mode;
    uint64_t at_seed;
};

/* ---- setup ---- */

struct vg_pw *vg__pw_new(void)
{
    struct vg_pw *pw = calloc(1, sizeof *pw);
    if (pw)
        /* error-checking: a crash point inside a tracked write_sync (wal.written) relocks */
        pw->mu = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    return pw;
}

static void file_clear(struct pw_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->ops[i].pre);
    free(f->ops);
    if (f->fd >= 0)
        close(f->fd);
    f->ops = NULL;
    f->n = f->cap = 0;
    f->fd = -1;
}

static void dop_clear(struct pw_dop *d)
{
    free(d->a);
    free(d->b);
    if (d->keep_fd >= 0)
        close(d->keep_fd);
}

void vg__pw_free(struct vg_pw *pw)
{
    if (!pw)
        return;
    for (size_t i = 0; i < pw->nfiles; i++)
        file_clear(&pw->files[i]);
    for (size_t i = 0; i < pw->ndops; i++)
        dop_clear(&pw->dops[i]);
    free(pw->files);
    free(pw->dops);
    pthread_mutex_destroy(&pw->mu);
    free(pw);
}

void vg__pw_lock(struct vg_pw *pw)
{
    pthread_mutex_lock(&pw->mu);
}

void vg__pw_unlock(struct vg_pw *pw)
{
    pthread_mutex_unlock(&pw->mu);
}

int vg__pw_dead(struct vg_pw *pw)
{
    return pw && __atomic_load_n(&pw->dead, __ATOMIC_RELAXED);
}

/* ---- small helpers ---- */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, nc * size);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* Read exactly [off, off+len) of fd into a new buffer (holes read as zeros). */
static uint8_t *read_range(int fd, off_t off, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    size_t done = 0;
    while (b && done < len) {
        ssize_t n = pread(fd, b + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            memset(b + done, 0, len - done);
            break;
        }
        done += (size_t)n;
    }
    return b;
}

static void write_range(int fd, const uint8_t *p, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, p + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += (size_t)n;
    }
}

static off_t fd_size(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_size : 0;
}

static void parent_of(const char *path, dev_t *dev, ino_t *ino)
{
    char *copy = strdup(path);
    struct stat st;
    *dev = 0;
    *ino = 0;
    if (copy && stat(dirname(copy), &st) == 0) {
        *dev = st.st_dev;
        *ino = st.st_ino;
    }
    free(copy);
}

static struct pw_file *file_of(struct vg_pw *pw, int fd, int create)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    for (size_t i = 0; i < pw->nfiles; i++)
        if (pw->files[i].dev == st.st_dev && pw->files[i].ino == st.st_ino)
            return &pw->files[i];
    if (!create || grow((void **)&pw->files, &pw->files_cap, pw->nfiles, sizeof *pw->files))
        return NULL;
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0)
        return NULL;
    struct pw_file *f = &pw->files[pw->nfiles++];
    *f = (struct pw_file){.dev = st.st_dev, .ino = st.st_ino, .fd = own};
    return f;
}

static struct pw_op *op_push(struct pw_file *f)
{
    if (grow((void **)&f->ops, &f->cap, f->n, sizeof *f->ops))
        return NULL;
    struct pw_op *o = &f->ops[f->n++];
    memset(o, 0, sizeof *o);
    return o;
}

static struct pw_dop *dop_push(struct vg_pw *pw)
{
    if (grow((void **)&pw->dops, &pw->dops_cap, pw->ndops, sizeof *pw->dops))
        return NULL;
    struct pw_dop *d = &pw->dops[pw->ndops++];
    memset(d, 0, sizeof *d);
    d->keep_fd = -1;
    return d;
}

/* ---- what io.c reports (caller holds pw->mu) ---- */

void vg__pw_before_write(struct vg_pw *pw, int fd, off_t off, size_t len)
{
    struct pw_file *f = file_of(pw, fd, 1);
    struct pw_op *o = f ? op_push(f) : NULL;
    if (!o)
        return;
    off_t size = fd_size(fd);
    o->kind = OP_WRITE;
    o->off = off;
    o->len = (off_t)len;
    o->size_before = size;
    if (off < size) {
        off_t end = off + (off_t)len < size ? off + (off_t)len : size;
        o->prelen = (size_t)(end - off);
        o->pre = read_range(fd, off, o->prelen);
    }
}

void vg__pw_before_truncate(struct vg_pw *pw, int fd, off_t len)
{
    struct pw_file *f = file_of(pw, fd, 1);
    struct pw_op *o = f ? op_push(f) : NULL;
    if (!o)
        return;
    off_t size = fd_size(fd);
    o->kind = OP_TRUNC;
    o->off = len;
    o->size_before = size;
    if (len < size) {
        o->prelen = (size_t)(size - len);
        o->pre = read_range(fd, len, o->prelen);
    }
}

void vg__pw_synced(struct vg_pw *pw, int fd)
{
    struct pw_file *f = file_of(pw, fd, 0);
    if (!f)
        return;
    file_clear(f);
    *f = pw->files[--pw->nfiles];
}

void vg__pw_created(struct vg_pw *pw, const char *path, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;
    struct pw_dop *d = dop_push(pw);
    if (!d)
        return;
    d->kind = D_CREATE;
    d->a = strdup(path);
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    parent_of(path, &d->pdev[0], &d->pino[0]);
    d->covered[1] = 1;
}

void vg__pw_mkdir(struct vg_pw *pw, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    struct pw_dop *d = dop_push(pw);
    if (!d)
        return;
    d->kind = D_MKDIR;
    d->a = strdup(path);
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    parent_of(path, &d->pdev[0], &d->pino[0]);
    d->covered[1] = 1;
}

/* Before a rename: remember the file and the one it replaces. */
void vg__pw_before_rename(struct vg_pw *pw, const char *from, const char *to)
{
    struct stat st;
    if (stat(from, &st) != 0)
        return;
    struct pw_dop *d = dop_push(pw);
    if (!d)
        return;
    d->kind = D_RENAME;
    d->a = strdup(from);
    d->b = strdup(to);
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    parent_of(from, &d->pdev[0], &d->pino[0]);
    parent_of(to, &d->pdev[1], &d->pino[1]);
    d->keep_fd = open(to, O_RDONLY | O_CLOEXEC);
}

void vg__pw_before_unlink(struct vg_pw *pw, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    struct pw_dop *d = dop_push(pw);
    if (!d)
        return;
    d->kind = D_UNLINK;
    d->a = strdup(path);
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    parent_of(path, &d->pdev[0], &d->pino[0]);
    d->covered[1] = 1;
    d->keep_fd = open(path, O_RDONLY | O_CLOEXEC);
}

void vg__pw_dir_synced(struct vg_pw *pw, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return;
    size_t keep = 0;
    for (size_t i = 0; i < pw->ndops; i++) {
        struct pw_dop *d = &pw->dops[i];
        for (int k = 0; k < 2; k++)
            if (d->pdev[k] == st.st_dev && d->pino[k] == st.st_ino)
                d->covered[k] = 1;
        if (d->covered[0] && d->covered[1])
            dop_clear(d);
        else
            pw->dops[keep++] = *d;
    }
    pw->ndops = keep;
}

/* ---- applying a power cut ---- */

static uint64_t rnd(uint64_t *s)
{
    /* splitmix64: a fixed, portable sequence per seed */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fill [off, off+len) of fd with zeros or garbage. */
static void scribble(int fd, off_t off, off_t len, int garbage, uint64_t *seed)
{
    uint8_t buf[4096];
    while (len > 0) {
        size_t n = len < (off_t)sizeof buf ? (size_t)len : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = garbage ? (uint8_t)rnd(seed) : 0;
        write_range(fd, buf, n, off);
        off += (off_t)n;
        len -= (off_t)n;
    }
}

static void revert_write(int fd, const struct pw_op *o, int tear, uint64_t *seed)
{
    off_t end = o->off + o->len, cut = o->off;
    if (tear) {
        /* a 512-byte boundary of the file inside the write, or one of its ends */
        off_t first = (o->off + 511) / 512 * 512, nb = end > first ? (end - first) / 512 + 1 : 0;
        uint64_t pick = rnd(seed) % (uint64_t)(nb + 2);
        cut = pick == 0 ? o->off : pick == 1 ? end : first + (off_t)(pick - 2) * 512;
        if (cut > end)
            cut = end;
    }
    if (cut >= end)
        return; /* all of it survived */
    if (cut < o->size_before && o->pre) {
        off_t from = cut - o->off;
        write_range(fd, o->pre + from, o->prelen - (size_t)from, cut);
    }
    if (end <= o->size_before)
        return;
    off_t keep_to = cut > o->size_before ? cut : o->size_before;
    int how = tear ? (int)(rnd(seed) % 3) : 0;
    if (how == 0)
        (void)!ftruncate(fd, keep_to);
    else
        scribble(fd, keep_to, end - keep_to, how == 2, seed);
}

static void revert_trunc(int fd, const struct pw_op *o)
{
    if (o->size_before > o->off) {
        (void)!ftruncate(fd, o->size_before);
        if (o->pre)
            write_range(fd, o->pre, o->prelen, o->off);
    } else {
        (void)!ftruncate(fd, o->size_before);
    }
}

static int names(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    return path && lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Create path anew with the contents of src (a file that lost its name). */
static void recreate(const char *path, int src)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    off_t size = fd_size(src);
    uint8_t *b = read_range(src, 0, (size_t)size);
    if (b)
        write_range(fd, b, (size_t)size, 0);
    free(b);
    close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void revert_dop(const struct pw_dop *d)
{
    switch (d->kind) {
    case D_CREATE:
        if (names(d->a, d->dev, d->ino))
            unlink(d->a);
        break;
    case D_MKDIR: /* the folder's name is lost, and with it all it holds */
        if (names(d->a, d->dev, d->ino))
            nftw(d->a, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        break;
    case D_RENAME:
        if (names(d->b, d->dev, d->ino)) {
            if (rename(d->b, d->a) == 0 && d->keep_fd >= 0)
                recreate(d->b, d->keep_fd);
        }
        break;
    case D_UNLINK:
        if (d->keep_fd >= 0 && access(d->a, F_OK) != 0)
            recreate(d->a, d->keep_fd);
        break;
    }
}

/* Caller holds pw->mu. Returns how many changes were reverted or torn. */
unsigned long vg__pw_apply(struct vg_pw *pw, int mode, uint64_t seed)
{
    int tear = mode == VG_IO_POWER_TEAR;
    uint64_t s = seed ^ 0x5eed5eedull;
    unsigned long n = 0;
    for (size_t i = 0; i < pw->nfiles; i++) {
        struct pw_file *f = &pw->files[i];
        for (size_t k = f->n; k-- > 0;) {
            if (f->ops[k].kind == OP_WRITE)
                revert_write(f->fd, &f->ops[k], tear, &s);
            else if (!tear || rnd(&s) % 2)
                revert_trunc(f->fd, &f->ops[k]);
            n++;
        }
        file_clear(f);
    }
    pw->nfiles = 0;
    size_t survive = tear ? (size_t)(rnd(&s) % (pw->ndops + 1)) : 0;
    for (size_t i = pw->ndops; i-- > survive;) {
        revert_dop(&pw->dops[i]);
        n++;
    }
    for (size_t i = 0; i < pw->ndops; i++)
        dop_clear(&pw->dops[i]);
    pw->ndops = 0;
    __atomic_store_n(&pw->dead, 1, __ATOMIC_RELAXED);
    return n;
}

/* An fsync-family operation is about to run: count it; lose power when it
 * is the armed one (returns 1: the caller fails the operation). */
int vg__pw_boundary(struct vg_pw *pw)
{
    pw->boundaries++;
    if (pw->at && pw->boundaries == pw->at) {
        vg__pw_apply(pw, pw->at_mode, pw->at_seed);
        return 1;
    }
    return 0;
}

void vg__pw_arm(struct vg_pw *pw, unsigned long k, int mode, uint64_t seed)
{
    pw->at = k ? pw->boundaries + k : 0;
    pw->at_mode = mode;
    pw->at_seed = seed;
}

unsigned long vg__pw_boundaries(struct vg_pw *pw)
{
    return pw->boundaries;
}

#else
typedef int vg_io_power_unused; /* ISO C: a translation unit must declare something */
#endif
