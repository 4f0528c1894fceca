/*
 * rule_state.c: the alert state machine of one (rule, group), Prometheus's
 * semantics (see rules.h). Pure: no clock, no I/O, so every transition is
 * tested directly and backtests replay it exactly.
 */
#include "rules.h"

const char *vg_rs_state_name(vg_rs_state_t s)
{
    switch (s) {
    case VG_RS_PENDING: return "pending";
    case VG_RS_FIRING: return "firing";
    default: return "inactive";
    }
}

/* The input as the rule's no_data policy reads a group without a row. */
static vg_rs_input_t effective(const vg_rs_params_t *p, const vg_rs_input_t *in, int *skip)
{
    vg_rs_input_t e = *in;
    *skip = 0;
    if (in->has_data)
        return e;
    switch (p->no_data) {
    case VG_RB_NODATA_OK: e.cond = 0, e.resolve = 1; break;
    case VG_RB_NODATA_ALERT: e.cond = 1, e.resolve = 0; break;
    default: *skip = 1; break;
    }
    return e;
}

static vg_rs_change_t start(const vg_rs_params_t *p, vg_rs_t *s, int64_t now)
{
    s->active_at = now;
    s->last_held = now;
    if (p->for_ns <= 0) {
        s->state = VG_RS_FIRING;
        s->fired_at = now;
        return VG_RS_TO_FIRING;
    }
    s->state = VG_RS_PENDING;
    return VG_RS_TO_PENDING;
}

vg_rs_change_t vg_rs_step(const vg_rs_params_t *p, vg_rs_t *s, const vg_rs_input_t *in,
                          int64_t now)
{
    int skip;
    vg_rs_input_t e = effective(p, in, &skip);
    if (skip)
        return VG_RS_NONE;
    switch (s->state) {
    case VG_RS_INACTIVE:
        return e.cond ? start(p, s, now) : VG_RS_NONE;
    case VG_RS_PENDING:
        if (!e.cond) {
            s->state = VG_RS_INACTIVE;
            s->active_at = 0;
            return VG_RS_CLEARED;
        }
        s->last_held = now;
        if (now - s->active_at >= p->for_ns) {
            s->state = VG_RS_FIRING;
            s->fired_at = now;
            return VG_RS_TO_FIRING;
        }
        return VG_RS_NONE;
    case VG_RS_FIRING: {
        /* hysteresis: with resolve_when, `when` going false is not enough */
        int can_resolve = p->has_resolve ? e.resolve && !e.cond : !e.cond;
        if (!can_resolve) {
            s->last_held = now;
            return VG_RS_NONE;
        }
        if (now - s->last_held < p->keep_firing_ns)
            return VG_RS_NONE;
        s->state = VG_RS_INACTIVE;
        s->resolved_at = now;
        return VG_RS_TO_RESOLVED;
    }
    }
    return VG_RS_NONE;
}
