/*
 * cli_query.c: `vigil query DIR [--format table|csv|json] [--at T] [--ascii] "QUERY"`.
 * Runs one statement and prints its result. Errors go to stderr as
 * "error at line L, column C: ..." (exit 1), or, with --format json, to
 * stdout as {"error":...,"line":...,"column":...} so that a program reading
 * the JSON always gets JSON.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "remote.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

static const char help[] =
    "usage: vigil query DIR|--connect URL [--format table|csv|json] [--at T] [--ascii] "
    "\"QUERY\"\n"
    "Run one query over the data folder DIR (or on the vigild at URL, e.g.\n"
    "http://127.0.0.1:7070; $VIGIL_URL when no DIR is given, $VIGIL_TOKEN as its token)\n"
    "and print its result.\n"
    "  --format  table (default), csv (RFC 4180) or json\n"
    "  --at T    evaluate as of T: now() is T (RFC 3339, integer ns, now() - 2h)\n"
    "  --ascii   plain ASCII table (the default when stdout is not a terminal)\n"
    "example: vigil query data \"SELECT p99(latency_s) FROM llm_request SINCE 6h EVERY 5m BY model\"\n";

static void put_json_string(const char *s, FILE *out)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void print_error(const vg_q_error_t *qe, int json)
{
    if (json) {
        fputs("{\"error\":", stdout);
        put_json_string(qe->msg, stdout);
        if (qe->line > 0)
            printf(",\"line\":%d,\"column\":%d", qe->line, qe->column);
        else
            fputs(",\"line\":null,\"column\":null", stdout);
        fputs("}\n", stdout);
        return;
    }
    char buf[512];
    vg_q_error_format(qe, buf, sizeof buf);
    fprintf(stderr, "%s\n", buf);
}

/* ---- the remote path: the server's JSON back into a result ---- */

static int type_from_name(const char *n, vg_type_t *t)
{
    static const vg_type_t all[] = {VG_TYPE_TIME,  VG_TYPE_TAG,  VG_TYPE_FLOAT, VG_TYPE_INT,
                                    VG_TYPE_UINT,  VG_TYPE_BOOL, VG_TYPE_STRING};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (n && strcmp(n, vg_result_type_name(all[i])) == 0) {
            *t = all[i];
            return 0;
        }
    return -1;
}

static int set_cell(vg_result_t *res, size_t row, size_t c, json_t *cell)
{
    vg_value_t v;
    memset(&v, 0, sizeof v);
    if (json_is_null(cell))
        return VG_OK; /* cells start null */
    switch (res->cols[c].type) {
    case VG_TYPE_TIME:
    case VG_TYPE_INT:
        if (!json_is_integer(cell))
            return VG_EPARSE;
        v.i = (int64_t)json_integer_value(cell);
        break;
    case VG_TYPE_UINT:
        if (json_is_integer(cell))
            v.u = (uint64_t)json_integer_value(cell);
        else if (json_is_real(cell)) /* past 2^63 the server writes a real */
            v.u = (uint64_t)json_real_value(cell);
        else
            return VG_EPARSE;
        break;
    case VG_TYPE_FLOAT:
        if (!json_is_number(cell))
            return VG_EPARSE;
        v.f = json_number_value(cell);
        break;
    case VG_TYPE_BOOL:
        if (!json_is_boolean(cell))
            return VG_EPARSE;
        v.b = json_is_true(cell);
        break;
    default:
        if (!json_is_string(cell))
            return VG_EPARSE;
        v.s.p = json_string_value(cell);
        v.s.len = (uint32_t)json_string_length(cell);
        break;
    }
    return vg_result_set(res, row, c, &v);
}

/* A float cell the server wrote as null with its spelling in "nonfinite":
 * [row, visible column, "NaN"|"+Inf"|"-Inf"]. */
static int set_nonfinite(vg_result_t *res, json_t *nf, const size_t *vis, size_t nvis)
{
    for (size_t i = 0; i < json_array_size(nf); i++) {
        json_t *e = json_array_get(nf, i);
        json_t *jr = json_array_get(e, 0), *jc = json_array_get(e, 1);
        const char *s = json_string_value(json_array_get(e, 2));
        if (!s || !json_is_integer(jr) || !json_is_integer(jc))
            return VG_EPARSE;
        json_int_t row = json_integer_value(jr), k = json_integer_value(jc);
        if (row < 0 || (size_t)row >= res->nrows || k < 0 || (size_t)k >= nvis ||
            res->cols[vis[k]].type != VG_TYPE_FLOAT)
            return VG_EPARSE;
        vg_value_t v;
        memset(&v, 0, sizeof v);
        if (strcmp(s, "NaN") == 0)
            v.f = NAN;
        else if (strcmp(s, "+Inf") == 0)
            v.f = INFINITY;
        else if (strcmp(s, "-Inf") == 0)
            v.f = -INFINITY;
        else
            return VG_EPARSE;
        int rc = vg_result_set(res, (size_t)row, vis[k], &v);
        if (rc)
            return rc;
    }
    return VG_OK;
}

