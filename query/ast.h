/*
 * ast.h: the query layer's private structures, shared by the lexer
 * (lex.c), the parser (parse.c), the AST helpers (ast.c) and the executor.
 *
 * Invariants of a parsed statement (vg_q_parse checks them all):
 * - every node lives in the statement's arena and is freed with it;
 * - a CALL's fn is a function-table entry whose arity fits nargs;
 * - no aggregate, drift or baseline call sits inside another one, except
 *   the aggregate expression that is a baseline/zscore's first argument;
 * - an expression tree is at most VG_Q_MAX_DEPTH high, so recursive walks
 *   over it are bounded;
 * - REGEX nodes hold a compiled regex_t (REG_EXTENDED|REG_NOSUB).
 */
#ifndef VIGIL_QUERY_AST_H
#define VIGIL_QUERY_AST_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/vg_query.h"

/* ------------------------------------------------------------------- arena */

/* Bump allocator: one per statement (or standalone expression). */
typedef struct vg_q_arena vg_q_arena_t;
vg_q_arena_t *vg_q_arena_create(void);
void vg_q_arena_destroy(vg_q_arena_t *a);          /* regfree()s its registered regexes too */
void *vg_q_arena_alloc(vg_q_arena_t *a, size_t n); /* zeroed; NULL on ENOMEM */
char *vg_q_arena_strndup(vg_q_arena_t *a, const char *s, size_t n);
/* Remember a compiled regex so that destroy frees it. Returns 0 or VG_ENOMEM. */
int vg_q_arena_own_regex(vg_q_arena_t *a, regex_t *re);

/*
 * Compile a POSIX ERE (REG_EXTENDED|REG_NOSUB, REG_ICASE if icase) owned by
 * the arena. Patterns whose compiled size would explode (stacked or deeply
 * nested repetition, over 4 KiB) are refused. VG_EPARSE puts the reason in
 * msg; VG_ENOMEM.
 */
int vg_q_regex_compile(vg_q_arena_t *a, const char *pattern, int icase, regex_t **out, char *msg,
                       size_t cap);

/* ------------------------------------------------------------------ tokens */

typedef enum vg_q_tok_kind {
    VG_QT_EOF = 0,
    VG_QT_IDENT,    /* plain word [A-Za-z_][A-Za-z0-9_]* that is no keyword */
    VG_QT_QIDENT,   /* "double quoted" name, "" for a quote */
    VG_QT_STRING,   /* 'single quoted', '' for a quote */
    VG_QT_NUMBER,   /* 42, 0.5, 1e-3 */
    VG_QT_DURATION, /* 30s, 1h30m, 250ms */
    VG_QT_REGEX,    /* /.../ (only right after =~ or !~), optional i flag */
    /* operators */
    VG_QT_PLUS,
    VG_QT_MINUS,
    VG_QT_STAR,
    VG_QT_SLASH,
    VG_QT_EQ,
    VG_QT_NE,
    VG_QT_LT,
    VG_QT_LE,
    VG_QT_GT,
    VG_QT_GE,
    VG_QT_MATCH,
    VG_QT_NMATCH,
    VG_QT_LPAREN,
    VG_QT_RPAREN,
    VG_QT_COMMA,
    VG_QT_SEMI,
    /* keywords (case-insensitive) */
    VG_QT_KW_FIRST,
    VG_QT_SELECT = VG_QT_KW_FIRST,
    VG_QT_FROM,
    VG_QT_WHERE,
    VG_QT_SINCE,
    VG_QT_BETWEEN,
    VG_QT_AND,
    VG_QT_OR,
    VG_QT_NOT,
    VG_QT_EVERY,
    VG_QT_BY,
    VG_QT_AGAINST,
    VG_QT_PREVIOUS,
    VG_QT_OFFSET,
    VG_QT_ORDER,
    VG_QT_ASC,
    VG_QT_DESC,
    VG_QT_LIMIT,
    VG_QT_SAMPLE,
    VG_QT_AS,
    VG_QT_IN,
    VG_QT_IS,
    VG_QT_TRUE,
    VG_QT_FALSE,
    VG_QT_NULL,
    VG_QT_KW_END
} vg_q_tok_kind_t;

typedef struct vg_q_tok {
    vg_q_tok_kind_t kind;
    uint32_t off, len; /* the token's bytes in the source */
    int line, col;
    union {
        struct {
            int is_int;
            int64_t i;
            double f;
        } num;
        int64_t ns; /* DURATION */
        int icase;  /* REGEX: trailing i flag */
    } v;
} vg_q_tok_t;

typedef struct vg_q_lexer {
    const char *src;
    size_t n, pos;
    size_t sync_off; /* line/col are those of src[sync_off] */
    int line, col;
    vg_q_tok_kind_t prev; /* kind of the last token, for regex context */
} vg_q_lexer_t;

