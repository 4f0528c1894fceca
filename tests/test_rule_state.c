/* test_rule_state.c: the alert state machine, one transition at a time
 * (Prometheus's semantics: rules/alerting.go). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

#define M (60 * VG_NS_PER_SEC) /* a minute */

static const vg_rs_input_t T = {1, 1, 0}, F = {1, 0, 0}, NODATA = {0, 0, 0};

static vg_rs_change_t step(const vg_rs_params_t *p, vg_rs_t *s, vg_rs_input_t in, int64_t t)
{
    return vg_rs_step(p, s, &in, t);
}

static void test_rule_without_for_fires_at_the_first_true_evaluation(void **state)
{
    (void)state;
    vg_rs_params_t p = {0};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, F, 1 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, T, 2 * M), VG_RS_TO_FIRING);
    assert_int_equal(s.state, VG_RS_FIRING);
    assert_int_equal(s.active_at, 2 * M);
    assert_int_equal(s.fired_at, 2 * M);
    assert_int_equal(step(&p, &s, T, 3 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, F, 4 * M), VG_RS_TO_RESOLVED);
    assert_int_equal(s.state, VG_RS_INACTIVE);
    assert_int_equal(s.resolved_at, 4 * M);
}

static void test_rule_with_for_is_pending_until_it_held_that_long(void **state)
{
    (void)state;
    vg_rs_params_t p = {.for_ns = 10 * M};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, T, 0), VG_RS_TO_PENDING);
    assert_int_equal(s.state, VG_RS_PENDING);
    for (int m = 1; m < 10; m++)
        assert_int_equal(step(&p, &s, T, m * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, T, 10 * M), VG_RS_TO_FIRING);
    assert_int_equal(s.active_at, 0);
    assert_int_equal(s.fired_at, 10 * M);
}

static void test_pending_alert_that_clears_goes_back_silently(void **state)
{
    (void)state;
    vg_rs_params_t p = {.for_ns = 10 * M};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, T, 0), VG_RS_TO_PENDING);
    assert_int_equal(step(&p, &s, F, 5 * M), VG_RS_CLEARED);
    assert_int_equal(s.state, VG_RS_INACTIVE);
    assert_int_equal(s.fired_at, 0);
    /* it starts over: the `for` counts from the new start */
    assert_int_equal(step(&p, &s, T, 6 * M), VG_RS_TO_PENDING);
    assert_int_equal(step(&p, &s, T, 15 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, T, 16 * M), VG_RS_TO_FIRING);
}

static void test_keep_firing_for_holds_a_firing_alert_after_it_cleared(void **state)
{
    (void)state;
    vg_rs_params_t p = {.keep_firing_ns = 5 * M};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, T, 0), VG_RS_TO_FIRING);
    assert_int_equal(step(&p, &s, T, 1 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, F, 2 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, F, 5 * M), VG_RS_NONE);
    /* true again: the hold restarts from here */
    assert_int_equal(step(&p, &s, T, 6 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, F, 10 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, F, 11 * M), VG_RS_TO_RESOLVED);
    assert_int_equal(s.resolved_at, 11 * M);
}

static void test_resolve_when_gives_hysteresis(void **state)
{
    (void)state;
    vg_rs_params_t p = {.has_resolve = 1};
    vg_rs_t s = {0};
    vg_rs_input_t between = {1, 0, 0}, low = {1, 0, 1};
    assert_int_equal(step(&p, &s, T, 0), VG_RS_TO_FIRING);
    /* `when` no longer holds, but `resolve_when` does not hold yet */
    assert_int_equal(step(&p, &s, between, 1 * M), VG_RS_NONE);
    assert_int_equal(s.state, VG_RS_FIRING);
    assert_int_equal(step(&p, &s, low, 2 * M), VG_RS_TO_RESOLVED);
}

static void test_resolve_when_and_keep_firing_for_combine(void **state)
{
    (void)state;
    vg_rs_params_t p = {.has_resolve = 1, .keep_firing_ns = 3 * M};
    vg_rs_t s = {0};
    vg_rs_input_t between = {1, 0, 0}, low = {1, 0, 1};
    assert_int_equal(step(&p, &s, T, 0), VG_RS_TO_FIRING);
    assert_int_equal(step(&p, &s, between, 1 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, low, 2 * M), VG_RS_NONE); /* held at 1m: 1m ago */
    assert_int_equal(step(&p, &s, low, 3 * M), VG_RS_NONE);
    assert_int_equal(step(&p, &s, low, 4 * M), VG_RS_TO_RESOLVED);
}

static void test_no_data_keep_state_changes_nothing(void **state)
{
    (void)state;
    vg_rs_params_t p = {.no_data = VG_RB_NODATA_KEEP, .for_ns = 2 * M};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, NODATA, 0), VG_RS_NONE);
    assert_int_equal(step(&p, &s, T, 1 * M), VG_RS_TO_PENDING);
    assert_int_equal(step(&p, &s, NODATA, 2 * M), VG_RS_NONE);
    assert_int_equal(s.state, VG_RS_PENDING);
    assert_int_equal(step(&p, &s, T, 3 * M), VG_RS_TO_FIRING);
    assert_int_equal(step(&p, &s, NODATA, 4 * M), VG_RS_NONE);
    assert_int_equal(s.state, VG_RS_FIRING);
}

static void test_no_data_ok_resolves_and_clears(void **state)
{
    (void)state;
    vg_rs_params_t p = {.no_data = VG_RB_NODATA_OK};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, T, 0), VG_RS_TO_FIRING);
    assert_int_equal(step(&p, &s, NODATA, 1 * M), VG_RS_TO_RESOLVED);
    p.for_ns = 5 * M;
    assert_int_equal(step(&p, &s, T, 2 * M), VG_RS_TO_PENDING);
    assert_int_equal(step(&p, &s, NODATA, 3 * M), VG_RS_CLEARED);
}

static void test_no_data_alert_counts_as_the_condition_holding(void **state)
{
    (void)state;
    vg_rs_params_t p = {.no_data = VG_RB_NODATA_ALERT, .for_ns = 2 * M};
    vg_rs_t s = {0};
    assert_int_equal(step(&p, &s, NODATA, 0), VG_RS_TO_PENDING);
    assert_int_equal(step(&p, &s, NODATA, 2 * M), VG_RS_TO_FIRING);
    assert_int_equal(step(&p, &s, F, 3 * M), VG_RS_TO_RESOLVED);
}

static void test_state_names_are_prometheus_words(void **state)
{
    (void)state;
    assert_string_equal(vg_rs_state_name(VG_RS_INACTIVE), "inactive");
    assert_string_equal(vg_rs_state_name(VG_RS_PENDING), "pending");
    assert_string_equal(vg_rs_state_name(VG_RS_FIRING), "firing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_without_for_fires_at_the_first_true_evaluation),
        cmocka_unit_test(test_rule_with_for_is_pending_until_it_held_that_long),
        cmocka_unit_test(test_pending_alert_that_clears_goes_back_silently),
        cmocka_unit_test(test_keep_firing_for_holds_a_firing_alert_after_it_cleared),
        cmocka_unit_test(test_resolve_when_gives_hysteresis),
        cmocka_unit_test(test_resolve_when_and_keep_firing_for_combine),
        cmocka_unit_test(test_no_data_keep_state_changes_nothing),
        cmocka_unit_test(test_no_data_ok_resolves_and_clears),
        cmocka_unit_test(test_no_data_alert_counts_as_the_condition_holding),
        cmocka_unit_test(test_state_names_are_prometheus_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
