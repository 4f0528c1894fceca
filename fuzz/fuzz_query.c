/*
 * fuzz_query.c: libFuzzer target for the query language (vg_query.h): the
 * lexer, parser and checker, the canonical printer, and the binder and
 * executor over a small database.
 *
 * The input is query text. It is parsed both as a statement and as a
 * standalone expression (a runbook's `when:`). Oracles: a statement or
 * expression that parses prints back to text that parses again and prints
 * the same (vg_q_format's promise); every reference walk terminates; an
 * error has a message. A statement that parses is then run (schema checks,
 * binding, planning, execution) against a database of a few hundred rows
 * made once per process, under tight limits so that no input runs long.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"
#include "vigil/vigil.h"

#define Q_ROWS 400

static vg_db_t *q_db;
static int64_t q_now;

static void q_db_close(void)
{
    vg_db_close(q_db, NULL);
    q_db = NULL;
}

/* A database with the shapes of the shipped runbooks' tables: numbers of
 * each type, booleans, strings, several tags, two tables and an hour. */
static vg_db_t *q_open_db(void)
{
    if (q_db)
        return q_db;
    char dir[4200];
    vg_fuzz_dir("query-db", dir, sizeof dir);
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.wal_sync = VG_WAL_SYNC_NONE;
    o.background = 0;
    o.io_kind = 2;
    vg_error_t err = {0};
    VG_FUZZ_CHECK(vg_db_open(dir, &o, &q_db, &err) == VG_OK, "vg_db_open: %s", err.msg);
    atexit(q_db_close);
    q_now = vg_now_ns() / 3600000000000 * 3600000000000;
    static const char *routes[] = {"summarize", "answer", "refund_qa", "code_assist"};
    static const char *models[] = {"gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet"};
    size_t cap = Q_ROWS * 512, len = 0;
    char *lp = malloc(cap);
    VG_FUZZ_CHECK(lp != NULL, "harness out of memory");
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < Q_ROWS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ts = q_now - 3600000000000 + (int64_t)i * (3600000000000 / Q_ROWS);
        len += (size_t)snprintf(
            lp + len, cap - len,
            "llm_request,service=search,route=%s,model=%s,region=%s,stream=%s "
            "input_tokens=%" PRIu64 "i,output_tokens=%" PRIu64 "i,latency_s=%.3f,ttft_s=%.4f,"
            "cost_usd=%.7f,refusal=%s,quality=%.3f,retries=%" PRIu64 "u,request_id=\"r-%d\" "
            "%" PRId64 "\n",
            routes[x % 4], models[(x >> 8) % 3], (x >> 12) & 1 ? "us-east-1" : "eu-west-1",
            (x >> 13) & 1 ? "true" : "false", 100 + x % 5000, 10 + (x >> 20) % 900,
            (double)((x >> 24) % 5000) / 1000.0, (double)((x >> 30) % 800) / 1000.0,
            (double)((x >> 33) % 10000) / 1e7, (x >> 40) % 10 == 0 ? "true" : "false",
            (double)((x >> 44) % 1000) / 1000.0, (x >> 50) % 3, i, ts);
        if (i % 40 == 0)
            len += (size_t)snprintf(lp + len, cap - len,
                                    "change_event,kind=prompt,route=%s msg=\"v%d\" %" PRId64 "\n",
                                    routes[i % 4], i, ts);
    }
    vg_write_result_t res = {0};
    VG_FUZZ_CHECK(vg_db_write_lp(q_db, lp, len, NULL, &res, &err) == VG_OK && res.rejected == 0,
                  "seeding the query database: %s", err.msg);
    vg_write_result_free(&res);
    free(lp);
    return q_db;
}

static int q_ref(void *ctx, const char *name, vg_q_ref_role_t role, int line, int column)
{
    size_t *n = ctx;
    VG_FUZZ_CHECK(name && (int)role >= 0 && role <= VG_Q_REF_EXPR && line >= 1 && column >= 1,
                  "reference '%s' role %d at %d:%d", name ? name : "(null)", (int)role, line,
                  column);
    (*n)++;
    return 0;
}

