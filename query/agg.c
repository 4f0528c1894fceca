/*
 * agg.c: the mergeable accumulators behind every aggregate and drift
 * function, and their final values.
 *
 * One acc_t is kept per group, segment (and population) and spec; an
 * interval's value is the merge of its segments' accs. Everything here
 * merges exactly: counts and trues add, sums add with Neumaier
 * compensation, the stddev moments merge by Chan's formula, min/max and
 * first/last compare, value lists append, sketches merge, distinct sets
 * union, category counts add. Invariant: strings held in min/max/first/last
 * are owned by the acc (vg_malloc) and freed by acc_free.
 *
 * Rows come one at a time (acc_add), as a run of a decoded column
 * (acc_add_col) or of one repeated value (acc_add_same): a run leaves the
 * very state, bit for bit, that its rows one by one would, so results never
 * depend on the path. Whole blocks may come as their statistics
 * (acc_add_block) for the aggregates that statistics answer.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "exec_int.h"
#include "stats.h"
#include "vigil/vg_alloc.h"

void acc_init(acc_t *a)
{
    memset(a, 0, sizeof *a);
    vg_sketch_init(&a->sk);
}

static void qv_drop(qv_t *v)
{
    if (v->k == QV_S)
        vg_free((void *)v->s);
    memset(v, 0, sizeof *v);
}

void acc_free(acc_t *a)
{
    qv_drop(&a->min);
    qv_drop(&a->max);
    qv_drop(&a->first);
    qv_drop(&a->last);
    vg_free(a->vals);
    vg_free(a->set);
    vg_free(a->cats);
    vg_sketch_reset(&a->sk);
    acc_init(a);
}

static int qv_own(qv_t *dst, const qv_t *src)
{
    qv_drop(dst);
    *dst = *src;
    if (src->k == QV_S) {
        char *p = vg_malloc((size_t)src->len + 1);
        if (!p) {
            memset(dst, 0, sizeof *dst);
            return VG_ENOMEM;
        }
        memcpy(p, src->s, src->len);
        p[src->len] = '\0';
        dst->s = p;
    }
    return VG_OK;
}

static void nsum(double *s, double *c, double x)
{
    double t = *s + x;
    if (fabs(*s) >= fabs(x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

static int push_vals(acc_t *a, const double *v, size_t n)
{
    if (a->nv + n > a->cv) {
        size_t nc = a->cv ? a->cv : 64;
        while (nc < a->nv + n)
            nc *= 2;
        double *p = vg_realloc(a->vals, nc * sizeof *p);
        if (!p)
            return VG_ENOMEM;
        a->vals = p;
        a->cv = nc;
    }
    memcpy(a->vals + a->nv, v, n * sizeof *v);
    a->nv += n;
    return VG_OK;
}

static int set_add(acc_t *a, uint64_t h)
{
    h = h ? h : 1;
    if (2 * (a->nset + 1) > a->cset) {
        size_t nc = a->cset ? 2 * a->cset : 64;
        uint64_t *t = vg_calloc(nc, sizeof *t);
        if (!t)
            return VG_ENOMEM;
        for (size_t i = 0; i < a->cset; i++) {
            if (!a->set[i])
                continue;
            size_t j = a->set[i] & (nc - 1);
            while (t[j])
                j = (j + 1) & (nc - 1);
            t[j] = a->set[i];
        }
        vg_free(a->set);
        a->set = t;
        a->cset = nc;
    }
    size_t j = h & (a->cset - 1);
    while (a->set[j] && a->set[j] != h)
        j = (j + 1) & (a->cset - 1);
    if (!a->set[j]) {
        a->set[j] = h;
        a->nset++;
    }
    return VG_OK;
}

static int cats_add(acc_t *a, size_t id, uint64_t n)
{
    if (id >= a->ncats) {
        size_t nc = id + 1 > 2 * a->ncats ? id + 1 : 2 * a->ncats;
        uint64_t *p = vg_realloc(a->cats, nc * sizeof *p);
        if (!p)
            return VG_ENOMEM;
        memset(p + a->ncats, 0, (nc - a->ncats) * sizeof *p);
        a->cats = p;
        a->ncats = nc;
    }
    a->cats[id] += n;
    return VG_OK;
}

static int extremes(const spec_t *sp, acc_t *a, const qv_t *v, int64_t ts)
{
    int rc = VG_OK;
    int fresh = a->n == 1; /* the first value this acc has seen */
    switch (sp->fid) {
    case VG_QF_MIN:
        if (fresh || qv_cmp(v, &a->min) < 0)
            rc = qv_own(&a->min, v);
        break;
    case VG_QF_MAX:
        if (fresh || qv_cmp(v, &a->max) > 0)
            rc = qv_own(&a->max, v);
        break;
    case VG_QF_FIRST:
        if (fresh || ts < a->first_ts) {
            a->first_ts = ts;
            rc = qv_own(&a->first, v);
        }
        break;
    default:
        if (fresh || ts >= a->last_ts) {
            a->last_ts = ts;
            rc = qv_own(&a->last, v);
        }
        break;
    }
    return rc;
}

