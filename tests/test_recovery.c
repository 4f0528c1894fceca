/*
 * test_recovery.c: crashes and damage, through the public API.
 *
 * Crash tests fork: the child opens a database with VIGIL_CRASH_AT armed
 * (read by the child's own vg_io_create), writes numbered batches, seals,
 * compacts, and is _exit(86)'ed by the I/O layer at the named point. It
 * records in a file, with plain write(2) (which a process crash does not
 * undo), each batch it is about to write and each batch the engine
 * acknowledged. The parent then reopens the folder and checks:
 *   - every acknowledged batch is there, exactly once, with exact values;
 *   - every batch is all or nothing, and only attempted batches appear;
 *   - stats count no point twice;
 *   - the folder converges: another open (also one that crashes during
 *     recovery) gives the same rows, and it takes writes and seals again.
 * Damage tests flip bits in a segment, its footer and index, the catalog
 * and the WAL, and check that the error names the file (and offset) and
 * that nothing crashes.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/vg_db.h"

#include "db_int.h" /* vg__db_io */
#include "io.h"

#define HOUR (3600 * VG_NS_PER_SEC)
#define MINUTE (60 * VG_NS_PER_SEC)
#define ROWS 5      /* rows per batch */
#define NBATCH 16   /* batches 0..15; 15 is old (for retention) */
#define OLD_BATCH 15
#define DUP_BATCH 2 /* written again, identically, after it was sealed */
#define CRASH_EXIT 86

typedef struct fx {
    char root[1024];
    char dir[1100];
    char acks[1100];
    int64_t base;
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
    snprintf(fx->root, sizeof fx->root, "%s/test_recovery.XXXXXX", tmp_base());
    if (!mkdtemp(fx->root))
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "%s/db", fx->root);
    snprintf(fx->acks, sizeof fx->acks, "%s/acks", fx->root);
    fx->base = (vg_now_ns() / HOUR - 6) * HOUR;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static vg_db_opts_t opts(void)
{
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    o.partition_ns = HOUR;
    o.wal_segment_bytes = 4096; /* rolls by size too */
    return o;
}

/* Row j of batch k: its time, series and values are functions of (k, j). */
static int64_t row_ts(const fx_t *fx, int k, int j)
{
    if (k == OLD_BATCH)
        return vg_now_ns() / HOUR * HOUR - 10 * 24 * HOUR + j * VG_NS_PER_SEC;
    return fx->base + k * 20 * MINUTE + j * VG_NS_PER_SEC;
}

static size_t batch_lp(const fx_t *fx, int k, char *buf, size_t cap)
{
    size_t n = 0;
    for (int j = 0; j < ROWS; j++)
        n += (size_t)snprintf(buf + n, cap - n, "r,s=s%d seq=%di,j=%di,v=%d.5,note=\"b%d \\\"r%d\\\"\" %" PRId64 "\n",
                              j % 3, k, j, k * 100 + j, k, j, row_ts(fx, k, j));
    return n;
}

enum { REC_ATTEMPT = 1, REC_ACK = 2 };

static void record(int fd, int kind, int k)
{
    int32_t r[2] = {kind, k};
    if (write(fd, r, sizeof r) != sizeof r)
        _exit(3);
}

/* In the child: write batch k and record the attempt and the ack. */
static void child_batch(const fx_t *fx, vg_db_t *db, int fd, int k)
{
    char buf[2048];
    size_t n = batch_lp(fx, k, buf, sizeof buf);
    record(fd, REC_ATTEMPT, k);
    vg_write_result_t res;
    vg_error_t err = {0};
    int rc = vg_db_write_lp(db, buf, n, NULL, &res, &err);
    if (rc == VG_OK && res.rows == ROWS && res.rejected == 0)
        record(fd, REC_ACK, k);
    else if (rc == VG_OK)
        _exit(4); /* a line was rejected: the test is wrong */
    vg_write_result_free(&res);
}

static void child_ok(int rc)
{
    if (rc != VG_OK)
        _exit(5);
}

/*
 * The child's workload: batches 0..5 and the old batch, seal; 6..11 with
 * batch 2 again, seal, compact; 12..14; close. With retention set, a second
 * open with a 5-day retention then compacts, which drops the old batch.
 */
