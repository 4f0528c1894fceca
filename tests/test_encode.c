/*
 * test_encode.c: every column encoding round-trips bit for bit, picks the
 * mode it should, stays small on regular data, and every decoder survives
 * truncated, bit-flipped and random input (run under ASan/UBSan: inputs and
 * outputs live in exact-size heap blocks so any overrun is caught).
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

#include "buf.h"
#include "colvec.h"
#include "encode.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

/* ---------------------------------------------------------------- helpers --- */

static uint64_t rng_state = 0x1234567887654321u;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double bits_to_f64(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* An exact-size heap copy, so a decoder reading one byte too far trips ASan. */
static uint8_t *heap_copy(const uint8_t *p, size_t len)
{
    uint8_t *q = malloc(len ? len : 1);
    assert_non_null(q);
    if (len)
        memcpy(q, p, len);
    return q;
}

typedef int (*dec64_fn)(const uint8_t *, size_t, size_t, int64_t *);

/* Encoded bytes of a column, kept for the corruption tests. */
typedef struct enc {
    uint8_t *p;
    size_t len;
} enc_t;

static enc_t take(vg_buf_t *b)
{
    enc_t e = {heap_copy(b->p, b->len), b->len};
    vg_buf_free(b);
    return e;
}

/* Decoding a strict prefix or the encoding plus one byte must fail. */
static void check_prefix_and_suffix_rejected(const enc_t *e, int (*dec)(const uint8_t *, size_t,
                                                                         size_t, void *),
                                             size_t n, size_t elem)
{
    void *out = malloc(n * elem + 1);
    for (size_t cut = 0; cut < e->len; cut++) {
        uint8_t *q = heap_copy(e->p, cut);
        assert_int_equal(dec(q, cut, n, out), VG_ECORRUPT);
        free(q);
    }
    uint8_t *q = malloc(e->len + 1);
    memcpy(q, e->p, e->len);
    q[e->len] = 0;
    assert_int_equal(dec(q, e->len + 1, n, out), VG_ECORRUPT);
    free(q);
    free(out);
}

static int dec_ts_v(const uint8_t *p, size_t l, size_t n, void *o) { return vg_dec_ts(p, l, n, o); }
static int dec_i64_v(const uint8_t *p, size_t l, size_t n, void *o) { return vg_dec_i64(p, l, n, o); }
static int dec_u64_v(const uint8_t *p, size_t l, size_t n, void *o) { return vg_dec_u64(p, l, n, o); }
static int dec_f64_v(const uint8_t *p, size_t l, size_t n, void *o) { return vg_dec_f64(p, l, n, o); }
static int dec_bool_v(const uint8_t *p, size_t l, size_t n, void *o) { return vg_dec_bool(p, l, n, o); }
static int dec_bitmap_v(const uint8_t *p, size_t l, size_t n, void *o)
{
    return vg_dec_bitmap(p, l, n, o);
}

/* Round trip of n int64s through one of the int64 codecs; returns the size. */
static size_t rt_i64(int (*enc)(const int64_t *, size_t, vg_buf_t *), dec64_fn dec,
                     const int64_t *v, size_t n)
{
    vg_buf_t b = {0};
    assert_int_equal(enc(v, n, &b), VG_OK);
    enc_t e = take(&b);
    int64_t *out = malloc((n ? n : 1) * sizeof *out);
    assert_int_equal(dec(e.p, e.len, n, out), VG_OK);
    if (n)
        assert_memory_equal(out, v, n * sizeof *v);
    free(out);
    if (n <= 64)
        check_prefix_and_suffix_rejected(&e, dec == vg_dec_ts ? dec_ts_v : dec_i64_v, n, 8);
    free(e.p);
    return e.len;
}

static size_t rt_u64(const uint64_t *v, size_t n)
{
    vg_buf_t b = {0};
    assert_int_equal(vg_enc_u64(v, n, &b), VG_OK);
    enc_t e = take(&b);
    uint64_t *out = malloc((n ? n : 1) * sizeof *out);
    assert_int_equal(vg_dec_u64(e.p, e.len, n, out), VG_OK);
    if (n)
        assert_memory_equal(out, v, n * sizeof *v);
    free(out);
    if (n <= 64)
        check_prefix_and_suffix_rejected(&e, dec_u64_v, n, 8);
    free(e.p);
    return e.len;
}

/* Round trip of doubles, compared as bit patterns; *mode gets the mode byte. */
static size_t rt_f64(const double *v, size_t n, int *mode)
{
    vg_buf_t b = {0};
    assert_int_equal(vg_enc_f64(v, n, &b), VG_OK);
    enc_t e = take(&b);
    if (mode)
        *mode = e.len ? e.p[0] : -1;
    double *out = malloc((n ? n : 1) * sizeof *out);
    assert_int_equal(vg_dec_f64(e.p, e.len, n, out), VG_OK);
    if (n)
        assert_memory_equal(out, v, n * sizeof *v);
    free(out);
    if (n <= 64)
        check_prefix_and_suffix_rejected(&e, dec_f64_v, n, 8);
    free(e.p);
    return e.len;
}

static int f64_mode(const double *v, size_t n)
{
    int mode;
    rt_f64(v, n, &mode);
    return mode;
}

enum { MODE_RAW = 0, MODE_DECIMAL = 1, MODE_XOR = 2 };

/* -------------------------------------------------------------- varints --- */

static void test_uvarint_reads_every_length_and_rejects_overflow(void **state)
{
    (void)state;
    vg_buf_t b = {0};
    uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        b.len = 0;
        assert_int_equal(vg_buf_reserve(&b, 10), VG_OK);
        vg_buf_put_uvarint(&b, vals[i]);
        const uint8_t *p = b.p, *end = b.p + b.len;
        uint64_t got;
        assert_int_equal(vg_get_uvarint(&p, end, &got), VG_OK);
        assert_true(got == vals[i]);
        assert_ptr_equal(p, end);
        for (size_t cut = 0; cut < b.len; cut++) {
            p = b.p;
            assert_int_equal(vg_get_uvarint(&p, b.p + cut, &got), VG_ECORRUPT);
            assert_ptr_equal(p, b.p); /* unchanged on failure */
        }
    }
    vg_buf_free(&b);
    /* 2^64 (tenth byte 2) and an eleven-byte varint both overflow. */
    const uint8_t over[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00};
    const uint8_t *p = over;
    uint64_t got;
    assert_int_equal(vg_get_uvarint(&p, over + sizeof over, &got), VG_ECORRUPT);
    p = eleven;
    assert_int_equal(vg_get_uvarint(&p, eleven + sizeof eleven, &got), VG_ECORRUPT);
}

