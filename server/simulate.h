/*
 * simulate.h: a deterministic generator of LLM-system traffic as line protocol.
 *
 * The simulator plays a fixed, realistic world (three services, six routes,
 * OpenAI, Anthropic and one self-hosted model, prompt versions, regions,
 * tenant tiers) and writes the four tables of the record schema
 * (docs: /work/shared/research/domain.md, part 2):
 *
 *   llm_request   one row per model call (arrival time)
 *   tool_call     one row per tool execution, during the request
 *   eval_result   late scores for a 10% sample, seconds to minutes later
 *   change_event  deploys, prompt and flag changes every few hours
 *
 * Distributions follow domain.md part 3: diurnal gamma arrivals
 * (rate * (1 + 0.6 sin(2pi (t - 08:00) / 24h)), weekends at half rate,
 * burstiness 0.8), lognormal TTFT/TPOT per model tier, the Azure 2023
 * token fits, 1-2% errors, 0.5-3% refusals, Beta(8,2) quality, tool
 * errors/timeouts/empty retrievals.
 *
 * Guarantees, for every profile:
 *   - the same options (seed included) give the same bytes, on any call
 *     pattern of vg_sim_next (buffer sizes do not change the output);
 *   - timestamps are nanoseconds in [start_ns, start_ns + duration_ns) and
 *     strictly increasing across all tables, so no two rows share a point;
 *   - every line is valid line protocol ending in '\n'.
 *
 * The bench profile writes llm_request only, with 5 tags (service, route,
 * model, prompt_ver, tenant: about 55,000 tag sets over 2M rows), 9 numeric
 * or bool fields, no strings, no unsigned integers, ~250 bytes a line.
 * Its timestamps are whole milliseconds, strictly increasing, never on a
 * whole second, and its values have at most 7 significant digits: what
 * VictoriaMetrics and InfluxDB store exactly, so answers can be compared.
 *
 * Thread-safety: a vg_sim_t is used by one thread at a time; distinct
 * simulators are independent.
 */
#ifndef VIGIL_SIMULATE_H
#define VIGIL_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/vg_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* No line is longer than this; a vg_sim_next buffer must hold at least one. */
#define VG_SIM_LINE_MAX 2048

/* Incidents one run may carry (vg_sim_add_incident). */
#define VG_SIM_MAX_INCIDENTS 16

typedef enum { VG_SIM_FULL = 0, VG_SIM_BENCH = 1 } vg_sim_profile_t;

/*
 * Incident scenarios (domain.md part 3, the table "Incident scenarios").
 * Each has a fixed target in the simulated world and, where the scenario
 * has one, a change_event at its start (and a rollback at its end).
 */
typedef enum vg_sim_incident_kind {
    VG_SIM_INC_VERBOSE_PROMPT = 0, /* prompt change on support/refund_qa: output x3 */
    VG_SIM_INC_MODEL_UPDATE,       /* silent gpt-4o snapshot swap: quality -10% */
    VG_SIM_INC_OVER_REFUSAL,       /* guardrail change on support: refusals ~15% */
    VG_SIM_INC_GUARDRAIL_OFF,      /* guardrail flag off on support: refusals ~0 */
    VG_SIM_INC_EMPTY_RETRIEVAL,    /* retrieval index change: kb_search empty 40% */
    VG_SIM_INC_TOOL_TIMEOUTS,      /* get_order times out on 20% of calls */
    VG_SIM_INC_KV_PRESSURE,        /* self-hosted llama: long-context TTFT p99 x3-10 */
    VG_SIM_INC_PROMPT_INJECTION,   /* one conversation on search/answer, off-allowlist calls */
    VG_SIM_INC_AGENT_LOOP,         /* deploy on code: code_assist requests x5 per conversation */
    VG_SIM_INC_COUNT
} vg_sim_incident_kind_t;

typedef struct vg_sim_incident {
    vg_sim_incident_kind_t kind;
    int64_t offset_ns;   /* from start_ns; >= 0 */
    int64_t duration_ns; /* 0: until the end of the run */
} vg_sim_incident_t;

typedef struct vg_sim_opts {
    uint64_t seed;       /* default 1 */
    int64_t start_ns;    /* default: end - duration, with end = now */
    int64_t duration_ns; /* default 1h */
    double rate;         /* mean llm_request rows per second, default 20 */
    vg_sim_profile_t profile;
    int n_incidents; /* entries used in incidents[]; ignored by the bench profile */
    vg_sim_incident_t incidents[VG_SIM_MAX_INCIDENTS];
} vg_sim_opts_t;

/* Fill the defaults above; the only read of the wall clock (start = now - 1h). */
void vg_sim_opts_default(vg_sim_opts_t *o);

/*
 * Parse "NAME@OFFSET[+DURATION]" and append it to o->incidents.
 * NAME is one of vg_sim_incident_name(); OFFSET and DURATION are durations
 * like 90s, 30m, 2h, 1h30m, 1d (units ns us ms s m h d).
 * @return 0; VG_EINVAL on a bad spec (err names the part), VG_ELIMIT when
 *         VG_SIM_MAX_INCIDENTS are already set. o is unchanged on failure.
 */
int vg_sim_add_incident(vg_sim_opts_t *o, const char *spec, vg_error_t *err);

/* "verbose_prompt", "model_update", ...; NULL for an unknown kind. */
const char *vg_sim_incident_name(vg_sim_incident_kind_t kind);

typedef struct vg_sim vg_sim_t;

/*
 * Check the options and create a simulator.
 * @return 0; VG_EINVAL for a bad option (err names it); VG_ENOMEM.
 * Ownership: *out is the caller's, freed with vg_sim_destroy; o is copied.
 */
int vg_sim_create(const vg_sim_opts_t *o, vg_sim_t **out, vg_error_t *err);

/*
 * Append whole lines of line protocol (each ending in '\n', timestamps in
 * ns, strictly increasing across all tables) to buf, up to cap bytes;
 * *len is the bytes written. cap must be at least VG_SIM_LINE_MAX.
 * @return 1 while there is more, 0 when the simulation is finished (possibly
 *         with the last bytes in buf); later calls return 0 with *len = 0.
 * Ownership: borrows buf. A row whose pending queue cannot grow (out of
 * memory) is dropped rather than failing the stream.
 */
int vg_sim_next(vg_sim_t *s, char *buf, size_t cap, size_t *len);

/* Rows (lines) written so far. */
uint64_t vg_sim_rows(const vg_sim_t *s);

/* Free s; NULL is a no-op. */
void vg_sim_destroy(vg_sim_t *s);

#ifdef __cplusplus
}
#endif
#endif
