/*
 * test_wal.c: the write-ahead log alone (engine/wal.h), on the I/O layer
 * picked by VIGIL_IO (CI runs the suite on io_uring and on posix).
 *
 * Records are checked by replaying them; file contents are damaged with
 * plain libc calls, and record boundaries are found by walking the file
 * with the framing documented in wal.h, independently of wal.c.
 * Each test gets a fresh temp dir under $VG_TEST_TMP (or /tmp).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "vigil/vg_alloc.h"
#include "wal.h"

typedef struct fx {
    char dir[1024];
    vg_io_t *io;
} fx_t;

/* ---- helpers ---- */

static const char *tmp_base(void)
{
    const char *b = getenv("VG_TEST_TMP");
    if (!b || !*b)
        return "/tmp";
    mkdir(b, 0755);
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
    fx_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/test_wal.XXXXXX", tmp_base());
    if (!mkdtemp(fx->dir))
        return -1;
    vg_io_opts_t o = {.kind = VG_IO_AUTO};
    vg_error_t err = {0};
    if (vg_io_create(&o, &fx->io, &err) != VG_OK) {
        fprintf(stderr, "vg_io_create: %s\n", err.msg);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    vg_io_destroy(fx->io);
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static vg_wal_t *open_wal(fx_t *fx, vg_wal_mode_t mode, uint64_t file_bytes, uint64_t next_lsn,
                          uint64_t next_seq)
{
    vg_wal_opts_t o = {.mode = mode,
                       .group_ms = 1,
                       .file_bytes = file_bytes,
                       .next_lsn = next_lsn,
                       .next_seq = next_seq};
    vg_wal_t *w = NULL;
    vg_error_t err = {0};
    int rc = vg_wal_open(fx->io, fx->dir, &o, &w, &err);
    if (rc)
        fprintf(stderr, "vg_wal_open: %s\n", err.msg);
    assert_int_equal(rc, VG_OK);
    return w;
}

/* Payload of record number i: text that says i, of a length that varies
 * (some compress, some do not). */
static size_t payload_of(uint64_t i, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "m,k=v%" PRIu64 " seq=%" PRIu64 "i %" PRIu64 "\n", i % 7,
                                i, 1000 + i);
    size_t extra = (i * 37) % 300;
    uint32_t x = (uint32_t)(i * 2654435761u);
    for (size_t k = 0; k < extra && n + 1 < cap; k++) {
        x = x * 1103515245u + 12345u;
        buf[n++] = (i % 3 == 0) ? 'a' : (char)('a' + (x >> 16) % 26);
    }
    return n;
}

static uint64_t append_one(vg_wal_t *w, uint64_t i)
{
    char buf[512];
    size_t n = payload_of(i, buf, sizeof buf);
    uint64_t lsn = 0;
    vg_error_t err = {0};
    assert_int_equal(vg_wal_append(w, buf, n, &lsn, &err), VG_OK);
    return lsn;
}

static void append_sync(vg_wal_t *w, uint64_t i)
{
    uint64_t lsn = append_one(w, i);
    vg_error_t err = {0};
    assert_int_equal(vg_wal_sync(w, lsn, &err), VG_OK);
}

typedef struct seen {
    uint64_t *lsn;
    char **payload;
    size_t *len;
    size_t n, cap;
} seen_t;

static int collect(void *ctx, uint64_t lsn, const char *payload, size_t len, vg_error_t *err)
{
    (void)err;
    seen_t *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->lsn = realloc(s->lsn, s->cap * sizeof *s->lsn);
        s->payload = realloc(s->payload, s->cap * sizeof *s->payload);
        s->len = realloc(s->len, s->cap * sizeof *s->len);
    }
    s->lsn[s->n] = lsn;
    s->payload[s->n] = malloc(len + 1);
    memcpy(s->payload[s->n], payload, len);
    s->len[s->n] = len;
    s->n++;
    return VG_OK;
}

static void seen_free(seen_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->payload[i]);
    free(s->lsn);
    free(s->payload);
    free(s->len);
    memset(s, 0, sizeof *s);
}

static int replay(fx_t *fx, uint64_t after, int cut, seen_t *s, vg_wal_replay_report_t *rep,
                  vg_error_t *err)
{
    seen_free(s);
    return vg_wal_replay(fx->io, fx->dir, after, cut, collect, s, rep, err);
}

