/*
 * test_segment.c: segments written and read back exactly; block cuts, stats
 * and sketches against values recomputed here from the input; damaged files
 * (bit flips, truncations, zeroed pages) never crash a reader nor give a
 * wrong answer; the publish order and its failure paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "format.h"
#include "segment.h"
#include "vigil/vg_alloc.h"

/* ---- fixtures ---------------------------------------------------------- */

typedef struct fixture {
    char dir[512];
    vg_io_t *io;
} fixture_t;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    const char *base = getenv("VG_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(f->dir, sizeof f->dir, "%s/seg.XXXXXX", base);
    if (!mkdtemp(f->dir))
        return -1;
    vg_io_opts_t o = {.kind = VG_IO_AUTO};
    if (vg_io_create(&o, &f->io, NULL) != 0)
        return -1;
    rng_state = 42;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[1024];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    vg_io_destroy(f->io);
    free(f);
    return 0;
}

static void path_of(const fixture_t *f, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", f->dir, name);
}

static int file_exists(const fixture_t *f, const char *name)
{
    char p[1024];
    path_of(f, name, p, sizeof p);
    return access(p, F_OK) == 0;
}

static int dir_entries(const fixture_t *f)
{
    int n = 0;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* ---- a dataset: rows of several series, every column type, nulls -------- */

enum { C_LAT, C_TOK, C_BYTES, C_REF, C_MODEL, C_TOOL, C_RARE, NCOLS };

typedef struct dataset {
    size_t nrows;
    int64_t *ts;
    uint32_t *series;
    uint32_t nseries;
    vg_seg_series_t *tags;
    const char *keys[2];
    char (*vals)[2][32];
    uint32_t (*klens)[2], (*vlens)[2];
    const char *(*vptrs)[2];
    vg_colvec_t vec[NCOLS];
    vg_seg_col_in_t cols[NCOLS];
    vg_seg_input_t in;
} dataset_t;

static void set_bit(uint8_t *bits, size_t i)
{
    bits[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static void make_tags(dataset_t *d)
{
    d->keys[0] = "host";
    d->keys[1] = "model";
    d->tags = calloc(d->nseries, sizeof *d->tags);
    d->vals = calloc(d->nseries, sizeof *d->vals);
    d->klens = calloc(d->nseries, sizeof *d->klens);
    d->vlens = calloc(d->nseries, sizeof *d->vlens);
    d->vptrs = calloc(d->nseries, sizeof *d->vptrs);
    for (uint32_t s = 0; s < d->nseries; s++) {
        snprintf(d->vals[s][0], 32, "h%u", s);
        snprintf(d->vals[s][1], 32, "%s", s % 4 == 1 ? "" : "gpt-x"); /* an empty value */
        for (int t = 0; t < 2; t++) {
            d->klens[s][t] = (uint32_t)strlen(d->keys[t]);
            d->vlens[s][t] = (uint32_t)strlen(d->vals[s][t]);
            d->vptrs[s][t] = d->vals[s][t];
        }
        d->tags[s] = (vg_seg_series_t){.ntags = s % 3, /* 0, 1 or 2 tags */
                                       .keys = d->keys,
                                       .klens = d->klens[s],
                                       .vals = d->vptrs[s],
                                       .vlens = d->vlens[s]};
    }
}

static void alloc_cols(dataset_t *d)
{
    static const char *names[NCOLS] = {"latency_ms", "tokens", "bytes", "refused",
                                       "model",      "tool",   "rare"};
    static const vg_type_t types[NCOLS] = {VG_TYPE_FLOAT, VG_TYPE_INT,    VG_TYPE_UINT,
                                           VG_TYPE_BOOL,  VG_TYPE_STRING, VG_TYPE_STRING,
                                           VG_TYPE_INT};
    size_t n = d->nrows;
    for (int c = 0; c < NCOLS; c++) {
        vg_colvec_t *v = &d->vec[c];
        v->type = types[c];
        v->n = n;
        v->valid = c == C_BYTES ? NULL : calloc(n / 8 + 1, 1); /* bytes: never null */
        if (types[c] == VG_TYPE_STRING)
            v->soffs = calloc(n + 1, sizeof *v->soffs);
        else
            v->v.u = calloc(n + 1, 8);
        d->cols[c] = (vg_seg_col_in_t){names[c], v};
    }
}

/* Appends a string value for row i of a string column. */
static void put_str(vg_colvec_t *v, size_t i, const char *s, size_t len, size_t *cap)
{
    size_t at = v->soffs[i];
    if (at + len + 1 > *cap) {
        *cap = (at + len + 1) * 2;
        v->sdata = realloc(v->sdata, *cap);
    }
    memcpy(v->sdata + at, s, len);
    v->soffs[i + 1] = (uint32_t)(at + len);
}

static void fill_row(dataset_t *d, size_t i, uint32_t s, size_t caps[NCOLS])
{
    vg_colvec_t *v = d->vec;
    uint64_t r = rnd();
    if (i % 7 != 3) {
        set_bit(v[C_LAT].valid, i);
        v[C_LAT].v.f[i] = 1.0 + (double)(rnd() % 200000) / 7.0 * (1 + s % 3);
    }
    if (r % 10 != 0) {
        set_bit(v[C_TOK].valid, i);
        v[C_TOK].v.i[i] = (int64_t)(rnd() % 6000) - 500;
        if (s == 3 && i % 1000 == 5)
            v[C_TOK].v.i[i] = INT64_MAX / 2; /* some blocks' sums overflow */
    }
    v[C_BYTES].v.u[i] = rnd() % 1000000000000ull;
    if (s == 5 && i % 300 == 0)
        v[C_BYTES].v.u[i] = UINT64_MAX - rnd() % 1000;
    if ((r >> 8) % 5 != 0) {
        set_bit(v[C_REF].valid, i);
        v[C_REF].v.b[i] = (rnd() % 9) == 0;
    }
    char buf[400];
    size_t len = 0;
    if ((r >> 16) % 6 != 0) {
        set_bit(v[C_MODEL].valid, i);
        unsigned k = (unsigned)(rnd() % 5);
        len = k == 0 ? 0 : k == 4 ? 300 : (size_t)snprintf(buf, sizeof buf, "model-%u", k);
        if (k == 4)
            for (size_t j = 0; j < len; j++)
                buf[j] = (char)('a' + rnd() % 26);
    }
    put_str(&v[C_MODEL], i, buf, len, &caps[C_MODEL]);
    len = 0;
    if (s % 2 == 0 && (r >> 24) % 3 == 0) { /* odd series: the column is all null */
        set_bit(v[C_TOOL].valid, i);
        len = (size_t)snprintf(buf, sizeof buf, "tool_%u", (unsigned)(rnd() % 40));
    }
    put_str(&v[C_TOOL], i, buf, len, &caps[C_TOOL]);
    if (i % 4999 == 17) {
        set_bit(v[C_RARE].valid, i);
        v[C_RARE].v.i[i] = (int64_t)i;
    }
}

/* Series s holds sizes[s] rows. */
static void make_dataset(dataset_t *d, const size_t *sizes, uint32_t nseries)
{
    memset(d, 0, sizeof *d);
    d->nseries = nseries;
    for (uint32_t s = 0; s < nseries; s++)
        d->nrows += sizes[s];
    d->ts = calloc(d->nrows + 1, sizeof *d->ts);
    d->series = calloc(d->nrows + 1, sizeof *d->series);
    make_tags(d);
    alloc_cols(d);
    const int64_t part = INT64_C(1700000000) * VG_NS_PER_SEC;
    size_t caps[NCOLS] = {0}, i = 0;
    for (uint32_t s = 0; s < nseries; s++) {
        int64_t t = part + (int64_t)(rnd() % 1000);
        for (size_t j = 0; j < sizes[s]; j++, i++) {
            t += 1 + (int64_t)(rnd() % 500000000);
            d->ts[i] = t;
            d->series[i] = s;
            fill_row(d, i, s, caps);
        }
    }
    for (int c = 0; c < NCOLS; c++)
        if (d->vec[c].type == VG_TYPE_STRING && !d->vec[c].sdata)
            d->vec[c].sdata = calloc(1, 1);
    d->in = (vg_seg_input_t){.table = "llm_request",
                             .part_start = part,
                             .part_end = part + 86400 * VG_NS_PER_SEC * 100,
                             .wal_lsn = 123456789,
                             .nrows = d->nrows,
                             .ts = d->ts,
                             .series = d->series,
                             .nseries = nseries,
                             .series_tags = d->tags,
                             .ncols = NCOLS,
                             .cols = d->cols};
}

static void free_dataset(dataset_t *d)
{
    for (int c = 0; c < NCOLS; c++) {
        free(d->vec[c].valid);
        free(d->vec[c].v.u);
        free(d->vec[c].sdata);
        free(d->vec[c].soffs);
    }
    free(d->ts);
    free(d->series);
    free(d->tags);
    free(d->vals);
    free(d->klens);
    free(d->vlens);
    free(d->vptrs);
}

static const size_t BIG_SIZES[] = {3, 5000, 17, 20000, 900, 1500, 40000, 2, 35000, 700, 1024};
#define BIG_NSERIES ((uint32_t)(sizeof BIG_SIZES / sizeof BIG_SIZES[0]))

static vg_seg_t *write_open(fixture_t *f, const dataset_t *d, const char *name,
                            const vg_seg_write_opts_t *o)
{
    vg_error_t err = {0};
    uint64_t bytes = 0;
    int rc = vg_seg_write(f->io, f->dir, name, &d->in, o, &bytes, &err);
    if (rc != 0)
        fail_msg("vg_seg_write: %s", err.msg);
    char p[1024];
    path_of(f, name, p, sizeof p);
    vg_seg_t *s = NULL;
    rc = vg_seg_open(f->io, p, &s, &err);
    if (rc != 0)
        fail_msg("vg_seg_open: %s", err.msg);
    assert_int_equal(vg_seg_file_bytes(s), bytes);
    return s;
}

/* ---- comparing a block with the input ---------------------------------- */

static int col_equal(const vg_colvec_t *got, const vg_colvec_t *in, size_t r0, size_t n)
{
    if (got->type != in->type || got->n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int gv = vg_colvec_valid(got, i), iv = vg_colvec_valid(in, r0 + i);
        if (gv != iv)
            return 0;
        switch (in->type) {
        case VG_TYPE_BOOL:
            if (got->v.b[i] != (iv ? in->v.b[r0 + i] : 0))
                return 0;
            break;
        case VG_TYPE_STRING: {
            uint32_t gl = got->soffs[i + 1] - got->soffs[i];
            uint32_t il = iv ? in->soffs[r0 + i + 1] - in->soffs[r0 + i] : 0;
            if (gl != il || memcmp(got->sdata + got->soffs[i], in->sdata + in->soffs[r0 + i], gl))
                return 0;
            break;
        }
        default:
            if (got->v.u[i] != (iv ? in->v.u[r0 + i] : 0)) /* bit-exact, floats too */
                return 0;
        }
    }
    return 1;
}

/* A read's outcome: exactly right, or VG_ECORRUPT naming the file. */
static int check_outcome(int rc, const vg_error_t *err, const char *path, int equal)
{
    if (rc == 0) {
        if (!equal)
            fail_msg("a read of %s returned wrong data", path);
        return 1;
    }
    if (rc != VG_ECORRUPT || !strstr(err->msg, path) || !strstr(err->msg, "offset"))
        fail_msg("a read of %s failed with %d (%s)", path, rc, err->msg);
    return 0;
}

/* Reads every block; returns how many reads succeeded. With strict, all must. */
static size_t verify_blocks(const vg_seg_t *s, const dataset_t *d, int strict)
{
    const char *path = vg_seg_path(s);
    size_t ok = 0, r0 = 0;
    size_t cap = 1;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++)
        if (vg_seg_block(s, b).nrows > cap)
            cap = vg_seg_block(s, b).nrows;
    int64_t *ts = calloc(cap, sizeof *ts);
    uint32_t *ids = calloc(cap, sizeof *ids);
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        vg_seg_blockinfo_t bi = vg_seg_block(s, b);
        vg_error_t err = {0};
        int rc = vg_seg_read_ts(s, b, ts, &err);
        ok += check_outcome(rc, &err, path,
                            rc == 0 && !memcmp(ts, d->ts + r0, bi.nrows * sizeof *ts));
        rc = vg_seg_read_series(s, b, ids, &err);
        ok += check_outcome(rc, &err, path,
                            rc == 0 && !memcmp(ids, d->series + r0, bi.nrows * sizeof *ids));
        for (uint32_t c = 0; c < vg_seg_ncols(s); c++) {
            vg_colvec_t v;
            rc = vg_seg_read_col(s, b, c, &v, &err);
            ok += check_outcome(rc, &err, path, rc == 0 && col_equal(&v, &d->vec[c], r0, bi.nrows));
            if (rc == 0)
                vg_colvec_free(&v);
        }
        r0 += bi.nrows;
    }
    if (strict)
        assert_int_equal(ok, (size_t)vg_seg_nblocks(s) * (2 + vg_seg_ncols(s)));
    free(ts);
    free(ids);
    return ok;
}

/* ---- round trips ------------------------------------------------------- */

static void check_meta(const vg_seg_t *s, const dataset_t *d)
{
    assert_string_equal(vg_seg_table(s), "llm_request");
    assert_int_equal(vg_seg_part_start(s), d->in.part_start);
    assert_int_equal(vg_seg_part_end(s), d->in.part_end);
    assert_int_equal(vg_seg_nrows(s), d->nrows);
    assert_int_equal(vg_seg_wal_lsn(s), 123456789);
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (size_t i = 0; i < d->nrows; i++) {
        mn = d->ts[i] < mn ? d->ts[i] : mn;
        mx = d->ts[i] > mx ? d->ts[i] : mx;
    }
    assert_int_equal(vg_seg_ts_min(s), mn);
    assert_int_equal(vg_seg_ts_max(s), mx);
    assert_int_equal(vg_seg_nseries(s), d->nseries);
    for (uint32_t i = 0; i < d->nseries; i++) {
        vg_seg_series_t t;
        assert_int_equal(vg_seg_series(s, i, &t), 0);
        assert_int_equal(t.ntags, d->tags[i].ntags);
        for (uint32_t k = 0; k < t.ntags; k++) {
            assert_int_equal(t.klens[k], d->klens[i][k]);
            assert_memory_equal(t.keys[k], d->keys[k], t.klens[k]);
            assert_int_equal(t.vlens[k], d->vlens[i][k]);
            assert_memory_equal(t.vals[k], d->vals[i][k], t.vlens[k]);
        }
    }
    vg_seg_series_t none;
    assert_int_not_equal(vg_seg_series(s, d->nseries, &none), 0);
    assert_int_equal(vg_seg_ncols(s), NCOLS);
    for (int c = 0; c < NCOLS; c++) {
        assert_string_equal(vg_seg_col(s, (uint32_t)c).name, d->cols[c].name);
        assert_int_equal(vg_seg_col(s, (uint32_t)c).type, d->vec[c].type);
        assert_int_equal(vg_seg_col_find(s, d->cols[c].name), c);
    }
    assert_int_equal(vg_seg_col_find(s, "nope"), -1);
}

static void test_seg_round_trips_every_type_with_nulls(void **state)
{
    fixture_t *f = *state;
    dataset_t d;
    make_dataset(&d, BIG_SIZES, BIG_NSERIES);
    assert_true(d.nrows >= 100000);
    vg_seg_t *s = write_open(f, &d, "a.seg", NULL);
    check_meta(s, &d);
    assert_true(vg_seg_nblocks(s) > 12);
    verify_blocks(s, &d, 1);
    assert_false(file_exists(f, "a.seg.tmp"));
    vg_seg_close(s);
    free_dataset(&d);
}

/* Blocks where tool is all null still read back, as all-null columns. */
static void test_seg_reads_an_absent_column_as_all_null(void **state)
{
    fixture_t *f = *state;
    dataset_t d;
    make_dataset(&d, BIG_SIZES, BIG_NSERIES);
    vg_seg_write_opts_t o = {.min_block_rows = 100, .max_block_rows = 1000};
    vg_seg_t *s = write_open(f, &d, "a.seg", &o);
    size_t absent = 0;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        vg_seg_blockinfo_t bi = vg_seg_block(s, b);
        if (vg_seg_block_stats(s, b, C_TOOL) != NULL)
            continue;
        absent++;
        vg_colvec_t v;
        assert_int_equal(vg_seg_read_col(s, b, C_TOOL, &v, NULL), 0);
        assert_int_equal(v.n, bi.nrows);
        for (size_t i = 0; i < v.n; i++) {
            assert_false(vg_colvec_valid(&v, i));
            assert_int_equal(v.soffs[i + 1], 0);
        }
        vg_colvec_free(&v);
        vg_sketch_t sk;
        vg_sketch_init(&sk);
        assert_int_equal(vg_seg_block_sketch(s, b, C_RARE, &sk, NULL),
                         vg_seg_block_stats(s, b, C_RARE) ? 0 : VG_ENOTFOUND);
        vg_sketch_reset(&sk);
    }
    assert_true(absent >= 20); /* the odd series: 5 + 20 + 1 blocks at least */
    vg_seg_close(s);
    free_dataset(&d);
}

