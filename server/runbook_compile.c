/*
 * runbook_compile.c: a loaded runbook's queries and expressions parsed and
 * checked, each problem reported at its place in the file.
 *
 * What is checked: every query parses (rules, investigate, samples, cause
 * checks); with a schema, every table and column it names exists; every
 * `when` / `resolve_when` names only columns of its query's result; every
 * annotation template names a result column, a label, `alertname` or
 * `value`; with a receiver list, every receiver named exists.
 *
 * A query's result columns are its items' output names (vg_q_item_name),
 * its BY tags, and `time` when it has EVERY (or is SELECT *). A statement
 * with `*` has columns only a schema could list, so its `when` is not
 * checked by name.
 *
 * Invariant: compiling again first frees what an earlier compile kept.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runbook.h"

typedef struct cc {
    const vg_runbook_t *rb;
    const vg_rb_env_t *env;
    vg_rb_diags_t *d;
    size_t before;
} cc_t;

static void diag(cc_t *c, vg_rb_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diag(cc_t *c, vg_rb_pos_t pos, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg_rb_diag_add(c->d, c->rb->path, pos, "%s", msg);
}

/* " (did you mean 'x'?)" or "" into buf. */
static const char *mean(char *buf, size_t cap, const char *word, const char *const *cands, size_t n)
{
    const char *s = n ? vg_q_suggest(word, cands, n) : NULL;
    if (s)
        snprintf(buf, cap, " (did you mean '%s'?)", s);
    else
        buf[0] = '\0';
    return buf;
}

/* ------------------------------------------------------- result columns */

typedef struct cols {
    const char **v;
    size_t n, cap;
    int any; /* SELECT *: the names are not known here */
    int oom;
} cols_t;

static void cols_add(cols_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i], name))
            return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        const char **v = vg_realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = name;
}

static void result_cols(const vg_q_stmt_t *s, cols_t *c)
{
    for (size_t i = 0; i < vg_q_item_count(s); i++) {
        const char *n = vg_q_item_name(s, i);
        if (!strcmp(n, "*")) {
            c->any = 1;
            cols_add(c, "time");
        } else {
            cols_add(c, n);
        }
    }
    for (size_t g = 0; g < vg_q_group_count(s); g++)
        cols_add(c, vg_q_group_name(s, g));
    if (vg_q_is_aggregate(s) && vg_q_every_ns(s) > 0)
        cols_add(c, "time");
}

static void cols_list(const cols_t *c, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0, l = 0; i < c->n && l < cap; i++, l = strlen(buf))
        snprintf(buf + l, cap - l, "%s%s", i ? ", " : "", c->v[i]);
}

/* ---------------------------------------------------------------- queries */

typedef struct refck {
    cc_t *c;
    const vg_rb_str_t *str;
    const char *table;
    const char *what;
    const cols_t *cols; /* for expressions */
} refck_t;

static int schema_ref(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column)
{
    (void)role;
    refck_t *k = ctx;
    const vg_rb_env_t *env = k->c->env;
    vg_type_t t;
    if (!strcmp(name, "time") || env->column_type(env->ctx, k->table, name, &t) != 0)
        return 0;
    const char *const *names = NULL;
    size_t n = env->column_names ? env->column_names(env->ctx, k->table, &names) : 0;
    char m[128];
    diag(k->c, vg_rb_str_pos(k->str, line, column), "unknown field '%s' in table %s%s", name,
         k->table, mean(m, sizeof m, name, names, n));
    return 0;
}

/* Offset of the table name after FROM in text, for pointing at it. */
static size_t table_off(const char *text, const char *table)
{
    size_t tl = strlen(table);
    for (const char *p = text; (p = strcasestr(p, "from")); p += 4) {
        const char *q = p + 4;
        if (p > text && !strchr(" \t\r\n(", p[-1]))
            continue;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
            q++;
        if (*q == '"')
            q++;
        if (!strncmp(q, table, tl))
            return (size_t)(q - text);
    }
    return 0;
}

static void check_schema(cc_t *c, const vg_rb_str_t *str, const vg_q_stmt_t *s)
{
    const vg_rb_env_t *env = c->env;
    const char *table = vg_q_table(s);
    vg_type_t t;
    if (env->column_type(env->ctx, table, "time", &t) < 0) {
        char m[128];
        diag(c, vg_rb_str_pos_at(str, table_off(str->s, table)), "unknown table '%s'%s", table,
             mean(m, sizeof m, table, env->tables, env->ntables));
        return;
    }
    refck_t k = {c, str, table, NULL, NULL};
    vg_q_refs(s, schema_ref, &k);
}

/*
 * A copy of a templated query with each `{{...}}` replaced by as many '0's:
 * the holes stand inside string literals ('{{route}}') or where a number
 * goes, and the same length keeps every error's column. NULL: no memory.
 */
