/*
 * db_recover.c: bringing a folder back to its last durable state at open.
 *
 *  1. remove leftover temporary files (never read as live);
 *  2. load the catalog and open every segment it names (header, footer and
 *     index checked; blocks are checked when read);
 *  3. delete segment files the catalog does not name (a crash between
 *     publishing a segment and writing the catalog: the WAL still holds
 *     their rows);
 *  4. replay the WAL records above the catalog's sealed LSN into the heads,
 *     cutting a torn tail of the last file;
 *  5. start a new WAL file.
 * A read-only open does steps 2 and 4 without changing any file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "db_int.h"
#include "vigil/vg_alloc.h"

int vg__table_add_seg(vg_table_t *t, vg_segref_t *r)
{
    if (t->nsegs == t->segs_cap) {
        uint32_t ncap = t->segs_cap ? t->segs_cap * 2 : 16;
        vg_segref_t **ns = vg_realloc(t->segs, ncap * sizeof *ns);
        if (!ns)
            return VG_ENOMEM;
        t->segs = ns;
        t->segs_cap = ncap;
    }
    t->segs[t->nsegs++] = r;
    return VG_OK;
}

/* Open segments/file and map its series onto the table's. */
int vg__segref_open(vg_db_t *db, vg_table_t *t, const char *file, const uint32_t *ids,
                    uint32_t nids, vg_segref_t **out, vg_error_t *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", db->seg_dir, file);
    vg_segref_t *r = vg_calloc(1, sizeof *r);
    if (!r)
        return vg_error_set(err, VG_ENOMEM, "opening segment");
    r->refs = 1;
    r->io = db->io;
    r->file = vg_strdup(file);
    int rc = r->file ? vg_seg_open(db->io, path, &r->seg, err)
                     : vg_error_set(err, VG_ENOMEM, "opening segment");
    uint32_t ns = rc == VG_OK ? vg_seg_nseries(r->seg) : 0;
    if (rc == VG_OK && !(r->gseries = vg_malloc((ns + 1) * sizeof *r->gseries)))
        rc = vg_error_set(err, VG_ENOMEM, "opening segment");
    if (rc == VG_OK && ids && nids != ns)
        rc = vg_error_set(err, VG_ECORRUPT, "segment %s: %u series, %u written", path, ns, nids);
    for (uint32_t i = 0; i < ns && rc == VG_OK && ids; i++) {
        r->gseries[i] = ids[i];
        vg_series_t *se = &t->series[ids[i]];
        if (vg_seg_ts_max(r->seg) > se->sealed_max_ts)
            se->sealed_max_ts = vg_seg_ts_max(r->seg);
    }
    for (uint32_t i = 0; i < ns && rc == VG_OK && !ids; i++) {
        vg_seg_series_t s;
        rc = vg_seg_series(r->seg, i, &s) ? vg_error_set(err, VG_ECORRUPT, "segment %s: bad series %u", path, i) : VG_OK;
        if (rc)
            break;
        rc = vg__table_series(t, s.ntags, s.keys, s.klens, s.vals, s.vlens, 1, &r->gseries[i],
                              err);
        for (uint32_t k = 0; k < s.ntags && rc == VG_OK; k++)
            rc = vg__table_tagkey(t, s.keys[k], s.klens[k], err);
        if (rc == VG_OK) {
            vg_series_t *se = &t->series[r->gseries[i]];
            if (vg_seg_ts_max(r->seg) > se->sealed_max_ts)
                se->sealed_max_ts = vg_seg_ts_max(r->seg);
        }
    }
    for (uint32_t c = 0; rc == VG_OK && c < vg_seg_ncols(r->seg); c++) {
        vg_seg_colinfo_t ci = vg_seg_col(r->seg, c);
        uint32_t idx;
        vg_type_t had;
        rc = vg__table_field(t, ci.name, strlen(ci.name), ci.type, &idx, &had, err);
        if (rc == VG_ECONFLICT)
            rc = vg_error_set(err, VG_ECORRUPT, "segment %s: field '%s' is %s, catalog says %s",
                              path, ci.name, vg_type_name(ci.type), vg_type_name(had));
    }
    if (rc) {
        vg_seg_close(r->seg);
        vg_free(r->gseries);
        vg_free(r->file);
        vg_free(r);
        return rc;
    }
    *out = r;
    return VG_OK;
}

