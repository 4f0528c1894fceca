/* test_rules.c: rules evaluated as of a time against a real folder: groups,
 * conditions over the result, hysteresis, no-data, the state file across a
 * restart, the vigil_alerts history, silences, the diagnosis's change
 * matching and classification, and the expressions of `when`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "rules.h"

#define SEC VG_NS_PER_SEC
#define MIN (60 * SEC)

static char g_dir[512];
static vg_db_t *g_db;
static int64_t T0; /* a minute boundary an hour ago */

typedef struct events {
    int n;
    vg_rs_change_t what[64];
    char host[64][16];
    int64_t at[64];
} events_t;

static void on_event(void *ctx, const vg_rule_event_t *ev)
{
    events_t *e = ctx;
    if (e->n >= 64)
        return;
    e->what[e->n] = ev->change;
    e->at[e->n] = ev->at;
    snprintf(e->host[e->n], sizeof e->host[0], "%s", "");
    for (size_t i = 0; i < ev->alert->nlabels; i++)
        if (!strcmp(ev->alert->labels[i].name, "host"))
            snprintf(e->host[e->n], sizeof e->host[0], "%s", ev->alert->labels[i].value);
    e->n++;
}

static void write_lp(const char *text)
{
    vg_write_result_t wr;
    assert_int_equal(vg_db_write_lp(g_db, text, strlen(text), NULL, &wr, NULL), VG_OK);
    assert_int_equal(wr.rejected, 0);
    vg_write_result_free(&wr);
}

/* One point of m per host per minute from `from` for `mins` minutes at value v. */
static void write_x(const char *host, int64_t from, int mins, double v)
{
    char buf[128];
    for (int i = 0; i < mins; i++) {
        snprintf(buf, sizeof buf, "m,host=%s x=%g %lld\n", host, v, (long long)(from + i * MIN + SEC));
        write_lp(buf);
    }
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("VG_TEST_TMP") ? getenv("VG_TEST_TMP") : "/tmp";
    mkdir(base, 0755);
    snprintf(g_dir, sizeof g_dir, "%s/rules.XXXXXX", base);
    if (!mkdtemp(g_dir))
        return -1;
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    o.wal_sync = VG_WAL_SYNC_NONE;
    if (vg_db_open(g_dir, &o, &g_db, NULL))
        return -1;
    T0 = (vg_now_ns() - 3600 * SEC) / MIN * MIN;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vg_db_close(g_db, NULL);
    return 0;
}

static const char *RUNBOOK =
    "name: test-%s\n"
    "signal: latency\n"
    "rules:\n"
    "  - alert: %s\n"
    "    expr: SELECT max(x) AS v, count() AS n FROM m WHERE host =~ /^%s/ SINCE 2m BY host\n"
    "    when: v > 10\n"
    "%s"
    "    every: 1m\n"
    "    labels: {severity: page}\n"
    "    annotations:\n"
    "      summary: \"{{host}} at {{v}}\"\n";

/* A compiled runbook in a file of the test folder. */
static void make_set(const char *name, const char *prefix, const char *extra, vg_rb_set_t *set)
{
    char path[600], text[2048];
    snprintf(path, sizeof path, "%s/%s.yaml", g_dir, name);
    snprintf(text, sizeof text, RUNBOOK, name, name, prefix, extra);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    vg_rb_diags_t d = {0};
    const char *paths[] = {path};
    assert_int_equal(vg_rb_load_paths(paths, 1, set, &d), VG_OK);
    assert_int_equal(vg_rb_compile(set->v[0], &(vg_rb_env_t){0}, &d), VG_OK);
    vg_rb_diags_free(&d);
}

static vg_rules_t *make_rules(const char *name, const char *prefix, const char *extra,
                              events_t *ev, const char *state_path)
{
    vg_rb_set_t set = {0};
    make_set(name, prefix, extra, &set);
    vg_rules_opts_t o;
    vg_rules_opts_default(&o);
    o.db = g_db, o.on_event = on_event, o.event_ctx = ev, o.write_history = 1;
    o.state_path = state_path;
    o.diagnose = 0;
    vg_rules_t *r = NULL;
    vg_error_t err = {0};
    assert_int_equal(vg_rules_create(&set, &o, &r, &err), VG_OK);
    vg_rb_set_free(&set);
    return r;
}

