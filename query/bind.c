/*
 * bind.c: names to schema, and the statement's expressions compiled into
 * the executor's cx_t trees.
 *
 * Every field, tag and `time` reference is checked against the scan's
 * snapshot of the table first, so that an unknown name is reported at its
 * position with a suggestion before any data is read. Compiling then gives
 * each leaf its field or tag index and each aggregate or drift call an
 * accumulator spec (ex->specs). Invariant: cx_t nodes are vg_malloc'd and
 * freed by bind_free; their strings point into the statement's arena.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"

/* ------------------------------------------------------------- names */

static int check_ref(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column)
{
    exec_t *ex = ctx;
    (void)role;
    if (strcmp(name, "time") == 0 || vg_scan_field_find(ex->scan, name) >= 0 ||
        vg_scan_tag_find(ex->scan, name) >= 0)
        return 0;
    uint32_t nf = vg_scan_nfields(ex->scan), nt = vg_scan_ntags(ex->scan);
    const char **cand = vg_malloc((nf + nt + 1) * sizeof *cand);
    const char *sugg = NULL;
    if (cand) {
        size_t n = 0;
        for (uint32_t i = 0; i < nf; i++)
            cand[n++] = vg_scan_field_name(ex->scan, i);
        for (uint32_t i = 0; i < nt; i++)
            cand[n++] = vg_scan_tag_name(ex->scan, i);
        cand[n++] = "time";
        sugg = vg_q_suggest(name, cand, n);
    }
    if (sugg)
        vg_q_error_set(ex->err, VG_ENOTFOUND, line, column,
                       "unknown field '%s' in table %s (did you mean '%s'?)", name, ex->st->table,
                       sugg);
    else
        vg_q_error_set(ex->err, VG_ENOTFOUND, line, column, "unknown field '%s' in table %s", name,
                       ex->st->table);
    vg_free(cand);
    return VG_ENOTFOUND;
}

int bind_check_names(exec_t *ex)
{
    int rc = vg_q_refs(ex->st, check_ref, ex);
    return rc ? VG_ENOTFOUND : VG_OK;
}

/* ----------------------------------------------------------- compiling */

static cx_t *node(exec_t *ex, cx_kind_t k, const vg_q_expr_t *src, int nkids)
{
    cx_t *x = vg_calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->kind = k;
    x->src = src;
    x->idx = x->gidx = -1;
    x->nkids = nkids;
    if (nkids && !(x->kids = vg_calloc((size_t)nkids, sizeof *x->kids))) {
        vg_free(x);
        return NULL;
    }
    (void)ex;
    return x;
}

static void cx_free(cx_t *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->nkids; i++)
        cx_free(x->kids[i]);
    vg_free(x->kids);
    vg_free(x);
}

static int nomem(exec_t *ex)
{
    return vg_q_error_set(ex->err, VG_ENOMEM, 0, 0, "out of memory compiling the query");
}

static int const_num(const vg_q_expr_t *e, double *out)
{
    if (e->kind == VG_QE_NUM) {
        *out = e->u.num.f;
        return 1;
    }
    if (e->kind == VG_QE_DURATION) {
        *out = (double)e->u.dur.ns;
        return 1;
    }
    if (e->kind == VG_QE_UNARY && e->u.un.op == VG_QO_NEG && const_num(e->u.un.a, out)) {
        *out = -*out;
        return 1;
    }
    return 0;
}

static int compile(exec_t *ex, const vg_q_expr_t *e, int agg, cx_t **out);

