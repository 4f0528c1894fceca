/*
 * bench_load.c: the sending side of `vigil-bench ingest`. One thread per
 * connection (a load generator needs few); in acknowledged TCP mode a second
 * thread per connection reads the answers, so that sending never waits for
 * them.
 *
 * Invariants:
 * - Line numbers follow the server's rule: every physical line counts from
 *   1, the prologue ("#vigil auth", "#vigil ack") included.
 * - A batch's latency runs from the moment its last byte was handed to the
 *   kernel to the first "OK n" with n >= its last line (TCP), or is the
 *   whole request (HTTP: libcurl hides the moment the body is sent).
 * - Rows acknowledged = data lines covered by the highest OK minus the lines
 *   answered ERR; every line sent and not acknowledged is an error at the end.
 */
#include "bench_load.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vigil/vg_alloc.h"

int64_t bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_add_latency(bconn_t *c, double ms)
{
    if (c->n_lat == c->cap_lat) {
        size_t nc = c->cap_lat ? c->cap_lat * 2 : 1024;
        double *p = vg_realloc(c->lat_ms, nc * sizeof *p);
        if (!p)
            return;
        c->lat_ms = p;
        c->cap_lat = nc;
    }
    c->lat_ms[c->n_lat++] = ms;
}

/* Up to want whole lines from p[0..len): their byte length; *lines the count.
 * A last line without '\n' counts when it ends the region. */
static size_t take_lines(const char *p, size_t len, uint64_t want, uint64_t *lines, int at_end)
{
    size_t off = 0;
    uint64_t n = 0;
    while (n < want && off < len) {
        const char *nl = memchr(p + off, '\n', len - off);
        if (!nl) {
            if (!at_end)
                break;
            off = len;
            n++;
            break;
        }
        off = (size_t)(nl - p) + 1;
        n++;
    }
    *lines = n;
    return off;
}

static int source_open(bsource_t *s)
{
    if (s->stop || s->rows_left == 0)
        return 0;
    if (s->deadline && bench_mono_ns() >= s->deadline) {
        s->stop = 1;
        return 0;
    }
    return 1;
}

/* Live mode: fill c->buf with up to want lines from the simulator. */
static int live_batch(bsource_t *s, bconn_t *c, uint64_t want, batch_t *b)
{
    size_t used = 0;
    uint64_t got = 0;
    while (got < want) {
        if (s->carry_off == s->carry_len) {
            s->carry_off = s->carry_len = 0;
            size_t n = 0;
            vg_sim_next(s->sim, s->carry, s->carry_cap, &n);
            if (n == 0)
                break; /* the simulation is over */
            s->carry_len = n;
        }
        uint64_t k;
        size_t span = take_lines(s->carry + s->carry_off, s->carry_len - s->carry_off, want - got,
                                 &k, 0);
        if (used + span > c->cap) {
            size_t nc = (used + span) * 2;
            char *p = vg_realloc(c->buf, nc);
            if (!p)
                return 0;
            c->buf = p;
            c->cap = nc;
        }
        memcpy(c->buf + used, s->carry + s->carry_off, span);
        used += span;
        got += k;
        s->carry_off += span;
    }
    b->p = c->buf;
    b->len = used;
    b->lines = got;
    return got > 0;
}