static inline void welford(acc_t *a, double d)
{
    a->nw++;
    double delta = d - a->mean;
    a->mean += delta / (double)a->nw;
    a->m2 += delta * (d - a->mean);
}

void acc_add_sum(acc_t *a, double sum, uint64_t n)
{
    a->nm += n;
    nsum(&a->sum, &a->comp, sum);
}

int acc_add(exec_t *ex, const spec_t *sp, acc_t *a, const qv_t *v, int64_t ts)
{
    a->rows++;
    if (!v || v->k == QV_NULL)
        return VG_OK;
    a->n++;
    double d = qv_num(v);
    if (v->k != QV_S && d != 0 && !isnan(d))
        a->trues++;
    if (sp->fid == VG_QF_SUM || sp->fid == VG_QF_MEAN || sp->fid == VG_QF_STDDEV) {
        if (isnan(d))
            return VG_OK;
        a->nm++;
        nsum(&a->sum, &a->comp, d);
        if (sp->fid == VG_QF_STDDEV) /* only stddev reads the moments */
            welford(a, d);
    }
    int rc = VG_OK;
    if ((sp->need & ACC_VALS) && !isnan(d)) {
        if ((rc = exec_values(ex, 1)) || (rc = push_vals(a, &d, 1)))
            return rc;
    }
    if ((sp->need & ACC_SKETCH) && !isnan(d) && (rc = vg_sketch_add(&a->sk, d)))
        return rc;
    if ((sp->need & ACC_DISTINCT) && (rc = set_add(a, qv_hash(v))))
        return rc;
    if (sp->need & ACC_CATS) {
        int64_t id = exec_intern(ex, v);
        if (id < 0)
            return (int)id;
        if ((rc = cats_add(a, (size_t)id, 1)))
            return rc;
    }
    if (sp->need & ACC_EXTREME)
        rc = extremes(sp, a, v, ts);
    return rc;
}

int acc_add_same(exec_t *ex, const spec_t *sp, acc_t *a, const qv_t *v, uint32_t i, uint32_t j,
                 const int64_t *ts)
{
    int sums = sp->fid == VG_QF_SUM || sp->fid == VG_QF_MEAN || sp->fid == VG_QF_STDDEV;
    if (v->k == QV_NULL || (!sums && sp->need == 0)) { /* counts only */
        uint64_t k = j - i;
        double d = qv_num(v);
        a->rows += k;
        if (v->k != QV_NULL) {
            a->n += k;
            a->trues += v->k != QV_S && d != 0 && !isnan(d) ? k : 0;
        }
        return VG_OK;
    }
    int rc = VG_OK;
    for (uint32_t r = i; r < j && !rc; r++)
        rc = acc_add(ex, sp, a, v, ts[r]);
    return rc;
}

