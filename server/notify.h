/*
 * notify.h: alert notifications: the receivers of the vigild config, and the
 * notifier that groups alerts as Alertmanager does and delivers them from a
 * durable outbox (webhooks with retries and HMAC signatures, or a real
 * Alertmanager's /api/v2/alerts).
 *
 * Threads: push, tick, drain, stats and on_queue may be called from any
 * thread (one lock). The network is touched only by the notifier's own
 * delivery thread: push and tick only change memory and the outbox files.
 */
#ifndef VG_SERVER_NOTIFY_H
#define VG_SERVER_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/*
 * Read the `receivers:` list of a vigild YAML config file (other top-level
 * keys are left to the config reader). Unknown keys, bad durations, missing
 * names or URLs and duplicate names are errors naming file:line:column.
 * A file without `receivers:` gives *n = 0.
 * Ownership: *out is the caller's: vg_receivers_free(*out, *n). Set only on success.
 */
int vg_receivers_load(const char *config_path, vg_receiver_t **out, size_t *n, vg_error_t *err);
/* Free an array from vg_receivers_load (clears each, then the array). NULL is a no-op. */
void vg_receivers_free(vg_receiver_t *r, size_t n);

typedef struct vg_notifier vg_notifier_t;

typedef void (*vg_notify_log_fn)(void *ctx, const char *level, const char *msg);

/*
 * Open the notifier over the outbox folder dir (created; e.g. DATA/notify):
 * reloads the grouping state and the undelivered notifications of the last
 * run, and starts the delivery thread. external_url is the payload's
 * externalURL (may be NULL). log (may be NULL) is called from any of the
 * notifier's threads with level "info", "warn" or "error".
 * Ownership: rcv and external_url are copied; *out is closed with vg_notifier_close.
 */
int vg_notifier_open(const char *dir, const vg_receiver_t *rcv, size_t n, const char *external_url,
                     vg_notify_log_fn log, void *log_ctx, vg_notifier_t **out, vg_error_t *err);

/*
 * After each evaluation of a rule: every alert of that rule that is firing,
 * or that resolved in this evaluation (ends_at != 0), at (possibly
 * simulated) time now_ns. Silenced alerts are skipped (and leave their
 * group silently). Alertmanager receivers get their posts queued here (at
 * most one a minute per firing alert). Ownership: alerts are copied.
 */
int vg_notifier_push(vg_notifier_t *n, const vg_alert_t *alerts, size_t count, int64_t now_ns);

/* Advance the grouping timers to now_ns: every due group's notification is
 * written to the outbox (and fsynced) before this returns. */
int vg_notifier_tick(vg_notifier_t *n, int64_t now_ns);

/* Wait until the outbox is empty (all delivered or dead-lettered) or
 * timeout_ms passed; returns how many notifications are still pending. */
int vg_notifier_drain(vg_notifier_t *n, int64_t timeout_ms);

/* Called on the pusher's thread, under the notifier's lock (so it must not
 * call the notifier), with each payload as it is queued. fn NULL: none. */
void vg_notifier_on_queue(vg_notifier_t *n,
                          void (*fn)(void *ctx, const char *receiver, const char *json), void *ctx);

typedef struct vg_notify_stats {
    uint64_t queued;    /* notifications written to the outbox since open */
    uint64_t delivered; /* answered 2xx */
    uint64_t retried;   /* failed attempts that will be tried again */
    uint64_t dead;      /* moved to the dead-letter folder */
    uint64_t pending;   /* in the outbox now */
} vg_notify_stats_t;
void vg_notifier_stats(vg_notifier_t *n, vg_notify_stats_t *out);

/* Retry backoff: full jitter over min(cap, base * 2^failures); defaults 1s and 5m.
 * For tests and tuning; applies to the next failure. */
void vg_notifier_set_backoff(vg_notifier_t *n, int64_t base_ns, int64_t cap_ns);
/* Hold deliveries (1) or let them go (0): notifications still queue. */
void vg_notifier_pause(vg_notifier_t *n, int paused);

/* Stop the delivery thread (an attempt in flight is abandoned: it will be
 * made again), save the grouping state; undelivered notifications stay in
 * the outbox for the next open. NULL is a no-op. */
void vg_notifier_close(vg_notifier_t *n);

#endif
