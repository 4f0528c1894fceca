/*
 * test_runbook.c: runbook files: loading with positions, every kind of
 * fault at its line and column (fixtures in tests/runbooks/), compiling
 * against a schema and receivers, templates, and the printed tree.
 *
 * Expected positions were counted by hand in the fixture files (1-based
 * line and column of the first character the message is about).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runbook.h"

static char fixtures[1024];

static const char *fx(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fixtures, name);
    return buf[k];
}

/* VG_TEST_TMP (or /tmp), created when missing. */
static const char *tmp_dir(void)
{
    const char *t = getenv("VG_TEST_TMP");
    if (!t || !*t)
        t = "/tmp";
    mkdir(t, 0755);
    return t;
}

static int find_fixtures(void **state)
{
    (void)state;
    const char *src = getenv("VG_SRC");
    if (src && *src) {
        snprintf(fixtures, sizeof fixtures, "%s/tests/runbooks", src);
    } else {
        snprintf(fixtures, sizeof fixtures, "%s", __FILE__);
        char *slash = strrchr(fixtures, '/');
        if (slash)
            snprintf(slash, sizeof fixtures - (size_t)(slash - fixtures), "/runbooks");
        else
            snprintf(fixtures, sizeof fixtures, "runbooks");
    }
    return 0;
}

static void assert_pos(vg_rb_pos_t p, int line, int column)
{
    if (p.line != line || p.column != column)
        fail_msg("position %d:%d, expected %d:%d", p.line, p.column, line, column);
}

/* Load and compile path with env; the diagnostics in d (sorted as loaded). */
static int load_compile(const char *path, const vg_rb_env_t *env, vg_rb_diags_t *d)
{
    vg_runbook_t *rb = NULL;
    int rc = vg_rb_load(path, &rb, d);
    if (rc == VG_OK) {
        rc = vg_rb_compile(rb, env, d);
        vg_rb_free(rb);
    }
    return rc;
}

/* d holds a problem at line:column whose message contains want. */
static void expect_diag(const vg_rb_diags_t *d, int line, int column, const char *want)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].line == line && d->v[i].column == column && strstr(d->v[i].msg, want))
            return;
    for (size_t i = 0; i < d->n; i++)
        print_message("  have %d:%d: %s\n", d->v[i].line, d->v[i].column, d->v[i].msg);
    fail_msg("no problem at %d:%d containing \"%s\"", line, column, want);
}

/* The fixture has exactly one problem, at line:column, containing want. */
static void expect_one(const char *name, const vg_rb_env_t *env, int line, int column,
                       const char *want)
{
    vg_rb_diags_t d = {0};
    assert_int_equal(load_compile(fx(name), env, &d), VG_EPARSE);
    expect_diag(&d, line, column, want);
    if (d.n != 1)
        fail_msg("%s: %zu problems, expected 1", name, d.n);
    assert_string_equal(d.v[0].file, fx(name));
    vg_rb_diags_free(&d);
}

/* ------------------------------------------------------------ loading */

