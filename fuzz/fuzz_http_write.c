/*
 * fuzz_http_write.c: libFuzzer target for the body handling of vigild's
 * POST /write and /api/v2/write (server/http_write.c): the body decoder
 * (plain or gzip, fed in pieces as libmicrohttpd hands them over, within a
 * limit of decoded bytes), the precision argument, the write of the decoded
 * line protocol into a database (vg_db_write_lp, as the handler calls it)
 * and the partial-write reply that quotes each rejected line.
 *
 * Input: byte 0 chooses the encoding and the limit, byte 1 the piece size,
 * the precision and v1/v2; the rest is the body:
 *   byte0 & 3:  0 plain; 1 the bytes are a gzip stream as a client sent it;
 *               2 the harness gzips them (one member); 3 two members
 *   byte0 & 4:  a 200-byte limit instead of 1 MiB
 *   byte1 & 15: piece size 1 + 97 * n; byte1 >> 4: the precision argument
 *
 * Oracles: a plain or harness-gzipped body within the limit decodes to
 * exactly the input; one over the limit is refused with 413 and never held
 * beyond limit + 1 bytes; the write returns OK or a status the handler maps
 * (and counts every line as a row or a rejection); the partial-write reply
 * is JSON whose data lists each kept error (plus one "more" entry).
 */
#include <zlib.h>

#include "fuzz.h"
#include "http_int.h"
#include "vigil/vigil.h"

#define HW_LIMIT_BIG    (1u << 20)
#define HW_LIMIT_SMALL  200u
#define HW_REOPEN_EVERY 500 /* a fresh database now and then, so the heads stay small */

static vg_db_t *hw_db;
static unsigned hw_uses;

static void hw_db_close(void)
{
    vg_db_close(hw_db, NULL);
    hw_db = NULL;
}

static vg_db_t *hw_open_db(void)
{
    if (hw_db && hw_uses++ < HW_REOPEN_EVERY)
        return hw_db;
    if (hw_db)
        hw_db_close();
    else
        atexit(hw_db_close);
    hw_uses = 0;
    char dir[4200];
    vg_fuzz_dir("http-db", dir, sizeof dir);
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.wal_sync = VG_WAL_SYNC_NONE;
    o.background = 0;
    o.io_kind = 2;
    o.max_batch_bytes = HW_LIMIT_BIG;
    vg_error_t err = {0};
    VG_FUZZ_CHECK(vg_db_open(dir, &o, &hw_db, &err) == VG_OK, "vg_db_open: %s", err.msg);
    return hw_db;
}

/* gzip src into members gzip members (as `cat a.gz b.gz` would). */
static uint8_t *hw_gzip(const uint8_t *src, size_t n, int members, size_t *out_len)
{
    size_t cap = 64 + 2 * (compressBound((uLong)n) + 64), len = 0;
    uint8_t *out = malloc(cap);
    VG_FUZZ_CHECK(out != NULL, "harness out of memory");
    size_t cut = members > 1 ? n / 2 : n;
    for (int m = 0; m < members; m++) {
        const uint8_t *p = m ? src + cut : src;
        size_t pn = m ? n - cut : cut;
        z_stream z;
        memset(&z, 0, sizeof z);
        VG_FUZZ_CHECK(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ==
                          Z_OK,
                      "deflateInit2");
        z.next_in = (Bytef *)(uintptr_t)p;
        z.avail_in = (uInt)pn;
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        VG_FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
        len = cap - z.avail_out;
        deflateEnd(&z);
    }
    *out_len = len;
    return out;
}

static void hw_check_reply(const vg_http_req_t *r, const vg_write_result_t *res)
{
    json_t *j = vg_http_write_partial(r->body, r->len, res);
    VG_FUZZ_CHECK(j != NULL, "no partial-write reply");
    json_t *data = json_object_get(j, "data");
    size_t want = res->nerrors + (res->rejected > res->nerrors);
    VG_FUZZ_CHECK(json_is_array(data) && json_array_size(data) == want,
                  "reply lists %zu entries, want %zu", json_array_size(data), want);
    for (size_t i = 0; i < res->nerrors; i++) {
        json_t *e = json_array_get(data, i);
        const char *line = json_string_value(json_object_get(e, "original_line"));
        VG_FUZZ_CHECK(line != NULL && strlen(line) <= 4096, "entry %zu: original_line", i);
        VG_FUZZ_CHECK(json_integer_value(json_object_get(e, "line_number")) ==
                          (json_int_t)res->errors[i].lineno,
                      "entry %zu: line_number", i);
    }
    char *text = json_dumps(j, JSON_COMPACT);
    VG_FUZZ_CHECK(text != NULL, "the reply does not serialise");
    free(text);
    json_decref(j);
}

