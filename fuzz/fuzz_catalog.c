/*
 * fuzz_catalog.c: libFuzzer target for the CATALOG loader (engine/catalog.c:
 * vg_catalog_read and vg_catalog_load; format in docs/format.md "Catalog"),
 * reached the way start-up reaches it: vg_db_open on a data folder.
 *
 * The input is the catalog's body, the text before its checksum line. The
 * harness appends the right "crc32c %08x\n" line, so the fuzzer gets past
 * the checksum into the entries (a damaged checksum is test_corrupt's
 * business: this target never produces one). The folder also holds real
 * segment files, written once per process by the engine itself (two
 * tables, tags and fields of every type, two partitions, five files: see
 * cat_template), so `segment` lines can name real files and the loader goes
 * on to open them and map their series and columns onto its tables.
 *
 * Oracles:
 *  - vg_db_open returns VG_OK, VG_ECORRUPT naming the catalog or a segment,
 *    or VG_EIO naming a segment (a `segment` line naming a file that is not
 *    in segments/: the folder lacks it, nothing in the catalog is wrong);
 *  - after VG_OK every table reads to its end without an error, through
 *    vg_rows (every row) and vg_scan (every chunk's times, every field), and
 *    both see as many rows (no point of the template is stored twice, so
 *    only a segment loaded twice could make the scan see more);
 *  - a row written to a table of the harness's own, a flush (a new segment
 *    and a rewritten catalog) and a compaction succeed and keep every
 *    table's row count (the probe table's grows by the row written);
 *  - close succeeds, and the folder opens again from the catalog the engine
 *    rewrote with the same tables and row counts.
 * ASan and UBSan catch the rest, leaks included.
 */
#include <inttypes.h>

#include "../engine/crc32c.h"
#include "fuzz.h"
#include "vigil/vg_db.h"
#include "vigil/vg_scan.h"

#define CAT_T0       INT64_C(1700006400000000000) /* a partition start (1 day) */
#define CAT_DAY      INT64_C(86400000000000)
#define CAT_PROBE    "fuzz_probe"
#define CAT_MAX_SEGS 16

/* The template's segment files, written to every iteration's folder. */
typedef struct cat_file {
    char name[64];
    uint8_t *p;
    size_t n;
} cat_file_t;

static cat_file_t cat_segs[CAT_MAX_SEGS];
static size_t cat_nsegs;

static void cat_segs_free(void)
{
    for (size_t i = 0; i < cat_nsegs; i++)
        free(cat_segs[i].p);
    cat_nsegs = 0;
}

/* Fixed options: no background thread, no retention (the rows are old and
 * must stay), compaction as soon as a partition has two segments. */
static void cat_opts(vg_db_opts_t *o)
{
    vg_db_opts_default(o);
    o->wal_sync = VG_WAL_SYNC_NONE;
    o->background = 0;
    o->io_kind = 2;
    o->retention_ns = 0;
    o->compact_min_segments = 2;
}

static void cat_write(vg_db_t *db, const char *lp)
{
    vg_write_result_t res = {0};
    vg_error_t err = {0};
    int rc = vg_db_write_lp(db, lp, strlen(lp), NULL, &res, &err);
    VG_FUZZ_CHECK(rc == VG_OK && res.rejected == 0, "template write: %d %s %s", rc, err.msg,
                  res.nerrors ? res.errors[0].reason : "");
    vg_write_result_free(&res);
}

static void cat_flush(vg_db_t *db)
{
    vg_error_t err = {0};
    VG_FUZZ_CHECK(vg_db_flush(db, &err) == VG_OK, "template flush: %s", err.msg);
}

