/*
 * segment_write.c: writing and publishing immutable column segments
 * (vg_seg_write in segment.h; the byte layout is format.h and
 * docs/format.md; segment.c opens and reads them).
 *
 * Writing streams the file through the I/O layer in pieces of about
 * FLUSH_BYTES: the header, then block after block of chunks, then the meta
 * region (built from small tables kept in memory) and the footer. Per-block
 * work reuses scratch arrays sized max_block_rows, so the writer allocates
 * per block only what the sketch needs, never per row.
 *
 * Blocks are cut at series boundaries (block_end); each field chunk carries
 * its stats and, for numeric columns, a sketch. The file becomes visible
 * only by rename after an fsync (publish), so a crash leaves either no
 * segment or a complete one.
 */
#include "segment.h"

#include <fcntl.h>
#include <lz4.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "crc32c.h"
#include "encode.h"
#include "format.h"
#include "segment_int.h"
#include "vigil/vg_alloc.h"

#define DEFAULT_MIN_BLOCK_ROWS 1024u
#define DEFAULT_MAX_BLOCK_ROWS 8192u
#define FLUSH_BYTES            ((size_t)4 << 20)

typedef struct seg_writer {
    vg_io_t *io;
    const vg_seg_input_t *in;
    const char *tmp; /* for messages */
    int fd;
    int accel;
    uint64_t flushed; /* file bytes already written; out starts there */
    vg_buf_t out;     /* pending file bytes */
    vg_buf_t raw;     /* one chunk, encoded, before LZ4 */
    vg_buf_t series_tab, tag_tab, col_tab, block_tab, chunk_tab, heap;
    uint8_t *bits;     /* the block's validity bitmap */
    void *vals;        /* the block's present values, 8 bytes each */
    const char **sptrs; /* STRING: present values */
    uint32_t *slens;
    vg_sketch_t sk;
    int64_t ts_min, ts_max;
} seg_writer_t;

static int check_rows(const vg_seg_input_t *in, vg_error_t *err)
{
    for (size_t i = 0; i < in->nrows; i++) {
        int64_t t = in->ts[i];
        uint32_t s = in->series[i];
        if (s >= in->nseries)
            return vg_error_set(err, VG_EINVAL, "segment input row %zu: series %u >= nseries %u",
                                i, s, in->nseries);
        if (t < in->part_start || t >= in->part_end)
            return vg_error_set(err, VG_EINVAL, "segment input row %zu: ts %lld outside partition",
                                i, (long long)t);
        if (i > 0 && (s < in->series[i - 1] || (s == in->series[i - 1] && t <= in->ts[i - 1])))
            return vg_error_set(err, VG_EINVAL,
                                "segment input row %zu: rows not sorted by (series, ts) or duplicate",
                                i);
    }
    return 0;
}

static int check_col(const vg_seg_input_t *in, uint32_t c, vg_error_t *err)
{
    const vg_seg_col_in_t *col = &in->cols[c];
    if (!col->name || !col->name[0] || !col->vals)
        return vg_error_set(err, VG_EINVAL, "segment input column %u: no name or values", c);
    const vg_colvec_t *v = col->vals;
    if (!vg__seg_is_field_type(v->type) || v->n != in->nrows)
        return vg_error_set(err, VG_EINVAL, "segment input column %s: bad type or length",
                            col->name);
    for (uint32_t d = 0; d < c; d++)
        if (strcmp(in->cols[d].name, col->name) == 0)
            return vg_error_set(err, VG_EINVAL, "segment input column %s: duplicate", col->name);
    if (in->nrows == 0)
        return 0;
    if (v->type == VG_TYPE_STRING) {
        if (!v->soffs || !v->sdata)
            return vg_error_set(err, VG_EINVAL, "segment input column %s: no strings", col->name);
        for (size_t i = 0; i < in->nrows; i++)
            if (v->soffs[i + 1] < v->soffs[i])
                return vg_error_set(err, VG_EINVAL,
                                    "segment input column %s: string offsets decrease at row %zu",
                                    col->name, i);
    } else if (!v->v.u) {
        return vg_error_set(err, VG_EINVAL, "segment input column %s: no values", col->name);
    }
    return 0;
}

