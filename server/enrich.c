/*
 * enrich.c: the diagnosis an alert carries when it fires: what the first
 * half hour of an investigation would find (the seed's "characterize the
 * symptom", "what changed", "look at real requests", then the runbook's
 * decision tree).
 *
 * Every query runs "as of" the evaluation time, so the demo and backtests
 * get the diagnosis they would have had at the time. Investigation, sample
 * and cause queries may name the alert's labels and the rule's result
 * columns as {{name}} templates (a value is quoted for a string literal:
 * its single quotes doubled). A failing query puts its error in the
 * diagnosis instead of failing the alert.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "rules_int.h"

#define MAX_ROWS 20 /* rows of an investigation query kept in the payload */

typedef struct dctx {
    vg_db_t *db;
    const vg_diag_opts_t *o;
    int64_t now;
    const vg_result_t *res; /* the rule's result and the alert's row */
    size_t row;
    const vg_label_t *labels;
    size_t nlabels;
} dctx_t;

json_t *vg_cell_json(const vg_result_t *r, size_t row, size_t col)
{
    const vg_value_t *v = vg_result_cell(r, row, col);
    if (!v)
        return json_null();
    char buf[48];
    switch (r->cols[col].type) {
    case VG_TYPE_FLOAT: return isfinite(v->f) ? json_real(v->f) : json_null();
    case VG_TYPE_INT: return json_integer(v->i);
    case VG_TYPE_UINT: return json_integer((json_int_t)v->u);
    case VG_TYPE_BOOL: return json_boolean(v->b);
    case VG_TYPE_TIME: vg_format_time(v->i, buf, sizeof buf); return json_string(buf);
    default: return json_stringn(v->s.p ? v->s.p : "", v->s.len);
    }
}

static json_t *row_object(const vg_result_t *r, size_t row)
{
    json_t *o = json_object();
    for (size_t c = 0; c < r->ncols; c++)
        if (!r->cols[c].picture)
            json_object_set_new(o, r->cols[c].name, vg_cell_json(r, row, c));
    return o;
}

/* {{name}} in a query: the alert's labels, then the rule's result columns. */
static int query_lookup(void *ctx, const char *name, char *buf, size_t cap)
{
    const dctx_t *d = ctx;
    const char *v = labels_get(d->labels, d->nlabels, name);
    char tmp[512];
    if (!v) {
        for (size_t c = 0; c < d->res->ncols && !v; c++)
            if (!d->res->cols[c].picture && strcmp(d->res->cols[c].name, name) == 0) {
                json_t *j = vg_cell_json(d->res, d->row, c);
                if (json_is_string(j))
                    snprintf(tmp, sizeof tmp, "%s", json_string_value(j));
                else if (json_is_number(j))
                    snprintf(tmp, sizeof tmp, "%.17g", json_number_value(j));
                else
                    snprintf(tmp, sizeof tmp, "%s", json_is_true(j) ? "true" : "false");
                json_decref(j);
                v = tmp;
            }
    }
    if (!v)
        return 0;
    size_t o = 0;
    for (; *v && o + 2 < cap; v++) { /* quoted for a '...' literal */
        if (*v == '\'')
            buf[o++] = '\'';
        buf[o++] = *v;
    }
    buf[o] = '\0';
    return 1;
}

/* Run a runbook query (templates expanded) as of d->now. On failure *error
 * holds the message. Ownership: *res is the caller's (vg_result_free). */
static int run_q(const dctx_t *d, const char *text, vg_result_t *res, char *error, size_t cap,
                 char **expanded)
{
    char *q = NULL;
    memset(res, 0, sizeof *res);
    if (vg_rb_template(text, query_lookup, (void *)d, &q) != VG_OK) {
        snprintf(error, cap, "out of memory");
        return VG_ENOMEM;
    }
    vg_q_exec_opts_t qo;
    vg_q_exec_opts_default(&qo);
    qo.now_ns = d->now;
    if (d->o->timeout_ms > 0)
        qo.timeout_ms = (uint64_t)d->o->timeout_ms;
    qo.max_values = 5000000;
    vg_q_error_t qe = {0};
    int rc = vg_q_run(d->db, q, &qo, res, &qe);
    if (rc)
        vg_q_error_format(&qe, error, cap);
    if (expanded)
        *expanded = q;
    else
        vg_free(q);
    return rc;
}

static int run(const dctx_t *d, const char *text, vg_result_t *res, char *error, size_t cap)
{
    return run_q(d, text, res, error, cap, NULL);
}

