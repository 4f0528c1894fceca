/*
 * merge.c: gather, sort, fold (merge.h).
 *
 * Each source row becomes an entry (series, ts, rank, source, index); the
 * entries are sorted and runs of equal (series, ts) fold into one output
 * row, walking from the highest rank (newest source) down so the newest
 * value of each field wins. Segments rank by their WAL LSN, heads above
 * every segment, frozen heads below the active one.
 */
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "colbuild.h"
#include "vigil/vg_alloc.h"

typedef struct entry {
    uint32_t series;
    uint32_t src;
    int64_t ts;
    uint32_t idx; /* row within the source's gathered arrays */
} entry_t;

/* A source's rows in the partition, decoded into columns. */
typedef struct source {
    size_t n;
    int64_t *ts;
    uint32_t *series;
    vg_colvec_t *cols; /* snapshot field count; type NONE where the source lacks it */
} source_t;

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->src > y->src) - (x->src < y->src);
}

static void source_free(source_t *s, uint32_t ncols)
{
    vg_free(s->ts);
    vg_free(s->series);
    if (s->cols)
        for (uint32_t c = 0; c < ncols; c++)
            vg_colvec_free(&s->cols[c]);
    vg_free(s->cols);
}

/* Copy the rows of block b that fall in [lo, hi) into src from slot *k. */
static int gather_block(const vg_segref_t *r, uint32_t b, const vg_snap_t *s, int64_t lo,
                        int64_t hi, source_t *src, size_t *k, int64_t *ts, uint32_t *ser,
                        vg_error_t *err)
{
    const vg_seg_t *seg = r->seg;
    vg_seg_blockinfo_t bi = vg_seg_block(seg, b);
    if (bi.ts_max < lo || bi.ts_min >= hi || bi.nrows == 0)
        return VG_OK;
    int rc = vg_seg_read_ts(seg, b, ts, err);
    if (rc == VG_OK)
        rc = vg_seg_read_series(seg, b, ser, err);
    size_t k0 = *k, kk = k0;
    for (uint32_t i = 0; i < bi.nrows && rc == VG_OK; i++) {
        if (ts[i] < lo || ts[i] >= hi)
            continue;
        if (ser[i] >= vg_seg_nseries(seg))
            return vg_error_set(err, VG_ECORRUPT, "segment %s: block %u: series id out of range",
                                vg_seg_path(seg), b);
        src->ts[kk] = ts[i];
        src->series[kk] = r->gseries[ser[i]];
        kk++;
    }
    for (uint32_t c = 0; c < s->nfields && rc == VG_OK; c++) {
        int sc = vg_seg_col_find(seg, s->fields[c].name);
        if (sc < 0 || vg_seg_col(seg, (uint32_t)sc).type != s->fields[c].type)
            continue;
        vg_colvec_t cv = {0};
        rc = vg_seg_read_col(seg, b, (uint32_t)sc, &cv, err);
        size_t o = k0;
        for (uint32_t i = 0; i < bi.nrows && rc == VG_OK; i++) {
            if (ts[i] < lo || ts[i] >= hi)
                continue;
            vg_value_t v;
            if (vg_colvec_get(&cv, i, &v) && vg_colvec_set(&src->cols[c], o, &v) != VG_OK)
                rc = vg_error_set(err, VG_ENOMEM, "gathering rows");
            o++;
        }
        vg_colvec_free(&cv);
    }
    *k = kk;
    return rc;
}