/* Keep segments/name of the template folder dir in cat_segs. */
static void cat_keep(const char *dir, const char *name)
{
    char path[4400];
    int n = snprintf(path, sizeof path, "%s/segments/%s", dir, name);
    VG_FUZZ_CHECK(n > 0 && (size_t)n < sizeof path, "template path too long");
    FILE *f = fopen(path, "rb");
    VG_FUZZ_CHECK(f != NULL && cat_nsegs < CAT_MAX_SEGS, "template segment %s", path);
    cat_file_t *c = &cat_segs[cat_nsegs++];
    n = snprintf(c->name, sizeof c->name, "%s", name);
    VG_FUZZ_CHECK(n > 0 && (size_t)n < sizeof c->name, "template segment name %s", name);
    fseek(f, 0, SEEK_END);
    c->n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    c->p = malloc(c->n + 1);
    VG_FUZZ_CHECK(c->p && fread(c->p, 1, c->n, f) == c->n, "reading %s", path);
    fclose(f);
}

/*
 * The template folder: llm_request (tags model, region; float, integer,
 * unsigned, boolean and string fields) and tool_call (one tag; a float and
 * a string), each in two partitions, sealed (four segments), then more
 * llm_request rows in the first partition sealed (a fifth). No point is
 * written twice, so no partition holds a duplicate whatever the catalog
 * says is dirty, and compaction never changes a row count.
 */
static const char *cat_template(void)
{
    static char dir[4200];
    if (cat_nsegs)
        return dir;
    vg_fuzz_dir("cat-tpl", dir, sizeof dir);
    vg_db_opts_t o;
    cat_opts(&o);
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    VG_FUZZ_CHECK(vg_db_open(dir, &o, &db, &err) == VG_OK, "template open: %s", err.msg);
    char lp[2048];
    snprintf(lp, sizeof lp,
             "llm_request,model=gpt-4,region=eu latency_ms=12.5,tokens=100i,cost=3u,ok=true,"
             "status=\"done\" %" PRId64 "\n"
             "llm_request,model=claude\\ 3,region=us latency_ms=7.25,tokens=42i,ok=false,"
             "status=\"a \\\"b\\\"\" %" PRId64 "\n"
             "llm_request,model=gpt-4,region=eu latency_ms=99,tokens=7i,cost=1u %" PRId64 "\n"
             "tool_call,tool=search latency_ms=1.5,err=\"\" %" PRId64 "\n"
             "tool_call,tool=fetch latency_ms=2.5 %" PRId64 "\n",
             CAT_T0 + 1, CAT_T0 + 2, CAT_T0 + CAT_DAY + 3, CAT_T0 + 4, CAT_T0 + CAT_DAY + 5);
    cat_write(db, lp);
    cat_flush(db);
    snprintf(lp, sizeof lp,
             "llm_request,model=gpt-4,region=eu latency_ms=13.5,tokens=101i %" PRId64 "\n"
             "llm_request,model=mistral,region=ap latency_ms=30,status=\"late\" %" PRId64 "\n",
             CAT_T0 + 100, CAT_T0 + 101);
    cat_write(db, lp);
    cat_flush(db);
    VG_FUZZ_CHECK(vg_db_close(db, &err) == VG_OK, "template close: %s", err.msg);
    char sdir[4400];
    snprintf(sdir, sizeof sdir, "%s/segments", dir);
    DIR *d = opendir(sdir);
    VG_FUZZ_CHECK(d != NULL, "template %s", sdir);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".seg"))
            cat_keep(dir, e->d_name);
    closedir(d);
    VG_FUZZ_CHECK(cat_nsegs == 5, "template: %zu segments", cat_nsegs);
    atexit(cat_segs_free);
    return dir;
}

/* Every table's name and row count. */
typedef struct cat_counts {
    vg_db_stats_t st;
    uint64_t *rows;
} cat_counts_t;

static uint64_t cat_rows(vg_db_t *db, const char *table)
{
    vg_rows_t *r = NULL;
    vg_error_t err = {0};
    int rc = vg_rows_open(db, table, INT64_MIN, INT64_MAX, &r, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "vg_rows_open '%s': %d %s", table, rc, err.msg);
    vg_row_t row;
    uint64_t n = 0;
    while ((rc = vg_rows_next(r, &row, &err)) == 1)
        n++;
    VG_FUZZ_CHECK(rc == 0, "vg_rows_next '%s' row %" PRIu64 ": %d %s", table, n, rc, err.msg);
    vg_rows_close(r);
    return n;
}