static char *mask_holes(const char *s)
{
    char *m = vg_strdup(s);
    for (char *p = m; p && (p = strstr(p, "{{"));) {
        char *e = strstr(p + 2, "}}");
        if (!e)
            break;
        memset(p, '0', (size_t)(e + 2 - p));
        p = e + 2;
    }
    return m;
}

/* Parse one query (templated: runbook-level queries, filled per alert);
 * report its error at its file position. */
static void compile_query(cc_t *c, const vg_rb_str_t *str, int templated, vg_q_stmt_t **out)
{
    vg_q_free(*out);
    *out = NULL;
    if (!str->s)
        return;
    vg_q_error_t e = {0};
    char *masked = templated && strstr(str->s, "{{") ? mask_holes(str->s) : NULL;
    int rc = vg_q_parse(masked ? masked : str->s, out, &e);
    vg_free(masked);
    if (rc == VG_ENOMEM) {
        diag(c, str->pos, "out of memory parsing the query");
        return;
    }
    if (rc) {
        diag(c, e.line ? vg_rb_str_pos(str, e.line, e.column) : str->pos, "%s", e.msg);
        return;
    }
    if (c->env && c->env->column_type)
        check_schema(c, str, *out);
}

/* ------------------------------------------------------------ expressions */

static int expr_ref(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column)
{
    (void)role;
    refck_t *k = ctx;
    const cols_t *cl = k->cols;
    for (size_t i = 0; i < cl->n; i++)
        if (!strcmp(cl->v[i], name))
            return 0;
    char list[512], m[128];
    cols_list(cl, list, sizeof list);
    diag(k->c, vg_rb_str_pos(k->str, line, column),
         "unknown column '%s' in %s (columns of %s: %s)%s", name, k->what, k->table, list,
         mean(m, sizeof m, name, cl->v, cl->n));
    return 0;
}

/* Parse an expression; with cols, check its names. whose: "the rule's query". */
static void compile_expr(cc_t *c, const vg_rb_str_t *str, const char *what, const char *whose,
                         const cols_t *cols, vg_q_expr_t **out)
{
    vg_q_expr_free(*out);
    *out = NULL;
    if (!str->s)
        return;
    vg_q_error_t e = {0};
    int rc = vg_q_parse_expr(str->s, out, &e);
    if (rc) {
        diag(c, e.line ? vg_rb_str_pos(str, e.line, e.column) : str->pos, "%s: %s", what, e.msg);
        return;
    }
    if (cols && !cols->any) {
        refck_t k = {c, str, whose, what, cols};
        vg_q_expr_refs(*out, expr_ref, &k);
    }
}

/* -------------------------------------------------------------- templates */

typedef struct tmplck {
    cc_t *c;
    const vg_rb_rule_t *r;
    const vg_rb_kv_t *ann;
    const cols_t *cols;
} tmplck_t;

static int tmpl_name(void *ctx, const char *name, size_t off)
{
    tmplck_t *k = ctx;
    const cols_t *cl = k->cols;
    if (!strcmp(name, "alertname") || !strcmp(name, "value") || cl->any)
        return 0;
    for (size_t i = 0; i < cl->n; i++)
        if (!strcmp(cl->v[i], name))
            return 0;
    for (size_t i = 0; i < k->r->nlabels; i++)
        if (k->r->labels[i].key.s && !strcmp(k->r->labels[i].key.s, name))
            return 0;
    cols_t all = {0};
    cols_add(&all, "alertname");
    cols_add(&all, "value");
    for (size_t i = 0; i < cl->n; i++)
        cols_add(&all, cl->v[i]);
    for (size_t i = 0; i < k->r->nlabels; i++)
        if (k->r->labels[i].key.s)
            cols_add(&all, k->r->labels[i].key.s);
    char list[512], m[128];
    cols_list(&all, list, sizeof list);
    diag(k->c, vg_rb_str_pos_at(&k->ann->value, off),
         "unknown name '%s' in the template of annotation '%s' (names: %s)%s", name,
         k->ann->key.s ? k->ann->key.s : "", list, mean(m, sizeof m, name, all.v, all.n));
    vg_free(all.v);
    return 0;
}

/*
 * Templates in investigate, sample and cause queries are filled from the
 * alert that fired: its labels (alertname, the BY tags, the rule's labels)
 * and its rule's result columns. Any rule of the runbook may fire, so a
 * name must be known to each of them.
 */
typedef struct qnames {
    cc_t *c;
    const vg_rb_str_t *str;
} qnames_t;