static int check_input(const vg_seg_input_t *in, const vg_seg_write_opts_t *o, vg_error_t *err)
{
    if (!in || !in->table || (in->nrows && (!in->ts || !in->series)) ||
        (in->nseries && !in->series_tags) || (in->ncols && !in->cols))
        return vg_error_set(err, VG_EINVAL, "segment input: missing table, rows or columns");
    if (in->part_start >= in->part_end)
        return vg_error_set(err, VG_EINVAL, "segment input: empty partition");
    if (o->min_block_rows < 1 || o->max_block_rows < o->min_block_rows ||
        o->max_block_rows > VG_SEG_MAX_BLOCK_ROWS)
        return vg_error_set(err, VG_EINVAL, "segment options: block rows min %u max %u",
                            o->min_block_rows, o->max_block_rows);
    int rc = check_rows(in, err);
    for (uint32_t c = 0; rc == 0 && c < in->ncols; c++)
        rc = check_col(in, c, err);
    return rc;
}

/* Append bytes and a NUL to the heap; *off is where they start. */
static int heap_put(seg_writer_t *w, const void *p, size_t len, uint32_t *off, vg_error_t *err)
{
    if (w->heap.len + len + 1 > UINT32_MAX)
        return vg_error_set(err, VG_ELIMIT, "segment %s: names and tags exceed 4 GiB", w->tmp);
    *off = (uint32_t)w->heap.len;
    if (vg_buf_reserve(&w->heap, len + 1) != 0)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", w->tmp);
    if (len)
        vg_buf_put(&w->heap, p, len);
    vg_buf_put_u8(&w->heap, 0);
    return 0;
}

static int nomem(seg_writer_t *w, vg_error_t *err)
{
    return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", w->tmp);
}

/* The series, tag and column tables and the heap they point into. */
static int build_dictionary(seg_writer_t *w, vg_error_t *err)
{
    const vg_seg_input_t *in = w->in;
    uint32_t ntags = 0;
    for (uint32_t i = 0; i < in->nseries; i++) {
        const vg_seg_series_t *s = &in->series_tags[i];
        vg_fmt_seg_series_t fs = {.first_tag = ntags, .ntags = s->ntags};
        if ((uint64_t)ntags + s->ntags > UINT32_MAX)
            return vg_error_set(err, VG_ELIMIT, "segment %s: too many tags", w->tmp);
        ntags += s->ntags;
        if (vg_buf_append(&w->series_tab, &fs, sizeof fs) != 0)
            return nomem(w, err);
        for (uint32_t t = 0; t < s->ntags; t++) {
            vg_fmt_seg_tag_t ft = {.key_len = s->klens[t], .val_len = s->vlens[t]};
            int rc = heap_put(w, s->keys[t], s->klens[t], &ft.key_off, err);
            if (rc == 0)
                rc = heap_put(w, s->vals[t], s->vlens[t], &ft.val_off, err);
            if (rc != 0)
                return rc;
            if (vg_buf_append(&w->tag_tab, &ft, sizeof ft) != 0)
                return nomem(w, err);
        }
    }
    for (uint32_t c = 0; c < in->ncols; c++) {
        const char *name = in->cols[c].name;
        vg_fmt_seg_col_t fc = {.name_len = (uint32_t)strlen(name),
                               .type = (uint8_t)in->cols[c].vals->type};
        int rc = heap_put(w, name, fc.name_len, &fc.name_off, err);
        if (rc != 0)
            return rc;
        if (vg_buf_append(&w->col_tab, &fc, sizeof fc) != 0)
            return nomem(w, err);
    }
    return 0;
}

static int flush_out(seg_writer_t *w, vg_error_t *err)
{
    if (w->out.len == 0)
        return 0;
    int rc = vg_io_pwrite(w->io, w->fd, w->out.p, w->out.len, (off_t)w->flushed, err);
    if (rc != 0)
        return rc;
    w->flushed += w->out.len;
    w->out.len = 0;
    return 0;
}