static int gather_seg(const vg_segref_t *r, const vg_snap_t *s, int64_t lo, int64_t hi,
                      source_t *src, vg_error_t *err)
{
    const vg_seg_t *seg = r->seg;
    if (vg_seg_ts_max(seg) < lo || vg_seg_ts_min(seg) >= hi)
        return VG_OK;
    uint32_t maxrows = vg_seg_max_block_rows(seg);
    int64_t *ts = vg_malloc((maxrows + 1) * sizeof *ts);
    uint32_t *ser = vg_malloc((maxrows + 1) * sizeof *ser);
    int rc = (!ts || !ser) ? vg_error_set(err, VG_ENOMEM, "reading segment") : VG_OK;
    /* count first, so every column is allocated once */
    size_t total = 0;
    for (uint32_t b = 0; b < vg_seg_nblocks(seg) && rc == VG_OK; b++) {
        vg_seg_blockinfo_t bi = vg_seg_block(seg, b);
        if (bi.ts_max < lo || bi.ts_min >= hi)
            continue;
        if (bi.ts_min >= lo && bi.ts_max < hi) {
            total += bi.nrows;
            continue;
        }
        rc = vg_seg_read_ts(seg, b, ts, err);
        for (uint32_t i = 0; i < bi.nrows && rc == VG_OK; i++)
            total += ts[i] >= lo && ts[i] < hi;
    }
    if (rc == VG_OK && total) {
        src->ts = vg_malloc(total * sizeof *src->ts);
        src->series = vg_malloc(total * sizeof *src->series);
        if (!src->ts || !src->series)
            rc = vg_error_set(err, VG_ENOMEM, "reading segment");
        for (uint32_t c = 0; c < s->nfields && rc == VG_OK; c++)
            if (vg_colvec_alloc(&src->cols[c], s->fields[c].type, total) != VG_OK)
                rc = vg_error_set(err, VG_ENOMEM, "reading segment");
        size_t k = 0;
        for (uint32_t b = 0; b < vg_seg_nblocks(seg) && rc == VG_OK; b++)
            rc = gather_block(r, b, s, lo, hi, src, &k, ts, ser, err);
        for (uint32_t c = 0; c < s->nfields; c++)
            vg_colvec_finish(&src->cols[c]);
        src->n = k;
    }
    vg_free(ts);
    vg_free(ser);
    return rc;
}

static int gather_head(const vg_head_t *h, uint32_t visible, const vg_snap_t *s, int64_t lo,
                       int64_t hi, source_t *src, vg_error_t *err)
{
    size_t cnt = 0;
    for (uint32_t r = 0; r < visible; r++) {
        int64_t ts = vg__head_chunk(h, r)->ts[r % VG_HEAD_CHUNK];
        cnt += ts >= lo && ts < hi && vg__head_alive(h, r, visible);
    }
    if (!cnt)
        return VG_OK;
    uint32_t *rows = vg_malloc(cnt * sizeof *rows);
    src->ts = vg_malloc(cnt * sizeof *src->ts);
    src->series = vg_malloc(cnt * sizeof *src->series);
    if (!rows || !src->ts || !src->series) {
        vg_free(rows);
        return vg_error_set(err, VG_ENOMEM, "gathering head rows");
    }
    size_t k = 0;
    for (uint32_t r = 0; r < visible; r++) {
        const vg_hchunk_t *ch = vg__head_chunk(h, r);
        int64_t ts = ch->ts[r % VG_HEAD_CHUNK];
        if (ts < lo || ts >= hi || !vg__head_alive(h, r, visible))
            continue;
        rows[k] = r;
        src->ts[k] = ts;
        src->series[k] = ch->series[r % VG_HEAD_CHUNK];
        k++;
    }
    src->n = k;
    int rc = VG_OK;
    for (uint32_t c = 0; c < s->nfields && rc == VG_OK; c++)
        if (vg__head_col_gather(h, c, s->fields[c].type, rows, k, &src->cols[c]) != VG_OK)
            rc = vg_error_set(err, VG_ENOMEM, "gathering head rows");
    vg_free(rows);
    return rc;
}

