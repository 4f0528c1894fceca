/*
 * test_lp.c: the line-protocol parser against the grammar of
 * /work/shared/research/features.md (b): every rule, escape position, type,
 * limit and kind of bad line (with its line number and column), plus the
 * escape and float-format round trips. Float reference values come from the
 * C library's strtod, which is correctly rounded, not from our fast path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"
#include "vigil/vg_lp.h"

static vg_lp_parser_t P;
static vg_lp_line_t *L;
static vg_lp_error_t E;

static int setup(void **state)
{
    (void)state;
    vg_lp_init(&P, NULL, VG_PREC_NS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vg_lp_reset(&P);
    return 0;
}

/* Parse the first data line of text[0..len), numbering from line 1. */
static int next_n(const char *text, size_t len)
{
    P.lineno = 0;
    vg_lp_feed(&P, text, len);
    memset(&E, 0, sizeof E);
    L = NULL;
    return vg_lp_next(&P, &L, &E);
}

static int next_of(const char *text)
{
    return next_n(text, strlen(text));
}

static vg_lp_line_t *good(const char *text)
{
    int rc = next_of(text);
    if (rc != 1)
        fail_msg("rejected \"%s\": rc %d, column %u: %s", text, rc, E.column, E.reason);
    return L;
}

static void expect_bad_n(const char *text, size_t len, uint64_t lineno, uint32_t column,
                         const char *reason)
{
    int rc = next_n(text, len);
    if (rc != VG_EPARSE)
        fail_msg("accepted \"%s\" (rc %d)", text, rc);
    if (E.lineno != lineno || E.column != column || strstr(E.reason, reason) == NULL)
        fail_msg("\"%s\": got line %llu column %u \"%s\", want line %llu column %u \"%s\"", text,
                 (unsigned long long)E.lineno, E.column, E.reason, (unsigned long long)lineno,
                 column, reason);
}

static void expect_bad(const char *text, uint32_t column, const char *reason)
{
    expect_bad_n(text, strlen(text), 1, column, reason);
}

/* The slice with its escapes resolved, as a NUL-terminated string. */
static const char *unesc(vg_lp_str_t s, int is_string)
{
    static char buf[4][1024];
    static int which;
    char *b = buf[which++ % 4];
    assert_true(s.len < sizeof buf[0]);
    uint32_t n = vg_lp_unescape(s, is_string, b);
    b[n] = '\0';
    return b;
}

static const vg_lp_field_t *field(const vg_lp_line_t *l, const char *key)
{
    for (uint32_t i = 0; i < l->nfields; i++)
        if (strcmp(unesc(l->fields[i].key, 0), key) == 0)
            return &l->fields[i];
    fail_msg("no field %s", key);
    return NULL;
}

static double ref_strtod(const char *s)
{
    return strtod(s, NULL);
}

/* Bit for bit: -0.0 differs from 0.0 here. */
static void assert_same_double(double got, double want, const char *text)
{
    uint64_t g, w;
    memcpy(&g, &got, sizeof g);
    memcpy(&w, &want, sizeof w);
    if (g != w)
        fail_msg("%s: got %.17g, want %.17g", text, got, want);
}

/* ---- a whole line ------------------------------------------------------ */

static void test_lp_parses_a_typical_llm_request_line(void **state)
{
    (void)state;
    const char *text =
        "llm_request,service=support,env=prod,route=refund_qa,provider=openai,model=gpt-4o,"
        "prompt_ver=refund@v12,finish=stop latency_s=3.41,ttft_s=0.52,input_tokens=1020i,"
        "output_tokens=264i,cost_usd=0.00519,refusal=false,quality=0.86,request_id=\"r-9f2\" "
        "1732700000000000000\n";
    vg_lp_line_t *l = good(text);
    assert_int_equal(l->lineno, 1);
    assert_int_equal(l->line_len, strlen(text) - 1);
    assert_ptr_equal(l->line, text);
    assert_string_equal(unesc(l->measurement, 0), "llm_request");
    assert_int_equal(l->ntags, 7);
    const char *tk[] = {"service", "env", "route", "provider", "model", "prompt_ver", "finish"};
    const char *tv[] = {"support", "prod", "refund_qa", "openai", "gpt-4o", "refund@v12", "stop"};
    for (int i = 0; i < 7; i++) {
        assert_string_equal(unesc(l->tags[i].key, 0), tk[i]);
        assert_string_equal(unesc(l->tags[i].val, 0), tv[i]);
    }
    assert_int_equal(l->nfields, 8);
    assert_int_equal(field(l, "latency_s")->type, VG_TYPE_FLOAT);
    assert_true(field(l, "latency_s")->v.f == 3.41);
    assert_true(field(l, "cost_usd")->v.f == 0.00519);
    assert_int_equal(field(l, "input_tokens")->type, VG_TYPE_INT);
    assert_int_equal(field(l, "input_tokens")->v.i, 1020);
    assert_int_equal(field(l, "output_tokens")->v.i, 264);
    assert_int_equal(field(l, "refusal")->type, VG_TYPE_BOOL);
    assert_int_equal(field(l, "refusal")->v.b, 0);
    assert_int_equal(field(l, "request_id")->type, VG_TYPE_STRING);
    assert_string_equal(unesc(field(l, "request_id")->str, 1), "r-9f2");
    assert_int_equal(l->has_ts, 1);
    assert_int_equal(l->ts, INT64_C(1732700000000000000));
    assert_memory_equal(l->line + l->ts_off, "1732700000000000000", 19);
    assert_int_equal(l->series_raw.len, strchr(text, ' ') - text);
    assert_int_equal(vg_lp_next(&P, &L, &E), 0);
}