/* Move w->raw into the file, LZ4-compressed when that makes it smaller. */
static int put_chunk(seg_writer_t *w, uint8_t enc, vg_fmt_seg_chunk_t *ch, vg_error_t *err)
{
    size_t rlen = w->raw.len;
    if (rlen > UINT32_MAX)
        return vg_error_set(err, VG_ELIMIT, "segment %s: a block column exceeds 4 GiB", w->tmp);
    int try_lz4 = rlen > 0 && rlen <= LZ4_MAX_INPUT_SIZE;
    size_t room = try_lz4 ? (size_t)LZ4_compressBound((int)rlen) : rlen;
    if (vg_buf_reserve(&w->out, room > rlen ? room : rlen) != 0)
        return nomem(w, err);
    uint8_t *dst = w->out.p + w->out.len;
    int clen = 0;
    if (try_lz4)
        clen = LZ4_compress_fast((const char *)w->raw.p, (char *)dst, (int)rlen, (int)room,
                                 w->accel);
    ch->flags |= VG_FMT_CHUNK_PRESENT;
    if (clen > 0 && (size_t)clen < rlen) {
        ch->flags |= VG_FMT_CHUNK_LZ4;
    } else {
        memcpy(dst, w->raw.p, rlen);
        clen = (int)rlen;
    }
    ch->enc = enc;
    ch->off = w->flushed + w->out.len;
    ch->clen = (uint32_t)clen;
    ch->rlen = (uint32_t)rlen;
    ch->crc = vg_crc32c(0, dst, (size_t)clen);
    w->out.len += (size_t)clen;
    return 0;
}

static int enc_failed(seg_writer_t *w, int rc, const char *what, vg_error_t *err)
{
    return vg_error_set(err, rc, "segment %s: encoding %s: %s", w->tmp, what, vg_strerror(rc));
}

/* Copy bits [r0, r0 + n) of src into dst from bit 0; returns how many are set. */
static size_t extract_bits(const uint8_t *src, size_t src_bits, size_t r0, size_t n, uint8_t *dst)
{
    size_t nbytes = (n + 7) >> 3, src_bytes = (src_bits + 7) >> 3;
    size_t b = r0 >> 3;
    unsigned sh = (unsigned)(r0 & 7);
    for (size_t j = 0; j < nbytes; j++) {
        unsigned lo = src[b + j];
        unsigned hi = (sh && b + j + 1 < src_bytes) ? src[b + j + 1] : 0;
        dst[j] = (uint8_t)((lo >> sh) | (hi << (8 - sh)));
    }
    if (n & 7)
        dst[nbytes - 1] &= (uint8_t)((1u << (n & 7)) - 1);
    return vg__seg_popcount(dst, n);
}

/* Gather the present values of elem-byte slots; branch-free (dst may be
 * written one slot past the last present value, which is < n). */
static const void *gather(const uint8_t *src, const uint8_t *bits, size_t n, size_t elem,
                          uint8_t *dst)
{
    if (!bits)
        return src;
    size_t k = 0;
    if (elem == 8) {
        for (size_t i = 0; i < n; i++) {
            memcpy(dst + k * 8, src + i * 8, 8);
            k += (bits[i >> 3] >> (i & 7)) & 1;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            dst[k] = src[i];
            k += (bits[i >> 3] >> (i & 7)) & 1;
        }
    }
    return dst;
}

static void put_f64(uint64_t *dst, double v)
{
    memcpy(dst, &v, 8);
}

/* NaN never reaches min/max/sum: the parser rejects it, but a stray one
 * must not poison the block's stats. */
static void stats_f64(const double *v, size_t n, vg_fmt_seg_chunk_t *ch)
{
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (x != x)
            continue;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
        sum += x;
        seen++;
    }
    if (seen == 0)
        mn = mx = 0;
    put_f64(&ch->min, mn);
    put_f64(&ch->max, mx);
    put_f64(&ch->sum, sum);
}

static void stats_i64(const int64_t *v, size_t n, vg_fmt_seg_chunk_t *ch)
{
    int64_t mn = INT64_MAX, mx = INT64_MIN, sum = 0;
    int ovf = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t x = v[i];
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
        ovf |= __builtin_add_overflow(sum, x, &sum);
    }
    ch->min = (uint64_t)mn;
    ch->max = (uint64_t)mx;
    ch->sum = (uint64_t)sum;
    ch->flags |= ovf ? VG_FMT_CHUNK_SUM_OVERFLOW : 0;
}

