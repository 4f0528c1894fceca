/*
 * rules.h: running runbooks' rules: the per-group alert state machine, the
 * evaluation of rules "as of" a time, the diagnosis an alert carries, the
 * persisted state and history, silences, and vigild's scheduler.
 *
 * The state machine is Prometheus's (rules/alerting.go), per (rule, group):
 *
 *   inactive --when--> pending --held for `for`--> firing --resolve--> inactive
 *        \_________________when, for = 0_____________/^
 *
 * A pending alert whose condition clears goes back to inactive and sends
 * nothing. A firing alert resolves when `resolve_when` holds (without one:
 * when `when` no longer holds) and has done so for `keep_firing_for`.
 * A group missing from a result follows the rule's no_data: keep_state
 * changes nothing, ok resolves it, alert treats it as `when` holding.
 *
 * Everything here takes the evaluation time as an argument and reads no
 * clock, so that backtests and the demo replay history with the same code
 * vigild runs.
 */
#ifndef VG_SERVER_RULES_H
#define VG_SERVER_RULES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "runbook.h"
#include "vigil/vigil.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

/* ------------------------------------------------------- the state machine */

typedef enum vg_rs_state {
    VG_RS_INACTIVE = 0,
    VG_RS_PENDING,
    VG_RS_FIRING,
} vg_rs_state_t;

typedef enum vg_rs_change {
    VG_RS_NONE = 0,
    VG_RS_TO_PENDING,
    VG_RS_TO_FIRING,
    VG_RS_TO_RESOLVED, /* firing -> inactive */
    VG_RS_CLEARED,     /* pending -> inactive: nothing is sent */
} vg_rs_change_t;

typedef struct vg_rs_params {
    int64_t for_ns, keep_firing_ns;
    vg_rb_nodata_t no_data;
    int has_resolve; /* the rule has resolve_when */
} vg_rs_params_t;

/* One evaluation's input for one group. */
typedef struct vg_rs_input {
    int has_data; /* the group has a row in this evaluation's result */
    int cond;     /* `when` holds */
    int resolve;  /* `resolve_when` holds (ignored without one) */
} vg_rs_input_t;

/* The state of one group; all times in ns, 0 when unset. */
typedef struct vg_rs {
    vg_rs_state_t state;
    int64_t active_at;   /* when it went pending (or straight to firing) */
    int64_t fired_at;
    int64_t last_held;   /* last evaluation at which it could not resolve */
    int64_t resolved_at; /* the last resolution */
} vg_rs_t;

/* Apply one evaluation at time now; returns the transition taken. */
vg_rs_change_t vg_rs_step(const vg_rs_params_t *p, vg_rs_t *s, const vg_rs_input_t *in,
                          int64_t now);
const char *vg_rs_state_name(vg_rs_state_t s); /* "inactive", "pending", "firing" */

/* ------------------------------------------------------------- silences */

typedef struct vg_matcher {
    char *name, *value;
    int is_regex, is_equal; /* Alertmanager's: =, !=, =~, !~ */
    void *re;               /* compiled regex_t when is_regex */
} vg_matcher_t;

typedef struct vg_silence {
    char id[37]; /* a UUID */
    vg_matcher_t *matchers;
    size_t nmatchers;
    int64_t starts_at, ends_at, updated_at;
    char *created_by, *comment;
} vg_silence_t;

/* The set, persisted as JSON in one file (written atomically). Thread-safe. */
typedef struct vg_silences vg_silences_t;
int vg_silences_open(const char *path, vg_silences_t **out, vg_error_t *err);
void vg_silences_close(vg_silences_t *s);
/* Parse Alertmanager's silence JSON ({matchers:[{name,value,isRegex,isEqual}],
 * startsAt, endsAt, createdBy, comment}); add it, persist; *id gets its id. */
int vg_silences_add_json(vg_silences_t *s, const char *json, size_t len, int64_t now,
                         char id[37], vg_error_t *err);
/* Expire one now (endsAt = now). VG_ENOTFOUND for an unknown id. */
int vg_silences_expire(vg_silences_t *s, const char *id, int64_t now, vg_error_t *err);
/* 1 when an active silence matches the labels at time now. */
int vg_silences_match(vg_silences_t *s, const vg_label_t *labels, size_t n, int64_t now);
/* All silences as Alertmanager's GET /api/v2/silences array, with
 * status.state active|pending|expired. Ownership: *out is the caller's (free). */
int vg_silences_json(vg_silences_t *s, int64_t now, char **out);

/* ------------------------------------------------------------- the rules */

/* One group of one rule, as the API and the demo see it. */
typedef struct vg_alert_info {
    const char *rule;       /* the alert name */
    const char *runbook;    /* its runbook's name */
    const vg_label_t *labels;
    size_t nlabels;
    const vg_label_t *annotations;
    size_t nannotations;
    vg_rs_t rs;
    double value;
    uint64_t fingerprint;
    const char *vigil_json; /* the diagnosis, when it fired; else NULL */
} vg_alert_info_t;