void vg_q_lex_init(vg_q_lexer_t *lx, const char *src, size_t n);
/* Next token into *t; VG_EPARSE (with position) on a malformed token. */
int vg_q_lex_next(vg_q_lexer_t *lx, vg_q_tok_t *t, vg_q_error_t *err);
/* Keyword text in upper case ("SELECT"), or a printable operator ("<="). */
const char *vg_q_tok_text(vg_q_tok_kind_t k);
/* Non-zero if a name would lex as a keyword (so it must be quoted). */
int vg_q_is_keyword(const char *s, size_t n);
/* Unescape a STRING or QIDENT token's text ('' or "" to one quote). */
char *vg_q_tok_unquote(vg_q_arena_t *a, const char *src, const vg_q_tok_t *t);

/* -------------------------------------------------------------- functions */

typedef enum vg_q_fkind {
    VG_QF_AGGREGATE, /* one value per window and group from its rows */
    VG_QF_SCALAR,    /* row- or value-wise */
    VG_QF_DRIFT,     /* current window against the AGAINST reference */
    VG_QF_BASELINE,  /* an aggregate over earlier windows */
    VG_QF_GROUP,     /* bucket(): only in BY */
} vg_q_fkind_t;

typedef enum vg_q_fid {
    VG_QF_COUNT,
    VG_QF_SUM,
    VG_QF_MEAN,
    VG_QF_MIN,
    VG_QF_MAX,
    VG_QF_STDDEV,
    VG_QF_FIRST,
    VG_QF_LAST,
    VG_QF_COUNT_DISTINCT,
    VG_QF_COUNT_IF,
    VG_QF_RATE,
    VG_QF_QUANTILE,        /* quantile(f, q) and the pNN shortcuts (fn->q) */
    VG_QF_APPROX_QUANTILE, /* approx_quantile(f, q) */
    VG_QF_HISTOGRAM,       /* histogram(f, bins) */
    VG_QF_BASELINE_FN,
    VG_QF_ZSCORE,
    VG_QF_KS,
    VG_QF_KS_P,
    VG_QF_WASSERSTEIN,
    VG_QF_PSI,
    VG_QF_JS,
    VG_QF_CHI2_P,
    VG_QF_ZTEST_P,
    VG_QF_N_CUR,
    VG_QF_N_REF,
    VG_QF_BUCKET,
    VG_QF_NOW,
    VG_QF_ABS,
    VG_QF_SQRT,
    VG_QF_LN,
    VG_QF_LOG10,
    VG_QF_EXP,
    VG_QF_ROUND,
    VG_QF_FLOOR,
    VG_QF_CEIL,
    VG_QF_COALESCE,
    VG_QF_GREATEST,
    VG_QF_LEAST,
} vg_q_fid_t;

typedef struct vg_q_func {
    const char *name;      /* as written (lower case); aliases have their own entry */
    const char *canonical; /* "mean" for "avg"; == name otherwise */
    vg_q_fid_t id;
    vg_q_fkind_t kind;
    int min_args, max_args; /* max_args -1: any number */
    double q;               /* the quantile of p50..p999, else -1 */
} vg_q_func_t;

/* Case-insensitive lookup, aliases resolved to their entry; NULL if unknown. */
const vg_q_func_t *vg_q_func_find(const char *name, size_t n);
/* The table itself, for suggestions and completion. */
const vg_q_func_t *vg_q_funcs(size_t *n);

/* ----------------------------------------------------------- expressions */

typedef enum vg_q_ekind {
    VG_QE_NUM,
    VG_QE_STR,
    VG_QE_BOOL,
    VG_QE_NULL,
    VG_QE_DURATION, /* a duration literal (baseline's span, now() - 2h) */
    VG_QE_REF,      /* a field, tag, `time`, or (standalone) a result column */
    VG_QE_UNARY,    /* NOT, unary - */
    VG_QE_BINARY,   /* arithmetic, comparison, AND, OR */
    VG_QE_REGEX,    /* a =~ /re/, a !~ /re/ */
    VG_QE_IN,       /* a [NOT] IN (literal, ...) */
    VG_QE_ISNULL,   /* a IS [NOT] NULL */
    VG_QE_CALL,
} vg_q_ekind_t;

typedef enum vg_q_op {
    VG_QO_ADD,
    VG_QO_SUB,
    VG_QO_MUL,
    VG_QO_DIV,
    VG_QO_EQ,
    VG_QO_NE,
    VG_QO_LT,
    VG_QO_LE,
    VG_QO_GT,
    VG_QO_GE,
    VG_QO_AND,
    VG_QO_OR,
    VG_QO_NOT,
    VG_QO_NEG,
} vg_q_op_t;

