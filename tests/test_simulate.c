/*
 * test_simulate.c: the traffic simulator writes deterministic, time-ordered,
 * valid line protocol with the record schema of domain.md part 2 and the
 * rates of part 3.
 *
 * The output is checked with a small parser written here (independent of
 * the simulator's formatter) and, for validity and field types, with the
 * engine's vg_lp parser.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "simulate.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_lp.h"

/* Wednesday 2024-11-27 00:00:00 UTC and Saturday 2024-11-30 00:00:00 UTC. */
#define WED_NS INT64_C(1732665600000000000)
#define SAT_NS INT64_C(1732924800000000000)
#define SEC    INT64_C(1000000000)
#define HOUR   (3600 * SEC)

static vg_sim_opts_t opts(int64_t start, int64_t dur, double rate, vg_sim_profile_t prof)
{
    vg_sim_opts_t o;
    vg_sim_opts_default(&o);
    o.start_ns = start;
    o.duration_ns = dur;
    o.rate = rate;
    o.profile = prof;
    return o;
}

/* The whole output of a run, read through a buffer of cap bytes. */
static char *run(const vg_sim_opts_t *o, size_t cap, size_t *out_len)
{
    vg_sim_t *s = NULL;
    vg_error_t err;
    assert_int_equal(vg_sim_create(o, &s, &err), 0);
    size_t len = 0, alloc = 1 << 20;
    char *all = malloc(alloc);
    char *buf = malloc(cap);
    assert_non_null(all);
    assert_non_null(buf);
    int more;
    do {
        size_t n = 0;
        more = vg_sim_next(s, buf, cap, &n);
        assert_true(n <= cap);
        if (len + n + 1 > alloc) {
            while (len + n + 1 > alloc)
                alloc *= 2;
            all = realloc(all, alloc);
            assert_non_null(all);
        }
        memcpy(all + len, buf, n);
        len += n;
    } while (more);
    size_t n = 99;
    assert_int_equal(vg_sim_next(s, buf, cap, &n), 0); /* finished stays finished */
    assert_int_equal(n, 0);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += all[i] == '\n';
    assert_int_equal(vg_sim_rows(s), lines);
    vg_sim_destroy(s);
    free(buf);
    all[len] = '\0';
    *out_len = len;
    return all;
}

/* ---- a small line reader, independent of the simulator ---------------- */

typedef struct row {
    const char *m, *tags, *fields;
    size_t mlen, tlen, flen;
    int64_t ts;
} row_t;

/* Split the line at *pos into measurement, tag set, field set, timestamp.
 * Tags never hold spaces; fields may (inside quotes), so the timestamp is
 * after the last space. Returns 0 at the end of the text. */
static int next_row(const char *text, size_t len, size_t *pos, row_t *r)
{
    if (*pos >= len)
        return 0;
    const char *line = text + *pos;
    const char *nl = memchr(line, '\n', len - *pos);
    assert_non_null(nl);
    *pos = (size_t)(nl - text) + 1;
    const char *sp = memchr(line, ' ', (size_t)(nl - line));
    assert_non_null(sp);
    const char *last = nl - 1;
    while (*last != ' ')
        last--;
    assert_true(last > sp);
    const char *comma = memchr(line, ',', (size_t)(sp - line));
    r->m = line;
    r->mlen = (size_t)((comma ? comma : sp) - line);
    r->tags = comma ? comma + 1 : sp;
    r->tlen = comma ? (size_t)(sp - comma - 1) : 0;
    r->fields = sp + 1;
    r->flen = (size_t)(last - sp - 1);
    char *end;
    r->ts = strtoll(last + 1, &end, 10);
    assert_ptr_equal(end, nl);
    return 1;
}

static int is_m(const row_t *r, const char *m)
{
    return r->mlen == strlen(m) && memcmp(r->m, m, r->mlen) == 0;
}

/* Find key in a "k=v,k=v" list whose values may be quoted strings with
 * backslash escapes. Returns the raw value (quotes included) or NULL. */