/* Records i = first..first+n-1 were written as LSN i: check payloads. */
static void expect_records(const seen_t *s, uint64_t first, size_t n)
{
    assert_int_equal(s->n, n);
    for (size_t k = 0; k < n; k++) {
        char buf[512];
        size_t len = payload_of(first + k, buf, sizeof buf);
        assert_int_equal(s->lsn[k], first + k);
        assert_int_equal(s->len[k], len);
        assert_memory_equal(s->payload[k], buf, len);
    }
}

/* Sorted paths of the *.wal files. */
static size_t wal_files(fx_t *fx, char names[][PATH_MAX], size_t max)
{
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strlen(de->d_name) == 20 && strcmp(de->d_name + 16, ".wal") == 0 && n < max)
            snprintf(names[n++], PATH_MAX, "%s/%s", fx->dir, de->d_name);
    closedir(d);
    qsort(names, n, PATH_MAX, (int (*)(const void *, const void *))strcmp);
    return n;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_all(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Record start offsets of a WAL file image, walked by the documented framing;
 * ends[k] is where record k ends. Returns the count. */
static size_t record_bounds(const uint8_t *p, size_t len, size_t *starts, size_t *ends, size_t max)
{
    size_t off = VG_WAL_FILE_HEADER, n = 0;
    while (off + VG_WAL_REC_HEADER <= len && n < max) {
        uint32_t magic, clen;
        memcpy(&magic, p + off, 4);
        memcpy(&clen, p + off + 16, 4);
        if (magic != VG_WAL_REC_MAGIC || off + VG_WAL_REC_HEADER + clen > len)
            break;
        starts[n] = off;
        ends[n] = off + VG_WAL_REC_HEADER + clen;
        off = ends[n++];
    }
    return n;
}

static void flip_bit(const char *path, size_t off, int bit)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* ---- tests ---- */

static void test_wal_records_round_trip_in_lsn_order_across_files_and_rolls(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    /* small files: appends roll by size, and explicit rolls start new ones too */
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 2048, 1, 1);
    uint64_t i = 1;
    for (; i <= 60; i++) {
        append_sync(w, i);
        if (i == 20 || i == 41) {
            uint64_t last = 0;
            assert_int_equal(vg_wal_roll(w, &last, &err), VG_OK);
            assert_int_equal(last, i);
        }
    }
    assert_int_equal(vg_wal_last_lsn(w), 60);
    assert_false(vg_wal_failed(w));
    assert_true(vg_wal_bytes(w) > 60 * VG_WAL_REC_HEADER);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);

    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 60);
    assert_true(rep.files >= 4);
    assert_int_equal(rep.records, 60);
    assert_int_equal(rep.last_lsn, 60);
    assert_int_equal(rep.torn_bytes, 0);

    /* a second run continues the LSNs in a new file */
    w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 2048, rep.last_lsn + 1, rep.last_seq + 1);
    for (; i <= 75; i++)
        append_sync(w, i);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 75);
    seen_free(&s);
}

static void test_wal_queued_records_are_synced_by_close_and_by_a_later_sync(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_GROUP, 0, 1, 1);
    uint64_t l1 = append_one(w, 1), l2 = append_one(w, 2), l3 = append_one(w, 3);
    assert_int_equal(l1, 1);
    assert_int_equal(l3, 3);
    assert_int_equal(vg_wal_sync(w, l2, &err), VG_OK); /* syncs everything queued */
    assert_true(vg_wal_last_lsn(w) >= 2);
    append_one(w, 4);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 0, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 4);
    seen_free(&s);
}

typedef struct gc_ctx {
    vg_wal_t *w;
    pthread_mutex_t *mu;
    int per;
    int failures;
} gc_ctx_t;

static void *gc_thread(void *arg)
{
    gc_ctx_t *c = arg;
    for (int k = 0; k < c->per; k++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "thread payload %d", k);
        uint64_t lsn;
        /* appends are serialised by the caller (the db write lock) */
        pthread_mutex_lock(c->mu);
        int rc = vg_wal_append(c->w, buf, (size_t)n, &lsn, NULL);
        pthread_mutex_unlock(c->mu);
        if (rc == VG_OK)
            rc = vg_wal_sync(c->w, lsn, NULL);
        if (rc != VG_OK || vg_wal_last_lsn(c->w) < lsn)
            c->failures++;
    }
    return NULL;
}

