/*
 * test_drift.c: the statistics kernels of the query language (query/stats.h)
 * against numpy and scipy (tests/drift_ref.h, made by tests/drift_ref.py)
 * and against direct computations written here: sorting against qsort,
 * quantiles against the definition, selection against sorting, baselines
 * and z-scores against plain loops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift_ref.h"
#include "stats.h"
#include "vigil/vg_alloc.h"

/* ---- the generator drift_ref.py mirrors ------------------------------ */

static uint64_t sm_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double sm_uniform(uint64_t *s)
{
    return (double)(sm_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double sm_normal(uint64_t *s)
{
    double u1 = 1.0 - sm_uniform(s);
    double u2 = sm_uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* The dataset of one side; free with free(). */
static double *generate(const dr_side *sd)
{
    double *x = malloc((sd->n ? sd->n : 1) * sizeof *x);
    assert_non_null(x);
    uint64_t s = sd->seed;
    for (size_t i = 0; i < sd->n; i++) {
        switch (sd->kind) {
        case DR_NORMAL:
            x[i] = sd->a + sd->b * sm_normal(&s);
            break;
        case DR_LOGNORMAL:
            x[i] = exp(sd->a + sd->b * sm_normal(&s));
            break;
        case DR_INT:
            x[i] = floor(sd->a + sm_uniform(&s) * (sd->b - sd->a + 1.0));
            break;
        case DR_BIMODAL: {
            double u = sm_uniform(&s);
            x[i] = (u < sd->a ? sd->b : sd->c) + sd->d * sm_normal(&s);
            break;
        }
        default:
            x[i] = sd->a;
        }
    }
    return x;
}

static double *sorted_copy(const double *x, size_t n)
{
    double *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    memcpy(y, x, n * sizeof *y);
    assert_int_equal(vg_stat_sort(y, n, NULL), VG_OK);
    return y;
}

/* ---- comparisons ----------------------------------------------------- */

static double worst_rel; /* the largest relative error seen by close() */

/* got == want within rel (relative) or abs_floor; NaN only equals NaN. */
static int close_to(double got, double want, double rel, double abs_floor)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    double err = fabs(got - want);
    if (want != 0 && err / fabs(want) > worst_rel && fabs(want) > abs_floor)
        worst_rel = err / fabs(want);
    return err <= rel * fabs(want) || err <= abs_floor;
}

#define CHECK_CLOSE(got, want, rel, abs_floor, ...)                                             \
    do {                                                                                        \
        double g_ = (got), w_ = (want);                                                         \
        if (!close_to(g_, w_, rel, abs_floor)) {                                                \
            print_error(__VA_ARGS__);                                                           \
            print_error(": got %.17g, want %.17g (rel %.3g)\n", g_, w_, fabs(g_ - w_) / fabs(w_)); \
            fail();                                                                             \
        }                                                                                       \
    } while (0)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- sorting and quantiles ------------------------------------------ */

static void fill_mixed(double *x, size_t n, uint64_t seed, int flavour)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        double u = sm_uniform(&s);
        switch (flavour) {
        case 0: /* signed, wide exponents */
            x[i] = (u - 0.5) * pow(10, (double)(sm_next(&s) % 40) - 20);
            break;
        case 1: /* heavy ties, including both zeros */
            x[i] = (double)(sm_next(&s) % 7) - 3;
            if (x[i] == 0 && u < 0.5)
                x[i] = -0.0;
            break;
        case 2: /* a narrow band: every value shares the top bits */
            x[i] = 1.0 + u * 1e-9;
            break;
        case 4: /* one value almost everywhere: a single huge bucket */
            x[i] = u < 0.001 ? u * 1e6 : 42.0;
            break;
        case 3: /* infinities among normals */
            x[i] = u < 0.01 ? -INFINITY : (u > 0.99 ? INFINITY : sm_normal(&s));
            break;
        default:
            x[i] = sm_normal(&s);
        }
    }
}

