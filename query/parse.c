/*
 * parse.c: recursive-descent parser for the query language (grammar in
 * include/vigil/vg_query.h and issue 3); the schema-free checks that follow
 * a successful parse are in check.c.
 *
 * Precedence, loosest first: OR, AND, NOT, comparisons (= != < <= > >=,
 * =~ !~, IN, IS NULL; they do not chain), + -, * /, unary -.
 * The clauses after FROM are accepted in any order, each at most once, and
 * printed back in the grammar's order.
 *
 * Invariants: the first error wins (p->rc) and every parse function returns
 * NULL or -1 once it is set; all memory comes from the arena, so an error
 * anywhere frees everything with one arena_destroy; recursion is bounded by
 * VG_Q_MAX_DEPTH and so is the height of every tree built.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parse_int.h"
#include "vigil/vg_db.h"

#define MAX_TEXT (16u << 20)
#define MAX_LIST 1000

typedef struct parser {
    vg_q_lexer_t lx;
    const char *src;
    vg_q_arena_t *a;
    vg_q_tok_t la[3]; /* la[0] is the current token */
    int nla;
    int lex_failed; /* the lexer's error is in lexerr, at lex_off */
    uint32_t lex_off;
    vg_q_error_t lexerr;
    uint32_t last_end; /* end offset of the last consumed token */
    int depth;
    int rc;
    vg_q_error_t *err;
    int clause_line[CL_N], clause_col[CL_N]; /* 0: clause absent */
} parser_t;

/* ------------------------------------------------------------ token flow */

static void fill(parser_t *p, int k)
{
    while (p->nla <= k) {
        vg_q_tok_t *t = &p->la[p->nla++];
        if (p->lex_failed || vg_q_lex_next(&p->lx, t, &p->lexerr) != VG_OK) {
            if (!p->lex_failed) {
                p->lex_failed = 1;
                p->lex_off = t->off;
            }
            t->kind = VG_QT_EOF;
            t->off = p->lex_off;
            t->len = 0;
        }
    }
}

static const vg_q_tok_t *peek(parser_t *p, int k)
{
    fill(p, k);
    return &p->la[k];
}

static const vg_q_tok_t *cur(parser_t *p)
{
    return peek(p, 0);
}

static int at(parser_t *p, vg_q_tok_kind_t k)
{
    return cur(p)->kind == k;
}

static void next(parser_t *p)
{
    fill(p, 0);
    p->last_end = p->la[0].off + p->la[0].len;
    p->la[0] = p->la[1];
    p->la[1] = p->la[2];
    p->nla--;
}

/* ----------------------------------------------------------------- errors */

static int vfail(parser_t *p, uint32_t off, int line, int col, const char *fmt, va_list ap)
{
    if (p->rc)
        return p->rc;
    p->rc = VG_EPARSE;
    if (p->lex_failed && p->lex_off <= off) { /* the bad token came first */
        if (p->err)
            *p->err = p->lexerr;
        return p->rc;
    }
    if (p->err) {
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        p->err->code = VG_EPARSE;
        p->err->line = line;
        p->err->column = col;
    }
    return p->rc;
}

static int fail(parser_t *p, const vg_q_tok_t *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parser_t *p, const vg_q_tok_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, t->off, t->line, t->col, fmt, ap);
    va_end(ap);
    return p->rc;
}

/* For checks after parsing: the node's own position. */
static int fail_at(parser_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(parser_t *p, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, UINT32_MAX, line, col, fmt, ap);
    va_end(ap);
    return p->rc;
}

static void *oom(parser_t *p)
{
    if (!p->rc) {
        p->rc = VG_ENOMEM;
        vg_q_error_set(p->err, VG_ENOMEM, 0, 0, "out of memory parsing the query");
    }
    return NULL;
}

/* "end of query", "string 'abc'", "'FORM'". */
static void describe(parser_t *p, const vg_q_tok_t *t, char *buf, size_t cap)
{
    const char *s = p->src + t->off;
    int n = t->len > 40 ? 40 : (int)t->len;
    if (t->kind == VG_QT_EOF)
        snprintf(buf, cap, "end of query");
    else
        snprintf(buf, cap, "'%.*s%s'", n, s, t->len > 40 ? "..." : "");
}

static int expected(parser_t *p, const char *what)
{
    char found[64];
    describe(p, cur(p), found, sizeof found);
    return fail(p, cur(p), "expected %s, found %s", what, found);
}

static int expect(parser_t *p, vg_q_tok_kind_t k)
{
    if (at(p, k)) {
        next(p);
        return 0;
    }
    char what[32];
    snprintf(what, sizeof what, k < VG_QT_KW_FIRST ? "'%s'" : "%s", vg_q_tok_text(k));
    return expected(p, what);
}

/* ------------------------------------------------------------------ nodes */

static vg_q_expr_t *node(parser_t *p, vg_q_ekind_t kind, const vg_q_tok_t *t)
{
    vg_q_expr_t *e = vg_q_arena_alloc(p->a, sizeof *e);
    if (!e)
        return oom(p);
    e->kind = kind;
    e->line = t->line;
    e->column = t->col;
    e->height = 1;
    return e;
}

