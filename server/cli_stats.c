/*
 * cli_stats.c: `vigil stats DIR` and `vigil stats --connect URL`. The remote
 * form prints the same layout from /api/v1/stats (numbers) and
 * /api/v1/schema (the columns, in the same order), naming the URL where the
 * embedded form names the folder.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "remote.h"

static const char usage[] =
    "usage: vigil stats DIR|--connect URL\nTables, columns with types, rows, series, segments, "
    "bytes on disk and bytes per row.\n$VIGIL_URL stands for --connect when no DIR is given; "
    "$VIGIL_TOKEN is sent as the server's token.\n";

static uint64_t u64_of(json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v < 0 ? 0 : (uint64_t)v;
}

/* GET one endpoint and parse its JSON; NULL after printing why. */
static json_t *fetch(const char *url, int (*get)(const char *, vg_remote_resp_t *, vg_error_t *))
{
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    if (get(url, &resp, &err) != VG_OK) {
        fprintf(stderr, "vigil: %s\n", err.msg);
        return NULL;
    }
    json_t *j = NULL;
    char msg[1024];
    if (resp.status != 200) {
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "vigil: %s\n", msg);
    } else if (!(j = json_loadb(resp.body, resp.len, 0, NULL))) {
        fprintf(stderr, "vigil: %s: the reply is not JSON\n", resp.url);
    }
    vg_remote_resp_free(&resp);
    return j;
}

static void print_table(json_t *t, json_t *schema_cols)
{
    char b1[32];
    uint64_t rows = u64_of(t, "rows"), head = u64_of(t, "head_rows"), disk = u64_of(t, "disk_bytes");
    cli_bytes(disk, b1, sizeof b1);
    printf("\ntable %s\n", json_string_value(json_object_get(t, "name")));
    printf("  rows %" PRIu64 " (%" PRIu64 " in memory), series %" PRIu64 ", segments %" PRIu64
           ", replaced points %" PRIu64 "\n",
           rows, head, u64_of(t, "series"), u64_of(t, "segments"), u64_of(t, "replaced"));
    uint64_t sealed = rows - head;
    printf("  segment bytes %s (%" PRIu64 " B), %.1f bytes per sealed row\n", b1, disk,
           sealed ? (double)disk / (double)sealed : 0.0);
    printf("  columns:\n");
    for (size_t c = 0; c < json_array_size(schema_cols); c++) {
        json_t *col = json_array_get(schema_cols, c);
        printf("    %-28s %s\n", json_string_value(json_object_get(col, "name")),
               json_string_value(json_object_get(col, "type")));
    }
}

static int stats_remote(const char *url)
{
    json_t *st = fetch(url, vg_remote_stats), *sc = st ? fetch(url, vg_remote_schema) : NULL;
    if (!st || !sc) {
        json_decref(st);
        return 1;
    }
    json_t *tables = json_object_get(st, "tables"), *stables = json_object_get(sc, "tables");
    char b1[32], b2[32];
    cli_bytes(u64_of(st, "disk_bytes"), b1, sizeof b1);
    cli_bytes(u64_of(st, "wal_bytes"), b2, sizeof b2);
    printf("database %s: %zu tables, %s on disk (WAL %s), I/O %s\n", url, json_array_size(tables),
           b1, b2, json_string_value(json_object_get(st, "io_backend")));
    for (size_t i = 0; i < json_array_size(tables); i++) {
        json_t *t = json_array_get(tables, i), *cols = NULL;
        const char *name = json_string_value(json_object_get(t, "name"));
        /* the schema lists the same tables; match by name in case one was added between */
        for (size_t k = 0; name && k < json_array_size(stables); k++) {
            json_t *s = json_array_get(stables, k);
            const char *sn = json_string_value(json_object_get(s, "name"));
            if (sn && strcmp(sn, name) == 0)
                cols = json_object_get(s, "columns");
        }
        print_table(t, cols);
    }
    json_decref(st);
    json_decref(sc);
    return 0;
}

int cli_stats(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *url;
    if (cli_connect(&argc, argv, &url))
        return 2;
    if (!url && argc == 1)
        url = cli_env_url();
    if (url && argc == 1)
        return stats_remote(url);
    if (url || argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    vg_db_t *db;
    if (cli_open(argv[1], NULL, 0, 1, &db) != VG_OK)
        return 1;
    vg_db_stats_t st;
    vg_error_t err = {0};
    if (vg_db_stats(db, &st, &err) != VG_OK) {
        fprintf(stderr, "vigil: %s\n", err.msg);
        vg_db_close(db, NULL);
        return 1;
    }
    char b1[32], b2[32];
    cli_bytes(st.disk_bytes, b1, sizeof b1);
    cli_bytes(st.wal_bytes, b2, sizeof b2);
    printf("database %s: %zu tables, %s on disk (WAL %s), I/O %s\n", argv[1], st.ntables, b1, b2,
           st.io_backend);
    for (size_t i = 0; i < st.ntables; i++) {
        vg_table_stats_t *t = &st.tables[i];
        cli_bytes(t->disk_bytes, b1, sizeof b1);
        printf("\ntable %s\n", t->name);
        printf("  rows %" PRIu64 " (%" PRIu64 " in memory), series %" PRIu64 ", segments %" PRIu64
               ", replaced points %" PRIu64 "\n",
               t->rows, t->head_rows, t->series, t->segments, t->replaced);
        uint64_t sealed = t->rows - t->head_rows;
        printf("  segment bytes %s (%" PRIu64 " B), %.1f bytes per sealed row\n", b1, t->disk_bytes,
               sealed ? (double)t->disk_bytes / (double)sealed : 0.0);
        printf("  columns:\n");
        for (size_t c = 0; c < t->ncols; c++)
            printf("    %-28s %s\n", t->cols[c].name, vg_type_name(t->cols[c].type));
    }
    vg_db_stats_free(&st);
    vg_db_close(db, NULL);
    return 0;
}