/* A column's row r as a number (the caller checked it is valid and numeric). */
static inline double col_num(const vg_scan_col_t *col, uint32_t r)
{
    switch (col->type) {
    case VG_TYPE_FLOAT: return col->v.f[r];
    case VG_TYPE_INT: return (double)col->v.i[r];
    case VG_TYPE_UINT: return (double)col->v.u[r];
    default: return col->v.b[r] ? 1.0 : 0.0;
    }
}

/* Bool rows without nulls, for count/rate/count_if/ztest_p: counts only. */
static void add_bools(acc_t *a, const uint8_t *b, uint32_t i, uint32_t j)
{
    uint64_t t = 0;
    for (uint32_t r = i; r < j; r++)
        t += b[r] != 0;
    a->rows += j - i;
    a->n += j - i;
    a->trues += t;
}

int acc_add_col(exec_t *ex, const spec_t *sp, acc_t *a, const vg_scan_col_t *col, uint32_t i,
                uint32_t j, const int64_t *ts)
{
    int num = col->type == VG_TYPE_FLOAT || col->type == VG_TYPE_INT ||
              col->type == VG_TYPE_UINT || col->type == VG_TYPE_BOOL;
    int rc = VG_OK;
    if (!num || (sp->need & ~(unsigned)ACC_VALS)) { /* the general path, row by row */
        for (uint32_t r = i; r < j && !rc; r++) {
            qv_t v;
            eval_col_value(col, r, &v);
            rc = acc_add(ex, sp, a, &v, ts[r]);
        }
        return rc;
    }
    int sums = sp->fid == VG_QF_SUM || sp->fid == VG_QF_MEAN || sp->fid == VG_QF_STDDEV;
    int vals = (sp->need & ACC_VALS) != 0;
    if (col->type == VG_TYPE_BOOL && !col->valid && !sums && !vals) {
        add_bools(a, col->v.b, i, j);
        return VG_OK;
    }
    if (vals && a->nv + (j - i) > a->cv) { /* room for every row: no growth in the loop */
        size_t nc = a->cv ? a->cv : 64;
        while (nc < a->nv + (j - i))
            nc *= 2;
        double *p = vg_realloc(a->vals, nc * sizeof *p);
        if (!p)
            return VG_ENOMEM;
        a->vals = p;
        a->cv = nc;
    }
    uint64_t n = 0, t = 0;
    size_t nv0 = a->nv;
    for (uint32_t r = i; r < j; r++) {
        if (col->valid && !vg_scan_col_valid(col, r))
            continue;
        double d = col_num(col, r);
        n++;
        t += d != 0 && !isnan(d);
        if (isnan(d))
            continue;
        if (sums) {
            a->nm++;
            nsum(&a->sum, &a->comp, d);
            if (sp->fid == VG_QF_STDDEV)
                welford(a, d);
        }
        if (vals)
            a->vals[a->nv++] = d;
    }
    a->rows += j - i;
    a->n += n;
    a->trues += t;
    if (vals && a->nv > nv0)
        rc = exec_values(ex, a->nv - nv0);
    return rc;
}

/* ------------------------------------------------ block statistics */

static int numeric(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT;
}

int acc_stats_usable(const spec_t *sp)
{
    if (sp->fid == VG_QF_COUNT)
        return !sp->arg || sp->field >= 0;
    if (sp->field < 0)
        return 0;
    switch (sp->fid) {
    case VG_QF_SUM:
    case VG_QF_MEAN:
    case VG_QF_MIN:
    case VG_QF_MAX:
    case VG_QF_APPROX_QUANTILE: return numeric(sp->atype);
    case VG_QF_RATE:
    case VG_QF_COUNT_IF:
    case VG_QF_ZTEST_P: return sp->atype == VG_TYPE_BOOL; /* trues: the block's sum_i */
    case VG_QF_N_CUR:
    case VG_QF_N_REF: return 1; /* the block's count of values */
    default: return 0;
    }
}