static void group_commit(fx_t *fx, vg_wal_mode_t mode)
{
    enum { NT = 4, PER = 150 };
    vg_wal_t *w = open_wal(fx, mode, 16384, 1, 1);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t th[NT];
    gc_ctx_t c[NT];
    for (int i = 0; i < NT; i++) {
        c[i] = (gc_ctx_t){w, &mu, PER, 0};
        assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &c[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].failures, 0);
    }
    vg_error_t err = {0};
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 0, &s, &rep, &err), VG_OK);
    assert_int_equal(s.n, NT * PER);
    for (size_t k = 0; k < s.n; k++)
        assert_int_equal(s.lsn[k], k + 1); /* each LSN once, in order */
    assert_true(rep.files >= 2);
    seen_free(&s);
}

static void test_wal_group_commit_from_threads_replays_every_lsn_once(void **state)
{
    fx_t *fx = *state;
    group_commit(fx, VG_WAL_SYNC_MODE_FULL);
    nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(fx->dir, 0755);
    group_commit(fx, VG_WAL_SYNC_MODE_GROUP);
}

/* A fault of kind op on the next such operation: the sync fails, the log
 * is failed for good, and the failed record is never replayed. */
static void fault_fails_for_good(fx_t *fx, vg_io_op_t op, int errno_val, int expect)
{
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 1);
    append_sync(w, 1);
    append_sync(w, 2);
    vg_io_fault_fail(fx->io, op, 1, 0, errno_val);
    uint64_t lsn = append_one(w, 3);
    int rc = vg_wal_sync(w, lsn, &err);
    assert_int_equal(rc, expect);
    assert_int_equal(err.code, expect);
    assert_int_equal(err.sys_errno, errno_val);
    assert_true(vg_wal_failed(w));
    assert_int_equal(vg_wal_last_lsn(w), 2);
    /* the fault was one-shot, yet nothing succeeds after it */
    vg_error_t e2 = {0};
    char p[] = "later";
    uint64_t l2 = 0;
    assert_int_not_equal(vg_wal_append(w, p, sizeof p, &l2, &e2), VG_OK);
    assert_int_equal(e2.code, expect);
    assert_int_not_equal(vg_wal_sync(w, lsn, &e2), VG_OK);
    assert_int_not_equal(vg_wal_sync(w, 1, &e2), VG_OK);
    uint64_t last = 0;
    assert_int_not_equal(vg_wal_roll(w, &last, &e2), VG_OK);
    vg_wal_close(w, NULL);

    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 2);
    /* and a new run after it continues cleanly */
    w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, rep.last_lsn + 1, rep.last_seq + 1);
    append_sync(w, 3);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 3);
    seen_free(&s);
}

static void test_wal_fsync_failure_fails_the_log_for_good_and_is_not_replayed(void **state)
{
    fault_fails_for_good(*state, VG_IO_OP_FSYNC, EIO, VG_EIO);
}

static void test_wal_write_failure_fails_the_log_for_good_and_is_not_replayed(void **state)
{
    /* EIO: a full disk is not final (wal.c invariant 5, tests/test_faults.c) */
    fault_fails_for_good(*state, VG_IO_OP_WRITE, EIO, VG_EIO);
}

typedef struct trunc_ctx {
    vg_wal_t *w;
    volatile int stop;
    unsigned long rounds;
} trunc_ctx_t;

static void *truncator(void *arg)
{
    trunc_ctx_t *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        /* what a seal does while writers keep syncing */
        (void)vg_wal_truncate(c->w, vg_wal_last_lsn(c->w), NULL);
        c->rounds++;
    }
    return NULL;
}

static void test_wal_truncate_races_safely_with_syncs_that_roll_by_size(void **state)
{
    fx_t *fx = *state;
    enum { NT = 3, PER = 200 };
    /* tiny files: nearly every leader write starts a new file */
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_NONE, 64, 1, 1);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t th[NT], tt;
    gc_ctx_t c[NT];
    trunc_ctx_t tc = {w, 0, 0};
    assert_int_equal(pthread_create(&tt, NULL, truncator, &tc), 0);
    for (int i = 0; i < NT; i++) {
        c[i] = (gc_ctx_t){w, &mu, PER, 0};
        assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &c[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].failures, 0);
    }
    __atomic_store_n(&tc.stop, 1, __ATOMIC_RELAXED); /* volatile is no synchronisation */
    pthread_join(tt, NULL);
    vg_error_t err = {0};
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    /* every record not yet covered (after the last truncate) is still there */
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 0, &s, &rep, &err), VG_OK);
    assert_true(s.n >= 1);
    for (size_t k = 1; k < s.n; k++)
        assert_int_equal(s.lsn[k], s.lsn[k - 1] + 1);
    assert_int_equal(s.lsn[s.n - 1], NT * PER);
    seen_free(&s);
}

