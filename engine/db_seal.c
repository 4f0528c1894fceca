/*
 * db_seal.c: sealing heads into segments, compaction and retention.
 *
 * Seal: under write_mu, roll the WAL (which syncs every queued record),
 * publish, and swap each table's head for an empty one, keeping the old
 * head readable as "frozen". Outside write_mu, merge each partition of each
 * frozen head and write it as a segment. Then, in one critical section per
 * table, add the segments and drop the frozen head; write the catalog with
 * the new sealed LSN; delete the WAL files it covers. A crash anywhere in
 * between leaves either orphan segment files (deleted at open; the WAL
 * still holds their rows) or WAL files the catalog already covers (skipped
 * at replay by LSN).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "colbuild.h"
#include "db_int.h"
#include "merge.h"
#include "segbuild.h"
#include "vigil/vg_alloc.h"

int64_t vg__part_start(const vg_db_t *db, int64_t ts)
{
    int64_t p = db->o.partition_ns;
    int64_t q = ts / p;
    if (ts % p < 0)
        q--;
    return q * p;
}

int vg__catalog_write(vg_db_t *db, vg_error_t *err)
{
    return vg_catalog_write(db, err);
}

/* Partition starts touched by a head's visible rows. */
static int head_parts(vg_db_t *db, const vg_head_t *h, int64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!h->visible)
        return VG_OK;
    int64_t lo = vg__part_start(db, h->ts_min), hi = vg__part_start(db, h->ts_max);
    size_t cnt = (size_t)((hi - lo) / db->o.partition_ns) + 1;
    int64_t *p = vg_malloc(cnt * sizeof *p);
    if (!p)
        return VG_ENOMEM;
    for (size_t i = 0; i < cnt; i++)
        p[i] = lo + (int64_t)i * db->o.partition_ns;
    *out = p;
    *n = cnt;
    return VG_OK;
}

/* The visible, live rows of h in [lo, hi). Ownership: *rows, *ts, *series
 * are the caller's (vg_free), also on failure. */
static int head_rows(const vg_head_t *h, int64_t lo, int64_t hi, uint32_t **rows, int64_t **ts,
                     uint32_t **series, size_t *n)
{
    uint32_t vis = h->visible;
    size_t cnt = 0;
    for (uint32_t r = 0; r < vis; r++) {
        int64_t v = vg__head_chunk(h, r)->ts[r % VG_HEAD_CHUNK];
        cnt += v >= lo && v < hi && vg__head_alive(h, r, vis);
    }
    *rows = vg_malloc((cnt + 1) * sizeof **rows);
    *ts = vg_malloc((cnt + 1) * sizeof **ts);
    *series = vg_malloc((cnt + 1) * sizeof **series);
    if (!*rows || !*ts || !*series)
        return VG_ENOMEM;
    size_t k = 0;
    for (uint32_t r = 0; r < vis; r++) {
        const vg_hchunk_t *c = vg__head_chunk(h, r);
        int64_t v = c->ts[r % VG_HEAD_CHUNK];
        if (v < lo || v >= hi || !vg__head_alive(h, r, vis))
            continue;
        (*rows)[k] = r;
        (*ts)[k] = v;
        (*series)[k] = c->series[r % VG_HEAD_CHUNK];
        k++;
    }
    *n = k;
    return VG_OK;
}

/* Table i, or NULL past the last. For the background work that holds
 * meta_mu but not write_mu: a writer may add a table (and move the array)
 * meanwhile; tables are only appended, so walking by index is safe. */
static vg_table_t *table_at(vg_db_t *db, uint32_t i)
{
    pthread_mutex_lock(&db->tables_mu);
    vg_table_t *t = i < db->ntables ? db->tables[i] : NULL;
    pthread_mutex_unlock(&db->tables_mu);
    return t;
}

/* Write one partition's rows of a frozen head as a segment. A head holds no
 * two live rows of one point (it merged them as they came), so its rows go
 * straight from the head into the segment's order. */
