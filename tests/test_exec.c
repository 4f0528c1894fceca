/*
 * test_exec.c: the query executor against direct computation.
 *
 * One database is built for every test: 6 series of llm_request rows every
 * 7 minutes over 8 days (one series lacks the route tag), with an empty
 * hour, spread over flushed segments in 6-hour partitions, the head, and a
 * dirty partition holding a rewritten point. The same rows are kept in
 * memory; each test computes its expected numbers from them with code
 * written here (sorting, sums, the stats kernels on extracted value sets).
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

#include "stats.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"
#include "vigil/vigil.h"

#define SEC INT64_C(1000000000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define NSER 6

typedef struct row {
    int64_t ts;
    int s;
    double lat;
    int64_t tokens;
    int refusal; /* -1 null */
    const char *finish;
    double quality; /* NaN null */
} row_t;

static const char *ROUTE[NSER] = {"chat", "chat", "search", "search", "code", NULL};
static const char *MODEL[NSER] = {"m1", "m2", "m1", "m2", "m1", "m3"};
static const char *FINISH[3] = {"stop", "length", "tool"};

static char g_dir[512];
static vg_db_t *g_db;
static int64_t NOW;
static row_t *g_rows;
static size_t g_n;

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void gen_row(row_t *r, int s, int64_t ts, uint64_t k)
{
    uint64_t h = mix(k * 7 + (uint64_t)s);
    double u = (double)(h >> 11) / 9007199254740992.0;
    r->ts = ts;
    r->s = s;
    r->lat = round(exp(u * 3) * (1 + s * 0.1) * 1000) / 1000;
    if (s == 1 && ts >= NOW - HOUR)
        r->lat *= 1.5; /* a shift in the last hour, for drift */
    r->tokens = (int64_t)(h % 2000);
    r->refusal = k % 17 == 0 ? -1 : ((h >> 8) % 10 == 0);
    r->finish = FINISH[(h >> 20) % 3];
    r->quality = k % 5 == 0 ? NAN : (double)((h >> 24) % 1000) / 1000;
}

static size_t lp_row(char *buf, size_t cap, const row_t *r)
{
    size_t n = (size_t)snprintf(buf, cap, "llm_request,model=%s", MODEL[r->s]);
    if (ROUTE[r->s])
        n += (size_t)snprintf(buf + n, cap - n, ",route=%s", ROUTE[r->s]);
    n += (size_t)snprintf(buf + n, cap - n, " latency_s=%.17g,tokens=%" PRId64 "i,finish=\"%s\"",
                          r->lat, r->tokens, r->finish);
    if (r->refusal >= 0)
        n += (size_t)snprintf(buf + n, cap - n, ",refusal=%s", r->refusal ? "true" : "false");
    if (!isnan(r->quality))
        n += (size_t)snprintf(buf + n, cap - n, ",quality=%.17g", r->quality);
    n += (size_t)snprintf(buf + n, cap - n, " %" PRId64 "\n", r->ts);
    return n;
}

static void write_range(size_t from, size_t to)
{
    size_t cap = (to - from) * 200 + 64, len = 0;
    char *buf = malloc(cap);
    for (size_t i = from; i < to; i++)
        len += lp_row(buf + len, cap - len, &g_rows[i]);
    vg_write_result_t wr;
    assert_int_equal(vg_db_write_lp(g_db, buf, len, NULL, &wr, NULL), VG_OK);
    assert_int_equal(wr.rejected, 0);
    vg_write_result_free(&wr);
    free(buf);
}

