/*
 * drift.c: the distribution comparisons of the query language (ks, ks_p,
 * wasserstein, psi, js, chi2_p, ztest_p); definitions in stats.h.
 *
 * Invariants: the two-sample statistics walk two sorted arrays once, in
 * step, stepping over all copies of a value on both sides before looking at
 * the CDFs (right-continuous CDFs: how scipy treats ties). Empirical CDF
 * values are formed as count/size exactly as scipy forms them, so D is the
 * same double and the p-value sees the same input. Sums of many terms are
 * Neumaier-compensated. Nothing allocates.
 */
#include <math.h>
#include <string.h>

#include "stats.h"

typedef struct {
    double s, c;
} ksum;

static void ksum_add(ksum *k, double v)
{
    double t = k->s + v;
    if (fabs(k->s) >= fabs(v))
        k->c += (k->s - t) + v;
    else
        k->c += (v - t) + k->s;
    k->s = t;
}

/*
 * Step both cursors past every copy of the next smallest value; returns
 * that value. Returns NaN and leaves the cursors when neither can move
 * (a NaN at both heads), which the callers treat as the end.
 */
static double step_value(const double *a, size_t m, size_t *i, const double *b, size_t n,
                         size_t *j)
{
    double v;
    if (*i < m && (*j >= n || a[*i] <= b[*j]))
        v = a[*i];
    else
        v = b[*j];
    size_t i0 = *i, j0 = *j;
    while (*i < m && a[*i] <= v)
        (*i)++;
    while (*j < n && b[*j] <= v)
        (*j)++;
    return (*i == i0 && *j == j0) ? NAN : v;
}

double vg_stat_ks(const double *a, size_t m, const double *b, size_t n)
{
    if (m == 0 || n == 0)
        return NAN;
    size_t i = 0, j = 0;
    double d = 0;
    /* Once a side is used up its CDF is 1 and |diff| only falls. */
    while (i < m && j < n) {
        if (isnan(step_value(a, m, &i, b, n, &j)))
            return NAN;
        double diff = fabs((double)i / (double)m - (double)j / (double)n);
        d = diff > d ? diff : d;
    }
    return d;
}

double vg_stat_ks_p(double d, size_t m, size_t n)
{
    if (m == 0 || n == 0 || isnan(d))
        return NAN;
    double big = (double)(m > n ? m : n), small = (double)(m > n ? n : m);
    double en = rint(big * small / (big + small)); /* half to even, as numpy.round */
    if (en < 1)
        return NAN;
    return vg_stat_kstwo_sf(d, (uint64_t)en);
}

double vg_stat_wasserstein(const double *a, size_t m, const double *b, size_t n)
{
    if (m == 0 || n == 0)
        return NAN;
    size_t i = 0, j = 0;
    ksum w = {0, 0};
    double v = step_value(a, m, &i, b, n, &j);
    while ((i < m || j < n) && !isnan(v)) {
        double cdf_gap = fabs((double)i / (double)m - (double)j / (double)n);
        double next = step_value(a, m, &i, b, n, &j);
        if (isnan(next))
            return NAN;
        ksum_add(&w, cdf_gap * (next - v));
        v = next;
    }
    return isnan(v) ? NAN : w.s + w.c;
}

int vg_stat_decile_edges(const double *ref_sorted, size_t m, double edges[9])
{
    if (m == 0)
        return VG_EINVAL;
    for (int j = 0; j < 9; j++)
        edges[j] = vg_stat_quantile_sorted(ref_sorted, m, (j + 1) / 10.0);
    return VG_OK;
}

void vg_stat_bin_counts(const double *x, size_t n, const double edges[9],
                        uint64_t counts[VG_STAT_DECILE_BINS])
{
    memset(counts, 0, VG_STAT_DECILE_BINS * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        unsigned bin = 0;
        for (int j = 0; j < 9; j++) /* branch-free: the bin is #edges <= v */
            bin += edges[j] <= x[i];
        counts[bin]++;
    }
}

/* Shares of a side: counts over the side's total. */
static double share(uint64_t count, double total)
{
    return (double)count / total;
}

static double total_of(const uint64_t *c, size_t k)
{
    uint64_t t = 0;
    for (size_t j = 0; j < k; j++)
        t += c[j];
    return (double)t;
}

