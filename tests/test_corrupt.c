/*
 * test_corrupt.c: the corruption suites of reliability.md (rows 5-8).
 *
 * A small database is built once through the embedded API: four sealed
 * segments in two partitions, a catalog, two old WAL files holding unsealed
 * batches and an active one. Every case copies it, damages the copy and
 * opens, queries and repairs it, comparing each answer with the undamaged
 * copy's: a row that comes back must be a row that was written (a wrong
 * answer is the worst failure), and damage must be refused or reported
 * naming the file and the byte offset.
 *
 *   torn_tail        the last WAL file cut at bytes of its last 3 records,
 *                    and 1-4096 random or zero bytes appended after it
 *   corrupt_wal      bit flips, zeroed 4 KiB pages, truncation of old WAL files
 *   corrupt_catalog  the same in the catalog
 *   corrupt_segment  the same in every region of each segment (header,
 *                    blocks, index, footer), files grown or shrunk with
 *                    `truncate -s` before the open, a damaged sketch, and
 *                    a block damaged on disk while a process had read it
 *                    (caught at the next open's first read)
 *
 * Regressions kept here (each was a bug): an old WAL file cut or zeroed at
 * a record boundary opened with its acknowledged records silently gone;
 * repair counted 1 record lost where a cut or a zeroed page lost several;
 * repair never read sketches, so a damaged one
 * stayed and failed percentile queries for good.
 *
 * By default a fixed-seed sample runs; VG_SOAK=1 goes through every byte
 * of the WAL tail, of the old WAL files, of the catalog and of every
 * segment region; VG_SEED changes the seed; VG_SOAK_FROM / VG_SOAK_COUNT
 * run a slice of each suite's cases; VG_TEST_FILTER=<test name> runs one
 * suite. Each suite prints one RELIABILITY line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/vg_scan.h"
#include "vigil/vigil.h"

/* paths here are short: a cut one would only garble a message */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define DAY_NS       (86400LL * 1000000000LL)
#define NWAL_BATCHES 6 /* per WAL file */

/* ------------------------------------------------------------ fixture */

typedef struct batch {
    int64_t ts0; /* its rows have ts0 .. ts0 + nrows - 1 */
    int nrows;
} batch_t;

typedef struct walfile {
    char path[600];
    long rec[NWAL_BATCHES + 1]; /* record starts, then the end of the last one */
    int first_batch;            /* index in batches[] of its first record */
    int nrec;
} walfile_t;

typedef struct segfile {
    char name[64];
    long size, meta_off, meta_len;
    long sketch_off; /* the first block's first sketch, 0 when none */
    uint64_t nrows;
    int64_t ts_min, ts_max;
} segfile_t;

static struct {
    char base[512], src[600];
    int64_t part[2]; /* partition starts */
    batch_t batches[64];
    int nbatches;
    walfile_t wal[3]; /* the two old files with records, then the active one */
    segfile_t seg[8];
    int nsegs;
    char **rows; /* the undamaged answer, canonical, sorted */
    size_t nrows;
    uint64_t seed;
    int soak;
    long from, count; /* VG_SOAK_FROM / VG_SOAK_COUNT */
} F;

typedef struct suite {
    const char *name;
    long iterations, faults, failures, index;
} suite_t;

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Is case number i of a suite in the slice asked for? */
static int in_slice(suite_t *st)
{
    long i = st->index++;
    return i >= F.from && (F.count < 0 || i < F.from + F.count);
}

static void fail_case(suite_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail_case(suite_t *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", st->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    st->failures++;
}

static void report(const suite_t *st)
{
    printf("RELIABILITY suite=%s iterations=%ld faults=%ld failures=%ld\n", st->name,
           st->iterations, st->faults, st->failures);
    fflush(stdout);
}

typedef struct logbuf {
    char text[16384];
    size_t len;
} logbuf_t;

static void log_cb(void *ctx, const char *level, const char *msg)
{
    logbuf_t *l = ctx;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s: %s\n", level, msg);
    if (n > 0 && l->len + (size_t)n < sizeof l->text)
        l->len += (size_t)n;
}

static int open_db(const char *dir, vg_db_t **db, logbuf_t *log, vg_error_t *err)
{
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    o.wal_segment_bytes = 64 << 10;                 /* small preallocation: cheap copies */
    o.io_kind = getenv("VG_CORRUPT_POSIX") ? 2 : 0; /* 0: io_uring where the kernel has it */
    o.log = log ? log_cb : NULL;
    o.log_ctx = log;
    *db = NULL;
    return vg_db_open(dir, &o, db, err);
}

static void write_batch(vg_db_t *db, int64_t part, int nhosts, int per_host)
{
    batch_t *b = &F.batches[F.nbatches];
    b->ts0 = part + 3600LL * 1000000000LL + (int64_t)F.nbatches * 1000000;
    b->nrows = nhosts * per_host;
    size_t cap = (size_t)b->nrows * 128 + 64, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int i = 0; i < b->nrows; i++) {
        int h = i % nhosts;
        len += (size_t)snprintf(
            buf + len, cap - len,
            "cpu,host=h%d,region=r%d v=%d.25,n=%di,s=\"x%d\",ok=%s %" PRId64 "\n", h, h % 2,
            i * 7 + F.nbatches, i - 50, i % 13, i % 3 ? "true" : "false", b->ts0 + i);
    }
    vg_write_result_t res;
    vg_error_t err = {0};
    assert_int_equal(vg_db_write_lp(db, buf, len, NULL, &res, &err), VG_OK);
    assert_int_equal(res.rows, (uint64_t)b->nrows);
    vg_write_result_free(&res);
    free(buf);
    F.nbatches++;
}

