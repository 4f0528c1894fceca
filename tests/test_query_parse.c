/*
 * test_query_parse.c: the query language's lexer, parser, checks and
 * canonical printer: every production of the grammar (issue 3), every kind
 * of error with its line and column, the runbook queries (issue 5),
 * precedence, column names, a round-trip corpus and a garbage loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../query/ast.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_query.h"

#define NS_S INT64_C(1000000000)

/* ---------------------------------------------------------------- helpers */

static vg_q_stmt_t *parse_ok(const char *q)
{
    vg_q_stmt_t *s = NULL;
    vg_q_error_t e;
    int rc = vg_q_parse(q, &s, &e);
    if (rc) {
        char buf[512];
        vg_q_error_format(&e, buf, sizeof buf);
        print_error("query: %s\n%s\n", q, buf);
    }
    assert_int_equal(rc, VG_OK);
    assert_non_null(s);
    return s;
}

static const char *canon(const char *q)
{
    static char buf[4096];
    vg_q_stmt_t *s = parse_ok(q);
    int n = vg_q_format(s, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    vg_q_free(s);
    return buf;
}

static void assert_canon(const char *q, const char *want)
{
    assert_string_equal(canon(q), want);
}

static void assert_error(const char *q, int line, int col, const char *msg)
{
    vg_q_stmt_t *s = NULL;
    vg_q_error_t e;
    memset(&e, 0, sizeof e);
    int rc = vg_q_parse(q, &s, &e);
    if (rc != VG_EPARSE || e.line != line || e.column != col || !strstr(e.msg, msg))
        print_error("query: %s\n got rc %d at %d:%d '%s'\nwant %d:%d '%s'\n", q, rc, e.line,
                    e.column, e.msg, line, col, msg);
    assert_int_equal(rc, VG_EPARSE);
    assert_null(s);
    assert_int_equal(e.code, VG_EPARSE);
    assert_int_equal(e.line, line);
    assert_int_equal(e.column, col);
    assert_non_null(strstr(e.msg, msg));
}

static const char *expr_fmt(const char *text, int flags)
{
    static char buf[2048];
    vg_q_expr_t *e = NULL;
    vg_q_error_t err;
    int rc = vg_q_parse_expr(text, &e, &err);
    if (rc)
        print_error("expr: %s\n%d:%d %s\n", text, err.line, err.column, err.msg);
    assert_int_equal(rc, VG_OK);
    vg_q_expr_format(e, flags, buf, sizeof buf);
    vg_q_expr_free(e);
    return buf;
}

static void assert_expr_error(const char *text, int line, int col, const char *msg)
{
    vg_q_expr_t *e = NULL;
    vg_q_error_t err;
    int rc = vg_q_parse_expr(text, &e, &err);
    if (rc != VG_EPARSE || err.line != line || err.column != col || !strstr(err.msg, msg))
        print_error("expr: %s\n got %d:%d '%s'\n", text, err.line, err.column, err.msg);
    assert_int_equal(rc, VG_EPARSE);
    assert_null(e);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, col);
    assert_non_null(strstr(err.msg, msg));
}

/* ------------------------------------------------- the runbooks' queries */

static const char *const runbook_queries[] = {
    "SELECT rate(refusal) AS rate, baseline(rate(refusal), 7d, 1d) AS base, count() AS n,\n"
    "       ztest_p(refusal) AS p\n"
    "FROM llm_request SINCE 10m BY route, model AGAINST PREVIOUS 7d\n",
    "SELECT * FROM change_event SINCE 1h",
    "SELECT * FROM llm_request WHERE refusal SINCE 15m SAMPLE 5",
    "SELECT * FROM llm_request WHERE NOT refusal SINCE 7d SAMPLE 5",
    "SELECT rate(finish = 'content_filter') AS cf FROM llm_request SINCE 1h",
    /* what domain.md part 4 implies for the seven shipped runbooks */
    "SELECT p99(latency_s) AS p99, baseline(p99(latency_s), 7d, 1d) AS base, count() AS n "
    "FROM llm_request SINCE 10m BY route, model",
    "SELECT p99(ttft_s) AS ttft, baseline(p99(ttft_s), 7d, 1d) AS base, "
    "p50(latency_s) / baseline(p50(latency_s), 7d, 1d) AS p50_ratio FROM llm_request SINCE 10m "
    "BY route, model, bucket(input_tokens, 1000, 8000)",
    "SELECT rate(latency_s > 10) AS bad FROM llm_request SINCE 1h BY route",
    "SELECT mean(output_tokens) AS len, baseline(mean(output_tokens), 7d, 1d) AS base, "
    "count() AS n FROM llm_request SINCE 30m BY route, model, prompt_ver",
    "SELECT rate(finish = 'length') AS trunc, baseline(rate(finish = 'length'), 7d, 1d) AS base "
    "FROM llm_request SINCE 15m BY route, model",
    "SELECT psi(output_tokens) AS psi, n_cur(output_tokens) AS n FROM llm_request SINCE 1d "
    "BY route AGAINST PREVIOUS 7d",
    "SELECT rate(refusal) AS rate, baseline(rate(refusal), 7d, 1d) AS base, count() AS n, "
    "rate(inj_flag) AS inj, baseline(rate(inj_flag), 7d, 1d) AS inj_base FROM llm_request "
    "SINCE 1h BY route, model",
    "SELECT mean(quality) AS q, baseline(mean(quality), 7d, 1d) AS base, count() AS n, "
    "rate(quality < 0.5) AS low FROM eval_result SINCE 1h BY route, model, evaluator",
    "SELECT sum(cost_usd) AS cost, baseline(sum(cost_usd), 7d, 1d) AS base FROM llm_request "
    "SINCE 15m BY route",
    "SELECT rate(NOT ok) AS err, baseline(rate(NOT ok), 7d, 1d) AS base, count() AS n, "
    "rate(empty) AS empty, p99(duration_s) AS p99 FROM tool_call SINCE 5m BY tool",
    "SELECT count() AS n FROM tool_call WHERE allowlisted = false SINCE 5m BY tool",
    "SELECT count_distinct(conversation_id) AS convs, rate(inj_flag) AS inj FROM llm_request "
    "SINCE 10m BY route",
    "SELECT zscore(rate(refusal), 1d) AS z FROM llm_request SINCE 10m EVERY 10m BY route",
    "SELECT * FROM change_event WHERE kind IN ('model', 'provider_status', 'guardrail') "
    "SINCE 1h",
};

static const char *const runbook_whens[] = {
    "rate > 2 * base AND rate > base + 0.01 AND n >= 200 AND p < 0.001",
    "rate < 1.2 * base",
    "cf > 0.05",
    "p99 > greatest(2 * base, 10) AND n >= 200",
    "len < 0.6 * base OR len > 1.5 * base",
    "NOT (err <= 3 * base) AND err > base + 0.05",
    "q < base - greatest(0.05, 0.05 * base)",
    "inj > 3 * base OR inj IS NULL",
    "trunc > 2 * base AND trunc > 0.05",
};

