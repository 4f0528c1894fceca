/*
 * metrics.c: vigild's own metrics in the Prometheus text format, names
 * prefixed vigil_, so that Prometheus or VictoriaMetrics can scrape it.
 * Counters are plain uint64_t updated with atomic adds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

static const double ack_bounds_ms[11] = {0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

void vg_metrics_add(uint64_t *counter, uint64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

void vg_metrics_ack(vg_metrics_t *m, uint64_t ns)
{
    size_t b = 0;
    while (b < 11 && (double)ns / 1e6 > ack_bounds_ms[b])
        b++;
    vg_metrics_add(&m->ack_ns_bucket[b], 1);
    vg_metrics_add(&m->ack_ns_sum, ns);
    vg_metrics_add(&m->ack_count, 1);
}

static uint64_t get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void counter(FILE *f, const char *name, const char *help, const uint64_t *v)
{
    static const char *proto[VG_PROTO__N] = {"tcp", "http"};
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int p = 0; p < VG_PROTO__N; p++)
        fprintf(f, "%s{protocol=\"%s\"} %" PRIu64 "\n", name, proto[p], get(&v[p]));
}

static void database(FILE *f, vg_db_t *db)
{
    vg_db_stats_t st;
    if (vg_db_stats(db, &st, NULL) != VG_OK)
        return;
    fprintf(f, "# HELP vigil_table_rows Points stored per table.\n# TYPE vigil_table_rows gauge\n");
    for (size_t i = 0; i < st.ntables; i++)
        fprintf(f, "vigil_table_rows{table=\"%s\"} %" PRIu64 "\n", st.tables[i].name,
                st.tables[i].rows);
    fprintf(f, "# HELP vigil_head_rows Rows in memory, not yet sealed.\n# TYPE vigil_head_rows gauge\n");
    for (size_t i = 0; i < st.ntables; i++)
        fprintf(f, "vigil_head_rows{table=\"%s\"} %" PRIu64 "\n", st.tables[i].name,
                st.tables[i].head_rows);
    fprintf(f, "# HELP vigil_segments Segment files per table.\n# TYPE vigil_segments gauge\n");
    for (size_t i = 0; i < st.ntables; i++)
        fprintf(f, "vigil_segments{table=\"%s\"} %" PRIu64 "\n", st.tables[i].name,
                st.tables[i].segments);
    fprintf(f, "# HELP vigil_duplicates_merged_total Points written again and merged.\n"
               "# TYPE vigil_duplicates_merged_total counter\n");
    uint64_t rep = 0;
    for (size_t i = 0; i < st.ntables; i++)
        rep += st.tables[i].replaced;
    fprintf(f, "vigil_duplicates_merged_total %" PRIu64 "\n", rep);
    fprintf(f, "# HELP vigil_disk_bytes Bytes of the data folder.\n# TYPE vigil_disk_bytes gauge\n"
               "vigil_disk_bytes %" PRIu64 "\n", st.disk_bytes);
    fprintf(f, "# HELP vigil_wal_bytes Bytes of write-ahead log.\n# TYPE vigil_wal_bytes gauge\n"
               "vigil_wal_bytes %" PRIu64 "\n", st.wal_bytes);
    fprintf(f, "# HELP vigil_wal_sync_seconds Time of a WAL sync: the write and the fdatasync.\n"
               "# TYPE vigil_wal_sync_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < 11; b++) {
        cum += st.wal_sync_bucket[b];
        fprintf(f, "vigil_wal_sync_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", ack_bounds_ms[b] / 1e3,
                cum);
    }
    cum += st.wal_sync_bucket[11];
    fprintf(f, "vigil_wal_sync_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    fprintf(f, "vigil_wal_sync_seconds_sum %.9f\nvigil_wal_sync_seconds_count %" PRIu64 "\n",
            (double)st.wal_sync_ns / 1e9, st.wal_syncs);
    fprintf(f, "# HELP vigil_read_only 1 when the database refuses writes.\n"
               "# TYPE vigil_read_only gauge\nvigil_read_only %d\n", vg_db_read_only(db) != 0);
    vg_db_stats_free(&st);
}

int vg_metrics_render(const vg_metrics_t *m, vg_db_t *db, char **out, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return VG_ENOMEM;
    counter(f, "vigil_rows_ingested_total", "Rows stored.", m->rows_ingested);
    counter(f, "vigil_bytes_ingested_total", "Bytes of line protocol received.", m->bytes_ingested);
    counter(f, "vigil_lines_rejected_total", "Lines rejected.", m->lines_rejected);
    counter(f, "vigil_batches_failed_total", "Batches that failed whole.", m->batches_failed);
    fprintf(f, "# HELP vigil_connections_open Connections open.\n# TYPE vigil_connections_open gauge\n");
    fprintf(f, "vigil_connections_open{protocol=\"tcp\"} %" PRIu64 "\n", get(&m->conns_open[0]));
    fprintf(f, "vigil_connections_open{protocol=\"http\"} %" PRIu64 "\n", get(&m->conns_open[1]));
    fprintf(f, "# HELP vigil_ack_seconds Time from receiving a batch to its acknowledgement.\n"
               "# TYPE vigil_ack_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < 11; b++) {
        cum += get(&m->ack_ns_bucket[b]);
        fprintf(f, "vigil_ack_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", ack_bounds_ms[b] / 1e3, cum);
    }
    cum += get(&m->ack_ns_bucket[11]);
    fprintf(f, "vigil_ack_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    fprintf(f, "vigil_ack_seconds_sum %.9f\nvigil_ack_seconds_count %" PRIu64 "\n",
            (double)get(&m->ack_ns_sum) / 1e9, get(&m->ack_count));
    fprintf(f, "# HELP vigil_queries_total Queries run.\n# TYPE vigil_queries_total counter\n"
               "vigil_queries_total %" PRIu64 "\n", get(&m->queries));
    fprintf(f, "# HELP vigil_query_errors_total Queries that failed.\n"
               "# TYPE vigil_query_errors_total counter\nvigil_query_errors_total %" PRIu64 "\n",
            get(&m->query_errors));
    fprintf(f, "# HELP vigil_query_seconds_total Time spent running queries.\n"
               "# TYPE vigil_query_seconds_total counter\nvigil_query_seconds_total %.9f\n",
            (double)get(&m->query_ns_total) / 1e9);
    database(f, db);
    if (fclose(f) != 0) {
        free(buf);
        return VG_ENOMEM;
    }
    /* handed out through vg_malloc, like every buffer of Vigil's */
    *out = vg_strndup(buf, n);
    free(buf);
    if (!*out)
        return VG_ENOMEM;
    *len = n;
    return VG_OK;
}
