/*
 * rows.c: snapshots of a table, and the row reader behind `vigil dump`.
 *
 * The reader walks the partitions that hold data in [t0, t1), merges each
 * one (merge.c: duplicates folded, newest value wins) and returns its rows
 * ordered by time, then by the series' canonical tag text, so that two
 * databases holding the same points dump the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colbuild.h"
#include "db_int.h"
#include "merge.h"
#include "vigil/vg_alloc.h"

void vg__segref_unref(vg_segref_t *r)
{
    if (!r || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    char path[4200];
    int doomed = r->doomed;
    if (doomed)
        snprintf(path, sizeof path, "%s", vg_seg_path(r->seg));
    vg_seg_close(r->seg);
    if (doomed)
        vg_io_unlink(r->io, path, NULL);
    vg_free(r->file);
    vg_free(r->gseries);
    vg_free(r);
}

static int seg_lsn_cmp(const void *a, const void *b)
{
    uint64_t x = vg_seg_wal_lsn((*(vg_segref_t *const *)a)->seg);
    uint64_t y = vg_seg_wal_lsn((*(vg_segref_t *const *)b)->seg);
    return (x > y) - (x < y);
}

int vg__snap_take(vg_db_t *db, vg_table_t *t, vg_snap_t *s, vg_error_t *err)
{
    (void)db;
    memset(s, 0, sizeof *s);
    s->t = t;
    pthread_mutex_lock(&t->mu);
    s->segs = vg_malloc((t->nsegs + 1) * sizeof *s->segs);
    s->fields = vg_malloc((t->nfields + 1) * sizeof *s->fields);
    s->series = vg_malloc((t->nseries + 1) * sizeof *s->series);
    s->tag_keys = vg_malloc((t->ntagkeys + 1) * sizeof *s->tag_keys);
    s->dirty = vg_malloc((t->ndirty + 1) * sizeof *s->dirty);
    if (!s->segs || !s->fields || !s->series || !s->tag_keys || !s->dirty ||
        t->nfrozen + 1 > 8) {
        pthread_mutex_unlock(&t->mu);
        vg__snap_release(s); /* nothing is referenced yet: frees the copies */
        return vg_error_set(err, VG_ENOMEM, "snapshot of table '%s'", t->name);
    }
    if (t->nseries)
        memcpy(s->series, t->series, t->nseries * sizeof *s->series);
    for (uint32_t i = 0; i < t->ntagkeys; i++)
        s->tag_keys[i] = t->tag_keys[i];
    s->ntagkeys = t->ntagkeys;
    if (t->ndirty)
        memcpy(s->dirty, t->dirty, t->ndirty * sizeof *s->dirty);
    s->ndirty = t->ndirty;
    for (uint32_t i = 0; i < t->nsegs; i++) {
        __atomic_add_fetch(&t->segs[i]->refs, 1, __ATOMIC_RELAXED);
        s->segs[i] = t->segs[i];
    }
    s->nsegs = t->nsegs;
    for (uint32_t i = 0; i < t->nfrozen; i++) {
        vg__head_ref(t->frozen[i]);
        s->heads[s->nheads] = t->frozen[i];
        s->visible[s->nheads++] = __atomic_load_n(&t->frozen[i]->visible, __ATOMIC_ACQUIRE);
    }
    vg__head_ref(t->head);
    s->heads[s->nheads] = t->head;
    s->visible[s->nheads++] = __atomic_load_n(&t->head->visible, __ATOMIC_ACQUIRE);
    if (t->nfields)
        memcpy(s->fields, t->fields, t->nfields * sizeof *s->fields);
    s->nfields = t->nfields;
    s->nseries = t->nseries;
    pthread_mutex_unlock(&t->mu);
    qsort(s->segs, s->nsegs, sizeof *s->segs, seg_lsn_cmp);
    return VG_OK;
}

void vg__snap_release(vg_snap_t *s)
{
    for (uint32_t i = 0; i < s->nsegs; i++)
        vg__segref_unref(s->segs[i]);
    for (uint32_t i = 0; i < s->nheads; i++)
        vg__head_unref(s->heads[i]);
    vg_free(s->segs);
    vg_free(s->fields);
    vg_free(s->series);
    vg_free(s->tag_keys);
    vg_free(s->dirty);
    memset(s, 0, sizeof *s);
}