static int add_spec(exec_t *ex, const vg_q_expr_t *e, int *idx)
{
    if (ex->nspec == ex->cspec) {
        int nc = ex->cspec ? 2 * ex->cspec : 8;
        spec_t *ns = vg_realloc(ex->specs, (size_t)nc * sizeof *ns);
        if (!ns)
            return nomem(ex);
        ex->specs = ns;
        ex->cspec = nc;
    }
    spec_t *sp = &ex->specs[ex->nspec];
    memset(sp, 0, sizeof *sp);
    const vg_q_func_t *fn = e->u.call.fn;
    sp->fid = fn->id;
    sp->src = e;
    sp->field = -1;
    sp->drift = fn->kind == VG_QF_DRIFT;
    *idx = ex->nspec++;
    if (e->u.call.nargs > 0 && !e->u.call.star) {
        const vg_q_expr_t *a0 = e->u.call.args[0];
        cx_t *arg;
        int rc = compile(ex, a0, 0, &arg);
        if (rc)
            return rc;
        sp = &ex->specs[*idx]; /* compile may have grown specs (it cannot: no nesting) */
        sp->arg = arg;
        sp->atype = arg->type;
        if (arg->kind == CX_FIELD)
            sp->field = arg->idx;
    }
    double v = 0;
    if (sp->fid == VG_QF_QUANTILE || sp->fid == VG_QF_APPROX_QUANTILE) {
        sp->q = fn->q;
        if (fn->q < 0) {
            if (e->u.call.nargs < 2 || !const_num(e->u.call.args[1], &v) || !(v >= 0 && v <= 1))
                return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column,
                                      "%s: the quantile must be a number in [0, 1]", fn->name);
            sp->q = v;
        }
    }
    if (sp->fid == VG_QF_HISTOGRAM) {
        if (e->u.call.nargs < 2 || !const_num(e->u.call.args[1], &v) || !(v >= 1 && v <= 1000))
            return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column,
                                  "histogram: bins must be a number from 1 to 1000");
        sp->bins = (unsigned)v;
    }
    int cat = sp->atype == VG_TYPE_TAG || sp->atype == VG_TYPE_STRING || sp->atype == VG_TYPE_BOOL;
    switch (sp->fid) {
    case VG_QF_QUANTILE:
    case VG_QF_HISTOGRAM:
    case VG_QF_KS:
    case VG_QF_KS_P:
    case VG_QF_WASSERSTEIN: sp->need = ACC_VALS; break;
    case VG_QF_APPROX_QUANTILE: sp->need = ACC_SKETCH; break;
    case VG_QF_COUNT_DISTINCT: sp->need = ACC_DISTINCT; break;
    case VG_QF_MIN:
    case VG_QF_MAX:
    case VG_QF_FIRST:
    case VG_QF_LAST: sp->need = ACC_EXTREME; break;
    case VG_QF_PSI:
    case VG_QF_JS: sp->need = cat ? ACC_CATS : ACC_VALS; break;
    case VG_QF_CHI2_P: sp->need = ACC_CATS; break;
    default: break;
    }
    return VG_OK;
}

static vg_type_t agg_type(const spec_t *sp)
{
    switch (sp->fid) {
    case VG_QF_COUNT:
    case VG_QF_COUNT_DISTINCT:
    case VG_QF_COUNT_IF:
    case VG_QF_N_CUR:
    case VG_QF_N_REF: return VG_TYPE_INT;
    case VG_QF_HISTOGRAM: return VG_TYPE_STRING;
    case VG_QF_MIN:
    case VG_QF_MAX:
    case VG_QF_FIRST:
    case VG_QF_LAST:
        return sp->atype == VG_TYPE_TAG || sp->atype == VG_TYPE_TIME ? (sp->atype == VG_TYPE_TAG
                                                                            ? VG_TYPE_STRING
                                                                            : VG_TYPE_TIME)
                                                                      : sp->atype;
    default: return VG_TYPE_FLOAT;
    }
}

static int compile_ref(exec_t *ex, const vg_q_expr_t *e, int agg, cx_t **out)
{
    const char *name = e->u.ref.name;
    int f = vg_scan_field_find(ex->scan, name), t = vg_scan_tag_find(ex->scan, name);
    cx_t *x;
    if (f < 0 && t < 0 && strcmp(name, "time") == 0) {
        if (!(x = node(ex, CX_TIME, e, 0)))
            return nomem(ex);
        x->type = VG_TYPE_TIME;
        *out = x;
        return VG_OK;
    }
    if (f >= 0 && !agg) {
        if (!(x = node(ex, CX_FIELD, e, 0)))
            return nomem(ex);
        x->idx = f;
        x->type = vg_scan_field_type(ex->scan, (uint32_t)f);
        ex->field_used[f] = 1;
        *out = x;
        return VG_OK;
    }
    if (t >= 0) {
        if (!(x = node(ex, CX_TAG, e, 0)))
            return nomem(ex);
        x->idx = t;
        x->type = VG_TYPE_TAG;
        for (int g = 0; g < ex->st->ngroups; g++) {
            const vg_q_expr_t *ge = ex->st->groups[g];
            if (ge->kind == VG_QE_REF && strcmp(ge->u.ref.name, name) == 0)
                x->gidx = g;
        }
        *out = x;
        if (agg && x->gidx < 0)
            return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column,
                                  "tag '%s' must be a BY group or inside an aggregate", name);
        return VG_OK;
    }
    return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column,
                          "field '%s' must be inside an aggregate", name);
}

