/*
 * rule_eval.c: evaluating one rule as of a time: run its query, read each
 * row's group and conditions, step every group's state machine, and hand
 * the changes on (history rows, the state file, the diagnosis, the
 * notifier, the caller's event callback).
 *
 * The query runs without the lock, so a slow rule never holds up the API
 * or another rule; its result is applied under the lock; the diagnosis of
 * a newly firing alert (more queries) runs without it again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "rules_int.h"

void vg_rules_opts_default(vg_rules_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->changes_window_ns = 3600 * VG_NS_PER_SEC;
    o->diagnose = 1;
}

/* ------------------------------------------------------------------ labels */

int labels_add(vg_label_t **v, size_t *n, const char *name, const char *value)
{
    vg_label_t *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv)
        return VG_ENOMEM;
    *v = nv;
    nv[*n].name = strdup(name);
    nv[*n].value = strdup(value ? value : "");
    if (!nv[*n].name || !nv[*n].value) {
        free(nv[*n].name);
        free(nv[*n].value);
        return VG_ENOMEM;
    }
    (*n)++;
    return VG_OK;
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const vg_label_t *)a)->name, ((const vg_label_t *)b)->name);
}

void labels_sort(vg_label_t *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, label_cmp);
}

void labels_free(vg_label_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

const char *labels_get(const vg_label_t *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].value;
    return NULL;
}

void group_clear(group_t *g)
{
    labels_free(g->labels, g->nlabels);
    labels_free(g->ann, g->nann);
    free(g->vigil_json);
    memset(g, 0, sizeof *g);
}

group_t *rule_group(rule_t *ru, vg_label_t *labels, size_t nlabels)
{
    uint64_t fp = vg_alert_fingerprint(labels, nlabels);
    for (size_t i = 0; i < ru->ngroups; i++)
        if (ru->groups[i].fp == fp) {
            labels_free(labels, nlabels);
            return &ru->groups[i];
        }
    if (ru->ngroups == ru->cap) {
        size_t cap = ru->cap ? ru->cap * 2 : 8;
        group_t *g = realloc(ru->groups, cap * sizeof *g);
        if (!g) {
            labels_free(labels, nlabels);
            return NULL;
        }
        ru->groups = g, ru->cap = cap;
    }
    group_t *g = &ru->groups[ru->ngroups++];
    memset(g, 0, sizeof *g);
    g->fp = fp, g->labels = labels, g->nlabels = nlabels;
    return g;
}

/* ---------------------------------------------------------- reading a row */

/* A cell as text, for labels and templates: numbers as %g. */
static void cell_text(const vg_result_t *res, size_t row, size_t col, char *buf, size_t cap)
{
    const vg_value_t *v = vg_result_cell(res, row, col);
    buf[0] = '\0';
    if (!v)
        return;
    switch (res->cols[col].type) {
    case VG_TYPE_FLOAT: snprintf(buf, cap, "%.6g", v->f); break;
    case VG_TYPE_INT: snprintf(buf, cap, "%lld", (long long)v->i); break;
    case VG_TYPE_UINT: snprintf(buf, cap, "%llu", (unsigned long long)v->u); break;
    case VG_TYPE_BOOL: snprintf(buf, cap, "%s", v->b ? "true" : "false"); break;
    case VG_TYPE_TIME: vg_format_time(v->i, buf, cap); break;
    default: snprintf(buf, cap, "%.*s", (int)v->s.len, v->s.p ? v->s.p : ""); break;
    }
}

static long result_col(const vg_result_t *res, const char *name)
{
    for (size_t c = 0; name && c < res->ncols; c++)
        if (!res->cols[c].picture && strcmp(res->cols[c].name, name) == 0)
            return (long)c;
    return -1;
}

/* The alert's labels for a row: alertname, runbook, the rule's labels, the BY tags. */
static int row_labels(const rule_t *ru, const vg_result_t *res, size_t row, vg_label_t **out,
                      size_t *n)
{
    const vg_q_stmt_t *st = ru->def->stmt;
    size_t first = vg_q_every_ns(st) > 0;
    int rc = labels_add(out, n, "alertname", ru->def->alert.s);
    if (!rc)
        rc = labels_add(out, n, "runbook", ru->rb->name.s);
    for (size_t i = 0; !rc && i < ru->def->nlabels; i++)
        rc = labels_add(out, n, ru->def->labels[i].key.s, ru->def->labels[i].value.s);
    for (size_t g = 0; !rc && g < vg_q_group_count(st); g++) {
        const char *name = vg_q_group_name(st, g);
        if (labels_get(*out, *n, name))
            continue; /* a rule label of the same name wins */
        char text[512];
        cell_text(res, row, first + g, text, sizeof text);
        rc = labels_add(out, n, name, text);
    }
    if (!rc)
        labels_sort(*out, *n);
    return rc;
}

