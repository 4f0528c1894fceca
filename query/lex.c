/*
 * lex.c: the query language's tokens, produced one at a time on demand.
 *
 * Keywords are case-insensitive; plain names are [A-Za-z_][A-Za-z0-9_]*;
 * other names are "double quoted" and strings 'single quoted' (a doubled
 * quote stands for one). A number followed by letters is one duration token
 * (30s, 1h30m, 250ms), so "5x" is a bad duration rather than two tokens.
 * A '/' right after =~ or !~ opens a regex literal, anywhere else it divides.
 * `--` starts a comment to the end of the line.
 *
 * Invariant: lx->line/lx->col describe src[lx->sync_off], and sync_off only
 * moves forward, so positions cost one pass over the input in total.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ast.h"
#include "vigil/vg_db.h"

static const char *const keywords[VG_QT_KW_END - VG_QT_KW_FIRST] = {
    "SELECT", "FROM",   "WHERE",   "SINCE",    "BETWEEN", "AND",   "OR",    "NOT",
    "EVERY",  "BY",     "AGAINST", "PREVIOUS", "OFFSET",  "ORDER", "ASC",   "DESC",
    "LIMIT",  "SAMPLE", "AS",      "IN",       "IS",      "TRUE",  "FALSE", "NULL",
};

static const char *const op_text[] = {
    [VG_QT_EOF] = "end of input",
    [VG_QT_IDENT] = "name",
    [VG_QT_QIDENT] = "quoted name",
    [VG_QT_STRING] = "string",
    [VG_QT_NUMBER] = "number",
    [VG_QT_DURATION] = "duration",
    [VG_QT_REGEX] = "regular expression",
    [VG_QT_PLUS] = "+",
    [VG_QT_MINUS] = "-",
    [VG_QT_STAR] = "*",
    [VG_QT_SLASH] = "/",
    [VG_QT_EQ] = "=",
    [VG_QT_NE] = "!=",
    [VG_QT_LT] = "<",
    [VG_QT_LE] = "<=",
    [VG_QT_GT] = ">",
    [VG_QT_GE] = ">=",
    [VG_QT_MATCH] = "=~",
    [VG_QT_NMATCH] = "!~",
    [VG_QT_LPAREN] = "(",
    [VG_QT_RPAREN] = ")",
    [VG_QT_COMMA] = ",",
    [VG_QT_SEMI] = ";",
};

const char *vg_q_tok_text(vg_q_tok_kind_t k)
{
    if (k >= VG_QT_KW_FIRST && k < VG_QT_KW_END)
        return keywords[k - VG_QT_KW_FIRST];
    if ((size_t)k < sizeof op_text / sizeof op_text[0] && op_text[k])
        return op_text[k];
    return "?";
}

static vg_q_tok_kind_t keyword_kind(const char *s, size_t n)
{
    if (n < 2 || n > 8)
        return VG_QT_IDENT;
    for (int k = VG_QT_KW_FIRST; k < VG_QT_KW_END; k++) {
        const char *kw = keywords[k - VG_QT_KW_FIRST];
        if (strlen(kw) == n && strncasecmp(kw, s, n) == 0)
            return (vg_q_tok_kind_t)k;
    }
    return VG_QT_IDENT;
}

int vg_q_is_keyword(const char *s, size_t n)
{
    return keyword_kind(s, n) != VG_QT_IDENT;
}

void vg_q_lex_init(vg_q_lexer_t *lx, const char *src, size_t n)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->n = n;
    lx->line = 1;
    lx->col = 1;
    lx->prev = VG_QT_EOF;
}

/* Advance the line/column bookkeeping to off (never backwards). */
static void sync_to(vg_q_lexer_t *lx, size_t off)
{
    const unsigned char *s = (const unsigned char *)lx->src;
    for (size_t i = lx->sync_off; i < off; i++) {
        if (s[i] == '\n') {
            lx->line++;
            lx->col = 1;
        } else if ((s[i] & 0xC0) != 0x80) {
            lx->col++;
        }
    }
    lx->sync_off = off;
}

static int is_word_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_word(int c)
{
    return is_word_start(c) || is_digit(c);
}

static void skip_space(vg_q_lexer_t *lx)
{
    const char *s = lx->src;
    size_t p = lx->pos;
    for (;;) {
        while (p < lx->n && (s[p] == ' ' || s[p] == '\t' || s[p] == '\n' || s[p] == '\r' ||
                             s[p] == '\f' || s[p] == '\v'))
            p++;
        if (p + 1 < lx->n && s[p] == '-' && s[p + 1] == '-') {
            while (p < lx->n && s[p] != '\n')
                p++;
            continue;
        }
        break;
    }
    lx->pos = p;
}

