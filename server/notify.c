/*
 * notify.c: alerts into notifications, as Alertmanager groups them, and the
 * Alertmanager receiver's resends as Prometheus makes them.
 *
 * A group is (receiver, values of its group_by labels); its key is
 * Alertmanager's `{}:{alertname="X"}`. Timers, in the caller's clock (now_ns
 * may be simulated):
 *   - a new group flushes group_wait after its first alert;
 *   - then every group_interval; a flush sends when the group changed since
 *     the last notification (new firing alerts; resolved alerts, with
 *     send_resolved) or when repeat_interval has passed (AM's DedupStage);
 *   - resolved alerts leave the group after the flush that saw them; a group
 *     with no alert left is dropped, unless its alerts only went silent
 *     (silenced, or their rule stopped pushing them): it is then kept, to
 *     not re-send them as new, until repeat_interval has passed.
 *   - a firing alert not pushed again for 4 * max(every, 1m) counts as
 *     resolved then, as Alertmanager treats Prometheus's endsAt.
 * What was last sent per group and when is saved in DIR/groups.json after
 * each tick that sent something, after the outbox entry is durable (a crash
 * in between re-sends, never loses), so a restart resumes the timers.
 *
 * Locking: one mutex over everything here; the outbox has its own.
 */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify_int.h"
#include "vigil/vg_alloc.h"

#define STATE_FILE "groups.json"
#define AM_RESEND_NS (60 * VG_NS_PER_SEC)
#define AM_FORGET_NS (3600 * VG_NS_PER_SEC)

typedef struct galert {
    vg_alert_t a;
    int64_t last_push_ns;
} galert_t;

typedef struct group {
    size_t rcv;
    char *key; /* the payload's groupKey */
    vg_label_t *glabels;
    size_t nglabels;
    galert_t *alerts;
    size_t n, cap;
    int64_t next_flush_ns, last_sent_ns;
    int notified; /* a notification went out (or was restored) */
    uint64_t *sent_firing, *sent_resolved;
    size_t nsf, nsr;
} group_t;

typedef struct am_sent {
    size_t rcv;
    uint64_t fp;
    int64_t at;
} am_sent_t;

struct vg_notifier {
    pthread_mutex_t mu;
    vg_receiver_t *rcv;
    size_t nrcv;
    char *dir, *external_url;
    group_t **groups;
    size_t ngroups, capgroups;
    am_sent_t *am;
    size_t nam, capam;
    vg_outbox_t *ob;
    void (*on_queue)(void *ctx, const char *receiver, const char *json);
    void *on_queue_ctx;
    vg_notify_log_fn log;
    void *log_ctx;
    int state_dirty;
};

static void nlog(vg_notifier_t *n, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void nlog(vg_notifier_t *n, const char *level, const char *fmt, ...)
{
    if (!n->log)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n->log(n->log_ctx, level, msg);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *np = vg_realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* ---- groups ---- */

static void labels_free(vg_label_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vg_free(l[i].name);
        vg_free(l[i].value);
    }
    vg_free(l);
}

static void group_free(group_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        vg_alert_clear(&g->alerts[i].a);
    vg_free(g->alerts);
    labels_free(g->glabels, g->nglabels);
    vg_free(g->key);
    vg_free(g->sent_firing);
    vg_free(g->sent_resolved);
    vg_free(g);
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const vg_label_t *)a)->name, ((const vg_label_t *)b)->name);
}

/* The group labels of a for receiver r: its group_by labels the alert has,
 * sorted by name. Ownership: *out is the caller's (labels_free). */
static int group_labels(const vg_receiver_t *r, const vg_alert_t *a, vg_label_t **out, size_t *nout)
{
    const char *dflt = "alertname";
    char *const *by = r->ngroup_by ? r->group_by : (char *const *)&dflt;
    size_t nby = r->ngroup_by ? r->ngroup_by : 1, k = 0;
    vg_label_t *l = vg_calloc(nby, sizeof *l);
    if (!l)
        return VG_ENOMEM;
    for (size_t i = 0; i < nby; i++)
        for (size_t j = 0; j < a->nlabels; j++)
            if (!strcmp(a->labels[j].name, by[i])) {
                vg_label_t *x = &l[k++];
                x->name = vg_strdup(a->labels[j].name);
                x->value = vg_strdup(a->labels[j].value ? a->labels[j].value : "");
                if (!x->name || !x->value) {
                    labels_free(l, k);
                    return VG_ENOMEM;
                }
                break;
            }
    qsort(l, k, sizeof *l, cmp_label);
    *out = l;
    *nout = k;
    return VG_OK;
}