static void test_query_parses_every_runbook_query_and_when(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof runbook_queries / sizeof *runbook_queries; i++)
        vg_q_free(parse_ok(runbook_queries[i]));
    for (size_t i = 0; i < sizeof runbook_whens / sizeof *runbook_whens; i++)
        (void)expr_fmt(runbook_whens[i], 0);
    vg_q_stmt_t *s = parse_ok(runbook_queries[0]);
    assert_int_equal(s->range.kind, VG_QR_SINCE);
    assert_true(s->range.since.ns == 600 * NS_S);
    assert_int_equal(s->ngroups, 2);
    assert_string_equal(s->group_names[0], "route");
    assert_string_equal(s->group_names[1], "model");
    assert_int_equal(s->against.kind, VG_QA_PREVIOUS);
    assert_true(s->against.span.ns == 7 * 86400 * NS_S);
    const vg_q_expr_t *base = s->items[1].expr;
    assert_int_equal(base->kind, VG_QE_CALL);
    assert_int_equal(base->u.call.fn->id, VG_QF_BASELINE_FN);
    assert_int_equal(base->u.call.args[0]->u.call.fn->id, VG_QF_RATE);
    assert_true(base->u.call.args[2]->u.dur.ns == 86400 * NS_S);
    assert_true(vg_q_is_aggregate(s));
    vg_q_free(s);
}

static void test_query_when_expression_has_and_over_comparisons(void **state)
{
    (void)state;
    assert_string_equal(expr_fmt(runbook_whens[0], VG_Q_FMT_PARENS),
                        "(((rate > (2 * base)) AND (rate > (base + 0.01))) AND (n >= 200)) AND "
                        "(p < 0.001)");
    assert_string_equal(expr_fmt(runbook_whens[0], 0), runbook_whens[0]);
    assert_expr_error("rate(refusal) > 0.1", 1, 1, "rate() aggregates: it is not allowed");
    /* a column named by its text is quoted */
    assert_string_equal(expr_fmt("\"p99(latency_s)\" > 2 * base", 0),
                        "\"p99(latency_s)\" > 2 * base");
    assert_expr_error("rate > ", 1, 8, "expected an expression, found end of query");
    assert_expr_error("rate > 1 base", 1, 10, "expected an operator or end of expression");
}

/* ---------------------------------------------------------- productions */

static void test_query_items_are_named_by_alias_or_lowercased_text(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT P99( latency_s ), count(*), Count() AS N, \"Gen.AI\", "
                              "rate(finish = 'Length'), mean(a) / 2 AS \"half mean\", "
                              "count_if(route =~ /A b/) FROM t BY \"Gen.AI\"");
    assert_int_equal(vg_q_item_count(s), 7);
    assert_string_equal(vg_q_item_name(s, 0), "p99(latency_s)");
    assert_string_equal(vg_q_item_name(s, 1), "count(*)");
    assert_string_equal(vg_q_item_name(s, 2), "N");
    assert_string_equal(vg_q_item_name(s, 3), "Gen.AI"); /* a plain reference keeps its case */
    assert_string_equal(vg_q_item_name(s, 4), "rate(finish='Length')");
    assert_string_equal(vg_q_item_name(s, 5), "half mean");
    assert_string_equal(vg_q_item_name(s, 6), "count_if(route=~/A b/)");
    assert_null(vg_q_item_name(s, 7));
    assert_string_equal(vg_q_table(s), "t");
    vg_q_free(s);
    s = parse_ok("SELECT * FROM \"my table\"");
    assert_int_equal(vg_q_item_count(s), 1);
    assert_string_equal(vg_q_item_name(s, 0), "*");
    assert_true(s->star);
    assert_false(vg_q_is_aggregate(s));
    assert_string_equal(vg_q_table(s), "my table");
    vg_q_free(s);
    /* comments and line breaks inside an item do not reach its name */
    s = parse_ok("SELECT p99(latency_s -- the tail\n) FROM t");
    assert_string_equal(vg_q_item_name(s, 0), "p99(latency_s)");
    vg_q_free(s);
}

static void test_query_keywords_and_functions_are_case_insensitive(void **state)
{
    (void)state;
    assert_canon("select Avg(x) as m from T where A = 1 since 1H every 5M by b order by m desc "
                 "limit 3",
                 "SELECT avg(x) AS m FROM T WHERE A = 1 SINCE 1h EVERY 5m BY b ORDER BY m DESC "
                 "LIMIT 3");
    vg_q_stmt_t *s = parse_ok("SELECT AVG(x), MEDIAN(y) FROM t");
    assert_int_equal(s->items[0].expr->u.call.fn->id, VG_QF_MEAN);
    assert_string_equal(s->items[0].expr->u.call.fn->canonical, "mean");
    assert_int_equal(s->items[1].expr->u.call.fn->id, VG_QF_QUANTILE);
    assert_true(s->items[1].expr->u.call.fn->q == 0.5);
    vg_q_free(s);
}

static void test_query_literals_numbers_strings_bools_null(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT count() FROM t WHERE a = 42 OR b = 0.5 OR c = 1e-3 OR "
                              "d = .25 OR e = 'it''s' OR f = TRUE OR g = false OR h = NULL "
                              "OR i = -7 OR j = 9223372036854775807 OR k = 2E3");
    char buf[512];
    vg_q_format(s, buf, sizeof buf);
    assert_string_equal(buf, "SELECT count() FROM t WHERE a = 42 OR b = 0.5 OR c = 0.001 OR "
                             "d = 0.25 OR e = 'it''s' OR f = TRUE OR g = FALSE OR h = NULL "
                             "OR i = -7 OR j = 9223372036854775807 OR k = 2000.0");
    /* walk down the left spine of ORs to a = 42 */
    const vg_q_expr_t *e = s->where;
    while (e->kind == VG_QE_BINARY && e->u.bin.op == VG_QO_OR)
        e = e->u.bin.a;
    assert_int_equal(e->u.bin.b->kind, VG_QE_NUM);
    assert_true(e->u.bin.b->u.num.is_int);
    assert_true(e->u.bin.b->u.num.i == 42);
    vg_q_free(s);
    s = parse_ok("SELECT count() FROM t WHERE e = 'it''s'");
    assert_string_equal(s->where->u.bin.b->u.str.s, "it's");
    vg_q_free(s);
    /* an integer beyond int64 becomes a float */
    s = parse_ok("SELECT count() FROM t WHERE j = 99999999999999999999");
    assert_false(s->where->u.bin.b->u.num.is_int);
    assert_true(s->where->u.bin.b->u.num.f == 1e20);
    vg_q_free(s);
}

static void test_query_durations_are_single_tokens(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } cases[] = {{"30s", 30 * NS_S},       {"5m", 300 * NS_S},        {"1h", 3600 * NS_S},
                 {"7d", 7 * 86400 * NS_S}, {"2w", 14 * 86400 * NS_S}, {"250ms", 250000000},
                 {"1h30m", 5400 * NS_S},   {"1D", 86400 * NS_S}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT count() FROM t EVERY %s", cases[i].text);
        vg_q_stmt_t *s = parse_ok(q);
        assert_true(s->every.ns == cases[i].ns);
        vg_q_free(s);
    }
    assert_error("SELECT count() FROM t SINCE 5x", 1, 29, "bad duration '5x'");
    assert_error("SELECT count() FROM t SINCE 1.5h", 1, 29, "bad duration '1.5h'");
    assert_error("SELECT count() FROM t SINCE 5", 1, 29,
                 "expected a duration after SINCE (30s 5m 1h 7d), found '5'");
    assert_error("SELECT count() FROM t SINCE 99999999999w", 1, 29, "is too large");
    assert_error("SELECT count() FROM t EVERY 0s", 1, 29, "EVERY needs a duration above zero");
}