static void test_rb_loads_the_issue_example_with_every_field_and_position(void **state)
{
    (void)state;
    vg_rb_diags_t d = {0};
    vg_runbook_t *rb = NULL;
    assert_int_equal(vg_rb_load(fx("good/refusal.yaml"), &rb, &d), VG_OK);
    assert_int_equal(d.n, 0);
    assert_string_equal(rb->name.s, "refusal-spike");
    assert_pos(rb->name.pos, 1, 7);
    assert_string_equal(rb->title.s, "Refusal rate spike");
    assert_pos(rb->title.pos, 2, 8);
    assert_string_equal(rb->signal.s, "refusal");
    assert_pos(rb->signal.pos, 3, 9);
    assert_string_equal(rb->description.s,
                        "Refusals rising against their own baseline, per route and model.");
    assert_int_equal(rb->nnotify, 1);
    assert_string_equal(rb->notify[0].s, "oncall");
    assert_pos(rb->notify[0].pos, 5, 10);

    assert_int_equal(rb->nrules, 1);
    const vg_rb_rule_t *r = &rb->rules[0];
    assert_string_equal(r->alert.s, "RefusalRateAboveBaseline");
    assert_pos(r->alert.pos, 7, 12);
    /* folded: the more-indented line keeps its line breaks (YAML 1.2, 8.1.3) */
    assert_string_equal(r->expr.s,
                        "SELECT rate(refusal) AS rate, baseline(rate(refusal), 7d, 1d) AS base, "
                        "count() AS n,\n       ztest_p(refusal) AS p\nFROM llm_request SINCE 10m "
                        "BY route, model AGAINST PREVIOUS 7d\n");
    assert_pos(r->expr.pos, 9, 7);
    assert_int_equal(r->expr.nlines, 3);
    assert_pos(r->expr.lines[0], 9, 7);
    assert_pos(r->expr.lines[1], 10, 7);
    assert_pos(r->expr.lines[2], 11, 7);
    assert_string_equal(r->when.s,
                        "rate > 2 * base AND rate > base + 0.01 AND n >= 200 AND p < 0.001");
    assert_pos(r->when.pos, 12, 11);
    assert_string_equal(r->resolve_when.s, "rate < 1.2 * base");
    assert_pos(r->resolve_when.pos, 13, 19);
    assert_true(r->for_ns == 600 * (int64_t)VG_NS_PER_SEC);
    assert_true(r->keep_firing_ns == 300 * (int64_t)VG_NS_PER_SEC);
    assert_true(r->every_ns == 60 * (int64_t)VG_NS_PER_SEC);
    assert_int_equal(r->no_data, VG_RB_NODATA_KEEP);
    assert_int_equal(r->nlabels, 1);
    assert_string_equal(r->labels[0].key.s, "severity");
    assert_pos(r->labels[0].key.pos, 18, 14);
    assert_string_equal(r->labels[0].value.s, "page");
    assert_pos(r->labels[0].value.pos, 18, 24);
    assert_int_equal(r->nannotations, 1);
    assert_string_equal(r->annotations[0].key.s, "summary");
    assert_pos(r->annotations[0].key.pos, 20, 7);
    assert_string_equal(r->annotations[0].value.s,
                        "Refusals on {{route}}/{{model}} at {{rate}}, baseline {{base}}");
    assert_pos(r->annotations[0].value.pos, 20, 17); /* after the quote */
    assert_int_equal(r->nnotify, 0);
    assert_null(r->stmt);

    assert_int_equal(rb->ninvestigate, 1);
    assert_string_equal(rb->investigate[0].name.s, "changes in the last hour");
    assert_pos(rb->investigate[0].name.pos, 22, 11);
    assert_string_equal(rb->investigate[0].query.s, "SELECT * FROM change_event SINCE 1h");
    assert_pos(rb->investigate[0].query.pos, 23, 12);
    assert_int_equal(rb->nsamples, 2);
    assert_string_equal(rb->samples[0].name.s, "offending");
    assert_pos(rb->samples[0].name.pos, 25, 3);
    assert_string_equal(rb->samples[0].query.s,
                        "SELECT * FROM llm_request WHERE refusal SINCE 15m SAMPLE 5");
    assert_pos(rb->samples[0].query.pos, 25, 14);
    assert_string_equal(rb->samples[1].name.s, "known_good");
    assert_pos(rb->samples[1].query.pos, 26, 15);
    assert_int_equal(rb->ncauses, 1);
    const vg_rb_cause_t *c = &rb->causes[0];
    assert_string_equal(c->name.s, "guardrail or content filter misconfigured");
    assert_pos(c->name.pos, 28, 11);
    assert_string_equal(c->check.s,
                        "SELECT rate(finish = 'content_filter') AS cf FROM llm_request SINCE 1h");
    assert_pos(c->check.pos, 29, 12);
    assert_string_equal(c->when.s, "cf > 0.05");
    assert_pos(c->when.pos, 30, 11);
    assert_string_equal(c->mitigation.s, "roll the guardrail back to its last good configuration");
    assert_pos(c->mitigation.pos, 31, 17);
    assert_string_equal(c->fallback.s, "guardrail.mode=last-good");
    assert_pos(c->fallback.pos, 32, 15);
    assert_string_equal(rb->escalation.s,
                        "page the product on-call above 10%; security at once on under-refusal");
    assert_pos(rb->escalation.pos, 33, 13);
    assert_null(rb->url.s);

    assert_int_equal(vg_rb_compile(rb, NULL, &d), VG_OK);
    assert_int_equal(d.n, 0);
    assert_non_null(rb->rules[0].stmt);
    assert_non_null(rb->rules[0].when_x);
    assert_non_null(rb->rules[0].resolve_x);
    assert_non_null(rb->investigate[0].stmt);
    assert_non_null(rb->samples[1].stmt);
    assert_non_null(rb->causes[0].stmt);
    assert_non_null(rb->causes[0].when_x);
    /* compiling again replaces the compiled forms (ASan checks nothing leaks) */
    assert_int_equal(vg_rb_compile(rb, NULL, &d), VG_OK);
    vg_rb_free(rb);
    vg_rb_diags_free(&d);
}

