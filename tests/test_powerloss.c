/*
 * test_powerloss.c: simulated power loss at every fsync boundary of a short
 * workload (reliability.md row 2, the in-process fault FS).
 *
 * The workload writes numbered batches into an embedded vg_db, seals (which
 * truncates the WAL), compacts and seals again. For boundary k the I/O
 * layer's power-loss mode cuts the power just before the kth fsync-family
 * operation after open (vg_io_power_loss_at): every write not covered by a
 * successful fsync of its file, and every create/rename/unlink not covered
 * by an fsync of its folder, is dropped, or torn at a 512-byte boundary
 * (seeded). The layer then refuses every change, the workload stops at its
 * first error, and a fresh open must recover: every acknowledged batch
 * present with its values, no duplicates, batches whole (fault_util.h).
 * The boundaries inside vg_db_open itself are covered the way a real crash
 * happens: a child process runs with VIGIL_CRASH_AT=io.fsync:<k> and
 * VIGIL_POWER_LOSS=drop|tear, which cut the power and _exit at that fsync.
 *
 * Sample: every boundary, drop and one tear seed, posix and io_uring (when a
 * ring can be set up). VG_SOAK=1: every boundary, both modes, 8 seeds from
 * VG_SEED; VG_SOAK_FROM / VG_SOAK_COUNT slice the seeds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/wait.h>

#include "fault_util.h"

static unsigned long g_iter, g_faults, g_fail;

/* Seal, compact and truncate the WAL between batches; stop at the first error. */
static void workload(fu_run_t *r, vg_db_t *db, int report_fd)
{
    static const char plan[] =
        "bbbFbbFCbbFb"; /* b: batch, F: flush (seal+WAL truncate), C: compact */
    vg_error_t err = {0};
    int b = 0;
    for (const char *p = plan; *p; p++) {
        int rc;
        if (*p == 'b') {
            rc = fu_write(r, db, b, &err);
            if (rc == VG_OK && report_fd >= 0) {
                unsigned char c = (unsigned char)b;
                if (write(report_fd, &c, 1) != 1)
                    _exit(3);
            }
            b++;
        } else if (*p == 'F') {
            rc = vg_db_flush(db, &err);
        } else {
            rc = vg_db_compact(db, &err);
        }
        if (rc != VG_OK)
            return;
    }
}

/* Reopen after the cut and check the oracle; returns violations. */
static int recover_and_check(fu_run_t *r, const char *ctx)
{
    vg_db_opts_t o;
    fu_opts(r, &o);
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    int rc = vg_db_open(r->dir, &o, &db, &err);
    if (rc != VG_OK) {
        printf("%s: recovery refused: %s\n", ctx, err.msg);
        return 1;
    }
    int bad = fu_check(r, db, 0, ctx);
    rc = vg_db_close(db, &err);
    if (rc != VG_OK) {
        printf("%s: close after recovery: %s\n", ctx, err.msg);
        bad++;
    }
    return bad;
}

/* Boundaries of the whole workload after open (a dry run), or 0 when the backend is missing. */
static unsigned long count_boundaries(fu_run_t *r)
{
    fu_fresh(r, "powerloss");
    setenv("VIGIL_POWER_LOSS", "drop", 1);
    vg_db_opts_t o;
    fu_opts(r, &o);
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    unsigned long n = 0;
    if (vg_db_open(r->dir, &o, &db, &err) == VG_OK) {
        vg_io_t *io = vg__db_io(db);
        unsigned long b0 = vg_io_power_boundaries(io);
        workload(r, db, -1);
        n = vg_io_power_boundaries(io) - b0;
        vg_db_close(db, NULL);
    }
    unsetenv("VIGIL_POWER_LOSS");
    fu_rmrf(r->dir);
    return n;
}

