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

static int dial(const options_t *o)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(o->host, o->port, &hints, &res) != 0 || res == NULL)
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

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    const options_t *o = c->opt;
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

static int split_target(char *t, options_t *o)
{
    char *colon = strrchr(t, ':');
    if (colon == NULL || colon == t || colon[1] == '\0')
        return -1;
    *colon = '\0';
    o->host = t;
    o->port = colon + 1;
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: vigil-crash-driver --target HOST:PORT --connections C --log FILE\n"
          "                          [--batch N] [--seconds S] [--token T] [--reject R]\n"
          "Sends batches of rows `crash,conn=<c> seq=<k>i,h=<hash>i <ts>` on C acknowledged\n"
          "line-protocol connections until the server goes away or S seconds [30] pass;\n"
          "logs `sent c k0 k1`, `acked c k1` and `err c k` to FILE, each line fsynced.\n"
          "N rows per batch [100, at most 2000]; C at most 64.\n"
          "--reject R sends every R-th row (k % R == R - 1) malformed [0: none].\n",
          f);
}

static int parse_args(int argc, char **argv, options_t *o, const char **log_path)
{
    static char target[256];
    o->conns = 3;
    o->batch = 100;
    o->seconds = 30;
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
            if (split_target(target, o) != 0)
                return -1;
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
    if (o->host == NULL || *log_path == NULL || o->conns < 1 || o->conns > MAX_CONNS || o->batch < 1 ||
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
        g_conns[i] = (conn_t){.id = i, .opt = &g_opt};
        g_conns[i].fd = dial(&g_opt);
        if (g_conns[i].fd < 0) {
            fprintf(stderr, "crash-driver: cannot connect to %s:%s: %s\n", g_opt.host, g_opt.port, strerror(errno));
            break;
        }
        if (pthread_create(&th[i], NULL, conn_main, &g_conns[i]) != 0) {
            close(g_conns[i].fd);
            break;
        }
        started++;
    }
    int64_t acked = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        close(g_conns[i].fd);
        acked += g_conns[i].batches_acked;
    }
    close(g_opt.log_fd);
    printf("crash-driver: %d connections, %" PRId64 " batches acknowledged\n", started, acked);
    return started == g_opt.conns ? 0 : 1;
}
