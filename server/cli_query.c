/*
 * cli_query.c: `vigil query DIR [--format table|csv|json] [--at T] [--ascii] "QUERY"`.
 * Runs one statement and prints its result. Errors go to stderr as
 * "error at line L, column C: ..." (exit 1), or, with --format json, to
 * stdout as {"error":...,"line":...,"column":...} so that a program reading
 * the JSON always gets JSON.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

static const char help[] =
    "usage: vigil query DIR [--format table|csv|json] [--at T] [--ascii] \"QUERY\"\n"
    "Run one query over the data folder DIR and print its result.\n"
    "  --format  table (default), csv (RFC 4180) or json\n"
    "  --at T    evaluate as of T: now() is T (RFC 3339, integer ns, now() - 2h)\n"
    "  --ascii   plain ASCII table (the default when stdout is not a terminal)\n"
    "example: vigil query data \"SELECT p99(latency_s) FROM llm_request SINCE 6h EVERY 5m BY model\"\n";

static void json_string(const char *s, FILE *out)
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
        json_string(qe->msg, stdout);
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

int cli_query(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *dir = NULL, *text = NULL, *format = "table", *at = NULL;
    int ascii = 0;
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
    int json = strcmp(format, "json") == 0, csv = strcmp(format, "csv") == 0;
    if (!dir || !text || (!json && !csv && strcmp(format, "table") != 0)) {
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
