/*
 * exec_int.h: the query executor's private structures (exec.c, plan.c,
 * bind.c, eval.c, agg.c, emit.c, raw.c).
 *
 * The plan of one query:
 * - bind.c checks names against the table's schema and compiles the
 *   statement's expressions into cx_t trees whose leaves know their field,
 *   tag or accumulator index;
 * - plan.c cuts time into "segments": the elementary spans between every
 *   boundary of every interval the query needs (each window, each baseline
 *   or seasonal span, each zscore history window, each drift reference).
 *   exec.c accumulates each row once into the partial aggregates of its
 *   segment and group; an interval's aggregate is the merge of its
 *   segments' partials, so a baseline never rescans its span once per window;
 * - agg.c holds the mergeable accumulators; eval.c evaluates expressions
 *   over a row (ROW mode) or over a group's merged interval (AGG mode);
 * - emit.c turns the groups into result rows and applies ORDER BY and
 *   LIMIT; raw.c answers queries without aggregates (rows, not groups).
 * Invariants: every interval the plan asks for starts and ends on a
 * segment boundary; a cx_t of kind CX_AGG/CX_DRIFT indexes ex->specs.
 */
#ifndef VIGIL_QUERY_EXEC_INT_H
#define VIGIL_QUERY_EXEC_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"
#include "vigil/vg_scan.h"
#include "vigil/vg_sketch.h"

/* ------------------------------------------------------------- values */

typedef enum qv_kind { QV_NULL = 0, QV_F, QV_I, QV_U, QV_B, QV_S } qv_kind_t;

/* A value during evaluation; s points into a chunk, the AST or a group. */
typedef struct qv {
    qv_kind_t k;
    union {
        double f;
        int64_t i;
        uint64_t u;
        int b;
    } v;
    const char *s;
    uint32_t len;
} qv_t;

double qv_num(const qv_t *v); /* numeric view: NaN for null and strings */
/* -1, 0, 1 ordering of two non-null values (numbers numerically, strings bytewise). */
int qv_cmp(const qv_t *a, const qv_t *b);
uint64_t qv_hash(const qv_t *v);
/* SQL's null semantics (eval.c): arithmetic (division by zero is null) and
 * comparisons of two values, and the truth of one: 1, 0, or -1 for null. */
int qv_arith(vg_q_op_t op, const qv_t *a, const qv_t *b, qv_t *o);
int qv_compare(vg_q_op_t op, const qv_t *a, const qv_t *b, qv_t *o);
int qv_truth(const qv_t *v);

/* --------------------------------------------------- compiled expressions */

typedef enum cx_kind {
    CX_CONST,
    CX_FIELD, /* idx: field */
    CX_TAG,   /* idx: tag; gidx: the BY group naming it, or -1 */
    CX_TIME,
    CX_UN,
    CX_BIN,
    CX_REGEX,
    CX_IN,
    CX_ISNULL,
    CX_SCALAR, /* a scalar function over kids */
    CX_AGG,    /* idx: spec */
    CX_DRIFT,  /* idx: spec */
    CX_BASE,   /* baseline / zscore over kids[0] (an aggregate expression) */
} cx_kind_t;

typedef struct cx cx_t;
struct cx {
    cx_kind_t kind;
    const vg_q_expr_t *src;
    vg_type_t type; /* static type of the value (VG_TYPE_NONE: null literal) */
    qv_t cval;      /* CONST */
    int idx, gidx;
    vg_q_op_t op;
    vg_q_fid_t fid;
    int negate;
    cx_t **kids;
    int nkids;
    int64_t d_ns, p_ns; /* CX_BASE: span D and period P (0: none) */
};

/* ------------------------------------------------------- accumulators */

enum {
    ACC_VALS = 1,     /* keep numeric values (exact quantiles, histogram, drift) */
    ACC_SKETCH = 2,   /* approx_quantile */
    ACC_DISTINCT = 4, /* count_distinct */
    ACC_CATS = 8,     /* category counts (js, chi2_p, psi over categories) */
    ACC_EXTREME = 16, /* min/max/first/last values */
};