/* Where each visible column goes among all columns, the pictures taking the
 * places "pictures" names. vis has room for every column. */
static int place_columns(json_t *pics, size_t ncols, size_t *vis)
{
    uint8_t *taken = vg_calloc(ncols ? ncols : 1, 1);
    if (!taken)
        return VG_ENOMEM;
    int rc = VG_OK;
    for (size_t i = 0; rc == VG_OK && i < json_array_size(pics); i++) {
        json_t *c = json_object_get(json_array_get(pics, i), "column");
        json_int_t at = json_integer_value(c);
        if (!json_is_integer(c) || at < 0 || (size_t)at >= ncols || taken[at])
            rc = VG_EPARSE;
        else
            taken[at] = 1;
    }
    for (size_t c = 0, k = 0; rc == VG_OK && c < ncols; c++)
        if (!taken[c])
            vis[k++] = c;
    vg_free(taken);
    return rc;
}

static int read_columns(vg_result_t *res, json_t *cols, json_t *pics, const size_t *vis)
{
    int rc = VG_OK;
    for (size_t k = 0; rc == VG_OK && k < json_array_size(cols); k++) {
        json_t *col = json_array_get(cols, k);
        const char *name = json_string_value(json_object_get(col, "name"));
        vg_type_t t = VG_TYPE_STRING;
        if (!name || type_from_name(json_string_value(json_object_get(col, "type")), &t))
            return VG_EPARSE;
        rc = vg_result_col(res, vis[k], name, t);
        if (rc == VG_OK)
            res->cols[vis[k]].histogram = json_is_true(json_object_get(col, "histogram"));
    }
    for (size_t i = 0; rc == VG_OK && i < json_array_size(pics); i++) {
        json_t *p = json_array_get(pics, i);
        const char *name = json_string_value(json_object_get(p, "name"));
        size_t c = (size_t)json_integer_value(json_object_get(p, "column"));
        if (!name)
            return VG_EPARSE;
        rc = vg_result_col(res, c, name, VG_TYPE_STRING);
        if (rc == VG_OK)
            res->cols[c].picture = 1;
    }
    return rc;
}

static int read_cells(vg_result_t *res, json_t *rows, json_t *pics, const size_t *vis,
                      size_t nvis)
{
    int rc = VG_OK;
    for (size_t r = 0; rc == VG_OK && r < json_array_size(rows); r++) {
        json_t *row = json_array_get(rows, r);
        size_t ri = 0;
        if (!json_is_array(row) || json_array_size(row) != nvis)
            return VG_EPARSE;
        rc = vg_result_add_row(res, &ri);
        for (size_t k = 0; rc == VG_OK && k < nvis; k++)
            rc = set_cell(res, ri, vis[k], json_array_get(row, k));
    }
    for (size_t i = 0; rc == VG_OK && i < json_array_size(pics); i++) {
        json_t *p = json_array_get(pics, i), *cells = json_object_get(p, "rows");
        size_t c = (size_t)json_integer_value(json_object_get(p, "column"));
        if (!json_is_array(cells) || json_array_size(cells) != res->nrows)
            return VG_EPARSE;
        for (size_t r = 0; rc == VG_OK && r < res->nrows; r++)
            rc = set_cell(res, r, c, json_array_get(cells, r));
    }
    return rc;
}

/* The reply's optional keys (vg_result.h) carry what the table needs beyond
 * names and types, so nothing is guessed from the query text. */
int cli_result_from_json(const char *body, size_t len, const char *query, vg_result_t *res,
                         vg_error_t *err)
{
    (void)query;
    memset(res, 0, sizeof *res);
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    json_t *cols = json_object_get(j, "columns"), *rows = json_object_get(j, "rows");
    json_t *pics = json_object_get(j, "pictures"), *nf = json_object_get(j, "nonfinite");
    int rc = json_is_array(cols) && json_is_array(rows) && (!pics || json_is_array(pics)) &&
                     (!nf || json_is_array(nf))
                 ? VG_OK
                 : VG_EPARSE;
    size_t nvis = json_array_size(cols), ncols = nvis + json_array_size(pics);
    size_t *vis = rc == VG_OK ? vg_malloc((ncols ? ncols : 1) * sizeof *vis) : NULL;
    if (rc == VG_OK && !vis)
        rc = VG_ENOMEM;
    if (rc == VG_OK)
        rc = place_columns(pics, ncols, vis);
    if (rc == VG_OK)
        rc = vg_result_init(res, ncols);
    if (rc == VG_OK)
        rc = read_columns(res, cols, pics, vis);
    if (rc == VG_OK)
        rc = read_cells(res, rows, pics, vis, nvis);
    if (rc == VG_OK)
        rc = set_nonfinite(res, nf, vis, nvis);
    if (rc == VG_OK)
        res->windows = json_is_true(json_object_get(j, "windows"));
    vg_free(vis);
    json_decref(j);
    if (rc == VG_EPARSE)
        return vg_error_set(err, rc, "the server's query reply is not the JSON result Vigil writes");
    if (rc)
        return vg_error_set(err, rc, "out of memory reading the server's query reply");
    return VG_OK;
}

