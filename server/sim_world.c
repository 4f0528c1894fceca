/*
 * sim_world.c: the simulated world (sim_int.h): three services, six
 * routes, six models with their prices and latency tiers, seven tools,
 * environments, regions and tenant tiers; the per-run state derived from
 * it (vg__sim_init_world); and the routine change_events (deploys, prompt
 * versions, flags) that move that state every few hours.
 *
 * The tables are fixed data (domain.md part 3 gives the numbers); only a
 * vg_sim_t's prompt_ver, prompt_max and release change during a run, and
 * only through a change_event, so every row's tags match the most recent
 * change before it. World names hold no character that needs escaping in
 * a tag.
 */
#include <math.h>
#include <stdio.h>

#include "sim_int.h"

const char *const vg__sim_svc_name[N_SVC] = {"support", "search", "code"};
static const int svc_release0[N_SVC] = {42, 17, 8};

/* Medians and sigmas of TTFT and TPOT in seconds (domain.md part 3). */
const double vg__sim_tier_lat[3][4] = {
    {0.35, 0.5, 0.006, 0.25},
    {0.60, 0.6, 0.010, 0.30},
    {1.20, 0.7, 0.020, 0.30},
};

const model_def_t vg__sim_models[N_MODEL] = {
    {"gpt-4o", "openai", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", TIER_MID, 0.75, 2.50, 10.0, 1.25,
     0},
    {"gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", NULL, TIER_FAST, 1.0, 0.15, 0.60, 0.075, 0},
    {"claude-3-5-sonnet", "anthropic", "claude-3-5-sonnet-20241022", NULL, TIER_MID, 1.25, 3.0,
     15.0, 0.30, 0},
    {"claude-3-haiku", "anthropic", "claude-3-haiku-20240307", NULL, TIER_FAST, 1.0, 0.25, 1.25,
     0.03, 0},
    {"o1", "openai", "o1-2024-12-17", NULL, TIER_FRONTIER, 1.0, 15.0, 60.0, 7.5, 1},
    {"llama-3.1-70b", "vllm", "llama-3.1-70b-instruct", NULL, TIER_MID, 0.8, 0.40, 0.40, 0.0, 0},
};

const tool_def_t vg__sim_tools[N_TOOL] = {
    {"kb_search", "datastore", 5, 0.18, 0.5, 4000, 1},
    {"get_order", "function", 10, 0.12, 0.6, 900, 0},
    {"send_email", "function", 10, 0.40, 0.5, 120, 0},
    {"web_fetch", "extension", 15, 0.90, 0.8, 24000, 1},
    {"sql_query", "datastore", 30, 0.25, 0.9, 3000, 1},
    {"run_tests", "function", 120, 8.0, 0.7, 6000, 0},
    {"create_pr", "function", 20, 1.5, 0.4, 300, 0},
};

/* Lognormal mu/sigma of input and output tokens (Azure 2023 fits). */
const double vg__sim_wl_tokens[2][4] = {{6.63, 0.99, 5.02, 0.86}, {7.00, 1.36, 2.79, 0.85}};

