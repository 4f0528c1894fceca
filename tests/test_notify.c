/*
 * test_notify.c: notifications. Grouping against a fake clock (group_wait,
 * group_interval, repeat_interval, send_resolved, group_by, silences, a
 * restart), the payload's Alertmanager shape, the HMAC against Python's
 * hmac module, the receivers of the config file, and delivery from the
 * outbox to tests/e2e/hook_receiver.py answering 200, 5xx, 429, 400,
 * hanging, down then up, and next to a receiver that is down.
 *
 * The receiver is found through $VG_SRC, else next to this source file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "notify_int.h"
#include "vigil/vg_alloc.h"

#define SEC VG_NS_PER_SEC
#define MIN (60 * SEC)
/* 2023-11-14T22:13:20Z */
#define T0 (INT64_C(1700000000) * SEC)

/* ---- fixtures ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup_dir(void **state)
{
    const char *base = getenv("VG_TEST_TMP");
    char tmpl[4096];
    if (base)
        mkdir(base, 0755);
    snprintf(tmpl, sizeof tmpl, "%s/notify-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(strdup(tmpl));
    if (!d)
        return -1;
    *state = d;
    return 0;
}

static int teardown_dir(void **state)
{
    nftw(*state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return 0;
}

static char *path_in(const char *dir, const char *name)
{
    static char p[4][4096];
    static int k;
    k = (k + 1) & 3;
    int w = snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    assert_true(w > 0 && (size_t)w < sizeof p[k]);
    return p[k];
}

/* An alert whose strings live in the struct (push copies them). */
typedef struct talert {
    vg_label_t labels[3], ann[1];
    char *rcvs[3];
    vg_alert_t a;
} talert_t;

static void mk_alert(talert_t *t, const char *name, const char *route, int64_t starts,
                     const char *r1, const char *r2)
{
    memset(t, 0, sizeof *t);
    t->labels[0] = (vg_label_t){(char *)"alertname", (char *)name};
    t->labels[1] = (vg_label_t){(char *)"route", (char *)route};
    t->labels[2] = (vg_label_t){(char *)"severity", (char *)"page"};
    t->ann[0] = (vg_label_t){(char *)"summary", (char *)"refusals up"};
    t->rcvs[0] = (char *)r1;
    t->rcvs[1] = (char *)r2;
    t->a.labels = t->labels;
    t->a.nlabels = 3;
    t->a.annotations = t->ann;
    t->a.nannotations = 1;
    t->a.fingerprint = vg_alert_fingerprint(t->labels, 3);
    t->a.starts_at = starts;
    t->a.eval_interval_ns = 30 * SEC;
    t->a.value = 0.25;
    t->a.vigil_json = (char *)"{\"classification\":{\"class\":\"guardrail\"},\"runbook\":\"refusal-spike\"}";
    t->a.generator_url = (char *)"http://vigil:7070/rules";
    t->a.receivers = t->rcvs;
    t->a.nreceivers = r2 ? 2 : 1;
}

static vg_receiver_t mk_rcv(const char *name, const char *url)
{
    vg_receiver_t r;
    vg_receiver_default(&r);
    r.name = (char *)name;
    r.url = (char *)url;
    return r;
}

/* What on_queue saw, and at which (fake) time. */
typedef struct sent {
    char rcv[32];
    int64_t at;
    json_t *j;
} sent_t;

typedef struct capture {
    sent_t v[128];
    size_t n;
    int64_t now;
} capture_t;

static void on_queue(void *ctx, const char *receiver, const char *json)
{
    capture_t *c = ctx;
    assert_true(c->n < 128);
    snprintf(c->v[c->n].rcv, sizeof c->v[c->n].rcv, "%s", receiver);
    c->v[c->n].at = c->now;
    c->v[c->n].j = json_loads(json, 0, NULL);
    assert_non_null(c->v[c->n].j);
    c->n++;
}

static void capture_free(capture_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        json_decref(c->v[i].j);
    c->n = 0;
}

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static vg_notifier_t *open_paused(const char *dir, const vg_receiver_t *r, size_t n, capture_t *c)
{
    vg_notifier_t *nt = NULL;
    vg_error_t err;
    assert_int_equal(vg_notifier_open(dir, r, n, "http://vigil:7070", NULL, NULL, &nt, &err), VG_OK);
    vg_notifier_pause(nt, 1);
    vg_notifier_on_queue(nt, on_queue, c);
    return nt;
}

static void step(vg_notifier_t *nt, capture_t *c, const vg_alert_t *a, size_t n, int64_t now)
{
    c->now = now;
    if (n)
        assert_int_equal(vg_notifier_push(nt, a, n, now), VG_OK);
    assert_int_equal(vg_notifier_tick(nt, now), VG_OK);
}

/* ---- identity, times, signature ---- */