static void test_seg_round_trips_empty_and_single_row(void **state)
{
    fixture_t *f = *state;
    const size_t one[] = {1};
    dataset_t d;
    make_dataset(&d, one, 1);
    vg_seg_t *s = write_open(f, &d, "one.seg", NULL);
    assert_int_equal(vg_seg_nblocks(s), 1);
    verify_blocks(s, &d, 1);
    vg_seg_close(s);
    d.in.nrows = 0;
    d.in.nseries = 0;
    d.in.ncols = 0;
    s = write_open(f, &d, "empty.seg", NULL);
    assert_int_equal(vg_seg_nblocks(s), 0);
    assert_int_equal(vg_seg_nrows(s), 0);
    assert_int_equal(vg_seg_ncols(s), 0);
    vg_seg_close(s);
    free_dataset(&d);
}

static void test_seg_write_rejects_unsorted_or_duplicate_rows(void **state)
{
    fixture_t *f = *state;
    const size_t sizes[] = {10, 10};
    dataset_t d;
    make_dataset(&d, sizes, 2);
    vg_error_t err = {0};
    d.ts[5] = d.ts[4]; /* duplicate (series, ts) */
    assert_int_equal(vg_seg_write(f->io, f->dir, "x.seg", &d.in, NULL, NULL, &err), VG_EINVAL);
    d.ts[5] = d.ts[4] + 1;
    d.series[12] = 0; /* series goes back */
    assert_int_equal(vg_seg_write(f->io, f->dir, "x.seg", &d.in, NULL, NULL, &err), VG_EINVAL);
    d.series[12] = 1;
    d.ts[0] = d.in.part_end; /* outside the partition */
    assert_int_equal(vg_seg_write(f->io, f->dir, "x.seg", &d.in, NULL, NULL, &err), VG_EINVAL);
    assert_int_equal(dir_entries(f), 0);
    free_dataset(&d);
}