double vg_stat_psi_counts(const uint64_t *ref, const uint64_t *cur, size_t k)
{
    double rt = total_of(ref, k), ct = total_of(cur, k);
    if (k == 0 || rt == 0 || ct == 0)
        return NAN;
    ksum psi = {0, 0};
    for (size_t j = 0; j < k; j++) {
        double r = ref[j] ? share(ref[j], rt) : 0.0001;
        double c = cur[j] ? share(cur[j], ct) : 0.0001;
        ksum_add(&psi, (r - c) * log(r / c));
    }
    return psi.s + psi.c;
}

double vg_stat_js_counts(const uint64_t *ref, const uint64_t *cur, size_t k)
{
    double rt = total_of(ref, k), ct = total_of(cur, k);
    if (k == 0 || rt == 0 || ct == 0)
        return NAN;
    ksum kl = {0, 0};
    for (size_t j = 0; j < k; j++) {
        double p = share(ref[j], rt), q = share(cur[j], ct), mid = (p + q) / 2.0;
        if (p > 0)
            ksum_add(&kl, p * log(p / mid));
        if (q > 0)
            ksum_add(&kl, q * log(q / mid));
    }
    double div = (kl.s + kl.c) / 2.0;
    return sqrt(div > 0 ? div : 0); /* rounding may leave -1e-17 */
}

/* Both sides' decile-bin counts; VG_EINVAL when a side is empty. */
static int decile_counts(const double *ref_sorted, size_t m, const double *cur, size_t n,
                         uint64_t rc[VG_STAT_DECILE_BINS], uint64_t cc[VG_STAT_DECILE_BINS])
{
    double edges[9];
    if (n == 0 || vg_stat_decile_edges(ref_sorted, m, edges) != VG_OK)
        return VG_EINVAL;
    vg_stat_bin_counts(ref_sorted, m, edges, rc);
    vg_stat_bin_counts(cur, n, edges, cc);
    return VG_OK;
}

double vg_stat_psi(const double *ref_sorted, size_t m, const double *cur, size_t n)
{
    uint64_t rc[VG_STAT_DECILE_BINS], cc[VG_STAT_DECILE_BINS];
    if (decile_counts(ref_sorted, m, cur, n, rc, cc) != VG_OK)
        return NAN;
    return vg_stat_psi_counts(rc, cc, VG_STAT_DECILE_BINS);
}

double vg_stat_js(const double *ref_sorted, size_t m, const double *cur, size_t n)
{
    uint64_t rc[VG_STAT_DECILE_BINS], cc[VG_STAT_DECILE_BINS];
    if (decile_counts(ref_sorted, m, cur, n, rc, cc) != VG_OK)
        return NAN;
    return vg_stat_js_counts(rc, cc, VG_STAT_DECILE_BINS);
}

double vg_stat_chi2_p(const uint64_t *ref, const uint64_t *cur, size_t k)
{
    double rt = total_of(ref, k), ct = total_of(cur, k);
    if (k == 0 || rt == 0 || ct == 0)
        return NAN;
    double total = rt + ct;
    size_t used = 0;
    ksum x2 = {0, 0};
    for (size_t j = 0; j < k; j++) {
        double col = (double)ref[j] + (double)cur[j];
        if (col == 0)
            continue; /* a category neither side has: dropped */
        used++;
        double er = rt * col / total, ec = ct * col / total;
        double dr = (double)ref[j] - er, dc = (double)cur[j] - ec;
        ksum_add(&x2, dr * dr / er);
        ksum_add(&x2, dc * dc / ec);
    }
    if (used < 2)
        return 1.0;
    return vg_stat_chi2_sf(x2.s + x2.c, (double)(used - 1));
}

double vg_stat_ztest_p(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2)
{
    if (n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2)
        return NAN;
    if (x1 + x2 == 0 || x1 + x2 == n1 + n2)
        return NAN; /* pooled share 0 or 1: no variance */
    double dn1 = (double)n1, dn2 = (double)n2;
    double p1 = (double)x1 / dn1, p2 = (double)x2 / dn2;
    double pooled = ((double)x1 + (double)x2) / (dn1 + dn2);
    double se = sqrt(pooled * (1 - pooled) * (1 / dn1 + 1 / dn2));
    double z = (p1 - p2) / se;
    return erfc(fabs(z) / sqrt(2.0));
}
