/*
 * cli_demo.c: `vigil demo`: simulate a day of LLM traffic, ingest it into a
 * fresh temporary folder and show what was stored. (Rules and alerts come
 * with the runbooks; until then this shows the storage side.)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "simulate.h"

static int ingest_sim(vg_db_t *db, vg_sim_t *sim, uint64_t *rows, uint64_t *bytes)
{
    size_t cap = 4u << 20, len;
    char *buf = malloc(cap);
    int more = buf != NULL, rc = buf ? VG_OK : VG_ENOMEM;
    vg_error_t err = {0};
    while (more && rc == VG_OK) {
        more = vg_sim_next(sim, buf, cap, &len);
        vg_write_result_t res;
        rc = vg_db_write_lp(db, buf, len, NULL, &res, &err);
        *rows += res.rows;
        *bytes += len;
        if (res.rejected)
            fprintf(stderr, "demo: %llu lines rejected (first: line %llu: %s)\n",
                    (unsigned long long)res.rejected,
                    (unsigned long long)(res.nerrors ? res.errors[0].lineno : 0),
                    res.nerrors ? res.errors[0].reason : "");
        vg_write_result_free(&res);
    }
    if (rc)
        fprintf(stderr, "demo: %s\n", err.msg);
    free(buf);
    return rc;
}

static void show_rows(vg_db_t *db, const char *table, int n)
{
    vg_rows_t *r;
    if (vg_rows_open(db, table, INT64_MIN, INT64_MAX, &r, NULL) != VG_OK)
        return;
    vg_row_t row;
    printf("\nfirst rows of %s:\n", table);
    for (int i = 0; i < n && vg_rows_next(r, &row, NULL) == 1; i++) {
        time_t s = (time_t)(row.ts / VG_NS_PER_SEC);
        struct tm tm;
        gmtime_r(&s, &tm);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("  %s", when);
        for (size_t k = 0; k < row.ntags && k < 6; k++)
            printf(" %s=%s", row.tag_keys[k], row.tag_vals[k]);
        for (size_t k = 0; k < row.nfields && k < 5; k++) {
            const vg_value_t *v = &row.field_vals[k];
            switch (row.field_types[k]) {
            case VG_TYPE_FLOAT: printf(" %s=%g", row.field_keys[k], v->f); break;
            case VG_TYPE_INT: printf(" %s=%" PRId64, row.field_keys[k], v->i); break;
            case VG_TYPE_BOOL: printf(" %s=%s", row.field_keys[k], v->b ? "true" : "false"); break;
            default: break;
            }
        }
        printf("\n");
    }
    vg_rows_close(r);
}

int cli_demo(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        puts("usage: vigil demo\nSimulate a day of LLM traffic, ingest it into a fresh "
             "temporary folder and print what was stored.");
        return 0;
    }
    char dir[] = "/tmp/vigil-demo-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("simulating one day of LLM traffic (20 requests/s) into %s ...\n", dir);
    vg_db_t *db;
    if (cli_open(dir, NULL, 0, 0, &db) != VG_OK)
        return 1;
    vg_sim_opts_t o;
    vg_sim_opts_default(&o);
    o.duration_ns = 86400 * VG_NS_PER_SEC;
    o.start_ns = vg_now_ns() - o.duration_ns;
    vg_sim_t *sim;
    vg_error_t err = {0};
    uint64_t rows = 0, lp_bytes = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = vg_sim_create(&o, &sim, &err);
    if (rc == VG_OK) {
        rc = ingest_sim(db, sim, &rows, &lp_bytes);
        vg_sim_destroy(sim);
    }
    if (rc == VG_OK)
        rc = vg_db_flush(db, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc) {
        fprintf(stderr, "demo: %s\n", err.msg);
        vg_db_close(db, NULL);
        return 1;
    }
    printf("stored %" PRIu64 " rows in %.2f s (simulation included)\n", rows, secs);
    vg_db_stats_t st;
    if (vg_db_stats(db, &st, &err) == VG_OK) {
        printf("\n%-14s %10s %8s %9s %12s %10s %11s\n", "table", "rows", "series", "segments",
               "disk bytes", "bytes/row", "columns");
        for (size_t i = 0; i < st.ntables; i++) {
            vg_table_stats_t *t = &st.tables[i];
            printf("%-14s %10" PRIu64 " %8" PRIu64 " %9" PRIu64 " %12" PRIu64 " %10.1f %11zu\n",
                   t->name, t->rows, t->series, t->segments, t->disk_bytes,
                   t->rows ? (double)t->disk_bytes / (double)t->rows : 0.0, t->ncols);
        }
        char b[32], lp[32];
        cli_bytes(st.disk_bytes, b, sizeof b);
        cli_bytes(lp_bytes, lp, sizeof lp);
        printf("\n%s of line protocol stored in %s on disk (%.1fx smaller), I/O backend %s\n",
               lp, b, st.disk_bytes ? (double)lp_bytes / (double)st.disk_bytes : 0.0,
               st.io_backend);
        vg_db_stats_free(&st);
    }
    show_rows(db, "llm_request", 3);
    show_rows(db, "change_event", 3);
    vg_db_close(db, NULL);
    printf("\nthe data stays in %s: try `vigil stats %s` or `vigil dump %s llm_request --format csv`\n",
           dir, dir, dir);
    return 0;
}
