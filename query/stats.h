/*
 * stats.h: the numeric kernels of the query language (private to query/).
 *
 * Pure functions over arrays of doubles (or of category counts) that the
 * executor calls once per window and group: exact quantiles, moments,
 * baselines, and the distribution comparisons of issue 3 (ks, ks_p,
 * wasserstein, psi, js, chi2_p, ztest_p). Each definition below is the
 * contract, written so that an independent implementation (tests/drift_ref.py,
 * with numpy and scipy) gives the same numbers.
 *
 * Conventions, for every function here:
 * - "Null" is NaN. A function returns NaN when either input is empty or the
 *   statistic is undefined; each function says when.
 * - Inputs hold no NaN: the executor drops nulls before calling. Functions
 *   stay memory-safe when one slips through, but the number is meaningless.
 * - "sorted" means ascending as vg_stat_sort leaves it (-0.0 before +0.0).
 * - Nothing allocates except vg_stat_sort. Nothing keeps a pointer after
 *   returning. All functions are thread-safe (no global state).
 */
#ifndef VIGIL_QUERY_STATS_H
#define VIGIL_QUERY_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/vg_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sorting and order statistics (quantile.c) ---------------------- */

/**
 * Sort x ascending in place: radix sort on the IEEE bit patterns, one MSD
 * pass into 2048 buckets spanning the data's range, then an in-cache LSD
 * sort of each bucket (11-bit digits, passes where every value shares the
 * digit skipped); an introsort below 512 values. About 90 M values/s on 10M
 * lognormal doubles (bench/bench_quantile.c). The order is the IEEE total
 * order: -0.0 before +0.0; NaNs (never expected) go to the ends. Uses about
 * 64 KiB of stack.
 * @param tmp  scratch of n doubles, clobbered.
 * Ownership: borrows x and tmp; allocates nothing.
 */
void vg_stat_sort_buf(double *x, double *tmp, size_t n);

/**
 * As vg_stat_sort_buf, allocating the scratch (vg_malloc, freed before
 * returning). @return VG_OK or VG_ENOMEM (x then unchanged).
 */
int vg_stat_sort(double *x, size_t n, vg_error_t *err);

/**
 * Quantile q of sorted[0..n): linear interpolation between the closest
 * ranks (numpy's default "linear", R type 7, Prometheus's quantile_over_time):
 *   h = (n-1)q, i = floor h, t = h - i,
 *   Q = x[i] + t (x[i+1] - x[i])       (= x[n-1] when i >= n-1).
 * Evaluated as x[i+1] - (1-t)(x[i+1]-x[i]) when t >= 0.5 (numpy's form:
 * exact at both ends, monotone in q). q is clamped to [0, 1].
 * @return the quantile; NaN when n == 0 or q is NaN.
 */
double vg_stat_quantile_sorted(const double *sorted, size_t n, double q);

/**
 * The same quantile of an unsorted x[0..n) without sorting it: radix
 * selection on the bit patterns (histograms of 11-bit digits narrowing to
 * the bucket that holds the rank; the next rank, needed to interpolate, is
 * found in the same passes). O(n): a min/max pass, then two passes over x
 * and a few over a shrinking bucket, about 350 M values/s. Returns exactly
 * what vg_stat_quantile_sorted returns on the sorted array.
 * @param scratch  n doubles, clobbered. Ownership: borrows x (unchanged).
 * @return the quantile; NaN when n == 0 or q is NaN.
 */
double vg_stat_quantile_select(const double *x, size_t n, double q, double *scratch);

/* ---- moments and baselines (quantile.c) ----------------------------- */

/**
 * Mean of x[0..n) with Neumaier-compensated summation, NaN values skipped;
 * NaN when no value is left.
 */
double vg_stat_mean(const double *x, size_t n);

/**
 * Sample standard deviation (divisor n-1) of x[0..n), NaN values skipped,
 * two-pass: the mean, then the compensated sums of the deviations and their
 * squares (the corrected two-pass formula). NaN when fewer than 2 values.
 */
double vg_stat_stddev(const double *x, size_t n);

