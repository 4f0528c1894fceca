/*
 * bench_load.h: the connections of `vigil-bench ingest` (one thread each),
 * the batch source they share, and what each one measures.
 *
 * Invariants: a batch is whole lines (the last one may lack its '\n', the
 * sender adds it); batches leave the source in order, each exactly once, so
 * N connections send disjoint rows and together send the source once.
 */
#ifndef VIGIL_BENCH_LOAD_H
#define VIGIL_BENCH_LOAD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "simulate.h"

enum { PROTO_TCP = 0, PROTO_TCP_ACK = 1, PROTO_HTTP = 2 };

/* Where batches come from: a region in memory (a mapped file or rows generated
 * before the clock starts), or the simulator live, under the lock. */
typedef struct bsource {
    pthread_mutex_t mu;
    const char *data; /* region mode: not owned here (see vigil_bench.c) */
    size_t len, off;
    vg_sim_t *sim;      /* live mode; NULL in region mode */
    char *carry;        /* live mode: generated lines not yet handed out */
    size_t carry_len, carry_off, carry_cap;
    uint64_t batch;     /* rows per batch */
    uint64_t rows_left; /* UINT64_MAX: no row limit */
    int64_t deadline;   /* monotonic ns; 0: none */
    volatile int stop;  /* set by main on SIGINT or the deadline */
} bsource_t;

/* A batch handed to a connection: either points into the region or into
 * the connection's own buffer (live mode). */
typedef struct batch {
    const char *p;
    size_t len;
    uint64_t lines;
} batch_t;

typedef struct bconn {
    pthread_t th;
    int id;
    /* settings (read only) */
    int proto;
    const char *host, *port, *url, *token;
    bsource_t *src;
    /* live mode buffer */
    char *buf;
    size_t cap;
    /* results; the counters are read racily by the progress line only */
    volatile uint64_t rows_sent, bytes_sent, rows_acked, errors;
    double *lat_ms; /* per-batch acknowledgement latencies */
    size_t n_lat, cap_lat;
    int64_t t_done; /* monotonic ns when its last batch was acknowledged or sent */
    char err[256];  /* the first connection-level error, "" if none */
    int finished;   /* set last (atomically) by the thread */
} bconn_t;

int64_t bench_mono_ns(void);

/* Take the next batch for c; 0 when the source is finished or stopped. */
int bench_next_batch(bsource_t *s, bconn_t *c, batch_t *b);

/* The thread body of one connection: connects, sends, measures. */
void *bench_conn_run(void *arg);

/* Append one latency sample; silently dropped when out of memory. */
void bench_add_latency(bconn_t *c, double ms);

/* A target: the URL to POST or GET, and host and port for TCP. */
typedef struct target {
    char url[1024];
    char host[256], port[32];
} target_t;

/* "http://H:P[/path]", "tcp://H:P" or "H:P" -> out; dflt_path ("/write")
 * when the URL has no path. 0, or -1 without a host:port. */
int bench_parse_target(const char *t, const char *dflt_path, target_t *out);

/* `vigil-bench query`: exit status (0, 1 on a failed request, 2 on bad use). */
int bench_query_run(const char *target, const char *query, const char *param, const char *token,
                    int repeat, int json);

/*
 * Poll GET url (every 50 ms, up to timeout_ns) until the count it answers
 * reaches want (bench_visible.c reads Vigil's, Prometheus's and InfluxQL's
 * JSON). 0 with *t_seen (monotonic ns) set, or -1 with err filled; *seen is
 * the last count read either way.
 */
int bench_wait_visible(const char *url, const char *token, uint64_t want, int64_t timeout_ns,
                       int64_t *t_seen, uint64_t *seen, char *err, size_t errcap);
/* The count in one answer of those shapes: 0, or -1 when it has none. */
int bench_count_in_json(const char *text, double *n);

/* An HTTP answer kept whole (NUL-terminated); ownership: p is freed with vg_free. */
typedef struct body {
    char *p;
    size_t n, cap;
} body_t;
/* curl's write callback appending to a body_t (ud); 0 (an error) when out of memory. */
size_t bench_on_body(char *d, size_t sz, size_t nm, void *ud);

/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

#endif