static int lex_error(vg_q_tok_t *t, vg_q_error_t *err, const char *what, const char *src,
                     size_t len)
{
    if (len > 40)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "%s '%.40s...'", what, src);
    return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "%s '%.*s'", what, (int)len, src);
}

/* Quoted text: ends at a quote that is not doubled. */
static int lex_quoted(vg_q_lexer_t *lx, vg_q_tok_t *t, vg_q_error_t *err)
{
    const char *s = lx->src;
    char q = s[lx->pos];
    size_t p = lx->pos + 1;
    for (;;) {
        const char *e = p < lx->n ? memchr(s + p, q, lx->n - p) : NULL;
        if (!e)
            return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "unterminated %s",
                                  q == '\'' ? "string" : "quoted name");
        p = (size_t)(e - s) + 1;
        if (p < lx->n && s[p] == q) {
            p++;
            continue;
        }
        break;
    }
    t->kind = q == '\'' ? VG_QT_STRING : VG_QT_QIDENT;
    if (t->kind == VG_QT_QIDENT && p - lx->pos == 2)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "empty quoted name");
    lx->pos = p;
    return VG_OK;
}

static int lex_regex(vg_q_lexer_t *lx, vg_q_tok_t *t, vg_q_error_t *err)
{
    const char *s = lx->src;
    size_t p = lx->pos + 1;
    while (p < lx->n && s[p] != '/')
        p += s[p] == '\\' && p + 1 < lx->n ? 2 : 1;
    if (p >= lx->n)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "unterminated regular expression");
    p++;
    t->v.icase = 0;
    if (p < lx->n && s[p] == 'i' && (p + 1 >= lx->n || !is_word(s[p + 1]))) {
        t->v.icase = 1;
        p++;
    }
    t->kind = VG_QT_REGEX;
    lx->pos = p;
    return VG_OK;
}

static int number_value(vg_q_tok_t *t, const char *text, size_t len, int is_float,
                        vg_q_error_t *err)
{
    char buf[64];
    if (len >= sizeof buf)
        return lex_error(t, err, "number too long", text, len);
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *end;
    if (!is_float) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno == 0) {
            t->v.num.is_int = 1;
            t->v.num.i = v;
            t->v.num.f = (double)v;
            return VG_OK;
        }
    }
    errno = 0;
    double f = strtod(buf, &end);
    if (errno == ERANGE && (f > 1 || f < -1))
        return lex_error(t, err, "number out of range", text, len);
    t->v.num.is_int = 0;
    t->v.num.f = f;
    return VG_OK;
}

static int duration_value(vg_q_tok_t *t, const char *text, size_t len, vg_q_error_t *err)
{
    char buf[64];
    if (len >= sizeof buf)
        return lex_error(t, err, "bad duration", text, len);
    for (size_t i = 0; i < len; i++) /* units are case-insensitive, like keywords */
        buf[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
    buf[len] = '\0';
    int rc = vg_duration_parse(buf, &t->v.ns, NULL);
    if (rc == VG_ERANGE)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "duration '%s' is too large", buf);
    if (rc)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col,
                              "bad duration '%s' (units: ms s m h d w)", buf);
    return VG_OK;
}

/* 42, 0.5, .5, 1e-3, or a duration when letters follow the digits. */
static int lex_number(vg_q_lexer_t *lx, vg_q_tok_t *t, vg_q_error_t *err)
{
    const char *s = lx->src;
    size_t n = lx->n, p = lx->pos;
    int is_float = 0;
    while (p < n && is_digit(s[p]))
        p++;
    if (p + 1 < n && s[p] == '.' && is_digit(s[p + 1])) {
        is_float = 1;
        p++;
        while (p < n && is_digit(s[p]))
            p++;
    }
    if (p + 1 < n && (s[p] == 'e' || s[p] == 'E') &&
        (is_digit(s[p + 1]) ||
         (p + 2 < n && (s[p + 1] == '+' || s[p + 1] == '-') && is_digit(s[p + 2])))) {
        is_float = 1;
        p += 2;
        while (p < n && is_digit(s[p]))
            p++;
    }
    if (p < n && is_word(s[p])) {
        while (p < n && is_word(s[p]))
            p++;
        lx->pos = p;
        if (is_float)
            return lex_error(t, err, "bad duration", s + t->off, p - t->off);
        t->kind = VG_QT_DURATION;
        return duration_value(t, s + t->off, p - t->off, err);
    }
    lx->pos = p;
    t->kind = VG_QT_NUMBER;
    return number_value(t, s + t->off, p - t->off, is_float, err);
}

