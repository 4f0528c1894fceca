/*
 * exec.c: running a parsed statement against a database (vg_q_exec).
 *
 * An aggregation is planned as "segments" (see exec_int.h): the sorted,
 * distinct boundaries of every interval the query needs (each window, each
 * baseline/seasonal/zscore span, each drift reference) cut the time line;
 * each row lands in exactly one segment and is added once to the partial
 * accumulators of its (population, segment, group). Chunks that are whole
 * segment blocks inside one segment, whose series all pass a tag-only WHERE
 * and fall in one group, are answered from their block statistics (counts,
 * sums, min/max, bool rates) and sketches (approx_quantile) without
 * decoding. Finishing evaluates each item per window and group, merging the
 * partials of the segments of each interval it reads.
 *
 * The scan of an aggregation runs on opts.threads threads: each takes
 * chunks from a shared counter into its own groups and partials (its own
 * reader too), and the partials are merged into the root's at the end;
 * category ids are interned in one shared table so that counts merge by id.
 *
 * Raw rows (no aggregate) are collected (or reservoir-sampled), sorted by
 * time then by the series' tags, then ORDER BY and LIMIT apply.
 *
 * Limits: timeout_ms (0: none) is checked per chunk and every 64K rows;
 * max_values counts the values held for exact quantiles, histograms,
 * drift and raw rows (shared by the threads); max_groups the groups.
 *
 * Group values: a tag's value (null when the row's series lacks the tag),
 * or a bucket's label "(-inf,e1)", "[e1,e2)", ..., "[en,+inf)".
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_db.h"
#include "vigil/vg_result.h"

void vg_q_exec_opts_default(vg_q_exec_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->max_values = 50000000;
    o->max_groups = 100000;
    o->timeout_ms = 60000;
    o->threads = 2;
}

/* ------------------------------------------------------------ helpers */

int exec_tick(exec_t *ex)
{
    if (ex->opts.timeout_ms && vg_now_ns() > ex->deadline)
        return vg_q_error_set(ex->err, VG_ELIMIT, 0, 0,
                              "the query ran past its time limit of %" PRIu64 " ms (timeout_ms)",
                              ex->opts.timeout_ms);
    return VG_OK;
}