static void eval_at(vg_rules_t *r, int64_t t)
{
    vg_error_t err = {0};
    assert_int_equal(vg_rules_eval(r, 0, t, &err), VG_OK);
}

static void test_rule_fires_per_group_after_for_and_resolves(void **state)
{
    (void)state;
    events_t ev = {0};
    write_x("a1", T0, 20, 1);
    write_x("a2", T0, 5, 1);
    write_x("a2", T0 + 5 * MIN, 6, 50); /* high from minute 5 to 10 */
    write_x("a2", T0 + 11 * MIN, 9, 1);
    vg_rules_t *r = make_rules("fires", "a", "    for: 3m\n", &ev, NULL);
    for (int m = 1; m <= 20; m++)
        eval_at(r, T0 + m * MIN);
    /* a2 goes pending at 6, fires at 9 (held 3m), resolves once the 2m window
     * no longer holds a high point (minute 13); a1 never changes */
    assert_int_equal(ev.n, 3);
    assert_int_equal(ev.what[0], VG_RS_TO_PENDING);
    assert_string_equal(ev.host[0], "a2");
    assert_int_equal(ev.at[0], T0 + 6 * MIN);
    assert_int_equal(ev.what[1], VG_RS_TO_FIRING);
    assert_int_equal(ev.at[1], T0 + 9 * MIN);
    assert_int_equal(ev.what[2], VG_RS_TO_RESOLVED);
    assert_int_equal(ev.at[2], T0 + 13 * MIN);
    vg_rules_destroy(r);

    /* the history is a table: one row per change */
    vg_result_t res;
    vg_q_exec_opts_t qo;
    vg_q_exec_opts_default(&qo);
    qo.now_ns = T0 + 30 * MIN;
    assert_int_equal(vg_q_run(g_db,
                              "SELECT count() AS n FROM vigil_alerts WHERE alertname = 'fires' "
                              "SINCE 1h BY state",
                              &qo, &res, NULL),
                     VG_OK);
    assert_int_equal(res.nrows, 3);
    char seen[64] = "";
    for (size_t i = 0; i < res.nrows; i++) {
        strcat(seen, vg_result_cell(&res, i, 0)->s.p);
        strcat(seen, " ");
    }
    assert_string_equal(seen, "firing pending resolved ");
    vg_result_free(&res);
}

static void test_pending_that_clears_reports_cleared_not_firing(void **state)
{
    (void)state;
    events_t ev = {0};
    write_x("b1", T0, 3, 1);
    write_x("b1", T0 + 3 * MIN, 1, 50);
    write_x("b1", T0 + 4 * MIN, 10, 1);
    vg_rules_t *r = make_rules("clears", "b", "    for: 5m\n", &ev, NULL);
    for (int m = 1; m <= 12; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.what[0], VG_RS_TO_PENDING);
    assert_int_equal(ev.what[1], VG_RS_CLEARED);
    vg_rules_destroy(r);
}

static void test_resolve_when_holds_a_firing_alert_in_between(void **state)
{
    (void)state;
    events_t ev = {0};
    write_x("c1", T0, 2, 50);  /* fires */
    write_x("c1", T0 + 2 * MIN, 6, 7); /* between 5 and 10: still firing */
    write_x("c1", T0 + 8 * MIN, 6, 1); /* below 5: resolves */
    vg_rules_t *r = make_rules("hyst", "c", "    resolve_when: v < 5\n", &ev, NULL);
    for (int m = 1; m <= 14; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.what[0], VG_RS_TO_FIRING);
    assert_int_equal(ev.what[1], VG_RS_TO_RESOLVED);
    /* the 2m window holds only values under 5 from minute 10 */
    assert_int_equal(ev.at[1], T0 + 10 * MIN);
    vg_rules_destroy(r);
}