static qv_t stat_qv(vg_type_t t, const vg_value_t *v)
{
    qv_t q = {0};
    if (t == VG_TYPE_FLOAT)
        q.k = QV_F, q.v.f = v->f;
    else if (t == VG_TYPE_INT)
        q.k = QV_I, q.v.i = v->i;
    else
        q.k = QV_U, q.v.u = v->u;
    return q;
}

int acc_add_block(exec_t *ex, uint32_t chunk, const vg_scan_chunk_t *ci, acc_t *accs)
{
    vg_scan_stats_t st[64];
    int have[64];
    if (ex->nspec > 64)
        return 0;
    for (int i = 0; i < ex->nspec; i++) { /* check every spec first: all or nothing */
        const spec_t *sp = &ex->specs[i];
        have[i] = sp->field >= 0 &&
                  vg_scan_chunk_stats(ex->scan, chunk, (uint32_t)sp->field, &st[i]);
        if (!have[i])
            memset(&st[i], 0, sizeof st[i]);
        if (have[i] && st[i].sum_overflow && (sp->fid == VG_QF_SUM || sp->fid == VG_QF_MEAN))
            return 0;
    }
    for (int i = 0; i < ex->nspec; i++) {
        const spec_t *sp = &ex->specs[i];
        acc_t *a = &accs[i];
        int fresh = a->n == 0;
        a->rows += ci->nrows;
        if (!have[i])
            continue;
        a->n += st[i].count;
        double sum = sp->atype == VG_TYPE_FLOAT ? st[i].sum_f
                     : sp->atype == VG_TYPE_INT ? (double)st[i].sum_i
                                                : (double)st[i].sum_u;
        qv_t mn = stat_qv(sp->atype, &st[i].min), mx = stat_qv(sp->atype, &st[i].max);
        switch (sp->fid) {
        case VG_QF_SUM:
        case VG_QF_MEAN: {
            acc_add_sum(a, sum, st[i].count);
            break;
        }
        case VG_QF_MIN:
            if (st[i].count && (fresh || qv_cmp(&mn, &a->min) < 0))
                a->min = mn;
            break;
        case VG_QF_MAX:
            if (st[i].count && (fresh || qv_cmp(&mx, &a->max) > 0))
                a->max = mx;
            break;
        case VG_QF_RATE:
        case VG_QF_COUNT_IF:
        case VG_QF_ZTEST_P: a->trues += (uint64_t)st[i].sum_i; break;
        case VG_QF_APPROX_QUANTILE:
            if (st[i].count)
                vg_scan_chunk_sketch(ex->scan, chunk, (uint32_t)sp->field, &a->sk, NULL);
            break;
        default: break;
        }
    }
    return 1;
}

/* ------------------------------------------------------------ merging */

int acc_merge(const spec_t *sp, acc_t *dst, const acc_t *src)
{
    int rc = VG_OK;
    if (src->rows == 0 && src->n == 0 && src->sk.count == 0)
        return VG_OK;
    uint64_t n0 = dst->n;
    dst->rows += src->rows;
    dst->n += src->n;
    dst->trues += src->trues;
    dst->nm += src->nm;
    nsum(&dst->sum, &dst->comp, src->sum);
    nsum(&dst->sum, &dst->comp, src->comp);
    if (src->nw) {
        double na = (double)dst->nw, nb = (double)src->nw, nt = na + nb;
        double delta = src->mean - dst->mean;
        dst->m2 += src->m2 + delta * delta * na * nb / nt;
        dst->mean += delta * nb / nt;
        dst->nw += src->nw;
    }
    if (src->nv && (rc = push_vals(dst, src->vals, src->nv)))
        return rc;
    if (src->sk.count && (rc = vg_sketch_merge(&dst->sk, &src->sk)))
        return rc;
    for (size_t i = 0; i < src->cset && !rc; i++)
        if (src->set[i])
            rc = set_add(dst, src->set[i]);
    for (size_t i = 0; i < src->ncats && !rc; i++)
        if (src->cats[i])
            rc = cats_add(dst, i, src->cats[i]);
    if (rc || !(sp->need & ACC_EXTREME) || src->n == 0)
        return rc;
    int fresh = n0 == 0;
    switch (sp->fid) {
    case VG_QF_MIN:
        if (src->min.k && (fresh || qv_cmp(&src->min, &dst->min) < 0))
            rc = qv_own(&dst->min, &src->min);
        break;
    case VG_QF_MAX:
        if (src->max.k && (fresh || qv_cmp(&src->max, &dst->max) > 0))
            rc = qv_own(&dst->max, &src->max);
        break;
    case VG_QF_FIRST:
        if (fresh || src->first_ts < dst->first_ts) {
            dst->first_ts = src->first_ts;
            rc = qv_own(&dst->first, &src->first);
        }
        break;
    default:
        if (fresh || src->last_ts >= dst->last_ts) {
            dst->last_ts = src->last_ts;
            rc = qv_own(&dst->last, &src->last);
        }
        break;
    }
    return rc;
}