static void test_query_where_predicates_regex_in_isnull(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT count() FROM t WHERE route =~ /^refund_(qa|faq)$/ AND "
                              "model !~ /mini/i AND \"gen_ai.system\" =~ 'open.*' AND env IN "
                              "('prod', 'staging') AND tier NOT IN ('free') AND quality IS NOT "
                              "NULL AND x IS NULL AND path =~ /a\\/b\\.c/");
    const vg_q_expr_t *w = s->where;
    /* the AND chain is left-deep: the last conjunct is on the right */
    assert_int_equal(w->u.bin.b->kind, VG_QE_REGEX);
    assert_string_equal(w->u.bin.b->u.rx.pattern, "a/b\\.c");
    assert_int_equal(regexec(w->u.bin.b->u.rx.re, "xa/b.cx", 0, NULL, 0), 0);
    assert_int_equal(regexec(w->u.bin.b->u.rx.re, "a/bxc", 0, NULL, 0), REG_NOMATCH);
    const vg_q_expr_t *first = w;
    while (first->kind == VG_QE_BINARY && first->u.bin.op == VG_QO_AND)
        first = first->u.bin.a;
    assert_int_equal(first->kind, VG_QE_REGEX);
    assert_int_equal(regexec(first->u.rx.re, "refund_faq", 0, NULL, 0), 0);
    assert_int_equal(regexec(first->u.rx.re, "xrefund_faq", 0, NULL, 0), REG_NOMATCH);
    char buf[512];
    vg_q_format(s, buf, sizeof buf);
    assert_string_equal(buf, "SELECT count() FROM t WHERE route =~ /^refund_(qa|faq)$/ AND "
                             "model !~ /mini/i AND \"gen_ai.system\" =~ /open.*/ AND env IN "
                             "('prod', 'staging') AND tier NOT IN ('free') AND quality IS NOT "
                             "NULL AND x IS NULL AND path =~ /a\\/b\\.c/");
    vg_q_free(s);
    s = parse_ok("SELECT count() FROM t WHERE model !~ /MINI/i");
    assert_true(s->where->u.rx.negate);
    assert_int_equal(regexec(s->where->u.rx.re, "gpt-4o-mini", 0, NULL, 0), 0);
    vg_q_free(s);
    s = parse_ok("SELECT count() FROM t WHERE n IN (1, -2, 3.5)");
    assert_int_equal(s->where->u.in.n, 3);
    assert_true(s->where->u.in.list[1]->u.num.i == -2);
    vg_q_free(s);
}

static void test_query_range_since_and_between_time_forms(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT count() FROM t");
    assert_int_equal(s->range.kind, VG_QR_DEFAULT);
    assert_true(s->range.since.ns == 3600 * NS_S);
    vg_q_free(s);
    s = parse_ok("SELECT count() FROM t BETWEEN '2026-11-27T03:14:00Z' AND "
                 "1795824000000000000");
    assert_int_equal(s->range.kind, VG_QR_BETWEEN);
    assert_int_equal(s->range.start.kind, VG_QTM_ABS);
    assert_true(s->range.start.ns == INT64_C(1795749240000000000));
    assert_true(s->range.end.ns == INT64_C(1795824000000000000));
    vg_q_free(s);
    s = parse_ok("SELECT count() FROM t BETWEEN now() - 2h AND now()");
    assert_int_equal(s->range.start.kind, VG_QTM_NOW);
    assert_true(s->range.start.ns == -7200 * NS_S);
    assert_int_equal(s->range.end.kind, VG_QTM_NOW);
    assert_true(s->range.end.ns == 0);
    vg_q_free(s);
    assert_canon("SELECT count() FROM t BETWEEN now() - 1h30m AND now() + 5m",
                 "SELECT count() FROM t BETWEEN now() - 1h30m AND now() + 5m");
    assert_canon("SELECT count() FROM t BETWEEN '2026-11-27' AND '2026-11-27T01:00:00+00:30'",
                 "SELECT count() FROM t BETWEEN '2026-11-27' AND '2026-11-27T01:00:00+00:30'");
    /* an offset counts: 01:00 at +01:00 is the same instant as midnight UTC */
    assert_error("SELECT count() FROM t BETWEEN '2026-11-27' AND '2026-11-27T01:00:00+01:00'", 1,
                 31, "BETWEEN's start must be before its end");
    assert_error("SELECT count() FROM t BETWEEN '2026-11-28T00:00:00Z' AND "
                 "'2026-11-27T00:00:00Z'",
                 1, 31, "BETWEEN's start must be before its end");
    assert_error("SELECT count() FROM t BETWEEN now() AND now() - 1h", 1, 31,
                 "BETWEEN's start must be before its end");
    assert_error("SELECT count() FROM t BETWEEN 'yesterday' AND now()", 1, 31,
                 "bad time 'yesterday'");
    assert_error("SELECT count() FROM t BETWEEN 'now() - 1h' AND now()", 1, 31,
                 "write now() without quotes");
    assert_error("SELECT count() FROM t BETWEEN now() AND", 1, 40, "expected a time");
    assert_error("SELECT count() FROM t BETWEEN now() - 1h now()", 1, 42,
                 "expected AND, found 'now'");
}

static void test_query_every_by_and_bucket_groups(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT p99(ttft_s) FROM llm_request SINCE 6h EVERY 5m BY "
                              "model, bucket(input_tokens, 1000, 8000), \"gen_ai.system\"");
    assert_true(s->every.ns == 300 * NS_S);
    assert_int_equal(s->ngroups, 3);
    assert_int_equal(s->groups[1]->u.call.fn->id, VG_QF_BUCKET);
    assert_int_equal(s->groups[1]->u.call.nargs, 3);
    assert_string_equal(s->group_names[1], "bucket(input_tokens,1000,8000)");
    assert_string_equal(s->group_names[2], "gen_ai.system");
    vg_q_free(s);
    /* SQL's GROUP BY is taken as BY */
    assert_canon("SELECT count() FROM t GROUP BY model", "SELECT count() FROM t BY model");
    assert_error("SELECT count() FROM t BY bucket(x, 5, 1)", 1, 39,
                 "bucket()'s edges must be strictly increasing");
    assert_error("SELECT count() FROM t BY bucket(1, 5)", 1, 33,
                 "bucket()'s first argument must be a field");
    assert_error("SELECT count() FROM t BY bucket(x, 'a')", 1, 36, "edges must be numbers");
    assert_error("SELECT count() FROM t BY p99(x)", 1, 26, "BY takes a tag or bucket");
    assert_error("SELECT count() FROM t BY 5", 1, 26, "expected a tag or bucket");
    assert_error("SELECT count() FROM t BY model, route, model", 1, 40,
                 "model appears twice in BY");
    assert_error("SELECT bucket(x, 1) FROM t", 1, 8, "bucket() is only allowed in BY");
}