int vg__snap_is_dirty(const vg_snap_t *s, int64_t part)
{
    for (uint32_t i = 0; i < s->ndirty; i++)
        if (s->dirty[i] == part)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ rows reader */

struct vg_rows {
    vg_db_t *db;
    vg_snap_t snap;
    int64_t t0, t1;
    int64_t *parts;
    size_t nparts, part;
    vg_merged_t m;
    uint32_t *order; /* m rows in output order */
    size_t pos;
    uint32_t *series_rank;
    uint32_t *field_order; /* fields sorted by name */
    const char **fk;
    vg_type_t *ft;
    vg_value_t *fv;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int add_part(int64_t **parts, size_t *n, size_t *cap, int64_t p)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        int64_t *np = vg_realloc(*parts, ncap * sizeof *np);
        if (!np)
            return VG_ENOMEM;
        *parts = np;
        *cap = ncap;
    }
    (*parts)[(*n)++] = p;
    return VG_OK;
}

int vg__snap_parts(const vg_db_t *db, const vg_snap_t *s, int64_t t0, int64_t t1,
                   int64_t **parts, size_t *n)
{
    size_t cap = 0;
    *parts = NULL;
    *n = 0;
    /* a segment written with another partition size may span several */
    for (uint32_t i = 0; i < s->nsegs + s->nheads; i++) {
        int64_t mn, mx;
        if (i < s->nsegs) {
            mn = vg_seg_ts_min(s->segs[i]->seg);
            mx = vg_seg_ts_max(s->segs[i]->seg);
        } else {
            const vg_head_t *h = s->heads[i - s->nsegs];
            if (!s->visible[i - s->nsegs])
                continue;
            mn = h->ts_min;
            mx = h->ts_max;
        }
        if (mx < t0 || mn >= t1)
            continue;
        int64_t lo = mn > t0 ? mn : t0;
        int64_t hi = mx < t1 - 1 ? mx : t1 - 1;
        for (int64_t p = vg__part_start(db, lo); p <= hi; p += db->o.partition_ns)
            if (add_part(parts, n, &cap, p))
                return VG_ENOMEM;
    }
    if (*n)
        qsort(*parts, *n, sizeof **parts, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < *n; i++)
        if (u == 0 || (*parts)[u - 1] != (*parts)[i])
            (*parts)[u++] = (*parts)[i];
    *n = u;
    return VG_OK;
}

/* Partition starts that hold data in [t0, t1), sorted, unique. */
static int list_parts(vg_rows_t *r)
{
    return vg__snap_parts(r->db, &r->snap, r->t0, r->t1, &r->parts, &r->nparts);
}

