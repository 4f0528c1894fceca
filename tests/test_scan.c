/*
 * test_scan.c: the chunked reader the query kernels use (vg_scan.h) against
 * the row reader and against values computed here: every point once, in
 * segments, in memory and in dirty partitions; statistics equal to the
 * decoded values; sketches within their error; tags by series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/vg_scan.h"
#include "vigil/vigil.h"

#define HOUR (3600 * VG_NS_PER_SEC)

typedef struct fx {
    char dir[512];
    vg_db_t *db;
    int64_t base; /* an hour boundary 6 h ago */
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    const char *base = getenv("VG_TEST_TMP") ? getenv("VG_TEST_TMP") : "/tmp";
    mkdir(base, 0755);
    snprintf(fx->dir, sizeof fx->dir, "%s/scan.XXXXXX", base);
    assert_non_null(mkdtemp(fx->dir));
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    o.partition_ns = HOUR;
    assert_int_equal(vg_db_open(fx->dir, &o, &fx->db, NULL), VG_OK);
    fx->base = vg_now_ns() / HOUR * HOUR - 6 * HOUR;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    vg_db_close(fx->db, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

/* Rows i in [from, to): 3 models; latency = i/1000, tokens = i % 97, ok = i % 5 != 0,
 * spread over 4 hours; model m2 has no tokens field (nulls). */
static void write_rows(fx_t *fx, int from, int to, double bump)
{
    size_t cap = (size_t)(to - from) * 96 + 64, len = 0;
    char *buf = malloc(cap);
    for (int i = from; i < to; i++) {
        int m = i % 3;
        int64_t ts = fx->base + (int64_t)i * (4 * HOUR / 20000);
        if (m == 2)
            len += (size_t)snprintf(buf + len, cap - len, "req,model=m%d latency=%.3f,ok=%s %" PRId64 "\n",
                                    m, i / 1000.0 + bump, i % 5 ? "true" : "false", ts);
        else
            len += (size_t)snprintf(buf + len, cap - len,
                                    "req,model=m%d latency=%.3f,tokens=%di,ok=%s %" PRId64 "\n", m,
                                    i / 1000.0 + bump, i % 97, i % 5 ? "true" : "false", ts);
    }
    vg_write_result_t res;
    vg_error_t err = {0};
    assert_int_equal(vg_db_write_lp(fx->db, buf, len, NULL, &res, &err), VG_OK);
    assert_int_equal(res.rejected, 0);
    vg_write_result_free(&res);
    free(buf);
}

typedef struct totals {
    uint64_t rows, stat_chunks, mat_chunks;
    double latency_sum;
    int64_t tokens_sum;
    uint64_t ok_true, tokens_nulls;
    uint64_t per_model[3];
} totals_t;

/* Read every chunk of a scan over [t0, t1), filtering rows by time. */
static void scan_all(fx_t *fx, int64_t t0, int64_t t1, totals_t *t)
{
    memset(t, 0, sizeof *t);
    vg_scan_t *s;
    vg_error_t err = {0};
    assert_int_equal(vg_scan_open(fx->db, "req", t0, t1, &s, &err), VG_OK);
    int lat = vg_scan_field_find(s, "latency"), tok = vg_scan_field_find(s, "tokens");
    int ok = vg_scan_field_find(s, "ok"), model = vg_scan_tag_find(s, "model");
    assert_true(lat >= 0 && tok >= 0 && ok >= 0 && model >= 0);
    assert_int_equal(vg_scan_field_type(s, (uint32_t)tok), VG_TYPE_INT);
    vg_scan_reader_t *r;
    assert_int_equal(vg_scan_reader_create(s, &r, &err), VG_OK);
    for (uint32_t c = 0; c < vg_scan_nchunks(s); c++) {
        vg_scan_chunk_t ci = vg_scan_chunk(s, c);
        const int64_t *ts;
        const uint32_t *ser;
        assert_int_equal(vg_scan_read_time(r, c, &ts, &ser, &err), VG_OK);
        vg_scan_col_t cl, ct, co;
        assert_int_equal(vg_scan_read_col(r, c, (uint32_t)lat, &cl, &err), VG_OK);
        assert_int_equal(vg_scan_read_col(r, c, (uint32_t)tok, &ct, &err), VG_OK);
        assert_int_equal(vg_scan_read_col(r, c, (uint32_t)ok, &co, &err), VG_OK);
        double csum = 0;
        uint32_t cnull = 0;
        int inside = ci.ts_min >= t0 && ci.ts_max < t1;
        for (uint32_t i = 0; i < ci.nrows; i++) {
            assert_true(ts[i] >= ci.ts_min && ts[i] <= ci.ts_max);
            csum += cl.v.f[i];
            cnull += !vg_scan_col_valid(&ct, i);
            if (ts[i] < t0 || ts[i] >= t1)
                continue;
            const char *m = vg_scan_series_tag(s, ser[i], (uint32_t)model);
            assert_non_null(m);
            t->per_model[m[1] - '0']++;
            t->rows++;
            t->latency_sum += cl.v.f[i];
            if (vg_scan_col_valid(&ct, i))
                t->tokens_sum += ct.v.i[i];
            else
                t->tokens_nulls++;
            t->ok_true += co.v.b[i];
        }
        if (ci.has_stats) {
            t->stat_chunks++;
            vg_scan_stats_t st;
            assert_int_equal(vg_scan_chunk_stats(s, c, (uint32_t)lat, &st), 1);
            assert_int_equal(st.count, ci.nrows);
            assert_true(fabs(st.sum_f - csum) <= 1e-9 * fabs(csum) + 1e-12);
            if (cnull == ci.nrows)
                assert_int_equal(vg_scan_chunk_stats(s, c, (uint32_t)tok, &st), 0);
            else {
                assert_int_equal(vg_scan_chunk_stats(s, c, (uint32_t)tok, &st), 1);
                assert_int_equal(st.nulls, cnull);
            }
            const uint32_t *cs;
            uint32_t ncs;
            assert_int_equal(vg_scan_chunk_series(s, c, &cs, &ncs), VG_OK);
            for (uint32_t i = 0; i < ci.nrows; i++) {
                int found = 0;
                for (uint32_t k = 0; k < ncs && !found; k++)
                    found = cs[k] == ser[i];
                assert_true(found);
            }
            (void)inside;
        } else {
            t->mat_chunks++;
        }
    }
    vg_scan_reader_free(r);
    vg_scan_close(s);
}

/* The same sums computed from the row reader. */
static void rows_all(fx_t *fx, int64_t t0, int64_t t1, totals_t *t)
{
    memset(t, 0, sizeof *t);
    vg_rows_t *r;
    assert_int_equal(vg_rows_open(fx->db, "req", t0, t1, &r, NULL), VG_OK);
    vg_row_t row;
    while (vg_rows_next(r, &row, NULL) == 1) {
        t->rows++;
        t->per_model[row.tag_vals[0][1] - '0']++;
        int has_tokens = 0;
        for (size_t f = 0; f < row.nfields; f++) {
            if (strcmp(row.field_keys[f], "latency") == 0)
                t->latency_sum += row.field_vals[f].f;
            else if (strcmp(row.field_keys[f], "tokens") == 0) {
                t->tokens_sum += row.field_vals[f].i;
                has_tokens = 1;
            } else if (strcmp(row.field_keys[f], "ok") == 0)
                t->ok_true += row.field_vals[f].b != 0;
        }
        t->tokens_nulls += !has_tokens;
    }
    vg_rows_close(r);
}

static void assert_same(const totals_t *a, const totals_t *b)
{
    assert_int_equal(a->rows, b->rows);
    assert_true(fabs(a->latency_sum - b->latency_sum) <= 1e-9 * fabs(b->latency_sum));
    assert_int_equal(a->tokens_sum, b->tokens_sum);
    assert_int_equal(a->tokens_nulls, b->tokens_nulls);
    assert_int_equal(a->ok_true, b->ok_true);
    for (int m = 0; m < 3; m++)
        assert_int_equal(a->per_model[m], b->per_model[m]);
}

static void test_scan_sees_every_point_once_in_segments_heads_and_dirty_partitions(void **state)
{
    fx_t *fx = *state;
    write_rows(fx, 0, 12000, 0);
    assert_int_equal(vg_db_flush(fx->db, NULL), VG_OK); /* segments, several partitions */
    write_rows(fx, 12000, 20000, 0);                    /* in memory */
    write_rows(fx, 100, 400, 5.0);                      /* rewrites of sealed points: dirty */
    totals_t a, b;
    int64_t t0 = fx->base + HOUR / 2, t1 = fx->base + 3 * HOUR + 123;
    scan_all(fx, t0, t1, &a);
    rows_all(fx, t0, t1, &b);
    assert_same(&a, &b);
    scan_all(fx, INT64_MIN, INT64_MAX, &a);
    rows_all(fx, INT64_MIN, INT64_MAX, &b);
    assert_same(&a, &b);
    assert_int_equal(a.rows, 20000);
    assert_true(a.stat_chunks > 0); /* clean sealed partitions are read block by block */
    assert_true(a.mat_chunks > 0);  /* the head and the dirty partition are materialised */
    /* after sealing and compaction everything is block by block */
    assert_int_equal(vg_db_flush(fx->db, NULL), VG_OK);
    assert_int_equal(vg_db_compact(fx->db, NULL), VG_OK);
    scan_all(fx, INT64_MIN, INT64_MAX, &a);
    assert_same(&a, &b);
    assert_int_equal(a.mat_chunks, 0);
}

static void test_scan_is_a_snapshot(void **state)
{
    fx_t *fx = *state;
    write_rows(fx, 0, 3000, 0);
    vg_scan_t *s;
    assert_int_equal(vg_scan_open(fx->db, "req", INT64_MIN, INT64_MAX, &s, NULL), VG_OK);
    write_rows(fx, 3000, 6000, 0);
    assert_int_equal(vg_db_flush(fx->db, NULL), VG_OK);
    uint64_t n = 0;
    for (uint32_t c = 0; c < vg_scan_nchunks(s); c++)
        n += vg_scan_chunk(s, c).nrows;
    assert_int_equal(n, 3000);
    vg_scan_close(s);
}

static void test_scan_sketches_merge_within_one_percent(void **state)
{
    fx_t *fx = *state;
    write_rows(fx, 0, 20000, 0);
    assert_int_equal(vg_db_flush(fx->db, NULL), VG_OK);
    vg_scan_t *s;
    assert_int_equal(vg_scan_open(fx->db, "req", INT64_MIN, INT64_MAX, &s, NULL), VG_OK);
    int lat = vg_scan_field_find(s, "latency");
    vg_sketch_t sk;
    vg_sketch_init(&sk);
    for (uint32_t c = 0; c < vg_scan_nchunks(s); c++) {
        assert_true(vg_scan_chunk(s, c).has_stats);
        assert_int_equal(vg_scan_chunk_sketch(s, c, (uint32_t)lat, &sk, NULL), VG_OK);
    }
    /* latency = i/1000 for i in 0..19999: the lower-rank quantile is exact */
    for (double q = 0.05; q < 1; q += 0.1) {
        double want = floor(q * 19999) / 1000.0, got = vg_sketch_quantile(&sk, q);
        assert_true(fabs(got - want) <= 0.01 * want + 1e-12);
    }
    vg_sketch_reset(&sk);
    vg_scan_close(s);
}

static void test_scan_of_a_missing_table_names_it(void **state)
{
    fx_t *fx = *state;
    vg_scan_t *s;
    vg_error_t err = {0};
    assert_int_equal(vg_scan_open(fx->db, "nope", 0, 1, &s, &err), VG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_scan_sees_every_point_once_in_segments_heads_and_dirty_partitions, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_scan_is_a_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_sketches_merge_within_one_percent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_of_a_missing_table_names_it, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
