/*
 * exec.c: running a parsed statement against a database (vg_q_exec), and
 * the scan of an aggregation into its groups' partial aggregates.
 *
 * An aggregation is planned as "segments" (plan.c, exec_int.h): the sorted,
 * distinct boundaries of every interval the query needs (each window, each
 * baseline/seasonal/zscore span, each drift reference) cut the time line;
 * each row lands in exactly one segment and is added once to the partial
 * accumulators of its (population, segment, group). Rows are taken in runs
 * of one series within one segment (a segment block is sorted by series,
 * then time): when nothing is grouped by bucket(), a run's group is the
 * series' and a WHERE of tags only its series' (both cached per series), a
 * WHERE on fields is tested row by row and the rows that pass go on in
 * stretches; each aggregate adds a stretch at once (a plain field in a
 * column loop, an argument of tags only evaluated once) with the very
 * arithmetic, in the very order, of adding its rows one by one. With
 * bucket() every row goes alone. Columns are decoded only for chunks with
 * rows in a needed segment. Chunks that are whole segment blocks inside
 * one segment, whose series all pass a tag-only WHERE and fall in one
 * group, are answered from their block statistics (counts, sums, min/max,
 * bool rates and counts, ztest_p, n_cur/n_ref) and sketches
 * (approx_quantile) without decoding. Finishing (emit.c) evaluates each
 * item per window and group, merging the partials of the segments of each
 * interval it reads. Queries without aggregates take another path (raw.c).
 *
 * The scan of an aggregation runs on opts.threads threads: each takes
 * chunks from a shared counter into its own groups and partials (its own
 * reader too), and the partials are merged into the root's at the end;
 * category ids are interned in one shared table so that counts merge by id.
 *
 * Limits: timeout_ms (0: none) is checked per chunk and every 64K rows;
 * max_values counts the values held for exact quantiles, histograms,
 * drift and raw rows (shared by the threads); max_groups the groups.
 *
 * Group values: a tag's value (null when the row's series lacks the tag),
 * or a bucket's label "(-inf,e1)", "[e1,e2)", ..., "[en,+inf)".
 */
#include <inttypes.h>
#include <math.h>
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

/*
 * Count values held against max_values. Workers add to the shared count in
 * batches: one atomic add per run of a series (a row or two per window for
 * short windows) was a contended cache line between the scan threads, 15% of
 * an exact p99 per 5 minutes. The limit is therefore enforced to within a
 * batch per thread (at most a sixteenth of it).
 */
int exec_values(exec_t *ex, uint64_t n)
{
    exec_t *root = ex->root ? ex->root : ex;
    uint64_t batch = ex->opts.max_values / 16 < 65536 ? ex->opts.max_values / 16 : 65536;
    ex->values_unsent += n;
    if (ex->values_unsent < batch)
        return VG_OK;
    n = ex->values_unsent;
    ex->values_unsent = 0;
    uint64_t held = __atomic_add_fetch(&root->values_held, n, __ATOMIC_RELAXED);
    if (ex->opts.max_values && held > ex->opts.max_values)
        return vg_q_error_set(ex->err, VG_ELIMIT, 0, 0,
                              "the query holds more than %" PRIu64 " raw values (max_values)",
                              ex->opts.max_values);
    return VG_OK;
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

static int plan_stats(const exec_t *ex)
{
    if (ex->npop != 1 || exec_has_bucket(ex) || !only_tags(ex->where))
        return 0;
    for (int i = 0; i < ex->nspec; i++)
        if (!acc_stats_usable(&ex->specs[i]))
            return 0;
    return 1;
}

/*
 * Can a block be skipped without decoding it? When the WHERE speaks of tags
 * only (and there is no second population), a block none of whose series
 * passes it holds no row of the query.
 */
static int chunk_excluded(exec_t *ex, uint32_t chunk, const vg_scan_chunk_t *ci, int *skip)
{
    *skip = 0;
    if (!ci->has_stats || !ex->where || ex->npop != 1 || !ex->where_tags_only)
        return VG_OK;
    const uint32_t *series;
    uint32_t ns;
    if (vg_scan_chunk_series(ex->scan, chunk, &series, &ns) || ns == 0)
        return VG_OK;
    evctx_t c = {.ex = ex};
    for (uint32_t i = 0; i < ns; i++) {
        int pass = 1;
        c.series = series[i];
        int rc = exec_series_passes(ex, &c, 0, &pass);
        if (rc || pass)
            return rc;
    }
    *skip = 1;
    return VG_OK;
}

static int try_stats(exec_t *ex, uint32_t chunk, const vg_scan_chunk_t *ci, keybuf_t *kb, int *done)
{
    *done = 0;
    if (!ci->has_stats || !ex->stats_ok)
        return VG_OK;
    long s0 = exec_seg_of(ex, ci->ts_min), s1 = exec_seg_of(ex, ci->ts_max);
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
        if ((rc = exec_series_passes(ex, &c, 0, &pass)))
            return rc;
        if (!pass)
            return VG_OK;
        size_t g;
        if ((rc = exec_group_of(ex, &c, kb, &g)))
            return rc;
        if (i && g != gi)
            return VG_OK;
        gi = g;
    }
    group_t *g = &ex->grp[gi];
    if (!acc_add_block(ex, chunk, ci, &g->accs[(size_t)s0 * (size_t)ex->nspec]))
        return VG_OK;
    if (ex->bounds[s0] >= ex->start && ex->bounds[s0 + 1] <= ex->end)
        g->in_range = 1;
    *done = 1;
    return VG_OK;
}

