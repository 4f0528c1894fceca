/*
 * lp_server.c: vigild's line-protocol listener: one thread, one event loop,
 * no thread per connection. The loop runs on io_uring (multishot accept
 * where the kernel has it, one receive and at most one send in flight per
 * connection, an eventfd read for the waiter's completions, a 1 s timeout
 * for idle checks); where a ring cannot be set up or lacks an opcode it runs
 * the same handlers from a poll(2) loop instead (said once in the log).
 *
 * Invariants: only the loop thread touches connections; a completion's
 * user_data is a connection pointer (8-aligned) or'ed with its LP_OP_*,
 * and the connection lives until every such operation completed
 * (lp_conn.c frees it). Cancels carry user_data 0 and are ignored.
 * Shutdown: stop accepting, hand over the complete lines received, let the
 * batches in flight finish and be answered, close; past a 10 s deadline
 * the sockets are shut so that a client that does not read cannot hold it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lp_int.h"

#define STOP_GRACE_NS (10 * 1000000000LL)

int64_t vg__lp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct io_uring_sqe *get_sqe(vg_lpsrv_t *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    if (!sqe) {
        io_uring_submit(&l->ring);
        sqe = io_uring_get_sqe(&l->ring);
    }
    return sqe; /* never NULL right after a submit of a non-empty ring */
}

static uint64_t udata(const void *p, int op) { return (uint64_t)(uintptr_t)p | (uint64_t)op; }

void vg__lp_arm_recv(vg_lpsrv_t *l, lp_conn *c)
{
    c->recv_armed = 1;
    if (!l->uring)
        return; /* poll: the loop reads when the socket is readable */
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_recv(sqe, c->fd, c->buf + c->len, c->cap - c->len, 0);
    io_uring_sqe_set_data64(sqe, udata(c, LP_OP_RECV));
}

void vg__lp_arm_send(vg_lpsrv_t *l, lp_conn *c)
{
    c->send_armed = 1;
    if (!l->uring)
        return;
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_send(sqe, c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, udata(c, LP_OP_SEND));
}

/* Withdraw c's pending receive; its completion (-ECANCELED) frees it. */
void vg__lp_cancel(vg_lpsrv_t *l, lp_conn *c)
{
    if (!l->uring) {
        c->recv_armed = 0;
        vg__lp_conn_maybe_free(l, c);
        return;
    }
    if (c->cancelling)
        return;
    c->cancelling = 1;
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_cancel64(sqe, udata(c, LP_OP_RECV), 0);
    io_uring_sqe_set_data64(sqe, 0);
}

/* ---- shared by both loops ---- */

static void on_accept(vg_lpsrv_t *l, int fd)
{
    if (l->drained) {
        close(fd);
        return;
    }
    unsigned max = l->s->cfg.max_conns;
    if (max && l->nconns >= max) {
        char msg[96];
        int n = snprintf(msg, sizeof msg, "ERR 1 conns too many connections (limit %u)\n", max);
        ssize_t w = send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)w; /* best effort: the close says it too */
        close(fd);
        vg_log_limited(0x4c5002, "warn", "lp: connection refused: limit of %u connections", max);
        return;
    }
    vg__lp_conn_new(l, fd);
}

static void drain_done(vg_lpsrv_t *l)
{
    pthread_mutex_lock(&l->mu);
    lp_job *j = l->done_h;
    l->done_h = l->done_t = NULL;
    pthread_mutex_unlock(&l->mu);
    while (j) {
        lp_job *next = j->next;
        vg__lp_conn_on_done(l, j);
        j = next;
    }
    vg__lp_resume(l);
}

static void begin_drain(vg_lpsrv_t *l)
{
    l->drained = 1;
    l->stop_deadline = vg__lp_now() + STOP_GRACE_NS;
    if (l->uring && l->accept_armed) {
        struct io_uring_sqe *sqe = get_sqe(l);
        io_uring_prep_cancel64(sqe, udata(NULL, LP_OP_ACCEPT), 0);
        io_uring_sqe_set_data64(sqe, 0);
    }
    for (lp_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        vg__lp_conn_stop(l, c);
    }
}

static void tick(vg_lpsrv_t *l)
{
    int64_t now = vg__lp_now();
    l->last_tick = now;
    int force = l->drained && now > l->stop_deadline;
    for (lp_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (force && !c->dead) {
            c->dead = c->eof = 1;
            shutdown(c->fd, SHUT_RDWR); /* fails a send to a client that does not read */
        }
        vg__lp_conn_tick(l, c, now);
        vg__lp_conn_maybe_free(l, c);
    }
}

static int loop_done(vg_lpsrv_t *l)
{
    if (!l->drained && __atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE))
        begin_drain(l);
    return l->drained && l->nconns == 0 && !l->accept_armed;
}

/* ---- io_uring ---- */