static void test_firing_alert_survives_a_restart_with_its_times(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/alerts.json", g_dir);
    events_t ev = {0};
    write_x("d1", T0, 20, 50);
    vg_rules_t *r = make_rules("restart", "d", "    for: 2m\n", &ev, path);
    for (int m = 1; m <= 4; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.what[1], VG_RS_TO_FIRING);
    vg_rules_destroy(r);

    events_t ev2 = {0};
    r = make_rules("restart", "d", "    for: 2m\n", &ev2, path);
    char *json = NULL;
    assert_int_equal(vg_rules_alerts_json(r, &json), VG_OK);
    assert_non_null(strstr(json, "\"state\":\"firing\""));
    assert_non_null(strstr(json, "\"host\":\"d1\""));
    free(json);
    for (int m = 5; m <= 8; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev2.n, 0); /* still firing: not announced again */
    vg_rules_destroy(r);
}

static void test_pending_alert_survives_a_restart_and_fires_on_time(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/pending.json", g_dir);
    events_t ev = {0};
    write_x("g1", T0, 20, 50);
    vg_rules_t *r = make_rules("pendrestart", "g", "    for: 5m\n", &ev, path);
    for (int m = 1; m <= 3; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev.n, 1);
    assert_int_equal(ev.what[0], VG_RS_TO_PENDING);
    vg_rules_destroy(r);

    /* after the restart it is still pending since minute 1: it fires at 6 */
    events_t ev2 = {0};
    r = make_rules("pendrestart", "g", "    for: 5m\n", &ev2, path);
    char *json = NULL;
    assert_int_equal(vg_rules_alerts_json(r, &json), VG_OK);
    assert_non_null(strstr(json, "\"state\":\"pending\""));
    free(json);
    for (int m = 4; m <= 8; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev2.n, 1);
    assert_int_equal(ev2.what[0], VG_RS_TO_FIRING);
    assert_int_equal(ev2.at[0], T0 + 6 * MIN);
    vg_rules_destroy(r);
}

static void test_no_data_ok_resolves_a_group_that_vanished(void **state)
{
    (void)state;
    events_t ev = {0};
    write_x("e1", T0, 3, 50); /* then nothing */
    vg_rules_t *r = make_rules("nodata", "e", "    no_data: ok\n", &ev, NULL);
    for (int m = 1; m <= 8; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.what[0], VG_RS_TO_FIRING);
    assert_int_equal(ev.what[1], VG_RS_TO_RESOLVED);
    assert_int_equal(ev.at[1], T0 + 5 * MIN);
    vg_rules_destroy(r);

    /* keep_state (the default) keeps it firing through the silence */
    events_t ev2 = {0};
    write_x("e2", T0, 3, 50);
    r = make_rules("nodata2", "e2", "", &ev2, NULL);
    for (int m = 1; m <= 8; m++)
        eval_at(r, T0 + m * MIN);
    assert_int_equal(ev2.n, 1);
    assert_int_equal(ev2.what[0], VG_RS_TO_FIRING);
    vg_rules_destroy(r);
}

static void test_rules_json_has_prometheus_shape(void **state)
{
    (void)state;
    events_t ev = {0};
    write_x("f1", T0, 5, 50);
    vg_rules_t *r = make_rules("shape", "f", "", &ev, NULL);
    eval_at(r, T0 + 3 * MIN);
    char *json = NULL;
    assert_int_equal(vg_rules_json(r, &json), VG_OK);
    assert_non_null(strstr(json, "\"status\":\"success\""));
    assert_non_null(strstr(json, "\"groups\":[{"));
    assert_non_null(strstr(json, "\"type\":\"alerting\""));
    assert_non_null(strstr(json, "\"health\":\"ok\""));
    assert_non_null(strstr(json, "\"state\":\"firing\""));
    free(json);
    assert_int_equal(vg_rules_alerts_json(r, &json), VG_OK);
    assert_non_null(strstr(json, "\"summary\":\"f1 at 50\""));
    assert_non_null(strstr(json, "\"activeAt\":\""));
    free(json);
    vg_rules_destroy(r);
}