static void test_lp_series_raw_spans_measurement_and_tags(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("cpu,host=a,dc=x f=1");
    assert_int_equal(l->series_raw.len, 15);
    assert_memory_equal(l->series_raw.p, "cpu,host=a,dc=x", 15);
    assert_int_equal(l->series_raw.escaped, 0);
    l = good("cpu f=1");
    assert_int_equal(l->series_raw.len, 3);
    assert_int_equal(l->ntags, 0);
    l = good("cpu,h=a\\ b f=1");
    assert_int_equal(l->series_raw.escaped, 1);
}

static void test_lp_accepts_extra_spaces_between_sections(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("  cpu,t=a   f=1   123  ");
    assert_string_equal(unesc(l->measurement, 0), "cpu");
    assert_int_equal(l->ts, 123);
    l = good("\tcpu f=1 ");
    assert_int_equal(l->has_ts, 0);
    assert_int_equal(l->ts_off, 8);
}

static void test_lp_names_may_start_with_underscore(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("_m,_t=_v _f=1i");
    assert_string_equal(unesc(l->measurement, 0), "_m");
    assert_string_equal(unesc(l->tags[0].key, 0), "_t");
    assert_string_equal(unesc(l->fields[0].key, 0), "_f");
}

static void test_lp_accepts_utf8_everywhere(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("m\xC3\xA9t,k\xE2\x82\xAC=v\xF0\x9F\x98\x80 "
                           "f\xC3\xA9=\"\xF0\x9F\x98\x80 ok\" 1");
    assert_string_equal(unesc(l->measurement, 0), "m\xC3\xA9t");
    assert_string_equal(unesc(l->tags[0].key, 0), "k\xE2\x82\xAC");
    assert_string_equal(unesc(l->tags[0].val, 0), "v\xF0\x9F\x98\x80");
    assert_string_equal(unesc(l->fields[0].str, 1), "\xF0\x9F\x98\x80 ok");
}

/* ---- escapes ----------------------------------------------------------- */

static void test_lp_unescapes_each_name_position(void **state)
{
    (void)state;
    vg_lp_line_t *l =
        good("my\\ meas\\,ure=x,t\\ k\\=e\\,y=v\\ a\\=l\\, f\\ k\\=\\,=1 9");
    assert_int_equal(l->measurement.escaped, 1);
    assert_string_equal(unesc(l->measurement, 0), "my meas,ure=x");
    assert_string_equal(unesc(l->tags[0].key, 0), "t k=e,y");
    assert_string_equal(unesc(l->tags[0].val, 0), "v a=l,");
    assert_string_equal(unesc(l->fields[0].key, 0), "f k=,");
    assert_int_equal(l->ts, 9);
    /* '=' needs no escape in a measurement, but an escaped one reads the same */
    assert_string_equal(unesc(good("a\\=b,c=d f=1")->measurement, 0), "a=b");
}

static void test_lp_keeps_a_backslash_before_other_characters(void **state)
{
    (void)state;
    /* The docs' examples: \ is \, \\ is \, \\\ is \\, \\\\ is \\. */
    assert_string_equal(unesc(good("my\\meas f=1")->measurement, 0), "my\\meas");
    assert_string_equal(unesc(good("my\\\\meas f=1")->measurement, 0), "my\\meas");
    assert_string_equal(unesc(good("my\\\\\\meas f=1")->measurement, 0), "my\\\\meas");
    assert_string_equal(unesc(good("my\\\\\\\\meas f=1")->measurement, 0), "my\\\\meas");
    /* an escaped backslash does not escape the comma after it */
    vg_lp_line_t *l = good("cpu,t=a\\\\,u=b f=1");
    assert_int_equal(l->ntags, 2);
    assert_string_equal(unesc(l->tags[0].val, 0), "a\\");
    assert_string_equal(unesc(good("cpu,p=C:\\dir f=1")->tags[0].val, 0), "C:\\dir");
}

static void test_lp_keeps_quotes_literal_outside_string_values(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("cpu\"x=y,t=\"q\" 'f'=1");
    assert_string_equal(unesc(l->measurement, 0), "cpu\"x=y");
    assert_string_equal(unesc(l->tags[0].val, 0), "\"q\"");
    assert_string_equal(unesc(l->fields[0].key, 0), "'f'");
}

static void test_lp_parses_string_values_with_escapes(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("cpu s=\"a \\\"q\\\" b\\\\c\\d, e=f\" 1");
    const vg_lp_field_t *f = field(l, "s");
    assert_int_equal(f->type, VG_TYPE_STRING);
    assert_int_equal(f->str.escaped, 1);
    assert_string_equal(unesc(f->str, 1), "a \"q\" b\\c\\d, e=f");
    assert_int_equal(l->ts, 1);
    l = good("cpu s=\"\",t=\"x\\\\\"");
    assert_int_equal(field(l, "s")->str.len, 0);
    assert_int_equal(field(l, "s")->str.escaped, 0);
    assert_string_equal(unesc(field(l, "t")->str, 1), "x\\");
    l = good("cpu s=\"tab\there\"");
    assert_string_equal(unesc(field(l, "s")->str, 1), "tab\there");
}

static void test_lp_escapes_exactly_the_characters_of_each_position(void **state)
{
    (void)state;
    const char *raw = "a b,c=d\\e\"f";
    char out[64];
    size_t n = vg_lp_escape(raw, strlen(raw), 'm', out);
    out[n] = '\0';
    assert_string_equal(out, "a\\ b\\,c=d\\\\e\"f");
    n = vg_lp_escape(raw, strlen(raw), 'k', out);
    out[n] = '\0';
    assert_string_equal(out, "a\\ b\\,c\\=d\\\\e\"f");
    n = vg_lp_escape(raw, strlen(raw), 's', out);
    out[n] = '\0';
    assert_string_equal(out, "a b,c=d\\\\e\\\"f");
    /* unescaping keeps a backslash it does not recognise, in both modes */
    vg_lp_str_t s = {"x\\\"y\\,z\\q", 9, 1};
    n = vg_lp_unescape(s, 1, out);
    assert_memory_equal(out, "x\"y\\,z\\q", n);
    assert_int_equal(n, 8);
    n = vg_lp_unescape(s, 0, out);
    assert_memory_equal(out, "x\\\"y,z\\q", n);
    assert_int_equal(n, 8);
}

