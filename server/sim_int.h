/*
 * sim_int.h: what the simulator's files share (simulate.h is the public
 * side). The simulator is cut along its ideas:
 *
 *   simulate.c      the event loop: pending-row heap, arrivals, line
 *                   writing, vg_sim_next and the lifecycle
 *   sim_rng.c       the random stream and its distributions
 *   sim_world.c     the fixed world (services, models, prices, tools,
 *                   routes), its per-run state and its routine changes
 *   sim_request.c   drawing one request: route, tokens, timing, tools, scores
 *   sim_incident.c  incident specs, which are active when, and their
 *                   change_events
 *
 * All of them draw from the one stream in s->rng, in emission order, so the
 * order of calls across files is part of the output (see simulate.c).
 * The hot RNG primitives are static inline here; everything with linkage
 * is named vg__sim_*.
 */
#ifndef VIGIL_SIM_INT_H
#define VIGIL_SIM_INT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "simulate.h"

#define NS_PER_S 1000000000LL
#define MIN_NS   (60 * NS_PER_S)
#define HOUR_NS  (3600 * NS_PER_S)
#define DAY_NS   (24 * HOUR_NS)

/* ------------------------------------------------------------------------ */
/* Random numbers: xoshiro256** seeded by splitmix64 (sim_rng.c).            */

typedef struct rng {
    uint64_t s[4];
    double spare; /* second normal of the polar method */
    int has_spare;
} rng_t;

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A stateless hash: the IDs derived from (seed, serial). */
static inline uint64_t hash64(uint64_t x)
{
    return splitmix64(&x);
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

/* Seed the stream from one 64-bit value. */
void vg__sim_rng_seed(rng_t *r, uint64_t seed);
/* Standard normal (polar method; every second call uses the spare). */
double vg__sim_normal(rng_t *r);

static inline double lognormal(rng_t *r, double mu, double sigma)
{
    return exp(mu + sigma * vg__sim_normal(r));
}

/* Gamma with mean shape (Marsaglia-Tsang). */
double vg__sim_gamma(rng_t *r, double shape);
/* Beta(a, b) for small integer a, b. */
double vg__sim_beta_int(rng_t *r, int a, int b);
/* Index drawn from weights w[0..n) that sum to 1 (the last takes any rest). */
int vg__sim_pick(rng_t *r, const double *w, int n);

/* ------------------------------------------------------------------------ */
/* The world (sim_world.c). Names need no escaping.                          */

enum { SVC_SUPPORT, SVC_SEARCH, SVC_CODE, N_SVC };
enum { TIER_FAST, TIER_MID, TIER_FRONTIER };
enum { M_GPT4O, M_GPT4O_MINI, M_SONNET, M_HAIKU, M_O1, M_LLAMA, N_MODEL };
typedef struct model_def {
    const char *name, *provider, *resp, *resp_next; /* resp_next: the silent update */
    int tier;
    double ttft_scale;                  /* on the tier median */
    double in_price, out_price, cached; /* $ per 1M tokens */
    int reasoning;
} model_def_t;

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

enum { WL_CONV, WL_CODE };
enum { R_REFUND, R_ORDER, R_TRIAGE, R_ANSWER, R_SUMMARIZE, R_CODE, N_ROUTE };
typedef struct route_def {
    const char *name, *prompt;
    int service, workload, ver0, max_tokens, prefix_tokens;
    double weight, stream_p, tool_p, refusal_p, in_scale, out_scale;
    int nmodels, model[3];
    double model_w[3];
    int ntools, tool[3];
} route_def_t;

#define N_AUTHOR 7

extern const char *const vg__sim_svc_name[N_SVC];
/* Medians and sigmas of TTFT and TPOT in seconds, by tier. */
extern const double vg__sim_tier_lat[3][4];
extern const model_def_t vg__sim_models[N_MODEL];
extern const tool_def_t vg__sim_tools[N_TOOL];
/* Lognormal mu/sigma of input and output tokens, by workload. */
extern const double vg__sim_wl_tokens[2][4];
extern const route_def_t vg__sim_routes[N_ROUTE];
extern const char *const vg__sim_env_name[2];
extern const double vg__sim_env_w[2];
extern const char *const vg__sim_region_name[3];
extern const double vg__sim_region_w[3];
extern const char *const vg__sim_tier_name[3];
extern const double vg__sim_tier_w[3];
extern const char *const vg__sim_author_name[N_AUTHOR];

/* Label values of a row; their names are written by simulate.c. */
enum { FIN_STOP, FIN_LENGTH, FIN_FILTER, FIN_TOOL, FIN_ERROR };
enum { LE_NONE, LE_TIMEOUT, LE_RATE_LIMIT, LE_SERVER, LE_OVERLOADED };
enum { ST_OK, ST_ERROR, ST_TIMEOUT, ST_EMPTY };
enum { TE_NONE, TE_TIMEOUT, TE_5XX, TE_4XX, TE_ARGS };

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

/* A row due later goes into the heap; returns 0, or -1 when the heap cannot
 * grow (the row is dropped). Sets e->seq. (simulate.c) */
int vg__sim_push(vg_sim_t *s, pend_t *e);

/* ------------------------------------------------------------------------ */
/* Requests (sim_request.c).                                                 */

typedef struct req {
    int64_t ts;
    uint64_t serial, conv;
    uint32_t inc;
    int route, model, env, region, tier, stream, finish, err, refusal, refusal_kind, inj_flag;
    int attack, tool_calls, tool_errors, retries, timed_out, empty;
    int64_t in, out, cached, reasoning, chars;
    double ttft, tpot, latency, cost, quality, inj;
} req_t;

/* Draw a full-profile request arriving at ts (its tool calls and evals go
 * into the heap). */
void vg__sim_sample_request(vg_sim_t *s, req_t *q, int64_t ts);
/* Draw a bench-profile request: the fields, its prompt version and tenant. */
void vg__sim_sample_bench(vg_sim_t *s, req_t *q, int *prompt_ver, int *tenant);

/* ------------------------------------------------------------------------ */
/* change_event rows (sim_world.c: routine; sim_incident.c: incidents).      */

typedef struct change {
    const char *kind, *service, *env, *route, *author;
    char from[64], to[64], desc[160], rollback[24];
} change_t;

/* Precompute the per-model/route/tool logs and the initial world state. */
void vg__sim_init_world(vg_sim_t *s);
/* "refund@v12" into dst. */
void vg__sim_fmt_prompt(char *dst, size_t n, int route, int ver);
/* Draw the next routine change (a deploy, prompt or flag) and apply it. */
void vg__sim_routine_change(vg_sim_t *s, change_t *c);
/* Push the next routine change, an exponential gap (mean 3h) after `after`. */
void vg__sim_schedule_routine_change(vg_sim_t *s, int64_t after);

/* ------------------------------------------------------------------------ */
/* Incidents (sim_incident.c).                                               */

#define INC(k) (1u << (k))

/* The bitmask of incidents active at t. */
uint32_t vg__sim_incidents_at(const vg_sim_t *s, int64_t t);
/* The change_event of incident i at its start (phase 0) or end (phase 1);
 * returns 0 when the scenario has none. */
int vg__sim_incident_change(vg_sim_t *s, int i, int phase, change_t *c);
/* Push every incident's start/end change_event; VG_ENOMEM if the heap
 * cannot grow. */
int vg__sim_schedule_incidents(vg_sim_t *s);

#endif