/* Sorted file names of dir with the suffix. */
static int list_dir(const char *dir, const char *suffix, char names[][64], int max)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort), k = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(ents[i]->d_name), sl = strlen(suffix);
        if (k < max && l > sl && l < 64 && strcmp(ents[i]->d_name + l - sl, suffix) == 0)
            snprintf(names[k++], 64, "%s", ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return k;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void read_at(const char *path, void *p, size_t n, long off)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, p, n, off), (ssize_t)n);
    close(fd);
}

/* Walk a WAL file's records. */
static void scan_wal(walfile_t *w)
{
    long off = 16, size = file_size(w->path);
    w->nrec = 0;
    while (off + 32 <= size && w->nrec < NWAL_BATCHES) {
        uint32_t magic, clen;
        read_at(w->path, &magic, 4, off);
        if (magic != 0x52574756u)
            break;
        read_at(w->path, &clen, 4, off + 16);
        w->rec[w->nrec++] = off;
        off += 32 + (long)clen;
    }
    w->rec[w->nrec] = off;
}

static void scan_segment(segfile_t *s)
{
    char path[800];
    snprintf(path, sizeof path, "%s/segments/%s", F.src, s->name);
    s->size = file_size(path);
    uint64_t mo, ml;
    read_at(path, &mo, 8, s->size - 40);
    read_at(path, &ml, 8, s->size - 32);
    s->meta_off = (long)mo;
    s->meta_len = (long)ml;
    int64_t r[4];
    uint64_t nrows;
    read_at(path, r, sizeof r, s->meta_off);
    read_at(path, &nrows, 8, s->meta_off + 32);
    s->ts_min = r[2];
    s->ts_max = r[3];
    s->nrows = nrows;
    /* the chunk table (format.h): after the meta header (96 bytes) and the
     * series (8), tag (16), column (16) and block (32) entries */
    uint32_t cnt[4];
    read_at(path, cnt, sizeof cnt, s->meta_off + 48);
    long chunks = s->meta_off + 96 + 8L * cnt[0] + 16L * cnt[1] + 16L * cnt[2] + 32L * cnt[3];
    s->sketch_off = 0;
    for (uint32_t j = 2; j < 2 + cnt[2] && !s->sketch_off; j++) {
        uint8_t flags;
        uint64_t off;
        read_at(path, &flags, 1, chunks + 72L * j + 44);
        read_at(path, &off, 8, chunks + 72L * j + 8);
        if (flags & 0x04)
            s->sketch_off = (long)off;
    }
}

/* ------------------------------------------------------------ answers */

static char *canon(const vg_row_t *r)
{
    char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%" PRId64, r->ts);
    for (size_t i = 0; i < r->ntags; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " %s=%s", r->tag_keys[i], r->tag_vals[i]);
    for (size_t i = 0; i < r->nfields; i++) {
        const vg_value_t *v = &r->field_vals[i];
        n += (size_t)snprintf(buf + n, sizeof buf - n, " %s:", r->field_keys[i]);
        switch (r->field_types[i]) {
        case VG_TYPE_FLOAT:
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%.17g", v->f);
            break;
        case VG_TYPE_INT:
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRId64 "i", v->i);
            break;
        case VG_TYPE_UINT:
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRIu64 "u", v->u);
            break;
        case VG_TYPE_BOOL:
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", v->b ? "T" : "F");
            break;
        default:
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\"%.*s\"", (int)v->s.len, v->s.p);
        }
    }
    return strdup(buf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct answer {
    char **rows;
    size_t n, cap;
} answer_t;

static void answer_free(answer_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->rows[i]);
    free(a->rows);
    memset(a, 0, sizeof *a);
}

