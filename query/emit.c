/*
 * emit.c: building a query's result: converting values into result cells,
 * one row per window and group of an aggregation, and ORDER BY and LIMIT
 * over any result (raw.c uses them too).
 *
 * Row order before ORDER BY: windows in time order, and within a window the
 * groups ordered by their values (null first). ORDER BY is stable; keys
 * compare by the column's type, nulls after values (before them in DESC).
 * A BY tag that is also a bare item is shown once, in the group's column.
 * Sorts take their context as an argument (qsort_r): no hidden state.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_result.h"

int emit_set_cell(vg_result_t *r, size_t row, size_t col, const qv_t *v)
{
    if (v->k == QV_NULL)
        return VG_OK;
    vg_value_t x;
    char buf[40];
    double d = qv_num(v);
    switch (r->cols[col].type) {
    case VG_TYPE_TIME:
    case VG_TYPE_INT:
        if (v->k == QV_I)
            x.i = v->v.i;
        else if (isnan(d) || fabs(d) >= 9.2e18)
            return VG_OK;
        else
            x.i = (int64_t)llround(d);
        break;
    case VG_TYPE_UINT:
        if (v->k == QV_U)
            x.u = v->v.u;
        else if (isnan(d) || d < 0 || d >= 1.8e19)
            return VG_OK;
        else
            x.u = (uint64_t)llround(d);
        break;
    case VG_TYPE_BOOL:
        if (isnan(d))
            return VG_OK;
        x.b = d != 0;
        break;
    case VG_TYPE_FLOAT:
        if (isnan(d))
            return VG_OK;
        x.f = d;
        break;
    default:
        if (v->k == QV_S) {
            x.s.p = v->s;
            x.s.len = v->len;
        } else {
            int n = v->k == QV_B   ? snprintf(buf, sizeof buf, "%s", v->v.b ? "true" : "false")
                    : v->k == QV_I ? snprintf(buf, sizeof buf, "%" PRId64, v->v.i)
                    : v->k == QV_U ? snprintf(buf, sizeof buf, "%" PRIu64, v->v.u)
                                   : snprintf(buf, sizeof buf, "%.17g", d);
            x.s.p = buf;
            x.s.len = (uint32_t)n;
        }
        break;
    }
    return vg_result_set(r, row, col, &x);
}

static int cell_cmp(const vg_result_t *r, size_t a, size_t b, size_t col)
{
    const vg_value_t *x = vg_result_cell(r, a, col), *y = vg_result_cell(r, b, col);
    if (!x || !y)
        return !x && !y ? 0 : !x ? 1 : -1; /* nulls last */
    switch (r->cols[col].type) {
    case VG_TYPE_TIME:
    case VG_TYPE_INT: return x->i < y->i ? -1 : x->i > y->i;
    case VG_TYPE_UINT: return x->u < y->u ? -1 : x->u > y->u;
    case VG_TYPE_BOOL: return x->b - y->b;
    case VG_TYPE_FLOAT: return x->f < y->f ? -1 : x->f > y->f;
    default: {
        qv_t p = {.k = QV_S, .s = x->s.p, .len = x->s.len},
             q = {.k = QV_S, .s = y->s.p, .len = y->s.len};
        return qv_cmp(&p, &q);
    }
    }
}

/* What rows of r are ordered by: n keys, each a column and a direction. */
typedef struct rowsort {
    const vg_result_t *r;
    const int *cols, *desc;
    int n;
} rowsort_t;

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
    const rowsort_t *o = arg;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    for (int k = 0; k < o->n; k++) {
        int c = cell_cmp(o->r, a, b, (size_t)o->cols[k]);
        if (c)
            return o->desc[k] ? -c : c;
    }
    return a < b ? -1 : a > b; /* stable */
}

/* out = the first nvis columns of tmp's rows, ordered by keys, at most limit rows. */
static int finish(exec_t *ex, vg_result_t *tmp, vg_result_t *out, size_t nvis, const int *cols,
                  const int *desc, int nkeys)
{
    size_t n = tmp->nrows, *perm = vg_malloc((n ? n : 1) * sizeof *perm);
    if (!perm)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    if (nkeys) {
        rowsort_t o = {.r = tmp, .cols = cols, .desc = desc, .n = nkeys};
        qsort_r(perm, n, sizeof *perm, cmp_rows, &o);
    }
    if (ex->st->limit >= 0 && (uint64_t)ex->st->limit < n)
        n = (size_t)ex->st->limit;
    vg_result_free(out);
    int rc = vg_result_init(out, nvis);
    for (size_t c = 0; c < nvis && !rc; c++)
        if (!(rc = vg_result_col(out, c, tmp->cols[c].name, tmp->cols[c].type))) {
            out->cols[c].histogram = tmp->cols[c].histogram;
            out->cols[c].picture = tmp->cols[c].picture;
        }
    for (size_t i = 0; i < n && !rc; i++) {
        size_t row;
        rc = vg_result_add_row(out, &row);
        for (size_t c = 0; c < nvis && !rc; c++) {
            const vg_value_t *v = vg_result_cell(tmp, perm[i], c);
            if (v)
                rc = vg_result_set(out, row, c, v);
        }
    }
    vg_free(perm);
    return rc ? vg_q_error_set(ex->err, rc, 0, 0, "out of memory building the result") : VG_OK;
}

