/*
 * runbook_set.c: what surrounds the loading of one file (runbook_load.c):
 * the problems found, each with its file and place, and sets of runbooks
 * read from files and folders (a folder: its *.yaml and *.yml in name
 * order), whose rule names must be unique across the set.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runbook_int.h"

/* ------------------------------------------------------------ diagnostics */

void vg_rb_diag_add(vg_rb_diags_t *d, const char *file, vg_rb_pos_t pos, const char *fmt, ...)
{
    if (!d)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        vg_rb_diag_t *v = vg_realloc(d->v, cap * sizeof *v);
        if (!v)
            return;
        d->v = v;
        d->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg_rb_diag_t *g = &d->v[d->n];
    g->file = vg_strdup(file ? file : "");
    g->msg = vg_strdup(msg);
    g->line = pos.line;
    g->column = pos.column;
    if (!g->file || !g->msg) {
        vg_free(g->file);
        vg_free(g->msg);
        return;
    }
    d->n++;
}

void vg_rb_diags_print(const vg_rb_diags_t *d, FILE *out)
{
    for (size_t i = 0; d && i < d->n; i++) {
        const vg_rb_diag_t *g = &d->v[i];
        if (g->line > 0)
            fprintf(out, "%s:%d:%d: %s\n", g->file, g->line, g->column, g->msg);
        else
            fprintf(out, "%s: %s\n", g->file, g->msg);
    }
}

void vg_rb_diags_free(vg_rb_diags_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        vg_free(d->v[i].file);
        vg_free(d->v[i].msg);
    }
    vg_free(d->v);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ many files */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int yaml_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' &&
           ((l > 5 && !strcmp(n + l - 5, ".yaml")) || (l > 4 && !strcmp(n + l - 4, ".yml")));
}

/* The *.yaml and *.yml files of dir, sorted. Ownership: vg_free each and the array. */
static int list_dir(const char *dir, char ***out, size_t *nout, vg_rb_diags_t *d)
{
    DIR *D = opendir(dir);
    if (!D) {
        vg_rb_diag_add(d, dir, (vg_rb_pos_t){0, 0}, "cannot read folder: %s", strerror(errno));
        return VG_EIO;
    }
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = VG_OK;
    for (struct dirent *e; (e = readdir(D));) {
        if (!yaml_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = vg_realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = VG_ENOMEM;
                break;
            }
            v = nv;
        }
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        if (!(v[n] = vg_malloc(l))) {
            rc = VG_ENOMEM;
            break;
        }
        int slash = dir[0] && dir[strlen(dir) - 1] == '/';
        snprintf(v[n++], l, "%s%s%s", dir, slash ? "" : "/", e->d_name);
    }
    closedir(D);
    if (n)
        qsort(v, n, sizeof *v, by_name);
    *out = v;
    *nout = n;
    return rc;
}

static int set_push(vg_rb_set_t *s, vg_runbook_t *rb, size_t *cap)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        vg_runbook_t **v = vg_realloc(s->v, nc * sizeof *v);
        if (!v)
            return VG_ENOMEM;
        s->v = v;
        *cap = nc;
    }
    s->v[s->n++] = rb;
    return VG_OK;
}

/* Rule names are alert identities: one name, one rule, across the set. */
static int check_unique(const vg_rb_set_t *s, vg_rb_diags_t *d)
{
    int dup = 0;
    for (size_t a = 0; a < s->n; a++)
        for (size_t i = 0; i < s->v[a]->nrules; i++) {
            const vg_rb_str_t *x = &s->v[a]->rules[i].alert;
            for (size_t b = 0; b < a; b++)
                for (size_t j = 0; j < s->v[b]->nrules; j++) {
                    const vg_rb_str_t *y = &s->v[b]->rules[j].alert;
                    if (x->s && y->s && !strcmp(x->s, y->s)) {
                        vg_rb_diag_add(d, s->v[a]->path, x->pos,
                                       "duplicate rule name '%s' (also in %s:%d:%d)", x->s,
                                       s->v[b]->path, y->pos.line, y->pos.column);
                        dup = 1;
                    }
                }
        }
    return dup;
}

static int load_one(const char *path, vg_rb_set_t *s, size_t *cap, vg_rb_diags_t *d, int *bad)
{
    vg_runbook_t *rb = NULL;
    int rc = vg_rb__load_file(path, &rb, d, 1);
    if (rc == VG_ENOMEM)
        return rc;
    if (rc)
        *bad = 1;
    if (rb && set_push(s, rb, cap)) {
        vg_rb_free(rb);
        return VG_ENOMEM;
    }
    return VG_OK;
}

static int load_path(const char *p, vg_rb_set_t *s, size_t *cap, vg_rb_diags_t *d, int *bad)
{
    struct stat st;
    if (stat(p, &st) != 0) {
        vg_rb_diag_add(d, p, (vg_rb_pos_t){0, 0}, "cannot read: %s", strerror(errno));
        *bad = 1;
        return VG_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return load_one(p, s, cap, d, bad);
    char **files = NULL;
    size_t nf = 0;
    int rc = list_dir(p, &files, &nf, d);
    if (rc == VG_EIO) {
        *bad = 1;
        rc = VG_OK;
    }
    for (size_t i = 0; i < nf; i++) {
        if (rc == VG_OK)
            rc = load_one(files[i], s, cap, d, bad);
        vg_free(files[i]);
    }
    vg_free(files);
    return rc;
}

int vg_rb_load_all(const char *const *paths, size_t n, vg_rb_set_t *out, vg_rb_diags_t *d)
{
    vg_rb_set_t s = {0};
    size_t cap = 0, before = d ? d->n : 0;
    int bad = 0, rc = VG_OK;
    for (size_t i = 0; i < n && rc == VG_OK; i++)
        rc = load_path(paths[i], &s, &cap, d, &bad);
    if (rc != VG_OK) {
        vg_rb_set_free(&s);
        return rc;
    }
    if (check_unique(&s, d) || bad || (d && d->n > before))
        rc = VG_EPARSE;
    *out = s;
    return rc;
}

int vg_rb_load_paths(const char *const *paths, size_t n, vg_rb_set_t *out, vg_rb_diags_t *d)
{
    vg_rb_set_t s = {0};
    int rc = vg_rb_load_all(paths, n, &s, d);
    if (rc != VG_OK) {
        vg_rb_set_free(&s);
        return rc;
    }
    *out = s;
    return VG_OK;
}