static void test_wal_followers_waiting_on_a_failed_sync_all_get_the_error(void **state)
{
    fx_t *fx = *state;
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_GROUP, 0, 1, 1);
    vg_io_fault_fail(fx->io, VG_IO_OP_FSYNC, 1, 0, EIO);
    enum { NT = 3 };
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t th[NT];
    gc_ctx_t c[NT];
    for (int i = 0; i < NT; i++) {
        c[i] = (gc_ctx_t){w, &mu, 5, 0};
        assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &c[i]), 0);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    /* the first sync failed; every sync from then on fails */
    for (int i = 0; i < NT; i++)
        assert_int_equal(c[i].failures, 5);
    vg_wal_close(w, NULL);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    assert_int_equal(s.n, 0);
    seen_free(&s);
}

static void test_wal_short_writes_are_completed_transparently(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 1);
    for (uint64_t i = 1; i <= 20; i++) {
        if (i % 2)
            vg_io_fault_short_write(fx->io, 1);
        append_sync(w, i);
    }
    assert_false(vg_wal_failed(w));
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 0, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 20);
    seen_free(&s);
}

/* Write n records (one sync each) into a single fresh file; returns its path. */
static void one_file_of(fx_t *fx, uint64_t n, char *path)
{
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 1);
    for (uint64_t i = 1; i <= n; i++)
        append_sync(w, i);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    char names[8][PATH_MAX];
    assert_int_equal(wal_files(fx, names, 8), 1);
    snprintf(path, PATH_MAX, "%s", names[0]);
}

static void test_wal_torn_tail_at_every_byte_keeps_exactly_the_complete_prefix(void **state)
{
    fx_t *fx = *state;
    enum { N = 8 };
    char path[PATH_MAX];
    one_file_of(fx, N, path);
    size_t len;
    uint8_t *img = read_all(path, &len);
    size_t starts[N + 1], ends[N + 1];
    assert_int_equal(record_bounds(img, len, starts, ends, N + 1), N);
    assert_int_equal(ends[N - 1], len);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    for (size_t cut = starts[N - 3]; cut < len; cut++) {
        write_all(path, img, cut);
        size_t complete = 0;
        while (complete < N && ends[complete] <= cut)
            complete++;
        size_t good_end = complete ? ends[complete - 1] : VG_WAL_FILE_HEADER;
        int rc = replay(fx, 0, 1, &s, &rep, &err);
        if (rc)
            fprintf(stderr, "cut at %zu: %s\n", cut, err.msg);
        assert_int_equal(rc, VG_OK);
        expect_records(&s, 1, complete);
        assert_int_equal(rep.torn_bytes, cut - good_end);
        if (cut > good_end)
            assert_non_null(strstr(rep.torn_file, path));
        assert_int_equal(file_size(path), (off_t)good_end); /* cut back */
        /* the cut file replays cleanly, with nothing torn */
        assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
        expect_records(&s, 1, complete);
        assert_int_equal(rep.torn_bytes, 0);
    }
    /* dry run (cut_tail = 0) reports without cutting */
    write_all(path, img, len - 5);
    assert_int_equal(replay(fx, 0, 0, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, N - 1);
    assert_int_equal(rep.torn_bytes, len - 5 - ends[N - 2]);
    assert_int_equal(file_size(path), (off_t)(len - 5));
    free(img);
    seen_free(&s);
}

static void append_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_wal_garbage_after_the_last_record_is_cut(void **state)
{
    fx_t *fx = *state;
    char path[PATH_MAX];
    one_file_of(fx, 5, path);
    off_t good = file_size(path);
    uint8_t junk[777];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (uint8_t)(x >> 16);
    }
    junk[0] = 'V'; /* looks like the start of a record */
    append_bytes(path, junk, sizeof junk);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 5);
    assert_int_equal(rep.torn_bytes, sizeof junk);
    assert_int_equal(file_size(path), good);
    seen_free(&s);
}