static void test_buf_grows_and_keeps_contents(void **state)
{
    (void)state;
    vg_buf_t b = {0};
    for (int i = 0; i < 10000; i++) {
        uint8_t c = (uint8_t)i;
        assert_int_equal(vg_buf_append(&b, &c, 1), VG_OK);
    }
    assert_int_equal(b.len, 10000);
    assert_true(b.cap >= b.len);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.p[i], (uint8_t)i);
    assert_int_equal(vg_buf_reserve(&b, SIZE_MAX), VG_ENOMEM);
    assert_int_equal(b.len, 10000); /* unchanged */
    vg_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.cap, 0);
    assert_int_equal(vg_buf_append(&b, "x", 1), VG_OK); /* usable again */
    vg_buf_free(&b);
}

/* ------------------------------------------------------------- integers --- */

static void fill_patterns(int64_t *v, size_t n, int pattern)
{
    for (size_t i = 0; i < n; i++) {
        switch (pattern) {
        case 0: v[i] = INT64_C(1700000000000000000) + (int64_t)i * 1000000000; break;
        case 1: v[i] = (int64_t)rnd(); break;
        case 2: v[i] = 42; break;
        case 3: v[i] = (i & 1) ? INT64_MAX : INT64_MIN; break;
        case 4: v[i] = INT64_C(1700000000000000000) + (int64_t)i * 1000000 + (int64_t)(rnd() % 1000); break;
        case 5: v[i] = -(int64_t)i * 7; break;
        default: v[i] = (i % 3 == 0) ? 0 : (i % 3 == 1) ? -1 : INT64_MIN; break;
        }
    }
}

