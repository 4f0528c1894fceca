/* test_timeparse.c: time literals and durations as the CLI and the query language take them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "vigil/vg_db.h"

static int64_t t(const char *s, int64_t now)
{
    int64_t v = 0;
    vg_error_t err = {0};
    if (vg_time_parse(s, now, &v, &err) != VG_OK)
        fail_msg("'%s': %s", s, err.msg);
    return v;
}

static void test_time_parse_reads_rfc3339_with_fractions_and_offsets(void **state)
{
    (void)state;
    assert_int_equal(t("1970-01-01T00:00:00Z", 0), 0);
    assert_int_equal(t("2026-11-27T03:14:00Z", 0), INT64_C(1795749240) * VG_NS_PER_SEC);
    assert_int_equal(t("2026-11-27T03:14:00.5Z", 0), INT64_C(1795749240) * VG_NS_PER_SEC + 500000000);
    assert_int_equal(t("2026-11-27T03:14:00.123456789Z", 0),
                     INT64_C(1795749240) * VG_NS_PER_SEC + 123456789);
    assert_int_equal(t("2026-11-27T05:14:00+02:00", 0), INT64_C(1795749240) * VG_NS_PER_SEC);
    assert_int_equal(t("2026-11-27T01:14:00-02:00", 0), INT64_C(1795749240) * VG_NS_PER_SEC);
    assert_int_equal(t("2026-11-27", 0), INT64_C(1795737600) * VG_NS_PER_SEC);
    assert_int_equal(t("2024-02-29T00:00:00Z", 0), INT64_C(1709164800) * VG_NS_PER_SEC);
    assert_int_equal(t("1969-12-31T23:59:59Z", 0), -VG_NS_PER_SEC);
}

static void test_time_parse_reads_nanoseconds_and_now(void **state)
{
    (void)state;
    assert_int_equal(t("1732700000000000000", 0), INT64_C(1732700000000000000));
    assert_int_equal(t("-5", 0), -5);
    assert_int_equal(t("now()", 1000), 1000);
    assert_int_equal(t("now() - 2h", 10 * 3600 * VG_NS_PER_SEC), 8 * 3600 * VG_NS_PER_SEC);
    assert_int_equal(t("now()-90s", 100 * VG_NS_PER_SEC), 10 * VG_NS_PER_SEC);
    assert_int_equal(t("now() + 1m", 0), 60 * VG_NS_PER_SEC);
}

static void test_time_parse_rejects_bad_literals_saying_what_it_takes(void **state)
{
    (void)state;
    const char *bad[] = {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-27T25:00:00Z",
                         "2026-11-27T03:14:00", "2026-11-27T03:14:00.Z", "now() * 2",
                         "now() - 2x", "12abc", "2026-11-27T03:14:00Zjunk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        vg_error_t err = {0};
        int rc = vg_time_parse(bad[i], 0, &v, &err);
        if (rc == VG_OK)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(rc == VG_EPARSE || rc == VG_ERANGE);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_duration_parse_takes_every_unit_and_compounds(void **state)
{
    (void)state;
    int64_t v;
    struct {
        const char *s;
        int64_t ns;
    } ok[] = {{"250ms", 250000000},
              {"30s", 30 * VG_NS_PER_SEC},
              {"5m", 300 * VG_NS_PER_SEC},
              {"1h", 3600 * VG_NS_PER_SEC},
              {"7d", 7 * 86400 * VG_NS_PER_SEC},
              {"2w", 14 * 86400 * VG_NS_PER_SEC},
              {"1h30m", 5400 * VG_NS_PER_SEC},
              {"10us", 10000},
              {"3ns", 3}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(vg_duration_parse(ok[i].s, &v, NULL), VG_OK);
        assert_int_equal(v, ok[i].ns);
    }
    const char *bad[] = {"", "5", "5x", "h", "-5m", "1.5h", "99999999999999999999s",
                         "300000w"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vg_error_t err = {0};
        if (vg_duration_parse(bad[i], &v, &err) == VG_OK)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(strlen(err.msg) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse_reads_rfc3339_with_fractions_and_offsets),
        cmocka_unit_test(test_time_parse_reads_nanoseconds_and_now),
        cmocka_unit_test(test_time_parse_rejects_bad_literals_saying_what_it_takes),
        cmocka_unit_test(test_duration_parse_takes_every_unit_and_compounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
