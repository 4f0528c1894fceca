#!/usr/bin/python3
"""drift_ref.py: reference values for tests/test_drift.c, written to tests/drift_ref.h.

Run with Debian's /usr/bin/python3 (numpy and scipy installed):
    /usr/bin/python3 tests/drift_ref.py > tests/drift_ref.h

The datasets are not stored: both this script and the C test draw them from
the same tiny generator (splitmix64, uniform = top 53 bits / 2^53, a normal
from one Box-Muller cosine), so the header holds only each dataset's seed and
parameters and the expected statistics. The expected values come from scipy
and numpy, never from the C code:

  ks D, ks_p    scipy.stats.ks_2samp(ref, cur, method='asymp')
  wasserstein   scipy.stats.wasserstein_distance
  psi           numpy, the bins cut at the reference deciles (definition in query/stats.h)
  js            scipy.spatial.distance.jensenshannon over the same bins
  chi2_p        scipy.stats.chi2_contingency(correction=False), zero columns dropped
  ztest_p       2 * scipy.stats.norm.sf(|z|)
  igamc         scipy.special.gammaincc
  kstwo.sf      scipy.stats.kstwo.sf
  *_exact       Python's decimal at 40 digits (a Poisson sum, the Birnbaum-Tingey sum)
  quantiles     numpy.quantile (linear); mean/stddev numpy; histogram numpy.histogram
"""
import math
import sys
from decimal import Decimal, getcontext

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

MASK = (1 << 64) - 1
NORMAL, LOGNORMAL, INT, BIMODAL, CONST = range(5)
KIND_NAMES = ["DR_NORMAL", "DR_LOGNORMAL", "DR_INT", "DR_BIMODAL", "DR_CONST"]


class SplitMix:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):  # [0, 1)
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def generate(side):
    seed, kind, a, b, c, d, n = side
    g = SplitMix(seed)
    out = []
    for _ in range(n):
        if kind == NORMAL:
            out.append(a + b * g.normal())
        elif kind == LOGNORMAL:
            out.append(math.exp(a + b * g.normal()))
        elif kind == INT:
            out.append(math.floor(a + g.uniform() * (b - a + 1.0)))
        elif kind == BIMODAL:
            u = g.uniform()
            out.append((b if u < a else c) + d * g.normal())
        else:
            out.append(a)
    return np.array(out, dtype=np.float64)


def side(seed, kind, n, a=0.0, b=0.0, c=0.0, d=0.0):
    return (seed, kind, float(a), float(b), float(c), float(d), n)


CASES = [
    ("normal_shift", side(1, NORMAL, 1000, 0, 1), side(2, NORMAL, 800, 0.3, 1)),
    ("lognormal", side(3, LOGNORMAL, 5000, 0, 1), side(4, LOGNORMAL, 3000, 0.1, 1.1)),
    ("ties_int", side(5, INT, 2000, 0, 9), side(6, INT, 1500, 0, 11)),
    ("ties_small", side(7, INT, 30, 0, 2), side(8, INT, 25, 0, 3)),
    ("bimodal", side(9, BIMODAL, 1200, 0.5, -2, 2, 1), side(10, BIMODAL, 900, 0.7, -2, 2, 1)),
    ("tiny_1_1", side(11, NORMAL, 1, 0, 1), side(12, NORMAL, 1, 0, 1)),
    ("tiny_2_3", side(13, NORMAL, 2, 0, 1), side(14, NORMAL, 3, 0.5, 1)),
    ("tiny_3_1", side(15, NORMAL, 3, 0, 1), side(16, NORMAL, 1, 0, 1)),
    ("unequal", side(17, NORMAL, 50000, 0, 1), side(18, NORMAL, 20, 0.5, 1)),
    ("identical", side(19, NORMAL, 500, 0, 1), side(19, NORMAL, 500, 0, 1)),
    ("disjoint", side(20, NORMAL, 100, 0, 1), side(21, NORMAL, 200, 100, 1)),
    ("constant_ref", side(22, CONST, 100, 5), side(23, INT, 150, 3, 7)),
    ("large_close", side(24, NORMAL, 200000, 0, 1), side(25, NORMAL, 150000, 0.002, 1)),
    ("large_shift", side(26, LOGNORMAL, 100000, 0, 1), side(27, LOGNORMAL, 80000, 0.03, 1)),
]