static void out_f(qv_t *o, double f)
{
    memset(o, 0, sizeof *o);
    if (!isnan(f) && !isinf(f)) {
        o->k = QV_F;
        o->v.f = f;
    }
}

static void out_i(qv_t *o, uint64_t n)
{
    memset(o, 0, sizeof *o);
    o->k = QV_I;
    o->v.i = (int64_t)n;
}

/* "[lo,hi):n; [lo,hi):n; ..." over equal-width bins of [min, max]. */
static int histogram(exec_t *ex, const spec_t *sp, acc_t *a, qv_t *o)
{
    double lo = a->vals[0], hi = a->vals[0];
    for (size_t i = 1; i < a->nv; i++) {
        lo = a->vals[i] < lo ? a->vals[i] : lo;
        hi = a->vals[i] > hi ? a->vals[i] : hi;
    }
    uint64_t *counts = vg_calloc(sp->bins, sizeof *counts);
    size_t cap = (size_t)sp->bins * 80 + 1, len = 0;
    char *buf = vg_malloc(cap);
    int rc = (!counts || !buf) ? VG_ENOMEM : VG_OK;
    if (!rc)
        rc = vg_stat_histogram(a->vals, a->nv, lo, hi, counts, sp->bins, NULL);
    if (!rc) {
        if (lo == hi)
            lo -= 0.5, hi += 0.5;
        for (unsigned j = 0; j < sp->bins; j++) {
            double e0 = lo + j * (hi - lo) / sp->bins;
            double e1 = j + 1 == sp->bins ? hi : lo + (j + 1) * (hi - lo) / sp->bins;
            len += (size_t)snprintf(buf + len, cap - len, "%s[%.6g,%.6g%c:%" PRIu64, j ? "; " : "",
                                    e0, e1, j + 1 == sp->bins ? ']' : ')', counts[j]);
        }
        memset(o, 0, sizeof *o);
        o->k = QV_S;
        o->s = exec_pool_str(ex, buf, len);
        o->len = (uint32_t)len;
        if (!o->s)
            rc = VG_ENOMEM;
    }
    vg_free(counts);
    vg_free(buf);
    return rc;
}