/* Random byte strings: unescape(escape(s)) == s for every position kind. */
static void test_lp_escape_and_unescape_are_inverses(void **state)
{
    (void)state;
    const char kinds[] = {'m', 'k', 's'};
    const char special[] = ",= \"\\#\ta";
    uint64_t x = 88172645463325252u;
    char src[64], esc[128], back[128];
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = (size_t)(iter % 40);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (x & 1)
                src[i] = special[(x >> 1) % 8];
            else
                src[i] = (char)(x >> 8);
        }
        char kind = kinds[iter % 3];
        size_t elen = vg_lp_escape(src, len, kind, esc);
        assert_true(elen <= 2 * len);
        vg_lp_str_t s = {esc, (uint32_t)elen, 1};
        uint32_t blen = vg_lp_unescape(s, kind == 's', back);
        assert_int_equal(blen, len);
        assert_memory_equal(back, src, len);
    }
}

static size_t rand_text(uint64_t *x, char *dst, size_t max)
{
    size_t len = 1 + (size_t)(*x % max);
    for (size_t i = 0; i < len; i++) {
        *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
        dst[i] = (char)(0x20 + (*x >> 11) % 95); /* printable ASCII */
    }
    if (dst[0] == '#')
        dst[0] = '_'; /* a line starting with '#' is a comment */
    return len;
}

/* Escaped names and values written into a line come back unchanged. */
static void test_lp_escaped_lines_parse_back_to_the_original_bytes(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15u;
    char raw[4][24], line[512];
    size_t rl[4];
    for (int iter = 0; iter < 5000; iter++) {
        for (int k = 0; k < 4; k++)
            rl[k] = rand_text(&x, raw[k], 20);
        size_t n = vg_lp_escape(raw[0], rl[0], 'm', line);
        line[n++] = ',';
        n += vg_lp_escape(raw[1], rl[1], 'k', line + n);
        memcpy(line + n, "=v f=\"", 6);
        n += 6;
        n += vg_lp_escape(raw[2], rl[2], 's', line + n);
        line[n++] = '"';
        line[n++] = ',';
        n += vg_lp_escape(raw[3], rl[3], 'k', line + n);
        memcpy(line + n, "=1i", 3);
        line[n + 3] = '\0';
        if (rl[1] == 4 && memcmp(raw[1], "time", 4) == 0)
            continue;
        if (rl[3] == 4 && memcmp(raw[3], "time", 4) == 0)
            continue;
        if (rl[3] == 1 && raw[3][0] == 'f')
            continue; /* a duplicate key would merge */
        vg_lp_line_t *l = good(line);
        assert_int_equal(l->nfields, 2);
        assert_memory_equal(unesc(l->measurement, 0), raw[0], rl[0]);
        assert_int_equal(strlen(unesc(l->measurement, 0)), rl[0]);
        assert_int_equal(strlen(unesc(l->tags[0].key, 0)), rl[1]);
        assert_memory_equal(unesc(l->tags[0].key, 0), raw[1], rl[1]);
        assert_int_equal(strlen(unesc(l->fields[0].str, 1)), rl[2]);
        assert_memory_equal(unesc(l->fields[0].str, 1), raw[2], rl[2]);
        assert_int_equal(strlen(unesc(l->fields[1].key, 0)), rl[3]);
        assert_memory_equal(unesc(l->fields[1].key, 0), raw[3], rl[3]);
    }
}

/* ---- types ------------------------------------------------------------- */

static void test_lp_parses_every_boolean_spelling(void **state)
{
    (void)state;
    const char *yes[] = {"t", "T", "true", "True", "TRUE"};
    const char *no[] = {"f", "F", "false", "False", "FALSE"};
    char line[64];
    for (int i = 0; i < 5; i++) {
        (void)snprintf(line, sizeof line, "m a=%s,b=%s", yes[i], no[i]);
        vg_lp_line_t *l = good(line);
        assert_int_equal(l->fields[0].type, VG_TYPE_BOOL);
        assert_int_equal(l->fields[0].v.b, 1);
        assert_int_equal(l->fields[1].type, VG_TYPE_BOOL);
        assert_int_equal(l->fields[1].v.b, 0);
    }
    /* a quoted boolean is a string */
    assert_int_equal(good("m a=\"true\"")->fields[0].type, VG_TYPE_STRING);
}

static void test_lp_rejects_other_boolean_spellings(void **state)
{
    (void)state;
    expect_bad("m a=tRUE", 5, "invalid boolean field value");
    expect_bad("m a=truex", 5, "invalid boolean field value");
    expect_bad("m a=Fals 1", 5, "invalid boolean field value");
    expect_bad("m a=1,b=tt", 9, "invalid boolean field value");
    expect_bad("m a=yes", 5, "invalid field value");
}

static void test_lp_parses_integer_and_unsigned_extremes(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("m a=9223372036854775807i,b=-9223372036854775808i,c=0i,d=-0i,"
                           "e=18446744073709551615u,g=0u,h=007i");
    assert_int_equal(field(l, "a")->type, VG_TYPE_INT);
    assert_true(field(l, "a")->v.i == INT64_MAX);
    assert_true(field(l, "b")->v.i == INT64_MIN);
    assert_true(field(l, "c")->v.i == 0);
    assert_true(field(l, "d")->v.i == 0);
    assert_int_equal(field(l, "e")->type, VG_TYPE_UINT);
    assert_true(field(l, "e")->v.u == UINT64_MAX);
    assert_true(field(l, "g")->v.u == 0);
    assert_true(field(l, "h")->v.i == 7);
}

