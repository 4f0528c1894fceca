/*
 * alert.h: an alert as the rule scheduler hands it to the notifier, and the
 * receivers of the vigild config.
 *
 * An alert is identified by its labels (alertname, the runbook's labels,
 * the rule's BY tags); its fingerprint is a hash of them, so a new
 * classification or a changed annotation never makes it a new alert.
 */
#ifndef VG_SERVER_ALERT_H
#define VG_SERVER_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/vigil.h"

typedef struct vg_label {
    char *name, *value;
} vg_label_t;

typedef struct vg_alert {
    vg_label_t *labels; /* sorted by name; includes alertname */
    size_t nlabels;
    vg_label_t *annotations; /* rendered templates */
    size_t nannotations;
    uint64_t fingerprint; /* vg_alert_fingerprint(labels) */
    int64_t starts_at;    /* ns: when it went firing */
    int64_t ends_at;      /* ns: when it resolved; 0 while firing */
    int64_t eval_interval_ns; /* the rule's `every`, for endsAt toward Alertmanager */
    double value;         /* the first numeric column of its row */
    char *vigil_json;     /* the diagnosis (the payload's `vigil` object) as JSON, or NULL */
    char *generator_url;  /* may be NULL */
    char **receivers;     /* receiver names to notify */
    size_t nreceivers;
    int silenced;         /* matched by a silence: changes state, notifies no one */
} vg_alert_t;

/* FNV-1a 64 over "name\xffvalue\xff" of each label in order (labels sorted). */
uint64_t vg_alert_fingerprint(const vg_label_t *labels, size_t n);
/* "%016llx" */
void vg_alert_fingerprint_hex(uint64_t fp, char out[17]);
/* Free what an alert owns (labels, annotations, strings, receivers); not a itself. */
void vg_alert_clear(vg_alert_t *a);
/* Deep copy. Ownership: dst's members are the caller's (vg_alert_clear). */
int vg_alert_copy(vg_alert_t *dst, const vg_alert_t *src);

typedef enum vg_receiver_type { VG_RCV_WEBHOOK = 0, VG_RCV_ALERTMANAGER } vg_receiver_type_t;

/* One receiver of the vigild config (`receivers:`). Defaults are Alertmanager's. */
typedef struct vg_receiver {
    char *name;
    vg_receiver_type_t type;
    char *url;               /* webhook: the URL posted to; alertmanager: its base URL */
    char *hmac_secret;       /* optional */
    int64_t timeout_ns;      /* per attempt, default 10s */
    int64_t max_retry_age_ns; /* give up (dead letter) after, default 6h */
    int64_t group_wait_ns;   /* default 30s */
    int64_t group_interval_ns; /* default 5m */
    int64_t repeat_interval_ns; /* default 4h */
    int send_resolved;       /* default 1 */
    char **group_by;         /* label names; default [alertname] */
    size_t ngroup_by;
} vg_receiver_t;

void vg_receiver_default(vg_receiver_t *r);
void vg_receiver_clear(vg_receiver_t *r);

#endif