static void stats_u64(const uint64_t *v, size_t n, vg_fmt_seg_chunk_t *ch)
{
    uint64_t mn = UINT64_MAX, mx = 0, sum = 0;
    int ovf = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
        ovf |= __builtin_add_overflow(sum, x, &sum);
    }
    ch->min = mn;
    ch->max = mx;
    ch->sum = sum;
    ch->flags |= ovf ? VG_FMT_CHUNK_SUM_OVERFLOW : 0;
}

static void stats_bool(const uint8_t *v, size_t n, vg_fmt_seg_chunk_t *ch)
{
    uint64_t trues = 0;
    for (size_t i = 0; i < n; i++)
        trues += v[i] != 0;
    ch->min = trues == n ? 1 : 0;
    ch->max = trues > 0 ? 1 : 0;
    ch->sum = trues;
}

static int sketch_values(seg_writer_t *w, vg_type_t t, const void *vals, size_t n)
{
    int rc = 0;
    vg_sketch_reset(&w->sk);
    vg_sketch_init(&w->sk);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double x;
        if (t == VG_TYPE_FLOAT)
            x = ((const double *)vals)[i];
        else if (t == VG_TYPE_INT)
            x = (double)((const int64_t *)vals)[i];
        else
            x = (double)((const uint64_t *)vals)[i];
        rc = vg_sketch_add(&w->sk, x);
    }
    return rc;
}

/* Stats, then the encoding of the present values, appended to w->raw. */
static int encode_values(seg_writer_t *w, const vg_colvec_t *c, size_t r0, size_t n,
                         const uint8_t *bits, size_t count, vg_fmt_seg_chunk_t *ch)
{
    uint8_t *dst = w->vals;
    switch (c->type) {
    case VG_TYPE_FLOAT: {
        const double *v = gather((const uint8_t *)(c->v.f + r0), bits, n, 8, dst);
        stats_f64(v, count, ch);
        return vg_enc_f64(v, count, &w->raw);
    }
    case VG_TYPE_INT: {
        const int64_t *v = gather((const uint8_t *)(c->v.i + r0), bits, n, 8, dst);
        stats_i64(v, count, ch);
        return vg_enc_i64(v, count, &w->raw);
    }
    case VG_TYPE_UINT: {
        const uint64_t *v = gather((const uint8_t *)(c->v.u + r0), bits, n, 8, dst);
        stats_u64(v, count, ch);
        return vg_enc_u64(v, count, &w->raw);
    }
    case VG_TYPE_BOOL: {
        const uint8_t *v = gather(c->v.b + r0, bits, n, 1, dst);
        stats_bool(v, count, ch);
        return vg_enc_bool(v, count, &w->raw);
    }
    default: {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            size_t r = r0 + i;
            if (bits && !((bits[i >> 3] >> (i & 7)) & 1))
                continue;
            w->sptrs[k] = c->sdata + c->soffs[r];
            w->slens[k++] = c->soffs[r + 1] - c->soffs[r];
        }
        return vg_enc_str(w->sptrs, w->slens, count, &w->raw);
    }
    }
}

/* The present values as the sketch wants them, after encode_values. */
static const void *present_values(seg_writer_t *w, const vg_colvec_t *c, size_t r0,
                                  const uint8_t *bits)
{
    if (bits)
        return w->vals;
    return c->type == VG_TYPE_FLOAT ? (const void *)(c->v.f + r0) : (const void *)(c->v.u + r0);
}

static int put_sketch(seg_writer_t *w, vg_fmt_seg_chunk_t *ch, vg_error_t *err)
{
    w->raw.len = 0;
    int rc = vg_sketch_encode(&w->sk, &w->raw);
    if (rc != 0)
        return enc_failed(w, rc, "sketch", err);
    if (w->raw.len > UINT32_MAX)
        return vg_error_set(err, VG_ELIMIT, "segment %s: sketch too large", w->tmp);
    ch->flags |= VG_FMT_CHUNK_SKETCH;
    ch->sketch_off = w->flushed + w->out.len;
    ch->sketch_len = (uint32_t)w->raw.len;
    ch->sketch_crc = vg_crc32c(0, w->raw.p, w->raw.len);
    if (vg_buf_append(&w->out, w->raw.p, w->raw.len) != 0)
        return nomem(w, err);
    return 0;
}