static void test_ts_and_i64_round_trip_patterns_and_extremes(void **state)
{
    (void)state;
    int64_t v[300];
    for (int pat = 0; pat < 7; pat++) {
        for (size_t n = 0; n <= 300; n += (n < 5 ? 1 : 37)) {
            fill_patterns(v, n, pat);
            rt_i64(vg_enc_ts, vg_dec_ts, v, n);
            rt_i64(vg_enc_i64, vg_dec_i64, v, n);
        }
    }
    int64_t ext[] = {INT64_MIN, INT64_MAX, 0, INT64_MAX, INT64_MIN, -1, 1, INT64_MIN, INT64_MIN};
    size_t n = sizeof ext / sizeof ext[0];
    rt_i64(vg_enc_ts, vg_dec_ts, ext, n);
    rt_i64(vg_enc_i64, vg_dec_i64, ext, n);
    int64_t one = INT64_MIN;
    assert_int_equal(rt_i64(vg_enc_ts, vg_dec_ts, &one, 1), 10);
    assert_int_equal(rt_i64(vg_enc_i64, vg_dec_i64, &one, 0), 0); /* n = 0: nothing */
}

static void test_u64_round_trips_wrapping_deltas(void **state)
{
    (void)state;
    uint64_t v[200];
    uint64_t ext[] = {0, UINT64_MAX, 0, 1, UINT64_MAX - 1, (uint64_t)1 << 63, 0, UINT64_MAX};
    rt_u64(ext, sizeof ext / sizeof ext[0]);
    for (size_t i = 0; i < 200; i++)
        v[i] = rnd();
    rt_u64(v, 200);
    for (size_t i = 0; i < 200; i++)
        v[i] = UINT64_MAX - i;
    assert_true(rt_u64(v, 200) <= 10 + 199); /* a step of -1 costs a byte */
    rt_u64(v, 1);
    rt_u64(v, 0);
}

static void test_ts_regular_intervals_cost_under_two_bytes(void **state)
{
    (void)state;
    enum { N = 10000 };
    int64_t *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = INT64_C(1764213240000000000) + (int64_t)i * 10 * 1000000000;
    size_t len = rt_i64(vg_enc_ts, vg_dec_ts, v, N);
    assert_true(len < 2 * N);
    assert_true(len <= N + 20); /* one byte per zero delta-of-delta */
    free(v);
}

/* -------------------------------------------------------------- float64 --- */

static void test_f64_round_trips_special_bit_patterns(void **state)
{
    (void)state;
    const uint64_t pats[] = {
        0x7ff8000000000000u, /* quiet NaN */
        0x7ff8000000000001u, /* NaN with payload */
        0xfff8deadbeef0001u, /* negative NaN with payload */
        0x7ff0000000000001u, /* signalling NaN */
        0x7ff0000000000000u, /* +inf */
        0xfff0000000000000u, /* -inf */
        0x8000000000000000u, /* -0.0 */
        0x0000000000000000u, /* +0.0 */
        0x0000000000000001u, /* smallest subnormal */
        0x000fffffffffffffu, /* largest subnormal */
        0x8000000000000001u, /* negative subnormal */
        0x7fefffffffffffffu, /* DBL_MAX */
        0xffefffffffffffffu, /* -DBL_MAX */
        0x0010000000000000u, /* DBL_MIN */
    };
    size_t n = sizeof pats / sizeof pats[0];
    double v[sizeof pats / sizeof pats[0]];
    for (size_t i = 0; i < n; i++)
        v[i] = bits_to_f64(pats[i]);
    assert_true(v[11] == DBL_MAX && v[13] == DBL_MIN);
    rt_f64(v, n, NULL);
    /* Each alone and in pairs with a decimal value (which they must break). */
    for (size_t i = 0; i < n; i++) {
        double pair[2] = {0.5, v[i]};
        int mode;
        rt_f64(&v[i], 1, NULL);
        rt_f64(pair, 2, &mode);
        if (i != 7) /* +0.0 is a fine decimal; the rest are not */
            assert_int_not_equal(mode, MODE_DECIMAL);
    }
}

