/*
 * sim_request.c: drawing one llm_request (sim_int.h): its route, model and
 * conversation, then tokens, errors or refusals, timing, tool calls,
 * quality and injection scores, cost, and a sample of late evaluations.
 * domain.md part 3 gives the distributions; the incident bitmask in
 * q->inc bends them where a scenario says so.
 *
 * Invariants: draws happen in one fixed order per request (the order of
 * the calls in vg__sim_sample_request), which is part of the output. A
 * request's tool_call and eval_result rows are pushed into the heap with
 * times after the request's own, so the merged stream stays in time order.
 */
#include <string.h>

#include "sim_int.h"

static int64_t clamp_i(double v, int64_t lo, int64_t hi)
{
    if (!(v >= (double)lo))
        return lo;
    if (v >= (double)hi)
        return hi;
    return (int64_t)v;
}

static int pick_route(vg_sim_t *s, uint32_t inc)
{
    if (inc & INC(VG_SIM_INC_AGENT_LOOP))
        return vg__sim_pick(&s->rng, s->route_w_loop, N_ROUTE);
    double w[N_ROUTE];
    for (int i = 0; i < N_ROUTE; i++)
        w[i] = vg__sim_routes[i].weight;
    return vg__sim_pick(&s->rng, w, N_ROUTE);
}

static int pick_model(vg_sim_t *s, int route)
{
    const route_def_t *rd = &vg__sim_routes[route];
    return rd->model[vg__sim_pick(&s->rng, rd->model_w, rd->nmodels)];
}

/* Keep a few open conversations per route; most requests continue one. */
static uint64_t pick_conversation(vg_sim_t *s, req_t *q)
{
    double p_cont = (q->inc & INC(VG_SIM_INC_AGENT_LOOP)) && q->route == R_CODE ? 0.95 : 0.55;
    int slot = (int)(rng_u64(&s->rng) % CONV_SLOTS);
    uint64_t *c = &s->conv[q->route][slot];
    if (*c == 0 || !coin(&s->rng, p_cont))
        *c = rng_u64(&s->rng) | 1;
    return *c;
}

/* Errors: no output, no tools, latency from the failure mode. */
static void sample_error(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    static const double w[4] = {0.25, 0.35, 0.25, 0.15};
    int e = 1 + vg__sim_pick(r, w, 4);
    if (e == LE_OVERLOADED && strcmp(vg__sim_models[q->model].provider, "anthropic") != 0)
        e = LE_SERVER;
    q->err = e;
    q->finish = FIN_ERROR;
    q->out = 0;
    switch (e) {
    case LE_TIMEOUT:
        q->latency = 60.0 + unif(r) * 0.05;
        break;
    case LE_RATE_LIMIT:
        q->latency = 0.02 + 0.2 * unif(r);
        break;
    case LE_SERVER:
        q->latency = lognormal(r, log(1.0), 0.8);
        break;
    default:
        q->latency = lognormal(r, log(0.5), 0.5);
        break;
    }
}

/* Refusals: 20-60 output tokens; guardrail incidents move the rate. */
static void sample_refusal(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    const route_def_t *rd = &vg__sim_routes[q->route];
    double p = rd->refusal_p;
    static const double kind_w[3] = {0.6, 0.25, 0.15};
    static const double filter_w[3] = {0.1, 0.05, 0.85};
    int over = (q->inc & INC(VG_SIM_INC_OVER_REFUSAL)) && rd->service == SVC_SUPPORT;
    if ((q->inc & INC(VG_SIM_INC_MODEL_UPDATE)) && q->model == M_GPT4O)
        p *= 1.5;
    if (over)
        p = 0.15;
    if ((q->inc & INC(VG_SIM_INC_GUARDRAIL_OFF)) && rd->service == SVC_SUPPORT)
        p *= 0.05;
    if (!coin(r, p))
        return;
    q->refusal = 1;
    q->refusal_kind = vg__sim_pick(r, over ? filter_w : kind_w, 3);
    q->out = 20 + (int64_t)(rng_u64(r) % 41);
    q->reasoning = 0;
    q->finish = q->refusal_kind == 2 ? FIN_FILTER : FIN_STOP;
}