static int cmp_ts(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("VG_TEST_TMP") ? getenv("VG_TEST_TMP") : "/tmp";
    mkdir(base, 0755);
    snprintf(g_dir, sizeof g_dir, "%s/exec.XXXXXX", base);
    if (!mkdtemp(g_dir))
        return -1;
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    o.partition_ns = 6 * HOUR;
    o.wal_sync = VG_WAL_SYNC_NONE;
    if (vg_db_open(g_dir, &o, &g_db, NULL))
        return -1;
    NOW = vg_now_ns() / HOUR * HOUR - HOUR;
    size_t cap = NSER * (8 * DAY / (7 * MIN) + 2);
    g_rows = calloc(cap, sizeof *g_rows);
    uint64_t k = 0;
    for (int s = 0; s < NSER; s++)
        for (int64_t ts = NOW - 8 * DAY + s * 13 * SEC; ts < NOW; ts += 7 * MIN, k++) {
            if (ts >= NOW - 3 * HOUR && ts < NOW - 2 * HOUR)
                continue; /* an empty hour */
            gen_row(&g_rows[g_n++], s, ts, k);
        }
    qsort(g_rows, g_n, sizeof *g_rows, cmp_ts);
    size_t a = g_n / 2, b = g_n * 8 / 10;
    write_range(0, a);
    if (vg_db_flush(g_db, NULL))
        return -1;
    write_range(a, b);
    if (vg_db_flush(g_db, NULL))
        return -1;
    write_range(b, g_n);
    /* rewrite a point of a flushed partition: that partition turns dirty */
    row_t *r = &g_rows[a / 2];
    r->lat = 123.25;
    char line[400];
    size_t len = lp_row(line, sizeof line, r);
    vg_write_result_t wr;
    if (vg_db_write_lp(g_db, line, len, NULL, &wr, NULL) || wr.rejected)
        return -1;
    vg_write_result_free(&wr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vg_db_close(g_db, NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    free(g_rows);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- helpers */

static void run_opts(const char *q, vg_result_t *r, const vg_q_exec_opts_t *o)
{
    vg_q_error_t e = {0};
    int rc = vg_q_run(g_db, q, o, r, &e);
    if (rc)
        fprintf(stderr, "query failed: %s: line %d col %d: %s\n", q, e.line, e.column, e.msg);
    assert_int_equal(rc, VG_OK);
}

static void run(const char *q, vg_result_t *r)
{
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    o.now_ns = NOW;
    run_opts(q, r, &o);
}

static int col(const vg_result_t *r, const char *name)
{
    for (size_t c = 0; c < r->ncols; c++)
        if (strcmp(r->cols[c].name, name) == 0)
            return (int)c;
    fail_msg("no column %s", name);
    return -1;
}

static double fcell(const vg_result_t *r, size_t row, const char *name)
{
    int c = col(r, name);
    const vg_value_t *v = vg_result_cell(r, row, (size_t)c);
    if (!v)
        return NAN;
    switch (r->cols[c].type) {
    case VG_TYPE_INT:
    case VG_TYPE_TIME: return (double)v->i;
    case VG_TYPE_UINT: return (double)v->u;
    case VG_TYPE_BOOL: return v->b;
    default: return v->f;
    }
}

static const char *scell(const vg_result_t *r, size_t row, const char *name)
{
    static char buf[4][256];
    static int k;
    const vg_value_t *v = vg_result_cell(r, row, (size_t)col(r, name));
    if (!v)
        return NULL;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%.*s", (int)v->s.len, v->s.p);
    return buf[k];
}

static void near(double got, double want, double rel)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("expected null, got %.17g", got);
        return;
    }
    if (!(fabs(got - want) <= rel * fmax(1.0, fabs(want))))
        fail_msg("got %.17g, want %.17g", got, want);
}

typedef int (*pred_fn)(const row_t *r, const void *arg);

static int all(const row_t *r, const void *arg)
{
    (void)r, (void)arg;
    return 1;
}

static int model_is(const row_t *r, const void *arg)
{
    return strcmp(MODEL[r->s], arg) == 0;
}

static int series_is(const row_t *r, const void *arg)
{
    return r->s == *(const int *)arg;
}

/* latency values of rows in [t0, t1) passing p */
static double *lats(int64_t t0, int64_t t1, pred_fn p, const void *arg, size_t *n)
{
    double *v = malloc((g_n + 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; i < g_n; i++)
        if (g_rows[i].ts >= t0 && g_rows[i].ts < t1 && p(&g_rows[i], arg))
            v[(*n)++] = g_rows[i].lat;
    return v;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double q_linear(double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

typedef struct agg {
    double count, n_quality, sum, mean, sd, min_tok, max_tok, first, last, distinct_finish,
        count_if, rate;
    double refusals, nonnull_ref;
} agg_t;

static agg_t direct(int64_t t0, int64_t t1, pred_fn p, const void *arg)
{
    agg_t a = {0};
    double s2 = 0;
    int64_t tf = INT64_MAX, tl = INT64_MIN;
    int seen[3] = {0};
    a.min_tok = INFINITY, a.max_tok = -INFINITY;
    for (size_t i = 0; i < g_n; i++) {
        const row_t *r = &g_rows[i];
        if (r->ts < t0 || r->ts >= t1 || !p(r, arg))
            continue;
        a.count++;
        a.n_quality += !isnan(r->quality);
        a.sum += r->lat;
        s2 += r->lat * r->lat;
        a.min_tok = fmin(a.min_tok, (double)r->tokens);
        a.max_tok = fmax(a.max_tok, (double)r->tokens);
        if (r->ts < tf)
            tf = r->ts, a.first = r->lat;
        if (r->ts >= tl)
            tl = r->ts, a.last = r->lat;
        for (int f = 0; f < 3; f++)
            seen[f] |= strcmp(r->finish, FINISH[f]) == 0;
        a.count_if += r->tokens > 1000;
        if (r->refusal >= 0)
            a.nonnull_ref++, a.refusals += r->refusal;
    }
    a.mean = a.count ? a.sum / a.count : NAN;
    double m = a.mean, ss = 0;
    for (size_t i = 0; i < g_n; i++) {
        const row_t *r = &g_rows[i];
        if (r->ts >= t0 && r->ts < t1 && p(r, arg))
            ss += (r->lat - m) * (r->lat - m);
    }
    (void)s2;
    a.sd = a.count >= 2 ? sqrt(ss / (a.count - 1)) : NAN;
    a.distinct_finish = seen[0] + seen[1] + seen[2];
    a.rate = a.nonnull_ref ? a.refusals / a.nonnull_ref : NAN;
    return a;
}

/* ------------------------------------------------------------------ tests */

static void test_plain_aggregates_match_direct_computation(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT count(), count(quality), sum(latency_s), mean(latency_s) AS mean, min(tokens), "
        "max(tokens), stddev(latency_s) AS sd, first(latency_s), last(latency_s), "
        "count_distinct(finish), count_if(tokens > 1000) AS big, rate(refusal) AS rate "
        "FROM llm_request SINCE 2d",
        &r);
    agg_t a = direct(NOW - 2 * DAY, NOW, all, NULL);
    assert_int_equal(r.nrows, 1);
    near(fcell(&r, 0, "count()"), a.count, 0);
    near(fcell(&r, 0, "count(quality)"), a.n_quality, 0);
    near(fcell(&r, 0, "sum(latency_s)"), a.sum, 1e-12);
    near(fcell(&r, 0, "mean"), a.mean, 1e-12);
    near(fcell(&r, 0, "min(tokens)"), a.min_tok, 0);
    near(fcell(&r, 0, "max(tokens)"), a.max_tok, 0);
    near(fcell(&r, 0, "sd"), a.sd, 1e-9);
    near(fcell(&r, 0, "first(latency_s)"), a.first, 0);
    near(fcell(&r, 0, "last(latency_s)"), a.last, 0);
    near(fcell(&r, 0, "count_distinct(finish)"), a.distinct_finish, 0);
    near(fcell(&r, 0, "big"), a.count_if, 0);
    near(fcell(&r, 0, "rate"), a.rate, 1e-12);
    vg_result_free(&r);
}

/* Over 8 days, by model: most chunks are whole blocks answered from their statistics. */
static void test_block_statistics_answers_match_decoding(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT count() AS n, sum(latency_s) AS s, mean(latency_s) AS m, min(tokens) AS lo, "
        "max(tokens) AS hi, rate(refusal) AS rate FROM llm_request SINCE 9d BY model",
        &r);
    assert_int_equal(r.nrows, 3);
    for (size_t i = 0; i < 3; i++) {
        const char *m = scell(&r, i, "model");
        assert_string_equal(m, MODEL[i == 0 ? 0 : i == 1 ? 1 : 5]);
        agg_t a = direct(NOW - 9 * DAY, NOW, model_is, m);
        near(fcell(&r, i, "n"), a.count, 0);
        near(fcell(&r, i, "s"), a.sum, 1e-12);
        near(fcell(&r, i, "m"), a.mean, 1e-12);
        near(fcell(&r, i, "lo"), a.min_tok, 0);
        near(fcell(&r, i, "hi"), a.max_tok, 0);
        near(fcell(&r, i, "rate"), a.rate, 1e-12);
    }
    vg_result_free(&r);
    /* one group: whole blocks are answered from their statistics */
    run("SELECT count() AS n, count(quality) AS nq, sum(latency_s) AS s, mean(latency_s) AS m, "
        "min(tokens) AS lo, max(tokens) AS hi, rate(refusal) AS rate FROM llm_request SINCE 9d",
        &r);
    agg_t a = direct(NOW - 9 * DAY, NOW, all, NULL);
    near(fcell(&r, 0, "n"), a.count, 0);
    near(fcell(&r, 0, "nq"), a.n_quality, 0);
    near(fcell(&r, 0, "s"), a.sum, 1e-12);
    near(fcell(&r, 0, "m"), a.mean, 1e-12);
    near(fcell(&r, 0, "lo"), a.min_tok, 0);
    near(fcell(&r, 0, "hi"), a.max_tok, 0);
    near(fcell(&r, 0, "rate"), a.rate, 1e-12);
    vg_result_free(&r);
}

static void test_histogram_counts_equal_width_bins(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT histogram(tokens, 4) AS h FROM llm_request WHERE model IN ('m1', 'm3') "
        "AND route !~ /^se/ SINCE 1d",
        &r);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < g_n; j++) {
        const row_t *x = &g_rows[j];
        if (x->ts >= NOW - DAY && x->s != 1 && x->s != 3 && x->s != 2 && x->s != 5) {
            lo = fmin(lo, (double)x->tokens);
            hi = fmax(hi, (double)x->tokens);
        }
    }
    /* a missing route fails the regex (null is false): series 0 and 4 remain */
    uint64_t c[4] = {0};
    for (size_t j = 0; j < g_n; j++) {
        const row_t *x = &g_rows[j];
        if (x->ts >= NOW - DAY && (x->s == 0 || x->s == 4)) {
            int b = (int)(((double)x->tokens - lo) / (hi - lo) * 4);
            c[b > 3 ? 3 : b]++;
        }
    }
    char want[400];
    double w = (hi - lo) / 4;
    snprintf(want, sizeof want,
             "[%.6g,%.6g):%" PRIu64 "; [%.6g,%.6g):%" PRIu64 "; [%.6g,%.6g):%" PRIu64
             "; [%.6g,%.6g]:%" PRIu64,
             lo, lo + w, c[0], lo + w, lo + 2 * w, c[1], lo + 2 * w, lo + 3 * w, c[2], lo + 3 * w,
             hi, c[3]);
    assert_string_equal(scell(&r, 0, "h"), want);
    vg_result_free(&r);
}