static void test_f64_short_decimals_choose_decimal_mode(void **state)
{
    (void)state;
    double a[] = {0.1, 0.2, 0.7};
    double b[] = {3.41, 2.5, 10.07, 0.33};
    double c[] = {0.00519, 0.0012, 0.10001};
    double d[] = {-3.41, 0.0, 1e9, -123456.789};
    assert_int_equal(f64_mode(a, 3), MODE_DECIMAL);
    assert_int_equal(f64_mode(b, 4), MODE_DECIMAL);
    assert_int_equal(f64_mode(c, 3), MODE_DECIMAL);
    assert_int_equal(f64_mode(d, 4), MODE_DECIMAL);
    /* The scale (the byte after the mode) is the smallest that fits. */
    vg_buf_t buf = {0};
    assert_int_equal(vg_enc_f64(c, 3, &buf), VG_OK);
    assert_int_equal(buf.p[1], 5);
    vg_buf_free(&buf);

    double e[] = {0.1 + 0.2, 0.5, 0.25};
    double f[] = {M_PI, M_PI, M_E};
    double g[] = {1e-10, 2e-10}; /* needs a scale past 9 */
    assert_int_equal(f64_mode(e, 3), MODE_XOR);
    assert_int_equal(f64_mode(f, 3), MODE_XOR);
    assert_int_not_equal(f64_mode(g, 2), MODE_DECIMAL);
    double big[] = {9007199254740993.0 * 4, 1.5}; /* beyond 2^53 */
    assert_int_not_equal(f64_mode(big, 2), MODE_DECIMAL);
}

static void test_f64_random_bits_fall_back_to_raw_size(void **state)
{
    (void)state;
    double v[500];
    for (size_t i = 0; i < 500; i++)
        v[i] = bits_to_f64(rnd());
    int mode;
    size_t len = rt_f64(v, 500, &mode);
    assert_true(len <= 1 + 500 * 8);
    assert_int_equal(mode, MODE_RAW);
}

static void test_f64_round_trips_many_shapes(void **state)
{
    (void)state;
    double v[1000];
    for (int pat = 0; pat < 8; pat++) {
        for (size_t n = 0; n <= 1000; n += (n < 4 ? 1 : 111)) {
            for (size_t i = 0; i < n; i++) {
                switch (pat) {
                case 0: v[i] = 1.0; break;
                case 1: v[i] = (double)i * 0.25; break;
                case 2: v[i] = (i & 1) ? -1e300 : 1e-300; break;
                case 3: v[i] = sin((double)i) * 1000; break;
                case 4: v[i] = (double)(rnd() % 100000) / 100.0; break;
                case 5: v[i] = bits_to_f64(rnd()); break;
                case 6: v[i] = (i % 7) ? 20.5 : bits_to_f64(0x7ff8000000000000u | (rnd() >> 13)); break;
                default: v[i] = (double)(int64_t)(rnd() >> 12) * ((i & 1) ? 1 : -1); break;
                }
            }
            rt_f64(v, n, NULL);
        }
    }
}

static void test_f64_constant_column_costs_about_a_bit_a_value(void **state)
{
    (void)state;
    double v[8000];
    for (size_t i = 0; i < 8000; i++)
        v[i] = M_PI;
    int mode;
    size_t len = rt_f64(v, 8000, &mode);
    assert_int_equal(mode, MODE_XOR);
    assert_true(len <= 1 + 8 + 8000 / 8 + 1);
}

static void test_f64_two_digit_latencies_cost_under_three_bytes(void **state)
{
    (void)state;
    enum { N = 10000 };
    double *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++)
        v[i] = (double)(50 + rnd() % 3000) / 100.0; /* 0.50 .. 30.49 s */
    int mode;
    size_t len = rt_f64(v, N, &mode);
    assert_int_equal(mode, MODE_DECIMAL);
    assert_true(len < 3 * N);
    for (size_t i = 0; i < N; i++)
        v[i] = (double)(rnd() % 100000) / 1e5; /* cost_usd with 5 digits */
    len = rt_f64(v, N, &mode);
    assert_int_equal(mode, MODE_DECIMAL);
    assert_true(len < 4 * N);
    free(v);
}

/* ---------------------------------------------------------- bool, bitmap --- */

static void test_bool_round_trips_every_length(void **state)
{
    (void)state;
    uint8_t v[130], out[130];
    for (size_t n = 0; n <= 130; n++) {
        for (size_t i = 0; i < n; i++)
            v[i] = (uint8_t)(rnd() & 1);
        vg_buf_t b = {0};
        assert_int_equal(vg_enc_bool(v, n, &b), VG_OK);
        enc_t e = take(&b);
        assert_int_equal(e.len, (n + 7) / 8);
        memset(out, 0xAA, sizeof out);
        assert_int_equal(vg_dec_bool(e.p, e.len, n, out), VG_OK);
        if (n)
            assert_memory_equal(out, v, n);
        if (n < 130)
            assert_int_equal(out[n], 0xAA); /* nothing written past n */
        check_prefix_and_suffix_rejected(&e, dec_bool_v, n, 1);
        free(e.p);
    }
    /* Any non-zero byte is true. */
    uint8_t t[3] = {0, 7, 255}, o[3];
    vg_buf_t b = {0};
    assert_int_equal(vg_enc_bool(t, 3, &b), VG_OK);
    assert_int_equal(b.p[0], 6);
    assert_int_equal(vg_dec_bool(b.p, b.len, 3, o), VG_OK);
    assert_int_equal(o[0], 0);
    assert_int_equal(o[1], 1);
    assert_int_equal(o[2], 1);
    vg_buf_free(&b);
}