static void test_fingerprint_matches_fnv1a_reference(void **state)
{
    (void)state;
    /* /usr/bin/python3: h=14695981039346656037; for each byte of
     * "alertname\xffX\xffroute\xff/chat\xff": h=((h^b)*1099511628211)%2**64 */
    vg_label_t l[2] = {{(char *)"alertname", (char *)"X"}, {(char *)"route", (char *)"/chat"}};
    char hex[17];
    vg_alert_fingerprint_hex(vg_alert_fingerprint(l, 2), hex);
    assert_string_equal(hex, "a805728540b48cc4");
    vg_alert_fingerprint_hex(vg_alert_fingerprint(l, 0), hex);
    assert_string_equal(hex, "cbf29ce484222325");
}

static void test_alert_copy_is_deep(void **state)
{
    (void)state;
    talert_t t;
    mk_alert(&t, "X", "/chat", T0, "a", "b");
    vg_alert_t c;
    assert_int_equal(vg_alert_copy(&c, &t.a), VG_OK);
    assert_ptr_not_equal(c.labels, t.a.labels);
    assert_ptr_not_equal(c.labels[1].value, t.labels[1].value);
    assert_string_equal(c.labels[1].value, "/chat");
    assert_string_equal(c.receivers[1], "b");
    assert_string_equal(c.vigil_json, t.a.vigil_json);
    assert_int_equal(c.fingerprint, t.a.fingerprint);
    vg_alert_clear(&c);
    assert_null(c.labels);
}

static void test_rfc3339_prints_as_go_does(void **state)
{
    (void)state;
    char b[40];
    vg__rfc3339(T0, b);
    assert_string_equal(b, "2023-11-14T22:13:20Z");
    vg__rfc3339(T0 + 120000000, b);
    assert_string_equal(b, "2023-11-14T22:13:20.12Z");
    vg__rfc3339(0, b);
    assert_string_equal(b, "0001-01-01T00:00:00Z");
}

static void test_hmac_matches_independent_reference(void **state)
{
    (void)state;
    /* /usr/bin/python3 -c 'import hmac,hashlib; print(hmac.new(b"change-me",
     *   b"1700000000." + b"{\"version\":\"4\"}", hashlib.sha256).hexdigest())' */
    const char *body = "{\"version\":\"4\"}";
    char sig[65];
    assert_int_equal(vg__webhook_sign("change-me", "1700000000", body, strlen(body), sig), VG_OK);
    assert_string_equal(sig, "d51f3d0f4c300ea03da826d2ee46cbf93ba3ef58bf040b80c902ae24b07081f5");
}

/* ---- the config ---- */

static const char *write_file(const char *dir, const char *name, const char *text)
{
    const char *p = path_in(dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void test_receivers_load_reads_fields_and_defaults(void **state)
{
    const char *p = write_file(*state, "vigild.yaml",
                               "data: /var/lib/vigil\n"
                               "receivers:\n"
                               "  - name: oncall\n"
                               "    url: http://127.0.0.1:9000/hook\n"
                               "    hmac_secret: change-me\n"
                               "    timeout: 3s\n"
                               "    group_wait: 0s\n"
                               "    send_resolved: false\n"
                               "    group_by: [alertname, route]\n"
                               "  - name: am\n"
                               "    type: alertmanager\n"
                               "    url: http://127.0.0.1:9093\n");
    vg_receiver_t *r = NULL;
    size_t n = 0;
    vg_error_t err;
    assert_int_equal(vg_receivers_load(p, &r, &n, &err), VG_OK);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].name, "oncall");
    assert_int_equal(r[0].type, VG_RCV_WEBHOOK);
    assert_string_equal(r[0].hmac_secret, "change-me");
    assert_int_equal(r[0].timeout_ns, 3 * SEC);
    assert_int_equal(r[0].group_wait_ns, 0);
    assert_int_equal(r[0].group_interval_ns, 5 * MIN);
    assert_int_equal(r[0].repeat_interval_ns, 240 * MIN);
    assert_int_equal(r[0].max_retry_age_ns, 360 * MIN);
    assert_int_equal(r[0].send_resolved, 0);
    assert_int_equal(r[0].ngroup_by, 2);
    assert_string_equal(r[0].group_by[1], "route");
    assert_int_equal(r[1].type, VG_RCV_ALERTMANAGER);
    assert_null(r[1].hmac_secret);
    assert_int_equal(r[1].send_resolved, 1);
    assert_int_equal(r[1].group_wait_ns, 30 * SEC);
    assert_int_equal(r[1].ngroup_by, 1);
    assert_string_equal(r[1].group_by[0], "alertname");
    vg_receivers_free(r, n);
}

static void expect_load_error(const char *dir, const char *text, const char *where, const char *what)
{
    const char *p = write_file(dir, "bad.yaml", text);
    vg_receiver_t *r = NULL;
    size_t n = 0;
    vg_error_t err;
    assert_int_equal(vg_receivers_load(p, &r, &n, &err), VG_EPARSE);
    assert_null(r);
    char expect[4200];
    snprintf(expect, sizeof expect, "%s:%s: ", p, where);
    if (!strstr(err.msg, expect) || !strstr(err.msg, what))
        fail_msg("got '%s', want '%s' and '%s'", err.msg, expect, what);
}

