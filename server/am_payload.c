/*
 * am_payload.c: the JSON bodies the notifier sends, built with jansson:
 *   - the Alertmanager webhook v4 payload (notify/webhook/webhook.go and
 *     template.Data), so that receivers written for Alertmanager work
 *     unchanged; Vigil adds a `vigil` key per alert (its diagnosis) and at
 *     the top (the first alert's);
 *   - the array of postable alerts of Alertmanager's API v2 (/api/v2/alerts),
 *     with endsAt four evaluation intervals ahead, as Prometheus sends it.
 * Times are RFC 3339 in UTC as Go prints them (RFC3339Nano).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify_int.h"
#include "vigil/vg_alloc.h"

void vg__rfc3339(int64_t ns, char out[40])
{
    if (ns == 0) {
        strcpy(out, "0001-01-01T00:00:00Z");
        return;
    }
    int64_t sec = ns / VG_NS_PER_SEC, frac = ns % VG_NS_PER_SEC;
    if (frac < 0) {
        frac += VG_NS_PER_SEC;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        char f[16];
        snprintf(f, sizeof f, ".%09" PRId64, frac);
        size_t fl = strlen(f);
        while (fl > 1 && f[fl - 1] == '0') /* frac != 0: stops at a digit */
            f[--fl] = '\0';
        memcpy(out + k, f, fl + 1);
        k += fl;
    }
    strcpy(out + k, "Z");
}

/* Go's %q for the label values that reach a group key: quotes and
 * backslashes escaped, control bytes as \xNN. */
static size_t quote_len(const char *s)
{
    size_t n = 2;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p == '"' || *p == '\\' || *p == '\n' || *p == '\t') ? 2 : *p < 0x20 ? 4 : 1;
    return n;
}

static char *quote_into(char *o, const char *s)
{
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p == '\n' || *p == '\t') {
            *o++ = '\\';
            *o++ = *p == '\n' ? 'n' : 't';
        } else if (*p < 0x20) {
            o += sprintf(o, "\\x%02x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    return o;
}

char *vg__am_group_key(const vg_label_t *labels, size_t n)
{
    size_t len = sizeof "{}:{}";
    for (size_t i = 0; i < n; i++)
        len += strlen(labels[i].name) + 1 + quote_len(labels[i].value) + 2;
    char *k = vg_malloc(len), *o = k;
    if (!k)
        return NULL;
    memcpy(o, "{}:{", 4);
    o += 4;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            *o++ = ',';
            *o++ = ' ';
        }
        size_t nl = strlen(labels[i].name);
        memcpy(o, labels[i].name, nl);
        o += nl;
        *o++ = '=';
        o = quote_into(o, labels[i].value);
    }
    *o++ = '}';
    *o = '\0';
    return k;
}

static json_t *labels_obj(const vg_label_t *l, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        if (json_object_set_new(o, l[i].name, json_string(l[i].value ? l[i].value : "")))
            break;
    return o;
}

/* Labels (or annotations) every alert has with the same value. */
static json_t *common_obj(const vg_alert_t *const *a, size_t n, int annotations)
{
    json_t *o = json_object();
    if (!o || n == 0)
        return o;
    const vg_label_t *first = annotations ? a[0]->annotations : a[0]->labels;
    size_t nfirst = annotations ? a[0]->nannotations : a[0]->nlabels;
    for (size_t i = 0; i < nfirst; i++) {
        int common = 1;
        for (size_t j = 1; common && j < n; j++) {
            const vg_label_t *l = annotations ? a[j]->annotations : a[j]->labels;
            size_t nl = annotations ? a[j]->nannotations : a[j]->nlabels;
            common = 0;
            for (size_t k = 0; k < nl; k++)
                if (!strcmp(l[k].name, first[i].name)) {
                    common = !strcmp(l[k].value ? l[k].value : "",
                                     first[i].value ? first[i].value : "");
                    break;
                }
        }
        if (common)
            json_object_set_new(o, first[i].name, json_string(first[i].value ? first[i].value : ""));
    }
    return o;
}

/* The alert's diagnosis as an object, or NULL when it has none (or it is not an object). */
static json_t *vigil_obj(const vg_alert_t *a)
{
    if (!a->vigil_json)
        return NULL;
    json_t *v = json_loads(a->vigil_json, JSON_DECODE_ANY, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static json_t *webhook_alert(const vg_alert_t *a, json_t *vigil)
{
    char starts[40], ends[40], fp[17];
    vg__rfc3339(a->starts_at, starts);
    vg__rfc3339(a->ends_at, ends);
    vg_alert_fingerprint_hex(a->fingerprint, fp);
    json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s}", "status",
                          a->ends_at ? "resolved" : "firing", "labels",
                          labels_obj(a->labels, a->nlabels), "annotations",
                          labels_obj(a->annotations, a->nannotations), "startsAt", starts,
                          "endsAt", ends, "generatorURL", a->generator_url ? a->generator_url : "",
                          "fingerprint", fp);
    if (o && vigil)
        json_object_set(o, "vigil", vigil);
    return o;
}

/* json_dumps allocates with malloc: hand the caller a vg_alloc copy. */
static char *dump(json_t *root, vg_error_t *err)
{
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    char *c = s ? vg_strdup(s) : NULL;
    free(s);
    if (!c)
        vg_error_set(err, VG_ENOMEM, "notification payload: out of memory");
    return c;
}

char *vg__am_webhook_body(const vg_am_group_view_t *g, vg_error_t *err)
{
    json_t *alerts = json_array(), *top_vigil = NULL;
    for (size_t i = 0; alerts && i < g->nalerts; i++) {
        json_t *v = vigil_obj(g->alerts[i]);
        json_array_append_new(alerts, webhook_alert(g->alerts[i], v));
        if (i == 0)
            top_vigil = v;
        else
            json_decref(v);
    }
    json_t *root = json_pack(
        "{s:s, s:s, s:i, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:o}", "version", "4", "groupKey",
        g->group_key, "truncatedAlerts", 0, "status", g->status, "receiver", g->receiver,
        "groupLabels", labels_obj(g->group_labels, g->ngroup_labels), "commonLabels",
        common_obj(g->alerts, g->nalerts, 0), "commonAnnotations",
        common_obj(g->alerts, g->nalerts, 1), "externalURL",
        g->external_url ? g->external_url : "", "notification_reason", g->reason, "alerts",
        alerts);
    if (root && top_vigil)
        json_object_set(root, "vigil", top_vigil);
    json_decref(top_vigil);
    return dump(root, err);
}

char *vg__am_alerts_body(const vg_alert_t *const *alerts, size_t n, int64_t now_ns,
                         vg_error_t *err)
{
    const int64_t minute = 60 * VG_NS_PER_SEC;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const vg_alert_t *a = alerts[i];
        int64_t every = a->eval_interval_ns > minute ? a->eval_interval_ns : minute;
        char starts[40], ends[40];
        vg__rfc3339(a->starts_at, starts);
        vg__rfc3339(a->ends_at ? a->ends_at : now_ns + 4 * every, ends);
        json_array_append_new(
            arr, json_pack("{s:o, s:o, s:s, s:s, s:s}", "labels", labels_obj(a->labels, a->nlabels),
                           "annotations", labels_obj(a->annotations, a->nannotations), "startsAt",
                           starts, "endsAt", ends, "generatorURL",
                           a->generator_url ? a->generator_url : ""));
    }
    return dump(arr, err);
}