/* Every row of [t0, t1); the read's return code (VG_OK or the error). */
static int dump(vg_db_t *db, int64_t t0, int64_t t1, answer_t *out, vg_error_t *err)
{
    memset(out, 0, sizeof *out);
    vg_rows_t *r;
    int rc = vg_rows_open(db, "cpu", t0, t1, &r, err);
    if (rc != VG_OK)
        return rc;
    vg_row_t row;
    while ((rc = vg_rows_next(r, &row, err)) == 1) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->rows = realloc(out->rows, out->cap * sizeof *out->rows);
            assert_non_null(out->rows);
        }
        out->rows[out->n++] = canon(&row);
    }
    vg_rows_close(r);
    return rc < 0 ? rc : VG_OK;
}

static int known_row(const char *row)
{
    return bsearch(&row, F.rows, F.nrows, sizeof *F.rows, cmp_str) != NULL;
}

/* Every row returned was written. */
static int all_known(suite_t *st, const answer_t *a, const char *what)
{
    for (size_t i = 0; i < a->n; i++)
        if (!known_row(a->rows[i])) {
            fail_case(st, "%s: a row that was never written: %s", what, a->rows[i]);
            return 0;
        }
    return 1;
}

/* Rows of the undamaged answer with t0 <= ts < t1. */
static size_t expected_in(int64_t t0, int64_t t1)
{
    size_t n = 0;
    for (size_t i = 0; i < F.nrows; i++) {
        int64_t ts = strtoll(F.rows[i], NULL, 10);
        n += ts >= t0 && ts < t1;
    }
    return n;
}

/* The batch a row came from (by its timestamp), or -1 for a sealed row. */
static int batch_of(const char *row)
{
    int64_t ts = strtoll(row, NULL, 10);
    for (int b = 0; b < F.nbatches; b++)
        if (ts >= F.batches[b].ts0 && ts < F.batches[b].ts0 + F.batches[b].nrows)
            return b;
    return -1;
}

