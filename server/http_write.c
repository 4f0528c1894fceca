/*
 * http_write.c: POST /write (InfluxDB v1) and POST /api/v2/write (v2).
 *
 * One request body is one vg_db_write_lp batch: the reply comes after the
 * WAL sync, so a 204 (or the 400 of a partial write) means every good line
 * is durable as wal_sync says. A bad line never stops the good ones; it is
 * reported in InfluxDB 3's partial-write shape with the text of the line as
 * the client sent it. `db`, `org` and `bucket` are accepted and ignored:
 * Vigil has one namespace.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_int.h"

/* ------------------------------------------------------------- bodies
 * A POST body as it arrives (http.c hands over each piece): copied, or
 * inflated from gzip, never past `limit` decoded bytes, so that a gzip bomb
 * costs no more than the limit. No libmicrohttpd here: fuzz/fuzz_http_write.c
 * drives this very code with hostile bodies. */

int vg_http_body_start(vg_http_body_t *b, int gzip)
{
    memset(b, 0, sizeof *b);
    if (!gzip)
        return 0;
    if (inflateInit2(&b->z, 16 + MAX_WBITS) != Z_OK)
        return -1;
    b->gz = 1;
    return 0;
}

void vg_http_body_free(vg_http_body_t *b)
{
    if (b->gz)
        inflateEnd(&b->z);
    b->gz = 0;
}

static int body_grow(vg_http_req_t *r, size_t need, uint64_t limit)
{
    if (need <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 65536;
    while (cap < need)
        cap *= 2;
    if (cap > limit + 1)
        cap = (size_t)limit + 1;
    if (cap < need)
        return -1;
    char *nb = vg_realloc(r->body, cap);
    if (!nb)
        return -1;
    r->body = nb;
    r->cap = cap;
    return 0;
}

static void body_drop(vg_http_req_t *r)
{
    vg_free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
}

static void take_plain(vg_http_req_t *r, vg_http_body_t *b, const char *p, size_t n,
                       uint64_t limit)
{
    if (r->len + n > limit || body_grow(r, r->len + n, limit) != 0) {
        b->too_big = 1;
        body_drop(r);
        return;
    }
    memcpy(r->body + r->len, p, n);
    r->len += n;
}

static void take_gzip(vg_http_req_t *r, vg_http_body_t *b, const char *p, size_t n,
                      uint64_t limit)
{
    b->z.next_in = (Bytef *)(uintptr_t)p;
    b->z.avail_in = (uInt)n;
    while (b->z.avail_in > 0) {
        if (b->gz_end) { /* another gzip member follows (gzip a b > c) */
            inflateReset(&b->z);
            b->gz_end = 0;
        }
        if (r->len == r->cap && body_grow(r, r->len + 1, limit) != 0) {
            b->too_big = 1;
            body_drop(r);
            return;
        }
        b->z.next_out = (Bytef *)r->body + r->len;
        b->z.avail_out = (uInt)(r->cap - r->len);
        int zr = inflate(&b->z, Z_NO_FLUSH);
        r->len = r->cap - b->z.avail_out;
        if (zr == Z_STREAM_END) {
            b->gz_end = 1;
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && b->z.avail_out == 0)) {
            snprintf(b->bad, sizeof b->bad, "invalid gzip body: %s",
                     b->z.msg ? b->z.msg : "inflate failed");
            body_drop(r);
            return;
        }
        if (r->len > limit) {
            b->too_big = 1;
            body_drop(r);
            return;
        }
    }
}

void vg_http_body_take(vg_http_req_t *r, vg_http_body_t *b, const char *p, size_t n,
                       uint64_t limit)
{
    if (b->too_big || b->bad[0])
        return; /* drain: the answer is already known */
    if (b->gz)
        take_gzip(r, b, p, n, limit);
    else
        take_plain(r, b, p, n, limit);
}