/* clang-format off */
const route_def_t vg__sim_routes[N_ROUTE] = {
    {.name = "refund_qa", .prompt = "refund", .service = SVC_SUPPORT, .workload = WL_CONV,
     .ver0 = 12, .max_tokens = 1024, .prefix_tokens = 1152,
     .weight = 0.25, .stream_p = 0.9, .tool_p = 0.7, .refusal_p = 0.020,
     .in_scale = 1.0, .out_scale = 1.0,
     .nmodels = 3, .model = {M_GPT4O, M_GPT4O_MINI, M_SONNET}, .model_w = {0.6, 0.3, 0.1},
     .ntools = 2, .tool = {T_KB_SEARCH, T_GET_ORDER}},
    {.name = "order_status", .prompt = "order", .service = SVC_SUPPORT, .workload = WL_CONV,
     .ver0 = 7, .max_tokens = 512, .prefix_tokens = 896,
     .weight = 0.20, .stream_p = 0.9, .tool_p = 0.8, .refusal_p = 0.008,
     .in_scale = 0.8, .out_scale = 0.5,
     .nmodels = 2, .model = {M_GPT4O_MINI, M_HAIKU}, .model_w = {0.7, 0.3},
     .ntools = 2, .tool = {T_GET_ORDER, T_SEND_EMAIL}},
    {.name = "triage", .prompt = "triage", .service = SVC_SUPPORT, .workload = WL_CONV,
     .ver0 = 3, .max_tokens = 256, .prefix_tokens = 640,
     .weight = 0.15, .stream_p = 0.0, .tool_p = 0.0, .refusal_p = 0.005,
     .in_scale = 0.6, .out_scale = 0.3,
     .nmodels = 2, .model = {M_HAIKU, M_GPT4O_MINI}, .model_w = {0.6, 0.4},
     .ntools = 0},
    {.name = "answer", .prompt = "answer", .service = SVC_SEARCH, .workload = WL_CONV,
     .ver0 = 21, .max_tokens = 2048, .prefix_tokens = 1536,
     .weight = 0.20, .stream_p = 1.0, .tool_p = 0.6, .refusal_p = 0.015,
     .in_scale = 1.2, .out_scale = 1.1,
     .nmodels = 3, .model = {M_GPT4O, M_SONNET, M_O1}, .model_w = {0.5, 0.4, 0.1},
     .ntools = 2, .tool = {T_WEB_FETCH, T_KB_SEARCH}},
    {.name = "summarize", .prompt = "summarize", .service = SVC_SEARCH, .workload = WL_CONV,
     .ver0 = 4, .max_tokens = 512, .prefix_tokens = 512,
     .weight = 0.10, .stream_p = 0.3, .tool_p = 0.3, .refusal_p = 0.010,
     .in_scale = 2.0, .out_scale = 0.7,
     .nmodels = 2, .model = {M_GPT4O_MINI, M_LLAMA}, .model_w = {0.5, 0.5},
     .ntools = 1, .tool = {T_WEB_FETCH}},
    {.name = "code_assist", .prompt = "code", .service = SVC_CODE, .workload = WL_CODE,
     .ver0 = 9, .max_tokens = 4096, .prefix_tokens = 2048,
     .weight = 0.10, .stream_p = 1.0, .tool_p = 0.5, .refusal_p = 0.005,
     .in_scale = 1.0, .out_scale = 1.0,
     .nmodels = 3, .model = {M_SONNET, M_GPT4O, M_O1}, .model_w = {0.6, 0.3, 0.1},
     .ntools = 3, .tool = {T_SQL_QUERY, T_RUN_TESTS, T_CREATE_PR}},
};
/* clang-format on */

const char *const vg__sim_env_name[2] = {"prod", "staging"};
const double vg__sim_env_w[2] = {0.92, 0.08};
const char *const vg__sim_region_name[3] = {"us-east-1", "us-west-2", "eu-west-1"};
const double vg__sim_region_w[3] = {0.5, 0.2, 0.3};
const char *const vg__sim_tier_name[3] = {"free", "pro", "enterprise"};
const double vg__sim_tier_w[3] = {0.5, 0.35, 0.15};
const char *const vg__sim_author_name[N_AUTHOR] = {"alice", "bob",   "chen",      "dana",
                                                   "emeka", "farah", "deploy-bot"};

void vg__sim_init_world(vg_sim_t *s)
{
    for (int m = 0; m < N_MODEL; m++) {
        const double *tl = vg__sim_tier_lat[vg__sim_models[m].tier];
        s->ttft_mu[m] = log(tl[0] * vg__sim_models[m].ttft_scale);
        s->tpot_mu[m] = log(tl[2]);
    }
    double loop_total = 0.0;
    for (int r = 0; r < N_ROUTE; r++) {
        const double *wl = vg__sim_wl_tokens[vg__sim_routes[r].workload];
        s->in_mu[r] = wl[0] + log(vg__sim_routes[r].in_scale);
        s->out_mu[r] = wl[2] + log(vg__sim_routes[r].out_scale);
        s->prompt_ver[r] = s->prompt_max[r] = vg__sim_routes[r].ver0;
        s->route_w_loop[r] = vg__sim_routes[r].weight * (r == R_CODE ? 5.0 : 1.0);
        loop_total += s->route_w_loop[r];
    }
    for (int r = 0; r < N_ROUTE; r++)
        s->route_w_loop[r] /= loop_total;
    for (int t = 0; t < N_TOOL; t++) {
        s->tool_mu[t] = log(vg__sim_tools[t].dur_med);
        s->bytes_mu[t] = log(vg__sim_tools[t].bytes_med);
    }
    for (int v = 0; v < N_SVC; v++)
        s->release[v][0] = s->release[v][1] = svc_release0[v];
    s->attacker_conv = hash64(s->o.seed ^ 0xa77ac6e5ull) | 1;
}