/* ---- block cuts -------------------------------------------------------- */

static void check_cuts(const vg_seg_t *s, const dataset_t *d, size_t min, size_t max)
{
    size_t r0 = 0;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        vg_seg_blockinfo_t bi = vg_seg_block(s, b);
        size_t end = r0 + bi.nrows;
        assert_true(bi.nrows >= 1 && bi.nrows <= max);
        assert_int_equal(bi.series_lo, d->series[r0]);
        assert_int_equal(bi.series_hi, d->series[end - 1]);
        int at_boundary = end == d->nrows || d->series[end] != d->series[end - 1];
        /* cut at max rows, or at a series boundary having min rows, or at the end */
        assert_true(bi.nrows == max || (at_boundary && bi.nrows >= min) || end == d->nrows);
        /* ... and at the first boundary where the block held min rows */
        for (size_t r = r0 + min; r < end; r++)
            assert_true(d->series[r] == d->series[r - 1]);
        /* a block that starts a series holding >= min rows covers it alone */
        int starts = r0 == 0 || d->series[r0] != d->series[r0 - 1];
        size_t run = 0;
        while (r0 + run < d->nrows && d->series[r0 + run] == d->series[r0])
            run++;
        if (starts && run >= min)
            assert_int_equal(bi.series_lo, bi.series_hi);
        r0 = end;
    }
    assert_int_equal(r0, d->nrows);
}

