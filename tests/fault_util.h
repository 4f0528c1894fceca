/*
 * fault_util.h: what the fault suites (test_faults.c, test_powerloss.c)
 * share: a temp folder, a short workload of numbered batches on an embedded
 * vg_db, and the oracle of reliability.md part b checked against it.
 *
 * Batch b holds FU_ROWS rows of table "m": seq = b*FU_ROWS + i (unique
 * timestamps), h = a hash of seq. The oracle (fu_check) reads every row back
 * and requires: every acknowledged batch present with exact values (P1), no
 * point twice (P2), every batch whole or absent (P3), no batch answered with
 * an error present (P4, when asked).
 * The soak convention: VG_SOAK=1 sweeps everything, VG_SEED, VG_SOAK_FROM and
 * VG_SOAK_COUNT restrict it; the suite prints one RELIABILITY line per name.
 */
#ifndef VG_TESTS_FAULT_UTIL_H
#define VG_TESTS_FAULT_UTIL_H

#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_int.h"
#include "io.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_db.h"

#define FU_ROWS        4
#define FU_MAX_BATCHES 64

enum { FU_UNSENT = 0, FU_ACKED, FU_ERR, FU_INDET };

typedef struct fu_run {
    char dir[512];
    int kind;     /* vg_db_opts.io_kind: 1 io_uring, 2 posix */
    int64_t base; /* ts of seq 0 */
    int state[FU_MAX_BATCHES];
    int nbatches;
} fu_run_t;

static inline unsigned long fu_env(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoul(v, NULL, 10) : dflt;
}

static inline int fu_soak(void)
{
    return fu_env("VG_SOAK", 0) != 0;
}

static inline uint64_t fu_hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x & 0x7fffffffffffull;
}

static inline int fu_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static inline void fu_rmrf(const char *dir)
{
    nftw(dir, fu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, empty folder for one iteration. */
static inline void fu_fresh(fu_run_t *r, const char *tag)
{
    const char *b = getenv("VG_TEST_TMP");
    if (!b || !*b)
        b = "/tmp";
    mkdir(b, 0755);
    snprintf(r->dir, sizeof r->dir, "%s/%s.%d", b, tag, (int)getpid());
    fu_rmrf(r->dir);
    memset(r->state, 0, sizeof r->state);
    r->nbatches = 0;
    if (!r->base)
        r->base = (vg_now_ns() / 1000000000 - 7200) * 1000000000;
}

static inline void fu_opts(const fu_run_t *r, vg_db_opts_t *o)
{
    vg_db_opts_default(o);
    o->background = 0;
    o->io_kind = r->kind;
    o->compact_min_segments = 2;
    o->wal_segment_bytes = 1u << 20;
}

/* The line protocol of batch b. */
static inline size_t fu_batch(const fu_run_t *r, int b, char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < FU_ROWS; i++) {
        uint64_t seq = (uint64_t)b * FU_ROWS + (uint64_t)i;
        n += (size_t)snprintf(out + n, cap - n,
                              "m,conn=c%d seq=%" PRIu64 "i,h=%" PRIu64 "i %" PRId64 "\n", b % 2,
                              seq, fu_hash(seq), r->base + (int64_t)seq * 1000);
    }
    return n;
}

/* Write batch b; records its outcome. Returns the write's result. */
static inline int fu_write(fu_run_t *r, vg_db_t *db, int b, vg_error_t *err)
{
    char buf[1024];
    size_t n = fu_batch(r, b, buf, sizeof buf);
    vg_write_result_t res;
    int rc = vg_db_write_lp(db, buf, n, NULL, &res, err);
    vg_write_result_free(&res);
    if (b >= r->nbatches)
        r->nbatches = b + 1;
    r->state[b] = rc == VG_OK ? FU_ACKED : FU_ERR;
    return rc;
}

/*
 * The oracle. strict_err: a batch answered with an error must be absent
 * (P4); otherwise it counts as indeterminate (whole or absent). Returns the
 * number of violations and prints each.
 */
static inline int fu_check(const fu_run_t *r, vg_db_t *db, int strict_err, const char *ctx)
{
    int bad = 0;
    int seen[FU_MAX_BATCHES * FU_ROWS] = {0};
    vg_rows_t *it = NULL;
    vg_error_t err = {0};
    int rc = vg_rows_open(db, "m", INT64_MIN, INT64_MAX, &it, &err);
    if (rc == VG_ENOTFOUND || (rc != VG_OK && strstr(err.msg, "no table"))) {
        it = NULL; /* no table at all: nothing was kept */
    } else if (rc != VG_OK) {
        printf("%s: rows_open: %s\n", ctx, err.msg);
        return 1;
    }
    vg_row_t row;
    while (it && (rc = vg_rows_next(it, &row, &err)) == 1) {
        int64_t seq = -1, h = -1;
        for (size_t f = 0; f < row.nfields; f++) {
            if (!strcmp(row.field_keys[f], "seq"))
                seq = row.field_vals[f].i;
            else if (!strcmp(row.field_keys[f], "h"))
                h = row.field_vals[f].i;
        }
        if (seq < 0 || seq >= (int64_t)(FU_MAX_BATCHES * FU_ROWS) ||
            row.ts != r->base + seq * 1000 || h != (int64_t)fu_hash((uint64_t)seq)) {
            printf("%s: wrong row ts=%" PRId64 " seq=%" PRId64 " h=%" PRId64 "\n", ctx, row.ts, seq,
                   h);
            bad++;
            continue;
        }
        if (seen[seq]++) {
            printf("%s: seq %" PRId64 " twice (P2)\n", ctx, seq);
            bad++;
        }
    }
    if (it && rc < 0) {
        printf("%s: rows_next: %s\n", ctx, err.msg);
        bad++;
    }
    vg_rows_close(it);
    for (int b = 0; b < FU_MAX_BATCHES; b++) {
        int present = 0;
        for (int i = 0; i < FU_ROWS; i++)
            present += seen[b * FU_ROWS + i] != 0;
        int st = b < r->nbatches ? r->state[b] : FU_UNSENT;
        if (present != 0 && present != FU_ROWS) {
            printf("%s: batch %d partly present (%d of %d rows, P3)\n", ctx, b, present, FU_ROWS);
            bad++;
        } else if (st == FU_ACKED && present == 0) {
            printf("%s: acknowledged batch %d lost (P1)\n", ctx, b);
            bad++;
        } else if (st == FU_UNSENT && present) {
            printf("%s: batch %d never sent but present\n", ctx, b);
            bad++;
        } else if (st == FU_ERR && strict_err && present) {
            printf("%s: batch %d answered with an error is present (P4)\n", ctx, b);
            bad++;
        }
    }
    return bad;
}

static inline void fu_report(const char *suite, unsigned long it, unsigned long faults,
                             unsigned long failures)
{
    printf("RELIABILITY suite=%s iterations=%lu faults=%lu failures=%lu\n", suite, it, faults,
           failures);
    fflush(stdout);
}

#endif
