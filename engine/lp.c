/*
 * lp.c: the InfluxDB line-protocol parser (vg_lp.h), the hottest path of
 * Vigil's ingest. (Resolving escapes and formatting floats, the writing
 * side, is in lp_format.c.)
 *
 * How a buffer is consumed: memchr finds the end of the next physical line;
 * the line counter moves on for every line, blank and comment lines too
 * (comments are skipped unchecked). A data line is then checked as a whole
 * (length limit, UTF-8 and NUL bytes, with an 8-bytes-at-a-time ASCII fast
 * path) before the grammar is applied, so the grammar code only ever sees
 * valid UTF-8 without NULs, and can stop at ASCII delimiters without caring
 * about multi-byte sequences. Names are scanned 8 bytes at a time for their
 * delimiters; duplicate keys are looked for only when a 64-bit filter of the
 * keys seen on the line says a repeat is possible.
 *
 * Invariants:
 *  - Nothing is allocated per line: the tag and field arrays of the parser
 *    grow geometrically and are reused; names and values are slices of the
 *    caller's buffer. The only other allocation is a scratch copy for a float
 *    literal longer than 127 bytes (strtod needs a NUL-terminated string).
 *  - Escapes are never resolved while parsing. A backslash always makes the
 *    scanner skip the byte after it; vg_lp_unescape() resolves the pairs
 *    that mean something (`\,` `\=` `\ ` `\\` in names and tag values,
 *    `\"` `\\` in string values) and keeps any other backslash, which is
 *    consistent with the scanner because a backslash is itself escapable.
 *  - Every rejection reports the 1-based line number, the 1-based byte
 *    column of the offending byte, and a reason naming what was wrong; the
 *    parser has already moved past the line, so the next call continues.
 *  - Numbers are validated against the strict line-protocol grammar before
 *    any conversion, so strtod only ever sees a plain decimal literal (no
 *    hex, no "inf", no leading '+'). strtod assumes the "C" locale.
 */
#include "vigil/vg_lp.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

/* ---- character classes ------------------------------------------------ */

enum {
    C_STOP_M = 1, /* ends a measurement: ',' ' ' (and '\\' to look at) */
    C_STOP_K = 2, /* ends a key or tag value: ',' '=' ' ' (and '\\') */
    C_STOP_V = 4, /* ends an unquoted field value or timestamp: ',' ' ' */
    C_DIGIT = 8,
};

static const uint8_t cls[256] = {
    [','] = C_STOP_M | C_STOP_K | C_STOP_V,
    [' '] = C_STOP_M | C_STOP_K | C_STOP_V,
    ['='] = C_STOP_K,
    ['\\'] = C_STOP_M | C_STOP_K,
    ['0'] = C_DIGIT, ['1'] = C_DIGIT, ['2'] = C_DIGIT, ['3'] = C_DIGIT, ['4'] = C_DIGIT,
    ['5'] = C_DIGIT, ['6'] = C_DIGIT, ['7'] = C_DIGIT, ['8'] = C_DIGIT, ['9'] = C_DIGIT,
};

#define CLS(c) (cls[(unsigned char)(c)])

/* Timestamps outside this range are rejected, as InfluxDB does
 * (models.MinNanoTime / MaxNanoTime). */
#define TS_MIN (INT64_MIN + 2)
#define TS_MAX (INT64_MAX - 1)

static const int64_t prec_factor[] = {
    [VG_PREC_NS] = 1,
    [VG_PREC_US] = 1000,
    [VG_PREC_MS] = 1000000,
    [VG_PREC_S] = INT64_C(1000000000),
    [VG_PREC_M] = INT64_C(60000000000),
    [VG_PREC_H] = INT64_C(3600000000000),
};

/* ---- small public helpers --------------------------------------------- */

