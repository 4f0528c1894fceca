/*
 * alloc.c: the one file that chooses the allocator (vg_alloc.h).
 * VG_USE_MIMALLOC is defined by CMake for Release builds without test hooks;
 * otherwise the C library's malloc, so ASan/LSan see everything, and the
 * failing-allocation hook of the test builds.
 */
#include "vigil/vg_alloc.h"

#include <stdlib.h>
#include <string.h>

#ifdef VG_USE_MIMALLOC
#include <mimalloc.h>
#define SYS_MALLOC mi_malloc
#define SYS_CALLOC mi_calloc
#define SYS_REALLOC mi_realloc
#define SYS_FREE mi_free
#define ALLOC_NAME "mimalloc"

/*
 * mimalloc gives freed pages back to the kernel after 25 ms by default. A
 * query frees and allocates the same column buffers over and over, so
 * every evaluation of a rule paid for the pages again in page faults
 * (a third of a backtest's time went to the kernel). Keep freed pages for a
 * second before giving them back: the process's memory at rest is the same
 * a second later.
 */
__attribute__((constructor)) static void keep_freed_pages(void)
{
    if (mi_option_get(mi_option_decommit_delay) < 1000)
        mi_option_set(mi_option_decommit_delay, 1000);
}
#else
#define SYS_MALLOC malloc
#define SYS_CALLOC calloc
#define SYS_REALLOC realloc
#define SYS_FREE free
#define ALLOC_NAME "libc"
#endif

#ifdef VG_TESTING
/* Test-only state: the failing-allocation hook must be reachable from every
 * allocation site without threading a context through them (as SQLite's
 * sqlite3FaultSim). Compiled out of release builds. */
static unsigned long fail_countdown; /* 0: off */
static int fail_sticky;
static unsigned long fail_count;

static int alloc_should_fail(void)
{
    unsigned long c = __atomic_load_n(&fail_countdown, __ATOMIC_RELAXED);
    if (c == 0)
        return 0;
    if (c == 1) {
        if (!fail_sticky)
            __atomic_store_n(&fail_countdown, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&fail_count, 1, __ATOMIC_RELAXED);
        return 1;
    }
    __atomic_sub_fetch(&fail_countdown, 1, __ATOMIC_RELAXED);
    return 0;
}

unsigned long vg_alloc_fail_after(unsigned long n, int sticky)
{
    unsigned long had = __atomic_exchange_n(&fail_count, 0, __ATOMIC_RELAXED);
    fail_sticky = sticky;
    __atomic_store_n(&fail_countdown, n, __ATOMIC_RELAXED);
    return had;
}
#else
static inline int alloc_should_fail(void)
{
    return 0;
}
#endif

void *vg_malloc(size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return SYS_MALLOC(n ? n : 1);
}

void *vg_calloc(size_t count, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return SYS_CALLOC(count ? count : 1, size ? size : 1);
}

void *vg_realloc(void *p, size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return SYS_REALLOC(p, n ? n : 1);
}

void vg_free(void *p)
{
    if (p)
        SYS_FREE(p);
}

char *vg_strndup(const char *s, size_t n)
{
    char *d = vg_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *vg_strdup(const char *s)
{
    return vg_strndup(s, strlen(s));
}

const char *vg_alloc_name(void)
{
    return ALLOC_NAME;
}