static group_t *find_group(vg_notifier_t *n, size_t rcv, const char *key)
{
    for (size_t i = 0; i < n->ngroups; i++)
        if (n->groups[i]->rcv == rcv && !strcmp(n->groups[i]->key, key))
            return n->groups[i];
    return NULL;
}

/* A new, empty group; takes l (also on failure). */
static group_t *add_group(vg_notifier_t *n, size_t rcv, char *key, vg_label_t *l, size_t nl)
{
    group_t *g = vg_calloc(1, sizeof *g);
    if (!g || grow((void **)&n->groups, &n->capgroups, n->ngroups + 1, sizeof *n->groups)) {
        vg_free(g);
        vg_free(key);
        labels_free(l, nl);
        return NULL;
    }
    g->rcv = rcv;
    g->key = key;
    g->glabels = l;
    g->nglabels = nl;
    n->groups[n->ngroups++] = g;
    return g;
}

static void drop_group(vg_notifier_t *n, size_t i)
{
    if (n->groups[i]->notified)
        n->state_dirty = 1;
    group_free(n->groups[i]);
    n->groups[i] = n->groups[--n->ngroups];
}

static galert_t *find_alert(group_t *g, uint64_t fp)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->alerts[i].a.fingerprint == fp)
            return &g->alerts[i];
    return NULL;
}

static void remove_alert(group_t *g, galert_t *ga)
{
    vg_alert_clear(&ga->a);
    *ga = g->alerts[--g->n];
}

static int group_push(vg_notifier_t *n, size_t rcv, const vg_alert_t *a, int64_t now)
{
    vg_label_t *l;
    size_t nl;
    if (group_labels(&n->rcv[rcv], a, &l, &nl) != VG_OK)
        return VG_ENOMEM;
    char *key = vg__am_group_key(l, nl);
    group_t *g = key ? find_group(n, rcv, key) : NULL;
    if (g || !key || a->silenced) {
        vg_free(key);
        labels_free(l, nl);
        if (!key)
            return VG_ENOMEM;
    } else {
        if (!(g = add_group(n, rcv, key, l, nl)))
            return VG_ENOMEM;
        g->next_flush_ns = now + n->rcv[rcv].group_wait_ns;
    }
    if (!g)
        return VG_OK; /* silenced, and not in any group */
    galert_t *ga = find_alert(g, a->fingerprint);
    if (a->silenced) {
        if (ga) /* a muted alert leaves its group without a word */
            remove_alert(g, ga);
        return VG_OK;
    }
    vg_alert_t c;
    if (vg_alert_copy(&c, a) != VG_OK)
        return VG_ENOMEM;
    if (!ga) {
        if (grow((void **)&g->alerts, &g->cap, g->n + 1, sizeof *g->alerts)) {
            vg_alert_clear(&c);
            return VG_ENOMEM;
        }
        ga = &g->alerts[g->n++];
    } else {
        vg_alert_clear(&ga->a);
    }
    ga->a = c;
    ga->last_push_ns = now;
    return VG_OK;
}

/* ---- flushing ---- */

static int has_fp(const uint64_t *v, size_t n, uint64_t fp)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == fp)
            return 1;
    return 0;
}

static int cmp_alert_labels(const void *x, const void *y)
{
    const vg_alert_t *a = *(const vg_alert_t *const *)x, *b = *(const vg_alert_t *const *)y;
    for (size_t i = 0; i < a->nlabels && i < b->nlabels; i++) {
        int c = strcmp(a->labels[i].name, b->labels[i].name);
        if (!c)
            c = strcmp(a->labels[i].value ? a->labels[i].value : "",
                       b->labels[i].value ? b->labels[i].value : "");
        if (c)
            return c;
    }
    return (a->nlabels > b->nlabels) - (a->nlabels < b->nlabels);
}