static void test_rb_maps_value_columns_back_to_the_file(void **state)
{
    (void)state;
    vg_runbook_t *rb = NULL;
    assert_int_equal(vg_rb_load(fx("good/refusal.yaml"), &rb, NULL), VG_OK);
    const vg_rb_str_t *e = &rb->rules[0].expr;
    assert_pos(vg_rb_str_pos(e, 1, 1), 9, 7);
    assert_pos(vg_rb_str_pos(e, 1, 8), 9, 14);  /* rate( */
    assert_pos(vg_rb_str_pos(e, 2, 8), 10, 14); /* ztest_p */
    assert_pos(vg_rb_str_pos(e, 3, 6), 11, 12); /* llm_request */
    const char *from = strstr(e->s, "FROM");
    assert_pos(vg_rb_str_pos_at(e, (size_t)(from - e->s)), 11, 7);
    const vg_rb_str_t *a = &rb->rules[0].annotations[0].value;
    const char *rate = strstr(a->s, "{{rate}}");
    assert_pos(vg_rb_str_pos_at(a, (size_t)(rate - a->s)), 20, 17 + (int)(rate - a->s));
    vg_rb_free(rb);

    /* a folded value joins its source lines into one line */
    assert_int_equal(vg_rb_load(fx("bad/query_error.yaml"), &rb, NULL), VG_OK);
    e = &rb->rules[0].expr;
    assert_string_equal(e->s,
                        "SELECT count() AS n FROM llm_request SINCE 10m BY route HAVING n > 3\n");
    assert_int_equal(e->nlines, 1);
    assert_pos(vg_rb_str_pos(e, 1, 21), 7, 7);  /* FROM */
    assert_pos(vg_rb_str_pos(e, 1, 48), 8, 7);  /* BY */
    assert_pos(vg_rb_str_pos(e, 1, 57), 8, 16); /* HAVING */
    /* a literal value keeps its lines, indentation beyond the block's included */
    e = &rb->rules[1].expr;
    assert_string_equal(e->s, "SELECT count() AS n\n  FROM llm_request SINCE 10m\n  BY route, "
                              "p99x(latency_s)\n");
    assert_int_equal(e->nlines, 3);
    assert_pos(e->lines[1], 13, 7);
    assert_pos(vg_rb_str_pos(e, 3, 13), 14, 19);
    vg_rb_free(rb);
}

