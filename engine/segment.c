/*
 * segment.c: writing, opening and reading immutable column segments
 * (segment.h; the byte layout is format.h and docs/format.md).
 *
 * Writing streams the file through the I/O layer in pieces of about
 * FLUSH_BYTES: the header, then block after block of chunks, then the meta
 * region (built from small tables kept in memory) and the footer. Per-block
 * work reuses scratch arrays sized max_block_rows, so the writer allocates
 * per block only what the sketch needs, never per row.
 *
 * Invariants a reader relies on, all checked by vg_seg_open before any
 * pointer into the mapping is formed: every offset + length stays inside
 * the data region (overflow-safe arithmetic on uint64_t), counts and nulls
 * add up to the block's rows, and every string handed out (table, column
 * names) is NUL-terminated inside the mapping. A vg_seg_t is immutable
 * after open, so concurrent readers share it without locks; each read
 * allocates its own decompression buffer.
 */
#include "segment.h"

#include <fcntl.h>
#include <limits.h>
#include <lz4.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "crc32c.h"
#include "encode.h"
#include "format.h"
#include "vigil/vg_alloc.h"

#define DEFAULT_MIN_BLOCK_ROWS 1024u
#define DEFAULT_MAX_BLOCK_ROWS 8192u
#define MAX_BLOCK_ROWS_LIMIT   (1u << 22) /* scratch is sized by it */
#define FLUSH_BYTES            ((size_t)4 << 20)

#define HDR_SIZE  sizeof(vg_fmt_seg_header_t)
#define FOOT_SIZE sizeof(vg_fmt_seg_footer_t)

static int is_field_type(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT || t == VG_TYPE_BOOL ||
           t == VG_TYPE_STRING;
}

static int is_numeric(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT;
}

static uint8_t enc_of_type(vg_type_t t)
{
    switch (t) {
    case VG_TYPE_FLOAT: return VG_FMT_ENC_F64;
    case VG_TYPE_INT: return VG_FMT_ENC_I64;
    case VG_TYPE_UINT: return VG_FMT_ENC_U64;
    case VG_TYPE_BOOL: return VG_FMT_ENC_BOOL;
    case VG_TYPE_STRING: return VG_FMT_ENC_STR;
    default: return VG_FMT_ENC_NONE;
    }
}

static size_t popcount_bits(const uint8_t *bits, size_t n)
{
    size_t c = 0, full = n >> 3;
    for (size_t i = 0; i < full; i++)
        c += (size_t)__builtin_popcount(bits[i]);
    if (n & 7)
        c += (size_t)__builtin_popcount(bits[full] & ((1u << (n & 7)) - 1));
    return c;
}

/* ======================================================================
 * Writing
 * ====================================================================== */

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
    if (!is_field_type(v->type) || v->n != in->nrows)
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
        o->max_block_rows > MAX_BLOCK_ROWS_LIMIT)
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
    return popcount_bits(dst, n);
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
    if (rc == 0 && is_numeric(c->type))
        rc = sketch_values(w, c->type, present_values(w, c, r0, bits), count);
    if (rc != 0)
        return enc_failed(w, rc, w->in->cols[col].name, err);
    rc = put_chunk(w, enc_of_type(c->type), ch, err);
    if (rc == 0 && is_numeric(c->type))
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
        .data_off = HDR_SIZE,
        .data_len = w->flushed - HDR_SIZE,
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
                             .header_size = HDR_SIZE,
                             .footer_size = FOOT_SIZE};
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

/* ======================================================================
 * Opening
 * ====================================================================== */

typedef struct seg_chunk {
    uint64_t off, sketch_off;
    uint32_t clen, rlen, crc;
    uint32_t sketch_len, sketch_crc;
    uint8_t flags, enc;
} seg_chunk_t;

struct vg_seg {
    vg_io_t *io;
    vg_io_map_t map;
    char *path;
    const char *table;
    int64_t part_start, part_end, ts_min, ts_max;
    uint64_t nrows, wal_lsn;
    uint64_t data_off, data_end; /* chunks lie inside [data_off, data_end) */
    uint32_t nseries, ntags, ncols, nblocks;
    vg_fmt_seg_series_t *series;
    const char **tag_keys, **tag_vals;
    uint32_t *tag_klens, *tag_vlens;
    vg_seg_colinfo_t *cols;
    vg_seg_blockinfo_t *blocks;
    seg_chunk_t *chunks;   /* nblocks * (2 + ncols), block-major */
    vg_seg_stats_t *stats; /* nblocks * ncols */
};