static void test_receivers_load_reports_file_line_and_column(void **state)
{
    const char *head = "receivers:\n  - name: oncall\n";
    char t[512];
    snprintf(t, sizeof t, "%s    url: http://h/x\n    colour: red\n", head);
    expect_load_error(*state, t, "4:5", "unknown receiver key 'colour'");
    snprintf(t, sizeof t, "%s    url: http://h/x\n    group_wait: soon\n", head);
    expect_load_error(*state, t, "4:17", "'group_wait' must be a duration");
    expect_load_error(*state, head, "2:5", "needs a url");
    snprintf(t, sizeof t, "%s    url: http://h/x\n    type: pager\n", head);
    expect_load_error(*state, t, "4:11", "type 'pager'");
    snprintf(t, sizeof t, "%s    url: http://h/x\n  - name: oncall\n    url: http://h/y\n", head);
    expect_load_error(*state, t, "4:5", "defined twice");
    expect_load_error(*state, "receivers:\n  - name: a\n    url: [x\n", "4:1", "");
}

static void test_receivers_load_without_receivers_is_empty(void **state)
{
    const char *p = write_file(*state, "vigild.yaml", "data: /x\nhttp: 127.0.0.1:0\n");
    vg_receiver_t *r = (vg_receiver_t *)1;
    size_t n = 7;
    assert_int_equal(vg_receivers_load(p, &r, &n, NULL), VG_OK);
    assert_int_equal(n, 0);
    assert_null(r);
}

/* ---- grouping ---- */

/* The i-th notification to rcv, and how many rcv got in all. */
static const sent_t *nth(const capture_t *c, const char *rcv, size_t i, size_t *total)
{
    const sent_t *hit = NULL;
    size_t k = 0;
    for (size_t j = 0; j < c->n; j++)
        if (!strcmp(c->v[j].rcv, rcv) && k++ == i)
            hit = &c->v[j];
    if (total)
        *total = k;
    return hit;
}

static void expect_sent(const sent_t *s, int64_t at, const char *reason, const char *status,
                        size_t nalerts)
{
    assert_non_null(s);
    if (s->at != at)
        fail_msg("sent at T0%+.1fm, expected T0%+.1fm (%s)", (double)(s->at - T0) / MIN,
                 (double)(at - T0) / MIN, reason);
    assert_string_equal(sget(s->j, "notification_reason"), reason);
    assert_string_equal(sget(s->j, "status"), status);
    assert_int_equal(json_array_size(json_object_get(s->j, "alerts")), nalerts);
}

/*
 * Two receivers (send_resolved on and off), alert A from T0 and B from
 * T0+10m in one group, pushed every 30 s as the scheduler does; A resolves
 * at T0+80m, B at T0+90m, B fires again at T0+100m.
 */
static void test_group_timers_follow_alertmanager(void **state)
{
    vg_receiver_t r[2] = {mk_rcv("oncall", "http://127.0.0.1:1/"), mk_rcv("quiet", "http://127.0.0.1:1/")};
    for (int i = 0; i < 2; i++)
        r[i].repeat_interval_ns = 60 * MIN;
    r[1].send_resolved = 0;
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(*state, r, 2, c);
    talert_t a, b;
    mk_alert(&a, "X", "/chat", T0, "oncall", "quiet");
    mk_alert(&b, "X", "/search", T0 + 10 * MIN, "oncall", "quiet");
    for (int64_t t = T0; t <= T0 + 110 * MIN; t += 30 * SEC) {
        vg_alert_t v[2];
        size_t k = 0;
        if (t <= T0 + 80 * MIN) {
            v[k] = a.a;
            v[k++].ends_at = t == T0 + 80 * MIN ? t : 0;
        }
        if ((t >= T0 + 10 * MIN && t <= T0 + 90 * MIN) || t >= T0 + 100 * MIN) {
            v[k] = b.a;
            v[k].starts_at = t >= T0 + 100 * MIN ? T0 + 100 * MIN : b.a.starts_at;
            v[k++].ends_at = t == T0 + 90 * MIN ? t : 0;
        }
        step(nt, c, v, k, t);
    }
    size_t k;
    nth(c, "oncall", 0, &k);
    assert_int_equal(k, 6);
    expect_sent(nth(c, "oncall", 0, NULL), T0 + 30 * SEC, "first notification", "firing", 1);
    expect_sent(nth(c, "oncall", 1, NULL), T0 + 10 * MIN + 30 * SEC, "new alerts added", "firing", 2);
    expect_sent(nth(c, "oncall", 2, NULL), T0 + 70 * MIN + 30 * SEC, "repeat interval elapsed",
                "firing", 2);
    const sent_t *s = nth(c, "oncall", 3, NULL);
    expect_sent(s, T0 + 80 * MIN + 30 * SEC, "some alerts resolved", "firing", 2);
    json_t *al = json_object_get(s->j, "alerts");
    assert_string_equal(sget(json_array_get(al, 0), "status"), "firing");
    assert_string_equal(sget(json_array_get(al, 1), "status"), "resolved");
    expect_sent(nth(c, "oncall", 4, NULL), T0 + 90 * MIN + 30 * SEC, "all alerts resolved",
                "resolved", 1);
    /* the resolved group was dropped: B firing again is a new group */
    expect_sent(nth(c, "oncall", 5, NULL), T0 + 100 * MIN + 30 * SEC, "first notification",
                "firing", 1);

    /* send_resolved off: the same, without the two resolutions */
    nth(c, "quiet", 0, &k);
    assert_int_equal(k, 4);
    expect_sent(nth(c, "quiet", 0, NULL), T0 + 30 * SEC, "first notification", "firing", 1);
    expect_sent(nth(c, "quiet", 1, NULL), T0 + 10 * MIN + 30 * SEC, "new alerts added", "firing", 2);
    expect_sent(nth(c, "quiet", 2, NULL), T0 + 70 * MIN + 30 * SEC, "repeat interval elapsed",
                "firing", 2);
    expect_sent(nth(c, "quiet", 3, NULL), T0 + 100 * MIN + 30 * SEC, "first notification", "firing",
                1);
    vg_notifier_close(nt);
    capture_free(c);
    free(c);
}