static int seal_part(vg_db_t *db, vg_table_t *t, const vg_head_t *h, const vg_field_t *fields,
                     uint32_t nfields, int64_t part, uint64_t lsn, vg_segref_t **out,
                     vg_error_t *err)
{
    uint32_t *rows, *series;
    int64_t *ts;
    size_t n = 0;
    int rc = head_rows(h, part, part + db->o.partition_ns, &rows, &ts, &series, &n);
    *out = NULL;
    if (rc)
        rc = vg_error_set(err, rc, "sealing table '%s'", t->name);
    else if (n) {
        vg_headrows_t hr = {.h = h, .rows = rows};
        vg_rowset_t rs = {.n = n, .ts = ts, .series = series, .fields = fields,
                          .nfields = nfields, .col = vg__colsrc_head, .ctx = &hr};
        rc = vg__segbuild(db, t, &rs, part, lsn, out, err);
        vg_free(hr.ordered);
    }
    vg_free(rows);
    vg_free(ts);
    vg_free(series);
    return rc;
}

static int seal_head(vg_db_t *db, vg_table_t *t, vg_head_t *h, uint64_t lsn, vg_segref_t ***segs,
                     uint32_t *nsegs, vg_error_t *err)
{
    pthread_mutex_lock(&t->mu);
    uint32_t nfields = t->nfields;
    vg_field_t *fields = vg_malloc((nfields + 1) * sizeof *fields);
    if (fields && nfields)
        memcpy(fields, t->fields, nfields * sizeof *fields);
    pthread_mutex_unlock(&t->mu);
    int64_t *parts = NULL;
    size_t np = 0;
    *segs = NULL;
    if (!fields || head_parts(db, h, &parts, &np) || !(*segs = vg_calloc(np + 1, sizeof **segs))) {
        vg_free(fields);
        vg_free(parts);
        return vg_error_set(err, VG_ENOMEM, "sealing table '%s'", t->name);
    }
    int rc = VG_OK;
    for (size_t i = 0; i < np && rc == VG_OK; i++) {
        rc = seal_part(db, t, h, fields, nfields, parts[i], lsn, &(*segs)[*nsegs], err);
        if (rc == VG_OK && (*segs)[*nsegs])
            (*nsegs)++;
    }
    vg_free(parts);
    vg_free(fields);
    return rc;
}

/* Under write_mu: freeze every table's head that has rows. */
static int freeze_heads(vg_db_t *db, vg_head_t **frozen, vg_error_t *err)
{
    for (uint32_t i = 0; i < db->ntables; i++) {
        vg_table_t *t = db->tables[i];
        frozen[i] = NULL;
        if (t->head->visible == 0)
            continue;
        vg_head_t *nh = vg__head_new();
        if (!nh || t->nfrozen >= 7) {
            vg__head_unref(nh);
            return vg_error_set(err, VG_ENOMEM, "freezing head of table '%s'", t->name);
        }
        vg_head_t **nf = vg_realloc(t->frozen, (t->nfrozen + 1) * sizeof *nf);
        if (!nf) {
            vg__head_unref(nh);
            return vg_error_set(err, VG_ENOMEM, "freezing head");
        }
        pthread_mutex_lock(&t->mu);
        t->frozen = nf;
        t->frozen[t->nfrozen++] = t->head;
        frozen[i] = t->head;
        t->head = nh;
        pthread_mutex_unlock(&t->mu);
        for (uint32_t s = 0; s < t->nseries; s++) {
            vg_series_t *se = &t->series[s];
            if (se->head_max_ts > se->sealed_max_ts)
                se->sealed_max_ts = se->head_max_ts;
            se->frozen_last = se->head_last;
            se->frozen_head = frozen[i];
            se->head_last = UINT32_MAX;
            se->head_max_ts = INT64_MIN;
        }
    }
    return VG_OK;
}