char *exec_pool_str(exec_t *ex, const char *s, size_t n)
{
    if (ex->npool == ex->cpool) {
        size_t nc = ex->cpool ? 2 * ex->cpool : 16;
        char **p = vg_realloc(ex->pool, nc * sizeof *p);
        if (!p)
            return NULL;
        ex->pool = p;
        ex->cpool = nc;
    }
    char *c = vg_malloc(n + 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    c[n] = '\0';
    return ex->pool[ex->npool++] = c;
}

int exec_values(exec_t *ex, uint64_t n)
{
    exec_t *root = ex->root ? ex->root : ex;
    uint64_t held = __atomic_add_fetch(&root->values_held, n, __ATOMIC_RELAXED);
    if (ex->opts.max_values && held > ex->opts.max_values)
        return vg_q_error_set(ex->err, VG_ELIMIT, 0, 0,
                              "the query holds more than %" PRIu64 " raw values (max_values)",
                              ex->opts.max_values);
    return VG_OK;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* Grow an open-addressing table of index+1 entries to cap (a power of 2). */
static int rehash(uint32_t **tab, size_t *cap, size_t n, char *const *keys, const size_t *lens32,
                  const uint32_t *lens)
{
    size_t nc = *cap ? 2 * *cap : 64;
    uint32_t *t = vg_calloc(nc, sizeof *t);
    if (!t)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens32 ? lens32[i] : lens[i];
        size_t j = hash_bytes(keys[i], len) & (nc - 1);
        while (t[j])
            j = (j + 1) & (nc - 1);
        t[j] = (uint32_t)i + 1;
    }
    vg_free(*tab);
    *tab = t;
    *cap = nc;
    return VG_OK;
}

static int64_t intern_locked(exec_t *ex, const qv_t *v);

/* Category ids are shared by every worker, so that counts merge by id. */
int64_t exec_intern(exec_t *ex, const qv_t *v)
{
    exec_t *root = ex->root ? ex->root : ex;
    pthread_mutex_lock(&root->cat_mu);
    int64_t id = intern_locked(root, v);
    pthread_mutex_unlock(&root->cat_mu);
    return id;
}

static int64_t intern_locked(exec_t *ex, const qv_t *v)
{
    char buf[16];
    const char *key = buf;
    size_t len;
    if (v->k == QV_S) {
        key = v->s;
        len = v->len;
    } else {
        double d = qv_num(v);
        d = d == 0 ? 0 : d;
        buf[0] = '\x01';
        memcpy(buf + 1, &d, sizeof d);
        len = 1 + sizeof d;
        if (v->k == QV_B)
            buf[0] = '\x02';
    }
    if (ex->cat_cap) {
        size_t j = hash_bytes(key, len) & (ex->cat_cap - 1);
        while (ex->cat_tab[j]) {
            size_t id = ex->cat_tab[j] - 1;
            if (ex->cat_lens[id] == len && memcmp(ex->cat_keys[id], key, len) == 0)
                return (int64_t)id;
            j = (j + 1) & (ex->cat_cap - 1);
        }
    }
    if (ex->ncat == ex->ccat) {
        size_t nc = ex->ccat ? 2 * ex->ccat : 64;
        char **k = vg_realloc(ex->cat_keys, nc * sizeof *k);
        if (k)
            ex->cat_keys = k;
        uint32_t *l = vg_realloc(ex->cat_lens, nc * sizeof *l);
        if (l)
            ex->cat_lens = l;
        if (!k || !l)
            return VG_ENOMEM;
        ex->ccat = nc;
    }
    char *copy = vg_malloc(len + 1);
    if (!copy)
        return VG_ENOMEM;
    memcpy(copy, key, len);
    ex->cat_keys[ex->ncat] = copy;
    ex->cat_lens[ex->ncat] = (uint32_t)len;
    ex->ncat++;
    if (2 * ex->ncat > ex->cat_cap &&
        rehash(&ex->cat_tab, &ex->cat_cap, ex->ncat, ex->cat_keys, NULL, ex->cat_lens))
        return VG_ENOMEM;
    else if (2 * ex->ncat <= ex->cat_cap) {
        size_t j = hash_bytes(key, len) & (ex->cat_cap - 1);
        while (ex->cat_tab[j])
            j = (j + 1) & (ex->cat_cap - 1);
        ex->cat_tab[j] = (uint32_t)ex->ncat;
    }
    return (int64_t)ex->ncat - 1;
}

/* -------------------------------------------------------- time plan */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t time_of(const exec_t *ex, const vg_q_time_t *t)
{
    return t->kind == VG_QTM_NOW ? ex->now + t->ns : t->ns;
}

static int plan_windows(exec_t *ex)
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

static size_t bound_idx(const exec_t *ex, int64_t t)
{
    size_t lo = 0, hi = ex->nbounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ex->bounds[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The segment holding ts, or -1 outside the plan. */
static long seg_of(const exec_t *ex, int64_t ts)
{
    if (ex->nbounds < 2 || ts < ex->bounds[0] || ts >= ex->bounds[ex->nbounds - 1])
        return -1;
    size_t i = bound_idx(ex, ts);
    if (i == ex->nbounds || ex->bounds[i] != ts)
        i--;
    return (long)i;
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
                size_t i = bound_idx(ex, sp[k].a), j = bound_idx(ex, sp[k].b);
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

static int plan_segments(exec_t *ex)
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
    if (!(ex->seg_needed = vg_calloc(n, 1)))
        return VG_ENOMEM;
    for (size_t w = 0; w < ex->nwin && !rc; w++) {
        span_t s = ex->wins[w];
        for (size_t i = bound_idx(ex, s.a), j = bound_idx(ex, s.b); i < j; i++)
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
    size_t i = bound_idx(ex, s.a), j = bound_idx(ex, s.b), nseg = ex->nbounds - 1;
    assert(i < ex->nbounds && ex->bounds[i] == s.a && j < ex->nbounds && ex->bounds[j] == s.b);
    int rc = VG_OK;
    for (; i < j && !rc; i++)
        rc = acc_merge(&ex->specs[spec], tmp,
                       &g->accs[((size_t)pop * nseg + i) * (size_t)ex->nspec + (size_t)spec]);
    return rc;
}

/* ------------------------------------------------------------- groups */

typedef struct keybuf {
    char *p;
    size_t n, cap;
} keybuf_t;

static int kb_put(keybuf_t *k, const void *p, size_t n)
{
    if (k->n + n > k->cap) {
        size_t nc = k->cap ? 2 * k->cap : 256;
        while (nc < k->n + n)
            nc *= 2;
        char *q = vg_realloc(k->p, nc);
        if (!q)
            return VG_ENOMEM;
        k->p = q;
        k->cap = nc;
    }
    memcpy(k->p + k->n, p, n);
    k->n += n;
    return VG_OK;
}

static int key_value(keybuf_t *k, const char *s, size_t len)
{
    char tag = s ? 1 : 0;
    uint32_t l = (uint32_t)len;
    if (kb_put(k, &tag, 1) || (s && (kb_put(k, &l, 4) || kb_put(k, s, len))))
        return VG_ENOMEM;
    return VG_OK;
}

static int has_bucket(const exec_t *ex)
{
    for (int g = 0; g < ex->st->ngroups; g++)
        if (ex->bucket_labels[g])
            return 1;
    return 0;
}

static int new_group(exec_t *ex, const char *key, size_t len, size_t *out)
{
    if (ex->opts.max_groups && ex->ngrp >= ex->opts.max_groups)
        return vg_q_error_set(ex->err, VG_ELIMIT, 0, 0,
                              "the query makes more than %" PRIu64 " groups (max_groups)",
                              ex->opts.max_groups);
    if (ex->ngrp == ex->cgrp) {
        size_t nc = ex->cgrp ? 2 * ex->cgrp : 16;
        group_t *p = vg_realloc(ex->grp, nc * sizeof *p);
        if (!p)
            return VG_ENOMEM;
        ex->grp = p;
        ex->cgrp = nc;
    }
    group_t *g = &ex->grp[ex->ngrp];
    memset(g, 0, sizeof *g);
    size_t nacc = (size_t)ex->npop * (ex->nbounds ? ex->nbounds - 1 : 0) * (size_t)ex->nspec;
    g->key = vg_malloc(len + 1);
    g->vals = vg_calloc((size_t)ex->st->ngroups + 1, sizeof *g->vals);
    g->accs = nacc ? vg_malloc(nacc * sizeof *g->accs) : NULL;
    if (!g->key || !g->vals || (nacc && !g->accs)) {
        vg_free(g->key);
        vg_free(g->vals);
        vg_free(g->accs);
        return vg_q_error_set(ex->err, VG_ENOMEM, 0, 0, "out of memory for a new group");
    }
    for (size_t i = 0; i < nacc; i++)
        acc_init(&g->accs[i]);
    memcpy(g->key, key, len);
    g->keylen = len;
    const char *p = g->key;
    for (int i = 0; i < ex->st->ngroups; i++) {
        if (*p++ == 0)
            continue;
        uint32_t l;
        memcpy(&l, p, 4);
        g->vals[i] = (qv_t){.k = QV_S, .s = p + 4, .len = l};
        p += 4 + l;
    }
    *out = ex->ngrp++;
    return VG_OK;
}

static int find_group(exec_t *ex, const char *key, size_t len, size_t *out)
{
    if (ex->gtab_cap) {
        size_t j = hash_bytes(key, len) & (ex->gtab_cap - 1);
        while (ex->gtab[j]) {
            group_t *g = &ex->grp[ex->gtab[j] - 1];
            if (g->keylen == len && memcmp(g->key, key, len) == 0) {
                *out = ex->gtab[j] - 1;
                return VG_OK;
            }
            j = (j + 1) & (ex->gtab_cap - 1);
        }
    }
    int rc = new_group(ex, key, len, out);
    if (rc)
        return rc;
    if (2 * ex->ngrp > ex->gtab_cap) {
        size_t nc = ex->gtab_cap ? 2 * ex->gtab_cap : 64;
        uint32_t *t = vg_calloc(nc, sizeof *t);
        if (!t)
            return VG_ENOMEM;
        for (size_t i = 0; i < ex->ngrp; i++) {
            size_t j = hash_bytes(ex->grp[i].key, ex->grp[i].keylen) & (nc - 1);
            while (t[j])
                j = (j + 1) & (nc - 1);
            t[j] = (uint32_t)i + 1;
        }
        vg_free(ex->gtab);
        ex->gtab = t;
        ex->gtab_cap = nc;
    } else {
        size_t j = hash_bytes(key, len) & (ex->gtab_cap - 1);
        while (ex->gtab[j])
            j = (j + 1) & (ex->gtab_cap - 1);
        ex->gtab[j] = (uint32_t)*out + 1;
    }
    return VG_OK;
}

/* The group of the row in c (creating it). */
static int group_of(exec_t *ex, evctx_t *c, keybuf_t *kb, size_t *out)
{
    int bucket = has_bucket(ex);
    if (!bucket && ex->series_group && ex->series_group[c->series] >= 0) {
        *out = (size_t)ex->series_group[c->series];
        return VG_OK;
    }
    kb->n = 0;
    for (int g = 0; g < ex->st->ngroups; g++) {
        int rc;
        if (ex->bucket_labels[g]) {
            qv_t v;
            if ((rc = eval(c, ex->groups[g], &v)))
                return rc;
            double d = qv_num(&v);
            const char *label = NULL;
            if (!isnan(d)) {
                int i = 0;
                while (i < ex->bucket_nedges[g] && ex->bucket_edges[g][i] <= d)
                    i++;
                label = ex->bucket_labels[g][i];
            }
            rc = key_value(kb, label, label ? strlen(label) : 0);
        } else {
            const char *s = vg_scan_series_tag(ex->scan, c->series, (uint32_t)ex->groups[g]->idx);
            rc = key_value(kb, s, s ? strlen(s) : 0);
        }
        if (rc)
            return VG_ENOMEM;
    }
    int rc = find_group(ex, kb->p ? kb->p : "", kb->n, out);
    if (!rc && !bucket && ex->series_group)
        ex->series_group[c->series] = (int32_t)*out;
    return rc;
}

/* --------------------------------------------------------------- scan */

static int only_tags(const cx_t *x)
{
    if (!x)
        return 1;
    if (x->kind == CX_FIELD || x->kind == CX_TIME)
        return 0;
    for (int i = 0; i < x->nkids; i++)
        if (!only_tags(x->kids[i]))
            return 0;
    return 1;
}

static int numeric(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT;
}

static int spec_statsable(const spec_t *sp)
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
    case VG_QF_RATE: return sp->atype == VG_TYPE_BOOL;
    default: return 0;
    }
}

static int plan_stats(const exec_t *ex)
{
    if (ex->npop != 1 || has_bucket(ex) || !only_tags(ex->where))
        return 0;
    for (int i = 0; i < ex->nspec; i++)
        if (!spec_statsable(&ex->specs[i]))
            return 0;
    return 1;
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

static int apply_stats(exec_t *ex, uint32_t chunk, const vg_scan_chunk_t *ci, acc_t *accs)
{
    vg_scan_stats_t st[64];
    int have[64];
    if (ex->nspec > 64)
        return 0;
    for (int i = 0; i < ex->nspec; i++) { /* check every spec first: all or nothing */
        const spec_t *sp = &ex->specs[i];
        have[i] = sp->field >= 0 && vg_scan_chunk_stats(ex->scan, chunk, (uint32_t)sp->field, &st[i]);
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
        case VG_QF_RATE: a->trues += (uint64_t)st[i].sum_i; break;
        case VG_QF_APPROX_QUANTILE:
            if (st[i].count)
                vg_scan_chunk_sketch(ex->scan, chunk, (uint32_t)sp->field, &a->sk, NULL);
            break;
        default: break;
        }
    }
    return 1;
}

/* Answer a chunk from its statistics when it is allowed; 1 when done. */
static int try_stats(exec_t *ex, uint32_t chunk, const vg_scan_chunk_t *ci, keybuf_t *kb, int *done)
{
    *done = 0;
    if (!ci->has_stats || !ex->stats_ok)
        return VG_OK;
    long s0 = seg_of(ex, ci->ts_min), s1 = seg_of(ex, ci->ts_max);
    if (s0 < 0 || s0 != s1 || !ex->seg_needed[s0])
        return VG_OK;
    const uint32_t *series;
    uint32_t ns;
    if (vg_scan_chunk_series(ex->scan, chunk, &series, &ns) || ns == 0)
        return VG_OK;
    evctx_t c = {.ex = ex};
    size_t gi = 0;
    for (uint32_t i = 0; i < ns; i++) {
        c.series = series[i];
        int pass = 1, rc;
        if (ex->where && (rc = eval_pred(&c, ex->where, &pass)))
            return rc;
        if (!pass)
            return VG_OK;
        size_t g;
        if ((rc = group_of(ex, &c, kb, &g)))
            return rc;
        if (i && g != gi)
            return VG_OK;
        gi = g;
    }
    group_t *g = &ex->grp[gi];
    if (!apply_stats(ex, chunk, ci, &g->accs[(size_t)s0 * (size_t)ex->nspec]))
        return VG_OK;
    if (ex->bounds[s0] >= ex->start && ex->bounds[s0 + 1] <= ex->end)
        g->in_range = 1;
    *done = 1;
    return VG_OK;
}

static int read_cols(exec_t *ex, vg_scan_reader_t *rd, uint32_t chunk, vg_scan_col_t *cols,
                     vg_error_t *verr)
{
    for (uint32_t f = 0; f < vg_scan_nfields(ex->scan); f++)
        if (ex->field_used[f]) {
            int rc = vg_scan_read_col(rd, chunk, f, &cols[f], verr);
            if (rc)
                return rc;
        }
    return VG_OK;
}

static int add_row(exec_t *ex, evctx_t *c, long seg, keybuf_t *kb)
{
    size_t nseg = ex->nbounds - 1;
    for (int pop = 0; pop < ex->npop; pop++) {
        const cx_t *pred = pop ? ex->against_where : ex->where;
        int pass = 1, rc;
        if (pred && (rc = eval_pred(c, pred, &pass)))
            return rc;
        if (!pass)
            continue;
        size_t gi;
        if ((rc = group_of(ex, c, kb, &gi)))
            return rc;
        group_t *g = &ex->grp[gi];
        if (pop == 0 && c->ts >= ex->start && c->ts < ex->end)
            g->in_range = 1;
        acc_t *accs = &g->accs[((size_t)pop * nseg + (size_t)seg) * (size_t)ex->nspec];
        for (int s = 0; s < ex->nspec; s++) {
            const spec_t *sp = &ex->specs[s];
            if (pop && !sp->drift)
                continue;
            qv_t v;
            if (sp->arg && (rc = eval(c, sp->arg, &v)))
                return rc;
            if ((rc = acc_add(ex, sp, &accs[s], sp->arg ? &v : NULL, c->ts)))
                return rc == VG_ELIMIT ? rc
                                       : vg_q_error_set(ex->err, rc, 0, 0, "accumulating: %s",
                                                        vg_strerror(rc));
        }
    }
    return VG_OK;
}

static int scan_error(exec_t *ex, int rc, const vg_error_t *verr)
{
    return vg_q_error_set(ex->err, rc, 0, 0, "%s", verr->msg[0] ? verr->msg : vg_strerror(rc));
}

/* Scan chunks taken from the root's counter until none is left. */
static int scan_worker(exec_t *ex)
{
    exec_t *root = ex->root ? ex->root : ex;
    vg_scan_reader_t *rd = NULL;
    vg_error_t verr = {0};
    keybuf_t kb = {0};
    uint32_t nf = vg_scan_nfields(ex->scan), nch = vg_scan_nchunks(ex->scan);
    vg_scan_col_t *cols = vg_calloc(nf + 1, sizeof *cols);
    int rc = cols ? vg_scan_reader_create(ex->scan, &rd, &verr) : VG_ENOMEM;
    if (rc) {
        vg_free(cols);
        return scan_error(ex, rc, &verr);
    }
    int64_t lo = ex->bounds[0], hi = ex->bounds[ex->nbounds - 1];
    for (;;) {
        uint32_t ch = __atomic_fetch_add(&root->next_chunk, 1, __ATOMIC_RELAXED);
        if (ch >= nch || rc)
            break;
        vg_scan_chunk_t ci = vg_scan_chunk(ex->scan, ch);
        if (ci.ts_max < lo || ci.ts_min >= hi || (rc = exec_tick(ex)))
            continue;
        long s0 = seg_of(ex, ci.ts_min < lo ? lo : ci.ts_min);
        long s1 = seg_of(ex, ci.ts_max >= hi ? hi - 1 : ci.ts_max);
        int need = 0;
        for (long s = s0; s >= 0 && s <= s1 && !need; s++)
            need = ex->seg_needed[s];
        int done = 0;
        if (!need || (rc = try_stats(ex, ch, &ci, &kb, &done)) || done)
            continue;
        const int64_t *ts;
        const uint32_t *ser;
        if ((rc = vg_scan_read_time(rd, ch, &ts, &ser, &verr)) ||
            (rc = read_cols(ex, rd, ch, cols, &verr))) {
            rc = scan_error(ex, rc, &verr);
            break;
        }
        evctx_t c = {.ex = ex, .cols = cols};
        for (uint32_t i = 0; i < ci.nrows && !rc; i++) {
            long seg = seg_of(ex, ts[i]);
            if (seg < 0 || !ex->seg_needed[seg])
                continue;
            c.row = i;
            c.series = ser[i];
            c.ts = ts[i];
            rc = add_row(ex, &c, seg, &kb);
            if (!rc && (i & 0xffff) == 0xffff)
                rc = exec_tick(ex);
        }
    }
    if (rc) /* stop the others early */
        __atomic_store_n(&root->next_chunk, nch, __ATOMIC_RELAXED);
    vg_scan_reader_free(rd);
    vg_free(cols);
    vg_free(kb.p);
    return rc;
}

typedef struct worker {
    exec_t ex;
    pthread_t th;
    int started, rc;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->rc = scan_worker(&w->ex);
    return NULL;
}

static void free_groups(exec_t *ex)
{
    size_t nacc = (size_t)ex->npop * (ex->nbounds ? ex->nbounds - 1 : 0) * (size_t)ex->nspec;
    for (size_t g = 0; g < ex->ngrp; g++) {
        for (size_t i = 0; ex->grp[g].accs && i < nacc; i++)
            acc_free(&ex->grp[g].accs[i]);
        vg_free(ex->grp[g].accs);
        vg_free(ex->grp[g].key);
        vg_free(ex->grp[g].vals);
    }
    vg_free(ex->grp);
    vg_free(ex->gtab);
    vg_free(ex->series_group);
    ex->grp = NULL, ex->gtab = NULL, ex->series_group = NULL;
    ex->ngrp = ex->cgrp = ex->gtab_cap = 0;
}

/* Fold a worker's groups and partials into the root's. */
static int merge_worker(exec_t *root, exec_t *w)
{
    size_t nacc = (size_t)root->npop * (root->nbounds - 1) * (size_t)root->nspec;
    for (size_t g = 0; g < w->ngrp; g++) {
        size_t gi;
        int rc = find_group(root, w->grp[g].key, w->grp[g].keylen, &gi);
        if (rc)
            return rc;
        group_t *dst = &root->grp[gi], *src = &w->grp[g];
        dst->in_range |= src->in_range;
        for (size_t i = 0; i < nacc && !rc; i++)
            rc = acc_merge(&root->specs[i % (size_t)root->nspec], &dst->accs[i], &src->accs[i]);
        if (rc)
            return vg_q_error_set(root->err, rc, 0, 0, "out of memory merging partial aggregates");
    }
    return VG_OK;
}

/* Scan with opts.threads threads: the root works too; the others are copies. */
static int scan_aggregate(exec_t *ex)
{
    uint32_t nch = vg_scan_nchunks(ex->scan);
    unsigned nt = ex->opts.threads ? ex->opts.threads : 1;
    if (nt > 64)
        nt = 64;
    if (nch < 4 * nt)
        nt = 1;
    worker_t *ws = nt > 1 ? vg_calloc(nt - 1, sizeof *ws) : NULL;
    if (nt > 1 && !ws)
        nt = 1;
    uint32_t ns = vg_scan_nseries(ex->scan);
    for (unsigned i = 0; i + 1 < nt; i++) {
        worker_t *w = &ws[i];
        w->ex = *ex;
        w->ex.root = ex;
        w->ex.err = &w->ex.werr;
        memset(&w->ex.werr, 0, sizeof w->ex.werr);
        w->ex.grp = NULL, w->ex.gtab = NULL, w->ex.ngrp = w->ex.cgrp = w->ex.gtab_cap = 0;
        w->ex.series_group = vg_malloc(((size_t)ns + 1) * sizeof *w->ex.series_group);
        if (!w->ex.series_group)
            break;
        memset(w->ex.series_group, 0xff, ((size_t)ns + 1) * sizeof *w->ex.series_group);
        w->started = pthread_create(&w->th, NULL, worker_main, w) == 0;
        if (!w->started)
            break;
    }
    int rc = scan_worker(ex);
    for (unsigned i = 0; i + 1 < nt; i++) {
        worker_t *w = &ws[i];
        if (w->started) {
            pthread_join(w->th, NULL);
            if (w->rc && !rc) {
                rc = w->rc;
                *ex->err = w->ex.werr;
            }
            if (!rc)
                rc = merge_worker(ex, &w->ex);
        }
        free_groups(&w->ex);
    }
    vg_free(ws);
    return rc;
}

/* ------------------------------------------------------------- output */

static int set_cell(vg_result_t *r, size_t row, size_t col, const qv_t *v)
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

static _Thread_local const vg_result_t *sort_r;
static _Thread_local const int *sort_cols, *sort_desc;
static _Thread_local int sort_n;

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
        qv_t p = {.k = QV_S, .s = x->s.p, .len = x->s.len}, q = {.k = QV_S, .s = y->s.p, .len = y->s.len};
        return qv_cmp(&p, &q);
    }
    }
}