/* Where the meta tables lie, as file offsets. */
typedef struct seg_layout {
    uint64_t series, tags, cols, blocks, chunks, heap;
    const uint8_t *heap_p;
    uint32_t heap_len;
} seg_layout_t;

static int bad(const vg_seg_t *s, vg_error_t *err, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* VG_ECORRUPT: "segment <path>: <what> at offset <off>". */
static int bad(const vg_seg_t *s, vg_error_t *err, uint64_t off, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vg_error_set(err, VG_ECORRUPT, "segment %s: %s at offset %llu", s->path, what,
                        (unsigned long long)off);
}

/* [off, off + len) lies inside [lo, hi), computed without overflow. */
static int in_range(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
    return off >= lo && off <= hi && len <= hi - off;
}

static int check_envelope(vg_seg_t *s, vg_fmt_seg_footer_t *f, vg_error_t *err)
{
    const uint8_t *p = s->map.p;
    size_t size = s->map.len;
    if (size < HDR_SIZE + FOOT_SIZE)
        return bad(s, err, size, "file truncated to %zu bytes", size);
    vg_fmt_seg_header_t h;
    memcpy(&h, p, sizeof h);
    if (memcmp(h.magic, VG_FMT_SEG_MAGIC, VG_FMT_SEG_MAGIC_LEN) != 0)
        return bad(s, err, 0, "bad header magic");
    if (vg_crc32c(0, &h, VG_FMT_SEG_HEADER_CRC_LEN) != h.crc)
        return bad(s, err, 0, "header checksum mismatch");
    if (h.version != VG_FMT_SEG_VERSION || h.flags != 0 || h.header_size != HDR_SIZE ||
        h.footer_size != FOOT_SIZE)
        return bad(s, err, offsetof(vg_fmt_seg_header_t, version),
                   "unsupported format version %u flags %#x", h.version, h.flags);
    uint64_t foff = size - FOOT_SIZE;
    memcpy(f, p + foff, sizeof *f);
    if (memcmp(f->magic, VG_FMT_SEG_MAGIC, VG_FMT_SEG_MAGIC_LEN) != 0)
        return bad(s, err, foff + offsetof(vg_fmt_seg_footer_t, magic),
                   "bad footer magic (truncated file?)");
    if (vg_crc32c(0, f, VG_FMT_SEG_FOOTER_CRC_LEN) != f->crc)
        return bad(s, err, foff, "footer checksum mismatch");
    if (f->version != VG_FMT_SEG_VERSION)
        return bad(s, err, foff, "unsupported footer version %u", f->version);
    if (!in_range(f->meta_off, f->meta_len, HDR_SIZE, foff) || f->meta_off + f->meta_len != foff ||
        f->meta_len < sizeof(vg_fmt_seg_meta_t))
        return bad(s, err, foff, "meta region [%llu, +%llu) out of bounds",
                   (unsigned long long)f->meta_off, (unsigned long long)f->meta_len);
    if (vg_crc32c(0, p + f->meta_off, f->meta_len) != f->meta_crc)
        return bad(s, err, f->meta_off, "meta checksum mismatch");
    return 0;
}

/* Reserve count * size bytes at *at, staying below end. */
static int take(uint64_t *at, uint64_t count, uint64_t size, uint64_t end, uint64_t *start)
{
    uint64_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes) || !in_range(*at, bytes, 0, end))
        return -1;
    *start = *at;
    *at += bytes;
    return 0;
}

