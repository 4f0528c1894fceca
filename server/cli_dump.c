/*
 * cli_dump.c: `vigil dump DIR TABLE [--since T] [--until T] [--format lp|csv]`.
 * Every stored row in time order, exactly as stored: floats in their
 * shortest round-trip form, strings with their escapes, so that dump then
 * ingest into a new folder gives the same data.
 * The printing is export.c's, which vigild's /api/v1/export uses too; with
 * --connect URL the rows come from there and are written out as they are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "export.h"
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
    int rc = vg_export_rows(db, table, t0, t1, csv, stdout, &err);
    if (rc < 0)
        fprintf(stderr, "vigil dump: %s\n", err.msg);
    vg_db_close(db, NULL);
    return rc < 0 ? 1 : 0;
}
