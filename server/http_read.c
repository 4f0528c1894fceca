/*
 * http_read.c: the reading endpoints of vigild's HTTP API: queries
 * (/api/v1/query, and /query for InfluxDB clients), schema, stats, export,
 * health and metrics.
 *
 * Replies are built whole in memory (open_memstream) and then sent: a query
 * result is bounded by the executor's limits; an export is not, which is
 * why it takes since/until.
 *
 * The export row printers duplicate cli_dump.c's (static there) so that
 * `vigil dump --connect` prints the same bytes as the embedded dump.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "export.h"
#include "http_int.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The query text: q= from the URL or a form body, else a POST's raw body.
 * Ownership: *owned (vg_malloc'd or NULL) is freed by the caller. */
static const char *query_text(vg_http_req_t *r, char **owned)
{
    *owned = NULL;
    const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "q");
    if (q || !r->body)
        return q;
    *owned = vg_malloc(r->len + 1);
    if (!*owned)
        return NULL;
    q = vg_http_arg(r, "q", *owned, r->len + 1);
    if (q)
        return q;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        return NULL;
    return r->len ? r->body : NULL;
}

static unsigned query_status(int code)
{
    switch (code) {
    case VG_ENOMEM:
    case VG_EIO:
    case VG_ECORRUPT: return 500;
    default: return 400;
    }
}

enum MHD_Result vg_http_query(vg_http_req_t *r)
{
    vg_server_t *s = r->s;
    char *owned, fbuf[16], tbuf[128];
    const char *q = query_text(r, &owned);
    const char *fmt = vg_http_arg(r, "format", fbuf, sizeof fbuf);
    const char *at = vg_http_arg(r, "time", tbuf, sizeof tbuf);
    enum MHD_Result mr;
    int csv = fmt && strcmp(fmt, "csv") == 0;
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    vg_error_t err = {0};
    if (!q || !*q) {
        mr = vg_http_reply_error(r, 400, "missing query: give it as q=... (URL or form) or as "
                                         "the POST body");
        goto out;
    }
    if (fmt && !csv && strcmp(fmt, "json") != 0) {
        mr = vg_http_reply_error(r, 400, "unknown format '%s' (json or csv)", fmt);
        goto out;
    }
    if (at && vg_time_parse(at, vg_now_ns(), &o.now_ns, &err) != VG_OK) {
        mr = vg_http_reply_error(r, 400, "time=: %s", err.msg);
        goto out;
    }
    uint64_t t0 = mono_ns();
    vg_result_t res;
    memset(&res, 0, sizeof res);
    vg_q_error_t qe = {0};
    int rc = vg_q_run(s->db, q, &o, &res, &qe);
    vg_metrics_add(&s->metrics.queries, 1);
    vg_metrics_add(&s->metrics.query_ns_total, mono_ns() - t0);
    if (rc != VG_OK) {
        vg_metrics_add(&s->metrics.query_errors, 1);
        json_t *j = json_pack("{s:o}", "error", vg_http_json_str(qe.msg, strlen(qe.msg)));
        if (j && qe.line > 0) {
            json_object_set_new(j, "line", json_integer(qe.line));
            json_object_set_new(j, "column", json_integer(qe.column));
        }
        mr = vg_http_reply_json(r, query_status(rc), j);
        vg_result_free(&res);
        goto out;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int wr = f ? (csv ? vg_result_write_csv(&res, f) : vg_result_write_json(&res, f)) : -1;
    if (f && fclose(f) != 0)
        wr = -1;
    vg_result_free(&res);
    if (wr != 0) {
        free(buf);
        mr = vg_http_reply_error(r, 500, "cannot format the query result");
    } else {
        mr = vg_http_reply_libc(r, 200, csv ? "text/csv; charset=utf-8" : "application/json", buf,
                                len);
    }
out:
    vg_free(owned);
    return mr;
}

/* Case-insensitive prefix match of InfluxQL keywords, spaces collapsed. */
static int influxql_is(const char *q, const char *kw)
{
    while (*kw) {
        if (*kw == ' ') {
            if (!isspace((unsigned char)*q))
                return 0;
            while (isspace((unsigned char)*q))
                q++;
            kw++;
            continue;
        }
        if (toupper((unsigned char)*q) != *kw)
            return 0;
        q++, kw++;
    }
    return 1;
}

enum MHD_Result vg_http_influxql(vg_http_req_t *r)
{
    char *owned;
    const char *q = query_text(r, &owned);
    enum MHD_Result mr;
    while (q && isspace((unsigned char)*q))
        q++;
    if (q && influxql_is(q, "CREATE DATABASE ")) {
        mr = vg_http_reply_json(r, 200, json_pack("{s:[{s:i}]}", "results", "statement_id", 0));
    } else if (q && influxql_is(q, "SHOW DATABASES")) {
        mr = vg_http_reply_json(
            r, 200, json_pack("{s:[{s:i,s:[{s:s,s:[s],s:[[s]]}]}]}", "results", "statement_id", 0,
                              "series", "name", "databases", "columns", "name", "values", "vigil"));
    } else {
        mr = vg_http_reply_error(r, 400, "vigil does not run InfluxQL (only CREATE DATABASE and "
                                         "SHOW DATABASES are answered here); send queries in "
                                         "Vigil's query language to /api/v1/query?q=...");
    }
    vg_free(owned);
    return mr;
}

enum MHD_Result vg_http_schema(vg_http_req_t *r)
{
    vg_db_stats_t st;
    vg_error_t err = {0};
    if (vg_db_stats(r->s->db, &st, &err) != VG_OK)
        return vg_http_reply_error(r, 500, "%s", err.msg);
    json_t *tables = json_array();
    for (size_t i = 0; i < st.ntables; i++) {
        const vg_table_stats_t *t = &st.tables[i];
        json_t *cols = json_array(), *tags = json_array();
        for (size_t c = 0; c < t->ncols; c++) {
            json_array_append_new(cols, json_pack("{s:s,s:s}", "name", t->cols[c].name, "type",
                                                  vg_type_name(t->cols[c].type)));
            if (t->cols[c].type == VG_TYPE_TAG)
                json_array_append_new(tags, json_string(t->cols[c].name));
        }
        json_array_append_new(tables, json_pack("{s:s,s:o,s:o}", "name", t->name, "columns", cols,
                                                 "tags", tags));
    }
    vg_db_stats_free(&st);
    return vg_http_reply_json(r, 200, json_pack("{s:o}", "tables", tables));
}

static json_t *ts_json(int64_t ts, int64_t empty)
{
    return ts == empty ? json_null() : json_integer(ts);
}

enum MHD_Result vg_http_stats(vg_http_req_t *r)
{
    vg_db_stats_t st;
    vg_error_t err = {0};
    if (vg_db_stats(r->s->db, &st, &err) != VG_OK)
        return vg_http_reply_error(r, 500, "%s", err.msg);
    json_t *tables = json_array();
    for (size_t i = 0; i < st.ntables; i++) {
        const vg_table_stats_t *t = &st.tables[i];
        json_array_append_new(
            tables,
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:I}", "name", t->name, "rows",
                      (json_int_t)t->rows, "series", (json_int_t)t->series, "segments",
                      (json_int_t)t->segments, "head_rows", (json_int_t)t->head_rows, "disk_bytes",
                      (json_int_t)t->disk_bytes, "raw_bytes", (json_int_t)t->raw_bytes, "replaced",
                      (json_int_t)t->replaced, "ts_min", ts_json(t->ts_min, INT64_MAX), "ts_max",
                      ts_json(t->ts_max, INT64_MIN), "columns", (json_int_t)t->ncols));
    }
    json_t *j = json_pack("{s:o,s:I,s:I,s:s,s:b}", "tables", tables, "wal_bytes",
                          (json_int_t)st.wal_bytes, "disk_bytes", (json_int_t)st.disk_bytes,
                          "io_backend", st.io_backend ? st.io_backend : "", "read_only",
                          vg_db_read_only(r->s->db) != 0);
    vg_db_stats_free(&st);
    return vg_http_reply_json(r, 200, j);
}

