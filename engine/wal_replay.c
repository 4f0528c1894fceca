/*
 * wal_replay.c: reading the write-ahead log back (wal.h): recovery's replay,
 * which tells a torn tail (cut) from damage (an error naming file and
 * offset) and from records missing without a trace (an LSN gap), and the
 * two helpers `vigil repair` uses, vg_wal_count_after and vg_wal_fill_gap.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "vigil/vg_alloc.h"
#include "wal_int.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct seqs {
    uint64_t *v;
    size_t n, cap;
} seqs_t;

static int add_seq(void *ctx, const char *name)
{
    seqs_t *sq = ctx;
    char *end;
    uint64_t seq = strtoull(name, &end, 16);
    if (strlen(name) != 20 || end != name + 16)
        return VG_OK; /* not a WAL file of ours */
    if (sq->n == sq->cap) {
        size_t ncap = sq->cap ? sq->cap * 2 : 16;
        uint64_t *nv = vg_realloc(sq->v, ncap * sizeof *nv);
        if (!nv)
            return VG_ENOMEM;
        sq->v = nv;
        sq->cap = ncap;
    }
    sq->v[sq->n++] = seq;
    return VG_OK;
}

int vg_wal_list_files(vg_io_t *io, const char *dir, uint64_t **out, size_t *n, vg_error_t *err)
{
    seqs_t sq = {0};
    int rc = vg_io_list(io, dir, ".wal", add_seq, &sq, err);
    if (rc) {
        vg_free(sq.v);
        return rc == VG_ENOMEM ? vg_error_set(err, VG_ENOMEM, "listing WAL folder %s", dir) : rc;
    }
    if (sq.n)
        qsort(sq.v, sq.n, sizeof *sq.v, cmp_u64);
    *out = sq.v;
    *n = sq.n;
    return VG_OK;
}

/* Does a complete, valid record start at off? */
static int record_ok(const uint8_t *p, size_t size, size_t off)
{
    if (size - off < VG_WAL_REC_HEADER || get_u32(p + off) != VG_WAL_REC_MAGIC)
        return 0;
    uint32_t clen = get_u32(p + off + VG_WAL_OFF_CLEN);
    if (clen > VG_WAL_MAX_RECORD || clen > size - off - VG_WAL_REC_HEADER)
        return 0;
    return vg_crc32c(0, p + off + VG_WAL_OFF_LSN, VG_WAL_REC_HEADER - VG_WAL_OFF_LSN + clen) ==
           get_u32(p + off + VG_WAL_OFF_CRC);
}

/* A valid record anywhere in [from, size)? Distinguishes damage in the
 * middle of the last file (corruption) from a torn tail (nothing after). */
static int valid_record_after(const uint8_t *p, size_t size, size_t from)
{
    for (size_t o = from; o + VG_WAL_REC_HEADER <= size; o++)
        if (p[o] == 'V' && record_ok(p, size, o))
            return 1;
    return 0;
}

typedef struct replay_state {
    vg_io_t *io;
    const char *path;
    uint64_t after;
    uint64_t prev_lsn;
    /* The last record read, or the last file read when it held none: where
     * it ends is where records missing after it are named. */
    char prev_path[512];
    size_t prev_end;
    vg_wal_replay_fn fn;
    void *ctx;
    vg_wal_replay_report_t *rep;
    char *raw;
    size_t raw_cap;
} replay_state_t;

/*
 * LSNs run on by one across files, and the first above a seal's LSN
 * (after_lsn, when not 0) is the next one: a file is deleted only once a
 * seal covers all its records. A jump over LSNs above after_lsn means
 * records are gone without a trace a checksum can see: an older file cut
 * or zeroed exactly at a record boundary (its preallocated tail is zeros
 * anyway). Gaps at or below after_lsn are harmless: those records are
 * sealed, and a crash may undo the deletion of some of their files.
 */
static int check_gap(replay_state_t *st, uint64_t lsn, vg_error_t *err)
{
    uint64_t want = st->prev_lsn ? st->prev_lsn + 1 : st->after + 1;
    if ((st->prev_lsn == 0 && st->after == 0) || !st->prev_path[0] || lsn <= want ||
        lsn - 1 <= st->after)
        return VG_OK;
    vg_wal_replay_report_t *rep = st->rep;
    rep->gap_first = want > st->after ? want : st->after + 1;
    rep->gap_last = lsn - 1;
    snprintf(rep->gap_file, sizeof rep->gap_file, "%.500s", st->prev_path);
    snprintf(rep->bad_file, sizeof rep->bad_file, "%.500s", st->prev_path);
    rep->gap_offset = rep->bad_offset = st->prev_end;
    return vg_error_set(err, VG_ECORRUPT,
                        "WAL file %s: records %" PRIu64 " to %" PRIu64
                        " are missing at offset %" PRIu64 " (the file was cut or zeroed there)",
                        rep->bad_file, rep->gap_first, rep->gap_last, rep->bad_offset);
}