void cli_print_remote_error(const char *body, size_t len, int json)
{
    if (json) {
        fwrite(body, 1, len, stdout);
        if (len && body[len - 1] != '\n')
            fputc('\n', stdout);
        return;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    vg_q_error_t qe = {0};
    const char *msg = json_string_value(json_object_get(j, "error"));
    snprintf(qe.msg, sizeof qe.msg, "%s", msg ? msg : "the server sent no error message");
    qe.line = (int)json_integer_value(json_object_get(j, "line"));
    qe.column = (int)json_integer_value(json_object_get(j, "column"));
    json_decref(j);
    print_error(&qe, 0);
}

static int query_remote(const char *url, const char *text, const char *format, const char *at,
                        int ascii)
{
    int json = strcmp(format, "json") == 0, csv = strcmp(format, "csv") == 0;
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    if (vg_remote_query(url, text, csv ? "csv" : "json", at, &resp, &err) != VG_OK) {
        fprintf(stderr, "vigil: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    char msg[1024];
    if (resp.status == 400 && resp.len && resp.body[0] == '{') {
        cli_print_remote_error(resp.body, resp.len, json);
    } else if (resp.status != 200) {
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "vigil: %s\n", msg);
    } else if (json || csv) {
        rc = fwrite(resp.body, 1, resp.len, stdout) == resp.len ? 0 : 1;
    } else {
        vg_result_t res;
        if (cli_result_from_json(resp.body, resp.len, text, &res, &err) != VG_OK) {
            fprintf(stderr, "vigil: %s: %s\n", resp.url, err.msg);
        } else {
            int flags = ascii || !isatty(STDOUT_FILENO) ? VG_TABLE_ASCII : 0;
            rc = vg_result_write_table(&res, stdout, flags) ? 1 : 0;
        }
        vg_result_free(&res);
    }
    vg_remote_resp_free(&resp);
    return rc;
}

int cli_query(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *dir = NULL, *text = NULL, *format = "table", *at = NULL, *url;
    int ascii = 0;
    if (cli_connect(&argc, argv, &url))
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc)
            at = argv[++i];
        else if (strcmp(argv[i], "--ascii") == 0)
            ascii = 1;
        else if (!dir)
            dir = argv[i];
        else if (!text)
            text = argv[i];
        else {
            fputs(help, stderr);
            return 2;
        }
    }
    if (!url && dir && !text && cli_env_url())
        url = cli_env_url();
    if (url && dir && !text) {
        text = dir; /* with a server, the one positional argument is the query */
        dir = NULL;
    } else if (url && dir) {
        fputs(help, stderr);
        return 2;
    }
    int json = strcmp(format, "json") == 0, csv = strcmp(format, "csv") == 0;
    if ((!dir && !url) || !text || (!json && !csv && strcmp(format, "table") != 0)) {
        fputs(help, stderr);
        return 2;
    }
    vg_q_exec_opts_t opts;
    vg_q_exec_opts_default(&opts);
    if (at) {
        vg_error_t err = {0};
        if (vg_time_parse(at, vg_now_ns(), &opts.now_ns, &err)) {
            fprintf(stderr, "vigil query: --at: %s\n", err.msg);
            return 2;
        }
    }
    if (url) {
        /* resolved here, as embedded: "now() - 2h" means the client's clock */
        char ns[32];
        snprintf(ns, sizeof ns, "%lld", (long long)opts.now_ns);
        return query_remote(url, text, format, at ? ns : NULL, ascii);
    }
    vg_db_t *db;
    if (cli_open(dir, NULL, 0, 1, &db) != VG_OK)
        return 1;
    vg_result_t res;
    vg_q_error_t qe = {0};
    int rc = vg_q_run(db, text, &opts, &res, &qe);
    if (rc) {
        print_error(&qe, json);
    } else if (json) {
        rc = vg_result_write_json(&res, stdout);
    } else if (csv) {
        rc = vg_result_write_csv(&res, stdout);
    } else {
        int flags = ascii || !isatty(STDOUT_FILENO) ? VG_TABLE_ASCII : 0;
        rc = vg_result_write_table(&res, stdout, flags);
    }
    vg_result_free(&res);
    vg_db_close(db, NULL);
    return rc ? 1 : 0;
}