/* ------------------------------------------------------------ copies */

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static void copy_tree(const char *from, const char *to)
{
    mkdir(to, 0755);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        struct stat st;
        assert_int_equal(stat(a, &st), 0);
        if (S_ISDIR(st.st_mode))
            copy_tree(a, b);
        else
            copy_file(a, b);
    }
    closedir(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* In process: a fork of an ASan process per case (system("rm -rf")) cost
 * more than the case itself. */
static void rm_tree(const char *dir)
{
    if (access(dir, F_OK) == 0)
        assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A fresh copy of the fixture at F.base/case; its path in out. */
static void fresh_copy(char *out, size_t cap)
{
    snprintf(out, cap, "%s/case", F.base);
    rm_tree(out);
    copy_tree(F.src, out);
}

/* ------------------------------------------------------------ damage */

enum dmg { DMG_FLIP, DMG_ZERO_PAGE, DMG_TRUNCATE, DMG_GROW };
static const char *const dmg_name[] = {"bit flip", "zeroed page", "truncation", "growth"};

/* Damage path at off; returns the first damaged byte. */
static long damage(const char *path, enum dmg kind, long off, int bit)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    long size = file_size(path), first = off;
    if (kind == DMG_FLIP) {
        unsigned char c;
        assert_int_equal(pread(fd, &c, 1, off), 1);
        c ^= (unsigned char)(1u << bit);
        assert_int_equal(pwrite(fd, &c, 1, off), 1);
    } else if (kind == DMG_ZERO_PAGE) {
        static const char zeros[4096];
        first = off & ~4095L;
        long n = size - first < 4096 ? size - first : 4096;
        assert_int_equal(pwrite(fd, zeros, (size_t)n, first), n);
    } else {
        assert_int_equal(ftruncate(fd, kind == DMG_TRUNCATE ? off : size + off), 0);
        if (kind == DMG_GROW)
            first = size;
    }
    close(fd);
    return first;
}

/* The error names path and "offset <n>"; *named gets n. */
static int names_file_and_offset(const vg_error_t *err, const char *path, long *named)
{
    const char *o = strstr(err->msg, "offset ");
    if (!strstr(err->msg, path) || !o)
        return 0;
    *named = strtol(o + 7, NULL, 10);
    return 1;
}

/* ------------------------------------------------------------ the fixture */

static void build_fixture(void)
{
    int64_t today = vg_now_ns() / DAY_NS * DAY_NS;
    F.part[0] = today - 3 * DAY_NS;
    F.part[1] = today - 2 * DAY_NS;
    vg_db_t *db;
    vg_error_t err = {0};
    assert_int_equal(open_db(F.src, &db, NULL, &err), VG_OK);
    for (int round = 0; round < 2; round++) { /* two segments in each partition */
        write_batch(db, F.part[0], round ? 2 : 3, round ? 200 : 600);
        write_batch(db, F.part[1], round ? 2 : 3, round ? 200 : 600);
        assert_int_equal(vg_db_flush(db, &err), VG_OK);
    }
    assert_int_equal(vg_db_close(db, &err), VG_OK);
    /* three sessions of unsealed batches: each open starts a WAL file */
    for (int s = 0; s < 3; s++) {
        assert_int_equal(open_db(F.src, &db, NULL, &err), VG_OK);
        for (int k = 0; k < NWAL_BATCHES; k++)
            write_batch(db, F.part[1], 2, 10 + 3 * k);
        assert_int_equal(vg_db_close(db, &err), VG_OK);
    }
    char d[700], names[16][64];
    snprintf(d, sizeof d, "%s/wal", F.src);
    int n = list_dir(d, ".wal", names, 16), k = 0;
    for (int i = 0; i < n; i++) {
        walfile_t w = {0};
        snprintf(w.path, sizeof w.path, "%s/%s", d, names[i]);
        scan_wal(&w);
        if (w.nrec == 0)
            continue;
        assert_true(k < 3 && w.nrec == NWAL_BATCHES);
        w.first_batch = 4 + k * NWAL_BATCHES;
        F.wal[k++] = w;
    }
    assert_int_equal(k, 3);
    assert_string_equal(strrchr(F.wal[2].path, '/') + 1, names[n - 1]); /* the active file */
    snprintf(d, sizeof d, "%s/segments", F.src);
    F.nsegs = list_dir(d, ".seg", names, 8);
    assert_int_equal(F.nsegs, 4);
    for (int i = 0; i < F.nsegs; i++) {
        snprintf(F.seg[i].name, sizeof F.seg[i].name, "%s", names[i]);
        scan_segment(&F.seg[i]);
        assert_true(F.seg[i].sketch_off >= 32 && F.seg[i].sketch_off < F.seg[i].meta_off);
    }
    /* the undamaged answer */
    char ref[700];
    fresh_copy(ref, sizeof ref);
    assert_int_equal(open_db(ref, &db, NULL, &err), VG_OK);
    answer_t a;
    assert_int_equal(dump(db, INT64_MIN, INT64_MAX, &a, &err), VG_OK);
    assert_int_equal(vg_db_close(db, &err), VG_OK);
    qsort(a.rows, a.n, sizeof *a.rows, cmp_str);
    F.rows = a.rows;
    F.nrows = a.n;
    size_t want = 0;
    for (int b = 0; b < F.nbatches; b++)
        want += (size_t)F.batches[b].nrows;
    assert_int_equal(F.nrows, want);
}

static int group_setup(void **state)
{
    (void)state;
    /* Durability is not under test here, and every case opens, repairs and
     * reopens a copy (a dozen fsyncs): on tmpfs, where fsync is free, the
     * sample takes seconds instead of minutes. VG_CORRUPT_TMP overrides. */
    const char *tmp = getenv("VG_CORRUPT_TMP");
    struct stat shm;
    if (!tmp && stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) &&
        access("/dev/shm", W_OK) == 0)
        tmp = "/dev/shm";
    if (!tmp)
        tmp = getenv("VG_TEST_TMP") ? getenv("VG_TEST_TMP") : "/tmp";
    mkdir(tmp, 0755);
    snprintf(F.base, sizeof F.base, "%s/corrupt.XXXXXX", tmp);
    if (!mkdtemp(F.base))
        return -1;
    snprintf(F.src, sizeof F.src, "%s/src", F.base);
    F.soak = getenv("VG_SOAK") && strcmp(getenv("VG_SOAK"), "1") == 0;
    F.seed = getenv("VG_SEED") ? strtoull(getenv("VG_SEED"), NULL, 10) : 20261128;
    F.from = getenv("VG_SOAK_FROM") ? atol(getenv("VG_SOAK_FROM")) : 0;
    F.count = getenv("VG_SOAK_COUNT") ? atol(getenv("VG_SOAK_COUNT")) : -1;
    build_fixture();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < F.nrows; i++)
        free(F.rows[i]);
    free(F.rows);
    rm_tree(F.base);
    return 0;
}

/* ------------------------------------------------------------ torn tail */

/* Open dir: it must start, keep every batch before lost_from and nothing
 * of the later ones, and log a cut when one was expected. */
static void expect_prefix(suite_t *st, const char *dir, int lost_from, int want_log,
                          const char *what)
{
    logbuf_t log = {.len = 0};
    vg_db_t *db;
    vg_error_t err = {0};
    for (int pass = 0; pass < 2; pass++) { /* and again: the cut is durable */
        if (open_db(dir, &db, &log, &err) != VG_OK) {
            fail_case(st, "%s: open failed: %s", what, err.msg);
            return;
        }
        answer_t a;
        size_t want = F.nrows;
        for (int b = lost_from; b < F.nbatches; b++)
            want -= (size_t)F.batches[b].nrows;
        if (dump(db, INT64_MIN, INT64_MAX, &a, &err) != VG_OK)
            fail_case(st, "%s: query failed: %s", what, err.msg);
        else if (all_known(st, &a, what)) {
            size_t late = 0;
            for (size_t i = 0; i < a.n; i++)
                late += batch_of(a.rows[i]) >= lost_from;
            if (late || a.n != want)
                fail_case(st, "%s: %zu rows (want %zu), %zu of lost batches", what, a.n, want,
                          late);
        }
        answer_free(&a);
        vg_db_close(db, NULL);
        if (pass == 0 && want_log && !strstr(log.text, "torn"))
            fail_case(st, "%s: the cut was not logged", what);
    }
}