static void test_seg_cuts_blocks_at_series_boundaries(void **state)
{
    fixture_t *f = *state;
    dataset_t d;
    make_dataset(&d, BIG_SIZES, BIG_NSERIES);
    vg_seg_t *s = write_open(f, &d, "a.seg", NULL);
    check_cuts(s, &d, 1024, 8192);
    vg_seg_close(s);
    vg_seg_write_opts_t o = {.min_block_rows = 10, .max_block_rows = 64, .lz4_accel = 4};
    s = write_open(f, &d, "b.seg", &o);
    check_cuts(s, &d, 10, 64);
    verify_blocks(s, &d, 1);
    vg_seg_close(s);
    free_dataset(&d);
}

/* ---- stats and sketches ------------------------------------------------ */

static void check_stats(const vg_seg_stats_t *st, const vg_colvec_t *v, size_t r0, size_t n)
{
    uint32_t count = 0;
    double fmin = INFINITY, fmax = -INFINITY, fsum = 0;
    int64_t imin = INT64_MAX, imax = INT64_MIN, isum = 0;
    uint64_t umin = UINT64_MAX, umax = 0, usum = 0;
    int ovf = 0;
    for (size_t i = r0; i < r0 + n; i++) {
        if (!vg_colvec_valid(v, i))
            continue;
        count++;
        if (v->type == VG_TYPE_FLOAT) {
            fmin = fmin < v->v.f[i] ? fmin : v->v.f[i];
            fmax = fmax > v->v.f[i] ? fmax : v->v.f[i];
            fsum += v->v.f[i];
        } else if (v->type == VG_TYPE_INT || v->type == VG_TYPE_BOOL) {
            int64_t x = v->type == VG_TYPE_INT ? v->v.i[i] : v->v.b[i];
            imin = imin < x ? imin : x;
            imax = imax > x ? imax : x;
            ovf |= __builtin_add_overflow(isum, x, &isum);
        } else if (v->type == VG_TYPE_UINT) {
            umin = umin < v->v.u[i] ? umin : v->v.u[i];
            umax = umax > v->v.u[i] ? umax : v->v.u[i];
            ovf |= __builtin_add_overflow(usum, v->v.u[i], &usum);
        }
    }
    if (count == 0) {
        assert_null(st);
        return;
    }
    assert_non_null(st);
    assert_int_equal(st->count, count);
    assert_int_equal(st->nulls, n - count);
    switch (v->type) {
    case VG_TYPE_FLOAT:
        assert_true(st->min.f == fmin && st->max.f == fmax && st->sum.f == fsum);
        break;
    case VG_TYPE_INT:
    case VG_TYPE_BOOL:
        assert_int_equal(st->min.i, imin);
        assert_int_equal(st->max.i, imax);
        assert_int_equal(st->sum.i, isum);
        assert_int_equal(st->sum_overflow, v->type == VG_TYPE_INT && ovf);
        break;
    case VG_TYPE_UINT:
        assert_int_equal(st->min.u, umin);
        assert_int_equal(st->max.u, umax);
        assert_int_equal(st->sum.u, usum);
        assert_int_equal(st->sum_overflow, ovf);
        break;
    default:
        break;
    }
}