QS = [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0]
HBINS = 7


def quantile_def(sorted_x, q):
    """stats.h's definition, written out independently of the C code."""
    n = len(sorted_x)
    h = (n - 1) * q
    i = math.floor(h)
    if i >= n - 1:
        return float(sorted_x[n - 1])
    t = h - i
    a, b = float(sorted_x[i]), float(sorted_x[i + 1])
    return a + t * (b - a)


def decile_counts(ref, cur):
    rs = np.sort(ref)
    edges = np.array([quantile_def(rs, j / 10) for j in range(1, 10)])
    assert np.allclose(edges, np.percentile(ref, [10, 20, 30, 40, 50, 60, 70, 80, 90]),
                       rtol=1e-12, atol=0)
    rc = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=10)
    cc = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=10)
    return rc, cc


def psi_counts(rc, cc):
    r = np.asarray(rc, dtype=np.float64) / np.sum(rc)
    c = np.asarray(cc, dtype=np.float64) / np.sum(cc)
    r = np.where(np.asarray(rc) == 0, 0.0001, r)
    c = np.where(np.asarray(cc) == 0, 0.0001, c)
    return float(np.sum((r - c) * np.log(r / c)))


def js_counts(rc, cc):
    return float(jensenshannon(np.asarray(rc, dtype=np.float64), np.asarray(cc, dtype=np.float64)))


def case_values(name, rspec, cspec):
    ref, cur = generate(rspec), generate(cspec)
    res = stats.ks_2samp(ref, cur, method="asymp")
    m, n = sorted([float(len(ref)), float(len(cur))], reverse=True)
    assert np.isnan(res.pvalue) or res.pvalue == stats.kstwo.sf(res.statistic, np.round(m * n / (m + n)))
    rc, cc = decile_counts(ref, cur)
    lo, hi = float(np.min(cur)), float(np.max(cur))
    hist, _ = np.histogram(cur, bins=HBINS, range=(lo, hi))
    std = float(np.std(cur, ddof=1)) if len(cur) > 1 else math.nan
    return dict(
        name=name, ref=rspec, cur=cspec,
        ks_d=float(res.statistic), ks_p=float(res.pvalue),
        wasserstein=float(stats.wasserstein_distance(ref, cur)),
        psi=psi_counts(rc, cc), js=js_counts(rc, cc),
        mean=float(np.mean(cur)), stddev=std,
        quant=[float(np.quantile(cur, q)) for q in QS],
        hist_lo=lo, hist_hi=hi, hist=[int(h) for h in hist],
    )


# chi-square tables: (ref counts, cur counts), aligned on the union of categories
def chi2_tables():
    big_r = [(j * 37 + 11) % 97 for j in range(50)]
    big_c = [(j * 53 + 7) % 89 for j in range(50)]
    return [
        ([10, 20, 30], [12, 18, 35]),
        ([100, 0, 50, 0], [90, 0, 70, 5]),
        ([5, 0], [7, 0]),
        ([1000000, 2000000, 3000000], [1001000, 1998000, 3004000]),
        ([50, 50], [10, 90]),
        ([3, 1, 0, 4, 9], [0, 2, 2, 8, 1]),
        (big_r, big_c),
        ([10, 20], [0, 0]),
    ]


def chi2_expected(r, c):
    if sum(r) == 0 or sum(c) == 0:
        return math.nan
    keep = [j for j in range(len(r)) if r[j] + c[j] > 0]
    if len(keep) < 2:
        return 1.0
    table = np.array([[r[j] for j in keep], [c[j] for j in keep]], dtype=np.float64)
    return float(stats.chi2_contingency(table, correction=False)[1])


ZCASES = [(10, 100, 20, 100), (0, 50, 5, 60), (500, 1000, 480, 1000), (1, 3, 2, 5),
          (0, 10, 0, 20), (10, 10, 5, 5), (123456, 1000000, 125000, 1000000), (3, 0, 1, 4),
          (7, 7, 0, 9)]


def ztest_expected(x1, n1, x2, n2):
    if n1 == 0 or n2 == 0 or x1 > n1 or x2 > n2:
        return math.nan
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return math.nan
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(z)))