/* Decode every chunk of a table: times, every field, the statistics. */
static void cat_scan_chunk(vg_scan_t *s, vg_scan_reader_t *rd, uint32_t c, const char *table)
{
    vg_scan_chunk_t ch = vg_scan_chunk(s, c);
    const int64_t *ts;
    const uint32_t *ser;
    vg_error_t err = {0};
    int rc = vg_scan_read_time(rd, c, &ts, &ser, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "'%s' chunk %u times: %d %s", table, c, rc, err.msg);
    for (uint32_t i = 0; i < ch.nrows; i++)
        VG_FUZZ_CHECK(ser[i] < vg_scan_nseries(s), "'%s' chunk %u row %u: series %u of %u", table,
                      c, i, ser[i], vg_scan_nseries(s));
    for (uint32_t f = 0; f < vg_scan_nfields(s); f++) {
        vg_scan_col_t col;
        rc = vg_scan_read_col(rd, c, f, &col, &err);
        VG_FUZZ_CHECK(rc == VG_OK, "'%s' chunk %u field %u: %d %s", table, c, f, rc, err.msg);
        VG_FUZZ_CHECK(col.n == ch.nrows, "'%s' chunk %u field %u: %u values of %u rows", table, c,
                      f, col.n, ch.nrows);
        vg_scan_stats_t stats;
        if (ch.has_stats)
            vg_scan_chunk_stats(s, c, f, &stats);
    }
}

/* Decode the whole table through vg_scan; returns its rows. */
static uint64_t cat_scan(vg_db_t *db, const char *table)
{
    vg_scan_t *s = NULL;
    vg_scan_reader_t *rd = NULL;
    vg_error_t err = {0};
    int rc = vg_scan_open(db, table, INT64_MIN, INT64_MAX, &s, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "vg_scan_open '%s': %d %s", table, rc, err.msg);
    rc = vg_scan_reader_create(s, &rd, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "vg_scan_reader_create '%s': %d %s", table, rc, err.msg);
    uint64_t n = 0;
    for (uint32_t c = 0; c < vg_scan_nchunks(s); c++) {
        cat_scan_chunk(s, rd, c, table);
        n += vg_scan_chunk(s, c).nrows;
    }
    vg_scan_reader_free(rd);
    vg_scan_close(s);
    return n;
}

static void cat_count(vg_db_t *db, cat_counts_t *out)
{
    vg_error_t err = {0};
    int rc = vg_db_stats(db, &out->st, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "vg_db_stats: %d %s", rc, err.msg);
    out->rows = calloc(out->st.ntables + 1, sizeof *out->rows);
    VG_FUZZ_CHECK(out->rows != NULL, "harness out of memory");
    for (size_t i = 0; i < out->st.ntables; i++) {
        const char *name = out->st.tables[i].name;
        out->rows[i] = cat_rows(db, name);
        /* the template holds no point twice: a scan sees each row once too */
        uint64_t scanned = cat_scan(db, name);
        VG_FUZZ_CHECK(scanned == out->rows[i], "'%s': %" PRIu64 " rows scanned, %" PRIu64 " read",
                      name, scanned, out->rows[i]);
    }
}

static void cat_counts_free(cat_counts_t *c)
{
    vg_db_stats_free(&c->st);
    free(c->rows);
}

/* b has a's tables and counts, the probe table `extra` rows more (and
 * possibly new, when it was not there before). */
