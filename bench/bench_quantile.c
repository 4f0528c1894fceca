/*
 * bench_quantile.c: throughput of the exact-quantile kernels (query/stats.h)
 * on N doubles (default 10 million): the radix sort, a quantile by radix
 * selection, and, for scale, the C library's qsort. Each figure is the
 * median of 3 runs on a fresh copy of the same data; it prints, it does not
 * assert.
 *
 * Usage: bench_quantile [N]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

#define RUNS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Latency-like data: lognormal, from splitmix64 and Box-Muller. */
static void fill_lognormal(double *x, size_t n)
{
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++) {
        uint64_t z[2];
        for (int k = 0; k < 2; k++) {
            uint64_t v = (s += UINT64_C(0x9E3779B97F4A7C15));
            v = (v ^ (v >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
            v = (v ^ (v >> 27)) * UINT64_C(0x94D049BB133111EB);
            z[k] = v ^ (v >> 31);
        }
        double u1 = 1.0 - (double)(z[0] >> 11) * 0x1p-53, u2 = (double)(z[1] >> 11) * 0x1p-53;
        x[i] = exp(-1.0 + 0.8 * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double *t)
{
    qsort(t, RUNS, sizeof *t, cmp_double);
    return t[RUNS / 2];
}

static void report(const char *what, double secs, size_t n, double result)
{
    printf("%-28s %8.1f ms  %7.1f M values/s  %7.0f MB/s   (result %.6g)\n", what, secs * 1e3,
           (double)n / secs / 1e6, (double)n * sizeof(double) / secs / 1e6, result);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 10000000;
    double *data = malloc(n * sizeof *data), *x = malloc(n * sizeof *x);
    double *tmp = malloc(n * sizeof *tmp);
    if (!data || !x || !tmp || n == 0) {
        fprintf(stderr, "bench_quantile: cannot allocate %zu doubles\n", n);
        return 1;
    }
    fill_lognormal(data, n);
    printf("bench_quantile: %zu lognormal doubles, median of %d runs\n", n, RUNS);

    double t[RUNS], p99 = 0;
    for (int r = 0; r < RUNS; r++) {
        memcpy(x, data, n * sizeof *x);
        double t0 = now_s();
        vg_stat_sort_buf(x, tmp, n);
        p99 = vg_stat_quantile_sorted(x, n, 0.99);
        t[r] = now_s() - t0;
    }
    report("radix sort + p99", median3(t), n, p99);

    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s();
        p99 = vg_stat_quantile_select(data, n, 0.99, tmp);
        t[r] = now_s() - t0;
    }
    report("radix select p99", median3(t), n, p99);

    for (int r = 0; r < RUNS; r++) {
        double t0 = now_s();
        p99 = vg_stat_quantile_select(data, n, 0.5, tmp);
        t[r] = now_s() - t0;
    }
    report("radix select p50", median3(t), n, p99);

    memcpy(x, data, n * sizeof *x);
    double t0 = now_s();
    qsort(x, n, sizeof *x, cmp_double);
    report("libc qsort (1 run)", now_s() - t0, n, vg_stat_quantile_sorted(x, n, 0.99));

    free(data);
    free(x);
    free(tmp);
    return 0;
}
