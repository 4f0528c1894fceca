/*
 * scan.c: chunks of a table for the query kernels (vg_scan.h).
 *
 * At open the snapshot is cut into chunks:
 *  - every block of a segment none of whose partitions is dirty: read in
 *    place, with its statistics;
 *  - every dirty partition, merged (duplicates folded) and materialised;
 *  - the rows still in memory, per clean partition, materialised.
 * Materialised sets are cut into chunks of VG_SCAN_CHUNK rows (a multiple of
 * 8, so a chunk's validity bits start on a byte). The scan never changes
 * after open, so threads may share it; each decodes through its own reader.
 */
#include <stdlib.h>
#include <string.h>

#include "colbuild.h"
#include "db_int.h"
#include "merge.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_scan.h"

#define VG_SCAN_CHUNK 8192u

typedef struct chunk {
    vg_scan_chunk_t info;
    uint32_t src;    /* segment (in snap.segs) or materialised set */
    uint32_t block;  /* segment block */
    size_t off;      /* first row in the materialised set */
    int mat;
} chunk_t;

struct vg_scan {
    vg_db_t *db;
    vg_snap_t snap;
    int64_t t0, t1;
    chunk_t *chunks;
    uint32_t nchunks, chunks_cap;
    vg_merged_t *mats;
    uint32_t nmats, mats_cap;
    uint32_t **seg_field; /* per segment: snapshot field -> segment column, or UINT32_MAX */
    vg_segref_t **merged_segs; /* segments read through merging, not block by block */
    uint32_t nmerged_segs;
};

struct vg_scan_reader {
    vg_scan_t *s;
    uint32_t chunk; /* whose data the buffers hold; UINT32_MAX: none */
    int64_t *ts;
    uint32_t *series;
    size_t cap;
    vg_colvec_t *cols; /* per field, decoded for the current chunk */
    uint8_t *have;
    uint8_t *nulls; /* an all-null validity bitmap of cap rows */
};

static int push_chunk(vg_scan_t *s, const chunk_t *c)
{
    if (s->nchunks == s->chunks_cap) {
        uint32_t ncap = s->chunks_cap ? s->chunks_cap * 2 : 64;
        chunk_t *nc = vg_realloc(s->chunks, ncap * sizeof *nc);
        if (!nc)
            return VG_ENOMEM;
        s->chunks = nc;
        s->chunks_cap = ncap;
    }
    s->chunks[s->nchunks++] = *c;
    return VG_OK;
}

/* Is any partition a segment touches dirty? */
static int seg_dirty(const vg_scan_t *s, const vg_seg_t *seg)
{
    const vg_db_t *db = s->db;
    for (int64_t p = vg__part_start(db, vg_seg_ts_min(seg)); p <= vg_seg_ts_max(seg);
         p += db->o.partition_ns)
        if (vg__snap_is_dirty(&s->snap, p))
            return 1;
    return 0;
}

static int add_blocks(vg_scan_t *s, uint32_t si)
{
    const vg_segref_t *r = s->snap.segs[si];
    for (uint32_t b = 0; b < vg_seg_nblocks(r->seg); b++) {
        vg_seg_blockinfo_t bi = vg_seg_block(r->seg, b);
        if (bi.ts_max < s->t0 || bi.ts_min >= s->t1 || bi.nrows == 0)
            continue;
        chunk_t c = {.src = si, .block = b};
        c.info = (vg_scan_chunk_t){bi.nrows, bi.ts_min, bi.ts_max, r->gseries[bi.series_lo],
                                   r->gseries[bi.series_hi], 1};
        if (bi.series_lo != bi.series_hi)
            c.info.series_hi = c.info.series_lo + 1; /* several: not equal */
        if (push_chunk(s, &c))
            return VG_ENOMEM;
    }
    return VG_OK;
}