/* Two-character operators first, then single ones. */
static int lex_operator(vg_q_lexer_t *lx, vg_q_tok_t *t)
{
    const char *s = lx->src;
    char c = s[lx->pos], d = lx->pos + 1 < lx->n ? s[lx->pos + 1] : '\0';
    static const struct {
        char a, b;
        vg_q_tok_kind_t k;
    } two[] = {{'!', '=', VG_QT_NE}, {'<', '>', VG_QT_NE},    {'<', '=', VG_QT_LE},
               {'>', '=', VG_QT_GE}, {'=', '~', VG_QT_MATCH}, {'!', '~', VG_QT_NMATCH},
               {'=', '=', VG_QT_EQ}};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        if (c == two[i].a && d == two[i].b) {
            t->kind = two[i].k;
            lx->pos += 2;
            return 1;
        }
    static const char one[] = "+-*/=<>(),;";
    static const vg_q_tok_kind_t one_k[] = {VG_QT_PLUS,   VG_QT_MINUS, VG_QT_STAR, VG_QT_SLASH,
                                            VG_QT_EQ,     VG_QT_LT,    VG_QT_GT,   VG_QT_LPAREN,
                                            VG_QT_RPAREN, VG_QT_COMMA, VG_QT_SEMI};
    const char *hit = c ? strchr(one, c) : NULL;
    if (!hit)
        return 0;
    t->kind = one_k[hit - one];
    lx->pos++;
    return 1;
}

static int bad_char(vg_q_lexer_t *lx, vg_q_tok_t *t, vg_q_error_t *err)
{
    unsigned char c = (unsigned char)lx->src[lx->pos];
    if (c == '.' && lx->prev == VG_QT_IDENT)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col,
                              "unexpected '.': names with dots must be double-quoted "
                              "(\"gen_ai.request.model\")");
    if (c == '"' || c == '\'')
        return VG_EPARSE; /* not reached: quotes are lexed */
    if (c >= 0x21 && c < 0x7f)
        return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "unexpected character '%c'", c);
    return vg_q_error_set(err, VG_EPARSE, t->line, t->col, "unexpected byte 0x%02x", c);
}

int vg_q_lex_next(vg_q_lexer_t *lx, vg_q_tok_t *t, vg_q_error_t *err)
{
    skip_space(lx);
    sync_to(lx, lx->pos);
    memset(t, 0, sizeof *t);
    t->off = (uint32_t)lx->pos;
    t->line = lx->line;
    t->col = lx->col;
    int rc = VG_OK;
    const char *s = lx->src;
    if (lx->pos >= lx->n) {
        t->kind = VG_QT_EOF;
    } else if (is_word_start(s[lx->pos])) {
        size_t p = lx->pos;
        while (p < lx->n && is_word(s[p]))
            p++;
        t->kind = keyword_kind(s + lx->pos, p - lx->pos);
        lx->pos = p;
    } else if (s[lx->pos] == '"' || s[lx->pos] == '\'') {
        rc = lex_quoted(lx, t, err);
    } else if (is_digit(s[lx->pos]) ||
               (s[lx->pos] == '.' && lx->pos + 1 < lx->n && is_digit(s[lx->pos + 1]))) {
        rc = lex_number(lx, t, err);
    } else if (s[lx->pos] == '/' && (lx->prev == VG_QT_MATCH || lx->prev == VG_QT_NMATCH)) {
        rc = lex_regex(lx, t, err);
    } else if (!lex_operator(lx, t)) {
        rc = bad_char(lx, t, err);
    }
    t->len = (uint32_t)(lx->pos - t->off);
    lx->prev = t->kind;
    return rc;
}

char *vg_q_tok_unquote(vg_q_arena_t *a, const char *src, const vg_q_tok_t *t)
{
    const char *p = src + t->off + 1;
    size_t n = t->len - 2;
    char q = src[t->off];
    char *out = vg_q_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        out[j++] = p[i];
        if (p[i] == q)
            i++; /* a doubled quote */
    }
    out[j] = '\0';
    return out;
}