static const char *find_kv(const char *p, size_t n, const char *key, size_t *vlen)
{
    const char *end = p + n;
    size_t klen = strlen(key);
    while (p < end) {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        assert_non_null(eq);
        const char *v = eq + 1, *q = v;
        if (*q == '"') {
            for (q++; *q != '"'; q++)
                if (*q == '\\')
                    q++;
            q++;
        } else {
            while (q < end && *q != ',')
                q++;
        }
        if ((size_t)(eq - p) == klen && memcmp(p, key, klen) == 0) {
            *vlen = (size_t)(q - v);
            return v;
        }
        p = q + 1;
    }
    return NULL;
}

static const char *tag(const row_t *r, const char *k, size_t *n)
{
    return find_kv(r->tags, r->tlen, k, n);
}

static const char *field(const row_t *r, const char *k, size_t *n)
{
    return find_kv(r->fields, r->flen, k, n);
}

static void assert_has(const row_t *r, const char *const *tags, const char *const *fields)
{
    size_t n;
    for (; tags && *tags; tags++)
        if (!tag(r, *tags, &n))
            fail_msg("%.*s lacks tag %s", (int)r->mlen, r->m, *tags);
    for (; fields && *fields; fields++)
        if (!field(r, *fields, &n))
            fail_msg("%.*s lacks field %s", (int)r->mlen, r->m, *fields);
}

static int field_is(const row_t *r, const char *k, const char *want)
{
    size_t n;
    const char *v = field(r, k, &n);
    return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

static int tag_is(const row_t *r, const char *k, const char *want)
{
    size_t n;
    const char *v = tag(r, k, &n);
    return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

static double field_num(const row_t *r, const char *k)
{
    size_t n;
    const char *v = field(r, k, &n);
    assert_non_null(v);
    return strtod(v, NULL);
}

/* request_id "r-<16 hex>" as a number, for the table below. */
static uint64_t req_id(const row_t *r)
{
    size_t n;
    const char *v = field(r, "request_id", &n);
    assert_non_null(v);
    assert_int_equal(n, 20);
    assert_memory_equal(v, "\"r-", 3);
    return strtoull(v + 3, NULL, 16);
}

/* ---- determinism -------------------------------------------------------- */

static void test_sim_same_seed_gives_identical_bytes_for_any_buffer_size(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 9 * HOUR, 300 * SEC, 20, VG_SIM_FULL);
    assert_int_equal(vg_sim_add_incident(&o, "over_refusal@2m+3m", NULL), 0);
    size_t la, lb;
    char *a = run(&o, 1 << 20, &la);
    char *b = run(&o, VG_SIM_LINE_MAX, &lb);
    assert_true(la > 500000);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
}

static void test_sim_different_seeds_give_different_traffic(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS, 60 * SEC, 20, VG_SIM_BENCH);
    size_t la, lb;
    char *a = run(&o, 1 << 16, &la);
    o.seed = 2;
    char *b = run(&o, 1 << 16, &lb);
    assert_true(la > 0 && lb > 0);
    assert_true(la != lb || memcmp(a, b, la) != 0);
    /* not merely shifted: the first lines differ too */
    assert_true(memcmp(a, b, 200) != 0);
    free(a);
    free(b);
}

/* ---- time --------------------------------------------------------------- */

static void test_sim_timestamps_increase_strictly_within_the_window(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 17 * HOUR, 2 * HOUR, 2, VG_SIM_FULL);
    assert_int_equal(vg_sim_add_incident(&o, "agent_loop@30m+40m", NULL), 0);
    assert_int_equal(vg_sim_add_incident(&o, "tool_timeouts@1h", NULL), 0);
    size_t len, pos = 0;
    char *t = run(&o, 1 << 18, &len);
    row_t r;
    int64_t prev = o.start_ns - 1;
    size_t n = 0;
    while (next_row(t, len, &pos, &r)) {
        assert_true(r.ts > prev);
        prev = r.ts;
        n++;
    }
    assert_true(n > 10000);
    assert_true(prev < o.start_ns + o.duration_ns);
    free(t);
}

