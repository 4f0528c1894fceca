/*
 * notify_int.h: what the notifier's files share: the outbox (outbox.c), one
 * HTTP attempt (webhook.c) and the JSON bodies (am_payload.c). Not for use
 * outside server/notify*.c, outbox.c, webhook.c, am_payload.c and their test.
 */
#ifndef VG_SERVER_NOTIFY_INT_H
#define VG_SERVER_NOTIFY_INT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "notify.h"

/* ---- am_payload.c ---- */

/* RFC 3339 UTC with the nanoseconds Go prints (trailing zeros cut); 0 is
 * Go's zero time "0001-01-01T00:00:00Z". */
void vg__rfc3339(int64_t ns, char out[40]);

/* Alertmanager's `{}:{a="x", b="y"}` for the group labels (sorted by name).
 * Ownership: the result is the caller's (vg_free); NULL when out of memory. */
char *vg__am_group_key(const vg_label_t *labels, size_t n);

typedef struct vg_am_group_view {
    const char *receiver, *group_key, *status, *reason, *external_url;
    const vg_label_t *group_labels;
    size_t ngroup_labels;
    const vg_alert_t *const *alerts; /* in payload order */
    size_t nalerts;
} vg_am_group_view_t;

/* The Alertmanager webhook v4 body, with a `vigil` key per alert and at the
 * top (the first alert's). Ownership: the caller's (vg_free). */
char *vg__am_webhook_body(const vg_am_group_view_t *g, vg_error_t *err);

/* The body of POST /api/v2/alerts: firing alerts get endsAt = now +
 * 4 * max(eval interval, 1m); resolved ones their ends_at. Ownership: vg_free. */
char *vg__am_alerts_body(const vg_alert_t *const *alerts, size_t n, int64_t now_ns,
                         vg_error_t *err);

/* ---- webhook.c ---- */

typedef enum vg_wh_class {
    VG_WH_OK = 0, /* 2xx */
    VG_WH_RETRY,  /* 5xx, 429, timeouts, refused or broken connections */
    VG_WH_DEAD,   /* other statuses: not retried */
} vg_wh_class_t;

typedef struct vg_wh_result {
    vg_wh_class_t cls;
    long status;            /* HTTP status, 0 when no answer */
    int64_t retry_after_ns; /* from a 429's Retry-After, else -1 */
    char reason[256];       /* for logs and the dead letter */
} vg_wh_result_t;

typedef struct vg_wh_request {
    const char *url, *body;
    size_t len;
    const char *idempotency_key;
    const char *hmac_secret; /* NULL: unsigned */
    int64_t timeout_ns;
} vg_wh_request_t;

/* One transfer, for the delivery thread's curl multi handle. */
typedef struct vg_wh_xfer {
    CURL *h;
    struct curl_slist *headers;
    int64_t retry_after_ns;
    char answer[160]; /* the start of the response body, for the reason */
    size_t nanswer;
    char errbuf[CURL_ERROR_SIZE];
} vg_wh_xfer_t;

/* hex(HMAC-SHA256(secret, timestamp "." body)), NUL-terminated. */
int vg__webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                     char out[65]);
/* Set up x for rq (headers, signature, timeout). rq's strings must outlive the
 * transfer. Ownership: x is cleared with vg__wh_xfer_clear, also on failure. */
int vg__wh_xfer_init(vg_wh_xfer_t *x, const vg_wh_request_t *rq, vg_error_t *err);
/* Classify a finished transfer (rc as curl reported it). */
void vg__wh_xfer_result(vg_wh_xfer_t *x, CURLcode rc, vg_wh_result_t *res);
void vg__wh_xfer_clear(vg_wh_xfer_t *x);
/* A whole attempt, blocking: init, perform, classify, clear. */
int vg__webhook_post(const vg_wh_request_t *rq, vg_wh_result_t *res, vg_error_t *err);
/* curl_global_init, once per process. */
void vg__curl_init_once(void);

/* ---- outbox.c ---- */

typedef struct vg_outbox vg_outbox_t;

/* Open dir (created, with dir/dead/), reload its entries, start the
 * delivery thread. Ownership: rcv is borrowed until vg__outbox_close. */
int vg__outbox_open(const char *dir, const vg_receiver_t *rcv, size_t n, vg_notify_log_fn log,
                    void *log_ctx, vg_outbox_t **out, vg_error_t *err);
/* Write one notification for receiver rcv (an index of the array given to
 * open) durably, and wake the delivery thread. replace_key (may be NULL):
 * an undelivered entry of the same receiver and key is dropped, as the new
 * one says the same and more recently. */
int vg__outbox_put(vg_outbox_t *ob, size_t rcv, const char *body, size_t len,
                   const char *replace_key, vg_error_t *err);
int vg__outbox_drain(vg_outbox_t *ob, int64_t timeout_ms);
void vg__outbox_stats(vg_outbox_t *ob, vg_notify_stats_t *out);
void vg__outbox_set_backoff(vg_outbox_t *ob, int64_t base_ns, int64_t cap_ns);
void vg__outbox_pause(vg_outbox_t *ob, int paused);
void vg__outbox_close(vg_outbox_t *ob);

/* Write dir/name atomically: a temporary file, fsync, rename, fsync of dir. */
int vg__write_atomic(const char *dir, const char *name, const char *data, size_t len,
                     vg_error_t *err);

#endif