static void test_bitmap_round_trips_and_clears_bits_past_n(void **state)
{
    (void)state;
    uint8_t bits[9], out[9];
    for (size_t n = 0; n <= 72; n++) {
        for (size_t i = 0; i < 9; i++)
            bits[i] = (uint8_t)rnd();
        vg_buf_t b = {0};
        assert_int_equal(vg_enc_bitmap(bits, n, &b), VG_OK);
        enc_t e = take(&b);
        size_t nb = (n + 7) / 8;
        assert_int_equal(e.len, nb);
        memset(out, 0xFF, sizeof out);
        assert_int_equal(vg_dec_bitmap(e.p, e.len, n, out), VG_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal((out[i / 8] >> (i % 8)) & 1, (bits[i / 8] >> (i % 8)) & 1);
        for (size_t i = n; i < nb * 8; i++)
            assert_int_equal((out[i / 8] >> (i % 8)) & 1, 0);
        if (nb < 9)
            assert_int_equal(out[nb], 0xFF); /* the byte after is untouched */
        /* A foreign encoding with junk padding still decodes clean. */
        if (n % 8) {
            e.p[nb - 1] |= 0x80;
            assert_int_equal(vg_dec_bitmap(e.p, e.len, n, out), VG_OK);
            assert_int_equal(out[nb - 1] >> (n % 8), 0);
        }
        check_prefix_and_suffix_rejected(&e, dec_bitmap_v, n, 1);
        free(e.p);
    }
}

/* -------------------------------------------------------------- strings --- */

/* Round trip n strings; returns the mode byte (or -1 for n = 0). */
static int rt_str(const char *const *ptrs, const uint32_t *lens, size_t n)
{
    vg_buf_t b = {0};
    assert_int_equal(vg_enc_str(ptrs, lens, n, &b), VG_OK);
    enc_t e = take(&b);
    int mode = e.len ? e.p[0] : -1;
    char *data = NULL;
    uint32_t *offs = malloc((n + 1) * sizeof *offs);
    assert_int_equal(vg_dec_str(e.p, e.len, n, &data, offs), VG_OK);
    assert_non_null(data);
    assert_int_equal(offs[0], 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(offs[i + 1] - offs[i], lens[i]);
        if (lens[i])
            assert_memory_equal(data + offs[i], ptrs[i], lens[i]);
    }
    vg_free(data);
    if (e.len < 200) {
        for (size_t cut = 0; cut < e.len; cut++) {
            uint8_t *q = heap_copy(e.p, cut);
            data = NULL;
            assert_int_equal(vg_dec_str(q, cut, n, &data, offs), VG_ECORRUPT);
            assert_null(data); /* nothing handed out on failure */
            free(q);
        }
    }
    free(offs);
    free(e.p);
    return mode;
}

static void test_str_round_trips_plain_values(void **state)
{
    (void)state;
    const char *p[] = {"", "a", "", "hello world", "\0\x01\xff binary", "é ünïcode", ""};
    uint32_t l[] = {0, 1, 0, 11, 11, 12, 0};
    assert_int_equal(rt_str(p, l, 7), 0);
    assert_int_equal(rt_str(p, l, 1), 0);
    assert_int_equal(rt_str(p, l, 0), -1);
    const char *nul[3] = {NULL, NULL, NULL}; /* empty values need no pointer */
    uint32_t zl[3] = {0, 0, 0};
    rt_str(nul, zl, 3);
}

static void test_str_round_trips_a_mebibyte_value(void **state)
{
    (void)state;
    enum { BIG = 1 << 20 };
    char *big = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)rnd();
    const char *p[3] = {"x", big, ""};
    uint32_t l[3] = {1, BIG, 0};
    assert_int_equal(rt_str(p, l, 3), 0);
    const char *q[6] = {big, big, big, big, big, "y"}; /* repeated: dictionary */
    uint32_t ql[6] = {BIG, BIG, BIG, BIG, BIG, 1};
    assert_int_equal(rt_str(q, ql, 6), 1);
    free(big);
}