static void test_rb_applies_defaults_and_accepts_the_other_spellings(void **state)
{
    (void)state;
    vg_runbook_t *rb = NULL;
    vg_rb_diags_t d = {0};
    assert_int_equal(vg_rb_load(fx("good/latency.yaml"), &rb, &d), VG_OK);
    assert_int_equal(rb->nrules, 2);
    const vg_rb_rule_t *r = &rb->rules[0];
    assert_string_equal(r->expr.s, "SELECT p99(latency_s) AS p99, count() AS n\nFROM llm_request "
                                   "SINCE 5m EVERY 1m BY route\n");
    assert_pos(r->expr.lines[1], 8, 7);
    assert_string_equal(r->when.s, "p99 > 8 AND n >= 50");
    assert_pos(r->when.pos, 9, 12); /* single quotes */
    assert_true(r->every_ns == 60 * (int64_t)VG_NS_PER_SEC);
    assert_true(r->for_ns == 0);
    assert_int_equal(r->no_data, VG_RB_NODATA_KEEP);
    r = &rb->rules[1];
    assert_pos(r->expr.pos, 16, 12);
    assert_int_equal(r->no_data, VG_RB_NODATA_ALERT);
    assert_true(r->for_ns == 0);     /* "for: 0" */
    assert_int_equal(r->nnotify, 1); /* a single name stands for a list of one */
    assert_string_equal(r->notify[0].s, "oncall");
    assert_int_equal(rb->ncauses, 2);
    assert_null(rb->causes[0].when.s);
    assert_null(rb->causes[1].check.s);
    /* `{{time}}` is a column of an EVERY query; `{{ $labels.severity }}` a label */
    assert_int_equal(vg_rb_compile(rb, NULL, &d), VG_OK);
    assert_int_equal(d.n, 0);
    vg_rb_free(rb);
}

/* ------------------------------------------------------------ faults */

static void test_rb_reports_a_yaml_syntax_error_where_libyaml_finds_it(void **state)
{
    (void)state;
    expect_one("bad/syntax.yaml", NULL, 8, 1,
               "YAML syntax error: did not find expected ',' or '}'");
}

static void test_rb_suggests_the_key_an_unknown_one_was_meant_to_be(void **state)
{
    (void)state;
    expect_one("bad/unknown_key.yaml", NULL, 7, 5,
               "unknown key 'resolv_when' in rule (did you mean 'resolve_when'?)");
}

static void test_rb_reports_a_missing_required_key_at_its_mapping(void **state)
{
    (void)state;
    expect_one("bad/missing_key.yaml", NULL, 4, 5, "missing required key 'when' in rule");
}

static void test_rb_rejects_a_bad_duration(void **state)
{
    (void)state;
    expect_one("bad/bad_duration.yaml", NULL, 7, 10, "bad duration '10 minutes' for 'for'");
}

static void test_rb_rejects_a_bad_no_data_with_a_suggestion(void **state)
{
    (void)state;
    expect_one("bad/bad_nodata.yaml", NULL, 7, 14, "(did you mean 'keep_state'?)");
}

static void test_rb_rejects_an_unknown_signal_with_a_suggestion(void **state)
{
    (void)state;
    expect_one("bad/bad_signal.yaml", NULL, 2, 9,
               "unknown signal 'refusals' (did you mean 'refusal'?)");
}

static void test_rb_maps_query_errors_in_block_scalars_to_the_file(void **state)
{
    (void)state;
    vg_rb_diags_t d = {0};
    assert_int_equal(load_compile(fx("bad/query_error.yaml"), NULL, &d), VG_EPARSE);
    assert_int_equal(d.n, 2);
    expect_diag(&d, 8, 16, "found 'HAVING'");                                 /* folded `>` */
    expect_diag(&d, 14, 19, "unknown function 'p99x' (did you mean 'p99'?)"); /* literal `|` */
    vg_rb_diags_free(&d);
}

static void test_rb_maps_expression_errors_in_quoted_scalars(void **state)
{
    (void)state;
    expect_one("bad/expr_quoted.yaml", NULL, 6, 15, "when: expected an expression");
}

static void test_rb_when_must_name_columns_of_the_query(void **state)
{
    (void)state;
    expect_one("bad/when_column.yaml", NULL, 9, 31,
               "unknown column 'rat' in when (columns of the rule's query: rate, base, n, p, "
               "route, model) (did you mean 'rate'?)");
}

static void test_rb_templates_must_name_columns_or_labels(void **state)
{
    (void)state;
    expect_one("bad/template_column.yaml", NULL, 8, 42,
               "unknown name 'rte' in the template of annotation 'summary'");
}

static void test_rb_query_templates_must_be_known_to_every_rule(void **state)
{
    (void)state;
    expect_one("bad/query_template.yaml", NULL, 12, 73,
               "unknown name 'route' in the template of a query: rule 'SlowOverall' has no such "
               "label or result column");
}