static void torn_case(suite_t *st, long x)
{
    const walfile_t *w = &F.wal[2];
    if (!in_slice(st))
        return;
    char dir[700], path[1400], what[128];
    fresh_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/wal/%s", dir, strrchr(w->path, '/') + 1);
    damage(path, DMG_TRUNCATE, x, 0);
    int j = 0;
    while (j < w->nrec && w->rec[j + 1] <= x)
        j++;
    snprintf(what, sizeof what, "WAL cut at byte %ld", x);
    st->iterations++;
    st->faults++;
    expect_prefix(st, dir, w->first_batch + j, x != w->rec[j], what);
}

static void garbage_case(suite_t *st, uint64_t *rng, int keep_prealloc)
{
    const walfile_t *w = &F.wal[2];
    size_t n = 1 + rng_next(rng) % 4096;
    int zeros = rng_next(rng) % 3 == 0;
    unsigned char buf[4096];
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= (buf[i] = zeros ? 0 : (unsigned char)rng_next(rng)) != 0;
    if (!in_slice(st))
        return;
    char dir[700], path[1400], what[128];
    fresh_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/wal/%s", dir, strrchr(w->path, '/') + 1);
    if (!keep_prealloc)
        damage(path, DMG_TRUNCATE, w->rec[w->nrec], 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, n, w->rec[w->nrec]), (ssize_t)n);
    close(fd);
    snprintf(what, sizeof what, "%zu %s bytes after the WAL tail%s", n, zeros ? "zero" : "random",
             keep_prealloc ? " (preallocated file)" : "");
    st->iterations++;
    st->faults++;
    expect_prefix(st, dir, F.nbatches, any, what);
}

static void test_torn_tail(void **state)
{
    (void)state;
    suite_t st = {.name = "torn_tail"};
    const walfile_t *w = &F.wal[2];
    uint64_t rng = F.seed;
    long lo = w->rec[w->nrec - 3], hi = w->rec[w->nrec];
    for (long x = lo; x <= hi; x++) {
        int edge = 0;
        for (int j = 0; j <= w->nrec; j++)
            edge |= x >= w->rec[j] - 1 && x <= w->rec[j] + 1;
        if (F.soak || edge || rng_next(&rng) % 40 == 0)
            torn_case(&st, x);
    }
    for (int i = 0; i < (F.soak ? 2000 : 24); i++)
        garbage_case(&st, &rng, i & 1);
    report(&st);
    assert_int_equal(st.failures, 0);
}

/* ------------------------------------------------------------ repair */

/* Repair dir, then open it: every row must be one written, and exactly
 * the rows of lost_lo..lost_hi batches (or of one segment) are missing. */
static void repair_and_check(suite_t *st, const char *dir, size_t lost_rows, int lost_lo,
                             int lost_hi, const vg_repair_report_t *want, const char *what)
{
    vg_repair_report_t rep;
    vg_error_t err = {0};
    if (vg_db_repair(dir, &rep, NULL, NULL, &err) != VG_OK) {
        fail_case(st, "%s: repair failed: %s", what, err.msg);
        return;
    }
    if (rep.files_quarantined != want->files_quarantined ||
        rep.wal_records_dropped != want->wal_records_dropped ||
        rep.rows_dropped != want->rows_dropped)
        fail_case(st,
                  "%s: repair reported %" PRIu64 " files, %" PRIu64 " records, %" PRIu64
                  " rows; want %" PRIu64 ", %" PRIu64 ", %" PRIu64,
                  what, rep.files_quarantined, rep.wal_records_dropped, rep.rows_dropped,
                  want->files_quarantined, want->wal_records_dropped, want->rows_dropped);
    vg_db_t *db;
    if (open_db(dir, &db, NULL, &err) != VG_OK) {
        fail_case(st, "%s: open after repair failed: %s", what, err.msg);
        return;
    }
    answer_t a;
    if (dump(db, INT64_MIN, INT64_MAX, &a, &err) != VG_OK)
        fail_case(st, "%s: query after repair failed: %s", what, err.msg);
    else if (all_known(st, &a, what)) {
        size_t bad = 0;
        for (size_t i = 0; i < a.n; i++) {
            int b = batch_of(a.rows[i]);
            bad += b >= lost_lo && b <= lost_hi;
        }
        if (bad || a.n != F.nrows - lost_rows)
            fail_case(st, "%s: after repair %zu rows (want %zu), %zu of dropped batches", what, a.n,
                      F.nrows - lost_rows, bad);
    }
    answer_free(&a);
    vg_db_close(db, NULL);
}