static void test_lp_rejects_integers_out_of_range_by_one(void **state)
{
    (void)state;
    expect_bad("m a=9223372036854775808i", 5, "integer field value out of range");
    expect_bad("m a=-9223372036854775809i", 5, "integer field value out of range");
    expect_bad("m a=18446744073709551616u", 5, "unsigned integer field value out of range");
    expect_bad("m a=99999999999999999999999i", 5, "integer field value out of range");
    expect_bad("m a=-1u", 5, "negative unsigned integer");
    expect_bad("m a=-0u", 5, "negative unsigned integer");
}

static void test_lp_rejects_malformed_integers(void **state)
{
    (void)state;
    expect_bad("m a=1.5i", 5, "invalid integer field value");
    expect_bad("m a=1e5i", 5, "invalid integer field value");
    expect_bad("m a=-i", 5, "invalid integer field value");
    expect_bad("m a=0x10i", 5, "invalid integer field value");
    expect_bad("m a=+1i", 5, "invalid field value");
    expect_bad("m a=1.0u", 5, "invalid unsigned integer field value");
    expect_bad("m a=1iu", 5, "invalid unsigned integer field value");
    expect_bad("m a=i", 5, "invalid field value");
}

static void test_lp_parses_floats_exactly(void **state)
{
    (void)state;
    const char *lits[] = {
        "1", "-1", "1.", ".5", "-.5", "0", "-0", "-0.0", "1e5", "1E-5", "1.5e+3", "3.41",
        "0.00519", "0.1", "0.86", "123456789012345678901234567890", "9007199254740993",
        "9007199254740992", "123e25", "4.9e-324", "1e-320", "2.2250738585072014e-308",
        "2.2250738585072009e-308", "1.7976931348623157e308", "1e-400", "0e999999",
        "0.30000000000000004", "1e22", "1e23", "8.98846567431158e307", "007.5",
        "1000000000000000000000000000000000000000000000000e-49",
        "", /* filled below: a literal too long for the stack copy of the slow path */
    };
    char line[512], longlit[200];
    memset(longlit, '0', sizeof longlit);
    longlit[1] = '.';
    memcpy(longlit + 190, "1234e-5", 8);
    lits[sizeof lits / sizeof lits[0] - 1] = longlit;
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        (void)snprintf(line, sizeof line, "m v=%s", lits[i]);
        vg_lp_line_t *l = good(line);
        assert_int_equal(l->fields[0].type, VG_TYPE_FLOAT);
        assert_same_double(l->fields[0].v.f, ref_strtod(lits[i]), lits[i]);
    }
}

/* Random decimal literals of every shape against strtod, bit for bit. */
static void test_lp_parses_random_floats_like_strtod(void **state)
{
    (void)state;
    uint64_t x = 0xDEADBEEFCAFEF00Du;
    char lit[64], line[96];
    for (int iter = 0; iter < 200000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int ndig = 1 + (int)(x % 22), dot = (int)((x >> 8) % (unsigned)(ndig + 1));
        size_t n = 0;
        if (x & (1u << 20))
            lit[n++] = '-';
        uint64_t y = x;
        for (int d = 0; d < ndig; d++) {
            if (d == dot)
                lit[n++] = '.';
            y = y * 6364136223846793005u + 1442695040888963407u;
            lit[n++] = (char)('0' + (y >> 33) % 10);
        }
        if (x & (1u << 21))
            n += (size_t)snprintf(lit + n, sizeof lit - n, "e%d", (int)((x >> 24) % 660) - 330);
        lit[n] = '\0';
        double want = ref_strtod(lit);
        (void)snprintf(line, sizeof line, "m v=%s", lit);
        if (isinf(want)) {
            assert_int_equal(next_of(line), VG_EPARSE);
            continue;
        }
        vg_lp_line_t *l = good(line);
        assert_same_double(l->fields[0].v.f, want, lit);
    }
}

static void test_lp_rejects_nan_and_infinity(void **state)
{
    (void)state;
    expect_bad("m v=nan", 5, "NaN is not a valid field value");
    expect_bad("m v=NaN", 5, "NaN is not a valid field value");
    expect_bad("m v=-nan", 5, "NaN is not a valid field value");
    expect_bad("m v=nan(0x1)", 5, "NaN is not a valid field value");
    expect_bad("m a=1,v=inf", 9, "infinity is not a valid field value");
    expect_bad("m v=-Inf", 5, "infinity is not a valid field value");
    expect_bad("m v=+inf", 5, "infinity is not a valid field value");
    expect_bad("m v=Infinity", 5, "infinity is not a valid field value");
    expect_bad("m v=1e999", 5, "float field value out of range");
    expect_bad("m v=-1.8e308", 5, "float field value out of range");
    expect_bad("m v=1797693134862315807937289714053034245842624508085898837985910000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000000000000000000"
               "00000000000000000000000000000000000000000000000000000000000000000000000000000",
               5, "float field value out of range");
}

static void test_lp_rejects_malformed_floats(void **state)
{
    (void)state;
    expect_bad("m v=+1", 5, "invalid field value");
    expect_bad("m v=1.2.3", 5, "invalid number field value");
    expect_bad("m v=1e", 5, "invalid number field value");
    expect_bad("m v=1e+", 5, "invalid number field value");
    expect_bad("m v=-", 5, "invalid number field value");
    expect_bad("m v=.", 5, "invalid number field value");
    expect_bad("m v=1x", 5, "invalid number field value");
    expect_bad("m v=0x1p3", 5, "invalid number field value");
    expect_bad("m v=e5", 5, "invalid field value");
    expect_bad("m v=1\t2", 5, "invalid number field value");
    expect_bad("m v=1\r 5", 5, "invalid number field value");
}