/* Height bookkeeping: keeps every later recursive walk bounded. */
static vg_q_expr_t *grown(parser_t *p, vg_q_expr_t *e, const vg_q_expr_t *child)
{
    if (child && child->height + 1 > e->height)
        e->height = child->height + 1;
    if (e->height > VG_Q_MAX_DEPTH) {
        fail_at(p, e->line, e->column, "expression nested too deeply (more than %d levels)",
                VG_Q_MAX_DEPTH);
        return NULL;
    }
    return e;
}

static vg_q_expr_t *binary(parser_t *p, vg_q_op_t op, vg_q_expr_t *a, vg_q_expr_t *b,
                           const vg_q_tok_t *t)
{
    vg_q_expr_t *e = node(p, VG_QE_BINARY, t);
    if (!e)
        return NULL;
    e->u.bin.op = op;
    e->u.bin.a = a;
    e->u.bin.b = b;
    return grown(p, e, a) && grown(p, e, b) ? e : NULL;
}

static vg_q_expr_t *unary(parser_t *p, vg_q_op_t op, vg_q_expr_t *a, const vg_q_tok_t *t)
{
    if (op == VG_QO_NEG && a->kind == VG_QE_NUM) { /* a negative literal */
        if (a->u.num.is_int)
            a->u.num.i = -a->u.num.i;
        a->u.num.f = -a->u.num.f;
        a->line = t->line;
        a->column = t->col;
        return a;
    }
    vg_q_expr_t *e = node(p, VG_QE_UNARY, t);
    if (!e)
        return NULL;
    e->u.un.op = op;
    e->u.un.a = a;
    return grown(p, e, a);
}

/* A growable pointer array in the arena (the old copy is left behind). */
typedef struct vec {
    void **v;
    int n, cap;
} vec_t;