int exec_read_cols(exec_t *ex, vg_scan_reader_t *rd, uint32_t chunk, vg_scan_col_t *cols,
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

static int acc_error(exec_t *ex, int rc)
{
    return rc == VG_ELIMIT ? rc
                           : vg_q_error_set(ex->err, rc, 0, 0, "accumulating: %s", vg_strerror(rc));
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
        if ((rc = exec_group_of(ex, c, kb, &gi)))
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
                return acc_error(ex, rc);
        }
    }
    return VG_OK;
}

int exec_scan_error(exec_t *ex, int rc, const vg_error_t *verr)
{
    return vg_q_error_set(ex->err, rc, 0, 0, "%s", verr->msg[0] ? verr->msg : vg_strerror(rc));
}

/*
 * Add spec's rows [i, j) of the run in c (one series, one segment) to a: a
 * plain field in a column loop, an argument of tags only evaluated once.
 */
static int add_spec_run(exec_t *ex, evctx_t *c, const spec_t *sp, acc_t *a, uint32_t i, uint32_t j,
                        const int64_t *ts)
{
    int rc = VG_OK;
    if (!sp->arg) { /* count(): what acc_add does for a row without a value */
        a->rows += j - i;
        return VG_OK;
    }
    if (sp->field >= 0)
        return (rc = acc_add_col(ex, sp, a, &c->cols[sp->field], i, j, ts)) ? acc_error(ex, rc)
                                                                            : VG_OK;
    qv_t v;
    if (sp->arg_tags) {
        c->row = i;
        c->ts = ts[i];
        if ((rc = eval(c, sp->arg, &v)))
            return rc;
        return (rc = acc_add_same(ex, sp, a, &v, i, j, ts)) ? acc_error(ex, rc) : VG_OK;
    }
    for (uint32_t r = i; r < j; r++) {
        c->row = r;
        c->ts = ts[r];
        if ((rc = eval(c, sp->arg, &v)))
            return rc;
        if ((rc = acc_add(ex, sp, a, &v, ts[r])))
            return acc_error(ex, rc);
    }
    return VG_OK;
}

/* Add rows [i, j) of the run in c, which pass population pop's WHERE, to the series' group. */
static int add_pop_rows(exec_t *ex, evctx_t *c, int pop, long seg, uint32_t i, uint32_t j,
                        const int64_t *ts, keybuf_t *kb)
{
    size_t gi, nseg = ex->nbounds - 1;
    int rc = exec_group_of(ex, c, kb, &gi);
    if (rc)
        return rc;
    group_t *g = &ex->grp[gi];
    if (pop == 0 && ex->bounds[seg] >= ex->start && ex->bounds[seg + 1] <= ex->end)
        g->in_range = 1; /* start and end are boundaries: the segment is in or out */
    acc_t *accs = &g->accs[((size_t)pop * nseg + (size_t)seg) * (size_t)ex->nspec];
    for (int s = 0; s < ex->nspec && !rc; s++)
        if (!pop || ex->specs[s].drift)
            rc = add_spec_run(ex, c, &ex->specs[s], &accs[s], i, j, ts);
    return rc;
}

/*
 * Add rows [i, j) of one series in segment seg (ex->runs_ok): the group is
 * the series'; a WHERE of tags only is decided once for the run, another
 * row by row, the rows that pass added in stretches.
 */