static int replay_record(replay_state_t *st, const uint8_t *h, vg_error_t *err, size_t off)
{
    uint64_t lsn = get_u64(h + VG_WAL_OFF_LSN);
    uint32_t clen = get_u32(h + VG_WAL_OFF_CLEN), rlen = get_u32(h + VG_WAL_OFF_RLEN),
             flags = get_u32(h + VG_WAL_OFF_FLAGS);
    if (lsn > st->prev_lsn && check_gap(st, lsn, err) != VG_OK)
        return VG_ECORRUPT;
    if (lsn <= st->prev_lsn || rlen > VG_WAL_MAX_RECORD)
        return vg_error_set(err, VG_ECORRUPT, "WAL file %s: record at offset %zu: %s", st->path,
                            off, lsn <= st->prev_lsn ? "LSN out of order" : "length too large");
    st->prev_lsn = lsn;
    if (lsn > st->rep->last_lsn)
        st->rep->last_lsn = lsn;
    if (lsn <= st->after) {
        st->rep->skipped++;
        return VG_OK;
    }
    const char *payload = (const char *)h + VG_WAL_REC_HEADER;
    size_t plen = clen;
    if (flags & 1) {
        if (rlen > st->raw_cap) {
            char *nr = vg_realloc(st->raw, rlen);
            if (!nr)
                return vg_error_set(err, VG_ENOMEM, "replaying the WAL");
            st->raw = nr;
            st->raw_cap = rlen;
        }
        int got = LZ4_decompress_safe(payload, st->raw, (int)clen, (int)rlen);
        if (got < 0 || (uint32_t)got != rlen)
            return vg_error_set(err, VG_ECORRUPT,
                                "WAL file %s: record at offset %zu does not decompress", st->path,
                                off);
        payload = st->raw;
        plen = rlen;
    }
    st->rep->records++;
    return st->fn ? st->fn(st->ctx, lsn, payload, plen, err) : VG_OK;
}

static void mark_bad(replay_state_t *st, size_t off)
{
    snprintf(st->rep->bad_file, sizeof st->rep->bad_file, "%.500s", st->path);
    st->rep->bad_offset = off;
}

static int cut_file(vg_io_t *io, const char *path, size_t at, vg_error_t *err)
{
    int fd, rc = vg_io_open(io, path, O_WRONLY | O_CLOEXEC, 0, &fd, err);
    if (rc)
        return rc;
    rc = vg_io_ftruncate(io, fd, (off_t)at, err);
    if (rc == VG_OK)
        rc = vg_io_fsync(io, fd, 0, err);
    vg_io_close(io, fd);
    return rc;
}

static int replay_file(replay_state_t *st, int last, int cut_tail, vg_error_t *err)
{
    vg_io_map_t m = {0};
    int rc = vg_io_map(st->io, st->path, &m, err);
    if (rc)
        return rc;
    const uint8_t *p = m.p;
    size_t size = m.len, off = VG_WAL_FILE_HEADER, bad = 0;
    int torn = 0;
    if (size < VG_WAL_FILE_HEADER || memcmp(p, VG_WAL_FILE_MAGIC, 8) != 0 ||
        get_u32(p + 12) != vg_crc32c(0, p, 12)) {
        if (!last) {
            vg_io_unmap(st->io, &m);
            mark_bad(st, 0);
            return vg_error_set(err, VG_ECORRUPT, "WAL file %s: bad header at offset 0", st->path);
        }
        torn = 1; /* a file created by a crash before its header was synced */
        bad = 0;
    }
    while (!torn && off < size) {
        if (!record_ok(p, size, off)) {
            /* zero bytes past the end are preallocated space, not damage */
            int zero_tail = 1;
            for (size_t i = off; i < size && zero_tail; i++)
                zero_tail = p[i] == 0;
            if (zero_tail)
                break;
            if (!last || valid_record_after(p, size, off + 1)) {
                vg_io_unmap(st->io, &m);
                mark_bad(st, off);
                return vg_error_set(err, VG_ECORRUPT,
                                    "WAL file %s: checksum mismatch at offset %zu", st->path, off);
            }
            torn = 1;
            bad = off;
            break;
        }
        rc = replay_record(st, p + off, err, off);
        if (rc == VG_ECORRUPT && !st->rep->gap_last)
            mark_bad(st, off);
        if (rc) {
            vg_io_unmap(st->io, &m);
            return rc;
        }
        off += VG_WAL_REC_HEADER + get_u32(p + off + VG_WAL_OFF_CLEN);
        snprintf(st->prev_path, sizeof st->prev_path, "%.500s", st->path);
        st->prev_end = off;
    }
    if (!torn && off == VG_WAL_FILE_HEADER) { /* a sound file without records */
        snprintf(st->prev_path, sizeof st->prev_path, "%.500s", st->path);
        st->prev_end = off;
    }
    vg_io_unmap(st->io, &m);
    if (torn) {
        st->rep->torn_bytes = size - bad;
        snprintf(st->rep->torn_file, sizeof st->rep->torn_file, "%.500s", st->path);
        if (cut_tail)
            rc = bad < VG_WAL_FILE_HEADER ? vg_io_unlink(st->io, st->path, err)
                                          : cut_file(st->io, st->path, bad, err);
    }
    return rc;
}

