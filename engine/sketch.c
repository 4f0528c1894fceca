/*
 * sketch.c: the DDSketch of sketch.h.
 *
 * Invariants:
 *  - count == zeros + the sum of every bin of both stores (NaN is never
 *    counted); min/max are the exact extremes of what was added (min = +inf,
 *    max = -inf while empty).
 *  - A store covers bins lo .. lo + n - 1 densely (edge bins may be zero),
 *    n <= cap, and bins[n .. cap) are zero so growing right needs no clear.
 *  - A value v > 0 lands in bin ceil(ln v / ln gamma): with |v| >= 1e-9 and
 *    |v| <= DBL_MAX, indexes lie in [-1037, 35499], so a store never spans
 *    more than ~36,600 bins (~290 KiB), even before the decode cap.
 *
 * Encoding: count, zeros (varints), min and max (8 raw bytes each, exact
 * bits), then per store (positive, negative): nbins (varint); when non-zero,
 * zz(lo) and nbins counts (varints), zero edge bins trimmed.
 */
#include "sketch.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

#define STORE_MAX_BINS (1u << 16) /* decode cap: above any span the bounds allow */
#define STORE_MIN_CAP 64u

typedef struct mapping {
    double inv_ln_gamma; /* 1 / ln gamma */
    double ln_gamma;
    double ln_mid;       /* ln(2 / (gamma + 1)): bin i reports gamma^i * 2/(gamma+1) */
    int32_t max_index;   /* the bin of DBL_MAX, where infinities go */
    /* Every store stays inside [index_lo, index_hi]: the bins of MIN_ABS and
     * DBL_MAX with a margin of two for another libm's rounding. */
    int32_t index_lo, index_hi;
} mapping_t;

static mapping_t map;
static int map_ready;

static void mapping_init(void)
{
    double gamma = (1 + VG_SKETCH_ALPHA) / (1 - VG_SKETCH_ALPHA);
    mapping_t m;
    m.ln_gamma = log(gamma);
    m.inv_ln_gamma = 1 / m.ln_gamma;
    m.ln_mid = log(2 / (gamma + 1));
    m.max_index = (int32_t)ceil(log(DBL_MAX) * m.inv_ln_gamma);
    m.index_lo = (int32_t)ceil(log(VG_SKETCH_MIN_ABS) * m.inv_ln_gamma) - 2;
    m.index_hi = m.max_index + 2;
    map = m;
    __atomic_store_n(&map_ready, 1, __ATOMIC_RELEASE);
}

static inline const mapping_t *mapping(void)
{
    if (!__atomic_load_n(&map_ready, __ATOMIC_ACQUIRE))
        mapping_init(); /* idempotent: racing initialisers store the same values */
    return &map;
}

/* The bin of a magnitude a >= VG_SKETCH_MIN_ABS (infinity included). */
static inline int32_t bin_index(const mapping_t *m, double a)
{
    if (a > DBL_MAX)
        return m->max_index;
    return (int32_t)ceil(log(a) * m->inv_ln_gamma);
}

static inline double bin_value(const mapping_t *m, int32_t i)
{
    return exp((double)i * m->ln_gamma + m->ln_mid);
}

/* ---------------------------------------------------------------- store --- */

static void store_free(vg_sketch_store_t *st)
{
    vg_free(st->bins);
    memset(st, 0, sizeof *st);
}

/* Make bins [a, b] (inside the mapping's bounds) part of the store's span.
 * Growing left leaves slack below so a run of ever-smaller values does not
 * copy each time; the capacity never exceeds the whole index range. */