static int named_in_catalog(vg_db_t *db, const char *file)
{
    for (uint32_t i = 0; i < db->ntables; i++)
        for (uint32_t k = 0; k < db->tables[i]->nsegs; k++)
            if (strcmp(db->tables[i]->segs[k]->file, file) == 0)
                return 1;
    return 0;
}

typedef struct sweep {
    vg_db_t *db;
    vg_error_t *err;
} sweep_t;

/* A leftover temporary file, or a segment the catalog does not name, goes. */
static int sweep_one(void *ctx, const char *name)
{
    sweep_t *sw = ctx;
    size_t l = strlen(name);
    int tmp = l > 4 && strcmp(name + l - 4, ".tmp") == 0;
    int seg = l > 4 && strcmp(name + l - 4, ".seg") == 0;
    if (!tmp && !(seg && !named_in_catalog(sw->db, name)))
        return VG_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", sw->db->seg_dir, name);
    vg__db_log(sw->db, "info", "removing %s %s",
               tmp ? "leftover temporary file" : "unpublished segment", path);
    return vg_io_unlink(sw->db->io, path, sw->err);
}

static int sweep_segments(vg_db_t *db, vg_error_t *err)
{
    sweep_t sw = {db, err};
    int rc = vg_io_list(db->io, db->seg_dir, "", sweep_one, &sw, err);
    char cat_tmp[4200];
    snprintf(cat_tmp, sizeof cat_tmp, "%s/CATALOG.tmp", db->dir);
    if (rc == VG_OK)
        (void)vg_io_unlink(db->io, cat_tmp, NULL);
    return rc;
}

static int replay_cb(void *ctx, uint64_t lsn, const char *payload, size_t len, vg_error_t *err)
{
    vg_db_t *db = ctx;
    vg_io_crash_point(db->io, "recovery.replaying"); /* the nth hit: n - 1 records applied */
    vg_write_result_t res = {0};
    int rc = vg__apply_lines(db, payload, len, 1, lsn, &res, NULL, NULL, err);
    vg_write_result_free(&res);
    return rc;
}

int vg__recover(vg_db_t *db, vg_error_t *err)
{
    int rc = vg_catalog_load(db, err);
    if (rc == VG_OK && !db->read_only)
        rc = sweep_segments(db, err);
    if (rc)
        return rc;
    vg_io_crash_point(db->io, "recovery.started");
    vg_wal_replay_report_t rep;
    pthread_mutex_lock(&db->write_mu);
    rc = vg_wal_replay(db->io, db->wal_dir, db->sealed_lsn, !db->read_only, replay_cb, db, &rep,
                       err);
    pthread_mutex_unlock(&db->write_mu);
    if (rc)
        return rc;
    if (rep.torn_bytes)
        vg__db_log(db, "warn", "WAL %s: cut a torn tail of %" PRIu64 " bytes", rep.torn_file,
                   rep.torn_bytes);
    if (rep.records)
        vg__db_log(db, "info", "replayed %" PRIu64 " WAL records (up to LSN %" PRIu64 ")",
                   rep.records, rep.last_lsn);
    if (db->read_only)
        return VG_OK;
    uint64_t next_lsn = (rep.last_lsn > db->sealed_lsn ? rep.last_lsn : db->sealed_lsn) + 1;
    vg_wal_opts_t wo = {.mode = (vg_wal_mode_t)db->o.wal_sync, .group_ms = db->o.group_ms,
                        .file_bytes = db->o.wal_segment_bytes, .next_lsn = next_lsn,
                        .next_seq = rep.last_seq + 1, .flusher = 1};
    rc = vg_wal_open(db->io, db->wal_dir, &wo, &db->wal, err);
    if (rc == VG_OK) {
        for (uint32_t i = 0; i < db->ntables; i++)
            db->tables[i]->head->last_lsn = next_lsn - 1;
    }
    return rc;
}