/**
 * Median of the non-NaN values of v[0..k) (NaN = a null window, skipped);
 * an even count takes the mean of the middle two. For the seasonal
 * baseline(agg, D, P). NaN when no value is left.
 * Ownership: permutes v in place (nulls moved to the end, values sorted).
 */
double vg_stat_median_skip_null(double *v, size_t k);

/**
 * zscore(agg, D): (cur - mean(h)) / stddev(h) over the non-NaN values of
 * hist[0..k) (the aggregate over the k earlier windows), stddev with
 * divisor n-1. NaN when cur is NaN, fewer than 2 values remain, or the
 * stddev is 0. hist is not modified.
 */
double vg_stat_zscore(double cur, const double *hist, size_t k);

/**
 * Counts over `bins` equal-width bins of [lo, hi], numpy.histogram's rule:
 * edges e_j = lo + j (hi-lo)/bins (e_bins = hi), bin j = [e_j, e_j+1), the
 * last bin closed; values outside [lo, hi] are not counted. When lo == hi
 * the range becomes [lo - 0.5, hi + 0.5] (numpy's rule).
 * @param counts  bins entries, overwritten.
 * @return VG_OK; VG_EINVAL when bins == 0, lo/hi not finite, or lo > hi.
 */
int vg_stat_histogram(const double *x, size_t n, double lo, double hi, uint64_t *counts,
                      size_t bins, vg_error_t *err);

/* ---- distribution comparisons (drift.c) ----------------------------- */

/**
 * Two-sample Kolmogorov-Smirnov statistic D = max over all values v of
 * |F_a(v) - F_b(v)| with F the right-continuous empirical CDFs (counts of
 * values <= v, so ties are stepped over together, as scipy's ks_2samp
 * does). Each F is computed as count/size, as scipy does, so D is the same
 * double. a, b sorted. NaN when m == 0 or n == 0.
 */
double vg_stat_ks(const double *a, size_t m, const double *b, size_t n);

/**
 * Two-sided p-value of D for samples of sizes m and n: kstwo.sf(D, N) with
 * N = round(m n / (m + n)), rounding half to even (numpy.round), i.e.
 * scipy.stats.ks_2samp(method='asymp'). NaN when m or n is 0, or N == 0
 * (m = n = 1: scipy gives NaN too), or D is NaN.
 */
double vg_stat_ks_p(double d, size_t m, size_t n);

/**
 * 1-Wasserstein distance between the empirical distributions of sorted
 * a[0..m) and b[0..n): the integral of |F_a - F_b| over the merged sample
 * (scipy.stats.wasserstein_distance with unit weights). NaN when either is
 * empty.
 */
double vg_stat_wasserstein(const double *a, size_t m, const double *b, size_t n);

#define VG_STAT_DECILE_BINS 10

/**
 * The 9 interior deciles of the reference: edges[j] =
 * vg_stat_quantile_sorted(ref, m, (j+1)/10.0), j = 0..8. Edges may repeat
 * (ties, constant data): see vg_stat_bin_counts.
 * @return VG_OK, VG_EINVAL when m == 0 (no edges).
 */
int vg_stat_decile_edges(const double *ref_sorted, size_t m, double edges[9]);

/**
 * Bin each x[i] (any order) into VG_STAT_DECILE_BINS bins cut at the 9
 * ascending edges: the bin of v is the number of edges <= v, so a value equal
 * to an edge goes to the upper bin, and with repeated edges it goes above all
 * copies: the bins between two equal edges are empty on both sides. counts
 * has 10 entries, overwritten.
 */
void vg_stat_bin_counts(const double *x, size_t n, const double edges[9],
                        uint64_t counts[VG_STAT_DECILE_BINS]);

/**
 * Population stability index of cur against ref, over the decile bins of
 * ref (vg_stat_decile_edges, vg_stat_bin_counts):
 *   PSI = sum_j (r_j - c_j) ln(r_j / c_j),
 * r_j = ref count / m and c_j = cur count / n, a zero share replaced by
 * 0.0001 (no renormalisation). A bin empty on both sides (between repeated
 * edges) contributes 0. ref sorted, cur in any order. NaN when m or n is 0.
 */