static int store_cover(vg_sketch_store_t *st, int32_t a, int32_t b)
{
    const mapping_t *m = mapping();
    uint32_t full = (uint32_t)(m->index_hi - m->index_lo) + 1;
    assert(a >= m->index_lo && b <= m->index_hi && a <= b);
    if (st->n == 0) {
        uint32_t span = (uint32_t)(b - a) + 1;
        uint32_t cap = span < STORE_MIN_CAP ? STORE_MIN_CAP : span;
        uint64_t *bins = vg_calloc(cap, sizeof *bins);
        if (!bins)
            return VG_ENOMEM;
        vg_free(st->bins);
        st->bins = bins;
        st->cap = cap;
        st->lo = a;
        st->n = span;
        return VG_OK;
    }
    int32_t hi = st->lo + (int32_t)st->n - 1;
    if (a >= st->lo && b <= hi)
        return VG_OK;
    if (a >= st->lo && (uint32_t)(b - st->lo) < st->cap) {
        st->n = (uint32_t)(b - st->lo) + 1; /* bins past n are already zero */
        return VG_OK;
    }
    int32_t nlo = a < st->lo ? a : st->lo, nhi = b > hi ? b : hi;
    uint32_t span = (uint32_t)(nhi - nlo) + 1;
    uint32_t cap = st->cap * 2 > span ? st->cap * 2 : span;
    if (cap > full)
        cap = full;
    if (a < st->lo) {
        nlo -= (int32_t)(cap - span); /* all the slack below */
        if (nlo < m->index_lo)
            nlo = m->index_lo;
    }
    uint64_t *bins = vg_calloc(cap, sizeof *bins);
    if (!bins)
        return VG_ENOMEM;
    memcpy(bins + (st->lo - nlo), st->bins, st->n * sizeof *bins);
    vg_free(st->bins);
    st->bins = bins;
    st->cap = cap;
    st->n = (uint32_t)(nhi - nlo) + 1;
    st->lo = nlo;
    return VG_OK;
}

static int store_add(vg_sketch_store_t *st, int32_t i, uint64_t count)
{
    int rc = store_cover(st, i, i);
    if (rc)
        return rc;
    st->bins[i - st->lo] += count;
    return VG_OK;
}

static int store_merge(vg_sketch_store_t *dst, const vg_sketch_store_t *src)
{
    if (src->n == 0)
        return VG_OK;
    int rc = store_cover(dst, src->lo, src->lo + (int32_t)src->n - 1);
    if (rc)
        return rc;
    uint64_t *d = dst->bins + (src->lo - dst->lo);
    for (uint32_t j = 0; j < src->n; j++)
        d[j] += src->bins[j];
    return VG_OK;
}

/* --------------------------------------------------------------- sketch --- */

void vg_sketch_init(vg_sketch_t *s)
{
    memset(s, 0, sizeof *s);
    s->min = INFINITY;
    s->max = -INFINITY;
}

void vg_sketch_reset(vg_sketch_t *s)
{
    store_free(&s->pos);
    store_free(&s->neg);
    vg_sketch_init(s);
}

int vg_sketch_add_n(vg_sketch_t *s, double v, uint64_t count)
{
    if (isnan(v) || count == 0)
        return VG_OK;
    double a = fabs(v);
    if (a >= VG_SKETCH_MIN_ABS) {
        const mapping_t *m = mapping();
        int rc = store_add(v > 0 ? &s->pos : &s->neg, bin_index(m, a), count);
        if (rc)
            return rc;
    } else {
        s->zeros += count;
    }
    s->count += count;
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    return VG_OK;
}

int vg_sketch_add(vg_sketch_t *s, double v)
{
    return vg_sketch_add_n(s, v, 1);
}

int vg_sketch_merge(vg_sketch_t *dst, const vg_sketch_t *src)
{
    if (src->count == 0)
        return VG_OK;
    int rc = store_merge(&dst->pos, &src->pos);
    if (rc == 0)
        rc = store_merge(&dst->neg, &src->neg);
    if (rc)
        return rc; /* dst may hold part of src's bins; its counts no longer add up */
    dst->zeros += src->zeros;
    dst->count += src->count;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return VG_OK;
}

static double clamp(const vg_sketch_t *s, double v)
{
    return v < s->min ? s->min : v > s->max ? s->max : v;
}

double vg_sketch_quantile(const vg_sketch_t *s, double q)
{
    if (s->count == 0 || isnan(q))
        return NAN;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    const mapping_t *m = mapping();
    /* Compared in double first: converting 2^64 back would be undefined. */
    double r = floor(q * (double)(s->count - 1));
    uint64_t rank = r >= (double)(s->count - 1) ? s->count - 1 : (uint64_t)r;
    /* The extremes are known exactly: no need to approximate them. */
    if (rank == 0)
        return s->min;
    if (rank == s->count - 1)
        return s->max;
    uint64_t seen = 0;
    /* Most negative first: the negative store from its highest bin down. */
    for (uint32_t j = s->neg.n; j-- > 0;) {
        seen += s->neg.bins[j];
        if (seen > rank)
            return clamp(s, -bin_value(m, s->neg.lo + (int32_t)j));
    }
    seen += s->zeros;
    if (seen > rank)
        return clamp(s, 0.0);
    for (uint32_t j = 0; j < s->pos.n; j++) {
        seen += s->pos.bins[j];
        if (seen > rank)
            return clamp(s, bin_value(m, s->pos.lo + (int32_t)j));
    }
    return s->max; /* unreachable while the count invariant holds */
}

