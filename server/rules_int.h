/*
 * rules_int.h: what the files behind rules.h share (rule_eval.c, the
 * evaluation; alert_store.c, the state file and the history rows;
 * rules_json.c, the API's JSON).
 *
 * Locking: vg_rules_t.mu guards every rule's groups and its last-evaluation
 * fields. A rule's query runs outside the lock; only applying its result
 * (and reading for the API) takes it.
 */
#ifndef VG_SERVER_RULES_INT_H
#define VG_SERVER_RULES_INT_H

#include "rules.h"

typedef struct group {
    uint64_t fp;        /* of labels */
    vg_label_t *labels; /* the alert's labels, sorted: alertname, runbook and rule labels, BY tags */
    size_t nlabels;
    vg_label_t *ann;    /* annotations, rendered at the last evaluation with data */
    size_t nann;
    vg_rs_t rs;
    double value;
    char *vigil_json;   /* the diagnosis, from when it fired */
    int seen;           /* scratch: had a row in this evaluation */
} group_t;

typedef struct rule {
    vg_runbook_t *rb;   /* owned by vg_rules_t.rbs */
    vg_rb_rule_t *def;
    vg_rs_params_t params;
    group_t *groups;
    size_t ngroups, cap;
    char *value_col;    /* the first column `when` names: the alert's value */
    int64_t last_eval, last_ns; /* time of the last evaluation and what it took */
    char *last_error;   /* NULL when it succeeded */
} rule_t;

struct vg_rules {
    vg_rules_opts_t o; /* its strings point at the copies below */
    char *state_path, *sample_url, *external_url;
    pthread_mutex_t mu;
    vg_runbook_t **rbs;
    size_t nrbs;
    rule_t *rules;
    size_t n;
};

/* Labels */
int labels_add(vg_label_t **v, size_t *n, const char *name, const char *value);
void labels_sort(vg_label_t *v, size_t n);
void labels_free(vg_label_t *v, size_t n);
const char *labels_get(const vg_label_t *v, size_t n, const char *name);

void group_clear(group_t *g);
/* Find or add the group with these labels (which it takes). NULL: out of memory. */
group_t *rule_group(rule_t *ru, vg_label_t *labels, size_t nlabels);

/* alert_store.c: the state file (under the lock) and history rows. */
int store_save(vg_rules_t *r, vg_error_t *err);
int store_load(vg_rules_t *r, vg_error_t *err);
/* One vigil_alerts row per change; state is "pending", "firing", "resolved" or "inactive". */
int store_history(vg_rules_t *r, const group_t *g, const char *state, int64_t at, vg_error_t *err);

#endif
