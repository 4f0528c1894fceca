/*
 * fuzz_lp.c: libFuzzer target for the line-protocol parser (vg_lp.h).
 *
 * The input is a buffer of line protocol. The precision and, for one input
 * in seven, tight limits are chosen from the input's size, so the corpus
 * stays plain line protocol. Beyond memory safety (ASan, UBSan) the oracle
 * is a round trip: every accepted line, written back with vg_lp_escape,
 * vg_lp_format_float and a nanosecond timestamp, must parse again to the
 * same measurement, tags, fields (bit for bit) and timestamp. Every
 * rejected line must name a line and a column inside the input.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"
#include "vigil/vg_lp.h"

/* Grows a byte string; aborts when out of memory (the harness's memory). */
typedef struct lp_out {
    char *p;
    size_t len, cap;
} lp_out_t;

static char *lp_room(lp_out_t *o, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        char *np = realloc(o->p, cap);
        VG_FUZZ_CHECK(np != NULL, "harness out of memory");
        o->p = np;
        o->cap = cap;
    }
    return o->p + o->len;
}

static void lp_put(lp_out_t *o, const char *s, size_t n)
{
    memcpy(lp_room(o, n), s, n);
    o->len += n;
}

/* Append s unescaped, then escaped for its position (kind as vg_lp_escape). */
static void lp_put_name(lp_out_t *o, vg_lp_str_t s, char kind)
{
    char *raw = malloc(s.len + 1);
    VG_FUZZ_CHECK(raw != NULL, "harness out of memory");
    uint32_t n = vg_lp_unescape(s, kind == 's', raw);
    VG_FUZZ_CHECK(n <= s.len, "unescape grew %u -> %u", s.len, n);
    char *dst = lp_room(o, 2 * (size_t)n + 1);
    o->len += vg_lp_escape(raw, n, kind, dst);
    free(raw);
}

static void lp_put_value(lp_out_t *o, const vg_lp_field_t *f)
{
    char buf[64];
    int n = 0;
    switch (f->type) {
    case VG_TYPE_FLOAT:
        n = (int)vg_lp_format_float(f->v.f, buf);
        break;
    case VG_TYPE_INT:
        n = snprintf(buf, sizeof buf, "%" PRId64 "i", f->v.i);
        break;
    case VG_TYPE_UINT:
        n = snprintf(buf, sizeof buf, "%" PRIu64 "u", f->v.u);
        break;
    case VG_TYPE_BOOL:
        n = snprintf(buf, sizeof buf, "%s", f->v.b ? "true" : "false");
        break;
    case VG_TYPE_STRING:
        lp_put(o, "\"", 1);
        lp_put_name(o, f->str, 's');
        lp_put(o, "\"", 1);
        return;
    default:
        VG_FUZZ_CHECK(0, "field of type %d", (int)f->type);
    }
    lp_put(o, buf, (size_t)n);
}