double vg_stat_psi(const double *ref_sorted, size_t m, const double *cur, size_t n);

/**
 * Jensen-Shannon distance over the same bins with the raw shares:
 *   JS = sqrt(KL(r || M)/2 + KL(c || M)/2), M = (r + c)/2, natural log,
 * 0 ln 0 = 0 (scipy.spatial.distance.jensenshannon). In [0, sqrt(ln 2)].
 * NaN when m or n is 0.
 */
double vg_stat_js(const double *ref_sorted, size_t m, const double *cur, size_t n);

/**
 * The same two over category counts aligned on the union of categories
 * (ref[j] and cur[j] count category j; 0 where a side lacks it).
 * psi replaces zero shares by 0.0001 as above. NaN when either side's total
 * is 0 or k == 0.
 */
double vg_stat_psi_counts(const uint64_t *ref, const uint64_t *cur, size_t k);
double vg_stat_js_counts(const uint64_t *ref, const uint64_t *cur, size_t k);

/**
 * p-value of Pearson's chi-square test of homogeneity on the 2 x k table
 * (row 0 = ref, row 1 = cur), no continuity correction
 * (scipy.stats.chi2_contingency(correction=False)[1]):
 * categories with a zero total in both rows are dropped first; with k'
 * categories left, X2 = sum (O - E)^2 / E with E = row total * column
 * total / N, and p = Q((k'-1)/2, X2/2). With k' == 1 there is nothing to
 * test: 1.0 (scipy: dof 0 gives p = 1). NaN when either row total is 0.
 */
double vg_stat_chi2_p(const uint64_t *ref, const uint64_t *cur, size_t k);

/**
 * Pooled two-proportion z-test, two-sided: p1 = x1/n1, p2 = x2/n2,
 * P = (x1+x2)/(n1+n2), z = (p1-p2)/sqrt(P(1-P)(1/n1 + 1/n2)),
 * p = erfc(|z|/sqrt 2). NaN when n1 or n2 is 0, when x > n on a side, and
 * when P is 0 or 1 (both samples all false or all true: no variance, the
 * test is undefined, as in statsmodels' proportions_ztest).
 */
double vg_stat_ztest_p(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2);

/* ---- special functions (special.c) ---------------------------------- */

/**
 * Survival function of the exact one-sample two-sided Kolmogorov-Smirnov
 * statistic D_n: P(D_n > d) (scipy.stats.kstwo.sf(d, n)), by the algorithm
 * choice of Simard & L'Ecuyer (2011) as scipy implements it:
 * Ruben-Gambino closed forms for d <= 1/n and d >= 1 - 1/n, 2 x the exact
 * one-sided Smirnov tail (Birnbaum-Tingey sum, evaluated in long double)
 * for d >= 0.5 or n d^2 above 4 (n <= 140) / 2.2 (n > 140), else one minus
 * the CDF by the Durbin matrix (Marsaglia-Tsang-Wang), Pomeranz's recursion
 * (n <= 140) or the Pelz-Good asymptotic series. Cost: O(n) for the
 * Smirnov tail; for n above 10^6 that tail uses scipy's approximation
 * exp(-(6nd+1)^2 / 18n). NaN when n == 0 or d is NaN.
 */
double vg_stat_kstwo_sf(double d, uint64_t n);

/**
 * Regularised upper incomplete gamma function Q(a, x) = Gamma(a, x)/Gamma(a)
 * (Cephes igamc, scipy.special.gammaincc) for a > 0, x >= 0: the series for
 * P (Q = 1 - P) when x < a + 1, else the continued fraction, with the
 * prefactor x^a e^-x / Gamma(a) computed through Stirling's series for large
 * a. About 1e-13 relative. NaN when a <= 0, x < 0, or either is NaN.
 */
double vg_stat_igamc(double a, double x);

/** Survival function of the chi-square distribution: Q(dof/2, x/2). */
double vg_stat_chi2_sf(double x, double dof);

#ifdef __cplusplus
}
#endif
#endif