static void hw_write(vg_http_req_t *r, unsigned argb, int v2)
{
    static const char *const precs[16] = {"",  "ns", "n", "u",  "us",  "µ", "ms", "s",
                                          "m", "h",  "x", "NS", "sec", "1", "",   ""};
    vg_write_opts_t o = {.precision = VG_PREC_NS, .first_lineno = 1, .max_errors = 1000};
    const char *prec = precs[argb >> 4];
    if (*prec && vg_lp_precision_parse(prec, !v2, &o.precision) != VG_OK)
        return; /* the handler answers 400 */
    vg_write_result_t res = {0};
    vg_error_t err = {0};
    int rc = vg_db_write_lp(hw_open_db(), r->body ? r->body : "", r->len, &o, &res, &err);
    if (rc != VG_OK) {
        VG_FUZZ_CHECK(rc == VG_ELIMIT || rc == VG_EINVAL || rc == VG_EPARSE || rc == VG_ENOMEM,
                      "vg_db_write_lp returned %d: %s", rc, err.msg);
        vg_write_result_free(&res);
        return;
    }
    VG_FUZZ_CHECK(res.nerrors <= res.rejected && res.nerrors <= 1000,
                  "%zu errors kept of %llu rejected", res.nerrors,
                  (unsigned long long)res.rejected);
    VG_FUZZ_CHECK(res.rows + res.rejected <= res.lines, "%llu rows + %llu rejected > %llu lines",
                  (unsigned long long)res.rows, (unsigned long long)res.rejected,
                  (unsigned long long)res.lines);
    if (res.rejected)
        hw_check_reply(r, &res);
    vg_write_result_free(&res);
}

int vg_fuzz_http_write(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3, argb = data[1];
    uint64_t limit = data[0] & 4 ? HW_LIMIT_SMALL : HW_LIMIT_BIG;
    const uint8_t *src = data + 2;
    size_t n = size - 2, piece = 1 + 97 * (size_t)(argb & 15);
    uint8_t *gz = NULL;
    const uint8_t *wire = src;
    size_t wire_len = n;
    if (mode >= 2)
        wire = gz = hw_gzip(src, n, mode == 3 ? 2 : 1, &wire_len);

    vg_http_req_t r = {0};
    vg_http_body_t b;
    VG_FUZZ_CHECK(vg_http_body_start(&b, mode != 0) == 0, "vg_http_body_start");
    for (size_t off = 0; off < wire_len; off += piece) {
        size_t k = wire_len - off < piece ? wire_len - off : piece;
        vg_http_body_take(&r, &b, (const char *)wire + off, k, limit);
        VG_FUZZ_CHECK(r.cap <= limit + 1 && r.len <= r.cap, "holding %zu of %zu bytes (limit %llu)",
                      r.len, r.cap, (unsigned long long)limit);
    }
    char why[300] = "";
    unsigned st = vg_http_body_end(&r, &b, limit, why, sizeof why);
    VG_FUZZ_CHECK(st == 0 || ((st == 413 || st == 400 || st == 500) && why[0]), "body end: %u '%s'",
                  st, why);
    if (mode != 1) { /* the decoded body is known: the input itself */
        if (n > limit)
            VG_FUZZ_CHECK(st == 413, "%zu bytes over a limit of %llu: status %u", n,
                          (unsigned long long)limit, st);
        else
            VG_FUZZ_CHECK(st == 0 && r.len == n && (n == 0 || memcmp(r.body, src, n) == 0) &&
                              r.body[n] == '\0',
                          "a %zu-byte body (mode %u) decoded to %zu bytes: %u '%s'", n, mode, r.len,
                          st, why);
    }
    if (st == 0)
        hw_write(&r, argb, (data[0] & 8) != 0);
    vg_http_body_free(&b);
    vg_free(r.body);
    free(gz);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_http_write(data, size);
}
#endif