static size_t count_requests(const vg_sim_opts_t *o)
{
    vg_sim_t *s;
    static char buf[1 << 20];
    size_t len, n = 0;
    int more;
    assert_int_equal(vg_sim_create(o, &s, NULL), 0);
    do {
        more = vg_sim_next(s, buf, sizeof buf, &len);
        for (size_t i = 0; i + 12 <= len; i++)
            if ((i == 0 || buf[i - 1] == '\n') && memcmp(buf + i, "llm_request,", 12) == 0)
                n++;
    } while (more);
    vg_sim_destroy(s);
    return n;
}

static void test_sim_weekday_rate_averages_the_requested_rate(void **state)
{
    (void)state;
    /* the diurnal curve averages to 1 over a whole day */
    vg_sim_opts_t o = opts(WED_NS, 24 * HOUR, 0.5, VG_SIM_BENCH);
    double n = (double)count_requests(&o), want = 0.5 * 86400.0;
    assert_true(fabs(n - want) < 0.15 * want);
    /* Saturday runs at half rate */
    o.start_ns = SAT_NS;
    n = (double)count_requests(&o);
    assert_true(fabs(n - want / 2) < 0.15 * want / 2);
}

/* Expected rows in [h0, h1) hours of a weekday: integral of the curve. */
static double diurnal_integral(double rate, double h0, double h1)
{
    double sum = 0.0;
    const int steps = 10000;
    for (int i = 0; i < steps; i++) {
        double h = h0 + (h1 - h0) * (i + 0.5) / steps;
        sum += rate * (1.0 + 0.6 * sin(2.0 * 3.14159265358979 * (h - 8.0) / 24.0));
    }
    return sum / steps * (h1 - h0) * 3600.0;
}

static void test_sim_follows_the_diurnal_curve(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 13 * HOUR, 2 * HOUR, 5, VG_SIM_BENCH);
    double peak = (double)count_requests(&o), want_peak = diurnal_integral(5, 13, 15);
    o.start_ns = WED_NS + 1 * HOUR;
    double low = (double)count_requests(&o), want_low = diurnal_integral(5, 1, 3);
    assert_true(fabs(peak - want_peak) < 0.1 * want_peak);
    assert_true(fabs(low - want_low) < 0.1 * want_low);
    assert_true(peak / low > 3.0);
}

/* ---- the full profile: schema and statistics ---------------------------- */

static const char *const req_tags[] = {"service",    "env",    "route",      "provider",   "model",
                                       "resp_model", "op",     "prompt_ver", "release",    "region",
                                       "tier",       "stream", "finish",     "error_type", NULL};
static const char *const req_fields[] = {"input_tokens",     "output_tokens", "cache_read_tokens",
                                         "reasoning_tokens", "output_chars",  "latency_s",
                                         "cost_usd",         "refusal",       "tool_calls",
                                         "tool_errors",      "retries",       "inj_score",
                                         "inj_flag",         "request_id",    "conversation_id",
                                         "trace_id",         "sample_ref",    NULL};
static const char *const tool_tags[] = {"service", "env",        "route", "tool", "tool_type",
                                        "status",  "error_type", "model", NULL};
static const char *const tool_fields[] = {"duration_s", "ok",          "empty",      "result_bytes",
                                          "attempt",    "allowlisted", "request_id", "tool_call_id",
                                          "args_hash",  NULL};
static const char *const eval_tags[] = {"evaluator", "route", "model", "prompt_ver", NULL};
static const char *const eval_fields[] = {"score", "label", "request_id", NULL};
static const char *const change_tags[] = {"kind", "service", "env", "route", NULL};
static const char *const change_fields[] = {"from", "to", "change_id", "author", "desc", NULL};

/* request_id -> timestamp, open addressing (ids are never 0 in practice). */
typedef struct idmap {
    uint64_t *key;
    int64_t *ts;
    size_t mask;
} idmap_t;

static void idmap_put(idmap_t *m, uint64_t k, int64_t ts)
{
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & m->mask;
    while (m->key[i] && m->key[i] != k)
        i = (i + 1) & m->mask;
    assert_int_equal(m->key[i], 0); /* request ids are unique */
    m->key[i] = k;
    m->ts[i] = ts;
}

static int64_t idmap_get(const idmap_t *m, uint64_t k)
{
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & m->mask;
    while (m->key[i] && m->key[i] != k)
        i = (i + 1) & m->mask;
    return m->key[i] ? m->ts[i] : -1;
}