static int cmp_rows(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    for (int k = 0; k < sort_n; k++) {
        int c = cell_cmp(sort_r, a, b, (size_t)sort_cols[k]);
        if (c)
            return sort_desc[k] ? -c : c;
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
        sort_r = tmp, sort_cols = cols, sort_desc = desc, sort_n = nkeys;
        qsort(perm, n, sizeof *perm, cmp_rows);
    }
    if (ex->st->limit >= 0 && (uint64_t)ex->st->limit < n)
        n = (size_t)ex->st->limit;
    vg_result_free(out);
    int rc = vg_result_init(out, nvis);
    for (size_t c = 0; c < nvis && !rc; c++)
        rc = vg_result_col(out, c, tmp->cols[c].name, tmp->cols[c].type);
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

static vg_type_t col_type(vg_type_t t)
{
    return t == VG_TYPE_NONE ? VG_TYPE_STRING : t;
}

static _Thread_local const group_t *sort_grp;
static _Thread_local int sort_ngv;
static int cmp_groups(const void *pa, const void *pb)
{
    const group_t *a = &sort_grp[*(const size_t *)pa], *b = &sort_grp[*(const size_t *)pb];
    for (int i = 0; i < sort_ngv; i++) {
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

/* The column an ORDER BY key names; -1 when none. */
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

static int order_and_limit(exec_t *ex, vg_result_t *tmp, vg_result_t *out, size_t nvis,
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

static int emit_aggregate(exec_t *ex, vg_result_t *out)
{
    const vg_q_stmt_t *st = ex->st;
    int every = st->every.ns > 0, ng = st->ngroups, nshown = 0;
    for (int i = 0; i < st->nitems; i++)
        nshown += !item_is_group(st, i);
    size_t ncols = (size_t)every + (size_t)ng + (size_t)nshown;
    vg_result_t tmp;
    int rc = vg_result_init(&tmp, ncols);
    size_t c = 0;
    if (!rc && every)
        rc = vg_result_col(&tmp, c++, "time", VG_TYPE_TIME);
    for (int g = 0; g < ng && !rc; g++)
        rc = vg_result_col(&tmp, c++, st->group_names[g],
                           ex->bucket_labels[g] ? VG_TYPE_STRING : VG_TYPE_TAG);
    for (int i = 0; i < st->nitems && !rc; i++)
        if (!item_is_group(st, i))
            rc = vg_result_col(&tmp, c++, vg_q_item_name(st, (size_t)i),
                               col_type(ex->items[i]->type));
    size_t *order = vg_malloc((ex->ngrp + 1) * sizeof *order), no = 0;
    if (!order)
        rc = VG_ENOMEM;
    for (size_t g = 0; g < ex->ngrp && !rc; g++)
        if (ex->grp[g].in_range)
            order[no++] = g;
    sort_grp = ex->grp;
    sort_ngv = ng;
    if (!rc)
        qsort(order, no, sizeof *order, cmp_groups);
    for (size_t w = 0; w < ex->nwin && !rc; w++) {
        for (size_t k = 0; k < no && !rc; k++) {
            group_t *g = &ex->grp[order[k]];
            size_t row;
            if ((rc = vg_result_add_row(&tmp, &row)))
                break;
            c = 0;
            if (every) {
                qv_t t = {.k = QV_I, .v.i = ex->wins[w].a};
                rc = set_cell(&tmp, row, c++, &t);
            }
            for (int i = 0; i < ng && !rc; i++)
                rc = set_cell(&tmp, row, c++, &g->vals[i]);
            evctx_t ec = {.ex = ex, .g = g, .ws = ex->wins[w].a, .we = ex->wins[w].b,
                          .cur = ex->wins[w]};
            for (int i = 0; i < st->nitems && !rc; i++) {
                qv_t v;
                if (!item_is_group(st, i) && !(rc = eval(&ec, ex->items[i], &v)))
                    rc = set_cell(&tmp, row, c++, &v);
            }
            if (!rc && (rc = exec_tick(ex)))
                break;
        }
    }
    vg_free(order);
    if (rc && rc != VG_ELIMIT && ex->err && ex->err->code != rc)
        vg_q_error_set(ex->err, rc, 0, 0, "finishing the aggregates: %s", vg_strerror(rc));
    if (!rc)
        rc = order_and_limit(ex, &tmp, out, ncols, every + ng, NULL);
    if (!rc)
        out->windows = every;
    vg_result_free(&tmp);
    return rc;
}

/* ------------------------------------------------------------ driver */

static int exec_raw(exec_t *ex, vg_result_t *out);

static int open_scan(exec_t *ex, int64_t t0, int64_t t1)
{
    vg_error_t verr = {0};
    vg_scan_close(ex->scan);
    ex->scan = NULL;
    int rc = vg_scan_open(ex->db, ex->st->table, t0, t1, &ex->scan, &verr);
    if (rc != VG_ENOTFOUND)
        return rc ? scan_error(ex, rc, &verr) : VG_OK;
    vg_db_stats_t ds;
    const char *sugg = NULL;
    const char **names = NULL;
    if (vg_db_stats(ex->db, &ds, NULL) == VG_OK) {
        names = vg_malloc((ds.ntables + 1) * sizeof *names);
        for (size_t i = 0; names && i < ds.ntables; i++)
            names[i] = ds.tables[i].name;
        if (names)
            sugg = vg_q_suggest(ex->st->table, names, ds.ntables);
        if (sugg)
            vg_q_error_set(ex->err, VG_ENOTFOUND, ex->st->table_line, ex->st->table_column,
                           "unknown table '%s' (did you mean '%s'?)", ex->st->table, sugg);
        vg_free(names);
        vg_db_stats_free(&ds);
    }
    if (!sugg)
        vg_q_error_set(ex->err, VG_ENOTFOUND, ex->st->table_line, ex->st->table_column,
                       "unknown table '%s'", ex->st->table);
    return VG_ENOTFOUND;
}

static int run_aggregate(exec_t *ex, vg_result_t *out)
{
    int rc;
    ex->npop = ex->st->against.kind == VG_QA_WHERE ? 2 : 1;
    if ((rc = plan_segments(ex)))
        return rc;
    /* reopen over the whole plan (baselines and references reach back) and rebind */
    bind_free(ex);
    ex->items = NULL, ex->groups = NULL, ex->specs = NULL, ex->nspec = ex->cspec = 0;
    ex->where = ex->against_where = NULL;
    if ((rc = open_scan(ex, ex->bounds[0], ex->bounds[ex->nbounds - 1])) ||
        (rc = bind_compile(ex)))
        return rc;
    ex->stats_ok = plan_stats(ex);
    uint32_t ns = vg_scan_nseries(ex->scan);
    if (!(ex->series_group = vg_malloc(((size_t)ns + 1) * sizeof *ex->series_group)))
        return VG_ENOMEM;
    memset(ex->series_group, 0xff, ((size_t)ns + 1) * sizeof *ex->series_group);
    if (ex->st->ngroups == 0) { /* one group, present even without rows */
        size_t g;
        if ((rc = find_group(ex, "", 0, &g)))
            return rc;
        ex->grp[g].in_range = 1;
    }
    if ((rc = scan_aggregate(ex)))
        return rc;
    return emit_aggregate(ex, out);
}

static void exec_free(exec_t *ex)
{
    free_groups(ex);
    bind_free(ex);
    pthread_mutex_destroy(&ex->cat_mu);
    for (size_t i = 0; i < ex->ncat; i++)
        vg_free(ex->cat_keys[i]);
    vg_free(ex->cat_keys);
    vg_free(ex->cat_lens);
    vg_free(ex->cat_tab);
    for (size_t i = 0; i < ex->npool; i++)
        vg_free(ex->pool[i]);
    vg_free(ex->pool);
    vg_free(ex->wins);
    vg_free(ex->bounds);
    vg_free(ex->seg_needed);
    vg_scan_close(ex->scan);
}

int vg_q_exec(vg_db_t *db, const vg_q_stmt_t *s, const vg_q_exec_opts_t *opts, vg_result_t *out,
              vg_q_error_t *err)
{
    vg_q_error_t local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    int rc = vg_result_init(out, 0);
    if (rc)
        return vg_q_error_set(err, rc, 0, 0, "out of memory");
    if (!db || !s)
        return vg_q_error_set(err, VG_EINVAL, 0, 0, "no database or statement");
    exec_t ex;
    memset(&ex, 0, sizeof ex);
    ex.db = db;
    ex.st = s;
    ex.err = err;
    vg_q_exec_opts_default(&ex.opts);
    if (opts)
        ex.opts = *opts;
    int64_t wall = vg_now_ns();
    ex.now = ex.opts.now_ns ? ex.opts.now_ns : wall;
    ex.deadline = wall + (int64_t)(ex.opts.timeout_ms > 0 ? ex.opts.timeout_ms : 1) * 1000000;
    ex.npop = 1;
    pthread_mutex_init(&ex.cat_mu, NULL);
    if (!(rc = plan_windows(&ex)) && !(rc = open_scan(&ex, ex.start, ex.end)) &&
        !(rc = bind_check_names(&ex)) && !(rc = bind_compile(&ex)))
        rc = s->aggregate ? run_aggregate(&ex, out) : exec_raw(&ex, out);
    if (rc && err->code == 0)
        vg_q_error_set(err, rc, 0, 0, "%s", vg_strerror(rc));
    exec_free(&ex);
    return rc;
}

int vg_q_run(vg_db_t *db, const char *text, const vg_q_exec_opts_t *opts, vg_result_t *out,
             vg_q_error_t *err)
{
    vg_q_stmt_t *s = NULL;
    int rc = vg_q_parse(text, &s, err);
    if (rc) {
        vg_result_init(out, 0);
        return rc;
    }
    rc = vg_q_exec(db, s, opts, out, err);
    vg_q_free(s);
    return rc;
}

/* ----------------------------------------------------------- raw rows */

typedef struct rawrow {
    int64_t ts;
    uint32_t series;
    qv_t *cells; /* one block: the cells, then their string bytes */
} rawrow_t;

typedef struct rawplan {
    cx_t **cols; /* visible columns, then hidden ORDER BY keys */
    cx_t *star;  /* SELECT *: the column nodes, owned here */
    const char **names;
    size_t nvis, ncols;
    int *hidden; /* per ORDER BY key: its hidden column or -1 */
    uint32_t *rank; /* series -> position in tag order */
} rawplan_t;

static _Thread_local const exec_t *rank_ex;
static _Thread_local const uint32_t *rank_tags;
static _Thread_local uint32_t rank_ntags;

static int cmp_series(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    for (uint32_t i = 0; i < rank_ntags; i++) {
        const char *x = vg_scan_series_tag(rank_ex->scan, a, rank_tags[i]);
        const char *y = vg_scan_series_tag(rank_ex->scan, b, rank_tags[i]);
        if (!x || !y) {
            if (x != y)
                return !x ? -1 : 1;
            continue;
        }
        int c = strcmp(x, y);
        if (c)
            return c;
    }
    return a < b ? -1 : a > b;
}

static _Thread_local const exec_t *name_ex;
static int cmp_tag_names(const void *pa, const void *pb)
{
    return strcmp(vg_scan_tag_name(name_ex->scan, *(const uint32_t *)pa),
                  vg_scan_tag_name(name_ex->scan, *(const uint32_t *)pb));
}
static int cmp_field_names(const void *pa, const void *pb)
{
    return strcmp(vg_scan_field_name(name_ex->scan, *(const uint32_t *)pa),
                  vg_scan_field_name(name_ex->scan, *(const uint32_t *)pb));
}

/* Tag indices sorted by name into *out (n of them). */
static uint32_t *sorted_tags(const exec_t *ex, uint32_t *n)
{
    *n = vg_scan_ntags(ex->scan);
    uint32_t *t = vg_malloc(((size_t)*n + 1) * sizeof *t);
    for (uint32_t i = 0; t && i < *n; i++)
        t[i] = i;
    name_ex = ex;
    if (t)
        qsort(t, *n, sizeof *t, cmp_tag_names);
    return t;
}

static int raw_plan(exec_t *ex, rawplan_t *p)
{
    const vg_q_stmt_t *st = ex->st;
    uint32_t nt = 0, nf = vg_scan_nfields(ex->scan);
    uint32_t *tags = sorted_tags(ex, &nt);
    uint32_t *fields = vg_malloc(((size_t)nf + 1) * sizeof *fields);
    p->nvis = st->star ? 1 + nt + nf : (size_t)st->nitems;
    p->cols = vg_calloc(p->nvis + (size_t)st->norder + 1, sizeof *p->cols);
    p->names = vg_calloc(p->nvis + (size_t)st->norder + 1, sizeof *p->names);
    p->hidden = vg_calloc((size_t)st->norder + 1, sizeof *p->hidden);
    p->star = st->star ? vg_calloc(p->nvis, sizeof *p->star) : NULL;
    int rc = (!tags || !fields || !p->cols || !p->names || !p->hidden || (st->star && !p->star))
                 ? VG_ENOMEM
                 : VG_OK;
    if (!rc && st->star) {
        for (uint32_t i = 0; i < nf; i++)
            fields[i] = i;
        name_ex = ex;
        qsort(fields, nf, sizeof *fields, cmp_field_names);
        for (size_t c = 0; c < p->nvis; c++) {
            cx_t *x = &p->star[c];
            x->idx = x->gidx = -1;
            if (c == 0) {
                x->kind = CX_TIME, x->type = VG_TYPE_TIME;
                p->names[c] = "time";
            } else if (c <= nt) {
                x->kind = CX_TAG, x->type = VG_TYPE_TAG, x->idx = (int)tags[c - 1];
                p->names[c] = vg_scan_tag_name(ex->scan, tags[c - 1]);
            } else {
                uint32_t f = fields[c - 1 - nt];
                x->kind = CX_FIELD, x->idx = (int)f, x->type = vg_scan_field_type(ex->scan, f);
                p->names[c] = vg_scan_field_name(ex->scan, f);
                ex->field_used[f] = 1;
            }
            p->cols[c] = x;
        }
    } else if (!rc) {
        for (int i = 0; i < st->nitems; i++) {
            p->cols[i] = ex->items[i];
            p->names[i] = vg_q_item_name(st, (size_t)i);
        }
    }
    p->ncols = p->nvis;
    for (int k = 0; k < st->norder && !rc; k++) {
        const vg_q_order_t *o = &st->order[k];
        p->hidden[k] = -1;
        const char *name = o->is_time ? "time"
                           : o->expr && o->expr->kind == VG_QE_REF ? o->expr->u.ref.name
                                                                   : NULL;
        int found = o->item >= 0 && !st->star;
        for (size_t c = 0; name && !found && c < p->nvis; c++)
            found = strcmp(p->names[c], name) == 0;
        if (found || !o->expr)
            continue;
        if ((rc = bind_row_expr(ex, o->expr, &p->cols[p->ncols])))
            break;
        p->names[p->ncols] = "";
        p->hidden[k] = (int)p->ncols++;
    }
    if (!rc && !(p->rank = vg_malloc(((size_t)vg_scan_nseries(ex->scan) + 1) * sizeof *p->rank)))
        rc = VG_ENOMEM;
    if (!rc) { /* rank of each series in the order of its tags */
        uint32_t ns = vg_scan_nseries(ex->scan);
        uint32_t *ids = vg_malloc(((size_t)ns + 1) * sizeof *ids);
        if (!ids) {
            rc = VG_ENOMEM;
        } else {
            for (uint32_t i = 0; i < ns; i++)
                ids[i] = i;
            rank_ex = ex, rank_tags = tags, rank_ntags = nt;
            qsort(ids, ns, sizeof *ids, cmp_series);
            for (uint32_t i = 0; i < ns; i++)
                p->rank[ids[i]] = i;
            vg_free(ids);
        }
    }
    vg_free(tags);
    vg_free(fields);
    return rc;
}

static void raw_plan_free(const exec_t *ex, rawplan_t *p)
{
    for (size_t c = p->nvis; p->cols && c < p->ncols; c++)
        bind_cx_free(p->cols[c]);
    (void)ex;
    vg_free(p->cols);
    vg_free(p->star);
    vg_free(p->names);
    vg_free(p->hidden);
    vg_free(p->rank);
}

/* An owned copy of a row's cells (strings copied after them). */
static qv_t *own_cells(const qv_t *cells, size_t n)
{
    size_t bytes = n * sizeof *cells;
    for (size_t i = 0; i < n; i++)
        if (cells[i].k == QV_S)
            bytes += cells[i].len + 1;
    qv_t *out = vg_malloc(bytes);
    if (!out)
        return NULL;
    memcpy(out, cells, n * sizeof *cells);
    char *s = (char *)(out + n);
    for (size_t i = 0; i < n; i++)
        if (cells[i].k == QV_S) {
            memcpy(s, cells[i].s, cells[i].len);
            s[cells[i].len] = '\0';
            out[i].s = s;
            s += cells[i].len + 1;
        }
    return out;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rawset {
    rawrow_t *rows;
    size_t n, cap;
    uint64_t matched, rng;
} rawset_t;

/* Keep (or reservoir-sample) the row in c. */
static int raw_keep(exec_t *ex, const rawplan_t *p, rawset_t *rs, evctx_t *c, qv_t *tmp)
{
    int64_t sample = ex->st->sample;
    rs->matched++;
    size_t slot = rs->n;
    if (sample >= 0 && rs->n >= (uint64_t)sample) {
        uint64_t j = splitmix(&rs->rng) % rs->matched;
        if (j >= (uint64_t)sample)
            return VG_OK;
        slot = (size_t)j;
    }
    int rc;
    for (size_t i = 0; i < p->ncols; i++)
        if ((rc = eval(c, p->cols[i], &tmp[i])))
            return rc;
    qv_t *cells = own_cells(tmp, p->ncols);
    if (!cells)
        return VG_ENOMEM;
    if (slot < rs->n) {
        vg_free(rs->rows[slot].cells);
    } else {
        if ((rc = exec_values(ex, p->ncols))) {
            vg_free(cells);
            return rc;
        }
        if (rs->n == rs->cap) {
            size_t nc = rs->cap ? 2 * rs->cap : 256;
            rawrow_t *r = vg_realloc(rs->rows, nc * sizeof *r);
            if (!r) {
                vg_free(cells);
                return VG_ENOMEM;
            }
            rs->rows = r;
            rs->cap = nc;
        }
        rs->n++;
    }
    rs->rows[slot] = (rawrow_t){c->ts, c->series, cells};
    return VG_OK;
}

static int raw_scan(exec_t *ex, const rawplan_t *p, rawset_t *rs)
{
    vg_scan_reader_t *rd = NULL;
    vg_error_t verr = {0};
    uint32_t nf = vg_scan_nfields(ex->scan);
    vg_scan_col_t *cols = vg_calloc(nf + 1, sizeof *cols);
    qv_t *tmp = vg_calloc(p->ncols + 1, sizeof *tmp);
    int rc = cols && tmp ? vg_scan_reader_create(ex->scan, &rd, &verr) : VG_ENOMEM;
    if (rc == VG_ENOMEM && !rd)
        rc = vg_q_error_set(ex->err, rc, 0, 0, "out of memory reading rows");
    else if (rc)
        rc = scan_error(ex, rc, &verr);
    for (uint32_t ch = 0; !rc && ch < vg_scan_nchunks(ex->scan); ch++) {
        vg_scan_chunk_t ci = vg_scan_chunk(ex->scan, ch);
        if (ci.ts_max < ex->start || ci.ts_min >= ex->end || (rc = exec_tick(ex)))
            continue;
        const int64_t *ts;
        const uint32_t *ser;
        if ((rc = vg_scan_read_time(rd, ch, &ts, &ser, &verr)) ||
            (rc = read_cols(ex, rd, ch, cols, &verr))) {
            rc = scan_error(ex, rc, &verr);
            break;
        }
        evctx_t c = {.ex = ex, .cols = cols};
        for (uint32_t i = 0; i < ci.nrows && !rc; i++) {
            if (ts[i] < ex->start || ts[i] >= ex->end)
                continue;
            c.row = i, c.series = ser[i], c.ts = ts[i];
            int pass = 1;
            if (ex->where && (rc = eval_pred(&c, ex->where, &pass)))
                break;
            if (pass)
                rc = raw_keep(ex, p, rs, &c, tmp);
        }
    }
    if (rc && rc != VG_ELIMIT && ex->err->code == 0)
        vg_q_error_set(ex->err, rc, 0, 0, "reading rows: %s", vg_strerror(rc));
    vg_scan_reader_free(rd);
    vg_free(cols);
    vg_free(tmp);
    return rc;
}

static _Thread_local const uint32_t *raw_rank;
static int cmp_raw(const void *pa, const void *pb)
{
    const rawrow_t *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    uint32_t x = raw_rank[a->series], y = raw_rank[b->series];
    return x < y ? -1 : x > y;
}

static int exec_raw(exec_t *ex, vg_result_t *out)
{
    rawplan_t p = {0};
    rawset_t rs = {0};
    rs.rng = (uint64_t)ex->now ^ 0x5eed5eed5eedull;
    int rc = raw_plan(ex, &p);
    if (!rc)
        rc = raw_scan(ex, &p, &rs);
    vg_result_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (!rc) {
        raw_rank = p.rank;
        qsort(rs.rows, rs.n, sizeof *rs.rows, cmp_raw);
        rc = vg_result_init(&tmp, p.ncols);
        for (size_t c = 0; c < p.ncols && !rc; c++)
            rc = vg_result_col(&tmp, c, p.names[c], col_type(p.cols[c]->type));
        for (size_t i = 0; i < rs.n && !rc; i++) {
            size_t row;
            rc = vg_result_add_row(&tmp, &row);
            for (size_t c = 0; c < p.ncols && !rc; c++)
                rc = set_cell(&tmp, row, c, &rs.rows[i].cells[c]);
        }
        if (rc)
            rc = vg_q_error_set(ex->err, rc, 0, 0, "out of memory building the result");
        else
            rc = order_and_limit(ex, &tmp, out, p.nvis, 0, p.hidden);
    } else if (ex->err->code == 0) {
        vg_q_error_set(ex->err, rc, 0, 0, "%s", vg_strerror(rc));
    }
    vg_result_free(&tmp);
    for (size_t i = 0; i < rs.n; i++)
        vg_free(rs.rows[i].cells);
    vg_free(rs.rows);
    raw_plan_free(ex, &p);
    return rc;
}