static int parse_layout(vg_seg_t *s, const vg_fmt_seg_footer_t *f, const vg_fmt_seg_meta_t *m,
                        seg_layout_t *L, vg_error_t *err)
{
    uint64_t end = f->meta_off + f->meta_len, at = f->meta_off + sizeof *m;
    uint64_t nchunks = (uint64_t)m->nblocks * (2 + (uint64_t)m->ncols);
    if (take(&at, m->nseries, sizeof(vg_fmt_seg_series_t), end, &L->series) ||
        take(&at, m->ntags, sizeof(vg_fmt_seg_tag_t), end, &L->tags) ||
        take(&at, m->ncols, sizeof(vg_fmt_seg_col_t), end, &L->cols) ||
        take(&at, m->nblocks, sizeof(vg_fmt_seg_block_t), end, &L->blocks) ||
        take(&at, nchunks, sizeof(vg_fmt_seg_chunk_t), end, &L->chunks) ||
        take(&at, m->heap_len, 1, end, &L->heap) || at != end)
        return bad(s, err, f->meta_off, "meta tables do not match the meta length");
    if (m->data_off != HDR_SIZE || m->data_len != f->meta_off - HDR_SIZE)
        return bad(s, err, f->meta_off, "data region does not match the footer");
    if (m->part_start >= m->part_end || (m->nrows && m->ts_min > m->ts_max))
        return bad(s, err, f->meta_off, "bad partition or time range");
    L->heap_p = s->map.p + L->heap;
    L->heap_len = m->heap_len;
    s->data_off = HDR_SIZE;
    s->data_end = f->meta_off;
    return 0;
}

/* A heap string followed by its NUL; cstr: no NUL inside either. */
static const char *heap_str(const seg_layout_t *L, uint32_t off, uint32_t len, int cstr)
{
    if ((uint64_t)off + len + 1 > L->heap_len)
        return NULL;
    const char *p = (const char *)L->heap_p + off;
    if (p[len] != 0 || (cstr && memchr(p, 0, len)))
        return NULL;
    return p;
}

static int parse_series(vg_seg_t *s, const seg_layout_t *L, vg_error_t *err)
{
    const uint8_t *p = s->map.p;
    s->series = vg_malloc(((size_t)s->nseries + 1) * sizeof *s->series);
    s->tag_keys = vg_malloc(((size_t)s->ntags + 1) * sizeof *s->tag_keys);
    s->tag_vals = vg_malloc(((size_t)s->ntags + 1) * sizeof *s->tag_vals);
    s->tag_klens = vg_malloc(((size_t)s->ntags + 1) * sizeof *s->tag_klens);
    s->tag_vlens = vg_malloc(((size_t)s->ntags + 1) * sizeof *s->tag_vlens);
    if (!s->series || !s->tag_keys || !s->tag_vals || !s->tag_klens || !s->tag_vlens)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    for (uint32_t i = 0; i < s->ntags; i++) {
        uint64_t at = L->tags + (uint64_t)i * sizeof(vg_fmt_seg_tag_t);
        vg_fmt_seg_tag_t t;
        memcpy(&t, p + at, sizeof t);
        s->tag_keys[i] = heap_str(L, t.key_off, t.key_len, 0);
        s->tag_vals[i] = heap_str(L, t.val_off, t.val_len, 0);
        if (!s->tag_keys[i] || !s->tag_vals[i])
            return bad(s, err, at, "tag %u out of bounds", i);
        s->tag_klens[i] = t.key_len;
        s->tag_vlens[i] = t.val_len;
    }
    for (uint32_t i = 0; i < s->nseries; i++) {
        uint64_t at = L->series + (uint64_t)i * sizeof(vg_fmt_seg_series_t);
        memcpy(&s->series[i], p + at, sizeof s->series[i]);
        if ((uint64_t)s->series[i].first_tag + s->series[i].ntags > s->ntags)
            return bad(s, err, at, "series %u tags out of bounds", i);
    }
    return 0;
}

static int parse_cols(vg_seg_t *s, const seg_layout_t *L, vg_error_t *err)
{
    s->cols = vg_calloc((size_t)s->ncols + 1, sizeof *s->cols);
    if (!s->cols)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    for (uint32_t i = 0; i < s->ncols; i++) {
        uint64_t at = L->cols + (uint64_t)i * sizeof(vg_fmt_seg_col_t);
        vg_fmt_seg_col_t c;
        memcpy(&c, s->map.p + at, sizeof c);
        s->cols[i].name = heap_str(L, c.name_off, c.name_len, 1);
        s->cols[i].type = (vg_type_t)c.type;
        if (!s->cols[i].name || !is_field_type(s->cols[i].type))
            return bad(s, err, at, "column %u: bad name or type %u", i, c.type);
    }
    return 0;
}