static int compile_kids(exec_t *ex, cx_t *x, vg_q_expr_t *const *args, int n, int agg)
{
    for (int i = 0; i < n; i++) {
        int rc = compile(ex, args[i], agg, &x->kids[i]);
        if (rc)
            return rc;
    }
    return VG_OK;
}

static int compile_call(exec_t *ex, const vg_q_expr_t *e, int agg, cx_t **out)
{
    const vg_q_func_t *fn = e->u.call.fn;
    cx_t *x;
    int rc;
    switch (fn->kind) {
    case VG_QF_AGGREGATE:
    case VG_QF_DRIFT:
        if (!(x = node(ex, fn->kind == VG_QF_DRIFT ? CX_DRIFT : CX_AGG, e, 0)))
            return nomem(ex);
        *out = x;
        x->fid = fn->id;
        if ((rc = add_spec(ex, e, &x->idx)))
            return rc;
        x->type = agg_type(&ex->specs[x->idx]);
        return VG_OK;
    case VG_QF_BASELINE: {
        if (!(x = node(ex, CX_BASE, e, 1)))
            return nomem(ex);
        *out = x;
        x->fid = fn->id;
        x->type = VG_TYPE_FLOAT;
        double d = 0, p = 0;
        if (e->u.call.nargs < 2 || !const_num(e->u.call.args[1], &d) || d <= 0 ||
            (e->u.call.nargs > 2 && (!const_num(e->u.call.args[2], &p) || p <= 0 || p > d)))
            return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column,
                                  "%s: the span (and period) must be positive durations, the "
                                  "period no longer than the span",
                                  fn->name);
        x->d_ns = (int64_t)d;
        x->p_ns = (int64_t)p;
        return compile(ex, e->u.call.args[0], 1, &x->kids[0]);
    }
    case VG_QF_GROUP:
        return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column, "bucket() belongs in BY");
    default: break;
    }
    if (fn->id == VG_QF_NOW) {
        if (!(x = node(ex, CX_CONST, e, 0)))
            return nomem(ex);
        x->cval.k = QV_I;
        x->cval.v.i = ex->now;
        x->type = VG_TYPE_TIME;
        *out = x;
        return VG_OK;
    }
    if (!(x = node(ex, CX_SCALAR, e, e->u.call.nargs)))
        return nomem(ex);
    *out = x;
    x->fid = fn->id;
    if ((rc = compile_kids(ex, x, e->u.call.args, e->u.call.nargs, agg)))
        return rc;
    x->type = (fn->id == VG_QF_COALESCE || fn->id == VG_QF_GREATEST || fn->id == VG_QF_LEAST) &&
                      x->nkids
                  ? x->kids[0]->type
                  : VG_TYPE_FLOAT;
    return VG_OK;
}

static int is_intlike(vg_type_t t)
{
    return t == VG_TYPE_INT || t == VG_TYPE_TIME;
}