CAT_CASES = [([10, 20, 30, 0], [15, 15, 25, 5]), ([1, 0, 0], [0, 0, 1]), ([5, 5], [5, 5]),
             ([100, 200, 300, 400, 0, 1], [110, 190, 320, 370, 9, 0])]


def igamc_grid():
    out = []
    for a in [0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 19.5, 20.0, 20.5, 50.0, 100.0, 1000.0,
              1e4, 1e5, 1e6]:
        for f in [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0, 1.01, 1.1, 1.5, 2.0, 5.0, 20.0]:
            x = a * f
            out.append((a, x, float(special.gammaincc(a, x))))
    for a, x in [(0.5, 1e-8), (0.5, 30.0), (3.0, 700.0), (1.0, 1500.0), (7.0, 0.0)]:
        out.append((a, x, float(special.gammaincc(a, x))))
    return out


def kstwo_grid():
    out = []
    for n in [1, 2, 3, 5, 10, 20, 50, 100, 139, 140, 141, 200, 500, 1000, 5000, 20000,
              100000, 100001, 500000, 1000000, 1000001, 3000000]:
        ds = [0.4 / n, 0.75 / n, 1.0 / n, 1.5 / n, 3.0 / n, 0.45, 0.5, 0.6, 0.9,
              (n - 0.5) / n, 0.999]
        ds += [math.sqrt(v / n) for v in (0.05, 0.3, 0.75, 1.0, 2.0, 2.5, 3.0, 4.5, 10.0, 30.0, 200.0)]
        seen = set()
        for d in ds:
            if 0 < d < 1 and d not in seen:
                seen.add(d)
                out.append((d, n, float(stats.kstwo.sf(d, n))))
    return out


# High-precision values, independent of scipy (decimal, 40 digits), to show
# where the C code is closer to the truth than scipy's double arithmetic.
def igamc_exact(n, x):
    """Q(n, x) for integer n: e^-x sum_{k<n} x^k/k! (the Poisson tail)."""
    getcontext().prec = 40
    x = Decimal(x)
    term, total = Decimal(1), Decimal(1)
    for k in range(1, n):
        term = term * x / k
        total += term
    return float(total * (-x).exp())


def smirnov2_exact(n, d):
    """2 P(D_n^+ >= d) by the Birnbaum-Tingey sum in decimal (= kstwo.sf when n d^2 >= 2.2)."""
    getcontext().prec = 40
    x, nd = Decimal(d), Decimal(n)
    jmax = n - math.floor(d * n) - 1
    logc, total = Decimal(0), Decimal(0)
    for j in range(jmax + 1):
        b1, b2 = x + Decimal(j) / nd, 1 - x - Decimal(j) / nd
        if b2 <= 0:
            break
        t = (logc + (j - 1) * b1.ln() + (n - j) * b2.ln()).exp()
        total += t
        if t != 0 and 4 * (jmax + 1 - j) * t < Decimal("1e-30") * total:
            break
        logc += (Decimal(n - j) / Decimal(j + 1)).ln()
    return float(2 * x * total)


EXACT_IGAMC = [(1000, 2000.0), (1000, 1500.0), (20, 100.0), (50, 100.0), (3, 700.0), (1, 30.0)]
EXACT_KSTWO = [(100000, 0.01), (2000, math.sqrt(5.0 / 2000))]


def c_double(v):
    if math.isnan(v):
        return "NAN"
    r = repr(float(v))
    return r if ("e" in r or "." in r or "inf" in r) else r + ".0"


def c_side(s):
    seed, kind, a, b, c, d, n = s
    return "{%du, %s, %s, %s, %s, %s, %d}" % (seed, KIND_NAMES[kind], c_double(a), c_double(b),
                                             c_double(c), c_double(d), n)


def c_list(vals, fmt=c_double):
    return "{" + ", ".join(fmt(v) for v in vals) + "}"


