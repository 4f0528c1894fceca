/*
 * rules.c: the set of running rules: building it from compiled runbooks,
 * swapping it on reload with the states carried over, and showing it in
 * Prometheus's JSON shapes (GET /api/v1/rules and /api/v1/alerts).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

static int first_ref(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column)
{
    (void)role, (void)line, (void)column;
    char **out = ctx;
    *out = strdup(name);
    return 1;
}

static void rule_free(rule_t *ru)
{
    for (size_t i = 0; i < ru->ngroups; i++)
        group_clear(&ru->groups[i]);
    free(ru->groups);
    free(ru->value_col);
    free(ru->last_error);
}

static void free_rules(rule_t *v, size_t n, vg_runbook_t **rbs, size_t nrbs)
{
    for (size_t i = 0; i < n; i++)
        rule_free(&v[i]);
    free(v);
    for (size_t i = 0; i < nrbs; i++)
        vg_rb_free(rbs[i]);
    free(rbs);
}

/* Rules of a set, in file order. Takes the set's runbooks. */
static int build(vg_rb_set_t *set, rule_t **out, size_t *nout, vg_runbook_t ***rbs, size_t *nrbs,
                 vg_error_t *err)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->v[i]->nrules;
    rule_t *v = calloc(n + 1, sizeof *v);
    if (!v)
        return vg_error_set(err, VG_ENOMEM, "out of memory building the rules");
    size_t k = 0;
    for (size_t i = 0; i < set->n; i++) {
        vg_runbook_t *rb = set->v[i];
        for (size_t j = 0; j < rb->nrules; j++) {
            vg_rb_rule_t *d = &rb->rules[j];
            if (!d->stmt || !d->when_x) {
                free(v);
                return vg_error_set(err, VG_EINVAL, "%s: rule %s is not compiled", rb->path,
                                    d->alert.s);
            }
            rule_t *ru = &v[k++];
            ru->rb = rb, ru->def = d;
            ru->params = (vg_rs_params_t){d->for_ns, d->keep_firing_ns, d->no_data,
                                          d->resolve_x != NULL};
            vg_q_expr_refs(d->when_x, first_ref, &ru->value_col);
        }
    }
    *out = v, *nout = n;
    *rbs = set->v, *nrbs = set->n;
    set->v = NULL, set->n = 0;
    return VG_OK;
}

int vg_rules_create(vg_rb_set_t *set, const vg_rules_opts_t *opts, vg_rules_t **out,
                    vg_error_t *err)
{
    vg_rules_t *r = calloc(1, sizeof *r);
    if (!r)
        return vg_error_set(err, VG_ENOMEM, "out of memory");
    r->o = *opts;
    /* the strings are the caller's: keep copies */
    r->o.state_path = r->state_path = opts->state_path ? strdup(opts->state_path) : NULL;
    r->o.sample_url = r->sample_url = opts->sample_url ? strdup(opts->sample_url) : NULL;
    r->o.external_url = r->external_url = opts->external_url ? strdup(opts->external_url) : NULL;
    pthread_mutex_init(&r->mu, NULL);
    int rc = build(set, &r->rules, &r->n, &r->rbs, &r->nrbs, err);
    if (!rc && r->o.state_path)
        rc = store_load(r, err);
    if (rc) {
        vg_rules_destroy(r);
        return rc;
    }
    *out = r;
    return VG_OK;
}

void vg_rules_destroy(vg_rules_t *r)
{
    if (!r)
        return;
    free_rules(r->rules, r->n, r->rbs, r->nrbs);
    pthread_mutex_destroy(&r->mu);
    free(r->state_path);
    free(r->sample_url);
    free(r->external_url);
    free(r);
}

int vg_rules_replace(vg_rules_t *r, vg_rb_set_t *set, vg_error_t *err)
{
    rule_t *v;
    size_t n, nrbs;
    vg_runbook_t **rbs;
    int rc = build(set, &v, &n, &rbs, &nrbs, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < r->n; j++)
            if (strcmp(v[i].def->alert.s, r->rules[j].def->alert.s) == 0) {
                /* the groups move over; their labels may hold the old rule's
                 * static labels until the next evaluation rewrites them */
                v[i].groups = r->rules[j].groups, v[i].ngroups = r->rules[j].ngroups;
                v[i].cap = r->rules[j].cap;
                r->rules[j].groups = NULL, r->rules[j].ngroups = r->rules[j].cap = 0;
                break;
            }
    rule_t *old = r->rules;
    size_t nold = r->n, noldrb = r->nrbs;
    vg_runbook_t **oldrb = r->rbs;
    r->rules = v, r->n = n, r->rbs = rbs, r->nrbs = nrbs;
    /* The new set runs from here on: a failure to save its state now is
     * not a failed reload (the next change saves again). */
    if (r->o.state_path)
        store_save(r, NULL);
    pthread_mutex_unlock(&r->mu);
    free_rules(old, nold, oldrb, noldrb);
    return VG_OK;
}

size_t vg_rules_count(const vg_rules_t *r)
{
    return r->n;
}

int64_t vg_rules_every(const vg_rules_t *r, size_t i)
{
    return r->rules[i].def->every_ns;
}