static void test_seg_stats_equal_recomputed_values(void **state)
{
    fixture_t *f = *state;
    dataset_t d;
    make_dataset(&d, BIG_SIZES, BIG_NSERIES);
    vg_seg_write_opts_t o = {.min_block_rows = 500, .max_block_rows = 3000};
    vg_seg_t *s = write_open(f, &d, "a.seg", &o);
    size_t r0 = 0, overflows = 0;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        size_t n = vg_seg_block(s, b).nrows;
        for (uint32_t c = 0; c < NCOLS; c++) {
            const vg_seg_stats_t *st = vg_seg_block_stats(s, b, c);
            check_stats(st, &d.vec[c], r0, n);
            overflows += st && st->sum_overflow;
        }
        r0 += n;
    }
    assert_true(overflows >= 2); /* both the INT and the UINT overflow somewhere */
    assert_null(vg_seg_block_stats(s, vg_seg_nblocks(s), 0));
    vg_seg_close(s);
    free_dataset(&d);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void check_sketch(const vg_sketch_t *sk, const vg_colvec_t *v, size_t r0, size_t n,
                         double *tmp)
{
    size_t k = 0;
    for (size_t i = r0; i < r0 + n; i++)
        if (vg_colvec_valid(v, i))
            tmp[k++] = v->type == VG_TYPE_FLOAT ? v->v.f[i]
                       : v->type == VG_TYPE_INT ? (double)v->v.i[i]
                                                : (double)v->v.u[i];
    qsort(tmp, k, sizeof *tmp, cmp_double);
    assert_int_equal(sk->count, k);
    static const double qs[] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1};
    for (size_t j = 0; j < sizeof qs / sizeof qs[0]; j++) {
        double want = tmp[(size_t)floor(qs[j] * (double)(k - 1))];
        double got = vg_sketch_quantile(sk, qs[j]);
        if (!(fabs(got - want) <= 0.01 * fabs(want) * (1 + 1e-9)))
            fail_msg("q=%g: sketch %.17g, exact %.17g", qs[j], got, want);
    }
}

static void test_seg_sketches_give_one_percent_quantiles(void **state)
{
    fixture_t *f = *state;
    dataset_t d;
    make_dataset(&d, BIG_SIZES, BIG_NSERIES);
    vg_seg_t *s = write_open(f, &d, "a.seg", NULL);
    double *tmp = calloc(8192, sizeof *tmp);
    size_t r0 = 0, checked = 0;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        size_t n = vg_seg_block(s, b).nrows;
        for (uint32_t c = 0; c < NCOLS; c++) {
            vg_sketch_t sk;
            vg_sketch_init(&sk);
            vg_error_t err = {0};
            int rc = vg_seg_block_sketch(s, b, c, &sk, &err);
            vg_type_t t = d.vec[c].type;
            int numeric = t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT;
            if (!numeric || !vg_seg_block_stats(s, b, c)) {
                assert_int_equal(rc, VG_ENOTFOUND);
            } else {
                assert_int_equal(rc, 0);
                check_sketch(&sk, &d.vec[c], r0, n, tmp);
                checked++;
            }
            vg_sketch_reset(&sk);
        }
        r0 += n;
    }
    assert_true(checked >= 3 * vg_seg_nblocks(s));
    free(tmp);
    vg_seg_close(s);
    free_dataset(&d);
}

/* ---- concurrent readers ------------------------------------------------ */

typedef struct reader_arg {
    const vg_seg_t *s;
    const dataset_t *d;
    size_t ok;
} reader_arg_t;

static void *reader(void *p)
{
    reader_arg_t *a = p;
    a->ok = verify_blocks(a->s, a->d, 0);
    return NULL;
}

static void test_seg_serves_concurrent_readers(void **state)
{
    fixture_t *f = *state;
    const size_t sizes[] = {3000, 10, 4000, 2500};
    dataset_t d;
    make_dataset(&d, sizes, 4);
    vg_seg_write_opts_t o = {.min_block_rows = 100, .max_block_rows = 700};
    vg_seg_t *s = write_open(f, &d, "a.seg", &o);
    pthread_t th[4];
    reader_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (reader_arg_t){s, &d, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, (size_t)vg_seg_nblocks(s) * (2 + NCOLS));
    }
    vg_seg_close(s);
    free_dataset(&d);
}

/* ---- damaged files ----------------------------------------------------- */

typedef struct damage {
    fixture_t *f;
    dataset_t d;
    const vg_seg_t *orig;
    char path[1024];
    uint8_t *bytes; /* the intact file */
    size_t len;
    size_t opened, failed, reads_ok;
} damage_t;