static int series_key_cmp(const void *a, const void *b, void *ctx)
{
    const vg_rows_t *r = ctx;
    const vg_series_t *x = &r->snap.series[*(const uint32_t *)a];
    const vg_series_t *y = &r->snap.series[*(const uint32_t *)b];
    int c = memcmp(x->key, y->key, x->keylen < y->keylen ? x->keylen : y->keylen);
    return c ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

static int row_cmp(const void *a, const void *b, void *ctx)
{
    const vg_rows_t *sort_ctx = ctx;
    const vg_merged_t *m = &sort_ctx->m;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    if (m->ts[i] != m->ts[j])
        return m->ts[i] < m->ts[j] ? -1 : 1;
    uint32_t ri = sort_ctx->series_rank[m->series[i]], rj = sort_ctx->series_rank[m->series[j]];
    return (ri > rj) - (ri < rj);
}

static int field_name_cmp(const void *a, const void *b, void *ctx)
{
    const vg_rows_t *r = ctx;
    return strcmp(r->snap.fields[*(const uint32_t *)a].name,
                  r->snap.fields[*(const uint32_t *)b].name);
}

static void sorted(vg_rows_t *r, void *base, size_t n, size_t w,
                   int (*cmp)(const void *, const void *, void *))
{
    qsort_r(base, n, w, cmp, r);
}

/* The ordering of the snapshot's series by canonical tag text. */
static int copy_series(vg_rows_t *r)
{
    uint32_t n = r->snap.nseries;
    r->series_rank = vg_calloc(n + 1, sizeof *r->series_rank);
    uint32_t *ids = vg_calloc(n + 1, sizeof *ids);
    if (!r->series_rank || !ids) {
        vg_free(ids);
        return VG_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        ids[i] = i;
    sorted(r, ids, n, sizeof *ids, series_key_cmp);
    for (uint32_t i = 0; i < n; i++)
        r->series_rank[ids[i]] = i;
    vg_free(ids);
    return VG_OK;
}

int vg_rows_open(vg_db_t *db, const char *table, int64_t t0, int64_t t1, vg_rows_t **out,
                 vg_error_t *err)
{
    vg_table_t *t = vg__table_find(db, table);
    if (!t)
        return vg_error_set(err, VG_ENOTFOUND, "no table '%s' in %s", table, db->dir);
    vg_rows_t *r = vg_calloc(1, sizeof *r);
    if (!r)
        return vg_error_set(err, VG_ENOMEM, "opening rows");
    r->db = db;
    r->t0 = t0;
    r->t1 = t1;
    int rc = vg__snap_take(db, t, &r->snap, err);
    if (rc) {
        vg_free(r);
        return rc;
    }
    uint32_t nf = r->snap.nfields;
    r->field_order = vg_malloc((nf + 1) * sizeof *r->field_order);
    r->fk = vg_malloc((nf + 1) * sizeof *r->fk);
    r->ft = vg_malloc((nf + 1) * sizeof *r->ft);
    r->fv = vg_malloc((nf + 1) * sizeof *r->fv);
    if (!r->field_order || !r->fk || !r->ft || !r->fv || copy_series(r) || list_parts(r)) {
        vg_rows_close(r);
        return vg_error_set(err, VG_ENOMEM, "opening rows");
    }
    for (uint32_t i = 0; i < nf; i++)
        r->field_order[i] = i;
    sorted(r, r->field_order, nf, sizeof *r->field_order, field_name_cmp);
    *out = r;
    return VG_OK;
}

static int next_part(vg_rows_t *r, vg_error_t *err)
{
    vg_merged_free(&r->m);
    vg_free(r->order);
    r->order = NULL;
    r->pos = 0;
    int64_t p = r->parts[r->part++];
    int rc = vg_merge_partition(&r->snap, p, p + r->db->o.partition_ns, r->t0, r->t1, &r->m, err);
    if (rc)
        return rc;
    r->order = vg_malloc((r->m.n + 1) * sizeof *r->order);
    if (!r->order)
        return vg_error_set(err, VG_ENOMEM, "ordering rows");
    for (size_t i = 0; i < r->m.n; i++)
        r->order[i] = (uint32_t)i;
    sorted(r, r->order, r->m.n, sizeof *r->order, row_cmp);
    return VG_OK;
}

int vg_rows_next(vg_rows_t *r, vg_row_t *row, vg_error_t *err)
{
    while (r->pos >= r->m.n) {
        if (r->part >= r->nparts)
            return 0;
        int rc = next_part(r, err);
        if (rc)
            return rc;
    }
    uint32_t i = r->order[r->pos++];
    uint32_t sid = r->m.series[i];
    row->ts = r->m.ts[i];
    row->ntags = r->snap.series[sid].ntags;
    row->tag_keys = r->snap.series[sid].tag_keys;
    row->tag_vals = r->snap.series[sid].tag_vals;
    size_t nf = 0;
    for (uint32_t k = 0; k < r->m.ncols; k++) {
        uint32_t c = r->field_order[k];
        if (!vg_colvec_get(&r->m.cols[c], i, &r->fv[nf]))
            continue;
        r->fk[nf] = r->snap.fields[c].name;
        r->ft[nf] = r->snap.fields[c].type;
        nf++;
    }
    row->nfields = nf;
    row->field_keys = r->fk;
    row->field_types = r->ft;
    row->field_vals = r->fv;
    return 1;
}

void vg_rows_close(vg_rows_t *r)
{
    if (!r)
        return;
    vg_merged_free(&r->m);
    vg_free(r->order);
    vg_free(r->parts);
    vg_free(r->series_rank);
    vg_free(r->field_order);
    vg_free(r->fk);
    vg_free(r->ft);
    vg_free(r->fv);
    vg__snap_release(&r->snap);
    vg_free(r);
}