int vg_lp_precision_parse(const char *name, int v1, vg_precision_t *out)
{
    static const struct {
        const char *name;
        vg_precision_t prec;
        int v1_only;
    } names[] = {
        {"ns", VG_PREC_NS, 0}, {"us", VG_PREC_US, 0}, {"ms", VG_PREC_MS, 0},
        {"s", VG_PREC_S, 0},   {"n", VG_PREC_NS, 1},  {"u", VG_PREC_US, 1},
        {"\xC2\xB5", VG_PREC_US, 1}, {"m", VG_PREC_M, 1}, {"h", VG_PREC_H, 1},
    };
    if (name == NULL)
        return VG_EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((!names[i].v1_only || v1) && strcmp(name, names[i].name) == 0) {
            if (out)
                *out = names[i].prec;
            return VG_OK;
        }
    }
    return VG_EINVAL;
}

void vg_lp_limits_default(vg_lp_limits_t *lim)
{
    lim->max_line = 64u * 1024u;
    lim->max_string = 1024u * 1024u;
    lim->max_tags = 256;
    lim->max_fields = 1024;
}

void vg_lp_init(vg_lp_parser_t *p, const vg_lp_limits_t *lim, vg_precision_t precision)
{
    memset(p, 0, sizeof *p);
    if (lim)
        p->lim = *lim;
    else
        vg_lp_limits_default(&p->lim);
    p->precision = precision;
}

/* Frees the arrays and forgets the buffer; limits and precision are kept so
 * the parser can be fed again. */
void vg_lp_reset(vg_lp_parser_t *p)
{
    vg_lp_limits_t lim = p->lim;
    vg_precision_t prec = p->precision;
    vg_free(p->tags);
    vg_free(p->fields);
    vg_lp_init(p, &lim, prec);
}

void vg_lp_feed(vg_lp_parser_t *p, const char *buf, size_t len)
{
    p->buf = buf;
    p->len = buf ? len : 0;
    p->pos = 0;
}

/* ---- error reporting -------------------------------------------------- */

/* The line being parsed, passed down the grammar functions. */
typedef struct lpctx {
    vg_lp_parser_t *p;
    const char *s; /* line start */
    size_t n;      /* line length */
    vg_lp_error_t *e;
    /* One bit per tag (field) key seen on this line, see key_bit(): a key
     * whose bit is clear cannot repeat an earlier one, so the search for a
     * duplicate is skipped. All ones once a key holds an escape. */
    uint64_t tag_bits, field_bits;
} lpctx_t;

__attribute__((format(printf, 3, 4))) static int bad_at(const lpctx_t *c, size_t off,
                                                        const char *fmt, ...)
{
    if (c->e) {
        c->e->lineno = c->p->lineno;
        c->e->column = (uint32_t)(off + 1);
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(c->e->reason, sizeof c->e->reason, fmt, ap);
        va_end(ap);
    }
    return VG_EPARSE;
}

static int nomem_at(const lpctx_t *c, size_t off, const char *what)
{
    (void)bad_at(c, off, "out of memory growing the %s array", what);
    return VG_ENOMEM;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/*
 * Offset of the first byte that is NUL or starts an invalid UTF-8 sequence
 * (overlong, surrogate, above U+10FFFF, truncated, stray continuation), or n
 * when the whole line is clean. Eight ASCII non-NUL bytes are skipped at a
 * time: a byte in 1..0x7f neither has its top bit set nor borrows when one
 * is subtracted from it, so the test below is zero exactly for such words.
 */
/* Length of the valid multi-byte sequence at s[0] (lead byte >= 0x80), or 0.
 * The second byte's range excludes overlongs (E0, F0), surrogates (ED) and
 * code points above U+10FFFF (F4). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (avail < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

static size_t utf8_check(const unsigned char *s, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((((w - ones) | w) & highs) == 0) {
                i += 8;
                continue;
            }
        }
        size_t len = s[i] == 0 ? 0 : s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i);
        if (len == 0)
            return i;
        i += len;
    }
    return n;
}

/* ---- names ------------------------------------------------------------ */

/* Bit set in the top of each byte of w that equals the byte in pat
 * (exact for the lowest such byte; bytes above it may show false hits). */
static inline uint64_t bytes_eq(uint64_t w, uint64_t pat)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    uint64_t x = w ^ pat;
    return (x - ones) & ~x & highs;
}

#define BYTES(c) (UINT64_C(0x0101010101010101) * (unsigned char)(c))

/* Index of the first byte of class `stop` in s[i..n): eight at a time while
 * eight remain, so a typical tag key or value takes one step. */
