/*
 * quantile.c: sorting, exact quantiles, moments and baseline helpers over
 * arrays of doubles (definitions in stats.h).
 *
 * Sorting and selection work on "keys": the IEEE bit pattern of a double
 * mapped to a uint64 whose unsigned order is the numeric order (flip every
 * bit of a negative, the sign bit of a positive). Keys make the radix sort
 * possible, and make every comparison a total order, so a stray NaN can
 * never send a partition loop out of bounds.
 *
 * Doubles and keys share storage: every access goes through memcpy (one
 * mov after optimisation) so that no double is read through a uint64_t
 * lvalue.
 */
#include <math.h>
#include <string.h>

#include "stats.h"
#include "vigil/vg_alloc.h"

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1)
#define SMALL_SORT 512 /* below this, a quicksort of keys beats 6 histograms */
#define TINY_SORT 24   /* insertion sort below this */

static inline uint64_t to_key(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    uint64_t mask = (uint64_t)-(int64_t)(u >> 63) | UINT64_C(0x8000000000000000);
    return u ^ mask;
}

static inline double from_key(uint64_t k)
{
    uint64_t mask = ((k >> 63) - 1) | UINT64_C(0x8000000000000000);
    uint64_t u = k ^ mask;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t load_key(const double *p)
{
    uint64_t k;
    memcpy(&k, p, sizeof k);
    return k;
}

static inline void store_key(double *p, uint64_t k)
{
    memcpy(p, &k, sizeof k);
}

/* ---- small sorts on keys stored in place ---------------------------- */

static void insertion_sort_keys(double *x, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = load_key(&x[i]);
        size_t j = i;
        while (j > 0 && load_key(&x[j - 1]) > v) {
            store_key(&x[j], load_key(&x[j - 1]));
            j--;
        }
        store_key(&x[j], v);
    }
}

static void swap_keys(double *x, size_t i, size_t j)
{
    double t = x[i];
    x[i] = x[j];
    x[j] = t;
}

/* Sift-down heapsort: the fallback that bounds quicksort at O(n log n). */
static void heap_sort_keys(double *x, size_t n)
{
    for (size_t start = n / 2; start-- > 0;) {
        for (size_t r = start; 2 * r + 1 < n;) {
            size_t c = 2 * r + 1;
            if (c + 1 < n && load_key(&x[c + 1]) > load_key(&x[c]))
                c++;
            if (load_key(&x[r]) >= load_key(&x[c]))
                break;
            swap_keys(x, r, c);
            r = c;
        }
    }
    for (size_t end = n; end-- > 1;) {
        swap_keys(x, 0, end);
        for (size_t r = 0; 2 * r + 1 < end;) {
            size_t c = 2 * r + 1;
            if (c + 1 < end && load_key(&x[c + 1]) > load_key(&x[c]))
                c++;
            if (load_key(&x[r]) >= load_key(&x[c]))
                break;
            swap_keys(x, r, c);
            r = c;
        }
    }
}

/* Introsort on keys: median-of-3 Hoare partition, heapsort past depth. */
static void intro_sort_keys(double *x, size_t n, int depth)
{
    while (n > TINY_SORT) {
        if (depth-- == 0) {
            heap_sort_keys(x, n);
            return;
        }
        size_t mid = n / 2;
        if (load_key(&x[mid]) < load_key(&x[0]))
            swap_keys(x, mid, 0);
        if (load_key(&x[n - 1]) < load_key(&x[0]))
            swap_keys(x, n - 1, 0);
        if (load_key(&x[n - 1]) < load_key(&x[mid]))
            swap_keys(x, n - 1, mid);
        uint64_t pivot = load_key(&x[mid]);
        /* x[0] <= pivot <= x[n-1] act as sentinels for the two scans. */
        size_t i = 0, j = n - 1;
        for (;;) {
            do
                i++;
            while (load_key(&x[i]) < pivot);
            do
                j--;
            while (load_key(&x[j]) > pivot);
            if (i >= j)
                break;
            swap_keys(x, i, j);
        }
        /* [0, j] <= pivot <= [j+1, n): recurse on the smaller side. */
        size_t left = j + 1;
        if (left < n - left) {
            intro_sort_keys(x, left, depth);
            x += left;
            n -= left;
        } else {
            intro_sort_keys(x + left, n - left, depth);
            n = left;
        }
    }
    insertion_sort_keys(x, n);
}

static int log2_floor(size_t n)
{
    int d = 0;
    while (n >>= 1)
        d++;
    return d;
}