static int fold(source_t *srcs, uint32_t nsrc, const vg_snap_t *s, vg_merged_t *out,
                vg_error_t *err)
{
    size_t total = 0;
    for (uint32_t i = 0; i < nsrc; i++)
        total += srcs[i].n;
    entry_t *e = vg_malloc((total ? total : 1) * sizeof *e);
    if (!e)
        return vg_error_set(err, VG_ENOMEM, "merging %zu rows", total);
    size_t k = 0;
    for (uint32_t i = 0; i < nsrc; i++)
        for (size_t j = 0; j < srcs[i].n; j++)
            e[k++] = (entry_t){srcs[i].series[j], i, srcs[i].ts[j], (uint32_t)j};
    qsort(e, total, sizeof *e, entry_cmp);
    size_t nout = 0;
    for (size_t i = 0; i < total; i++)
        nout += i == 0 || e[i].series != e[i - 1].series || e[i].ts != e[i - 1].ts;
    int rc = VG_OK;
    out->n = nout;
    out->ts = vg_malloc((nout ? nout : 1) * sizeof *out->ts);
    out->series = vg_malloc((nout ? nout : 1) * sizeof *out->series);
    out->ncols = s->nfields;
    out->cols = vg_calloc(s->nfields ? s->nfields : 1, sizeof *out->cols);
    if (!out->ts || !out->series || !out->cols)
        rc = vg_error_set(err, VG_ENOMEM, "merging rows");
    for (uint32_t c = 0; c < s->nfields && rc == VG_OK; c++)
        if (vg_colvec_alloc(&out->cols[c], s->fields[c].type, nout) != VG_OK)
            rc = vg_error_set(err, VG_ENOMEM, "merging rows");
    size_t o = 0;
    for (size_t i = 0; i < total && rc == VG_OK;) {
        size_t j = i + 1;
        while (j < total && e[j].series == e[i].series && e[j].ts == e[i].ts)
            j++;
        out->ts[o] = e[i].ts;
        out->series[o] = e[i].series;
        out->replaced += j - i - 1;
        for (uint32_t c = 0; c < s->nfields && rc == VG_OK; c++) {
            for (size_t m = j; m-- > i;) { /* newest first */
                const vg_colvec_t *cv = &srcs[e[m].src].cols[c];
                vg_value_t v;
                if (vg_colvec_get(cv, e[m].idx, &v)) {
                    if (vg_colvec_set(&out->cols[c], o, &v) != VG_OK)
                        rc = vg_error_set(err, VG_ENOMEM, "merging rows");
                    break;
                }
            }
        }
        o++;
        i = j;
    }
    for (uint32_t c = 0; c < s->nfields && rc == VG_OK; c++)
        vg_colvec_finish(&out->cols[c]);
    vg_free(e);
    return rc;
}

int vg_merge_partition(const vg_snap_t *s, int64_t part_start, int64_t part_end, int64_t t0,
                       int64_t t1, vg_merged_t *out, vg_error_t *err)
{
    memset(out, 0, sizeof *out);
    int64_t lo = t0 > part_start ? t0 : part_start, hi = t1 < part_end ? t1 : part_end;
    uint32_t nsrc = s->nsegs + s->nheads;
    source_t *srcs = vg_calloc(nsrc ? nsrc : 1, sizeof *srcs);
    if (!srcs)
        return vg_error_set(err, VG_ENOMEM, "merging");
    int rc = VG_OK;
    for (uint32_t i = 0; i < nsrc && rc == VG_OK; i++) {
        srcs[i].cols = vg_calloc(s->nfields ? s->nfields : 1, sizeof *srcs[i].cols);
        if (!srcs[i].cols)
            rc = vg_error_set(err, VG_ENOMEM, "merging");
    }
    /* segments are kept sorted by LSN in the snapshot: rank = position */
    for (uint32_t i = 0; i < s->nsegs && rc == VG_OK; i++) {
        rc = gather_seg(s->segs[i], s, lo, hi, &srcs[i], err);
        if (vg_seg_wal_lsn(s->segs[i]->seg) > out->lsn)
            out->lsn = vg_seg_wal_lsn(s->segs[i]->seg);
    }
    for (uint32_t i = 0; i < s->nheads && rc == VG_OK; i++)
        rc = gather_head(s->heads[i], s->visible[i], s, lo, hi, &srcs[s->nsegs + i], err);
    /* One source holds no duplicates (a head merged them as they came, a
     * segment was written without any): hand it over as it is. */
    uint32_t nonempty = 0, only = 0;
    for (uint32_t i = 0; i < nsrc; i++)
        if (srcs[i].n) {
            nonempty++;
            only = i;
        }
    if (rc == VG_OK && nonempty == 1) {
        out->n = srcs[only].n;
        out->ts = srcs[only].ts;
        out->series = srcs[only].series;
        out->cols = srcs[only].cols;
        out->ncols = s->nfields;
        srcs[only] = (source_t){0};
    } else if (rc == VG_OK) {
        rc = fold(srcs, nsrc, s, out, err);
    }
    for (uint32_t i = 0; i < nsrc; i++)
        source_free(&srcs[i], s->nfields);
    vg_free(srcs);
    if (rc)
        vg_merged_free(out);
    return rc;
}

void vg_merged_free(vg_merged_t *m)
{
    vg_free(m->ts);
    vg_free(m->series);
    for (uint32_t c = 0; m->cols && c < m->ncols; c++)
        vg_colvec_free(&m->cols[c]);
    vg_free(m->cols);
    memset(m, 0, sizeof *m);
}