static void test_str_repeated_values_use_a_dictionary(void **state)
{
    (void)state;
    enum { N = 5000 };
    const char *names[] = {"gpt-5", "claude-opus", "llama-70b", "", "mistral"};
    const char **p = malloc(N * sizeof *p);
    uint32_t *l = malloc(N * sizeof *l);
    for (size_t i = 0; i < N; i++) {
        p[i] = names[rnd() % 5];
        l[i] = (uint32_t)strlen(p[i]);
    }
    assert_int_equal(rt_str(p, l, N), 1);
    vg_buf_t b = {0};
    assert_int_equal(vg_enc_str(p, l, N, &b), VG_OK);
    assert_true(b.len < N / 2 + 64); /* 3-bit ids */
    vg_buf_free(&b);
    for (size_t i = 0; i < N; i++) { /* one value: zero-bit ids */
        p[i] = "constant";
        l[i] = 8;
    }
    assert_int_equal(rt_str(p, l, N), 1);
    assert_int_equal(vg_enc_str(p, l, N, &b), VG_OK);
    assert_true(b.len < 16);
    vg_buf_free(&b);
    free(p);
    free(l);
}

static void test_str_mostly_distinct_values_stay_plain(void **state)
{
    (void)state;
    enum { N = 1000 };
    char (*s)[16] = malloc(N * sizeof *s);
    const char **p = malloc(N * sizeof *p);
    uint32_t *l = malloc(N * sizeof *l);
    for (size_t i = 0; i < N; i++) {
        /* 501 distinct values out of 1000: not < n/2, so plain. */
        l[i] = (uint32_t)snprintf(s[i], sizeof s[i], "req-%zu", i % 501);
        p[i] = s[i];
    }
    assert_int_equal(rt_str(p, l, N), 0);
    for (size_t i = 0; i < N; i++) {
        l[i] = (uint32_t)snprintf(s[i], sizeof s[i], "req-%zu", i % 499);
        p[i] = s[i];
    }
    assert_int_equal(rt_str(p, l, N), 1);
    free(s);
    free(p);
    free(l);
}

/* ------------------------------------------------------------------ fuzz --- */

/* Run every decoder on one input with exact-size outputs; any status other
 * than OK/CORRUPT is a bug, and a successful string decode must be sane. */
static void decode_all(const uint8_t *in, size_t len, size_t n)
{
    uint8_t *p = heap_copy(in, len);
    int64_t *i64 = malloc((n ? n : 1) * 8);
    uint8_t *bytes = malloc(n ? n : 1);
    int rc;
    rc = vg_dec_ts(p, len, n, i64);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    rc = vg_dec_i64(p, len, n, i64);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    rc = vg_dec_u64(p, len, n, (uint64_t *)i64);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    rc = vg_dec_f64(p, len, n, (double *)i64);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    rc = vg_dec_bool(p, len, n, bytes);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    rc = vg_dec_bitmap(p, len, n, bytes);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    uint32_t *offs = malloc((n + 1) * sizeof *offs);
    char *data = NULL;
    rc = vg_dec_str(p, len, n, &data, offs);
    assert_true(rc == VG_OK || rc == VG_ECORRUPT);
    if (rc == VG_OK) {
        for (size_t i = 0; i < n; i++)
            assert_true(offs[i] <= offs[i + 1]);
        volatile char last = data[offs[n] ? offs[n] - 1 : 0]; /* ASan checks the size */
        (void)last;
        vg_free(data);
    }
    free(offs);
    free(bytes);
    free(i64);
    free(p);
}