static void test_sort_agrees_with_qsort(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 2, 3, 24, 25, 511, 512, 513, 4096, 65535, 65536, 100003};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int fl = 0; fl < 5; fl++) {
            size_t n = sizes[si];
            double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
            fill_mixed(x, n, 1000 + si * 7 + (uint64_t)fl, fl);
            memcpy(y, x, n * sizeof *x);
            qsort(y, n, sizeof *y, cmp_double);
            assert_int_equal(vg_stat_sort(x, n, NULL), VG_OK);
            for (size_t i = 0; i < n; i++)
                assert_true(x[i] == y[i]);
            for (size_t i = 1; i < n; i++) /* -0.0 sorts before +0.0 */
                assert_false(x[i] == 0 && x[i - 1] == 0 && !signbit(x[i - 1]) && signbit(x[i]));
            free(x);
            free(y);
        }
    }
}

static void test_sort_reports_allocation_failure(void **state)
{
    (void)state;
    double x[600];
    fill_mixed(x, 600, 5, 0);
    vg_error_t err;
    vg_alloc_fail_after(1, 0);
    assert_int_equal(vg_stat_sort(x, 600, &err), VG_ENOMEM);
    vg_alloc_fail_after(0, 0);
    assert_int_equal(err.code, VG_ENOMEM);
    assert_non_null(strstr(err.msg, "600 values"));
}

/* The definition of stats.h, evaluated plainly on a qsort-ed copy. */
static double quantile_by_definition(const double *s, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i >= n - 1)
        return s[n - 1];
    return s[i] + (h - floor(h)) * (s[i + 1] - s[i]);
}

static void test_quantile_matches_definition_for_many_q(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 2, 3, 10, 101, 1000, 4097};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        double *x = malloc(n * sizeof *x);
        fill_mixed(x, n, 77 + si, si % 2 ? 1 : 3);
        for (size_t i = 0; i < n; i++) /* the definition needs finite values */
            x[i] = isinf(x[i]) ? 0 : x[i];
        qsort(x, n, sizeof *x, cmp_double);
        /* the two lerp forms differ by rounding on the scale of the data */
        double prev = -INFINITY, ulps = 4 * DBL_EPSILON * fmax(fabs(x[0]), fabs(x[n - 1]));
        for (int k = 0; k <= 1000; k++) {
            double q = k / 1000.0, got = vg_stat_quantile_sorted(x, n, q);
            CHECK_CLOSE(got, quantile_by_definition(x, n, q), 0, ulps, "n=%zu q=%g", n, q);
            assert_true(got >= prev); /* monotone in q */
            prev = got;
        }
        assert_true(vg_stat_quantile_sorted(x, n, 0) == x[0]);
        assert_true(vg_stat_quantile_sorted(x, n, 1) == x[n - 1]);
        assert_true(vg_stat_quantile_sorted(x, n, -3) == x[0]);
        assert_true(vg_stat_quantile_sorted(x, n, 7) == x[n - 1]);
        free(x);
    }
}

static void test_quantile_select_equals_sorted(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 2, 5, 100, 2048, 2049, 50000};
    const double qs[] = {0, 1e-6, 0.001, 0.01, 0.1, 0.25, 1.0 / 3, 0.5, 0.75, 0.9, 0.99, 0.999, 1};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (int fl = 0; fl < 5; fl++) {
            size_t n = sizes[si];
            double *x = malloc(n * sizeof *x), *keep = malloc(n * sizeof *x);
            double *scratch = malloc(n * sizeof *x);
            fill_mixed(x, n, 31 * si + (uint64_t)fl, fl);
            memcpy(keep, x, n * sizeof *x);
            double *s = sorted_copy(x, n);
            for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
                double want = vg_stat_quantile_sorted(s, n, qs[k]);
                double got = vg_stat_quantile_select(x, n, qs[k], scratch);
                if (!(got == want || (isnan(got) && isnan(want)))) {
                    print_error("n=%zu flavour=%d q=%g: %.17g != %.17g\n", n, fl, qs[k], got, want);
                    fail();
                }
            }
            assert_memory_equal(x, keep, n * sizeof *x); /* input untouched */
            free(x);
            free(keep);
            free(scratch);
            free(s);
        }
    }
}