/* Publish a frozen head's segments and drop it, in one step for readers. */
static int table_install(vg_table_t *t, vg_head_t *h, vg_segref_t **segs, uint32_t n)
{
    pthread_mutex_lock(&t->mu);
    int rc = VG_OK;
    for (uint32_t i = 0; i < n; i++) {
        if (rc == VG_OK)
            rc = vg__table_add_seg(t, segs[i]);
        if (rc != VG_OK)
            vg__segref_unref(segs[i]); /* not installed: ours to release */
    }
    for (uint32_t i = 0; i < t->nfrozen; i++)
        if (t->frozen[i] == h) {
            memmove(&t->frozen[i], &t->frozen[i + 1], (t->nfrozen - i - 1) * sizeof *t->frozen);
            t->nfrozen--;
            break;
        }
    t->replaced += h->replaced;
    pthread_mutex_unlock(&t->mu);
    vg__head_unref(h);
    return rc;
}

int vg__seal_all(vg_db_t *db, vg_error_t *err)
{
    pthread_mutex_lock(&db->meta_mu);
    pthread_mutex_lock(&db->write_mu);
    uint64_t lsn = 0;
    int rc = vg_wal_roll(db->wal, &lsn, err);
    if (rc == VG_OK)
        vg__publish(db);
    uint32_t nt = db->ntables;
    vg_head_t **frozen = vg_calloc(nt + 1, sizeof *frozen);
    if (rc == VG_OK && !frozen)
        rc = vg_error_set(err, VG_ENOMEM, "sealing");
    if (rc == VG_OK)
        rc = freeze_heads(db, frozen, err);
    if (rc == VG_ENOSPC)
        vg__db_nospace_recover(db); /* rejected batches: not a failure */
    else if (rc)
        db->failed = 1;
    pthread_mutex_unlock(&db->write_mu);
    /* Every frozen head, including one left by a seal that met a full disk:
     * lsn covers its rows too, and the WAL is truncated below lsn only after
     * all of them are in published segments. */
    for (uint32_t i = 0; i < nt && rc == VG_OK; i++) {
        vg_table_t *t = table_at(db, i); /* write_mu is released: the array may move */
        while (rc == VG_OK && t->nfrozen > 0) {
            vg_head_t *h = t->frozen[0];
            vg_segref_t **segs = NULL;
            uint32_t nsegs = 0;
            rc = seal_head(db, t, h, lsn, &segs, &nsegs, err);
            if (rc == VG_OK)
                rc = table_install(t, h, segs, nsegs);
            else
                for (uint32_t k = 0; k < nsegs; k++)
                    vg__segref_unref(segs[k]);
            vg_free(segs);
        }
    }
    if (rc == VG_OK) {
        db->sealed_lsn = lsn;
        rc = vg_catalog_write(db, err);
    }
    if (rc == VG_OK)
        rc = vg_wal_truncate(db->wal, lsn, err);
    if (rc == VG_ENOSPC) {
        /* Nothing lost: the frozen heads stay readable and are sealed by the
         * next attempt; the WAL still holds their rows. */
        vg__db_log(db, "warn", "sealing postponed: %s", err ? err->msg : "disk full");
    } else if (rc && !db->failed) {
        vg__db_log(db, "error", "sealing failed, turning read-only: %s", err ? err->msg : "");
        db->failed = 1;
    }
    vg_free(frozen);
    pthread_mutex_unlock(&db->meta_mu);
    return rc;
}

/* ------------------------------------------------------------ compaction */

/* A segment below this many rows is merged with its partition's other small
 * ones once there are compact_min_segments of them. */
static uint64_t small_rows(const vg_db_t *db)
{
    return db->o.seal_rows / 2;
}

/*
 * Merge segments of one partition into one. A dirty partition merges all of
 * them (to fold duplicates), and only when no head holds rows there, or
 * clearing the mark would lie; a clean one merges only its small segments.
 */