static int parse_blocks(vg_seg_t *s, const seg_layout_t *L, vg_error_t *err)
{
    s->blocks = vg_calloc((size_t)s->nblocks + 1, sizeof *s->blocks);
    if (!s->blocks)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    uint64_t rows = 0;
    for (uint32_t i = 0; i < s->nblocks; i++) {
        uint64_t at = L->blocks + (uint64_t)i * sizeof(vg_fmt_seg_block_t);
        vg_fmt_seg_block_t b;
        memcpy(&b, s->map.p + at, sizeof b);
        if (b.nrows == 0 || b.nrows > MAX_BLOCK_ROWS_LIMIT || b.series_lo > b.series_hi ||
            b.series_hi >= s->nseries || b.ts_min > b.ts_max)
            return bad(s, err, at, "block %u: bad rows, series or time range", i);
        s->blocks[i] = (vg_seg_blockinfo_t){b.nrows, b.series_lo, b.series_hi, b.ts_min, b.ts_max};
        rows += b.nrows;
    }
    if (rows != s->nrows)
        return bad(s, err, L->blocks, "blocks hold %llu rows, meta says %llu",
                   (unsigned long long)rows, (unsigned long long)s->nrows);
    return 0;
}

/* The structural checks of one chunk entry; slot 0 is ts, 1 series. */
static int chunk_ok(const vg_seg_t *s, const vg_fmt_seg_chunk_t *c, uint32_t nrows, uint32_t slot)
{
    uint8_t want = slot == 0 ? VG_FMT_ENC_TS
                   : slot == 1 ? VG_FMT_ENC_SERIES
                               : enc_of_type(s->cols[slot - 2].type);
    if (c->flags & ~VG_FMT_CHUNK_KNOWN)
        return 0;
    if (!(c->flags & VG_FMT_CHUNK_PRESENT))
        return slot >= 2 && c->flags == 0 && c->enc == VG_FMT_ENC_NONE && c->count == 0 &&
               c->nulls == nrows;
    if (c->enc != want || !in_range(c->off, c->clen, s->data_off, s->data_end))
        return 0;
    if (slot < 2 && (c->flags & ~(VG_FMT_CHUNK_PRESENT | VG_FMT_CHUNK_LZ4)))
        return 0;
    if (slot >= 2 && (c->count == 0 || (uint64_t)c->count + c->nulls != nrows))
        return 0;
    if (c->flags & VG_FMT_CHUNK_LZ4) {
        if (c->clen == 0 || c->clen > INT_MAX || c->rlen == 0 || c->rlen > LZ4_MAX_INPUT_SIZE)
            return 0;
    } else if (c->clen != c->rlen) {
        return 0;
    }
    if (c->flags & VG_FMT_CHUNK_SKETCH)
        return slot >= 2 && is_numeric(s->cols[slot - 2].type) &&
               in_range(c->sketch_off, c->sketch_len, s->data_off, s->data_end);
    return 1;
}

static void stats_from(const vg_fmt_seg_chunk_t *c, vg_type_t t, vg_seg_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->count = c->count;
    st->nulls = c->nulls;
    st->sum_overflow = (c->flags & VG_FMT_CHUNK_SUM_OVERFLOW) != 0;
    switch (t) {
    case VG_TYPE_FLOAT:
        memcpy(&st->min.f, &c->min, 8);
        memcpy(&st->max.f, &c->max, 8);
        memcpy(&st->sum.f, &c->sum, 8);
        break;
    case VG_TYPE_INT:
    case VG_TYPE_BOOL: /* min/max 0/1: .i, and .b on a little-endian host */
        st->min.i = (int64_t)c->min;
        st->max.i = (int64_t)c->max;
        st->sum.i = (int64_t)c->sum;
        break;
    case VG_TYPE_UINT:
        st->min.u = c->min;
        st->max.u = c->max;
        st->sum.u = c->sum;
        break;
    default:
        break;
    }
}