static void test_group_wait_holds_the_first_notification(void **state)
{
    vg_receiver_t r = mk_rcv("oncall", "http://127.0.0.1:1/");
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(*state, &r, 1, c);
    talert_t a;
    mk_alert(&a, "X", "/chat", T0, "oncall", NULL);
    step(nt, c, &a.a, 1, T0);
    step(nt, c, &a.a, 1, T0 + 29 * SEC);
    assert_int_equal(c->n, 0);
    step(nt, c, NULL, 0, T0 + 30 * SEC);
    assert_int_equal(c->n, 1);
    /* a pending-then-cleared alert never reaches the notifier; one that
     * fires and resolves within group_wait sends nothing (as Alertmanager) */
    talert_t b;
    mk_alert(&b, "Y", "/chat", T0, "oncall", NULL);
    step(nt, c, &b.a, 1, T0 + 40 * SEC);
    b.a.ends_at = T0 + 50 * SEC;
    step(nt, c, &b.a, 1, T0 + 50 * SEC);
    step(nt, c, NULL, 0, T0 + 80 * SEC);
    assert_int_equal(c->n, 1);
    vg_notifier_close(nt);
    capture_free(c);
    free(c);
}

static void test_group_by_splits_groups_by_label_values(void **state)
{
    vg_receiver_t r = mk_rcv("byroute", "http://127.0.0.1:1/");
    char *by[] = {(char *)"route"};
    r.group_by = by;
    r.ngroup_by = 1;
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(*state, &r, 1, c);
    talert_t a[3];
    mk_alert(&a[0], "X", "/chat", T0, "byroute", NULL);
    mk_alert(&a[1], "Y", "/chat", T0, "byroute", NULL);
    mk_alert(&a[2], "X", "/search", T0, "byroute", NULL);
    vg_alert_t v[3] = {a[0].a, a[1].a, a[2].a};
    step(nt, c, v, 3, T0);
    step(nt, c, v, 3, T0 + 30 * SEC);
    assert_int_equal(c->n, 2);
    for (size_t i = 0; i < 2; i++) {
        const char *key = sget(c->v[i].j, "groupKey");
        size_t na = json_array_size(json_object_get(c->v[i].j, "alerts"));
        if (!strcmp(key, "{}:{route=\"/chat\"}"))
            assert_int_equal(na, 2);
        else
            assert_string_equal(key, "{}:{route=\"/search\"}");
        json_t *gl = json_object_get(c->v[i].j, "groupLabels");
        assert_int_equal(json_object_size(gl), 1);
        assert_non_null(json_object_get(gl, "route"));
    }
    vg_notifier_close(nt);
    capture_free(c);
    free(c);
}

static void test_silenced_alert_notifies_no_one(void **state)
{
    vg_receiver_t r = mk_rcv("oncall", "http://127.0.0.1:1/");
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(*state, &r, 1, c);
    talert_t a;
    mk_alert(&a, "X", "/chat", T0, "oncall", NULL);
    a.a.silenced = 1;
    step(nt, c, &a.a, 1, T0);
    step(nt, c, &a.a, 1, T0 + 30 * SEC);
    a.a.ends_at = T0 + 60 * SEC;
    step(nt, c, &a.a, 1, T0 + 60 * SEC);
    step(nt, c, NULL, 0, T0 + 10 * MIN);
    assert_int_equal(c->n, 0);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.queued, 0);
    vg_notifier_close(nt);
    free(c);
}