static void test_rb_receivers_must_exist_when_known(void **state)
{
    (void)state;
    static const char *const recv[] = {"oncall", "slack"};
    vg_rb_env_t env = {.receivers = recv, .nreceivers = 2, .check_receivers = 1};
    vg_rb_diags_t d = {0};
    assert_int_equal(load_compile(fx("bad/receiver.yaml"), &env, &d), VG_EPARSE);
    assert_int_equal(d.n, 2);
    expect_diag(&d, 3, 10, "unknown receiver 'oncal' (did you mean 'oncall'?)");
    expect_diag(&d, 8, 22, "unknown receiver 'slak' (did you mean 'slack'?)");
    vg_rb_diags_free(&d);
    /* without a config, receivers are not checked */
    assert_int_equal(load_compile(fx("bad/receiver.yaml"), NULL, &d), VG_OK);
    assert_int_equal(d.n, 0);
}

static void test_rb_rejects_duplicate_rule_names_in_a_file(void **state)
{
    (void)state;
    expect_one("bad/duplicate_rules.yaml", NULL, 7, 12,
               "duplicate rule name 'CostHigh' (first at line 4)");
}

static void test_rb_rejects_duplicate_keys(void **state)
{
    (void)state;
    expect_one("bad/duplicate_key.yaml", NULL, 7, 5,
               "duplicate key 'when' in rule (first at line 6)");
}

static void test_rb_rejects_a_list_where_a_string_belongs(void **state)
{
    (void)state;
    expect_one("bad/list_for_string.yaml", NULL, 2, 8,
               "expected a string for 'title', found a list");
}

static void test_rb_rejects_an_empty_file(void **state)
{
    (void)state;
    expect_one("bad/empty.yaml", NULL, 1, 1, "empty file");
}

static void test_rb_collects_every_problem_of_a_file(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/rb_many.yaml", tmp_dir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: Bad Name\n"    /* 1 */
          "signal: [latency]\n" /* 2 */
          "colour: red\n"       /* 3 */
          "rules:\n"            /* 4 */
          "  - alert: 9lives\n" /* 5 */
          "    expr: SELECT count() AS n FROM llm_request\n"
          "    when: n > 1\n"
          "    every: 0s\n" /* 8 */
          "    labels: {bad-label: x}\n"
          "causes:\n"
          "  - name: c\n"     /* 11 */
          "    when: x > 1\n" /* 12 */
          "    mitigation: m\n",
          f);
    fclose(f);
    vg_rb_diags_t d = {0};
    vg_runbook_t *rb = NULL;
    assert_int_equal(vg_rb_load(path, &rb, &d), VG_EPARSE);
    assert_null(rb);
    expect_diag(&d, 1, 7, "bad runbook name 'Bad Name'");
    expect_diag(&d, 2, 9, "expected a string for 'signal', found a list");
    expect_diag(&d, 3, 1, "unknown key 'colour' in runbook (known keys: name, title, signal");
    expect_diag(&d, 5, 12, "bad alert name '9lives'");
    expect_diag(&d, 5, 12, "every must be longer than 0");
    expect_diag(&d, 9, 14, "bad label name 'bad-label'");
    expect_diag(&d, 12, 11, "cause 'c' has a when but no check");
    assert_int_equal(d.n, 7);
    vg_rb_diags_free(&d);
    remove(path);
}

static void test_rb_reports_unreadable_and_oversized_files_without_a_place(void **state)
{
    (void)state;
    vg_rb_diags_t d = {0};
    vg_runbook_t *rb = NULL;
    assert_int_equal(vg_rb_load(fx("bad/no_such_file.yaml"), &rb, &d), VG_EIO);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 0);
    assert_non_null(strstr(d.v[0].msg, "cannot read"));
    vg_rb_diags_free(&d);

    char path[1200];
    snprintf(path, sizeof path, "%s/rb_big.yaml", tmp_dir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: big\n#", f);
    for (unsigned i = 0; i < VG_RB_MAX_FILE; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(vg_rb_load(path, &rb, &d), VG_EPARSE);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 0);
    assert_non_null(strstr(d.v[0].msg, "larger than the limit"));
    vg_rb_diags_free(&d);
    remove(path);
}

