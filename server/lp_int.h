/*
 * lp_int.h: what lp_server.c (the event loop) and lp_conn.c (one
 * connection's protocol) share. Private to the line-protocol listener.
 *
 * Threads: everything here belongs to the loop thread, except the job
 * queues (todo, done), which are guarded by mu and drained by the waiter
 * thread (todo) and the loop (done).
 */
#ifndef VG_SERVER_LP_INT_H
#define VG_SERVER_LP_INT_H

#include <liburing.h>
#include <pthread.h>
#include <stdint.h>

#include "srv.h"

/* The operation a ring completion belongs to, in the low bits of user_data. */
enum { LP_OP_ACCEPT = 1, LP_OP_RECV, LP_OP_SEND, LP_OP_EVENT, LP_OP_TICK, LP_OP_MASK = 7 };

enum { LP_JOB_BATCH = 0, LP_JOB_FAIL };

typedef struct lp_conn lp_conn;

/* A batch handed to the engine, or a fatal error queued behind the batches
 * before it so that every answer leaves in line order. */
typedef struct lp_job {
    struct lp_job *next;
    lp_conn *c;
    int kind;
    int rc;              /* begin's or wait's status; 0 while all is well */
    int always;          /* FAIL: write the ERR even in fire-and-forget mode */
    uint64_t ticket;
    uint64_t first, last; /* line numbers covered */
    uint64_t bytes;      /* counted against the memory budget until done */
    int64_t t0;          /* when the batch was received, for the ack latency */
    vg_write_result_t res;
    char what[16];       /* FAIL: the ERR's column word ("line", "auth", ...) */
    char msg[200];
} lp_job;

struct lp_conn {
    lp_conn *next, *prev;
    int fd;
    char peer[64];
    char *buf;            /* received, not yet handed to the engine */
    size_t len, cap;
    uint64_t next_lineno; /* number of buf's first line */
    int hello;            /* the prologue (#vigil auth / #vigil ack) was read */
    int ack;              /* acknowledged mode */
    int eof;              /* read no more (client closed, stop, or a fatal error) */
    int dead;             /* the socket failed: write nothing more */
    int recv_armed, send_armed, paused;
    int gone;             /* fd closed, waiting for its last completions */
    int cancelling;       /* a cancel of its receive was submitted */
    unsigned jobs;        /* in flight */
    char *wbuf;           /* being sent */
    size_t wlen, woff, wcap;
    char *obuf;           /* queued behind wbuf */
    size_t olen, ocap;
    int64_t last_ns;      /* last byte received */
};

struct vg_lpsrv {
    vg_server_t *s;
    int lfd, efd;
    int uring;            /* 1: io_uring loop; 0: poll(2) fallback */
    struct io_uring ring;
    int multishot, accept_armed, tick_armed, event_armed;
    uint64_t evbuf;
    struct __kernel_timespec tick_ts;
    int64_t last_tick;
    pthread_t loop_th, wait_th;
    lp_conn *conns;
    unsigned nconns;
    uint64_t held;        /* bytes of input held (buffers + batches in flight) */
    int stopping;         /* atomic: vg_lpsrv_stop was called */
    int drained;          /* the loop has begun shutting connections */
    int64_t stop_deadline;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lp_job *todo_h, *todo_t, *done_h, *done_t;
    int wait_quit;
};

/* lp_conn.c */
lp_conn *vg__lp_conn_new(vg_lpsrv_t *l, int fd);
void vg__lp_conn_on_recv(vg_lpsrv_t *l, lp_conn *c, int res);
void vg__lp_conn_on_send(vg_lpsrv_t *l, lp_conn *c, int res);
void vg__lp_conn_on_done(vg_lpsrv_t *l, lp_job *j);
void vg__lp_conn_stop(vg_lpsrv_t *l, lp_conn *c);
void vg__lp_conn_tick(vg_lpsrv_t *l, lp_conn *c, int64_t now);
void vg__lp_conn_maybe_free(vg_lpsrv_t *l, lp_conn *c);
void vg__lp_resume(vg_lpsrv_t *l);
void *vg__lp_waiter(void *arg);

/* lp_server.c: the loop's primitives, for io_uring or poll(2). */
void vg__lp_arm_recv(vg_lpsrv_t *l, lp_conn *c);
void vg__lp_arm_send(vg_lpsrv_t *l, lp_conn *c);
void vg__lp_cancel(vg_lpsrv_t *l, lp_conn *c);
int64_t vg__lp_now(void);

#endif
