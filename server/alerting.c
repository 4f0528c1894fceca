/*
 * alerting.c: vigild's alerting parts started, reloaded and stopped in
 * order: receivers (from the config file), the notifier over DATA/notify,
 * silences in DATA/silences.json, the runbooks (checked before anything
 * runs), the rules with their state in DATA/alerts.json, the scheduler.
 *
 * A reload builds and checks the whole new set of runbooks first; the old
 * set keeps running unless the new one is sound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"
#include "rules.h"
#include "srv.h"

static void notify_log(void *ctx, const char *level, const char *msg)
{
    (void)ctx;
    /* the outbox limits itself per receiver; errors (dead letters) always show */
    if (strcmp(level, "error") == 0 || strcmp(level, "info") == 0)
        vg_log(level, "notify: %s", msg);
    else
        vg_log_limited(300, level, "notify: %s", msg);
}

/* Load and compile the configured runbooks; problems go into err. */
static int load_set(vg_server_t *s, vg_rb_set_t *set, char *err, size_t cap)
{
    vg_rb_diags_t d = {0};
    vg_receiver_t *rcv = NULL;
    size_t nrcv = 0;
    vg_error_t e = {0};
    memset(set, 0, sizeof *set);
    if (s->cfg.config_path && vg_receivers_load(s->cfg.config_path, &rcv, &nrcv, &e) != VG_OK) {
        snprintf(err, cap, "%s", e.msg);
        return -1;
    }
    const char **names = calloc(nrcv + 1, sizeof *names);
    for (size_t i = 0; names && i < nrcv; i++)
        names[i] = rcv[i].name;
    int rc = vg_rb_load_paths((const char *const *)s->cfg.runbooks, s->cfg.nrunbooks, set, &d);
    vg_rb_env_t env = {.receivers = names, .nreceivers = nrcv, .check_receivers = 1};
    for (size_t i = 0; rc == VG_OK && i < set->n; i++)
        if (vg_rb_compile(set->v[i], &env, &d) != VG_OK)
            rc = VG_EPARSE;
    free(names);
    vg_receivers_free(rcv, nrcv);
    if (rc != VG_OK || d.n) {
        size_t o = 0;
        err[0] = '\0';
        for (size_t i = 0; i < d.n && o + 2 < cap; i++)
            o += (size_t)snprintf(err + o, cap - o, "%s%s:%d:%d: %s", i ? "; " : "", d.v[i].file,
                                  d.v[i].line, d.v[i].column, d.v[i].msg);
        if (!d.n)
            snprintf(err, cap, "cannot load the runbooks");
        vg_rb_diags_free(&d);
        vg_rb_set_free(set);
        return -1;
    }
    vg_rb_diags_free(&d);
    return 0;
}

static size_t count_rules(const vg_rb_set_t *set)
{
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++)
        n += set->v[i]->nrules;
    return n;
}

int vg_srv_alerting_start(vg_server_t *s, char *err, size_t cap)
{
    char path[4096];
    vg_error_t e = {0};
    pthread_mutex_init(&s->reload_mu, NULL);
    snprintf(path, sizeof path, "%s/silences.json", s->cfg.data);
    if (vg_silences_open(path, &s->silences, &e) != VG_OK) {
        snprintf(err, cap, "%s", e.msg);
        return -1;
    }
    if (!s->cfg.nrunbooks)
        return 0;
    vg_rb_set_t set;
    if (load_set(s, &set, err, cap) != 0)
        return -1;
    vg_receiver_t *rcv = NULL;
    size_t nrcv = 0;
    if (s->cfg.config_path && vg_receivers_load(s->cfg.config_path, &rcv, &nrcv, &e) != VG_OK) {
        vg_rb_set_free(&set);
        snprintf(err, cap, "%s", e.msg);
        return -1;
    }
    char ext[300];
    if (s->cfg.external_url)
        snprintf(ext, sizeof ext, "%s", s->cfg.external_url);
    else
        snprintf(ext, sizeof ext, "http://127.0.0.1:%d", s->http_port);
    snprintf(path, sizeof path, "%s/notify", s->cfg.data);
    int rc = vg_notifier_open(path, rcv, nrcv, ext, notify_log, NULL, &s->notifier, &e);
    vg_receivers_free(rcv, nrcv);
    size_t nrules = count_rules(&set);
    if (rc == VG_OK) {
        vg_rules_opts_t o;
        vg_rules_opts_default(&o);
        snprintf(path, sizeof path, "%s/alerts.json", s->cfg.data);
        o.db = s->db, o.state_path = path, o.write_history = 1;
        o.sample_url = s->cfg.sample_url;
        o.changes_window_ns = (int64_t)s->cfg.changes_window_s * VG_NS_PER_SEC;
        o.notifier = s->notifier, o.silences = s->silences, o.external_url = ext;
        rc = vg_rules_create(&set, &o, &s->rules, &e);
    }
    if (rc == VG_OK)
        rc = vg_scheduler_start(s->rules, s->cfg.rule_threads, s->notifier, &s->sched, &e);
    vg_rb_set_free(&set);
    if (rc != VG_OK) {
        snprintf(err, cap, "%s", e.msg);
        return -1;
    }
    vg_log("info", "alerting: %zu runbooks paths, %zu rules", s->cfg.nrunbooks, nrules);
    return 0;
}