static int compile(exec_t *ex, const vg_q_expr_t *e, int agg, cx_t **out)
{
    cx_t *x = NULL;
    int rc = VG_OK;
    *out = NULL;
    switch (e->kind) {
    case VG_QE_NUM:
    case VG_QE_STR:
    case VG_QE_BOOL:
    case VG_QE_NULL:
    case VG_QE_DURATION:
        if (!(x = node(ex, CX_CONST, e, 0)))
            return nomem(ex);
        if (e->kind == VG_QE_NUM && e->u.num.is_int) {
            x->cval.k = QV_I;
            x->cval.v.i = e->u.num.i;
            x->type = VG_TYPE_INT;
        } else if (e->kind == VG_QE_NUM) {
            x->cval.k = QV_F;
            x->cval.v.f = e->u.num.f;
            x->type = VG_TYPE_FLOAT;
        } else if (e->kind == VG_QE_STR) {
            x->cval.k = QV_S;
            x->cval.s = e->u.str.s;
            x->cval.len = (uint32_t)e->u.str.len;
            x->type = VG_TYPE_STRING;
        } else if (e->kind == VG_QE_BOOL) {
            x->cval.k = QV_B;
            x->cval.v.b = e->u.b;
            x->type = VG_TYPE_BOOL;
        } else if (e->kind == VG_QE_DURATION) {
            x->cval.k = QV_I;
            x->cval.v.i = e->u.dur.ns;
            x->type = VG_TYPE_INT;
        }
        *out = x;
        return VG_OK;
    case VG_QE_REF: return compile_ref(ex, e, agg, out);
    case VG_QE_UNARY:
        if (!(x = node(ex, CX_UN, e, 1)))
            return nomem(ex);
        *out = x;
        x->op = e->u.un.op;
        rc = compile(ex, e->u.un.a, agg, &x->kids[0]);
        x->type = x->op == VG_QO_NOT ? VG_TYPE_BOOL : (x->kids[0] ? x->kids[0]->type : 0);
        if (x->type != VG_TYPE_INT && x->op == VG_QO_NEG)
            x->type = VG_TYPE_FLOAT;
        return rc;
    case VG_QE_BINARY:
        if (!(x = node(ex, CX_BIN, e, 2)))
            return nomem(ex);
        *out = x;
        x->op = e->u.bin.op;
        if ((rc = compile(ex, e->u.bin.a, agg, &x->kids[0])) ||
            (rc = compile(ex, e->u.bin.b, agg, &x->kids[1])))
            return rc;
        if (x->op >= VG_QO_EQ)
            x->type = VG_TYPE_BOOL;
        else if (x->op != VG_QO_DIV && is_intlike(x->kids[0]->type) &&
                 is_intlike(x->kids[1]->type))
            x->type = (x->kids[0]->type == VG_TYPE_TIME) != (x->kids[1]->type == VG_TYPE_TIME) &&
                              x->op != VG_QO_MUL
                          ? VG_TYPE_TIME
                          : VG_TYPE_INT;
        else
            x->type = VG_TYPE_FLOAT;
        return VG_OK;
    case VG_QE_REGEX:
        if (!(x = node(ex, CX_REGEX, e, 1)))
            return nomem(ex);
        *out = x;
        x->negate = e->u.rx.negate;
        x->type = VG_TYPE_BOOL;
        return compile(ex, e->u.rx.a, agg, &x->kids[0]);
    case VG_QE_IN:
        if (!(x = node(ex, CX_IN, e, 1 + e->u.in.n)))
            return nomem(ex);
        *out = x;
        x->negate = e->u.in.negate;
        x->type = VG_TYPE_BOOL;
        if ((rc = compile(ex, e->u.in.a, agg, &x->kids[0])))
            return rc;
        for (int i = 0; i < e->u.in.n && !rc; i++)
            rc = compile(ex, e->u.in.list[i], agg, &x->kids[i + 1]);
        return rc;
    case VG_QE_ISNULL:
        if (!(x = node(ex, CX_ISNULL, e, 1)))
            return nomem(ex);
        *out = x;
        x->negate = e->u.isnull.negate;
        x->type = VG_TYPE_BOOL;
        return compile(ex, e->u.isnull.a, agg, &x->kids[0]);
    case VG_QE_CALL: return compile_call(ex, e, agg, out);
    }
    return VG_EINVAL;
}