static void test_payload_has_alertmanager_shape(void **state)
{
    vg_receiver_t r = mk_rcv("oncall", "http://127.0.0.1:1/");
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(*state, &r, 1, c);
    talert_t a, b;
    mk_alert(&a, "X", "/chat", T0, "oncall", NULL);
    mk_alert(&b, "X", "/search", T0 + 120000000, "oncall", NULL);
    b.a.ends_at = T0 + 20 * SEC;
    b.ann[0].value = (char *)"other";
    b.a.vigil_json = NULL;
    vg_alert_t v[2] = {a.a, b.a};
    step(nt, c, v, 2, T0);
    step(nt, c, NULL, 0, T0 + 30 * SEC);
    assert_int_equal(c->n, 1);
    json_t *j = c->v[0].j;
    assert_string_equal(sget(j, "version"), "4");
    assert_string_equal(sget(j, "status"), "firing");
    assert_string_equal(sget(j, "receiver"), "oncall");
    assert_string_equal(sget(j, "groupKey"), "{}:{alertname=\"X\"}");
    assert_string_equal(sget(j, "externalURL"), "http://vigil:7070");
    assert_string_equal(sget(j, "notification_reason"), "first notification");
    assert_int_equal(json_integer_value(json_object_get(j, "truncatedAlerts")), 0);
    json_t *cl = json_object_get(j, "commonLabels");
    assert_int_equal(json_object_size(cl), 2); /* alertname, severity; not route */
    assert_string_equal(sget(cl, "severity"), "page");
    assert_int_equal(json_object_size(json_object_get(j, "commonAnnotations")), 0);
    assert_string_equal(sget(json_object_get(j, "groupLabels"), "alertname"), "X");
    json_t *al = json_object_get(j, "alerts");
    assert_int_equal(json_array_size(al), 2);
    json_t *x = json_array_get(al, 0), *y = json_array_get(al, 1);
    char fp[17];
    vg_alert_fingerprint_hex(a.a.fingerprint, fp);
    assert_string_equal(sget(x, "fingerprint"), fp);
    assert_string_equal(sget(x, "status"), "firing");
    assert_string_equal(sget(x, "startsAt"), "2023-11-14T22:13:20Z");
    assert_string_equal(sget(x, "endsAt"), "0001-01-01T00:00:00Z");
    assert_string_equal(sget(x, "generatorURL"), "http://vigil:7070/rules");
    assert_string_equal(sget(json_object_get(x, "labels"), "route"), "/chat");
    assert_string_equal(sget(json_object_get(x, "annotations"), "summary"), "refusals up");
    assert_string_equal(sget(json_object_get(json_object_get(x, "vigil"), "classification"), "class"),
                        "guardrail");
    assert_string_equal(sget(y, "status"), "resolved");
    assert_string_equal(sget(y, "startsAt"), "2023-11-14T22:13:20.12Z");
    assert_string_equal(sget(y, "endsAt"), "2023-11-14T22:13:40Z");
    assert_null(json_object_get(y, "vigil"));
    assert_string_equal(sget(json_object_get(j, "vigil"), "runbook"), "refusal-spike");
    vg_notifier_close(nt);
    capture_free(c);
    free(c);
}

/* After a restart the firing group is not new: no first notification, and
 * its repeat comes repeat_interval after the send before the restart. */
static void test_restart_resumes_group_timers(void **state)
{
    vg_receiver_t r = mk_rcv("oncall", "http://127.0.0.1:1/");
    r.repeat_interval_ns = 60 * MIN;
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(*state, &r, 1, c);
    talert_t a;
    mk_alert(&a, "X", "/chat", T0, "oncall", NULL);
    step(nt, c, &a.a, 1, T0);
    step(nt, c, &a.a, 1, T0 + 30 * SEC);
    assert_int_equal(c->n, 1);
    vg_notifier_close(nt);
    capture_free(c);

    nt = open_paused(*state, &r, 1, c);
    for (int64_t t = T0 + 2 * MIN; t <= T0 + 61 * MIN; t += 30 * SEC)
        step(nt, c, &a.a, 1, t);
    assert_int_equal(c->n, 1);
    expect_sent(&c->v[0], T0 + 60 * MIN + 30 * SEC, "repeat interval elapsed", "firing", 1);
    vg_notifier_close(nt);
    capture_free(c);
    free(c);
}

/* ---- delivery, against tests/e2e/hook_receiver.py ---- */

static const char *receiver_script(void)
{
    static char p[4096];
    const char *src = getenv("VG_SRC");
    if (src) {
        snprintf(p, sizeof p, "%s/tests/e2e/hook_receiver.py", src);
    } else {
        char here[4096];
        snprintf(here, sizeof here, "%s", __FILE__);
        snprintf(p, sizeof p, "%s/e2e/hook_receiver.py", dirname(here));
    }
    return p;
}

typedef struct hook {
    pid_t pid;
    int port;
    char log[4096], url[128];
} hook_t;

/* Start the receiver answering script; port 0 picks one. */
static void hook_start(hook_t *h, const char *dir, const char *name, const char *script,
                       const char *secret, int port)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    snprintf(h->log, sizeof h->log, "%s/%s.jsonl", dir, name);
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl("/usr/bin/python3", "python3", receiver_script(), "--port", ports, "--log", h->log,
              "--script", script, secret ? "--secret" : NULL, secret, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char line[32] = "";
    FILE *f = fdopen(fd[0], "r");
    if (!fgets(line, sizeof line, f))
        fail_msg("%s did not start", receiver_script());
    fclose(f);
    h->pid = pid;
    h->port = atoi(line);
    assert_true(h->port > 0);
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d/hook", h->port);
}