static int write_field(seg_writer_t *w, uint32_t col, size_t r0, size_t n,
                       vg_fmt_seg_chunk_t *ch, vg_error_t *err)
{
    const vg_colvec_t *c = w->in->cols[col].vals;
    const uint8_t *bits = NULL;
    size_t count = n;
    if (c->valid) {
        count = extract_bits(c->valid, c->n, r0, n, w->bits);
        bits = count < n ? w->bits : NULL;
    }
    ch->count = (uint32_t)count;
    ch->nulls = (uint32_t)(n - count);
    if (count == 0)
        return 0; /* absent: reads as all null */
    uint32_t blen = 0;
    w->raw.len = 0;
    if (vg_buf_append(&w->raw, &blen, 4) != 0)
        return nomem(w, err);
    int rc = bits ? vg_enc_bitmap(bits, n, &w->raw) : 0;
    blen = (uint32_t)(w->raw.len - 4);
    memcpy(w->raw.p, &blen, 4);
    if (rc == 0)
        rc = encode_values(w, c, r0, n, bits, count, ch);
    if (rc == 0 && vg__seg_is_numeric(c->type))
        rc = sketch_values(w, c->type, present_values(w, c, r0, bits), count);
    if (rc != 0)
        return enc_failed(w, rc, w->in->cols[col].name, err);
    rc = put_chunk(w, vg__seg_enc_of_type(c->type), ch, err);
    if (rc == 0 && vg__seg_is_numeric(c->type))
        rc = put_sketch(w, ch, err);
    return rc;
}

static int write_block(seg_writer_t *w, size_t r0, size_t n, vg_fmt_seg_chunk_t *chunks,
                       vg_error_t *err)
{
    const vg_seg_input_t *in = w->in;
    vg_fmt_seg_block_t b = {.nrows = (uint32_t)n,
                            .series_lo = in->series[r0],
                            .series_hi = in->series[r0 + n - 1],
                            .ts_min = INT64_MAX,
                            .ts_max = INT64_MIN};
    uint64_t *sid = w->vals;
    for (size_t i = 0; i < n; i++) {
        int64_t t = in->ts[r0 + i];
        b.ts_min = t < b.ts_min ? t : b.ts_min;
        b.ts_max = t > b.ts_max ? t : b.ts_max;
        sid[i] = in->series[r0 + i];
    }
    w->ts_min = b.ts_min < w->ts_min ? b.ts_min : w->ts_min;
    w->ts_max = b.ts_max > w->ts_max ? b.ts_max : w->ts_max;
    memset(chunks, 0, sizeof *chunks * (2 + (size_t)in->ncols));
    w->raw.len = 0;
    int rc = vg_enc_ts(in->ts + r0, n, &w->raw);
    if (rc != 0)
        return enc_failed(w, rc, "timestamps", err);
    if ((rc = put_chunk(w, VG_FMT_ENC_TS, &chunks[0], err)) != 0)
        return rc;
    w->raw.len = 0;
    if ((rc = vg_enc_u64(sid, n, &w->raw)) != 0)
        return enc_failed(w, rc, "series", err);
    rc = put_chunk(w, VG_FMT_ENC_SERIES, &chunks[1], err);
    for (uint32_t c = 0; rc == 0 && c < in->ncols; c++)
        rc = write_field(w, c, r0, n, &chunks[2 + c], err);
    if (rc != 0)
        return rc;
    if (vg_buf_append(&w->block_tab, &b, sizeof b) != 0 ||
        vg_buf_append(&w->chunk_tab, chunks, sizeof *chunks * (2 + (size_t)in->ncols)) != 0)
        return nomem(w, err);
    return w->out.len >= FLUSH_BYTES ? flush_out(w, err) : 0;
}

/*
 * Where the block starting at r0 ends: at the first series boundary once
 * it holds min rows, and never beyond max rows.
 */
static size_t block_end(const uint32_t *series, size_t nrows, size_t r0, size_t min, size_t max)
{
    size_t r = r0;
    while (r < nrows) {
        if (r - r0 >= min)
            return r;
        size_t limit = r0 + max < nrows ? r0 + max : nrows;
        uint32_t s = series[r];
        size_t e = r + 1;
        while (e < limit && series[e] == s)
            e++;
        if (e - r0 >= max)
            return r0 + max;
        r = e;
    }
    return nrows;
}