static void child_run(const fx_t *fx, const char *crash, int retention)
{
    if (crash)
        setenv("VIGIL_CRASH_AT", crash, 1);
    else
        unsetenv("VIGIL_CRASH_AT");
    int fd = open(fx->acks, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        _exit(2);
    vg_db_opts_t o = opts();
    vg_db_t *db;
    child_ok(vg_db_open(fx->dir, &o, &db, NULL));
    for (int k = 0; k <= 5; k++)
        child_batch(fx, db, fd, k);
    child_batch(fx, db, fd, OLD_BATCH);
    child_ok(vg_db_flush(db, NULL));
    for (int k = 6; k <= 11; k++) {
        child_batch(fx, db, fd, k);
        if (k == 8)
            child_batch(fx, db, fd, DUP_BATCH);
    }
    child_ok(vg_db_flush(db, NULL));
    child_ok(vg_db_compact(db, NULL));
    for (int k = 12; k <= 14; k++)
        child_batch(fx, db, fd, k);
    child_ok(vg_db_close(db, NULL));
    if (retention) {
        o.retention_ns = 5 * 24 * HOUR;
        child_ok(vg_db_open(fx->dir, &o, &db, NULL));
        child_ok(vg_db_compact(db, NULL));
        child_ok(vg_db_close(db, NULL));
    }
    close(fd);
    _exit(0);
}

/* Fork a child running the workload; returns its exit code (or 128 + signal). */
static int run_child(const fx_t *fx, const char *crash, int retention)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_run(fx, crash, retention);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A child that only opens (and closes) the folder, e.g. to crash in recovery. */
static int run_open_child(const fx_t *fx, const char *crash)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (crash)
            setenv("VIGIL_CRASH_AT", crash, 1);
        vg_db_opts_t o = opts();
        vg_db_t *db;
        child_ok(vg_db_open(fx->dir, &o, &db, NULL));
        child_ok(vg_db_close(db, NULL));
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct acks {
    int attempted[NBATCH], acked[NBATCH];
    int dup_attempted;
} acks_t;

static void read_acks(const fx_t *fx, acks_t *a)
{
    memset(a, 0, sizeof *a);
    int fd = open(fx->acks, O_RDONLY);
    assert_true(fd >= 0);
    int32_t r[2];
    while (read(fd, r, sizeof r) == sizeof r) {
        assert_true(r[1] >= 0 && r[1] < NBATCH);
        if (r[0] == REC_ATTEMPT) {
            if (a->attempted[r[1]])
                a->dup_attempted = 1;
            a->attempted[r[1]] = 1;
        } else {
            a->acked[r[1]] = 1;
        }
    }
    close(fd);
}

typedef struct found {
    int rows[NBATCH];
    size_t total;
    char *text; /* canonical rows, to compare across opens */
} found_t;

/* Read every row of r and check each one against its batch's formula. */
static void read_rows(vg_db_t *db, const fx_t *fx, found_t *f)
{
    memset(f, 0, sizeof *f);
    vg_rows_t *r;
    vg_error_t err = {0};
    int rc = vg_rows_open(db, "r", INT64_MIN, INT64_MAX, &r, &err);
    if (rc == VG_ENOTFOUND)
        return; /* nothing acknowledged yet */
    assert_int_equal(rc, VG_OK);
    size_t cap = 1 << 16, len = 0;
    f->text = malloc(cap);
    f->text[0] = '\0';
    vg_row_t row;
    int64_t prev = INT64_MIN;
    while ((rc = vg_rows_next(r, &row, &err)) == 1) {
        assert_true(row.ts >= prev);
        prev = row.ts;
        assert_int_equal(row.ntags, 1);
        assert_int_equal(row.nfields, 4); /* j, note, seq, v */
        assert_string_equal(row.field_keys[0], "j");
        assert_string_equal(row.field_keys[2], "seq");
        int64_t j = row.field_vals[0].i, k = row.field_vals[2].i;
        assert_true(k >= 0 && k < NBATCH && j >= 0 && j < ROWS);
        assert_int_equal(row.ts, row_ts(fx, (int)k, (int)j));
        char s[8];
        snprintf(s, sizeof s, "s%d", (int)(j % 3));
        assert_string_equal(row.tag_vals[0], s);
        char note[32];
        int nl = snprintf(note, sizeof note, "b%d \"r%d\"", (int)k, (int)j);
        assert_int_equal(row.field_vals[1].s.len, nl);
        assert_memory_equal(row.field_vals[1].s.p, note, (size_t)nl);
        assert_true(row.field_vals[3].f == (double)(k * 100 + j) + 0.5);
        f->rows[k]++;
        f->total++;
        if (len + 64 > cap)
            f->text = realloc(f->text, cap *= 2);
        len += (size_t)snprintf(f->text + len, cap - len, "%" PRId64 " %d %d\n", row.ts, (int)k,
                                (int)j);
    }
    if (rc)
        fprintf(stderr, "reading rows: %s\n", err.msg);
    assert_int_equal(rc, 0);
    vg_rows_close(r);
}

static uint64_t stats_rows(vg_db_t *db)
{
    vg_db_stats_t s;
    assert_int_equal(vg_db_stats(db, &s, NULL), VG_OK);
    uint64_t rows = 0;
    for (size_t i = 0; i < s.ntables; i++)
        if (strcmp(s.tables[i].name, "r") == 0)
            rows = s.tables[i].rows;
    vg_db_stats_free(&s);
    return rows;
}

static vg_db_t *parent_open(const fx_t *fx)
{
    unsetenv("VIGIL_CRASH_AT");
    vg_db_opts_t o = opts();
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    int rc = vg_db_open(fx->dir, &o, &db, &err);
    if (rc)
        fprintf(stderr, "reopen after the crash: %s\n", err.msg);
    assert_int_equal(rc, VG_OK);
    return db;
}

/* The checks after a crash; with retention, the old batch may be gone. */
static void check_after_crash(const fx_t *fx, const char *what, int retention)
{
    acks_t a;
    read_acks(fx, &a);
    vg_db_t *db = parent_open(fx);
    found_t f;
    read_rows(db, fx, &f);
    size_t expect_total = 0;
    for (int k = 0; k < NBATCH; k++) {
        if (f.rows[k] != 0 && f.rows[k] != ROWS)
            fail_msg("%s: batch %d has %d of %d rows", what, k, f.rows[k], ROWS);
        if (f.rows[k] && !a.attempted[k])
            fail_msg("%s: batch %d was never written but is there", what, k);
        if (a.acked[k] && !f.rows[k] && !(retention && k == OLD_BATCH))
            fail_msg("%s: batch %d was acknowledged but is gone", what, k);
        expect_total += (size_t)f.rows[k];
    }
    assert_int_equal(f.total, expect_total);
    /* stats count stored points; a point counted twice was applied twice.
     * The rewrite of batch 2 is a legitimate duplicate until compaction. */
    uint64_t sr = stats_rows(db);
    if (sr != f.total && !(a.dup_attempted && sr == f.total + ROWS))
        fail_msg("%s: stats count %" PRIu64 " rows, %zu distinct points are stored", what, sr,
                 f.total);
    /* converges: the same rows after another open, and it writes and seals again */
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
    db = parent_open(fx);
    found_t g;
    read_rows(db, fx, &g);
    assert_string_equal(f.text ? f.text : "", g.text ? g.text : "");
    assert_int_equal(stats_rows(db), sr);
    char buf[2048];
    size_t n = batch_lp(fx, 14, buf, sizeof buf);
    vg_write_result_t res;
    vg_error_t err = {0};
    assert_int_equal(vg_db_write_lp(db, buf, n, NULL, &res, &err), VG_OK);
    assert_int_equal(res.rows, ROWS);
    vg_write_result_free(&res);
    int rc = vg_db_flush(db, &err);
    if (rc)
        fprintf(stderr, "%s: flush after recovery: %s\n", what, err.msg);
    assert_int_equal(rc, VG_OK);
    assert_int_equal(vg_db_compact(db, &err), VG_OK);
    found_t h;
    read_rows(db, fx, &h);
    assert_int_equal(h.total, f.total + (f.rows[14] ? 0 : ROWS));
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
    free(f.text);
    free(g.text);
    free(h.text);
}

static void crash_at(fx_t *fx, const char *point, int retention)
{
    int code = run_child(fx, point, retention);
    if (code != CRASH_EXIT)
        fail_msg("child armed with %s exited %d, not at the crash point", point, code);
    check_after_crash(fx, point, retention);
}

/* ---- crash points ---- */

static void test_recovery_crash_in_the_wal_write_path(void **state)
{
    fx_t *fx = *state;
    const char *points[] = {"wal.submitted:1", "wal.submitted:2", "wal.submitted:10",
                            "wal.synced:1",    "wal.synced:2",    "wal.synced:10",
                            "wal.truncated:1", "wal.truncated:2"};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        crash_at(fx, points[i], 0);
        teardown(state);
        setup(state);
        fx = *state;
    }
}