typedef struct tally {
    size_t req, tool, eval, change, refusals, errors, filter, tool_bad, tool_timeout, tool_empty;
    size_t late_evals, orphan_children;
    double out_sum;
} tally_t;

static void check_request(const row_t *r, tally_t *t, idmap_t *ids)
{
    assert_has(r, req_tags, req_fields);
    idmap_put(ids, req_id(r), r->ts);
    t->req++;
    int err = tag_is(r, "finish", "error");
    t->errors += err;
    t->filter += tag_is(r, "finish", "content_filter");
    assert_int_equal(err, !tag_is(r, "error_type", "none"));
    if (field_is(r, "refusal", "true")) {
        t->refusals++;
        double out = field_num(r, "output_tokens");
        assert_true(out >= 20 && out <= 60);
        assert_has(r, NULL, (const char *const[]){"refusal_kind", NULL});
    }
    if (!err) {
        double q = field_num(r, "quality");
        assert_true(q >= 0.0 && q <= 1.0);
        t->out_sum += field_num(r, "output_tokens");
    }
    if (tag_is(r, "stream", "true") && !err)
        assert_has(r, NULL, (const char *const[]){"ttft_s", "tpot_s", NULL});
    assert_true(field_num(r, "latency_s") > 0.0);
}

static void check_child(const row_t *r, tally_t *t, const idmap_t *ids)
{
    int64_t req_ts = idmap_get(ids, req_id(r));
    if (req_ts < 0 || req_ts >= r->ts)
        t->orphan_children++;
    if (is_m(r, "eval_result")) {
        assert_has(r, eval_tags, eval_fields);
        t->eval++;
        t->late_evals += req_ts >= 0 && r->ts - req_ts >= 2 * SEC;
        return;
    }
    assert_has(r, tool_tags, tool_fields);
    t->tool++;
    t->tool_bad += tag_is(r, "status", "error") || tag_is(r, "status", "timeout");
    t->tool_timeout += tag_is(r, "status", "timeout");
    t->tool_empty += tag_is(r, "status", "empty");
}

static void tally_run(const char *text, size_t len, tally_t *t)
{
    size_t cap = 1 << 20, pos = 0;
    idmap_t ids = {calloc(cap, 8), calloc(cap, 8), cap - 1};
    row_t r;
    memset(t, 0, sizeof *t);
    while (next_row(text, len, &pos, &r)) {
        if (is_m(&r, "llm_request")) {
            check_request(&r, t, &ids);
        } else if (is_m(&r, "tool_call") || is_m(&r, "eval_result")) {
            check_child(&r, t, &ids);
        } else {
            assert_true(is_m(&r, "change_event"));
            assert_has(&r, change_tags, change_fields);
            t->change++;
        }
    }
    assert_true(t->req < cap / 2);
    free(ids.key);
    free(ids.ts);
}

static void test_sim_full_profile_writes_all_four_tables_with_the_schema(void **state)
{
    (void)state;
    /* a day at a low rate, so routine changes (every ~3h) show up */
    vg_sim_opts_t o = opts(WED_NS, 24 * HOUR, 0.15, VG_SIM_FULL);
    size_t len;
    char *text = run(&o, 1 << 20, &len);
    tally_t t;
    tally_run(text, len, &t);
    assert_true(t.req > 9000);
    assert_true(t.tool > t.req / 5);
    assert_true(t.eval > t.req / 20 && t.eval < t.req / 4);
    assert_true(t.change >= 2 && t.change <= 20);
    /* tool calls and evals follow their request (the run starts empty, so
     * every child's request is in it); evals arrive >= 2 s later */
    assert_int_equal(t.orphan_children, 0);
    assert_int_equal(t.late_evals, t.eval);
    free(text);
}

