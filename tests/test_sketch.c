/*
 * test_sketch.c: the DDSketch keeps its 1% relative-error promise against
 * the exact lower-rank quantile of sorted data, merges exactly, and its
 * serialization round-trips and rejects damaged input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

static uint64_t rng_state = 0x0DDC0FFEE0DDF00Du;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so logs and powers stay finite. */
static double unif(void)
{
    return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const double qs[] = {0, .01, .1, .5, .9, .95, .99, .999, 1};
#define NQ (sizeof qs / sizeof qs[0])

/* Every q of qs is within alpha of sorted[floor(q * (n - 1))]. */
static void check_accuracy(const double *data, size_t n)
{
    double *sorted = malloc(n * sizeof *sorted);
    memcpy(sorted, data, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    vg_sketch_t s;
    vg_sketch_init(&s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vg_sketch_add(&s, data[i]), VG_OK);
    assert_true(s.count == n);
    assert_true(s.min == sorted[0] && s.max == sorted[n - 1]);
    for (size_t k = 0; k < NQ; k++) {
        double truth = sorted[(size_t)floor(qs[k] * (double)(n - 1))];
        double est = vg_sketch_quantile(&s, qs[k]);
        if (truth == 0) {
            assert_true(est == 0);
        } else {
            double rel = fabs(est - truth) / fabs(truth);
            if (!(rel <= VG_SKETCH_ALPHA * (1 + 1e-9)))
                fail_msg("q=%g: estimate %.17g, true %.17g, relative error %g", qs[k], est, truth,
                         rel);
        }
    }
    assert_float_equal(vg_sketch_quantile(&s, 0), sorted[0], 0);
    assert_float_equal(vg_sketch_quantile(&s, 1), sorted[n - 1], 0);
    vg_sketch_reset(&s);
    free(sorted);
}

enum { N = 100000 };

static void test_sketch_lognormal_quantiles_within_one_percent(void **state)
{
    (void)state;
    double *d = malloc(N * sizeof *d);
    for (size_t i = 0; i < N; i++)
        d[i] = exp(0.5 + 1.2 * normal()); /* latency-like, seconds */
    check_accuracy(d, N);
    free(d);
}

static void test_sketch_bimodal_quantiles_within_one_percent(void **state)
{
    (void)state;
    double *d = malloc(N * sizeof *d);
    for (size_t i = 0; i < N; i++)
        d[i] = (rnd() % 10 < 7) ? exp(log(0.05) + 0.3 * normal()) : exp(log(20) + 0.2 * normal());
    check_accuracy(d, N);
    free(d);
}

static void test_sketch_constant_quantiles_within_one_percent(void **state)
{
    (void)state;
    double d[1000];
    for (size_t i = 0; i < 1000; i++)
        d[i] = 3.7;
    check_accuracy(d, 1000);
    /* Clamping to [min, max] makes a constant exact. */
    vg_sketch_t s;
    vg_sketch_init(&s);
    assert_int_equal(vg_sketch_add_n(&s, 3.7, 1000), VG_OK);
    for (size_t k = 0; k < NQ; k++)
        assert_float_equal(vg_sketch_quantile(&s, qs[k]), 3.7, 0);
    vg_sketch_reset(&s);
}

static void test_sketch_pareto_tail_quantiles_within_one_percent(void **state)
{
    (void)state;
    double *d = malloc(N * sizeof *d);
    for (size_t i = 0; i < N; i++)
        d[i] = 1.0 / pow(unif(), 1 / 0.8); /* alpha 0.8: infinite mean */
    check_accuracy(d, N);
    free(d);
}

static void test_sketch_uniform_quantiles_within_one_percent(void **state)
{
    (void)state;
    double *d = malloc(N * sizeof *d);
    for (size_t i = 0; i < N; i++)
        d[i] = 1 + 999 * unif();
    check_accuracy(d, N);
    free(d);
}

static void test_sketch_mixed_signs_and_zeros_within_one_percent(void **state)
{
    (void)state;
    double *d = malloc(N * sizeof *d);
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rnd() % 10;
        d[i] = r < 2 ? 0.0 : r < 3 ? -0.0 : 25 * normal() * (r < 5 ? 1e-6 : 1);
    }
    check_accuracy(d, N);
    /* A wide dynamic range of both signs. */
    for (size_t i = 0; i < N; i++)
        d[i] = (rnd() & 1 ? -1 : 1) * exp(40 * (unif() - 0.5));
    check_accuracy(d, N);
    free(d);
}

static void test_sketch_uses_the_lower_rank(void **state)
{
    (void)state;
    vg_sketch_t s;
    vg_sketch_init(&s);
    vg_sketch_add(&s, 1.0);
    vg_sketch_add(&s, 100.0);
    /* rank floor(0.5 * 1) = 0: the smaller value, not an interpolation. */
    assert_true(fabs(vg_sketch_quantile(&s, 0.5) - 1.0) <= 0.01);
    assert_true(fabs(vg_sketch_quantile(&s, 0.99) - 1.0) <= 0.01);
    assert_float_equal(vg_sketch_quantile(&s, 1), 100.0, 0);
    vg_sketch_reset(&s);
}

static void test_sketch_ignores_nan_and_keeps_exact_extremes(void **state)
{
    (void)state;
    vg_sketch_t s;
    vg_sketch_init(&s);
    assert_true(isnan(vg_sketch_quantile(&s, 0.5))); /* empty */
    vg_sketch_add(&s, NAN);
    assert_true(s.count == 0);
    assert_true(isnan(vg_sketch_quantile(&s, 0.5)));
    vg_sketch_add(&s, 0.123456789);
    vg_sketch_add(&s, -7.25);
    vg_sketch_add(&s, 5e-10); /* below MIN_ABS: a zero */
    vg_sketch_add(&s, 1e300);
    assert_true(s.count == 4 && s.zeros == 1);
    assert_float_equal(s.min, -7.25, 0);
    assert_float_equal(s.max, 1e300, 0);
    assert_float_equal(vg_sketch_quantile(&s, 0), -7.25, 0);
    assert_float_equal(vg_sketch_quantile(&s, 1.0 / 3), 0, 0);
    assert_float_equal(vg_sketch_quantile(&s, 1), 1e300, 0);
    assert_true(isnan(vg_sketch_quantile(&s, NAN)));
    assert_float_equal(vg_sketch_quantile(&s, 7), 1e300, 0); /* q clamped to 1 */
    /* Infinities and the extremes of double stay in range. */
    vg_sketch_add(&s, INFINITY);
    vg_sketch_add(&s, -INFINITY);
    vg_sketch_add(&s, DBL_MAX);
    vg_sketch_add(&s, -DBL_MAX);
    vg_sketch_add(&s, DBL_MIN);
    assert_true(s.count == 9 && s.zeros == 2);
    assert_true(vg_sketch_quantile(&s, 1) == INFINITY);
    assert_true(vg_sketch_quantile(&s, 0) == -INFINITY);
    double q = vg_sketch_quantile(&s, 0.9);
    assert_true(q > 1e307 && q <= INFINITY);
    vg_sketch_reset(&s);
    assert_true(s.count == 0 && s.pos.bins == NULL);
}

/* Two sketches answer every quantile identically. */
static void assert_same_sketch(const vg_sketch_t *a, const vg_sketch_t *b)
{
    assert_true(a->count == b->count && a->zeros == b->zeros);
    assert_memory_equal(&a->min, &b->min, sizeof a->min);
    assert_memory_equal(&a->max, &b->max, sizeof a->max);
    for (int k = 0; k <= 1000; k++) {
        double x = vg_sketch_quantile(a, k / 1000.0), y = vg_sketch_quantile(b, k / 1000.0);
        assert_memory_equal(&x, &y, sizeof x);
    }
}

static void test_sketch_merge_equals_sketch_of_union(void **state)
{
    (void)state;
    vg_sketch_t whole, part[3], merged;
    vg_sketch_init(&whole);
    vg_sketch_init(&merged);
    for (int j = 0; j < 3; j++)
        vg_sketch_init(&part[j]);
    for (size_t i = 0; i < 30000; i++) {
        /* Parts with different ranges so the merge must grow both ways. */
        int j = (int)(rnd() % 3);
        double v = j == 0 ? exp(normal()) : j == 1 ? -exp(3 * normal()) : 1e-6 * unif();
        if (rnd() % 50 == 0)
            v = 0;
        vg_sketch_add(&whole, v);
        vg_sketch_add(&part[j], v);
    }
    for (int j = 2; j >= 0; j--)
        assert_int_equal(vg_sketch_merge(&merged, &part[j]), VG_OK);
    assert_same_sketch(&merged, &whole);
    /* Merging an empty sketch changes nothing; merging into one copies. */
    vg_sketch_t empty;
    vg_sketch_init(&empty);
    assert_int_equal(vg_sketch_merge(&merged, &empty), VG_OK);
    assert_same_sketch(&merged, &whole);
    assert_int_equal(vg_sketch_merge(&empty, &whole), VG_OK);
    assert_same_sketch(&empty, &whole);
    vg_sketch_reset(&empty);
    /* A sketch merged into itself equals every value added twice. */
    vg_sketch_t twice;
    vg_sketch_init(&twice);
    assert_int_equal(vg_sketch_merge(&twice, &part[0]), VG_OK);
    assert_int_equal(vg_sketch_merge(&twice, &part[0]), VG_OK);
    assert_int_equal(vg_sketch_merge(&part[0], &part[0]), VG_OK);
    assert_same_sketch(&part[0], &twice);
    vg_sketch_reset(&twice);
    for (int j = 0; j < 3; j++)
        vg_sketch_reset(&part[j]);
    vg_sketch_reset(&merged);
    vg_sketch_reset(&whole);
}

static void test_sketch_add_reports_enomem_and_stays_consistent(void **state)
{
    (void)state;
    vg_sketch_t s;
    vg_sketch_init(&s);
    vg_sketch_add(&s, 1.0);
    vg_alloc_fail_after(1, 1);
    assert_int_equal(vg_sketch_add(&s, 1e6), VG_ENOMEM); /* needs a wider store */
    assert_int_equal(vg_sketch_add(&s, -1.0), VG_ENOMEM); /* needs a first store */
    assert_int_equal(vg_sketch_add(&s, 1.0), VG_OK);     /* an existing bin */
    assert_int_equal(vg_sketch_add(&s, 0.0), VG_OK);
    vg_alloc_fail_after(0, 0);
    assert_true(s.count == 3 && s.max == 1.0 && s.min == 0.0);
    assert_int_equal(vg_sketch_add(&s, 1e6), VG_OK);
    assert_float_equal(vg_sketch_quantile(&s, 1), 1e6, 0);
    vg_sketch_reset(&s);
}

static void test_sketch_encode_decode_round_trips(void **state)
{
    (void)state;
    vg_sketch_t s, d;
    vg_sketch_init(&s);
    vg_sketch_init(&d);
    for (int round = 0; round < 3; round++) {
        vg_buf_t b = {0}, b2 = {0};
        assert_int_equal(vg_sketch_encode(&s, &b), VG_OK);
        assert_int_equal(vg_sketch_decode(b.p, b.len, &d), VG_OK);
        if (s.count)
            assert_same_sketch(&d, &s);
        else
            assert_true(d.count == 0 && isnan(vg_sketch_quantile(&d, 0.5)));
        assert_int_equal(vg_sketch_encode(&d, &b2), VG_OK);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.p, b.p, b.len);
        vg_buf_free(&b);
        vg_buf_free(&b2);
        /* Next round: more data, wider range, then negatives. */
        for (int i = 0; i < 5000; i++)
            vg_sketch_add(&s, (round == 1 ? -1 : 1) * exp(2 * normal()));
        vg_sketch_add(&s, 0);
    }
    vg_buf_t b = {0};
    vg_sketch_encode(&s, &b);
    assert_true(b.len < 4096); /* ~1,000 bins a store, mostly one-byte counts */
    vg_buf_free(&b);
    vg_sketch_reset(&s);
    vg_sketch_reset(&d);
}