static void test_exact_quantiles_match_sorting(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT p50(latency_s) AS a, p99(latency_s) AS b, quantile(latency_s, 0.37) AS c, "
        "median(latency_s) AS d FROM llm_request SINCE 3d BY model",
        &r);
    assert_int_equal(r.nrows, 3);
    for (size_t i = 0; i < 3; i++) {
        const char *m = scell(&r, i, "model");
        size_t n;
        double *v = lats(NOW - 3 * DAY, NOW, model_is, m, &n);
        near(fcell(&r, i, "a"), q_linear(v, n, 0.5), 0);
        near(fcell(&r, i, "b"), q_linear(v, n, 0.99), 0);
        near(fcell(&r, i, "c"), q_linear(v, n, 0.37), 0);
        near(fcell(&r, i, "d"), q_linear(v, n, 0.5), 0);
        free(v);
    }
    vg_result_free(&r);
}

static void test_approx_quantile_is_within_one_percent(void **state)
{
    (void)state;
    vg_result_t r;
    const double qs[] = {0.01, 0.5, 0.9, 0.99};
    run("SELECT approx_quantile(latency_s, 0.01) AS a, approx_quantile(latency_s, 0.5) AS b, "
        "approx_quantile(latency_s, 0.9) AS c, approx_quantile(latency_s, 0.99) AS d "
        "FROM llm_request SINCE 8d",
        &r);
    size_t n;
    double *v = lats(NOW - 8 * DAY, NOW, all, NULL, &n);
    qsort(v, n, sizeof *v, cmp_d);
    const char *names[] = {"a", "b", "c", "d"};
    for (int k = 0; k < 4; k++) {
        double want = v[(size_t)floor(qs[k] * (double)(n - 1))];
        double got = fcell(&r, 0, names[k]);
        assert_true(fabs(got - want) <= 0.01 * fabs(want) + 1e-12);
    }
    free(v);
    vg_result_free(&r);
}

static void test_windows_groups_nulls_and_empty_windows(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT count() AS n, mean(latency_s) AS m FROM llm_request SINCE 5h EVERY 1h BY route", &r);
    assert_int_equal(r.ncols, 4);
    assert_string_equal(r.cols[0].name, "time");
    assert_string_equal(r.cols[1].name, "route");
    assert_int_equal(r.nrows, 5 * 4);
    const char *routes[] = {NULL, "chat", "code", "search"};
    for (size_t i = 0; i < r.nrows; i++) {
        int64_t t0 = NOW - 5 * HOUR + (int64_t)(i / 4) * HOUR;
        assert_int_equal(vg_result_cell(&r, i, 0)->i, t0);
        const char *route = scell(&r, i, "route");
        const char *want = routes[i % 4];
        if (!want)
            assert_null(route);
        else
            assert_string_equal(route, want);
        double n = 0, sum = 0;
        for (size_t j = 0; j < g_n; j++) {
            const row_t *x = &g_rows[j];
            const char *xr = ROUTE[x->s];
            if (x->ts >= t0 && x->ts < t0 + HOUR && ((!xr && !want) || (xr && want && !strcmp(xr, want))))
                n++, sum += x->lat;
        }
        near(fcell(&r, i, "n"), n, 0);
        near(fcell(&r, i, "m"), n ? sum / n : NAN, 1e-12);
        if (t0 == NOW - 3 * HOUR)
            assert_true(n == 0);
    }
    vg_result_free(&r);
    /* windows are clipped to the range */
    run("SELECT count() AS n FROM llm_request SINCE 90m EVERY 1h", &r);
    assert_int_equal(r.nrows, 2);
    assert_int_equal(vg_result_cell(&r, 0, 0)->i, NOW - 90 * MIN);
    assert_int_equal(vg_result_cell(&r, 1, 0)->i, NOW - HOUR);
    near(fcell(&r, 0, "n"), direct(NOW - 90 * MIN, NOW - HOUR, all, NULL).count, 0);
    vg_result_free(&r);
    /* many windows, the first and the last cut by the range (the executor
     * finds a row's window by division there): every count exact */
    const char *qs[] = {
        "SELECT count() AS n, p99(latency_s) AS p FROM llm_request SINCE 1447m EVERY 7m",
        "SELECT count() AS n FROM llm_request BETWEEN now() - 1443m AND now() - 13m EVERY 1h"};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++) {
        run(qs[q], &r);
        assert_true(r.nrows > 20);
        for (size_t i = 0; i < r.nrows; i++) {
            int64_t t0 = vg_result_cell(&r, i, 0)->i;
            int64_t end = q ? NOW - 13 * MIN : NOW;
            int64_t t1 = i + 1 < r.nrows ? vg_result_cell(&r, i + 1, 0)->i : end;
            near(fcell(&r, i, "n"), direct(t0, t1, all, NULL).count, 0);
        }
        vg_result_free(&r);
    }
}

