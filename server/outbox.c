/*
 * outbox.c: the durable queue of notifications and the thread that
 * delivers them.
 *
 * Invariants:
 *  1. A notification is a file DIR/<id>.msg, written atomically (temporary
 *     file, fsync, rename, fsync of DIR) before vg__outbox_put returns; it is
 *     removed only after a 2xx answer, or moved to DIR/dead/ (with the last
 *     status and reason) when it will not be tried again. So a crash loses
 *     nothing; at worst a notification is delivered twice (at least once).
 *  2. Ids start with the creation time in fixed-width hex, so the names sort
 *     in creation order; a receiver gets its notifications in that order,
 *     one at a time. The id is the Idempotency-Key of every attempt.
 *  3. One delivery thread drives every transfer through one curl multi
 *     handle: receivers are independent (a receiver that hangs or is down
 *     holds only its own queue), and the thread never sleeps past the
 *     earliest receiver that is due. Each receiver has its own next-attempt
 *     time (backoff with full jitter, or a 429's Retry-After).
 *  4. An entry in flight is never freed or replaced by another thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "notify_int.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_db.h"

#define MAGIC "vigil-outbox 1\n"
#define LOG_EVERY_NS (5 * VG_NS_PER_SEC)

typedef struct entry {
    struct entry *next, *prev;
    char id[48];
    size_t rcv; /* index into the receivers */
    char *replace_key;
    int64_t created_ns; /* wall clock */
    char *body;
    size_t len;
    int attempts, in_flight;
} entry_t;

typedef struct rstate {
    vg_wh_xfer_t x;
    entry_t *cur;    /* in flight, or NULL */
    int64_t next_ns; /* monotonic: no attempt before */
    int failures;    /* in a row */
    int64_t last_log_ns;
    unsigned suppressed;
} rstate_t;

struct vg_outbox {
    char *dir, *dead_dir;
    const vg_receiver_t *rcv;
    size_t nrcv;
    rstate_t *rs;
    entry_t *head, *tail;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when an entry leaves */
    pthread_t th;
    int started, stop, paused;
    CURLM *multi;
    vg_notify_stats_t st;
    int64_t base_ns, cap_ns;
    uint64_t rng, seq;
    vg_notify_log_fn log;
    void *log_ctx;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * VG_NS_PER_SEC + ts.tv_nsec;
}

static void logf_(vg_outbox_t *ob, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(vg_outbox_t *ob, const char *level, const char *fmt, ...)
{
    if (!ob->log)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ob->log(ob->log_ctx, level, msg);
}

/* ---- files ---- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int vg__write_atomic(const char *dir, const char *name, const char *data, size_t len,
                     vg_error_t *err)
{
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp.%s", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return vg_error_sys(err, VG_EIO, errno, "outbox: creating %s", tmp);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return vg_error_sys(err, e == ENOSPC ? VG_ENOSPC : VG_EIO, e, "outbox: writing %s", tmp);
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return vg_error_sys(err, VG_EIO, e, "outbox: syncing %s", tmp);
    }
    if (rename(tmp, dst) != 0 || fsync_dir(dir) != 0) {
        int e = errno;
        unlink(tmp);
        return vg_error_sys(err, VG_EIO, e, "outbox: renaming %s", tmp);
    }
    return VG_OK;
}

/* Header lines carry no newline: one is replaced by a space. */
static size_t put_line(char *o, const char *key, const char *v)
{
    size_t n = (size_t)sprintf(o, "%s ", key);
    for (; *v; v++)
        o[n++] = (*v == '\n' || *v == '\r') ? ' ' : *v;
    o[n++] = '\n';
    return n;
}

/* The file's text: header lines, an empty line, the body. status/reason
 * only for a dead letter (reason NULL otherwise). Ownership: vg_free. */
static char *serialize(const vg_outbox_t *ob, const entry_t *e, long status, const char *reason,
                       size_t *len)
{
    const char *name = ob->rcv[e->rcv].name;
    size_t cap = sizeof MAGIC + 256 + strlen(name) + (e->replace_key ? strlen(e->replace_key) : 0) +
                 (reason ? strlen(reason) + 64 : 0) + e->len;
    char *s = vg_malloc(cap);
    if (!s)
        return NULL;
    size_t n = (size_t)sprintf(s, MAGIC "id %s\ncreated %" PRId64 "\n", e->id, e->created_ns);
    n += put_line(s + n, "receiver", name);
    if (e->replace_key)
        n += put_line(s + n, "replace", e->replace_key);
    if (reason) {
        n += (size_t)sprintf(s + n, "status %ld\nattempts %d\n", status, e->attempts);
        n += put_line(s + n, "reason", reason);
    }
    s[n++] = '\n';
    memcpy(s + n, e->body, e->len);
    *len = n + e->len;
    return s;
}

static void entry_free(entry_t *e)
{
    if (!e)
        return;
    vg_free(e->replace_key);
    vg_free(e->body);
    vg_free(e);
}

static void unlink_entry(vg_outbox_t *ob, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        ob->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        ob->tail = e->prev;
    ob->st.pending--;
    pthread_cond_broadcast(&ob->idle);
}

static void append_entry(vg_outbox_t *ob, entry_t *e)
{
    e->next = NULL;
    e->prev = ob->tail;
    if (ob->tail)
        ob->tail->next = e;
    else
        ob->head = e;
    ob->tail = e;
    ob->st.pending++;
}

static void remove_file(const vg_outbox_t *ob, const entry_t *e)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.msg", ob->dir, e->id);
    unlink(p);
}