unsigned vg_http_body_end(vg_http_req_t *r, vg_http_body_t *b, uint64_t limit, char *why,
                          size_t cap)
{
    if (b->too_big) {
        snprintf(why, cap, "request body is over the limit of %llu bytes after decompression "
                           "(max-body)", (unsigned long long)limit);
        return 413;
    }
    if (b->bad[0]) {
        snprintf(why, cap, "%s", b->bad);
        return 400;
    }
    if (b->gz && !b->gz_end) {
        snprintf(why, cap, "invalid gzip body: truncated");
        return 400;
    }
    if (body_grow(r, r->len + 1, r->len + 1) != 0) {
        snprintf(why, cap, "out of memory");
        return 500;
    }
    r->body[r->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------- /write */

/* The reply quotes at most this much of a rejected line. */
#define ORIGINAL_LINE_MAX 4096

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Walks the body's lines once for errors given in ascending line order;
 * rewinds when an error comes out of order. */
typedef struct line_cursor {
    const char *buf;
    size_t len, off; /* off: start of line `no` */
    uint64_t no;
} line_cursor_t;

static int line_find(line_cursor_t *c, uint64_t want, const char **p, size_t *n)
{
    if (want < c->no) {
        c->no = 1;
        c->off = 0;
    }
    while (c->no < want) {
        const char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
        if (!nl)
            return -1;
        c->off = (size_t)(nl - c->buf) + 1;
        c->no++;
    }
    const char *s = c->buf + c->off;
    const char *nl = memchr(s, '\n', c->len - c->off);
    size_t l = nl ? (size_t)(nl - s) : c->len - c->off;
    if (l && s[l - 1] == '\r')
        l--;
    *p = s;
    *n = l < ORIGINAL_LINE_MAX ? l : ORIGINAL_LINE_MAX;
    return 0;
}

json_t *vg_http_write_partial(const char *body, size_t len, const vg_write_result_t *res)
{
    json_t *data = json_array();
    line_cursor_t cur = {body ? body : "", body ? len : 0, 0, 1};
    for (size_t i = 0; data && i < res->nerrors; i++) {
        const vg_line_error_t *e = &res->errors[i];
        const char *p = "";
        size_t n = 0;
        if (line_find(&cur, e->lineno, &p, &n) != 0) {
            p = "";
            n = 0;
        }
        char msg[260];
        snprintf(msg, sizeof msg, "%s (column %u)", e->reason, (unsigned)e->column);
        json_array_append_new(data, json_pack("{s:o,s:I,s:o}", "original_line",
                                              vg_http_json_str(p, n), "line_number",
                                              (json_int_t)e->lineno, "error_message",
                                              vg_http_json_str(msg, strlen(msg))));
    }
    if (res->rejected > res->nerrors) {
        char msg[160];
        snprintf(msg, sizeof msg, "%llu more rejected lines not listed",
                 (unsigned long long)(res->rejected - res->nerrors));
        json_array_append_new(data, json_pack("{s:s,s:I,s:s}", "original_line", "",
                                              "line_number", (json_int_t)0, "error_message", msg));
    }
    return json_pack("{s:s,s:o}", "error", "partial write of line protocol occurred", "data",
                     data ? data : json_array());
}

static unsigned batch_status(int rc)
{
    switch (rc) {
    case VG_ENOSPC: return 507;
    case VG_ELIMIT: return 413;
    case VG_EINVAL:
    case VG_EPARSE: return 400;
    default: return 500;
    }
}

enum MHD_Result vg_http_write(vg_http_req_t *r, int v2)
{
    vg_server_t *s = r->s;
    vg_write_opts_t o = {.precision = VG_PREC_NS, .first_lineno = 1, .max_errors = 1000};
    const char *prec = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "precision");
    if (prec && *prec && vg_lp_precision_parse(prec, !v2, &o.precision) != VG_OK)
        return vg_http_reply_error(r, 400, "invalid precision '%s' (use %s)", prec,
                                   v2 ? "ns, us, ms or s" : "n, ns, u, us, ms, s, m or h");
    uint64_t t0 = mono_ns();
    vg_write_result_t res = {0};
    vg_error_t err = {0};
    int rc = vg_db_write_lp(s->db, r->body ? r->body : "", r->len, &o, &res, &err);
    if (rc != VG_OK) {
        vg_write_result_free(&res);
        vg_metrics_add(&s->metrics.batches_failed[VG_PROTO_HTTP], 1);
        vg_log_limited(0x4857, "error", "http write of %zu bytes failed: %s", r->len, err.msg);
        return vg_http_reply_error(r, batch_status(rc), "%s", err.msg);
    }
    vg_metrics_ack(&s->metrics, mono_ns() - t0);
    vg_metrics_add(&s->metrics.rows_ingested[VG_PROTO_HTTP], res.rows);
    vg_metrics_add(&s->metrics.bytes_ingested[VG_PROTO_HTTP], res.bytes);
    enum MHD_Result mr;
    if (res.rejected) {
        vg_metrics_add(&s->metrics.lines_rejected[VG_PROTO_HTTP], res.rejected);
        if (res.nerrors)
            vg_log_limited(0x4858, "warn", "http write: %llu lines rejected, first at line %llu: %s",
                           (unsigned long long)res.rejected,
                           (unsigned long long)res.errors[0].lineno, res.errors[0].reason);
        mr = vg_http_reply_json(r, 400, vg_http_write_partial(r->body, r->len, &res));
    } else {
        mr = vg_http_reply(r, 204, NULL, NULL, 0);
    }
    vg_write_result_free(&res);
    return mr;
}
