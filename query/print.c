/*
 * print.c: a parsed query printed back in canonical form (ast.h): keywords
 * in capitals, names quoted only when they must be, clauses in the
 * grammar's order, and only the parentheses that precedence needs; a right
 * operand of equal precedence is always parenthesised, so that printing and
 * parsing again gives the same tree (the tests round-trip a corpus).
 * Printing recurses: it relies on the parser's height bound (VG_Q_MAX_DEPTH).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "vigil/vg_alloc.h"

void vg_q_sb_put(vg_q_sb_t *b, const char *s, size_t n)
{
    if (b->len < b->cap) {
        size_t room = b->cap - b->len - 1;
        memcpy(b->buf + b->len, s, n < room ? n : room);
        b->buf[b->len + (n < room ? n : room)] = '\0';
    }
    b->len += n;
}

void vg_q_sb_puts(vg_q_sb_t *b, const char *s)
{
    vg_q_sb_put(b, s, strlen(s));
}

static void sb_quoted(vg_q_sb_t *b, const char *s, size_t n, char q)
{
    vg_q_sb_put(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        vg_q_sb_put(b, s + i, 1);
        if (s[i] == q)
            vg_q_sb_put(b, &q, 1);
    }
    vg_q_sb_put(b, &q, 1);
}

void vg_q_format_name_sb(vg_q_sb_t *b, const char *name)
{
    size_t n = strlen(name);
    int plain = n > 0 && (isalpha((unsigned char)name[0]) || name[0] == '_');
    for (size_t i = 0; plain && i < n; i++)
        plain = isalnum((unsigned char)name[i]) || name[i] == '_';
    if (plain && !vg_q_is_keyword(name, n))
        vg_q_sb_put(b, name, n);
    else
        sb_quoted(b, name, n, '"');
}

static void sb_number(vg_q_sb_t *b, const vg_q_expr_t *e)
{
    char tmp[48];
    if (e->u.num.is_int) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)e->u.num.i);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, e->u.num.f);
            if (strtod(tmp, NULL) == e->u.num.f)
                break;
        }
        if (!strpbrk(tmp, ".eEn")) /* keep it a float literal: 2.0 */
            strcat(tmp, ".0");
    }
    vg_q_sb_puts(b, tmp);
}

static void sb_regex(vg_q_sb_t *b, const char *p, int icase)
{
    vg_q_sb_put(b, "/", 1);
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '\\' && p[i + 1]) {
            vg_q_sb_put(b, p + i, 2);
            i++;
        } else if (p[i] == '/') {
            vg_q_sb_put(b, "\\/", 2);
        } else {
            vg_q_sb_put(b, p + i, 1);
        }
    }
    vg_q_sb_puts(b, icase ? "/i" : "/");
}

/* Binding strength: OR 1, AND 2, NOT 3, comparisons 4, + - 5, * / 6, unary - 7. */
static int prec(const vg_q_expr_t *e)
{
    switch (e->kind) {
    case VG_QE_BINARY:
        switch (e->u.bin.op) {
        case VG_QO_OR:
            return 1;
        case VG_QO_AND:
            return 2;
        case VG_QO_ADD:
        case VG_QO_SUB:
            return 5;
        case VG_QO_MUL:
        case VG_QO_DIV:
            return 6;
        default:
            return 4;
        }
    case VG_QE_UNARY:
        return e->u.un.op == VG_QO_NOT ? 3 : 7;
    case VG_QE_REGEX:
    case VG_QE_IN:
    case VG_QE_ISNULL:
        return 4;
    default:
        return 8;
    }
}

static const char *op_str(vg_q_op_t op)
{
    static const char *const s[] = {"+",  "-", "*",  "/",   "=",  "!=",  "<",
                                    "<=", ">", ">=", "AND", "OR", "NOT", "-"};
    return s[op];
}

static void fmt(vg_q_sb_t *b, const vg_q_expr_t *e, int flags);

static void fmt_child(vg_q_sb_t *b, const vg_q_expr_t *c, int min_prec, int flags)
{
    int p = prec(c);
    int paren = p < min_prec || ((flags & VG_Q_FMT_PARENS) && p < 8);
    if (paren)
        vg_q_sb_put(b, "(", 1);
    fmt(b, c, flags);
    if (paren)
        vg_q_sb_put(b, ")", 1);
}