static void test_quantiles_match_numpy_on_every_dataset(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_cases / sizeof dr_cases[0]; c++) {
        const dr_case *dc = &dr_cases[c];
        double *x = generate(&dc->cur), *scratch = malloc(dc->cur.n * sizeof *x);
        double *s = sorted_copy(x, dc->cur.n);
        for (int k = 0; k < DR_NQ; k++) {
            CHECK_CLOSE(vg_stat_quantile_sorted(s, dc->cur.n, dr_q[k]), dc->quant[k], 1e-13, 1e-300,
                        "%s q=%g (sorted)", dc->name, dr_q[k]);
            CHECK_CLOSE(vg_stat_quantile_select(x, dc->cur.n, dr_q[k], scratch), dc->quant[k], 1e-13,
                        1e-300, "%s q=%g (select)", dc->name, dr_q[k]);
        }
        free(x);
        free(s);
        free(scratch);
    }
}

/* ---- moments, histogram, baselines ---------------------------------- */

static void test_mean_stddev_histogram_match_numpy(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_cases / sizeof dr_cases[0]; c++) {
        const dr_case *dc = &dr_cases[c];
        double *x = generate(&dc->cur);
        CHECK_CLOSE(vg_stat_mean(x, dc->cur.n), dc->mean, 1e-12, 1e-15, "%s mean", dc->name);
        CHECK_CLOSE(vg_stat_stddev(x, dc->cur.n), dc->stddev, 1e-12, 0, "%s stddev", dc->name);
        uint64_t h[DR_HBINS];
        assert_int_equal(vg_stat_histogram(x, dc->cur.n, dc->hist_lo, dc->hist_hi, h, DR_HBINS, NULL),
                         VG_OK);
        assert_memory_equal(h, dc->hist, sizeof h);
        free(x);
    }
}

static void test_moments_are_compensated(void **state)
{
    (void)state;
    /* 1e8 + {1, 2, 3, 4} repeated: naive float sums drift, Neumaier's do not. */
    enum { N = 100000 };
    static double x[N];
    for (size_t i = 0; i < N; i++)
        x[i] = 1e8 + (double)(i % 4 + 1);
    assert_true(vg_stat_mean(x, N) == 1e8 + 2.5);
    CHECK_CLOSE(vg_stat_stddev(x, N), sqrt(1.25 * N / (N - 1)), 1e-12, 0, "stddev");
}

static void test_histogram_rejects_bad_ranges(void **state)
{
    (void)state;
    uint64_t h[4];
    double x[] = {1, 2, 3};
    vg_error_t err;
    assert_int_equal(vg_stat_histogram(x, 3, 0, 1, h, 0, &err), VG_EINVAL);
    assert_int_equal(vg_stat_histogram(x, 3, 2, 1, h, 4, &err), VG_EINVAL);
    assert_int_equal(vg_stat_histogram(x, 3, 0, INFINITY, h, 4, &err), VG_EINVAL);
    assert_non_null(strstr(err.msg, "histogram"));
    /* a degenerate range widens by 0.5 each side (numpy) */
    double c[] = {5, 5, 5};
    assert_int_equal(vg_stat_histogram(c, 3, 5, 5, h, 4, NULL), VG_OK);
    assert_int_equal(h[2], 3);
}

static void test_median_skips_nulls_and_averages_the_middle_two(void **state)
{
    (void)state;
    double a[] = {NAN, 3, 1, NAN, 2};
    assert_true(vg_stat_median_skip_null(a, 5) == 2);
    double b[] = {4, NAN, 1, 3, 10};
    assert_true(vg_stat_median_skip_null(b, 5) == 3.5);
    double c[] = {NAN, NAN};
    assert_true(isnan(vg_stat_median_skip_null(c, 2)));
    assert_true(isnan(vg_stat_median_skip_null(NULL, 0)));
    /* against sorting, on odd and even counts with ties */
    for (size_t k = 1; k < 60; k++) {
        double v[60], s[60];
        size_t m = 0;
        fill_mixed(v, k, 900 + k, 1);
        for (size_t i = 0; i < k; i++) {
            if (i % 5 == 3)
                v[i] = NAN;
            else
                s[m++] = v[i];
        }
        qsort(s, m, sizeof *s, cmp_double);
        double want = m == 0 ? NAN : (m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2);
        CHECK_CLOSE(vg_stat_median_skip_null(v, k), want, 0, 0, "k=%zu", k);
    }
}

