/*
 * sim_incident.c: the simulator's incidents (simulate.h, domain.md part 3):
 * parsing "NAME@OFFSET[+DURATION]" specs, which incidents are active at a
 * time, and the change_event that starts (and, with a duration, rolls
 * back) each scenario that has one.
 *
 * The effects on traffic live with the samplers they bend (sim_request.c
 * tests the bitmask from vg__sim_incidents_at); what lives here is the
 * incidents' own rows and the world state they move: a verbose prompt
 * bumps the refund prompt version and an agent loop deploys a code-api
 * release, both undone at the end.
 *
 * Invariant: an incident's start and end events are pushed once, at
 * creation, so they leave the heap in time order with everything else;
 * an end event names its start's change_id as the rollback.
 */
#include <stdio.h>
#include <string.h>

#include "sim_int.h"

static const char *const incident_names[VG_SIM_INC_COUNT] = {
    "verbose_prompt", "model_update", "over_refusal",     "guardrail_off", "empty_retrieval",
    "tool_timeouts",  "kv_pressure",  "prompt_injection", "agent_loop",
};

uint32_t vg__sim_incidents_at(const vg_sim_t *s, int64_t t)
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
        vg__sim_fmt_prompt(c->from, sizeof c->from, R_REFUND, from);
        vg__sim_fmt_prompt(c->to, sizeof c->to, R_REFUND, to);
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
int vg__sim_incident_change(vg_sim_t *s, int i, int phase, change_t *c)
{
    vg_sim_incident_kind_t kind = s->o.incidents[i].kind;
    const inc_change_def_t *d = &inc_changes[kind];
    if (!d->kind)
        return 0;
    c->kind = d->kind;
    c->service = d->service;
    c->env = "prod";
    c->route = d->route;
    c->author = phase ? "oncall" : vg__sim_author_name[i % 6];
    snprintf(c->desc, sizeof c->desc, "%s", phase ? d->undo : d->desc);
    if (!d->from) {
        incident_state(s, kind, phase, c);
        return 1;
    }
    snprintf(c->from, sizeof c->from, "%s", phase ? d->to : d->from);
    snprintf(c->to, sizeof c->to, "%s", phase ? d->from : d->to);
    return 1;
}

/* Incident start/end change_events go into the heap up front. */
int vg__sim_schedule_incidents(vg_sim_t *s)
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
            if (vg__sim_push(s, &e) != 0)
                return VG_ENOMEM;
        }
    }
    return 0;
}