/* ---- strings and limits ----------------------------------------------- */

static void test_lp_rejects_unterminated_strings(void **state)
{
    (void)state;
    expect_bad("m s=\"abc", 5, "unterminated string field value");
    expect_bad("m a=1,s=\"abc\\\"", 9, "unterminated string field value");
    expect_bad("m s=\"abc\"x", 10, "unexpected character after string field value");
    /* a raw newline ends the line, even inside quotes */
    expect_bad("m s=\"ab\ncd\"\n", 5, "unterminated string field value");
}

static void test_lp_enforces_the_string_limit(void **state)
{
    (void)state;
    vg_lp_limits_t lim;
    vg_lp_limits_default(&lim);
    lim.max_string = 5;
    vg_lp_reset(&P);
    vg_lp_init(&P, &lim, VG_PREC_NS);
    assert_int_equal(good("m s=\"12345\"")->fields[0].str.len, 5);
    expect_bad("m a=1,s=\"123456\"", 9, "string field value too long (6 bytes > 5 limit)");
}

static void test_lp_enforces_the_line_limit(void **state)
{
    (void)state;
    vg_lp_limits_t lim;
    vg_lp_limits_default(&lim);
    lim.max_line = 100;
    vg_lp_reset(&P);
    vg_lp_init(&P, &lim, VG_PREC_NS);
    char line[256];
    memset(line, 'x', sizeof line);
    memcpy(line, "m s=\"", 5);
    line[99] = '"'; /* exactly 100 bytes, plus CRLF that does not count */
    memcpy(line + 100, "\r\n", 3);
    assert_int_equal(good(line)->line_len, 100);
    line[99] = 'x';
    line[100] = '"';
    line[101] = '\0';
    expect_bad(line, 101, "line too long (101 bytes > 100 limit)");
}

static void test_lp_reports_a_line_over_the_default_limit_and_goes_on(void **state)
{
    (void)state;
    size_t n = 70000;
    char *text = malloc(n + 32);
    assert_non_null(text);
    memset(text, 'a', n);
    memcpy(text + n, "\ncpu f=1\n", 10);
    expect_bad_n(text, n + 9, 1, 65537, "line too long (70000 bytes > 65536 limit)");
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 2);
    free(text);
}

static void test_lp_limits_tags_and_fields(void **state)
{
    (void)state;
    vg_lp_limits_t lim;
    vg_lp_limits_default(&lim);
    assert_int_equal(lim.max_line, 65536);
    assert_int_equal(lim.max_string, 1048576);
    assert_int_equal(lim.max_tags, 256);
    assert_int_equal(lim.max_fields, 1024);
    lim.max_tags = 2;
    lim.max_fields = 3;
    vg_lp_reset(&P);
    vg_lp_init(&P, &lim, VG_PREC_NS);
    assert_int_equal(good("m,a=1,b=2 x=1,y=2,z=3")->nfields, 3);
    expect_bad("m,a=1,b=2,c=3 x=1", 11, "too many tags");
    expect_bad("m x=1,y=2,z=3,w=4", 15, "too many fields");
    /* a repeated field key does not count twice */
    assert_int_equal(good("m x=1,y=2,z=3,x=4")->nfields, 3);
}