static void test_zscore_matches_direct_computation(void **state)
{
    (void)state;
    double h[] = {0.10, 0.12, NAN, 0.08, 0.11, 0.09, 0.10, 0.13};
    double sum = 0, n = 0;
    for (size_t i = 0; i < 8; i++)
        if (!isnan(h[i])) {
            sum += h[i];
            n++;
        }
    double m = sum / n, ss = 0;
    for (size_t i = 0; i < 8; i++)
        if (!isnan(h[i]))
            ss += (h[i] - m) * (h[i] - m);
    double want = (0.2 - m) / sqrt(ss / (n - 1));
    CHECK_CLOSE(vg_stat_zscore(0.2, h, 8), want, 1e-13, 0, "zscore");
    double flat[] = {0.5, 0.5, 0.5};
    assert_true(isnan(vg_stat_zscore(0.7, flat, 3))); /* stddev 0: null */
    double one[] = {0.5, NAN};
    assert_true(isnan(vg_stat_zscore(0.7, one, 2))); /* one value: no stddev */
    assert_true(isnan(vg_stat_zscore(NAN, h, 8)));
}

/* ---- distribution comparisons against scipy ------------------------- */

static void test_drift_statistics_match_scipy_on_every_dataset(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_cases / sizeof dr_cases[0]; c++) {
        const dr_case *dc = &dr_cases[c];
        size_t m = dc->ref.n, n = dc->cur.n;
        double *r = generate(&dc->ref), *x = generate(&dc->cur);
        double *rs = sorted_copy(r, m), *xs = sorted_copy(x, n);
        double d = vg_stat_ks(rs, m, xs, n);
        CHECK_CLOSE(d, dc->ks_d, 0, 0, "%s ks D", dc->name); /* the same double */
        CHECK_CLOSE(vg_stat_ks(xs, n, rs, m), d, 0, 0, "%s ks symmetric", dc->name);
        CHECK_CLOSE(vg_stat_ks_p(d, m, n), dc->ks_p, 1e-10, 1e-300, "%s ks_p", dc->name);
        CHECK_CLOSE(vg_stat_wasserstein(rs, m, xs, n), dc->wasserstein, 1e-12, 1e-300,
                    "%s wasserstein", dc->name);
        CHECK_CLOSE(vg_stat_psi(rs, m, x, n), dc->psi, 1e-12, 1e-15, "%s psi", dc->name);
        CHECK_CLOSE(vg_stat_js(rs, m, x, n), dc->js, 1e-12, 1e-15, "%s js", dc->name);
        CHECK_CLOSE(vg_stat_psi(rs, m, xs, n), dc->psi, 1e-12, 1e-15, "%s psi (cur sorted)", dc->name);
        free(r);
        free(x);
        free(rs);
        free(xs);
    }
}

static void test_psi_with_constant_reference_uses_the_upper_bin(void **state)
{
    (void)state;
    double ref[50], same[20], below[20], above[20];
    for (size_t i = 0; i < 50; i++)
        ref[i] = 5;
    for (size_t i = 0; i < 20; i++) {
        same[i] = 5;
        below[i] = 4;
        above[i] = 6;
    }
    double edges[9];
    uint64_t counts[VG_STAT_DECILE_BINS];
    assert_int_equal(vg_stat_decile_edges(ref, 50, edges), VG_OK);
    vg_stat_bin_counts(same, 20, edges, counts);
    assert_int_equal(counts[9], 20); /* equal to all 9 edges: above every copy */
    assert_true(vg_stat_psi(ref, 50, same, 20) == 0);
    assert_true(vg_stat_psi(ref, 50, above, 20) == 0); /* same bin as the reference */
    double want = 2 * (1 - 0.0001) * log(1 / 0.0001);   /* all in bin 0 against all in bin 9 */
    CHECK_CLOSE(vg_stat_psi(ref, 50, below, 20), want, 1e-14, 0, "psi below");
    CHECK_CLOSE(vg_stat_js(ref, 50, below, 20), sqrt(log(2.0)), 1e-14, 0, "js disjoint");
}

static void test_categorical_psi_and_js_match_scipy(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_cat_cases / sizeof dr_cat_cases[0]; c++) {
        const dr_cat *t = &dr_cat_cases[c];
        CHECK_CLOSE(vg_stat_psi_counts(t->ref, t->cur, t->k), t->psi, 1e-13, 1e-15, "cat %zu psi", c);
        CHECK_CLOSE(vg_stat_js_counts(t->ref, t->cur, t->k), t->js, 1e-13, 1e-15, "cat %zu js", c);
    }
}