static int parse_chunks(vg_seg_t *s, const seg_layout_t *L, vg_error_t *err)
{
    size_t per = 2 + (size_t)s->ncols;
    s->chunks = vg_calloc((size_t)s->nblocks * per + 1, sizeof *s->chunks);
    s->stats = vg_calloc((size_t)s->nblocks * s->ncols + 1, sizeof *s->stats);
    if (!s->chunks || !s->stats)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    for (uint32_t b = 0; b < s->nblocks; b++) {
        for (uint32_t j = 0; j < per; j++) {
            size_t k = (size_t)b * per + j;
            uint64_t at = L->chunks + (uint64_t)k * sizeof(vg_fmt_seg_chunk_t);
            vg_fmt_seg_chunk_t c;
            memcpy(&c, s->map.p + at, sizeof c);
            if (!chunk_ok(s, &c, s->blocks[b].nrows, j))
                return bad(s, err, at, "block %u column %u: bad chunk entry", b, j);
            s->chunks[k] = (seg_chunk_t){c.off,        c.sketch_off, c.clen,  c.rlen, c.crc,
                                         c.sketch_len, c.sketch_crc, c.flags, c.enc};
            if (j >= 2)
                stats_from(&c, s->cols[j - 2].type, &s->stats[(size_t)b * s->ncols + j - 2]);
        }
    }
    return 0;
}

static int parse_meta(vg_seg_t *s, const vg_fmt_seg_footer_t *f, vg_error_t *err)
{
    vg_fmt_seg_meta_t m;
    memcpy(&m, s->map.p + f->meta_off, sizeof m);
    seg_layout_t L = {0};
    int rc = parse_layout(s, f, &m, &L, err);
    if (rc != 0)
        return rc;
    s->table = heap_str(&L, m.table_off, m.table_len, 1);
    if (!s->table)
        return bad(s, err, f->meta_off, "table name out of bounds");
    s->part_start = m.part_start;
    s->part_end = m.part_end;
    s->ts_min = m.ts_min;
    s->ts_max = m.ts_max;
    s->nrows = m.nrows;
    s->wal_lsn = m.wal_lsn;
    s->nseries = m.nseries;
    s->ntags = m.ntags;
    s->ncols = m.ncols;
    s->nblocks = m.nblocks;
    if ((rc = parse_series(s, &L, err)) != 0 || (rc = parse_cols(s, &L, err)) != 0 ||
        (rc = parse_blocks(s, &L, err)) != 0)
        return rc;
    return parse_chunks(s, &L, err);
}