static void test_sim_baseline_rates_match_the_domain_notes(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 10 * HOUR, HOUR, 3, VG_SIM_FULL);
    size_t len;
    char *text = run(&o, 1 << 20, &len);
    tally_t t;
    tally_run(text, len, &t);
    double n = (double)t.req;
    assert_true(t.refusals >= 0.005 * n && t.refusals <= 0.03 * n);
    assert_true(t.errors >= 0.01 * n && t.errors <= 0.02 * n);
    assert_true(t.filter > 0);
    assert_true(t.tool_bad >= 0.01 * (double)t.tool && t.tool_bad <= 0.03 * (double)t.tool);
    double to_share = (double)t.tool_timeout / (double)t.tool_bad;
    assert_true(to_share > 0.2 && to_share < 0.5); /* about a third are timeouts */
    assert_true(t.tool_empty > 0 && t.tool_empty <= 0.05 * (double)t.tool);
    double mean_out = t.out_sum / (n - (double)t.errors);
    assert_true(mean_out > 80 && mean_out < 400);
    free(text);
}

/* ---- the bench profile --------------------------------------------------- */

static void test_sim_bench_profile_is_numeric_llm_request_only(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 8 * HOUR, 300 * SEC, 50, VG_SIM_BENCH);
    size_t len, pos = 0, lines = 0;
    char *text = run(&o, 1 << 16, &len);
    row_t r;
    static const char *const tags[] = {"service", "route", "model", "prompt_ver", "tenant", NULL};
    static const char *const fields[] = {"latency_s",     "ttft_s",   "tpot_s",  "input_tokens",
                                         "output_tokens", "cost_usd", "quality", "tool_calls",
                                         "refusal",       NULL};
    assert_null(memchr(text, '"', len)); /* no string fields */
    while (next_row(text, len, &pos, &r)) {
        lines++;
        assert_true(is_m(&r, "llm_request"));
        assert_has(&r, tags, fields);
        size_t commas = 0;
        for (size_t i = 0; i < r.tlen; i++)
            commas += r.tags[i] == ',';
        assert_int_equal(commas, 4);
        commas = 0;
        for (size_t i = 0; i < r.flen; i++)
            commas += r.fields[i] == ',';
        assert_int_equal(commas, 8);
        assert_true(field_num(&r, "input_tokens") < 9007199254740992.0);
    }
    double avg = (double)len / (double)lines;
    assert_true(avg > 225 && avg < 285);
    free(text);
}

/* Every line parses with the engine's parser; the bench profile has only
 * float, int and bool fields, ints below 2^53. */
static void parse_all(const char *text, size_t len, int bench, size_t *lines)
{
    vg_lp_parser_t p;
    vg_lp_line_t *l;
    vg_lp_error_t e;
    int rc;
    vg_lp_init(&p, NULL, VG_PREC_NS);
    vg_lp_feed(&p, text, len);
    *lines = 0;
    while ((rc = vg_lp_next(&p, &l, &e)) == 1) {
        (*lines)++;
        assert_true(l->has_ts);
        for (uint32_t i = 0; bench && i < l->nfields; i++) {
            vg_type_t ty = l->fields[i].type;
            assert_true(ty == VG_TYPE_FLOAT || ty == VG_TYPE_INT || ty == VG_TYPE_BOOL);
            if (ty == VG_TYPE_INT)
                assert_true(l->fields[i].v.i >= 0 && l->fields[i].v.i < (INT64_C(1) << 53));
        }
    }
    if (rc != 0)
        fail_msg("line %llu col %u: %s", (unsigned long long)e.lineno, e.column, e.reason);
    vg_lp_reset(&p);
}

static void test_sim_output_parses_as_line_protocol(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 8 * HOUR, 3 * HOUR, 0.5, VG_SIM_FULL);
    assert_int_equal(vg_sim_add_incident(&o, "guardrail_off@1h+1h", NULL), 0);
    assert_int_equal(vg_sim_add_incident(&o, "prompt_injection@2h+30m", NULL), 0);
    size_t len, lines, want = 0;
    char *text = run(&o, 1 << 18, &len);
    for (size_t i = 0; i < len; i++)
        want += text[i] == '\n';
    parse_all(text, len, 0, &lines);
    assert_int_equal(lines, want);
    free(text);
    o = opts(WED_NS, 300 * SEC, 20, VG_SIM_BENCH);
    text = run(&o, 1 << 18, &len);
    want = 0;
    for (size_t i = 0; i < len; i++)
        want += text[i] == '\n';
    parse_all(text, len, 1, &lines);
    assert_int_equal(lines, want);
    for (size_t i = 1; i + 1 < len; i++) /* no unsigned literal like 12u */
        assert_false(text[i] == 'u' && text[i - 1] >= '0' && text[i - 1] <= '9' &&
                     (text[i + 1] == ',' || text[i + 1] == ' '));
    free(text);
}

