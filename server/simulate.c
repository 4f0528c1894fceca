/*
 * simulate.c: the LLM traffic simulator behind `vigil simulate`, the demo,
 * the tests and the benchmarks (simulate.h).
 *
 * Shape: one arrival process (diurnal, gamma inter-arrivals) makes
 * llm_request rows in time order. Rows that a request causes later
 * (tool_call, eval_result) and change_events go into a min-heap keyed by
 * (timestamp, sequence number); before each arrival is written, every heap
 * row due at or before it is written first. Children always lie after their
 * request, so the merged stream is in time order.
 *
 * Incidents: each request computes the bitmask of incidents active at its
 * arrival (vg__sim_incidents_at) and the samplers bend their distributions
 * by it; an incident's change_event (and rollback) sits in the heap from
 * creation.
 *
 * Invariants:
 *   - Determinism: all randomness comes from one xoshiro256** stream seeded
 *     from opts.seed, drawn in emission order; IDs are hashes of the seed
 *     and a serial number. The wall clock is read only by
 *     vg_sim_opts_default. The output does not depend on buffer sizes,
 *     because lines are generated one at a time and a line that does not fit
 *     is carried to the next call.
 *   - Time: every written timestamp is max(its time, previous + 1 ns), so
 *     timestamps are strictly increasing; rows at or past the end are
 *     dropped. The bench profile works in whole milliseconds (stamp()).
 *   - Text: world names hold no character that needs escaping in a tag; the
 *     free-text fields (change descriptions) go through put_qstr.
 *
 * This file is the loop (heap, arrivals, emission, lifecycle) and the line
 * writers; sim_int.h lists the files that hold the rest (random numbers,
 * the world, request sampling, incidents).
 */
#include "simulate.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim_int.h"
#include "vigil/vg_alloc.h"

/* ------------------------------------------------------------------------ */
/* Number formatting: no snprintf on the hot path.                          */

static const uint64_t pow10_tab[] = {
    1ull,           10ull,           100ull,          1000ull,      10000ull,
    100000ull,      1000000ull,      10000000ull,     100000000ull, 1000000000ull,
    10000000000ull, 100000000000ull, 1000000000000ull};

static inline char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUTS(p, lit) put((p), (lit), sizeof(lit) - 1)

static inline char *put_cstr(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* An integer field: 123i (values are non-negative and below 2^53). */
static inline char *put_int(char *p, int64_t v)
{
    assert(v >= 0 && v < (INT64_C(1) << 53));
    p = put_u64(p, (uint64_t)v);
    *p++ = 'i';
    return p;
}

/* v >= 0 rounded to dec decimals (1..12), trailing zeros cut, at least "x.0". */
static char *put_fixed(char *p, double v, int dec)
{
    if (!(v > 0.0))
        return PUTS(p, "0.0");
    uint64_t scale = pow10_tab[dec];
    uint64_t m = (uint64_t)(v * (double)scale + 0.5);
    uint64_t ip = m / scale, fp = m % scale;
    p = put_u64(p, ip);
    *p++ = '.';
    if (fp == 0) {
        *p++ = '0';
        return p;
    }
    while (fp % 10 == 0) {
        fp /= 10;
        dec--;
    }
    for (int i = dec - 1; i >= 0; i--) {
        p[i] = (char)('0' + fp % 10);
        fp /= 10;
    }
    return p + dec;
}

/* v >= 0 to sig significant digits (cost: six), as a plain decimal. */
static char *put_sig(char *p, double v, int sig)
{
    if (!(v > 0.0))
        return PUTS(p, "0.0");
    int e = (int)floor(log10(v));
    int dec = sig - 1 - e;
    if (dec < 1)
        dec = 1;
    if (dec > 12)
        dec = 12;
    return put_fixed(p, v, dec);
}

static inline char *put_bool(char *p, int b)
{
    return b ? PUTS(p, "true") : PUTS(p, "false");
}

static char *put_hex(char *p, uint64_t v, int digits)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--) {
        p[i] = hx[v & 15];
        v >>= 4;
    }
    return p + digits;
}

/* 0 <= v < 10000 as exactly four digits. */
static char *put_dec4(char *p, int v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + 4;
}

