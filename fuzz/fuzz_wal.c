/*
 * fuzz_wal.c: libFuzzer target for the WAL record decoder (engine/wal.h):
 * file headers, record framing, checksums, LZ4 payloads, torn tails.
 *
 * The input is the bytes of WAL files: one file, or several concatenated
 * (a file magic "VGWAL\0\0\1" past offset 0 starts the next file). Before
 * writing them the harness recomputes every checksum it can locate (the
 * file header's, then each record's while the framing holds), so that the
 * fuzzer gets past the CRCs into the framing and payload code; the bytes
 * after the first broken frame keep their checksums, so torn tails and
 * damage in the middle are reached too. Each payload goes through the
 * line-protocol parser, as recovery does.
 *
 * Oracles: vg_wal_replay returns OK or VG_ECORRUPT (naming a file) and
 * nothing else; after a replay that cut a torn tail, a second replay finds
 * no torn bytes and the same records; vg_wal_count_after never fails.
 */
#include "../engine/crc32c.h"
#include "../engine/wal.h"
#include "fuzz.h"
#include "vigil/vg_lp.h"

static vg_io_t *wal_io;

static void wal_io_free(void)
{
    vg_io_destroy(wal_io);
    wal_io = NULL;
}

/* Recompute the checksums of one file's bytes in place. */
static void wal_fix(uint8_t *p, size_t n)
{
    if (n < VG_WAL_FILE_HEADER || memcmp(p, VG_WAL_FILE_MAGIC, 8) != 0)
        return;
    vg_fuzz_put32(p + 12, vg_crc32c(0, p, 12));
    for (size_t off = VG_WAL_FILE_HEADER; n - off >= VG_WAL_REC_HEADER;) {
        if (vg_fuzz_get32(p + off) != VG_WAL_REC_MAGIC)
            return;
        uint32_t clen = vg_fuzz_get32(p + off + 16);
        if (clen > n - off - VG_WAL_REC_HEADER)
            return;
        vg_fuzz_put32(p + off + 4, vg_crc32c(0, p + off + 8, VG_WAL_REC_HEADER - 8 + clen));
        off += VG_WAL_REC_HEADER + clen;
    }
}

typedef struct wal_seen {
    uint64_t records, lines, last_lsn;
} wal_seen_t;

static int wal_payload(void *ctx, uint64_t lsn, const char *payload, size_t len, vg_error_t *err)
{
    (void)err;
    wal_seen_t *s = ctx;
    VG_FUZZ_CHECK(lsn > s->last_lsn, "LSN %llu after %llu", (unsigned long long)lsn,
                  (unsigned long long)s->last_lsn);
    VG_FUZZ_CHECK(payload || len == 0, "a NULL payload of %zu bytes", len);
    s->last_lsn = lsn;
    s->records++;
    vg_lp_parser_t p;
    vg_lp_init(&p, NULL, VG_PREC_NS);
    vg_lp_feed(&p, payload, len);
    vg_lp_line_t *ln;
    vg_lp_error_t e;
    int rc;
    while ((rc = vg_lp_next(&p, &ln, &e)) != 0)
        s->lines += rc == 1;
    vg_lp_reset(&p);
    return VG_OK;
}

int vg_fuzz_wal(const uint8_t *data, size_t size)
{
    if (!wal_io) {
        vg_io_opts_t o = {.kind = VG_IO_POSIX};
        VG_FUZZ_CHECK(vg_io_create(&o, &wal_io, NULL) == VG_OK, "vg_io_create");
        atexit(wal_io_free);
    }
    char dir[4200], path[4400];
    vg_fuzz_dir("wal", dir, sizeof dir);
    uint8_t *buf = malloc(size + 1);
    VG_FUZZ_CHECK(buf != NULL, "harness out of memory");
    if (size)
        memcpy(buf, data, size);
    /* Cut into files at each file magic after the first byte. */
    size_t start = 0;
    unsigned nfiles = 0;
    while (start < size || nfiles == 0) {
        size_t end = size;
        for (size_t i = start + 1; i + 8 <= size; i++)
            if (buf[i] == 'V' && memcmp(buf + i, VG_WAL_FILE_MAGIC, 8) == 0) {
                end = i;
                break;
            }
        wal_fix(buf + start, end - start);
        snprintf(path, sizeof path, "%s/%016x.wal", dir, ++nfiles);
        vg_fuzz_write(path, buf + start, end - start);
        uint64_t recs = 0, lines = 0;
        vg_error_t err = {0};
        VG_FUZZ_CHECK(vg_wal_count_after(wal_io, path, 0, &recs, &lines, &err) == VG_OK,
                      "vg_wal_count_after: %s", err.msg);
        start = end;
        if (nfiles >= 16)
            break; /* enough files; the rest is ignored */
    }
    free(buf);

    vg_wal_replay_report_t rep;
    vg_error_t err = {0};
    wal_seen_t seen = {0};
    int rc = vg_wal_replay(wal_io, dir, 0, 1, wal_payload, &seen, &rep, &err);
    VG_FUZZ_CHECK(rc == VG_OK || rc == VG_ECORRUPT, "vg_wal_replay returned %d: %s", rc, err.msg);
    if (rc == VG_ECORRUPT) {
        VG_FUZZ_CHECK(rep.bad_file[0] && strstr(err.msg, "WAL file"), "corruption not located: %s",
                      err.msg);
        return 0;
    }
    VG_FUZZ_CHECK(rep.records == seen.records, "report says %llu records, %llu seen",
                  (unsigned long long)rep.records, (unsigned long long)seen.records);
    VG_FUZZ_CHECK(rep.files == nfiles, "%llu files replayed of %u", (unsigned long long)rep.files,
                  nfiles);
    /* The tail is cut: reading again finds the same records, nothing torn. */
    vg_wal_replay_report_t again;
    wal_seen_t seen2 = {0};
    rc = vg_wal_replay(wal_io, dir, 0, 1, wal_payload, &seen2, &again, &err);
    VG_FUZZ_CHECK(rc == VG_OK, "replay after the cut returned %d: %s", rc, err.msg);
    VG_FUZZ_CHECK(again.torn_bytes == 0, "%llu torn bytes after the cut",
                  (unsigned long long)again.torn_bytes);
    VG_FUZZ_CHECK(again.records == rep.records && seen2.lines == seen.lines &&
                      again.last_lsn == rep.last_lsn,
                  "replay after the cut: %llu records (was %llu)",
                  (unsigned long long)again.records, (unsigned long long)rep.records);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_wal(data, size);
}
#endif
