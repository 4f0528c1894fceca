/*
 * http.c: vigild's HTTP API: the libmicrohttpd daemon, routing, tokens and
 * request bodies.
 *
 * One thread per connection (writes block until their WAL sync, so a slow
 * sync must not hold up other clients), at most cfg.http_conns of them, each
 * dropped after cfg.http_timeout_s of silence. A request is answered only
 * once its whole body is in; the body is held in memory, so its limit
 * (cfg.max_body) counts decoded bytes: a gzip body is inflated as it arrives
 * and refused with 413 as soon as it would pass the limit, so that a gzip
 * bomb never costs more than the limit. Requests refused before their body
 * (404, 405, 401, 413 by Content-Length, 415) are answered at once and MHD
 * closes the connection without reading the rest.
 */
#include <ctype.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <zlib.h>

#include "http_int.h"

struct vg_http {
    struct MHD_Daemon *d;
    vg_server_t *s;
};

enum { M_GET = 1, M_HEAD = 2, M_POST = 4, M_DELETE = 8 };
enum route_id { R_WRITE, R_WRITE2, R_PING, R_QUERY, R_INFLUXQL, R_SCHEMA, R_STATS,
                R_EXPORT, R_HEALTH, R_METRICS, R_ALERTS, R_RULES, R_SILENCES, R_SILENCE,
                R_RELOAD };

typedef struct route {
    const char *path;
    unsigned methods;
    int auth;
    enum route_id id;
    int prefix; /* the path is a prefix: /api/v2/silence/{id} */
} route_t;

static const route_t routes[] = {
    {"/write", M_POST, 1, R_WRITE},
    {"/api/v2/write", M_POST, 1, R_WRITE2},
    {"/ping", M_GET | M_HEAD, 0, R_PING},
    {"/api/v1/query", M_GET | M_POST, 1, R_QUERY},
    {"/query", M_GET | M_POST, 1, R_INFLUXQL},
    {"/api/v1/schema", M_GET, 1, R_SCHEMA},
    {"/api/v1/stats", M_GET, 1, R_STATS},
    {"/api/v1/export", M_GET, 1, R_EXPORT},
    {"/health", M_GET | M_HEAD, 0, R_HEALTH},
    {"/metrics", M_GET, 1, R_METRICS},
    {"/api/v1/alerts", M_GET, 1, R_ALERTS},
    {"/api/v1/rules", M_GET, 1, R_RULES},
    {"/api/v1/silences", M_GET | M_POST, 1, R_SILENCES},
    {"/api/v2/silences", M_GET | M_POST, 1, R_SILENCES},
    {"/api/v1/silence/", M_DELETE, 1, R_SILENCE, 1},
    {"/api/v2/silence/", M_DELETE, 1, R_SILENCE, 1},
    {"/-/reload", M_POST, 1, R_RELOAD},
};

/* A request in progress; r first so that handlers see only the public part. */
typedef struct conn_req {
    vg_http_req_t r;
    const route_t *route;
    vg_http_body_t in; /* the body as it arrives (http_write.c) */
    int answered;  /* a response was queued before the body */
} conn_req_t;

/* ------------------------------------------------------------ replies */

static enum MHD_Result queue(vg_http_req_t *r, unsigned status, const char *ctype,
                             struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result vg_http_reply(vg_http_req_t *r, unsigned status, const char *ctype,
                              const char *buf, size_t len)
{
    return queue(r, status, ctype,
                 MHD_create_response_from_buffer(len, (void *)(buf ? buf : ""),
                                                 MHD_RESPMEM_MUST_COPY));
}

enum MHD_Result vg_http_reply_libc(vg_http_req_t *r, unsigned status, const char *ctype,
                                   char *buf, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(buf);
    return queue(r, status, ctype, resp);
}

enum MHD_Result vg_http_reply_json(vg_http_req_t *r, unsigned status, json_t *j)
{
    /* json_dumpb twice rather than json_dumps: the bytes then come from our
     * allocator whatever jansson was configured with. */
    size_t n = j ? json_dumpb(j, NULL, 0, JSON_COMPACT) : 0;
    char *buf = n ? vg_malloc(n + 1) : NULL;
    if (!buf) {
        json_decref(j);
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        return vg_http_reply(r, 500, "application/json", oom, sizeof oom - 1);
    }
    json_dumpb(j, buf, n, JSON_COMPACT);
    json_decref(j);
    buf[n] = '\n';
    enum MHD_Result rc = vg_http_reply(r, status, "application/json", buf, n + 1);
    vg_free(buf);
    return rc;
}

enum MHD_Result vg_http_reply_error(vg_http_req_t *r, unsigned status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vg_http_reply_json(r, status, json_pack("{s:o}", "error", vg_http_json_str(msg, strlen(msg))));
}

json_t *vg_http_json_str(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *copy = vg_malloc(n + 1);
    if (!copy)
        return json_null();
    /* Keep ASCII, replace the rest: the text is for a person reading an error. */
    for (size_t i = 0; i < n; i++)
        copy[i] = (s[i] > 0 && (unsigned char)s[i] < 0x80) ? s[i] : '?';
    j = json_stringn(copy, n);
    vg_free(copy);
    return j ? j : json_null();
}

/* ---------------------------------------------------------- arguments */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode a form value (p, n) into buf; returns buf. */
static const char *form_decode(const char *p, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        int hi, lo;
        if (p[i] == '+') {
            buf[o++] = ' ';
        } else if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
                   (lo = hexval(p[i + 2])) >= 0) {
            buf[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            buf[o++] = p[i];
        }
    }
    buf[o] = '\0';
    return buf;
}