/* A string field value with its quotes, escaping '"' and '\'. */
static char *put_qstr(char *p, const char *s)
{
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    return p;
}

static char *put_ts(char *p, int64_t ts)
{
    *p++ = ' ';
    p = put_u64(p, (uint64_t)ts);
    *p++ = '\n';
    return p;
}

/* Names of the label values (enums in sim_int.h). */
static const char *const finish_name[] = {"stop", "length", "content_filter", "tool_call", "error"};
static const char *const llm_err_name[] = {"none", "timeout", "rate_limit", "server_error",
                                           "overloaded"};
static const char *const status_name[] = {"ok", "error", "timeout", "empty"};
static const char *const tool_err_name[] = {"none", "timeout", "http_5xx", "http_4xx",
                                            "invalid_args"};
static const char *const refusal_kind_name[] = {"policy", "capability", "filter"};

/* ------------------------------------------------------------------------ */
/* The pending-row heap.                                                     */

static int pend_before(const pend_t *a, const pend_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

/* Returns 0, or -1 when the heap cannot grow (the row is dropped). */
int vg__sim_push(vg_sim_t *s, pend_t *e)
{
    if (s->nheap == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
        pend_t *h = vg_realloc(s->heap, cap * sizeof *h);
        if (!h)
            return -1;
        s->heap = h;
        s->heap_cap = cap;
    }
    e->seq = s->seq++;
    size_t i = s->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pend_before(e, &s->heap[up]))
            break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = *e;
    return 0;
}