static json_t *runbook_json(const vg_runbook_t *rb, const vg_rb_rule_t *rule)
{
    json_t *o = json_pack("{s:s,s:s}", "name", rb->name.s, "signal", rb->signal.s);
    const vg_rb_str_t *opt[] = {&rb->title, &rb->description, &rb->url, &rb->escalation};
    const char *keys[] = {"title", "description", "url", "escalation"};
    for (size_t i = 0; i < 4; i++)
        if (opt[i]->s)
            json_object_set_new(o, keys[i], json_string(opt[i]->s));
    json_object_set_new(o, "rule", json_string(rule->alert.s));
    json_object_set_new(o, "when", json_string(rule->when.s));
    return o;
}

/* ------------------------------------------------------------- changes */

/* A change matches when every tag it shares with the alert has the same
 * value ("all" matches any); model, provider and guardrail changes always do. */
static int change_matches(const dctx_t *d, const vg_result_t *r, size_t row)
{
    for (size_t c = 0; c < r->ncols; c++) {
        if (r->cols[c].type != VG_TYPE_TAG || strcmp(r->cols[c].name, "kind") != 0)
            continue;
        const vg_value_t *v = vg_result_cell(r, row, c);
        if (v && v->s.p &&
            (!strcmp(v->s.p, "model") || !strcmp(v->s.p, "provider") ||
             !strcmp(v->s.p, "provider_status") || !strcmp(v->s.p, "guardrail")))
            return 1;
    }
    for (size_t c = 0; c < r->ncols; c++) {
        if (r->cols[c].type != VG_TYPE_TAG)
            continue;
        const char *want = labels_get(d->labels, d->nlabels, r->cols[c].name);
        const vg_value_t *v = vg_result_cell(r, row, c);
        if (!want || !v || !v->s.p || !strcmp(v->s.p, "all"))
            continue;
        if (strcmp(want, v->s.p) != 0)
            return 0;
    }
    return 1;
}

static json_t *changes_json(const dctx_t *d)
{
    char q[128], error[400];
    snprintf(q, sizeof q, "SELECT * FROM change_event SINCE %llds",
             (long long)(d->o->changes_window_ns / VG_NS_PER_SEC));
    vg_result_t r;
    json_t *a = json_array();
    if (run(d, q, &r, error, sizeof error) == VG_OK)
        for (size_t i = 0; i < r.nrows; i++)
            if (change_matches(d, &r, i))
                json_array_append_new(a, row_object(&r, i));
    vg_result_free(&r);
    return a; /* no change_event table yet: no changes */
}

/* ------------------------------------------------ investigation, samples */

static json_t *table_json(const vg_result_t *r, size_t max_rows)
{
    json_t *cols = json_array(), *rows = json_array();
    for (size_t c = 0; c < r->ncols; c++)
        if (!r->cols[c].picture)
            json_array_append_new(cols, json_string(r->cols[c].name));
    for (size_t i = 0; i < r->nrows && i < max_rows; i++) {
        json_t *row = json_array();
        for (size_t c = 0; c < r->ncols; c++)
            if (!r->cols[c].picture)
                json_array_append_new(row, vg_cell_json(r, i, c));
        json_array_append_new(rows, row);
    }
    json_t *o = json_pack("{s:o,s:o}", "columns", cols, "rows", rows);
    if (r->nrows > max_rows)
        json_object_set_new(o, "truncated", json_integer((json_int_t)(r->nrows - max_rows)));
    return o;
}

static json_t *query_json(const dctx_t *d, const char *name, const char *text)
{
    vg_result_t r;
    char error[400];
    char *q = NULL;
    int rc = run_q(d, text, &r, error, sizeof error, &q);
    json_t *o = json_pack("{s:s,s:s}", "name", name ? name : "", "query", q ? q : text);
    vg_free(q);
    if (rc == VG_OK) {
        json_t *t = table_json(&r, MAX_ROWS);
        json_object_update(o, t);
        json_decref(t);
    } else {
        json_object_set_new(o, "error", json_string(error));
    }
    vg_result_free(&r);
    return o;
}

static json_t *investigate_json(const dctx_t *d, const vg_runbook_t *rb)
{
    json_t *a = json_array();
    for (size_t i = 0; i < rb->ninvestigate; i++)
        json_array_append_new(a, query_json(d, rb->investigate[i].name.s,
                                            rb->investigate[i].query.s));
    return a;
}

typedef struct linkctx {
    const vg_result_t *r;
    size_t row;
} linkctx_t;

static int link_lookup(void *ctx, const char *name, char *buf, size_t cap)
{
    const linkctx_t *l = ctx;
    for (size_t c = 0; c < l->r->ncols; c++)
        if (strcmp(l->r->cols[c].name, name) == 0) {
            json_t *j = vg_cell_json(l->r, l->row, c);
            if (json_is_string(j))
                snprintf(buf, cap, "%s", json_string_value(j));
            else
                snprintf(buf, cap, "%.17g", json_number_value(j));
            json_decref(j);
            return 1;
        }
    return 0;
}