/* Keep a materialised set and cut it into chunks. Takes m's contents. */
static int add_mat(vg_scan_t *s, vg_merged_t *m)
{
    if (m->n == 0) {
        vg_merged_free(m);
        return VG_OK;
    }
    if (s->nmats == s->mats_cap) {
        uint32_t ncap = s->mats_cap ? s->mats_cap * 2 : 8;
        vg_merged_t *nm = vg_realloc(s->mats, ncap * sizeof *nm);
        if (!nm) {
            vg_merged_free(m);
            return VG_ENOMEM;
        }
        s->mats = nm;
        s->mats_cap = ncap;
    }
    uint32_t mi = s->nmats++;
    s->mats[mi] = *m;
    memset(m, 0, sizeof *m);
    const vg_merged_t *mm = &s->mats[mi];
    for (size_t off = 0; off < mm->n; off += VG_SCAN_CHUNK) {
        uint32_t n = (uint32_t)(mm->n - off < VG_SCAN_CHUNK ? mm->n - off : VG_SCAN_CHUNK);
        chunk_t c = {.src = mi, .off = off, .mat = 1};
        c.info.nrows = n;
        c.info.ts_min = INT64_MAX;
        c.info.ts_max = INT64_MIN;
        c.info.series_lo = mm->series[off];
        c.info.series_hi = mm->series[off];
        for (uint32_t i = 0; i < n; i++) {
            int64_t t = mm->ts[off + i];
            c.info.ts_min = t < c.info.ts_min ? t : c.info.ts_min;
            c.info.ts_max = t > c.info.ts_max ? t : c.info.ts_max;
            if (mm->series[off + i] != c.info.series_lo)
                c.info.series_hi = c.info.series_lo + 1;
        }
        if (push_chunk(s, &c))
            return VG_ENOMEM;
    }
    return VG_OK;
}

/* The rows of one partition not served block by block: those of the heads
 * and of segments that touch a dirty partition, merged. */
static int add_part(vg_scan_t *s, int64_t part, vg_error_t *err)
{
    int64_t end = part + s->db->o.partition_ns;
    vg_snap_t view = s->snap;
    view.segs = s->merged_segs; /* still oldest first */
    view.nsegs = s->nmerged_segs;
    vg_merged_t m;
    int rc = vg_merge_partition(&view, part, end, s->t0, s->t1, &m, err);
    return rc ? rc : add_mat(s, &m) ? vg_error_set(err, VG_ENOMEM, "scanning") : VG_OK;
}

static int map_fields(vg_scan_t *s)
{
    s->seg_field = vg_calloc(s->snap.nsegs + 1, sizeof *s->seg_field);
    if (!s->seg_field)
        return VG_ENOMEM;
    for (uint32_t i = 0; i < s->snap.nsegs; i++) {
        const vg_seg_t *seg = s->snap.segs[i]->seg;
        uint32_t *map = s->seg_field[i] = vg_malloc((s->snap.nfields + 1) * sizeof *map);
        if (!map)
            return VG_ENOMEM;
        for (uint32_t f = 0; f < s->snap.nfields; f++) {
            int c = vg_seg_col_find(seg, s->snap.fields[f].name);
            map[f] = c >= 0 && vg_seg_col(seg, (uint32_t)c).type == s->snap.fields[f].type
                         ? (uint32_t)c
                         : UINT32_MAX;
        }
    }
    return VG_OK;
}

