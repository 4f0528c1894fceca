/* cli_stats.c: `vigil stats DIR`. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_stats(int argc, char **argv)
{
    if (cli_has_help(argc, argv) || argc != 2) {
        fputs("usage: vigil stats DIR\nTables, columns with types, rows, series, segments, "
              "bytes on disk and bytes per row.\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
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