/* Alertmanager's DedupStage.needsUpdate, with its notification_reason. */
static const char *why_send(const group_t *g, const vg_receiver_t *r, const vg_alert_t *const *v,
                            size_t nfiring, size_t nresolved, int64_t now)
{
    if (!g->notified)
        return nfiring ? "first notification" : NULL;
    for (size_t i = 0; i < nfiring; i++)
        if (!has_fp(g->sent_firing, g->nsf, v[i]->fingerprint))
            return "new alerts added";
    if (nfiring == 0)
        return g->nsf ? "all alerts resolved" : NULL;
    for (size_t i = 0; r->send_resolved && i < nresolved; i++)
        if (!has_fp(g->sent_resolved, g->nsr, v[nfiring + i]->fingerprint))
            return "some alerts resolved";
    return now - g->last_sent_ns >= r->repeat_interval_ns ? "repeat interval elapsed" : NULL;
}

static int set_fps(uint64_t **dst, size_t *nd, const vg_alert_t *const *v, size_t k)
{
    uint64_t *f = vg_malloc((k ? k : 1) * sizeof *f);
    if (!f)
        return -1;
    for (size_t i = 0; i < k; i++)
        f[i] = v[i]->fingerprint;
    vg_free(*dst);
    *dst = f;
    *nd = k;
    return 0;
}

static int queue(vg_notifier_t *n, size_t rcv, const char *body, const char *replace_key)
{
    vg_error_t err;
    int rc = vg__outbox_put(n->ob, rcv, body, strlen(body), replace_key, &err);
    if (rc != VG_OK) {
        nlog(n, "error", "notify %s: cannot queue a notification: %s", n->rcv[rcv].name, err.msg);
        return rc;
    }
    if (n->on_queue)
        n->on_queue(n->on_queue_ctx, n->rcv[rcv].name, body);
    return VG_OK;
}

static int send_group(vg_notifier_t *n, group_t *g, const vg_alert_t *const *v, size_t count,
                      size_t nfiring, const char *reason)
{
    vg_am_group_view_t view = {.receiver = n->rcv[g->rcv].name, .group_key = g->key,
                               .status = nfiring ? "firing" : "resolved", .reason = reason,
                               .external_url = n->external_url, .group_labels = g->glabels,
                               .ngroup_labels = g->nglabels, .alerts = v, .nalerts = count};
    vg_error_t err;
    char *body = vg__am_webhook_body(&view, &err);
    if (!body)
        return VG_ENOMEM;
    int rc = queue(n, g->rcv, body, NULL);
    vg_free(body);
    return rc;
}

/* Firing alerts first, then resolved ones, each sorted by labels.
 * Ownership: *out is the caller's (vg_free); the alerts stay g's. */
static int split(const group_t *g, const vg_alert_t ***out, size_t *nfiring)
{
    const vg_alert_t **v = vg_malloc((g->n ? g->n : 1) * sizeof *v);
    if (!v)
        return VG_ENOMEM;
    size_t f = 0, k = g->n;
    for (size_t i = 0; i < g->n; i++)
        if (!g->alerts[i].a.ends_at)
            v[f++] = &g->alerts[i].a;
        else
            v[--k] = &g->alerts[i].a;
    qsort(v, f, sizeof *v, cmp_alert_labels);
    qsort(v + f, g->n - f, sizeof *v, cmp_alert_labels);
    *out = v;
    *nfiring = f;
    return VG_OK;
}

/* Alerts their rule stopped pushing resolve when Prometheus's endsAt would pass. */
static void expire_silent(group_t *g, int64_t now)
{
    for (size_t i = 0; i < g->n; i++) {
        vg_alert_t *a = &g->alerts[i].a;
        int64_t every = a->eval_interval_ns > AM_RESEND_NS ? a->eval_interval_ns : AM_RESEND_NS;
        if (!a->ends_at && now - g->alerts[i].last_push_ns > 4 * every)
            a->ends_at = g->alerts[i].last_push_ns + 4 * every;
    }
}

