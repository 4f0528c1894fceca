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

typedef struct seg_build {
    const vg_series_t *series; /* table's series, copied */
    uint32_t *local;           /* table id -> local id (UINT32_MAX unused) */
    uint32_t *ids;             /* local id -> table id */
    uint32_t n;
    const vg_merged_t *m;
} seg_build_t;

static int local_cmp(const void *a, const void *b, void *ctx)
{
    const seg_build_t *sb = ctx;
    const vg_series_t *x = &sb->series[*(const uint32_t *)a], *y = &sb->series[*(const uint32_t *)b];
    uint32_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

static int row_cmp(const void *a, const void *b, void *ctx)
{
    const seg_build_t *sb = ctx;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    uint32_t li = sb->local[sb->m->series[i]], lj = sb->local[sb->m->series[j]];
    if (li != lj)
        return li < lj ? -1 : 1;
    return (sb->m->ts[i] > sb->m->ts[j]) - (sb->m->ts[i] < sb->m->ts[j]);
}

/* Write merged rows of partition part as a new segment of t. */
static int write_merged(vg_db_t *db, vg_table_t *t, const vg_snap_t *snap, const vg_merged_t *m,
                        int64_t part, uint64_t lsn, vg_segref_t **out, vg_error_t *err)
{
    seg_build_t sb = {.m = m};
    int rc = VG_OK;
    size_t n = m->n;
    pthread_mutex_lock(&t->mu);
    uint32_t nser = t->nseries;
    vg_series_t *ser = vg_malloc((nser + 1) * sizeof *ser);
    if (ser && nser)
        memcpy(ser, t->series, nser * sizeof *ser);
    pthread_mutex_unlock(&t->mu);
    sb.series = ser;
    sb.local = vg_malloc((nser + 1) * sizeof *sb.local);
    sb.ids = vg_malloc((nser + 1) * sizeof *sb.ids);
    uint32_t *perm = vg_malloc((n + 1) * sizeof *perm);
    int64_t *ts = vg_malloc((n + 1) * sizeof *ts);
    uint32_t *ls = vg_malloc((n + 1) * sizeof *ls);
    vg_colvec_t *cols = vg_calloc(snap->nfields + 1, sizeof *cols);
    vg_seg_col_in_t *cin = vg_calloc(snap->nfields + 1, sizeof *cin);
    vg_seg_series_t *st = vg_calloc(nser + 1, sizeof *st);
    uint32_t *klens = NULL;
    if (!ser || !sb.local || !sb.ids || !perm || !ts || !ls || !cols || !cin || !st) {
        rc = vg_error_set(err, VG_ENOMEM, "sealing table '%s'", t->name);
        goto out;
    }
    memset(sb.local, 0xff, nser * sizeof *sb.local);
    for (size_t i = 0; i < n; i++)
        if (sb.local[m->series[i]] == UINT32_MAX) {
            sb.local[m->series[i]] = 0;
            sb.ids[sb.n++] = m->series[i];
        }
    qsort_r(sb.ids, sb.n, sizeof *sb.ids, local_cmp, &sb);
    for (uint32_t i = 0; i < sb.n; i++)
        sb.local[sb.ids[i]] = i;
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    qsort_r(perm, n, sizeof *perm, row_cmp, &sb);
    for (size_t i = 0; i < n; i++) {
        ts[i] = m->ts[perm[i]];
        ls[i] = sb.local[m->series[perm[i]]];
    }
    uint32_t ncols = 0;
    for (uint32_t c = 0; c < snap->nfields && rc == VG_OK; c++) {
        if (vg_colvec_alloc(&cols[ncols], snap->fields[c].type, n) != VG_OK) {
            rc = vg_error_set(err, VG_ENOMEM, "sealing");
            break;
        }
        size_t present = 0;
        for (size_t i = 0; i < n && rc == VG_OK; i++) {
            vg_value_t v;
            if (vg_colvec_get(&m->cols[c], perm[i], &v)) {
                present++;
                if (vg_colvec_set(&cols[ncols], i, &v) != VG_OK)
                    rc = vg_error_set(err, VG_ENOMEM, "sealing");
            }
        }
        vg_colvec_finish(&cols[ncols]);
        if (!present) { /* a field with no value in this partition is not stored */
            vg_colvec_free(&cols[ncols]);
            continue;
        }
        cin[ncols] = (vg_seg_col_in_t){snap->fields[c].name, &cols[ncols]};
        ncols++;
    }
    /* tag arrays: each series' keys/vals with lengths */
    size_t nlen = 1;
    for (uint32_t i = 0; i < sb.n; i++)
        nlen += 2 * (size_t)ser[sb.ids[i]].ntags;
    klens = vg_malloc(nlen * sizeof *klens);
    if (!klens && rc == VG_OK)
        rc = vg_error_set(err, VG_ENOMEM, "sealing");
    uint32_t *kl = klens;
    for (uint32_t i = 0; i < sb.n && rc == VG_OK; i++) {
        const vg_series_t *s = &ser[sb.ids[i]];
        uint32_t *vl = kl + s->ntags;
        for (uint32_t k = 0; k < s->ntags; k++) {
            kl[k] = (uint32_t)strlen(s->tag_keys[k]);
            vl[k] = (uint32_t)strlen(s->tag_vals[k]);
        }
        st[i] = (vg_seg_series_t){s->ntags, s->tag_keys, kl, s->tag_vals, vl};
        kl = vl + s->ntags;
    }
    if (rc)
        goto out;
    vg_seg_input_t in = {.table = t->name, .part_start = part, .part_end = part + db->o.partition_ns,
                         .wal_lsn = lsn, .nrows = n, .ts = ts, .series = ls, .nseries = sb.n,
                         .series_tags = st, .ncols = ncols, .cols = cin};
    char name[64];
    uint64_t seq = __atomic_add_fetch(&db->seg_seq, 1, __ATOMIC_RELAXED);
    snprintf(name, sizeof name, "%016" PRIx64 ".seg", seq);
    rc = vg_seg_write(db->io, db->seg_dir, name, &in, NULL, NULL, err);
    if (rc == VG_OK)
        rc = vg__segref_open(db, t, name, out, err);
out:
    for (uint32_t c = 0; cols && c <= snap->nfields; c++)
        vg_colvec_free(&cols[c]);
    vg_free(cols);
    vg_free(cin);
    vg_free(st);
    vg_free(klens);
    vg_free(perm);
    vg_free(ts);
    vg_free(ls);
    vg_free(sb.local);
    vg_free(sb.ids);
    vg_free(ser);
    return rc;
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

static int seal_head(vg_db_t *db, vg_table_t *t, vg_head_t *h, uint64_t lsn, vg_segref_t ***segs,
                     uint32_t *nsegs, vg_error_t *err)
{
    vg_snap_t snap = {.t = t, .nheads = 1};
    snap.heads[0] = h;
    snap.visible[0] = h->visible;
    pthread_mutex_lock(&t->mu);
    snap.nfields = t->nfields;
    snap.fields = vg_malloc((t->nfields + 1) * sizeof *snap.fields);
    if (snap.fields && t->nfields)
        memcpy(snap.fields, t->fields, t->nfields * sizeof *snap.fields);
    pthread_mutex_unlock(&t->mu);
    int64_t *parts;
    size_t np;
    if (!snap.fields || head_parts(db, h, &parts, &np)) {
        vg_free(snap.fields);
        return vg_error_set(err, VG_ENOMEM, "sealing table '%s'", t->name);
    }
    *segs = vg_calloc(np + 1, sizeof **segs);
    int rc = *segs ? VG_OK : vg_error_set(err, VG_ENOMEM, "sealing");
    for (size_t i = 0; i < np && rc == VG_OK; i++) {
        vg_merged_t m;
        rc = vg_merge_partition(&snap, parts[i], parts[i] + db->o.partition_ns, INT64_MIN,
                                INT64_MAX, &m, err);
        if (rc == VG_OK && m.n) {
            int had = 0;
            pthread_mutex_lock(&t->mu);
            for (uint32_t k = 0; k < t->nsegs && !had; k++)
                had = vg_seg_part_start(t->segs[k]->seg) == parts[i];
            pthread_mutex_unlock(&t->mu);
            rc = write_merged(db, t, &snap, &m, parts[i], lsn, &(*segs)[*nsegs], err);
            if (rc == VG_OK)
                (*nsegs)++;
            if (rc == VG_OK && had)
                rc = vg__table_mark_dirty(t, parts[i]);
        }
        if (rc == VG_OK)
            t->replaced += m.replaced;
        vg_merged_free(&m);
    }
    vg_free(parts);
    vg_free(snap.fields);
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
    for (uint32_t i = 0; i < n && rc == VG_OK; i++)
        rc = vg__table_add_seg(t, segs[i]);
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
    if (rc)
        db->failed = 1;
    pthread_mutex_unlock(&db->write_mu);
    for (uint32_t i = 0; i < nt && rc == VG_OK; i++) {
        if (!frozen[i])
            continue;
        vg_segref_t **segs = NULL;
        uint32_t nsegs = 0;
        rc = seal_head(db, db->tables[i], frozen[i], lsn, &segs, &nsegs, err);
        if (rc == VG_OK)
            rc = table_install(db->tables[i], frozen[i], segs, nsegs);
        else
            for (uint32_t k = 0; k < nsegs; k++)
                vg__segref_unref(segs[k]);
        vg_free(segs);
    }
    if (rc == VG_OK) {
        db->sealed_lsn = lsn;
        rc = vg_catalog_write(db, err);
    }
    if (rc == VG_OK)
        rc = vg_wal_truncate(db->wal, lsn, err);
    if (rc && !db->failed) {
        vg__db_log(db, "error", "sealing failed, turning read-only: %s", err ? err->msg : "");
        db->failed = 1;
    }
    vg_free(frozen);
    pthread_mutex_unlock(&db->meta_mu);
    return rc;
}

/* ------------------------------------------------------------ compaction */

static int compact_part(vg_db_t *db, vg_table_t *t, int64_t part, vg_error_t *err)
{
    vg_snap_t snap = {.t = t};
    pthread_mutex_lock(&t->mu);
    /* no head may hold rows of this partition, or clearing dirty would lie */
    int busy = 0;
    for (uint32_t i = 0; i < t->nfrozen; i++)
        busy |= t->frozen[i]->visible && vg__part_start(db, t->frozen[i]->ts_min) <= part &&
                vg__part_start(db, t->frozen[i]->ts_max) >= part;
    busy |= t->head->nrows && vg__part_start(db, t->head->ts_min) <= part &&
            vg__part_start(db, t->head->ts_max) >= part;
    snap.segs = vg_malloc((t->nsegs + 1) * sizeof *snap.segs);
    snap.fields = vg_malloc((t->nfields + 1) * sizeof *snap.fields);
    if (!busy && snap.segs && snap.fields) {
        for (uint32_t i = 0; i < t->nsegs; i++)
            if (vg_seg_part_start(t->segs[i]->seg) == part) {
                __atomic_add_fetch(&t->segs[i]->refs, 1, __ATOMIC_RELAXED);
                snap.segs[snap.nsegs++] = t->segs[i];
            }
        if (t->nfields)
            memcpy(snap.fields, t->fields, t->nfields * sizeof *snap.fields);
        snap.nfields = t->nfields;
    }
    pthread_mutex_unlock(&t->mu);
    int rc = (!snap.segs || !snap.fields) ? vg_error_set(err, VG_ENOMEM, "compacting") : VG_OK;
    if (busy || rc || snap.nsegs < 1) {
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
    if (rc == VG_OK && m.n)
        rc = write_merged(db, t, &snap, &m, part, m.lsn, &nr, err);
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
        if (nr)
            rc = vg__table_add_seg(t, nr);
        vg__table_clear_dirty(t, part);
        if (rc == VG_OK)
            rc = vg_catalog_write(db, err);
    }
    vg_merged_free(&m);
    vg__snap_release(&snap);
    return rc;
}

int vg__compact_all(vg_db_t *db, vg_error_t *err)
{
    pthread_mutex_lock(&db->meta_mu);
    int rc = VG_OK;
    for (uint32_t i = 0; i < db->ntables && rc == VG_OK; i++) {
        vg_table_t *t = db->tables[i];
        /* dirty partitions, and partitions with 8 or more segments */
        int64_t target;
        int found;
        do {
            found = 0;
            pthread_mutex_lock(&t->mu);
            if (t->ndirty) {
                target = t->dirty[0];
                found = 1;
            }
            for (uint32_t a = 0; a < t->nsegs && !found; a++) {
                int64_t p = vg_seg_part_start(t->segs[a]->seg);
                uint32_t cnt = 0;
                for (uint32_t b = 0; b < t->nsegs; b++)
                    cnt += vg_seg_part_start(t->segs[b]->seg) == p;
                if (cnt >= 8) {
                    target = p;
                    found = 1;
                }
            }
            pthread_mutex_unlock(&t->mu);
            if (found) {
                uint32_t before = t->ndirty + t->nsegs;
                rc = compact_part(db, t, target, err);
                if (t->ndirty + t->nsegs >= before)
                    break; /* could not make progress now (a head holds rows there) */
            }
        } while (found && rc == VG_OK);
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
    for (uint32_t i = 0; i < db->ntables; i++) {
        vg_table_t *t = db->tables[i];
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