static void test_wal_zeros_after_the_last_record_are_not_records(void **state)
{
    fx_t *fx = *state;
    char path[PATH_MAX];
    one_file_of(fx, 5, path);
    uint8_t zeros[4096] = {0};
    append_bytes(path, zeros, sizeof zeros);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    /* zeros are preallocated space: read past, nothing replayed from them */
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 5);
    /* a later run's file after it: the older file still replays cleanly */
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 6, rep.last_seq + 1);
    append_sync(w, 6);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    int rc = replay(fx, 0, 1, &s, &rep, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, VG_OK);
    expect_records(&s, 1, 6);
    seen_free(&s);
}

static void test_wal_flipped_bit_in_an_older_file_is_corruption_naming_file_and_offset(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 1);
    for (uint64_t i = 1; i <= 6; i++) {
        append_sync(w, i);
        if (i == 3) {
            uint64_t last;
            assert_int_equal(vg_wal_roll(w, &last, &err), VG_OK);
        }
    }
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    char names[8][PATH_MAX];
    assert_int_equal(wal_files(fx, names, 8), 2);
    size_t len;
    uint8_t *img = read_all(names[0], &len);
    size_t starts[8], ends[8];
    assert_int_equal(record_bounds(img, len, starts, ends, 8), 3);
    free(img);
    /* in the last record of the older file: not a torn tail, since a file follows */
    size_t at = starts[2] + VG_WAL_REC_HEADER + 3;
    flip_bit(names[0], at, 4);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_ECORRUPT);
    assert_int_equal(err.code, VG_ECORRUPT);
    assert_non_null(strstr(err.msg, strrchr(names[0], '/') + 1));
    char off[32];
    snprintf(off, sizeof off, "offset %zu", starts[2]);
    assert_non_null(strstr(err.msg, off));
    assert_int_equal(file_size(names[0]), (off_t)len); /* nothing cut */
    assert_true(s.n <= 2); /* nothing of the damaged record or after it */
    /* the same in the older file's header */
    flip_bit(names[0], at, 4);
    flip_bit(names[0], 2, 0);
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_ECORRUPT);
    assert_non_null(strstr(err.msg, strrchr(names[0], '/') + 1));
    assert_non_null(strstr(err.msg, "offset"));
    seen_free(&s);
}

static void test_wal_flipped_bit_mid_last_file_before_valid_records_is_corruption(void **state)
{
    fx_t *fx = *state;
    char path[PATH_MAX];
    one_file_of(fx, 6, path);
    size_t len;
    uint8_t *img = read_all(path, &len);
    size_t starts[8], ends[8];
    assert_int_equal(record_bounds(img, len, starts, ends, 8), 6);
    free(img);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    /* in a payload, in the LSN, in the length: each is caught */
    size_t spots[] = {starts[2] + VG_WAL_REC_HEADER + 1, starts[2] + 9, starts[2] + 17,
                      starts[2] + 1};
    for (size_t k = 0; k < sizeof spots / sizeof *spots; k++) {
        flip_bit(path, spots[k], 1);
        int rc = replay(fx, 0, 1, &s, &rep, &err);
        assert_int_equal(rc, VG_ECORRUPT);
        assert_non_null(strstr(err.msg, strrchr(path, '/') + 1));
        char off[32];
        snprintf(off, sizeof off, "offset %zu", starts[2]);
        assert_non_null(strstr(err.msg, off));
        assert_int_equal(file_size(path), (off_t)len); /* not silently cut */
        flip_bit(path, spots[k], 1);
    }
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 6);
    seen_free(&s);
}

static void test_wal_replay_after_lsn_skips_covered_records(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 1024, 1, 1);
    for (uint64_t i = 1; i <= 12; i++)
        append_sync(w, i);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 7, 0, &s, &rep, &err), VG_OK);
    expect_records(&s, 8, 5);
    assert_int_equal(rep.skipped, 7);
    assert_int_equal(rep.records, 5);
    assert_int_equal(rep.last_lsn, 12);
    assert_int_equal(replay(fx, 12, 0, &s, &rep, &err), VG_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(rep.last_lsn, 12);
    seen_free(&s);
}