typedef struct tmplctx {
    const vg_result_t *res;
    size_t row;
    const vg_label_t *labels;
    size_t nlabels;
    double value;
} tmplctx_t;

static int tmpl_lookup(void *ctx, const char *name, char *buf, size_t cap)
{
    const tmplctx_t *t = ctx;
    long c = result_col(t->res, name);
    if (c >= 0) {
        cell_text(t->res, t->row, (size_t)c, buf, cap);
        return 1;
    }
    const char *l = labels_get(t->labels, t->nlabels, name);
    if (l) {
        snprintf(buf, cap, "%s", l);
        return 1;
    }
    if (strcmp(name, "value") == 0) {
        snprintf(buf, cap, "%.6g", t->value);
        return 1;
    }
    return 0;
}

static int render_annotations(const rule_t *ru, const tmplctx_t *t, group_t *g)
{
    vg_label_t *ann = NULL;
    size_t n = 0;
    int rc = VG_OK;
    for (size_t i = 0; !rc && i < ru->def->nannotations; i++) {
        char *text = NULL;
        rc = vg_rb_template(ru->def->annotations[i].value.s, tmpl_lookup, (void *)t, &text);
        if (!rc)
            rc = labels_add(&ann, &n, ru->def->annotations[i].key.s, text);
        vg_free(text);
    }
    if (rc) {
        labels_free(ann, n);
        return rc;
    }
    labels_free(g->ann, g->nann);
    g->ann = ann, g->nann = n;
    return VG_OK;
}

/* ------------------------------------------------------------ evaluation */

typedef struct change {
    group_t *g; /* &groups[gi], set once every row is applied */
    size_t gi;
    vg_rs_change_t what;
    long row; /* -1 without data */
} change_t;

static const char *change_state(vg_rs_change_t c)
{
    switch (c) {
    case VG_RS_TO_PENDING: return "pending";
    case VG_RS_TO_FIRING: return "firing";
    case VG_RS_TO_RESOLVED: return "resolved";
    default: return "inactive";
    }
}

/* Apply one row; appends to ch when the group changed. Under the lock. */
static int apply_row(vg_rules_t *r, rule_t *ru, const vg_result_t *res, size_t row, int64_t now,
                     change_t *ch, size_t *nch, vg_q_error_t *qe)
{
    vg_label_t *labels = NULL;
    size_t nl = 0;
    int rc = row_labels(ru, res, row, &labels, &nl);
    if (rc) {
        labels_free(labels, nl);
        return rc;
    }
    group_t *g = rule_group(ru, labels, nl);
    if (!g)
        return VG_ENOMEM;
    vg_rs_input_t in = {.has_data = 1};
    if ((rc = vg_q_expr_eval(ru->def->when_x, res, row, NULL, &in.cond, qe)))
        return rc;
    if (ru->def->resolve_x && (rc = vg_q_expr_eval(ru->def->resolve_x, res, row, NULL,
                                                   &in.resolve, qe)))
        return rc;
    long vc = result_col(res, ru->value_col);
    const vg_value_t *v = vc >= 0 ? vg_result_cell(res, row, (size_t)vc) : NULL;
    g->value = !v ? NAN
               : res->cols[vc].type == VG_TYPE_FLOAT ? v->f
               : res->cols[vc].type == VG_TYPE_INT   ? (double)v->i
               : res->cols[vc].type == VG_TYPE_UINT  ? (double)v->u
                                                      : NAN;
    g->seen = 1;
    tmplctx_t t = {res, row, g->labels, g->nlabels, g->value};
    if ((rc = render_annotations(ru, &t, g)))
        return rc;
    vg_rs_change_t c = vg_rs_step(&ru->params, &g->rs, &in, now);
    if (c != VG_RS_NONE)
        ch[(*nch)++] = (change_t){g, (size_t)(g - ru->groups), c, (long)row};
    (void)r;
    return VG_OK;
}

/* Groups without a row, then drop what is inactive and quiet. Under the lock. */
static void apply_missing(rule_t *ru, int64_t now, change_t *ch, size_t *nch)
{
    vg_rs_input_t none = {0};
    for (size_t i = 0; i < ru->ngroups; i++) {
        group_t *g = &ru->groups[i];
        if (g->seen)
            continue;
        vg_rs_change_t c = vg_rs_step(&ru->params, &g->rs, &none, now);
        if (c != VG_RS_NONE)
            ch[(*nch)++] = (change_t){g, i, c, -1};
    }
}