/* A valid encoding of a random column of n values of a random type. */
static enc_t random_valid_encoding(size_t n)
{
    vg_buf_t b = {0};
    int64_t *v = malloc((n ? n : 1) * 8);
    uint32_t *lens = malloc((n ? n : 1) * sizeof *lens);
    const char **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
    static const char words[] = "alpha beta gamma delta epsilon";
    int kind = (int)(rnd() % 6);
    for (size_t i = 0; i < n; i++) {
        v[i] = (int64_t)(rnd() % 4 == 0 ? rnd() : rnd() % 1000);
        lens[i] = (uint32_t)(rnd() % (kind == 5 ? 3 : 12));
        ptrs[i] = words + (rnd() % 4) * 2;
    }
    switch (kind) {
    case 0: assert_int_equal(vg_enc_ts(v, n, &b), VG_OK); break;
    case 1: assert_int_equal(vg_enc_i64(v, n, &b), VG_OK); break;
    case 2:
        for (size_t i = 0; i < n; i++)
            ((double *)v)[i] = (rnd() & 1) ? (double)(v[i] % 1000) / 100 : (double)v[i] * 1.1;
        assert_int_equal(vg_enc_f64((double *)v, n, &b), VG_OK);
        break;
    case 3: {
        /* decimal mode alone, to reach its decoder with mutations */
        for (size_t i = 0; i < n; i++)
            ((double *)v)[i] = (double)(v[i] % 1000) / 100;
        assert_int_equal(vg_enc_f64((double *)v, n, &b), VG_OK);
        break;
    }
    case 4: assert_int_equal(vg_enc_bool((uint8_t *)v, n, &b), VG_OK); break;
    default: assert_int_equal(vg_enc_str(ptrs, lens, n, &b), VG_OK); break;
    }
    free(v);
    free(lens);
    free(ptrs);
    return take(&b);
}

