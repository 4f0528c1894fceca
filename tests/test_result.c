/* test_result.c: the three printed forms of a query result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/vg_result.h"

/* time, model (tag), p99 (float), n (integer), ok (bool), note (string) */
static void make(vg_result_t *r)
{
    assert_int_equal(vg_result_init(r, 6), 0);
    r->windows = 1;
    vg_result_col(r, 0, "time", VG_TYPE_TIME);
    vg_result_col(r, 1, "model", VG_TYPE_TAG);
    vg_result_col(r, 2, "p99(latency_s)", VG_TYPE_FLOAT);
    vg_result_col(r, 3, "n", VG_TYPE_INT);
    vg_result_col(r, 4, "ok", VG_TYPE_BOOL);
    vg_result_col(r, 5, "note", VG_TYPE_STRING);
    const char *notes[] = {"plain", "a, \"quoted\"\nline", ""};
    for (int i = 0; i < 3; i++) {
        size_t row;
        assert_int_equal(vg_result_add_row(r, &row), 0);
        vg_value_t v;
        v.i = INT64_C(1795749240) * 1000000000 + i * 500000000;
        vg_result_set(r, row, 0, &v);
        v.s.p = "gpt-4o";
        v.s.len = 6;
        vg_result_set(r, row, 1, &v);
        if (i != 1) {
            v.f = i == 2 ? NAN : 0.1 + 0.2;
            vg_result_set(r, row, 2, &v);
        }
        v.i = -42 + i;
        vg_result_set(r, row, 3, &v);
        v.b = i % 2;
        vg_result_set(r, row, 4, &v);
        v.s.p = notes[i];
        v.s.len = (uint32_t)strlen(notes[i]);
        vg_result_set(r, row, 5, &v);
    }
}