static void test_query_against_every_reference_form(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT ks(output_tokens), ks_p(output_tokens), "
                              "wasserstein(output_tokens), psi(output_tokens), js(finish), "
                              "chi2_p(finish), ztest_p(refusal), n_cur(x), n_ref(x) FROM t BY "
                              "prompt_ver AGAINST OFFSET 1w");
    assert_int_equal(s->against.kind, VG_QA_OFFSET);
    assert_true(s->against.span.ns == 7 * 86400 * NS_S);
    for (int i = 0; i < s->nitems; i++)
        assert_int_equal(s->items[i].expr->u.call.fn->kind, VG_QF_DRIFT);
    vg_q_free(s);
    s = parse_ok("SELECT psi(output_tokens) FROM t WHERE route = 'a' AGAINST WHERE prompt_ver "
                 "= 'v12' SINCE 1d");
    assert_int_equal(s->against.kind, VG_QA_WHERE);
    assert_string_equal(s->against.where->u.bin.b->u.str.s, "v12");
    assert_int_equal(s->range.kind, VG_QR_SINCE);
    vg_q_free(s);
    s = parse_ok("SELECT ks(x) FROM t AGAINST BETWEEN '2026-11-27T03:14:00Z' AND now() - 1d");
    assert_int_equal(s->against.kind, VG_QA_BETWEEN);
    assert_true(s->against.start.ns == INT64_C(1795749240000000000));
    assert_int_equal(s->against.end.kind, VG_QTM_NOW);
    vg_q_free(s);
    s = parse_ok("SELECT ks(x) FROM t");
    assert_int_equal(s->against.kind, VG_QA_NONE);
    vg_q_free(s);
    assert_error("SELECT ks(x) FROM t AGAINST LAST 7d", 1, 29,
                 "expected PREVIOUS, OFFSET, BETWEEN or WHERE after AGAINST, found 'LAST'");
    assert_error("SELECT ks(x) FROM t AGAINST PREVIOUS", 1, 37,
                 "expected a duration after PREVIOUS");
    assert_error("SELECT ks(x) FROM t AGAINST WHERE p99(x) > 1", 1, 35,
                 "p99() aggregates: it is not allowed in a row predicate");
}

static void test_query_order_limit_sample(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT p99(latency_s), count() AS n FROM t BY model ORDER BY "
                              "p99( latency_s ) DESC, n ASC, model, time LIMIT 10");
    assert_int_equal(s->norder, 4);
    assert_int_equal(s->order[0].item, 0);
    assert_true(s->order[0].desc);
    assert_int_equal(s->order[1].item, 1);
    assert_false(s->order[1].desc);
    assert_int_equal(s->order[2].item, -1);
    assert_int_equal(s->order[2].group, 0);
    assert_true(s->order[3].is_time);
    assert_true(s->limit == 10);
    assert_true(s->sample == -1);
    vg_q_free(s);
    /* an aliased item is found by its text too */
    s = parse_ok("SELECT p99(latency_s) AS p FROM t BY model ORDER BY P99(latency_s) DESC");
    assert_int_equal(s->order[0].item, 0);
    vg_q_free(s);
    s = parse_ok("SELECT latency_s, model FROM t ORDER BY latency_s * 2 DESC LIMIT 0");
    assert_int_equal(s->order[0].item, -1);
    assert_true(s->limit == 0);
    vg_q_free(s);
    s = parse_ok("SELECT * FROM t SAMPLE 5;");
    assert_true(s->sample == 5);
    vg_q_free(s);
    assert_error("SELECT x FROM t LIMIT -1", 1, 23,
                 "expected a non-negative integer after LIMIT, found '-'");
    assert_error("SELECT x FROM t LIMIT 2.5", 1, 23, "non-negative integer after LIMIT");
    assert_error("SELECT * FROM t SAMPLE x", 1, 24, "non-negative integer after SAMPLE");
    assert_error("SELECT count() FROM t ORDER count()", 1, 29, "expected BY, found 'count'");
    assert_error("SELECT count() AS n FROM t ORDER BY m", 1, 37,
                 "ORDER BY m names no result column");
    assert_error("SELECT * FROM t ORDER BY count()", 1, 26, "not allowed in ORDER BY of raw rows");
}

static void test_query_clauses_in_any_order_print_in_grammar_order(void **state)
{
    (void)state;
    assert_canon("SELECT count() FROM t LIMIT 5 BY m EVERY 1m SINCE 1h WHERE a = 1",
                 "SELECT count() FROM t WHERE a = 1 SINCE 1h EVERY 1m BY m LIMIT 5");
    assert_error("SELECT count() FROM t SINCE 1h BETWEEN now() - 1h AND now()", 1, 32,
                 "range (SINCE or BETWEEN) given twice (first at line 1, column 23)");
    assert_error("SELECT count() FROM t WHERE a WHERE b", 1, 31, "WHERE given twice");
}

/* ------------------------------------------------------------ precedence */

static void test_query_precedence_not_over_cmp_and_or(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"NOT a = 1 AND b OR c", "((NOT (a = 1)) AND b) OR c"},
        {"a OR b AND c", "a OR (b AND c)"},
        {"a OR b OR c", "(a OR b) OR c"},
        {"NOT a AND NOT b", "(NOT a) AND (NOT b)"},
        {"NOT NOT a", "NOT (NOT a)"},
        {"1 + 2 * 3 - 4 / 5", "(1 + (2 * 3)) - (4 / 5)"},
        {"a - b - c", "(a - b) - c"},
        {"a - (b - c)", "a - (b - c)"},
        {"a / b * c", "(a / b) * c"},
        {"-a * b", "(-a) * b"},
        {"-2 * 3", "-2 * 3"},
        {"2 - -3", "2 - -3"},
        {"- -a", "-(-a)"},
        {"a + b > c * 2 AND d", "((a + b) > (c * 2)) AND d"},
        {"(a OR b) AND c", "(a OR b) AND c"},
        {"NOT x IN ('a') OR y =~ /z/", "(NOT (x IN ('a'))) OR (y =~ /z/)"},
        {"x NOT IN (1, 2)", "x NOT IN (1, 2)"},
        {"a + 1 IS NULL", "(a + 1) IS NULL"},
        {"now() - 1h", "now() - 1h"},
        {"a == 1", "a = 1"},
        {"a <> 1", "a != 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = expr_fmt(cases[i][0], VG_Q_FMT_PARENS);
        if (strcmp(got, cases[i][1]) != 0)
            print_error("%s -> %s\n", cases[i][0], got);
        assert_string_equal(got, cases[i][1]);
    }
    /* minimal printing keeps only what precedence needs */
    assert_string_equal(expr_fmt("((a)) + (b * c)", 0), "a + b * c");
    assert_string_equal(expr_fmt("(a + b) * c", 0), "(a + b) * c");
    assert_string_equal(expr_fmt("NOT (a AND b)", 0), "NOT (a AND b)");
    assert_string_equal(expr_fmt("a AND (b AND c)", 0), "a AND (b AND c)");
    assert_string_equal(expr_fmt("-(a + b)", 0), "-(a + b)");
    assert_expr_error("a < b < c", 1, 7, "comparisons do not chain");
    assert_expr_error("a = b IN (1)", 1, 7, "comparisons do not chain");
}