static void cat_same(const cat_counts_t *a, const cat_counts_t *b, uint64_t extra, const char *when)
{
    size_t j = 0;
    for (size_t i = 0; i < b->st.ntables; i++) {
        const char *name = b->st.tables[i].name;
        int probe = strcmp(name, CAT_PROBE) == 0;
        int had = j < a->st.ntables && strcmp(a->st.tables[j].name, name) == 0;
        VG_FUZZ_CHECK(had || probe, "%s: a new table '%s'", when, name);
        uint64_t want = (had ? a->rows[j] : 0) + (probe ? extra : 0);
        VG_FUZZ_CHECK(b->rows[i] == want, "%s: '%s' has %" PRIu64 " rows, not %" PRIu64, when, name,
                      b->rows[i], want);
        j += had;
    }
    VG_FUZZ_CHECK(j == a->st.ntables, "%s: %zu tables of %zu left", when, j, a->st.ntables);
}

/* Write one row to the probe table, seal it (rewriting the catalog), compact. */
static uint64_t cat_probe(vg_db_t *db)
{
    char lp[128];
    snprintf(lp, sizeof lp, CAT_PROBE ",k=v x=1i %" PRId64 "\n", CAT_T0 + 7);
    vg_write_result_t res = {0};
    vg_error_t err = {0};
    int rc = vg_db_write_lp(db, lp, strlen(lp), NULL, &res, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "probe write: %d %s", rc, err.msg);
    uint64_t rows = res.rows;
    vg_write_result_free(&res);
    rc = vg_db_flush(db, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "flush: %d %s", rc, err.msg);
    rc = vg_db_compact(db, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "compact: %d %s", rc, err.msg);
    return rows;
}

static void cat_open_failed(int rc, const vg_error_t *err)
{
    VG_FUZZ_CHECK(rc == VG_ECORRUPT || rc == VG_EIO, "vg_db_open returned %d: %s", rc, err->msg);
    VG_FUZZ_CHECK(strstr(err->msg, "catalog") || strstr(err->msg, "segment"),
                  "vg_db_open: the error names neither the catalog nor a segment: %s", err->msg);
}

/* A fresh folder: the template's segments and the input as the catalog. */
static void cat_folder(const char *dir, const uint8_t *data, size_t size)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/segments", dir);
    mkdir(path, 0755);
    for (size_t i = 0; i < cat_nsegs; i++) {
        int n = snprintf(path, sizeof path, "%s/segments/%s", dir, cat_segs[i].name);
        VG_FUZZ_CHECK(n > 0 && (size_t)n < sizeof path, "scratch path too long");
        vg_fuzz_write(path, cat_segs[i].p, cat_segs[i].n);
    }
    char line[32];
    int n = snprintf(line, sizeof line, "crc32c %08x\n", vg_crc32c(0, data, size));
    uint8_t *buf = malloc(size + (size_t)n + 1);
    VG_FUZZ_CHECK(buf != NULL, "harness out of memory");
    if (size)
        memcpy(buf, data, size);
    memcpy(buf + size, line, (size_t)n);
    snprintf(path, sizeof path, "%s/CATALOG", dir);
    vg_fuzz_write(path, buf, size + (size_t)n);
    free(buf);
}

int vg_fuzz_catalog(const uint8_t *data, size_t size)
{
    cat_template();
    char dir[4200];
    vg_fuzz_dir("cat", dir, sizeof dir);
    cat_folder(dir, data, size);
    vg_db_opts_t o;
    cat_opts(&o);
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    int rc = vg_db_open(dir, &o, &db, &err);
    if (rc != VG_OK) {
        cat_open_failed(rc, &err);
        return 0;
    }
    cat_counts_t before, after, again;
    cat_count(db, &before);
    uint64_t added = cat_probe(db);
    cat_count(db, &after);
    cat_same(&before, &after, added, "after the flush and compaction");
    rc = vg_db_close(db, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "close: %d %s", rc, err.msg);
    rc = vg_db_open(dir, &o, &db, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "reopen from the rewritten catalog: %d %s", rc, err.msg);
    cat_count(db, &again);
    cat_same(&after, &again, 0, "after the reopen");
    rc = vg_db_close(db, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "second close: %d %s", rc, err.msg);
    cat_counts_free(&before);
    cat_counts_free(&after);
    cat_counts_free(&again);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_catalog(data, size);
}
#endif