static int add_run(exec_t *ex, evctx_t *c, long seg, uint32_t i, uint32_t j, const int64_t *ts,
                   keybuf_t *kb)
{
    int rc = VG_OK;
    for (int pop = 0; pop < ex->npop && !rc; pop++) {
        const cx_t *pred = pop ? ex->against_where : ex->where;
        int pass = 1;
        c->row = i;
        c->ts = ts[i];
        if (!pred || ex->pred_tags[pop]) {
            if (!(rc = exec_series_passes(ex, c, pop, &pass)) && pass)
                rc = add_pop_rows(ex, c, pop, seg, i, j, ts, kb);
            continue;
        }
        for (uint32_t r = i, p = i; r <= j && !rc; r++) { /* [p, r): rows that passed */
            pass = 0;
            if (r < j) {
                c->row = r;
                c->ts = ts[r];
                rc = eval_pred(c, pred, &pass);
            }
            if (!rc && !pass && p < r)
                rc = add_pop_rows(ex, c, pop, seg, p, r, ts, kb);
            if (!pass)
                p = r + 1;
        }
    }
    return rc;
}

/* The end of the run starting at row i: same series, same segment seg (-1: row i alone). */
static uint32_t run_end(const exec_t *ex, long seg, uint32_t i, uint32_t n, const int64_t *ts,
                        const uint32_t *ser)
{
    uint32_t j = i + 1;
    if (seg < 0)
        return j;
    int64_t a = ex->bounds[seg], b = ex->bounds[seg + 1];
    while (j < n && ser[j] == ser[i] && ts[j] >= a && ts[j] < b)
        j++;
    return j;
}

/*
 * Add one chunk's rows (or its block statistics) to ex's partials. Rows are
 * taken in runs of one series and one segment (a segment block is sorted by
 * series, then time, so runs are long; other chunks merely make short
 * runs); a run in a segment no interval needs costs a comparison per row,
 * and the columns are decoded only when some run is needed.
 */
static int scan_chunk(exec_t *ex, vg_scan_reader_t *rd, vg_scan_col_t *cols, keybuf_t *kb,
                      uint32_t ch)
{
    int64_t lo = ex->bounds[0], hi = ex->bounds[ex->nbounds - 1];
    vg_scan_chunk_t ci = vg_scan_chunk(ex->scan, ch);
    int rc = VG_OK;
    if (ci.ts_max < lo || ci.ts_min >= hi || (rc = exec_tick(ex)))
        return rc;
    long s0 = exec_seg_of(ex, ci.ts_min < lo ? lo : ci.ts_min);
    long s1 = exec_seg_of(ex, ci.ts_max >= hi ? hi - 1 : ci.ts_max);
    int need = 0;
    for (long s = s0; s >= 0 && s <= s1 && !need; s++)
        need = ex->seg_needed[s];
    int done = 0, skip = 0;
    if (!need || (rc = chunk_excluded(ex, ch, &ci, &skip)) || skip)
        return rc;
    if ((rc = try_stats(ex, ch, &ci, kb, &done)) || done)
        return rc;
    const int64_t *ts;
    const uint32_t *ser;
    vg_error_t verr = {0};
    if ((rc = vg_scan_read_time(rd, ch, &ts, &ser, &verr)))
        return exec_scan_error(ex, rc, &verr);
    evctx_t c = {.ex = ex, .cols = cols};
    int have_cols = 0;
    long seg = -1;
    uint64_t since_tick = 0;
    for (uint32_t i = 0, j; i < ci.nrows && !rc; i = j) {
        if (seg < 0 || ts[i] < ex->bounds[seg] || ts[i] >= ex->bounds[seg + 1])
            seg = exec_seg_of(ex, ts[i]);
        j = run_end(ex, seg, i, ci.nrows, ts, ser);
        if (seg < 0 || !ex->seg_needed[seg])
            continue;
        if (!have_cols && (rc = exec_read_cols(ex, rd, ch, cols, &verr)))
            return exec_scan_error(ex, rc, &verr);
        have_cols = 1;
        c.series = ser[i];
        if (ex->runs_ok) {
            rc = add_run(ex, &c, seg, i, j, ts, kb);
        } else {
            for (uint32_t r = i; r < j && !rc; r++) {
                c.row = r;
                c.ts = ts[r];
                rc = add_row(ex, &c, seg, kb);
            }
        }
        if (!rc && (since_tick += j - i) >= 0x10000) {
            since_tick = 0;
            rc = exec_tick(ex);
        }
    }
    return rc;
}

