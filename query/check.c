/*
 * check.c: the schema-free checks of a parsed statement (and of a
 * standalone expression over result columns), after parsing succeeded.
 *
 * What is checked: aggregates only in SELECT and never nested, baseline()
 * and zscore() over an aggregate with literal durations, quantile and
 * histogram arguments, bucket() only in BY with increasing numeric edges,
 * '*' alone, duplicate column names, the clauses raw rows refuse (EVERY,
 * BY, AGAINST) and the one aggregates refuse (SAMPLE), bare fields outside
 * aggregates, and what each ORDER BY key names.
 *
 * The checks also complete the statement: s->aggregate, s->star, and each
 * ORDER BY key's item, group or is_time.
 *
 * Invariants: the first error wins (every check returns non-zero once one
 * failed); the walks recurse at most as deep as the trees, which the parser
 * bounds by VG_Q_MAX_DEPTH; nothing here allocates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse_int.h"

/* Where the error goes, and where each clause was (parse.c's clause_t). */
typedef struct checker {
    vg_q_error_t *err;
    int rc;
    const int *clause_line, *clause_col; /* 0: clause absent */
} checker_t;

/* The node's own position; the first failure wins, as in the parser. */
static int fail_at(checker_t *ck, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(checker_t *ck, int line, int col, const char *fmt, ...)
{
    if (ck->rc)
        return ck->rc;
    ck->rc = VG_EPARSE;
    if (ck->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ck->err->msg, sizeof ck->err->msg, fmt, ap);
        va_end(ap);
        ck->err->code = VG_EPARSE;
        ck->err->line = line;
        ck->err->column = col;
    }
    return ck->rc;
}

typedef enum ctx {
    CTX_SELECT,   /* aggregates allowed */
    CTX_ROW,      /* WHERE, AGAINST WHERE, bucket(): per-row only */
    CTX_RAWORDER, /* ORDER BY of a query without aggregates */
    CTX_COLUMNS,  /* a standalone expression over result columns */
} ctx_t;

static const char *ctx_where[] = {
    "SELECT", "a row predicate", "ORDER BY of raw rows",
    "an expression over result columns (use the item's AS name, or its column name in double "
    "quotes)"};

static int check_expr(checker_t *ck, const vg_q_expr_t *e, ctx_t ctx, const vg_q_func_t *outer,
                      const vg_q_func_t *in_baseline);

static int is_dur_literal(const vg_q_expr_t *e)
{
    return e->kind == VG_QE_DURATION && e->u.dur.ns > 0;
}

static int check_baseline(checker_t *ck, const vg_q_expr_t *e, ctx_t ctx)
{
    const vg_q_func_t *fn = e->u.call.fn;
    vg_q_expr_t *const *a = e->u.call.args;
    unsigned k = vg_q_expr_fkinds(a[0]);
    if (!(k & (1u << VG_QF_AGGREGATE)))
        return fail_at(ck, a[0]->line, a[0]->column,
                       "%s() takes an aggregate first, e.g. %s(rate(refusal), 7d)", fn->name,
                       fn->name);
    if (check_expr(ck, a[0], ctx, NULL, fn))
        return -1;
    for (int i = 1; i < e->u.call.nargs; i++)
        if (!is_dur_literal(a[i]))
            return fail_at(ck, a[i]->line, a[i]->column,
                           "%s()'s argument %d must be a duration such as 7d or 1d", fn->name,
                           i + 1);
    if (e->u.call.nargs == 3 && a[2]->u.dur.ns > a[1]->u.dur.ns)
        return fail_at(ck, a[2]->line, a[2]->column,
                       "baseline()'s period %s is longer than its span %s", a[2]->u.dur.text,
                       a[1]->u.dur.text);
    return 0;
}

static int check_call_args(checker_t *ck, const vg_q_expr_t *e)
{
    const vg_q_func_t *fn = e->u.call.fn;
    vg_q_expr_t *const *a = e->u.call.args;
    if ((fn->id == VG_QF_QUANTILE || fn->id == VG_QF_APPROX_QUANTILE) && e->u.call.nargs == 2 &&
        (a[1]->kind != VG_QE_NUM || !(a[1]->u.num.f >= 0 && a[1]->u.num.f <= 1)))
        return fail_at(ck, a[1]->line, a[1]->column, "%s()'s quantile must be a number from 0 to 1",
                       fn->name);
    if (fn->id == VG_QF_HISTOGRAM && (a[1]->kind != VG_QE_NUM || !a[1]->u.num.is_int ||
                                      a[1]->u.num.i < 1 || a[1]->u.num.i > 1000))
        return fail_at(ck, a[1]->line, a[1]->column,
                       "histogram()'s bins must be an integer from 1 to 1000");
    return 0;
}

