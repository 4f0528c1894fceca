/*
 * remote.h: the `vigil` CLI's client of vigild's HTTP API (libcurl), one
 * function per endpoint. A base URL is "http://HOST:PORT" (a trailing '/'
 * is allowed); VIGIL_TOKEN, when set, is sent as "Authorization: Token <t>".
 *
 * Every function returns VG_OK when the server answered (whatever the
 * status: the caller decides what a 400 means for its command) and fills
 * resp; a transport failure (no server, refused, timeout, bad URL) is a
 * negative status with a message naming the URL.
 */
#ifndef VG_SERVER_REMOTE_H
#define VG_SERVER_REMOTE_H

#include <stddef.h>

#include "vigil/vigil.h"

/* Ownership: body is vg_malloc'd, NUL-terminated; free with vg_remote_resp_free. */
typedef struct vg_remote_resp {
    long status;
    char *body;
    size_t len;
    char url[512]; /* the URL asked, without its query string, for messages */
} vg_remote_resp_t;

void vg_remote_resp_free(vg_remote_resp_t *r);

/* POST /write?precision=p with body[0..len). precision may be NULL. */
int vg_remote_write(const char *base, const char *precision, const char *body, size_t len,
                    vg_remote_resp_t *resp, vg_error_t *err);
/* POST /api/v1/query with q, format (json|csv) and time (may be NULL) as a form. */
int vg_remote_query(const char *base, const char *q, const char *format, const char *at,
                    vg_remote_resp_t *resp, vg_error_t *err);
/* GET /api/v1/stats and /api/v1/schema. */
int vg_remote_stats(const char *base, vg_remote_resp_t *resp, vg_error_t *err);
int vg_remote_schema(const char *base, vg_remote_resp_t *resp, vg_error_t *err);
/* GET /api/v1/export?table=&since=&until=&format=; since, until, format may be NULL. */
int vg_remote_export(const char *base, const char *table, const char *since, const char *until,
                     const char *format, vg_remote_resp_t *resp, vg_error_t *err);

/* Any endpoint: method ("GET", "POST", "DELETE") on path, with a JSON body
 * (body may be NULL). For the alerting commands (vigil silence). */
int vg_remote_call(const char *base, const char *method, const char *path, const char *body,
                   size_t len, vg_remote_resp_t *resp, vg_error_t *err);

/*
 * The message for a reply that is not a success: the server's {"error":...}
 * when the body has one, else the body's first line, prefixed with the URL
 * and status, with a hint for 401. Writes into buf of cap bytes.
 */
void vg_remote_describe(const vg_remote_resp_t *resp, char *buf, size_t cap);

#endif