void vg__sim_fmt_prompt(char *dst, size_t n, int route, int ver)
{
    snprintf(dst, n, "%s@v%d", vg__sim_routes[route].prompt, ver);
}

static void routine_deploy(vg_sim_t *s, change_t *c)
{
    int svc = (int)(rng_u64(&s->rng) % N_SVC);
    int env = coin(&s->rng, 0.5);
    int *rel = s->release[svc];
    int from = rel[env];
    int to = env == 1 || rel[1] <= rel[0] ? from + 1 : rel[1];
    rel[env] = to;
    if (rel[1] < rel[0])
        rel[1] = rel[0];
    c->kind = "deploy";
    c->service = vg__sim_svc_name[svc];
    c->env = vg__sim_env_name[env];
    snprintf(c->from, sizeof c->from, "v1.%d.0", from);
    snprintf(c->to, sizeof c->to, "v1.%d.0", to);
    snprintf(c->desc, sizeof c->desc, "Deploy %s-api v1.%d.0 to %s", vg__sim_svc_name[svc], to,
             vg__sim_env_name[env]);
}

static void routine_prompt(vg_sim_t *s, change_t *c)
{
    int route = (int)(rng_u64(&s->rng) % N_ROUTE);
    int from = s->prompt_ver[route], to = ++s->prompt_max[route];
    static const char *const why[] = {"tighten tone", "add policy examples",
                                      "shorter system prompt", "fix citation format",
                                      "clarify escalation rules"};
    s->prompt_ver[route] = to;
    c->kind = "prompt";
    c->service = vg__sim_svc_name[vg__sim_routes[route].service];
    c->route = vg__sim_routes[route].name;
    vg__sim_fmt_prompt(c->from, sizeof c->from, route, from);
    vg__sim_fmt_prompt(c->to, sizeof c->to, route, to);
    snprintf(c->desc, sizeof c->desc, "%s: %s", vg__sim_routes[route].prompt,
             why[rng_u64(&s->rng) % 5]);
}

static void routine_flag(vg_sim_t *s, change_t *c)
{
    static const char *const flag[] = {"cache.prefix", "llm.max_output_tokens", "stream.enabled",
                                       "traffic.shed_low_priority"};
    static const char *const val[][2] = {
        {"off", "on"}, {"1024", "2048"}, {"false", "true"}, {"false", "true"}};
    int f = (int)(rng_u64(&s->rng) % 4), dir = coin(&s->rng, 0.5);
    c->kind = "flag";
    c->service = vg__sim_svc_name[rng_u64(&s->rng) % N_SVC];
    snprintf(c->from, sizeof c->from, "%s=%s", flag[f], val[f][dir]);
    snprintf(c->to, sizeof c->to, "%s=%s", flag[f], val[f][!dir]);
    snprintf(c->desc, sizeof c->desc, "Set %s to %s \"gradual rollout\"", flag[f], val[f][!dir]);
}

void vg__sim_routine_change(vg_sim_t *s, change_t *c)
{
    static const double w[3] = {0.45, 0.40, 0.15};
    int k = vg__sim_pick(&s->rng, w, 3);
    c->env = "prod";
    c->route = "all";
    if (k == 0)
        routine_deploy(s, c);
    else if (k == 1)
        routine_prompt(s, c);
    else
        routine_flag(s, c);
    c->author = vg__sim_author_name[rng_u64(&s->rng) % N_AUTHOR];
}

void vg__sim_schedule_routine_change(vg_sim_t *s, int64_t after)
{
    pend_t e = {0};
    double gap = -3.0 * 3600.0 * log(unif(&s->rng)); /* exponential, mean 3h */
    e.kind = PEND_CHANGE;
    e.ts = after + (int64_t)(gap * 1e9) + 1;
    if (e.ts > after && e.ts < s->end_ns)
        (void)vg__sim_push(s, &e);
}