static inline size_t scan_stop(const char *s, size_t i, size_t n, unsigned stop)
{
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t hit = bytes_eq(w, BYTES(',')) | bytes_eq(w, BYTES(' ')) |
                       bytes_eq(w, BYTES('\\'));
        if (stop & C_STOP_K & ~C_STOP_M)
            hit |= bytes_eq(w, BYTES('='));
        if (hit)
            return i + (size_t)(__builtin_ctzll(hit) >> 3); /* little-endian */
        i += 8;
    }
    while (i < n && !(CLS(s[i]) & stop))
        i++;
    return i;
}

/* Index of the first unescaped byte of class `stop` at or after i (or n);
 * *esc becomes non-zero when a backslash was skipped. */
static inline size_t scan_name(const char *s, size_t i, size_t n, unsigned stop, uint32_t *esc)
{
    for (;;) {
        i = scan_stop(s, i, n, stop);
        if (i >= n || s[i] != '\\')
            return i;
        *esc = 1;
        i = n - i > 2 ? i + 2 : n;
    }
}

/* The next byte of a name or tag value with its escape resolved, or -1. */
static inline int name_next(const char **pp, const char *end)
{
    const char *q = *pp;
    if (q >= end)
        return -1;
    if (q[0] == '\\' && end - q > 1 &&
        (q[1] == ',' || q[1] == '=' || q[1] == ' ' || q[1] == '\\')) {
        *pp = q + 2;
        return (unsigned char)q[1];
    }
    *pp = q + 1;
    return (unsigned char)q[0];
}

static int names_equal_escaped(const vg_lp_str_t *a, const vg_lp_str_t *b)
{
    const char *pa = a->p, *ea = a->p + a->len, *pb = b->p, *eb = b->p + b->len;
    for (;;) {
        int ca = name_next(&pa, ea), cb = name_next(&pb, eb);
        if (ca != cb)
            return 0;
        if (ca < 0)
            return 1;
    }
}

/* Do two names mean the same bytes once their escapes are resolved? */
static inline int names_equal(const vg_lp_str_t *a, const vg_lp_str_t *b)
{
    if (!(a->escaped | b->escaped))
        return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
    return names_equal_escaped(a, b);
}

static inline int name_is_time(const vg_lp_str_t *k)
{
    static const vg_lp_str_t time_name = {"time", 4, 0};
    return names_equal(k, &time_name);
}

/* The bit of a key in lpctx_t.tag_bits / field_bits: equal raw names get
 * equal bits. */
static inline uint64_t key_bit(const vg_lp_str_t *k)
{
    unsigned h = k->len * 7u + (unsigned char)k->p[0] * 3u + (unsigned char)k->p[k->len - 1];
    return k->escaped ? ~UINT64_C(0) : UINT64_C(1) << (h & 63);
}

/* Slices are written member by member straight into their final place: a
 * struct built on the stack and copied costs store-forwarding stalls here. */
static inline void set_str(vg_lp_str_t *d, const char *p, size_t len, uint32_t esc)
{
    d->p = p;
    d->len = (uint32_t)len;
    d->escaped = esc;
}

/* Grow one of the parser's arrays to hold at least `need` entries. */
static int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need)
{
    uint32_t nc = *cap ? *cap : 8;
    while (nc < need)
        nc = nc > UINT32_MAX / 2 ? need : nc * 2;
    void *np = vg_realloc(*arr, (size_t)nc * elem);
    if (np == NULL)
        return VG_ENOMEM;
    *arr = np;
    *cap = nc;
    return VG_OK;
}

/* ---- tags ------------------------------------------------------------- */

/* Room for one more tag, within the limit. */
static int reserve_tag(lpctx_t *c, size_t k0)
{
    vg_lp_parser_t *p = c->p;
    uint32_t n = p->line.ntags;
    if (n >= p->lim.max_tags)
        return bad_at(c, k0, "too many tags (more than the limit of %u)", p->lim.max_tags);
    if (n >= p->tag_cap && grow((void **)&p->tags, &p->tag_cap, sizeof *p->tags, n + 1) != VG_OK)
        return nomem_at(c, k0, "tag");
    return VG_OK;
}

