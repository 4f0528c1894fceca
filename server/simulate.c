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
 * arrival (incidents_at) and the samplers bend their distributions by it;
 * an incident's change_event (and rollback) sits in the heap from creation.
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
 *     dropped.
 *   - Text: world names hold no character that needs escaping in a tag; the
 *     free-text fields (change descriptions) go through put_qstr.
 */
#include "simulate.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vigil/vg_alloc.h"

#define NS_PER_S 1000000000LL
#define MIN_NS   (60 * NS_PER_S)
#define HOUR_NS  (3600 * NS_PER_S)
#define DAY_NS   (24 * HOUR_NS)

/* ------------------------------------------------------------------------ */
/* Random numbers: xoshiro256** seeded by splitmix64.                        */

typedef struct rng {
    uint64_t s[4];
    double spare; /* second normal of the polar method */
    int has_spare;
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A stateless hash: the IDs derived from (seed, serial). */
static uint64_t hash64(uint64_t x)
{
    return splitmix64(&x);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_u64(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1]: never 0, so log() is always finite. */
static inline double unif(rng_t *r)
{
    return (double)((rng_u64(r) >> 11) + 1) * 0x1.0p-53;
}

static inline int coin(rng_t *r, double p)
{
    return unif(r) <= p;
}

static double normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * unif(r) - 1.0;
        v = 2.0 * unif(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

static inline double lognormal(rng_t *r, double mu, double sigma)
{
    return exp(mu + sigma * normal(r));
}

/* Marsaglia-Tsang; shapes below 1 by the U^(1/shape) boost. Mean = shape. */
static double gamma_rand(rng_t *r, double shape)
{
    double boost = 1.0;
    if (shape < 1.0) {
        boost = pow(unif(r), 1.0 / shape);
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(r), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = unif(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return boost * d * v;
    }
}

/* Beta(a, b) for small integer a, b: Gamma(k) = -log of a product of k uniforms. */
static double beta_int(rng_t *r, int a, int b)
{
    double pa = 1.0, pb = 1.0;
    for (int i = 0; i < a; i++)
        pa *= unif(r);
    for (int i = 0; i < b; i++)
        pb *= unif(r);
    double ga = -log(pa), gb = -log(pb);
    return ga / (ga + gb);
}

/* Index drawn from weights w[0..n) that sum to 1 (the last takes any rest). */
static int pick(rng_t *r, const double *w, int n)
{
    double u = unif(r);
    for (int i = 0; i < n - 1; i++) {
        if (u <= w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}

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

/* ------------------------------------------------------------------------ */
/* The world: services, models, tools, routes. Names need no escaping.       */

enum { SVC_SUPPORT, SVC_SEARCH, SVC_CODE, N_SVC };
static const char *const svc_name[N_SVC] = {"support", "search", "code"};
static const int svc_release0[N_SVC] = {42, 17, 8};

enum { TIER_FAST, TIER_MID, TIER_FRONTIER };
/* Medians and sigmas of TTFT and TPOT in seconds (domain.md part 3). */
static const double tier_lat[3][4] = {
    {0.35, 0.5, 0.006, 0.25},
    {0.60, 0.6, 0.010, 0.30},
    {1.20, 0.7, 0.020, 0.30},
};

enum { M_GPT4O, M_GPT4O_MINI, M_SONNET, M_HAIKU, M_O1, M_LLAMA, N_MODEL };
typedef struct model_def {
    const char *name, *provider, *resp, *resp_next; /* resp_next: the silent update */
    int tier;
    double ttft_scale;                  /* on the tier median */
    double in_price, out_price, cached; /* $ per 1M tokens */
    int reasoning;
} model_def_t;
static const model_def_t models[N_MODEL] = {
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

enum {
    T_KB_SEARCH,
    T_GET_ORDER,
    T_SEND_EMAIL,
    T_WEB_FETCH,
    T_SQL_QUERY,
    T_RUN_TESTS,
    T_CREATE_PR,
    N_TOOL
};
typedef struct tool_def {
    const char *name, *type;
    double timeout_s, dur_med, dur_sigma, bytes_med;
    int retrieval; /* can come back empty */
} tool_def_t;
static const tool_def_t tools[N_TOOL] = {
    {"kb_search", "datastore", 5, 0.18, 0.5, 4000, 1},
    {"get_order", "function", 10, 0.12, 0.6, 900, 0},
    {"send_email", "function", 10, 0.40, 0.5, 120, 0},
    {"web_fetch", "extension", 15, 0.90, 0.8, 24000, 1},
    {"sql_query", "datastore", 30, 0.25, 0.9, 3000, 1},
    {"run_tests", "function", 120, 8.0, 0.7, 6000, 0},
    {"create_pr", "function", 20, 1.5, 0.4, 300, 0},
};

enum { WL_CONV, WL_CODE };
/* Lognormal mu/sigma of input and output tokens (Azure 2023 fits). */
static const double wl_tokens[2][4] = {{6.63, 0.99, 5.02, 0.86}, {7.00, 1.36, 2.79, 0.85}};

enum { R_REFUND, R_ORDER, R_TRIAGE, R_ANSWER, R_SUMMARIZE, R_CODE, N_ROUTE };
typedef struct route_def {
    const char *name, *prompt;
    int service, workload, ver0, max_tokens, prefix_tokens;
    double weight, stream_p, tool_p, refusal_p, in_scale, out_scale;
    int nmodels, model[3];
    double model_w[3];
    int ntools, tool[3];
} route_def_t;
/* clang-format off */
static const route_def_t routes[N_ROUTE] = {
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

static const char *const env_name[2] = {"prod", "staging"};
static const double env_w[2] = {0.92, 0.08};
static const char *const region_name[3] = {"us-east-1", "us-west-2", "eu-west-1"};
static const double region_w[3] = {0.5, 0.2, 0.3};
static const char *const tier_name[3] = {"free", "pro", "enterprise"};
static const double tier_w[3] = {0.5, 0.35, 0.15};

enum { FIN_STOP, FIN_LENGTH, FIN_FILTER, FIN_TOOL, FIN_ERROR };
static const char *const finish_name[] = {"stop", "length", "content_filter", "tool_call", "error"};
enum { LE_NONE, LE_TIMEOUT, LE_RATE_LIMIT, LE_SERVER, LE_OVERLOADED };
static const char *const llm_err_name[] = {"none", "timeout", "rate_limit", "server_error",
                                           "overloaded"};
enum { ST_OK, ST_ERROR, ST_TIMEOUT, ST_EMPTY };
static const char *const status_name[] = {"ok", "error", "timeout", "empty"};
enum { TE_NONE, TE_TIMEOUT, TE_5XX, TE_4XX, TE_ARGS };
static const char *const tool_err_name[] = {"none", "timeout", "http_5xx", "http_4xx",
                                            "invalid_args"};
static const char *const refusal_kind_name[] = {"policy", "capability", "filter"};
static const char *const author_name[] = {"alice", "bob",   "chen",      "dana",
                                          "emeka", "farah", "deploy-bot"};

#define N_TENANT    920 /* bench tag domain: 60 route/model/prompt sets x 920 ~ 55k */
#define CONV_SLOTS  16  /* open conversations per route */
#define EVAL_SAMPLE 0.10

/* ------------------------------------------------------------------------ */
/* Simulator state.                                                          */

enum { PEND_TOOL, PEND_EVAL, PEND_CHANGE, PEND_INCIDENT };

/* A row due later. Strings are rebuilt at emission from indexes and hashes. */
typedef struct pend {
    int64_t ts;
    uint64_t seq;  /* tie-break: equal times leave in push order */
    uint64_t req;  /* request serial: request_id = hash of it */
    uint64_t bits; /* tool_call_id and args_hash source */
    double val;    /* duration_s or score */
    uint32_t bytes;
    uint16_t pver;
    uint8_t kind, route, model, env, tool, status, err, attempt, allow, evaluator, phase;
} pend_t;

struct vg_sim {
    vg_sim_opts_t o;
    rng_t rng;
    int64_t end_ns;
    int64_t next_arrival; /* raw arrival time of the next llm_request */
    int64_t last_ts;      /* last written timestamp */
    uint64_t rows, serial, seq, change_no;
    int done;
    /* heap of pending rows */
    pend_t *heap;
    size_t nheap, heap_cap;
    /* precomputed logs */
    double ttft_mu[N_MODEL], tpot_mu[N_MODEL];
    double in_mu[N_ROUTE], out_mu[N_ROUTE];
    double tool_mu[N_TOOL], bytes_mu[N_TOOL];
    double route_w_loop[N_ROUTE]; /* route weights during an agent loop */
    /* mutable world */
    int prompt_ver[N_ROUTE], prompt_max[N_ROUTE];
    int release[N_SVC][2];
    uint64_t conv[N_ROUTE][CONV_SLOTS];
    uint64_t attacker_conv;
    uint64_t inc_change[VG_SIM_MAX_INCIDENTS]; /* change number of each start event */
    /* a line that did not fit the caller's buffer */
    size_t carry_len;
    char carry[VG_SIM_LINE_MAX];
};

/* ------------------------------------------------------------------------ */
/* The pending-row heap.                                                     */

static int pend_before(const pend_t *a, const pend_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

/* Returns 0, or -1 when the heap cannot grow (the row is dropped). */
static int heap_push(vg_sim_t *s, pend_t *e)
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
/* Incidents: a bitmask of the ones active at a time, and their effects.     */

static const char *const incident_names[VG_SIM_INC_COUNT] = {
    "verbose_prompt", "model_update", "over_refusal",     "guardrail_off", "empty_retrieval",
    "tool_timeouts",  "kv_pressure",  "prompt_injection", "agent_loop",
};

#define INC(k) (1u << (k))

static uint32_t incidents_at(const vg_sim_t *s, int64_t t)
{
    uint32_t bits = 0;
    for (int i = 0; i < s->o.n_incidents; i++) {
        const vg_sim_incident_t *in = &s->o.incidents[i];
        int64_t a = s->o.start_ns + in->offset_ns;
        int64_t b = in->duration_ns > 0 ? a + in->duration_ns : INT64_MAX;
        if (t >= a && t < b)
            bits |= INC(in->kind);
    }
    return bits;
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
        r *= 1.0 + 4.0 * routes[R_CODE].weight;
    return r;
}

/* Advance to the next arrival: a unit-mean gamma gap (burstiness 0.8) in
 * rescaled time, turned into ns at the current rate. */
static void advance_arrival(vg_sim_t *s)
{
    const double burst = 0.8;
    double g = gamma_rand(&s->rng, burst) / burst;
    double lam = rate_at(s, s->next_arrival, incidents_at(s, s->next_arrival));
    double gap = g / lam * 1e9;
    int64_t step = gap < 1.0 ? 1 : gap > 1e15 ? (int64_t)1e15 : (int64_t)gap;
    s->next_arrival = s->next_arrival > INT64_MAX - step ? INT64_MAX : s->next_arrival + step;
}

/* ------------------------------------------------------------------------ */
/* Requests (full profile).                                                  */

typedef struct req {
    int64_t ts;
    uint64_t serial, conv;
    uint32_t inc;
    int route, model, env, region, tier, stream, finish, err, refusal, refusal_kind, inj_flag;
    int attack, tool_calls, tool_errors, retries, timed_out, empty;
    int64_t in, out, cached, reasoning, chars;
    double ttft, tpot, latency, cost, quality, inj;
} req_t;

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
        return pick(&s->rng, s->route_w_loop, N_ROUTE);
    double w[N_ROUTE];
    for (int i = 0; i < N_ROUTE; i++)
        w[i] = routes[i].weight;
    return pick(&s->rng, w, N_ROUTE);
}

static int pick_model(vg_sim_t *s, int route)
{
    const route_def_t *rd = &routes[route];
    return rd->model[pick(&s->rng, rd->model_w, rd->nmodels)];
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
    int e = 1 + pick(r, w, 4);
    if (e == LE_OVERLOADED && strcmp(models[q->model].provider, "anthropic") != 0)
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
    const route_def_t *rd = &routes[q->route];
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
    q->refusal_kind = pick(r, over ? filter_w : kind_w, 3);
    q->out = 20 + (int64_t)(rng_u64(r) % 41);
    q->reasoning = 0;
    q->finish = q->refusal_kind == 2 ? FIN_FILTER : FIN_STOP;
}

static void sample_tokens(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    const route_def_t *rd = &routes[q->route];
    const double *wl = wl_tokens[rd->workload];
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
    if (models[q->model].reasoning) {
        q->reasoning = clamp_i(lognormal(r, log(600.0), 0.9), 1, 60000);
        q->out += q->reasoning;
    }
    if (q->model != M_LLAMA && q->in >= 1024 && coin(r, 0.6))
        q->cached = q->in < rd->prefix_tokens ? q->in / 128 * 128 : rd->prefix_tokens;
}

static void sample_timing(vg_sim_t *s, req_t *q)
{
    rng_t *r = &s->rng;
    const double *tl = tier_lat[models[q->model].tier];
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
    double p_err = 0.012, p_to = 0.006, p_empty = tools[tool].retrieval ? 0.035 : 0.0;
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
        *err = TE_5XX + pick(r, err_w, 3);
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
        return tools[tool].timeout_s + 0.05 * unif(r);
    case ST_ERROR:
        return lognormal(r, log(0.3), 0.8);
    case ST_EMPTY: {
        double f = (q->inc & INC(VG_SIM_INC_EMPTY_RETRIEVAL)) ? 0.35 : 0.6;
        return f * lognormal(r, s->tool_mu[tool], tools[tool].dur_sigma);
    }
    default:
        return lognormal(r, s->tool_mu[tool], tools[tool].dur_sigma);
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
        (void)heap_push(s, &e);
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
    const route_def_t *rd = &routes[q->route];
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
    q->quality = q->refusal ? beta_int(r, 3, 5) : beta_int(r, 8, 2);
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
    if ((q->inc & INC(VG_SIM_INC_GUARDRAIL_OFF)) && routes[q->route].service == SVC_SUPPORT)
        p_attempt = 0.02;
    if (q->attack)
        q->inj = 0.8 + 0.2 * beta_int(r, 6, 2);
    else if (coin(r, p_attempt))
        q->inj = beta_int(r, 8, 2);
    else
        q->inj = 1.0 - pow(unif(r), 1.0 / 40.0); /* Beta(1, 40) */
    q->inj_flag = q->inj >= 0.8;
}

static double cost_of(const req_t *q)
{
    const model_def_t *m = &models[q->model];
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
    int n = tools[routes[q->route].tool[0]].retrieval && routes[q->route].ntools ? 2 : 1;
    for (int ev = 0; ev < n; ev++) {
        pend_t e = {0};
        double delay = lognormal(r, log(40.0), 1.0);
        delay = delay < 2.0 ? 2.0 : delay > 900.0 ? 900.0 : delay;
        double sc = q->quality + 0.05 * normal(r);
        e.kind = PEND_EVAL;
        e.ts = q->ts + (int64_t)((q->latency + delay) * 1e9);
        e.req = q->serial;
        e.route = (uint8_t)q->route;
        e.model = (uint8_t)q->model;
        e.pver = (uint16_t)s->prompt_ver[q->route];
        e.evaluator = (uint8_t)ev;
        e.val = sc < 0.0 ? 0.0 : sc > 1.0 ? 1.0 : sc;
        (void)heap_push(s, &e);
    }
}

static void sample_request(vg_sim_t *s, req_t *q, int64_t ts)
{
    rng_t *r = &s->rng;
    memset(q, 0, sizeof *q);
    q->ts = ts;
    q->serial = s->serial++;
    q->inc = incidents_at(s, ts);
    q->route = pick_route(s, q->inc);
    q->model = pick_model(s, q->route);
    q->env = pick(r, env_w, 2);
    q->region = pick(r, region_w, 3);
    q->tier = pick(r, tier_w, 3);
    q->stream = coin(r, routes[q->route].stream_p);
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
    double cpt = routes[q->route].workload == WL_CODE ? 3.0 : 4.0;
    q->chars = (int64_t)((double)(q->out - q->reasoning) * (cpt - 0.5 + unif(r)));
    q->cost = cost_of(q);
    push_evals(s, q);
}

static char *put_prompt_ver(char *p, int route, int ver)
{
    p = put_cstr(p, routes[route].prompt);
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
    const model_def_t *m = &models[q->model];
    if ((q->inc & INC(VG_SIM_INC_MODEL_UPDATE)) && m->resp_next)
        return m->resp_next;
    return m->resp;
}

static char *put_request_tags(vg_sim_t *s, char *p, const req_t *q)
{
    const route_def_t *rd = &routes[q->route];
    const model_def_t *m = &models[q->model];
    p = put_cstr(PUTS(p, "llm_request,service="), svc_name[rd->service]);
    p = put_cstr(PUTS(p, ",env="), env_name[q->env]);
    p = put_cstr(PUTS(p, ",route="), rd->name);
    p = put_cstr(PUTS(p, ",provider="), m->provider);
    p = put_cstr(PUTS(p, ",model="), m->name);
    p = put_cstr(PUTS(p, ",resp_model="), resp_model(q));
    p = put_prompt_ver(PUTS(p, ",op=chat,prompt_ver="), q->route, s->prompt_ver[q->route]);
    p = put_release(PUTS(p, ",release="), s->release[rd->service][q->env]);
    p = put_cstr(PUTS(p, ",region="), region_name[q->region]);
    p = put_cstr(PUTS(p, ",tier="), tier_name[q->tier]);
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

/* ------------------------------------------------------------------------ */
/* Pending rows: tool_call and eval_result.                                  */

static char *put_tool_call(vg_sim_t *s, char *p, const pend_t *e, int64_t ts)
{
    const route_def_t *rd = &routes[e->route];
    p = put_cstr(PUTS(p, "tool_call,service="), svc_name[rd->service]);
    p = put_cstr(PUTS(p, ",env="), env_name[e->env]);
    p = put_cstr(PUTS(p, ",route="), rd->name);
    p = put_cstr(PUTS(p, ",tool="), tools[e->tool].name);
    p = put_cstr(PUTS(p, ",tool_type="), tools[e->tool].type);
    p = put_cstr(PUTS(p, ",status="), status_name[e->status]);
    p = put_cstr(PUTS(p, ",error_type="), tool_err_name[e->err]);
    p = put_cstr(PUTS(p, ",model="), models[e->model].name);
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
    p = put_cstr(PUTS(p, ",route="), routes[e->route].name);
    p = put_cstr(PUTS(p, ",model="), models[e->model].name);
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

/* ------------------------------------------------------------------------ */
/* change_event rows: routine changes every few hours, plus incident ones.   */

typedef struct change {
    const char *kind, *service, *env, *route, *author;
    char from[64], to[64], desc[160], rollback[24];
} change_t;

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

static void fmt_prompt(char *dst, size_t n, int route, int ver)
{
    snprintf(dst, n, "%s@v%d", routes[route].prompt, ver);
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
    c->service = svc_name[svc];
    c->env = env_name[env];
    snprintf(c->from, sizeof c->from, "v1.%d.0", from);
    snprintf(c->to, sizeof c->to, "v1.%d.0", to);
    snprintf(c->desc, sizeof c->desc, "Deploy %s-api v1.%d.0 to %s", svc_name[svc], to,
             env_name[env]);
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
    c->service = svc_name[routes[route].service];
    c->route = routes[route].name;
    fmt_prompt(c->from, sizeof c->from, route, from);
    fmt_prompt(c->to, sizeof c->to, route, to);
    snprintf(c->desc, sizeof c->desc, "%s: %s", routes[route].prompt, why[rng_u64(&s->rng) % 5]);
}

static void routine_flag(vg_sim_t *s, change_t *c)
{
    static const char *const flag[] = {"cache.prefix", "llm.max_output_tokens", "stream.enabled",
                                       "traffic.shed_low_priority"};
    static const char *const val[][2] = {
        {"off", "on"}, {"1024", "2048"}, {"false", "true"}, {"false", "true"}};
    int f = (int)(rng_u64(&s->rng) % 4), dir = coin(&s->rng, 0.5);
    c->kind = "flag";
    c->service = svc_name[rng_u64(&s->rng) % N_SVC];
    snprintf(c->from, sizeof c->from, "%s=%s", flag[f], val[f][dir]);
    snprintf(c->to, sizeof c->to, "%s=%s", flag[f], val[f][!dir]);
    snprintf(c->desc, sizeof c->desc, "Set %s to %s \"gradual rollout\"", flag[f], val[f][!dir]);
}

static void routine_change(vg_sim_t *s, change_t *c)
{
    static const double w[3] = {0.45, 0.40, 0.15};
    int k = pick(&s->rng, w, 3);
    c->env = "prod";
    c->route = "all";
    if (k == 0)
        routine_deploy(s, c);
    else if (k == 1)
        routine_prompt(s, c);
    else
        routine_flag(s, c);
    c->author = author_name[rng_u64(&s->rng) % (sizeof author_name / sizeof *author_name)];
}

static void schedule_routine_change(vg_sim_t *s, int64_t after)
{
    pend_t e = {0};
    double gap = -3.0 * 3600.0 * log(unif(&s->rng)); /* exponential, mean 3h */
    e.kind = PEND_CHANGE;
    e.ts = after + (int64_t)(gap * 1e9) + 1;
    if (e.ts > after && e.ts < s->end_ns)
        (void)heap_push(s, &e);
}

/* The change_event of each incident with one; phase 1 (the end) swaps from
 * and to. NULL from/to are computed: the prompt version or the release. */
typedef struct inc_change_def {
    const char *kind, *service, *route, *from, *to, *desc, *undo;
} inc_change_def_t;
static const inc_change_def_t inc_changes[VG_SIM_INC_COUNT] = {
    [VG_SIM_INC_VERBOSE_PROMPT] = {"prompt", "support", "refund_qa", NULL, NULL,
                                   "refund: be thorough and friendly, explain every step",
                                   "Revert refund prompt"},
    [VG_SIM_INC_OVER_REFUSAL] = {"guardrail", "support", "all", "moderation-v3@0.80",
                                 "moderation-v4@0.35", "Upgrade moderation model to v4",
                                 "Roll back moderation model"},
    [VG_SIM_INC_GUARDRAIL_OFF] = {"flag", "support", "all", "guardrail.mode=strict",
                                  "guardrail.mode=off", "Disable guardrail for latency test",
                                  "Re-enable guardrail"},
    [VG_SIM_INC_EMPTY_RETRIEVAL] = {"retrieval_index", "support", "all", "kb-2024-11-20",
                                    "kb-2024-11-27", "Rebuild kb index with new chunker",
                                    "Restore previous kb index"},
    [VG_SIM_INC_AGENT_LOOP] = {"deploy", "code", "all", NULL, NULL,
                               "Deploy code-api: new planner loop", "Roll back code-api"},
};

/* Prompt and release incidents move the world's state (and back at the end). */
static void incident_state(vg_sim_t *s, vg_sim_incident_kind_t kind, int phase, change_t *c)
{
    if (kind == VG_SIM_INC_VERBOSE_PROMPT) {
        int from = s->prompt_ver[R_REFUND];
        int to = phase ? (from > 1 ? from - 1 : 1) : ++s->prompt_max[R_REFUND];
        s->prompt_ver[R_REFUND] = to;
        fmt_prompt(c->from, sizeof c->from, R_REFUND, from);
        fmt_prompt(c->to, sizeof c->to, R_REFUND, to);
    } else {
        int *rel = s->release[SVC_CODE];
        int from = rel[0], to = phase ? rel[0] - 1 : rel[0] + 1;
        rel[0] = to;
        if (rel[1] < to)
            rel[1] = to;
        snprintf(c->from, sizeof c->from, "v1.%d.0", from);
        snprintf(c->to, sizeof c->to, "v1.%d.0", to);
    }
}

/* The change_event of incident i at its start (phase 0) or end (phase 1);
 * returns 0 when the scenario has none. */
static int incident_change(vg_sim_t *s, int i, int phase, change_t *c)
{
    vg_sim_incident_kind_t kind = s->o.incidents[i].kind;
    const inc_change_def_t *d = &inc_changes[kind];
    if (!d->kind)
        return 0;
    c->kind = d->kind;
    c->service = d->service;
    c->env = "prod";
    c->route = d->route;
    c->author = phase ? "oncall" : author_name[i % 6];
    snprintf(c->desc, sizeof c->desc, "%s", phase ? d->undo : d->desc);
    if (!d->from) {
        incident_state(s, kind, phase, c);
        return 1;
    }
    snprintf(c->from, sizeof c->from, "%s", phase ? d->to : d->from);
    snprintf(c->to, sizeof c->to, "%s", phase ? d->from : d->to);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Emission.                                                                 */

/* The next timestamp to write for a row due at t (strictly increasing). */
static int64_t stamp(vg_sim_t *s, int64_t t)
{
    if (t <= s->last_ts)
        t = s->last_ts + 1;
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
        routine_change(s, &c);
        s->change_no++;
        p = put_change(s, p, &c, ts);
        schedule_routine_change(s, ts);
        break;
    default:
        if (!incident_change(s, e->req, e->phase, &c))
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
    static const double pv_w[4] = {0.55, 0.25, 0.12, 0.08};
    rng_t *r = &s->rng;
    req_t q;
    memset(&q, 0, sizeof q);
    q.route = pick_route(s, 0);
    q.model = pick_model(s, q.route);
    int ver = routes[q.route].ver0 - pick(r, pv_w, 4);
    int tenant = (int)(rng_u64(r) % N_TENANT);
    sample_tokens(s, &q);
    sample_refusal(s, &q);
    sample_timing(s, &q);
    if (!q.refusal && routes[q.route].ntools && coin(r, routes[q.route].tool_p)) {
        q.tool_calls = 1;
        while (q.tool_calls < 5 && coin(r, 0.35))
            q.tool_calls++;
    }
    q.quality = q.refusal ? beta_int(r, 3, 5) : beta_int(r, 8, 2);
    q.cost = cost_of(&q);

    char *p = dst;
    p = put_cstr(PUTS(p, "llm_request,service="), svc_name[routes[q.route].service]);
    p = put_cstr(PUTS(p, ",route="), routes[q.route].name);
    p = put_cstr(PUTS(p, ",model="), models[q.model].name);
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
    sample_request(s, &q, ts);
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

const char *vg_sim_incident_name(vg_sim_incident_kind_t kind)
{
    if ((int)kind < 0 || kind >= VG_SIM_INC_COUNT)
        return NULL;
    return incident_names[kind];
}

/* "1h30m", "90s", "250ms", "2d": a sum of <digits><unit> terms. */
static int parse_duration(const char *p, const char *end, int64_t *out)
{
    static const struct {
        const char *u;
        int64_t ns;
    } units[] = {{"ns", 1},     {"us", 1000},   {"ms", 1000000}, {"s", NS_PER_S},
                 {"m", MIN_NS}, {"h", HOUR_NS}, {"d", DAY_NS}};
    int64_t total = 0;
    if (p == end)
        return -1;
    while (p < end) {
        int64_t v = 0;
        const char *d = p;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (*p++ - '0');
        }
        if (p == d)
            return -1;
        size_t best = 0;
        int64_t mult = 0;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
            size_t n = strlen(units[i].u);
            if (n > best && (size_t)(end - p) >= n && memcmp(p, units[i].u, n) == 0) {
                best = n;
                mult = units[i].ns;
            }
        }
        if (!best || v > (INT64_MAX - total) / mult)
            return -1;
        total += v * mult;
        p += best;
    }
    *out = total;
    return 0;
}

int vg_sim_add_incident(vg_sim_opts_t *o, const char *spec, vg_error_t *err)
{
    const char *at = strchr(spec, '@');
    if (!at)
        return vg_error_set(err, VG_EINVAL, "incident \"%s\": expected NAME@OFFSET[+DURATION]",
                            spec);
    int kind = -1;
    for (int k = 0; k < VG_SIM_INC_COUNT; k++)
        if (strlen(incident_names[k]) == (size_t)(at - spec) &&
            memcmp(spec, incident_names[k], (size_t)(at - spec)) == 0)
            kind = k;
    if (kind < 0)
        return vg_error_set(err, VG_EINVAL,
                            "incident \"%s\": unknown name \"%.*s\" (known: verbose_prompt, "
                            "model_update, over_refusal, guardrail_off, empty_retrieval, "
                            "tool_timeouts, kv_pressure, prompt_injection, agent_loop)",
                            spec, (int)(at - spec), spec);
    const char *plus = strchr(at, '+'), *end = at + strlen(at);
    vg_sim_incident_t in = {(vg_sim_incident_kind_t)kind, 0, 0};
    if (parse_duration(at + 1, plus ? plus : end, &in.offset_ns) != 0)
        return vg_error_set(err, VG_EINVAL, "incident \"%s\": bad offset (use e.g. 30m, 2h, 1h30m)",
                            spec);
    if (plus && (parse_duration(plus + 1, end, &in.duration_ns) != 0 || in.duration_ns == 0))
        return vg_error_set(err, VG_EINVAL, "incident \"%s\": bad duration (use e.g. 20m, 1h)",
                            spec);
    if (o->n_incidents >= VG_SIM_MAX_INCIDENTS)
        return vg_error_set(err, VG_ELIMIT, "incident \"%s\": at most %d incidents", spec,
                            VG_SIM_MAX_INCIDENTS);
    o->incidents[o->n_incidents++] = in;
    return 0;
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

static void init_world(vg_sim_t *s)
{
    for (int m = 0; m < N_MODEL; m++) {
        const double *tl = tier_lat[models[m].tier];
        s->ttft_mu[m] = log(tl[0] * models[m].ttft_scale);
        s->tpot_mu[m] = log(tl[2]);
    }
    double loop_total = 0.0;
    for (int r = 0; r < N_ROUTE; r++) {
        const double *wl = wl_tokens[routes[r].workload];
        s->in_mu[r] = wl[0] + log(routes[r].in_scale);
        s->out_mu[r] = wl[2] + log(routes[r].out_scale);
        s->prompt_ver[r] = s->prompt_max[r] = routes[r].ver0;
        s->route_w_loop[r] = routes[r].weight * (r == R_CODE ? 5.0 : 1.0);
        loop_total += s->route_w_loop[r];
    }
    for (int r = 0; r < N_ROUTE; r++)
        s->route_w_loop[r] /= loop_total;
    for (int t = 0; t < N_TOOL; t++) {
        s->tool_mu[t] = log(tools[t].dur_med);
        s->bytes_mu[t] = log(tools[t].bytes_med);
    }
    for (int v = 0; v < N_SVC; v++)
        s->release[v][0] = s->release[v][1] = svc_release0[v];
    s->attacker_conv = hash64(s->o.seed ^ 0xa77ac6e5ull) | 1;
}

/* Incident start/end change_events go into the heap up front. */
static int schedule_incidents(vg_sim_t *s)
{
    for (int i = 0; i < s->o.n_incidents; i++) {
        const vg_sim_incident_t *in = &s->o.incidents[i];
        for (int phase = 0; phase < 2; phase++) {
            pend_t e = {0};
            if (phase && in->duration_ns == 0)
                break;
            e.kind = PEND_INCIDENT;
            e.req = (uint64_t)i;
            e.phase = (uint8_t)phase;
            e.ts = s->o.start_ns + in->offset_ns + (phase ? in->duration_ns : 0);
            if (e.ts < s->o.start_ns || e.ts >= s->end_ns)
                continue;
            if (heap_push(s, &e) != 0)
                return VG_ENOMEM;
        }
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
    rng_seed(&s->rng, o->seed);
    init_world(s);
    if (s->o.profile == VG_SIM_FULL) {
        if (schedule_incidents(s) != 0) {
            vg_sim_destroy(s);
            return vg_error_set(err, VG_ENOMEM, "simulate: out of memory");
        }
        schedule_routine_change(s, o->start_ns);
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
