/*
 * ast.c: what the parser builds with and what reads a parsed query back:
 * the arena, the function table, the reference walk, suggestions, errors
 * and the public accessors. Printing a query back is print.c.
 *
 * Walks recurse: they rely on the parser's height bound (VG_Q_MAX_DEPTH).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ast.h"
#include "vigil/vg_alloc.h"

/* ------------------------------------------------------------------- arena */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct vg_q_arena {
    chunk_t *head;
    regex_t **regexes;
    size_t nregex, capregex;
};

vg_q_arena_t *vg_q_arena_create(void)
{
    return vg_calloc(1, sizeof(vg_q_arena_t));
}

void vg_q_arena_destroy(vg_q_arena_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nregex; i++)
        regfree(a->regexes[i]);
    vg_free(a->regexes);
    for (chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        vg_free(c);
    }
    vg_free(a);
}

void *vg_q_arena_alloc(vg_q_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        c = vg_malloc(sizeof(chunk_t) + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *vg_q_arena_strndup(vg_q_arena_t *a, const char *s, size_t n)
{
    char *p = vg_q_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int vg_q_arena_own_regex(vg_q_arena_t *a, regex_t *re)
{
    if (a->nregex == a->capregex) {
        size_t cap = a->capregex ? a->capregex * 2 : 4;
        regex_t **r = vg_realloc(a->regexes, cap * sizeof *r);
        if (!r)
            return VG_ENOMEM;
        a->regexes = r;
        a->capregex = cap;
    }
    a->regexes[a->nregex++] = re;
    return VG_OK;
}

/* ------------------------------------------------------------------ regex */

#define RE_MAX_NODES 1e5 /* copies made by repetition */
#define RE_MAX_OPT2  4e6 /* sum of (optional copies)^2 per repetition: ~35 MB */
#define RE_MAX_LEN   4096

/* Sizes of the current sequence, its alternatives so far, and its last atom. */
typedef struct re_frame {
    double size, opt; /* nodes, and how many of them are optional */
    double alt_size, alt_opt;
    double last_size, last_opt;
} re_frame_t;

/* The end of a bracket expression starting at p[0] == '[' (or p + strlen). */
static const char *bracket_end(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    while (*p && *p != ']') {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            const char *e = strchr(p + 2, p[1]);
            while (e && e[1] != ']')
                e = strchr(e + 1, p[1]);
            p = e ? e + 2 : p + strlen(p);
        } else {
            p++;
        }
    }
    return *p ? p + 1 : p;
}

/* Parse {m}, {m,} or {m,n} at *pp into copies and optional copies. */
static int interval(const char **pp, double *copies, double *optional)
{
    const char *p = *pp + 1;
    double m = 0, n;
    if ((*p < '0' || *p > '9') && *p != ',') /* glibc reads {,n} as {0,n} */
        return 0;
    while (*p >= '0' && *p <= '9')
        m = m * 10 + (*p++ - '0');
    n = m;
    if (*p == ',') {
        p++;
        if (*p >= '0' && *p <= '9')
            for (n = 0; *p >= '0' && *p <= '9';)
                n = n * 10 + (*p++ - '0');
        else
            n = -1; /* unbounded: m copies and a star */
    }
    if (*p != '}')
        return 0;
    *pp = p;
    *copies = n < 0 ? m + 1 : (n > m ? n : m);
    *optional = n < 0 ? 1 : (n > m ? n - m : 0);
    if (*copies < 1)
        *copies = 1;
    return 1;
}

/* Apply a repetition to the frame's last atom; returns its optional count. */
static double repeat(re_frame_t *f, double copies, double optional)
{
    double size = f->last_size * copies;
    double opt = f->last_opt * copies + f->last_size * optional;
    f->size += size - f->last_size;
    f->opt += opt - f->last_opt;
    f->last_size = size;
    f->last_opt = opt;
    return opt;
}

/*
 * A bound on what glibc's regcomp builds. It copies a subexpression once
 * per repeat, and the closure of n optional copies costs about n^2, so
 * stacked, nested or wide repetition can exhaust memory from a 70-byte
 * pattern (found by fuzzing). Adjacent quantifiers are undefined in POSIX
 * ERE and back-references are not ERE at all: both are refused too.
 */
static const char *regex_too_complex(const char *pat)
{
    re_frame_t st[64];
    int d = 0, quant = 0;
    double opt2 = 0;
    memset(&st[0], 0, sizeof st[0]);
    if (strlen(pat) > RE_MAX_LEN)
        return "longer than 4096 bytes";
    for (const char *p = pat; *p; p++) {
        re_frame_t *f = &st[d];
        double copies = 0, optional = 0;
        if (*p == '*' || *p == '?')
            copies = optional = 1;
        else if (*p == '+')
            copies = 2, optional = 1;
        else if (*p == '{' && !interval(&p, &copies, &optional))
            copies = 0;
        if (copies) {
            if (quant)
                return "repeated quantifier (use one of * + ? {m,n})";
            double o = repeat(f, copies, optional);
            opt2 += o * o;
            quant = 1;
        } else {
            double size = 1, opt = 0;
            quant = 0;
            if (*p == '\\' && p[1] >= '1' && p[1] <= '9') {
                return "back-references are not supported";
            } else if (*p == '\\' && p[1]) {
                p++;
            } else if (*p == '[') {
                p = bracket_end(p) - 1;
            } else if (*p == '(') {
                if (++d == 64)
                    return "nested too deeply";
                memset(&st[d], 0, sizeof st[d]);
                continue;
            } else if (*p == ')' && d > 0) {
                size = f->alt_size + f->size + 1;
                opt = f->alt_opt + f->opt;
                f = &st[--d];
            } else if (*p == '|') {
                f->alt_size += f->size;
                f->alt_opt += f->opt;
                f->size = f->opt = f->last_size = f->last_opt = 0;
                continue;
            }
            f->size += size;
            f->opt += opt;
            f->last_size = size;
            f->last_opt = opt;
        }
        if (f->size + f->alt_size > RE_MAX_NODES || opt2 > RE_MAX_OPT2)
            return "too complex (repetition expands too far)";
    }
    return NULL;
}

int vg_q_regex_compile(vg_q_arena_t *a, const char *pattern, int icase, regex_t **out, char *msg,
                       size_t cap)
{
    const char *why = regex_too_complex(pattern);
    if (why) {
        snprintf(msg, cap, "%s", why);
        return VG_EPARSE;
    }
    regex_t *re = vg_q_arena_alloc(a, sizeof *re);
    if (!re)
        return VG_ENOMEM;
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    if (rc) {
        regerror(rc, re, msg, cap);
        return VG_EPARSE;
    }
    if (vg_q_arena_own_regex(a, re)) {
        regfree(re);
        return VG_ENOMEM;
    }
    *out = re;
    return VG_OK;
}

/* -------------------------------------------------------------- functions */

#define AGG VG_QF_AGGREGATE
#define SCA VG_QF_SCALAR
#define DRI VG_QF_DRIFT
#define BAS VG_QF_BASELINE
/* Order matters for suggestions: on a tie the earlier entry wins. */
static const vg_q_func_t funcs[] = {
    {"count", "count", VG_QF_COUNT, AGG, 0, 1, -1},
    {"sum", "sum", VG_QF_SUM, AGG, 1, 1, -1},
    {"mean", "mean", VG_QF_MEAN, AGG, 1, 1, -1},
    {"avg", "mean", VG_QF_MEAN, AGG, 1, 1, -1},
    {"min", "min", VG_QF_MIN, AGG, 1, 1, -1},
    {"max", "max", VG_QF_MAX, AGG, 1, 1, -1},
    {"stddev", "stddev", VG_QF_STDDEV, AGG, 1, 1, -1},
    {"first", "first", VG_QF_FIRST, AGG, 1, 1, -1},
    {"last", "last", VG_QF_LAST, AGG, 1, 1, -1},
    {"count_distinct", "count_distinct", VG_QF_COUNT_DISTINCT, AGG, 1, 1, -1},
    {"count_if", "count_if", VG_QF_COUNT_IF, AGG, 1, 1, -1},
    {"rate", "rate", VG_QF_RATE, AGG, 1, 1, -1},
    {"p99", "p99", VG_QF_QUANTILE, AGG, 1, 1, 0.99},
    {"p95", "p95", VG_QF_QUANTILE, AGG, 1, 1, 0.95},
    {"p90", "p90", VG_QF_QUANTILE, AGG, 1, 1, 0.90},
    {"p50", "p50", VG_QF_QUANTILE, AGG, 1, 1, 0.50},
    {"p999", "p999", VG_QF_QUANTILE, AGG, 1, 1, 0.999},
    {"median", "p50", VG_QF_QUANTILE, AGG, 1, 1, 0.50},
    {"quantile", "quantile", VG_QF_QUANTILE, AGG, 2, 2, -1},
    {"approx_quantile", "approx_quantile", VG_QF_APPROX_QUANTILE, AGG, 2, 2, -1},
    {"histogram", "histogram", VG_QF_HISTOGRAM, AGG, 2, 2, -1},
    {"baseline", "baseline", VG_QF_BASELINE_FN, BAS, 2, 3, -1},
    {"zscore", "zscore", VG_QF_ZSCORE, BAS, 2, 2, -1},
    {"ks", "ks", VG_QF_KS, DRI, 1, 1, -1},
    {"ks_p", "ks_p", VG_QF_KS_P, DRI, 1, 1, -1},
    {"wasserstein", "wasserstein", VG_QF_WASSERSTEIN, DRI, 1, 1, -1},
    {"psi", "psi", VG_QF_PSI, DRI, 1, 1, -1},
    {"js", "js", VG_QF_JS, DRI, 1, 1, -1},
    {"chi2_p", "chi2_p", VG_QF_CHI2_P, DRI, 1, 1, -1},
    {"ztest_p", "ztest_p", VG_QF_ZTEST_P, DRI, 1, 1, -1},
    {"n_cur", "n_cur", VG_QF_N_CUR, DRI, 1, 1, -1},
    {"n_ref", "n_ref", VG_QF_N_REF, DRI, 1, 1, -1},
    {"bucket", "bucket", VG_QF_BUCKET, VG_QF_GROUP, 2, -1, -1},
    {"now", "now", VG_QF_NOW, SCA, 0, 0, -1},
    {"abs", "abs", VG_QF_ABS, SCA, 1, 1, -1},
    {"sqrt", "sqrt", VG_QF_SQRT, SCA, 1, 1, -1},
    {"ln", "ln", VG_QF_LN, SCA, 1, 1, -1},
    {"log10", "log10", VG_QF_LOG10, SCA, 1, 1, -1},
    {"exp", "exp", VG_QF_EXP, SCA, 1, 1, -1},
    {"round", "round", VG_QF_ROUND, SCA, 1, 1, -1},
    {"floor", "floor", VG_QF_FLOOR, SCA, 1, 1, -1},
    {"ceil", "ceil", VG_QF_CEIL, SCA, 1, 1, -1},
    {"coalesce", "coalesce", VG_QF_COALESCE, SCA, 2, -1, -1},
    {"greatest", "greatest", VG_QF_GREATEST, SCA, 2, -1, -1},
    {"least", "least", VG_QF_LEAST, SCA, 2, -1, -1},
};
#undef AGG
#undef SCA
#undef DRI
#undef BAS

const vg_q_func_t *vg_q_funcs(size_t *n)
{
    *n = sizeof funcs / sizeof funcs[0];
    return funcs;
}

const vg_q_func_t *vg_q_func_find(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
        if (strlen(funcs[i].name) == n && strncasecmp(funcs[i].name, name, n) == 0)
            return &funcs[i];
    return NULL;
}

unsigned vg_q_expr_fkinds(const vg_q_expr_t *e)
{
    if (!e)
        return 0;
    switch (e->kind) {
    case VG_QE_UNARY:
        return vg_q_expr_fkinds(e->u.un.a);
    case VG_QE_BINARY:
        return vg_q_expr_fkinds(e->u.bin.a) | vg_q_expr_fkinds(e->u.bin.b);
    case VG_QE_REGEX:
        return vg_q_expr_fkinds(e->u.rx.a);
    case VG_QE_IN:
        return vg_q_expr_fkinds(e->u.in.a);
    case VG_QE_ISNULL:
        return vg_q_expr_fkinds(e->u.isnull.a);
    case VG_QE_CALL: {
        unsigned k = 1u << e->u.call.fn->kind;
        for (int i = 0; i < e->u.call.nargs; i++)
            k |= vg_q_expr_fkinds(e->u.call.args[i]);
        return k;
    }
    default:
        return 0;
    }
}

/* ----------------------------------------------------------------- errors */

int vg_q_error_set(vg_q_error_t *err, int code, int line, int column, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->line = line;
        err->column = column;
    }
    return code;
}

int vg_q_error_format(const vg_q_error_t *err, char *buf, size_t cap)
{
    if (err->line > 0)
        return snprintf(buf, cap, "error at line %d, column %d: %s", err->line, err->column,
                        err->msg);
    return snprintf(buf, cap, "error: %s", err->msg);
}

/* Levenshtein distance, case-insensitive, or 3 when it is surely above 2. */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64 || (na > nb ? na - nb : nb - na) > 2)
        return 3;
    int row[66];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[nb];
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && tolower((unsigned char)a[i]) == tolower((unsigned char)b[i]))
        i++;
    return i;
}