struct vg_q_expr {
    vg_q_ekind_t kind;
    int line, column;    /* of the node's first token (an operator's: its operator) */
    int height;          /* 1 for a leaf */
    vg_q_arena_t *owner; /* set on a standalone expression's root only */
    union {
        struct {
            int is_int;
            int64_t i; /* is_int */
            double f;  /* always set (i converted) */
        } num;
        struct {
            char *s; /* NUL-terminated; may hold NULs only if the source did */
            size_t len;
        } str;
        int b;
        struct {
            int64_t ns;
            const char *text; /* as written, lower case: "1h30m" */
        } dur;
        struct {
            char *name;
        } ref;
        struct {
            vg_q_op_t op;
            vg_q_expr_t *a;
        } un;
        struct {
            vg_q_op_t op;
            vg_q_expr_t *a, *b;
        } bin;
        struct {
            vg_q_expr_t *a;
            int negate; /* !~ */
            int icase;
            char *pattern; /* the POSIX ERE, \/ resolved */
            regex_t *re;
        } rx;
        struct {
            vg_q_expr_t *a;
            int negate; /* NOT IN */
            int n;
            vg_q_expr_t **list; /* literals */
        } in;
        struct {
            vg_q_expr_t *a;
            int negate; /* IS NOT NULL */
        } isnull;
        struct {
            const vg_q_func_t *fn;
            int star; /* count(*) */
            int nargs;
            vg_q_expr_t **args;
        } call;
    } u;
};

/* Bit (1 << kind) for each function kind called anywhere in e. */
unsigned vg_q_expr_fkinds(const vg_q_expr_t *e);
#define VG_Q_AGGLIKE ((1u << VG_QF_AGGREGATE) | (1u << VG_QF_DRIFT) | (1u << VG_QF_BASELINE))

/* ------------------------------------------------------------- statement */

typedef enum vg_q_time_kind {
    VG_QTM_NOW, /* now() + ns (ns <= 0 for now() - d) */
    VG_QTM_ABS, /* ns since the epoch */
} vg_q_time_kind_t;

typedef struct vg_q_time {
    vg_q_time_kind_t kind;
    int64_t ns;
    const char *text; /* NOW: the duration as written or NULL; ABS: the literal
                         ('...' content) or NULL for integer nanoseconds */
    int line, column;
} vg_q_time_t;

typedef struct vg_q_dur {
    int64_t ns;
    const char *text;
    int line, column;
} vg_q_dur_t;

typedef enum vg_q_range_kind {
    VG_QR_DEFAULT, /* SINCE 1h */
    VG_QR_SINCE,
    VG_QR_BETWEEN,
} vg_q_range_kind_t;

typedef enum vg_q_against_kind {
    VG_QA_NONE, /* drift functions default to PREVIOUS 7d */
    VG_QA_PREVIOUS,
    VG_QA_OFFSET,
    VG_QA_BETWEEN,
    VG_QA_WHERE,
} vg_q_against_kind_t;

typedef struct vg_q_item {
    vg_q_expr_t *expr; /* NULL for '*' */
    char *alias;       /* AS name or NULL */
    char *name;        /* output column name (see vg_q_item_name) */
    char *text;        /* the name it would have without AS */
    int line, column;
} vg_q_item_t;

typedef struct vg_q_order {
    vg_q_expr_t *expr;
    int desc;
    int item;    /* index of the SELECT item it names, or -1 */
    int group;   /* index of the BY group it names, or -1 */
    int is_time; /* the `time` column */
} vg_q_order_t;

struct vg_q_stmt {
    vg_q_arena_t *arena;
    vg_q_item_t *items;
    int nitems;
    int star;      /* SELECT * */
    int aggregate; /* some item aggregates */
    char *table;
    int table_line, table_column;
    vg_q_expr_t *where;
    struct {
        vg_q_range_kind_t kind;
        vg_q_dur_t since; /* SINCE (DEFAULT: 1h, text NULL) */
        vg_q_time_t start, end;
    } range;
    vg_q_dur_t every;     /* ns 0: one window */
    vg_q_expr_t **groups; /* REF or CALL bucket */
    char **group_names;   /* output column names: the tag, or "bucket(...)" */
    int ngroups;
    struct {
        vg_q_against_kind_t kind;
        vg_q_dur_t span; /* PREVIOUS / OFFSET */
        vg_q_time_t start, end;
        vg_q_expr_t *where;
    } against;
    vg_q_order_t *order;
    int norder;
    int64_t limit;  /* -1: none */
    int64_t sample; /* -1: none */
};

/* --------------------------------------------------------------- printing */

/* A bounded string builder: counts what it could not store, as snprintf. */
typedef struct vg_q_sb {
    char *buf;
    size_t cap, len;
} vg_q_sb_t;
void vg_q_sb_put(vg_q_sb_t *b, const char *s, size_t n);
void vg_q_sb_puts(vg_q_sb_t *b, const char *s);
void vg_q_format_expr_sb(vg_q_sb_t *b, const vg_q_expr_t *e, int flags);
/* A name, double-quoted when it is not a plain word or is a keyword. */
void vg_q_format_name_sb(vg_q_sb_t *b, const char *name);

#endif