static void test_wal_truncate_deletes_only_files_wholly_covered(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 1);
    uint64_t last = 0;
    for (uint64_t i = 1; i <= 3; i++)
        append_sync(w, i);
    assert_int_equal(vg_wal_roll(w, &last, &err), VG_OK); /* file 1: 1..3 */
    for (uint64_t i = 4; i <= 6; i++)
        append_sync(w, i);
    assert_int_equal(vg_wal_roll(w, &last, &err), VG_OK); /* file 2: 4..6 */
    append_sync(w, 7);                                    /* file 3 (current) */
    char names[8][PATH_MAX];
    assert_int_equal(wal_files(fx, names, 8), 3);
    assert_int_equal(vg_wal_truncate(w, 5, &err), VG_OK);
    assert_int_equal(wal_files(fx, names, 8), 2); /* only file 1 */
    assert_int_equal(vg_wal_truncate(w, 100, &err), VG_OK);
    assert_int_equal(wal_files(fx, names, 8), 1); /* never the current one */
    append_sync(w, 8);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 0, &s, &rep, &err), VG_OK);
    expect_records(&s, 7, 2);
    seen_free(&s);
}

static void test_wal_a_header_only_last_file_from_a_crash_at_creation_is_dropped(void **state)
{
    fx_t *fx = *state;
    char path[PATH_MAX];
    one_file_of(fx, 3, path);
    /* the next run crashed between creating its file and syncing the header */
    char next[PATH_MAX + 32];
    snprintf(next, sizeof next, "%s/%016x.wal", fx->dir, 2);
    write_all(next, "VGW", 3);
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 3);
    assert_int_equal(access(next, F_OK), -1);
    seen_free(&s);
}

/* Runs that write nothing (a CLI query) leave no trail of preallocated
 * files: at open, empty files but the oldest go (the oldest anchors the
 * check that records start after the seal), and the newest run's stays. */
static void test_wal_runs_that_write_nothing_do_not_pile_up_files(void **state)
{
    fx_t *fx = *state;
    vg_error_t err = {0};
    vg_wal_t *w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 1); /* file 1: empty */
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 1, 2); /* file 2: records 1-3 */
    for (uint64_t i = 1; i <= 3; i++)
        append_sync(w, i);
    assert_int_equal(vg_wal_close(w, &err), VG_OK);
    for (uint64_t seq = 3; seq <= 8; seq++) { /* six runs that only read */
        w = open_wal(fx, VG_WAL_SYNC_MODE_FULL, 0, 4, seq);
        assert_int_equal(vg_wal_close(w, &err), VG_OK);
    }
    char names[16][PATH_MAX];
    assert_int_equal(wal_files(fx, names, 16), 3);
    assert_non_null(strstr(names[0], "0000000000000001.wal"));
    assert_non_null(strstr(names[1], "0000000000000002.wal"));
    assert_non_null(strstr(names[2], "0000000000000008.wal"));
    seen_t s = {0};
    vg_wal_replay_report_t rep;
    assert_int_equal(replay(fx, 0, 1, &s, &rep, &err), VG_OK);
    expect_records(&s, 1, 3);
    seen_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_wal_records_round_trip_in_lsn_order_across_files_and_rolls),
        T(test_wal_queued_records_are_synced_by_close_and_by_a_later_sync),
        T(test_wal_group_commit_from_threads_replays_every_lsn_once),
        T(test_wal_fsync_failure_fails_the_log_for_good_and_is_not_replayed),
        T(test_wal_write_failure_fails_the_log_for_good_and_is_not_replayed),
        T(test_wal_truncate_races_safely_with_syncs_that_roll_by_size),
        T(test_wal_followers_waiting_on_a_failed_sync_all_get_the_error),
        T(test_wal_short_writes_are_completed_transparently),
        T(test_wal_torn_tail_at_every_byte_keeps_exactly_the_complete_prefix),
        T(test_wal_garbage_after_the_last_record_is_cut),
        T(test_wal_zeros_after_the_last_record_are_not_records),
        T(test_wal_flipped_bit_in_an_older_file_is_corruption_naming_file_and_offset),
        T(test_wal_flipped_bit_mid_last_file_before_valid_records_is_corruption),
        T(test_wal_replay_after_lsn_skips_covered_records),
        T(test_wal_truncate_deletes_only_files_wholly_covered),
        T(test_wal_a_header_only_last_file_from_a_crash_at_creation_is_dropped),
        T(test_wal_runs_that_write_nothing_do_not_pile_up_files),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