const char *vg_q_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t len = strlen(word);
    int max_d = len >= 5 ? 2 : len >= 3 ? 1 : 0; /* "x" is not a typo of "BY" */
    int best_d = max_d + 1;
    size_t best_p = 0;
    for (size_t i = 0; i < n; i++) {
        int d = edit_distance(word, candidates[i]);
        size_t p = common_prefix(word, candidates[i]);
        if (d < best_d || (d == best_d && best && p > best_p)) {
            best = candidates[i];
            best_d = d;
            best_p = p;
        }
    }
    return best_d <= max_d ? best : NULL;
}

/* --------------------------------------------------------- reference walk */

static int refs(const vg_q_expr_t *e, vg_q_ref_role_t role, vg_q_ref_fn fn, void *ctx)
{
    int rc = 0;
    if (!e)
        return 0;
    switch (e->kind) {
    case VG_QE_REF:
        return fn(ctx, e->u.ref.name, role, e->line, e->column);
    case VG_QE_UNARY:
        return refs(e->u.un.a, role, fn, ctx);
    case VG_QE_BINARY:
        rc = refs(e->u.bin.a, role, fn, ctx);
        return rc ? rc : refs(e->u.bin.b, role, fn, ctx);
    case VG_QE_REGEX:
        return refs(e->u.rx.a, role, fn, ctx);
    case VG_QE_IN:
        return refs(e->u.in.a, role, fn, ctx);
    case VG_QE_ISNULL:
        return refs(e->u.isnull.a, role, fn, ctx);
    case VG_QE_CALL:
        for (int i = 0; !rc && i < e->u.call.nargs; i++)
            rc = refs(e->u.call.args[i], role, fn, ctx);
        return rc;
    default:
        return 0;
    }
}

