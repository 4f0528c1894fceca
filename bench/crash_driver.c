/*
 * crash_driver.c: the client side of the kill -9 test of vigild. C threads,
 * each one TCP connection in acknowledged mode, send batches of rows
 *   crash,conn=<c> seq=<k>i,h=<hash>i <ts>
 * and keep a client-side log that the checker compares with what survived:
 *   sent c k0 k1   written (and fsynced) before the batch's first byte goes out
 *   acked c k1     after an "OK n" covering the batch's last line
 *   err c k        a row the server answered ERR for (it must never appear)
 * With --reject R, every row with k % R == R - 1 is sent malformed (a field
 * without a value), so that rejected rows can be checked to stay absent.
 * With --http HOST:PORT each batch is a POST /write instead (204: acked; 400:
 * the rows its per-line errors name are logged err, the others acked).
 * With --aux HOST:PORT a side thread POSTs a row `aux,k=<i%4> v=<i>i <ts>`
 * every --aux-every ms [100], ts --aux-age seconds [3595] before the start,
 * in one second: these rows are not checked (another table); they exist so
 * that, with a small --seal-rows, a partition of small segments gets
 * compacted and (with --retention 1h --partition 1s) dropped by retention
 * within seconds, so the crash points of compaction and retention are hit.
 *
 * Invariants:
 * - One batch in flight per connection, so "acked" lines are in send order and
 *   a batch that was sent but never acknowledged is the only indeterminate one.
 * - Line numbers follow the server's rule: every physical line counts from 1,
 *   the prologue ("#vigil auth", "#vigil ack") included.
 * - A log line is on disk before the driver acts on it (fdatasync): the log
 *   must outlive the kill of the server, and it lives outside its data folder.
 * - seq k runs from 0 per connection; ts = t0 + k * C + c is unique per row
 *   and now-based, so within retention; h is a hash of (c, k) so the checker
 *   can verify the payload without the log.
 * - No heap: buffers are static, sized for the largest batch allowed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_BATCH 2000
#define ROW_MAX 96 /* longest row text, newline included */

typedef struct {
    const char *host;
    const char *port;
    const char *token;
    int conns;
    int batch;
    int reject;
    double seconds;
    int log_fd;
    int64_t t0;
    const char *http_host, *http_port; /* --http: batches over POST /write */
    const char *aux_host, *aux_port;   /* --aux: the side writer's server */
    int aux_every_ms;
    int aux_age_s;
} options_t;

typedef struct {
    int id;
    int fd;
    int64_t line;    /* last line number sent */
    char rbuf[4096]; /* unparsed answer bytes */
    size_t rlen;
    int64_t batches_acked;
    const options_t *opt;
} conn_t;

static options_t g_opt;
static conn_t g_conns[MAX_CONNS];
static char g_send[MAX_CONNS][MAX_BATCH * ROW_MAX];
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_stop; /* the main connections ended: the aux thread stops */

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The payload: splitmix64 of (c, k), kept positive to fit an integer field. */
static int64_t row_hash(int c, int64_t k)
{
    uint64_t z = ((uint64_t)c << 40) ^ (uint64_t)k;
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (int64_t)(z >> 1);
}

/* Appends one line to the log and syncs it: the checker trusts only what is
 * on disk, and the log must say "sent" before the server can see the rows. */