/* ------------------------------------------------------------ schema */

static int fake_type(void *ctx, const char *table, const char *column, vg_type_t *type)
{
    (void)ctx;
    static const char *const cols[] = {"latency_s", "refusal", "route", "cost_usd"};
    if (strcmp(table, "llm_request"))
        return -1;
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(column, cols[i])) {
            *type = i == 2 ? VG_TYPE_TAG : VG_TYPE_FLOAT;
            return 1;
        }
    return 0;
}

static size_t fake_names(void *ctx, const char *table, const char *const **out)
{
    (void)ctx;
    static const char *const cols[] = {"latency_s", "refusal", "route", "cost_usd"};
    if (strcmp(table, "llm_request"))
        return 0;
    *out = cols;
    return 4;
}

static void test_rb_checks_tables_and_fields_against_a_schema(void **state)
{
    (void)state;
    static const char *const tables[] = {"llm_request", "tool_call"};
    vg_rb_env_t env = {
        .column_type = fake_type, .column_names = fake_names, .tables = tables, .ntables = 2};
    vg_rb_diags_t d = {0};
    assert_int_equal(load_compile(fx("bad/schema.yaml"), &env, &d), VG_EPARSE);
    assert_int_equal(d.n, 2);
    expect_diag(&d, 5, 22,
                "unknown field 'latncy_s' in table llm_request (did you mean 'latency_s'?)");
    expect_diag(&d, 9, 32, "unknown table 'llm_requests' (did you mean 'llm_request'?)");
    vg_rb_diags_free(&d);
}

/* ------------------------------------------------------------ sets */

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_rb_loads_a_folder_sorted_and_rule_names_are_unique_across_files(void **state)
{
    (void)state;
    const char *good = fx("good");
    vg_rb_set_t set = {0};
    vg_rb_diags_t d = {0};
    assert_int_equal(vg_rb_load_paths(&good, 1, &set, &d), VG_OK);
    assert_int_equal(set.n, 2);
    assert_string_equal(set.v[0]->name.s, "latency-degradation");
    assert_string_equal(set.v[1]->name.s, "refusal-spike");
    vg_rb_set_free(&set);

    char dir[1200];
    snprintf(dir, sizeof dir, "%s/rb_set", tmp_dir());
    mkdir(dir, 0755);
    const char *rb = "name: %s\nsignal: cost\nrules:\n  - alert: Same\n"
                     "    expr: SELECT count() AS n FROM llm_request\n    when: n > 1\n";
    char text[512];
    snprintf(text, sizeof text, rb, "a");
    write_file(dir, "a.yaml", text);
    snprintf(text, sizeof text, rb, "b");
    write_file(dir, "b.yml", text);
    write_file(dir, "notes.txt", "not a runbook");
    const char *p = dir;
    assert_int_equal(vg_rb_load_paths(&p, 1, &set, &d), VG_EPARSE);
    assert_int_equal(set.n, 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 4);
    assert_int_equal(d.v[0].column, 12);
    assert_non_null(strstr(d.v[0].file, "b.yml"));
    assert_non_null(strstr(d.v[0].msg, "duplicate rule name 'Same' (also in "));
    vg_rb_diags_free(&d);
    /* load_all keeps what loaded, for a checker to go on with */
    assert_int_equal(vg_rb_load_all(&p, 1, &set, &d), VG_EPARSE);
    assert_int_equal(set.n, 2);
    vg_rb_set_free(&set);
    vg_rb_diags_free(&d);
}