static void arm_accept(vg_lpsrv_t *l)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (l->multishot)
        io_uring_prep_multishot_accept(sqe, l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, udata(NULL, LP_OP_ACCEPT));
    l->accept_armed = 1;
}

static void arm_event(vg_lpsrv_t *l)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_read(sqe, l->efd, &l->evbuf, sizeof l->evbuf, 0);
    io_uring_sqe_set_data64(sqe, udata(NULL, LP_OP_EVENT));
}

static void arm_tick(vg_lpsrv_t *l)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    l->tick_ts.tv_sec = 1;
    l->tick_ts.tv_nsec = 0;
    io_uring_prep_timeout(sqe, &l->tick_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, udata(NULL, LP_OP_TICK));
}

static void on_accept_cqe(vg_lpsrv_t *l, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        l->accept_armed = 0;
    if (cqe->res >= 0) {
        on_accept(l, cqe->res);
    } else if (cqe->res == -EINVAL && l->multishot) {
        l->multishot = 0;
        vg_log("info", "lp: no multishot accept in this kernel; accepting one at a time");
    } else if (cqe->res != -ECANCELED) {
        vg_log_limited(0x4c5003, "warn", "lp: accept failed: %s", strerror(-cqe->res));
    }
    if (!l->accept_armed && !l->drained)
        arm_accept(l);
}

static void on_cqe(vg_lpsrv_t *l, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    lp_conn *c = (lp_conn *)(uintptr_t)(ud & ~(uint64_t)LP_OP_MASK);
    switch ((int)(ud & LP_OP_MASK)) {
    case LP_OP_ACCEPT:
        on_accept_cqe(l, cqe);
        break;
    case LP_OP_RECV:
        c->cancelling = 0;
        vg__lp_conn_on_recv(l, c, cqe->res);
        break;
    case LP_OP_SEND:
        vg__lp_conn_on_send(l, c, cqe->res);
        break;
    case LP_OP_EVENT:
        drain_done(l);
        arm_event(l);
        break;
    case LP_OP_TICK:
        tick(l);
        arm_tick(l);
        break;
    default:
        break; /* a cancel's own completion */
    }
}

static void uring_loop(vg_lpsrv_t *l)
{
    arm_accept(l);
    arm_event(l);
    arm_tick(l);
    while (!loop_done(l)) {
        int rc = io_uring_submit_and_wait(&l->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
            vg_log("error", "lp: io_uring_submit_and_wait: %s", strerror(-rc));
            break;
        }
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&l->ring, head, cqe)
        {
            on_cqe(l, cqe);
            n++;
        }
        io_uring_cq_advance(&l->ring, n);
    }
}

/* ---- poll(2) fallback ---- */

static void poll_conn(vg_lpsrv_t *l, lp_conn *c, short rev)
{
    if ((rev & (POLLIN | POLLHUP | POLLERR)) && c->recv_armed) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        vg__lp_conn_on_recv(l, c, n < 0 ? -errno : (int)n);
        return; /* c may be gone */
    }
    if ((rev & (POLLOUT | POLLHUP | POLLERR)) && c->send_armed) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_DONTWAIT | MSG_NOSIGNAL);
        vg__lp_conn_on_send(l, c, n < 0 ? -errno : (int)n);
    }
}

static void poll_accept(vg_lpsrv_t *l)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                vg_log_limited(0x4c5003, "warn", "lp: accept failed: %s", strerror(errno));
            return;
        }
        on_accept(l, fd);
    }
}

static void poll_loop(vg_lpsrv_t *l)
{
    struct pollfd *fds = NULL;
    lp_conn **who = NULL;
    size_t cap = 0;
    while (!loop_done(l)) {
        size_t n = 2;
        if (cap < l->nconns + 2) {
            size_t nc = (l->nconns + 2) * 2;
            struct pollfd *nf = vg_realloc(fds, nc * sizeof *fds);
            if (nf)
                fds = nf;
            lp_conn **nw = nf ? vg_realloc(who, nc * sizeof *who) : NULL;
            if (nw)
                who = nw;
            if (!nf || !nw) {
                vg_log("error", "lp: out of memory in the poll loop");
                break;
            }
            cap = nc;
        }
        fds[0] = (struct pollfd){.fd = l->drained ? -1 : l->lfd, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = l->efd, .events = POLLIN};
        for (lp_conn *c = l->conns; c; c = c->next) {
            short ev = (short)((c->recv_armed ? POLLIN : 0) | (c->send_armed ? POLLOUT : 0));
            fds[n] = (struct pollfd){.fd = ev ? c->fd : -1, .events = ev};
            who[n++] = c;
        }
        int rc = poll(fds, (nfds_t)n, 1000);
        if (rc < 0 && errno != EINTR) {
            vg_log("error", "lp: poll: %s", strerror(errno));
            break;
        }
        /* connections first: only the waiter's outcomes and ticks free others */
        for (size_t i = 2; rc > 0 && i < n; i++)
            if (fds[i].revents)
                poll_conn(l, who[i], fds[i].revents);
        if (rc > 0 && fds[1].revents) {
            uint64_t v;
            ssize_t r = read(l->efd, &v, sizeof v);
            (void)r; /* non-blocking; EAGAIN only means another read took it */
            drain_done(l);
        }
        if (rc > 0 && fds[0].revents)
            poll_accept(l);
        if (vg__lp_now() - l->last_tick >= 1000000000)
            tick(l);
    }
    vg_free(fds);
    vg_free(who);
}