/* One aggregate or drift call: what each partial accumulates. */
typedef struct spec {
    vg_q_fid_t fid;
    const vg_q_expr_t *src;
    cx_t *arg;       /* row expression, NULL for count() */
    double q;        /* quantiles */
    unsigned bins;   /* histogram */
    int field;       /* the argument is this plain field: block stats usable; else -1 */
    vg_type_t atype; /* the argument's type */
    unsigned need;   /* ACC_* */
    int drift;       /* a drift function (accumulated in both populations) */
    int arg_tags;    /* the argument reads tags only: one value per series (exec.c) */
} spec_t;

typedef struct acc {
    uint64_t rows;  /* rows seen (count()) */
    uint64_t n;     /* non-null values (count(f)) */
    uint64_t trues; /* rate/count_if/ztest */
    uint64_t nm;    /* numeric values summed (sum, mean) */
    double sum, comp;
    uint64_t nw;                /* values in the Welford moments (stddev) */
    double mean, m2;            /* Welford, merged with Chan's formula */
    qv_t min, max, first, last; /* strings owned (vg_malloc) */
    int64_t first_ts, last_ts;
    double *vals;
    size_t nv, cv;
    vg_sketch_t sk;
    uint64_t *set; /* open addressing, 0 = empty */
    size_t nset, cset;
    uint64_t *cats;
    size_t ncats;
} acc_t;

struct exec;
void acc_init(acc_t *a);
void acc_free(acc_t *a);
/* Add one row: v is the argument's value (ignored for count()); ts its time. */
int acc_add(struct exec *ex, const spec_t *sp, acc_t *a, const qv_t *v, int64_t ts);
/*
 * Add rows [i, j) of a decoded column col, the plain-field argument of sp
 * (ts: the chunk's timestamps): the same state, in the same order of
 * operations, as acc_add called row by row, so results do not depend on
 * which path took a row. Numbers and booleans without extremes, sketches,
 * sets or categories take a tight loop; the rest goes row by row.
 */
int acc_add_col(struct exec *ex, const spec_t *sp, acc_t *a, const vg_scan_col_t *col, uint32_t i,
                uint32_t j, const int64_t *ts);
/* Rows [i, j) that all have the value v (an argument of tags only), as
 * acc_add would add them one by one. */
int acc_add_same(struct exec *ex, const spec_t *sp, acc_t *a, const qv_t *v, uint32_t i, uint32_t j,
                 const int64_t *ts);
/* Can sp be answered from a block's statistics (and sketch) alone? */
int acc_stats_usable(const spec_t *sp);
/* Add a chunk's statistics to accs (one per spec, all usable): 1 when done,
 * 0 (nothing added) when some spec's statistics cannot be used. */
int acc_add_block(struct exec *ex, uint32_t chunk, const vg_scan_chunk_t *ci, acc_t *accs);
/* n values summing to sum (block statistics). */
void acc_add_sum(acc_t *a, double sum, uint64_t n);
/* dst += src. */
int acc_merge(const spec_t *sp, acc_t *dst, const acc_t *src);
/* The aggregate's value (histogram strings go to ex's string pool). */
int acc_final(struct exec *ex, const spec_t *sp, acc_t *a, qv_t *out);
/* A drift function of cur against ref. */
int acc_drift(struct exec *ex, const spec_t *sp, acc_t *cur, acc_t *ref, qv_t *out);

/* ------------------------------------------------------------- driver */

typedef struct span {
    int64_t a, b;
} span_t;

/* A result group: its values, and per population and segment the partials. */
typedef struct group {
    char *key; /* encoded values (see group.c) */
    size_t keylen;
    qv_t *vals; /* one per BY group; strings point into key */
    int in_range;
    acc_t *accs; /* npop * nseg * nspec, allocated on first use */
} group_t;