/* What a rule's evaluation reports (to the demo and backtests). */
typedef struct vg_rule_event {
    vg_rs_change_t change;
    const vg_alert_info_t *alert;
    int64_t at;
} vg_rule_event_t;

typedef void (*vg_rule_event_fn)(void *ctx, const vg_rule_event_t *ev);

struct vg_notifier;

typedef struct vg_rules_opts {
    vg_db_t *db;                 /* borrowed */
    const char *state_path;      /* persisted state (JSON), or NULL: none */
    int write_history;           /* append state changes to the vigil_alerts table */
    const char *sample_url;      /* template over a sampled row: "https://.../{{request_id}}" */
    int64_t changes_window_ns;   /* change_event rows that travel with an alert; default 1h */
    int64_t query_timeout_ms;    /* 0: the rule's every */
    struct vg_notifier *notifier; /* borrowed, may be NULL */
    vg_silences_t *silences;     /* borrowed, may be NULL */
    const char *external_url;    /* for generatorURL; may be NULL */
    vg_rule_event_fn on_event;   /* may be NULL; called outside the lock */
    void *event_ctx;
    int diagnose;                /* run the diagnosis when an alert fires (default 1) */
} vg_rules_opts_t;

void vg_rules_opts_default(vg_rules_opts_t *o);

typedef struct vg_rules vg_rules_t;

/*
 * Take a compiled set (vg_rb_load_paths + vg_rb_compile on each) and make
 * its rules runnable. When opts->state_path exists, the states saved there
 * are restored (a firing alert stays firing, with its times).
 * Ownership: set's runbooks move into the rules (set is emptied); opts'
 * strings are copied, its db, notifier and silences borrowed; *out is the
 * caller's, vg_rules_destroy.
 */
int vg_rules_create(vg_rb_set_t *set, const vg_rules_opts_t *opts, vg_rules_t **out,
                    vg_error_t *err);
void vg_rules_destroy(vg_rules_t *r);

/*
 * Swap in a new set (a reload): states of rules whose alert name is still
 * there carry over. Ownership as vg_rules_create.
 */
int vg_rules_replace(vg_rules_t *r, vg_rb_set_t *set, vg_error_t *err);

size_t vg_rules_count(const vg_rules_t *r);
int64_t vg_rules_every(const vg_rules_t *r, size_t i);

/*
 * Evaluate rule i as of time now (its query runs with now() = now),
 * update its groups, record the changes (history rows, state file), notify.
 * Thread-safe against other rules' evaluations and readers; one rule is
 * evaluated by one thread at a time (the caller's duty).
 */
int vg_rules_eval(vg_rules_t *r, size_t i, int64_t now, vg_error_t *err);

/* Visit every group that is pending or firing (under the lock). */
void vg_rules_each_alert(vg_rules_t *r, void (*fn)(void *ctx, const vg_alert_info_t *a), void *ctx);

/* The rules as Prometheus's GET /api/v1/rules data (JSON text). Ownership: free. */
int vg_rules_json(vg_rules_t *r, char **out);
/* The active alerts as Prometheus's GET /api/v1/alerts data (JSON text). */
int vg_rules_alerts_json(vg_rules_t *r, char **out);

/* ------------------------------------------------------------ the diagnosis */

/*
 * What an alert carries under the payload's `vigil` key, computed as of now
 * for row `row` of the rule's result: the runbook and rule, the observed
 * values, the classification with the numbers that decided it, the
 * matching change_event rows, the investigation queries' results, the
 * samples, and the first cause whose condition holds.
 * Ownership: *json is the caller's (free).
 */
typedef struct vg_diag_opts {
    const char *sample_url;
    int64_t changes_window_ns;
    int64_t timeout_ms;
    int64_t window_ns; /* the classification's current window (0: 30m) */
} vg_diag_opts_t;
int vg_diagnose(vg_db_t *db, const vg_runbook_t *rb, const vg_rb_rule_t *rule,
                const vg_result_t *res, size_t row, const vg_label_t *labels, size_t nlabels,
                int64_t now, const vg_diag_opts_t *o, char **json);

/* ------------------------------------------------------------ the scheduler */

/* vigild's: threads that evaluate each rule at its interval, on the wall clock. */
typedef struct vg_scheduler vg_scheduler_t;
int vg_scheduler_start(vg_rules_t *r, unsigned threads, struct vg_notifier *n,
                       vg_scheduler_t **out, vg_error_t *err);
/* Swap in a new set (vg_rules_replace) once no evaluation is running. */
int vg_scheduler_reload(vg_scheduler_t *s, vg_rb_set_t *set, vg_error_t *err);
/* Stop and join; evaluations in flight finish first. */
void vg_scheduler_stop(vg_scheduler_t *s);

#endif