/* ---------------------------------------------------------------- errors */

static void test_query_reports_syntax_errors_with_position(void **state)
{
    (void)state;
    assert_error("SELECT count() FORM llm_request", 1, 16, "expected FROM, found 'FORM'");
    assert_error("", 1, 1, "expected SELECT, found end of query");
    assert_error("SELEC count() FROM t", 1, 1, "expected SELECT, found 'SELEC'");
    assert_error("SELECT FROM t", 1, 8, "expected an expression, found 'FROM'");
    assert_error("SELECT count() FROM", 1, 20, "expected a table name after FROM, found end");
    assert_error("SELECT count() FROM t; SELECT", 1, 24, "expected end of query after ';'");
    assert_error("SELECT count() FROM t LIMT 5", 1, 23, "found 'LIMT' (did you mean LIMIT?)");
    assert_error("SELECT count() FROM t 5", 1, 23, "expected WHERE, SINCE, BETWEEN");
    assert_error("SELECT (a FROM t", 1, 11, "expected ')', found 'FROM'");
    assert_error("SELECT count( FROM t", 1, 15, "expected an expression, found 'FROM'");
    assert_error("SELECT sum(a,) FROM t", 1, 14, "expected an expression, found ')'");
    assert_error("SELECT sum(a b) FROM t", 1, 14, "expected ')', found 'b'");
    assert_error("SELECT count() AS FROM t", 1, 19, "expected a column name after AS");
    assert_error("SELECT count() FROM t WHERE x IN ()", 1, 35, "expected a value");
    assert_error("SELECT count() FROM t WHERE x IN (a)", 1, 35,
                 "IN takes a list of literal values");
    assert_error("SELECT count() FROM t WHERE x IN 'a'", 1, 34, "expected '('");
    assert_error("SELECT count() FROM t WHERE a IS 5", 1, 34, "expected NULL, found '5'");
    assert_error("SELECT count() FROM t WHERE a < b < c", 1, 35, "comparisons do not chain");
}

static void test_query_reports_lexical_errors_with_position(void **state)
{
    (void)state;
    assert_error("SELECT x FROM t WHERE a = 'abc", 1, 27, "unterminated string");
    assert_error("SELECT x FROM t WHERE \"abc = 1", 1, 23, "unterminated quoted name");
    assert_error("SELECT x FROM t WHERE \"\" = 1", 1, 23, "empty quoted name");
    assert_error("SELECT count() FROM t WHERE route =~ /abc", 1, 38,
                 "unterminated regular expression");
    assert_error("SELECT count() FROM t WHERE route =~ /(a/", 1, 38, "bad regular expression: ");
    /* patterns that would make regcomp allocate without bound are refused */
    assert_error("SELECT count() FROM t WHERE route =~ /a++/", 1, 38,
                 "bad regular expression: repeated quantifier");
    assert_error("SELECT count() FROM t WHERE route =~ /(((a{100}){100}){100})/", 1, 38,
                 "bad regular expression: too complex");
    assert_error("SELECT count() FROM t WHERE route =~ /6{0,10007}/", 1, 38, "too complex");
    assert_error("SELECT count() FROM t WHERE route =~ /6{,20007}/", 1, 38, "too complex");
    assert_error("SELECT count() FROM t WHERE route =~ /(a|b|c|d|e|f|g|h){0,2000}/", 1, 38,
                 "too complex");
    assert_error("SELECT count() FROM t WHERE route =~ /(a)x\\1/", 1, 38,
                 "back-references are not supported");
    vg_q_free(parse_ok("SELECT count() FROM t WHERE route =~ /((a|b){10}[[:alpha:]]+){10}/"));
    vg_q_free(parse_ok("SELECT count() FROM t WHERE route =~ /^a{0,2000}[]a-z]\\\\1$/"));
    vg_q_free(parse_ok("SELECT count() FROM t WHERE host =~ /([a-z0-9_]{1,63}[.]){0,8}com/"));
    assert_error("SELECT count() FROM t WHERE route =~ 5", 1, 38,
                 "expected a regular expression /.../, found '5'");
    assert_error("SELECT count() FROM t WHERE gen_ai.model = 'x'", 1, 35,
                 "names with dots must be double-quoted");
    assert_error("SELECT count() FROM t WHERE a = @", 1, 33, "unexpected character '@'");
    assert_error("SELECT count() FROM t WHERE a = \x01", 1, 33, "unexpected byte 0x01");
    assert_error("SELECT 1e999 FROM t", 1, 8, "number out of range");
    assert_error("SELECT count() FROM t @", 1, 23, "unexpected character '@'");
    /* a lexical error after a syntax error does not hide it */
    assert_error("SELECT count() FORM t 'unterminated", 1, 16, "expected FROM, found 'FORM'");
}

static void test_query_reports_semantic_errors_with_position(void **state)
{
    (void)state;
    assert_error("SELECT p98(latency_s) FROM t", 1, 8,
                 "unknown function 'p98' (did you mean 'p99'?)");
    assert_error("SELECT avgg(x) FROM t", 1, 8, "unknown function 'avgg' (did you mean 'avg'?)");
    assert_error("SELECT frobnicate(x) FROM t", 1, 8, "unknown function 'frobnicate'");
    assert_error("SELECT count(a, b) FROM t", 1, 8, "count() takes 0 to 1 arguments, got 2");
    assert_error("SELECT quantile(x) FROM t", 1, 8, "quantile() takes 2 arguments, got 1");
    assert_error("SELECT sum() FROM t", 1, 8, "sum() takes 1 argument, got 0");
    assert_error("SELECT count() FROM t WHERE coalesce(a) = 1", 1, 29,
                 "coalesce() takes at least 2 arguments, got 1");
    assert_error("SELECT mean(p99(x)) FROM t", 1, 13, "p99() cannot be nested inside mean()");
    assert_error("SELECT rate(ks(x) > 0.1) FROM t", 1, 13, "ks() cannot be nested inside rate()");
    assert_error("SELECT *, x FROM t", 1, 8, "'*' must be the only item in SELECT");
    assert_error("SELECT x, * FROM t", 1, 11, "'*' must be the only item in SELECT");
    assert_error("SELECT count() FROM t WHERE count() > 5", 1, 29,
                 "count() aggregates: it is not allowed in a row predicate");
    assert_error("SELECT baseline(x, 7d) FROM t", 1, 17, "baseline() takes an aggregate first");
    assert_error("SELECT baseline(rate(r), 7) FROM t", 1, 26,
                 "baseline()'s argument 2 must be a duration");
    assert_error("SELECT baseline(rate(r), 1d, 7d) FROM t", 1, 30,
                 "period 7d is longer than its span 1d");
    assert_error("SELECT baseline(rate(x) + ks(x), 7d) FROM t", 1, 27,
                 "ks() cannot be used inside baseline()");
    assert_error("SELECT zscore(mean(x), 7d, 1d) FROM t", 1, 8,
                 "zscore() takes 2 arguments, got 3");
    assert_error("SELECT mean(baseline(rate(x), 7d)) FROM t", 1, 13,
                 "baseline() cannot be nested inside mean()");
    assert_error("SELECT quantile(x, 1.5) FROM t", 1, 20, "quantile must be a number from 0 to 1");
    assert_error("SELECT approx_quantile(x, q) FROM t", 1, 27, "from 0 to 1");
    assert_error("SELECT histogram(x, 0) FROM t", 1, 21, "bins must be an integer from 1 to 1000");
    assert_error("SELECT latency_s, count() FROM t", 1, 8,
                 "'latency_s' must be inside an aggregate or named in BY");
    assert_error("SELECT * FROM t EVERY 5m", 1, 17, "EVERY needs an aggregate in SELECT");
    assert_error("SELECT x FROM t BY m", 1, 17, "BY needs an aggregate in SELECT");
    assert_error("SELECT x FROM t AGAINST PREVIOUS 7d", 1, 17, "AGAINST needs an aggregate");
    assert_error("SELECT count() FROM t SAMPLE 5", 1, 23, "SAMPLE returns raw rows");
    assert_error("SELECT count(), COUNT() FROM t", 1, 17,
                 "two columns named 'count()': name one with AS");
    /* group tags and time may stand outside aggregates */
    vg_q_free(parse_ok("SELECT model, time, count() FROM t EVERY 1m BY model"));
}