enum MHD_Result vg_http_export(vg_http_req_t *r)
{
    struct MHD_Connection *c = r->conn;
    const char *table = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "table");
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *until = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "until");
    const char *fmt = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    int csv = fmt && strcmp(fmt, "csv") == 0;
    if (!table || !*table)
        return vg_http_reply_error(r, 400, "missing table= argument");
    if (fmt && !csv && strcmp(fmt, "lp") != 0)
        return vg_http_reply_error(r, 400, "unknown format '%s' (lp or csv)", fmt);
    int64_t t0 = INT64_MIN, t1 = INT64_MAX, now = vg_now_ns();
    vg_error_t err = {0};
    if ((since && *since && vg_time_parse(since, now, &t0, &err) != VG_OK) ||
        (until && *until && vg_time_parse(until, now, &t1, &err) != VG_OK))
        return vg_http_reply_error(r, 400, "%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return vg_http_reply_error(r, 500, "out of memory");
    int rc = vg_export_rows(r->s->db, table, t0, t1, csv, f, &err);
    int closed = fclose(f);
    if (rc != VG_OK || closed != 0) {
        free(buf);
        if (rc == VG_OK)
            return vg_http_reply_error(r, 500, "out of memory");
        return vg_http_reply_error(r, rc == VG_ENOTFOUND ? 404 : 500, "%s", err.msg);
    }
    return vg_http_reply_libc(r, 200, csv ? "text/csv; charset=utf-8" : "text/plain; charset=utf-8",
                              buf, len);
}

enum MHD_Result vg_http_health(vg_http_req_t *r)
{
    if (__atomic_load_n(&r->s->stop, __ATOMIC_RELAXED))
        return vg_http_reply_json(r, 503, json_pack("{s:s,s:s}", "status", "not ready", "reason",
                                                    "shutting down"));
    if (vg_db_read_only(r->s->db))
        return vg_http_reply_json(
            r, 503, json_pack("{s:s,s:s}", "status", "not ready", "reason",
                              "the database is read-only (opened read-only, or after an I/O "
                              "error: see the log)"));
    return vg_http_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

enum MHD_Result vg_http_metrics(vg_http_req_t *r)
{
    char *out = NULL;
    size_t len = 0;
    if (vg_metrics_render(&r->s->metrics, r->s->db, &out, &len) != VG_OK)
        return vg_http_reply_error(r, 500, "cannot render the metrics");
    char *more = NULL;
    size_t mlen = 0;
    FILE *f = open_memstream(&more, &mlen);
    if (f) {
        fwrite(out, 1, len, f);
        vg_srv_alerting_metrics(r->s, f);
        fclose(f);
    }
    vg_free(out);
    if (!more)
        return vg_http_reply_error(r, 500, "cannot render the metrics");
    return vg_http_reply_libc(r, 200, "text/plain; version=0.0.4; charset=utf-8", more, mlen);
}