static int vec_push(parser_t *p, vec_t *v, void *x)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        void **nv = vg_q_arena_alloc(p->a, (size_t)cap * sizeof *nv);
        if (!nv) {
            oom(p);
            return -1;
        }
        if (v->n)
            memcpy(nv, v->v, (size_t)v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

static char *tok_text_lower(parser_t *p, const vg_q_tok_t *t)
{
    char *s = vg_q_arena_strndup(p->a, p->src + t->off, t->len);
    if (!s)
        return oom(p);
    for (char *c = s; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return s;
}

/*
 * The column name of source span [from, to): its tokens concatenated,
 * lower case except inside quotes and regexes (whitespace and comments go).
 */
static char *span_name(parser_t *p, uint32_t from, uint32_t to)
{
    vg_q_lexer_t lx;
    vg_q_lex_init(&lx, p->src, to);
    lx.pos = lx.sync_off = from;
    char *out = vg_q_arena_alloc(p->a, (size_t)(to - from) + 1);
    if (!out)
        return oom(p);
    size_t n = 0;
    vg_q_tok_t t;
    while (vg_q_lex_next(&lx, &t, NULL) == VG_OK && t.kind != VG_QT_EOF) {
        int verbatim = t.kind == VG_QT_STRING || t.kind == VG_QT_QIDENT || t.kind == VG_QT_REGEX;
        for (uint32_t i = 0; i < t.len; i++) {
            char c = p->src[t.off + i];
            out[n++] = verbatim ? c : (char)tolower((unsigned char)c);
        }
    }
    out[n] = '\0';
    return out;
}

/* ------------------------------------------------------------ expressions */

static vg_q_expr_t *parse_expr(parser_t *p);
static vg_q_expr_t *parse_unary(parser_t *p);

static int enter(parser_t *p)
{
    if (p->depth >= VG_Q_MAX_DEPTH) {
        fail(p, cur(p), "expression nested too deeply (more than %d levels)", VG_Q_MAX_DEPTH);
        return -1;
    }
    p->depth++;
    return 0;
}

static vg_q_expr_t *unknown_function(parser_t *p, const vg_q_tok_t *name)
{
    char word[64];
    snprintf(word, sizeof word, "%.*s", name->len > 63 ? 63 : (int)name->len, p->src + name->off);
    size_t n;
    const vg_q_func_t *f = vg_q_funcs(&n);
    const char *names[64];
    for (size_t i = 0; i < n && i < 64; i++)
        names[i] = f[i].name;
    const char *s = vg_q_suggest(word, names, n < 64 ? n : 64);
    if (s)
        fail(p, name, "unknown function '%s' (did you mean '%s'?)", word, s);
    else
        fail(p, name, "unknown function '%s'", word);
    return NULL;
}

static int arity_ok(parser_t *p, const vg_q_tok_t *name, const vg_q_func_t *fn, int n)
{
    if (n >= fn->min_args && (fn->max_args < 0 || n <= fn->max_args))
        return 1;
    if (fn->max_args < 0)
        fail(p, name, "%s() takes at least %d arguments, got %d", fn->name, fn->min_args, n);
    else if (fn->min_args == fn->max_args)
        fail(p, name, "%s() takes %d argument%s, got %d", fn->name, fn->min_args,
             fn->min_args == 1 ? "" : "s", n);
    else
        fail(p, name, "%s() takes %d to %d arguments, got %d", fn->name, fn->min_args, fn->max_args,
             n);
    return 0;
}

static vg_q_expr_t *parse_call(parser_t *p)
{
    vg_q_tok_t name = *cur(p);
    const vg_q_func_t *fn = vg_q_func_find(p->src + name.off, name.len);
    if (!fn)
        return unknown_function(p, &name);
    vg_q_expr_t *e = node(p, VG_QE_CALL, &name);
    if (!e)
        return NULL;
    e->u.call.fn = fn;
    next(p);
    next(p); /* '(' */
    vec_t args = {0};
    if (at(p, VG_QT_STAR) && fn->id == VG_QF_COUNT && peek(p, 1)->kind == VG_QT_RPAREN) {
        e->u.call.star = 1;
        next(p);
    }
    int more = !e->u.call.star && !at(p, VG_QT_RPAREN);
    while (more) {
        if (args.n == MAX_LIST)
            return fail(p, cur(p), "too many arguments (limit %d)", MAX_LIST), NULL;
        vg_q_expr_t *a = parse_expr(p);
        if (!a || vec_push(p, &args, a) || !grown(p, e, a))
            return NULL;
        if ((more = at(p, VG_QT_COMMA)))
            next(p);
    }
    if (expect(p, VG_QT_RPAREN) || !arity_ok(p, &name, fn, args.n))
        return NULL;
    e->u.call.nargs = args.n;
    e->u.call.args = (vg_q_expr_t **)args.v;
    return e;
}

static vg_q_expr_t *parse_literal(parser_t *p)
{
    const vg_q_tok_t *t = cur(p);
    vg_q_expr_t *e = NULL;
    switch (t->kind) {
    case VG_QT_NUMBER:
        if ((e = node(p, VG_QE_NUM, t))) {
            e->u.num.is_int = t->v.num.is_int;
            e->u.num.i = t->v.num.i;
            e->u.num.f = t->v.num.f;
        }
        break;
    case VG_QT_DURATION:
        if ((e = node(p, VG_QE_DURATION, t))) {
            e->u.dur.ns = t->v.ns;
            if (!(e->u.dur.text = tok_text_lower(p, t)))
                return NULL;
        }
        break;
    case VG_QT_STRING:
        if ((e = node(p, VG_QE_STR, t))) {
            if (!(e->u.str.s = vg_q_tok_unquote(p->a, p->src, t)))
                return oom(p);
            e->u.str.len = strlen(e->u.str.s);
        }
        break;
    case VG_QT_TRUE:
    case VG_QT_FALSE:
        if ((e = node(p, VG_QE_BOOL, t)))
            e->u.b = t->kind == VG_QT_TRUE;
        break;
    default:
        e = node(p, VG_QE_NULL, t);
        break;
    }
    if (e)
        next(p);
    return e;
}

static vg_q_expr_t *parse_primary(parser_t *p)
{
    const vg_q_tok_t *t = cur(p);
    switch (t->kind) {
    case VG_QT_NUMBER:
    case VG_QT_DURATION:
    case VG_QT_STRING:
    case VG_QT_TRUE:
    case VG_QT_FALSE:
    case VG_QT_NULL:
        return parse_literal(p);
    case VG_QT_IDENT:
        if (peek(p, 1)->kind == VG_QT_LPAREN)
            return parse_call(p);
        /* fall through */
    case VG_QT_QIDENT: {
        vg_q_expr_t *e = node(p, VG_QE_REF, t);
        if (!e)
            return NULL;
        e->u.ref.name = t->kind == VG_QT_QIDENT ? vg_q_tok_unquote(p->a, p->src, t)
                                                : vg_q_arena_strndup(p->a, p->src + t->off, t->len);
        if (!e->u.ref.name)
            return oom(p);
        next(p);
        return e;
    }
    case VG_QT_LPAREN: {
        next(p);
        vg_q_expr_t *e = parse_expr(p);
        return e && !expect(p, VG_QT_RPAREN) ? e : NULL;
    }
    default:
        expected(p, "an expression");
        return NULL;
    }
}

static vg_q_expr_t *parse_unary(parser_t *p)
{
    if (!at(p, VG_QT_MINUS))
        return parse_primary(p);
    vg_q_tok_t op = *cur(p);
    if (enter(p))
        return NULL;
    next(p);
    vg_q_expr_t *a = parse_unary(p);
    p->depth--;
    return a ? unary(p, VG_QO_NEG, a, &op) : NULL;
}

static vg_q_expr_t *parse_mul(parser_t *p)
{
    vg_q_expr_t *e = parse_unary(p);
    while (e && (at(p, VG_QT_STAR) || at(p, VG_QT_SLASH))) {
        vg_q_tok_t op = *cur(p);
        next(p);
        vg_q_expr_t *b = parse_unary(p);
        e = b ? binary(p, op.kind == VG_QT_STAR ? VG_QO_MUL : VG_QO_DIV, e, b, &op) : NULL;
    }
    return e;
}

static vg_q_expr_t *parse_add(parser_t *p)
{
    vg_q_expr_t *e = parse_mul(p);
    while (e && (at(p, VG_QT_PLUS) || at(p, VG_QT_MINUS))) {
        vg_q_tok_t op = *cur(p);
        next(p);
        vg_q_expr_t *b = parse_mul(p);
        e = b ? binary(p, op.kind == VG_QT_PLUS ? VG_QO_ADD : VG_QO_SUB, e, b, &op) : NULL;
    }
    return e;
}

/* The pattern of a /.../ token: \/ becomes /, every other escape stays. */
static char *regex_pattern(parser_t *p, const vg_q_tok_t *t)
{
    const char *s = p->src + t->off + 1;
    size_t n = t->len - 2 - (size_t)t->v.icase;
    char *out = vg_q_arena_alloc(p->a, n + 1);
    if (!out)
        return oom(p);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            if (s[i + 1] != '/')
                out[j++] = '\\';
            out[j++] = s[++i];
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static vg_q_expr_t *parse_regex(parser_t *p, vg_q_expr_t *a, const vg_q_tok_t *op)
{
    const vg_q_tok_t *t = cur(p);
    if (t->kind != VG_QT_REGEX && t->kind != VG_QT_STRING)
        return expected(p, "a regular expression /.../"), NULL;
    vg_q_expr_t *e = node(p, VG_QE_REGEX, op);
    if (!e)
        return NULL;
    e->u.rx.a = a;
    e->u.rx.negate = op->kind == VG_QT_NMATCH;
    e->u.rx.icase = t->kind == VG_QT_REGEX && t->v.icase;
    e->u.rx.pattern =
        t->kind == VG_QT_REGEX ? regex_pattern(p, t) : vg_q_tok_unquote(p->a, p->src, t);
    if (!e->u.rx.pattern)
        return oom(p);
    char msg[128];
    int rc = vg_q_regex_compile(p->a, e->u.rx.pattern, e->u.rx.icase, &e->u.rx.re, msg, sizeof msg);
    if (rc == VG_ENOMEM)
        return oom(p);
    if (rc)
        return fail(p, t, "bad regular expression: %s", msg), NULL;
    next(p);
    return grown(p, e, a);
}

static vg_q_expr_t *parse_in(parser_t *p, vg_q_expr_t *a, const vg_q_tok_t *op, int negate)
{
    vg_q_expr_t *e = node(p, VG_QE_IN, op);
    if (!e || expect(p, VG_QT_LPAREN))
        return NULL;
    vec_t list = {0};
    do {
        const vg_q_tok_t *t = cur(p);
        vg_q_tok_t at_tok = *t;
        if (list.n == MAX_LIST * 100)
            return fail(p, t, "IN list too long"), NULL;
        if (t->kind == VG_QT_RPAREN)
            return expected(p, "a value"), NULL;
        vg_q_expr_t *v = parse_unary(p);
        if (!v)
            return NULL;
        if (v->kind != VG_QE_NUM && v->kind != VG_QE_STR && v->kind != VG_QE_BOOL &&
            v->kind != VG_QE_NULL && v->kind != VG_QE_DURATION)
            return fail(p, &at_tok, "IN takes a list of literal values"), NULL;
        if (vec_push(p, &list, v))
            return NULL;
    } while (at(p, VG_QT_COMMA) && (next(p), 1));
    if (expect(p, VG_QT_RPAREN))
        return NULL;
    e->u.in.a = a;
    e->u.in.negate = negate;
    e->u.in.n = list.n;
    e->u.in.list = (vg_q_expr_t **)list.v;
    return grown(p, e, a) ? grown(p, e, list.v[0]) : NULL;
}

static int is_cmp(vg_q_tok_kind_t k)
{
    return (k >= VG_QT_EQ && k <= VG_QT_NMATCH) || k == VG_QT_IN || k == VG_QT_IS;
}

static vg_q_expr_t *parse_isnull(parser_t *p, vg_q_expr_t *a, const vg_q_tok_t *op)
{
    vg_q_expr_t *e = node(p, VG_QE_ISNULL, op);
    if (!e)
        return NULL;
    if (at(p, VG_QT_NOT)) {
        e->u.isnull.negate = 1;
        next(p);
    }
    if (expect(p, VG_QT_NULL))
        return NULL;
    e->u.isnull.a = a;
    return grown(p, e, a);
}

static vg_q_expr_t *parse_cmp_rhs(parser_t *p, vg_q_expr_t *a)
{
    vg_q_tok_t op = *cur(p);
    next(p);
    switch (op.kind) {
    case VG_QT_MATCH:
    case VG_QT_NMATCH:
        return parse_regex(p, a, &op);
    case VG_QT_IN:
        return parse_in(p, a, &op, 0);
    case VG_QT_NOT:
        next(p);
        return parse_in(p, a, &op, 1); /* NOT IN */
    case VG_QT_IS:
        return parse_isnull(p, a, &op);
    default:
        break;
    }
    static const vg_q_op_t ops[] = {VG_QO_EQ, VG_QO_NE, VG_QO_LT, VG_QO_LE, VG_QO_GT, VG_QO_GE};
    vg_q_expr_t *b = parse_add(p);
    return b ? binary(p, ops[op.kind - VG_QT_EQ], a, b, &op) : NULL;
}

static vg_q_expr_t *parse_cmp(parser_t *p)
{
    vg_q_expr_t *e = parse_add(p);
    if (!e)
        return NULL;
    int not_in = at(p, VG_QT_NOT) && peek(p, 1)->kind == VG_QT_IN;
    if (!is_cmp(cur(p)->kind) && !not_in)
        return e;
    e = parse_cmp_rhs(p, e);
    if (e && (is_cmp(cur(p)->kind) || (at(p, VG_QT_NOT) && peek(p, 1)->kind == VG_QT_IN)))
        return fail(p, cur(p), "comparisons do not chain: join them with AND"), NULL;
    return e;
}

static vg_q_expr_t *parse_not(parser_t *p)
{
    if (!at(p, VG_QT_NOT))
        return parse_cmp(p);
    vg_q_tok_t op = *cur(p);
    if (enter(p))
        return NULL;
    next(p);
    vg_q_expr_t *a = parse_not(p);
    p->depth--;
    return a ? unary(p, VG_QO_NOT, a, &op) : NULL;
}

static vg_q_expr_t *parse_and(parser_t *p)
{
    vg_q_expr_t *e = parse_not(p);
    while (e && at(p, VG_QT_AND)) {
        vg_q_tok_t op = *cur(p);
        next(p);
        vg_q_expr_t *b = parse_not(p);
        e = b ? binary(p, VG_QO_AND, e, b, &op) : NULL;
    }
    return e;
}

static vg_q_expr_t *parse_or(parser_t *p)
{
    vg_q_expr_t *e = parse_and(p);
    while (e && at(p, VG_QT_OR)) {
        vg_q_tok_t op = *cur(p);
        next(p);
        vg_q_expr_t *b = parse_and(p);
        e = b ? binary(p, VG_QO_OR, e, b, &op) : NULL;
    }
    return e;
}

static vg_q_expr_t *parse_expr(parser_t *p)
{
    if (enter(p))
        return NULL;
    vg_q_expr_t *e = parse_or(p);
    p->depth--;
    return e;
}

/* ---------------------------------------------------------------- clauses */

static int parse_duration(parser_t *p, const char *after, vg_q_dur_t *d)
{
    const vg_q_tok_t *t = cur(p);
    char what[64];
    snprintf(what, sizeof what, "a duration after %s (30s 5m 1h 7d)", after);
    if (t->kind != VG_QT_DURATION)
        return expected(p, what);
    if (t->v.ns <= 0)
        return fail(p, t, "%s needs a duration above zero", after);
    d->ns = t->v.ns;
    d->line = t->line;
    d->column = t->col;
    if (!(d->text = tok_text_lower(p, t)))
        return -1;
    next(p);
    return 0;
}

static int is_now(parser_t *p)
{
    const vg_q_tok_t *t = cur(p);
    return t->kind == VG_QT_IDENT && t->len == 3 && strncasecmp(p->src + t->off, "now", 3) == 0 &&
           peek(p, 1)->kind == VG_QT_LPAREN;
}

static int parse_now(parser_t *p, vg_q_time_t *tm)
{
    next(p);
    next(p);
    if (expect(p, VG_QT_RPAREN))
        return -1;
    tm->kind = VG_QTM_NOW;
    if (!at(p, VG_QT_MINUS) && !at(p, VG_QT_PLUS))
        return 0;
    int sign = at(p, VG_QT_MINUS) ? -1 : 1;
    next(p);
    vg_q_dur_t d;
    if (parse_duration(p, sign < 0 ? "now() -" : "now() +", &d))
        return -1;
    tm->ns = sign * d.ns;
    tm->text = d.text;
    return 0;
}

static int parse_time_string(parser_t *p, vg_q_time_t *tm)
{
    const vg_q_tok_t *t = cur(p);
    char *s = vg_q_tok_unquote(p->a, p->src, t);
    if (!s)
        return oom(p), -1;
    const char *q = s;
    while (isspace((unsigned char)*q))
        q++;
    if (strncasecmp(q, "now", 3) == 0)
        return fail(p, t, "write now() without quotes");
    if (vg_time_parse(s, 0, &tm->ns, NULL) != VG_OK)
        return fail(p, t,
                    "bad time '%.40s': use RFC 3339 ('2026-11-27T03:14:00Z'), integer "
                    "nanoseconds, now() or now() - 1h",
                    s);
    tm->kind = VG_QTM_ABS;
    tm->text = s;
    next(p);
    return 0;
}

static int parse_time(parser_t *p, vg_q_time_t *tm)
{
    const vg_q_tok_t *t = cur(p);
    memset(tm, 0, sizeof *tm);
    tm->line = t->line;
    tm->column = t->col;
    if (is_now(p))
        return parse_now(p, tm);
    if (t->kind == VG_QT_STRING)
        return parse_time_string(p, tm);
    if (t->kind == VG_QT_NUMBER && t->v.num.is_int) {
        tm->kind = VG_QTM_ABS;
        tm->ns = t->v.num.i;
        next(p);
        return 0;
    }
    return expected(p, "a time (now(), now() - 1h, '2026-11-27T03:14:00Z' or integer "
                       "nanoseconds)");
}

static int parse_between(parser_t *p, vg_q_time_t *start, vg_q_time_t *end)
{
    next(p); /* BETWEEN */
    if (parse_time(p, start) || expect(p, VG_QT_AND) || parse_time(p, end))
        return -1;
    if (start->kind == end->kind && start->ns >= end->ns)
        return fail_at(p, start->line, start->column, "BETWEEN's start must be before its end");
    return 0;
}

static int parse_count(parser_t *p, const char *what, int64_t *out)
{
    const vg_q_tok_t *t = cur(p);
    char w[64];
    snprintf(w, sizeof w, "a non-negative integer after %s", what);
    if (t->kind != VG_QT_NUMBER || !t->v.num.is_int || t->v.num.i < 0)
        return expected(p, w);
    *out = t->v.num.i;
    next(p);
    return 0;
}

static int parse_groups(parser_t *p, vg_q_stmt_t *s)
{
    vec_t g = {0}, names = {0};
    do {
        const vg_q_tok_t *t = cur(p);
        uint32_t from = t->off;
        if (g.n == 64)
            return fail(p, t, "too many groups in BY (limit 64)");
        int call = t->kind == VG_QT_IDENT && peek(p, 1)->kind == VG_QT_LPAREN;
        if (t->kind != VG_QT_IDENT && t->kind != VG_QT_QIDENT)
            return expected(p, "a tag or bucket(field, edge, ...) after BY");
        vg_q_expr_t *e = parse_primary(p);
        if (!e)
            return -1;
        if (call && e->u.call.fn->kind != VG_QF_GROUP)
            return fail_at(p, e->line, e->column,
                           "BY takes a tag or bucket(field, edge, ...), not %s()",
                           e->u.call.fn->name);
        char *name = call ? span_name(p, from, p->last_end) : e->u.ref.name;
        if (!name)
            return -1;
        for (int i = 0; i < names.n; i++)
            if (strcmp(names.v[i], name) == 0)
                return fail_at(p, e->line, e->column, "%s appears twice in BY", name);
        if (vec_push(p, &g, e) || vec_push(p, &names, name))
            return -1;
    } while (at(p, VG_QT_COMMA) && (next(p), 1));
    s->groups = (vg_q_expr_t **)g.v;
    s->group_names = (char **)names.v;
    s->ngroups = g.n;
    return 0;
}

static int parse_against(parser_t *p, vg_q_stmt_t *s)
{
    const vg_q_tok_t *t = cur(p);
    switch (t->kind) {
    case VG_QT_PREVIOUS:
    case VG_QT_OFFSET:
        s->against.kind = t->kind == VG_QT_PREVIOUS ? VG_QA_PREVIOUS : VG_QA_OFFSET;
        next(p);
        return parse_duration(p, s->against.kind == VG_QA_PREVIOUS ? "PREVIOUS" : "OFFSET",
                              &s->against.span);
    case VG_QT_BETWEEN:
        s->against.kind = VG_QA_BETWEEN;
        return parse_between(p, &s->against.start, &s->against.end);
    case VG_QT_WHERE:
        s->against.kind = VG_QA_WHERE;
        next(p);
        s->against.where = parse_expr(p);
        return s->against.where ? 0 : -1;
    default:
        return expected(p, "PREVIOUS, OFFSET, BETWEEN or WHERE after AGAINST");
    }
}

static int parse_order(parser_t *p, vg_q_stmt_t *s, vec_t *spans)
{
    next(p); /* ORDER */
    if (expect(p, VG_QT_BY))
        return -1;
    vec_t keys = {0};
    do {
        if (keys.n == 64)
            return fail(p, cur(p), "too many ORDER BY keys (limit 64)");
        uint32_t from = cur(p)->off;
        vg_q_order_t *o = vg_q_arena_alloc(p->a, sizeof *o);
        if (!o)
            return oom(p), -1;
        if (!(o->expr = parse_expr(p)))
            return -1;
        char *name =
            o->expr->kind == VG_QE_REF ? o->expr->u.ref.name : span_name(p, from, p->last_end);
        if (!name || vec_push(p, &keys, o) || vec_push(p, spans, name))
            return -1;
        if (at(p, VG_QT_ASC) || at(p, VG_QT_DESC)) {
            o->desc = at(p, VG_QT_DESC);
            next(p);
        }
    } while (at(p, VG_QT_COMMA) && (next(p), 1));
    s->order = vg_q_arena_alloc(p->a, (size_t)keys.n * sizeof *s->order);
    if (!s->order)
        return oom(p), -1;
    for (int i = 0; i < keys.n; i++)
        s->order[i] = *(vg_q_order_t *)keys.v[i];
    s->norder = keys.n;
    return 0;
}

static const char *const clause_words[] = {"WHERE",   "SINCE", "BETWEEN", "EVERY", "BY",
                                           "AGAINST", "ORDER", "LIMIT",   "SAMPLE"};

static int unexpected_after_from(parser_t *p)
{
    const vg_q_tok_t *t = cur(p);
    char word[64], found[64];
    describe(p, t, found, sizeof found);
    if (t->kind == VG_QT_IDENT) {
        snprintf(word, sizeof word, "%.*s", t->len > 63 ? 63 : (int)t->len, p->src + t->off);
        const char *s = vg_q_suggest(word, clause_words, 9);
        if (s)
            return fail(p, t, "expected a clause or end of query, found %s (did you mean %s?)",
                        found, s);
    }
    return fail(p, t,
                "expected WHERE, SINCE, BETWEEN, EVERY, BY, AGAINST, ORDER BY, LIMIT, SAMPLE "
                "or end of query, found %s",
                found);
}

static clause_t clause_of(vg_q_tok_kind_t k)
{
    switch (k) {
    case VG_QT_WHERE:
        return CL_WHERE;
    case VG_QT_SINCE:
    case VG_QT_BETWEEN:
        return CL_RANGE;
    case VG_QT_EVERY:
        return CL_EVERY;
    case VG_QT_BY:
        return CL_BY;
    case VG_QT_AGAINST:
        return CL_AGAINST;
    case VG_QT_ORDER:
        return CL_ORDER;
    case VG_QT_LIMIT:
        return CL_LIMIT;
    case VG_QT_SAMPLE:
        return CL_SAMPLE;
    default:
        return CL_N;
    }
}

static int parse_clause(parser_t *p, vg_q_stmt_t *s, clause_t c, vec_t *order_names)
{
    switch (c) {
    case CL_WHERE:
        next(p);
        return (s->where = parse_expr(p)) ? 0 : -1;
    case CL_RANGE:
        if (at(p, VG_QT_BETWEEN)) {
            s->range.kind = VG_QR_BETWEEN;
            return parse_between(p, &s->range.start, &s->range.end);
        }
        next(p);
        s->range.kind = VG_QR_SINCE;
        return parse_duration(p, "SINCE", &s->range.since);
    case CL_EVERY:
        next(p);
        return parse_duration(p, "EVERY", &s->every);
    case CL_BY:
        next(p);
        return parse_groups(p, s);
    case CL_AGAINST:
        next(p);
        return parse_against(p, s);
    case CL_ORDER:
        return parse_order(p, s, order_names);
    case CL_LIMIT:
        next(p);
        return parse_count(p, "LIMIT", &s->limit);
    case CL_SAMPLE:
        next(p);
        return parse_count(p, "SAMPLE", &s->sample);
    default:
        return unexpected_after_from(p);
    }
}

static int parse_clauses(parser_t *p, vg_q_stmt_t *s, vec_t *order_names)
{
    static const char *const names[CL_N] = {
        "WHERE", "range (SINCE or BETWEEN)", "EVERY", "BY", "AGAINST", "ORDER BY", "LIMIT",
        "SAMPLE"};
    while (!at(p, VG_QT_EOF) && !at(p, VG_QT_SEMI)) {
        const vg_q_tok_t *t = cur(p);
        if (t->kind == VG_QT_IDENT && t->len == 5 &&
            strncasecmp(p->src + t->off, "group", 5) == 0 &&
            peek(p, 1)->kind == VG_QT_BY) { /* SQL habit: GROUP BY means BY */
            next(p);
            t = cur(p);
        }
        clause_t c = clause_of(t->kind);
        if (c != CL_N && p->clause_line[c])
            return fail(p, t, "%s given twice (first at line %d, column %d)", names[c],
                        p->clause_line[c], p->clause_col[c]);
        if (c != CL_N) {
            p->clause_line[c] = t->line;
            p->clause_col[c] = t->col;
        }
        if (parse_clause(p, s, c, order_names))
            return -1;
    }
    if (at(p, VG_QT_SEMI))
        next(p);
    return at(p, VG_QT_EOF) ? 0 : expected(p, "end of query after ';'");
}

static int parse_item(parser_t *p, vg_q_item_t *it)
{
    const vg_q_tok_t *t = cur(p);
    uint32_t from = t->off;
    it->line = t->line;
    it->column = t->col;
    if (t->kind == VG_QT_STAR) {
        next(p);
        it->name = it->text = "*";
        return 0;
    }
    if (!(it->expr = parse_expr(p)))
        return -1;
    uint32_t to = p->last_end;
    if (at(p, VG_QT_AS)) {
        next(p);
        t = cur(p);
        if (t->kind != VG_QT_IDENT && t->kind != VG_QT_QIDENT)
            return expected(p, "a column name after AS");
        it->alias = t->kind == VG_QT_QIDENT ? vg_q_tok_unquote(p->a, p->src, t)
                                            : vg_q_arena_strndup(p->a, p->src + t->off, t->len);
        if (!it->alias)
            return oom(p), -1;
        next(p);
    }
    it->text = it->expr->kind == VG_QE_REF ? it->expr->u.ref.name : span_name(p, from, to);
    it->name = it->alias ? it->alias : it->text;
    return it->name ? 0 : -1;
}

static int parse_items(parser_t *p, vg_q_stmt_t *s)
{
    vec_t items = {0};
    do {
        if (items.n == MAX_LIST)
            return fail(p, cur(p), "too many items in SELECT (limit %d)", MAX_LIST);
        vg_q_item_t *it = vg_q_arena_alloc(p->a, sizeof *it);
        if (!it)
            return oom(p), -1;
        if (parse_item(p, it) || vec_push(p, &items, it))
            return -1;
    } while (at(p, VG_QT_COMMA) && (next(p), 1));
    s->items = vg_q_arena_alloc(p->a, (size_t)items.n * sizeof *s->items);
    if (!s->items)
        return oom(p), -1;
    for (int i = 0; i < items.n; i++)
        s->items[i] = *(vg_q_item_t *)items.v[i];
    s->nitems = items.n;
    return 0;
}

/* ------------------------------------------------------------------ entry */

static int parser_init(parser_t *p, const char *text, vg_q_error_t *err)
{
    memset(p, 0, sizeof *p);
    p->err = err;
    p->src = text;
    size_t n = text ? strlen(text) : 0;
    if (!text || n > MAX_TEXT)
        return vg_q_error_set(err, VG_EPARSE, 0, 0, "query text %s",
                              text ? "longer than 16 MiB" : "missing");
    vg_q_lex_init(&p->lx, text, n);
    if (!(p->a = vg_q_arena_create()))
        return vg_q_error_set(err, VG_ENOMEM, 0, 0, "out of memory parsing the query");
    return 0;
}

/* A lexer error that no parse error preceded still fails the parse. */
static int finish(parser_t *p)
{
    if (!p->rc && p->lex_failed) {
        p->rc = VG_EPARSE;
        if (p->err)
            *p->err = p->lexerr;
    }
    return p->rc;
}

static int parse_stmt(parser_t *p, vg_q_stmt_t *s)
{
    vec_t order_names = {0};
    s->limit = s->sample = -1;
    s->range.since.ns = 3600 * VG_NS_PER_SEC;
    if (expect(p, VG_QT_SELECT) || parse_items(p, s))
        return -1;
    if (!at(p, VG_QT_FROM))
        return expected(p, "FROM");
    next(p);
    const vg_q_tok_t *t = cur(p);
    if (t->kind != VG_QT_IDENT && t->kind != VG_QT_QIDENT)
        return expected(p, "a table name after FROM");
    s->table_line = t->line;
    s->table_column = t->col;
    s->table = t->kind == VG_QT_QIDENT ? vg_q_tok_unquote(p->a, p->src, t)
                                       : vg_q_arena_strndup(p->a, p->src + t->off, t->len);
    if (!s->table)
        return oom(p), -1;
    next(p);
    if (parse_clauses(p, s, &order_names) || finish(p))
        return -1;
    return p->rc = vg_q_check_stmt(s, (char **)order_names.v, p->clause_line, p->clause_col,
                                   p->err);
}

int vg_q_parse(const char *text, vg_q_stmt_t **out, vg_q_error_t *err)
{
    parser_t p;
    int rc = parser_init(&p, text, err);
    if (rc)
        return rc;
    vg_q_stmt_t *s = vg_q_arena_alloc(p.a, sizeof *s);
    if (!s)
        oom(&p);
    else
        s->arena = p.a;
    if (!s || parse_stmt(&p, s) || finish(&p)) {
        vg_q_arena_destroy(p.a);
        return p.rc;
    }
    *out = s;
    return VG_OK;
}

int vg_q_parse_expr(const char *text, vg_q_expr_t **out, vg_q_error_t *err)
{
    parser_t p;
    int rc = parser_init(&p, text, err);
    if (rc)
        return rc;
    vg_q_expr_t *e = parse_expr(&p);
    if (e && !at(&p, VG_QT_EOF))
        expected(&p, "an operator or end of expression");
    if (e && !finish(&p) && !(p.rc = vg_q_check_column_expr(e, p.err))) {
        e->owner = p.a;
        *out = e;
        return VG_OK;
    }
    finish(&p);
    vg_q_arena_destroy(p.a);
    return p.rc;
}