int vg_srv_reload(vg_server_t *s, char *err, size_t cap)
{
    if (!s->sched) {
        snprintf(err, cap, "no runbooks are configured (--runbooks): nothing to reload");
        return -1;
    }
    pthread_mutex_lock(&s->reload_mu);
    vg_rb_set_t set;
    int rc = load_set(s, &set, err, cap);
    size_t n = rc == 0 ? count_rules(&set) : 0;
    vg_error_t e = {0};
    if (rc == 0 && vg_scheduler_reload(s->sched, &set, &e) != VG_OK) {
        snprintf(err, cap, "%s", e.msg);
        rc = -1;
    }
    vg_rb_set_free(&set);
    pthread_mutex_unlock(&s->reload_mu);
    if (rc == 0)
        vg_log("info", "reloaded the runbooks: %zu rules", n);
    else
        vg_log("error", "reload refused, the old runbooks keep running: %s", err);
    return rc;
}

void vg_srv_alerting_stop(vg_server_t *s)
{
    vg_scheduler_stop(s->sched);
    vg_rules_destroy(s->rules);
    vg_notifier_close(s->notifier);
    vg_silences_close(s->silences);
    s->sched = NULL, s->rules = NULL, s->notifier = NULL, s->silences = NULL;
    pthread_mutex_destroy(&s->reload_mu);
}

typedef struct counts {
    uint64_t state[3];
} counts_t;

static void count_alert(void *ctx, const vg_alert_info_t *a)
{
    counts_t *c = ctx;
    if (a->rs.state <= VG_RS_FIRING)
        c->state[a->rs.state]++;
}

void vg_srv_alerting_metrics(vg_server_t *s, FILE *out)
{
    counts_t c = {{0}};
    if (s->rules)
        vg_rules_each_alert(s->rules, count_alert, &c);
    fprintf(out, "# HELP vigil_rules Rules loaded from the runbooks.\n# TYPE vigil_rules gauge\n"
                 "vigil_rules %zu\n",
            s->rules ? vg_rules_count(s->rules) : 0);
    fprintf(out, "# HELP vigil_alerts Alerts by state.\n# TYPE vigil_alerts gauge\n"
                 "vigil_alerts{state=\"pending\"} %llu\nvigil_alerts{state=\"firing\"} %llu\n",
            (unsigned long long)c.state[VG_RS_PENDING], (unsigned long long)c.state[VG_RS_FIRING]);
    vg_notify_stats_t st = {0};
    if (s->notifier)
        vg_notifier_stats(s->notifier, &st);
    const struct {
        const char *name, *help;
        uint64_t v;
    } m[] = {{"queued", "written to the outbox", st.queued},
             {"delivered", "answered 2xx", st.delivered},
             {"retried", "failed attempts to be tried again", st.retried},
             {"dead", "given up and moved to the dead-letter folder", st.dead}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        fprintf(out, "# HELP vigil_notifications_%s_total Notifications %s.\n"
                     "# TYPE vigil_notifications_%s_total counter\nvigil_notifications_%s_total %llu\n",
                m[i].name, m[i].help, m[i].name, m[i].name, (unsigned long long)m[i].v);
    fprintf(out, "# HELP vigil_notifications_pending Notifications in the outbox.\n"
                 "# TYPE vigil_notifications_pending gauge\nvigil_notifications_pending %llu\n",
            (unsigned long long)st.pending);
}