/* Flush group i; returns 1 when it was dropped. */
static int flush_group(vg_notifier_t *n, size_t i, int64_t now)
{
    group_t *g = n->groups[i];
    const vg_receiver_t *r = &n->rcv[g->rcv];
    g->next_flush_ns = now + r->group_interval_ns;
    if (g->n == 0) { /* silenced or restored: kept only to not re-send as new */
        if (!g->notified || now - g->last_sent_ns >= r->repeat_interval_ns) {
            drop_group(n, i);
            return 1;
        }
        return 0;
    }
    expire_silent(g, now);
    const vg_alert_t **v;
    size_t nf;
    if (split(g, &v, &nf) != VG_OK)
        return 0;
    size_t nres = g->n - nf, nsend = nf + (r->send_resolved ? nres : 0);
    const char *reason = why_send(g, r, v, nf, nres, now);
    int ok = 1;
    if (reason && nsend)
        ok = send_group(n, g, v, nsend, nf, reason) == VG_OK;
    if (ok && reason) {
        if (set_fps(&g->sent_firing, &g->nsf, v, nf) == 0 &&
            set_fps(&g->sent_resolved, &g->nsr, v + nf, r->send_resolved ? nres : 0) == 0) {
            g->notified = 1;
            g->last_sent_ns = now;
            n->state_dirty = 1;
        }
    }
    vg_free(v);
    if (!ok)
        return 0; /* keep everything: the next flush tries again */
    for (size_t k = g->n; k-- > 0;)
        if (g->alerts[k].a.ends_at)
            remove_alert(g, &g->alerts[k]);
    if (g->n == 0) {
        drop_group(n, i);
        return 1;
    }
    return 0;
}

/* ---- the alertmanager receiver ---- */

static am_sent_t *am_find(vg_notifier_t *n, size_t rcv, uint64_t fp)
{
    for (size_t i = 0; i < n->nam; i++)
        if (n->am[i].rcv == rcv && n->am[i].fp == fp)
            return &n->am[i];
    return NULL;
}