static void test_query_error_on_line_three_of_multiline_input(void **state)
{
    (void)state;
    assert_error("SELECT p99(latency_s)\n  FROM llm_request\n WHERE route = 'x' SINCE 1h EVRY 5m",
                 3, 29, "found 'EVRY' (did you mean EVERY?)");
    assert_error("SELECT p99(latency_s),\r\n\tcount()\r\nFROM t WHERE a = 'multi\nline' AND "
                 "b = 'open",
                 4, 15, "unterminated string");
    /* columns count characters, not bytes */
    assert_error("SELECT count() FROM t WHERE route = 'héllo' LIMT 3", 1, 45,
                 "did you mean LIMIT?");
    char buf[256];
    vg_q_error_t e = {VG_EPARSE, 3, 29, "found 'EVRY'"};
    vg_q_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "error at line 3, column 29: found 'EVRY'");
}

static void test_query_bounds_nesting_depth(void **state)
{
    (void)state;
    char q[4096];
    for (int depth = 150; depth <= 250; depth += 100) {
        int n = snprintf(q, sizeof q, "SELECT count() FROM t WHERE ");
        for (int i = 0; i < depth; i++)
            q[n++] = '(';
        q[n++] = 'a';
        for (int i = 0; i < depth; i++)
            q[n++] = ')';
        q[n] = '\0';
        vg_q_stmt_t *s = NULL;
        vg_q_error_t e;
        int rc = vg_q_parse(q, &s, &e);
        if (depth < VG_Q_MAX_DEPTH) {
            assert_int_equal(rc, VG_OK);
            vg_q_free(s);
        } else {
            assert_int_equal(rc, VG_EPARSE);
            assert_non_null(strstr(e.msg, "nested too deeply"));
        }
    }
    /* long operator chains build deep trees without deep recursion: bounded too */
    int n = snprintf(q, sizeof q, "SELECT count() FROM t WHERE a");
    for (int i = 0; i < 300; i++)
        n += snprintf(q + n, sizeof q - (size_t)n, " + a");
    assert_error(q, 1, 31 + 4 * (VG_Q_MAX_DEPTH - 1), "nested too deeply"); /* the 200th + */
    n = snprintf(q, sizeof q, "SELECT count() FROM t WHERE ");
    for (int i = 0; i < 300; i++)
        n += snprintf(q + n, sizeof q - (size_t)n, "NOT ");
    snprintf(q + n, sizeof q - (size_t)n, "a");
    assert_error(q, 1, 29 + 4 * (VG_Q_MAX_DEPTH - 1), "nested too deeply"); /* the 200th NOT */
}

/* --------------------------------------------------------- the ref hook */

typedef struct refs_seen {
    char names[32][32];
    int role[32], line[32], col[32];
    int n;
} refs_seen_t;

static int collect(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column)
{
    refs_seen_t *r = ctx;
    if (r->n == 32)
        return 1;
    snprintf(r->names[r->n], sizeof r->names[0], "%s", name);
    r->role[r->n] = role;
    r->line[r->n] = line;
    r->col[r->n] = column;
    r->n++;
    return 0;
}

static void test_query_reports_every_field_reference_with_its_position(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok("SELECT p99(latncy_s) AS p, count() FROM llm_request\n"
                              "WHERE route = 'a' BY model, bucket(input_tokens, 10)\n"
                              "AGAINST WHERE prompt_ver = 'v1' ORDER BY p DESC");
    refs_seen_t r = {0};
    assert_int_equal(vg_q_refs(s, collect, &r), 0);
    assert_int_equal(r.n, 5);
    static const char *const names[] = {"latncy_s", "route", "model", "input_tokens", "prompt_ver"};
    static const int roles[] = {VG_Q_REF_SELECT, VG_Q_REF_WHERE, VG_Q_REF_GROUP, VG_Q_REF_GROUP,
                                VG_Q_REF_AGAINST};
    static const int lines[] = {1, 2, 2, 2, 3}, cols[] = {12, 7, 22, 36, 15};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.names[i], names[i]);
        assert_int_equal(r.role[i], roles[i]);
        assert_int_equal(r.line[i], lines[i]);
        assert_int_equal(r.col[i], cols[i]);
    }
    /* the executor's message, in the parser's shape, with a suggestion */
    static const char *const fields[] = {"latency_s", "ttft_s", "input_tokens"};
    const char *hint = vg_q_suggest(r.names[0], fields, 3);
    assert_non_null(hint);
    assert_string_equal(hint, "latency_s");
    vg_q_error_t e;
    assert_int_equal(vg_q_error_set(&e, VG_ENOTFOUND, r.line[0], r.col[0],
                                    "unknown field '%s' in table %s (did you mean '%s'?)",
                                    r.names[0], vg_q_table(s), hint),
                     VG_ENOTFOUND);
    char buf[256];
    vg_q_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "error at line 1, column 12: unknown field 'latncy_s' in table "
                             "llm_request (did you mean 'latency_s'?)");
    /* a non-zero return stops the walk and comes back */
    r.n = 31;
    assert_int_equal(vg_q_refs(s, collect, &r), 1);
    vg_q_free(s);

    vg_q_expr_t *x = NULL;
    assert_int_equal(vg_q_parse_expr("rate > 2 * base AND\n n >= 200", &x, NULL), VG_OK);
    memset(&r, 0, sizeof r);
    vg_q_expr_refs(x, collect, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.names[2], "n");
    assert_int_equal(r.role[2], VG_Q_REF_EXPR);
    assert_int_equal(r.line[2], 2);
    assert_int_equal(r.col[2], 2);
    vg_q_expr_free(x);
}

