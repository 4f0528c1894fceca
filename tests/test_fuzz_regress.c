/*
 * test_fuzz_regress.c: the fuzz targets' inputs, replayed in the ordinary
 * test build (gcc, and ASan + UBSan in `make asan`), so a crash the fuzzer
 * once found stays fixed without clang or libFuzzer.
 *
 * Every file of fuzz/corpus/<target>/ (the seeds) and fuzz/regress/<target>/
 * (each input that once crashed or broke an oracle) goes through the very
 * entry point libFuzzer calls: the harnesses are included here with
 * VG_FUZZ_NO_MAIN. A harness aborts when an oracle fails; the SIGABRT
 * handler names the input first. The source tree comes from $VG_SRC (set by
 * ctest), else the path this file was compiled from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VG_FUZZ_NO_MAIN 1
#include "../fuzz/fuzz_catalog.c"
#include "../fuzz/fuzz_http_write.c"
#include "../fuzz/fuzz_lp.c"
#include "../fuzz/fuzz_query.c"
#include "../fuzz/fuzz_runbook.c"
#include "../fuzz/fuzz_segment.c"
#include "../fuzz/fuzz_wal.c"
#include "../fuzz/http_stubs.c"
#include "../server/http_write.c"

static char current[4400]; /* the input being replayed, for the abort handler */
static unsigned long total_inputs;

static void on_abort(int sig)
{
    static const char pre[] = "\ntest_fuzz_regress: failed on input ";
    (void)!write(2, pre, sizeof pre - 1);
    (void)!write(2, current, strlen(current));
    (void)!write(2, "\n", 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

static const char *src_dir(void)
{
    const char *s = getenv("VG_SRC");
    if (s && *s)
        return s;
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    strncat(dir, "/..", sizeof dir - strlen(dir) - 1);
    return dir;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every file of src/fuzz/<kind>/<target>, in name order; returns how many. */
static size_t replay_dir(const char *kind, const char *target, int (*fn)(const uint8_t *, size_t))
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", src_dir(), kind, target);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* an empty regress folder is not committed */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = strdup(e->d_name);
        assert_non_null(names[n++]);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        snprintf(current, sizeof current, "%s/%s", dir, names[i]);
        FILE *f = fopen(current, "rb");
        if (!f)
            fail_msg("cannot read %s", current);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
        assert_non_null(buf);
        size_t got = len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
        fclose(f);
        assert_int_equal(got, (size_t)(len > 0 ? len : 0));
        assert_int_equal(fn(buf, got), 0);
        free(buf);
        free(names[i]);
    }
    free(names);
    current[0] = '\0';
    return n;
}

static void replay(const char *target, int (*fn)(const uint8_t *, size_t))
{
    size_t seeds = replay_dir("corpus", target, fn);
    size_t regress = replay_dir("regress", target, fn);
    /* every target ships seeds: none found means the tree was not found */
    if (seeds == 0)
        fail_msg("no seeds in %s/fuzz/corpus/%s", src_dir(), target);
    fprintf(stderr, "fuzz_regress: %s: %zu seeds, %zu regressions\n", target, seeds, regress);
    total_inputs += seeds + regress;
}

static void test_lp(void **state)
{
    (void)state;
    replay("lp", vg_fuzz_lp);
}

static void test_query(void **state)
{
    (void)state;
    replay("query", vg_fuzz_query);
}

static void test_wal(void **state)
{
    (void)state;
    replay("wal", vg_fuzz_wal);
}

static void test_segment(void **state)
{
    (void)state;
    replay("segment", vg_fuzz_segment);
}

static void test_runbook(void **state)
{
    (void)state;
    replay("runbook", vg_fuzz_runbook);
}

static void test_http_write(void **state)
{
    (void)state;
    replay("http_write", vg_fuzz_http_write);
}

static void test_catalog(void **state)
{
    (void)state;
    replay("catalog", vg_fuzz_catalog);
}

int main(void)
{
    signal(SIGABRT, on_abort);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lp),      cmocka_unit_test(test_query),
        cmocka_unit_test(test_wal),     cmocka_unit_test(test_segment),
        cmocka_unit_test(test_runbook), cmocka_unit_test(test_http_write),
        cmocka_unit_test(test_catalog),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("RELIABILITY suite=fuzz_regress iterations=%lu faults=0 failures=%d\n", total_inputs,
           failed);
    return failed ? 1 : 0;
}
