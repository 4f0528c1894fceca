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
    if (!s->segs || !s->fields || t->nfrozen + 1 > 8) {
        pthread_mutex_unlock(&t->mu);
        vg_free(s->segs);
        vg_free(s->fields);
        return vg_error_set(err, VG_ENOMEM, "snapshot of table '%s'", t->name);
    }
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
    memset(s, 0, sizeof *s);
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
    const char **series_keys; /* per series: canonical key, for ordering */
    uint32_t *series_klen;
    uint32_t *series_rank;
    const char ***tag_keys, ***tag_vals;
    uint32_t *ntags;
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

static int add_part(vg_rows_t *r, int64_t p, size_t *cap)
{
    if (r->nparts == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        int64_t *np = vg_realloc(r->parts, ncap * sizeof *np);
        if (!np)
            return VG_ENOMEM;
        r->parts = np;
        *cap = ncap;
    }
    r->parts[r->nparts++] = p;
    return VG_OK;
}

/* Partition starts that hold data in [t0, t1), sorted, unique. */
static int list_parts(vg_rows_t *r)
{
    vg_db_t *db = r->db;
    size_t cap = 0;
    /* a segment written with another partition size may span several */
    for (uint32_t i = 0; i < r->snap.nsegs + r->snap.nheads; i++) {
        int64_t mn, mx;
        if (i < r->snap.nsegs) {
            mn = vg_seg_ts_min(r->snap.segs[i]->seg);
            mx = vg_seg_ts_max(r->snap.segs[i]->seg);
        } else {
            const vg_head_t *h = r->snap.heads[i - r->snap.nsegs];
            if (!r->snap.visible[i - r->snap.nsegs])
                continue;
            mn = h->ts_min;
            mx = h->ts_max;
        }
        if (mx < r->t0 || mn >= r->t1)
            continue;
        int64_t lo = mn > r->t0 ? mn : r->t0;
        int64_t hi = mx < r->t1 - 1 ? mx : r->t1 - 1;
        for (int64_t p = vg__part_start(db, lo); p <= hi; p += db->o.partition_ns)
            if (add_part(r, p, &cap))
                return VG_ENOMEM;
    }
    if (r->nparts)
        qsort(r->parts, r->nparts, sizeof *r->parts, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < r->nparts; i++)
        if (u == 0 || r->parts[u - 1] != r->parts[i])
            r->parts[u++] = r->parts[i];
    r->nparts = u;
    return VG_OK;
}

static int series_key_cmp(const void *a, const void *b, void *ctx)
{
    const vg_rows_t *r = ctx;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    uint32_t li = r->series_klen[i], lj = r->series_klen[j];
    int c = memcmp(r->series_keys[i], r->series_keys[j], li < lj ? li : lj);
    return c ? c : (li > lj) - (li < lj);
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

/* Copy what the reader needs of the table's series (the array may move). */
static int copy_series(vg_rows_t *r)
{
    vg_table_t *t = r->snap.t;
    uint32_t n = r->snap.nseries;
    r->series_keys = vg_calloc(n + 1, sizeof *r->series_keys);
    r->series_klen = vg_calloc(n + 1, sizeof *r->series_klen);
    r->tag_keys = vg_calloc(n + 1, sizeof *r->tag_keys);
    r->tag_vals = vg_calloc(n + 1, sizeof *r->tag_vals);
    r->ntags = vg_calloc(n + 1, sizeof *r->ntags);
    r->series_rank = vg_calloc(n + 1, sizeof *r->series_rank);
    uint32_t *ids = vg_calloc(n + 1, sizeof *ids);
    if (!r->series_keys || !r->tag_keys || !r->tag_vals || !r->ntags || !r->series_rank || !ids ||
        !r->series_klen) {
        vg_free(ids);
        return VG_ENOMEM;
    }
    pthread_mutex_lock(&t->mu);
    for (uint32_t i = 0; i < n; i++) {
        r->series_keys[i] = t->series[i].key;
        r->series_klen[i] = t->series[i].keylen;
        r->tag_keys[i] = t->series[i].tag_keys;
        r->tag_vals[i] = t->series[i].tag_vals;
        r->ntags[i] = t->series[i].ntags;
        ids[i] = i;
    }
    pthread_mutex_unlock(&t->mu);
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
    row->ntags = r->ntags[sid];
    row->tag_keys = r->tag_keys[sid];
    row->tag_vals = r->tag_vals[sid];
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
    vg_free(r->series_keys);
    vg_free(r->series_klen);
    vg_free(r->series_rank);
    vg_free(r->tag_keys);
    vg_free(r->tag_vals);
    vg_free(r->ntags);
    vg_free(r->field_order);
    vg_free(r->fk);
    vg_free(r->ft);
    vg_free(r->fv);
    vg__snap_release(&r->snap);
    vg_free(r);
}