/* The key of the tag just scanned must be neither "time" nor a repeat. */
static int check_tag_key(lpctx_t *c, size_t k0, const vg_lp_str_t *key)
{
    const vg_lp_tag_t *tags = c->p->tags;
    uint64_t bit = key_bit(key);
    if (name_is_time(key))
        return bad_at(c, k0, "tag key 'time' is not allowed");
    int maybe_seen = (c->tag_bits & bit) != 0;
    c->tag_bits |= bit;
    for (uint32_t t = 0; maybe_seen && t < c->p->line.ntags; t++)
        if (names_equal(&tags[t].key, key))
            return bad_at(c, k0, "duplicate tag key '%.*s'", (int)key->len, key->p);
    return VG_OK;
}

/* At s[*pi] == ','; on success *pi is at the space ending the tag set or at
 * the end of the line. */
static int parse_tags(lpctx_t *c, size_t *pi)
{
    const char *s = c->s;
    size_t n = c->n, i = *pi;
    while (i < n && s[i] == ',') {
        size_t k0 = ++i;
        uint32_t kesc = 0, vesc = 0;
        int rc = reserve_tag(c, k0);
        if (rc != VG_OK)
            return rc;
        assert(c->p->tags != NULL); /* the array exists once tag_cap > 0 */
        vg_lp_tag_t *t = &c->p->tags[c->p->line.ntags];
        i = scan_name(s, i, n, C_STOP_K, &kesc);
        if (i == k0)
            return bad_at(c, i, "empty tag key");
        if (i >= n || s[i] != '=')
            return bad_at(c, i, "missing '=' after tag key '%.*s'", (int)(i - k0), s + k0);
        size_t v0 = ++i;
        i = scan_name(s, i, n, C_STOP_K, &vesc);
        if (i == v0)
            return bad_at(c, i, "empty tag value for tag key '%.*s'", (int)(v0 - 1 - k0), s + k0);
        if (i < n && s[i] == '=')
            return bad_at(c, i, "unescaped '=' in tag value");
        set_str(&t->key, s + k0, v0 - 1 - k0, kesc);
        set_str(&t->val, s + v0, i - v0, vesc);
        if ((rc = check_tag_key(c, k0, &t->key)) != VG_OK)
            return rc;
        c->p->line.ntags++;
    }
    *pi = i;
    return VG_OK;
}

/* ---- numbers ---------------------------------------------------------- */

enum num_status {
    NUM_OK = 0,
    NUM_BAD,       /* not a number of the line-protocol grammar */
    NUM_RANGE,     /* integer out of range */
    NUM_NEG_UINT,  /* '-' before an unsigned integer */
    NUM_OVERFLOW,  /* float beyond DBL_MAX */
    NUM_NOMEM,
};

/* Decimal digits only, at least one; NUM_RANGE past UINT64_MAX. */
static int parse_u64(const char *q, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    if (q == end)
        return NUM_BAD;
    /* 19 digits stay below 10^19 < 2^64: no overflow check needed */
    for (const char *safe = end - q > 19 ? q : end; q < safe; q++) {
        unsigned d = (unsigned)(unsigned char)*q - '0';
        if (d > 9)
            return NUM_BAD;
        v = v * 10 + d;
    }
    for (; q < end; q++) {
        unsigned d = (unsigned)(unsigned char)*q - '0';
        if (d > 9)
            return NUM_BAD;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
            return NUM_RANGE;
    }
    *out = v;
    return NUM_OK;
}