/* Whether a goes into this push's post to receiver rcv (and note it). */
static int am_due(vg_notifier_t *n, size_t rcv, const vg_alert_t *a, int64_t now)
{
    am_sent_t *s = am_find(n, rcv, a->fingerprint);
    if (a->ends_at) { /* resolved: posted once, then forgotten */
        if (s)
            *s = n->am[--n->nam];
        return 1;
    }
    if (s && now - s->at < AM_RESEND_NS)
        return 0;
    if (!s) {
        if (grow((void **)&n->am, &n->capam, n->nam + 1, sizeof *n->am))
            return 1;
        s = &n->am[n->nam++];
        s->rcv = rcv;
        s->fp = a->fingerprint;
    }
    s->at = now;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* One post of v[0..k) to receiver rcv; a newer post of the same alerts
 * replaces it while it is undelivered. */
static int am_post(vg_notifier_t *n, size_t rcv, const vg_alert_t **v, size_t k, int64_t now)
{
    uint64_t *fps = vg_malloc(k * sizeof *fps), h = UINT64_C(14695981039346656037);
    if (!fps)
        return VG_ENOMEM;
    for (size_t i = 0; i < k; i++)
        fps[i] = v[i]->fingerprint;
    qsort(fps, k, sizeof *fps, cmp_u64);
    for (size_t i = 0; i < k; i++)
        h = (h ^ fps[i]) * UINT64_C(1099511628211);
    vg_free(fps);
    char key[40];
    snprintf(key, sizeof key, "am:%016" PRIx64, h);
    vg_error_t err;
    char *body = vg__am_alerts_body(v, k, now, &err);
    if (!body)
        return VG_ENOMEM;
    int rc = queue(n, rcv, body, key);
    vg_free(body);
    return rc;
}

static int wants(const vg_alert_t *a, const char *name)
{
    for (size_t i = 0; i < a->nreceivers; i++)
        if (a->receivers[i] && !strcmp(a->receivers[i], name))
            return 1;
    return 0;
}

static int am_push(vg_notifier_t *n, size_t rcv, const vg_alert_t *alerts, size_t count,
                   int64_t now)
{
    for (size_t i = 0; i < n->nam;) /* alerts whose rule went away */
        if (n->am[i].rcv == rcv && now - n->am[i].at > AM_FORGET_NS)
            n->am[i] = n->am[--n->nam];
        else
            i++;
    const vg_alert_t **v = vg_malloc((count ? count : 1) * sizeof *v);
    if (!v)
        return VG_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        if (!alerts[i].silenced && wants(&alerts[i], n->rcv[rcv].name) &&
            am_due(n, rcv, &alerts[i], now))
            v[k++] = &alerts[i];
    int rc = k ? am_post(n, rcv, v, k, now) : VG_OK;
    vg_free(v);
    return rc;
}

/* ---- the saved state ---- */

static json_t *fps_json(const uint64_t *v, size_t k)
{
    json_t *a = json_array();
    char hex[17];
    for (size_t i = 0; a && i < k; i++) {
        vg_alert_fingerprint_hex(v[i], hex);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

static json_t *group_json(const vg_notifier_t *n, const group_t *g)
{
    json_t *l = json_object();
    for (size_t i = 0; l && i < g->nglabels; i++)
        json_object_set_new(l, g->glabels[i].name, json_string(g->glabels[i].value));
    return json_pack("{s:s, s:s, s:o, s:I, s:I, s:o, s:o}", "receiver", n->rcv[g->rcv].name, "key",
                     g->key, "labels", l, "last_sent", (json_int_t)g->last_sent_ns, "next_flush",
                     (json_int_t)g->next_flush_ns, "firing", fps_json(g->sent_firing, g->nsf),
                     "resolved", fps_json(g->sent_resolved, g->nsr));
}

static int save_state(vg_notifier_t *n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n->ngroups; i++)
        if (n->groups[i]->notified)
            json_array_append_new(arr, group_json(n, n->groups[i]));
    json_t *root = json_pack("{s:i, s:o}", "version", 1, "groups", arr);
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    vg_error_t err;
    int rc = s ? vg__write_atomic(n->dir, STATE_FILE, s, strlen(s), &err)
               : vg_error_set(&err, VG_ENOMEM, "out of memory");
    free(s);
    if (rc != VG_OK)
        nlog(n, "error", "notify: cannot save the grouping state: %s", err.msg);
    else
        n->state_dirty = 0;
    return rc;
}

static int fps_load(json_t *a, uint64_t **out, size_t *k)
{
    size_t cnt = json_array_size(a);
    uint64_t *v = vg_malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < cnt; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        v[i] = s ? strtoull(s, NULL, 16) : 0;
    }
    *out = v;
    *k = cnt;
    return 0;
}

static size_t rcv_index(const vg_notifier_t *n, const char *name)
{
    for (size_t i = 0; name && i < n->nrcv; i++)
        if (!strcmp(n->rcv[i].name, name))
            return i;
    return SIZE_MAX;
}

static void restore_group(vg_notifier_t *n, json_t *o)
{
    size_t rcv = rcv_index(n, json_string_value(json_object_get(o, "receiver")));
    json_t *labels = json_object_get(o, "labels");
    if (rcv == SIZE_MAX || n->rcv[rcv].type != VG_RCV_WEBHOOK || !json_is_object(labels))
        return; /* a receiver since removed: its groups go with it */
    size_t nl = json_object_size(labels), k = 0;
    vg_label_t *l = vg_calloc(nl ? nl : 1, sizeof *l);
    const char *name;
    json_t *val;
    json_object_foreach(labels, name, val) {
        if (l && k < nl) {
            l[k].name = vg_strdup(name);
            l[k].value = vg_strdup(json_string_value(val) ? json_string_value(val) : "");
            k++;
        }
    }
    if (l)
        qsort(l, k, sizeof *l, cmp_label);
    char *key = l ? vg__am_group_key(l, k) : NULL;
    group_t *g = key && !find_group(n, rcv, key) ? add_group(n, rcv, key, l, k) : NULL;
    if (!g) {
        vg_free(key);
        if (l)
            labels_free(l, k);
        return;
    }
    g->notified = 1;
    g->last_sent_ns = json_integer_value(json_object_get(o, "last_sent"));
    g->next_flush_ns = json_integer_value(json_object_get(o, "next_flush"));
    if (fps_load(json_object_get(o, "firing"), &g->sent_firing, &g->nsf) ||
        fps_load(json_object_get(o, "resolved"), &g->sent_resolved, &g->nsr))
        drop_group(n, n->ngroups - 1);
}

static void load_state(vg_notifier_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" STATE_FILE, n->dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        if (access(path, F_OK) == 0)
            nlog(n, "error", "notify: %s unreadable (%s, line %d): groups start afresh", path,
                 je.text, je.line);
        return;
    }
    json_t *gs = json_object_get(root, "groups");
    for (size_t i = 0; i < json_array_size(gs); i++)
        restore_group(n, json_array_get(gs, i));
    json_decref(root);
}

/* ---- the API ---- */

static int receiver_copy(vg_receiver_t *d, const vg_receiver_t *s)
{
    *d = *s;
    d->name = vg_strdup(s->name ? s->name : "");
    d->url = vg_strdup(s->url ? s->url : "");
    d->hmac_secret = s->hmac_secret ? vg_strdup(s->hmac_secret) : NULL;
    d->group_by = s->ngroup_by ? vg_calloc(s->ngroup_by, sizeof *d->group_by) : NULL;
    d->ngroup_by = d->group_by ? s->ngroup_by : 0;
    int bad = !d->name || !d->url || (s->hmac_secret && !d->hmac_secret) ||
              (s->ngroup_by && !d->group_by);
    for (size_t i = 0; !bad && i < d->ngroup_by; i++)
        bad = !(d->group_by[i] = vg_strdup(s->group_by[i]));
    return bad ? VG_ENOMEM : VG_OK;
}