static void test_bucket_groups_are_labelled_ranges(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT count() AS n FROM llm_request SINCE 1d BY bucket(tokens, 500, 1500)", &r);
    assert_int_equal(r.nrows, 3);
    assert_string_equal(r.cols[0].name, "bucket(tokens,500,1500)");
    const char *labels[] = {"(-inf,500)", "[1500,+inf)", "[500,1500)"};
    double want[3] = {0};
    for (size_t j = 0; j < g_n; j++)
        if (g_rows[j].ts >= NOW - DAY)
            want[g_rows[j].tokens < 500 ? 0 : g_rows[j].tokens >= 1500 ? 1 : 2]++;
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(scell(&r, i, r.cols[0].name), labels[i]);
        near(fcell(&r, i, "n"), want[i], 0);
    }
    vg_result_free(&r);
}

static void test_order_by_and_limit(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT count() AS n, mean(latency_s) AS m FROM llm_request SINCE 1d BY model "
        "ORDER BY m DESC LIMIT 2",
        &r);
    assert_int_equal(r.nrows, 2);
    double means[3];
    const char *ms[3] = {"m1", "m2", "m3"};
    for (int i = 0; i < 3; i++)
        means[i] = direct(NOW - DAY, NOW, model_is, ms[i]).mean;
    qsort(means, 3, sizeof *means, cmp_d);
    near(fcell(&r, 0, "m"), means[2], 1e-12);
    near(fcell(&r, 1, "m"), means[1], 1e-12);
    vg_result_free(&r);
}

static void test_raw_rows_come_in_time_order(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT * FROM llm_request WHERE model = 'm1' SINCE 1h LIMIT 5", &r);
    const char *cols[] = {"time", "model", "route", "finish", "latency_s", "quality", "refusal", "tokens"};
    assert_int_equal(r.ncols, 8);
    for (int c = 0; c < 8; c++)
        assert_string_equal(r.cols[c].name, cols[c]);
    assert_int_equal(r.nrows, 5);
    size_t k = 0;
    for (size_t j = 0; j < g_n && k < 5; j++) {
        const row_t *x = &g_rows[j];
        if (x->ts < NOW - HOUR || strcmp(MODEL[x->s], "m1"))
            continue;
        assert_int_equal(vg_result_cell(&r, k, 0)->i, x->ts);
        near(fcell(&r, k, "latency_s"), x->lat, 0);
        near(fcell(&r, k, "tokens"), (double)x->tokens, 0);
        assert_string_equal(scell(&r, k, "finish"), x->finish);
        k++;
    }
    assert_int_equal(k, 5);
    vg_result_free(&r);
    /* ORDER BY a field that is not selected, then LIMIT */
    run("SELECT time, tokens FROM llm_request SINCE 2h ORDER BY latency_s DESC, time LIMIT 3", &r);
    size_t n;
    double *v = lats(NOW - 2 * HOUR, NOW, all, NULL, &n);
    qsort(v, n, sizeof *v, cmp_d);
    assert_int_equal(r.ncols, 2);
    assert_int_equal(r.nrows, 3);
    for (size_t i = 0; i < 3; i++) {
        int64_t t = vg_result_cell(&r, i, 0)->i;
        for (size_t j = 0; j < g_n; j++)
            if (g_rows[j].ts == t)
                near(g_rows[j].lat, v[n - 1 - i], 0);
    }
    free(v);
    vg_result_free(&r);
}

static void test_sample_draws_members_in_time_order(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT time, latency_s FROM llm_request WHERE tokens > 100 SINCE 1d SAMPLE 20", &r);
    assert_int_equal(r.nrows, 20);
    for (size_t i = 0; i < r.nrows; i++) {
        int64_t t = vg_result_cell(&r, i, 0)->i;
        if (i)
            assert_true(t >= vg_result_cell(&r, i - 1, 0)->i);
        int found = 0;
        for (size_t j = 0; j < g_n && !found; j++)
            found = g_rows[j].ts == t && g_rows[j].lat == fcell(&r, i, "latency_s") &&
                    g_rows[j].tokens > 100 && t >= NOW - DAY;
        assert_true(found);
    }
    vg_result_free(&r);
}

static double rate_between(int64_t t0, int64_t t1, pred_fn p, const void *arg)
{
    return direct(t0, t1, p, arg).rate;
}

static void test_baselines_and_zscore_match_direct_computation(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT rate(refusal) AS r, baseline(rate(refusal), 2d) AS b, "
        "baseline(mean(latency_s), 3d, 1d) AS s, zscore(count(), 6h) AS z, "
        "rate(refusal) / baseline(rate(refusal), 2d) AS ratio FROM llm_request SINCE 3h EVERY 1h",
        &r);
    assert_int_equal(r.nrows, 3);
    for (size_t i = 0; i < 3; i++) {
        int64_t a = NOW - 3 * HOUR + (int64_t)i * HOUR, b = a + HOUR;
        double cur = rate_between(a, b, all, NULL);
        double base = rate_between(a - 2 * DAY, a, all, NULL);
        near(fcell(&r, i, "r"), cur, 1e-12);
        near(fcell(&r, i, "b"), base, 1e-12);
        near(fcell(&r, i, "ratio"), cur / base, 1e-12);
        double s[3];
        for (int k = 1; k <= 3; k++)
            s[k - 1] = direct(a - k * DAY, b - k * DAY, all, NULL).mean;
        qsort(s, 3, sizeof *s, cmp_d);
        near(fcell(&r, i, "s"), s[1], 1e-12);
        double h[6], m = 0, ss = 0;
        for (int k = 1; k <= 6; k++)
            m += (h[k - 1] = direct(a - k * HOUR, a - (k - 1) * HOUR, all, NULL).count);
        m /= 6;
        for (int k = 0; k < 6; k++)
            ss += (h[k] - m) * (h[k] - m);
        double c = direct(a, b, all, NULL).count, sd = sqrt(ss / 5);
        near(fcell(&r, i, "z"), sd == 0 ? NAN : (c - m) / sd, 1e-9);
    }
    vg_result_free(&r);
}

static void cats(int64_t t0, int64_t t1, const char *model, uint64_t out[3])
{
    memset(out, 0, 3 * sizeof *out);
    for (size_t j = 0; j < g_n; j++) {
        const row_t *x = &g_rows[j];
        if (x->ts >= t0 && x->ts < t1 && !strcmp(MODEL[x->s], model))
            for (int f = 0; f < 3; f++)
                out[f] += !strcmp(x->finish, FINISH[f]);
    }
}