/* "-12i", "12u": t[0..len) without the suffix. */
static int parse_integer(const char *t, size_t len, char suffix, vg_lp_field_t *f)
{
    int neg = len > 0 && t[0] == '-';
    uint64_t v;
    int rc = parse_u64(t + neg, t + len, &v);
    if (rc != NUM_OK)
        return rc;
    if (suffix == 'u') {
        if (neg)
            return NUM_NEG_UINT;
        f->type = VG_TYPE_UINT;
        f->v.u = v;
        return NUM_OK;
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return NUM_RANGE;
    f->type = VG_TYPE_INT;
    f->v.i = neg ? (v ? -(int64_t)(v - 1) - 1 : 0) : (int64_t)v;
    return NUM_OK;
}

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define MANT_MAX (UINT64_C(1) << 53)

/*
 * Clinger's fast path: a mantissa of at most 2^53 and a power of ten up to 1e22
 * are both exact doubles, so one correctly rounded multiply or divide gives
 * the correctly rounded result. Returns 0 when the slow path is needed.
 */
static int float_fast(uint64_t mant, int exp10, double *out)
{
    if (mant > MANT_MAX)
        return 0;
    if (exp10 >= 0 && exp10 <= 22) {
        *out = (double)mant * pow10_exact[exp10];
        return 1;
    }
    if (exp10 < 0 && exp10 >= -22) {
        *out = (double)mant / pow10_exact[-exp10];
        return 1;
    }
    /* 123e25 is 123000e22: move zeros into the mantissa while it stays exact */
    if (exp10 > 22 && exp10 <= 22 + 15) {
        for (; exp10 > 22; exp10--) {
            mant *= 10;
            if (mant > MANT_MAX)
                return 0;
        }
        *out = (double)mant * pow10_exact[22];
        return 1;
    }
    return 0;
}

/* strtod on a NUL-terminated copy of a literal already checked by the grammar. */
static int float_slow(const char *t, size_t len, double *out)
{
    char stack[128];
    char *tmp = len < sizeof stack ? stack : vg_malloc(len + 1);
    if (tmp == NULL)
        return NUM_NOMEM;
    memcpy(tmp, t, len);
    tmp[len] = '\0';
    *out = strtod(tmp, NULL);
    if (tmp != stack)
        vg_free(tmp);
    return NUM_OK;
}

/* Digits of a decimal literal: up to 19 significant digits go into *mant
 * (frac: each lowers *exp10); beyond that, integer digits raise *exp10 and a
 * non-zero digit sets *trunc. Returns the first non-digit. */
static const char *scan_digits(const char *q, const char *end, int frac, uint64_t *mant,
                               int *nsig, int *exp10, unsigned *trunc)
{
    for (; q < end && (CLS(*q) & C_DIGIT); q++) {
        unsigned d = (unsigned)(*q - '0');
        if (*nsig < 19) {
            *mant = *mant * 10 + d;
            *nsig += *mant != 0;
            *exp10 -= frac;
        } else {
            *exp10 += !frac;
            *trunc |= d;
        }
    }
    return q;
}

/* The exponent after 'e': [+-]?digits+, clamped far beyond any double.
 * Returns the first byte after it, or NULL when there is no digit. */
static const char *scan_exponent(const char *q, const char *end, int *exp10)
{
    int neg = 0, e = 0;
    if (q < end && (*q == '+' || *q == '-'))
        neg = *q++ == '-';
    const char *d0 = q;
    for (; q < end && (CLS(*q) & C_DIGIT); q++)
        if (e < 100000)
            e = e * 10 + (*q - '0');
    *exp10 += neg ? -e : e;
    return q == d0 ? NULL : q;
}

/* -?digits*[.digits*]([eE][+-]?digits+)? with at least one mantissa digit. */
static int parse_float(const char *t, size_t len, double *out)
{
    const char *q = t, *end = t + len;
    int neg = *q == '-';
    q += neg;
    uint64_t mant = 0;
    int nsig = 0, exp10 = 0;
    unsigned trunc = 0;
    const char *d0 = q;
    q = scan_digits(q, end, 0, &mant, &nsig, &exp10, &trunc);
    size_t ndig = (size_t)(q - d0);
    if (q < end && *q == '.') {
        const char *f0 = ++q;
        q = scan_digits(q, end, 1, &mant, &nsig, &exp10, &trunc);
        ndig += (size_t)(q - f0);
    }
    if (ndig == 0)
        return NUM_BAD;
    if (q < end && (*q == 'e' || *q == 'E'))
        q = scan_exponent(q + 1, end, &exp10);
    if (q != end)
        return NUM_BAD;
    double v = 0.0;
    if (mant != 0 && (trunc || !float_fast(mant, exp10, &v))) {
        int rc = float_slow(t, len, out); /* strtod applies the sign itself */
        if (rc == NUM_OK && isinf(*out))
            rc = NUM_OVERFLOW;
        return rc;
    }
    *out = neg ? -v : v;
    return NUM_OK;
}

/* "nan", "inf", "infinity" in any case, with a sign: what strtod would take. */
static const char *nan_inf_reason(const char *t, size_t len)
{
    if (len && (t[0] == '-' || t[0] == '+'))
        t++, len--;
    if (len >= 3 && strncasecmp(t, "nan", 3) == 0)
        return "NaN is not a valid field value";
    if (len >= 3 && strncasecmp(t, "inf", 3) == 0)
        return "infinity is not a valid field value";
    return NULL;
}

/* ---- field values ----------------------------------------------------- */

/* t T true True TRUE, f F false False FALSE: nothing else. */
static int parse_bool(const char *t, size_t len, vg_lp_field_t *f)
{
    static const char *const spell[2][3] = {{"false", "False", "FALSE"}, {"true", "True", "TRUE"}};
    int yes = t[0] == 't' || t[0] == 'T';
    int ok = len == 1;
    for (int k = 0; k < 3 && !ok; k++)
        ok = len == 5u - (unsigned)yes && memcmp(t, spell[yes][k], len) == 0;
    if (!ok)
        return NUM_BAD;
    f->type = VG_TYPE_BOOL;
    f->v.b = yes;
    return NUM_OK;
}

/* At the opening quote s[*pi]; leaves *pi after the closing one. */
static int parse_string(lpctx_t *c, size_t *pi, vg_lp_field_t *f)
{
    const char *s = c->s;
    size_t n = c->n, q0 = *pi, j = q0 + 1, qi;
    uint32_t esc = 0;
    for (;;) {
        const char *qq = memchr(s + j, '"', n - j);
        if (qq == NULL)
            return bad_at(c, q0, "unterminated string field value");
        qi = (size_t)(qq - s);
        const char *bs;
        while ((bs = memchr(s + j, '\\', qi - j)) != NULL) {
            esc = 1;
            j = (size_t)(bs - s) + 2;
            if (j > qi)
                break; /* that quote was escaped */
        }
        if (bs == NULL)
            break;
    }
    size_t len = qi - q0 - 1;
    if (len > c->p->lim.max_string)
        return bad_at(c, q0, "string field value too long (%zu bytes > %u limit)", len,
                      c->p->lim.max_string);
    if (qi + 1 < n && !(CLS(s[qi + 1]) & C_STOP_V))
        return bad_at(c, qi + 1, "unexpected character after string field value");
    f->type = VG_TYPE_STRING;
    set_str(&f->str, s + q0 + 1, len, esc);
    f->v.s.p = f->str.p;
    f->v.s.len = f->str.len;
    *pi = qi + 1;
    return VG_OK;
}

static int value_error(lpctx_t *c, size_t v0, const char *t, size_t len, int st)
{
    char last = t[len - 1];
    const char *why = nan_inf_reason(t, len);
    if (why)
        return bad_at(c, v0, "%s", why);
    switch (st) {
    case NUM_RANGE:
        return bad_at(c, v0, "%s field value out of range",
                      last == 'u' ? "unsigned integer" : "integer");
    case NUM_NEG_UINT:
        return bad_at(c, v0, "negative unsigned integer field value");
    case NUM_OVERFLOW:
        return bad_at(c, v0, "float field value out of range (infinity is not a valid value)");
    case NUM_NOMEM:
        return nomem_at(c, v0, "float literal");
    default:
        break;
    }
    if (t[0] == 't' || t[0] == 'T' || t[0] == 'f' || t[0] == 'F')
        return bad_at(c, v0, "invalid boolean field value");
    if (last == 'i' && len > 1 && (t[0] == '-' || (CLS(t[0]) & C_DIGIT)))
        return bad_at(c, v0, "invalid integer field value");
    if (last == 'u' && len > 1 && (t[0] == '-' || (CLS(t[0]) & C_DIGIT)))
        return bad_at(c, v0, "invalid unsigned integer field value");
    if (t[0] == '-' || t[0] == '.' || (CLS(t[0]) & C_DIGIT))
        return bad_at(c, v0, "invalid number field value");
    return bad_at(c, v0, "invalid field value");
}

/* At the first byte of a value (not ',', ' ' or the end); leaves *pi at the
 * byte after it, which is ',', ' ' or the end of the line. */
static int parse_value(lpctx_t *c, size_t *pi, vg_lp_field_t *f)
{
    const char *s = c->s;
    size_t v0 = *pi, j = v0;
    char c0 = s[v0];
    if (c0 == '"')
        return parse_string(c, pi, f);
    while (j < c->n && !(CLS(s[j]) & C_STOP_V))
        j++;
    const char *t = s + v0;
    size_t len = j - v0;
    int st;
    set_str(&f->str, NULL, 0, 0);
    if (c0 == 't' || c0 == 'T' || c0 == 'f' || c0 == 'F') {
        st = parse_bool(t, len, f);
    } else if (t[len - 1] == 'i' || t[len - 1] == 'u') {
        st = parse_integer(t, len - 1, t[len - 1], f);
    } else {
        f->type = VG_TYPE_FLOAT;
        st = parse_float(t, len, &f->v.f);
    }
    if (st != NUM_OK)
        return value_error(c, v0, t, len, st);
    *pi = j;
    return VG_OK;
}

/* ---- fields ----------------------------------------------------------- */

/*
 * The slot the value of the field named s[k0..k1) goes to: an earlier field
 * of the same key (the last value wins), else a new one at the end, within
 * the limit. Its key is set; *is_new says whether nfields must grow.
 * Returns NULL, with *rc set, when the line is bad.
 */
static vg_lp_field_t *field_slot(lpctx_t *c, size_t k0, size_t k1, uint32_t kesc, int *is_new,
                                 int *rc)
{
    vg_lp_parser_t *p = c->p;
    uint32_t n = p->line.nfields;
    if (n >= p->field_cap &&
        grow((void **)&p->fields, &p->field_cap, sizeof *p->fields, n + 1) != VG_OK) {
        *rc = nomem_at(c, k0, "field");
        return NULL;
    }
    assert(p->fields != NULL); /* the array exists once field_cap > 0 */
    vg_lp_field_t *f = &p->fields[n];
    set_str(&f->key, c->s + k0, k1 - k0, kesc);
    *rc = VG_OK;
    *is_new = 0;
    if (name_is_time(&f->key)) {
        *rc = bad_at(c, k0, "field key 'time' is not allowed");
        return NULL;
    }
    uint64_t bit = key_bit(&f->key);
    int maybe_seen = (c->field_bits & bit) != 0;
    c->field_bits |= bit;
    for (uint32_t k = 0; maybe_seen && k < n; k++)
        if (names_equal(&p->fields[k].key, &f->key))
            return &p->fields[k];
    if (n >= p->lim.max_fields) {
        *rc = bad_at(c, k0, "too many fields (more than the limit of %u)", p->lim.max_fields);
        return NULL;
    }
    *is_new = 1;
    return f;
}

/* At the first byte of the field set; leaves *pi after its last value. */
static int parse_fields(lpctx_t *c, size_t *pi)
{
    const char *s = c->s;
    size_t n = c->n, i = *pi;
    for (;;) {
        size_t k0 = i;
        uint32_t kesc = 0;
        vg_lp_field_t *f;
        int is_new, rc;
        i = scan_name(s, i, n, C_STOP_K, &kesc);
        if (i == k0)
            return bad_at(c, i, "empty field key");
        if (i >= n || s[i] != '=')
            return bad_at(c, i, "missing '=' after field key '%.*s'", (int)(i - k0), s + k0);
        if ((f = field_slot(c, k0, i, kesc, &is_new, &rc)) == NULL)
            return rc;
        if (++i >= n || (CLS(s[i]) & C_STOP_V))
            return bad_at(c, i, "missing value for field key '%.*s'", (int)(i - 1 - k0), s + k0);
        if ((rc = parse_value(c, &i, f)) != VG_OK)
            return rc;
        c->p->line.nfields += (uint32_t)is_new;
        if (i >= n || s[i] != ',')
            break;
        i++;
    }
    *pi = i;
    return VG_OK;
}

/* ---- timestamp and line ----------------------------------------------- */

static int parse_timestamp(lpctx_t *c, size_t t0, int64_t *out)
{
    const char *s = c->s;
    size_t n = c->n, j = t0;
    int neg = s[j] == '-';
    j += neg;
    size_t d0 = j;
    while (j < n && (CLS(s[j]) & C_DIGIT))
        j++;
    if (j == d0)
        return bad_at(c, j, "invalid timestamp");
    if (j < n && s[j] != ' ' && s[j] != '\t')
        return bad_at(c, j, "invalid timestamp");
    uint64_t mag;
    int64_t ts;
    if (parse_u64(s + d0, s + j, &mag) != NUM_OK || mag > (uint64_t)INT64_MAX)
        return bad_at(c, t0, "timestamp out of range");
    ts = neg ? -(int64_t)mag : (int64_t)mag;
    if (__builtin_mul_overflow(ts, prec_factor[c->p->precision], &ts) || ts < TS_MIN ||
        ts > TS_MAX)
        return bad_at(c, t0, "timestamp out of range");
    while (j < n && (s[j] == ' ' || s[j] == '\t'))
        j++;
    if (j < n)
        return bad_at(c, j, "unexpected text after the timestamp");
    *out = ts;
    return VG_OK;
}

/* A data line: valid UTF-8, no NUL, within the length limit; s[i] is its
 * first non-blank byte. Returns 1 or a negative status. */
static int parse_line(lpctx_t *c, size_t i)
{
    vg_lp_line_t *L = &c->p->line;
    const char *s = c->s;
    size_t n = c->n, m0 = i;
    uint32_t esc = 0;
    L->ntags = L->nfields = 0;
    i = scan_name(s, i, n, C_STOP_M, &esc);
    if (i == m0)
        return bad_at(c, i, "missing measurement");
    set_str(&L->measurement, s + m0, i - m0, esc);
    int rc = parse_tags(c, &i);
    if (rc != VG_OK)
        return rc;
    for (uint32_t t = 0; t < L->ntags && !esc; t++)
        esc = c->p->tags[t].key.escaped | c->p->tags[t].val.escaped;
    set_str(&L->series_raw, s + m0, i - m0, esc);
    while (i < n && s[i] == ' ')
        i++;
    if (i >= n)
        return bad_at(c, i, "missing field set");
    if ((rc = parse_fields(c, &i)) != VG_OK)
        return rc;
    size_t fend = i;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    L->has_ts = i < n;
    L->ts = 0;
    L->ts_off = (uint32_t)(L->has_ts ? i : fend);
    if (L->has_ts && (rc = parse_timestamp(c, i, &L->ts)) != VG_OK)
        return rc;
    L->tags = c->p->tags;
    L->fields = c->p->fields;
    L->line = s;
    L->line_len = (uint32_t)n;
    L->lineno = c->p->lineno;
    return 1;
}

/* The length limit and the byte-level checks, then the grammar. */
static int check_and_parse(lpctx_t *c, size_t first)
{
    vg_lp_parser_t *p = c->p;
    if (c->n > p->lim.max_line)
        return bad_at(c, p->lim.max_line, "line too long (%zu bytes > %u limit)", c->n,
                      p->lim.max_line);
    size_t badb = utf8_check((const unsigned char *)c->s, c->n);
    if (badb < c->n)
        return bad_at(c, badb, c->s[badb] ? "invalid UTF-8" : "NUL byte in line");
    return parse_line(c, first);
}

int vg_lp_next(vg_lp_parser_t *p, vg_lp_line_t **out, vg_lp_error_t *e)
{
    while (p->pos < p->len) {
        const char *s = p->buf + p->pos;
        size_t rem = p->len - p->pos;
        const char *nl = memchr(s, '\n', rem);
        size_t n = nl ? (size_t)(nl - s) : rem;
        p->pos += nl ? n + 1 : n;
        p->lineno++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n || s[i] == '#')
            continue; /* blank line or comment */
        lpctx_t c = {p, s, n, e, 0, 0};
        int rc = check_and_parse(&c, i);
        if (rc == 1 && out)
            *out = &p->line;
        return rc;
    }
    return 0;
}