static void test_lp_grows_its_arrays_for_many_tags_and_fields(void **state)
{
    (void)state;
    static char line[20000];
    size_t n = (size_t)snprintf(line, sizeof line, "m");
    for (int i = 0; i < 256; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, ",t%d=v%d", i, i);
    line[n++] = ' ';
    for (int i = 0; i < 1024; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%sf%d=%di", i ? "," : "", i, i);
    vg_lp_line_t *l = good(line);
    assert_int_equal(l->ntags, 256);
    assert_int_equal(l->nfields, 1024);
    assert_string_equal(unesc(l->tags[255].val, 0), "v255");
    assert_int_equal(l->fields[1023].v.i, 1023);
}

/* ---- structure errors -------------------------------------------------- */

static void test_lp_rejects_time_as_a_key(void **state)
{
    (void)state;
    expect_bad("m,a=1,time=x f=1", 7, "tag key 'time' is not allowed");
    expect_bad("m f=1,time=2", 7, "field key 'time' is not allowed");
    /* only the exact name: case and escapes make another key */
    assert_int_equal(good("m Time=1,times=2,ti\\me=3")->nfields, 3);
}

static void test_lp_rejects_bad_tag_sets(void **state)
{
    (void)state;
    expect_bad("m,t= f=1", 5, "empty tag value");
    expect_bad("m,t=,u=1 f=1", 5, "empty tag value");
    expect_bad("m,=v f=1", 3, "empty tag key");
    expect_bad("m, f=1", 3, "empty tag key");
    expect_bad("m,t f=1", 4, "missing '=' after tag key 't'");
    expect_bad("m,t=a=b f=1", 6, "unescaped '=' in tag value");
    expect_bad("m,host=a,dc=b,host=c f=1", 15, "duplicate tag key 'host'");
    expect_bad("m,a\\ b=1,a\\ b=2 f=1", 10, "duplicate tag key");
    expect_bad(",t=a f=1", 1, "missing measurement");
}

static void test_lp_rejects_bad_field_sets(void **state)
{
    (void)state;
    expect_bad("cpu", 4, "missing field set");
    expect_bad("cpu,t=a", 8, "missing field set");
    expect_bad("cpu,t=a   ", 11, "missing field set");
    expect_bad("cpu f", 6, "missing '=' after field key 'f'");
    expect_bad("cpu f,g=1", 6, "missing '=' after field key 'f'");
    expect_bad("cpu f=", 7, "missing value for field key 'f'");
    expect_bad("cpu f=,g=1", 7, "missing value for field key 'f'");
    expect_bad("cpu f= 1", 7, "missing value for field key 'f'");
    expect_bad("cpu =1", 5, "empty field key");
    expect_bad("cpu f=1,", 9, "empty field key");
    expect_bad("cpu f=1,,g=2", 9, "empty field key");
}

static void test_lp_keeps_the_last_value_of_a_repeated_field(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("m a=1,b=2i,a=\"x\" 5");
    assert_int_equal(l->nfields, 2);
    assert_string_equal(unesc(l->fields[0].key, 0), "a");
    assert_int_equal(l->fields[0].type, VG_TYPE_STRING);
    assert_string_equal(unesc(l->fields[0].str, 1), "x");
    assert_int_equal(l->fields[1].v.i, 2);
    /* the same name spelled with different escapes is the same key */
    l = good("m a\\\\b=1,a\\b=2");
    assert_int_equal(l->nfields, 1);
    assert_true(l->fields[0].v.f == 2.0);
}

/* ---- timestamps -------------------------------------------------------- */

static void test_lp_parses_optional_and_negative_timestamps(void **state)
{
    (void)state;
    vg_lp_line_t *l = good("m f=1");
    assert_int_equal(l->has_ts, 0);
    assert_int_equal(l->ts_off, 5);
    l = good("m f=1 -1732700000000000000");
    assert_int_equal(l->has_ts, 1);
    assert_true(l->ts == -INT64_C(1732700000000000000));
    assert_true(good("m f=1 9223372036854775806")->ts == INT64_MAX - 1);
    assert_true(good("m f=1 -9223372036854775806")->ts == INT64_MIN + 2);
    assert_true(good("m f=1 -0")->ts == 0);
}

static void test_lp_rejects_bad_timestamps_and_trailing_text(void **state)
{
    (void)state;
    expect_bad("m f=1 9223372036854775807", 7, "timestamp out of range");
    expect_bad("m f=1 -9223372036854775807", 7, "timestamp out of range");
    expect_bad("m f=1 99999999999999999999", 7, "timestamp out of range");
    expect_bad("m f=1 12a3", 9, "invalid timestamp");
    expect_bad("m f=1 1.5", 8, "invalid timestamp");
    expect_bad("m f=1 -", 8, "invalid timestamp");
    expect_bad("m f=1 x", 7, "invalid timestamp");
    expect_bad("m f=1 123 x", 11, "unexpected text after the timestamp");
    expect_bad("m f=1 123 456", 11, "unexpected text after the timestamp");
}

static void test_lp_converts_each_precision_to_nanoseconds(void **state)
{
    (void)state;
    const struct {
        vg_precision_t prec;
        int64_t factor;
        const char *max_ok, *min_bad;
    } cases[] = {
        {VG_PREC_NS, 1, "9223372036854775806", "9223372036854775807"},
        {VG_PREC_US, 1000, "9223372036854775", "9223372036854776"},
        {VG_PREC_MS, 1000000, "9223372036854", "9223372036855"},
        {VG_PREC_S, INT64_C(1000000000), "9223372036", "9223372037"},
        {VG_PREC_M, INT64_C(60000000000), "153722867", "153722868"},
        {VG_PREC_H, INT64_C(3600000000000), "2562047", "2562048"},
    };
    char line[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_lp_reset(&P);
        vg_lp_init(&P, NULL, cases[i].prec);
        assert_true(good("m f=1 -3")->ts == -3 * cases[i].factor);
        (void)snprintf(line, sizeof line, "m f=1 %s", cases[i].max_ok);
        assert_true(good(line)->ts == strtoll(cases[i].max_ok, NULL, 10) * cases[i].factor);
        (void)snprintf(line, sizeof line, "m f=1 %s", cases[i].min_bad);
        expect_bad(line, 7, "timestamp out of range");
        (void)snprintf(line, sizeof line, "m f=1 -%s", cases[i].min_bad);
        expect_bad(line, 7, "timestamp out of range");
    }
}

static void test_lp_parses_precision_names(void **state)
{
    (void)state;
    vg_precision_t p = VG_PREC_H;
    assert_int_equal(vg_lp_precision_parse("ns", 0, &p), 0);
    assert_int_equal(p, VG_PREC_NS);
    assert_int_equal(vg_lp_precision_parse("us", 0, &p), 0);
    assert_int_equal(p, VG_PREC_US);
    assert_int_equal(vg_lp_precision_parse("ms", 0, &p), 0);
    assert_int_equal(p, VG_PREC_MS);
    assert_int_equal(vg_lp_precision_parse("s", 0, &p), 0);
    assert_int_equal(p, VG_PREC_S);
    const char *v1only[] = {"n", "u", "\xC2\xB5", "m", "h"};
    const vg_precision_t v1p[] = {VG_PREC_NS, VG_PREC_US, VG_PREC_US, VG_PREC_M, VG_PREC_H};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(vg_lp_precision_parse(v1only[i], 0, &p), VG_EINVAL);
        assert_int_equal(vg_lp_precision_parse(v1only[i], 1, &p), 0);
        assert_int_equal(p, v1p[i]);
    }
    assert_int_equal(vg_lp_precision_parse("ms", 1, &p), 0);
    assert_int_equal(vg_lp_precision_parse("sec", 1, &p), VG_EINVAL);
    assert_int_equal(vg_lp_precision_parse("", 1, &p), VG_EINVAL);
    assert_int_equal(vg_lp_precision_parse(NULL, 1, &p), VG_EINVAL);
}

