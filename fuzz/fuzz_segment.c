/*
 * fuzz_segment.c: libFuzzer target for the segment reader (engine/segment.h
 * and segment.c; layout in engine/format.h): header, footer, meta region,
 * chunk table, and the decoders of every chunk kind and of the sketches.
 *
 * The input is a segment file. Before writing it the harness recomputes
 * every checksum it can locate (header, each chunk and sketch the chunk
 * table points at inside the file, the meta region, the footer), so the
 * fuzzer reaches the structural checks and the decoders behind the CRCs.
 * It then opens the file and reads everything: every series' tags, every
 * column, and for every block its timestamps, series ids, each column's
 * values, stats and sketch.
 *
 * Oracles: open fails only with VG_ECORRUPT (or VG_EIO for a short file)
 * naming the file; a read fails only with VG_ECORRUPT naming the file; what
 * a read returns has the block's row count; series ids stay below nseries;
 * timestamps lie within the block's [ts_min, ts_max] whenever open accepted
 * the file (the reader promises to check what it hands out).
 */
#include <stddef.h>

#include "../engine/colvec.h"
#include "../engine/crc32c.h"
#include "../engine/format.h"
#include "../engine/segment.h"
#include "../engine/sketch.h"
#include "fuzz.h"

static vg_io_t *seg_io;

static void seg_io_free(void)
{
    vg_io_destroy(seg_io);
    seg_io = NULL;
}

static int seg_in(size_t size, uint64_t off, uint64_t len)
{
    return off <= size && len <= size - off;
}

/* Recompute the checksums of a segment's bytes in place. */
static void seg_fix(uint8_t *p, size_t n)
{
    const size_t H = sizeof(vg_fmt_seg_header_t), F = sizeof(vg_fmt_seg_footer_t);
    if (n >= H)
        vg_fuzz_put32(p + offsetof(vg_fmt_seg_header_t, crc),
                      vg_crc32c(0, p, VG_FMT_SEG_HEADER_CRC_LEN));
    if (n < H + F)
        return;
    uint8_t *fp = p + n - F;
    vg_fmt_seg_footer_t f;
    memcpy(&f, fp, F);
    if (f.meta_len >= sizeof(vg_fmt_seg_meta_t) && seg_in(n - F, f.meta_off, f.meta_len)) {
        uint8_t *mp = p + f.meta_off;
        vg_fmt_seg_meta_t m;
        memcpy(&m, mp, sizeof m);
        uint64_t at = sizeof m + (uint64_t)m.nseries * sizeof(vg_fmt_seg_series_t) +
                      (uint64_t)m.ntags * sizeof(vg_fmt_seg_tag_t) +
                      (uint64_t)m.ncols * sizeof(vg_fmt_seg_col_t) +
                      (uint64_t)m.nblocks * sizeof(vg_fmt_seg_block_t);
        uint64_t nchunks = (uint64_t)m.nblocks * (2 + (uint64_t)m.ncols);
        for (uint64_t k = 0; k < nchunks && at + sizeof(vg_fmt_seg_chunk_t) <= f.meta_len;
             k++, at += sizeof(vg_fmt_seg_chunk_t)) {
            vg_fmt_seg_chunk_t c;
            memcpy(&c, mp + at, sizeof c);
            /* chunks live before the meta region: fixing them first keeps the meta CRC right */
            if (seg_in(f.meta_off, c.off, c.clen))
                c.crc = vg_crc32c(0, p + c.off, c.clen);
            if (seg_in(f.meta_off, c.sketch_off, c.sketch_len))
                c.sketch_crc = vg_crc32c(0, p + c.sketch_off, c.sketch_len);
            memcpy(mp + at, &c, sizeof c);
        }
        f.meta_crc = vg_crc32c(0, mp, f.meta_len);
    }
    memcpy(fp, &f, F);
    vg_fuzz_put32(fp + offsetof(vg_fmt_seg_footer_t, crc),
                  vg_crc32c(0, fp, VG_FMT_SEG_FOOTER_CRC_LEN));
}

static void seg_failed(int rc, const vg_error_t *err, const char *what)
{
    VG_FUZZ_CHECK(rc == VG_ECORRUPT || rc == VG_EIO, "%s returned %d: %s", what, rc, err->msg);
    VG_FUZZ_CHECK(strstr(err->msg, "seg") != NULL, "%s: error does not name the file: %s", what,
                  err->msg);
}

