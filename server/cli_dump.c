/*
 * cli_dump.c: `vigil dump DIR TABLE [--since T] [--until T] [--format lp|csv]`.
 * Every stored row in time order, exactly as stored: floats in their
 * shortest round-trip form, strings with their escapes, so that dump then
 * ingest into a new folder gives the same data.
 * With --connect URL the rows come from vigild's /api/v1/export, which
 * prints them with the same code, and are written out as they are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote.h"

static const char help[] =
    "usage: vigil dump DIR|--connect URL TABLE [--since T] [--until T] [--format lp|csv]\n"
    "Print every stored row of TABLE with since <= time < until, in time order.\n"
    "T is RFC 3339 (2026-11-27T03:14:00Z), integer nanoseconds, or now() - 2h.\n"
    "CSV has the header time,<tags>,<fields> (each alphabetical), time in integer\n"
    "nanoseconds, an empty cell for null. $VIGIL_URL stands for --connect when no DIR\n"
    "is given; $VIGIL_TOKEN is sent as the server's token.\n";

static int dump_remote(const char *url, const char *table, const char *since, const char *until,
                       const char *format)
{
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    if (vg_remote_export(url, table, since, until, format, &resp, &err) != VG_OK) {
        fprintf(stderr, "vigil dump: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (resp.status != 200) {
        char msg[1024];
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "vigil dump: %s\n", msg);
        rc = 1;
    } else if (fwrite(resp.body, 1, resp.len, stdout) != resp.len) {
        rc = 1;
    }
    vg_remote_resp_free(&resp);
    return rc;
}

static void put_escaped(const char *s, char kind, FILE *out)
{
    size_t n = strlen(s);
    char stack[512], *buf = 2 * n <= sizeof stack ? stack : malloc(2 * n + 1);
    if (!buf)
        return;
    fwrite(buf, 1, vg_lp_escape(s, n, kind, buf), out);
    if (buf != stack)
        free(buf);
}

static void put_value(vg_type_t t, const vg_value_t *v, int lp, FILE *out)
{
    char num[40];
    switch (t) {
    case VG_TYPE_FLOAT: fwrite(num, 1, vg_lp_format_float(v->f, num), out); break;
    case VG_TYPE_INT: fprintf(out, lp ? "%" PRId64 "i" : "%" PRId64, v->i); break;
    case VG_TYPE_UINT: fprintf(out, lp ? "%" PRIu64 "u" : "%" PRIu64, v->u); break;
    case VG_TYPE_BOOL: fputs(v->b ? "true" : "false", out); break;
    case VG_TYPE_STRING:
        if (lp) {
            char *buf = malloc(2 * (size_t)v->s.len + 1);
            if (!buf)
                return;
            fputc('"', out);
            fwrite(buf, 1, vg_lp_escape(v->s.p, v->s.len, 's', buf), out);
            fputc('"', out);
            free(buf);
        } else {
            fputc('"', out);
            for (uint32_t i = 0; i < v->s.len; i++) {
                if (v->s.p[i] == '"')
                    fputc('"', out);
                fputc(v->s.p[i], out);
            }
            fputc('"', out);
        }
        break;
    default: break;
    }
}

static void row_lp(const char *table, const vg_row_t *r, FILE *out)
{
    put_escaped(table, 'm', out);
    for (size_t i = 0; i < r->ntags; i++) {
        fputc(',', out);
        put_escaped(r->tag_keys[i], 'k', out);
        fputc('=', out);
        put_escaped(r->tag_vals[i], 'k', out);
    }
    for (size_t i = 0; i < r->nfields; i++) {
        fputc(i ? ',' : ' ', out);
        put_escaped(r->field_keys[i], 'k', out);
        fputc('=', out);
        put_value(r->field_types[i], &r->field_vals[i], 1, out);
    }
    fprintf(out, " %" PRId64 "\n", r->ts);
}

static void csv_cell(const char *s, FILE *out)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
}

static void row_csv(const vg_row_t *r, const vg_col_info_t *cols, size_t ncols, FILE *out)
{
    fprintf(out, "%" PRId64, r->ts);
    size_t ti = 0, fi = 0;
    for (size_t c = 0; c < ncols; c++) {
        fputc(',', out);
        if (cols[c].type == VG_TYPE_TAG) {
            if (ti < r->ntags && strcmp(r->tag_keys[ti], cols[c].name) == 0)
                csv_cell(r->tag_vals[ti++], out);
        } else if (fi < r->nfields && strcmp(r->field_keys[fi], cols[c].name) == 0) {
            put_value(r->field_types[fi], &r->field_vals[fi], 0, out);
            fi++;
        }
    }
    fputc('\n', out);
}

int cli_dump(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    const char *dir = NULL, *table = NULL, *since = NULL, *until = NULL, *format = "lp", *url;
    if (cli_connect(&argc, argv, &url))
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
            since = argv[++i];
        else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc)
            until = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (!dir)
            dir = argv[i];
        else if (!table)
            table = argv[i];
        else {
            fputs(help, stderr);
            return 2;
        }
    }
    if (!url && dir && !table)
        url = cli_env_url();
    if (url && dir && !table) {
        table = dir; /* with a server, the one positional argument is the table */
        dir = NULL;
    } else if (url) {
        fputs(help, stderr);
        return 2;
    }
    int csv = strcmp(format, "csv") == 0;
    if (url && table && (csv || strcmp(format, "lp") == 0))
        return dump_remote(url, table, since, until, format);
    if (!dir || !table || (!csv && strcmp(format, "lp") != 0)) {
        fputs(help, stderr);
        return 2;
    }
    int64_t t0 = INT64_MIN, t1 = INT64_MAX, now = vg_now_ns();
    vg_error_t err = {0};
    if ((since && vg_time_parse(since, now, &t0, &err)) ||
        (until && vg_time_parse(until, now, &t1, &err))) {
        fprintf(stderr, "vigil dump: %s\n", err.msg);
        return 2;
    }
    vg_db_t *db;
    if (cli_open(dir, NULL, 0, 1, &db) != VG_OK)
        return 1;
    vg_rows_t *rows = NULL;
    vg_col_info_t *cols = NULL;
    size_t ncols = 0;
    int rc = vg_rows_open(db, table, t0, t1, &rows, &err);
    if (rc == VG_OK && csv)
        rc = vg_db_columns(db, table, &cols, &ncols, &err);
    if (rc == VG_OK && csv) {
        fputs("time", stdout);
        for (size_t c = 0; c < ncols; c++) {
            fputc(',', stdout);
            csv_cell(cols[c].name, stdout);
        }
        fputc('\n', stdout);
    }
    vg_row_t r;
    while (rc == VG_OK && (rc = vg_rows_next(rows, &r, &err)) == 1) {
        if (csv)
            row_csv(&r, cols, ncols, stdout);
        else
            row_lp(table, &r, stdout);
        rc = VG_OK;
    }
    if (rc < 0)
        fprintf(stderr, "vigil dump: %s\n", err.msg);
    vg_rows_close(rows);
    vg_cols_free(cols, ncols);
    vg_db_close(db, NULL);
    return rc < 0 ? 1 : 0;
}