/*
 * Scan the chunks ex owns: those whose index is one of its residues modulo
 * the number of threads. A fixed share per thread (rather than the next free
 * chunk) makes the partials, and so the floating-point sums merged from
 * them, the same from run to run.
 */
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
        return exec_scan_error(ex, rc, &verr);
    }
    unsigned stride = ex->stride ? ex->stride : 1;
    for (unsigned r = 0; r < stride && !rc; r++) {
        if (!(ex->residues & (UINT64_C(1) << r)))
            continue;
        for (uint32_t ch = r; ch < nch && !rc; ch += stride) {
            if (__atomic_load_n(&root->stop, __ATOMIC_RELAXED))
                break;
            rc = scan_chunk(ex, rd, cols, &kb, ch);
        }
    }
    if (rc) /* stop the others early */
        __atomic_store_n(&root->stop, 1, __ATOMIC_RELAXED);
    vg_scan_reader_free(rd);
    vg_free(cols);
    vg_free(kb.p);
    return rc;
}

typedef struct worker {
    exec_t ex;
    pthread_t th;
    int ready, started, rc;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->rc = scan_worker(&w->ex);
    return NULL;
}

/* Fold a worker's groups and partials into the root's. */
static int merge_worker(exec_t *root, exec_t *w)
{
    size_t nacc = (size_t)root->npop * (root->nbounds - 1) * (size_t)root->nspec;
    for (size_t g = 0; g < w->ngrp; g++) {
        size_t gi;
        int rc = exec_find_group(root, w->grp[g].key, w->grp[g].keylen, &gi);
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
    /* residue 0 is the root's; a worker that cannot start leaves its residue to the root */
    ex->stride = nt;
    ex->residues = nt == 1 ? 1 : 0;
    ex->stop = 0;
    for (unsigned i = 0; i + 1 < nt; i++) {
        worker_t *w = &ws[i];
        w->ex = *ex;
        w->ex.residues = UINT64_C(1) << (i + 1);
        w->ex.root = ex;
        w->ex.err = &w->ex.werr;
        memset(&w->ex.werr, 0, sizeof w->ex.werr);
        w->ex.grp = NULL, w->ex.gtab = NULL, w->ex.ngrp = w->ex.cgrp = w->ex.gtab_cap = 0;
        w->ex.series_group = NULL, w->ex.series_pass = NULL;
        w->ready = exec_series_caches(&w->ex) == VG_OK;
    }
    /* Start the workers only once every copy of *ex is made: a running
     * worker writes the root's shared fields (values_held, stop). */
    for (unsigned i = 0; i + 1 < nt; i++) {
        worker_t *w = &ws[i];
        if (w->ready)
            w->started = pthread_create(&w->th, NULL, worker_main, w) == 0;
        if (!w->started)
            ex->residues |= w->ex.residues;
    }
    ex->residues |= 1;
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
        exec_free_groups(&w->ex);
    }
    vg_free(ws);
    return rc;
}

/* ------------------------------------------------------------ driver */

static int open_scan(exec_t *ex, int64_t t0, int64_t t1)
{
    vg_error_t verr = {0};
    vg_scan_close(ex->scan);
    ex->scan = NULL;
    int rc = vg_scan_open(ex->db, ex->st->table, t0, t1, &ex->scan, &verr);
    if (rc != VG_ENOTFOUND)
        return rc ? exec_scan_error(ex, rc, &verr) : VG_OK;
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
    if ((rc = open_scan(ex, ex->bounds[0], ex->bounds[ex->nbounds - 1])) || (rc = bind_compile(ex)))
        return rc;
    ex->stats_ok = plan_stats(ex);
    ex->where_tags_only = ex->where && only_tags(ex->where);
    ex->runs_ok = !exec_has_bucket(ex);
    ex->pred_tags[0] = only_tags(ex->where);
    ex->pred_tags[1] = only_tags(ex->against_where);
    for (int i = 0; i < ex->nspec; i++)
        ex->specs[i].arg_tags = ex->specs[i].arg && only_tags(ex->specs[i].arg);
    if ((rc = exec_series_caches(ex)))
        return rc;
    if (ex->st->ngroups == 0) { /* one group, present even without rows */
        size_t g;
        if ((rc = exec_find_group(ex, "", 0, &g)))
            return rc;
        ex->grp[g].in_range = 1;
    }
    if ((rc = scan_aggregate(ex)))
        return rc;
    return emit_aggregate(ex, out);
}

static void exec_free(exec_t *ex)
{
    exec_free_groups(ex);
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
        rc = s->aggregate ? run_aggregate(&ex, out) : raw_run(&ex, out);
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