int vg_wal_replay(vg_io_t *io, const char *dir, uint64_t after_lsn, int cut_tail,
                  vg_wal_replay_fn fn, void *ctx, vg_wal_replay_report_t *rep, vg_error_t *err)
{
    memset(rep, 0, sizeof *rep);
    uint64_t *seqs = NULL;
    size_t n = 0;
    int rc = vg_wal_list_files(io, dir, &seqs, &n, err);
    if (rc)
        return rc;
    replay_state_t st = {.io = io, .after = after_lsn, .fn = fn, .ctx = ctx, .rep = rep};
    char path[4200];
    for (size_t i = 0; i < n && rc == VG_OK; i++) {
        file_path(dir, seqs[i], path, sizeof path);
        st.path = path;
        rc = replay_file(&st, i == n - 1, cut_tail, err);
        rep->files++;
        rep->last_seq = seqs[i];
    }
    vg_free(st.raw);
    vg_free(seqs);
    return rc;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    for (const char *e = p + n; p < e;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        lines += *p != '#' && *p != '\n';
        p = nl ? nl + 1 : e;
    }
    return lines;
}

int vg_wal_count_after(vg_io_t *io, const char *path, uint64_t off, uint64_t *records,
                       uint64_t *lines, vg_error_t *err)
{
    *records = *lines = 0;
    vg_io_map_t m = {0};
    int rc = vg_io_map(io, path, &m, err);
    if (rc)
        return rc;
    char *raw = NULL;
    for (size_t o = (size_t)off + 1; o + VG_WAL_REC_HEADER <= m.len;) {
        if (m.p[o] != 'V' || !record_ok(m.p, m.len, o)) {
            o++;
            continue;
        }
        const uint8_t *h = m.p + o;
        uint32_t clen = get_u32(h + VG_WAL_OFF_CLEN), rlen = get_u32(h + VG_WAL_OFF_RLEN);
        (*records)++;
        if (get_u32(h + VG_WAL_OFF_FLAGS) & 1) {
            char *nr = rlen <= VG_WAL_MAX_RECORD ? vg_realloc(raw, rlen + 1) : NULL;
            if (nr) {
                raw = nr;
                int got = LZ4_decompress_safe((const char *)h + VG_WAL_REC_HEADER, raw, (int)clen,
                                              (int)rlen);
                if (got > 0)
                    *lines += count_lines(raw, (size_t)got);
            }
        } else {
            *lines += count_lines((const char *)h + VG_WAL_REC_HEADER, clen);
        }
        o += VG_WAL_REC_HEADER + clen;
    }
    vg_free(raw);
    vg_io_unmap(io, &m);
    return VG_OK;
}

int vg_wal_fill_gap(vg_io_t *io, const char *path, uint64_t off, uint64_t first, uint64_t last,
                    vg_error_t *err)
{
    if (last < first || last - first >= (VG_WAL_MAX_RECORD / VG_WAL_REC_HEADER))
        return vg_error_set(err, VG_ECORRUPT, "WAL file %s: %" PRIu64 " records missing: too many",
                            path, last - first + 1);
    if (off < VG_WAL_FILE_HEADER)
        return vg_error_set(err, VG_EINVAL, "WAL file %s: no record ends at offset %" PRIu64, path,
                            off);
    size_t len = (size_t)(last - first + 1) * VG_WAL_REC_HEADER;
    uint8_t *b = vg_calloc(1, len);
    if (!b)
        return vg_error_set(err, VG_ENOMEM, "filling a WAL gap");
    for (uint64_t lsn = first; lsn <= last; lsn++) {
        uint8_t *r = b + (size_t)(lsn - first) * VG_WAL_REC_HEADER;
        put_u32(r, VG_WAL_REC_MAGIC);
        put_u64(r + VG_WAL_OFF_LSN, lsn); /* an empty payload: no rows */
        put_u32(r + VG_WAL_OFF_CRC,
                vg_crc32c(0, r + VG_WAL_OFF_LSN, VG_WAL_REC_HEADER - VG_WAL_OFF_LSN));
    }
    int fd, rc = vg_io_open(io, path, O_WRONLY | O_CLOEXEC, 0, &fd, err);
    if (rc == VG_OK) {
        rc = vg_io_ftruncate(io, fd, (off_t)off, err);
        if (rc == VG_OK)
            rc = vg_io_write_sync(io, fd, b, len, (off_t)off, err);
        vg_io_close(io, fd);
    }
    vg_free(b);
    return rc;
}
