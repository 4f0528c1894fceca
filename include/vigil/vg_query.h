/*
 * vg_query.h: Vigil's query language, public API.
 *
 *   SELECT item [, item]... FROM table [WHERE predicate]
 *   [SINCE duration | BETWEEN time AND time] [EVERY duration] [BY group [, group]...]
 *   [AGAINST PREVIOUS d | OFFSET d | BETWEEN t AND t | WHERE predicate]
 *   [ORDER BY item [ASC|DESC] [, ...]] [LIMIT n] [SAMPLE n]
 *
 * Beyond issue 3's grammar, where users would expect it: the clauses after
 * FROM in any order (each once; printed back in the grammar's order),
 * GROUP BY for BY, several ORDER BY keys, `==` and `<>`, `x NOT IN (...)`,
 * `x IS [NOT] NULL`, count(*), a regex as /.../i (case-insensitive) or as a
 * 'string', `--` comments, `now() + d`, the aliases avg (mean) and median
 * (p50), and the scalar functions now abs sqrt ln log10 exp round floor ceil
 * coalesce greatest least. Identifiers are case-sensitive; keywords,
 * function names and duration units are not.
 *
 * Sections: errors; parsing and printing statements; standalone expressions
 * (a runbook's `when:`); inspecting a parsed statement (for `vigil check`
 * and the runbooks); executing (added by the executor).
 *
 * Positions are 1-based lines and columns; a column counts characters
 * (UTF-8 code points) from the start of its line.
 */
#ifndef VIGIL_VG_QUERY_H
#define VIGIL_VG_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "vg_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

/* A query error: status, position and message (without the position). */
typedef struct vg_q_error {
    int code;   /* negative VG_E* status, as returned */
    int line;   /* 1-based; 0 when the error has no position */
    int column; /* 1-based */
    char msg[256];
} vg_q_error_t;

/*
 * Fill err (may be NULL) and return code. For the executor and `vigil check`
 * to report schema errors in the parser's shape.
 */
