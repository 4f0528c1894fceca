/*
 * lp_conn.c: one line-protocol connection, from the bytes it receives to
 * the answers it writes; and the waiter thread that turns the engine's
 * tickets into durable outcomes off the event loop.
 *
 * Invariants:
 * - buf holds only bytes not yet handed to the engine; its first byte
 *   starts line next_lineno. Complete lines (up to the last '\n') leave as
 *   one batch per receive; the partial last line stays for the next one.
 * - cap > max_line + 1, so a buffer that fills without a '\n' always means a
 *   line over the limit.
 * - Every batch and every fatal error goes through the one FIFO job queue
 *   (todo -> waiter -> done), so answers leave in line order: every ERR of a
 *   batch before its OK, a fatal ERR after the OKs of the batches before it.
 *   One waiter waits the tickets in the order they were issued, as the
 *   engine requires.
 * - l->held = sum of the buffers' lengths + bytes of batches in flight;
 *   while it is at or over cfg.mem_budget, no connection with a batch in
 *   flight is read (memory: the fixed buffers, max_conns of them at most,
 *   plus about mem_budget of batches staged in the engine).
 * - A connection is freed only when nothing of it is in flight (receive,
 *   send, jobs): completions carry its pointer.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "lp_int.h"

#define LOG_KEY_REJECT 0x4c5001

static void conn_want_recv(vg_lpsrv_t *l, lp_conn *c)
{
    if (c->eof || c->recv_armed || c->gone)
        return;
    /* Back-pressure: over budget, a connection with batches in flight waits
     * for them; one without may still fill its own (already allocated)
     * buffer, so that partial lines alone can never stall every reader. */
    if (c->jobs && l->held >= l->s->cfg.mem_budget) {
        c->paused = 1;
        return;
    }
    c->paused = 0;
    vg__lp_arm_recv(l, c);
}

static void peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
    }
    snprintf(out, cap, "%s:%d", host, port);
}

/* Ownership: the connection owns fd from here (closed when it is freed). */
lp_conn *vg__lp_conn_new(vg_lpsrv_t *l, int fd)
{
    lp_conn *c = vg_calloc(1, sizeof *c);
    size_t cap = (size_t)l->s->cfg.max_line + 2;
    if (cap < 65536)
        cap = 65536;
    if (c)
        c->buf = vg_malloc(cap);
    if (!c || !c->buf) {
        if (c)
            vg_free(c);
        close(fd);
        vg_log("error", "lp: out of memory for a new connection");
        return NULL;
    }
    c->fd = fd;
    c->cap = cap;
    c->next_lineno = 1;
    c->last_ns = vg__lp_now();
    peer_name(fd, c->peer, sizeof c->peer);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    vg_metrics_add(&l->s->metrics.conns_open[VG_PROTO_TCP], 1);
    conn_want_recv(l, c);
    return c;
}

/* ---- answers ---- */

static void conn_flush(vg_lpsrv_t *l, lp_conn *c)
{
    if (c->send_armed || c->dead || c->olen == 0 || c->wlen)
        return;
    char *t = c->wbuf;
    size_t tc = c->wcap;
    c->wbuf = c->obuf;
    c->wcap = c->ocap;
    c->wlen = c->olen;
    c->woff = 0;
    c->obuf = t;
    c->ocap = tc;
    c->olen = 0;
    vg__lp_arm_send(l, c);
}