static int is_form(vg_http_req_t *r)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

const char *vg_http_arg(vg_http_req_t *r, const char *name, char *buf, size_t cap)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v || !r->body || cap == 0 || !is_form(r))
        return v;
    size_t klen = strlen(name);
    const char *p = r->body, *end = r->body + r->len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > klen && memcmp(p, name, klen) == 0 && p[klen] == '=')
            return form_decode(p + klen + 1, (size_t)(e - p - (ptrdiff_t)klen - 1), buf, cap);
        p = e + 1;
    }
    return NULL;
}

/* ------------------------------------------------------------- bodies */

static void take(conn_req_t *q, const char *p, size_t n)
{
    vg_http_body_take(&q->r, &q->in, p, n, q->r.s->cfg.max_body);
}

/* ---------------------------------------------------------- requests */

static int authorized(vg_http_req_t *r)
{
    const char *tok = r->s->cfg.token;
    if (!tok || !*tok)
        return 1;
    const char *a = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a)
        return 0;
    if (strncasecmp(a, "Token ", 6) == 0)
        a += 6;
    else if (strncasecmp(a, "Bearer ", 7) == 0)
        a += 7;
    else
        return 0;
    while (*a == ' ')
        a++;
    size_t n = strlen(a);
    while (n && a[n - 1] == ' ')
        n--;
    return vg_srv_token_ok(r->s, a, n);
}

static unsigned method_bit(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return M_GET;
    if (strcmp(m, "HEAD") == 0)
        return M_HEAD;
    if (strcmp(m, "POST") == 0)
        return M_POST;
    if (strcmp(m, "DELETE") == 0)
        return M_DELETE;
    return 0;
}

static enum MHD_Result answer_early(conn_req_t *q, enum MHD_Result rc)
{
    q->answered = 1;
    return rc;
}

/* First call of a request: route, check method and token, set up the body. */
static enum MHD_Result begin(conn_req_t *q, const char *url, const char *method)
{
    vg_http_req_t *r = &q->r;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].prefix ? strncmp(url, routes[i].path, strlen(routes[i].path)) == 0
                             : strcmp(url, routes[i].path) == 0)
            q->route = &routes[i];
    if (!q->route)
        return answer_early(q, vg_http_reply_error(r, 404, "no such endpoint: %s", url));
    if (!(method_bit(method) & q->route->methods)) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                    q->route->methods & M_DELETE ? "DELETE"
                                    : q->route->methods & M_POST
                                        ? (q->route->methods & M_GET ? "GET, POST" : "POST")
                                        : "GET, HEAD");
        return answer_early(q, queue(r, 405, NULL, resp));
    }
    if (q->route->auth && !authorized(r))
        return answer_early(q, vg_http_reply_json(r, 401, json_pack("{s:s}", "error", "unauthorized")));
    if (strcmp(method, "POST") != 0)
        return MHD_YES;
    const char *ce = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (ce && strcasecmp(ce, "gzip") == 0) {
        if (vg_http_body_start(&q->in, 1) != 0)
            return answer_early(q, vg_http_reply_error(r, 500, "cannot start gzip decoding"));
    } else if (ce && strcasecmp(ce, "identity") != 0) {
        return answer_early(q, vg_http_reply_error(r, 415, "unsupported Content-Encoding: %s "
                                                           "(gzip and identity are)", ce));
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!q->in.gz && cl && strtoull(cl, NULL, 10) > r->s->cfg.max_body)
        return answer_early(q, vg_http_reply_error(r, 413, "request body is over the limit of %llu "
                                                           "bytes (max-body)",
                                                   (unsigned long long)r->s->cfg.max_body));
    return MHD_YES;
}