static void compact_groups(rule_t *ru)
{
    size_t w = 0;
    for (size_t i = 0; i < ru->ngroups; i++) {
        group_t *g = &ru->groups[i];
        g->seen = 0;
        if (g->rs.state == VG_RS_INACTIVE) {
            group_clear(g);
            continue;
        }
        ru->groups[w++] = *g;
    }
    ru->ngroups = w;
}

static int to_alert(const rule_t *ru, const group_t *g, int64_t resolved_at, vg_alert_t *a)
{
    memset(a, 0, sizeof *a);
    a->labels = g->labels, a->nlabels = g->nlabels;
    a->annotations = g->ann, a->nannotations = g->nann;
    a->fingerprint = g->fp;
    a->starts_at = g->rs.fired_at;
    a->ends_at = resolved_at;
    a->eval_interval_ns = ru->def->every_ns;
    a->value = g->value;
    a->vigil_json = g->vigil_json;
    const vg_rb_str_t *rcv = ru->def->nnotify ? ru->def->notify : ru->rb->notify;
    size_t n = ru->def->nnotify ? ru->def->nnotify : ru->rb->nnotify;
    a->receivers = calloc(n ? n : 1, sizeof *a->receivers);
    if (!a->receivers)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        a->receivers[i] = rcv[i].s;
    a->nreceivers = n;
    return VG_OK;
}

/* Push the rule's firing alerts and this evaluation's resolutions. Under the lock. */
static int notify(vg_rules_t *r, rule_t *ru, const change_t *ch, size_t nch, int64_t now)
{
    if (!r->o.notifier)
        return VG_OK;
    vg_alert_t *v = calloc(ru->ngroups + nch + 1, sizeof *v);
    size_t n = 0;
    int rc = v ? VG_OK : VG_ENOMEM;
    for (size_t i = 0; !rc && i < ru->ngroups; i++)
        if (ru->groups[i].rs.state == VG_RS_FIRING)
            rc = to_alert(ru, &ru->groups[i], 0, &v[n++]);
    for (size_t i = 0; !rc && i < nch; i++)
        if (ch[i].what == VG_RS_TO_RESOLVED)
            rc = to_alert(ru, ch[i].g, ch[i].g->rs.resolved_at, &v[n++]);
    for (size_t i = 0; !rc && i < n; i++)
        v[i].silenced = r->o.silences &&
                        vg_silences_match(r->o.silences, v[i].labels, v[i].nlabels, now);
    if (!rc && n)
        rc = vg_notifier_push(r->o.notifier, v, n, now);
    for (size_t i = 0; v && i < n; i++)
        free(v[i].receivers);
    free(v);
    return rc;
}

static void fill_info(const rule_t *ru, const group_t *g, vg_alert_info_t *a)
{
    *a = (vg_alert_info_t){.rule = ru->def->alert.s,
                           .runbook = ru->rb->name.s,
                           .labels = g->labels,
                           .nlabels = g->nlabels,
                           .annotations = g->ann,
                           .nannotations = g->nann,
                           .rs = g->rs,
                           .value = g->value,
                           .fingerprint = g->fp,
                           .vigil_json = g->vigil_json};
}

/* Diagnose the groups that just fired; their rows are in res. Without the lock. */
static void diagnose(vg_rules_t *r, rule_t *ru, const vg_result_t *res, change_t *ch, size_t nch,
                     int64_t now, char **json)
{
    vg_diag_opts_t o = {r->o.sample_url, r->o.changes_window_ns,
                        r->o.query_timeout_ms ? r->o.query_timeout_ms
                                              : ru->def->every_ns / 1000000,
                        0};
    for (size_t i = 0; i < nch; i++) {
        json[i] = NULL;
        if (ch[i].what != VG_RS_TO_FIRING || !r->o.diagnose || ch[i].row < 0)
            continue;
        /* the symptom is measured over the time the condition has held,
         * plus ten minutes of lead-in, between 10 minutes and an hour */
        int64_t w = now - ch[i].g->rs.active_at + 600 * VG_NS_PER_SEC;
        o.window_ns = w < 600 * VG_NS_PER_SEC ? 600 * VG_NS_PER_SEC
                      : w > 3600 * VG_NS_PER_SEC ? 3600 * VG_NS_PER_SEC
                                                  : w;
        vg_diagnose(r->o.db, ru->rb, ru->def, res, (size_t)ch[i].row, ch[i].g->labels,
                    ch[i].g->nlabels, now, &o, &json[i]);
    }
}

