/*
 * bench_ingest.c: the embedded write path end to end: parse + WAL (fdatasync
 * per batch) + head + seal, on `vigil simulate` output.
 *
 *   bench_ingest [--rows N] [--profile full|bench] [--batch BYTES] [--runs R]
 *                [--wal-sync full|none] [--dir DIR]
 *
 * The line protocol is generated once into a file (not timed). Each run is a
 * forked child that opens a fresh folder, reads the file in batches of whole
 * lines, writes them, seals everything (vg_db_flush) and closes; the parent
 * times it and takes its CPU time and peak RSS from wait4(). Prints each run
 * and the median.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simulate.h"
#include "vigil/vigil.h"

typedef struct opts {
    uint64_t rows;
    int profile;
    size_t batch;
    int runs;
    int wal_none;
    const char *dir;
    uint64_t seal_rows;
} opts_t;

typedef struct result {
    double wall, cpu;
    long rss_kb;
    uint64_t rows, disk;
} result_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write about o->rows rows of simulated traffic to path; returns bytes. */
static uint64_t generate(const opts_t *o, const char *path, uint64_t *rows)
{
    vg_sim_opts_t so;
    vg_sim_opts_default(&so);
    so.seed = 42;
    so.profile = o->profile ? VG_SIM_BENCH : VG_SIM_FULL;
    so.rate = 200;
    /* long enough for the rows asked for whatever the diurnal curve does; the
     * loop below stops at the row count */
    so.duration_ns = (int64_t)((double)o->rows / so.rate * 10 * 1e9); /* weekends run at half rate */
    so.start_ns = vg_now_ns() - so.duration_ns - 60 * VG_NS_PER_SEC;
    vg_sim_t *sim;
    vg_error_t err = {0};
    if (vg_sim_create(&so, &sim, &err) != VG_OK) {
        fprintf(stderr, "bench_ingest: %s\n", err.msg);
        exit(1);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 1u << 20, len;
    char *buf = malloc(cap);
    uint64_t bytes = 0;
    int more = 1;
    while (more && vg_sim_rows(sim) < o->rows) {
        more = vg_sim_next(sim, buf, cap, &len);
        fwrite(buf, 1, len, f);
        bytes += len;
    }
    *rows = vg_sim_rows(sim);
    free(buf);
    vg_sim_destroy(sim);
    fclose(f);
    return bytes;
}

static uint64_t dir_bytes(const char *dir)
{
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "du -sb '%s' 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long v = 0;
    if (p) {
        if (fscanf(p, "%llu", &v) != 1)
            v = 0;
        pclose(p);
    }
    return v;
}

/* The child: ingest the file into dir; exit 0 on success. */
static int child(const opts_t *o, const char *file, const char *dir)
{
    vg_db_opts_t dbo;
    vg_db_opts_default(&dbo);
    dbo.wal_sync = o->wal_none ? VG_WAL_SYNC_NONE : VG_WAL_SYNC_FULL;
    if (o->seal_rows)
        dbo.seal_rows = o->seal_rows;
    vg_db_t *db;
    vg_error_t err = {0};
    if (vg_db_open(dir, &dbo, &db, &err) != VG_OK) {
        fprintf(stderr, "bench_ingest: %s\n", err.msg);
        return 1;
    }
    double t_start = now_s();
    FILE *f = fopen(file, "rb");
    char *buf = malloc(o->batch + 1);
    size_t have = 0;
    uint64_t inflight = 0; /* one batch is synced while the next is parsed */
    int rc = 0;
    for (;;) {
        size_t got = fread(buf + have, 1, o->batch - have, f);
        have += got;
        if (have == 0)
            break;
        char *nl = memrchr(buf, '\n', have);
        size_t cut = nl ? (size_t)(nl - buf) + 1 : have;
        vg_write_result_t res;
        uint64_t ticket = 0;
        if (vg_db_write_lp_begin(db, buf, cut, NULL, &res, &ticket, &err) != VG_OK ||
            res.rejected || vg_db_write_wait(db, inflight, &err) != VG_OK) {
            fprintf(stderr, "bench_ingest: write failed: %s (%" PRIu64 " rejected)\n", err.msg,
                    res.rejected);
            rc = 1;
        }
        vg_write_result_free(&res);
        inflight = ticket;
        memmove(buf, buf + cut, have - cut);
        have -= cut;
        if (rc || (got == 0 && have == 0))
            break;
    }
    if (rc == 0 && vg_db_write_wait(db, inflight, &err) != VG_OK)
        rc = 1;
    double t_write = now_s();
    if (rc == 0 && vg_db_flush(db, &err) != VG_OK) {
        fprintf(stderr, "bench_ingest: flush: %s\n", err.msg);
        rc = 1;
    }
    double t_flush = now_s();
    vg_db_close(db, NULL);
    fprintf(stderr, "  (write %.2f s, final seal %.2f s, close %.2f s)\n", t_write - t_start,
            t_flush - t_write, now_s() - t_flush);
    free(buf);
    fclose(f);
    return rc;
}

static result_t run_once(const opts_t *o, const char *file, const char *dir)
{
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        exit(1);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0)
        _exit(child(o, file, dir));
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    result_t r = {.wall = now_s() - t0};
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_ingest: run failed\n");
        exit(1);
    }
    r.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    r.rss_kb = ru.ru_maxrss;
    char segs[700];
    snprintf(segs, sizeof segs, "%s/segments", dir);
    r.disk = dir_bytes(segs);
    return r;
}