static pend_t heap_pop(vg_sim_t *s)
{
    assert(s->nheap > 0);
    pend_t top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pend_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!pend_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------------ */
/* Arrivals.                                                                 */

/* Requests per second at t: the diurnal curve, halved on weekends (UTC). */
static double rate_at(const vg_sim_t *s, int64_t t, uint32_t inc)
{
    int64_t day = t / DAY_NS - (t % DAY_NS < 0);
    int64_t tod = t - day * DAY_NS;
    int dow = (int)(((day + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    double phase = 6.283185307179586 * (double)(tod - 8 * HOUR_NS) / (double)DAY_NS;
    double r = s->o.rate * (1.0 + 0.6 * sin(phase));
    if (dow == 0 || dow == 6)
        r *= 0.5;
    if (inc & INC(VG_SIM_INC_AGENT_LOOP))
        r *= 1.0 + 4.0 * vg__sim_routes[R_CODE].weight;
    return r;
}

/* Advance to the next arrival: a unit-mean gamma gap (burstiness 0.8) in
 * rescaled time, turned into ns at the current rate. */
static void advance_arrival(vg_sim_t *s)
{
    const double burst = 0.8;
    double g = vg__sim_gamma(&s->rng, burst) / burst;
    double lam = rate_at(s, s->next_arrival, vg__sim_incidents_at(s, s->next_arrival));
    double gap = g / lam * 1e9;
    int64_t step = gap < 1.0 ? 1 : gap > 1e15 ? (int64_t)1e15 : (int64_t)gap;
    s->next_arrival = s->next_arrival > INT64_MAX - step ? INT64_MAX : s->next_arrival + step;
}

/* ------------------------------------------------------------------------ */
/* Rows: llm_request, tool_call, eval_result, change_event.                  */

static char *put_prompt_ver(char *p, int route, int ver)
{
    p = put_cstr(p, vg__sim_routes[route].prompt);
    p = PUTS(p, "@v");
    return put_u64(p, (uint64_t)ver);
}

static char *put_release(char *p, int ver)
{
    p = put_u64(PUTS(p, "v1."), (uint64_t)ver);
    return PUTS(p, ".0");
}

static const char *resp_model(const req_t *q)
{
    const model_def_t *m = &vg__sim_models[q->model];
    if ((q->inc & INC(VG_SIM_INC_MODEL_UPDATE)) && m->resp_next)
        return m->resp_next;
    return m->resp;
}

static char *put_request_tags(vg_sim_t *s, char *p, const req_t *q)
{
    const route_def_t *rd = &vg__sim_routes[q->route];
    const model_def_t *m = &vg__sim_models[q->model];
    p = put_cstr(PUTS(p, "llm_request,service="), vg__sim_svc_name[rd->service]);
    p = put_cstr(PUTS(p, ",env="), vg__sim_env_name[q->env]);
    p = put_cstr(PUTS(p, ",route="), rd->name);
    p = put_cstr(PUTS(p, ",provider="), m->provider);
    p = put_cstr(PUTS(p, ",model="), m->name);
    p = put_cstr(PUTS(p, ",resp_model="), resp_model(q));
    p = put_prompt_ver(PUTS(p, ",op=chat,prompt_ver="), q->route, s->prompt_ver[q->route]);
    p = put_release(PUTS(p, ",release="), s->release[rd->service][q->env]);
    p = put_cstr(PUTS(p, ",region="), vg__sim_region_name[q->region]);
    p = put_cstr(PUTS(p, ",tier="), vg__sim_tier_name[q->tier]);
    p = put_bool(PUTS(p, ",stream="), q->stream);
    p = put_cstr(PUTS(p, ",finish="), finish_name[q->finish]);
    p = PUTS(p, ",error_type=");
    return put_cstr(p, llm_err_name[q->err]);
}

static char *put_request_ids(vg_sim_t *s, char *p, const req_t *q)
{
    uint64_t h = hash64(s->o.seed ^ hash64(q->serial));
    p = put_hex(PUTS(p, ",request_id=\"r-"), h, 16);
    p = put_hex(PUTS(p, "\",conversation_id=\"c-"), hash64(q->conv ^ s->o.seed), 12);
    p = put_hex(PUTS(p, "\",trace_id=\""), hash64(h), 16);
    p = put_hex(p, hash64(h + 1), 16);
    p = put_hex(PUTS(p, "\",sample_ref=\"s3://vigil-samples/r-"), h, 16);
    return PUTS(p, "\"");
}

static char *put_request(vg_sim_t *s, char *p, const req_t *q)
{
    p = put_request_tags(s, p, q);
    p = put_int(PUTS(p, " input_tokens="), q->in);
    p = put_int(PUTS(p, ",output_tokens="), q->out);
    p = put_int(PUTS(p, ",cache_read_tokens="), q->cached);
    p = put_int(PUTS(p, ",reasoning_tokens="), q->reasoning);
    p = put_int(PUTS(p, ",output_chars="), q->chars);
    p = put_fixed(PUTS(p, ",latency_s="), q->latency, 3);
    if (q->stream && !q->err) { /* time to first chunk exists only when streaming */
        p = put_fixed(PUTS(p, ",ttft_s="), q->ttft, 3);
        p = put_sig(PUTS(p, ",tpot_s="), q->tpot, 4);
    }
    p = put_sig(PUTS(p, ",cost_usd="), q->cost, 6);
    p = put_bool(PUTS(p, ",refusal="), q->refusal);
    if (q->refusal) {
        p = put_cstr(PUTS(p, ",refusal_kind=\""), refusal_kind_name[q->refusal_kind]);
        p = PUTS(p, "\"");
    }
    if (!q->err) {
        p = put_fixed(PUTS(p, ",quality="), q->quality, 3);
    }
    p = put_int(PUTS(p, ",tool_calls="), q->tool_calls);
    p = put_int(PUTS(p, ",tool_errors="), q->tool_errors);
    p = put_int(PUTS(p, ",retries="), q->retries);
    p = put_fixed(PUTS(p, ",inj_score="), q->inj, 3);
    p = put_bool(PUTS(p, ",inj_flag="), q->inj_flag);
    p = put_request_ids(s, p, q);
    return put_ts(p, q->ts);
}

static char *put_tool_call(vg_sim_t *s, char *p, const pend_t *e, int64_t ts)
{
    const route_def_t *rd = &vg__sim_routes[e->route];
    p = put_cstr(PUTS(p, "tool_call,service="), vg__sim_svc_name[rd->service]);
    p = put_cstr(PUTS(p, ",env="), vg__sim_env_name[e->env]);
    p = put_cstr(PUTS(p, ",route="), rd->name);
    p = put_cstr(PUTS(p, ",tool="), vg__sim_tools[e->tool].name);
    p = put_cstr(PUTS(p, ",tool_type="), vg__sim_tools[e->tool].type);
    p = put_cstr(PUTS(p, ",status="), status_name[e->status]);
    p = put_cstr(PUTS(p, ",error_type="), tool_err_name[e->err]);
    p = put_cstr(PUTS(p, ",model="), vg__sim_models[e->model].name);
    p = put_fixed(PUTS(p, " duration_s="), e->val, 3);
    p = put_bool(PUTS(p, ",ok="), e->status == ST_OK || e->status == ST_EMPTY);
    p = put_bool(PUTS(p, ",empty="), e->status == ST_EMPTY);
    p = put_int(PUTS(p, ",result_bytes="), e->bytes);
    p = put_int(PUTS(p, ",attempt="), e->attempt);
    p = put_bool(PUTS(p, ",allowlisted="), e->allow);
    p = put_hex(PUTS(p, ",request_id=\"r-"), hash64(s->o.seed ^ hash64(e->req)), 16);
    p = put_hex(PUTS(p, "\",tool_call_id=\"call_"), e->bits, 16);
    p = put_hex(PUTS(p, "\",args_hash=\""), hash64(e->bits), 16);
    p = PUTS(p, "\"");
    return put_ts(p, ts);
}

static char *put_eval(vg_sim_t *s, char *p, const pend_t *e, int64_t ts)
{
    static const char *const evaluator[2] = {"helpfulness", "groundedness"};
    p = put_cstr(PUTS(p, "eval_result,evaluator="), evaluator[e->evaluator]);
    p = put_cstr(PUTS(p, ",route="), vg__sim_routes[e->route].name);
    p = put_cstr(PUTS(p, ",model="), vg__sim_models[e->model].name);
    p = put_prompt_ver(PUTS(p, ",prompt_ver="), e->route, e->pver);
    p = put_fixed(PUTS(p, " score="), e->val, 3);
    p = PUTS(p, ",label=");
    p = e->val >= 0.7   ? PUTS(p, "\"good\"")
        : e->val >= 0.5 ? PUTS(p, "\"fair\"")
                        : PUTS(p, "\"bad\"");
    p = put_hex(PUTS(p, ",request_id=\"r-"), hash64(s->o.seed ^ hash64(e->req)), 16);
    p = PUTS(p, "\"");
    return put_ts(p, ts);
}

static char *put_change(vg_sim_t *s, char *p, const change_t *c, int64_t ts)
{
    p = put_cstr(PUTS(p, "change_event,kind="), c->kind);
    p = put_cstr(PUTS(p, ",service="), c->service);
    p = put_cstr(PUTS(p, ",env="), c->env);
    p = put_cstr(PUTS(p, ",route="), c->route);
    p = put_qstr(PUTS(p, " from="), c->from);
    p = put_qstr(PUTS(p, ",to="), c->to);
    p = put_u64(PUTS(p, ",change_id=\"c-"), s->change_no);
    p = put_qstr(PUTS(p, "\",author="), c->author);
    p = put_qstr(PUTS(p, ",desc="), c->desc);
    if (c->rollback[0]) {
        p = put_qstr(PUTS(p, ",rollback="), c->rollback);
    }
    return put_ts(p, ts);
}

/* ------------------------------------------------------------------------ */
/* Emission.                                                                 */

/*
 * The next timestamp to write for a row due at t (strictly increasing).
 * The bench profile stamps whole milliseconds, never on a whole second:
 * VictoriaMetrics keeps milliseconds, so every peer stores the same points,
 * and no row sits on a window boundary, where PromQL's windows (left-open)
 * and InfluxQL's and Vigil's (right-open) would place it differently.
 */
static int64_t stamp(vg_sim_t *s, int64_t t)
{
    const int64_t ms = 1000000;
    int64_t step = 1;
    if (s->o.profile == VG_SIM_BENCH) {
        t -= t % ms;
        step = ms;
    }
    if (t <= s->last_ts)
        t = s->last_ts + step;
    if (s->o.profile == VG_SIM_BENCH && t % (1000 * ms) == 0)
        t += ms;
    return t;
}

/* Write a pending row; returns its length (0: nothing written). */
static size_t emit_pending(vg_sim_t *s, const pend_t *e, int64_t ts, char *dst)
{
    change_t c;
    char *p = dst;
    memset(&c, 0, sizeof c);
    switch (e->kind) {
    case PEND_TOOL:
        p = put_tool_call(s, p, e, ts);
        break;
    case PEND_EVAL:
        p = put_eval(s, p, e, ts);
        break;
    case PEND_CHANGE:
        vg__sim_routine_change(s, &c);
        s->change_no++;
        p = put_change(s, p, &c, ts);
        vg__sim_schedule_routine_change(s, ts);
        break;
    default:
        if (!vg__sim_incident_change(s, e->req, e->phase, &c))
            return 0;
        s->change_no++;
        if (e->phase)
            snprintf(c.rollback, sizeof c.rollback, "c-%llu",
                     (unsigned long long)s->inc_change[e->req]);
        else
            s->inc_change[e->req] = s->change_no;
        p = put_change(s, p, &c, ts);
        break;
    }
    return (size_t)(p - dst);
}

/* Bench profile: llm_request only, 5 tags, 9 numeric fields, no strings. */
static size_t emit_bench(vg_sim_t *s, int64_t ts, char *dst)
{
    req_t q;
    int ver, tenant;
    vg__sim_sample_bench(s, &q, &ver, &tenant);
    const route_def_t *rd = &vg__sim_routes[q.route];
    char *p = dst;
    p = put_cstr(PUTS(p, "llm_request,service="), vg__sim_svc_name[rd->service]);
    p = put_cstr(PUTS(p, ",route="), rd->name);
    p = put_cstr(PUTS(p, ",model="), vg__sim_models[q.model].name);
    p = put_prompt_ver(PUTS(p, ",prompt_ver="), q.route, ver);
    p = put_dec4(PUTS(p, ",tenant=t-"), tenant);
    p = put_fixed(PUTS(p, " latency_s="), q.latency, 3);
    p = put_fixed(PUTS(p, ",ttft_s="), q.ttft, 3);
    p = put_sig(PUTS(p, ",tpot_s="), q.tpot, 4);
    p = put_int(PUTS(p, ",input_tokens="), q.in);
    p = put_int(PUTS(p, ",output_tokens="), q.out);
    p = put_sig(PUTS(p, ",cost_usd="), q.cost, 6);
    p = put_fixed(PUTS(p, ",quality="), q.quality, 3);
    p = put_int(PUTS(p, ",tool_calls="), q.tool_calls);
    p = put_bool(PUTS(p, ",refusal="), q.refusal);
    p = put_ts(p, ts);
    return (size_t)(p - dst);
}

/* Generate the next line into dst (VG_SIM_LINE_MAX bytes). Returns its
 * length; 0 when a step wrote nothing (s->done says whether the run ended). */
static size_t step(vg_sim_t *s, char *dst)
{
    int64_t ta = s->next_arrival < s->end_ns ? s->next_arrival : INT64_MAX;
    int64_t th = s->nheap ? s->heap[0].ts : INT64_MAX;
    if (th <= ta && th < s->end_ns) {
        pend_t e = heap_pop(s);
        int64_t ts = stamp(s, e.ts);
        if (ts >= s->end_ns)
            return 0;
        size_t n = emit_pending(s, &e, ts, dst);
        if (n)
            s->last_ts = ts;
        return n;
    }
    if (ta == INT64_MAX) {
        s->done = 1;
        return 0;
    }
    int64_t ts = stamp(s, ta);
    advance_arrival(s);
    if (ts >= s->end_ns)
        return 0;
    s->last_ts = ts;
    if (s->o.profile == VG_SIM_BENCH)
        return emit_bench(s, ts, dst);
    req_t q;
    vg__sim_sample_request(s, &q, ts);
    char *p = put_request(s, dst, &q);
    return (size_t)(p - dst);
}

int vg_sim_next(vg_sim_t *s, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    assert(cap >= VG_SIM_LINE_MAX);
    *len = 0;
    if (s->carry_len) {
        if (s->carry_len > cap)
            return 0; /* cap below VG_SIM_LINE_MAX: nothing can be written */
        memcpy(buf, s->carry, s->carry_len);
        n = s->carry_len;
        s->carry_len = 0;
        s->rows++;
    }
    while (!s->done) {
        int direct = cap - n >= VG_SIM_LINE_MAX;
        char *dst = direct ? buf + n : s->carry;
        size_t w = step(s, dst);
        if (w == 0)
            continue;
        assert(w <= VG_SIM_LINE_MAX);
        if (!direct) {
            if (w > cap - n) {
                s->carry_len = w;
                break;
            }
            memcpy(buf + n, dst, w);
        }
        n += w;
        s->rows++;
    }
    *len = n;
    return !s->done || s->carry_len != 0;
}

/* ------------------------------------------------------------------------ */
/* Options and lifecycle.                                                    */

void vg_sim_opts_default(vg_sim_opts_t *o)
{
    struct timespec now;
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->duration_ns = HOUR_NS;
    o->rate = 20.0;
    o->profile = VG_SIM_FULL;
    if (timespec_get(&now, TIME_UTC) != TIME_UTC)
        now.tv_sec = 0, now.tv_nsec = 0;
    o->start_ns = (int64_t)now.tv_sec * NS_PER_S + now.tv_nsec - o->duration_ns;
}

static int check_opts(const vg_sim_opts_t *o, vg_error_t *err)
{
    if (o->duration_ns <= 0)
        return vg_error_set(err, VG_EINVAL, "simulate: duration must be positive");
    if (o->start_ns < 0 || o->start_ns > INT64_MAX - o->duration_ns)
        return vg_error_set(err, VG_EINVAL, "simulate: start %lld + duration overflows",
                            (long long)o->start_ns);
    if (!(o->rate > 0.0 && o->rate <= 1e8))
        return vg_error_set(err, VG_EINVAL, "simulate: rate %g must be in (0, 1e8] rows/s",
                            o->rate);
    if (o->profile != VG_SIM_FULL && o->profile != VG_SIM_BENCH)
        return vg_error_set(err, VG_EINVAL, "simulate: unknown profile %d", (int)o->profile);
    if (o->n_incidents < 0 || o->n_incidents > VG_SIM_MAX_INCIDENTS)
        return vg_error_set(err, VG_EINVAL, "simulate: n_incidents %d out of range",
                            o->n_incidents);
    for (int i = 0; i < o->n_incidents; i++) {
        const vg_sim_incident_t *in = &o->incidents[i];
        if ((int)in->kind < 0 || in->kind >= VG_SIM_INC_COUNT || in->offset_ns < 0 ||
            in->duration_ns < 0)
            return vg_error_set(err, VG_EINVAL, "simulate: incident %d is invalid", i);
    }
    return 0;
}

int vg_sim_create(const vg_sim_opts_t *o, vg_sim_t **out, vg_error_t *err)
{
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    vg_sim_t *s = vg_calloc(1, sizeof *s);
    if (!s)
        return vg_error_set(err, VG_ENOMEM, "simulate: out of memory");
    s->o = *o;
    if (s->o.profile == VG_SIM_BENCH)
        s->o.n_incidents = 0;
    s->end_ns = o->start_ns + o->duration_ns;
    s->last_ts = o->start_ns - 1;
    s->next_arrival = o->start_ns;
    s->change_no = 1000;
    vg__sim_rng_seed(&s->rng, o->seed);
    vg__sim_init_world(s);
    if (s->o.profile == VG_SIM_FULL) {
        if (vg__sim_schedule_incidents(s) != 0) {
            vg_sim_destroy(s);
            return vg_error_set(err, VG_ENOMEM, "simulate: out of memory");
        }
        vg__sim_schedule_routine_change(s, o->start_ns);
    }
    advance_arrival(s); /* the first arrival is one gap after the start */
    *out = s;
    return 0;
}

uint64_t vg_sim_rows(const vg_sim_t *s)
{
    return s->rows;
}

void vg_sim_destroy(vg_sim_t *s)
{
    if (!s)
        return;
    vg_free(s->heap);
    vg_free(s);
}