static void small_sort(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_key(&x[i], to_key(x[i]));
    intro_sort_keys(x, n, 2 * log2_floor(n) + 2);
    for (size_t i = 0; i < n; i++)
        x[i] = from_key(load_key(&x[i]));
}

/* ---- radix sort ------------------------------------------------------ */

/*
 * The sort is MSD then LSD: one out-of-cache pass scatters the keys into
 * 2048 buckets by the top 11 bits of k - min(k) (order-preserving, and the
 * top is the highest bit of max - min, so the buckets span the data's
 * range); each bucket, now small enough for the cache, is finished by an
 * LSD sort of its remaining low bits. An LSD pass whose digit is the same
 * for every key is skipped.
 */
#define LSD_MAX_PASSES 6 /* ceil(64 / 11) */
#define MSD_MIN 65536    /* below this the whole array is one LSD sort */

/* Scatter src into dst by digit ((k - lo) >> shift), hist turned into offsets. */
static void radix_scatter(const double *src, double *dst, size_t n, uint32_t *hist, uint64_t lo,
                          int shift)
{
    uint32_t sum = 0;
    for (size_t d = 0; d < RADIX_SIZE; d++) {
        uint32_t c = hist[d];
        hist[d] = sum;
        sum += c;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = load_key(&src[i]);
        store_key(&dst[hist[((k - lo) >> shift) & RADIX_MASK]++], k);
    }
}

/*
 * Sort the keys of a[0..n) by the low `bits` bits of k - lo (higher bits
 * equal), b as scratch; the result is left in a.
 */
static void lsd_sort(double *a, double *b, size_t n, uint64_t lo, int bits)
{
    if (n <= TINY_SORT) {
        insertion_sort_keys(a, n);
        return;
    }
    int passes = (bits + RADIX_BITS - 1) / RADIX_BITS;
    uint32_t hist[LSD_MAX_PASSES][RADIX_SIZE]; /* 48 KiB of stack */
    memset(hist, 0, (size_t)passes * sizeof hist[0]);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = load_key(&a[i]) - lo;
        for (int p = 0; p < passes; p++)
            hist[p][(k >> (p * RADIX_BITS)) & RADIX_MASK]++;
    }
    uint64_t first = load_key(&a[0]) - lo;
    double *src = a, *dst = b;
    for (int p = 0; p < passes; p++) {
        int shift = p * RADIX_BITS;
        if (hist[p][(first >> shift) & RADIX_MASK] == n)
            continue; /* every key has this digit: the pass would copy */
        radix_scatter(src, dst, n, hist[p], lo, shift);
        double *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

void vg_stat_sort_buf(double *x, double *tmp, size_t n)
{
    if (n < SMALL_SORT || n > UINT32_MAX) {
        small_sort(x, n); /* beyond 2^32 values: O(n log n) without scratch */
        return;
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = to_key(x[i]);
        store_key(&x[i], k);
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
    }
    int bits = lo == hi ? 0 : 64 - __builtin_clzll(hi - lo);
    if (n < MSD_MIN || bits <= (int)RADIX_BITS) {
        lsd_sort(x, tmp, n, lo, bits);
    } else {
        int shift = bits - (int)RADIX_BITS;
        uint32_t hist[RADIX_SIZE], start[RADIX_SIZE];
        memset(hist, 0, sizeof hist);
        for (size_t i = 0; i < n; i++)
            hist[((load_key(&x[i]) - lo) >> shift) & RADIX_MASK]++;
        radix_scatter(x, tmp, n, memcpy(start, hist, sizeof hist), lo, shift);
        size_t off = 0;
        for (size_t d = 0; d < RADIX_SIZE; off += hist[d], d++) {
            lsd_sort(tmp + off, x + off, hist[d], lo, shift);
            memcpy(x + off, tmp + off, hist[d] * sizeof *x);
        }
    }
    for (size_t i = 0; i < n; i++)
        x[i] = from_key(load_key(&x[i]));
}

int vg_stat_sort(double *x, size_t n, vg_error_t *err)
{
    if (n < SMALL_SORT) {
        small_sort(x, n);
        return VG_OK;
    }
    double *tmp = vg_malloc(n * sizeof *tmp);
    if (!tmp)
        return vg_error_set(err, VG_ENOMEM, "sorting %zu values: no memory for the scratch", n);
    vg_stat_sort_buf(x, tmp, n);
    vg_free(tmp);
    return VG_OK;
}

/* ---- quantiles ------------------------------------------------------- */

/* numpy's lerp: exact at both ends (t = 0 gives a, t = 1 gives b). */
static double lerp_ranks(double a, double b, double t)
{
    if (t == 0 || a == b)
        return a;
    double d = b - a;
    if (!isfinite(d))
        return a * (1 - t) + b * t;
    return t < 0.5 ? a + d * t : b - d * (1 - t);
}

/* h = (n-1)q split into rank i and fraction t; q already in (0, 1). */
static void virtual_index(size_t n, double q, size_t *i, double *t)
{
    double h = (double)(n - 1) * q;
    double fl = floor(h);
    *i = (size_t)fl;
    *t = h - fl;
    if (*i >= n - 1) {
        *i = n - 1;
        *t = 0;
    }
}

double vg_stat_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    size_t i;
    double t;
    virtual_index(n, q, &i, &t);
    if (t == 0)
        return sorted[i];
    return lerp_ranks(sorted[i], sorted[i + 1], t);
}

