/*
 * parse_int.h: what the parser (parse.c) shares with the checks it runs
 * after a successful parse (check.c).
 */
#ifndef VIGIL_QUERY_PARSE_INT_H
#define VIGIL_QUERY_PARSE_INT_H

#include "ast.h"

/* The clauses after FROM; the parser records where each appeared. */
typedef enum clause {
    CL_WHERE,
    CL_RANGE,
    CL_EVERY,
    CL_BY,
    CL_AGAINST,
    CL_ORDER,
    CL_LIMIT,
    CL_SAMPLE,
    CL_N
} clause_t;

/*
 * The schema-free checks of a parsed statement; they also set s->aggregate,
 * s->star and each ORDER BY key's item, group and is_time.
 * @param order_names  per ORDER BY key, the name it was written as
 * @param clause_line  per clause_t, its line (0: absent); clause_col likewise
 * @param err          optional: the first failed check, with its position
 * @return VG_OK or VG_EPARSE.
 * Ownership: borrows everything; allocates nothing.
 */
int vg_q_check_stmt(vg_q_stmt_t *s, char **order_names, const int *clause_line,
                    const int *clause_col, vg_q_error_t *err);

/* The checks of a standalone expression over result columns (no aggregates). */
int vg_q_check_column_expr(const vg_q_expr_t *e, vg_q_error_t *err);

#endif
