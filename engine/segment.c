/*
 * segment.c: opening, validating and reading immutable column segments
 * (segment.h; the byte layout is format.h and docs/format.md;
 * segment_write.c writes them).
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

#include <limits.h>
#include <lz4.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "encode.h"
#include "format.h"
#include "segment_int.h"
#include "vigil/vg_alloc.h"

/* ======================================================================
 * Opening
 * ====================================================================== */

typedef struct seg_chunk {
    uint64_t off, sketch_off;
    uint32_t clen, rlen, crc;
    uint32_t sketch_len, sketch_crc;
    uint8_t flags, enc;
    /* Set (atomically) once the checksum matched: the mapping is of an
     * immutable file, so a chunk read again while the segment is open is
     * not checksummed again (re-reads were 13% of a rule's evaluation).
     * Damage on disk is caught on the first read after the next open; a
     * file rewritten under a running process is outside the contract
     * (README, Durability). */
    uint8_t verified;
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
    if (size < VG_SEG_HDR_SIZE + VG_SEG_FOOT_SIZE)
        return bad(s, err, size, "file truncated to %zu bytes", size);
    vg_fmt_seg_header_t h;
    memcpy(&h, p, sizeof h);
    if (memcmp(h.magic, VG_FMT_SEG_MAGIC, VG_FMT_SEG_MAGIC_LEN) != 0)
        return bad(s, err, 0, "bad header magic");
    if (vg_crc32c(0, &h, VG_FMT_SEG_HEADER_CRC_LEN) != h.crc)
        return bad(s, err, 0, "header checksum mismatch");
    if (h.version != VG_FMT_SEG_VERSION || h.flags != 0 || h.header_size != VG_SEG_HDR_SIZE ||
        h.footer_size != VG_SEG_FOOT_SIZE)
        return bad(s, err, offsetof(vg_fmt_seg_header_t, version),
                   "unsupported format version %u flags %#x", h.version, h.flags);
    uint64_t foff = size - VG_SEG_FOOT_SIZE;
    memcpy(f, p + foff, sizeof *f);
    if (memcmp(f->magic, VG_FMT_SEG_MAGIC, VG_FMT_SEG_MAGIC_LEN) != 0)
        return bad(s, err, foff + offsetof(vg_fmt_seg_footer_t, magic),
                   "bad footer magic (truncated file?)");
    if (vg_crc32c(0, f, VG_FMT_SEG_FOOTER_CRC_LEN) != f->crc)
        return bad(s, err, foff, "footer checksum mismatch");
    if (f->version != VG_FMT_SEG_VERSION)
        return bad(s, err, foff, "unsupported footer version %u", f->version);
    if (!in_range(f->meta_off, f->meta_len, VG_SEG_HDR_SIZE, foff) ||
        f->meta_off + f->meta_len != foff || f->meta_len < sizeof(vg_fmt_seg_meta_t))
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
    if (m->data_off != VG_SEG_HDR_SIZE || m->data_len != f->meta_off - VG_SEG_HDR_SIZE)
        return bad(s, err, f->meta_off, "data region does not match the footer");
    if (m->part_start >= m->part_end || (m->nrows && m->ts_min > m->ts_max))
        return bad(s, err, f->meta_off, "bad partition or time range");
    L->heap_p = s->map.p + L->heap;
    L->heap_len = m->heap_len;
    s->data_off = VG_SEG_HDR_SIZE;
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
        if (!s->cols[i].name || !vg__seg_is_field_type(s->cols[i].type))
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
        if (b.nrows == 0 || b.nrows > VG_SEG_MAX_BLOCK_ROWS || b.series_lo > b.series_hi ||
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
                               : vg__seg_enc_of_type(s->cols[slot - 2].type);
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
        return slot >= 2 && vg__seg_is_numeric(s->cols[slot - 2].type) &&
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
    if (!__atomic_load_n(&c->verified, __ATOMIC_ACQUIRE)) {
        if (vg_crc32c(0, src, c->clen) != c->crc)
            return bad_chunk(s, block, slot, c->off, "checksum mismatch", err);
        __atomic_store_n((uint8_t *)&c->verified, 1, __ATOMIC_RELEASE);
    }
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
    const vg_seg_blockinfo_t *b = &s->blocks[block];
    rc = vg_dec_ts(p, c->rlen, b->nrows, out);
    /* as for series ids: a checksummed block whose rows leave its own
     * [ts_min, ts_max] would defeat time pruning, so it is never handed out */
    for (uint32_t i = 0; rc == 0 && i < b->nrows; i++)
        if (out[i] < b->ts_min || out[i] > b->ts_max)
            rc = VG_ECORRUPT;
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
        if (vg__seg_popcount(c->valid, c->n) != count)
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

uint32_t vg_seg_max_block_rows(const vg_seg_t *s)
{
    uint32_t m = 0;
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        uint32_t n = vg_seg_block(s, b).nrows;
        m = n > m ? n : m;
    }
    return m;
}