int vg_q_error_set(vg_q_error_t *err, int code, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * "error at line 1, column 23: <msg>" (or "error: <msg>" without a
 * position) into buf. Returns the length it needed, as snprintf does.
 */
int vg_q_error_format(const vg_q_error_t *err, char *buf, size_t cap);

/*
 * The closest of candidates[0..n) to word within edit distance 2 (1 for
 * words of 3 or 4 characters, none for shorter ones; ties go to
 * the longer common prefix, then to the earlier candidate), or NULL. Case is
 * ignored. Ownership: returns one of the candidates.
 */
const char *vg_q_suggest(const char *word, const char *const *candidates, size_t n);

/* -------------------------------------------------------------- statements */

typedef struct vg_q_stmt vg_q_stmt_t; /* a parsed, checked statement */

/* Nesting deeper than this (parentheses, NOT, operator chains) is an error. */
#define VG_Q_MAX_DEPTH 200

/*
 * Parse and check one statement (an optional trailing ';' is allowed).
 * Checks that need no schema are done here: function names and arities,
 * aggregate nesting, '*' alone, clause values, repeated clauses, duplicate
 * column names, and the two shapes of a query: with an aggregate, a field
 * outside every aggregate must be a BY tag or time, and SAMPLE is refused;
 * without one (raw rows), EVERY, BY and AGAINST are refused. Names are
 * checked against a schema later (see vg_q_refs).
 * @return VG_OK; VG_EPARSE with err's line and column; VG_ENOMEM.
 * Ownership: text is borrowed during the call; *out (set only on success)
 * belongs to the caller, freed with vg_q_free.
 */
int vg_q_parse(const char *text, vg_q_stmt_t **out, vg_q_error_t *err);
void vg_q_free(vg_q_stmt_t *s); /* NULL is a no-op */

/*
 * Print the statement back in canonical form on one line: keywords upper
 * case, single spaces, the clauses in the grammar's order, only the
 * parentheses precedence needs. Parsing the output gives the same statement.
 * @return the length needed (as snprintf); buf is always terminated when
 * cap > 0.
 */
int vg_q_format(const vg_q_stmt_t *s, char *buf, size_t cap);

/* ------------------------------------------------------------- expressions */

typedef struct vg_q_expr vg_q_expr_t;

/*
 * Parse a standalone expression over a result's columns (a runbook's
 * `when:` and `resolve_when:`): arithmetic, comparisons, AND/OR/NOT, scalar
 * functions; aggregates are refused.
 * Ownership: *out (set only on success) is freed with vg_q_expr_free.
 */
int vg_q_parse_expr(const char *text, vg_q_expr_t **out, vg_q_error_t *err);
void vg_q_expr_free(vg_q_expr_t *e); /* NULL is a no-op; only for vg_q_parse_expr's trees */

#define VG_Q_FMT_PARENS 1 /* parenthesise every operation (to show precedence) */
/* Canonical text of an expression; returns the length needed, as snprintf. */
int vg_q_expr_format(const vg_q_expr_t *e, int flags, char *buf, size_t cap);

/* --------------------------------------------------- inspecting statements */

const char *vg_q_table(const vg_q_stmt_t *s);
/* Number of SELECT items ('*' counts as one item named "*"). */
size_t vg_q_item_count(const vg_q_stmt_t *s);
/*
 * Output column name of item i: its AS name, else the bare field name for a
 * plain reference, else its source text in lower case without whitespace
 * (quoted strings, quoted names and regexes kept verbatim): "p99(latency_s)".
 * NULL when i is out of range. Ownership: valid until vg_q_free(s).
 */
const char *vg_q_item_name(const vg_q_stmt_t *s, size_t i);
/* Non-zero when the statement aggregates (any aggregate, drift or baseline). */
int vg_q_is_aggregate(const vg_q_stmt_t *s);

/*
 * The BY groups: their number and output column names (a tag's name, or
 * "bucket(...)"). In an aggregate's result, the group columns come first,
 * after a `time` column when the statement has EVERY (vg_q_every_ns > 0).
 * Ownership: valid until vg_q_free(s).
 */
size_t vg_q_group_count(const vg_q_stmt_t *s);
const char *vg_q_group_name(const vg_q_stmt_t *s, size_t i);
int64_t vg_q_every_ns(const vg_q_stmt_t *s); /* 0: one window */

/* Where a field or tag name is referenced. */
typedef enum vg_q_ref_role {
    VG_Q_REF_SELECT = 0,
    VG_Q_REF_WHERE,
    VG_Q_REF_GROUP,   /* a BY tag or bucket()'s field */
    VG_Q_REF_AGAINST, /* AGAINST WHERE */
    VG_Q_REF_ORDER,   /* an ORDER BY key that names no result column */
    VG_Q_REF_EXPR,    /* a standalone expression's column */
} vg_q_ref_role_t;

/* Called once per reference; a non-zero return stops the walk. */
typedef int (*vg_q_ref_fn)(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column);

/*
 * Report every field and tag reference in source order (SELECT, WHERE, BY,
 * AGAINST, ORDER BY), so that a caller holding a schema can say
 * "unknown field 'latncy_s' in table llm_request (did you mean 'latency_s'?)"
 * at the right place. `time` is reported too. Returns 0 or fn's non-zero value.
 */
int vg_q_refs(const vg_q_stmt_t *s, vg_q_ref_fn fn, void *ctx);
int vg_q_expr_refs(const vg_q_expr_t *e, vg_q_ref_fn fn, void *ctx);

/*
 * The language's keywords (upper case) and function names (lower case), for
 * completion: up to cap of them into out; returns how many there are.
 * Ownership: static strings.
 */
size_t vg_q_words(const char **out, size_t cap);

/* --------------------------------------------------------------- executing */

/* Limits and the evaluation time of one query. Every limit, when hit, fails
 * the query with VG_ELIMIT and a message naming the limit and its option. */
typedef struct vg_q_exec_opts {
    int64_t now_ns;      /* what now() is; 0: the wall clock (vigil query --at, HTTP time=) */
    uint64_t max_values; /* raw values held at once (exact quantiles, drift, raw rows,
                            samples); default 50,000,000 */
    uint64_t max_groups; /* result groups; default 100,000 */
    uint64_t timeout_ms; /* default 60,000 */
    unsigned threads;    /* scanning threads; default 2 */
} vg_q_exec_opts_t;

void vg_q_exec_opts_default(vg_q_exec_opts_t *o);

/*
 * Run a parsed statement against db. Names are checked against the table's
 * schema first (VG_ENOTFOUND with line, column and a suggestion). Reads a
 * snapshot: a query never blocks ingest. opts may be NULL for the defaults.
 * Ownership: *out is initialised here and the caller frees it with
 * vg_result_free, also after a failure.
 */
struct vg_db;
struct vg_result;
int vg_q_exec(struct vg_db *db, const vg_q_stmt_t *s, const vg_q_exec_opts_t *opts,
              struct vg_result *out, vg_q_error_t *err);
/* Parse and run. */
int vg_q_run(struct vg_db *db, const char *text, const vg_q_exec_opts_t *opts,
             struct vg_result *out, vg_q_error_t *err);

/*
 * Evaluate a standalone expression (vg_q_parse_expr) over row `row` of a
 * result: its names are the result's column names. *num (may be NULL) gets
 * its numeric value, NaN when it is null or a string; *truth (may be NULL)
 * is 1 when it is true or a non-zero number, 0 when false, zero or null (a
 * comparison with null is null, so false). VG_ENOTFOUND names an unknown
 * column with the expression's line and column.
 */
int vg_q_expr_eval(const vg_q_expr_t *e, const struct vg_result *r, size_t row, double *num,
                   int *truth, vg_q_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