static void test_silence_matches_labels_while_active(void **state)
{
    (void)state;
    char path[600], id[37];
    snprintf(path, sizeof path, "%s/silences.json", g_dir);
    vg_silences_t *s = NULL;
    assert_int_equal(vg_silences_open(path, &s, NULL), VG_OK);
    const char *body = "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"X\",\"isRegex\":false},"
                       "{\"name\":\"route\",\"value\":\"refund.*\",\"isRegex\":true}],"
                       "\"startsAt\":\"2026-01-01T00:00:00Z\",\"endsAt\":\"2026-01-02T00:00:00Z\","
                       "\"createdBy\":\"t\",\"comment\":\"c\"}";
    int64_t in = 0;
    vg_time_parse("2026-01-01T12:00:00Z", 0, &in, NULL);
    assert_int_equal(vg_silences_add_json(s, body, strlen(body), in, id, NULL), VG_OK);
    vg_label_t hit[] = {{"alertname", "X"}, {"route", "refund_qa"}};
    vg_label_t miss[] = {{"alertname", "X"}, {"route", "triage"}};
    assert_true(vg_silences_match(s, hit, 2, in));
    assert_false(vg_silences_match(s, miss, 2, in));
    assert_false(vg_silences_match(s, hit, 2, in + 86400 * SEC)); /* expired */
    vg_silences_close(s);
    /* persisted */
    assert_int_equal(vg_silences_open(path, &s, NULL), VG_OK);
    assert_true(vg_silences_match(s, hit, 2, in));
    assert_int_equal(vg_silences_expire(s, id, in + SEC, NULL), VG_OK);
    assert_false(vg_silences_match(s, hit, 2, in + 2 * SEC));
    assert_int_equal(vg_silences_expire(s, "nope", in, NULL), VG_ENOTFOUND);
    vg_error_t err = {0};
    assert_int_equal(vg_silences_add_json(s, "{\"matchers\":[]}", 15, in, id, &err), VG_EINVAL);
    vg_silences_close(s);
}

static void test_when_treats_comparisons_with_null_as_false(void **state)
{
    (void)state;
    vg_result_t r;
    assert_int_equal(vg_result_init(&r, 2), VG_OK);
    vg_result_col(&r, 0, "a", VG_TYPE_FLOAT);
    vg_result_col(&r, 1, "b", VG_TYPE_INT);
    size_t row;
    vg_result_add_row(&r, &row);
    vg_value_t v = {.f = 2.5};
    vg_result_set(&r, row, 0, &v); /* b stays null */
    struct {
        const char *text;
        int want;
    } cases[] = {{"a > 2", 1},          {"a * 2 = 5", 1},      {"b > 0", 0},
                 {"NOT (b > 0)", 0},    {"b IS NULL", 1},      {"a > 2 OR b > 0", 1},
                 {"a > 2 AND b > 0", 0}, {"coalesce(b, 7) = 7", 1}, {"a / 0 > 0", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_q_expr_t *e = NULL;
        assert_int_equal(vg_q_parse_expr(cases[i].text, &e, NULL), VG_OK);
        int t = -1;
        assert_int_equal(vg_q_expr_eval(e, &r, 0, NULL, &t, NULL), VG_OK);
        if (t != cases[i].want)
            fail_msg("%s: got %d", cases[i].text, t);
        vg_q_expr_free(e);
    }
    vg_q_expr_t *e = NULL;
    vg_q_error_t qe = {0};
    assert_int_equal(vg_q_parse_expr("c > 1", &e, NULL), VG_OK);
    assert_int_equal(vg_q_expr_eval(e, &r, 0, NULL, NULL, &qe), VG_ENOTFOUND);
    assert_int_equal(qe.column, 1);
    vg_q_expr_free(e);
    vg_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_fires_per_group_after_for_and_resolves),
        cmocka_unit_test(test_pending_that_clears_reports_cleared_not_firing),
        cmocka_unit_test(test_resolve_when_holds_a_firing_alert_in_between),
        cmocka_unit_test(test_firing_alert_survives_a_restart_with_its_times),
        cmocka_unit_test(test_pending_alert_survives_a_restart_and_fires_on_time),
        cmocka_unit_test(test_no_data_ok_resolves_a_group_that_vanished),
        cmocka_unit_test(test_rules_json_has_prometheus_shape),
        cmocka_unit_test(test_silence_matches_labels_while_active),
        cmocka_unit_test(test_when_treats_comparisons_with_null_as_false),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