static void fmt_unary(vg_q_sb_t *b, const vg_q_expr_t *e, int flags)
{
    const vg_q_expr_t *a = e->u.un.a;
    if (e->u.un.op == VG_QO_NOT) {
        vg_q_sb_puts(b, "NOT ");
        fmt_child(b, a, 3, flags);
        return;
    }
    vg_q_sb_put(b, "-", 1);
    /* never print "--": it would start a comment */
    int neg_lit = a->kind == VG_QE_NUM && (a->u.num.f < 0 || signbit(a->u.num.f));
    fmt_child(b, a, neg_lit || (a->kind == VG_QE_UNARY && a->u.un.op == VG_QO_NEG) ? 9 : 7, flags);
}

static void fmt_call(vg_q_sb_t *b, const vg_q_expr_t *e, int flags)
{
    vg_q_sb_puts(b, e->u.call.fn->name);
    vg_q_sb_put(b, "(", 1);
    if (e->u.call.star)
        vg_q_sb_put(b, "*", 1);
    for (int i = 0; i < e->u.call.nargs; i++) {
        if (i)
            vg_q_sb_put(b, ", ", 2);
        fmt(b, e->u.call.args[i], flags);
    }
    vg_q_sb_put(b, ")", 1);
}

static void fmt(vg_q_sb_t *b, const vg_q_expr_t *e, int flags)
{
    switch (e->kind) {
    case VG_QE_NUM:
        sb_number(b, e);
        break;
    case VG_QE_STR:
        sb_quoted(b, e->u.str.s, e->u.str.len, '\'');
        break;
    case VG_QE_BOOL:
        vg_q_sb_puts(b, e->u.b ? "TRUE" : "FALSE");
        break;
    case VG_QE_NULL:
        vg_q_sb_puts(b, "NULL");
        break;
    case VG_QE_DURATION:
        vg_q_sb_puts(b, e->u.dur.text);
        break;
    case VG_QE_REF:
        vg_q_format_name_sb(b, e->u.ref.name);
        break;
    case VG_QE_UNARY:
        fmt_unary(b, e, flags);
        break;
    case VG_QE_BINARY: {
        int p = prec(e);
        fmt_child(b, e->u.bin.a, p == 4 ? 5 : p, flags);
        vg_q_sb_put(b, " ", 1);
        vg_q_sb_puts(b, op_str(e->u.bin.op));
        vg_q_sb_put(b, " ", 1);
        fmt_child(b, e->u.bin.b, p == 4 ? 5 : p + 1, flags);
        break;
    }
    case VG_QE_REGEX:
        fmt_child(b, e->u.rx.a, 5, flags);
        vg_q_sb_puts(b, e->u.rx.negate ? " !~ " : " =~ ");
        sb_regex(b, e->u.rx.pattern, e->u.rx.icase);
        break;
    case VG_QE_IN:
        fmt_child(b, e->u.in.a, 5, flags);
        vg_q_sb_puts(b, e->u.in.negate ? " NOT IN (" : " IN (");
        for (int i = 0; i < e->u.in.n; i++) {
            if (i)
                vg_q_sb_put(b, ", ", 2);
            fmt(b, e->u.in.list[i], flags);
        }
        vg_q_sb_put(b, ")", 1);
        break;
    case VG_QE_ISNULL:
        fmt_child(b, e->u.isnull.a, 5, flags);
        vg_q_sb_puts(b, e->u.isnull.negate ? " IS NOT NULL" : " IS NULL");
        break;
    case VG_QE_CALL:
        fmt_call(b, e, flags);
        break;
    }
}

void vg_q_format_expr_sb(vg_q_sb_t *b, const vg_q_expr_t *e, int flags)
{
    fmt(b, e, flags);
}

int vg_q_expr_format(const vg_q_expr_t *e, int flags, char *buf, size_t cap)
{
    vg_q_sb_t b = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    fmt(&b, e, flags);
    return (int)b.len;
}