typedef struct exec {
    vg_db_t *db;
    const vg_q_stmt_t *st;
    vg_q_exec_opts_t opts;
    vg_q_error_t *err;
    vg_scan_t *scan;
    int64_t now, start, end, deadline;

    /* compiled */
    cx_t **items;
    cx_t *where, *against_where;
    cx_t **groups; /* tag (CX_TAG) or the field of a bucket (kids[0]) */
    double **bucket_edges;
    int *bucket_nedges;
    char ***bucket_labels;
    spec_t *specs;
    int nspec, cspec;
    unsigned char *field_used;

    /* time */
    span_t *wins;
    size_t nwin;
    int64_t *bounds;
    size_t nbounds;   /* segments: nbounds - 1 */
    int64_t seg_step; /* every segment but the first and last this long, or 0 */
    unsigned char *seg_needed;
    int npop;

    /* groups */
    group_t *grp;
    size_t ngrp, cgrp;
    uint32_t *gtab; /* hash table of group index + 1 */
    size_t gtab_cap;
    int32_t *series_group; /* cache per series when no bucket(): -1 unknown */
    int8_t *series_pass;   /* per population and series, a WHERE of tags only: -1 unknown */

    /* category interning */
    char **cat_keys;
    uint32_t *cat_lens;
    size_t ncat, ccat;
    uint32_t *cat_tab;
    size_t cat_cap;

    /* strings made while finishing (histograms), freed with ex */
    char **pool;
    size_t npool, cpool;

    int stats_ok;           /* chunks may be answered from block statistics */
    int where_tags_only;    /* the WHERE reads tags only: blocks can be skipped by their series */
    int runs_ok;            /* no bucket(): a run of rows of one series in one segment shares
                               its group (exec.c) */
    int pred_tags[2];       /* the WHERE, AGAINST WHERE read tags only (or are absent) */
    uint64_t values_held;   /* the root's, shared by the workers (atomic) */
    uint64_t values_unsent; /* this exec's, not yet added to the root's (exec_values) */

    /* parallel scan: workers are shallow copies of the root with their own
     * groups and error; they share the compiled plan, the category table
     * (under cat_mu) and the chunk counter */
    struct exec *root;
    pthread_mutex_t cat_mu;
    unsigned stride;   /* threads scanning; a thread takes the chunks of its residues */
    uint64_t residues; /* bit r: chunk indexes = r mod stride */
    int stop;          /* set by a thread that failed (atomic) */
    vg_q_error_t werr;
    uint64_t checks;
} exec_t;

/* exec.c */
/* Checks the time limit every so often; VG_ELIMIT when past it. */
int exec_tick(exec_t *ex);
char *exec_pool_str(exec_t *ex, const char *s, size_t n);
int exec_values(exec_t *ex, uint64_t n); /* account for held values (max_values) */
/* Read the columns ex->field_used marks of chunk into cols (by field index). */
int exec_read_cols(exec_t *ex, vg_scan_reader_t *rd, uint32_t chunk, vg_scan_col_t *cols,
                   vg_error_t *verr);
/* Report a scan failure rc (verr's message if it has one) in ex->err; returns rc. */
int exec_scan_error(exec_t *ex, int rc, const vg_error_t *verr);

/* plan.c */
/* ex->start, ex->end and the windows ex->wins (one when there is no EVERY). */
int plan_windows(exec_t *ex);
/* ex->bounds and ex->seg_needed for the compiled items (after plan_windows). */
int plan_segments(exec_t *ex);

/* The first boundary >= t (ex->nbounds when none). */
static inline size_t exec_bound_idx(const exec_t *ex, int64_t t)
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

/* The segment holding ts, or -1 outside the plan (inline: called per row). */
static inline long exec_seg_of(const exec_t *ex, int64_t ts)
{
    if (ex->nbounds < 2 || ts < ex->bounds[0] || ts >= ex->bounds[ex->nbounds - 1])
        return -1;
    if (ex->seg_step) { /* divide: the search took a fifth of a p99 by window */
        if (ts < ex->bounds[1])
            return 0;
        long s = 1 + (long)((ts - ex->bounds[1]) / ex->seg_step), last = (long)ex->nbounds - 2;
        return s < last ? s : last;
    }
    size_t i = exec_bound_idx(ex, ts);
    if (i == ex->nbounds || ex->bounds[i] != ts)
        i--;
    return (long)i;
}