static int log_line(const char *kind, int c, int64_t a, int64_t b)
{
    char line[96];
    int n = b < 0 ? snprintf(line, sizeof line, "%s %d %" PRId64 "\n", kind, c, a)
                  : snprintf(line, sizeof line, "%s %d %" PRId64 " %" PRId64 "\n", kind, c, a, b);
    int rc = 0;
    pthread_mutex_lock(&g_log_lock);
    if (write(g_opt.log_fd, line, (size_t)n) != n || fdatasync(g_opt.log_fd) != 0)
        rc = -1;
    pthread_mutex_unlock(&g_log_lock);
    if (rc != 0)
        fprintf(stderr, "crash-driver: cannot write the log: %s\n", strerror(errno));
    return rc;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return -1;
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a server that stops answering without closing must not hang the test */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads one answer line into out (NUL-terminated, without '\n').
 * Returns 0, or -1 when the connection is gone or silent. */
static int read_answer(conn_t *c, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->rbuf, '\n', c->rlen);
        if (nl != NULL) {
            size_t n = (size_t)(nl - c->rbuf);
            size_t k = n < cap - 1 ? n : cap - 1;
            memcpy(out, c->rbuf, k);
            out[k] = '\0';
            c->rlen -= n + 1;
            memmove(c->rbuf, nl + 1, c->rlen);
            return 0;
        }
        if (c->rlen == sizeof c->rbuf)
            return -1; /* an answer line this long is not one of ours */
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->rlen += (size_t)r;
    }
}

/* Waits for the OK covering line `last`, logging each rejected row of the
 * batch whose first line is `first` and first seq is k0.
 * Returns 1 when acknowledged, 0 when the connection ended first. */
static int await_ok(conn_t *c, int64_t first, int64_t last, int64_t k0)
{
    char ans[512];
    while (read_answer(c, ans, sizeof ans) == 0) {
        long long n = 0;
        char col[64];
        if (sscanf(ans, "OK %lld", &n) == 1) {
            if (n >= last)
                return 1;
        } else if (sscanf(ans, "ERR %lld %63s", &n, col) == 2) {
            if (strcmp(col, "batch") == 0) {
                fprintf(stderr, "crash-driver: conn %d: %s\n", c->id, ans);
                return 0; /* the server closes after a batch failure */
            }
            if (n >= first && n <= last)
                log_line("err", c->id, k0 + (n - first), -1);
            else /* not a row of ours: the prologue (a wrong token) */
                fprintf(stderr, "crash-driver: conn %d: %s\n", c->id, ans);
        }
    }
    return 0;
}

static size_t format_batch(conn_t *c, int64_t k0)
{
    const options_t *o = c->opt;
    char *buf = g_send[c->id];
    size_t len = 0;
    for (int64_t k = k0; k < k0 + o->batch; k++) {
        int64_t ts = o->t0 + k * o->conns + c->id;
        if (o->reject > 0 && k % o->reject == o->reject - 1) {
            len += (size_t)snprintf(buf + len, ROW_MAX, "crash,conn=%d seq=%" PRId64 "i,h= %" PRId64 "\n", c->id, k, ts);
            continue;
        }
        len += (size_t)snprintf(buf + len, ROW_MAX, "crash,conn=%d seq=%" PRId64 "i,h=%" PRId64 "i %" PRId64 "\n",
                                c->id, k, row_hash(c->id, k), ts);
    }
    return len;
}

/*
 * One HTTP/1.1 request on a fresh connection (Connection: close); the answer
 * (status line, headers, body) lands in ans, NUL-terminated. Returns the
 * status, or -1 when the server went away before answering in full.
 */