/* Move e to DIR/dead/ with why, and forget it. Under the lock. */
static void dead_letter(vg_outbox_t *ob, entry_t *e, long status, const char *reason)
{
    size_t len;
    char *s = serialize(ob, e, status, reason, &len), name[64];
    snprintf(name, sizeof name, "%s.msg", e->id);
    vg_error_t err;
    if (!s || vg__write_atomic(ob->dead_dir, name, s, len, &err) != VG_OK)
        logf_(ob, "error", "notify %s: cannot record dead letter %s: %s", ob->rcv[e->rcv].name,
              e->id, s ? err.msg : "out of memory");
    vg_free(s);
    remove_file(ob, e);
    logf_(ob, "error", "notify %s: notification %s dead-lettered after %d attempt%s: %s",
          ob->rcv[e->rcv].name, e->id, e->attempts, e->attempts == 1 ? "" : "s", reason);
    unlink_entry(ob, e);
    ob->st.dead++;
    entry_free(e);
}

/* ---- reloading ---- */

static const char *header_value(const char *h, size_t hlen, const char *key, size_t *vlen)
{
    size_t kl = strlen(key);
    for (const char *p = h; p < h + hlen;) {
        const char *nl = memchr(p, '\n', (size_t)(h + hlen - p));
        if (!nl)
            break;
        if ((size_t)(nl - p) > kl && !strncmp(p, key, kl) && p[kl] == ' ') {
            *vlen = (size_t)(nl - p - (ptrdiff_t)kl - 1);
            return p + kl + 1;
        }
        p = nl + 1;
    }
    return NULL;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            char *nb = vg_realloc(buf, cap ? cap * 2 : 8192);
            if (!nb)
                break;
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static size_t find_receiver(const vg_outbox_t *ob, const char *name, size_t nl)
{
    for (size_t i = 0; i < ob->nrcv; i++)
        if (strlen(ob->rcv[i].name) == nl && !memcmp(ob->rcv[i].name, name, nl))
            return i;
    return SIZE_MAX;
}

/* Parse one file back into an entry; NULL (and a log line) when it is not one. */
static entry_t *load_one(vg_outbox_t *ob, const char *fname)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ob->dir, fname);
    size_t len = 0, vl = 0;
    char *s = read_all(path, &len);
    const char *sep = s ? strstr(s, "\n\n") : NULL;
    entry_t *e = vg_calloc(1, sizeof *e);
    const char *rn, *cr;
    if (!e || !sep || strncmp(s, MAGIC, sizeof MAGIC - 1) ||
        !(rn = header_value(s, (size_t)(sep - s) + 1, "receiver", &vl)) ||
        !(cr = header_value(s, (size_t)(sep - s) + 1, "created", &(size_t){0}))) {
        logf_(ob, "error", "notify: %s is not an outbox entry; left in place", path);
        vg_free(s);
        vg_free(e);
        return NULL;
    }
    size_t hl = (size_t)(sep - s) + 1, kl = 0;
    snprintf(e->id, sizeof e->id, "%.*s", (int)(strlen(fname) - 4), fname);
    e->created_ns = strtoll(cr, NULL, 10);
    e->rcv = find_receiver(ob, rn, vl);
    const char *rk = header_value(s, hl, "replace", &kl);
    e->replace_key = rk ? vg_strndup(rk, kl) : NULL;
    e->len = len - hl - 1;
    e->body = vg_malloc(e->len + 1);
    if (e->body) {
        memcpy(e->body, sep + 2, e->len);
        e->body[e->len] = '\0';
    }
    if (e->rcv == SIZE_MAX || !e->body) {
        logf_(ob, "error", "notify: %s: receiver '%.*s' is not configured; left in place", path,
              (int)vl, rn);
        entry_free(e);
        e = NULL;
    }
    vg_free(s);
    return e;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp((*(entry_t *const *)a)->id, (*(entry_t *const *)b)->id);
}