/* bind.c */
int bind_check_names(exec_t *ex);
int bind_compile(exec_t *ex);
void bind_free(exec_t *ex);
/* Compile a row expression (an ORDER BY key of raw rows); free with bind_cx_free. */
int bind_row_expr(exec_t *ex, const vg_q_expr_t *e, cx_t **out);
void bind_cx_free(cx_t *x);

/* eval.c: one row of a chunk, or one group over an interval */
typedef struct evctx {
    exec_t *ex;
    /* ROW */
    const vg_scan_col_t *cols; /* by field index (only used fields read) */
    uint32_t row, series;
    int64_t ts;
    /* AGG */
    group_t *g;
    int64_t ws, we; /* the current window (time, baselines) */
    span_t cur;     /* the interval aggregates are merged over */
    char tmp[256];  /* a NUL-terminated copy of a string field for regexec */
} evctx_t;

int eval(evctx_t *c, const cx_t *x, qv_t *out);
/* Row row of a decoded column as a value (null when the slot is null). */
void eval_col_value(const vg_scan_col_t *col, uint32_t row, qv_t *o);
/* WHERE semantics: null and false are both false. */
int eval_pred(evctx_t *c, const cx_t *x, int *out);
/* The reference span of drift functions for window cur (AGAINST). */
span_t exec_ref_span(const exec_t *ex, span_t cur);
/* The spans a baseline/zscore node reads for window cur: their number (all
 * of them), the first cap stored in out. */
size_t exec_base_spans(const cx_t *x, span_t cur, span_t *out, size_t cap);
/* A group's aggregate of spec over [a, b) in population pop, merged into tmp. */
int exec_merge_span(exec_t *ex, group_t *g, int pop, int spec, span_t s, acc_t *tmp);

/* picture.c: the two distributions behind a drift item, for the table. */
int exec_has_picture(const exec_t *ex, const cx_t *x);
int exec_drift_picture(exec_t *ex, group_t *g, span_t cur, const cx_t *x, qv_t *o);

/* emit.c */
/* The result column type of a value of static type t (null literals: string). */
vg_type_t emit_col_type(vg_type_t t);
/* Store v in cell (row, col), converted to the column's type; nulls stay unset. */
int emit_set_cell(vg_result_t *r, size_t row, size_t col, const qv_t *v);
/*
 * out = the first nvis columns of tmp's rows, ordered by the statement's
 * ORDER BY and cut at its LIMIT. first_item: tmp's column of the first
 * shown item; hidden: per ORDER BY key a column of tmp past nvis to use when
 * the key names no visible column (NULL or -1: none).
 * Ownership: borrows tmp; out is freed and rebuilt.
 */
int emit_order_and_limit(exec_t *ex, vg_result_t *tmp, vg_result_t *out, size_t nvis,
                         int first_item, const int *hidden);
/* The aggregation's result: one row per window and group in range. */
int emit_aggregate(exec_t *ex, vg_result_t *out);

/* raw.c: a statement without aggregates (after bind_compile), into out. */
int raw_run(exec_t *ex, vg_result_t *out);

/* ---- groups (group.c) */

/* A group key being built; p is the caller's, freed with vg_free. */
typedef struct keybuf {
    char *p;
    size_t n, cap;
} keybuf_t;

/* Category id of a value (interned), or negative status. */
int64_t exec_intern(exec_t *ex, const qv_t *v);
/* Is any BY group a bucket()? (Then a row's group is not its series'.) */
int exec_has_bucket(const exec_t *ex);
/* The group with this key, added when new (max_groups applies). */
int exec_find_group(exec_t *ex, const char *key, size_t len, size_t *out);
/* The group of the row in c, added when new; kb is scratch. */
int exec_group_of(exec_t *ex, evctx_t *c, keybuf_t *kb, size_t *out);
/* ex's caches per series (group, WHEREs), empty; freed by exec_free_groups. */
int exec_series_caches(exec_t *ex);
/* Does the series in c pass population pop's WHERE (tags only; cached)? */
int exec_series_passes(exec_t *ex, evctx_t *c, int pop, int *pass);
/* Free ex's groups, their partials and the per-series caches. */
void exec_free_groups(exec_t *ex);

#endif
