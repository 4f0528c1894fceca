/*
 * plan.c: the time plan of an aggregation (see exec_int.h).
 *
 * plan_windows resolves the query's range [start, end) (all raw rows
 * need) and cuts it into the EVERY windows, aligned to the epoch (the
 * first and last are clipped to the range). plan_segments
 * collects the boundaries of every interval the items read (each window,
 * each baseline, seasonal or zscore span, each drift reference), sorts and
 * deduplicates them into ex->bounds, and marks the segments some interval
 * covers in ex->seg_needed; rows in other segments are never accumulated.
 *
 * Invariant: every interval a later merge asks for (exec_merge_span) starts
 * and ends on one of ex->bounds.
 */
#include <assert.h>
#include <stdlib.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_db.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t time_of(const exec_t *ex, const vg_q_time_t *t)
{
    return t->kind == VG_QTM_NOW ? ex->now + t->ns : t->ns;
}

int plan_windows(exec_t *ex)
{
    const vg_q_stmt_t *st = ex->st;
    if (st->range.kind == VG_QR_BETWEEN) {
        ex->start = time_of(ex, &st->range.start);
        ex->end = time_of(ex, &st->range.end);
    } else {
        int64_t d = st->range.kind == VG_QR_SINCE ? st->range.since.ns : 3600 * VG_NS_PER_SEC;
        ex->start = ex->now - d;
        ex->end = ex->now;
    }
    if (ex->end <= ex->start)
        return vg_q_error_set(ex->err, VG_EINVAL, st->range.start.line, st->range.start.column,
                              "the time range is empty (its end is not after its start)");
    int64_t w = st->every.ns;
    size_t n = 1;
    if (w > 0) {
        int64_t first = floor_div(ex->start, w) * w;
        uint64_t span = (uint64_t)(ex->end - first);
        if (span / (uint64_t)w >= 10000000)
            return vg_q_error_set(ex->err, VG_ELIMIT, st->every.line, st->every.column,
                                  "EVERY %s cuts the range into more than 10,000,000 windows",
                                  st->every.text ? st->every.text : "");
        n = (size_t)((span + (uint64_t)w - 1) / (uint64_t)w);
    }
    if (!(ex->wins = vg_malloc(n * sizeof *ex->wins)))
        return VG_ENOMEM;
    if (w <= 0) {
        ex->wins[0] = (span_t){ex->start, ex->end};
    } else {
        int64_t t = floor_div(ex->start, w) * w;
        for (size_t i = 0; i < n; i++, t += w)
            ex->wins[i] = (span_t){t < ex->start ? ex->start : t,
                                   t + w > ex->end ? ex->end : t + w};
    }
    ex->nwin = n;
    return VG_OK;
}

typedef struct spanset {
    int64_t *b;
    size_t n, cap;
} spanset_t;

static int bound_add(spanset_t *s, int64_t t)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 64;
        if (nc > 50000000)
            return VG_ELIMIT;
        int64_t *p = vg_realloc(s->b, nc * sizeof *p);
        if (!p)
            return VG_ENOMEM;
        s->b = p;
        s->cap = nc;
    }
    s->b[s->n++] = t;
    return VG_OK;
}

/* Walk x for window-relative span s: add its boundaries (set) or mark its segments. */
static int walk_spans(exec_t *ex, const cx_t *x, span_t s, spanset_t *set)
{
    int rc = VG_OK;
    if (!x)
        return VG_OK;
    if (x->kind == CX_AGG || x->kind == CX_DRIFT) {
        span_t sp[2] = {s, x->kind == CX_DRIFT ? exec_ref_span(ex, s) : s};
        for (int k = 0; k < 2 && !rc; k++) {
            if (sp[k].b <= sp[k].a)
                continue;
            if (set) {
                if ((rc = bound_add(set, sp[k].a)) || (rc = bound_add(set, sp[k].b)))
                    break;
            } else {
                size_t i = exec_bound_idx(ex, sp[k].a), j = exec_bound_idx(ex, sp[k].b);
                for (; i < j; i++)
                    ex->seg_needed[i] = 1;
            }
        }
        return rc;
    }
    if (x->kind == CX_BASE) {
        size_t n = exec_base_spans(x, s, NULL, 0);
        span_t *sp = vg_malloc((n ? n : 1) * sizeof *sp);
        if (!sp)
            return VG_ENOMEM;
        exec_base_spans(x, s, sp, n);
        for (size_t i = 0; i < n && !rc; i++)
            rc = walk_spans(ex, x->kids[0], sp[i], set);
        vg_free(sp);
        if (!rc && x->fid == VG_QF_ZSCORE)
            rc = walk_spans(ex, x->kids[0], s, set);
        return rc;
    }
    for (int i = 0; i < x->nkids && !rc; i++)
        rc = walk_spans(ex, x->kids[i], s, set);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int plan_segments(exec_t *ex)
{
    spanset_t set = {0};
    int rc = VG_OK;
    for (size_t w = 0; w < ex->nwin && !rc; w++) {
        if ((rc = bound_add(&set, ex->wins[w].a)) || (rc = bound_add(&set, ex->wins[w].b)))
            break;
        for (int i = 0; i < ex->st->nitems && !rc; i++)
            rc = walk_spans(ex, ex->items[i], ex->wins[w], &set);
    }
    if (rc) {
        vg_free(set.b);
        return rc == VG_ELIMIT ? vg_q_error_set(ex->err, rc, 0, 0,
                                                "the query needs more than 50,000,000 intervals")
                               : vg_q_error_set(ex->err, rc, 0, 0, "out of memory planning");
    }
    qsort(set.b, set.n, sizeof *set.b, cmp_i64);
    size_t n = 0;
    for (size_t i = 0; i < set.n; i++)
        if (n == 0 || set.b[i] != set.b[n - 1])
            set.b[n++] = set.b[i];
    ex->bounds = set.b;
    ex->nbounds = n;
    /* EVERY alone: segments of one length, but for a first and last cut by
     * the range, so exec_seg_of can divide */
    ex->seg_step = n >= 3 ? set.b[2] - set.b[1] : 0;
    for (size_t i = 3; i + 1 < n && ex->seg_step; i++)
        if (set.b[i] - set.b[i - 1] != ex->seg_step)
            ex->seg_step = 0;
    if (!(ex->seg_needed = vg_calloc(n, 1)))
        return VG_ENOMEM;
    for (size_t w = 0; w < ex->nwin && !rc; w++) {
        span_t s = ex->wins[w];
        for (size_t i = exec_bound_idx(ex, s.a), j = exec_bound_idx(ex, s.b); i < j; i++)
            ex->seg_needed[i] = 1;
        for (int i = 0; i < ex->st->nitems && !rc; i++)
            rc = walk_spans(ex, ex->items[i], s, NULL);
    }
    return rc;
}

int exec_merge_span(exec_t *ex, group_t *g, int pop, int spec, span_t s, acc_t *tmp)
{
    if (s.b <= s.a || !g->accs)
        return VG_OK;
    size_t i = exec_bound_idx(ex, s.a), j = exec_bound_idx(ex, s.b), nseg = ex->nbounds - 1;
    assert(i < ex->nbounds && ex->bounds[i] == s.a && j < ex->nbounds && ex->bounds[j] == s.b);
    int rc = VG_OK;
    for (; i < j && !rc; i++)
        rc = acc_merge(&ex->specs[spec], tmp,
                       &g->accs[((size_t)pop * nseg + i) * (size_t)ex->nspec + (size_t)spec]);
    return rc;
}