/* Sampled rows as objects; with sample_url, each gets its link. */
static json_t *samples_json(const dctx_t *d, const vg_runbook_t *rb)
{
    json_t *o = json_object();
    for (size_t i = 0; i < rb->nsamples; i++) {
        vg_result_t r;
        char error[400];
        json_t *rows = json_array();
        if (run(d, rb->samples[i].query.s, &r, error, sizeof error) == VG_OK) {
            for (size_t k = 0; k < r.nrows && k < MAX_ROWS; k++) {
                json_t *row = row_object(&r, k);
                linkctx_t l = {&r, k};
                char *link = NULL;
                if (d->o->sample_url &&
                    vg_rb_template(d->o->sample_url, link_lookup, &l, &link) == VG_OK)
                    json_object_set_new(row, "link", json_string(link));
                vg_free(link);
                json_array_append_new(rows, row);
            }
        } else {
            json_array_append_new(rows, json_pack("{s:s}", "error", error));
        }
        vg_result_free(&r);
        json_object_set_new(o, rb->samples[i].name.s, rows);
    }
    return o;
}

/* ------------------------------------------------------------- causes */

/* Whether a cause holds: its `when` over the check's first row, or
 * without one, the first value being true or non-zero. */
static int cause_holds(const dctx_t *d, const vg_rb_cause_t *c, json_t *out)
{
    if (!c->check.s) /* a cause without a check is the tree's default branch */
        return 1;
    vg_result_t r;
    char error[400];
    int held = 0;
    if (run(d, c->check.s, &r, error, sizeof error) != VG_OK) {
        json_object_set_new(out, "error", json_string(error));
        vg_result_free(&r);
        return 0;
    }
    if (r.nrows) {
        json_object_set_new(out, "values", row_object(&r, 0));
        vg_q_error_t qe = {0};
        if (c->when_x) {
            if (vg_q_expr_eval(c->when_x, &r, 0, NULL, &held, &qe) != VG_OK) {
                vg_q_error_format(&qe, error, sizeof error);
                json_object_set_new(out, "error", json_string(error));
            }
        } else {
            size_t col = 0;
            while (col < r.ncols && r.cols[col].type == VG_TYPE_TAG)
                col++;
            const vg_value_t *v = col < r.ncols ? vg_result_cell(&r, 0, col) : NULL;
            vg_type_t t = col < r.ncols ? r.cols[col].type : VG_TYPE_STRING;
            held = v && ((t == VG_TYPE_BOOL && v->b) || (t == VG_TYPE_FLOAT && v->f != 0 && !isnan(v->f)) ||
                         (t == VG_TYPE_INT && v->i != 0) || (t == VG_TYPE_UINT && v->u != 0));
        }
    }
    vg_result_free(&r);
    return held;
}

static void causes_json(const dctx_t *d, const vg_runbook_t *rb, json_t *diag)
{
    json_t *checked = json_array(), *matched = json_null();
    for (size_t i = 0; i < rb->ncauses && json_is_null(matched); i++) {
        const vg_rb_cause_t *c = &rb->causes[i];
        json_t *o = json_pack("{s:s}", "name", c->name.s ? c->name.s : "");
        int held = cause_holds(d, c, o);
        json_object_set_new(o, "held", json_boolean(held));
        if (held) {
            json_decref(matched);
            matched = json_pack("{s:s}", "name", c->name.s ? c->name.s : "");
            if (c->mitigation.s)
                json_object_set_new(matched, "mitigation", json_string(c->mitigation.s));
            if (c->fallback.s)
                json_object_set_new(matched, "fallback", json_string(c->fallback.s));
        }
        json_array_append_new(checked, o);
    }
    json_object_set_new(diag, "cause", matched);
    json_object_set_new(diag, "causes_checked", checked);
}

int vg_diagnose(vg_db_t *db, const vg_runbook_t *rb, const vg_rb_rule_t *rule,
                const vg_result_t *res, size_t row, const vg_label_t *labels, size_t nlabels,
                int64_t now, const vg_diag_opts_t *o, char **json)
{
    dctx_t d = {db, o, now, res, row, labels, nlabels};
    char at[48];
    vg_format_time(now, at, sizeof at);
    json_t *diag = json_pack("{s:s,s:o,s:o}", "evaluated_at", at, "runbook",
                             runbook_json(rb, rule), "observed", row_object(res, row));
    json_object_set_new(diag, "classification",
                        vg_classify(db, labels, nlabels, now, o->window_ns, rb->signal.s,
                                    o->timeout_ms));
    json_object_set_new(diag, "changes", changes_json(&d));
    json_object_set_new(diag, "investigation", investigate_json(&d, rb));
    json_object_set_new(diag, "samples", samples_json(&d, rb));
    causes_json(&d, rb, diag);
    *json = json_dumps(diag, JSON_COMPACT);
    json_decref(diag);
    return *json ? VG_OK : VG_ENOMEM;
}
