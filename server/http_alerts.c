/*
 * http_alerts.c: the alerting endpoints, in the shapes clients of
 * Prometheus and Alertmanager already read:
 *
 *   GET  /api/v1/alerts          {"status":"success","data":{"alerts":[...]}}
 *   GET  /api/v1/rules           {"status":"success","data":{"groups":[...]}}
 *   GET  /api/v2/silences        Alertmanager's list (also /api/v1/silences)
 *   POST /api/v2/silences        Alertmanager's silence body -> {"silenceID": id}
 *   DELETE /api/v2/silence/ID    expire it (also /api/v1/silence/ID)
 *   POST /-/reload               reload the runbooks; 500 with the problems when refused
 */
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "rules.h"

static enum MHD_Result reply_text(vg_http_req_t *r, int rc, char *text)
{
    if (rc != VG_OK || !text) {
        free(text);
        return vg_http_reply_error(r, 500, "out of memory");
    }
    return vg_http_reply_libc(r, 200, "application/json", text, strlen(text));
}

static enum MHD_Result empty(vg_http_req_t *r, const char *key)
{
    return vg_http_reply_json(r, 200, json_pack("{s:s,s:{s:[]}}", "status", "success", "data", key));
}

enum MHD_Result vg_http_alerts(vg_http_req_t *r)
{
    if (!r->s->rules)
        return empty(r, "alerts");
    char *text = NULL;
    int rc = vg_rules_alerts_json(r->s->rules, &text);
    return reply_text(r, rc, text);
}

enum MHD_Result vg_http_rules(vg_http_req_t *r)
{
    if (!r->s->rules)
        return empty(r, "groups");
    char *text = NULL;
    int rc = vg_rules_json(r->s->rules, &text);
    return reply_text(r, rc, text);
}

enum MHD_Result vg_http_silences(vg_http_req_t *r)
{
    if (!r->s->silences)
        return vg_http_reply_error(r, 503, "silences are not available");
    if (strcmp(r->method, "POST") != 0) {
        char *text = NULL;
        int rc = vg_silences_json(r->s->silences, vg_now_ns(), &text);
        return reply_text(r, rc, text);
    }
    char id[37];
    vg_error_t err = {0};
    int rc = vg_silences_add_json(r->s->silences, r->body, r->len, vg_now_ns(), id, &err);
    if (rc == VG_EIO || rc == VG_ENOSPC || rc == VG_ENOMEM)
        return vg_http_reply_error(r, 500, "%s", err.msg);
    if (rc != VG_OK)
        return vg_http_reply_error(r, 400, "%s", err.msg);
    vg_log("info", "silence %s created", id);
    return vg_http_reply_json(r, 200, json_pack("{s:s}", "silenceID", id));
}

enum MHD_Result vg_http_silence_delete(vg_http_req_t *r)
{
    const char *id = strrchr(r->url, '/');
    id = id ? id + 1 : "";
    vg_error_t err = {0};
    int rc = r->s->silences ? vg_silences_expire(r->s->silences, id, vg_now_ns(), &err)
                            : VG_ENOTFOUND;
    if (rc == VG_ENOTFOUND)
        return vg_http_reply_error(r, 404, "no silence with id '%s'", id);
    if (rc != VG_OK)
        return vg_http_reply_error(r, 500, "%s", err.msg);
    vg_log("info", "silence %s expired", id);
    return vg_http_reply(r, 200, NULL, NULL, 0);
}

enum MHD_Result vg_http_reload(vg_http_req_t *r)
{
    char err[2048];
    if (vg_srv_reload(r->s, err, sizeof err) != 0)
        return vg_http_reply_error(r, r->s->sched ? 500 : 400, "%s", err);
    return vg_http_reply(r, 200, NULL, NULL, 0);
}
