/*
 * http_stubs.c: link seams for fuzz_http_write.c. The target compiles
 * server/http_write.c, whose pure parts (the body decoder and the
 * partial-write reply) it drives; the request handler beside them refers to
 * vigild's reply, metrics and log functions and to libmicrohttpd, which the
 * harness never calls. These stand-ins satisfy the linker; each one that
 * can be reached by mistake aborts, except vg_http_json_str, which the
 * partial-write reply uses and which copies http.c's behaviour.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static enum MHD_Result stub_unreached(const char *what)
{
    fprintf(stderr, "fuzz: %s reached: the harness must not call the handler\n", what);
    abort();
}

enum MHD_Result vg_http_reply(vg_http_req_t *r, unsigned status, const char *ctype, const char *buf,
                              size_t len)
{
    (void)r, (void)status, (void)ctype, (void)buf, (void)len;
    return stub_unreached("vg_http_reply");
}

enum MHD_Result vg_http_reply_json(vg_http_req_t *r, unsigned status, json_t *j)
{
    (void)r, (void)status;
    json_decref(j);
    return stub_unreached("vg_http_reply_json");
}

enum MHD_Result vg_http_reply_error(vg_http_req_t *r, unsigned status, const char *fmt, ...)
{
    (void)r, (void)status, (void)fmt;
    return stub_unreached("vg_http_reply_error");
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                                        const char *key)
{
    (void)connection, (void)kind, (void)key;
    stub_unreached("MHD_lookup_connection_value");
    return NULL;
}

void vg_metrics_add(uint64_t *counter, uint64_t n)
{
    *counter += n;
}

void vg_metrics_ack(vg_metrics_t *m, uint64_t ns)
{
    m->ack_count++;
    m->ack_ns_sum += ns;
}

void vg_log_limited(int key, const char *level, const char *fmt, ...)
{
    (void)key, (void)level, (void)fmt;
}

/* As http.c: jansson's string, or with every non-ASCII byte as '?'. */
json_t *vg_http_json_str(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *copy = malloc(n + 1);
    if (!copy)
        return json_null();
    for (size_t i = 0; i < n; i++)
        copy[i] = (s[i] > 0 && (unsigned char)s[i] < 0x80) ? s[i] : '?';
    j = json_stringn(copy, n);
    free(copy);
    return j ? j : json_null();
}