static void key_range(const double *x, size_t n, uint64_t *lo, uint64_t *hi)
{
    uint64_t mn = UINT64_MAX, mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = to_key(x[i]);
        mn = k < mn ? k : mn;
        mx = k > mx ? k : mx;
    }
    *lo = mn;
    *hi = mx;
}

/* The bucket of hist[0..RADIX_SIZE) holding rank r; r becomes the rank inside. */
static unsigned pick_bucket(const uint32_t *hist, size_t *r)
{
    unsigned d = 0;
    while (*r >= hist[d]) {
        *r -= hist[d];
        d++;
    }
    return d;
}

/* The first non-empty bucket after d, or RADIX_SIZE (matches no digit). */
static unsigned next_bucket(const uint32_t *hist, unsigned d)
{
    while (++d < RADIX_SIZE && hist[d] == 0)
        ;
    return d;
}

/*
 * One level of radix selection over src[0..n) (doubles when from_x, keys
 * otherwise) with digits ((k - lo) >> shift): keeps the keys of the bucket
 * holding rank *r in dst (dst may be src), returns how many. When the next
 * rank falls outside that bucket (*want_next), *next receives the smallest
 * key of the next non-empty bucket, found in the same pass.
 */
static size_t select_level(const double *src, size_t n, int from_x, double *dst, uint64_t lo,
                           int shift, size_t *r, int *want_next, uint64_t *next)
{
    uint32_t hist[RADIX_SIZE];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = from_x ? to_key(src[i]) : load_key(&src[i]);
        hist[((k - lo) >> shift) & RADIX_MASK]++;
    }
    unsigned d = pick_bucket(hist, r), d2 = RADIX_SIZE;
    if (*want_next && *r + 1 == hist[d]) {
        d2 = next_bucket(hist, d);
        *want_next = 0;
    }
    /* Branch-free: store every key, advance only on a match. */
    size_t m = 0;
    uint64_t best = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = from_x ? to_key(src[i]) : load_key(&src[i]);
        unsigned dg = ((k - lo) >> shift) & RADIX_MASK;
        store_key(&dst[m], k);
        m += dg == d;
        uint64_t cand = dg == d2 ? k : UINT64_MAX;
        best = cand < best ? cand : best;
    }
    if (d2 < RADIX_SIZE)
        *next = best;
    return m;
}

/*
 * The key of rank `rank` (0-based) among x[0..n), n <= UINT32_MAX, and
 * when want_next, the key of rank + 1 in *next (rank + 1 < n). Level one
 * reads x and keeps the chosen bucket's keys in scratch; later levels
 * compact scratch in place. Digits are cut from k - min(k) (order-
 * preserving), the first at the highest bit of max - min, so the first
 * level's 2048 buckets span exactly the data's range.
 */
static uint64_t select_key(const double *x, size_t n, size_t rank, double *scratch, int want_next,
                           uint64_t *next)
{
    uint64_t lo, hi;
    key_range(x, n, &lo, &hi);
    if (lo == hi) {
        *next = lo;
        return lo;
    }
    int top = 63 - __builtin_clzll(hi - lo);
    int shift = top + 1 - (int)RADIX_BITS > 0 ? top + 1 - (int)RADIX_BITS : 0;
    size_t r = rank;
    size_t m = select_level(x, n, 1, scratch, lo, shift, &r, &want_next, next);
    while (shift > 0 && m > 1) {
        shift = shift > (int)RADIX_BITS ? shift - (int)RADIX_BITS : 0;
        m = select_level(scratch, m, 0, scratch, lo, shift, &r, &want_next, next);
    }
    /* Equal keys share every digit: the m survivors are all equal, and a
     * next rank never split off lies among them. */
    if (want_next)
        *next = load_key(&scratch[0]);
    return load_key(&scratch[0]);
}