int vg_seg_open(vg_io_t *io, const char *path, vg_seg_t **out, vg_error_t *err)
{
    if (!io || !path || !out)
        return vg_error_set(err, VG_EINVAL, "segment open: no I/O, path or output");
    vg_seg_t *s = vg_calloc(1, sizeof *s);
    if (!s || !(s->path = vg_strdup(path))) {
        vg_free(s);
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", path);
    }
    s->io = io;
    int rc = vg_io_map(io, path, &s->map, err);
    if (rc == 0) {
        vg_fmt_seg_footer_t f;
        rc = check_envelope(s, &f, err);
        if (rc == 0)
            rc = parse_meta(s, &f, err);
    }
    if (rc != 0) {
        vg_seg_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void vg_seg_close(vg_seg_t *s)
{
    if (!s)
        return;
    if (s->map.p)
        vg_io_unmap(s->io, &s->map);
    vg_free(s->series);
    vg_free(s->tag_keys);
    vg_free(s->tag_vals);
    vg_free(s->tag_klens);
    vg_free(s->tag_vlens);
    vg_free(s->cols);
    vg_free(s->blocks);
    vg_free(s->chunks);
    vg_free(s->stats);
    vg_free(s->path);
    vg_free(s);
}

/* ======================================================================
 * Accessors
 * ====================================================================== */

const char *vg_seg_path(const vg_seg_t *s)
{
    return s->path;
}

const char *vg_seg_table(const vg_seg_t *s)
{
    return s->table;
}

int64_t vg_seg_part_start(const vg_seg_t *s)
{
    return s->part_start;
}

int64_t vg_seg_part_end(const vg_seg_t *s)
{
    return s->part_end;
}

int64_t vg_seg_ts_min(const vg_seg_t *s)
{
    return s->ts_min;
}

int64_t vg_seg_ts_max(const vg_seg_t *s)
{
    return s->ts_max;
}

uint64_t vg_seg_nrows(const vg_seg_t *s)
{
    return s->nrows;
}

uint64_t vg_seg_wal_lsn(const vg_seg_t *s)
{
    return s->wal_lsn;
}

uint64_t vg_seg_file_bytes(const vg_seg_t *s)
{
    return s->map.len;
}

uint32_t vg_seg_nseries(const vg_seg_t *s)
{
    return s->nseries;
}

int vg_seg_series(const vg_seg_t *s, uint32_t id, vg_seg_series_t *out)
{
    if (id >= s->nseries)
        return VG_ENOTFOUND;
    const vg_fmt_seg_series_t *e = &s->series[id];
    out->ntags = e->ntags;
    out->keys = s->tag_keys + e->first_tag;
    out->klens = s->tag_klens + e->first_tag;
    out->vals = s->tag_vals + e->first_tag;
    out->vlens = s->tag_vlens + e->first_tag;
    return 0;
}

uint32_t vg_seg_ncols(const vg_seg_t *s)
{
    return s->ncols;
}

vg_seg_colinfo_t vg_seg_col(const vg_seg_t *s, uint32_t col)
{
    vg_seg_colinfo_t none = {NULL, VG_TYPE_NONE};
    return col < s->ncols ? s->cols[col] : none;
}

int vg_seg_col_find(const vg_seg_t *s, const char *name)
{
    for (uint32_t i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint32_t vg_seg_nblocks(const vg_seg_t *s)
{
    return s->nblocks;
}

vg_seg_blockinfo_t vg_seg_block(const vg_seg_t *s, uint32_t block)
{
    vg_seg_blockinfo_t none = {0};
    return block < s->nblocks ? s->blocks[block] : none;
}

const vg_seg_stats_t *vg_seg_block_stats(const vg_seg_t *s, uint32_t block, uint32_t col)
{
    if (block >= s->nblocks || col >= s->ncols)
        return NULL;
    const vg_seg_stats_t *st = &s->stats[(size_t)block * s->ncols + col];
    return st->count ? st : NULL;
}

/* ======================================================================
 * Reading blocks
 * ====================================================================== */

static const seg_chunk_t *chunk_at(const vg_seg_t *s, uint32_t block, uint32_t slot)
{
    return &s->chunks[(size_t)block * (2 + (size_t)s->ncols) + slot];
}

static const char *slot_name(const vg_seg_t *s, uint32_t slot)
{
    return slot == 0 ? "ts" : slot == 1 ? "series" : s->cols[slot - 2].name;
}

static int bad_chunk(const vg_seg_t *s, uint32_t block, uint32_t slot, uint64_t off,
                     const char *what, vg_error_t *err)
{
    return bad(s, err, off, "block %u column %s: %s", block, slot_name(s, slot), what);
}

/*
 * The bytes a chunk's decoder reads: the mapping itself when stored raw,
 * else a buffer returned in *owned (the caller frees it with vg_free).
 */
static int load_chunk(const vg_seg_t *s, uint32_t block, uint32_t slot, const uint8_t **out,
                      uint8_t **owned, vg_error_t *err)
{
    const seg_chunk_t *c = chunk_at(s, block, slot);
    const uint8_t *src = s->map.p + c->off;
    *owned = NULL;
    if (vg_crc32c(0, src, c->clen) != c->crc)
        return bad_chunk(s, block, slot, c->off, "checksum mismatch", err);
    if (!(c->flags & VG_FMT_CHUNK_LZ4)) {
        *out = src;
        return 0;
    }
    uint8_t *dst = vg_malloc(c->rlen);
    if (!dst)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    int got = LZ4_decompress_safe((const char *)src, (char *)dst, (int)c->clen, (int)c->rlen);
    if (got < 0 || (uint32_t)got != c->rlen) {
        vg_free(dst);
        return bad_chunk(s, block, slot, c->off, "bad LZ4 data", err);
    }
    *out = dst;
    *owned = dst;
    return 0;
}

int vg_seg_read_ts(const vg_seg_t *s, uint32_t block, int64_t *out, vg_error_t *err)
{
    if (block >= s->nblocks)
        return vg_error_set(err, VG_EINVAL, "segment %s: no block %u", s->path, block);
    const uint8_t *p = NULL;
    uint8_t *owned = NULL;
    int rc = load_chunk(s, block, 0, &p, &owned, err);
    if (rc != 0)
        return rc;
    const seg_chunk_t *c = chunk_at(s, block, 0);
    rc = vg_dec_ts(p, c->rlen, s->blocks[block].nrows, out);
    vg_free(owned);
    return rc ? bad_chunk(s, block, 0, c->off, "undecodable", err) : 0;
}

int vg_seg_read_series(const vg_seg_t *s, uint32_t block, uint32_t *out, vg_error_t *err)
{
    if (block >= s->nblocks)
        return vg_error_set(err, VG_EINVAL, "segment %s: no block %u", s->path, block);
    const vg_seg_blockinfo_t *b = &s->blocks[block];
    uint64_t *ids = vg_malloc((size_t)b->nrows * sizeof *ids);
    if (!ids)
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    const uint8_t *p = NULL;
    uint8_t *owned = NULL;
    int rc = load_chunk(s, block, 1, &p, &owned, err);
    if (rc == 0) {
        const seg_chunk_t *c = chunk_at(s, block, 1);
        rc = vg_dec_u64(p, c->rlen, b->nrows, ids);
        for (uint32_t i = 0; rc == 0 && i < b->nrows; i++) {
            if (ids[i] < b->series_lo || ids[i] > b->series_hi)
                rc = VG_ECORRUPT; /* the checksum held: a writer bug, but never hand it out */
            out[i] = (uint32_t)ids[i];
        }
        if (rc != 0)
            rc = bad_chunk(s, block, 1, c->off, "undecodable", err);
    }
    vg_free(owned);
    vg_free(ids);
    return rc;
}

static size_t type_width(vg_type_t t)
{
    return t == VG_TYPE_BOOL ? 1 : t == VG_TYPE_STRING ? 0 : 8;
}

/* An all-null colvec of n rows (or, with_nulls == 0, all valid zeros). */
static int col_alloc(vg_colvec_t *c, vg_type_t t, size_t n, int with_nulls)
{
    memset(c, 0, sizeof *c);
    c->type = t;
    c->n = n;
    if (with_nulls && !(c->valid = vg_calloc((n + 7) / 8, 1)))
        return VG_ENOMEM;
    if (t == VG_TYPE_STRING) {
        c->soffs = vg_calloc(n + 1, sizeof *c->soffs);
        return c->soffs ? 0 : VG_ENOMEM;
    }
    c->v.u = vg_calloc(n, type_width(t));
    return c->v.u ? 0 : VG_ENOMEM;
}

/* Spread count packed values over their valid slots (backwards, in place);
 * null slots become 0. */
static void expand(uint8_t *v, const uint8_t *valid, size_t n, size_t count, size_t w)
{
    size_t k = count;
    for (size_t i = n; i-- > 0 && k <= i;) {
        if ((valid[i >> 3] >> (i & 7)) & 1) {
            k--;
            memcpy(v + i * w, v + k * w, w);
        } else {
            memset(v + i * w, 0, w);
        }
    }
}

/* Offsets of count packed strings to n+1 dense ones (null: empty). */
static void expand_offs(uint32_t *o, const uint8_t *valid, size_t n, size_t count)
{
    size_t k = count;
    for (size_t i = n; i-- > 0;) {
        o[i + 1] = o[k];
        k -= (valid[i >> 3] >> (i & 7)) & 1;
    }
}

static int decode_values(vg_colvec_t *c, const uint8_t *p, size_t len, size_t count)
{
    int rc;
    switch (c->type) {
    case VG_TYPE_FLOAT: rc = vg_dec_f64(p, len, count, c->v.f); break;
    case VG_TYPE_INT: rc = vg_dec_i64(p, len, count, c->v.i); break;
    case VG_TYPE_UINT: rc = vg_dec_u64(p, len, count, c->v.u); break;
    case VG_TYPE_BOOL: rc = vg_dec_bool(p, len, count, c->v.b); break;
    default:
        rc = vg_dec_str(p, len, count, &c->sdata, c->soffs);
        if (rc == 0 && !c->sdata && !(c->sdata = vg_malloc(1)))
            return VG_ENOMEM;
        if (rc == 0 && c->valid)
            expand_offs(c->soffs, c->valid, c->n, count);
        return rc;
    }
    if (rc == 0 && c->valid)
        expand((uint8_t *)c->v.u, c->valid, c->n, count, type_width(c->type));
    return rc;
}

/* Raw field chunk: u32 bitmap_len, the bitmap, the present values. */
static int decode_field(vg_colvec_t *c, const uint8_t *p, size_t rlen, size_t count)
{
    uint32_t blen;
    if (rlen < 4)
        return VG_ECORRUPT;
    memcpy(&blen, p, 4);
    if (blen > rlen - 4 || (blen != 0) != (c->valid != NULL))
        return VG_ECORRUPT;
    if (blen) {
        int rc = vg_dec_bitmap(p + 4, blen, c->n, c->valid);
        if (rc != 0)
            return rc;
        if (popcount_bits(c->valid, c->n) != count)
            return VG_ECORRUPT;
    }
    return decode_values(c, p + 4 + blen, rlen - 4 - blen, count);
}

int vg_seg_read_col(const vg_seg_t *s, uint32_t block, uint32_t col, vg_colvec_t *out,
                    vg_error_t *err)
{
    if (block >= s->nblocks || col >= s->ncols)
        return vg_error_set(err, VG_EINVAL, "segment %s: no block %u column %u", s->path, block,
                            col);
    const seg_chunk_t *c = chunk_at(s, block, 2 + col);
    const vg_seg_stats_t *st = &s->stats[(size_t)block * s->ncols + col];
    vg_colvec_t v;
    int rc = col_alloc(&v, s->cols[col].type, s->blocks[block].nrows, st->nulls > 0);
    if (rc == 0 && v.type == VG_TYPE_STRING && !(c->flags & VG_FMT_CHUNK_PRESENT))
        rc = (v.sdata = vg_malloc(1)) ? 0 : VG_ENOMEM;
    if (rc != 0) {
        vg_colvec_free(&v);
        return vg_error_set(err, VG_ENOMEM, "segment %s: out of memory", s->path);
    }
    if (c->flags & VG_FMT_CHUNK_PRESENT) {
        const uint8_t *p = NULL;
        uint8_t *owned = NULL;
        rc = load_chunk(s, block, 2 + col, &p, &owned, err);
        if (rc == 0) {
            rc = decode_field(&v, p, c->rlen, st->count);
            if (rc == VG_ENOMEM)
                vg_error_set(err, rc, "segment %s: out of memory", s->path);
            else if (rc != 0)
                rc = bad_chunk(s, block, 2 + col, c->off, "undecodable", err);
        }
        vg_free(owned);
    }
    if (rc != 0) {
        vg_colvec_free(&v);
        return rc;
    }
    *out = v;
    return 0;
}

int vg_seg_block_sketch(const vg_seg_t *s, uint32_t block, uint32_t col, vg_sketch_t *out,
                        vg_error_t *err)
{
    if (block >= s->nblocks || col >= s->ncols)
        return vg_error_set(err, VG_EINVAL, "segment %s: no block %u column %u", s->path, block,
                            col);
    const seg_chunk_t *c = chunk_at(s, block, 2 + col);
    if (!(c->flags & VG_FMT_CHUNK_SKETCH))
        return vg_error_set(err, VG_ENOTFOUND, "segment %s: block %u column %s has no sketch",
                            s->path, block, s->cols[col].name);
    const uint8_t *p = s->map.p + c->sketch_off;
    if (vg_crc32c(0, p, c->sketch_len) != c->sketch_crc)
        return bad_chunk(s, block, 2 + col, c->sketch_off, "sketch checksum mismatch", err);
    if (vg_sketch_decode(p, c->sketch_len, out) != 0) /* replaces what out held */
        return bad_chunk(s, block, 2 + col, c->sketch_off, "undecodable sketch", err);
    return 0;
}