static void test_drift_functions_match_the_kernels(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT ks(latency_s) AS ks, ks_p(latency_s) AS ksp, wasserstein(latency_s) AS w, "
        "psi(latency_s) AS psi, js(latency_s) AS js, chi2_p(finish) AS chi, js(finish) AS jsf, "
        "ztest_p(refusal) AS z, n_cur(latency_s) AS nc, n_ref(latency_s) AS nr "
        "FROM llm_request WHERE model = 'm2' SINCE 1h AGAINST PREVIOUS 1d",
        &r);
    size_t m, n;
    double *cur = lats(NOW - HOUR, NOW, model_is, "m2", &m);
    double *ref = lats(NOW - HOUR - DAY, NOW - HOUR, model_is, "m2", &n);
    qsort(cur, m, sizeof *cur, cmp_d);
    qsort(ref, n, sizeof *ref, cmp_d);
    double d = vg_stat_ks(cur, m, ref, n);
    near(fcell(&r, 0, "ks"), d, 1e-12);
    assert_true(d > 0.2); /* the shift is seen */
    near(fcell(&r, 0, "ksp"), vg_stat_ks_p(d, m, n), 1e-12);
    near(fcell(&r, 0, "w"), vg_stat_wasserstein(cur, m, ref, n), 1e-12);
    near(fcell(&r, 0, "psi"), vg_stat_psi(ref, n, cur, m), 1e-12);
    near(fcell(&r, 0, "js"), vg_stat_js(ref, n, cur, m), 1e-12);
    uint64_t cc[3], rc[3];
    cats(NOW - HOUR, NOW, "m2", cc);
    cats(NOW - HOUR - DAY, NOW - HOUR, "m2", rc);
    near(fcell(&r, 0, "chi"), vg_stat_chi2_p(rc, cc, 3), 1e-12);
    near(fcell(&r, 0, "jsf"), vg_stat_js_counts(rc, cc, 3), 1e-12);
    agg_t ac = direct(NOW - HOUR, NOW, model_is, "m2"), ar = direct(NOW - HOUR - DAY, NOW - HOUR, model_is, "m2");
    near(fcell(&r, 0, "z"),
         vg_stat_ztest_p((uint64_t)ac.refusals, (uint64_t)ac.nonnull_ref, (uint64_t)ar.refusals,
                         (uint64_t)ar.nonnull_ref),
         1e-12);
    near(fcell(&r, 0, "nc"), (double)m, 0);
    near(fcell(&r, 0, "nr"), (double)n, 0);
    vg_result_free(&r);
    free(cur);
    free(ref);

    /* OFFSET and WHERE references */
    run("SELECT ks(latency_s) AS a FROM llm_request WHERE model = 'm2' SINCE 1h AGAINST OFFSET 1d", &r);
    cur = lats(NOW - HOUR, NOW, model_is, "m2", &m);
    ref = lats(NOW - HOUR - DAY, NOW - DAY, model_is, "m2", &n);
    qsort(cur, m, sizeof *cur, cmp_d);
    qsort(ref, n, sizeof *ref, cmp_d);
    near(fcell(&r, 0, "a"), vg_stat_ks(cur, m, ref, n), 1e-12);
    vg_result_free(&r);
    free(ref);
    run("SELECT ks(latency_s) AS a FROM llm_request WHERE model = 'm2' SINCE 1h AGAINST WHERE "
        "model = 'm1'",
        &r);
    ref = lats(NOW - HOUR, NOW, model_is, "m1", &n);
    qsort(ref, n, sizeof *ref, cmp_d);
    near(fcell(&r, 0, "a"), vg_stat_ks(cur, m, ref, n), 1e-12);
    vg_result_free(&r);
    free(cur);
    free(ref);
}

/* The runbooks' example rule, number by number. */
static void test_rule_query_matches_direct_computation(void **state)
{
    (void)state;
    vg_result_t r;
    run("SELECT rate(refusal) AS rate, baseline(rate(refusal), 7d, 1d) AS base, count() AS n, "
        "ztest_p(refusal) AS p FROM llm_request SINCE 10m BY route, model AGAINST PREVIOUS 7d",
        &r);
    assert_int_equal(r.nrows, NSER);
    for (size_t i = 0; i < r.nrows; i++) {
        const char *route = scell(&r, i, "route"), *model = scell(&r, i, "model");
        int s = -1;
        for (int k = 0; k < NSER; k++)
            if (!strcmp(MODEL[k], model) &&
                ((!route && !ROUTE[k]) || (route && ROUTE[k] && !strcmp(route, ROUTE[k]))))
                s = k;
        assert_true(s >= 0);
        agg_t c = direct(NOW - 10 * MIN, NOW, series_is, &s);
        agg_t ref = direct(NOW - 10 * MIN - 7 * DAY, NOW - 10 * MIN, series_is, &s);
        near(fcell(&r, i, "rate"), c.rate, 1e-12);
        near(fcell(&r, i, "n"), c.count, 0);
        double b[7];
        for (int k = 1; k <= 7; k++)
            b[k - 1] = direct(NOW - 10 * MIN - k * DAY, NOW - k * DAY, series_is, &s).rate;
        double v[7];
        size_t nv = 0;
        for (int k = 0; k < 7; k++)
            if (!isnan(b[k]))
                v[nv++] = b[k];
        qsort(v, nv, sizeof *v, cmp_d);
        double med = nv == 0 ? NAN : nv % 2 ? v[nv / 2] : (v[nv / 2 - 1] + v[nv / 2]) / 2;
        near(fcell(&r, i, "base"), med, 1e-12);
        near(fcell(&r, i, "p"),
             vg_stat_ztest_p((uint64_t)c.refusals, (uint64_t)c.nonnull_ref, (uint64_t)ref.refusals,
                             (uint64_t)ref.nonnull_ref),
             1e-12);
    }
    vg_result_free(&r);
}

static void expect_error(const char *q, const vg_q_exec_opts_t *o, int code, int line, int column,
                         const char *msg_part)
{
    vg_result_t r;
    vg_q_error_t e = {0};
    vg_q_exec_opts_t d;
    vg_q_exec_opts_default(&d);
    d.now_ns = NOW;
    int rc = vg_q_run(g_db, q, o ? o : &d, &r, &e);
    vg_result_free(&r);
    assert_int_equal(rc, code);
    assert_int_equal(e.code, code);
    if (line) {
        assert_int_equal(e.line, line);
        assert_int_equal(e.column, column);
    }
    if (!strstr(e.msg, msg_part))
        fail_msg("message '%s' lacks '%s'", e.msg, msg_part);
}

static void test_errors_name_what_and_where(void **state)
{
    (void)state;
    expect_error("SELECT p99(latncy_s) FROM llm_request", NULL, VG_ENOTFOUND, 1, 12,
                 "unknown field 'latncy_s' in table llm_request (did you mean 'latency_s'?)");
    expect_error("SELECT count()\nFROM llm_request WHERE modle = 'x'", NULL, VG_ENOTFOUND, 2, 24,
                 "did you mean 'model'?");
    expect_error("SELECT count() FROM llm_requst", NULL, VG_ENOTFOUND, 1, 21,
                 "unknown table 'llm_requst' (did you mean 'llm_request'?)");
    expect_error("SELECT count( FROM llm_request", NULL, VG_EPARSE, 0, 0, "");
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    o.now_ns = NOW;
    o.max_groups = 2;
    expect_error("SELECT count() FROM llm_request BY model", &o, VG_ELIMIT, 0, 0, "max_groups");
    vg_q_exec_opts_default(&o);
    o.now_ns = NOW;
    o.max_values = 100;
    expect_error("SELECT p99(latency_s) FROM llm_request SINCE 1d", &o, VG_ELIMIT, 0, 0,
                 "max_values");
    expect_error("SELECT * FROM llm_request SINCE 1d", &o, VG_ELIMIT, 0, 0, "max_values");
}