/* ---- bytes: UTF-8 and NUL ---------------------------------------------- */

static void test_lp_rejects_invalid_utf8(void **state)
{
    (void)state;
    expect_bad("m,t=\xC0\xAF f=1", 5, "invalid UTF-8");             /* overlong '/' */
    expect_bad("m,t=\xE0\x80\xAF f=1", 5, "invalid UTF-8");         /* overlong 3-byte */
    expect_bad("m,t=\xF0\x80\x80\xAF f=1", 5, "invalid UTF-8");     /* overlong 4-byte */
    expect_bad("m,t=\xED\xA0\x80 f=1", 5, "invalid UTF-8");         /* surrogate D800 */
    expect_bad("m,t=\xED\xBF\xBF f=1", 5, "invalid UTF-8");         /* surrogate DFFF */
    expect_bad("m,t=\xF4\x90\x80\x80 f=1", 5, "invalid UTF-8");     /* above U+10FFFF */
    expect_bad("m,t=\xF5\x80\x80\x80 f=1", 5, "invalid UTF-8");
    expect_bad("m,t=a\x80 f=1", 6, "invalid UTF-8");                /* stray continuation */
    expect_bad("m,t=\xE2\x82x f=1", 5, "invalid UTF-8");            /* truncated inside */
    expect_bad("m f=\"\xE2\x82", 6, "invalid UTF-8");               /* truncated at the end */
    expect_bad("m f=1 1\xFF", 8, "invalid UTF-8");
    /* past the 8-byte fast path, and after a valid multi-byte sequence */
    expect_bad("measurement,tag=\xC3\xA9\xC3\xA9" "abcdefgh\xC3 f=1", 29, "invalid UTF-8");
    /* the highest valid code points of each length are fine */
    good("m,t=\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xEE\x80\x80 f=1");
}

static void test_lp_rejects_a_nul_byte(void **state)
{
    (void)state;
    const char text[] = "m,t=a f=\"x\0y\"\nm f=2\n";
    expect_bad_n(text, sizeof text - 1, 1, 11, "NUL byte");
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 2);
    const char text2[] = "measurement_name,tag=value f=1 1\0";
    expect_bad_n(text2, sizeof text2 - 1, 1, 33, "NUL byte");
    const char text3[] = "measu\0rement f=1";
    expect_bad_n(text3, sizeof text3 - 1, 1, 6, "NUL byte");
}

/* ---- lines ------------------------------------------------------------- */

static void test_lp_counts_comments_and_blank_lines(void **state)
{
    (void)state;
    const char *text = "# header\n\n   \n\t# indented \xFF comment\n\r\ncpu f=1\n\n#x\ncpu f=2\n";
    assert_int_equal(next_of(text), 1);
    assert_int_equal(L->lineno, 6);
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 9);
    assert_int_equal(vg_lp_next(&P, &L, &E), 0);
    assert_int_equal(P.lineno, 9);
    assert_int_equal(next_of("# only a comment"), 0);
    assert_int_equal(next_of(""), 0);
}

static void test_lp_strips_crlf_and_parses_a_last_line_without_newline(void **state)
{
    (void)state;
    const char *text = "cpu f=1\r\ncpu f=2 5\r\ncpu f=3 7";
    assert_int_equal(next_of(text), 1);
    assert_int_equal(L->line_len, 7);
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->ts, 5);
    assert_int_equal(L->line_len, 9);
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->ts, 7);
    assert_int_equal(L->lineno, 3);
    assert_int_equal(vg_lp_next(&P, &L, &E), 0);
    /* only the '\r' right before the end of the line goes */
    assert_int_equal(good("cpu s=\"a\rb\"\r\n")->fields[0].str.len, 3);
}

static void test_lp_numbers_lines_across_buffers(void **state)
{
    (void)state;
    const char *a = "cpu f=1\n\ncpu f=2\n", *b = "cpu f=3\nbad\n";
    vg_lp_feed(&P, a, strlen(a));
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 3);
    assert_int_equal(vg_lp_next(&P, &L, &E), 0);
    vg_lp_feed(&P, b, strlen(b));
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 4);
    assert_int_equal(vg_lp_next(&P, &L, &E), VG_EPARSE);
    assert_int_equal(E.lineno, 5);
    P.lineno = 0; /* the caller restarts the numbering */
    vg_lp_feed(&P, b, strlen(b));
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 1);
}

static void test_lp_continues_after_a_bad_line(void **state)
{
    (void)state;
    const char *text = "cpu f=nan\ncpu f=1\n  cpu,t= f=1\ncpu f=2 9\ncpu f=\"open";
    assert_int_equal(next_of(text), VG_EPARSE);
    assert_int_equal(E.lineno, 1);
    assert_int_equal(E.column, 7);
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 2);
    assert_int_equal(vg_lp_next(&P, &L, &E), VG_EPARSE);
    assert_int_equal(E.lineno, 3);
    assert_int_equal(E.column, 9);
    assert_string_equal(E.reason, "empty tag value for tag key 't'");
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 4);
    assert_int_equal(L->ts, 9);
    assert_int_equal(vg_lp_next(&P, &L, &E), VG_EPARSE);
    assert_int_equal(E.lineno, 5);
    assert_int_equal(E.column, 7);
    assert_int_equal(vg_lp_next(&P, &L, &E), 0);
}