int vg_q_refs(const vg_q_stmt_t *s, vg_q_ref_fn fn, void *ctx)
{
    int rc = 0;
    for (int i = 0; !rc && i < s->nitems; i++)
        rc = refs(s->items[i].expr, VG_Q_REF_SELECT, fn, ctx);
    if (!rc)
        rc = refs(s->where, VG_Q_REF_WHERE, fn, ctx);
    for (int i = 0; !rc && i < s->ngroups; i++)
        rc = refs(s->groups[i], VG_Q_REF_GROUP, fn, ctx);
    if (!rc)
        rc = refs(s->against.where, VG_Q_REF_AGAINST, fn, ctx);
    for (int i = 0; !rc && i < s->norder; i++) {
        const vg_q_order_t *o = &s->order[i];
        if (o->item < 0 && o->group < 0)
            rc = refs(o->expr, VG_Q_REF_ORDER, fn, ctx);
    }
    return rc;
}

int vg_q_expr_refs(const vg_q_expr_t *e, vg_q_ref_fn fn, void *ctx)
{
    return refs(e, VG_Q_REF_EXPR, fn, ctx);
}

/* -------------------------------------------------------------- accessors */

void vg_q_free(vg_q_stmt_t *s)
{
    if (s)
        vg_q_arena_destroy(s->arena);
}

void vg_q_expr_free(vg_q_expr_t *e)
{
    if (e)
        vg_q_arena_destroy(e->owner);
}

const char *vg_q_table(const vg_q_stmt_t *s)
{
    return s->table;
}

size_t vg_q_item_count(const vg_q_stmt_t *s)
{
    return (size_t)s->nitems;
}

const char *vg_q_item_name(const vg_q_stmt_t *s, size_t i)
{
    return i < (size_t)s->nitems ? s->items[i].name : NULL;
}

int vg_q_is_aggregate(const vg_q_stmt_t *s)
{
    return s->aggregate;
}

size_t vg_q_group_count(const vg_q_stmt_t *s)
{
    return (size_t)s->ngroups;
}

const char *vg_q_group_name(const vg_q_stmt_t *s, size_t i)
{
    return i < (size_t)s->ngroups ? s->group_names[i] : NULL;
}

int64_t vg_q_every_ns(const vg_q_stmt_t *s)
{
    return s->every.ns;
}
