/*
 * fuzz.h: what the libFuzzer targets of fuzz/ share.
 *
 * Each fuzz_<target>.c defines vg_fuzz_<target>(data, size), the whole
 * harness, and (unless VG_FUZZ_NO_MAIN) LLVMFuzzerTestOneInput calling it.
 * tests/test_fuzz_regress.c includes every harness with VG_FUZZ_NO_MAIN and
 * runs each file of fuzz/corpus and fuzz/regress through the same entry
 * points in the ordinary test build, so a crash once found stays fixed.
 *
 * A harness returns 0; it calls abort() (through VG_FUZZ_CHECK) when one
 * of its oracles fails, so that libFuzzer and the regression test both see
 * the failure. Files a harness needs go to one scratch folder per process.
 */
#ifndef VG_FUZZ_FUZZ_H
#define VG_FUZZ_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int vg_fuzz_lp(const uint8_t *data, size_t size);
int vg_fuzz_query(const uint8_t *data, size_t size);
int vg_fuzz_wal(const uint8_t *data, size_t size);
int vg_fuzz_segment(const uint8_t *data, size_t size);
int vg_fuzz_runbook(const uint8_t *data, size_t size);
int vg_fuzz_http_write(const uint8_t *data, size_t size);
int vg_fuzz_catalog(const uint8_t *data, size_t size);

/* An oracle: on failure say which and abort (a crash to libFuzzer). */
#define VG_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: oracle failed: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Remove every entry of dir, recursively (the scratch folders are shallow). */
static inline void vg_fuzz_rm_tree(const char *dir, int self)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            int n = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (n < 0 || (size_t)n >= sizeof p)
                continue; /* cannot be named: our own tree never nests that deep */
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                vg_fuzz_rm_tree(p, 1);
            else
                unlink(p);
        }
        closedir(d);
    }
    if (self)
        rmdir(dir);
}

static char vg_fuzz_root[4096];

static inline void vg_fuzz_cleanup(void)
{
    if (vg_fuzz_root[0])
        vg_fuzz_rm_tree(vg_fuzz_root, 1);
}

/* The process's scratch folder (under $VG_TEST_TMP, /dev/shm or /tmp),
 * removed at exit. Never NULL: aborts when none can be made. */
static inline const char *vg_fuzz_tmp(void)
{
    if (vg_fuzz_root[0])
        return vg_fuzz_root;
    const char *base = getenv("VG_TEST_TMP");
    struct stat st;
    if (!base || !*base)
        base = stat("/dev/shm", &st) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    mkdir(base, 0755);
    snprintf(vg_fuzz_root, sizeof vg_fuzz_root, "%s/vg-fuzz-XXXXXX", base);
    if (!mkdtemp(vg_fuzz_root)) {
        perror(vg_fuzz_root);
        abort();
    }
    atexit(vg_fuzz_cleanup);
    return vg_fuzz_root;
}

/* A sub-folder of the scratch folder, emptied (made if missing). */
static inline const char *vg_fuzz_dir(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", vg_fuzz_tmp(), name);
    mkdir(out, 0755);
    vg_fuzz_rm_tree(out, 0);
    return out;
}

/* Write n bytes to path (replacing it); aborts on failure (the harness's
 * own I/O, not the code under test). */
static inline void vg_fuzz_write(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) {
            perror(path);
            abort();
        }
        c += w;
        n -= (size_t)w;
    }
    close(fd);
}

static inline uint32_t vg_fuzz_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t vg_fuzz_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void vg_fuzz_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#endif