static void write_bytes(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

static void damage_setup(damage_t *dm, fixture_t *f)
{
    memset(dm, 0, sizeof *dm);
    dm->f = f;
    const size_t sizes[] = {700, 5, 1200, 40, 900, 300};
    make_dataset(&dm->d, sizes, 6);
    vg_seg_write_opts_t o = {.min_block_rows = 64, .max_block_rows = 256};
    dm->orig = write_open(f, &dm->d, "orig.seg", &o);
    char p[1024];
    path_of(f, "orig.seg", p, sizeof p);
    FILE *fp = fopen(p, "rb");
    dm->len = (size_t)vg_seg_file_bytes(dm->orig);
    dm->bytes = malloc(dm->len);
    assert_int_equal(fread(dm->bytes, 1, dm->len, fp), dm->len);
    fclose(fp);
    path_of(f, "bad.seg", dm->path, sizeof dm->path);
}

static void damage_teardown(damage_t *dm)
{
    vg_seg_close((vg_seg_t *)dm->orig);
    free_dataset(&dm->d);
    free(dm->bytes);
}

/* Open the damaged file at dm->path: fail with VG_ECORRUPT naming it, or
 * give the original's metadata and exact (or VG_ECORRUPT) reads. */
static void damage_check(damage_t *dm)
{
    vg_seg_t *s = NULL;
    vg_error_t err = {0};
    int rc = vg_seg_open(dm->f->io, dm->path, &s, &err);
    if (rc != 0) {
        if (rc != VG_ECORRUPT || !strstr(err.msg, dm->path) || !strstr(err.msg, "offset"))
            fail_msg("open failed with %d: %s", rc, err.msg);
        dm->failed++;
        return;
    }
    dm->opened++;
    const vg_seg_t *o = dm->orig;
    assert_int_equal(vg_seg_nblocks(s), vg_seg_nblocks(o));
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        vg_seg_blockinfo_t x = vg_seg_block(s, b), y = vg_seg_block(o, b);
        assert_memory_equal(&x, &y, sizeof x);
        for (uint32_t c = 0; c < NCOLS; c++) {
            const vg_seg_stats_t *a = vg_seg_block_stats(s, b, c), *e = vg_seg_block_stats(o, b, c);
            assert_true((a == NULL) == (e == NULL));
            if (a)
                assert_memory_equal(a, e, sizeof *a);
            vg_sketch_t sk;
            vg_sketch_init(&sk);
            rc = vg_seg_block_sketch(s, b, c, &sk, &err);
            if (rc == 0) {
                vg_sketch_t want;
                vg_sketch_init(&want);
                assert_int_equal(vg_seg_block_sketch(o, b, c, &want, NULL), 0);
                assert_true(sk.count == want.count && sk.min == want.min && sk.max == want.max);
                assert_true(vg_sketch_quantile(&sk, 0.5) == vg_sketch_quantile(&want, 0.5));
                vg_sketch_reset(&want);
            } else if (rc != VG_ENOTFOUND) {
                check_outcome(rc, &err, dm->path, 0);
            }
            vg_sketch_reset(&sk);
        }
    }
    dm->reads_ok += verify_blocks(s, &dm->d, 0);
    vg_seg_close(s);
}

static void put_byte(const char *path, size_t at, uint8_t v)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &v, 1, (off_t)at), 1);
    close(fd);
}

static void test_seg_survives_random_bit_flips(void **state)
{
    damage_t dm;
    damage_setup(&dm, *state);
    write_bytes(dm.path, dm.bytes, dm.len);
    const size_t envelope = sizeof(vg_fmt_seg_header_t) + sizeof(vg_fmt_seg_footer_t);
    for (size_t t = 0; t < 2000 + envelope; t++) {
        size_t at;
        if (t < envelope) /* every header and footer byte */
            at = t < sizeof(vg_fmt_seg_header_t) ? t : dm.len - (t - sizeof(vg_fmt_seg_header_t)) - 1;
        else
            at = rnd() % dm.len;
        uint8_t bit = (uint8_t)(1u << (rnd() % 8));
        put_byte(dm.path, at, dm.bytes[at] ^ bit);
        damage_check(&dm);
        put_byte(dm.path, at, dm.bytes[at]);
    }
    /* Flips in the data region fail only the reads they touch. */
    assert_true(dm.opened > 1000 && dm.failed > 100);
    /* chunks do not overlap: one flip fails at most one read */
    assert_true(dm.reads_ok >= dm.opened * (vg_seg_nblocks(dm.orig) * (2 + NCOLS) - 1));
    damage_teardown(&dm);
}

static void test_seg_rejects_truncated_or_extended_files(void **state)
{
    damage_t dm;
    damage_setup(&dm, *state);
    for (size_t t = 0; t < 400; t++) {
        size_t len = t < 200 ? dm.len - 1 - t : rnd() % dm.len;
        if (t == 200)
            len = 0;
        write_bytes(dm.path, dm.bytes, len);
        damage_check(&dm);
    }
    uint8_t *b = calloc(dm.len + 4096, 1);
    memcpy(b, dm.bytes, dm.len);
    for (size_t extra = 1; extra <= 4096; extra *= 2) {
        write_bytes(dm.path, b, dm.len + extra);
        damage_check(&dm);
    }
    assert_int_equal(dm.opened, 0);
    free(b);
    damage_teardown(&dm);
}

static void test_seg_survives_zeroed_pages(void **state)
{
    damage_t dm;
    damage_setup(&dm, *state);
    uint8_t *b = malloc(dm.len);
    size_t pages = (dm.len + 4095) / 4096;
    assert_true(pages >= 4);
    for (size_t pg = 0; pg < pages; pg++) {
        memcpy(b, dm.bytes, dm.len);
        size_t end = (pg + 1) * 4096 < dm.len ? (pg + 1) * 4096 : dm.len;
        memset(b + pg * 4096, 0, end - pg * 4096);
        write_bytes(dm.path, b, dm.len);
        damage_check(&dm);
    }
    assert_true(dm.opened > 0 && dm.failed > 0);
    free(b);
    damage_teardown(&dm);
}