static int cmp_wall(const void *a, const void *b)
{
    double x = ((const result_t *)a)->wall, y = ((const result_t *)b)->wall;
    return (x > y) - (x < y);
}

static void parse_args(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--rows") == 0)
            o->rows = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--profile") == 0)
            o->profile = strcmp(v, "bench") == 0, i++;
        else if (strcmp(a, "--batch") == 0)
            o->batch = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--runs") == 0)
            o->runs = atoi(v), i++;
        else if (strcmp(a, "--wal-sync") == 0)
            o->wal_none = strcmp(v, "none") == 0, i++;
        else if (strcmp(a, "--dir") == 0)
            o->dir = v, i++;
        else if (strcmp(a, "--seal-rows") == 0)
            o->seal_rows = strtoull(v, NULL, 10), i++;
        else {
            fprintf(stderr, "usage: bench_ingest [--rows N] [--profile full|bench] [--batch BYTES] "
                            "[--runs R] [--wal-sync full|none] [--seal-rows N] [--dir DIR]\n");
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    opts_t o = {.rows = 2000000, .profile = 0, .batch = 1u << 20, .runs = 3, .dir = "/tmp"};
    parse_args(argc, argv, &o);
    char file[600], dir[600];
    snprintf(file, sizeof file, "%s/vigil-bench-%d.lp", o.dir, (int)getpid());
    snprintf(dir, sizeof dir, "%s/vigil-bench-%d.db", o.dir, (int)getpid());
    uint64_t rows;
    uint64_t bytes = generate(&o, file, &rows);
    printf("bench_ingest: %" PRIu64 " rows, %.1f MB of line protocol (%.0f B/row), profile %s, "
           "batches of %zu bytes, wal_sync %s, allocator %s\n",
           rows, (double)bytes / 1e6, (double)bytes / (double)rows, o.profile ? "bench" : "full",
           o.batch, o.wal_none ? "none" : "full", vg_alloc_name());
    result_t *r = calloc((size_t)o.runs, sizeof *r);
    for (int i = 0; i < o.runs; i++) {
        r[i] = run_once(&o, file, dir);
        printf("run %d: %.2f s, %.0f rows/s, %.1f MB/s, %.2f CPU-s per M rows, %.1f B/row on "
               "disk, peak RSS %.0f MiB\n",
               i + 1, r[i].wall, (double)rows / r[i].wall, (double)bytes / 1e6 / r[i].wall,
               r[i].cpu / ((double)rows / 1e6), (double)r[i].disk / (double)rows,
               (double)r[i].rss_kb / 1024);
    }
    qsort(r, (size_t)o.runs, sizeof *r, cmp_wall);
    result_t m = r[o.runs / 2];
    printf("median: %.0f rows/s, %.1f MB/s, %.2f CPU-s per M rows, %.1f B/row on disk, peak RSS "
           "%.0f MiB\n",
           (double)rows / m.wall, (double)bytes / 1e6 / m.wall, m.cpu / ((double)rows / 1e6),
           (double)m.disk / (double)rows, (double)m.rss_kb / 1024);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, file);
    free(r);
    return system(cmd) == 0 ? 0 : 1;
}