static void sample_tokens(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    const route_def_t *rd = &vg__sim_routes[q->route];
    const double *wl = vg__sim_wl_tokens[rd->workload];
    double out_mu = s->out_mu[q->route];
    if ((q->inc & INC(VG_SIM_INC_VERBOSE_PROMPT)) && q->route == R_REFUND)
        out_mu += log(3.0);
    if ((q->inc & INC(VG_SIM_INC_MODEL_UPDATE)) && q->model == M_GPT4O)
        out_mu += log(1.2);
    q->in = clamp_i(lognormal(r, s->in_mu[q->route], wl[1]), 16, 128000);
    if ((q->inc & INC(VG_SIM_INC_AGENT_LOOP)) && q->route == R_CODE)
        q->in = clamp_i((double)q->in * (2.0 + 4.0 * unif(r)), 16, 200000); /* history */
    q->out = clamp_i(lognormal(r, out_mu, wl[3]), 1, 1 << 20);
    q->finish = FIN_STOP;
    if (q->out > rd->max_tokens) {
        q->out = rd->max_tokens;
        q->finish = FIN_LENGTH;
    }
    if (vg__sim_models[q->model].reasoning) {
        q->reasoning = clamp_i(lognormal(r, log(600.0), 0.9), 1, 60000);
        q->out += q->reasoning;
    }
    if (q->model != M_LLAMA && q->in >= 1024 && coin(r, 0.6))
        q->cached = q->in < rd->prefix_tokens ? q->in / 128 * 128 : rd->prefix_tokens;
}

static void sample_timing(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    const double *tl = vg__sim_tier_lat[vg__sim_models[q->model].tier];
    q->ttft = lognormal(r, s->ttft_mu[q->model], tl[1]);
    if (q->in > 1000)
        q->ttft += 0.001 * (double)(q->in - 1000) / 100.0;
    q->tpot = lognormal(r, s->tpot_mu[q->model], tl[3]);
    if ((q->inc & INC(VG_SIM_INC_KV_PRESSURE)) && q->model == M_LLAMA) {
        if (q->in >= 4096 && coin(r, 0.2))
            q->ttft *= 3.0 + 7.0 * unif(r); /* preempted and requeued */
        if (coin(r, 0.08))
            q->tpot *= 2.0 + 2.0 * unif(r); /* mid-stream stall */
    }
    q->latency = q->ttft + (double)(q->out - 1) * q->tpot + 0.015;
}

/* Status of one tool execution, by tool and active incidents. */
static int tool_status(vg_sim_t *s, const req_t *q, int tool, int *err)
{
    rng_t *r = &s->rng;
    double p_err = 0.012, p_to = 0.006, p_empty = vg__sim_tools[tool].retrieval ? 0.035 : 0.0;
    if ((q->inc & INC(VG_SIM_INC_TOOL_TIMEOUTS)) && tool == T_GET_ORDER)
        p_to = 0.20;
    if ((q->inc & INC(VG_SIM_INC_EMPTY_RETRIEVAL)) && tool == T_KB_SEARCH)
        p_empty = 0.40;
    double u = unif(r);
    static const double err_w[3] = {0.5, 0.3, 0.2};
    if (u <= p_to) {
        *err = TE_TIMEOUT;
        return ST_TIMEOUT;
    }
    if (u <= p_to + p_err) {
        *err = TE_5XX + vg__sim_pick(r, err_w, 3);
        return ST_ERROR;
    }
    *err = TE_NONE;
    return u <= p_to + p_err + p_empty ? ST_EMPTY : ST_OK;
}

static double tool_duration(vg_sim_t *s, const req_t *q, int tool, int status)
{
    rng_t *r = &s->rng;
    switch (status) {
    case ST_TIMEOUT:
        return vg__sim_tools[tool].timeout_s + 0.05 * unif(r);
    case ST_ERROR:
        return lognormal(r, log(0.3), 0.8);
    case ST_EMPTY: {
        double f = (q->inc & INC(VG_SIM_INC_EMPTY_RETRIEVAL)) ? 0.35 : 0.6;
        return f * lognormal(r, s->tool_mu[tool], vg__sim_tools[tool].dur_sigma);
    }
    default:
        return lognormal(r, s->tool_mu[tool], vg__sim_tools[tool].dur_sigma);
    }
}