vg_type_t emit_col_type(vg_type_t t)
{
    return t == VG_TYPE_NONE ? VG_TYPE_STRING : t;
}

/* The groups ordered, and how many BY values each has. */
typedef struct groupsort {
    const group_t *grp;
    int ngv;
} groupsort_t;

static int cmp_groups(const void *pa, const void *pb, void *arg)
{
    const groupsort_t *o = arg;
    const group_t *a = &o->grp[*(const size_t *)pa], *b = &o->grp[*(const size_t *)pb];
    for (int i = 0; i < o->ngv; i++) {
        const qv_t *x = &a->vals[i], *y = &b->vals[i];
        if (x->k != y->k)
            return x->k == QV_NULL ? -1 : 1; /* null groups first */
        if (x->k != QV_NULL) {
            int c = qv_cmp(x, y);
            if (c)
                return c;
        }
    }
    return 0;
}

/* Is item i a bare reference to a BY tag (`SELECT model, count() ... BY model`)?
 * Its column would repeat the group's, so it is left out. */
static int item_is_group(const vg_q_stmt_t *st, int i)
{
    const vg_q_expr_t *e = st->items[i].expr;
    if (!e || e->kind != VG_QE_REF || st->items[i].alias)
        return 0;
    for (int g = 0; g < st->ngroups; g++)
        if (st->groups[g]->kind == VG_QE_REF && strcmp(st->groups[g]->u.ref.name, e->u.ref.name) == 0)
            return 1;
    return 0;
}

/* The column an ORDER BY key names; -1 when none. */
static int order_col(exec_t *ex, const vg_result_t *r, const vg_q_order_t *o, int first_item)
{
    if (o->item >= 0) {
        const vg_q_stmt_t *st = ex->st;
        if (item_is_group(st, o->item)) /* its column is the group's */
            for (int g = 0; g < st->ngroups; g++)
                if (st->groups[g]->kind == VG_QE_REF &&
                    !strcmp(st->groups[g]->u.ref.name, st->items[o->item].expr->u.ref.name))
                    return (st->every.ns > 0 ? 1 : 0) + g;
        int shown = 0;
        for (int i = 0; i < o->item; i++)
            shown += !item_is_group(st, i);
        return first_item + shown;
    }
    if (o->group >= 0)
        return (ex->st->every.ns > 0 ? 1 : 0) + o->group;
    const char *name = o->is_time ? "time"
                       : o->expr && o->expr->kind == VG_QE_REF ? o->expr->u.ref.name
                                                               : NULL;
    for (size_t c = 0; name && c < r->ncols; c++)
        if (strcmp(r->cols[c].name, name) == 0)
            return (int)c;
    return -1;
}

int emit_order_and_limit(exec_t *ex, vg_result_t *tmp, vg_result_t *out, size_t nvis,
                         int first_item, const int *hidden)
{
    const vg_q_stmt_t *st = ex->st;
    int *cols = vg_calloc((size_t)st->norder + 1, sizeof *cols);
    int *desc = vg_calloc((size_t)st->norder + 1, sizeof *desc);
    int rc = (!cols || !desc) ? VG_ENOMEM : VG_OK;
    for (int k = 0; k < st->norder && !rc; k++) {
        cols[k] = order_col(ex, tmp, &st->order[k], first_item);
        if (cols[k] < 0 && hidden)
            cols[k] = hidden[k];
        desc[k] = st->order[k].desc;
        if (cols[k] < 0) {
            const vg_q_expr_t *e = st->order[k].expr;
            rc = vg_q_error_set(ex->err, VG_EINVAL, e ? e->line : 0, e ? e->column : 0,
                                "ORDER BY must name a result column");
        }
    }
    if (!rc)
        rc = finish(ex, tmp, out, nvis, cols, desc, st->norder);
    vg_free(cols);
    vg_free(desc);
    return rc;
}

/*
 * Which items get a picture of their two distributions: top-level drift
 * functions over numbers, one per distinct argument (ks(x) and psi(x) compare
 * the same values: one picture). pic[i] is set for those.
 */