static int reload(vg_outbox_t *ob, vg_error_t *err)
{
    DIR *d = opendir(ob->dir);
    if (!d)
        return vg_error_sys(err, VG_EIO, errno, "outbox: opening %s", ob->dir);
    entry_t **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (!strncmp(de->d_name, "tmp.", 4)) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", ob->dir, de->d_name);
            unlink(p); /* a write that never finished: never acknowledged either */
            continue;
        }
        if (l < 5 || l > 40 || strcmp(de->d_name + l - 4, ".msg"))
            continue;
        entry_t *e = load_one(ob, de->d_name);
        if (!e)
            continue;
        if (n == cap) {
            entry_t **nv = vg_realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (!nv) {
                entry_free(e);
                break;
            }
            v = nv;
        }
        v[n++] = e;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, cmp_entry);
    for (size_t i = 0; i < n; i++)
        append_entry(ob, v[i]);
    vg_free(v);
    if (n)
        logf_(ob, "info", "notify: %zu undelivered notification%s reloaded from %s", n,
              n == 1 ? "" : "s", ob->dir);
    return VG_OK;
}

/* ---- delivery ---- */

static uint64_t next_rand(vg_outbox_t *ob)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    ob->rng ^= ob->rng >> 12;
    ob->rng ^= ob->rng << 25;
    ob->rng ^= ob->rng >> 27;
    return ob->rng * UINT64_C(2685821657736338717);
}

/* Full jitter: uniform in [0, min(cap, base * 2^(failures-1))]. */
static int64_t backoff(vg_outbox_t *ob, int failures)
{
    int64_t d = ob->base_ns;
    for (int i = 1; i < failures && d < ob->cap_ns; i++)
        d *= 2;
    if (d > ob->cap_ns)
        d = ob->cap_ns;
    return d > 0 ? (int64_t)(next_rand(ob) % (uint64_t)(d + 1)) : 0;
}

static entry_t *first_of(const vg_outbox_t *ob, size_t r)
{
    for (entry_t *e = ob->head; e; e = e->next)
        if (e->rcv == r)
            return e;
    return NULL;
}

/* Start the transfer of e. Under the lock. */
static void start(vg_outbox_t *ob, size_t r, entry_t *e)
{
    rstate_t *rs = &ob->rs[r];
    const vg_receiver_t *rc = &ob->rcv[r];
    char url[4096];
    if (rc->type == VG_RCV_ALERTMANAGER) {
        size_t ul = strlen(rc->url);
        snprintf(url, sizeof url, "%.*s/api/v2/alerts", (int)(ul && rc->url[ul - 1] == '/' ? ul - 1 : ul),
                 rc->url);
    } else {
        snprintf(url, sizeof url, "%s", rc->url);
    }
    vg_wh_request_t rq = {.url = url, .body = e->body, .len = e->len, .idempotency_key = e->id,
                          .hmac_secret = rc->hmac_secret, .timeout_ns = rc->timeout_ns};
    vg_error_t err = {0};
    snprintf(err.msg, sizeof err.msg, "cannot start a transfer to %.400s", url);
    if (vg__wh_xfer_init(&rs->x, &rq, &err) != VG_OK ||
        curl_multi_add_handle(ob->multi, rs->x.h) != CURLM_OK) {
        vg__wh_xfer_clear(&rs->x);
        dead_letter(ob, e, 0, err.msg);
        return;
    }
    rs->cur = e;
    e->in_flight = 1;
}

