/*
 * expr_eval.c: a standalone expression (a runbook's `when:`) evaluated over
 * one row of a query's result.
 *
 * The tree is walked directly: these expressions are a handful of nodes run
 * once per group and evaluation, so compiling them as the executor does
 * would buy nothing. The semantics are the executor's (qv_arith,
 * qv_compare, qv_truth): SQL's nulls, division by zero is null, and a
 * comparison with null is null, which a test treats as false.
 */
#include <math.h>
#include <string.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"

typedef struct rowctx {
    const vg_result_t *r;
    size_t row;
    vg_q_error_t *err;
} rowctx_t;

static int walk(rowctx_t *c, const vg_q_expr_t *e, qv_t *o);

static void qv_null(qv_t *o)
{
    memset(o, 0, sizeof *o);
}

static void qv_bool(qv_t *o, int b)
{
    qv_null(o);
    o->k = QV_B;
    o->v.b = b != 0;
}

/* A visible column by name; picture columns are the table's business only. */
static long find_col(const vg_result_t *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (!r->cols[i].picture && strcmp(r->cols[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int ref(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    qv_null(o);
    long col = find_col(c->r, e->u.ref.name);
    if (col < 0)
        return vg_q_error_set(c->err, VG_ENOTFOUND, e->line, e->column,
                              "unknown column '%s' in the query's result", e->u.ref.name);
    const vg_value_t *v = vg_result_cell(c->r, c->row, (size_t)col);
    if (!v)
        return VG_OK;
    switch (c->r->cols[col].type) {
    case VG_TYPE_FLOAT:
        if (!isnan(v->f))
            o->k = QV_F, o->v.f = v->f;
        break;
    case VG_TYPE_INT:
    case VG_TYPE_TIME: o->k = QV_I, o->v.i = v->i; break;
    case VG_TYPE_UINT: o->k = QV_U, o->v.u = v->u; break;
    case VG_TYPE_BOOL: o->k = QV_B, o->v.b = v->b != 0; break;
    default:
        o->k = QV_S;
        o->s = v->s.p ? v->s.p : "";
        o->len = v->s.len;
        break;
    }
    return VG_OK;
}

static int logic(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    qv_t a, b;
    int rc = walk(c, e->u.bin.a, &a), and = e->u.bin.op == VG_QO_AND;
    if (rc)
        return rc;
    int ta = qv_truth(&a);
    if ((and && ta == 0) || (!and && ta == 1)) {
        qv_bool(o, ta);
        return VG_OK;
    }
    if ((rc = walk(c, e->u.bin.b, &b)))
        return rc;
    int tb = qv_truth(&b);
    if ((and && tb == 0) || (!and && tb == 1))
        qv_bool(o, tb);
    else if (ta < 0 || tb < 0)
        qv_null(o);
    else
        qv_bool(o, and);
    return VG_OK;
}

static int unary(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    qv_t a;
    int rc = walk(c, e->u.un.a, &a);
    qv_null(o);
    if (rc || a.k == QV_NULL)
        return rc;
    if (e->u.un.op == VG_QO_NOT) {
        int t = qv_truth(&a);
        if (t >= 0)
            qv_bool(o, !t);
        return VG_OK;
    }
    if (a.k == QV_I && a.v.i != INT64_MIN)
        o->k = QV_I, o->v.i = -a.v.i;
    else if (a.k != QV_S && !isnan(qv_num(&a)))
        o->k = QV_F, o->v.f = -qv_num(&a);
    return VG_OK;
}

static int in_list(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    qv_t a, b, eq;
    int rc = walk(c, e->u.in.a, &a), found = 0;
    qv_null(o);
    if (rc || a.k == QV_NULL)
        return rc;
    for (int i = 0; i < e->u.in.n && !found; i++) {
        if ((rc = walk(c, e->u.in.list[i], &b)))
            return rc;
        qv_compare(VG_QO_EQ, &a, &b, &eq);
        found = eq.k == QV_B && eq.v.b;
    }
    qv_bool(o, found != e->u.in.negate);
    return VG_OK;
}

static int regex(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    qv_t a;
    int rc = walk(c, e->u.rx.a, &a);
    qv_null(o);
    if (rc || a.k != QV_S)
        return rc;
    /* result strings are NUL-terminated copies (vg_result_set) */
    qv_bool(o, (regexec(e->u.rx.re, a.s, 0, NULL, 0) == 0) != e->u.rx.negate);
    return VG_OK;
}

static double math1(vg_q_fid_t id, double d, double digits)
{
    switch (id) {
    case VG_QF_ABS: return fabs(d);
    case VG_QF_SQRT: return d < 0 ? NAN : sqrt(d);
    case VG_QF_LN: return d <= 0 ? NAN : log(d);
    case VG_QF_LOG10: return d <= 0 ? NAN : log10(d);
    case VG_QF_EXP: return exp(d);
    case VG_QF_ROUND: return round(d * pow(10, digits)) / pow(10, digits);
    case VG_QF_FLOOR: return floor(d);
    case VG_QF_CEIL: return ceil(d);
    default: return NAN;
    }
}

static int call(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    vg_q_fid_t id = e->u.call.fn->id;
    qv_t a, b;
    int rc;
    qv_null(o);
    if (id == VG_QF_COALESCE || id == VG_QF_GREATEST || id == VG_QF_LEAST) {
        for (int i = 0; i < e->u.call.nargs; i++) {
            if ((rc = walk(c, e->u.call.args[i], &a)))
                return rc;
            if (a.k == QV_NULL)
                continue;
            if (id == VG_QF_COALESCE) {
                *o = a;
                return VG_OK;
            }
            int cmp = o->k == QV_NULL ? 0 : qv_cmp(&a, o);
            if (o->k == QV_NULL || (id == VG_QF_GREATEST ? cmp > 0 : cmp < 0))
                *o = a;
        }
        return VG_OK;
    }
    if (e->u.call.fn->kind != VG_QF_SCALAR || e->u.call.nargs < 1)
        return vg_q_error_set(c->err, VG_EINVAL, e->line, e->column,
                              "%s() cannot be used over a result's columns", e->u.call.fn->name);
    if ((rc = walk(c, e->u.call.args[0], &a)))
        return rc;
    double digits = 0;
    if (e->u.call.nargs > 1) {
        if ((rc = walk(c, e->u.call.args[1], &b)))
            return rc;
        digits = qv_num(&b);
    }
    double d = qv_num(&a), r = math1(id, d, digits);
    if (!isnan(r) && !isinf(r))
        o->k = QV_F, o->v.f = r;
    return VG_OK;
}

static int walk(rowctx_t *c, const vg_q_expr_t *e, qv_t *o)
{
    qv_t a, b;
    int rc;
    qv_null(o);
    switch (e->kind) {
    case VG_QE_NUM:
        if (e->u.num.is_int)
            o->k = QV_I, o->v.i = e->u.num.i;
        else
            o->k = QV_F, o->v.f = e->u.num.f;
        return VG_OK;
    case VG_QE_STR:
        o->k = QV_S, o->s = e->u.str.s, o->len = (uint32_t)e->u.str.len;
        return VG_OK;
    case VG_QE_BOOL: qv_bool(o, e->u.b); return VG_OK;
    case VG_QE_NULL: return VG_OK;
    case VG_QE_DURATION: /* a duration compares as seconds, like latency_s */
        o->k = QV_F, o->v.f = (double)e->u.dur.ns / 1e9;
        return VG_OK;
    case VG_QE_REF: return ref(c, e, o);
    case VG_QE_UNARY: return unary(c, e, o);
    case VG_QE_BINARY:
        if (e->u.bin.op == VG_QO_AND || e->u.bin.op == VG_QO_OR)
            return logic(c, e, o);
        if ((rc = walk(c, e->u.bin.a, &a)) || (rc = walk(c, e->u.bin.b, &b)))
            return rc;
        return e->u.bin.op >= VG_QO_EQ ? qv_compare(e->u.bin.op, &a, &b, o)
                                       : qv_arith(e->u.bin.op, &a, &b, o);
    case VG_QE_REGEX: return regex(c, e, o);
    case VG_QE_IN: return in_list(c, e, o);
    case VG_QE_ISNULL:
        if ((rc = walk(c, e->u.isnull.a, &a)))
            return rc;
        qv_bool(o, (a.k == QV_NULL) != e->u.isnull.negate);
        return VG_OK;
    case VG_QE_CALL: return call(c, e, o);
    }
    return VG_OK;
}

int vg_q_expr_eval(const vg_q_expr_t *e, const vg_result_t *r, size_t row, double *num, int *truth,
                   vg_q_error_t *err)
{
    rowctx_t c = {r, row, err};
    qv_t v;
    int rc = walk(&c, e, &v);
    if (rc)
        return rc;
    if (num)
        *num = v.k == QV_S || v.k == QV_NULL ? NAN : qv_num(&v);
    if (truth)
        *truth = qv_truth(&v) == 1;
    return VG_OK;
}