static void test_rb_check_keeps_runbooks_with_problems_and_skips_a_bom(void **state)
{
    (void)state;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/rb_partial", tmp_dir());
    mkdir(dir, 0755);
    /* a BOM, a load problem (line 1) and a query problem (line 5) in one file */
    write_file(dir, "p.yaml",
               "\xEF\xBB\xBFname: Bad\nsignal: cost\nrules:\n  - alert: A\n"
               "    expr: SELECT cnt() AS n FROM llm_request\n    when: n > 1\n");
    write_file(dir, "q.yaml", "name: [\n"); /* not YAML: nothing to keep */
    const char *p = dir;
    vg_rb_set_t set = {0};
    vg_rb_diags_t d = {0};
    assert_int_equal(vg_rb_load_all(&p, 1, &set, &d), VG_EPARSE);
    assert_int_equal(set.n, 1);
    assert_int_equal(d.n, 2);
    expect_diag(&d, 1, 7, "bad runbook name 'Bad'");
    assert_int_equal(vg_rb_compile(set.v[0], NULL, &d), VG_EPARSE);
    expect_diag(&d, 5, 18, "unknown function 'cnt'");
    vg_rb_set_free(&set);
    vg_rb_diags_free(&d);
    /* vg_rb_load_paths hands out nothing when anything had a problem */
    assert_int_equal(vg_rb_load_paths(&p, 1, &set, &d), VG_EPARSE);
    assert_int_equal(set.n, 0);
    assert_null(set.v);
    vg_rb_diags_free(&d);
}

/* ------------------------------------------------------------ templates */

static int lookup(void *ctx, const char *name, char *buf, size_t cap)
{
    (void)ctx;
    if (!strcmp(name, "route"))
        snprintf(buf, cap, "answer");
    else if (!strcmp(name, "value"))
        snprintf(buf, cap, "0.25");
    else
        return 0;
    return 1;
}

static void expect_tmpl(const char *tmpl, const char *want)
{
    char *out = NULL;
    assert_int_equal(vg_rb_template(tmpl, lookup, NULL, &out), VG_OK);
    assert_string_equal(out, want);
    vg_free(out);
}

static void test_rb_template_fills_names_and_keeps_what_is_not_a_hole(void **state)
{
    (void)state;
    expect_tmpl("on {{route}} at {{ value }}", "on answer at 0.25");
    expect_tmpl("{{ .route }}/{{ $labels.route }}={{$value}}", "answer/answer=0.25");
    expect_tmpl("{{nope}} and {{ }}", "<no value> and <no value>");
    expect_tmpl("open {{ route and }} {{ more", "open <no value> {{ more");
    expect_tmpl("a }} b {", "a }} b {");
    expect_tmpl("", "");
    expect_tmpl("{{route}}{{route}}", "answeranswer");
}

typedef struct names {
    char v[4][32];
    size_t off[4];
    int n;
} names_t;

static int collect(void *ctx, const char *name, size_t off)
{
    names_t *k = ctx;
    snprintf(k->v[k->n], sizeof k->v[0], "%s", name);
    k->off[k->n++] = off;
    return k->n == 3 ? 7 : 0;
}

static void test_rb_template_names_give_each_hole_and_its_offset(void **state)
{
    (void)state;
    names_t k = {0};
    assert_int_equal(vg_rb_template_names("x {{ a }} {{$labels.b}}{{c}} {{d}}", collect, &k), 7);
    assert_int_equal(k.n, 3);
    assert_string_equal(k.v[0], "a");
    assert_int_equal(k.off[0], 2);
    assert_string_equal(k.v[1], "b");
    assert_int_equal(k.off[1], 10);
    assert_string_equal(k.v[2], "c");
    assert_int_equal(k.off[2], 23);
}

/* ------------------------------------------------------------ show */