static void test_nulls_propagate_and_compare_false(void **state)
{
    (void)state;
    vg_result_t r;
    /* quality is null on every 5th row: WHERE drops them, rate() skips them */
    run("SELECT count() AS n, rate(quality < 0.5) AS r FROM llm_request WHERE quality >= 0 SINCE 1d", &r);
    double n = 0, low = 0, nn = 0;
    for (size_t j = 0; j < g_n; j++)
        if (g_rows[j].ts >= NOW - DAY && !isnan(g_rows[j].quality))
            n++, nn++, low += g_rows[j].quality < 0.5;
    near(fcell(&r, 0, "n"), n, 0);
    near(fcell(&r, 0, "r"), low / nn, 1e-12);
    vg_result_free(&r);
    run("SELECT mean(latency_s) + 1 AS m FROM llm_request SINCE 3h EVERY 1h", &r);
    assert_int_equal(r.nrows, 3);
    assert_null(vg_result_cell(&r, 0, 1)); /* the empty hour: null + 1 is null */
    vg_result_free(&r);
}

/* One thread or four: the same numbers (partials merge exactly, up to float rounding). */
static void test_parallel_scan_gives_the_same_answer(void **state)
{
    (void)state;
    const char *q = "SELECT count() AS n, p90(latency_s) AS p, stddev(latency_s) AS sd, "
                    "count_distinct(tokens) AS d, js(finish) AS js, min(latency_s) AS lo "
                    "FROM llm_request SINCE 4d EVERY 1d BY model";
    vg_result_t a, b;
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    o.now_ns = NOW;
    o.threads = 1;
    run_opts(q, &a, &o);
    o.threads = 4;
    run_opts(q, &b, &o);
    assert_int_equal(a.nrows, b.nrows);
    assert_int_equal(a.nrows, (NOW % DAY ? 5 : 4) * 3); /* clipped windows at both ends */
    const char *cols[] = {"n", "p", "sd", "d", "js", "lo"};
    for (size_t i = 0; i < a.nrows; i++)
        for (int c = 0; c < 6; c++)
            near(fcell(&b, i, cols[c]), fcell(&a, i, cols[c]), 1e-12);
    /* and the numbers are right */
    for (size_t i = 0; i < a.nrows; i++) {
        int64_t t0 = vg_result_cell(&a, i, 0)->i, t1 = (t0 / DAY + 1) * DAY;
        t1 = t1 > NOW ? NOW : t1;
        const char *m = scell(&a, i, "model");
        size_t n;
        double *v = lats(t0, t1, model_is, m, &n);
        near(fcell(&a, i, "n"), (double)n, 0);
        near(fcell(&a, i, "p"), q_linear(v, n, 0.9), 0);
        near(fcell(&a, i, "sd"), direct(t0, t1, model_is, m).sd, 1e-9);
        free(v);
    }
    vg_result_free(&a);
    vg_result_free(&b);
}

/* ------------------------------------------- fast paths against row by row */

/* Every cell of a and b equal, to the bit. */
static void assert_same_result(const vg_result_t *a, const vg_result_t *b, const char *q)
{
    if (a->nrows != b->nrows || a->ncols != b->ncols)
        fail_msg("%s: %zu x %zu against %zu x %zu", q, a->nrows, a->ncols, b->nrows, b->ncols);
    for (size_t i = 0; i < a->nrows; i++)
        for (size_t c = 0; c < a->ncols; c++) {
            const vg_value_t *x = vg_result_cell(a, i, c), *y = vg_result_cell(b, i, c);
            if (!x || !y) {
                if (x || y)
                    fail_msg("%s: row %zu column %s: null on one side only", q, i,
                             a->cols[c].name);
                continue;
            }
            vg_type_t t = a->cols[c].type;
            int same = t == VG_TYPE_STRING || t == VG_TYPE_TAG
                           ? x->s.len == y->s.len && !memcmp(x->s.p, y->s.p, x->s.len)
                       : t == VG_TYPE_BOOL ? x->b == y->b
                       : t == VG_TYPE_FLOAT ? !memcmp(&x->f, &y->f, sizeof x->f)
                                            : x->i == y->i;
            if (!same)
                fail_msg("%s: row %zu column %s differs", q, i, a->cols[c].name);
        }
}

/* Every column of a also in b (by name), every cell equal to the bit. */
static void assert_same_columns(const vg_result_t *a, const vg_result_t *b, const char *q)
{
    if (a->nrows != b->nrows)
        fail_msg("%s: %zu rows against %zu", q, a->nrows, b->nrows);
    for (size_t c = 0; c < a->ncols; c++) {
        int cb = -1; /* the same name, and a picture for a picture */
        for (size_t k = 0; k < b->ncols && cb < 0; k++)
            if (!strcmp(b->cols[k].name, a->cols[c].name) &&
                b->cols[k].picture == a->cols[c].picture)
                cb = (int)k;
        if (cb < 0)
            fail_msg("%s: no column %s", q, a->cols[c].name);
        if (a->cols[c].type != b->cols[cb].type)
            fail_msg("%s: column %s: type %d against %d", q, a->cols[c].name, a->cols[c].type,
                     b->cols[cb].type);
        for (size_t i = 0; i < a->nrows; i++) {
            const vg_value_t *u = vg_result_cell(a, i, c), *v = vg_result_cell(b, i, (size_t)cb);
            int same = !u || !v ? u == v
                       : a->cols[c].type == VG_TYPE_STRING || a->cols[c].type == VG_TYPE_TAG
                           ? u->s.len == v->s.len && !memcmp(u->s.p, v->s.p, u->s.len)
                       : a->cols[c].type == VG_TYPE_BOOL ? u->b == v->b
                       : a->cols[c].type == VG_TYPE_FLOAT ? !memcmp(&u->f, &v->f, sizeof u->f)
                                                            : u->i == v->i;
            if (!same)
                fail_msg("%s: row %zu column %s differs", q, i, a->cols[c].name);
        }
    }
}

/* A rule-like query in parts; NULL parts are absent. */
typedef struct qcase {
    const char *items, *where, *span, *by, *against_where, *against;
} qcase_t;

/*
 * The query of k as written (variant 0), with an always-true condition on a
 * field in both WHEREs (1), or grouped by one more bucket() that every row
 * falls in (2).
 */