/* ---- incidents ----------------------------------------------------------- */

static void test_sim_parses_incident_specs(void **state)
{
    (void)state;
    vg_sim_opts_t o;
    vg_error_t err;
    vg_sim_opts_default(&o);
    assert_int_equal(vg_sim_add_incident(&o, "verbose_prompt@1h30m+20m", &err), 0);
    assert_int_equal(o.n_incidents, 1);
    assert_int_equal(o.incidents[0].kind, VG_SIM_INC_VERBOSE_PROMPT);
    assert_true(o.incidents[0].offset_ns == 90 * 60 * SEC);
    assert_true(o.incidents[0].duration_ns == 20 * 60 * SEC);
    assert_int_equal(vg_sim_add_incident(&o, "agent_loop@250ms", &err), 0);
    assert_true(o.incidents[1].offset_ns == 250000000);
    assert_true(o.incidents[1].duration_ns == 0);
    assert_int_equal(vg_sim_add_incident(&o, "meteor@1h", &err), VG_EINVAL);
    assert_non_null(strstr(err.msg, "meteor"));
    assert_int_equal(vg_sim_add_incident(&o, "kv_pressure", &err), VG_EINVAL);
    assert_int_equal(vg_sim_add_incident(&o, "kv_pressure@1x", &err), VG_EINVAL);
    assert_int_equal(vg_sim_add_incident(&o, "kv_pressure@1h+", &err), VG_EINVAL);
    assert_int_equal(vg_sim_add_incident(&o, "kv_pressure@h", &err), VG_EINVAL);
    assert_int_equal(o.n_incidents, 2);
    while (o.n_incidents < VG_SIM_MAX_INCIDENTS)
        assert_int_equal(vg_sim_add_incident(&o, "kv_pressure@0s", &err), 0);
    assert_int_equal(vg_sim_add_incident(&o, "kv_pressure@0s", &err), VG_ELIMIT);
    for (int k = 0; k < VG_SIM_INC_COUNT; k++)
        assert_non_null(vg_sim_incident_name((vg_sim_incident_kind_t)k));
    assert_null(vg_sim_incident_name(VG_SIM_INC_COUNT));
}

static void test_sim_over_refusal_incident_raises_refusals_after_its_change_event(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 10 * HOUR, HOUR, 3, VG_SIM_FULL);
    assert_int_equal(vg_sim_add_incident(&o, "over_refusal@20m+20m", NULL), 0);
    size_t len, pos = 0;
    char *text = run(&o, 1 << 20, &len);
    int64_t a = o.start_ns + 20 * 60 * SEC, b = a + 20 * 60 * SEC;
    size_t in_n = 0, in_ref = 0, out_n = 0, out_ref = 0, guard = 0;
    row_t r;
    while (next_row(text, len, &pos, &r)) {
        if (is_m(&r, "change_event") && tag_is(&r, "kind", "guardrail")) {
            assert_true(r.ts == a || r.ts == b);
            guard++;
        }
        if (!is_m(&r, "llm_request") || !tag_is(&r, "service", "support") ||
            tag_is(&r, "finish", "error"))
            continue;
        int ref = field_is(&r, "refusal", "true");
        if (r.ts >= a && r.ts < b)
            in_n++, in_ref += ref;
        else
            out_n++, out_ref += ref;
    }
    assert_int_equal(guard, 2); /* the change and its rollback */
    double in_rate = (double)in_ref / (double)in_n, out_rate = (double)out_ref / (double)out_n;
    assert_true(in_rate > 0.12 && in_rate < 0.18);
    assert_true(out_rate < 0.03);
    free(text);
}