static int check_call(checker_t *ck, const vg_q_expr_t *e, ctx_t ctx, const vg_q_func_t *outer,
                      const vg_q_func_t *in_baseline)
{
    const vg_q_func_t *fn = e->u.call.fn;
    int agglike = (VG_Q_AGGLIKE >> fn->kind) & 1;
    if (fn->kind == VG_QF_GROUP)
        return fail_at(ck, e->line, e->column, "bucket() is only allowed in BY");
    if (agglike && ctx != CTX_SELECT)
        return fail_at(ck, e->line, e->column, "%s() aggregates: it is not allowed in %s", fn->name,
                       ctx_where[ctx]);
    if (agglike && outer)
        return fail_at(ck, e->line, e->column, "%s() cannot be nested inside %s()", fn->name,
                       outer->name);
    if (in_baseline && (fn->kind == VG_QF_DRIFT || fn->kind == VG_QF_BASELINE))
        return fail_at(ck, e->line, e->column, "%s() cannot be used inside %s()", fn->name,
                       in_baseline->name);
    if (fn->kind == VG_QF_BASELINE)
        return check_baseline(ck, e, ctx);
    if (check_call_args(ck, e))
        return -1;
    for (int i = 0; i < e->u.call.nargs; i++)
        if (check_expr(ck, e->u.call.args[i], ctx, agglike ? fn : outer, in_baseline))
            return -1;
    return 0;
}

static int check_expr(checker_t *ck, const vg_q_expr_t *e, ctx_t ctx, const vg_q_func_t *outer,
                      const vg_q_func_t *in_baseline)
{
    switch (e->kind) {
    case VG_QE_UNARY:
        return check_expr(ck, e->u.un.a, ctx, outer, in_baseline);
    case VG_QE_BINARY:
        return check_expr(ck, e->u.bin.a, ctx, outer, in_baseline) ||
                       check_expr(ck, e->u.bin.b, ctx, outer, in_baseline)
                   ? -1
                   : 0;
    case VG_QE_REGEX:
        return check_expr(ck, e->u.rx.a, ctx, outer, in_baseline);
    case VG_QE_IN:
        return check_expr(ck, e->u.in.a, ctx, outer, in_baseline);
    case VG_QE_ISNULL:
        return check_expr(ck, e->u.isnull.a, ctx, outer, in_baseline);
    case VG_QE_CALL:
        return check_call(ck, e, ctx, outer, in_baseline);
    default:
        return 0;
    }
}

static int check_bucket(checker_t *ck, const vg_q_expr_t *g)
{
    vg_q_expr_t *const *a = g->u.call.args;
    if (a[0]->kind != VG_QE_REF)
        return fail_at(ck, a[0]->line, a[0]->column, "bucket()'s first argument must be a field");
    for (int i = 1; i < g->u.call.nargs; i++) {
        if (a[i]->kind != VG_QE_NUM)
            return fail_at(ck, a[i]->line, a[i]->column, "bucket()'s edges must be numbers");
        if (i > 1 && !(a[i]->u.num.f > a[i - 1]->u.num.f))
            return fail_at(ck, a[i]->line, a[i]->column,
                           "bucket()'s edges must be strictly increasing");
    }
    return 0;
}

/* In an aggregating query a bare field outside any aggregate has no single value. */
static int check_bare_refs(checker_t *ck, const vg_q_stmt_t *s, const vg_q_expr_t *e)
{
    switch (e->kind) {
    case VG_QE_REF:
        if (strcmp(e->u.ref.name, "time") == 0)
            return 0;
        for (int i = 0; i < s->ngroups; i++)
            if (s->groups[i]->kind == VG_QE_REF &&
                strcmp(s->groups[i]->u.ref.name, e->u.ref.name) == 0)
                return 0;
        return fail_at(ck, e->line, e->column, "'%s' must be inside an aggregate or named in BY",
                       e->u.ref.name);
    case VG_QE_UNARY:
        return check_bare_refs(ck, s, e->u.un.a);
    case VG_QE_BINARY:
        return check_bare_refs(ck, s, e->u.bin.a) || check_bare_refs(ck, s, e->u.bin.b) ? -1 : 0;
    case VG_QE_REGEX:
        return check_bare_refs(ck, s, e->u.rx.a);
    case VG_QE_IN:
        return check_bare_refs(ck, s, e->u.in.a);
    case VG_QE_ISNULL:
        return check_bare_refs(ck, s, e->u.isnull.a);
    case VG_QE_CALL:
        if ((VG_Q_AGGLIKE >> e->u.call.fn->kind) & 1)
            return 0;
        for (int i = 0; i < e->u.call.nargs; i++)
            if (check_bare_refs(ck, s, e->u.call.args[i]))
                return -1;
        return 0;
    default:
        return 0;
    }
}

