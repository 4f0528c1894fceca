/*
 * classify.c: the symptom's class from the group's numbers against their
 * baselines (classify.h).
 *
 * Current is the window the caller gives (the time the alert's condition
 * has held, with some lead-in); the baseline is the 7 days before the last hour (for the request count: the same 30 minutes of each of the 7
 * previous days, so that the daily cycle does not look like a surge).
 * Quantiles are approximate (the sketches): the class needs ratios, not
 * exact tails, and this runs when an alert fires, next to ingest.
 *
 * The order of the tests is the order in which one symptom explains the
 * others: refusals (guardrail) and injection signals first, then tools,
 * then length or traffic (which also raise latency and cost), then quality
 * with latency stable, then latency alone.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

typedef struct metric {
    const char *name;  /* also the column alias */
    const char *table;
    const char *field; /* must exist for the metric to be asked */
    const char *expr;
} metric_t;

static const metric_t metrics[] = {
    {"requests", "llm_request", NULL, "count()"},
    {"latency_p50", "llm_request", "latency_s", "approx_quantile(latency_s, 0.5)"},
    {"latency_p99", "llm_request", "latency_s", "approx_quantile(latency_s, 0.99)"},
    {"ttft_p99", "llm_request", "ttft_s", "approx_quantile(ttft_s, 0.99)"},
    {"tpot_mean", "llm_request", "tpot_s", "mean(tpot_s)"},
    {"quality", "llm_request", "quality", "mean(quality)"},
    {"refusal_rate", "llm_request", "refusal", "rate(refusal)"},
    {"cost_per_request", "llm_request", "cost_usd", "mean(cost_usd)"},
    {"output_tokens", "llm_request", "output_tokens", "mean(output_tokens)"},
    {"error_rate", "llm_request", "error_type", "rate(error_type != 'none')"},
    {"injection_rate", "llm_request", "inj_flag", "rate(inj_flag)"},
    {"tool_calls", "tool_call", NULL, "count()"},
    {"tool_error_rate", "tool_call", "status", "rate(status != 'ok' AND status != 'empty')"},
    {"tool_empty_rate", "tool_call", "empty", "rate(empty)"},
    {"tool_off_allowlist", "tool_call", "allowlisted", "count_if(NOT allowlisted)"},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

typedef struct num {
    double cur, base;
    int have;
} num_t;

static int has_col(const vg_col_info_t *c, size_t n, const char *name, vg_type_t *type)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0) {
            if (type)
                *type = c[i].type;
            return 1;
        }
    return 0;
}

/* "WHERE a = 'x' AND b = 'y'" over the labels that are tags of the table. */
static void group_filter(const vg_col_info_t *c, size_t n, const vg_label_t *l, size_t nl,
                         char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nl && o + 8 < cap; i++) {
        vg_type_t t;
        if (!has_col(c, n, l[i].name, &t) || t != VG_TYPE_TAG)
            continue;
        o += (size_t)snprintf(buf + o, cap - o, "%s\"%s\" = '", o ? " AND " : "WHERE ", l[i].name);
        for (const char *v = l[i].value; *v && o + 3 < cap; v++) {
            if (*v == '\'')
                buf[o++] = '\'';
            buf[o++] = *v;
        }
        if (o + 1 < cap)
            buf[o++] = '\'';
        buf[o < cap ? o : cap - 1] = '\0';
    }
}

static double cell_num(const vg_result_t *r, size_t col)
{
    const vg_value_t *v = r->nrows ? vg_result_cell(r, 0, col) : NULL;
    if (!v)
        return NAN;
    switch (r->cols[col].type) {
    case VG_TYPE_FLOAT: return v->f;
    case VG_TYPE_INT: return (double)v->i;
    case VG_TYPE_UINT: return (double)v->u;
    default: return NAN;
    }
}

static int run_q(vg_db_t *db, const char *q, int64_t now, int64_t timeout_ms, vg_result_t *r)
{
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    o.now_ns = now;
    if (timeout_ms > 0)
        o.timeout_ms = (uint64_t)timeout_ms;
    return vg_q_run(db, q, &o, r, NULL);
}