static enum MHD_Result dispatch(conn_req_t *q)
{
    vg_http_req_t *r = &q->r;
    switch (q->route->id) {
    case R_WRITE: return vg_http_write(r, 0);
    case R_WRITE2: return vg_http_write(r, 1);
    case R_PING: return vg_http_reply(r, 204, NULL, NULL, 0);
    case R_QUERY: return vg_http_query(r);
    case R_INFLUXQL: return vg_http_influxql(r);
    case R_SCHEMA: return vg_http_schema(r);
    case R_STATS: return vg_http_stats(r);
    case R_EXPORT: return vg_http_export(r);
    case R_HEALTH: return vg_http_health(r);
    case R_METRICS: return vg_http_metrics(r);
    case R_ALERTS: return vg_http_alerts(r);
    case R_RULES: return vg_http_rules(r);
    case R_SILENCES: return vg_http_silences(r);
    case R_SILENCE: return vg_http_silence_delete(r);
    case R_RELOAD: return vg_http_reload(r);
    }
    return MHD_NO;
}

/* Last call of a request: the body is in; answer. */
static enum MHD_Result finish(conn_req_t *q)
{
    vg_http_req_t *r = &q->r;
    char why[300];
    unsigned st = vg_http_body_end(r, &q->in, r->s->cfg.max_body, why, sizeof why);
    if (st)
        return vg_http_reply_error(r, st, "%s", why);
    return dispatch(q);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    vg_http_t *h = cls;
    conn_req_t *q = *con_cls;
    if (!q) {
        q = vg_calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->r.s = h->s;
        q->r.conn = c;
        q->r.method = method;
        q->r.url = url;
        *con_cls = q;
        return begin(q, url, method);
    }
    if (*upload_size) {
        if (!q->answered)
            take(q, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    return q->answered ? MHD_YES : finish(q);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    conn_req_t *q = *con_cls;
    if (!q)
        return;
    if (why == MHD_REQUEST_TERMINATED_COMPLETED_OK && q->route && q->route->id <= R_WRITE2)
        vg_db_crash_point(q->r.s->db, "http.ack_sent"); /* a /write answer was sent */
    vg_http_body_free(&q->in);
    vg_free(q->r.body);
    vg_free(q);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)c, (void)socket_context;
    vg_http_t *h = cls;
    /* Unsigned wrap-around turns the add of UINT64_MAX into a decrement. */
    vg_metrics_add(&h->s->metrics.conns_open[VG_PROTO_HTTP],
                   code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : UINT64_MAX);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    vg_log_limited(0x4854, "warn", "http: %s", msg);
}

/* "127.0.0.1:7070", "[::1]:7070" or "localhost:0" into *ss. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen,
                      char *err, size_t errcap)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hl == 0 || hl >= sizeof host || !colon[1]) {
        snprintf(err, errcap, "bad HTTP address '%s' (want ADDR:PORT)", addr);
        return VG_EINVAL;
    }
    if (h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, errcap, "bad HTTP address '%s': %s", addr, gai_strerror(rc));
        return VG_EINVAL;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sslen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return VG_OK;
}

int vg_http_start(vg_server_t *s, vg_http_t **out, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    *out = NULL;
    int rc = parse_addr(s->cfg.http_addr ? s->cfg.http_addr : "127.0.0.1:7070", &ss, &sslen,
                        err, errcap);
    if (rc != VG_OK)
        return rc;
    vg_http_t *h = vg_calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errcap, "out of memory starting the HTTP server");
        return VG_ENOMEM;
    }
    h->s = s;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->cfg.http_conns ? s->cfg.http_conns : 256),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->cfg.http_timeout_s ? s->cfg.http_timeout_s : 30),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errcap, "cannot listen for HTTP on %s (in use, or not an address of this "
                              "machine?)", s->cfg.http_addr ? s->cfg.http_addr : "127.0.0.1:7070");
        vg_free(h);
        return VG_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    s->http_port = di ? di->port : 0;
    *out = h;
    return VG_OK;
}

void vg_http_stop(vg_http_t *h)
{
    if (!h)
        return;
    /* Joins every connection thread: writes in flight finish and are answered. */
    MHD_stop_daemon(h->d);
    vg_free(h);
}