/* A file whose checksums were recomputed after damage (a hostile file, or a
 * writer bug): any answer but a memory error or a crash is allowed. */
static void crafted_check(damage_t *dm)
{
    vg_seg_t *s = NULL;
    vg_error_t err = {0};
    int rc = vg_seg_open(dm->f->io, dm->path, &s, &err);
    if (rc != 0) {
        if (rc != VG_ECORRUPT || !strstr(err.msg, dm->path))
            fail_msg("open failed with %d: %s", rc, err.msg);
        dm->failed++;
        return;
    }
    dm->opened++;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        size_t n = vg_seg_block(s, b).nrows;
        int64_t *ts = calloc(n, sizeof *ts);
        uint32_t *ids = calloc(n, sizeof *ids);
        rc = vg_seg_read_ts(s, b, ts, &err);
        assert_true(rc == 0 || rc == VG_ECORRUPT);
        rc = vg_seg_read_series(s, b, ids, &err);
        assert_true(rc == 0 || rc == VG_ECORRUPT);
        for (uint32_t c = 0; c < vg_seg_ncols(s); c++) {
            vg_colvec_t v;
            rc = vg_seg_read_col(s, b, c, &v, &err);
            assert_true(rc == 0 || rc == VG_ECORRUPT || rc == VG_ENOMEM);
            if (rc == 0) {
                assert_int_equal(v.n, n);
                vg_colvec_free(&v);
            }
            vg_sketch_t sk;
            vg_sketch_init(&sk);
            rc = vg_seg_block_sketch(s, b, c, &sk, &err);
            assert_true(rc == 0 || rc == VG_ECORRUPT || rc == VG_ENOTFOUND);
            vg_sketch_reset(&sk);
        }
        free(ts);
        free(ids);
    }
    for (uint32_t i = 0; i < vg_seg_nseries(s); i++) {
        vg_seg_series_t t;
        assert_int_equal(vg_seg_series(s, i, &t), 0);
        for (uint32_t k = 0; k < t.ntags; k++) /* touch every byte handed out */
            assert_true(memchr(t.keys[k], 0, t.klens[k] + 1) != NULL);
    }
    for (uint32_t c = 0; c < vg_seg_ncols(s); c++)
        assert_true(strlen(vg_seg_col(s, c).name) < 1024);
    vg_seg_close(s);
}

/* Re-seal the meta region and footer so that damage passes the checksums. */
static void reseal(uint8_t *b, size_t len)
{
    vg_fmt_seg_footer_t f;
    memcpy(&f, b + len - sizeof f, sizeof f);
    f.meta_crc = vg_crc32c(0, b + f.meta_off, f.meta_len);
    f.crc = vg_crc32c(0, &f, VG_FMT_SEG_FOOTER_CRC_LEN);
    memcpy(b + len - sizeof f, &f, sizeof f);
}

static void test_seg_open_bounds_checks_meta_that_passes_checksums(void **state)
{
    damage_t dm;
    damage_setup(&dm, *state);
    vg_fmt_seg_footer_t f;
    memcpy(&f, dm.bytes + dm.len - sizeof f, sizeof f);
    uint8_t *b = malloc(dm.len);
    for (size_t t = 0; t < 3000; t++) {
        memcpy(b, dm.bytes, dm.len);
        size_t span = f.meta_len;
        size_t at = f.meta_off + rnd() % span;
        if (t % 2)
            b[at] ^= (uint8_t)(1u << (rnd() % 8));
        else
            b[at] = (uint8_t)rnd();
        if (t % 5 == 0) /* and sometimes a second byte */
            b[f.meta_off + rnd() % span] = (uint8_t)(rnd() % 3 ? 0xff : 0);
        reseal(b, dm.len);
        write_bytes(dm.path, b, dm.len);
        crafted_check(&dm);
    }
    assert_true(dm.failed > 500 && dm.opened > 500);
    free(b);
    damage_teardown(&dm);
}

/* ---- publishing -------------------------------------------------------- */

typedef struct op_log {
    vg_io_op_t ops[4096];
    char paths[4096][64];
    size_t n;
} op_log_t;

static void log_op(void *ctx, vg_io_op_t op, const char *path, int fd, long result)
{
    op_log_t *l = ctx;
    (void)fd;
    (void)result;
    if (l->n < 4096) {
        const char *base = path ? strrchr(path, '/') : NULL;
        snprintf(l->paths[l->n], 64, "%s", base ? base + 1 : path ? path : "");
        l->ops[l->n++] = op;
    }
}

static void test_seg_publishes_write_fsync_rename_fsync_dir(void **state)
{
    fixture_t *f = *state;
    dataset_t d;
    make_dataset(&d, BIG_SIZES, BIG_NSERIES);
    op_log_t *l = calloc(1, sizeof *l);
    vg_io_set_op_log(f->io, log_op, l);
    assert_int_equal(vg_seg_write(f->io, f->dir, "p.seg", &d.in, NULL, NULL, NULL), 0);
    vg_io_set_op_log(f->io, NULL, NULL);
    size_t i = 0;
    assert_true(l->n >= 5);
    assert_int_equal(l->ops[i], VG_IO_OP_OPEN);
    assert_string_equal(l->paths[i++], "p.seg.tmp");
    size_t writes = 0;
    while (i < l->n && l->ops[i] == VG_IO_OP_WRITE)
        i++, writes++;
    assert_true(writes >= 1);
    assert_int_equal(l->n, i + 3);
    assert_int_equal(l->ops[i++], VG_IO_OP_FSYNC);
    assert_int_equal(l->ops[i], VG_IO_OP_RENAME);
    assert_string_equal(l->paths[i++], "p.seg.tmp");
    assert_int_equal(l->ops[i++], VG_IO_OP_FSYNC_DIR);
    assert_true(file_exists(f, "p.seg"));
    assert_int_equal(dir_entries(f), 1);
    free(l);
    free_dataset(&d);
}