/* Fill nums for the metrics of one table: a current and a baseline query. */
static void measure(vg_db_t *db, const char *table, const vg_label_t *l, size_t nl, int64_t now,
                    int64_t window_s, int64_t timeout_ms, num_t *nums)
{
    vg_col_info_t *cols = NULL;
    size_t ncols = 0;
    if (vg_db_columns(db, table, &cols, &ncols, NULL) != VG_OK)
        return;
    char where[1024], items[2048] = "", q[4096];
    group_filter(cols, ncols, l, nl, where, sizeof where);
    size_t o = 0, idx[NMETRICS], k = 0;
    for (size_t i = 0; i < NMETRICS; i++) {
        if (strcmp(metrics[i].table, table) != 0 ||
            (metrics[i].field && !has_col(cols, ncols, metrics[i].field, NULL)))
            continue;
        o += (size_t)snprintf(items + o, sizeof items - o, "%s%s AS %s", k ? ", " : "",
                              metrics[i].expr, metrics[i].name);
        idx[k++] = i;
    }
    vg_cols_free(cols, ncols);
    if (!k)
        return;
    vg_result_t cur, base, seasonal;
    snprintf(q, sizeof q, "SELECT %s FROM %s %s SINCE %llds", items, table, where,
             (long long)window_s);
    int rc1 = run_q(db, q, now, timeout_ms, &cur);
    snprintf(q, sizeof q, "SELECT %s FROM %s %s BETWEEN now() - 7d AND now() - 1h", items, table,
             where);
    int rc2 = run_q(db, q, now, timeout_ms, &base);
    snprintf(q, sizeof q, "SELECT baseline(count(), 7d, 1d) AS b FROM %s %s SINCE %llds", table,
             where, (long long)window_s);
    int rc3 = run_q(db, q, now, timeout_ms, &seasonal);
    for (size_t j = 0; j < k && !rc1 && !rc2; j++) {
        num_t *n = &nums[idx[j]];
        n->cur = cur.ncols > j ? cell_num(&cur, j) : NAN;
        n->base = base.ncols > j ? cell_num(&base, j) : NAN;
        if (strcmp(metrics[idx[j]].expr, "count()") == 0) {
            n->base = rc3 ? NAN : cell_num(&seasonal, 0);
            if (isnan(n->cur))
                n->cur = 0;
        }
        n->have = !isnan(n->cur) && !isnan(n->base);
    }
    vg_result_free(&cur);
    vg_result_free(&base);
    vg_result_free(&seasonal);
}

static num_t get(const num_t *nums, const char *name)
{
    for (size_t i = 0; i < NMETRICS; i++)
        if (strcmp(metrics[i].name, name) == 0)
            return nums[i];
    return (num_t){NAN, NAN, 0};
}

static double ratio(num_t n)
{
    return n.have && n.base > 0 ? n.cur / n.base : NAN;
}

/* up: current above max(k * base, base + floor) */
static int up(num_t n, double k, double floor)
{
    return n.have && n.cur > k * n.base && n.cur > n.base + floor;
}