static void fmt_time(vg_q_sb_t *b, const vg_q_time_t *t)
{
    char tmp[32];
    if (t->kind == VG_QTM_NOW) {
        vg_q_sb_puts(b, "now()");
        if (t->ns) {
            vg_q_sb_puts(b, t->ns < 0 ? " - " : " + ");
            vg_q_sb_puts(b, t->text);
        }
    } else if (t->text) {
        sb_quoted(b, t->text, strlen(t->text), '\'');
    } else {
        snprintf(tmp, sizeof tmp, "%lld", (long long)t->ns);
        vg_q_sb_puts(b, tmp);
    }
}

static void fmt_between(vg_q_sb_t *b, const vg_q_time_t *s, const vg_q_time_t *e)
{
    vg_q_sb_puts(b, "BETWEEN ");
    fmt_time(b, s);
    vg_q_sb_puts(b, " AND ");
    fmt_time(b, e);
}

static void fmt_items(vg_q_sb_t *b, const vg_q_stmt_t *s)
{
    vg_q_sb_puts(b, "SELECT ");
    for (int i = 0; i < s->nitems; i++) {
        const vg_q_item_t *it = &s->items[i];
        if (i)
            vg_q_sb_put(b, ", ", 2);
        if (!it->expr) {
            vg_q_sb_put(b, "*", 1);
            continue;
        }
        fmt(b, it->expr, 0);
        if (it->alias) {
            vg_q_sb_puts(b, " AS ");
            vg_q_format_name_sb(b, it->alias);
        }
    }
}

static void fmt_tail(vg_q_sb_t *b, const vg_q_stmt_t *s)
{
    char tmp[32];
    if (s->norder)
        vg_q_sb_puts(b, " ORDER BY ");
    for (int i = 0; i < s->norder; i++) {
        if (i)
            vg_q_sb_put(b, ", ", 2);
        fmt(b, s->order[i].expr, 0);
        if (s->order[i].desc)
            vg_q_sb_puts(b, " DESC");
    }
    if (s->limit >= 0) {
        snprintf(tmp, sizeof tmp, " LIMIT %lld", (long long)s->limit);
        vg_q_sb_puts(b, tmp);
    }
    if (s->sample >= 0) {
        snprintf(tmp, sizeof tmp, " SAMPLE %lld", (long long)s->sample);
        vg_q_sb_puts(b, tmp);
    }
}

static void fmt_against(vg_q_sb_t *b, const vg_q_stmt_t *s)
{
    switch (s->against.kind) {
    case VG_QA_NONE:
        return;
    case VG_QA_PREVIOUS:
    case VG_QA_OFFSET:
        vg_q_sb_puts(b,
                     s->against.kind == VG_QA_PREVIOUS ? " AGAINST PREVIOUS " : " AGAINST OFFSET ");
        vg_q_sb_puts(b, s->against.span.text);
        return;
    case VG_QA_BETWEEN:
        vg_q_sb_puts(b, " AGAINST ");
        fmt_between(b, &s->against.start, &s->against.end);
        return;
    case VG_QA_WHERE:
        vg_q_sb_puts(b, " AGAINST WHERE ");
        fmt(b, s->against.where, 0);
        return;
    }
}

int vg_q_format(const vg_q_stmt_t *s, char *buf, size_t cap)
{
    vg_q_sb_t b = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    fmt_items(&b, s);
    vg_q_sb_puts(&b, " FROM ");
    vg_q_format_name_sb(&b, s->table);
    if (s->where) {
        vg_q_sb_puts(&b, " WHERE ");
        fmt(&b, s->where, 0);
    }
    if (s->range.kind == VG_QR_SINCE) {
        vg_q_sb_puts(&b, " SINCE ");
        vg_q_sb_puts(&b, s->range.since.text);
    } else if (s->range.kind == VG_QR_BETWEEN) {
        vg_q_sb_put(&b, " ", 1);
        fmt_between(&b, &s->range.start, &s->range.end);
    }
    if (s->every.ns) {
        vg_q_sb_puts(&b, " EVERY ");
        vg_q_sb_puts(&b, s->every.text);
    }
    for (int i = 0; i < s->ngroups; i++) {
        vg_q_sb_puts(&b, i ? ", " : " BY ");
        fmt(&b, s->groups[i], 0);
    }
    fmt_against(&b, s);
    fmt_tail(&b, s);
    return (int)b.len;
}