/* Start every receiver's oldest entry that is due; *wait_ns: until the next one is. */
static void start_due(vg_outbox_t *ob, int64_t now, int64_t *wait_ns)
{
    for (size_t r = 0; r < ob->nrcv; r++) {
        rstate_t *rs = &ob->rs[r];
        entry_t *e;
        while (!rs->cur && (e = first_of(ob, r))) {
            if (rs->next_ns > now) {
                if (rs->next_ns - now < *wait_ns)
                    *wait_ns = rs->next_ns - now;
                break;
            }
            start(ob, r, e);
        }
    }
}

static void log_failure(vg_outbox_t *ob, rstate_t *rs, const entry_t *e, const char *reason,
                        int64_t delay, int64_t now)
{
    if (rs->last_log_ns && now - rs->last_log_ns < LOG_EVERY_NS) {
        rs->suppressed++;
        return;
    }
    logf_(ob, "warn", "notify %s: attempt %d of %s failed: %s; next in %.3fs%s",
          ob->rcv[e->rcv].name, e->attempts, e->id, reason, (double)delay / 1e9,
          rs->suppressed ? " (more failures not logged)" : "");
    rs->last_log_ns = now;
    rs->suppressed = 0;
}

/* Dead-letter every entry of receiver r older than its max_retry_age. */
static void expire(vg_outbox_t *ob, size_t r, int64_t wall, const char *reason)
{
    char why[400];
    for (entry_t *e = ob->head, *nx; e; e = nx) {
        nx = e->next;
        if (e->rcv == r && !e->in_flight && wall - e->created_ns >= ob->rcv[r].max_retry_age_ns) {
            snprintf(why, sizeof why, "gave up after max_retry_age; last error: %s", reason);
            dead_letter(ob, e, 0, why);
        }
    }
}

/* The attempt of receiver r ended with res. Under the lock. */
static void finish(vg_outbox_t *ob, size_t r, const vg_wh_result_t *res)
{
    rstate_t *rs = &ob->rs[r];
    entry_t *e = rs->cur;
    int64_t now = mono_ns();
    rs->cur = NULL;
    e->in_flight = 0;
    e->attempts++;
    if (res->cls == VG_WH_OK) {
        if (rs->failures)
            logf_(ob, "info", "notify %s: delivered %s after %d failed attempt%s",
                  ob->rcv[r].name, e->id, rs->failures, rs->failures == 1 ? "" : "s");
        remove_file(ob, e);
        unlink_entry(ob, e);
        entry_free(e);
        ob->st.delivered++;
        rs->failures = 0;
        rs->next_ns = now;
        return;
    }
    if (res->cls == VG_WH_DEAD) {
        rs->failures = 0;
        dead_letter(ob, e, res->status, res->reason);
        return;
    }
    rs->failures++;
    int64_t delay = res->retry_after_ns >= 0 ? res->retry_after_ns : backoff(ob, rs->failures);
    rs->next_ns = now + delay;
    if (vg_now_ns() - e->created_ns >= ob->rcv[r].max_retry_age_ns) {
        expire(ob, r, vg_now_ns(), res->reason);
        return;
    }
    ob->st.retried++;
    log_failure(ob, rs, e, res->reason, delay, now);
}

/* Collect finished transfers; returns how many. */
static int reap(vg_outbox_t *ob)
{
    int done = 0, q;
    CURLMsg *m;
    while ((m = curl_multi_info_read(ob->multi, &q))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *h = m->easy_handle;
        CURLcode rc = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
        vg_wh_xfer_t *x = (vg_wh_xfer_t *)(void *)priv;
        rstate_t *rs = (rstate_t *)(void *)((char *)x - offsetof(rstate_t, x));
        vg_wh_result_t res;
        vg__wh_xfer_result(x, rc, &res);
        curl_multi_remove_handle(ob->multi, h);
        vg__wh_xfer_clear(x);
        pthread_mutex_lock(&ob->mu);
        finish(ob, (size_t)(rs - ob->rs), &res);
        pthread_mutex_unlock(&ob->mu);
        done++;
    }
    return done;
}