static void test_seg_write_failures_leave_no_file(void **state)
{
    fixture_t *f = *state;
    const size_t sizes[] = {100, 3000};
    dataset_t d;
    make_dataset(&d, sizes, 2);
    static const vg_io_op_t ops[] = {VG_IO_OP_OPEN, VG_IO_OP_WRITE, VG_IO_OP_FSYNC,
                                     VG_IO_OP_RENAME, VG_IO_OP_FSYNC_DIR};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        vg_error_t err = {0};
        vg_io_fault_fail(f->io, ops[k], 1, 0, EIO);
        int rc = vg_seg_write(f->io, f->dir, "p.seg", &d.in, NULL, NULL, &err);
        vg_io_fault_fail(f->io, ops[k], 0, 0, 0);
        if (rc != VG_EIO)
            fail_msg("%s fault: rc %d (%s)", vg_io_op_name(ops[k]), rc, err.msg);
        assert_int_equal(dir_entries(f), 0);
    }
    free_dataset(&d);
}

static void test_seg_write_survives_failing_allocations(void **state)
{
    fixture_t *f = *state;
    const size_t sizes[] = {150, 3, 90};
    dataset_t d;
    make_dataset(&d, sizes, 3);
    vg_seg_write_opts_t o = {.min_block_rows = 16, .max_block_rows = 64};
    char p[1024];
    path_of(f, "m.seg", p, sizeof p);
    vg_seg_t *s = NULL;
    int rc;
    unsigned long n, fired, failures = 0;
    /* Fail the nth allocation, for every n until the write no longer reaches it. */
    for (n = 1, fired = 1; fired; n++) {
        vg_alloc_fail_after(n, 0);
        rc = vg_seg_write(f->io, f->dir, "m.seg", &d.in, &o, NULL, NULL);
        fired = vg_alloc_fail_after(0, 0);
        if (rc != 0) { /* VG_ENOMEM, or the I/O layer's code for it */
            assert_int_equal(dir_entries(f), 0);
            failures++;
            continue;
        }
        assert_int_equal(vg_seg_open(f->io, p, &s, NULL), 0); /* a tolerated failure */
        verify_blocks(s, &d, 1);
        vg_seg_close(s);
        if (fired)
            unlink(p);
    }
    assert_true(failures > 20);
    for (n = 1, fired = 1; fired; n++) {
        s = NULL;
        vg_alloc_fail_after(n, 0);
        rc = vg_seg_open(f->io, p, &s, NULL);
        fired = vg_alloc_fail_after(0, 0);
        assert_int_equal(rc, fired ? VG_ENOMEM : 0);
        if (fired)
            assert_null(s);
    }
    verify_blocks(s, &d, 1);
    /* A read that cannot allocate fails with VG_ENOMEM and leaks nothing. */
    for (uint32_t c = 0; c < NCOLS; c++) {
        for (unsigned long k = 1; k < 8; k++) {
            vg_colvec_t v;
            vg_alloc_fail_after(k, 0);
            rc = vg_seg_read_col(s, 0, c, &v, NULL);
            vg_alloc_fail_after(0, 0);
            if (rc == 0) {
                assert_true(col_equal(&v, &d.vec[c], 0, vg_seg_block(s, 0).nrows));
                vg_colvec_free(&v);
            } else {
                assert_int_equal(rc, VG_ENOMEM);
            }
        }
    }
    vg_seg_close(s);
    free_dataset(&d);
}

/* A crash at each publish step leaves either the .tmp or the whole file. */
static void test_seg_crash_points_leave_tmp_or_whole_file(void **state)
{
    fixture_t *f = *state;
    const size_t sizes[] = {500, 700};
    dataset_t d;
    make_dataset(&d, sizes, 2);
    static const char *points[] = {"segment.written", "segment.synced", "segment.renamed",
                                   "segment.dir_synced"};
    for (int k = 0; k < 4; k++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* its own io: a ring must not be shared across fork */
            vg_io_t *io = NULL;
            vg_io_opts_t io_o = {.kind = VG_IO_AUTO};
            if (vg_io_create(&io_o, &io, NULL) != 0)
                _exit(1);
            vg_io_crash_arm(io, points[k], 1);
            vg_seg_write(io, f->dir, "c.seg", &d.in, NULL, NULL, NULL);
            _exit(0);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), VG_CRASH_EXIT);
        assert_int_equal(file_exists(f, "c.seg.tmp"), k < 2);
        assert_int_equal(file_exists(f, "c.seg"), k >= 2);
        if (k >= 2) {
            char p[1024];
            path_of(f, "c.seg", p, sizeof p);
            vg_seg_t *s = NULL;
            assert_int_equal(vg_seg_open(f->io, p, &s, NULL), 0);
            verify_blocks(s, &d, 1);
            vg_seg_close(s);
            unlink(p);
        } else {
            char p[1024];
            path_of(f, "c.seg.tmp", p, sizeof p);
            unlink(p);
        }
    }
    free_dataset(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seg_round_trips_every_type_with_nulls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_reads_an_absent_column_as_all_null, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_round_trips_empty_and_single_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_write_rejects_unsorted_or_duplicate_rows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_cuts_blocks_at_series_boundaries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_stats_equal_recomputed_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_sketches_give_one_percent_quantiles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_serves_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_survives_random_bit_flips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_rejects_truncated_or_extended_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_survives_zeroed_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_open_bounds_checks_meta_that_passes_checksums,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_publishes_write_fsync_rename_fsync_dir, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_write_failures_leave_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seg_write_survives_failing_allocations, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seg_crash_points_leave_tmp_or_whole_file, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