int acc_final(exec_t *ex, const spec_t *sp, acc_t *a, qv_t *o)
{
    memset(o, 0, sizeof *o);
    switch (sp->fid) {
    case VG_QF_COUNT: out_i(o, sp->arg ? a->n : a->rows); break;
    case VG_QF_COUNT_IF: out_i(o, a->trues); break;
    case VG_QF_COUNT_DISTINCT: out_i(o, a->nset); break;
    case VG_QF_RATE: out_f(o, a->n ? (double)a->trues / (double)a->n : NAN); break;
    case VG_QF_SUM: out_f(o, a->nm ? a->sum + a->comp : NAN); break;
    case VG_QF_MEAN: out_f(o, a->nm ? (a->sum + a->comp) / (double)a->nm : NAN); break;
    case VG_QF_STDDEV: out_f(o, a->nw >= 2 ? sqrt(a->m2 / (double)(a->nw - 1)) : NAN); break;
    case VG_QF_MIN: *o = a->min; break; /* borrowed from a: the caller copies before acc_free */
    case VG_QF_MAX: *o = a->max; break;
    case VG_QF_FIRST: *o = a->first; break;
    case VG_QF_LAST: *o = a->last; break;
    case VG_QF_QUANTILE: {
        if (!a->nv)
            break;
        double *scratch = vg_malloc(a->nv * sizeof *scratch);
        if (!scratch)
            return VG_ENOMEM;
        out_f(o, vg_stat_quantile_select(a->vals, a->nv, sp->q, scratch));
        vg_free(scratch);
        break;
    }
    case VG_QF_APPROX_QUANTILE: out_f(o, a->sk.count ? vg_sketch_quantile(&a->sk, sp->q) : NAN); break;
    case VG_QF_HISTOGRAM: return a->nv ? histogram(ex, sp, a, o) : VG_OK;
    default: break;
    }
    if (o->k == QV_S && (sp->need & ACC_EXTREME)) { /* outlive acc_free */
        o->s = exec_pool_str(ex, o->s, o->len);
        if (!o->s)
            return VG_ENOMEM;
    }
    return VG_OK;
}

int acc_drift(exec_t *ex, const spec_t *sp, acc_t *cur, acc_t *ref, qv_t *o)
{
    (void)ex;
    memset(o, 0, sizeof *o);
    if (sp->fid == VG_QF_N_CUR || sp->fid == VG_QF_N_REF) {
        out_i(o, sp->fid == VG_QF_N_CUR ? cur->n : ref->n);
        return VG_OK;
    }
    if (sp->fid == VG_QF_ZTEST_P) {
        out_f(o, vg_stat_ztest_p(cur->trues, cur->n, ref->trues, ref->n));
        return VG_OK;
    }
    if (sp->need & ACC_CATS) {
        size_t k = cur->ncats > ref->ncats ? cur->ncats : ref->ncats;
        if (!k || cats_add(cur, k - 1, 0) || cats_add(ref, k - 1, 0)) /* align lengths */
            return k ? VG_ENOMEM : VG_OK;
        double r = sp->fid == VG_QF_CHI2_P ? vg_stat_chi2_p(ref->cats, cur->cats, k)
                   : sp->fid == VG_QF_JS   ? vg_stat_js_counts(ref->cats, cur->cats, k)
                                           : vg_stat_psi_counts(ref->cats, cur->cats, k);
        out_f(o, r);
        return VG_OK;
    }
    if (!cur->nv || !ref->nv)
        return VG_OK;
    int rc = vg_stat_sort(ref->vals, ref->nv, NULL);
    if (!rc && sp->fid != VG_QF_PSI && sp->fid != VG_QF_JS)
        rc = vg_stat_sort(cur->vals, cur->nv, NULL);
    if (rc)
        return rc;
    double r;
    switch (sp->fid) {
    case VG_QF_KS: r = vg_stat_ks(cur->vals, cur->nv, ref->vals, ref->nv); break;
    case VG_QF_KS_P:
        r = vg_stat_ks_p(vg_stat_ks(cur->vals, cur->nv, ref->vals, ref->nv), cur->nv, ref->nv);
        break;
    case VG_QF_WASSERSTEIN:
        r = vg_stat_wasserstein(cur->vals, cur->nv, ref->vals, ref->nv);
        break;
    case VG_QF_PSI: r = vg_stat_psi(ref->vals, ref->nv, cur->vals, cur->nv); break;
    case VG_QF_JS: r = vg_stat_js(ref->vals, ref->nv, cur->vals, cur->nv); break;
    default: r = NAN; break;
    }
    out_f(o, r);
    return VG_OK;
}