static int rule_knows(const vg_rb_rule_t *r, const char *name)
{
    if (!strcmp(name, "alertname"))
        return 1;
    for (size_t i = 0; i < r->nlabels; i++)
        if (r->labels[i].key.s && !strcmp(r->labels[i].key.s, name))
            return 1;
    if (!r->stmt)
        return 1; /* its query has an error of its own */
    cols_t cols = {0};
    result_cols(r->stmt, &cols);
    int known = cols.any || cols.oom;
    for (size_t i = 0; i < cols.n && !known; i++)
        known = !strcmp(cols.v[i], name);
    vg_free(cols.v);
    return known;
}

static int query_name(void *ctx, const char *name, size_t off)
{
    qnames_t *k = ctx;
    const vg_runbook_t *rb = k->c->rb;
    for (size_t i = 0; i < rb->nrules; i++)
        if (!rule_knows(&rb->rules[i], name)) {
            diag(k->c, vg_rb_str_pos_at(k->str, off),
                 "unknown name '%s' in the template of a query: rule '%s' has no such label or "
                 "result column",
                 name, rb->rules[i].alert.s ? rb->rules[i].alert.s : "?");
            break;
        }
    return 0;
}

static void check_query_names(cc_t *c, const vg_rb_str_t *str)
{
    if (!str->s)
        return;
    qnames_t k = {c, str};
    vg_rb_template_names(str->s, query_name, &k);
}

/* ---------------------------------------------------------------- receivers */

static void check_receivers(cc_t *c, const vg_rb_str_t *v, size_t n)
{
    const vg_rb_env_t *env = c->env;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].s)
            continue;
        size_t j = 0;
        while (j < env->nreceivers && strcmp(env->receivers[j], v[i].s))
            j++;
        if (j < env->nreceivers)
            continue;
        char m[128], list[512] = "";
        for (size_t r = 0, l = 0; r < env->nreceivers && l < sizeof list; r++, l = strlen(list))
            snprintf(list + l, sizeof list - l, "%s%s", r ? ", " : "", env->receivers[r]);
        diag(c, v[i].pos, "unknown receiver '%s'%s; the config's receivers: %s", v[i].s,
             mean(m, sizeof m, v[i].s, env->receivers, env->nreceivers),
             env->nreceivers ? list : "(none)");
    }
}

/* ------------------------------------------------------------------ rules */

static void compile_rule(cc_t *c, vg_rb_rule_t *r)
{
    compile_query(c, &r->expr, 0, &r->stmt);
    cols_t cols = {0};
    if (r->stmt)
        result_cols(r->stmt, &cols);
    const cols_t *cp = r->stmt && !cols.oom ? &cols : NULL;
    compile_expr(c, &r->when, "when", "the rule's query", cp, &r->when_x);
    compile_expr(c, &r->resolve_when, "resolve_when", "the rule's query", cp, &r->resolve_x);
    for (size_t i = 0; cp && i < r->nannotations; i++) {
        if (!r->annotations[i].value.s)
            continue;
        tmplck_t k = {c, r, &r->annotations[i], cp};
        vg_rb_template_names(r->annotations[i].value.s, tmpl_name, &k);
    }
    if (c->env && c->env->check_receivers)
        check_receivers(c, r->notify, r->nnotify);
    vg_free(cols.v);
}

static void compile_cause(cc_t *c, vg_rb_cause_t *k)
{
    compile_query(c, &k->check, 1, &k->stmt);
    check_query_names(c, &k->check);
    cols_t cols = {0};
    if (k->stmt)
        result_cols(k->stmt, &cols);
    compile_expr(c, &k->when, "when", "the cause's check", k->stmt && !cols.oom ? &cols : NULL,
                 &k->when_x);
    vg_free(cols.v);
}

int vg_rb_compile(vg_runbook_t *rb, const vg_rb_env_t *env, vg_rb_diags_t *d)
{
    vg_rb_diags_t own = {0};
    cc_t c = {rb, env, d ? d : &own, 0};
    c.before = c.d->n;
    for (size_t i = 0; i < rb->nrules; i++)
        compile_rule(&c, &rb->rules[i]);
    for (size_t i = 0; i < rb->ninvestigate; i++) {
        compile_query(&c, &rb->investigate[i].query, 1, &rb->investigate[i].stmt);
        check_query_names(&c, &rb->investigate[i].query);
    }
    for (size_t i = 0; i < rb->nsamples; i++) {
        compile_query(&c, &rb->samples[i].query, 1, &rb->samples[i].stmt);
        check_query_names(&c, &rb->samples[i].query);
    }
    for (size_t i = 0; i < rb->ncauses; i++)
        compile_cause(&c, &rb->causes[i]);
    if (env && env->check_receivers)
        check_receivers(&c, rb->notify, rb->nnotify);
    int bad = c.d->n > c.before;
    vg_rb_diags_free(&own);
    return bad ? VG_EPARSE : VG_OK;
}