double vg_stat_quantile_select(const double *x, size_t n, double q, double *scratch)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (n > UINT32_MAX) { /* the counters are 32-bit: sort the copy instead */
        memcpy(scratch, x, n * sizeof *x);
        small_sort(scratch, n);
        return vg_stat_quantile_sorted(scratch, n, q);
    }
    q = q < 0 ? 0 : (q > 1 ? 1 : q);
    size_t i = 0;
    double t = 0;
    if (q > 0 && q < 1)
        virtual_index(n, q, &i, &t);
    else if (q >= 1)
        i = n - 1;
    uint64_t next = 0;
    double a = from_key(select_key(x, n, i, scratch, t != 0, &next));
    if (t == 0)
        return a;
    return lerp_ranks(a, from_key(next), t);
}

/* ---- moments and baselines ------------------------------------------ */

/* Neumaier's compensated sum: s + c carries the rounding errors of s. */
typedef struct {
    double s, c;
} ksum;

static inline void ksum_add(ksum *k, double v)
{
    double t = k->s + v;
    if (fabs(k->s) >= fabs(v))
        k->c += (k->s - t) + v;
    else
        k->c += (v - t) + k->s;
    k->s = t;
}

/* Mean and count of the values of x[0..n) that are not NaN. */
static double mean_skip_nan(const double *x, size_t n, size_t *count)
{
    ksum k = {0, 0};
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(x[i])) {
            ksum_add(&k, x[i]);
            c++;
        }
    }
    *count = c;
    return c ? (k.s + k.c) / (double)c : NAN;
}

/*
 * Sample variance around mean m of the non-NaN values (c of them), with
 * the corrected two-pass formula: the compensated sum of (x - m) removes
 * what rounding left in m.
 */
static double var_skip_nan(const double *x, size_t n, double m, size_t c)
{
    ksum sq = {0, 0}, dev = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (!isnan(x[i])) {
            double d = x[i] - m;
            ksum_add(&dev, d);
            ksum_add(&sq, d * d);
        }
    }
    double e = dev.s + dev.c;
    double v = ((sq.s + sq.c) - e * e / (double)c) / (double)(c - 1);
    return v < 0 ? 0 : v;
}

double vg_stat_mean(const double *x, size_t n)
{
    size_t c;
    return mean_skip_nan(x, n, &c);
}

double vg_stat_stddev(const double *x, size_t n)
{
    size_t c;
    double m = mean_skip_nan(x, n, &c);
    if (c < 2)
        return NAN;
    return sqrt(var_skip_nan(x, n, m, c));
}

double vg_stat_median_skip_null(double *v, size_t k)
{
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (!isnan(v[i])) {
            double t = v[m];
            v[m++] = v[i];
            v[i] = t;
        }
    }
    if (m == 0)
        return NAN;
    small_sort(v, m);
    if (m % 2)
        return v[m / 2];
    return 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

double vg_stat_zscore(double cur, const double *hist, size_t k)
{
    size_t c;
    double m = mean_skip_nan(hist, k, &c);
    if (isnan(cur) || c < 2)
        return NAN;
    double sd = sqrt(var_skip_nan(hist, k, m, c));
    if (sd == 0)
        return NAN;
    return (cur - m) / sd;
}

int vg_stat_histogram(const double *x, size_t n, double lo, double hi, uint64_t *counts,
                      size_t bins, vg_error_t *err)
{
    if (bins == 0 || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return vg_error_set(err, VG_EINVAL, "histogram: need bins > 0 and a finite range lo <= hi"
                                            " (got %zu bins over [%g, %g])", bins, lo, hi);
    if (lo == hi) {
        lo -= 0.5;
        hi += 0.5;
    }
    memset(counts, 0, bins * sizeof *counts);
    double step = (hi - lo) / (double)bins, norm = (double)bins / (hi - lo);
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!(v >= lo && v <= hi))
            continue;
        size_t j = (size_t)((v - lo) * norm);
        if (j >= bins)
            j = bins - 1;
        /* The multiply can land one bin off an edge; the edges decide. */
        if (j > 0 && v < (double)j * step + lo)
            j--;
        else if (j + 1 < bins && v >= (double)(j + 1) * step + lo)
            j++;
        counts[j]++;
    }
    return VG_OK;
}