static const char *decide(const num_t *v, char *why, size_t cap)
{
    num_t refusal = get(v, "refusal_rate"), inj = get(v, "injection_rate");
    num_t terr = get(v, "tool_error_rate"), tempty = get(v, "tool_empty_rate");
    num_t err = get(v, "error_rate"), cost = get(v, "cost_per_request");
    num_t out = get(v, "output_tokens"), req = get(v, "requests");
    num_t qual = get(v, "quality"), p50 = get(v, "latency_p50"), p99 = get(v, "latency_p99");
    num_t ttft = get(v, "ttft_p99"), off = get(v, "tool_off_allowlist");
#define WHY(name, n) snprintf(why, cap, "%s %.4g against %.4g (%.2fx)", name, n.cur, n.base, ratio(n))
    /* a guardrail that is off shows as fewer refusals, and as injection
     * attempts getting through; an attack alone leaves refusals steady */
    int fewer = refusal.have && refusal.base >= 0.005 && req.have &&
                req.cur * refusal.base >= 10 && /* enough refusals expected to miss them */
                (refusal.cur < 0.3 * refusal.base ||
                 (refusal.cur < 0.7 * refusal.base && up(inj, 2, 0.002)));
    if (up(refusal, 2, 0.01) || fewer) {
        if (fewer && up(inj, 2, 0.002))
            snprintf(why, cap, "refusal rate %.4g against %.4g (%.2fx) while injection flags rose %.2fx",
                     refusal.cur, refusal.base, ratio(refusal), ratio(inj));
        else
            WHY("refusal rate", refusal);
        return "guardrail";
    }
    int inj_up = up(inj, 3, 0.002) && req.have && inj.cur * req.cur >= 5;
    if (inj_up || (off.have && off.cur > 0 && off.cur > 3 * off.base)) {
        if (inj_up)
            WHY("injection-flag rate", inj);
        else
            snprintf(why, cap, "%.0f tool calls off the allowlist in 30m", off.cur);
        return "security";
    }
    /* a rate counts only with at least 10 events behind it in the window */
    num_t calls = get(v, "tool_calls");
    int terr_up = up(terr, 2, 0.03) && calls.have && terr.cur * calls.cur >= 10;
    int tempty_up = up(tempty, 2, 0.05) && calls.have && tempty.cur * calls.cur >= 10;
    int err_up = up(err, 2, 0.02) && req.have && err.cur * req.cur >= 10;
    if (terr_up || tempty_up || err_up) {
        num_t n = terr_up ? terr : tempty_up ? tempty : err;
        WHY(terr_up ? "tool error rate" : tempty_up ? "empty tool results" : "error rate", n);
        return "tool_or_api";
    }
    if (up(out, 1.5, 0) || up(cost, 1.5, 0) || up(req, 2, 0)) {
        num_t n = up(out, 1.5, 0) ? out : up(cost, 1.5, 0) ? cost : req;
        WHY(up(out, 1.5, 0) ? "output tokens" : up(cost, 1.5, 0) ? "cost per request" : "requests", n);
        return "length_or_traffic";
    }
    if (qual.have && qual.cur < 0.95 * qual.base && !(ratio(p50) > 1.3)) {
        WHY("quality", qual);
        return "model_or_prompt_regression";
    }
    num_t tpot = get(v, "tpot_mean");
    if (up(p99, 1.3, 0) || up(ttft, 1.3, 0) || up(p50, 1.3, 0) || up(tpot, 1.15, 0)) {
        num_t n = up(p99, 1.3, 0)    ? p99
                  : up(ttft, 1.3, 0) ? ttft
                  : up(p50, 1.3, 0)  ? p50
                                     : tpot;
        WHY(up(p99, 1.3, 0)    ? "latency p99"
            : up(ttft, 1.3, 0) ? "time to first token p99"
            : up(p50, 1.3, 0)  ? "latency p50"
                               : "time per output token",
            n);
        return "infrastructure";
    }
#undef WHY
    snprintf(why, cap, "no signal of the group moved past its threshold against the baseline");
    return "unclassified";
}

json_t *vg_classify(vg_db_t *db, const vg_label_t *labels, size_t nlabels, int64_t now,
                    int64_t window_ns, const char *signal, int64_t timeout_ms)
{
    num_t nums[NMETRICS];
    memset(nums, 0, sizeof nums);
    int64_t window_s = window_ns > 0 ? window_ns / VG_NS_PER_SEC : 1800;
    measure(db, "llm_request", labels, nlabels, now, window_s, timeout_ms, nums);
    measure(db, "tool_call", labels, nlabels, now, window_s, timeout_ms, nums);
    char why[256];
    const char *cls = decide(nums, why, sizeof why);
    json_t *numbers = json_object();
    for (size_t i = 0; i < NMETRICS; i++) {
        if (!nums[i].have)
            continue;
        double r = ratio(nums[i]);
        json_object_set_new(numbers, metrics[i].name,
                            json_pack("{s:f,s:f,s:o}", "current", nums[i].cur, "baseline",
                                      nums[i].base, "ratio", isfinite(r) ? json_real(r) : json_null()));
    }
    json_t *o = json_pack("{s:s,s:s,s:I,s:o}", "class", cls, "reason", why, "window_s",
                          (json_int_t)window_s, "numbers", numbers);
    if (signal)
        json_object_set_new(o, "runbook_signal", json_string(signal));
    return o;
}