static int append_meta(seg_writer_t *w, uint32_t nblocks, vg_error_t *err)
{
    const vg_seg_input_t *in = w->in;
    vg_fmt_seg_meta_t m = {
        .part_start = in->part_start,
        .part_end = in->part_end,
        .ts_min = in->nrows ? w->ts_min : 0,
        .ts_max = in->nrows ? w->ts_max : 0,
        .nrows = in->nrows,
        .wal_lsn = in->wal_lsn,
        .nseries = in->nseries,
        .ntags = (uint32_t)(w->tag_tab.len / sizeof(vg_fmt_seg_tag_t)),
        .ncols = in->ncols,
        .nblocks = nblocks,
        .data_off = VG_SEG_HDR_SIZE,
        .data_len = w->flushed - VG_SEG_HDR_SIZE,
    };
    int rc = heap_put(w, in->table, strlen(in->table), &m.table_off, err);
    if (rc != 0)
        return rc;
    m.table_len = (uint32_t)strlen(in->table);
    m.heap_len = (uint32_t)w->heap.len;
    const vg_buf_t *parts[] = {&w->series_tab, &w->tag_tab, &w->col_tab,
                               &w->block_tab,  &w->chunk_tab, &w->heap};
    if (vg_buf_append(&w->out, &m, sizeof m) != 0)
        return nomem(w, err);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i]->len && vg_buf_append(&w->out, parts[i]->p, parts[i]->len) != 0)
            return nomem(w, err);
    return 0;
}

static int write_tail(seg_writer_t *w, uint32_t nblocks, vg_error_t *err)
{
    int rc = flush_out(w, err); /* so that out holds exactly the meta region */
    if (rc == 0)
        rc = append_meta(w, nblocks, err);
    if (rc != 0)
        return rc;
    vg_fmt_seg_footer_t f = {.meta_off = w->flushed,
                             .meta_len = w->out.len,
                             .meta_crc = vg_crc32c(0, w->out.p, w->out.len),
                             .version = VG_FMT_SEG_VERSION};
    memcpy(f.magic, VG_FMT_SEG_MAGIC, VG_FMT_SEG_MAGIC_LEN);
    f.crc = vg_crc32c(0, &f, VG_FMT_SEG_FOOTER_CRC_LEN);
    if (vg_buf_append(&w->out, &f, sizeof f) != 0)
        return nomem(w, err);
    return flush_out(w, err);
}

static int write_file(seg_writer_t *w, const vg_seg_write_opts_t *o, vg_error_t *err)
{
    const vg_seg_input_t *in = w->in;
    vg_fmt_seg_header_t h = {.version = VG_FMT_SEG_VERSION,
                             .header_size = VG_SEG_HDR_SIZE,
                             .footer_size = VG_SEG_FOOT_SIZE};
    memcpy(h.magic, VG_FMT_SEG_MAGIC, VG_FMT_SEG_MAGIC_LEN);
    h.crc = vg_crc32c(0, &h, VG_FMT_SEG_HEADER_CRC_LEN);
    vg_fmt_seg_chunk_t *chunks = vg_calloc(2 + (size_t)in->ncols, sizeof *chunks);
    if (!chunks || vg_buf_append(&w->out, &h, sizeof h) != 0) {
        vg_free(chunks);
        return nomem(w, err);
    }
    int rc = build_dictionary(w, err);
    uint32_t nblocks = 0;
    for (size_t r0 = 0; rc == 0 && r0 < in->nrows; nblocks++) {
        size_t end = block_end(in->series, in->nrows, r0, o->min_block_rows, o->max_block_rows);
        if (nblocks == UINT32_MAX)
            rc = vg_error_set(err, VG_ELIMIT, "segment %s: too many blocks", w->tmp);
        else
            rc = write_block(w, r0, end - r0, chunks, err);
        r0 = end;
    }
    vg_free(chunks);
    return rc == 0 ? write_tail(w, nblocks, err) : rc;
}