#ifdef VG_TESTING
static void test_lp_reports_enomem_when_its_arrays_cannot_grow(void **state)
{
    (void)state;
    vg_lp_reset(&P);
    vg_lp_init(&P, NULL, VG_PREC_NS);
    const char *text = "cpu,a=1 f=1\ncpu,a=1 f=1\n";
    vg_lp_feed(&P, text, strlen(text));
    vg_alloc_fail_after(1, 1);
    int rc = vg_lp_next(&P, &L, &E);
    vg_alloc_fail_after(0, 0);
    assert_int_equal(rc, VG_ENOMEM);
    assert_int_equal(E.lineno, 1);
    assert_int_equal(vg_lp_next(&P, &L, &E), 1);
    assert_int_equal(L->lineno, 2);
}
#endif

/* ---- float formatting -------------------------------------------------- */

static void check_format(double v)
{
    char buf[32], line[64];
    size_t n = vg_lp_format_float(v, buf);
    assert_int_equal(n, strlen(buf));
    assert_true(n < 32);
    assert_non_null(strpbrk(buf, ".en"));
    assert_same_double(strtod(buf, NULL), v, buf);
    (void)snprintf(line, sizeof line, "m v=%s", buf);
    assert_same_double(good(line)->fields[0].v.f, v, buf);
    /* shortest: one digit fewer never reads back */
    char shorter[40], digits[40];
    int nd = 0, sig;
    for (const char *q = buf; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    while (nd > 0 && digits[nd - 1] == '0')
        nd--;
    int lead = 0;
    while (lead < nd && digits[lead] == '0')
        lead++;
    sig = nd - lead;
    if (sig > 1 && sig <= 17 && v != 0) {
        (void)snprintf(shorter, sizeof shorter, "%.*g", sig - 1, v);
        if (strtod(shorter, NULL) == v)
            fail_msg("%s is not the shortest: %s reads back too", buf, shorter);
    }
}

static void test_lp_formats_floats_shortest_and_exact(void **state)
{
    (void)state;
    char buf[32];
    vg_lp_format_float(0.1, buf);
    assert_string_equal(buf, "0.1");
    vg_lp_format_float(1.0, buf);
    assert_string_equal(buf, "1.0");
    vg_lp_format_float(-0.0, buf);
    assert_string_equal(buf, "-0.0");
    vg_lp_format_float(0.30000000000000004, buf);
    assert_string_equal(buf, "0.30000000000000004");
    vg_lp_format_float(4.9e-324, buf);
    assert_string_equal(buf, "5e-324");
    vg_lp_format_float(1e21, buf);
    assert_string_equal(buf, "1e+21");
    vg_lp_format_float(NAN, buf);
    assert_string_equal(buf, "NaN");
    vg_lp_format_float(INFINITY, buf);
    assert_string_equal(buf, "+Inf");
    vg_lp_format_float(-INFINITY, buf);
    assert_string_equal(buf, "-Inf");
    const double special[] = {0.0,     -0.0,    DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324,
                              -4.9e-324, 2.2250738585072009e-308, 1.0 / 3, 123456789.125,
                              9007199254740993.0, 3.41, 0.00519, 1e23, 1e-310,
                              2.5e-320, -1e-315, 0x1p-1022, 0x1p1023};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        check_format(special[i]);
    uint64_t x = 0x0123456789ABCDEFu;
    for (int iter = 0; iter < 50000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (isfinite(v))
            check_format(v);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_lp_parses_a_typical_llm_request_line),
        T(test_lp_series_raw_spans_measurement_and_tags),
        T(test_lp_accepts_extra_spaces_between_sections),
        T(test_lp_names_may_start_with_underscore),
        T(test_lp_accepts_utf8_everywhere),
        T(test_lp_unescapes_each_name_position),
        T(test_lp_keeps_a_backslash_before_other_characters),
        T(test_lp_keeps_quotes_literal_outside_string_values),
        T(test_lp_parses_string_values_with_escapes),
        T(test_lp_escapes_exactly_the_characters_of_each_position),
        T(test_lp_escape_and_unescape_are_inverses),
        T(test_lp_escaped_lines_parse_back_to_the_original_bytes),
        T(test_lp_parses_every_boolean_spelling),
        T(test_lp_rejects_other_boolean_spellings),
        T(test_lp_parses_integer_and_unsigned_extremes),
        T(test_lp_rejects_integers_out_of_range_by_one),
        T(test_lp_rejects_malformed_integers),
        T(test_lp_parses_floats_exactly),
        T(test_lp_parses_random_floats_like_strtod),
        T(test_lp_rejects_nan_and_infinity),
        T(test_lp_rejects_malformed_floats),
        T(test_lp_rejects_unterminated_strings),
        T(test_lp_enforces_the_string_limit),
        T(test_lp_enforces_the_line_limit),
        T(test_lp_reports_a_line_over_the_default_limit_and_goes_on),
        T(test_lp_limits_tags_and_fields),
        T(test_lp_grows_its_arrays_for_many_tags_and_fields),
        T(test_lp_rejects_time_as_a_key),
        T(test_lp_rejects_bad_tag_sets),
        T(test_lp_rejects_bad_field_sets),
        T(test_lp_keeps_the_last_value_of_a_repeated_field),
        T(test_lp_parses_optional_and_negative_timestamps),
        T(test_lp_rejects_bad_timestamps_and_trailing_text),
        T(test_lp_converts_each_precision_to_nanoseconds),
        T(test_lp_parses_precision_names),
        T(test_lp_rejects_invalid_utf8),
        T(test_lp_rejects_a_nul_byte),
        T(test_lp_counts_comments_and_blank_lines),
        T(test_lp_strips_crlf_and_parses_a_last_line_without_newline),
        T(test_lp_numbers_lines_across_buffers),
        T(test_lp_continues_after_a_bad_line),
#ifdef VG_TESTING
        T(test_lp_reports_enomem_when_its_arrays_cannot_grow),
#endif
        T(test_lp_formats_floats_shortest_and_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