int vg_scan_open(vg_db_t *db, const char *table, int64_t t0, int64_t t1, vg_scan_t **out,
                 vg_error_t *err)
{
    vg_table_t *t = vg__table_find(db, table);
    if (!t)
        return vg_error_set(err, VG_ENOTFOUND, "no table '%s'", table);
    vg_scan_t *s = vg_calloc(1, sizeof *s);
    if (!s)
        return vg_error_set(err, VG_ENOMEM, "opening a scan");
    s->db = db;
    s->t0 = t0;
    s->t1 = t1;
    int rc = vg__snap_take(db, t, &s->snap, err);
    if (rc) {
        vg_free(s);
        return rc;
    }
    int64_t *parts = NULL;
    size_t np = 0;
    rc = map_fields(s) || vg__snap_parts(db, &s->snap, t0, t1, &parts, &np)
             ? vg_error_set(err, VG_ENOMEM, "opening a scan")
             : VG_OK;
    s->merged_segs = vg_malloc((s->snap.nsegs + 1) * sizeof *s->merged_segs);
    if (rc == VG_OK && !s->merged_segs)
        rc = vg_error_set(err, VG_ENOMEM, "opening a scan");
    for (uint32_t i = 0; i < s->snap.nsegs && rc == VG_OK; i++) {
        const vg_seg_t *seg = s->snap.segs[i]->seg;
        if (vg_seg_ts_max(seg) < t0 || vg_seg_ts_min(seg) >= t1)
            continue;
        if (seg_dirty(s, seg))
            s->merged_segs[s->nmerged_segs++] = s->snap.segs[i];
        else
            rc = add_blocks(s, i) ? vg_error_set(err, VG_ENOMEM, "opening a scan") : VG_OK;
    }
    for (size_t i = 0; i < np && rc == VG_OK; i++)
        rc = add_part(s, parts[i], err);
    vg_free(parts);
    if (rc) {
        vg_scan_close(s);
        return rc;
    }
    *out = s;
    return VG_OK;
}

void vg_scan_close(vg_scan_t *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nmats; i++)
        vg_merged_free(&s->mats[i]);
    vg_free(s->mats);
    for (uint32_t i = 0; s->seg_field && i < s->snap.nsegs; i++)
        vg_free(s->seg_field[i]);
    vg_free(s->seg_field);
    vg_free(s->merged_segs);
    vg_free(s->chunks);
    vg__snap_release(&s->snap);
    vg_free(s);
}

/* ------------------------------------------------------------ schema */

uint32_t vg_scan_nfields(const vg_scan_t *s)
{
    return s->snap.nfields;
}

const char *vg_scan_field_name(const vg_scan_t *s, uint32_t field)
{
    return field < s->snap.nfields ? s->snap.fields[field].name : NULL;
}

vg_type_t vg_scan_field_type(const vg_scan_t *s, uint32_t field)
{
    return field < s->snap.nfields ? s->snap.fields[field].type : VG_TYPE_NONE;
}

