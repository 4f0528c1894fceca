/*
 * http_int.h: what the three files of vigild's HTTP API share: the state of
 * one request (its decoded body), the reply helpers and the handlers.
 *
 * http.c routes, authenticates and gathers the body (inflating gzip within
 * the body limit); http_write.c and http_read.c answer. Every handler is
 * called once per request with the complete body and must queue exactly one
 * response (through the vg_http_reply* helpers).
 */
#ifndef VG_SERVER_HTTP_INT_H
#define VG_SERVER_HTTP_INT_H

#include <microhttpd.h>
#include <jansson.h>
#include <stddef.h>
#include <zlib.h>

#include "srv.h"

/* One request. Ownership: body is vg_malloc'd and freed with the request. */
typedef struct vg_http_req {
    vg_server_t *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    char *body;      /* the decoded body, NUL-terminated once complete */
    size_t len, cap;
} vg_http_req_t;

/* Queue a reply; buf is copied. */
enum MHD_Result vg_http_reply(vg_http_req_t *r, unsigned status, const char *ctype,
                              const char *buf, size_t len);
/* Queue a reply taking a buffer malloc'd by libc (open_memstream, json_dumps). */
enum MHD_Result vg_http_reply_libc(vg_http_req_t *r, unsigned status, const char *ctype,
                                   char *buf, size_t len);
/* Queue a JSON reply; takes the reference to j. */
enum MHD_Result vg_http_reply_json(vg_http_req_t *r, unsigned status, json_t *j);
/* {"error": msg} with status. */
enum MHD_Result vg_http_reply_error(vg_http_req_t *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A URL argument, or for a form-encoded POST body, a field of it (decoded
 * into buf of cap bytes); NULL when absent. */
const char *vg_http_arg(vg_http_req_t *r, const char *name, char *buf, size_t cap);

/* A string jansson accepts: bytes that are not valid UTF-8 become '?'. */
json_t *vg_http_json_str(const char *s, size_t n);

/* A POST body being received (http_write.c): plain or gzip, within a limit
 * of decoded bytes. start, take each piece, end once (0: r->body is complete
 * and NUL-terminated; else an HTTP status and why), free always. */
typedef struct vg_http_body {
    z_stream z;
    int gz;        /* 1 while z is initialised */
    int gz_end;    /* the gzip stream ended (a later member may follow) */
    int too_big;
    char bad[200]; /* why the body is unusable (bad gzip) */
} vg_http_body_t;
int vg_http_body_start(vg_http_body_t *b, int gzip);
void vg_http_body_take(vg_http_req_t *r, vg_http_body_t *b, const char *p, size_t n,
                       uint64_t limit);
unsigned vg_http_body_end(vg_http_req_t *r, vg_http_body_t *b, uint64_t limit, char *why,
                          size_t cap);
void vg_http_body_free(vg_http_body_t *b);

/* The partial-write reply of /write: each rejected line quoted from body. */
struct vg_write_result;
json_t *vg_http_write_partial(const char *body, size_t len, const struct vg_write_result *res);

/* The handlers (http_write.c, http_read.c). */
enum MHD_Result vg_http_write(vg_http_req_t *r, int v2);
enum MHD_Result vg_http_query(vg_http_req_t *r);
enum MHD_Result vg_http_influxql(vg_http_req_t *r);
enum MHD_Result vg_http_schema(vg_http_req_t *r);
enum MHD_Result vg_http_stats(vg_http_req_t *r);
enum MHD_Result vg_http_export(vg_http_req_t *r);
enum MHD_Result vg_http_health(vg_http_req_t *r);
enum MHD_Result vg_http_metrics(vg_http_req_t *r);
/* The alerting endpoints (http_alerts.c). */
enum MHD_Result vg_http_alerts(vg_http_req_t *r);
enum MHD_Result vg_http_rules(vg_http_req_t *r);
enum MHD_Result vg_http_silences(vg_http_req_t *r);
enum MHD_Result vg_http_silence_delete(vg_http_req_t *r);
enum MHD_Result vg_http_reload(vg_http_req_t *r);

#endif