static void test_recovery_crash_while_sealing_segments(void **state)
{
    fx_t *fx = *state;
    const char *points[] = {"segment.written:1",    "segment.written:3",
                            "segment.synced:1",     "segment.synced:3",
                            "segment.renamed:1",    "segment.renamed:3",
                            "segment.dir_synced:1", "segment.dir_synced:3",
                            "catalog.published:1",  "catalog.published:2"};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        crash_at(fx, points[i], 0);
        teardown(state);
        setup(state);
        fx = *state;
    }
}

static void test_recovery_crash_while_compacting(void **state)
{
    fx_t *fx = *state;
    /* the third catalog is the compaction's, the 6th segment its output */
    const char *points[] = {"compaction.written:1", "catalog.published:3", "segment.renamed:6"};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        crash_at(fx, points[i], 0);
        teardown(state);
        setup(state);
        fx = *state;
    }
}

static void test_recovery_crash_after_retention_deleted(void **state)
{
    fx_t *fx = *state;
    crash_at(fx, "retention.deleted:1", 1);
    /* the old batch's partition was dropped before the crash */
    vg_db_t *db = parent_open(fx);
    found_t f;
    read_rows(db, fx, &f);
    assert_int_equal(f.rows[OLD_BATCH], 0);
    assert_int_equal(f.rows[0], ROWS);
    free(f.text);
    vg_db_close(db, NULL);
}