int vg_scan_field_find(const vg_scan_t *s, const char *name)
{
    for (uint32_t i = 0; i < s->snap.nfields; i++)
        if (strcmp(s->snap.fields[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint32_t vg_scan_ntags(const vg_scan_t *s)
{
    return s->snap.ntagkeys;
}

const char *vg_scan_tag_name(const vg_scan_t *s, uint32_t tag)
{
    return tag < s->snap.ntagkeys ? s->snap.tag_keys[tag] : NULL;
}

int vg_scan_tag_find(const vg_scan_t *s, const char *name)
{
    for (uint32_t i = 0; i < s->snap.ntagkeys; i++)
        if (strcmp(s->snap.tag_keys[i], name) == 0)
            return (int)i;
    return -1;
}

uint32_t vg_scan_nseries(const vg_scan_t *s)
{
    return s->snap.nseries;
}

const char *vg_scan_series_tag(const vg_scan_t *s, uint32_t series, uint32_t tag)
{
    if (series >= s->snap.nseries || tag >= s->snap.ntagkeys)
        return NULL;
    const vg_series_t *se = &s->snap.series[series];
    const char *key = s->snap.tag_keys[tag];
    for (uint32_t i = 0; i < se->ntags; i++)
        if (strcmp(se->tag_keys[i], key) == 0)
            return se->tag_vals[i];
    return NULL;
}

/* ------------------------------------------------------------ chunks */

uint32_t vg_scan_nchunks(const vg_scan_t *s)
{
    return s->nchunks;
}

vg_scan_chunk_t vg_scan_chunk(const vg_scan_t *s, uint32_t chunk)
{
    return s->chunks[chunk].info;
}

int vg_scan_chunk_series(const vg_scan_t *s, uint32_t chunk, const uint32_t **series,
                         uint32_t *n)
{
    const chunk_t *c = &s->chunks[chunk];
    if (c->mat)
        return VG_EINVAL;
    /* a block holds every row of the series strictly between its first and
     * last (rows are sorted by series), so its series are a contiguous run
     * of the segment's local ids */
    const vg_segref_t *r = s->snap.segs[c->src];
    vg_seg_blockinfo_t bi = vg_seg_block(r->seg, c->block);
    *series = r->gseries + bi.series_lo;
    *n = bi.series_hi - bi.series_lo + 1;
    return VG_OK;
}

int vg_scan_chunk_stats(const vg_scan_t *s, uint32_t chunk, uint32_t field, vg_scan_stats_t *out)
{
    const chunk_t *c = &s->chunks[chunk];
    if (c->mat || field >= s->snap.nfields || s->seg_field[c->src][field] == UINT32_MAX)
        return 0;
    const vg_seg_stats_t *st =
        vg_seg_block_stats(s->snap.segs[c->src]->seg, c->block, s->seg_field[c->src][field]);
    if (!st)
        return 0;
    memset(out, 0, sizeof *out);
    out->count = st->count;
    out->nulls = st->nulls;
    out->min = st->min;
    out->max = st->max;
    out->sum_overflow = st->sum_overflow;
    switch (s->snap.fields[field].type) {
    case VG_TYPE_FLOAT: out->sum_f = st->sum.f; break;
    case VG_TYPE_UINT: out->sum_u = st->sum.u; break;
    default: out->sum_i = st->sum.i; break;
    }
    return 1;
}

int vg_scan_chunk_sketch(const vg_scan_t *s, uint32_t chunk, uint32_t field, vg_sketch_t *dst,
                         vg_error_t *err)
{
    const chunk_t *c = &s->chunks[chunk];
    if (c->mat || field >= s->snap.nfields || s->seg_field[c->src][field] == UINT32_MAX)
        return VG_ENOTFOUND;
    vg_sketch_t sk;
    vg_sketch_init(&sk);
    int rc = vg_seg_block_sketch(s->snap.segs[c->src]->seg, c->block, s->seg_field[c->src][field],
                                 &sk, err);
    if (rc == VG_OK && vg_sketch_merge(dst, &sk) != VG_OK)
        rc = vg_error_set(err, VG_ENOMEM, "merging sketches");
    vg_sketch_reset(&sk);
    return rc;
}

/* ------------------------------------------------------------ reading */

int vg_scan_reader_create(vg_scan_t *s, vg_scan_reader_t **out, vg_error_t *err)
{
    vg_scan_reader_t *r = vg_calloc(1, sizeof *r);
    if (r) {
        r->s = s;
        r->chunk = UINT32_MAX;
        r->cols = vg_calloc(s->snap.nfields + 1, sizeof *r->cols);
        r->have = vg_calloc(s->snap.nfields + 1, 1);
    }
    if (!r || !r->cols || !r->have) {
        vg_scan_reader_free(r);
        return vg_error_set(err, VG_ENOMEM, "creating a scan reader");
    }
    *out = r;
    return VG_OK;
}

static void reader_drop(vg_scan_reader_t *r)
{
    for (uint32_t f = 0; f < r->s->snap.nfields; f++)
        if (r->have[f]) {
            vg_colvec_free(&r->cols[f]);
            r->have[f] = 0;
        }
    r->chunk = UINT32_MAX;
}

void vg_scan_reader_free(vg_scan_reader_t *r)
{
    if (!r)
        return;
    if (r->cols)
        reader_drop(r);
    vg_free(r->cols);
    vg_free(r->have);
    vg_free(r->ts);
    vg_free(r->series);
    vg_free(r->nulls);
    vg_free(r);
}

/* Make the reader's buffers hold chunk (rows for ts/series, decoded fields). */
static int reader_enter(vg_scan_reader_t *r, uint32_t chunk)
{
    if (r->chunk == chunk)
        return VG_OK;
    reader_drop(r);
    uint32_t n = r->s->chunks[chunk].info.nrows;
    if (n > r->cap) {
        vg_free(r->ts);
        vg_free(r->series);
        vg_free(r->nulls);
        r->ts = vg_malloc(n * sizeof *r->ts);
        r->series = vg_malloc(n * sizeof *r->series);
        r->nulls = vg_calloc((n + 7) / 8 + 1, 1);
        r->cap = (r->ts && r->series && r->nulls) ? n : 0;
        if (!r->cap)
            return VG_ENOMEM;
    }
    r->chunk = chunk;
    return VG_OK;
}

int vg_scan_read_time(vg_scan_reader_t *r, uint32_t chunk, const int64_t **ts,
                      const uint32_t **series, vg_error_t *err)
{
    const chunk_t *c = &r->s->chunks[chunk];
    if (c->mat) {
        const vg_merged_t *m = &r->s->mats[c->src];
        *ts = m->ts + c->off;
        *series = m->series + c->off;
        return VG_OK;
    }
    if (reader_enter(r, chunk))
        return vg_error_set(err, VG_ENOMEM, "reading a chunk");
    const vg_segref_t *sr = r->s->snap.segs[c->src];
    int rc = vg_seg_read_ts(sr->seg, c->block, r->ts, err);
    if (rc == VG_OK)
        rc = vg_seg_read_series(sr->seg, c->block, r->series, err);
    if (rc)
        return rc;
    uint32_t ns = vg_seg_nseries(sr->seg);
    for (uint32_t i = 0; i < c->info.nrows; i++) {
        if (r->series[i] >= ns)
            return vg_error_set(err, VG_ECORRUPT, "segment %s: block %u: series id out of range",
                                vg_seg_path(sr->seg), c->block);
        r->series[i] = sr->gseries[r->series[i]];
    }
    *ts = r->ts;
    *series = r->series;
    return VG_OK;
}

static void col_view(const vg_colvec_t *cv, size_t off, uint32_t n, vg_scan_col_t *out)
{
    out->type = cv->type;
    out->n = n;
    out->valid = cv->valid ? cv->valid + off / 8 : NULL;
    switch (cv->type) {
    case VG_TYPE_BOOL: out->v.b = cv->v.b + off; break;
    case VG_TYPE_STRING: break;
    default: out->v.u = cv->v.u + off; break;
    }
    out->sdata = cv->sdata;
    out->soffs = cv->soffs ? cv->soffs + off : NULL;
}

int vg_scan_read_col(vg_scan_reader_t *r, uint32_t chunk, uint32_t field, vg_scan_col_t *out,
                     vg_error_t *err)
{
    vg_scan_t *s = r->s;
    const chunk_t *c = &s->chunks[chunk];
    if (field >= s->snap.nfields)
        return vg_error_set(err, VG_EINVAL, "no field %u", field);
    memset(out, 0, sizeof *out);
    if (c->mat) {
        const vg_colvec_t *cv = &s->mats[c->src].cols[field];
        col_view(cv, c->off, c->info.nrows, out);
        out->type = s->snap.fields[field].type;
        return VG_OK;
    }
    if (reader_enter(r, chunk))
        return vg_error_set(err, VG_ENOMEM, "reading a chunk");
    uint32_t sc = s->seg_field[c->src][field];
    if (sc == UINT32_MAX) { /* not in this segment: all null */
        out->type = s->snap.fields[field].type;
        out->n = c->info.nrows;
        out->valid = r->nulls;
        return VG_OK;
    }
    if (!r->have[field]) {
        int rc = vg_seg_read_col(s->snap.segs[c->src]->seg, c->block, sc, &r->cols[field], err);
        if (rc)
            return rc;
        r->have[field] = 1;
    }
    col_view(&r->cols[field], 0, c->info.nrows, out);
    return VG_OK;
}