static int compact_part(vg_db_t *db, vg_table_t *t, int64_t part, int dirty, vg_error_t *err)
{
    vg_snap_t snap = {.t = t};
    pthread_mutex_lock(&t->mu);
    int busy = 0;
    for (uint32_t i = 0; i < t->nfrozen; i++)
        busy |= t->frozen[i]->visible && vg__part_start(db, t->frozen[i]->ts_min) <= part &&
                vg__part_start(db, t->frozen[i]->ts_max) >= part;
    busy |= t->head->nrows && vg__part_start(db, t->head->ts_min) <= part &&
            vg__part_start(db, t->head->ts_max) >= part;
    snap.segs = vg_malloc((t->nsegs + 1) * sizeof *snap.segs);
    snap.fields = vg_malloc((t->nfields + 1) * sizeof *snap.fields);
    busy = busy && dirty;
    if (!busy && snap.segs && snap.fields) {
        for (uint32_t i = 0; i < t->nsegs; i++)
            if (vg_seg_part_start(t->segs[i]->seg) == part &&
                (dirty || vg_seg_nrows(t->segs[i]->seg) < small_rows(db))) {
                __atomic_add_fetch(&t->segs[i]->refs, 1, __ATOMIC_RELAXED);
                snap.segs[snap.nsegs++] = t->segs[i];
            }
        if (t->nfields)
            memcpy(snap.fields, t->fields, t->nfields * sizeof *snap.fields);
        snap.nfields = t->nfields;
    }
    pthread_mutex_unlock(&t->mu);
    int rc = (!snap.segs || !snap.fields) ? vg_error_set(err, VG_ENOMEM, "compacting") : VG_OK;
    if (busy || rc || snap.nsegs < (dirty ? 1u : 2u)) {
        vg__snap_release(&snap);
        return rc;
    }
    /* oldest first, so the newest value of a duplicate wins */
    for (uint32_t i = 1; i < snap.nsegs; i++)
        for (uint32_t j = i; j > 0 && vg_seg_wal_lsn(snap.segs[j - 1]->seg) >
                                          vg_seg_wal_lsn(snap.segs[j]->seg); j--) {
            vg_segref_t *x = snap.segs[j];
            snap.segs[j] = snap.segs[j - 1];
            snap.segs[j - 1] = x;
        }
    vg_merged_t m;
    rc = vg_merge_partition(&snap, part, part + db->o.partition_ns, INT64_MIN, INT64_MAX, &m, err);
    vg_segref_t *nr = NULL;
    if (rc == VG_OK && m.n) {
        vg_rowset_t rs = {.n = m.n, .ts = m.ts, .series = m.series, .fields = snap.fields,
                          .nfields = snap.nfields, .col = vg__colsrc_merged, .ctx = &m};
        rc = vg__segbuild(db, t, &rs, part, m.lsn, &nr, err);
    }
    if (rc == VG_OK) {
        vg_io_crash_point(db->io, "compaction.written");
        pthread_mutex_lock(&t->mu);
        uint32_t keep = 0;
        for (uint32_t i = 0; i < t->nsegs; i++) {
            int old = 0;
            for (uint32_t k = 0; k < snap.nsegs && !old; k++)
                old = t->segs[i] == snap.segs[k];
            if (old) {
                t->segs[i]->doomed = 1; /* unlinked when snap releases it, after the catalog */
                vg__segref_unref(t->segs[i]); /* the table's reference; snap still holds one */
            } else {
                t->segs[keep++] = t->segs[i];
            }
        }
        t->nsegs = keep;
        t->replaced += m.replaced;
        pthread_mutex_unlock(&t->mu);
        if (nr && (rc = vg__table_add_seg(t, nr)) != VG_OK)
            vg__segref_unref(nr);
        if (dirty)
            vg__table_clear_dirty(t, part);
        if (rc == VG_OK)
            rc = vg_catalog_write(db, err);
        /* The catalog on disk still names the old segments: they must not be
         * unlinked (a restart would find them missing and lose their rows). */
        for (uint32_t k = 0; rc != VG_OK && k < snap.nsegs; k++)
            snap.segs[k]->doomed = 0;
    }
    vg_merged_free(&m);
    vg__snap_release(&snap);
    return rc;
}