/* ------------------------------------------------------------ old WAL files */

static void wal_case(suite_t *st, int wi, enum dmg kind, long off, int bit)
{
    const walfile_t *w = &F.wal[wi];
    if (!in_slice(st))
        return;
    char dir[700], path[1400], what[200];
    fresh_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/wal/%s", dir, strrchr(w->path, '/') + 1);
    long first = damage(path, kind, off, bit);
    long last = kind == DMG_ZERO_PAGE ? (first | 4095) : kind == DMG_TRUNCATE ? LONG_MAX : first;
    snprintf(what, sizeof what, "%s at byte %ld of old WAL file %s", dmg_name[kind], off, path);
    st->iterations++;
    st->faults++;
    /* the damaged record: the first whose bytes were touched */
    int j = 0;
    while (j < w->nrec && w->rec[j + 1] <= first)
        j++;
    long want_off = first < 16 ? 0 : w->rec[j];
    vg_db_t *db;
    vg_error_t err = {0};
    int rc = open_db(dir, &db, NULL, &err);
    long named = -1;
    if (rc == VG_OK) {
        fail_case(st, "%s: opened without an error", what);
        vg_db_close(db, NULL);
        return;
    }
    if (rc != VG_ECORRUPT || !names_file_and_offset(&err, path, &named) || named != want_off)
        fail_case(st, "%s: want VG_ECORRUPT naming the file and offset %ld, got %d: %s", what,
                  want_off, rc, err.msg);
    /* repair drops the damaged record and the rest of the file; it counts
     * the rows of the records it could still read */
    if (first < 16)
        j = 0;
    /* a file cut at a record boundary has no damaged bytes to move aside */
    int clean_cut = kind == DMG_TRUNCATE && off >= 16 && off == w->rec[j];
    vg_repair_report_t want = {.files_quarantined = !clean_cut,
                               .wal_records_dropped = (uint64_t)(w->nrec - j)};
    size_t lost = 0;
    for (int r = j; r < w->nrec; r++) {
        lost += (size_t)F.batches[w->first_batch + r].nrows;
        if (w->rec[r] > last)
            want.rows_dropped += (uint64_t)F.batches[w->first_batch + r].nrows;
    }
    repair_and_check(st, dir, lost, w->first_batch + j, w->first_batch + w->nrec - 1, &want, what);
}

static void test_corrupt_wal(void **state)
{
    (void)state;
    suite_t st = {.name = "corrupt_wal"};
    uint64_t rng = F.seed ^ 0x5741;
    for (int wi = 0; wi < 2; wi++) {
        const walfile_t *w = &F.wal[wi];
        long end = w->rec[w->nrec];
        /* regression: a whole record missing at the end of an old file
         * (cut or zeroed exactly at a record boundary) */
        for (int j = 1; j < w->nrec; j++)
            wal_case(&st, wi, DMG_TRUNCATE, w->rec[j], 0);
        wal_case(&st, wi, DMG_TRUNCATE, 0, 0);
        wal_case(&st, wi, DMG_TRUNCATE, 8, 0);
        long step = F.soak ? 1 : 0;
        for (long off = 0; off < end; off += step ? step : 1 + (long)(rng_next(&rng) % 200)) {
            enum dmg kind = (enum dmg)(rng_next(&rng) % 3);
            wal_case(&st, wi, kind, off, (int)(rng_next(&rng) % 8));
        }
    }
    report(&st);
    assert_int_equal(st.failures, 0);
}

/* ------------------------------------------------------------ the catalog */

static void catalog_case(suite_t *st, enum dmg kind, long off, int bit)
{
    if (!in_slice(st))
        return;
    char dir[700], path[1400], what[200];
    fresh_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/CATALOG", dir);
    damage(path, kind, off, bit);
    snprintf(what, sizeof what, "%s at byte %ld of the catalog", dmg_name[kind], off);
    st->iterations++;
    st->faults++;
    vg_db_t *db;
    vg_error_t err = {0};
    long named;
    int rc = open_db(dir, &db, NULL, &err);
    if (rc == VG_OK) {
        fail_case(st, "%s: opened without an error", what);
        vg_db_close(db, NULL);
        return;
    }
    if (rc != VG_ECORRUPT || !names_file_and_offset(&err, path, &named))
        fail_case(st, "%s: want VG_ECORRUPT naming the file and an offset, got %d: %s", what, rc,
                  err.msg);
    /* rebuilt from the segments: nothing is lost */
    vg_repair_report_t want = {.files_quarantined = 1};
    repair_and_check(st, dir, 0, -2, -2, &want, what);
}