static void test_recovery_crash_during_recovery_converges(void **state)
{
    fx_t *fx = *state;
    /* a crash mid-seal leaves an orphan segment and WAL files to replay */
    assert_int_equal(run_child(fx, "segment.renamed:2", 0), CRASH_EXIT);
    assert_int_equal(run_open_child(fx, "recovery.started:1"), CRASH_EXIT);
    assert_int_equal(run_open_child(fx, "recovery.started:1"), CRASH_EXIT);
    check_after_crash(fx, "recovery.started after segment.renamed", 0);
    teardown(state);
    setup(state);
    fx = *state;
    /* a torn WAL tail: the crash mid-write, then one during recovery */
    assert_int_equal(run_child(fx, "wal.synced:4", 0), CRASH_EXIT);
    assert_int_equal(run_open_child(fx, "recovery.started:1"), CRASH_EXIT);
    assert_int_equal(run_open_child(fx, NULL), 0);
    check_after_crash(fx, "recovery.started after wal.synced", 0);
}

static void test_recovery_clean_run_keeps_every_batch(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(run_child(fx, NULL, 0), 0);
    acks_t a;
    read_acks(fx, &a);
    for (int k = 0; k < NBATCH; k++)
        assert_true(a.acked[k]);
    check_after_crash(fx, "no crash", 0);
}

/* ---- damage ---- */

/* A folder with sealed data: batches 0..5 in segments, 6..7 in the WAL. */
static void make_sealed(fx_t *fx)
{
    vg_db_opts_t o = opts();
    vg_db_t *db;
    vg_error_t err = {0};
    assert_int_equal(vg_db_open(fx->dir, &o, &db, &err), VG_OK);
    for (int k = 0; k <= 7; k++) {
        char buf[2048];
        size_t n = batch_lp(fx, k, buf, sizeof buf);
        vg_write_result_t res;
        assert_int_equal(vg_db_write_lp(db, buf, n, NULL, &res, &err), VG_OK);
        vg_write_result_free(&res);
        if (k == 5)
            assert_int_equal(vg_db_flush(db, &err), VG_OK);
    }
    assert_int_equal(vg_db_close(db, &err), VG_OK);
}