static void hook_stop(hook_t *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
    }
}

/* The receiver's log: one parsed object per request (a JSON array). */
static json_t *hook_requests(const hook_t *h)
{
    json_t *arr = json_array();
    FILE *f = fopen(h->log, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        json_array_append_new(arr, o);
    }
    free(line);
    if (f)
        fclose(f);
    return arr;
}

static const char *req_header(json_t *req, const char *name)
{
    return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

/* A free loopback port nobody listens on (for "down"). */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s);
    return ntohs(a.sin_port);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void quiet_log(void *ctx, const char *level, const char *msg)
{
    (void)ctx;
    (void)level;
    (void)msg;
}

/* Open with tiny backoff, push one alert to every receiver, flush it. */
static vg_notifier_t *send_one(const char *dir, vg_receiver_t *r, size_t n)
{
    const char *names[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        r[i].group_wait_ns = 0;
        names[i] = r[i].name;
    }
    vg_notifier_t *nt = NULL;
    vg_error_t err;
    assert_int_equal(vg_notifier_open(path_in(dir, "outbox"), r, n, NULL, quiet_log, NULL, &nt, &err),
                     VG_OK);
    vg_notifier_set_backoff(nt, 20000000, 100000000);
    talert_t a;
    mk_alert(&a, "X", "/chat", T0, names[0], names[1]);
    a.rcvs[2] = (char *)names[2];
    a.a.nreceivers = n;
    assert_int_equal(vg_notifier_push(nt, &a.a, 1, T0), VG_OK);
    assert_int_equal(vg_notifier_tick(nt, T0), VG_OK);
    return nt;
}

static size_t count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        n += l > sl && !strcmp(de->d_name + l - sl, suffix);
    }
    if (d)
        closedir(d);
    return n;
}

static void test_delivery_posts_signed_payload(void **state)
{
    hook_t h;
    hook_start(&h, *state, "hook", "200", "s3cret", 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    r.hmac_secret = (char *)"s3cret";
    vg_notifier_t *nt = send_one(*state, &r, 1);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.pending, 0);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h), *q = json_array_get(reqs, 0);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(sget(q, "method"), "POST");
    assert_string_equal(sget(q, "path"), "/hook");
    assert_string_equal(req_header(q, "Content-Type"), "application/json");
    assert_string_equal(req_header(q, "User-Agent"), "vigil/" VIGIL_VERSION);
    assert_non_null(req_header(q, "Idempotency-Key"));
    assert_true(json_is_true(json_object_get(q, "signature_ok"))); /* Python's hmac agrees */
    const char *body = sget(q, "body"), *ts = req_header(q, "X-Vigil-Timestamp");
    char sig[65], want[80];
    assert_int_equal(vg__webhook_sign("s3cret", ts, body, strlen(body), sig), VG_OK);
    snprintf(want, sizeof want, "sha256=%s", sig);
    assert_string_equal(req_header(q, "X-Vigil-Signature"), want);
    assert_true(labs(atol(ts) - (long)time(NULL)) < 60);
    json_t *p = json_loads(body, 0, NULL);
    assert_string_equal(sget(p, "version"), "4");
    json_decref(p);
    json_decref(reqs);
    assert_int_equal(count_files(path_in(*state, "outbox"), ".msg"), 0);
}

static void test_delivery_retries_5xx_with_one_idempotency_key(void **state)
{
    hook_t h;
    hook_start(&h, *state, "hook", "500,503,200", NULL, 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    vg_notifier_t *nt = send_one(*state, &r, 1);
    assert_int_equal(vg_notifier_drain(nt, 10000), 0);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.delivered, 1);
    usleep(200000); /* no further attempt after the 200 */
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 3);
    const char *key = req_header(json_array_get(reqs, 0), "Idempotency-Key");
    for (size_t i = 1; i < 3; i++) {
        assert_string_equal(req_header(json_array_get(reqs, i), "Idempotency-Key"), key);
        assert_string_equal(sget(json_array_get(reqs, i), "body"),
                            sget(json_array_get(reqs, 0), "body"));
    }
    json_decref(reqs);
}

static void expect_retry_after(const char *dir, const char *script)
{
    hook_t h;
    hook_start(&h, dir, "hook", script, NULL, 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    vg_notifier_t *nt = send_one(dir, &r, 1);
    assert_int_equal(vg_notifier_drain(nt, 10000), 0);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 2);
    double gap = json_real_value(json_object_get(json_array_get(reqs, 1), "time")) -
                 json_real_value(json_object_get(json_array_get(reqs, 0), "time"));
    if (gap < 0.9 || gap > 3.0) /* the backoff alone would retry within 0.1 s */
        fail_msg("retried %.3f s after a 429 (%s)", gap, script);
    json_decref(reqs);
}