static void test_corrupt_catalog(void **state)
{
    (void)state;
    suite_t st = {.name = "corrupt_catalog"};
    uint64_t rng = F.seed ^ 0xca7;
    char path[700];
    snprintf(path, sizeof path, "%s/CATALOG", F.src);
    long size = file_size(path);
    for (long off = 0; off < size; off += F.soak ? 1 : 1 + (long)(rng_next(&rng) % 40)) {
        catalog_case(&st, DMG_FLIP, off, (int)(rng_next(&rng) % 8));
        if (F.soak || rng_next(&rng) % 4 == 0)
            catalog_case(&st, DMG_TRUNCATE, off, 0);
    }
    catalog_case(&st, DMG_ZERO_PAGE, 0, 0);
    /* regression: a flipped case bit in a hex digit of the checksum line,
     * and its newline, were read as the same checksum */
    for (long off = size - 9; off < size; off++)
        catalog_case(&st, DMG_FLIP, off, off == size - 1 ? 0 : 5);
    report(&st);
    assert_int_equal(st.failures, 0);
}

/* ------------------------------------------------------------ segments */

/* Every sketch of the table: VG_OK, or VG_ECORRUPT naming path. */
static int read_sketches(suite_t *st, vg_db_t *db, const char *path, const char *what)
{
    vg_scan_t *s;
    vg_error_t err = {0};
    long named;
    int rc = vg_scan_open(db, "cpu", INT64_MIN, INT64_MAX, &s, &err);
    if (rc != VG_OK) { /* a partition merged at open reads its blocks */
        if (rc != VG_ECORRUPT || !names_file_and_offset(&err, path, &named))
            fail_case(st, "%s: scan failed without naming %s and an offset: %s", what, path,
                      err.msg);
        return rc;
    }
    for (uint32_t c = 0; c < vg_scan_nchunks(s) && rc == VG_OK; c++)
        for (uint32_t f = 0; f < vg_scan_nfields(s) && rc == VG_OK; f++) {
            vg_sketch_t sk;
            vg_sketch_init(&sk);
            rc = vg_scan_chunk_sketch(s, c, f, &sk, &err);
            vg_sketch_reset(&sk);
            if (rc == VG_ENOTFOUND)
                rc = VG_OK;
        }
    if (rc != VG_OK && (rc != VG_ECORRUPT || !names_file_and_offset(&err, path, &named)))
        fail_case(st, "%s: sketch read failed without naming %s and an offset: %d %s", what, path,
                  rc, err.msg);
    vg_scan_close(s);
    return rc;
}

/* A segment damaged in its blocks only: it opens; the other partition
 * answers exactly; a read of the damage fails naming the file and offset,
 * and any answer given is the undamaged one. 1 when the damage was seen. */
static int seg_blocks_case(suite_t *st, vg_db_t *db, const segfile_t *sf, const char *path,
                           const char *what)
{
    int p = sf->ts_min >= F.part[1];
    answer_t a;
    vg_error_t err = {0};
    long named;
    if (dump(db, F.part[!p], F.part[!p] + DAY_NS, &a, &err) != VG_OK)
        fail_case(st, "%s: the other partition failed: %s", what, err.msg);
    else if (all_known(st, &a, what) && a.n != expected_in(F.part[!p], F.part[!p] + DAY_NS))
        fail_case(st, "%s: the other partition gave %zu rows", what, a.n);
    answer_free(&a);
    int seen = 0, rc = dump(db, INT64_MIN, INT64_MAX, &a, &err);
    if (rc == VG_OK) {
        if (all_known(st, &a, what) && a.n != F.nrows)
            fail_case(st, "%s: a damaged read gave %zu rows (want %zu)", what, a.n, F.nrows);
    } else if (rc != VG_ECORRUPT || !names_file_and_offset(&err, path, &named) || named < 32 ||
               named >= sf->meta_off) {
        fail_case(st, "%s: want VG_ECORRUPT naming the file and a block offset, got %d: %s", what,
                  rc, err.msg);
    } else {
        seen = 1;
    }
    answer_free(&a);
    return seen | (read_sketches(st, db, path, what) != VG_OK);
}