static int writer_init(seg_writer_t *w, vg_io_t *io, const vg_seg_input_t *in, const char *tmp,
                       const vg_seg_write_opts_t *o)
{
    memset(w, 0, sizeof *w);
    w->io = io;
    w->in = in;
    w->tmp = tmp;
    w->fd = -1;
    w->accel = o->lz4_accel > 0 ? o->lz4_accel : 1;
    w->ts_min = INT64_MAX;
    w->ts_max = INT64_MIN;
    vg_sketch_init(&w->sk);
    size_t max = o->max_block_rows;
    w->bits = vg_malloc((max + 7) / 8 + 1);
    w->vals = vg_malloc(max * 8);
    w->sptrs = vg_malloc(max * sizeof *w->sptrs);
    w->slens = vg_malloc(max * sizeof *w->slens);
    if (!w->bits || !w->vals || !w->sptrs || !w->slens)
        return VG_ENOMEM;
    return vg_buf_reserve(&w->out, FLUSH_BYTES + (FLUSH_BYTES >> 2));
}

static void writer_free(seg_writer_t *w)
{
    vg_buf_t *bufs[] = {&w->out,     &w->raw,       &w->series_tab, &w->tag_tab,
                        &w->col_tab, &w->block_tab, &w->chunk_tab,  &w->heap};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vg_buf_free(bufs[i]);
    vg_sketch_reset(&w->sk);
    vg_free(w->bits);
    vg_free(w->vals);
    vg_free(w->sptrs);
    vg_free(w->slens);
}

static char *join_path(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = vg_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

/* write -> fsync -> close -> rename -> fsync(dir), each step a crash point. */
static int publish(seg_writer_t *w, const vg_seg_write_opts_t *o, const char *dir,
                   const char *final, int *renamed, vg_error_t *err)
{
    int rc = vg_io_open(w->io, w->tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644, &w->fd,
                        err);
    if (rc == 0)
        rc = write_file(w, o, err);
    if (rc != 0)
        return rc;
    vg_io_crash_point(w->io, "segment.written");
    if ((rc = vg_io_fsync(w->io, w->fd, 1, err)) != 0)
        return rc;
    vg_io_crash_point(w->io, "segment.synced");
    int fd = w->fd;
    w->fd = -1;
    if ((rc = vg_io_close(w->io, fd)) != 0)
        return vg_error_set(err, rc, "segment %s: close failed", w->tmp);
    if ((rc = vg_io_rename(w->io, w->tmp, final, err)) != 0)
        return rc;
    *renamed = 1;
    vg_io_crash_point(w->io, "segment.renamed");
    if ((rc = vg_io_fsync_dir(w->io, dir, err)) != 0)
        return rc;
    vg_io_crash_point(w->io, "segment.dir_synced");
    return 0;
}

int vg_seg_write(vg_io_t *io, const char *dir, const char *name, const vg_seg_input_t *in,
                 const vg_seg_write_opts_t *opts, uint64_t *bytes_out, vg_error_t *err)
{
    vg_seg_write_opts_t o = {DEFAULT_MIN_BLOCK_ROWS, DEFAULT_MAX_BLOCK_ROWS, 1};
    if (opts) {
        o.min_block_rows = opts->min_block_rows ? opts->min_block_rows : o.min_block_rows;
        o.max_block_rows = opts->max_block_rows ? opts->max_block_rows : o.max_block_rows;
        o.lz4_accel = opts->lz4_accel > 0 ? opts->lz4_accel : 1;
    }
    if (!io || !dir || !name)
        return vg_error_set(err, VG_EINVAL, "segment write: no I/O, directory or name");
    int rc = check_input(in, &o, err);
    if (rc != 0)
        return rc;
    char *tmp = join_path(dir, name, ".tmp");
    char *final = join_path(dir, name, "");
    seg_writer_t w;
    if (!tmp || !final || writer_init(&w, io, in, tmp, &o) != 0) {
        rc = vg_error_set(err, VG_ENOMEM, "segment %s/%s: out of memory", dir, name);
        if (tmp && final)
            writer_free(&w);
        vg_free(tmp);
        vg_free(final);
        return rc;
    }
    int renamed = 0;
    rc = publish(&w, &o, dir, final, &renamed, err);
    uint64_t bytes = w.flushed;
    if (w.fd >= 0)
        vg_io_close(io, w.fd);
    if (rc != 0) /* a file whose rename may not be durable is not published */
        vg_io_unlink(io, renamed ? final : tmp, NULL);
    else if (bytes_out)
        *bytes_out = bytes;
    writer_free(&w);
    vg_free(tmp);
    vg_free(final);
    return rc;
}