static void set_error(rule_t *ru, const char *msg)
{
    free(ru->last_error);
    ru->last_error = msg ? strdup(msg) : NULL;
}

int vg_rules_eval(vg_rules_t *r, size_t i, int64_t now, vg_error_t *err)
{
    rule_t *ru = &r->rules[i];
    vg_q_exec_opts_t qo;
    vg_q_exec_opts_default(&qo);
    qo.now_ns = now;
    qo.timeout_ms = r->o.query_timeout_ms ? (uint64_t)r->o.query_timeout_ms
                                           : (uint64_t)(ru->def->every_ns / 1000000);
    vg_result_t res;
    vg_q_error_t qe = {0};
    int64_t t0 = vg_now_ns();
    int rc = vg_q_exec(r->o.db, ru->def->stmt, &qo, &res, &qe);
    if (rc == VG_ENOTFOUND && strncmp(qe.msg, "unknown table", 13) == 0) {
        /* nothing was written to it yet: an empty result, as Prometheus
         * reads a series that does not exist */
        vg_result_free(&res);
        memset(&res, 0, sizeof res);
        rc = VG_OK;
    }

    pthread_mutex_lock(&r->mu);
    size_t cap = ru->ngroups + res.nrows + 1;
    change_t *ch = calloc(cap, sizeof *ch);
    size_t nch = 0;
    if (!rc && !ch)
        rc = vg_q_error_set(&qe, VG_ENOMEM, 0, 0, "out of memory");
    /* with EVERY, the last window of each group decides: rows are in time order */
    size_t first = 0;
    if (!rc && vg_q_every_ns(ru->def->stmt) > 0 && res.nrows) {
        const vg_value_t *last = vg_result_cell(&res, res.nrows - 1, 0);
        while (first < res.nrows && last && vg_result_cell(&res, first, 0)->i != last->i)
            first++;
    }
    for (size_t row = first; !rc && row < res.nrows; row++)
        rc = apply_row(r, ru, &res, row, now, ch, &nch, &qe);
    if (!rc)
        apply_missing(ru, now, ch, &nch);
    for (size_t k = 0; k < nch; k++) /* rule_group may have moved them */
        ch[k].g = &ru->groups[ch[k].gi];
    ru->last_eval = now;
    ru->last_ns = vg_now_ns() - t0;
    char msg[400];
    if (rc)
        vg_q_error_format(&qe, msg, sizeof msg);
    set_error(ru, rc ? msg : NULL);
    pthread_mutex_unlock(&r->mu);

    if (rc) {
        for (size_t k = 0; k < ru->ngroups; k++)
            ru->groups[k].seen = 0;
        free(ch);
        vg_result_free(&res);
        return vg_error_set(err, rc, "rule %s: %s", ru->def->alert.s, msg);
    }

    /* The diagnosis runs queries: outside the lock. Only this rule's
     * evaluation touches its groups' labels, and it is us. */
    char **json = calloc(nch + 1, sizeof *json);
    if (json)
        diagnose(r, ru, &res, ch, nch, now, json);

    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; k < nch; k++) {
        if (json && json[k]) {
            free(ch[k].g->vigil_json);
            ch[k].g->vigil_json = json[k];
        }
        if (r->o.write_history)
            store_history(r, ch[k].g, change_state(ch[k].what), now, NULL);
    }
    int nrc = notify(r, ru, ch, nch, now);
    vg_alert_info_t *infos = calloc(nch + 1, sizeof *infos);
    for (size_t k = 0; infos && k < nch; k++)
        fill_info(ru, ch[k].g, &infos[k]);
    pthread_mutex_unlock(&r->mu);

    /* Events see the groups as they were; compaction comes after them. */
    for (size_t k = 0; infos && r->o.on_event && k < nch; k++) {
        vg_rule_event_t ev = {ch[k].what, &infos[k], now};
        r->o.on_event(r->o.event_ctx, &ev);
    }
    pthread_mutex_lock(&r->mu);
    compact_groups(ru);
    int src = nch && r->o.state_path ? store_save(r, err) : VG_OK;
    pthread_mutex_unlock(&r->mu);

    free(infos);
    free(json);
    free(ch);
    vg_result_free(&res);
    if (nrc)
        return vg_error_set(err, nrc, "rule %s: queuing its notification failed",
                            ru->def->alert.s);
    return src;
}