static void seg_case(suite_t *st, int si, enum dmg kind, long off, int bit)
{
    const segfile_t *sf = &F.seg[si];
    if (!in_slice(st))
        return;
    char dir[700], path[1400], what[200];
    fresh_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/segments/%s", dir, sf->name);
    long first = damage(path, kind, off, bit);
    long last = kind == DMG_ZERO_PAGE ? (first | 4095) : kind == DMG_FLIP ? first : LONG_MAX;
    int blocks_only = first >= 32 && last < sf->meta_off;
    const char *region = off < 32              ? "header"
                         : off < sf->meta_off  ? "blocks"
                         : off < sf->size - 40 ? "index"
                         : off < sf->size      ? "footer"
                                               : "end";
    snprintf(what, sizeof what, "%s at byte %ld (%s) of segment %s", dmg_name[kind], off, region,
             path);
    st->iterations++;
    st->faults++;
    vg_db_t *db;
    vg_error_t err = {0};
    long named;
    int rc = open_db(dir, &db, NULL, &err);
    if (!blocks_only) {
        if (rc == VG_OK) {
            fail_case(st, "%s: opened without an error", what);
            vg_db_close(db, NULL);
            return;
        }
        if (rc != VG_ECORRUPT || !names_file_and_offset(&err, path, &named))
            fail_case(st, "%s: want VG_ECORRUPT naming the file and an offset, got %d: %s", what,
                      rc, err.msg);
    } else if (rc != VG_OK) {
        fail_case(st, "%s: damage in a block refused the open: %s", what, err.msg);
        return;
    } else {
        /* a query may never read the damage (a sketch of a partition
         * that is merged row by row): repair must find it */
        (void)seg_blocks_case(st, db, sf, path, what);
        vg_db_close(db, NULL);
    }
    /* repair moves the segment aside (its rows counted when its index is
     * sound) */
    vg_repair_report_t want = {.files_quarantined = 1, .rows_dropped = blocks_only ? sf->nrows : 0};
    size_t lost = (size_t)sf->nrows;
    repair_and_check(st, dir, lost, -2, -2, &want, what);
}

/* A block damaged on disk after a process opened and read its segment.
 * A chunk's checksum is verified on its first read while the segment is
 * open (segment.c): a file rewritten under a running process is outside
 * the contract, so the damage must be caught after the next open. */
static void seg_open_case(suite_t *st, int si, long off)
{
    const segfile_t *sf = &F.seg[si];
    if (!in_slice(st))
        return;
    char dir[700], path[1400], what[200];
    fresh_copy(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/segments/%s", dir, sf->name);
    snprintf(what, sizeof what, "bit flip at byte %ld of open segment %s", off, path);
    st->iterations++;
    st->faults++;
    vg_db_t *db;
    vg_error_t err = {0};
    assert_int_equal(open_db(dir, &db, NULL, &err), VG_OK);
    answer_t a;
    assert_int_equal(dump(db, INT64_MIN, INT64_MAX, &a, &err), VG_OK);
    answer_free(&a);
    damage(path, DMG_FLIP, off, 3);
    vg_db_close(db, NULL);
    assert_int_equal(open_db(dir, &db, NULL, &err), VG_OK);
    if (!seg_blocks_case(st, db, sf, path, what))
        fail_case(st, "%s: no read saw the damage", what);
    vg_db_close(db, NULL);
}

static void test_corrupt_segment(void **state)
{
    (void)state;
    suite_t st = {.name = "corrupt_segment"};
    uint64_t rng = F.seed ^ 0x5e6;
    for (int si = 0; si < F.nsegs; si++) {
        const segfile_t *sf = &F.seg[si];
        /* region bounds: header, blocks, index, footer */
        long lo[4] = {0, 32, sf->meta_off, sf->size - 40};
        long hi[4] = {32, sf->meta_off, sf->size - 40, sf->size};
        int per[4] = {2, 6, 5, 2}; /* the sample: soak takes every byte */
        for (int r = 0; r < 4; r++) {
            long n = F.soak ? (hi[r] - lo[r]) : per[r];
            for (long k = 0; k < n; k++) {
                long off =
                    F.soak ? lo[r] + k : lo[r] + (long)(rng_next(&rng) % (uint64_t)(hi[r] - lo[r]));
                seg_case(&st, si, DMG_FLIP, off, (int)(rng_next(&rng) % 8));
                if (F.soak || k % 3 == 0)
                    seg_case(&st, si, DMG_ZERO_PAGE, off, 0);
                if (F.soak ? k % 7 == 0 : k == 0)
                    seg_case(&st, si, DMG_TRUNCATE, off, 0);
            }
        }
        /* `truncate -s` shorter and longer, then reopen */
        seg_case(&st, si, DMG_TRUNCATE, sf->size - 1, 0);
        seg_case(&st, si, DMG_TRUNCATE, sf->size / 2, 0);
        seg_case(&st, si, DMG_GROW, 1, 0);
        seg_case(&st, si, DMG_GROW, 4096, 0);
        /* regression: a damaged sketch is found by repair even where no
         * query reads it */
        if (sf->sketch_off)
            seg_case(&st, si, DMG_FLIP, sf->sketch_off + 1, 2);
        seg_open_case(&st, si, 33); /* inside block 0's ts chunk */
        seg_open_case(&st, si, 40);
    }
    report(&st);
    assert_int_equal(st.failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_corrupt_wal),
        cmocka_unit_test(test_corrupt_catalog),
        cmocka_unit_test(test_corrupt_segment),
    };
    if (getenv("VG_TEST_FILTER")) /* e.g. VG_TEST_FILTER=test_torn_tail */
        cmocka_set_test_filter(getenv("VG_TEST_FILTER"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