int bench_next_batch(bsource_t *s, bconn_t *c, batch_t *b)
{
    int ok = 0;
    pthread_mutex_lock(&s->mu);
    if (source_open(s)) {
        uint64_t want = s->batch < s->rows_left ? s->batch : s->rows_left;
        if (s->sim) {
            ok = live_batch(s, c, want, b);
        } else if (s->off < s->len) {
            size_t span = take_lines(s->data + s->off, s->len - s->off, want, &b->lines, 1);
            b->p = s->data + s->off;
            b->len = span;
            s->off += span;
            ok = b->lines > 0;
        }
        if (ok && s->rows_left != UINT64_MAX)
            s->rows_left -= b->lines;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

/* ---- TCP ---- */

static int tcp_connect(bconn_t *c)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(c->host, c->port, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof c->err, "%s:%s: %s", c->host, c->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            snprintf(c->err, sizeof c->err, "connect %s:%s: %s", c->host, c->port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1; /* the tail of a batch must not wait for Nagle */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->err[0] = 0;
    }
    return fd;
}

static int send_all(bconn_t *c, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (!c->err[0])
                snprintf(c->err, sizeof c->err, "send: %s", strerror(errno));
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_batch(bconn_t *c, int fd, const batch_t *b)
{
    if (send_all(c, fd, b->p, b->len))
        return -1;
    if (b->len && b->p[b->len - 1] != '\n')
        return send_all(c, fd, "\n", 1);
    return 0;
}

/* The acknowledged mode's shared state between the sender and the reader. */
typedef struct pend {
    uint64_t last;
    int64_t t;
} pend_t;

typedef struct ackst {
    pthread_mutex_t mu;
    bconn_t *c;
    int fd;
    pend_t *q;
    size_t head, n, cap;
    uint64_t max_ok, err_lines, prologue;
    uint64_t final_line; /* set with done */
    int done, closed;
} ackst_t;

/* Pop and time every pending batch the OK covers; mu held. */
static void ack_covered(ackst_t *a, int64_t now)
{
    while (a->head < a->n && a->q[a->head].last <= a->max_ok) {
        bench_add_latency(a->c, (double)(now - a->q[a->head].t) / 1e6);
        a->head++;
    }
    if (a->head == a->n)
        a->head = a->n = 0;
}

static void ack_line(ackst_t *a, const char *ln)
{
    char *end;
    if (strncmp(ln, "OK ", 3) == 0) {
        uint64_t n = strtoull(ln + 3, &end, 10);
        pthread_mutex_lock(&a->mu);
        if (n > a->max_ok)
            a->max_ok = n;
        ack_covered(a, bench_mono_ns());
        if (a->max_ok > a->prologue + a->err_lines)
            a->c->rows_acked = a->max_ok - a->prologue - a->err_lines;
        pthread_mutex_unlock(&a->mu);
    } else if (strncmp(ln, "ERR ", 4) == 0) {
        uint64_t n = strtoull(ln + 4, &end, 10);
        pthread_mutex_lock(&a->mu);
        if (strncmp(end, " batch", 6) == 0 || strncmp(end, " auth", 5) == 0 || n <= a->prologue) {
            if (!a->c->err[0])
                snprintf(a->c->err, sizeof a->c->err, "server: %.200s", ln);
        } else {
            a->err_lines++;
        }
        pthread_mutex_unlock(&a->mu);
    }
}

static int ack_finished(ackst_t *a)
{
    pthread_mutex_lock(&a->mu);
    int f = a->done && a->max_ok >= a->final_line;
    pthread_mutex_unlock(&a->mu);
    return f;
}

/* Reads answers until the last line is covered, the server closes, or it
 * stays silent for 60 s after the sender finished. */
static void *ack_reader(void *arg)
{
    ackst_t *a = arg;
    char buf[65536];
    size_t have = 0;
    int64_t quiet_since = bench_mono_ns();
    while (!ack_finished(a)) {
        ssize_t r = recv(a->fd, buf + have, sizeof buf - 1 - have, 0);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                break;
            pthread_mutex_lock(&a->mu);
            int done = a->done;
            pthread_mutex_unlock(&a->mu);
            if (done && bench_mono_ns() - quiet_since > 60 * (int64_t)1000000000)
                break;
            continue;
        }
        quiet_since = bench_mono_ns();
        have += (size_t)r;
        buf[have] = 0;
        char *p = buf, *nl;
        while ((nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL) {
            *nl = 0;
            ack_line(a, p);
            p = nl + 1;
        }
        have -= (size_t)(p - buf);
        memmove(buf, p, have);
        if (have == sizeof buf - 1)
            have = 0; /* an absurd answer line: drop it */
    }
    pthread_mutex_lock(&a->mu);
    a->closed = 1;
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static int push_pending(ackst_t *a, uint64_t last, int64_t t)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    if (a->max_ok >= last) { /* answered before send() returned */
        bench_add_latency(a->c, 0);
    } else if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        pend_t *q = vg_realloc(a->q, nc * sizeof *q);
        if (q) {
            a->q = q;
            a->cap = nc;
        } else {
            rc = -1;
        }
    }
    if (rc == 0 && a->max_ok < last)
        a->q[a->n++] = (pend_t){last, t};
    int closed = a->closed;
    pthread_mutex_unlock(&a->mu);
    return closed ? -1 : rc;
}

static void run_tcp(bconn_t *c)
{
    int fd = tcp_connect(c);
    if (fd < 0)
        return;
    int ack = c->proto == PROTO_TCP_ACK;
    char pro[600];
    int pl = 0;
    uint64_t line = 0;
    if (c->token && c->token[0]) {
        pl += snprintf(pro + pl, sizeof pro - (size_t)pl, "#vigil auth %.500s\n", c->token);
        line++;
    }
    if (ack) {
        pl += snprintf(pro + pl, sizeof pro - (size_t)pl, "#vigil ack\n");
        line++;
    }
    ackst_t a = {.c = c, .fd = fd, .prologue = line};
    pthread_t rth;
    pthread_mutex_init(&a.mu, NULL);
    if (ack) {
        struct timeval tv = {0, 200000}; /* the reader polls for the sender's end */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (pthread_create(&rth, NULL, ack_reader, &a) != 0) {
            snprintf(c->err, sizeof c->err, "cannot start the reader thread");
            close(fd);
            return;
        }
    }
    batch_t b;
    int ok = pl == 0 || send_all(c, fd, pro, (size_t)pl) == 0;
    while (ok && bench_next_batch(c->src, c, &b)) {
        if (send_batch(c, fd, &b)) {
            c->errors += b.lines;
            break;
        }
        line += b.lines;
        c->rows_sent += b.lines;
        c->bytes_sent += b.len;
        if (ack && push_pending(&a, line, bench_mono_ns()))
            break;
    }
    c->t_done = bench_mono_ns();
    shutdown(fd, SHUT_WR);
    if (ack) {
        pthread_mutex_lock(&a.mu);
        a.final_line = line;
        a.done = 1;
        pthread_mutex_unlock(&a.mu);
        pthread_join(rth, NULL);
        c->t_done = bench_mono_ns();
        uint64_t covered = a.max_ok > a.prologue ? a.max_ok - a.prologue : 0;
        uint64_t data = line - a.prologue;
        c->rows_acked = covered > a.err_lines ? covered - a.err_lines : 0;
        c->errors = a.err_lines + (data > covered ? data - covered : 0);
    } else {
        /* Fire-and-forget: wait (untimed) for the server to close, so that
         * whatever runs next sees every row read; bounded for peers that
         * keep the socket open. */
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char sink[4096];
        while (recv(fd, sink, sizeof sink, 0) > 0)
            ;
    }
    vg_free(a.q);
    pthread_mutex_destroy(&a.mu);
    close(fd);
}

/* ---- HTTP ---- */

size_t bench_on_body(char *d, size_t sz, size_t nm, void *ud)
{
    body_t *b = ud;
    size_t n = sz * nm;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->n + n + 1) * 2;
        char *p = vg_realloc(b->p, nc);
        if (!p)
            return 0;
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

static uint64_t count_str(const char *s, const char *needle)
{
    uint64_t n = 0;
    size_t k = strlen(needle);
    while (s && (s = strstr(s, needle)) != NULL) {
        n++;
        s += k;
    }
    return n;
}

/* One batch over HTTP; 0, or -1 when the connection cannot go on. */
static int http_batch(bconn_t *c, CURL *h, const batch_t *b, body_t *resp)
{
    resp->n = 0;
    if (resp->p)
        resp->p[0] = 0;
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    int64_t t0 = bench_mono_ns();
    CURLcode rc = curl_easy_perform(h);
    int64_t t1 = bench_mono_ns();
    c->rows_sent += b->lines;
    c->bytes_sent += b->len;
    if (rc != CURLE_OK) {
        c->errors += b->lines;
        if (!c->err[0])
            snprintf(c->err, sizeof c->err, "%s: %s", c->url, curl_easy_strerror(rc));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        c->rows_acked += b->lines;
    } else if (status == 400 && resp->p && strstr(resp->p, "partial write")) {
        uint64_t bad = count_str(resp->p, "\"line_number\"");
        if (bad > b->lines)
            bad = b->lines;
        c->errors += bad;
        c->rows_acked += b->lines - bad;
    } else {
        c->errors += b->lines;
        if (!c->err[0])
            snprintf(c->err, sizeof c->err, "HTTP %ld: %.200s", status, resp->p ? resp->p : "");
        if (status == 401 || status == 403 || status == 404)
            return -1; /* every further batch would fail the same way */
    }
    bench_add_latency(c, (double)(t1 - t0) / 1e6);
    return 0;
}

static void run_http(bconn_t *c)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(c->err, sizeof c->err, "curl_easy_init failed");
        return;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip per batch */
    if (c->token && c->token[0]) {
        char a[600];
        snprintf(a, sizeof a, "Authorization: Token %.500s", c->token);
        hdr = curl_slist_append(hdr, a);
    }
    body_t resp = {0};
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    batch_t b;
    while (bench_next_batch(c->src, c, &b))
        if (http_batch(c, h, &b, &resp))
            break;
    c->t_done = bench_mono_ns();
    vg_free(resp.p);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
}

void *bench_conn_run(void *arg)
{
    bconn_t *c = arg;
    if (c->proto == PROTO_HTTP)
        run_http(c);
    else
        run_tcp(c);
    if (!c->t_done)
        c->t_done = bench_mono_ns();
    __atomic_store_n(&c->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}