/* One tool_call row (and, after a failure, maybe a retry). Returns the end time. */
static int64_t run_tool(vg_sim_t *s, req_t *q, int tool, int64_t t, int allow)
{
    for (int attempt = 1; attempt <= 2; attempt++) {
        pend_t e = {0};
        int err;
        e.kind = PEND_TOOL;
        e.ts = t;
        e.req = q->serial;
        e.bits = rng_u64(&s->rng);
        e.route = (uint8_t)q->route;
        e.model = (uint8_t)q->model;
        e.env = (uint8_t)q->env;
        e.tool = (uint8_t)tool;
        e.status = (uint8_t)tool_status(s, q, tool, &err);
        e.err = (uint8_t)err;
        e.attempt = (uint8_t)attempt;
        e.allow = (uint8_t)allow;
        e.val = tool_duration(s, q, tool, e.status);
        if (e.status == ST_OK)
            e.bytes = (uint32_t)clamp_i(lognormal(&s->rng, s->bytes_mu[tool], 1.0), 16, 1 << 24);
        else
            e.bytes = e.status == ST_EMPTY ? 2 : 0;
        (void)vg__sim_push(s, &e);
        q->tool_calls++;
        t += (int64_t)(e.val * 1e9) + 1;
        q->empty |= e.status == ST_EMPTY && tool == T_KB_SEARCH;
        if (e.status != ST_ERROR && e.status != ST_TIMEOUT)
            break;
        q->tool_errors++;
        q->timed_out |= e.status == ST_TIMEOUT;
        if (attempt == 2 || !coin(&s->rng, 0.5))
            break;
        q->retries++;
    }
    return t + (int64_t)(lognormal(&s->rng, log(0.05), 0.5) * 1e9);
}

/* Tool calls start after the first token and run one after another. */
static void sample_tools(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    const route_def_t *rd = &vg__sim_routes[q->route];
    int64_t t = q->ts + (int64_t)(q->ttft * 1e9) + 1;
    if (q->attack) {
        t = run_tool(s, q, T_WEB_FETCH, t, 1); /* the page carrying the payload */
        t = run_tool(s, q, T_WEB_FETCH, t, 0); /* egress to the attacker's host */
        (void)run_tool(s, q, T_SEND_EMAIL, t, 0);
        q->finish = FIN_TOOL;
        return;
    }
    if (rd->ntools == 0 || !coin(r, rd->tool_p))
        return;
    int n = 1;
    while (n < 5 && coin(r, 0.35))
        n++;
    for (int i = 0; i < n; i++)
        t = run_tool(s, q, rd->tool[rng_u64(r) % (uint64_t)rd->ntools], t, 1);
    if (q->timed_out)
        q->in = (int64_t)((double)q->in * 1.3); /* retried turns carry more context */
    if (q->finish == FIN_STOP && coin(r, 0.4))
        q->finish = FIN_TOOL;
}

static void sample_quality(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    q->quality = q->refusal ? vg__sim_beta_int(r, 3, 5) : vg__sim_beta_int(r, 8, 2);
    if ((q->inc & INC(VG_SIM_INC_MODEL_UPDATE)) && q->model == M_GPT4O)
        q->quality *= 0.9;
    if (q->empty)
        q->quality *= 0.55; /* answers without context invent policy */
    if (q->timed_out)
        q->quality *= 0.95;
    if (q->attack)
        q->quality *= 0.5;
}

static void sample_injection(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    double p_attempt = 0.002;
    if ((q->inc & INC(VG_SIM_INC_GUARDRAIL_OFF)) && vg__sim_routes[q->route].service == SVC_SUPPORT)
        p_attempt = 0.02;
    if (q->attack)
        q->inj = 0.8 + 0.2 * vg__sim_beta_int(r, 6, 2);
    else if (coin(r, p_attempt))
        q->inj = vg__sim_beta_int(r, 8, 2);
    else
        q->inj = 1.0 - pow(unif(r), 1.0 / 40.0); /* Beta(1, 40) */
    q->inj_flag = q->inj >= 0.8;
}