static void test_query_suggest_picks_the_closest_candidate(void **state)
{
    (void)state;
    static const char *const c[] = {"p90", "p99", "latency_s", "LIMIT"};
    assert_string_equal(vg_q_suggest("p98", c, 4), "p90"); /* a tie: first wins */
    assert_string_equal(vg_q_suggest("latncy_s", c, 4), "latency_s");
    assert_string_equal(vg_q_suggest("limt", c, 4), "LIMIT");
    assert_null(vg_q_suggest("x", c, 4));
    assert_null(vg_q_suggest("completely_else", c, 4));
}

/* ------------------------------------------------------------ round trip */

static const char *const corpus[] = {
    "SELECT p99(latency_s) FROM llm_request SINCE 6h EVERY 5m BY model",
    "SELECT approx_quantile(latency_s, 0.99) AS p99 FROM llm_request SINCE 6h EVERY 5m BY model",
    "SELECT rate(refusal) / baseline(rate(refusal), 7d) AS ratio FROM llm_request SINCE 1h "
    "BY route",
    "SELECT rate(refusal) AS now, baseline(rate(refusal), 7d, 1d) AS seasonal FROM llm_request "
    "SINCE 1h EVERY 1h",
    "SELECT ks(output_tokens), ks_p(output_tokens), psi(output_tokens) FROM llm_request "
    "SINCE 1d BY prompt_ver AGAINST PREVIOUS 7d",
    "SELECT wasserstein(output_tokens) FROM llm_request SINCE 1d AGAINST OFFSET 1w",
    "SELECT js(finish), chi2_p(finish) FROM llm_request SINCE 1d AGAINST WHERE prompt_ver = "
    "'v12'",
    "SELECT count() FROM llm_request SINCE 1h BY bucket(input_tokens, 1000, 8000)",
    "SELECT p99(ttft_s) FROM llm_request SINCE 1h BY model, bucket(input_tokens, -1.5, 0, 1000)",
    "SELECT count() FROM llm_request WHERE route =~ /^refund/ AND model !~ /mini$/ SINCE 1h",
    "SELECT count() FROM llm_request WHERE finish IN ('length', 'content_filter') SINCE 1h",
    "SELECT * FROM llm_request WHERE refusal AND route = 'refund_qa' SINCE 15m SAMPLE 5",
    "SELECT p99(latency_s) AS p FROM llm_request SINCE 1d BY route ORDER BY p DESC LIMIT 10",
    "SELECT request_id, latency_s, output_tokens FROM llm_request WHERE latency_s > 10 SINCE 1h "
    "ORDER BY latency_s DESC LIMIT 20",
    "SELECT count() AS n, sum(cost_usd) AS cost, sum(cost_usd) / count() AS per_request "
    "FROM llm_request SINCE 1d EVERY 1h BY route",
    "SELECT mean(quality), stddev(quality), min(quality), max(quality), first(quality), "
    "last(quality) FROM eval_result SINCE 1d BY evaluator",
    "SELECT count_if(quality < 0.5) / count() AS low_share FROM eval_result SINCE 1h BY model",
    "SELECT count_distinct(conversation_id) FROM llm_request SINCE 1h BY route",
    "SELECT histogram(latency_s, 20) FROM llm_request SINCE 1h",
    "SELECT quantile(latency_s, 0.999) FROM llm_request BETWEEN '2026-11-27T00:00:00Z' AND "
    "'2026-11-28T00:00:00Z' EVERY 1h",
    "SELECT count() FROM llm_request BETWEEN 1795749240000000000 AND 1795824000000000000",
    "SELECT count() FROM llm_request BETWEEN now() - 2d AND now() - 1d EVERY 1h",
    "SELECT zscore(p99(latency_s), 1d) AS z FROM llm_request SINCE 1h EVERY 5m BY model",
    "SELECT count() FROM \"gen_ai.client.operation\" WHERE \"gen_ai.request.model\" = 'gpt-4o' "
    "SINCE 1h BY \"gen_ai.system\"",
    "SELECT count() FROM llm_request WHERE NOT (refusal OR inj_flag) AND quality IS NOT NULL",
    "SELECT mean(output_tokens) AS len FROM llm_request SINCE 30m BY route, model, prompt_ver",
    "SELECT rate(finish = 'length') AS trunc FROM llm_request SINCE 15m BY route",
    "SELECT rate(error_type != 'none') FROM llm_request SINCE 5m BY provider",
    "SELECT sum(cost_usd) * 96 AS projected_daily FROM llm_request SINCE 15m",
    "SELECT p50(latency_s), p90(latency_s), p95(latency_s), p999(latency_s) FROM llm_request",
    "SELECT count() FROM tool_call WHERE status IN ('error', 'timeout') SINCE 5m BY tool",
    "SELECT * FROM change_event WHERE kind IN ('model', 'guardrail') SINCE 1h ORDER BY time DESC",
    "SELECT * FROM llm_request WHERE NOT refusal SINCE 7d SAMPLE 5",
    "SELECT abs(mean(quality) - 0.9) AS gap, greatest(p99(latency_s), 1) AS p FROM llm_request",
    "SELECT n_cur(output_tokens), n_ref(output_tokens) FROM llm_request AGAINST BETWEEN now() "
    "- 14d AND now() - 7d",
    "SELECT count(*) FROM llm_request WHERE -latency_s < -1 AND output_tokens * 2 - 1 > 3",
    "SELECT count() FROM llm_request WHERE route =~ /a\\/b/i OR model =~ /x/ SINCE 10m",
    "SELECT mean(\"select\") AS \"order\", count() AS \"a \"\"b\"\"\" FROM \"from\"",
    "SELECT ztest_p(refusal) AS p, rate(refusal) FROM llm_request SINCE 10m BY route, model "
    "AGAINST PREVIOUS 7d",
    "SELECT count() FROM llm_request WHERE a - (b - c) > 0 AND (x OR y) AND NOT z = 1",
    "SELECT p99(latency_s) FROM llm_request WHERE time >= now() - 30m SINCE 1h",
};

static void roundtrip(const char *q)
{
    char a[4096], b[4096];
    vg_q_stmt_t *s1 = parse_ok(q);
    int n = vg_q_format(s1, a, sizeof a);
    assert_true(n > 0 && (size_t)n < sizeof a);
    vg_q_stmt_t *s2 = parse_ok(a);
    vg_q_format(s2, b, sizeof b);
    if (strcmp(a, b) != 0)
        print_error("query: %s\nfirst: %s\nagain: %s\n", q, a, b);
    assert_string_equal(a, b);
    assert_int_equal(vg_q_item_count(s1), vg_q_item_count(s2));
    for (size_t i = 0; i < vg_q_item_count(s1); i++)
        assert_string_equal(vg_q_item_name(s1, i), vg_q_item_name(s2, i));
    vg_q_free(s1);
    vg_q_free(s2);
}

static void test_query_corpus_round_trips_through_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
        roundtrip(corpus[i]);
        /* the corpus is written canonically already */
        assert_string_equal(canon(corpus[i]), corpus[i]);
    }
    for (size_t i = 0; i < sizeof runbook_queries / sizeof *runbook_queries; i++)
        roundtrip(runbook_queries[i]);
}