static void test_chi2_p_matches_scipy(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_chi2_cases / sizeof dr_chi2_cases[0]; c++) {
        const dr_chi2 *t = &dr_chi2_cases[c];
        CHECK_CLOSE(vg_stat_chi2_p(t->ref, t->cur, t->k), t->p, 1e-10, 1e-300, "chi2 case %zu", c);
    }
}

static void test_ztest_p_matches_scipy(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_ztest_cases / sizeof dr_ztest_cases[0]; c++) {
        const dr_ztest *t = &dr_ztest_cases[c];
        CHECK_CLOSE(vg_stat_ztest_p(t->x1, t->n1, t->x2, t->n2), t->p, 1e-12, 1e-300,
                    "ztest %zu", c);
    }
}

static void test_igamc_matches_scipy_for_small_and_large_a(void **state)
{
    (void)state;
    worst_rel = 0;
    for (size_t c = 0; c < sizeof dr_igamc_cases / sizeof dr_igamc_cases[0]; c++) {
        const dr_igamc *t = &dr_igamc_cases[c];
        CHECK_CLOSE(vg_stat_igamc(t->a, t->x), t->q, 1e-11, 1e-300, "Q(%g, %g)", t->a, t->x);
    }
    print_message("igamc: worst relative error against scipy %.3g\n", worst_rel);
    assert_true(isnan(vg_stat_igamc(0, 1)));
    assert_true(isnan(vg_stat_igamc(1, -1)));
    assert_true(vg_stat_igamc(3, INFINITY) == 0);
}

static void test_kstwo_sf_matches_scipy_over_a_grid(void **state)
{
    (void)state;
    worst_rel = 0;
    for (size_t c = 0; c < sizeof dr_kstwo_cases / sizeof dr_kstwo_cases[0]; c++) {
        const dr_kstwo *t = &dr_kstwo_cases[c];
        CHECK_CLOSE(vg_stat_kstwo_sf(t->d, t->n), t->sf, 1e-10, 1e-300, "kstwo.sf(%.17g, %llu)",
                    t->d, (unsigned long long)t->n);
    }
    print_message("kstwo.sf: worst relative error against scipy %.3g over %zu points\n", worst_rel,
                  sizeof dr_kstwo_cases / sizeof dr_kstwo_cases[0]);
    assert_true(isnan(vg_stat_kstwo_sf(0.5, 0)));
    assert_true(vg_stat_kstwo_sf(0, 10) == 1);
    assert_true(vg_stat_kstwo_sf(1, 10) == 0);
}

static void test_igamc_and_kstwo_match_high_precision_values(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof dr_igamc_exact / sizeof dr_igamc_exact[0]; c++) {
        const dr_igamc *t = &dr_igamc_exact[c];
        CHECK_CLOSE(vg_stat_igamc(t->a, t->x), t->q, 1e-13, 0, "exact Q(%g, %g)", t->a, t->x);
    }
    for (size_t c = 0; c < sizeof dr_kstwo_exact / sizeof dr_kstwo_exact[0]; c++) {
        const dr_kstwo *t = &dr_kstwo_exact[c];
        CHECK_CLOSE(vg_stat_kstwo_sf(t->d, t->n), t->sf, 1e-13, 0, "exact kstwo.sf(%g, %llu)", t->d,
                    (unsigned long long)t->n);
    }
}

static void test_ks_p_rounds_the_effective_size_half_to_even(void **state)
{
    (void)state;
    /* m = n = 5: N = 2.5 rounds to 2 (numpy.round), m = n = 3: 1.5 to 2 */
    assert_true(vg_stat_ks_p(0.6, 5, 5) == vg_stat_kstwo_sf(0.6, 2));
    assert_true(vg_stat_ks_p(0.6, 3, 3) == vg_stat_kstwo_sf(0.6, 2));
    assert_true(isnan(vg_stat_ks_p(1.0, 1, 1))); /* N = round(0.5) = 0 */
    assert_true(vg_stat_ks_p(0.3, 40, 70) == vg_stat_ks_p(0.3, 70, 40));
}