static void picture_items(exec_t *ex, const vg_q_stmt_t *st, uint8_t *pic)
{
    char seen[8][256];
    int nseen = 0;
    for (int i = 0; i < st->nitems; i++) {
        pic[i] = 0;
        if (item_is_group(st, i) || !exec_has_picture(ex, ex->items[i]))
            continue;
        const vg_q_expr_t *e = st->items[i].expr;
        char arg[256] = "";
        if (e && e->kind == VG_QE_CALL && e->u.call.nargs > 0)
            vg_q_expr_format(e->u.call.args[0], 0, arg, sizeof arg);
        int dup = 0;
        for (int k = 0; k < nseen && !dup; k++)
            dup = strcmp(seen[k], arg) == 0;
        if (dup || nseen == 8)
            continue;
        snprintf(seen[nseen++], sizeof seen[0], "%s", arg);
        pic[i] = 1;
    }
}

int emit_aggregate(exec_t *ex, vg_result_t *out)
{
    const vg_q_stmt_t *st = ex->st;
    int every = st->every.ns > 0, ng = st->ngroups, nshown = 0;
    int npic = 0;
    uint8_t *pic = vg_malloc((size_t)st->nitems + 1);
    if (!pic)
        return vg_q_error_set(ex->err, VG_ENOMEM, 0, 0, "out of memory building the result");
    picture_items(ex, st, pic);
    for (int i = 0; i < st->nitems; i++) {
        nshown += !item_is_group(st, i);
        npic += pic[i];
    }
    /* pictures go last, so the visible columns keep their indexes */
    size_t ncols = (size_t)every + (size_t)ng + (size_t)nshown + (size_t)npic;
    vg_result_t tmp;
    int rc = vg_result_init(&tmp, ncols);
    size_t c = 0;
    if (!rc && every)
        rc = vg_result_col(&tmp, c++, "time", VG_TYPE_TIME);
    for (int g = 0; g < ng && !rc; g++)
        rc = vg_result_col(&tmp, c++, st->group_names[g],
                           ex->bucket_labels[g] ? VG_TYPE_STRING : VG_TYPE_TAG);
    for (int i = 0; i < st->nitems && !rc; i++) {
        if (item_is_group(st, i))
            continue;
        rc = vg_result_col(&tmp, c++, vg_q_item_name(st, (size_t)i),
                           emit_col_type(ex->items[i]->type));
        const vg_q_expr_t *e = st->items[i].expr;
        tmp.cols[c - 1].histogram =
            e && e->kind == VG_QE_CALL && e->u.call.fn->id == VG_QF_HISTOGRAM;
    }
    for (int i = 0; i < st->nitems && !rc; i++)
        if (pic[i]) {
            rc = vg_result_col(&tmp, c++, vg_q_item_name(st, (size_t)i), VG_TYPE_STRING);
            tmp.cols[c - 1].picture = 1;
        }
    size_t *order = vg_malloc((ex->ngrp + 1) * sizeof *order), no = 0;
    if (!order)
        rc = VG_ENOMEM;
    for (size_t g = 0; g < ex->ngrp && !rc; g++)
        if (ex->grp[g].in_range)
            order[no++] = g;
    groupsort_t gs = {.grp = ex->grp, .ngv = ng};
    if (!rc)
        qsort_r(order, no, sizeof *order, cmp_groups, &gs);
    for (size_t w = 0; w < ex->nwin && !rc; w++) {
        for (size_t k = 0; k < no && !rc; k++) {
            group_t *g = &ex->grp[order[k]];
            size_t row;
            if ((rc = vg_result_add_row(&tmp, &row)))
                break;
            c = 0;
            if (every) {
                qv_t t = {.k = QV_I, .v.i = ex->wins[w].a};
                rc = emit_set_cell(&tmp, row, c++, &t);
            }
            for (int i = 0; i < ng && !rc; i++)
                rc = emit_set_cell(&tmp, row, c++, &g->vals[i]);
            evctx_t ec = {.ex = ex, .g = g, .ws = ex->wins[w].a, .we = ex->wins[w].b,
                          .cur = ex->wins[w]};
            for (int i = 0; i < st->nitems && !rc; i++) {
                qv_t v;
                if (!item_is_group(st, i) && !(rc = eval(&ec, ex->items[i], &v)))
                    rc = emit_set_cell(&tmp, row, c++, &v);
            }
            for (int i = 0; i < st->nitems && !rc; i++) {
                qv_t v;
                if (pic[i] && !(rc = exec_drift_picture(ex, g, ex->wins[w], ex->items[i], &v)))
                    rc = emit_set_cell(&tmp, row, c++, &v);
            }
            if (!rc && (rc = exec_tick(ex)))
                break;
        }
    }
    vg_free(order);
    vg_free(pic);
    if (rc && rc != VG_ELIMIT && ex->err && ex->err->code != rc)
        vg_q_error_set(ex->err, rc, 0, 0, "finishing the aggregates: %s", vg_strerror(rc));
    if (!rc)
        rc = emit_order_and_limit(ex, &tmp, out, ncols, every + ng, NULL);
    if (!rc)
        out->windows = every;
    vg_result_free(&tmp);
    return rc;
}
