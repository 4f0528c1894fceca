/*
 * segbuild.c: rows to segment (segbuild.h).
 *
 * A segment's local series ids follow the canonical tag order, so rows of
 * one model or route sit together and block statistics can answer a query
 * grouped by tags. Rows are ordered by a stable counting sort on the local
 * id; a series' rows arrive mostly in time order, and only runs that do
 * not are sorted by timestamp.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colbuild.h"
#include "segbuild.h"
#include "vigil/vg_alloc.h"

typedef struct order {
    const vg_series_t *series; /* copy of the table's series */
    uint32_t *local;           /* table id -> local id (UINT32_MAX: absent) */
    uint32_t *ids;             /* local id -> table id */
    uint32_t n;
} order_t;

static int key_cmp(const void *a, const void *b, void *ctx)
{
    const order_t *o = ctx;
    const vg_series_t *x = &o->series[*(const uint32_t *)a], *y = &o->series[*(const uint32_t *)b];
    uint32_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

static int ts_cmp(const void *a, const void *b, void *ctx)
{
    const int64_t *ts = ctx;
    int64_t x = ts[*(const uint32_t *)a], y = ts[*(const uint32_t *)b];
    return (x > y) - (x < y);
}

/* Local ids for the series present, in canonical order. */
static void assign_local(order_t *o, const vg_rowset_t *rs, uint32_t nser)
{
    memset(o->local, 0xff, (nser + 1) * sizeof *o->local);
    for (size_t i = 0; i < rs->n; i++)
        if (o->local[rs->series[i]] == UINT32_MAX) {
            o->local[rs->series[i]] = 0;
            o->ids[o->n++] = rs->series[i];
        }
    qsort_r(o->ids, o->n, sizeof *o->ids, key_cmp, o);
    for (uint32_t i = 0; i < o->n; i++)
        o->local[o->ids[i]] = i;
}

/* perm = rows ordered by (local id, ts). */
static int order_rows(const order_t *o, const vg_rowset_t *rs, uint32_t *perm)
{
    uint32_t *end = vg_calloc((size_t)o->n + 1, sizeof *end);
    if (!end)
        return VG_ENOMEM;
    for (size_t i = 0; i < rs->n; i++)
        end[o->local[rs->series[i]] + 1]++;
    for (uint32_t s = 0; s < o->n; s++)
        end[s + 1] += end[s];
    for (size_t i = 0; i < rs->n; i++)
        perm[end[o->local[rs->series[i]]]++] = (uint32_t)i;
    /* end[s] is now the end of run s */
    for (uint32_t s = 0, from = 0; s < o->n; from = end[s++]) {
        int sorted = 1;
        for (uint32_t k = from + 1; k < end[s] && sorted; k++)
            sorted = rs->ts[perm[k - 1]] < rs->ts[perm[k]];
        if (!sorted)
            qsort_r(perm + from, end[s] - from, sizeof *perm, ts_cmp, (void *)rs->ts);
    }
    vg_free(end);
    return VG_OK;
}

/* The segment's series dictionary: each local series' tags with lengths.
 * Ownership: *klens (one allocation behind every entry) is the caller's. */
static int series_tags(const order_t *o, vg_seg_series_t *st, uint32_t **klens)
{
    size_t nlen = 1;
    for (uint32_t i = 0; i < o->n; i++)
        nlen += 2 * (size_t)o->series[o->ids[i]].ntags;
    uint32_t *kl = *klens = vg_malloc(nlen * sizeof *kl);
    if (!kl)
        return VG_ENOMEM;
    for (uint32_t i = 0; i < o->n; i++) {
        const vg_series_t *s = &o->series[o->ids[i]];
        uint32_t *vl = kl + s->ntags;
        for (uint32_t k = 0; k < s->ntags; k++) {
            kl[k] = (uint32_t)strlen(s->tag_keys[k]);
            vl[k] = (uint32_t)strlen(s->tag_vals[k]);
        }
        st[i] = (vg_seg_series_t){s->ntags, s->tag_keys, kl, s->tag_vals, vl};
        kl = vl + s->ntags;
    }
    return VG_OK;
}

static int colvec_any(const vg_colvec_t *c)
{
    for (size_t b = 0; b < (c->n + 7) / 8; b++)
        if (c->valid[b])
            return 1;
    return 0;
}

/* Ask the provider for every column; keep those with a value. */
static int build_cols(const vg_rowset_t *rs, const uint32_t *perm, vg_colvec_t *cols,
                      vg_seg_col_in_t *cin, uint32_t *ncols)
{
    *ncols = 0;
    for (uint32_t c = 0; c < rs->nfields; c++) {
        vg_colvec_t *cv = &cols[*ncols];
        if (rs->col(rs->ctx, c, rs->fields[c].type, perm, rs->n, cv) != VG_OK) {
            vg_colvec_free(cv); /* a provider may fail half-way: not counted in *ncols */
            return VG_ENOMEM;
        }
        if (!colvec_any(cv)) { /* a field with no value in this partition is not stored */
            vg_colvec_free(cv);
            continue;
        }
        cin[(*ncols)++] = (vg_seg_col_in_t){rs->fields[c].name, cv};
    }
    return VG_OK;
}

int vg__segbuild(vg_db_t *db, vg_table_t *t, const vg_rowset_t *rs, int64_t part, uint64_t lsn,
                 vg_segref_t **out, vg_error_t *err)
{
    size_t n = rs->n;
    pthread_mutex_lock(&t->mu);
    uint32_t nser = t->nseries;
    vg_series_t *ser = vg_malloc((nser + 1) * sizeof *ser);
    if (ser && nser)
        memcpy(ser, t->series, nser * sizeof *ser);
    pthread_mutex_unlock(&t->mu);
    order_t o = {.series = ser};
    o.local = vg_malloc((nser + 1) * sizeof *o.local);
    o.ids = vg_malloc((nser + 1) * sizeof *o.ids);
    uint32_t *perm = vg_malloc((n + 1) * sizeof *perm), *ls = vg_malloc((n + 1) * sizeof *ls);
    int64_t *ts = vg_malloc((n + 1) * sizeof *ts);
    vg_colvec_t *cols = vg_calloc(rs->nfields + 1, sizeof *cols);
    vg_seg_col_in_t *cin = vg_calloc(rs->nfields + 1, sizeof *cin);
    vg_seg_series_t *st = vg_calloc(nser + 1, sizeof *st);
    uint32_t *klens = NULL, ncols = 0;
    int rc = VG_OK;
    if (!ser || !o.local || !o.ids || !perm || !ls || !ts || !cols || !cin || !st) {
        rc = vg_error_set(err, VG_ENOMEM, "sealing table '%s'", t->name);
        goto out;
    }
    assign_local(&o, rs, nser);
    if (order_rows(&o, rs, perm) || series_tags(&o, st, &klens) ||
        build_cols(rs, perm, cols, cin, &ncols)) {
        rc = vg_error_set(err, VG_ENOMEM, "sealing table '%s'", t->name);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ts[i] = rs->ts[perm[i]];
        ls[i] = o.local[rs->series[perm[i]]];
    }
    vg_seg_input_t in = {.table = t->name, .part_start = part, .part_end = part + db->o.partition_ns,
                         .wal_lsn = lsn, .nrows = n, .ts = ts, .series = ls, .nseries = o.n,
                         .series_tags = st, .ncols = ncols, .cols = cin};
    char name[64];
    uint64_t seq = __atomic_add_fetch(&db->seg_seq, 1, __ATOMIC_RELAXED);
    snprintf(name, sizeof name, "%016" PRIx64 ".seg", seq);
    rc = vg_seg_write(db->io, db->seg_dir, name, &in, NULL, NULL, err);
    if (rc == VG_OK)
        rc = vg__segref_open(db, t, name, o.ids, o.n, out, err);
out:
    for (uint32_t c = 0; cols && c < ncols; c++)
        vg_colvec_free(&cols[c]);
    vg_free(cols);
    vg_free(cin);
    vg_free(st);
    vg_free(klens);
    vg_free(perm);
    vg_free(ts);
    vg_free(ls);
    vg_free(o.local);
    vg_free(o.ids);
    vg_free(ser);
    return rc;
}

int vg__colsrc_merged(void *ctx, uint32_t col, vg_type_t type, const uint32_t *perm, size_t n,
                      vg_colvec_t *out)
{
    vg_merged_t *m = ctx;
    (void)type;
    int rc = vg_colvec_permute(out, &m->cols[col], perm, n);
    vg_colvec_free(&m->cols[col]);
    m->cols[col].type = VG_TYPE_NONE;
    return rc;
}

int vg__colsrc_head(void *ctx, uint32_t col, vg_type_t type, const uint32_t *perm, size_t n,
                    vg_colvec_t *out)
{
    vg_headrows_t *hr = ctx;
    if (!hr->ordered) {
        hr->ordered = vg_malloc((n + 1) * sizeof *hr->ordered);
        if (!hr->ordered)
            return VG_ENOMEM;
        for (size_t k = 0; k < n; k++)
            hr->ordered[k] = hr->rows[perm[k]];
    }
    return vg__head_col_gather(hr->h, col, type, hr->ordered, n, out);
}