static void test_empty_inputs_give_null(void **state)
{
    (void)state;
    double x[] = {1, 2, 3}, scratch[3], edges[9];
    uint64_t r[] = {1, 2}, z[] = {0, 0}, h[2];
    assert_true(isnan(vg_stat_quantile_sorted(x, 0, 0.5)));
    assert_true(isnan(vg_stat_quantile_sorted(x, 3, NAN)));
    assert_true(isnan(vg_stat_quantile_select(x, 0, 0.5, scratch)));
    assert_true(isnan(vg_stat_mean(x, 0)));
    assert_true(isnan(vg_stat_stddev(x, 1)));
    assert_true(isnan(vg_stat_ks(x, 3, x, 0)));
    assert_true(isnan(vg_stat_ks(x, 0, x, 3)));
    assert_true(isnan(vg_stat_ks_p(0.5, 0, 3)));
    assert_true(isnan(vg_stat_wasserstein(x, 0, x, 3)));
    assert_true(isnan(vg_stat_wasserstein(x, 3, x, 0)));
    assert_true(isnan(vg_stat_psi(x, 0, x, 3)));
    assert_true(isnan(vg_stat_psi(x, 3, x, 0)));
    assert_true(isnan(vg_stat_js(x, 3, x, 0)));
    assert_int_equal(vg_stat_decile_edges(x, 0, edges), VG_EINVAL);
    assert_true(isnan(vg_stat_psi_counts(r, z, 2)));
    assert_true(isnan(vg_stat_js_counts(z, r, 2)));
    assert_true(isnan(vg_stat_chi2_p(r, z, 2)));
    assert_true(isnan(vg_stat_chi2_p(r, r, 0)));
    assert_true(isnan(vg_stat_ztest_p(0, 0, 1, 2)));
    assert_int_equal(vg_stat_histogram(x, 0, 0, 1, h, 2, NULL), VG_OK);
    assert_true(h[0] == 0 && h[1] == 0);
}

static void test_identical_samples_show_no_drift(void **state)
{
    (void)state;
    double x[200];
    fill_mixed(x, 200, 4242, 3);
    for (size_t i = 0; i < 200; i++)
        x[i] = isinf(x[i]) ? 0 : x[i];
    double *s = sorted_copy(x, 200);
    assert_true(vg_stat_ks(s, 200, s, 200) == 0);
    assert_true(vg_stat_ks_p(0, 200, 200) == 1);
    assert_true(vg_stat_wasserstein(s, 200, s, 200) == 0);
    assert_true(vg_stat_psi(s, 200, x, 200) == 0);
    assert_true(vg_stat_js(s, 200, x, 200) == 0);
    uint64_t c[] = {10, 0, 7};
    assert_true(vg_stat_chi2_p(c, c, 3) == 1);
    assert_true(vg_stat_ztest_p(3, 10, 3, 10) == 1);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_agrees_with_qsort),
        cmocka_unit_test(test_sort_reports_allocation_failure),
        cmocka_unit_test(test_quantile_matches_definition_for_many_q),
        cmocka_unit_test(test_quantile_select_equals_sorted),
        cmocka_unit_test(test_quantiles_match_numpy_on_every_dataset),
        cmocka_unit_test(test_mean_stddev_histogram_match_numpy),
        cmocka_unit_test(test_moments_are_compensated),
        cmocka_unit_test(test_histogram_rejects_bad_ranges),
        cmocka_unit_test(test_median_skips_nulls_and_averages_the_middle_two),
        cmocka_unit_test(test_zscore_matches_direct_computation),
        cmocka_unit_test(test_drift_statistics_match_scipy_on_every_dataset),
        cmocka_unit_test(test_psi_with_constant_reference_uses_the_upper_bin),
        cmocka_unit_test(test_categorical_psi_and_js_match_scipy),
        cmocka_unit_test(test_chi2_p_matches_scipy),
        cmocka_unit_test(test_ztest_p_matches_scipy),
        cmocka_unit_test(test_igamc_matches_scipy_for_small_and_large_a),
        cmocka_unit_test(test_kstwo_sf_matches_scipy_over_a_grid),
        cmocka_unit_test(test_igamc_and_kstwo_match_high_precision_values),
        cmocka_unit_test(test_ks_p_rounds_the_effective_size_half_to_even),
        cmocka_unit_test(test_empty_inputs_give_null),
        cmocka_unit_test(test_identical_samples_show_no_drift),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