static void test_delivery_honours_retry_after(void **state)
{
    expect_retry_after(*state, "429:1,200");
}

/* An HTTP date 2 s ahead, at one-second resolution: between 1 and 2 s. */
static void test_delivery_honours_retry_after_as_http_date(void **state)
{
    expect_retry_after(*state, "429:date:2,200");
}

static void test_delivery_dead_letters_400_without_retry(void **state)
{
    hook_t h;
    hook_start(&h, *state, "hook", "400,200", NULL, 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    vg_notifier_t *nt = send_one(*state, &r, 1);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    usleep(300000);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.retried, 0);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
    char dead[4096];
    snprintf(dead, sizeof dead, "%s/outbox/dead", (const char *)*state);
    assert_int_equal(count_files(dead, ".msg"), 1);
    assert_int_equal(count_files(path_in(*state, "outbox"), ".msg"), 0);
    DIR *d = opendir(dead);
    struct dirent *de;
    char text[8192] = "";
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".msg")) {
            FILE *f = fopen(path_in(dead, de->d_name), "r");
            text[fread(text, 1, sizeof text - 1, f)] = '\0';
            fclose(f);
        }
    closedir(d);
    assert_non_null(strstr(text, "\nstatus 400\n"));
    assert_non_null(strstr(text, "\nreason HTTP 400: {\"error\":\"scripted\"}\n"));
    assert_non_null(strstr(text, "\"version\":\"4\""));
}

static void test_delivery_gives_up_after_max_retry_age(void **state)
{
    hook_t h;
    hook_start(&h, *state, "hook", "close,500", NULL, 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    r.max_retry_age_ns = 400000000;
    double t0 = now_s();
    vg_notifier_t *nt = send_one(*state, &r, 1);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    double took = now_s() - t0;
    assert_true(took >= 0.4 && took < 2.0);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.delivered, 0);
    assert_true(st.retried >= 2);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), st.retried + 1);
    json_decref(reqs);
    assert_int_equal(count_files(path_in(*state, "outbox/dead"), ".msg"), 1);
}

static void test_delivery_retries_after_a_timeout(void **state)
{
    hook_t h;
    hook_start(&h, *state, "hook", "hang,200", NULL, 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    r.timeout_ns = 300000000;
    double t0 = now_s();
    vg_notifier_t *nt = send_one(*state, &r, 1);
    assert_int_equal(vg_notifier_drain(nt, 10000), 0);
    assert_true(now_s() - t0 >= 0.3);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.retried, 1);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 2);
    assert_string_equal(req_header(json_array_get(reqs, 0), "Idempotency-Key"),
                        req_header(json_array_get(reqs, 1), "Idempotency-Key"));
    json_decref(reqs);
}

static void test_delivery_waits_for_a_receiver_that_comes_back(void **state)
{
    int port = free_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    vg_receiver_t r = mk_rcv("oncall", url);
    vg_notifier_t *nt = send_one(*state, &r, 1);
    usleep(400000);
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_true(st.retried >= 2); /* refused, again and again */
    assert_int_equal(st.pending, 1);
    hook_t h;
    hook_start(&h, *state, "hook", "200", NULL, port);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
}

static void test_down_receivers_do_not_delay_a_healthy_one(void **state)
{
    hook_t slow, fast;
    hook_start(&slow, *state, "slow", "hang", NULL, 0);
    hook_start(&fast, *state, "fast", "200", NULL, 0);
    char down[64];
    snprintf(down, sizeof down, "http://127.0.0.1:%d/hook", free_port());
    vg_receiver_t r[3] = {mk_rcv("slow", slow.url), mk_rcv("down", down), mk_rcv("fast", fast.url)};
    r[0].timeout_ns = 20 * SEC;
    double t0 = now_s();
    vg_notifier_t *nt = send_one(*state, r, 3);
    vg_notify_stats_t st;
    do {
        usleep(10000);
        vg_notifier_stats(nt, &st);
    } while (st.delivered == 0 && now_s() - t0 < 5);
    double took = now_s() - t0;
    if (took > 1.0)
        fail_msg("the healthy receiver waited %.2f s", took);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.pending, 2);
    vg_notifier_close(nt); /* abandons the hanging attempt */
    hook_stop(&slow);
    hook_stop(&fast);
    json_t *reqs = hook_requests(&fast);
    assert_int_equal(json_array_size(reqs), 1);
    json_decref(reqs);
}