/* ------------------------------------------------------------- encoding --- */

static void put_f64(vg_buf_t *out, double v)
{
    vg_buf_put(out, &v, 8); /* host order: little-endian, as encode.c */
}

static void store_encode(const vg_sketch_store_t *st, vg_buf_t *out)
{
    uint32_t a = 0, b = st->n;
    while (a < b && st->bins[a] == 0)
        a++;
    while (b > a && st->bins[b - 1] == 0)
        b--;
    vg_buf_put_uvarint(out, b - a);
    if (a == b)
        return;
    vg_buf_put_uvarint(out, vg_zigzag(st->lo + (int32_t)a));
    for (uint32_t j = a; j < b; j++)
        vg_buf_put_uvarint(out, st->bins[j]);
}

int vg_sketch_encode(const vg_sketch_t *s, vg_buf_t *out)
{
    size_t need = 4 * 10 + 16 + ((size_t)s->pos.n + s->neg.n) * 10;
    int rc = vg_buf_reserve(out, need);
    if (rc)
        return rc;
    vg_buf_put_uvarint(out, s->count);
    vg_buf_put_uvarint(out, s->zeros);
    put_f64(out, s->min);
    put_f64(out, s->max);
    store_encode(&s->pos, out);
    store_encode(&s->neg, out);
    return VG_OK;
}

/* Decode one store into st (empty on entry) and add its counts to *sum. */
static int store_decode(const uint8_t **pp, const uint8_t *end, vg_sketch_store_t *st,
                        uint64_t *sum)
{
    uint64_t nb, zlo, c;
    if (vg_get_uvarint(pp, end, &nb))
        return VG_ECORRUPT;
    if (nb == 0)
        return VG_OK;
    /* Each count takes at least a byte: the input bounds the allocation. */
    if (nb > STORE_MAX_BINS || nb > (uint64_t)(end - *pp) || vg_get_uvarint(pp, end, &zlo))
        return VG_ECORRUPT;
    int64_t lo = vg_unzigzag(zlo);
    const mapping_t *m = mapping();
    if (lo < m->index_lo || lo > m->index_hi || (int64_t)nb - 1 > m->index_hi - lo)
        return VG_ECORRUPT;
    int rc = store_cover(st, (int32_t)lo, (int32_t)(lo + (int64_t)nb - 1));
    if (rc)
        return rc;
    for (uint32_t j = 0; j < nb; j++) {
        if (vg_get_uvarint(pp, end, &c) || c > UINT64_MAX - *sum)
            return VG_ECORRUPT;
        st->bins[j] = c;
        *sum += c;
    }
    return VG_OK;
}

static int sketch_decode(const uint8_t *p, const uint8_t *end, vg_sketch_t *s)
{
    uint64_t sum;
    if (vg_get_uvarint(&p, end, &s->count) || vg_get_uvarint(&p, end, &s->zeros) ||
        end - p < 16)
        return VG_ECORRUPT;
    memcpy(&s->min, p, 8);
    memcpy(&s->max, p + 8, 8);
    p += 16;
    sum = s->zeros;
    int rc = store_decode(&p, end, &s->pos, &sum);
    if (rc == 0)
        rc = store_decode(&p, end, &s->neg, &sum);
    if (rc)
        return rc;
    if (p != end || sum != s->count)
        return VG_ECORRUPT;
    if (s->count == 0)
        return (s->min == INFINITY && s->max == -INFINITY) ? VG_OK : VG_ECORRUPT;
    /* min <= max also rejects NaN extremes. */
    return s->min <= s->max ? VG_OK : VG_ECORRUPT;
}

int vg_sketch_decode(const uint8_t *p, size_t len, vg_sketch_t *s)
{
    vg_sketch_reset(s);
    if (len == 0)
        return VG_ECORRUPT;
    int rc = sketch_decode(p, p + len, s);
    if (rc)
        vg_sketch_reset(s);
    return rc;
}