static void *loop_main(void *arg)
{
    vg_lpsrv_t *l = arg;
    l->last_tick = vg__lp_now();
    if (l->uring)
        uring_loop(l);
    else
        poll_loop(l);
    return NULL;
}

/* ---- start and stop ---- */

/* "HOST:PORT", "[V6]:PORT" -> a listening, non-blocking socket; -1 with errbuf. */
static int listen_on(const char *addr, char *err, size_t errcap)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        snprintf(err, errcap, "lp address '%s': expected HOST:PORT", addr);
        return -1;
    }
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
    if (g) {
        snprintf(err, errcap, "lp address '%s': %s", addr, gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errcap, "lp: listening on %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* 1 when the ring is up with every opcode the loop uses; else a reason. */
static int ring_setup(vg_lpsrv_t *l, const char **why)
{
    static const int ops[] = {IORING_OP_ACCEPT, IORING_OP_RECV,    IORING_OP_SEND,
                              IORING_OP_READ,   IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL};
    if (getenv("VIGIL_LP_POLL")) { /* lets the tests run the fallback on any kernel */
        *why = "VIGIL_LP_POLL is set";
        return 0;
    }
    int rc = io_uring_queue_init(256, &l->ring, 0);
    if (rc < 0) {
        *why = strerror(-rc);
        return 0;
    }
    struct io_uring_probe *p = io_uring_get_probe_ring(&l->ring);
    int ok = p != NULL;
    for (size_t i = 0; ok && i < sizeof ops / sizeof ops[0]; i++)
        ok = io_uring_opcode_supported(p, ops[i]);
    if (p)
        io_uring_free_probe(p);
    if (!ok) {
        io_uring_queue_exit(&l->ring);
        *why = "an opcode is missing";
    }
    return ok;
}

static void lp_free(vg_lpsrv_t *l)
{
    if (l->uring)
        io_uring_queue_exit(&l->ring);
    if (l->lfd >= 0)
        close(l->lfd);
    if (l->efd >= 0)
        close(l->efd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    vg_free(l);
}

/*
 * Bind cfg.lp_addr (port 0: any free port, written to s->lp_port and the
 * log) and start the listener's threads. Ownership: *out until
 * vg_lpsrv_stop; s must outlive it.
 */
int vg_lpsrv_start(vg_server_t *s, vg_lpsrv_t **out, char *err, size_t errcap)
{
    vg_lpsrv_t *l = vg_calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errcap, "lp: out of memory");
        return VG_ENOMEM;
    }
    l->s = s;
    l->efd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->lfd = listen_on(s->cfg.lp_addr ? s->cfg.lp_addr : "127.0.0.1:7071", err, errcap);
    if (l->lfd < 0) {
        lp_free(l);
        return VG_EIO;
    }
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0) {
        snprintf(err, errcap, "lp: eventfd: %s", strerror(errno));
        lp_free(l);
        return VG_EIO;
    }
    const char *why = NULL;
    l->uring = ring_setup(l, &why);
    l->multishot = 1;
    if (!l->uring)
        vg_log("warn", "lp: io_uring unavailable (%s); using a poll(2) loop", why);
    s->lp_port = bound_port(l->lfd);
    if (pthread_create(&l->wait_th, NULL, vg__lp_waiter, l) != 0) {
        snprintf(err, errcap, "lp: cannot start the waiter thread");
        lp_free(l);
        return VG_ENOMEM;
    }
    if (pthread_create(&l->loop_th, NULL, loop_main, l) != 0) {
        snprintf(err, errcap, "lp: cannot start the loop thread");
        pthread_mutex_lock(&l->mu);
        l->wait_quit = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->wait_th, NULL);
        lp_free(l);
        return VG_ENOMEM;
    }
    const char *a = s->cfg.lp_addr ? s->cfg.lp_addr : "127.0.0.1:7071";
    const char *colon = strrchr(a, ':');
    vg_log("info", "lp listening on %.*s:%d", (int)(colon - a), a, s->lp_port);
    *out = l;
    return VG_OK;
}

void vg_lpsrv_stop(vg_lpsrv_t *l)
{
    if (!l)
        return;
    __atomic_store_n(&l->stopping, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof one);
    (void)w; /* a full eventfd still wakes the loop */
    pthread_join(l->loop_th, NULL);
    pthread_mutex_lock(&l->mu);
    l->wait_quit = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->wait_th, NULL);
    lp_free(l);
}