static double cost_of(const req_t *q)
{
    const model_def_t *m = &vg__sim_models[q->model];
    if (q->err)
        return 0.0;
    double in = (double)(q->in - q->cached) * m->in_price + (double)q->cached * m->cached;
    return (in + (double)q->out * m->out_price) / 1e6;
}

/* Late scores for a sample of requests: helpfulness, and groundedness where
 * the route retrieves. */
static void push_evals(vg_sim_t *s, const req_t *q)
{
    rng_t *r = &s->rng;
    if (q->err || !coin(r, EVAL_SAMPLE))
        return;
    const route_def_t *rd = &vg__sim_routes[q->route];
    int n = vg__sim_tools[rd->tool[0]].retrieval && rd->ntools ? 2 : 1;
    for (int ev = 0; ev < n; ev++) {
        pend_t e = {0};
        double delay = lognormal(r, log(40.0), 1.0);
        delay = delay < 2.0 ? 2.0 : delay > 900.0 ? 900.0 : delay;
        double sc = q->quality + 0.05 * vg__sim_normal(r);
        e.kind = PEND_EVAL;
        e.ts = q->ts + (int64_t)((q->latency + delay) * 1e9);
        e.req = q->serial;
        e.route = (uint8_t)q->route;
        e.model = (uint8_t)q->model;
        e.pver = (uint16_t)s->prompt_ver[q->route];
        e.evaluator = (uint8_t)ev;
        e.val = sc < 0.0 ? 0.0 : sc > 1.0 ? 1.0 : sc;
        (void)vg__sim_push(s, &e);
    }
}

void vg__sim_sample_request(vg_sim_t *s, req_t *q, int64_t ts)
{
    rng_t *r = &s->rng;
    memset(q, 0, sizeof *q);
    q->ts = ts;
    q->serial = s->serial++;
    q->inc = vg__sim_incidents_at(s, ts);
    q->route = pick_route(s, q->inc);
    q->model = pick_model(s, q->route);
    q->env = vg__sim_pick(r, vg__sim_env_w, 2);
    q->region = vg__sim_pick(r, vg__sim_region_w, 3);
    q->tier = vg__sim_pick(r, vg__sim_tier_w, 3);
    q->stream = coin(r, vg__sim_routes[q->route].stream_p);
    q->conv = pick_conversation(s, q);
    if ((q->inc & INC(VG_SIM_INC_PROMPT_INJECTION)) && q->route == R_ANSWER && coin(r, 0.06)) {
        q->attack = 1;
        q->conv = s->attacker_conv;
    }
    sample_tokens(s, q);
    if (!q->attack && coin(r, 0.015)) {
        sample_error(s, q);
        return;
    }
    sample_refusal(s, q);
    sample_timing(s, q);
    if (!q->refusal)
        sample_tools(s, q);
    sample_quality(s, q);
    sample_injection(s, q);
    double cpt = vg__sim_routes[q->route].workload == WL_CODE ? 3.0 : 4.0;
    q->chars = (int64_t)((double)(q->out - q->reasoning) * (cpt - 0.5 + unif(r)));
    q->cost = cost_of(q);
    push_evals(s, q);
}

/* Bench profile: the same samplers without conversations, tool rows or
 * evals; the prompt version and tenant make the bench tag set. */
void vg__sim_sample_bench(vg_sim_t *s, req_t *q, int *prompt_ver, int *tenant)
{
    static const double pv_w[4] = {0.55, 0.25, 0.12, 0.08};
    rng_t *r = &s->rng;
    memset(q, 0, sizeof *q);
    q->route = pick_route(s, 0);
    q->model = pick_model(s, q->route);
    *prompt_ver = vg__sim_routes[q->route].ver0 - vg__sim_pick(r, pv_w, 4);
    *tenant = (int)(rng_u64(r) % N_TENANT);
    sample_tokens(s, q);
    sample_refusal(s, q);
    sample_timing(s, q);
    const route_def_t *rd = &vg__sim_routes[q->route];
    if (!q->refusal && rd->ntools && coin(r, rd->tool_p)) {
        q->tool_calls = 1;
        while (q->tool_calls < 5 && coin(r, 0.35))
            q->tool_calls++;
    }
    q->quality = q->refusal ? vg__sim_beta_int(r, 3, 5) : vg__sim_beta_int(r, 8, 2);
    q->cost = cost_of(q);
}