void vg_rules_each_alert(vg_rules_t *r, void (*fn)(void *ctx, const vg_alert_info_t *a), void *ctx)
{
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->rules[i].ngroups; j++) {
            const rule_t *ru = &r->rules[i];
            const group_t *g = &ru->groups[j];
            vg_alert_info_t a = {ru->def->alert.s, ru->rb->name.s, g->labels, g->nlabels,
                                 g->ann, g->nann, g->rs, g->value, g->fp, g->vigil_json};
            fn(ctx, &a);
        }
    pthread_mutex_unlock(&r->mu);
}

/* ------------------------------------------------------------------ JSON */

static json_t *labels_json(const vg_label_t *v, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, v[i].name, json_string(v[i].value));
    return o;
}

static json_t *time_json(int64_t ns)
{
    char buf[48];
    if (!ns)
        return json_string("0001-01-01T00:00:00Z");
    vg_format_time(ns, buf, sizeof buf);
    return json_string(buf);
}

static json_t *alert_json(const rule_t *ru, const group_t *g)
{
    (void)ru;
    char val[48];
    snprintf(val, sizeof val, "%.17g", g->value);
    json_t *a = json_pack("{s:o,s:o,s:s,s:o,s:s}", "labels", labels_json(g->labels, g->nlabels),
                          "annotations", labels_json(g->ann, g->nann), "state",
                          vg_rs_state_name(g->rs.state), "activeAt", time_json(g->rs.active_at),
                          "value", val);
    char fp[17];
    vg_alert_fingerprint_hex(g->fp, fp);
    json_object_set_new(a, "fingerprint", json_string(fp));
    if (g->vigil_json) {
        json_t *v = json_loads(g->vigil_json, 0, NULL);
        if (v)
            json_object_set_new(a, "vigil", v);
    }
    return a;
}

static int dump(json_t *j, char **out)
{
    *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return *out ? VG_OK : VG_ENOMEM;
}

int vg_rules_alerts_json(vg_rules_t *r, char **out)
{
    json_t *alerts = json_array();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->rules[i].ngroups; j++)
            if (r->rules[i].groups[j].rs.state != VG_RS_INACTIVE)
                json_array_append_new(alerts, alert_json(&r->rules[i], &r->rules[i].groups[j]));
    pthread_mutex_unlock(&r->mu);
    return dump(json_pack("{s:s,s:{s:o}}", "status", "success", "data", "alerts", alerts), out);
}

static json_t *rule_json(const rule_t *ru)
{
    json_t *alerts = json_array();
    vg_rs_state_t worst = VG_RS_INACTIVE;
    for (size_t j = 0; j < ru->ngroups; j++) {
        if (ru->groups[j].rs.state == VG_RS_INACTIVE)
            continue;
        json_array_append_new(alerts, alert_json(ru, &ru->groups[j]));
        if (ru->groups[j].rs.state > worst)
            worst = ru->groups[j].rs.state;
    }
    char q[4096];
    vg_q_format(ru->def->stmt, q, sizeof q);
    json_t *labels = json_object(), *ann = json_object();
    for (size_t i = 0; i < ru->def->nlabels; i++)
        json_object_set_new(labels, ru->def->labels[i].key.s,
                            json_string(ru->def->labels[i].value.s));
    for (size_t i = 0; i < ru->def->nannotations; i++)
        json_object_set_new(ann, ru->def->annotations[i].key.s,
                            json_string(ru->def->annotations[i].value.s));
    json_t *o = json_pack("{s:s,s:s,s:s,s:f,s:f,s:o,s:o,s:o,s:s,s:s,s:f,s:o}", "name",
                          ru->def->alert.s, "query", q, "when", ru->def->when.s, "duration",
                          (double)ru->def->for_ns / 1e9, "keepFiringFor",
                          (double)ru->def->keep_firing_ns / 1e9, "labels", labels, "annotations",
                          ann, "alerts", alerts, "health",
                          !ru->last_eval ? "unknown" : ru->last_error ? "err" : "ok", "type",
                          "alerting", "evaluationTime", (double)ru->last_ns / 1e9,
                          "lastEvaluation", time_json(ru->last_eval));
    json_object_set_new(o, "state", json_string(vg_rs_state_name(worst)));
    if (ru->def->resolve_when.s)
        json_object_set_new(o, "resolveWhen", json_string(ru->def->resolve_when.s));
    if (ru->last_error)
        json_object_set_new(o, "lastError", json_string(ru->last_error));
    return o;
}

int vg_rules_json(vg_rules_t *r, char **out)
{
    json_t *groups = json_array();
    pthread_mutex_lock(&r->mu);
    for (size_t b = 0; b < r->nrbs; b++) {
        const vg_runbook_t *rb = r->rbs[b];
        json_t *rules = json_array();
        int64_t every = 0;
        for (size_t i = 0; i < r->n; i++)
            if (r->rules[i].rb == rb) {
                json_array_append_new(rules, rule_json(&r->rules[i]));
                every = r->rules[i].def->every_ns;
            }
        json_array_append_new(groups, json_pack("{s:s,s:s,s:f,s:o}", "name", rb->name.s, "file",
                                                rb->path, "interval", (double)every / 1e9,
                                                "rules", rules));
    }
    pthread_mutex_unlock(&r->mu);
    return dump(json_pack("{s:s,s:{s:o}}", "status", "success", "data", "groups", groups), out);
}