static void seg_read_block(const vg_seg_t *s, uint32_t b, int64_t *ts, uint32_t *ids)
{
    vg_seg_blockinfo_t bi = vg_seg_block(s, b);
    vg_error_t err = {0};
    int rc = vg_seg_read_ts(s, b, ts, &err);
    if (rc != VG_OK)
        seg_failed(rc, &err, "vg_seg_read_ts");
    else
        for (uint32_t i = 0; i < bi.nrows; i++)
            VG_FUZZ_CHECK(ts[i] >= bi.ts_min && ts[i] <= bi.ts_max,
                          "block %u row %u: ts %lld outside [%lld, %lld]", b, i, (long long)ts[i],
                          (long long)bi.ts_min, (long long)bi.ts_max);
    rc = vg_seg_read_series(s, b, ids, &err);
    if (rc != VG_OK)
        seg_failed(rc, &err, "vg_seg_read_series");
    else
        for (uint32_t i = 0; i < bi.nrows; i++)
            VG_FUZZ_CHECK(ids[i] < vg_seg_nseries(s), "block %u row %u: series %u of %u", b, i,
                          ids[i], vg_seg_nseries(s));
    for (uint32_t c = 0; c < vg_seg_ncols(s); c++) {
        vg_colvec_t v;
        memset(&v, 0, sizeof v);
        rc = vg_seg_read_col(s, b, c, &v, &err);
        if (rc != VG_OK)
            seg_failed(rc, &err, "vg_seg_read_col");
        else
            VG_FUZZ_CHECK(v.n == bi.nrows, "block %u column %u: %zu values of %u rows", b, c,
                          (size_t)v.n, bi.nrows);
        vg_colvec_free(&v);
        vg_seg_block_stats(s, b, c);
        vg_sketch_t sk;
        vg_sketch_init(&sk);
        rc = vg_seg_block_sketch(s, b, c, &sk, &err);
        if (rc != VG_OK && rc != VG_ENOTFOUND)
            seg_failed(rc, &err, "vg_seg_block_sketch");
        else if (rc == VG_OK)
            vg_sketch_quantile(&sk, 0.99);
        vg_sketch_reset(&sk);
    }
}

int vg_fuzz_segment(const uint8_t *data, size_t size)
{
    if (!seg_io) {
        vg_io_opts_t o = {.kind = VG_IO_POSIX};
        VG_FUZZ_CHECK(vg_io_create(&o, &seg_io, NULL) == VG_OK, "vg_io_create");
        atexit(seg_io_free);
    }
    char dir[4200], path[4400];
    vg_fuzz_dir("seg", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/llm_request-1.seg", dir);
    uint8_t *buf = malloc(size + 1);
    VG_FUZZ_CHECK(buf != NULL, "harness out of memory");
    if (size)
        memcpy(buf, data, size);
    seg_fix(buf, size);
    vg_fuzz_write(path, buf, size);
    free(buf);

    vg_seg_t *s = NULL;
    vg_error_t err = {0};
    int rc = vg_seg_open(seg_io, path, &s, &err);
    if (rc != VG_OK) {
        seg_failed(rc, &err, "vg_seg_open");
        return 0;
    }
    VG_FUZZ_CHECK(vg_seg_table(s) != NULL, "no table name");
    for (uint32_t i = 0; i < vg_seg_nseries(s); i++) {
        vg_seg_series_t t;
        if (vg_seg_series(s, i, &t) == VG_OK)
            for (uint32_t k = 0; k < t.ntags; k++)
                VG_FUZZ_CHECK(t.keys[k] && t.vals[k], "series %u tag %u", i, k);
    }
    for (uint32_t c = 0; c < vg_seg_ncols(s); c++) {
        vg_seg_colinfo_t ci = vg_seg_col(s, c);
        VG_FUZZ_CHECK(ci.name != NULL, "column %u without a name", c);
        VG_FUZZ_CHECK(vg_seg_col_find(s, ci.name) >= 0, "column '%s' not found by name", ci.name);
    }
    uint32_t cap = vg_seg_max_block_rows(s);
    int64_t *ts = malloc(((size_t)cap + 1) * sizeof *ts);
    uint32_t *ids = malloc(((size_t)cap + 1) * sizeof *ids);
    VG_FUZZ_CHECK(ts && ids, "harness out of memory (%u rows)", cap);
    for (uint32_t b = 0; b < vg_seg_nblocks(s); b++) {
        VG_FUZZ_CHECK(vg_seg_block(s, b).nrows <= cap, "block %u over max_block_rows", b);
        seg_read_block(s, b, ts, ids);
    }
    free(ts);
    free(ids);
    vg_seg_close(s);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_segment(data, size);
}
#endif