int vg_notifier_open(const char *dir, const vg_receiver_t *rcv, size_t nrcv, const char *external_url,
                     vg_notify_log_fn log, void *log_ctx, vg_notifier_t **out, vg_error_t *err)
{
    vg_notifier_t *n = vg_calloc(1, sizeof *n);
    if (!n || pthread_mutex_init(&n->mu, NULL) != 0) {
        vg_free(n);
        return vg_error_set(err, VG_ENOMEM, "notifier: out of memory");
    }
    n->log = log;
    n->log_ctx = log_ctx;
    n->rcv = vg_calloc(nrcv ? nrcv : 1, sizeof *n->rcv);
    n->dir = vg_strdup(dir);
    n->external_url = vg_strdup(external_url ? external_url : "");
    int rc = n->rcv && n->dir && n->external_url ? VG_OK : VG_ENOMEM;
    for (size_t i = 0; rc == VG_OK && i < nrcv; i++) {
        n->nrcv++; /* a partial copy holds only its own pointers: it is freed too */
        rc = receiver_copy(&n->rcv[i], &rcv[i]);
    }
    if (rc != VG_OK)
        vg_error_set(err, rc, "notifier: out of memory");
    else
        rc = vg__outbox_open(dir, n->rcv, n->nrcv, log, log_ctx, &n->ob, err);
    if (rc != VG_OK) {
        vg_notifier_close(n);
        return rc;
    }
    load_state(n);
    *out = n;
    return VG_OK;
}

int vg_notifier_push(vg_notifier_t *n, const vg_alert_t *alerts, size_t count, int64_t now_ns)
{
    int rc = VG_OK;
    pthread_mutex_lock(&n->mu);
    for (size_t r = 0; r < n->nrcv; r++) {
        if (n->rcv[r].type == VG_RCV_ALERTMANAGER) {
            int e = am_push(n, r, alerts, count, now_ns);
            rc = rc ? rc : e;
            continue;
        }
        for (size_t i = 0; i < count; i++) {
            if (!wants(&alerts[i], n->rcv[r].name))
                continue;
            int e = group_push(n, r, &alerts[i], now_ns);
            rc = rc ? rc : e;
        }
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int vg_notifier_tick(vg_notifier_t *n, int64_t now_ns)
{
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < n->ngroups;) {
        if (n->groups[i]->next_flush_ns <= now_ns && flush_group(n, i, now_ns))
            continue; /* dropped: another group moved into slot i */
        i++;
    }
    int rc = n->state_dirty ? save_state(n) : VG_OK;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int vg_notifier_drain(vg_notifier_t *n, int64_t timeout_ms)
{
    return vg__outbox_drain(n->ob, timeout_ms);
}

void vg_notifier_on_queue(vg_notifier_t *n,
                          void (*fn)(void *ctx, const char *receiver, const char *json), void *ctx)
{
    pthread_mutex_lock(&n->mu);
    n->on_queue = fn;
    n->on_queue_ctx = ctx;
    pthread_mutex_unlock(&n->mu);
}

void vg_notifier_stats(vg_notifier_t *n, vg_notify_stats_t *out)
{
    vg__outbox_stats(n->ob, out);
}

void vg_notifier_set_backoff(vg_notifier_t *n, int64_t base_ns, int64_t cap_ns)
{
    vg__outbox_set_backoff(n->ob, base_ns, cap_ns);
}

void vg_notifier_pause(vg_notifier_t *n, int paused)
{
    vg__outbox_pause(n->ob, paused);
}

void vg_notifier_close(vg_notifier_t *n)
{
    if (!n)
        return;
    vg__outbox_close(n->ob);
    if (n->state_dirty)
        save_state(n);
    for (size_t i = 0; i < n->ngroups; i++)
        group_free(n->groups[i]);
    vg_free(n->groups);
    vg_free(n->am);
    vg_receivers_free(n->rcv, n->nrcv);
    vg_free(n->dir);
    vg_free(n->external_url);
    pthread_mutex_destroy(&n->mu);
    vg_free(n);
}