static void test_sim_verbose_prompt_incident_triples_refund_output(void **state)
{
    (void)state;
    vg_sim_opts_t o = opts(WED_NS + 10 * HOUR, HOUR, 3, VG_SIM_FULL);
    assert_int_equal(vg_sim_add_incident(&o, "verbose_prompt@30m", NULL), 0);
    size_t len, pos = 0;
    char *text = run(&o, 1 << 20, &len);
    int64_t a = o.start_ns + 30 * 60 * SEC;
    double sum[2] = {0, 0}, n[2] = {0, 0};
    row_t r;
    while (next_row(text, len, &pos, &r)) {
        if (!is_m(&r, "llm_request") || !tag_is(&r, "route", "refund_qa") ||
            !tag_is(&r, "finish", "stop") || field_is(&r, "refusal", "true"))
            continue;
        int after = r.ts >= a;
        size_t vn;
        const char *pv = tag(&r, "prompt_ver", &vn);
        assert_true(pv && vn == strlen(after ? "refund@v13" : "refund@v12"));
        assert_memory_equal(pv, after ? "refund@v13" : "refund@v12", vn);
        sum[after] += field_num(&r, "output_tokens");
        n[after]++;
    }
    double ratio = (sum[1] / n[1]) / (sum[0] / n[0]);
    assert_true(ratio > 2.0 && ratio < 3.5);
    free(text);
}

static void test_sim_rejects_bad_options(void **state)
{
    (void)state;
    vg_sim_t *s = NULL;
    vg_error_t err;
    vg_sim_opts_t o = opts(WED_NS, HOUR, 20, VG_SIM_FULL);
    o.duration_ns = 0;
    assert_int_equal(vg_sim_create(&o, &s, &err), VG_EINVAL);
    o = opts(WED_NS, HOUR, 0, VG_SIM_FULL);
    assert_int_equal(vg_sim_create(&o, &s, &err), VG_EINVAL);
    o.rate = NAN;
    assert_int_equal(vg_sim_create(&o, &s, &err), VG_EINVAL);
    o = opts(INT64_MAX - 10, HOUR, 20, VG_SIM_FULL);
    assert_int_equal(vg_sim_create(&o, &s, &err), VG_EINVAL);
    o = opts(WED_NS, HOUR, 20, (vg_sim_profile_t)7);
    assert_int_equal(vg_sim_create(&o, &s, &err), VG_EINVAL);
    assert_null(s);
    vg_sim_destroy(NULL);
}

static void test_sim_default_options_end_now(void **state)
{
    (void)state;
    vg_sim_opts_t o;
    vg_sim_opts_default(&o);
    assert_true(o.seed == 1 && o.rate == 20.0 && o.duration_ns == HOUR);
    assert_int_equal(o.profile, VG_SIM_FULL);
    assert_int_equal(o.n_incidents, 0);
    /* 2024-01-01 < start + 1h (now) < 2100-01-01 */
    assert_true(o.start_ns + HOUR > INT64_C(1704067200) * SEC);
    assert_true(o.start_ns + HOUR < INT64_C(4102444800) * SEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_same_seed_gives_identical_bytes_for_any_buffer_size),
        cmocka_unit_test(test_sim_different_seeds_give_different_traffic),
        cmocka_unit_test(test_sim_timestamps_increase_strictly_within_the_window),
        cmocka_unit_test(test_sim_weekday_rate_averages_the_requested_rate),
        cmocka_unit_test(test_sim_follows_the_diurnal_curve),
        cmocka_unit_test(test_sim_full_profile_writes_all_four_tables_with_the_schema),
        cmocka_unit_test(test_sim_baseline_rates_match_the_domain_notes),
        cmocka_unit_test(test_sim_bench_profile_is_numeric_llm_request_only),
        cmocka_unit_test(test_sim_output_parses_as_line_protocol),
        cmocka_unit_test(test_sim_parses_incident_specs),
        cmocka_unit_test(test_sim_over_refusal_incident_raises_refusals_after_its_change_event),
        cmocka_unit_test(test_sim_verbose_prompt_incident_triples_refund_output),
        cmocka_unit_test(test_sim_rejects_bad_options),
        cmocka_unit_test(test_sim_default_options_end_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