/* The next partition of t to compact: a dirty one, or one with enough small
 * segments. Returns 0 when there is none. */
static int compact_pick(vg_db_t *db, vg_table_t *t, int64_t *part, int *dirty)
{
    int found = 0;
    pthread_mutex_lock(&t->mu);
    if (t->ndirty) {
        *part = t->dirty[0];
        *dirty = found = 1;
    }
    for (uint32_t a = 0; a < t->nsegs && !found; a++) {
        int64_t p = vg_seg_part_start(t->segs[a]->seg);
        uint32_t small = 0;
        for (uint32_t b = 0; b < t->nsegs; b++)
            small += vg_seg_part_start(t->segs[b]->seg) == p &&
                     vg_seg_nrows(t->segs[b]->seg) < small_rows(db);
        if (small >= db->o.compact_min_segments) {
            *part = p;
            *dirty = 0;
            found = 1;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

int vg__compact_all(vg_db_t *db, vg_error_t *err)
{
    pthread_mutex_lock(&db->meta_mu);
    int rc = VG_OK;
    vg_table_t *t;
    for (uint32_t i = 0; rc == VG_OK && (t = table_at(db, i)) != NULL; i++) {
        int64_t part;
        int dirty;
        while (rc == VG_OK && compact_pick(db, t, &part, &dirty)) {
            uint32_t before = t->ndirty + t->nsegs;
            rc = compact_part(db, t, part, dirty, err);
            if (t->ndirty + t->nsegs >= before)
                break; /* no progress now (a head still holds rows there) */
        }
    }
    /* A full disk changed nothing that the catalog on disk relies on. Any
     * other failure may have left the table's segment list and the catalog
     * apart (or an fsync failed): stop writing, as after a WAL error. */
    if (rc && rc != VG_ENOSPC && !db->failed) {
        vg__db_log(db, "error", "compaction failed, turning read-only: %s", err ? err->msg : "");
        db->failed = 1;
    }
    pthread_mutex_unlock(&db->meta_mu);
    return rc;
}

int vg__retention(vg_db_t *db, vg_error_t *err)
{
    if (db->o.retention_ns <= 0)
        return VG_OK;
    int64_t cutoff = vg_now_ns() - db->o.retention_ns;
    pthread_mutex_lock(&db->meta_mu);
    int changed = 0;
    vg_segref_t **drop = NULL;
    size_t ndrop = 0, dcap = 0;
    vg_table_t *t;
    for (uint32_t i = 0; (t = table_at(db, i)) != NULL; i++) {
        pthread_mutex_lock(&t->mu);
        uint32_t keep = 0;
        for (uint32_t k = 0; k < t->nsegs; k++) {
            vg_segref_t *r = t->segs[k];
            if (vg_seg_part_end(r->seg) <= cutoff && ndrop < dcap) {
                drop[ndrop++] = r; /* unlinked after the catalog no longer names it */
                changed = 1;
            } else if (vg_seg_part_end(r->seg) <= cutoff) {
                size_t ncap = dcap ? dcap * 2 : 16;
                vg_segref_t **nd = vg_realloc(drop, ncap * sizeof *nd);
                if (nd) {
                    drop = nd;
                    dcap = ncap;
                    drop[ndrop++] = r;
                    changed = 1;
                } else {
                    t->segs[keep++] = r;
                }
            } else {
                t->segs[keep++] = r;
            }
        }
        t->nsegs = keep;
        pthread_mutex_unlock(&t->mu);
    }
    int rc = changed ? vg_catalog_write(db, err) : VG_OK;
    for (size_t i = 0; i < ndrop; i++) {
        drop[i]->doomed = rc == VG_OK;
        vg__segref_unref(drop[i]);
    }
    vg_free(drop);
    if (changed && rc == VG_OK)
        vg_io_crash_point(db->io, "retention.deleted");
    pthread_mutex_unlock(&db->meta_mu);
    return rc;
}