static void one_cut(fu_run_t *r, unsigned long k, int mode, uint64_t seed)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "powerloss %s k=%lu %s seed=%" PRIu64,
             r->kind == 1 ? "uring" : "posix", k, mode == VG_IO_POWER_DROP ? "drop" : "tear", seed);
    fu_fresh(r, "powerloss");
    setenv("VIGIL_POWER_LOSS", "drop", 1); /* tracking from the first write */
    vg_db_opts_t o;
    fu_opts(r, &o);
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    int rc = vg_db_open(r->dir, &o, &db, &err);
    unsetenv("VIGIL_POWER_LOSS");
    g_iter++;
    if (rc != VG_OK) {
        printf("%s: open: %s\n", ctx, err.msg);
        g_fail++;
        return;
    }
    vg_io_power_loss_at(vg__db_io(db), k, mode, seed);
    workload(r, db, -1);
    g_faults++;
    vg_db_close(db, NULL); /* fails: the power is off */
    int bad = recover_and_check(r, ctx);
    g_fail += bad > 0;
    fu_rmrf(r->dir);
}

/* A real crash inside vg_db_open or later: VIGIL_CRASH_AT=io.fsync:k in a child. */
static void one_child_cut(fu_run_t *r, unsigned long k, const char *mode, uint64_t seed)
{
    char ctx[160], at[64], sd[32];
    snprintf(ctx, sizeof ctx, "powerloss child %s k=%lu %s", r->kind == 1 ? "uring" : "posix", k,
             mode);
    fu_fresh(r, "powerloss_child");
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        snprintf(at, sizeof at, "io.fsync:%lu", k);
        snprintf(sd, sizeof sd, "%" PRIu64, seed);
        setenv("VIGIL_CRASH_AT", at, 1);
        setenv("VIGIL_POWER_LOSS", mode, 1);
        setenv("VIGIL_POWER_LOSS_SEED", sd, 1);
        vg_db_opts_t o;
        fu_opts(r, &o);
        vg_db_t *db = NULL;
        if (vg_db_open(r->dir, &o, &db, NULL) == VG_OK)
            workload(r, db, p[1]);
        _exit(0); /* no crash: k was past the workload */
    }
    close(p[1]);
    unsigned char c;
    while (read(p[0], &c, 1) == 1)
        if (c < FU_MAX_BATCHES)
            r->state[c] = FU_ACKED;
    close(p[0]);
    r->nbatches = FU_MAX_BATCHES;
    for (int b = 0; b < FU_MAX_BATCHES; b++)
        if (r->state[b] != FU_ACKED)
            r->state[b] = FU_INDET;
    int st = 0;
    waitpid(pid, &st, 0);
    g_iter++;
    g_faults += WIFEXITED(st) && WEXITSTATUS(st) == VG_CRASH_EXIT;
    int bad = recover_and_check(r, ctx);
    g_fail += bad > 0;
    fu_rmrf(r->dir);
}

static void sweep(int kind)
{
    fu_run_t r = {.kind = kind};
    unsigned long K = count_boundaries(&r);
    if (K == 0) {
        printf("powerloss: backend %d unavailable here: skipped\n", kind);
        return;
    }
    uint64_t seed0 = fu_env("VG_SEED", 1);
    unsigned long nseeds = fu_soak() ? 8 : 1;
    unsigned long from = fu_env("VG_SOAK_FROM", 0), count = fu_env("VG_SOAK_COUNT", nseeds);
    /* the seedless part (drop, and the cuts inside open) belongs to the
     * slice that starts at seed 0, so that later slices do not repeat it */
    for (unsigned long k = 1; from == 0 && k <= K; k++)
        one_cut(&r, k, VG_IO_POWER_DROP, 0);
    for (unsigned long s = from; s < from + count && s < nseeds; s++)
        for (unsigned long k = 1; k <= K; k++)
            one_cut(&r, k, VG_IO_POWER_TEAR, seed0 + s);
    /* the boundaries inside open, and a few after, through the environment */
    unsigned long kc = fu_soak() ? K + 4 : 6;
    for (unsigned long k = 1; from == 0 && k <= kc; k++) {
        one_child_cut(&r, k, "drop", 0);
        one_child_cut(&r, k, "tear", seed0 + k);
    }
}

static void test_powerloss_at_every_fsync_boundary(void **state)
{
    (void)state;
    sweep(2);
    sweep(1);
    fu_report("powerloss", g_iter, g_faults, g_fail);
    assert_true(g_iter > 0 || fu_env("VG_SOAK_FROM", 0) > 0); /* a slice past the seeds: none */
    assert_int_equal(g_fail, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_powerloss_at_every_fsync_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