static void test_query_format_truncates_like_snprintf(void **state)
{
    (void)state;
    vg_q_stmt_t *s = parse_ok(corpus[0]);
    char small[10];
    int n = vg_q_format(s, small, sizeof small);
    assert_int_equal(n, (int)strlen(corpus[0]));
    assert_string_equal(small, "SELECT p9");
    assert_int_equal(vg_q_format(s, NULL, 0), n);
    vg_q_free(s);
    vg_q_free(NULL);
    vg_q_expr_free(NULL);
    vg_q_error_t e;
    assert_int_equal(vg_q_parse(NULL, &s, &e), VG_EPARSE);
    assert_int_equal(e.line, 0);
    char buf[64];
    vg_q_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "error: query text missing");
}

/* ---------------------------------------------------------- robustness */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A parse either fails with a position or succeeds and round-trips. */
static void check_any(const char *q)
{
    vg_q_stmt_t *s = NULL;
    vg_q_error_t e;
    memset(&e, 0, sizeof e);
    int rc = vg_q_parse(q, &s, &e);
    if (rc) {
        assert_int_equal(rc, VG_EPARSE);
        assert_null(s);
        assert_true(e.line >= 1 && e.column >= 1);
        assert_true(e.msg[0] != '\0');
        return;
    }
    char a[8192], b[8192];
    int n = vg_q_format(s, a, sizeof a);
    if ((size_t)n < sizeof a) {
        vg_q_stmt_t *s2 = NULL;
        int rc2 = vg_q_parse(a, &s2, &e);
        if (rc2)
            print_error("input: %s\nformat: %s\nreparse: %s\n", q, a, e.msg);
        assert_int_equal(rc2, VG_OK);
        vg_q_format(s2, b, sizeof b);
        if (strcmp(a, b) != 0)
            print_error("input: %s\nfirst: %s\nagain: %s\n", q, a, b);
        assert_string_equal(a, b);
        vg_q_free(s2);
    }
    vg_q_free(s);
    vg_q_expr_t *x = NULL;
    if (vg_q_parse_expr(q, &x, NULL) == VG_OK)
        vg_q_expr_free(x);
}

static void test_query_random_garbage_never_crashes(void **state)
{
    (void)state;
    static const char *const frags[] = {
        "SELECT ",
        "FROM ",
        "t ",
        "WHERE ",
        "SINCE ",
        "BETWEEN ",
        "AND ",
        "OR ",
        "NOT ",
        "EVERY ",
        "BY ",
        "AGAINST ",
        "PREVIOUS ",
        "OFFSET ",
        "ORDER ",
        "DESC ",
        "LIMIT ",
        "SAMPLE ",
        "AS ",
        "IN ",
        "IS ",
        "NULL ",
        "TRUE ",
        "(",
        ")",
        ",",
        ";",
        "*",
        "+",
        "-",
        "/",
        "=",
        "!=",
        "<",
        ">=",
        "=~ ",
        "!~ ",
        "/a\\/b/",
        "/(/",
        "'s'",
        "'",
        "\"q\"",
        "\"",
        "1",
        "0.5",
        "1e9",
        "1h",
        "5x",
        "7d",
        "count()",
        "p99(x)",
        "rate(r)",
        "baseline(",
        "bucket(x, 1, 2)",
        "now()",
        "x ",
        "--c\n",
        "\n",
        " ",
        "é",
        "\xff",
        "gen_ai.x",
        "ks(x)",
        "quantile(x, 0.5)",
        "histogram(x, 3)",
        "1d",
        "10",
    };
    const size_t nf = sizeof frags / sizeof *frags;
    char q[1024];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        int parts = (int)(rnd() % 24);
        for (int k = 0; k < parts; k++) {
            const char *f = frags[rnd() % nf];
            size_t len = strlen(f);
            if (n + len >= sizeof q)
                break;
            memcpy(q + n, f, len);
            n += len;
        }
        q[n] = '\0';
        check_any(q);
    }
    /* mutations of valid queries: replaced, inserted and deleted bytes */
    for (int iter = 0; iter < 20000; iter++) {
        const char *base = corpus[rnd() % (sizeof corpus / sizeof *corpus)];
        size_t n = strlen(base);
        memcpy(q, base, n + 1);
        int edits = 1 + (int)(rnd() % 3);
        for (int k = 0; k < edits && n > 1 && n < sizeof q - 2; k++) {
            size_t at = rnd() % n;
            char c = (char)(rnd() % 2 ? " ()',;*/-=~<>\"\n"[rnd() % 15] : (char)(1 + rnd() % 255));
            switch (rnd() % 3) {
            case 0:
                q[at] = c;
                break;
            case 1:
                memmove(q + at + 1, q + at, n - at + 1);
                q[at] = c;
                n++;
                break;
            default:
                memmove(q + at, q + at + 1, n - at);
                n--;
                break;
            }
        }
        check_any(q);
    }
}

static void test_query_survives_every_allocation_failure(void **state)
{
    (void)state;
    const char *q = runbook_queries[0];
    int failed_some = 0;
    for (unsigned long n = 1; n < 200; n++) {
        vg_alloc_fail_after(n, 1);
        vg_q_stmt_t *s = NULL;
        vg_q_error_t e;
        int rc = vg_q_parse(q, &s, &e);
        unsigned long fails = vg_alloc_fail_after(0, 0);
        if (rc == VG_OK) {
            assert_int_equal(fails, 0);
            vg_q_free(s);
            break;
        }
        failed_some = 1;
        assert_int_equal(rc, VG_ENOMEM);
        assert_int_equal(e.code, VG_ENOMEM);
        assert_null(s);
    }
    assert_true(failed_some);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_parses_every_runbook_query_and_when),
        cmocka_unit_test(test_query_when_expression_has_and_over_comparisons),
        cmocka_unit_test(test_query_items_are_named_by_alias_or_lowercased_text),
        cmocka_unit_test(test_query_keywords_and_functions_are_case_insensitive),
        cmocka_unit_test(test_query_literals_numbers_strings_bools_null),
        cmocka_unit_test(test_query_durations_are_single_tokens),
        cmocka_unit_test(test_query_where_predicates_regex_in_isnull),
        cmocka_unit_test(test_query_range_since_and_between_time_forms),
        cmocka_unit_test(test_query_every_by_and_bucket_groups),
        cmocka_unit_test(test_query_against_every_reference_form),
        cmocka_unit_test(test_query_order_limit_sample),
        cmocka_unit_test(test_query_clauses_in_any_order_print_in_grammar_order),
        cmocka_unit_test(test_query_precedence_not_over_cmp_and_or),
        cmocka_unit_test(test_query_reports_syntax_errors_with_position),
        cmocka_unit_test(test_query_reports_lexical_errors_with_position),
        cmocka_unit_test(test_query_reports_semantic_errors_with_position),
        cmocka_unit_test(test_query_error_on_line_three_of_multiline_input),
        cmocka_unit_test(test_query_bounds_nesting_depth),
        cmocka_unit_test(test_query_reports_every_field_reference_with_its_position),
        cmocka_unit_test(test_query_suggest_picks_the_closest_candidate),
        cmocka_unit_test(test_query_corpus_round_trips_through_format),
        cmocka_unit_test(test_query_format_truncates_like_snprintf),
        cmocka_unit_test(test_query_random_garbage_never_crashes),
        cmocka_unit_test(test_query_survives_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