static char *render(const vg_result_t *r, int (*fn)(const vg_result_t *, FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(fn(r, f), 0);
    fclose(f);
    return buf;
}

static int table_ascii(const vg_result_t *r, FILE *f)
{
    return vg_result_write_table(r, f, VG_TABLE_ASCII);
}

static void test_result_csv_follows_rfc4180_with_rfc3339_times(void **state)
{
    (void)state;
    vg_result_t r;
    make(&r);
    char *s = render(&r, vg_result_write_csv);
    const char *want = "time,model,p99(latency_s),n,ok,note\r\n"
                       "2026-11-27T03:14:00Z,gpt-4o,0.30000000000000004,-42,false,plain\r\n"
                       "2026-11-27T03:14:00.5Z,gpt-4o,,-41,true,\"a, \"\"quoted\"\"\nline\"\r\n"
                       "2026-11-27T03:14:01Z,gpt-4o,NaN,-40,false,\r\n";
    assert_string_equal(s, want);
    free(s);
    vg_result_free(&r);
}

static void test_result_json_has_columns_rows_and_nulls(void **state)
{
    (void)state;
    vg_result_t r;
    make(&r);
    char *s = render(&r, vg_result_write_json);
    assert_non_null(strstr(s, "{\"columns\":[{\"name\":\"time\",\"type\":\"time\"},"
                              "{\"name\":\"model\",\"type\":\"tag\"}"));
    assert_non_null(strstr(s, "[1795749240000000000,\"gpt-4o\",0.30000000000000004,-42,false,\"plain\"]"));
    assert_non_null(strstr(s, "[1795749240500000000,\"gpt-4o\",null,-41,true,\"a, \\\"quoted\\\"\\nline\"]"));
    assert_non_null(strstr(s, "[1795749241000000000,\"gpt-4o\",null,-40,false,\"\"]")); /* NaN */
    free(s);
    vg_result_free(&r);
}

static void test_result_json_spells_windows_and_nonfinite_floats_apart(void **state)
{
    (void)state;
    vg_result_t r;
    make(&r);
    size_t row;
    assert_int_equal(vg_result_add_row(&r, &row), 0);
    vg_value_t v = {.f = -INFINITY};
    vg_result_set(&r, row, 2, &v);
    char *s = render(&r, vg_result_write_json);
    /* rows keep null, so a float column holds numbers or null only */
    assert_non_null(strstr(s, "[null,null,null,null,null,null]]"));
    assert_non_null(strstr(s, "]],\"windows\":true,\"nonfinite\":[[2,2,\"NaN\"],[3,2,\"-Inf\"]]}\n"));
    assert_null(strstr(s, "pictures"));
    free(s);
    r.windows = 0;
    v.f = INFINITY;
    vg_result_set(&r, row, 2, &v);
    s = render(&r, vg_result_write_json);
    assert_non_null(strstr(s, "]],\"nonfinite\":[[2,2,\"NaN\"],[3,2,\"+Inf\"]]}\n"));
    assert_null(strstr(s, "windows"));
    free(s);
    vg_result_free(&r);
}

static void test_result_json_lists_pictures_apart_and_marks_histograms(void **state)
{
    (void)state;
    vg_result_t r;
    assert_int_equal(vg_result_init(&r, 4), 0);
    vg_result_col(&r, 0, "route", VG_TYPE_TAG);
    vg_result_col(&r, 1, "ks", VG_TYPE_FLOAT);
    vg_result_col(&r, 2, "h", VG_TYPE_STRING);
    vg_result_col(&r, 3, "ks", VG_TYPE_STRING);
    r.cols[2].histogram = 1;
    r.cols[3].picture = 1;
    const char *routes[] = {"qa", "triage"};
    for (size_t i = 0; i < 2; i++) {
        size_t row;
        assert_int_equal(vg_result_add_row(&r, &row), 0);
        vg_value_t v = {.s = {routes[i], (uint32_t)strlen(routes[i])}};
        vg_result_set(&r, row, 0, &v);
        v.f = 0.25 * (double)(i + 1);
        vg_result_set(&r, row, 1, &v);
        v.s.p = "[0,1]:3";
        v.s.len = 7;
        vg_result_set(&r, row, 2, &v);
        if (i == 0) { /* the second row has no picture: null */
            v.s.p = "0,1,0.5,0.25";
            v.s.len = 12;
            vg_result_set(&r, row, 3, &v);
        }
    }
    char *s = render(&r, vg_result_write_json);
    const char *want = "{\"columns\":[{\"name\":\"route\",\"type\":\"tag\"},"
                       "{\"name\":\"ks\",\"type\":\"float\"},"
                       "{\"name\":\"h\",\"type\":\"string\",\"histogram\":true}],"
                       "\"rows\":[[\"qa\",0.25,\"[0,1]:3\"],[\"triage\",0.5,\"[0,1]:3\"]],"
                       "\"pictures\":[{\"name\":\"ks\",\"column\":3,"
                       "\"rows\":[\"0,1,0.5,0.25\",null]}]}\n";
    assert_string_equal(s, want);
    free(s);
    vg_result_free(&r);
}

static void test_result_table_aligns_and_draws_sparklines_for_windows(void **state)
{
    (void)state;
    vg_result_t r;
    make(&r);
    char *s = render(&r, table_ascii);
    /* header, rule, three rows, the count, then the sparklines */
    assert_non_null(strstr(s, "time                    model   p99(latency_s)    n  ok     note"));
    assert_non_null(strstr(s, "2026-11-27T03:14:00.5Z  gpt-4o                  -41  true   a, \"quoted\"\\nline"));
    assert_non_null(strstr(s, "(3 rows)\n"));
    assert_non_null(strstr(s, "model=gpt-4o  n  _=#\n"));
    free(s);
    vg_result_free(&r);
}

static void test_result_table_draws_histogram_cells_as_bars(void **state)
{
    (void)state;
    vg_result_t r;
    assert_int_equal(vg_result_init(&r, 2), 0);
    vg_result_col(&r, 0, "route", VG_TYPE_TAG);
    vg_result_col(&r, 1, "h", VG_TYPE_STRING);
    r.cols[1].histogram = 1;
    size_t row;
    assert_int_equal(vg_result_add_row(&r, &row), 0);
    vg_value_t v = {.s = {"qa", 2}};
    vg_result_set(&r, row, 0, &v);
    const char *h = "[0,5):10; [5,10]:20";
    v.s.p = h;
    v.s.len = (uint32_t)strlen(h);
    vg_result_set(&r, row, 1, &v);
    char *s = render(&r, table_ascii);
    assert_non_null(strstr(s, "\nh route=qa\n"));
    assert_non_null(strstr(s, "[0,5)         10 ####################\n"));
    assert_non_null(strstr(s, "[5,10]         20 ########################################\n"));
    free(s);
    vg_result_free(&r);
}

static void test_format_time_trims_the_fraction(void **state)
{
    (void)state;
    char b[64];
    vg_format_time(0, b, sizeof b);
    assert_string_equal(b, "1970-01-01T00:00:00Z");
    vg_format_time(1, b, sizeof b);
    assert_string_equal(b, "1970-01-01T00:00:00.000000001Z");
    vg_format_time(-1, b, sizeof b);
    assert_string_equal(b, "1969-12-31T23:59:59.999999999Z");
    vg_format_time(120000000, b, sizeof b);
    assert_string_equal(b, "1970-01-01T00:00:00.12Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_csv_follows_rfc4180_with_rfc3339_times),
        cmocka_unit_test(test_result_json_has_columns_rows_and_nulls),
        cmocka_unit_test(test_result_json_spells_windows_and_nonfinite_floats_apart),
        cmocka_unit_test(test_result_json_lists_pictures_apart_and_marks_histograms),
        cmocka_unit_test(test_result_table_aligns_and_draws_sparklines_for_windows),
        cmocka_unit_test(test_result_table_draws_histogram_cells_as_bars),
        cmocka_unit_test(test_format_time_trims_the_fraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