/* Names of files in dir ending with suffix, sorted; returns the count. */
static size_t list_files(const char *dir, const char *suffix, char names[][512], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0, sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0 && n < max)
            snprintf(names[n++], 512, "%s", de->d_name);
    }
    closedir(d);
    qsort(names, n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void flip(const char *path, off_t off, int bit)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static off_t size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* The first segment file's path. */
static void first_segment(const fx_t *fx, char *path, size_t cap)
{
    char seg_dir[1200], names[16][512];
    snprintf(seg_dir, sizeof seg_dir, "%s/segments", fx->dir);
    assert_true(list_files(seg_dir, ".seg", names, 16) >= 1);
    snprintf(path, cap, "%s/%s", seg_dir, names[0]);
}

static void test_recovery_flipped_bit_in_segment_data_is_reported_on_read(void **state)
{
    fx_t *fx = *state;
    make_sealed(fx);
    char path[2048];
    first_segment(fx, path, sizeof path);
    flip(path, 40, 3); /* in the data region, which starts after the 32-byte header */
    vg_db_opts_t o = opts();
    vg_db_t *db;
    vg_error_t err = {0};
    assert_int_equal(vg_db_open(fx->dir, &o, &db, &err), VG_OK); /* blocks are checked when read */
    vg_rows_t *r;
    int rc = vg_rows_open(db, "r", INT64_MIN, INT64_MAX, &r, &err);
    if (rc == VG_OK) {
        vg_row_t row;
        while ((rc = vg_rows_next(r, &row, &err)) == 1)
            ;
        vg_rows_close(r);
    }
    assert_int_equal(rc, VG_ECORRUPT);
    assert_non_null(strstr(err.msg, strrchr(path, '/') + 1));
    assert_non_null(strstr(err.msg, "offset"));
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
}

static void expect_open_fails_naming(fx_t *fx, const char *name)
{
    vg_db_opts_t o = opts();
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    int rc = vg_db_open(fx->dir, &o, &db, &err);
    assert_int_equal(rc, VG_ECORRUPT);
    assert_null(db);
    if (!strstr(err.msg, name))
        fail_msg("error '%s' does not name %s", err.msg, name);
    /* read-only too, and the files are left as they are for repair */
    o.read_only = 1;
    rc = vg_db_open(fx->dir, &o, &db, &err);
    assert_int_equal(rc, VG_ECORRUPT);
    assert_non_null(strstr(err.msg, name));
}

static void test_recovery_flipped_bit_in_segment_footer_or_index_fails_open(void **state)
{
    fx_t *fx = *state;
    make_sealed(fx);
    char path[2048];
    first_segment(fx, path, sizeof path);
    off_t size = size_of(path);
    const char *name = strrchr(path, '/') + 1;
    /* the footer: its meta_off field */
    flip(path, size - 40 + 2, 0);
    expect_open_fails_naming(fx, name);
    flip(path, size - 40 + 2, 0);
    /* the meta region (series, columns, chunk index): read the footer for it */
    int fd = open(path, O_RDONLY);
    uint64_t meta_off, meta_len;
    assert_int_equal(pread(fd, &meta_off, 8, size - 40), 8);
    assert_int_equal(pread(fd, &meta_len, 8, size - 32), 8);
    close(fd);
    assert_true(meta_off > 32 && meta_off + meta_len == (uint64_t)size - 40);
    flip(path, (off_t)(meta_off + meta_len / 2), 5);
    expect_open_fails_naming(fx, name);
    flip(path, (off_t)(meta_off + meta_len / 2), 5);
    /* the header */
    flip(path, 1, 1);
    expect_open_fails_naming(fx, name);
    flip(path, 1, 1);
    vg_db_opts_t o = opts();
    vg_db_t *db;
    assert_int_equal(vg_db_open(fx->dir, &o, &db, NULL), VG_OK); /* undone: fine again */
    found_t f;
    read_rows(db, fx, &f);
    assert_int_equal(f.total, 8 * ROWS);
    free(f.text);
    vg_db_close(db, NULL);
}

static void test_recovery_corrupt_catalog_fails_open_naming_it(void **state)
{
    fx_t *fx = *state;
    make_sealed(fx);
    char path[1200];
    snprintf(path, sizeof path, "%s/CATALOG", fx->dir);
    off_t size = size_of(path);
    flip(path, size / 2, 0);
    expect_open_fails_naming(fx, "CATALOG");
    flip(path, size / 2, 0);
    /* cut short */
    assert_int_equal(truncate(path, size - 3), 0);
    expect_open_fails_naming(fx, "CATALOG");
}

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static void test_recovery_leftover_tmp_files_are_removed_and_never_read(void **state)
{
    fx_t *fx = *state;
    make_sealed(fx);
    char seg[2048], tmp1[2100], tmp2[1200], orphan[1200];
    first_segment(fx, seg, sizeof seg);
    /* a copy of a real segment under a .tmp name, and junk in CATALOG.tmp */
    snprintf(tmp1, sizeof tmp1, "%s.tmp", seg);
    snprintf(tmp2, sizeof tmp2, "%s/CATALOG.tmp", fx->dir);
    snprintf(orphan, sizeof orphan, "%s/segments/00000000000fffff.seg", fx->dir);
    copy_file(seg, tmp1);
    copy_file(seg, orphan);
    FILE *fp = fopen(tmp2, "w");
    assert_non_null(fp);
    fputs("junk\n", fp);
    fclose(fp);
    vg_db_opts_t o = opts();
    o.read_only = 1;
    vg_db_t *db;
    vg_error_t err = {0};
    assert_int_equal(vg_db_open(fx->dir, &o, &db, &err), VG_OK); /* read-only leaves them */
    found_t f;
    read_rows(db, fx, &f);
    assert_int_equal(f.total, 8 * ROWS); /* never read: no duplicate rows from the copies */
    assert_int_equal(stats_rows(db), 8 * ROWS);
    free(f.text);
    vg_db_close(db, NULL);
    assert_int_equal(access(tmp1, F_OK), 0);
    o.read_only = 0;
    assert_int_equal(vg_db_open(fx->dir, &o, &db, &err), VG_OK);
    assert_int_equal(access(tmp1, F_OK), -1);
    assert_int_equal(access(tmp2, F_OK), -1);
    assert_int_equal(access(orphan, F_OK), -1);
    read_rows(db, fx, &f);
    assert_int_equal(f.total, 8 * ROWS);
    assert_int_equal(stats_rows(db), 8 * ROWS);
    free(f.text);
    vg_db_close(db, NULL);
}

static void test_recovery_torn_wal_tail_is_cut_and_a_flipped_older_wal_fails(void **state)
{
    fx_t *fx = *state;
    make_sealed(fx); /* batches 6, 7 only in the WAL */
    char wal_dir[1200], names[16][512], path[2048];
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", fx->dir);
    size_t n = list_files(wal_dir, ".wal", names, 16);
    assert_true(n >= 1);
    snprintf(path, sizeof path, "%s/%s", wal_dir, names[n - 1]);
    off_t good = size_of(path);
    FILE *fp = fopen(path, "ab");
    assert_non_null(fp);
    fputs("VGWR torn record of a crash mid-write", fp);
    fclose(fp);
    vg_db_opts_t o = opts();
    vg_db_t *db;
    vg_error_t err = {0};
    assert_int_equal(vg_db_open(fx->dir, &o, &db, &err), VG_OK);
    assert_int_equal(size_of(path), good);
    found_t f;
    read_rows(db, fx, &f);
    assert_int_equal(f.total, 8 * ROWS);
    free(f.text);
    vg_db_close(db, NULL);
    /* that file is now older than the one the last open started; damage it */
    n = list_files(wal_dir, ".wal", names, 16);
    assert_true(n >= 2);
    off_t at = 16 + 32 + 2; /* inside the first record's payload */
    flip(path, at, 2);
    expect_open_fails_naming(fx, names[n - 2]);
    /* and with an offset */
    o.read_only = 1;
    assert_int_equal(vg_db_open(fx->dir, &o, &db, &err), VG_ECORRUPT);
    assert_non_null(strstr(err.msg, "offset 16"));
}

/*
 * An I/O error on the nth fsync (or write) of a workload of writes and seals,
 * for every n: the batch that met it is answered with an error, no batch is
 * acknowledged after it (the database turns read-only), and after a reopen
 * every acknowledged batch is present and no batch answered with an error is.
 */
typedef struct round {
    int acked[NBATCH], failed[NBATCH];
    int acked_after_error;
    unsigned long ops; /* operations of the kind the workload used */
} round_t;

/* Twelve batches with a seal after the fourth and the eighth, the nth operation of kind
 * op failing with errno_val (n = 0: none). */
static void fault_round(fx_t *fx, vg_io_op_t op, int errno_val, unsigned long n, round_t *r)
{
    memset(r, 0, sizeof *r);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    vg_db_opts_t o = opts();
    vg_db_t *db = NULL;
    assert_int_equal(vg_db_open(fx->dir, &o, &db, NULL), VG_OK);
    vg_io_t *io = vg__db_io(db);
    unsigned long before = vg_io_op_count(io, op);
    vg_io_fault_fail(io, op, n, 0, errno_val);
    int saw_error = 0;
    for (int k = 0; k < 12; k++) {
        char buf[2048];
        size_t len = batch_lp(fx, k, buf, sizeof buf);
        vg_write_result_t res;
        int rc = vg_db_write_lp(db, buf, len, NULL, &res, NULL);
        vg_write_result_free(&res);
        if (rc == VG_OK) {
            r->acked[k] = 1;
            r->acked_after_error |= saw_error;
        } else {
            r->failed[k] = 1;
            saw_error = 1;
        }
        /* seal twice; the last four batches stay in the WAL, to be replayed */
        if ((k == 3 || k == 7) && vg_db_flush(db, NULL) != VG_OK)
            saw_error = 1;
    }
    r->ops = vg_io_op_count(io, op) - before;
    vg_db_close(db, NULL);
}

static void io_fault_sweep(fx_t *fx, vg_io_op_t op, int errno_val)
{
    round_t clean;
    fault_round(fx, op, errno_val, 0, &clean);
    assert_true(clean.ops > 0);
    for (int k = 0; k < 12; k++)
        assert_true(clean.acked[k]);
    vg_db_opts_t o = opts();
    for (unsigned long n = 1; n <= clean.ops; n++) {
        round_t r;
        fault_round(fx, op, errno_val, n, &r);
        if (r.acked_after_error)
            fail_msg("%s #%lu: a batch was acknowledged after an I/O error", vg_io_op_name(op), n);
        vg_db_t *db = NULL;
        vg_error_t err = {0};
        if (vg_db_open(fx->dir, &o, &db, &err) != VG_OK)
            fail_msg("reopen after a fault on %s #%lu: %s", vg_io_op_name(op), n, err.msg);
        found_t f;
        read_rows(db, fx, &f);
        for (int k = 0; k < 12; k++) {
            if (r.acked[k] && f.rows[k] != ROWS)
                fail_msg("%s #%lu: acknowledged batch %d has %d rows", vg_io_op_name(op), n, k,
                         f.rows[k]);
            if (r.failed[k] && f.rows[k] != 0)
                fail_msg("%s #%lu: batch %d answered with an error is present",
                         vg_io_op_name(op), n, k);
        }
        free(f.text);
        vg_db_close(db, NULL);
    }
}

static void test_recovery_fsync_errors_at_every_point_lose_nothing_acknowledged(void **state)
{
    io_fault_sweep(*state, VG_IO_OP_FSYNC, EIO);
}

static void test_recovery_write_errors_at_every_point_lose_nothing_acknowledged(void **state)
{
    /* EIO: a full disk rejects the batch but not the next ones (test_faults.c) */
    io_fault_sweep(*state, VG_IO_OP_WRITE, EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_recovery_clean_run_keeps_every_batch),
        T(test_recovery_crash_in_the_wal_write_path),
        T(test_recovery_crash_while_sealing_segments),
        T(test_recovery_crash_while_compacting),
        T(test_recovery_crash_after_retention_deleted),
        T(test_recovery_crash_during_recovery_converges),
        T(test_recovery_flipped_bit_in_segment_data_is_reported_on_read),
        T(test_recovery_flipped_bit_in_segment_footer_or_index_fails_open),
        T(test_recovery_corrupt_catalog_fails_open_naming_it),
        T(test_recovery_leftover_tmp_files_are_removed_and_never_read),
        T(test_recovery_torn_wal_tail_is_cut_and_a_flipped_older_wal_fails),
        T(test_recovery_fsync_errors_at_every_point_lose_nothing_acknowledged),
        T(test_recovery_write_errors_at_every_point_lose_nothing_acknowledged),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