static void test_outbox_survives_close_and_delivers_after_reopen(void **state)
{
    hook_t h;
    hook_start(&h, *state, "hook", "200", NULL, 0);
    vg_receiver_t r = mk_rcv("oncall", h.url);
    r.group_wait_ns = 0;
    capture_t *c = calloc(1, sizeof *c);
    const char *dir = path_in(*state, "outbox");
    vg_notifier_t *nt = open_paused(dir, &r, 1, c);
    talert_t a;
    mk_alert(&a, "X", "/chat", T0, "oncall", NULL);
    step(nt, c, &a.a, 1, T0);
    assert_int_equal(c->n, 1);
    vg_notifier_close(nt);
    assert_int_equal(count_files(dir, ".msg"), 1);
    char id[64] = "";
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".msg"))
            snprintf(id, sizeof id, "%.*s", (int)strlen(de->d_name) - 4, de->d_name);
    closedir(d);

    vg_error_t err;
    assert_int_equal(vg_notifier_open(dir, &r, 1, NULL, quiet_log, NULL, &nt, &err), VG_OK);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    vg_notifier_close(nt);
    hook_stop(&h);
    assert_int_equal(count_files(dir, ".msg"), 0);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(req_header(json_array_get(reqs, 0), "Idempotency-Key"), id);
    json_t *body = json_loads(sget(json_array_get(reqs, 0), "body"), 0, NULL);
    json_t *sent = c->v[0].j;
    assert_true(json_equal(body, sent));
    json_decref(body);
    json_decref(reqs);
    capture_free(c);
    free(c);
}

/* The alertmanager receiver: /api/v2/alerts, at most once a minute per
 * alert, endsAt 4 intervals ahead; a newer undelivered post replaces an
 * older one; a resolution is posted once with its resolve time. */
static void test_alertmanager_receiver_posts_v2_alerts(void **state)
{
    hook_t h;
    hook_start(&h, *state, "am", "200", NULL, 0);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/", h.port);
    vg_receiver_t r = mk_rcv("am", base);
    r.type = VG_RCV_ALERTMANAGER;
    capture_t *c = calloc(1, sizeof *c);
    vg_notifier_t *nt = open_paused(path_in(*state, "outbox"), &r, 1, c);
    talert_t a;
    mk_alert(&a, "X", "/chat", T0, "am", NULL);
    step(nt, c, &a.a, 1, T0);
    step(nt, c, &a.a, 1, T0 + 30 * SEC);
    step(nt, c, &a.a, 1, T0 + 60 * SEC);
    assert_int_equal(c->n, 2); /* T0 and T0+1m; not T0+30s */
    vg_notify_stats_t st;
    vg_notifier_stats(nt, &st);
    assert_int_equal(st.pending, 1); /* the T0+1m post replaced the T0 one */
    vg_notifier_pause(nt, 0);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    a.a.ends_at = T0 + 90 * SEC;
    step(nt, c, &a.a, 1, T0 + 90 * SEC);
    assert_int_equal(vg_notifier_drain(nt, 5000), 0);
    vg_notifier_close(nt);
    hook_stop(&h);
    json_t *reqs = hook_requests(&h);
    assert_int_equal(json_array_size(reqs), 2);
    const char *want_ends[2] = {"2023-11-14T22:18:20Z", /* T0+1m + 4 * 1m */
                                "2023-11-14T22:14:50Z"}; /* T0+90s */
    for (size_t i = 0; i < 2; i++) {
        json_t *q = json_array_get(reqs, i);
        assert_string_equal(sget(q, "path"), "/api/v2/alerts");
        json_t *arr = json_loads(sget(q, "body"), 0, NULL);
        assert_int_equal(json_array_size(arr), 1);
        json_t *x = json_array_get(arr, 0);
        assert_string_equal(sget(json_object_get(x, "labels"), "alertname"), "X");
        assert_string_equal(sget(json_object_get(x, "annotations"), "summary"), "refusals up");
        assert_string_equal(sget(x, "startsAt"), "2023-11-14T22:13:20Z");
        assert_string_equal(sget(x, "endsAt"), want_ends[i]);
        assert_string_equal(sget(x, "generatorURL"), "http://vigil:7070/rules");
        json_decref(arr);
    }
    json_decref(reqs);
    capture_free(c);
    free(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_matches_fnv1a_reference),
        cmocka_unit_test(test_alert_copy_is_deep),
        cmocka_unit_test(test_rfc3339_prints_as_go_does),
        cmocka_unit_test(test_hmac_matches_independent_reference),
        T(test_receivers_load_reads_fields_and_defaults),
        T(test_receivers_load_reports_file_line_and_column),
        T(test_receivers_load_without_receivers_is_empty),
        T(test_group_timers_follow_alertmanager),
        T(test_group_wait_holds_the_first_notification),
        T(test_group_by_splits_groups_by_label_values),
        T(test_silenced_alert_notifies_no_one),
        T(test_payload_has_alertmanager_shape),
        T(test_restart_resumes_group_timers),
        T(test_delivery_posts_signed_payload),
        T(test_delivery_retries_5xx_with_one_idempotency_key),
        T(test_delivery_honours_retry_after),
        T(test_delivery_honours_retry_after_as_http_date),
        T(test_delivery_dead_letters_400_without_retry),
        T(test_delivery_gives_up_after_max_retry_age),
        T(test_delivery_retries_after_a_timeout),
        T(test_delivery_waits_for_a_receiver_that_comes_back),
        T(test_down_receivers_do_not_delay_a_healthy_one),
        T(test_outbox_survives_close_and_delivers_after_reopen),
        T(test_alertmanager_receiver_posts_v2_alerts),
    };
#undef T
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