static void abandon_all(vg_outbox_t *ob)
{
    for (size_t r = 0; r < ob->nrcv; r++) {
        rstate_t *rs = &ob->rs[r];
        if (!rs->cur)
            continue;
        curl_multi_remove_handle(ob->multi, rs->x.h);
        vg__wh_xfer_clear(&rs->x);
        rs->cur->in_flight = 0;
        rs->cur = NULL;
    }
}

static void *deliver_loop(void *arg)
{
    vg_outbox_t *ob = arg;
    pthread_mutex_lock(&ob->mu);
    while (!ob->stop) {
        int64_t wait = VG_NS_PER_SEC;
        if (!ob->paused)
            start_due(ob, mono_ns(), &wait);
        pthread_mutex_unlock(&ob->mu);
        int running = 0;
        curl_multi_perform(ob->multi, &running);
        if (reap(ob) == 0)
            curl_multi_poll(ob->multi, NULL, 0, (int)((wait + 999999) / 1000000), NULL);
        pthread_mutex_lock(&ob->mu);
    }
    abandon_all(ob);
    pthread_mutex_unlock(&ob->mu);
    return NULL;
}

/* ---- the API ---- */

int vg__outbox_put(vg_outbox_t *ob, size_t rcv, const char *body, size_t len,
                   const char *replace_key, vg_error_t *err)
{
    entry_t *e = vg_calloc(1, sizeof *e);
    if (!e || !(e->body = vg_malloc(len + 1)) ||
        (replace_key && !(e->replace_key = vg_strdup(replace_key)))) {
        entry_free(e);
        return vg_error_set(err, VG_ENOMEM, "outbox: out of memory");
    }
    memcpy(e->body, body, len);
    e->body[len] = '\0';
    e->len = len;
    e->rcv = rcv;
    e->created_ns = vg_now_ns();
    pthread_mutex_lock(&ob->mu);
    uint64_t seq = ob->seq++, rnd = next_rand(ob);
    pthread_mutex_unlock(&ob->mu);
    snprintf(e->id, sizeof e->id, "%016" PRIx64 "-%04" PRIx64 "-%08" PRIx64,
             (uint64_t)e->created_ns, seq & 0xffff, rnd >> 32);
    size_t flen;
    char *s = serialize(ob, e, 0, NULL, &flen), name[64];
    snprintf(name, sizeof name, "%s.msg", e->id);
    int rc = s ? vg__write_atomic(ob->dir, name, s, flen, err)
               : vg_error_set(err, VG_ENOMEM, "outbox: out of memory");
    vg_free(s);
    if (rc != VG_OK) {
        entry_free(e);
        return rc;
    }
    pthread_mutex_lock(&ob->mu);
    for (entry_t *o = ob->head, *nx; replace_key && o; o = nx) {
        nx = o->next;
        if (o->rcv == rcv && !o->in_flight && o->replace_key && !strcmp(o->replace_key, replace_key)) {
            remove_file(ob, o);
            unlink_entry(ob, o);
            entry_free(o);
        }
    }
    append_entry(ob, e);
    ob->st.queued++;
    pthread_mutex_unlock(&ob->mu);
    curl_multi_wakeup(ob->multi);
    return VG_OK;
}

int vg__outbox_drain(vg_outbox_t *ob, int64_t timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t t = (int64_t)dl.tv_sec * VG_NS_PER_SEC + dl.tv_nsec + timeout_ms * 1000000;
    dl.tv_sec = (time_t)(t / VG_NS_PER_SEC);
    dl.tv_nsec = (long)(t % VG_NS_PER_SEC);
    pthread_mutex_lock(&ob->mu);
    while (ob->st.pending > 0 && pthread_cond_timedwait(&ob->idle, &ob->mu, &dl) != ETIMEDOUT)
        ;
    int left = (int)ob->st.pending;
    pthread_mutex_unlock(&ob->mu);
    return left;
}

void vg__outbox_stats(vg_outbox_t *ob, vg_notify_stats_t *out)
{
    pthread_mutex_lock(&ob->mu);
    *out = ob->st;
    pthread_mutex_unlock(&ob->mu);
}