def emit(out):
    w = out.write
    w("/* drift_ref.h: generated by tests/drift_ref.py (numpy %s, scipy %s); do not edit. */\n"
      % (np.__version__, scipy.__version__))
    w("#ifndef VIGIL_TESTS_DRIFT_REF_H\n#define VIGIL_TESTS_DRIFT_REF_H\n\n")
    w("#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n")
    w("enum { DR_NORMAL, DR_LOGNORMAL, DR_INT, DR_BIMODAL, DR_CONST };\n\n")
    w("/* seed, kind, a, b, c, d (kind's parameters, see drift_ref.py generate()), n */\n")
    w("typedef struct {\n    uint64_t seed;\n    int kind;\n    double a, b, c, d;\n    size_t n;\n} dr_side;\n\n")
    w("#define DR_NQ %d\n#define DR_HBINS %d\n" % (len(QS), HBINS))
    w("static const double dr_q[DR_NQ] = %s;\n\n" % c_list(QS))
    w("typedef struct {\n    const char *name;\n    dr_side ref, cur;\n"
      "    double ks_d, ks_p, wasserstein, psi, js, mean, stddev;\n"
      "    double quant[DR_NQ]; /* of cur, at dr_q */\n"
      "    double hist_lo, hist_hi; /* cur's min and max */\n"
      "    uint64_t hist[DR_HBINS];\n} dr_case;\n\n")
    w("static const dr_case dr_cases[] = {\n")
    for name, r, c in CASES:
        v = case_values(name, r, c)
        w("    {\"%s\", %s, %s,\n" % (name, c_side(r), c_side(c)))
        w("     %s,\n" % ", ".join(c_double(v[k]) for k in
                                   ("ks_d", "ks_p", "wasserstein", "psi", "js", "mean", "stddev")))
        w("     %s,\n" % c_list(v["quant"]))
        w("     %s, %s, %s},\n" % (c_double(v["hist_lo"]), c_double(v["hist_hi"]),
                                  c_list(v["hist"], lambda h: "%du" % h)))
    w("};\n\n")

    w("typedef struct {\n    size_t k;\n    uint64_t ref[50], cur[50];\n    double p;\n} dr_chi2;\n\n")
    w("static const dr_chi2 dr_chi2_cases[] = {\n")
    for r, c in chi2_tables():
        w("    {%d, %s, %s, %s},\n" % (len(r), c_list(r, lambda h: "%du" % h),
                                      c_list(c, lambda h: "%du" % h), c_double(chi2_expected(r, c))))
    w("};\n\n")

    w("typedef struct {\n    uint64_t x1, n1, x2, n2;\n    double p;\n} dr_ztest;\n\n")
    w("static const dr_ztest dr_ztest_cases[] = {\n")
    for z in ZCASES:
        w("    {%du, %du, %du, %du, %s},\n" % (*z, c_double(ztest_expected(*z))))
    w("};\n\n")

    w("typedef struct {\n    size_t k;\n    uint64_t ref[8], cur[8];\n    double psi, js;\n} dr_cat;\n\n")
    w("static const dr_cat dr_cat_cases[] = {\n")
    for r, c in CAT_CASES:
        w("    {%d, %s, %s, %s, %s},\n" % (len(r), c_list(r, lambda h: "%du" % h),
                                          c_list(c, lambda h: "%du" % h),
                                          c_double(psi_counts(r, c)), c_double(js_counts(r, c))))
    w("};\n\n")

    w("typedef struct {\n    double a, x, q;\n} dr_igamc;\n\n")
    w("static const dr_igamc dr_igamc_cases[] = {\n")
    for a, x, q in igamc_grid():
        w("    {%s, %s, %s},\n" % (c_double(a), c_double(x), c_double(q)))
    w("};\n\n")

    w("typedef struct {\n    double d;\n    uint64_t n;\n    double sf;\n} dr_kstwo;\n\n")
    w("static const dr_kstwo dr_kstwo_cases[] = {\n")
    for d, n, sf in kstwo_grid():
        w("    {%s, %du, %s},\n" % (c_double(d), n, c_double(sf)))
    w("};\n\n")

    w("/* decimal (40-digit) values, independent of scipy */\n")
    w("static const dr_igamc dr_igamc_exact[] = {\n")
    for a, x in EXACT_IGAMC:
        w("    {%s, %s, %s},\n" % (c_double(a), c_double(x), c_double(igamc_exact(a, x))))
    w("};\n\nstatic const dr_kstwo dr_kstwo_exact[] = {\n")
    for n, d in EXACT_KSTWO:
        assert n * d * d >= 2.2
        w("    {%s, %du, %s},\n" % (c_double(d), n, c_double(smirnov2_exact(n, d))))
    w("};\n\n#endif\n")


if __name__ == "__main__":
    emit(sys.stdout)