static void conn_out(lp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_out(lp_conn *c, const char *fmt, ...)
{
    if (c->dead)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) { /* keep the line whole: cut the reason, keep the '\n' */
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    if (c->olen + (size_t)n > c->ocap) {
        size_t nc = c->ocap ? c->ocap * 2 : 4096;
        while (nc < c->olen + (size_t)n)
            nc *= 2;
        char *nb = vg_realloc(c->obuf, nc);
        if (!nb) {
            c->dead = 1; /* cannot answer: close rather than answer out of order */
            c->eof = 1;
            return;
        }
        c->obuf = nb;
        c->ocap = nc;
    }
    memcpy(c->obuf + c->olen, line, (size_t)n);
    c->olen += (size_t)n;
}

void vg__lp_conn_on_send(vg_lpsrv_t *l, lp_conn *c, int res)
{
    c->send_armed = 0;
    if (res == -EAGAIN || res == -EINTR) {
        vg__lp_arm_send(l, c);
        return;
    }
    if (res <= 0) {
        c->dead = 1;
        c->eof = 1;
        c->wlen = c->olen = 0;
    } else {
        c->woff += (size_t)res;
        if (c->woff < c->wlen) {
            vg__lp_arm_send(l, c);
            return;
        }
        c->wlen = 0;
        vg_db_crash_point(l->s->db, "ack.sent"); /* every answer byte (OK n) is in the kernel */
        conn_flush(l, c);
    }
    vg__lp_conn_maybe_free(l, c);
}

/* ---- the job queue ---- */

static void job_push(vg_lpsrv_t *l, lp_job *j)
{
    j->c->jobs++;
    pthread_mutex_lock(&l->mu);
    if (l->todo_t)
        l->todo_t->next = j;
    else
        l->todo_h = j;
    l->todo_t = j;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Drop what is buffered and queue a fatal error behind the batches in flight. */
static void conn_fail(vg_lpsrv_t *l, lp_conn *c, uint64_t lineno, const char *what, int always,
                      const char *msg)
{
    lp_job *j = vg_calloc(1, sizeof *j);
    l->held -= c->len;
    c->len = 0;
    c->eof = 1;
    if (!j) {
        c->dead = 1;
        return;
    }
    j->c = c;
    j->kind = LP_JOB_FAIL;
    j->rc = VG_ELIMIT;
    j->always = always;
    j->first = j->last = lineno;
    snprintf(j->what, sizeof j->what, "%s", what);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    job_push(l, j);
}

/* Hand buf[0, n) (lines of it) to the engine. */
static void conn_submit(vg_lpsrv_t *l, lp_conn *c, size_t n, uint64_t lines)
{
    lp_job *j = vg_calloc(1, sizeof *j);
    if (!j) {
        conn_fail(l, c, c->next_lineno, "batch", 1, "out of memory");
        return;
    }
    j->c = c;
    j->first = c->next_lineno;
    j->last = c->next_lineno + lines - 1;
    j->bytes = n;
    j->t0 = c->last_ns;
    vg_write_opts_t o = {.precision = VG_PREC_NS,
                         .first_lineno = j->first,
                         .max_errors = c->ack ? (size_t)lines : 8};
    vg_error_t e = {0};
    j->rc = vg_db_write_lp_begin(l->s->db, c->buf, n, &o, &j->res, &j->ticket, &e);
    if (j->rc) {
        snprintf(j->msg, sizeof j->msg, "%.199s", e.msg[0] ? e.msg : vg_strerror(j->rc));
        c->eof = 1;
    }
    c->next_lineno += lines;
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    job_push(l, j);
}

/*
 * Cut the buffer into a batch of complete lines (with final, the partial
 * last line too) and check each against max_line.
 */
static void conn_take_lines(vg_lpsrv_t *l, lp_conn *c, int final)
{
    size_t max = l->s->cfg.max_line, n = 0;
    const char *end = c->len ? memrchr(c->buf, '\n', c->len) : NULL;
    if (end)
        n = (size_t)(end - c->buf) + 1;
    if (final)
        n = c->len;
    uint64_t lines = 0;
    int too_long = 0;
    const char *p = c->buf, *e = c->buf + n;
    while (p < e) {
        const char *q = memchr(p, '\n', (size_t)(e - p));
        size_t ll = (size_t)((q ? q : e) - p);
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (ll > max) {
            too_long = 1;
            n = (size_t)(p - c->buf);
            break;
        }
        lines++;
        p = q ? q + 1 : e;
    }
    if (!too_long && c->len - n > max)
        too_long = 1;
    if (n)
        conn_submit(l, c, n, lines);
    if (too_long) {
        char msg[80];
        snprintf(msg, sizeof msg, "line too long (limit %zu bytes)", max);
        conn_fail(l, c, c->next_lineno, "line", 0, msg);
    }
}

/* Remove the first line (of length k with its '\n') from the buffer. */
static void conn_consume(vg_lpsrv_t *l, lp_conn *c, size_t k)
{
    memmove(c->buf, c->buf + k, c->len - k);
    c->len -= k;
    l->held -= k;
    c->next_lineno++;
}

/*
 * The prologue: "#vigil auth <token>" first when a token is set, then an
 * optional "#vigil ack". Returns 1 when read, 0 when more bytes are needed,
 * -1 when the connection failed. Neither line goes to the engine (the
 * token would land in the WAL); both are counted.
 */
static int conn_prologue(vg_lpsrv_t *l, lp_conn *c, int final)
{
    const char *tok = l->s->cfg.token;
    while (c->hello < 2) {
        if (c->len == 0)
            return final; /* nothing sent at all is no failure */
        const char *nl = memchr(c->buf, '\n', c->len);
        size_t ll = nl ? (size_t)(nl - c->buf) : c->len;
        if (!nl && !final && c->len <= l->s->cfg.max_line)
            return 0;
        size_t k = nl ? ll + 1 : ll;
        if (ll && c->buf[ll - 1] == '\r')
            ll--;
        if (c->hello == 0 && tok && *tok) {
            static const char pre[] = "#vigil auth ";
            size_t pl = sizeof pre - 1;
            if (ll < pl || memcmp(c->buf, pre, pl) != 0 ||
                !vg_srv_token_ok(l->s, c->buf + pl, ll - pl)) {
                vg_log("warn", "lp %s: authentication failed; closing", c->peer);
                conn_fail(l, c, 1, "auth", 1, "");
                return -1;
            }
            conn_consume(l, c, k);
            c->hello = 1;
            continue;
        }
        c->hello = 2;
        if (ll == 10 && memcmp(c->buf, "#vigil ack", 10) == 0) {
            c->ack = 1;
            conn_consume(l, c, k);
        }
    }
    return 1;
}

void vg__lp_conn_on_recv(vg_lpsrv_t *l, lp_conn *c, int res)
{
    c->recv_armed = 0;
    if (res == -EAGAIN || res == -EINTR) {
        conn_want_recv(l, c);
        return;
    }
    if (c->eof) { /* a fatal error or the stop came first: the rest is not read */
        vg__lp_conn_maybe_free(l, c);
        return;
    }
    int final = 0;
    if (res > 0) {
        c->len += (size_t)res;
        l->held += (uint64_t)res;
        c->last_ns = vg__lp_now();
    } else {
        /* the client closed (0) or the socket failed: what is complete still counts */
        if (res < 0 && res != -ECANCELED)
            c->dead = 1;
        final = res == 0 && !__atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE);
        c->eof = 1;
    }
    if (!c->hello && conn_prologue(l, c, final) <= 0) {
        vg__lp_conn_maybe_free(l, c);
        return;
    }
    if (c->len && (res > 0 || final))
        conn_take_lines(l, c, final);
    conn_want_recv(l, c);
    vg__lp_conn_maybe_free(l, c);
}

/* ---- outcomes ---- */

static void done_batch(vg_lpsrv_t *l, lp_conn *c, lp_job *j)
{
    vg_metrics_t *m = &l->s->metrics;
    if (j->rc) {
        vg_metrics_add(&m->batches_failed[VG_PROTO_TCP], 1);
        vg_log("error", "lp %s: batch of lines %" PRIu64 "-%" PRIu64 " failed: %s; closing",
               c->peer, j->first, j->last, j->msg);
        if (c->ack)
            conn_out(c, "ERR %" PRIu64 " batch %s\n", j->first, j->msg);
        c->eof = 1;
        return;
    }
    vg_metrics_add(&m->rows_ingested[VG_PROTO_TCP], j->res.rows);
    vg_metrics_add(&m->bytes_ingested[VG_PROTO_TCP], j->bytes);
    vg_metrics_add(&m->lines_rejected[VG_PROTO_TCP], j->res.rejected);
    for (size_t i = 0; i < j->res.nerrors; i++) {
        const vg_line_error_t *e = &j->res.errors[i];
        if (c->ack)
            conn_out(c, "ERR %" PRIu64 " %u %s\n", e->lineno, e->column, e->reason);
        else
            vg_log_limited(LOG_KEY_REJECT, "warn", "lp %s: line %" PRIu64 " column %u rejected: %s",
                           c->peer, e->lineno, e->column, e->reason);
    }
    if (c->ack) {
        conn_out(c, "OK %" PRIu64 "\n", j->last);
        int64_t dt = vg__lp_now() - j->t0;
        vg_metrics_ack(m, dt > 0 ? (uint64_t)dt : 0);
    }
}

/* On the loop thread: a job the waiter finished. Ownership: frees j. */
void vg__lp_conn_on_done(vg_lpsrv_t *l, lp_job *j)
{
    lp_conn *c = j->c;
    c->jobs--;
    l->held -= j->bytes;
    if (j->kind == LP_JOB_FAIL) {
        if (j->what[0] != 'a') /* auth was logged where it was seen */
            vg_log("warn", "lp %s: line %" PRIu64 ": %s; closing", c->peer, j->first, j->msg);
        if (c->ack || j->always)
            conn_out(c, "ERR %" PRIu64 " %s%s%s\n", j->first, j->what, j->msg[0] ? " " : "",
                     j->msg);
        c->eof = 1;
    } else {
        done_batch(l, c, j);
    }
    vg_write_result_free(&j->res);
    vg_free(j);
    conn_flush(l, c);
    vg__lp_conn_maybe_free(l, c);
}

/* Re-arm the connections back-pressure paused, where the budget now allows. */
void vg__lp_resume(vg_lpsrv_t *l)
{
    for (lp_conn *c = l->conns; c; c = c->next)
        if (c->paused)
            conn_want_recv(l, c);
}

void vg__lp_conn_tick(vg_lpsrv_t *l, lp_conn *c, int64_t now)
{
    unsigned idle = l->s->cfg.idle_s;
    if (c->eof || c->jobs || !idle || now - c->last_ns < (int64_t)idle * 1000000000)
        return;
    char msg[64];
    snprintf(msg, sizeof msg, "timeout after %us without data", idle);
    conn_fail(l, c, c->next_lineno, "idle", 0, msg);
    vg__lp_conn_maybe_free(l, c);
}

/* Shutdown: hand over the complete lines received, then read no more. */
void vg__lp_conn_stop(vg_lpsrv_t *l, lp_conn *c)
{
    if (!c->eof && c->hello == 2 && c->len)
        conn_take_lines(l, c, 0);
    c->eof = 1;
    vg__lp_conn_maybe_free(l, c);
}

/* Close and free c once it reads no more and nothing of it is in flight. */
void vg__lp_conn_maybe_free(vg_lpsrv_t *l, lp_conn *c)
{
    if (!c->eof)
        return;
    if (c->recv_armed) {
        vg__lp_cancel(l, c);
        return;
    }
    if (c->jobs || c->send_armed || (!c->dead && (c->olen || c->wlen)))
        return;
    if (c->gone)
        return;
    c->gone = 1;
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    l->held -= c->len;
    vg_metrics_add(&l->s->metrics.conns_open[VG_PROTO_TCP], (uint64_t)-1);
    vg_free(c->buf);
    vg_free(c->wbuf);
    vg_free(c->obuf);
    vg_free(c);
    vg__lp_resume(l);
}

/* The waiter thread: waits each ticket in issue order, posts the outcome. */
void *vg__lp_waiter(void *arg)
{
    vg_lpsrv_t *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!l->todo_h && !l->wait_quit)
            pthread_cond_wait(&l->cv, &l->mu);
        lp_job *j = l->todo_h;
        if (!j) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        l->todo_h = j->next;
        if (!l->todo_h)
            l->todo_t = NULL;
        pthread_mutex_unlock(&l->mu);
        j->next = NULL;
        if (j->kind == LP_JOB_BATCH && !j->rc && j->ticket) {
            vg_error_t e = {0};
            j->rc = vg_db_write_wait(l->s->db, j->ticket, &e);
            if (j->rc)
                snprintf(j->msg, sizeof j->msg, "%.199s", e.msg[0] ? e.msg : vg_strerror(j->rc));
        }
        pthread_mutex_lock(&l->mu);
        if (l->done_t)
            l->done_t->next = j;
        else
            l->done_h = j;
        l->done_t = j;
        pthread_mutex_unlock(&l->mu);
        uint64_t one = 1;
        ssize_t w = write(l->efd, &one, sizeof one);
        (void)w; /* eventfd cannot overflow at this rate; the loop drains it */
    }
    return NULL;
}