/* Decode a hand-made sketch claiming count values: one positive store of
 * nbins bins from lo, the first holding one value, 1.0. */
static int decode_one_store(uint64_t count, uint64_t nbins, int64_t lo)
{
    vg_buf_t b = {0};
    double one = 1.0;
    assert_int_equal(vg_buf_reserve(&b, 64 + nbins), VG_OK);
    vg_buf_put_uvarint(&b, count);
    vg_buf_put_uvarint(&b, 0); /* zeros */
    vg_buf_put(&b, &one, 8);
    vg_buf_put(&b, &one, 8);
    vg_buf_put_uvarint(&b, nbins);
    vg_buf_put_uvarint(&b, vg_zigzag(lo));
    for (uint64_t j = 0; j < nbins; j++)
        vg_buf_put_u8(&b, j == 0);
    vg_buf_put_uvarint(&b, 0); /* empty negative store */
    vg_sketch_t d;
    vg_sketch_init(&d);
    int rc = vg_sketch_decode(b.p, b.len, &d);
    vg_sketch_reset(&d);
    vg_buf_free(&b);
    return rc;
}

static void test_sketch_decode_rejects_garbage_cleanly(void **state)
{
    (void)state;
    vg_sketch_t s, d;
    vg_sketch_init(&s);
    vg_sketch_init(&d);
    for (int i = 0; i < 2000; i++)
        vg_sketch_add(&s, (i % 3 ? 1 : -1) * exp(normal()));
    vg_buf_t b = {0};
    assert_int_equal(vg_sketch_encode(&s, &b), VG_OK);
    /* Every strict prefix and one extra byte. */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *q = malloc(cut ? cut : 1);
        memcpy(q, b.p, cut);
        assert_int_equal(vg_sketch_decode(q, cut, &d), VG_ECORRUPT);
        assert_true(d.count == 0 && d.pos.bins == NULL); /* left empty */
        free(q);
    }
    uint8_t *q = malloc(b.len + 1);
    memcpy(q, b.p, b.len);
    q[b.len] = 0;
    assert_int_equal(vg_sketch_decode(q, b.len + 1, &d), VG_ECORRUPT);
    /* Bit flips and random bytes: OK or CORRUPT, never a crash. */
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(q, b.p, b.len);
        size_t len = b.len;
        if (iter % 2) {
            for (int f = 0; f < 1 + iter % 4; f++)
                q[rnd() % b.len] ^= (uint8_t)(1u << (rnd() % 8));
        } else {
            len = (size_t)(rnd() % 64);
            for (size_t i = 0; i < len; i++)
                q[i] = (uint8_t)rnd();
        }
        uint8_t *in = malloc(len ? len : 1);
        memcpy(in, q, len);
        int rc = vg_sketch_decode(in, len, &d);
        assert_true(rc == VG_OK || rc == VG_ECORRUPT);
        if (rc == VG_OK) {
            double x = vg_sketch_quantile(&d, unif());
            assert_true(d.count == 0 || (x >= d.min && x <= d.max));
        }
        free(in);
    }
    free(q);
    /* Consistent counts but absurd index ranges: refused before allocating. */
    assert_int_equal(decode_one_store(1, 3, INT64_C(1) << 30), VG_ECORRUPT);
    assert_int_equal(decode_one_store(1, 3, -(INT64_C(1) << 30)), VG_ECORRUPT);
    assert_int_equal(decode_one_store(1, 60000, -1000), VG_ECORRUPT);
    assert_int_equal(decode_one_store(1, 3, 0), VG_OK); /* the same shape, sane */
    /* Counts that do not add up to the total. */
    assert_int_equal(decode_one_store(2, 3, 0), VG_ECORRUPT);
    assert_int_equal(decode_one_store(0, 3, 0), VG_ECORRUPT);
    vg_buf_free(&b);
    vg_sketch_reset(&s);
    vg_sketch_reset(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_lognormal_quantiles_within_one_percent),
        cmocka_unit_test(test_sketch_bimodal_quantiles_within_one_percent),
        cmocka_unit_test(test_sketch_constant_quantiles_within_one_percent),
        cmocka_unit_test(test_sketch_pareto_tail_quantiles_within_one_percent),
        cmocka_unit_test(test_sketch_uniform_quantiles_within_one_percent),
        cmocka_unit_test(test_sketch_mixed_signs_and_zeros_within_one_percent),
        cmocka_unit_test(test_sketch_uses_the_lower_rank),
        cmocka_unit_test(test_sketch_ignores_nan_and_keeps_exact_extremes),
        cmocka_unit_test(test_sketch_merge_equals_sketch_of_union),
        cmocka_unit_test(test_sketch_add_reports_enomem_and_stays_consistent),
        cmocka_unit_test(test_sketch_encode_decode_round_trips),
        cmocka_unit_test(test_sketch_decode_rejects_garbage_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