static void test_rb_show_prints_rules_steps_and_the_decision_tree(void **state)
{
    (void)state;
    vg_runbook_t *rb = NULL;
    assert_int_equal(vg_rb_load(fx("good/refusal.yaml"), &rb, NULL), VG_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    vg_rb_show(rb, f);
    fclose(f);
    static const char *const want[] = {
        "refusal-spike: Refusal rate spike  [signal: refusal]\n"
        "  Refusals rising against their own baseline, per route and model.\n",
        "rules\n  RefusalRateAboveBaseline  every 1m, for 10m, keep firing 5m, no data: keep "
        "state\n",
        "    query:    SELECT rate(refusal) AS rate, baseline(rate(refusal), 7d, 1d) AS base, "
        "count() AS n, ztest_p(refusal) AS p FROM llm_request SINCE 10m BY route, model AGAINST "
        "PREVIOUS 7d\n",
        "    fires:    rate > 2 * base AND rate > base + 0.01 AND n >= 200 AND p < 0.001\n",
        "    resolves: rate < 1.2 * base\n",
        "    labels:   severity=page\n",
        "investigate\n  1. changes in the last hour: SELECT * FROM change_event SINCE 1h\n",
        "  offending: SELECT * FROM llm_request WHERE refusal SINCE 15m SAMPLE 5\n",
        "decision tree (first cause whose condition holds)\n"
        "  \u2514\u2500 guardrail or content filter misconfigured\n",
        "       when:       cf > 0.05\n",
        "       mitigation: roll the guardrail back to its last good configuration\n",
        "       fallback:   guardrail.mode=last-good\n",
        "escalation: page the product on-call above 10%; security at once on under-refusal\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(buf, want[i]))
            fail_msg("missing:\n%s\nin:\n%s", want[i], buf);
    free(buf);
    vg_rb_free(rb);

    assert_int_equal(vg_rb_load(fx("good/latency.yaml"), &rb, NULL), VG_OK);
    f = open_memstream(&buf, &len);
    vg_rb_show(rb, f);
    fclose(f);
    assert_non_null(strstr(buf, "  \u251c\u2500 provider slow\n  \u2502    check:"));
    assert_non_null(strstr(buf, "its first value is true or non-zero"));
    assert_non_null(strstr(buf, "  \u2514\u2500 anything else\n"));
    assert_non_null(strstr(buf, "LatencyErrors  every 1m, no data: alert\n"));
    free(buf);
    vg_rb_free(rb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rb_loads_the_issue_example_with_every_field_and_position),
        cmocka_unit_test(test_rb_maps_value_columns_back_to_the_file),
        cmocka_unit_test(test_rb_applies_defaults_and_accepts_the_other_spellings),
        cmocka_unit_test(test_rb_reports_a_yaml_syntax_error_where_libyaml_finds_it),
        cmocka_unit_test(test_rb_suggests_the_key_an_unknown_one_was_meant_to_be),
        cmocka_unit_test(test_rb_reports_a_missing_required_key_at_its_mapping),
        cmocka_unit_test(test_rb_rejects_a_bad_duration),
        cmocka_unit_test(test_rb_rejects_a_bad_no_data_with_a_suggestion),
        cmocka_unit_test(test_rb_rejects_an_unknown_signal_with_a_suggestion),
        cmocka_unit_test(test_rb_maps_query_errors_in_block_scalars_to_the_file),
        cmocka_unit_test(test_rb_maps_expression_errors_in_quoted_scalars),
        cmocka_unit_test(test_rb_when_must_name_columns_of_the_query),
        cmocka_unit_test(test_rb_templates_must_name_columns_or_labels),
        cmocka_unit_test(test_rb_query_templates_must_be_known_to_every_rule),
        cmocka_unit_test(test_rb_receivers_must_exist_when_known),
        cmocka_unit_test(test_rb_rejects_duplicate_rule_names_in_a_file),
        cmocka_unit_test(test_rb_rejects_duplicate_keys),
        cmocka_unit_test(test_rb_rejects_a_list_where_a_string_belongs),
        cmocka_unit_test(test_rb_rejects_an_empty_file),
        cmocka_unit_test(test_rb_collects_every_problem_of_a_file),
        cmocka_unit_test(test_rb_reports_unreadable_and_oversized_files_without_a_place),
        cmocka_unit_test(test_rb_checks_tables_and_fields_against_a_schema),
        cmocka_unit_test(test_rb_loads_a_folder_sorted_and_rule_names_are_unique_across_files),
        cmocka_unit_test(test_rb_check_keeps_runbooks_with_problems_and_skips_a_bom),
        cmocka_unit_test(test_rb_template_fills_names_and_keeps_what_is_not_a_hole),
        cmocka_unit_test(test_rb_template_names_give_each_hole_and_its_offset),
        cmocka_unit_test(test_rb_show_prints_rules_steps_and_the_decision_tree),
    };
    return cmocka_run_group_tests(tests, find_fixtures, NULL);
}