static int http_post(const char *host, const char *port, const char *token, const char *body,
                     size_t len, char *ans, size_t cap)
{
    int fd = dial(host, port);
    if (fd < 0)
        return -1;
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "POST /write?precision=ns HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n"
                      "%s%s%sConnection: close\r\n\r\n",
                      host, len, token ? "Authorization: Bearer " : "", token ? token : "",
                      token ? "\r\n" : "");
    size_t got = 0;
    int ok = send_all(fd, head, (size_t)hl) == 0 && send_all(fd, body, len) == 0;
    while (ok && got + 1 < cap) {
        ssize_t r = recv(fd, ans + got, cap - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ok = 0;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    ans[got] = '\0';
    int status = 0;
    /* the body must be complete: the headers' end seen, then EOF */
    if (!ok || strstr(ans, "\r\n\r\n") == NULL || sscanf(ans, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* HTTP mode: POST the batch; log the rows a 400 names as err. Returns 1
 * when answered (204, or 400 for a partial write), 0 otherwise. */
static int http_batch(conn_t *c, size_t len, int64_t k0)
{
    static __thread char ans[65536];
    const options_t *o = c->opt;
    int st = http_post(o->http_host, o->http_port, o->token, g_send[c->id], len, ans, sizeof ans);
    if (st == 204)
        return 1;
    if (st != 400) {
        if (st > 0)
            fprintf(stderr, "crash-driver: conn %d: HTTP %d\n", c->id, st);
        return 0;
    }
    int listed = 0;
    for (const char *p = ans; (p = strstr(p, "\"line_number\"")) != NULL; p++) {
        long long n = 0;
        if (sscanf(p, "\"line_number\": %lld", &n) == 1 && n >= 1 && n <= o->batch) {
            log_line("err", c->id, k0 + n - 1, -1);
            listed++;
        }
    }
    if (listed == 0 || strstr(ans, "more rejected lines") != NULL) {
        fprintf(stderr, "crash-driver: conn %d: a 400 whose rejected lines are not all listed\n", c->id);
        return 0; /* not what this driver sends: stop rather than log a guess */
    }
    return 1;
}

/* The side writer of --aux: a row every aux_every_ms until the main connections end. */
static void *aux_main(void *arg)
{
    const options_t *o = arg;
    int64_t ts0 = (o->t0 / 1000000000 - o->aux_age_s) * 1000000000;
    char body[160], ans[4096];
    for (int64_t i = 0; !__atomic_load_n(&g_stop, __ATOMIC_RELAXED); i++) {
        int n = snprintf(body, sizeof body, "aux,k=%d v=%" PRId64 "i %" PRId64 "\n", (int)(i % 4), i,
                         ts0 + i);
        (void)http_post(o->aux_host, o->aux_port, o->token, body, (size_t)n, ans, sizeof ans);
        struct timespec d = {o->aux_every_ms / 1000, (long)(o->aux_every_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    return NULL;
}

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    const options_t *o = c->opt;
    if (o->http_host != NULL) {
        int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)(o->seconds * 1e9);
        for (int64_t k0 = 0; now_ns(CLOCK_MONOTONIC) < deadline; k0 += o->batch) {
            size_t len = format_batch(c, k0);
            if (log_line("sent", c->id, k0, k0 + o->batch - 1) != 0 || !http_batch(c, len, k0))
                break;
            if (log_line("acked", c->id, k0 + o->batch - 1, -1) != 0)
                break;
            c->batches_acked++;
        }
        return NULL;
    }
    char pro[300];
    int plen = 0;
    if (o->token != NULL) {
        plen = snprintf(pro, sizeof pro, "#vigil auth %s\n", o->token);
        c->line++;
    }
    plen += snprintf(pro + plen, sizeof pro - (size_t)plen, "#vigil ack\n");
    c->line++;
    if (send_all(c->fd, pro, (size_t)plen) != 0)
        return NULL;
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)(o->seconds * 1e9);
    for (int64_t k0 = 0; now_ns(CLOCK_MONOTONIC) < deadline; k0 += o->batch) {
        int64_t k1 = k0 + o->batch - 1;
        size_t len = format_batch(c, k0);
        if (log_line("sent", c->id, k0, k1) != 0)
            break;
        int64_t first = c->line + 1;
        c->line += o->batch;
        if (send_all(c->fd, g_send[c->id], len) != 0)
            break;
        if (!await_ok(c, first, c->line, k0))
            break;
        if (log_line("acked", c->id, k1, -1) != 0)
            break;
        c->batches_acked++;
    }
    return NULL;
}

static int split_target(char *t, const char **host, const char **port)
{
    char *colon = strrchr(t, ':');
    if (colon == NULL || colon == t || colon[1] == '\0')
        return -1;
    *colon = '\0';
    *host = t;
    *port = colon + 1;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: vigil-crash-driver --target HOST:PORT | --http HOST:PORT --connections C --log FILE\n"
          "                          [--batch N] [--seconds S] [--token T] [--reject R]\n"
          "                          [--aux HOST:PORT [--aux-every MS] [--aux-age S]]\n"
          "Sends batches of rows `crash,conn=<c> seq=<k>i,h=<hash>i <ts>` on C acknowledged\n"
          "line-protocol connections until the server goes away or S seconds [30] pass;\n"
          "logs `sent c k0 k1`, `acked c k1` and `err c k` to FILE, each line fsynced.\n"
          "N rows per batch [100, at most 2000]; C at most 64.\n"
          "--reject R sends every R-th row (k % R == R - 1) malformed [0: none].\n"
          "--http sends each batch as POST /write (204 or a partial 400 answers it).\n"
          "--aux POSTs a row of table aux every MS [100] ms, S [3595] s old (not logged).\n",
          f);
}

static int parse_args(int argc, char **argv, options_t *o, const char **log_path)
{
    static char target[256], http[256], aux[256];
    o->conns = 3;
    o->batch = 100;
    o->seconds = 30;
    o->aux_every_ms = 100;
    o->aux_age_s = 3595;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        if (strcmp(a, "--target") == 0) {
            snprintf(target, sizeof target, "%s", v);
            if (split_target(target, &o->host, &o->port) != 0)
                return -1;
        } else if (strcmp(a, "--http") == 0) {
            snprintf(http, sizeof http, "%s", v);
            if (split_target(http, &o->http_host, &o->http_port) != 0)
                return -1;
        } else if (strcmp(a, "--aux") == 0) {
            snprintf(aux, sizeof aux, "%s", v);
            if (split_target(aux, &o->aux_host, &o->aux_port) != 0)
                return -1;
        } else if (strcmp(a, "--aux-every") == 0) {
            o->aux_every_ms = atoi(v);
        } else if (strcmp(a, "--aux-age") == 0) {
            o->aux_age_s = atoi(v);
        } else if (strcmp(a, "--connections") == 0) {
            o->conns = atoi(v);
        } else if (strcmp(a, "--batch") == 0) {
            o->batch = atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = atof(v);
        } else if (strcmp(a, "--reject") == 0) {
            o->reject = atoi(v);
        } else if (strcmp(a, "--log") == 0) {
            *log_path = v;
        } else if (strcmp(a, "--token") == 0) {
            o->token = v;
            if (strlen(v) > 256) /* the prologue buffer's bound */
                return -1;
        } else {
            return -1;
        }
    }
    if ((o->host == NULL && o->http_host == NULL) || *log_path == NULL || o->aux_every_ms < 1 || o->conns < 1 || o->conns > MAX_CONNS || o->batch < 1 ||
        o->batch > MAX_BATCH || o->seconds <= 0 || o->reject < 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *log_path = NULL;
    if (parse_args(argc, argv, &g_opt, &log_path) != 0) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_opt.log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_opt.log_fd < 0) {
        fprintf(stderr, "crash-driver: cannot open the log %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    g_opt.t0 = now_ns(CLOCK_REALTIME);
    pthread_t th[MAX_CONNS];
    int started = 0;
    for (int i = 0; i < g_opt.conns; i++) {
        g_conns[i] = (conn_t){.id = i, .opt = &g_opt, .fd = -1};
        if (g_opt.http_host == NULL && (g_conns[i].fd = dial(g_opt.host, g_opt.port)) < 0) {
            fprintf(stderr, "crash-driver: cannot connect to %s:%s: %s\n", g_opt.host, g_opt.port, strerror(errno));
            break;
        }
        if (pthread_create(&th[i], NULL, conn_main, &g_conns[i]) != 0) {
            close(g_conns[i].fd);
            break;
        }
        started++;
    }
    pthread_t aux_th;
    int aux = g_opt.aux_host != NULL && started > 0 && pthread_create(&aux_th, NULL, aux_main, &g_opt) == 0;
    int64_t acked = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (g_conns[i].fd >= 0)
            close(g_conns[i].fd);
        acked += g_conns[i].batches_acked;
    }
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
    if (aux)
        pthread_join(aux_th, NULL);
    close(g_opt.log_fd);
    printf("crash-driver: %d connections, %" PRId64 " batches acknowledged\n", started, acked);
    return started == g_opt.conns ? 0 : 1;
}