/* format(parse(format(s))) == format(s). */
static void q_stmt_round_trip(const vg_q_stmt_t *s)
{
    int n = vg_q_format(s, NULL, 0);
    VG_FUZZ_CHECK(n >= 0, "vg_q_format returned %d", n);
    char *a = malloc((size_t)n + 1), *b = NULL;
    VG_FUZZ_CHECK(a != NULL, "harness out of memory");
    vg_q_format(s, a, (size_t)n + 1);
    vg_q_stmt_t *again = NULL;
    vg_q_error_t err = {0};
    int rc = vg_q_parse(a, &again, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "printed [%s] does not parse: %d:%d %s", a, err.line, err.column,
                  err.msg);
    int m = vg_q_format(again, NULL, 0);
    b = malloc((size_t)m + 1);
    VG_FUZZ_CHECK(b != NULL, "harness out of memory");
    vg_q_format(again, b, (size_t)m + 1);
    VG_FUZZ_CHECK(strcmp(a, b) == 0, "printed [%s] prints back as [%s]", a, b);
    VG_FUZZ_CHECK(vg_q_item_count(s) == vg_q_item_count(again), "item count changed in [%s]", a);
    vg_q_free(again);
    free(a);
    free(b);
}

static void q_expr_round_trip(const vg_q_expr_t *e)
{
    for (int flags = 0; flags <= VG_Q_FMT_PARENS; flags += VG_Q_FMT_PARENS) {
        int n = vg_q_expr_format(e, flags, NULL, 0);
        VG_FUZZ_CHECK(n >= 0, "vg_q_expr_format returned %d", n);
        char *a = malloc((size_t)n + 1);
        VG_FUZZ_CHECK(a != NULL, "harness out of memory");
        vg_q_expr_format(e, flags, a, (size_t)n + 1);
        vg_q_expr_t *again = NULL;
        vg_q_error_t err = {0};
        VG_FUZZ_CHECK(vg_q_parse_expr(a, &again, &err) == VG_OK,
                      "printed expression [%s] does not parse: %s", a, err.msg);
        int m = vg_q_expr_format(again, flags, NULL, 0);
        char *b = malloc((size_t)m + 1);
        VG_FUZZ_CHECK(b != NULL, "harness out of memory");
        vg_q_expr_format(again, flags, b, (size_t)m + 1);
        VG_FUZZ_CHECK(strcmp(a, b) == 0, "expression [%s] prints back as [%s]", a, b);
        vg_q_expr_free(again);
        free(a);
        free(b);
    }
}

static void q_run(const vg_q_stmt_t *s)
{
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    o.now_ns = q_now;
    o.max_values = 100000;
    o.max_groups = 2000;
    o.timeout_ms = 2000;
    o.threads = 1;
    vg_result_t r;
    vg_q_error_t err = {0};
    int rc = vg_q_exec(q_open_db(), s, &o, &r, &err);
    if (rc != VG_OK)
        VG_FUZZ_CHECK(err.msg[0] != '\0', "execution failed (%d) without a message", rc);
    else
        VG_FUZZ_CHECK(r.ncols > 0, "a result without columns");
    vg_result_free(&r);
}

int vg_fuzz_query(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    VG_FUZZ_CHECK(text != NULL, "harness out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    q_open_db(); /* before the first query, so q_now is set for every run */

    vg_q_stmt_t *s = NULL;
    vg_q_error_t err = {0};
    int rc = vg_q_parse(text, &s, &err);
    if (rc == VG_OK) {
        size_t refs = 0;
        vg_q_refs(s, q_ref, &refs);
        VG_FUZZ_CHECK(vg_q_table(s) != NULL, "a statement without a table");
        for (size_t i = 0; i < vg_q_item_count(s); i++)
            VG_FUZZ_CHECK(vg_q_item_name(s, i) != NULL, "item %zu without a name", i);
        for (size_t i = 0; i < vg_q_group_count(s); i++)
            VG_FUZZ_CHECK(vg_q_group_name(s, i) != NULL, "group %zu without a name", i);
        q_stmt_round_trip(s);
        q_run(s);
        vg_q_free(s);
    } else {
        VG_FUZZ_CHECK(err.msg[0] != '\0' && err.code == rc, "parse error %d without a message", rc);
        char buf[400];
        vg_q_error_format(&err, buf, sizeof buf);
    }

    vg_q_expr_t *e = NULL;
    memset(&err, 0, sizeof err);
    if (vg_q_parse_expr(text, &e, &err) == VG_OK) {
        size_t refs = 0;
        vg_q_expr_refs(e, q_ref, &refs);
        q_expr_round_trip(e);
        vg_q_expr_free(e);
    }
    free(text);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_query(data, size);
}
#endif
