/*
 * vg_alloc.h: the one place Vigil allocates memory.
 *
 * Release builds route these to mimalloc; the sanitizer and test builds use
 * the C library's malloc so that ASan/LSan see every allocation and the
 * failing-allocation hook (VG_TESTING) has one place to live.
 * vg_free(NULL) is a no-op. Every buffer Vigil's API hands out names the
 * function that frees it; plain buffers are freed with vg_free.
 */
#ifndef VIGIL_VG_ALLOC_H
#define VIGIL_VG_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *vg_malloc(size_t n);
void *vg_calloc(size_t count, size_t size);
void *vg_realloc(void *p, size_t n);
void vg_free(void *p);
/* Copies of a NUL-terminated string / of n bytes plus a NUL; free with vg_free. */
char *vg_strdup(const char *s);
char *vg_strndup(const char *s, size_t n);

/* Which allocator this build uses: "mimalloc" or "libc". */
const char *vg_alloc_name(void);

#ifdef VG_TESTING
/*
 * Test hook: make the nth allocation from now fail (n >= 1), and every one
 * after it too when sticky is non-zero. n = 0 switches failures off.
 * Returns how many allocations were failed since the last call.
 */
unsigned long vg_alloc_fail_after(unsigned long n, int sticky);
#endif

#ifdef __cplusplus
}
#endif
#endif