/* Two slices hold the same bytes once unescaped. */
static int lp_same(vg_lp_str_t a, vg_lp_str_t b, int is_string)
{
    char *x = malloc(a.len + 1), *y = malloc(b.len + 1);
    VG_FUZZ_CHECK(x && y, "harness out of memory");
    uint32_t nx = vg_lp_unescape(a, is_string, x), ny = vg_lp_unescape(b, is_string, y);
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static void lp_compare(const vg_lp_line_t *a, const vg_lp_line_t *b, const char *text)
{
    VG_FUZZ_CHECK(lp_same(a->measurement, b->measurement, 0), "measurement of [%s]", text);
    VG_FUZZ_CHECK(a->ntags == b->ntags, "tags %u vs %u in [%s]", a->ntags, b->ntags, text);
    for (uint32_t i = 0; i < a->ntags; i++) {
        VG_FUZZ_CHECK(lp_same(a->tags[i].key, b->tags[i].key, 0), "tag key %u of [%s]", i, text);
        VG_FUZZ_CHECK(lp_same(a->tags[i].val, b->tags[i].val, 0), "tag value %u of [%s]", i, text);
    }
    VG_FUZZ_CHECK(a->nfields == b->nfields, "fields %u vs %u in [%s]", a->nfields, b->nfields,
                  text);
    for (uint32_t i = 0; i < a->nfields; i++) {
        const vg_lp_field_t *x = &a->fields[i], *y = &b->fields[i];
        VG_FUZZ_CHECK(lp_same(x->key, y->key, 0), "field key %u of [%s]", i, text);
        VG_FUZZ_CHECK(x->type == y->type, "field %u type %d vs %d in [%s]", i, (int)x->type,
                      (int)y->type, text);
        if (x->type == VG_TYPE_STRING)
            VG_FUZZ_CHECK(lp_same(x->str, y->str, 1), "string field %u of [%s]", i, text);
        else if (x->type == VG_TYPE_BOOL)
            VG_FUZZ_CHECK(!x->v.b == !y->v.b, "bool field %u of [%s]", i, text);
        else
            VG_FUZZ_CHECK(memcmp(&x->v.u, &y->v.u, 8) == 0, "value of field %u in [%s]", i, text);
    }
    VG_FUZZ_CHECK(a->has_ts == b->has_ts && (!a->has_ts || a->ts == b->ts),
                  "timestamp %" PRId64 " vs %" PRId64 " in [%s]", a->ts, b->ts, text);
}

/* Write ln back as one line and parse it again: the same line must come out. */
static void lp_round_trip(const vg_lp_line_t *ln, const vg_lp_limits_t *lim)
{
    lp_out_t o = {0};
    lp_put_name(&o, ln->measurement, 'm');
    for (uint32_t i = 0; i < ln->ntags; i++) {
        lp_put(&o, ",", 1);
        lp_put_name(&o, ln->tags[i].key, 'k');
        lp_put(&o, "=", 1);
        lp_put_name(&o, ln->tags[i].val, 'k');
    }
    for (uint32_t i = 0; i < ln->nfields; i++) {
        lp_put(&o, i ? "," : " ", 1);
        lp_put_name(&o, ln->fields[i].key, 'k');
        lp_put(&o, "=", 1);
        lp_put_value(&o, &ln->fields[i]);
    }
    if (ln->has_ts) {
        char ts[32];
        int n = snprintf(ts, sizeof ts, " %" PRId64, ln->ts);
        lp_put(&o, ts, (size_t)n);
    }
    lp_put(&o, "\0", 1); /* for the messages; not fed */
    vg_lp_limits_t big = *lim;
    big.max_line = big.max_string = 64u << 20; /* escapes and "1.0" make lines longer */
    vg_lp_parser_t p;
    vg_lp_init(&p, &big, VG_PREC_NS);
    vg_lp_feed(&p, o.p, o.len - 1);
    vg_lp_line_t *back = NULL;
    vg_lp_error_t e = {0};
    int rc = vg_lp_next(&p, &back, &e);
    VG_FUZZ_CHECK(rc == 1, "written back, [%s] does not parse (%d): column %u: %s", o.p, rc,
                  e.column, e.reason);
    lp_compare(ln, back, o.p);
    VG_FUZZ_CHECK(vg_lp_next(&p, &back, &e) == 0, "[%s] parses as more than one line", o.p);
    vg_lp_reset(&p);
    free(o.p);
}

int vg_fuzz_lp(const uint8_t *data, size_t size)
{
    static const vg_precision_t precs[] = {VG_PREC_NS, VG_PREC_US, VG_PREC_MS,
                                           VG_PREC_S,  VG_PREC_M,  VG_PREC_H};
    vg_lp_limits_t lim;
    vg_lp_limits_default(&lim);
    if (size % 7 == 0) { /* tight limits, so each limit's rejection is reached */
        lim.max_line = 64;
        lim.max_string = 8;
        lim.max_tags = 2;
        lim.max_fields = 3;
    }
    vg_lp_parser_t p;
    vg_lp_init(&p, &lim, precs[size % 6]);
    vg_lp_feed(&p, (const char *)data, size);
    uint64_t newlines = 0;
    for (size_t i = 0; i < size; i++)
        newlines += data[i] == '\n';
    for (;;) {
        vg_lp_line_t *ln = NULL;
        vg_lp_error_t e = {0};
        int rc = vg_lp_next(&p, &ln, &e);
        if (rc == 0)
            break;
        if (rc == 1) {
            VG_FUZZ_CHECK(ln->line >= (const char *)data &&
                              ln->line + ln->line_len <= (const char *)data + size,
                          "line outside the buffer");
            VG_FUZZ_CHECK(ln->nfields > 0, "a line without fields");
            lp_round_trip(ln, &lim);
        } else {
            VG_FUZZ_CHECK(rc == VG_EPARSE, "vg_lp_next returned %d", rc);
            VG_FUZZ_CHECK(e.lineno >= 1 && e.lineno <= newlines + 1, "error at line %llu of %llu",
                          (unsigned long long)e.lineno, (unsigned long long)newlines + 1);
            VG_FUZZ_CHECK(e.column >= 1 && e.reason[0], "error without a column or reason");
        }
    }
    vg_lp_reset(&p);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_lp(data, size);
}
#endif