static int check_items(checker_t *ck, vg_q_stmt_t *s)
{
    for (int i = 0; i < s->nitems; i++) {
        const vg_q_item_t *it = &s->items[i];
        if (!it->expr && s->nitems > 1)
            return fail_at(ck, it->line, it->column, "'*' must be the only item in SELECT");
        if (it->expr && check_expr(ck, it->expr, CTX_SELECT, NULL, NULL))
            return -1;
        if (it->expr && (vg_q_expr_fkinds(it->expr) & VG_Q_AGGLIKE))
            s->aggregate = 1;
        for (int j = 0; j < i; j++)
            if (strcmp(s->items[j].name, it->name) == 0)
                return fail_at(ck, it->line, it->column, "two columns named '%s': name one with AS",
                               it->name);
    }
    s->star = s->items[0].expr == NULL;
    for (int i = 0; s->aggregate && i < s->nitems; i++)
        if (check_bare_refs(ck, s, s->items[i].expr))
            return -1;
    return 0;
}

static int check_mode(checker_t *ck, const vg_q_stmt_t *s)
{
    if (s->aggregate && ck->clause_line[CL_SAMPLE])
        return fail_at(ck, ck->clause_line[CL_SAMPLE], ck->clause_col[CL_SAMPLE],
                       "SAMPLE returns raw rows: it cannot be used with aggregates");
    static const clause_t need_agg[] = {CL_EVERY, CL_BY, CL_AGAINST};
    static const char *const names[] = {"EVERY", "BY", "AGAINST"};
    for (int i = 0; !s->aggregate && i < 3; i++)
        if (ck->clause_line[need_agg[i]])
            return fail_at(ck, ck->clause_line[need_agg[i]], ck->clause_col[need_agg[i]],
                           "%s needs an aggregate in SELECT (this query returns raw rows)",
                           names[i]);
    return 0;
}

static int resolve_order(checker_t *ck, vg_q_stmt_t *s, char **names)
{
    for (int k = 0; k < s->norder; k++) {
        vg_q_order_t *o = &s->order[k];
        o->item = o->group = -1;
        for (int i = 0; o->item < 0 && i < s->nitems; i++)
            if (s->items[i].expr && (strcmp(s->items[i].name, names[k]) == 0 ||
                                     strcmp(s->items[i].text, names[k]) == 0))
                o->item = i;
        for (int i = 0; o->item < 0 && o->group < 0 && i < s->ngroups; i++)
            if (strcmp(s->group_names[i], names[k]) == 0)
                o->group = i;
        o->is_time = o->item < 0 && o->group < 0 && o->expr->kind == VG_QE_REF &&
                     strcmp(o->expr->u.ref.name, "time") == 0;
        if (o->item >= 0 || o->group >= 0 || o->is_time)
            continue;
        if (s->aggregate)
            return fail_at(ck, o->expr->line, o->expr->column,
                           "ORDER BY %s names no result column (an item, its AS name, a BY "
                           "group or time)",
                           names[k]);
        if (check_expr(ck, o->expr, CTX_RAWORDER, NULL, NULL))
            return -1;
    }
    return 0;
}

static int check_stmt(checker_t *ck, vg_q_stmt_t *s, char **order_names)
{
    if (check_items(ck, s) || check_mode(ck, s))
        return -1;
    if (s->where && check_expr(ck, s->where, CTX_ROW, NULL, NULL))
        return -1;
    if (s->against.where && check_expr(ck, s->against.where, CTX_ROW, NULL, NULL))
        return -1;
    for (int i = 0; i < s->ngroups; i++)
        if (s->groups[i]->kind == VG_QE_CALL && check_bucket(ck, s->groups[i]))
            return -1;
    return resolve_order(ck, s, order_names);
}

int vg_q_check_stmt(vg_q_stmt_t *s, char **order_names, const int *clause_line,
                    const int *clause_col, vg_q_error_t *err)
{
    checker_t ck = {.err = err, .clause_line = clause_line, .clause_col = clause_col};
    return check_stmt(&ck, s, order_names) ? ck.rc : VG_OK;
}

int vg_q_check_column_expr(const vg_q_expr_t *e, vg_q_error_t *err)
{
    checker_t ck = {.err = err};
    return check_expr(&ck, e, CTX_COLUMNS, NULL, NULL) ? ck.rc : VG_OK;
}