static void case_query(char *q, size_t cap, const qcase_t *k, int variant)
{
    const char *f = variant == 1 ? "latency_s > -1" : NULL, *bk = "bucket(latency_s, 1000000)";
    int n = snprintf(q, cap, "SELECT %s FROM llm_request", k->items);
    if (k->where || f)
        n += snprintf(q + n, cap - (size_t)n, " WHERE %s%s%s", k->where ? k->where : "",
                      k->where && f ? " AND " : "", f ? f : "");
    n += snprintf(q + n, cap - (size_t)n, " %s", k->span);
    if (k->by || variant == 2)
        n += snprintf(q + n, cap - (size_t)n, " BY %s%s%s", k->by ? k->by : "",
                      k->by && variant == 2 ? ", " : "", variant == 2 ? bk : "");
    if (k->against_where)
        snprintf(q + n, cap - (size_t)n, " AGAINST WHERE %s%s%s", k->against_where,
                 f ? " AND " : "", f ? f : "");
    else if (k->against)
        snprintf(q + n, cap - (size_t)n, " %s", k->against);
}

/*
 * The executor takes a series' rows in runs (its group found once, a WHERE
 * of tags only decided once, columns added in tight loops); a WHERE on a
 * field is tested row by row and passing rows added in stretches; bucket()
 * sends every row alone through the general path. Each case must give the
 * very same numbers all three ways, as of times that cut blocks, partitions
 * and the head at various places.
 */
static void test_series_runs_match_row_by_row(void **state)
{
    (void)state;
    static const qcase_t cases[] = {
        {"rate(refusal) AS rate, baseline(rate(refusal), 7d, 1d) AS base, count() AS n, "
         "ztest_p(refusal) AS p, n_ref(refusal) AS nr",
         NULL, "SINCE 10m", "route, model", NULL, "AGAINST PREVIOUS 7d"},
        {"p99(latency_s) AS p99, baseline(p50(latency_s), 3d, 1d) AS b, mean(quality) AS mq, "
         "stddev(quality) AS sq, sum(tokens) AS st, count(quality) AS cq, mean(refusal) AS mr",
         "route != 'code'", "SINCE 2h", "model", NULL, NULL},
        {"rate(finish = 'stop') AS r, count_if(refusal) AS c, rate(model = 'm1') AS tm, "
         "count(route) AS cr, count(finish) AS cf, sum(tokens > 1000) AS big",
         NULL, "SINCE 1d EVERY 3h", "route", NULL, NULL},
        {"ztest_p(refusal) AS p, ks(latency_s) AS k, n_cur(refusal) AS nc, psi(finish) AS ps",
         "model = 'm2'", "SINCE 6h", NULL, "model = 'm1'", NULL},
        {"min(tokens) AS lo, max(latency_s) AS hi, first(quality) AS f, last(tokens) AS l, "
         "count_distinct(finish) AS d, approx_quantile(latency_s, 0.5) AS aq, "
         "zscore(mean(latency_s), 6h) AS z",
         NULL, "SINCE 1h", "model", NULL, NULL},
        {"rate(refusal) AS r, mean(tokens) AS m, count() AS n", "quality > 0.3 OR route = 'chat'",
         "SINCE 1d", "model", NULL, "AGAINST PREVIOUS 2d"},
    };
    const int64_t part = NOW / (6 * HOUR) * (6 * HOUR);
    const int64_t at[] = {NOW, NOW - 37 * MIN - 13 * SEC, g_rows[g_n / 2].ts,
                          g_rows[g_n * 8 / 10].ts + 1, part - 6 * HOUR, part - 6 * HOUR + 7 * MIN,
                          g_rows[g_n / 4].ts};
    for (size_t t = 0; t < sizeof at / sizeof *at; t++)
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
            vg_result_t r[3];
            char q[3][1024];
            vg_q_exec_opts_t o;
            vg_q_exec_opts_default(&o);
            o.now_ns = at[t];
            o.threads = 1 + (unsigned)(t % 2);
            for (int v = 0; v < 3; v++) {
                case_query(q[v], sizeof q[v], &cases[i], v);
                run_opts(q[v], &r[v], &o);
            }
            assert_true(r[0].nrows > 0);
            assert_same_result(&r[0], &r[1], q[1]);
            assert_same_columns(&r[0], &r[2], q[2]);
            for (int v = 0; v < 3; v++)
                vg_result_free(&r[v]);
        }
}

/*
 * Windows, references and baselines whose edges fall on a row's time, on a
 * partition's edge and inside the head, against counts over the rows written:
 * a row at a span's start is in it, a row at its end is not.
 */
static void test_spans_at_row_and_partition_edges_count_every_row(void **state)
{
    (void)state;
    const int64_t part = NOW / (6 * HOUR) * (6 * HOUR);
    const int64_t at[] = {g_rows[g_n / 3].ts, g_rows[g_n / 3].ts + 1, part - 12 * HOUR,
                          part - 12 * HOUR + 7 * MIN, g_rows[g_n - 5].ts, g_rows[g_n / 4].ts};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        vg_q_exec_opts_t o;
        vg_q_exec_opts_default(&o);
        o.now_ns = at[k];
        vg_result_t r;
        run_opts("SELECT count() AS n, n_ref(refusal) AS nr, rate(refusal) AS r, "
                 "baseline(count(), 3d, 1d) AS b, count_if(refusal) AS c FROM llm_request "
                 "SINCE 7m BY model AGAINST PREVIOUS 2d",
                 &r, &o);
        int64_t a = at[k] - 7 * MIN, b = at[k];
        size_t groups = 0;
        for (int m = 0; m < NSER; m++) {
            int dup = 0;
            for (int j = 0; j < m; j++)
                dup |= !strcmp(MODEL[j], MODEL[m]);
            groups += !dup && direct(a, b, model_is, MODEL[m]).count > 0;
        }
        assert_int_equal(r.nrows, groups);
        for (size_t i = 0; i < r.nrows; i++) {
            const char *m = scell(&r, i, "model");
            agg_t cur = direct(a, b, model_is, m), ref = direct(a - 2 * DAY, a, model_is, m);
            assert_true(cur.count > 0);
            near(fcell(&r, i, "n"), cur.count, 0);
            near(fcell(&r, i, "c"), cur.refusals, 0);
            near(fcell(&r, i, "r"), cur.rate, 1e-12);
            near(fcell(&r, i, "nr"), ref.nonnull_ref, 0);
            double v[3];
            for (int d = 1; d <= 3; d++)
                v[d - 1] = direct(a - d * DAY, b - d * DAY, model_is, m).count;
            qsort(v, 3, sizeof *v, cmp_d);
            near(fcell(&r, i, "b"), v[1], 0);
        }
        vg_result_free(&r);
    }
}