/* bucket(field, e1, ..., en): n+1 groups labelled (-inf,e1) [e1,e2) ... [en,+inf). */
static int compile_bucket(exec_t *ex, int g, const vg_q_expr_t *e)
{
    int n = e->u.call.nargs - 1, rc;
    if ((rc = compile(ex, e->u.call.args[0], 0, &ex->groups[g])))
        return rc;
    double *edges = vg_calloc((size_t)n + 1, sizeof *edges);
    char **labels = vg_calloc((size_t)n + 1, sizeof *labels);
    ex->bucket_edges[g] = edges;
    ex->bucket_labels[g] = labels;
    ex->bucket_nedges[g] = n;
    if (!edges || !labels)
        return nomem(ex);
    for (int i = 0; i < n; i++) {
        const vg_q_expr_t *a = e->u.call.args[i + 1];
        if (!const_num(a, &edges[i]) || (i && !(edges[i] > edges[i - 1])))
            return vg_q_error_set(ex->err, VG_EINVAL, a->line, a->column,
                                  "bucket(): edges must be ascending numbers");
    }
    for (int i = 0; i <= n; i++) {
        char buf[80];
        if (i == 0)
            snprintf(buf, sizeof buf, "(-inf,%.15g)", edges[0]);
        else if (i == n)
            snprintf(buf, sizeof buf, "[%.15g,+inf)", edges[n - 1]);
        else
            snprintf(buf, sizeof buf, "[%.15g,%.15g)", edges[i - 1], edges[i]);
        if (!(labels[i] = exec_pool_str(ex, buf, strlen(buf))))
            return nomem(ex);
    }
    return VG_OK;
}

int bind_compile(exec_t *ex)
{
    const vg_q_stmt_t *st = ex->st;
    int rc, ng = st->ngroups;
    ex->field_used = vg_calloc(vg_scan_nfields(ex->scan) + 1, 1);
    ex->items = vg_calloc((size_t)st->nitems + 1, sizeof *ex->items);
    ex->groups = vg_calloc((size_t)ng + 1, sizeof *ex->groups);
    ex->bucket_edges = vg_calloc((size_t)ng + 1, sizeof *ex->bucket_edges);
    ex->bucket_nedges = vg_calloc((size_t)ng + 1, sizeof *ex->bucket_nedges);
    ex->bucket_labels = vg_calloc((size_t)ng + 1, sizeof *ex->bucket_labels);
    if (!ex->field_used || !ex->items || !ex->groups || !ex->bucket_edges || !ex->bucket_nedges ||
        !ex->bucket_labels)
        return nomem(ex);
    for (int g = 0; g < ng; g++) {
        const vg_q_expr_t *e = st->groups[g];
        if (e->kind == VG_QE_CALL)
            rc = compile_bucket(ex, g, e);
        else
            rc = compile(ex, e, 0, &ex->groups[g]);
        if (rc)
            return rc;
        if (e->kind == VG_QE_REF && ex->groups[g]->kind != CX_TAG)
            return vg_q_error_set(ex->err, VG_EINVAL, e->line, e->column,
                                  "BY '%s': group by a tag or bucket(field, edges...)",
                                  e->u.ref.name);
    }
    if (st->where && (rc = compile(ex, st->where, 0, &ex->where)))
        return rc;
    if (st->against.kind == VG_QA_WHERE && (rc = compile(ex, st->against.where, 0, &ex->against_where)))
        return rc;
    for (int i = 0; i < st->nitems && !st->star; i++)
        if ((rc = compile(ex, st->items[i].expr, st->aggregate, &ex->items[i])))
            return rc;
    return VG_OK;
}

void bind_free(exec_t *ex)
{
    for (int i = 0; ex->items && i < ex->st->nitems; i++)
        cx_free(ex->items[i]);
    for (int g = 0; ex->groups && g < ex->st->ngroups; g++) {
        cx_free(ex->groups[g]);
        if (ex->bucket_edges)
            vg_free(ex->bucket_edges[g]);
        if (ex->bucket_labels)
            vg_free(ex->bucket_labels[g]);
    }
    for (int i = 0; i < ex->nspec; i++)
        cx_free(ex->specs[i].arg);
    cx_free(ex->where);
    cx_free(ex->against_where);
    vg_free(ex->items);
    vg_free(ex->groups);
    vg_free(ex->bucket_edges);
    vg_free(ex->bucket_nedges);
    vg_free(ex->bucket_labels);
    vg_free(ex->specs);
    vg_free(ex->field_used);
}

int bind_row_expr(exec_t *ex, const vg_q_expr_t *e, cx_t **out)
{
    return compile(ex, e, 0, out);
}

void bind_cx_free(cx_t *x)
{
    cx_free(x);
}