static void test_decoders_survive_random_and_mutated_input(void **state)
{
    (void)state;
    uint8_t buf[512];
    for (int iter = 0; iter < 6000; iter++) {
        size_t n = (size_t)(rnd() % 70);
        /* Random bytes of random length. */
        size_t len = (size_t)(rnd() % sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        if (iter % 3 == 0 && len) /* favour the mode bytes the decoders know */
            buf[0] = (uint8_t)(rnd() % 3);
        decode_all(buf, len, n);
        /* A valid encoding, then mutated: truncated, flipped, grown. */
        enc_t e = random_valid_encoding(n);
        decode_all(e.p, e.len, n);
        decode_all(e.p, e.len, n + 1);
        if (n)
            decode_all(e.p, e.len, n - 1);
        if (e.len) {
            decode_all(e.p, (size_t)(rnd() % e.len), n);
            uint8_t *m = heap_copy(e.p, e.len);
            for (int f = 0; f < 3; f++) {
                size_t at = (size_t)(rnd() % e.len);
                m[at] ^= (uint8_t)(1u << (rnd() % 8));
                decode_all(m, e.len, n);
            }
            m[rnd() % e.len] = (uint8_t)rnd();
            decode_all(m, e.len, n);
            free(m);
        }
        free(e.p);
    }
}

static void test_dictionary_with_huge_counts_is_rejected_cheaply(void **state)
{
    (void)state;
    /* DICT, k = 2^62, ...: must fail before allocating for k entries. */
    const uint8_t a[] = {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 1, 'x', 0};
    char *data = NULL;
    uint32_t offs[5];
    assert_int_equal(vg_dec_str(a, sizeof a, 4, &data, offs), VG_ECORRUPT);
    /* PLAIN with a length past the input. */
    const uint8_t b[] = {0, 0x7f, 'a'};
    assert_int_equal(vg_dec_str(b, sizeof b, 1, &data, offs), VG_ECORRUPT);
    /* PLAIN lengths 10 and 2^64 - 5: their sum wraps to the 5 bytes present. */
    const uint8_t w[] = {0, 10, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                         'a', 'b', 'c', 'd', 'e'};
    assert_int_equal(vg_dec_str(w, sizeof w, 2, &data, offs), VG_ECORRUPT);
    /* XOR with lead + len > 64 (lead 63, len 64). */
    uint8_t h[1 + 8 + 10] = {2};
    h[9] = 0x3 | (63 << 2);
    h[10] = 63;
    assert_int_equal(vg_dec_f64(h, sizeof h, 2, (double[2]){0}), VG_ECORRUPT);
    /* XOR reusing a window before any was set. */
    uint8_t c[1 + 8 + 1] = {2};
    c[9] = 0x1; /* control bits 1,0 */
    double out[2];
    assert_int_equal(vg_dec_f64(c, sizeof c, 2, out), VG_ECORRUPT);
    /* DECIMAL with scale 10. */
    const uint8_t d[] = {1, 10, 0};
    assert_int_equal(vg_dec_f64(d, sizeof d, 1, out), VG_ECORRUPT);
    /* An unknown mode. */
    const uint8_t e[] = {7, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vg_dec_f64(e, sizeof e, 1, out), VG_ECORRUPT);
    assert_int_equal(vg_dec_str(e, sizeof e, 1, &data, offs), VG_ECORRUPT);
    assert_null(data);
}

static void test_allocation_failures_return_enomem_and_leak_nothing(void **state)
{
    (void)state;
    enum { N = 64 };
    const char *names[] = {"a", "bb", "ccc"};
    const char *p[N];
    uint32_t l[N], offs[N + 1];
    for (size_t i = 0; i < N; i++) {
        p[i] = names[i % 3];
        l[i] = (uint32_t)strlen(p[i]);
    }
    vg_buf_t good = {0};
    assert_int_equal(vg_enc_str(p, l, N, &good), VG_OK);
    for (unsigned long k = 1; k <= 6; k++) {
        vg_buf_t b = {0};
        vg_alloc_fail_after(k, 0);
        int rc = vg_enc_str(p, l, N, &b);
        vg_alloc_fail_after(0, 0);
        assert_true(rc == VG_OK || rc == VG_ENOMEM);
        if (rc == VG_OK)
            assert_memory_equal(b.p, good.p, good.len);
        vg_buf_free(&b);
        char *data = NULL;
        vg_alloc_fail_after(k, 0);
        rc = vg_dec_str(good.p, good.len, N, &data, offs);
        vg_alloc_fail_after(0, 0);
        assert_true(rc == VG_OK || (rc == VG_ENOMEM && data == NULL));
        vg_free(data);
    }
    vg_buf_free(&good);
    double v[N];
    for (size_t i = 0; i < N; i++)
        v[i] = 0.25 * (double)i;
    vg_buf_t b = {0};
    vg_alloc_fail_after(1, 1);
    assert_int_equal(vg_enc_f64(v, N, &b), VG_ENOMEM);
    vg_alloc_fail_after(0, 0);
    assert_int_equal(b.len, 0);
    vg_buf_free(&b);
}

static void test_colvec_free_releases_everything_and_zeroes(void **state)
{
    (void)state;
    vg_colvec_t c = {0};
    c.type = VG_TYPE_STRING;
    c.n = 3;
    c.valid = vg_malloc(1);
    c.sdata = vg_malloc(10);
    c.soffs = vg_malloc(16);
    vg_colvec_free(&c); /* LSan reports a leak if any is missed */
    assert_null(c.valid);
    assert_null(c.sdata);
    assert_int_equal(c.n, 0);
    vg_colvec_free(&c);
    c.v.f = vg_malloc(24);
    vg_colvec_free(&c);
    vg_colvec_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uvarint_reads_every_length_and_rejects_overflow),
        cmocka_unit_test(test_buf_grows_and_keeps_contents),
        cmocka_unit_test(test_ts_and_i64_round_trip_patterns_and_extremes),
        cmocka_unit_test(test_u64_round_trips_wrapping_deltas),
        cmocka_unit_test(test_ts_regular_intervals_cost_under_two_bytes),
        cmocka_unit_test(test_f64_round_trips_special_bit_patterns),
        cmocka_unit_test(test_f64_short_decimals_choose_decimal_mode),
        cmocka_unit_test(test_f64_random_bits_fall_back_to_raw_size),
        cmocka_unit_test(test_f64_round_trips_many_shapes),
        cmocka_unit_test(test_f64_constant_column_costs_about_a_bit_a_value),
        cmocka_unit_test(test_f64_two_digit_latencies_cost_under_three_bytes),
        cmocka_unit_test(test_bool_round_trips_every_length),
        cmocka_unit_test(test_bitmap_round_trips_and_clears_bits_past_n),
        cmocka_unit_test(test_str_round_trips_plain_values),
        cmocka_unit_test(test_str_round_trips_a_mebibyte_value),
        cmocka_unit_test(test_str_repeated_values_use_a_dictionary),
        cmocka_unit_test(test_str_mostly_distinct_values_stay_plain),
        cmocka_unit_test(test_decoders_survive_random_and_mutated_input),
        cmocka_unit_test(test_dictionary_with_huge_counts_is_rejected_cheaply),
        cmocka_unit_test(test_allocation_failures_return_enomem_and_leak_nothing),
        cmocka_unit_test(test_colvec_free_releases_everything_and_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