/*
 * Drift functions that need counts only (ztest_p over a boolean, n_cur,
 * n_ref) are answered from block statistics too: whole blocks inside the
 * reference. Against the rows written, and against decoding every row.
 */
static void test_count_drift_from_block_statistics_match_rows(void **state)
{
    (void)state;
    const char *fast = "SELECT ztest_p(refusal) AS p, n_cur(refusal) AS nc, "
                       "n_ref(latency_s) AS nr, count_if(refusal) AS c, rate(refusal) AS r "
                       "FROM llm_request SINCE 1d AGAINST PREVIOUS 3d";
    const char *slow = "SELECT ztest_p(refusal) AS p, n_cur(refusal) AS nc, "
                       "n_ref(latency_s) AS nr, count_if(refusal) AS c, rate(refusal) AS r "
                       "FROM llm_request WHERE latency_s > -1 SINCE 1d AGAINST PREVIOUS 3d";
    vg_result_t a, b;
    run(fast, &a);
    run(slow, &b);
    assert_same_result(&a, &b, fast);
    agg_t cur = direct(NOW - DAY, NOW, all, NULL);
    agg_t ref = direct(NOW - 4 * DAY, NOW - DAY, all, NULL);
    near(fcell(&a, 0, "nc"), cur.nonnull_ref, 0);
    near(fcell(&a, 0, "nr"), ref.count, 0);
    near(fcell(&a, 0, "c"), cur.refusals, 0);
    near(fcell(&a, 0, "r"), cur.rate, 1e-12);
    near(fcell(&a, 0, "p"),
         vg_stat_ztest_p((uint64_t)cur.refusals, (uint64_t)cur.nonnull_ref,
                         (uint64_t)ref.refusals, (uint64_t)ref.nonnull_ref),
         1e-12);
    vg_result_free(&a);
    vg_result_free(&b);
}

/*
 * A boolean column without nulls is counted in bulk. Table probe: 3 series,
 * a row a minute for 2 days with ok (never null) and v; the first day and a
 * half sealed (whole blocks, sorted by series and time), the rest in the
 * head. Counts against the rows written, and against row by row.
 */
static void test_bool_columns_without_nulls_count_in_bulk(void **state)
{
    (void)state;
    const int64_t t0 = NOW - 2 * DAY, n = 2 * 24 * 60;
    static const char *K[3] = {"a", "b", "c"};
    size_t cap = (size_t)n * 3 * 64, len = 0;
    char *buf = malloc(cap);
    for (int64_t i = 0; i < n; i++) {
        if (i == n * 3 / 4) {
            vg_write_result_t wr;
            assert_int_equal(vg_db_write_lp(g_db, buf, len, NULL, &wr, NULL), VG_OK);
            assert_int_equal(wr.rejected, 0);
            vg_write_result_free(&wr);
            assert_int_equal(vg_db_flush(g_db, NULL), VG_OK);
            len = 0;
        }
        for (int s = 0; s < 3; s++) {
            const char *ok = mix((uint64_t)(i * 3 + s)) % 7 == 0 ? "true" : "false";
            len += (size_t)snprintf(buf + len, cap - len,
                                    "probe,k=%s ok=%s,v=%" PRId64 "i %" PRId64 "\n", K[s], ok, i,
                                    t0 + i * MIN + s * SEC);
        }
    }
    vg_write_result_t wr;
    assert_int_equal(vg_db_write_lp(g_db, buf, len, NULL, &wr, NULL), VG_OK);
    vg_write_result_free(&wr);
    free(buf);
    const int64_t at[] = {NOW, NOW - 13 * HOUR - 30 * SEC, t0 + DAY + 7 * MIN};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        vg_q_exec_opts_t o;
        vg_q_exec_opts_default(&o);
        o.now_ns = at[k];
        vg_result_t fast, slow;
        run_opts("SELECT count_if(ok) AS c, rate(ok) AS r, ztest_p(ok) AS p FROM probe SINCE 2h "
                 "BY k AGAINST PREVIOUS 6h",
                 &fast, &o);
        run_opts("SELECT count_if(ok) AS c, rate(ok) AS r, ztest_p(ok) AS p FROM probe WHERE "
                 "v > -1 SINCE 2h BY k AGAINST PREVIOUS 6h",
                 &slow, &o);
        assert_same_result(&fast, &slow, "probe");
        assert_int_equal(fast.nrows, 3);
        for (int s = 0; s < 3; s++) {
            uint64_t c[2] = {0}, m[2] = {0};
            for (int64_t i = 0; i < n; i++) {
                int64_t ts = t0 + i * MIN + s * SEC;
                int pop = ts >= at[k] - 2 * HOUR && ts < at[k]              ? 0
                          : ts >= at[k] - 8 * HOUR && ts < at[k] - 2 * HOUR ? 1
                                                                             : -1;
                if (pop >= 0) {
                    m[pop]++;
                    c[pop] += mix((uint64_t)(i * 3 + s)) % 7 == 0;
                }
            }
            assert_string_equal(scell(&fast, (size_t)s, "k"), K[s]);
            near(fcell(&fast, (size_t)s, "c"), (double)c[0], 0);
            near(fcell(&fast, (size_t)s, "r"), (double)c[0] / (double)m[0], 1e-12);
            near(fcell(&fast, (size_t)s, "p"), vg_stat_ztest_p(c[0], m[0], c[1], m[1]), 1e-12);
        }
        vg_result_free(&fast);
        vg_result_free(&slow);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_aggregates_match_direct_computation),
        cmocka_unit_test(test_block_statistics_answers_match_decoding),
        cmocka_unit_test(test_exact_quantiles_match_sorting),
        cmocka_unit_test(test_approx_quantile_is_within_one_percent),
        cmocka_unit_test(test_windows_groups_nulls_and_empty_windows),
        cmocka_unit_test(test_bucket_groups_are_labelled_ranges),
        cmocka_unit_test(test_histogram_counts_equal_width_bins),
        cmocka_unit_test(test_order_by_and_limit),
        cmocka_unit_test(test_raw_rows_come_in_time_order),
        cmocka_unit_test(test_sample_draws_members_in_time_order),
        cmocka_unit_test(test_baselines_and_zscore_match_direct_computation),
        cmocka_unit_test(test_drift_functions_match_the_kernels),
        cmocka_unit_test(test_rule_query_matches_direct_computation),
        cmocka_unit_test(test_errors_name_what_and_where),
        cmocka_unit_test(test_nulls_propagate_and_compare_false),
        cmocka_unit_test(test_parallel_scan_gives_the_same_answer),
        cmocka_unit_test(test_series_runs_match_row_by_row),
        cmocka_unit_test(test_spans_at_row_and_partition_edges_count_every_row),
        cmocka_unit_test(test_count_drift_from_block_statistics_match_rows),
        cmocka_unit_test(test_bool_columns_without_nulls_count_in_bulk), /* flushes: last */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
