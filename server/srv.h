/*
 * srv.h: what the parts of vigild share: its configuration, its metrics, its
 * log, and the server object that ties them to the database.
 *
 * vigild.c owns the server; the HTTP API (http*.c) and the line-protocol
 * listener (lp_server.c) each run on their own threads and reach the
 * database only through the public API (include/vigil), which is
 * thread-safe.
 */
#ifndef VG_SERVER_SRV_H
#define VG_SERVER_SRV_H

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "vigil/vigil.h"

/* ---- configuration (config.c): every key has a flag, flags win ---- */
typedef struct vg_srv_config {
    char *data;           /* --data DIR (required) */
    char *http_addr;      /* --http ADDR:PORT, default 127.0.0.1:7070 (port 0: any free) */
    char *lp_addr;        /* --lp ADDR:PORT, default 127.0.0.1:7071 */
    char *token;          /* --token T; required for a non-loopback address */
    unsigned max_conns;   /* line-protocol connections, default 1024 */
    unsigned http_conns;  /* HTTP connections, default 256 */
    uint32_t max_line;    /* line-protocol line limit, default 65536 */
    uint64_t max_body;    /* HTTP body limit after decompression, default 25,000,000 */
    unsigned idle_s;      /* line-protocol idle timeout, default 300 */
    unsigned http_timeout_s; /* HTTP connection timeout (headers, body, idle), default 30 */
    uint64_t mem_budget;  /* bytes of unparsed input held across connections, default 256 MiB */
    vg_db_opts_t db;      /* wal_sync, retention, ... (the database options) */
    /* alerting (the runbooks issue) */
    char *config_path;    /* --config FILE: its `receivers:` are read by notify.h */
    char **runbooks;      /* --runbooks PATH (repeatable): files or folders */
    size_t nrunbooks;
    int runbooks_from_flags; /* the first --runbooks flag replaces the file's list */
    char *sample_url;     /* template turning a sampled row into a link */
    char *external_url;   /* this server as alerts link to it, default http://<http addr> */
    unsigned rule_threads; /* rule evaluations at once, default 2 */
    uint64_t changes_window_s; /* change_event rows an alert carries, default 1h */
} vg_srv_config_t;

/* ---- metrics (metrics.c): atomic counters, written as Prometheus text ---- */
enum { VG_PROTO_TCP = 0, VG_PROTO_HTTP = 1, VG_PROTO__N };
typedef struct vg_metrics {
    uint64_t rows_ingested[VG_PROTO__N], bytes_ingested[VG_PROTO__N];
    uint64_t lines_rejected[VG_PROTO__N];
    uint64_t batches_failed[VG_PROTO__N];
    uint64_t queries, query_errors, query_ns_total;
    uint64_t conns_open[VG_PROTO__N];
    uint64_t ack_ns_bucket[12]; /* acknowledgement latency: <=0.5,1,2,5,10,20,50,100,200,500,1000 ms, +Inf */
    uint64_t ack_ns_sum, ack_count;
} vg_metrics_t;

void vg_metrics_add(uint64_t *counter, uint64_t n);
void vg_metrics_ack(vg_metrics_t *m, uint64_t ns);
/* The whole exposition ("vigil_..." metrics, including the database's stats);
 * Ownership: *out is the caller's, freed with vg_free. */
int vg_metrics_render(const vg_metrics_t *m, vg_db_t *db, char **out, size_t *len);

/* ---- log (log.c): one line per event, "2026-11-28T03:14:00.123Z level msg" ---- */
void vg_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* At most one line per `key` per second; the count of the others follows. */
void vg_log_limited(int key, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The vg_db_log_fn that sends the database's log lines here. */
void vg_log_db(void *ctx, const char *level, const char *msg);

/* ---- the server ---- */
typedef struct vg_server {
    vg_srv_config_t cfg;
    vg_db_t *db;
    vg_metrics_t metrics;
    int stop;           /* set by SIGTERM/SIGINT (atomic) */
    int http_port;      /* bound ports (after port 0 was resolved) */
    int lp_port;
    /* alerting: NULL when no runbooks are configured (silences always exist) */
    struct vg_rules *rules;
    struct vg_scheduler *sched;
    struct vg_notifier *notifier;
    struct vg_silences *silences;
    pthread_mutex_t reload_mu;
} vg_server_t;

/* Reload the runbooks (SIGHUP, POST /-/reload): load and check the new set
 * first; on any problem the old set keeps running and err says why. */
int vg_srv_reload(vg_server_t *s, char *err, size_t errcap);
/* Start (after the database and the HTTP listener) and stop (before the
 * database closes) the alerting parts (alerting.c). */
int vg_srv_alerting_start(vg_server_t *s, char *err, size_t errcap);
void vg_srv_alerting_stop(vg_server_t *s);
/* The alerting metrics in Prometheus's text format (rules, alerts by state,
 * notifications queued, delivered, retried, dead-lettered, pending). */
void vg_srv_alerting_metrics(vg_server_t *s, FILE *out);

/* Constant-time token check: 1 when given (length n) equals the configured token. */
int vg_srv_token_ok(const vg_server_t *s, const char *given, size_t n);

/* HTTP API (http.c): start on cfg.http_addr; stop. */
typedef struct vg_http vg_http_t;
int vg_http_start(vg_server_t *s, vg_http_t **out, char *err, size_t errcap);
void vg_http_stop(vg_http_t *h);

/* Line-protocol listener (lp_server.c): start a thread with its own io_uring loop. */
typedef struct vg_lpsrv vg_lpsrv_t;
int vg_lpsrv_start(vg_server_t *s, vg_lpsrv_t **out, char *err, size_t errcap);
/* Stop accepting, finish and acknowledge what is in flight, close, join. */
void vg_lpsrv_stop(vg_lpsrv_t *l);

#endif