void vg__outbox_set_backoff(vg_outbox_t *ob, int64_t base_ns, int64_t cap_ns)
{
    pthread_mutex_lock(&ob->mu);
    ob->base_ns = base_ns;
    ob->cap_ns = cap_ns;
    for (size_t r = 0; r < ob->nrcv; r++)
        ob->rs[r].next_ns = 0; /* waits computed with the old values end now */
    pthread_mutex_unlock(&ob->mu);
    curl_multi_wakeup(ob->multi);
}

void vg__outbox_pause(vg_outbox_t *ob, int paused)
{
    pthread_mutex_lock(&ob->mu);
    ob->paused = paused;
    pthread_mutex_unlock(&ob->mu);
    curl_multi_wakeup(ob->multi);
}

static int make_dirs(vg_outbox_t *ob, const char *dir, vg_error_t *err)
{
    ob->dir = vg_strdup(dir);
    size_t l = strlen(dir);
    ob->dead_dir = vg_malloc(l + 6);
    if (!ob->dir || !ob->dead_dir)
        return vg_error_set(err, VG_ENOMEM, "outbox: out of memory");
    snprintf(ob->dead_dir, l + 6, "%s/dead", dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) ||
        (mkdir(ob->dead_dir, 0755) != 0 && errno != EEXIST))
        return vg_error_sys(err, VG_EIO, errno, "outbox: creating %s", ob->dead_dir);
    return VG_OK;
}

static int init_sync(vg_outbox_t *ob)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&ob->idle, &ca);
    pthread_condattr_destroy(&ca);
    return rc || pthread_mutex_init(&ob->mu, NULL);
}

int vg__outbox_open(const char *dir, const vg_receiver_t *rcv, size_t n, vg_notify_log_fn log,
                    void *log_ctx, vg_outbox_t **out, vg_error_t *err)
{
    vg__curl_init_once();
    vg_outbox_t *ob = vg_calloc(1, sizeof *ob);
    if (!ob)
        return vg_error_set(err, VG_ENOMEM, "outbox: out of memory");
    ob->rcv = rcv;
    ob->nrcv = n;
    ob->log = log;
    ob->log_ctx = log_ctx;
    ob->base_ns = VG_NS_PER_SEC;
    ob->cap_ns = 300 * VG_NS_PER_SEC;
    if (getrandom(&ob->rng, sizeof ob->rng, 0) != (ssize_t)sizeof ob->rng || !ob->rng)
        ob->rng = (uint64_t)mono_ns() | 1;
    ob->rs = vg_calloc(n ? n : 1, sizeof *ob->rs);
    int rc = ob->rs ? make_dirs(ob, dir, err) : vg_error_set(err, VG_ENOMEM, "outbox: out of memory");
    if (rc == VG_OK && init_sync(ob) != 0)
        rc = vg_error_set(err, VG_ENOMEM, "outbox: cannot create its lock");
    else if (rc == VG_OK)
        ob->started = -1; /* the lock exists */
    if (rc == VG_OK)
        rc = reload(ob, err);
    if (rc == VG_OK && !(ob->multi = curl_multi_init()))
        rc = vg_error_set(err, VG_ENOMEM, "outbox: cannot create a curl multi handle");
    if (rc == VG_OK && pthread_create(&ob->th, NULL, deliver_loop, ob) != 0)
        rc = vg_error_set(err, VG_ENOMEM, "outbox: cannot start the delivery thread");
    if (rc != VG_OK) {
        vg__outbox_close(ob);
        return rc;
    }
    ob->started = 1;
    *out = ob;
    return VG_OK;
}

void vg__outbox_close(vg_outbox_t *ob)
{
    if (!ob)
        return;
    if (ob->started == 1) {
        pthread_mutex_lock(&ob->mu);
        ob->stop = 1;
        pthread_mutex_unlock(&ob->mu);
        curl_multi_wakeup(ob->multi);
        pthread_join(ob->th, NULL);
    }
    if (ob->multi)
        curl_multi_cleanup(ob->multi);
    for (entry_t *e = ob->head, *nx; e; e = nx) {
        nx = e->next;
        entry_free(e);
    }
    if (ob->started) {
        pthread_mutex_destroy(&ob->mu);
        pthread_cond_destroy(&ob->idle);
    }
    vg_free(ob->rs);
    vg_free(ob->dir);
    vg_free(ob->dead_dir);
    vg_free(ob);
}
