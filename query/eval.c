/*
 * eval.c: evaluating compiled expressions, over one row of a chunk (WHERE,
 * aggregate arguments, raw rows) or over one group and window (SELECT items
 * of an aggregation: aggregates, baselines, drift).
 *
 * Null semantics, SQL's: null propagates through arithmetic and scalar
 * functions (coalesce, greatest and least skip nulls); a comparison with a
 * null is null, AND/OR are three-valued (false AND null = false, true OR
 * null = true), and a predicate that is null counts as false in WHERE
 * (eval_pred) and is skipped by rate(), count_if() and ztest_p().
 */
#include <math.h>
#include <string.h>

#include "exec_int.h"
#include "stats.h"
#include "vigil/vg_alloc.h"

double qv_num(const qv_t *v)
{
    switch (v->k) {
    case QV_F: return v->v.f;
    case QV_I: return (double)v->v.i;
    case QV_U: return (double)v->v.u;
    case QV_B: return v->v.b ? 1.0 : 0.0;
    default: return NAN;
    }
}

int qv_cmp(const qv_t *a, const qv_t *b)
{
    if (a->k == QV_S || b->k == QV_S) {
        if (a->k != b->k)
            return a->k == QV_S ? 1 : -1;
        uint32_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->s, b->s, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    if (a->k == QV_I && b->k == QV_I)
        return a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
    if (a->k == QV_U && b->k == QV_U)
        return a->v.u < b->v.u ? -1 : a->v.u > b->v.u;
    double x = qv_num(a), y = qv_num(b);
    return x < y ? -1 : x > y;
}

uint64_t qv_hash(const qv_t *v)
{
    uint64_t h = 1469598103934665603ull;
    if (v->k == QV_S) {
        for (uint32_t i = 0; i < v->len; i++)
            h = (h ^ (unsigned char)v->s[i]) * 1099511628211ull;
        return h ^ 0x5bd1e995u;
    }
    double d = qv_num(v);
    if (d == 0)
        d = 0; /* -0.0 and +0.0 are one value */
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits ^= bits >> 33;
    bits *= 0xff51afd7ed558ccdull;
    bits ^= bits >> 33;
    bits *= 0xc4ceb9fe1a85ec53ull;
    return bits ^ (bits >> 33);
}

static void set_null(qv_t *o)
{
    memset(o, 0, sizeof *o);
}

static void set_f(qv_t *o, double f)
{
    set_null(o);
    if (isnan(f))
        return;
    o->k = QV_F;
    o->v.f = f;
}

static void set_b(qv_t *o, int b)
{
    set_null(o);
    o->k = QV_B;
    o->v.b = b != 0;
}

void eval_col_value(const vg_scan_col_t *col, uint32_t row, qv_t *o)
{
    set_null(o);
    if (!vg_scan_col_valid(col, row))
        return;
    switch (col->type) {
    case VG_TYPE_FLOAT: o->k = QV_F, o->v.f = col->v.f[row]; break;
    case VG_TYPE_INT: o->k = QV_I, o->v.i = col->v.i[row]; break;
    case VG_TYPE_UINT: o->k = QV_U, o->v.u = col->v.u[row]; break;
    case VG_TYPE_BOOL: o->k = QV_B, o->v.b = col->v.b[row] != 0; break;
    case VG_TYPE_STRING:
        o->k = QV_S;
        o->s = col->sdata + col->soffs[row];
        o->len = col->soffs[row + 1] - col->soffs[row];
        break;
    default: break;
    }
}

static int read_field(const evctx_t *c, int f, qv_t *o)
{
    eval_col_value(&c->cols[f], c->row, o);
    return VG_OK;
}

int qv_arith(vg_q_op_t op, const qv_t *a, const qv_t *b, qv_t *o)
{
    set_null(o);
    if (a->k == QV_NULL || b->k == QV_NULL || a->k == QV_S || b->k == QV_S)
        return VG_OK;
    if (a->k == QV_I && b->k == QV_I && op != VG_QO_DIV) {
        int64_t r;
        int ovf = op == VG_QO_ADD   ? __builtin_add_overflow(a->v.i, b->v.i, &r)
                  : op == VG_QO_SUB ? __builtin_sub_overflow(a->v.i, b->v.i, &r)
                                    : __builtin_mul_overflow(a->v.i, b->v.i, &r);
        if (!ovf) {
            o->k = QV_I;
            o->v.i = r;
            return VG_OK;
        }
    }
    double x = qv_num(a), y = qv_num(b), r;
    switch (op) {
    case VG_QO_ADD: r = x + y; break;
    case VG_QO_SUB: r = x - y; break;
    case VG_QO_MUL: r = x * y; break;
    default: r = y == 0 ? NAN : x / y; break; /* division by zero: null */
    }
    set_f(o, r);
    return VG_OK;
}

int qv_compare(vg_q_op_t op, const qv_t *a, const qv_t *b, qv_t *o)
{
    set_null(o);
    if (a->k == QV_NULL || b->k == QV_NULL)
        return VG_OK;
    if ((a->k == QV_S) != (b->k == QV_S)) { /* string against number: only != holds */
        set_b(o, op == VG_QO_NE);
        return VG_OK;
    }
    if (a->k != QV_S && (isnan(qv_num(a)) || isnan(qv_num(b))))
        return VG_OK;
    int c = qv_cmp(a, b), r;
    switch (op) {
    case VG_QO_EQ: r = c == 0; break;
    case VG_QO_NE: r = c != 0; break;
    case VG_QO_LT: r = c < 0; break;
    case VG_QO_LE: r = c <= 0; break;
    case VG_QO_GT: r = c > 0; break;
    default: r = c >= 0; break;
    }
    set_b(o, r);
    return VG_OK;
}

/* 1 true, 0 false, -1 null */
int qv_truth(const qv_t *v)
{
    if (v->k == QV_NULL)
        return -1;
    if (v->k == QV_S)
        return v->len > 0;
    double d = qv_num(v);
    return isnan(d) ? -1 : d != 0;
}

static int eval_logic(evctx_t *c, const cx_t *x, qv_t *o)
{
    qv_t a, b;
    int rc = eval(c, x->kids[0], &a);
    if (rc)
        return rc;
    int ta = qv_truth(&a), and = x->op == VG_QO_AND;
    if ((and && ta == 0) || (!and && ta == 1)) { /* short circuit */
        set_b(o, ta);
        return VG_OK;
    }
    if ((rc = eval(c, x->kids[1], &b)))
        return rc;
    int tb = qv_truth(&b);
    if ((and && tb == 0) || (!and && tb == 1))
        set_b(o, tb);
    else if (ta < 0 || tb < 0)
        set_null(o);
    else
        set_b(o, and);
    return VG_OK;
}

static int eval_regex(evctx_t *c, const cx_t *x, qv_t *o)
{
    qv_t a;
    int rc = eval(c, x->kids[0], &a);
    set_null(o);
    if (rc || a.k != QV_S)
        return rc;
    char *heap = NULL;
    const char *s = a.s;
    if (s[a.len] != '\0' || memchr(s, 0, a.len)) { /* field bytes are not terminated */
        char *buf = a.len < sizeof c->tmp ? c->tmp : (heap = vg_malloc((size_t)a.len + 1));
        if (!buf)
            return VG_ENOMEM;
        memcpy(buf, a.s, a.len);
        buf[a.len] = '\0';
        s = buf;
    }
    int m = regexec(x->src->u.rx.re, s, 0, NULL, 0) == 0;
    vg_free(heap);
    set_b(o, m != x->negate);
    return VG_OK;
}

static int eval_in(evctx_t *c, const cx_t *x, qv_t *o)
{
    qv_t a, b, eq;
    int rc = eval(c, x->kids[0], &a);
    set_null(o);
    if (rc || a.k == QV_NULL)
        return rc;
    int found = 0;
    for (int i = 1; i < x->nkids && !found; i++) {
        if ((rc = eval(c, x->kids[i], &b)))
            return rc;
        qv_compare(VG_QO_EQ, &a, &b, &eq);
        found = eq.k == QV_B && eq.v.b;
    }
    set_b(o, found != x->negate);
    return VG_OK;
}

static int eval_scalar(evctx_t *c, const cx_t *x, qv_t *o)
{
    qv_t a;
    int rc;
    set_null(o);
    if (x->fid == VG_QF_COALESCE || x->fid == VG_QF_GREATEST || x->fid == VG_QF_LEAST) {
        for (int i = 0; i < x->nkids; i++) {
            if ((rc = eval(c, x->kids[i], &a)))
                return rc;
            if (a.k == QV_NULL)
                continue;
            if (x->fid == VG_QF_COALESCE) {
                *o = a;
                return VG_OK;
            }
            int cmp = o->k == QV_NULL ? 0 : qv_cmp(&a, o);
            if (o->k == QV_NULL || (x->fid == VG_QF_GREATEST ? cmp > 0 : cmp < 0))
                *o = a;
        }
        return VG_OK;
    }
    if ((rc = eval(c, x->kids[0], &a)))
        return rc;
    double d = qv_num(&a), r;
    if (isnan(d))
        return VG_OK;
    switch (x->fid) {
    case VG_QF_ABS: r = fabs(d); break;
    case VG_QF_SQRT: r = d < 0 ? NAN : sqrt(d); break;
    case VG_QF_LN: r = d <= 0 ? NAN : log(d); break;
    case VG_QF_LOG10: r = d <= 0 ? NAN : log10(d); break;
    case VG_QF_EXP: r = exp(d); break;
    case VG_QF_ROUND: {
        double digits = 0;
        if (x->nkids > 1) {
            qv_t b;
            if ((rc = eval(c, x->kids[1], &b)))
                return rc;
            digits = qv_num(&b);
            if (isnan(digits))
                return VG_OK;
        }
        double m = pow(10, digits);
        r = round(d * m) / m;
        break;
    }
    case VG_QF_FLOOR: r = floor(d); break;
    case VG_QF_CEIL: r = ceil(d); break;
    default: r = NAN; break;
    }
    set_f(o, isinf(r) ? NAN : r);
    return VG_OK;
}

/* The reference span of a drift function for the window cur. */
span_t exec_ref_span(const exec_t *ex, span_t cur)
{
    const vg_q_stmt_t *st = ex->st;
    span_t r = cur;
    int64_t d = 7 * 86400 * VG_NS_PER_SEC;
    switch (st->against.kind) {
    case VG_QA_PREVIOUS: d = st->against.span.ns; /* fall through */
    case VG_QA_NONE: r.a = cur.a - d, r.b = cur.a; break;
    case VG_QA_OFFSET: r.a = cur.a - st->against.span.ns, r.b = cur.b - st->against.span.ns; break;
    case VG_QA_BETWEEN:
        r.a = st->against.start.kind == VG_QTM_NOW ? ex->now + st->against.start.ns
                                                   : st->against.start.ns;
        r.b = st->against.end.kind == VG_QTM_NOW ? ex->now + st->against.end.ns
                                                 : st->against.end.ns;
        if (r.b < r.a)
            r.b = r.a;
        break;
    case VG_QA_WHERE: break;
    }
    return r;
}

size_t exec_base_spans(const cx_t *x, span_t cur, span_t *out, size_t cap)
{
    size_t n = 0;
    if (x->fid == VG_QF_ZSCORE) {
        int64_t len = cur.b - cur.a;
        int64_t k = len > 0 ? x->d_ns / len : 0;
        for (int64_t i = 1; i <= k; i++, n++)
            if (n < cap)
                out[n] = (span_t){cur.a - i * len, cur.a - (i - 1) * len};
    } else if (x->p_ns > 0) {
        int64_t k = x->d_ns / x->p_ns;
        for (int64_t i = 1; i <= k; i++, n++)
            if (n < cap)
                out[n] = (span_t){cur.a - i * x->p_ns, cur.b - i * x->p_ns};
    } else {
        if (cap)
            out[0] = (span_t){cur.a - x->d_ns, cur.a};
        n = 1;
    }
    return n;
}

static int eval_over(evctx_t *c, const cx_t *x, span_t s, qv_t *o)
{
    span_t save = c->cur;
    c->cur = s;
    int rc = eval(c, x, o);
    c->cur = save;
    return rc;
}

static int eval_base(evctx_t *c, const cx_t *x, qv_t *o)
{
    set_null(o);
    size_t n = exec_base_spans(x, c->cur, NULL, 0);
    span_t *sp = vg_malloc((n ? n : 1) * sizeof *sp);
    double *v = vg_malloc((n ? n : 1) * sizeof *v);
    int rc = (!sp || !v) ? VG_ENOMEM : VG_OK;
    if (!rc)
        exec_base_spans(x, c->cur, sp, n);
    for (size_t i = 0; i < n && !rc; i++) {
        qv_t a;
        rc = eval_over(c, x->kids[0], sp[i], &a);
        v[i] = qv_num(&a);
    }
    if (!rc) {
        if (x->fid == VG_QF_ZSCORE) {
            qv_t cur;
            rc = eval(c, x->kids[0], &cur);
            if (!rc)
                set_f(o, vg_stat_zscore(qv_num(&cur), v, n));
        } else {
            set_f(o, vg_stat_median_skip_null(v, n));
        }
    }
    vg_free(sp);
    vg_free(v);
    return rc;
}

static int eval_agg(evctx_t *c, const cx_t *x, qv_t *o)
{
    exec_t *ex = c->ex;
    const spec_t *sp = &ex->specs[x->idx];
    acc_t cur, ref;
    acc_init(&cur);
    acc_init(&ref);
    int rc = exec_merge_span(ex, c->g, 0, x->idx, c->cur, &cur);
    if (!rc && x->kind == CX_DRIFT)
        rc = exec_merge_span(ex, c->g, ex->npop - 1, x->idx, exec_ref_span(ex, c->cur), &ref);
    if (!rc)
        rc = x->kind == CX_DRIFT ? acc_drift(ex, sp, &cur, &ref, o) : acc_final(ex, sp, &cur, o);
    acc_free(&cur);
    acc_free(&ref);
    return rc;
}

int eval(evctx_t *c, const cx_t *x, qv_t *o)
{
    qv_t a, b;
    int rc;
    switch (x->kind) {
    case CX_CONST: *o = x->cval; return VG_OK;
    case CX_FIELD: return read_field(c, x->idx, o);
    case CX_TAG:
        set_null(o);
        if (c->g) {
            if (x->gidx >= 0)
                *o = c->g->vals[x->gidx];
            return VG_OK;
        }
        o->s = vg_scan_series_tag(c->ex->scan, c->series, (uint32_t)x->idx);
        if (o->s) {
            o->k = QV_S;
            o->len = (uint32_t)strlen(o->s);
        }
        return VG_OK;
    case CX_TIME:
        set_null(o);
        o->k = QV_I;
        o->v.i = c->g ? c->ws : c->ts;
        return VG_OK;
    case CX_UN:
        if ((rc = eval(c, x->kids[0], &a)))
            return rc;
        if (x->op == VG_QO_NOT) {
            int t = qv_truth(&a);
            if (t < 0)
                set_null(o);
            else
                set_b(o, !t);
        } else if (a.k == QV_I && a.v.i != INT64_MIN) {
            *o = a;
            o->v.i = -a.v.i;
        } else {
            set_f(o, -qv_num(&a));
        }
        return VG_OK;
    case CX_BIN:
        if (x->op == VG_QO_AND || x->op == VG_QO_OR)
            return eval_logic(c, x, o);
        if ((rc = eval(c, x->kids[0], &a)) || (rc = eval(c, x->kids[1], &b)))
            return rc;
        return x->op >= VG_QO_EQ ? qv_compare(x->op, &a, &b, o) : qv_arith(x->op, &a, &b, o);
    case CX_REGEX: return eval_regex(c, x, o);
    case CX_IN: return eval_in(c, x, o);
    case CX_ISNULL:
        if ((rc = eval(c, x->kids[0], &a)))
            return rc;
        set_b(o, (a.k == QV_NULL) != x->negate);
        return VG_OK;
    case CX_SCALAR: return eval_scalar(c, x, o);
    case CX_AGG:
    case CX_DRIFT: return eval_agg(c, x, o);
    case CX_BASE: return eval_base(c, x, o);
    }
    return VG_EINVAL;
}

int eval_pred(evctx_t *c, const cx_t *x, int *out)
{
    qv_t v;
    int rc = eval(c, x, &v);
    *out = !rc && qv_truth(&v) == 1;
    return rc;
}
