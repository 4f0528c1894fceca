/*
 * group.c: the executor's groups (exec_int.h): the category ids of
 * categorical aggregates, interned in one table the scan threads share;
 * each row's group key (its BY values: tags, or bucket labels), found in or
 * added to an open-addressing table; and the per-series caches that let a
 * run of one series skip both the key and a WHERE of tags only.
 *
 * A group key is the BY values in order, each a byte 0 (null) or 1, then a
 * u32 length and the bytes.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* Grow an open-addressing table of index+1 entries to cap (a power of 2). */
static int rehash(uint32_t **tab, size_t *cap, size_t n, char *const *keys, const size_t *lens32,
                  const uint32_t *lens)
{
    size_t nc = *cap ? 2 * *cap : 64;
    uint32_t *t = vg_calloc(nc, sizeof *t);
    if (!t)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t len = lens32 ? lens32[i] : lens[i];
        size_t j = hash_bytes(keys[i], len) & (nc - 1);
        while (t[j])
            j = (j + 1) & (nc - 1);
        t[j] = (uint32_t)i + 1;
    }
    vg_free(*tab);
    *tab = t;
    *cap = nc;
    return VG_OK;
}

static int64_t intern_locked(exec_t *ex, const qv_t *v);

/* Category ids are shared by every worker, so that counts merge by id. */
int64_t exec_intern(exec_t *ex, const qv_t *v)
{
    exec_t *root = ex->root ? ex->root : ex;
    pthread_mutex_lock(&root->cat_mu);
    int64_t id = intern_locked(root, v);
    pthread_mutex_unlock(&root->cat_mu);
    return id;
}

static int64_t intern_locked(exec_t *ex, const qv_t *v)
{
    char buf[16];
    const char *key = buf;
    size_t len;
    if (v->k == QV_S) {
        key = v->s;
        len = v->len;
    } else {
        double d = qv_num(v);
        d = d == 0 ? 0 : d;
        buf[0] = '\x01';
        memcpy(buf + 1, &d, sizeof d);
        len = 1 + sizeof d;
        if (v->k == QV_B)
            buf[0] = '\x02';
    }
    if (ex->cat_cap) {
        size_t j = hash_bytes(key, len) & (ex->cat_cap - 1);
        while (ex->cat_tab[j]) {
            size_t id = ex->cat_tab[j] - 1;
            if (ex->cat_lens[id] == len && memcmp(ex->cat_keys[id], key, len) == 0)
                return (int64_t)id;
            j = (j + 1) & (ex->cat_cap - 1);
        }
    }
    if (ex->ncat == ex->ccat) {
        size_t nc = ex->ccat ? 2 * ex->ccat : 64;
        char **k = vg_realloc(ex->cat_keys, nc * sizeof *k);
        if (k)
            ex->cat_keys = k;
        uint32_t *l = vg_realloc(ex->cat_lens, nc * sizeof *l);
        if (l)
            ex->cat_lens = l;
        if (!k || !l)
            return VG_ENOMEM;
        ex->ccat = nc;
    }
    char *copy = vg_malloc(len + 1);
    if (!copy)
        return VG_ENOMEM;
    memcpy(copy, key, len);
    ex->cat_keys[ex->ncat] = copy;
    ex->cat_lens[ex->ncat] = (uint32_t)len;
    ex->ncat++;
    if (2 * ex->ncat > ex->cat_cap &&
        rehash(&ex->cat_tab, &ex->cat_cap, ex->ncat, ex->cat_keys, NULL, ex->cat_lens))
        return VG_ENOMEM;
    else if (2 * ex->ncat <= ex->cat_cap) {
        size_t j = hash_bytes(key, len) & (ex->cat_cap - 1);
        while (ex->cat_tab[j])
            j = (j + 1) & (ex->cat_cap - 1);
        ex->cat_tab[j] = (uint32_t)ex->ncat;
    }
    return (int64_t)ex->ncat - 1;
}

/* ------------------------------------------------------------- groups */

static int kb_put(keybuf_t *k, const void *p, size_t n)
{
    if (k->n + n > k->cap) {
        size_t nc = k->cap ? 2 * k->cap : 256;
        while (nc < k->n + n)
            nc *= 2;
        char *q = vg_realloc(k->p, nc);
        if (!q)
            return VG_ENOMEM;
        k->p = q;
        k->cap = nc;
    }
    memcpy(k->p + k->n, p, n);
    k->n += n;
    return VG_OK;
}

static int key_value(keybuf_t *k, const char *s, size_t len)
{
    char tag = s ? 1 : 0;
    uint32_t l = (uint32_t)len;
    if (kb_put(k, &tag, 1) || (s && (kb_put(k, &l, 4) || kb_put(k, s, len))))
        return VG_ENOMEM;
    return VG_OK;
}

int exec_has_bucket(const exec_t *ex)
{
    for (int g = 0; g < ex->st->ngroups; g++)
        if (ex->bucket_labels[g])
            return 1;
    return 0;
}

static int new_group(exec_t *ex, const char *key, size_t len, size_t *out)
{
    if (ex->opts.max_groups && ex->ngrp >= ex->opts.max_groups)
        return vg_q_error_set(ex->err, VG_ELIMIT, 0, 0,
                              "the query makes more than %" PRIu64 " groups (max_groups)",
                              ex->opts.max_groups);
    if (ex->ngrp == ex->cgrp) {
        size_t nc = ex->cgrp ? 2 * ex->cgrp : 16;
        group_t *p = vg_realloc(ex->grp, nc * sizeof *p);
        if (!p)
            return VG_ENOMEM;
        ex->grp = p;
        ex->cgrp = nc;
    }
    group_t *g = &ex->grp[ex->ngrp];
    memset(g, 0, sizeof *g);
    size_t nacc = (size_t)ex->npop * (ex->nbounds ? ex->nbounds - 1 : 0) * (size_t)ex->nspec;
    g->key = vg_malloc(len + 1);
    g->vals = vg_calloc((size_t)ex->st->ngroups + 1, sizeof *g->vals);
    g->accs = nacc ? vg_malloc(nacc * sizeof *g->accs) : NULL;
    if (!g->key || !g->vals || (nacc && !g->accs)) {
        vg_free(g->key);
        vg_free(g->vals);
        vg_free(g->accs);
        return vg_q_error_set(ex->err, VG_ENOMEM, 0, 0, "out of memory for a new group");
    }
    for (size_t i = 0; i < nacc; i++)
        acc_init(&g->accs[i]);
    memcpy(g->key, key, len);
    g->keylen = len;
    const char *p = g->key;
    for (int i = 0; i < ex->st->ngroups; i++) {
        if (*p++ == 0)
            continue;
        uint32_t l;
        memcpy(&l, p, 4);
        g->vals[i] = (qv_t){.k = QV_S, .s = p + 4, .len = l};
        p += 4 + l;
    }
    *out = ex->ngrp++;
    return VG_OK;
}

int exec_find_group(exec_t *ex, const char *key, size_t len, size_t *out)
{
    if (ex->gtab_cap) {
        size_t j = hash_bytes(key, len) & (ex->gtab_cap - 1);
        while (ex->gtab[j]) {
            group_t *g = &ex->grp[ex->gtab[j] - 1];
            if (g->keylen == len && memcmp(g->key, key, len) == 0) {
                *out = ex->gtab[j] - 1;
                return VG_OK;
            }
            j = (j + 1) & (ex->gtab_cap - 1);
        }
    }
    int rc = new_group(ex, key, len, out);
    if (rc)
        return rc;
    if (2 * ex->ngrp > ex->gtab_cap) {
        size_t nc = ex->gtab_cap ? 2 * ex->gtab_cap : 64;
        uint32_t *t = vg_calloc(nc, sizeof *t);
        if (!t)
            return VG_ENOMEM;
        for (size_t i = 0; i < ex->ngrp; i++) {
            size_t j = hash_bytes(ex->grp[i].key, ex->grp[i].keylen) & (nc - 1);
            while (t[j])
                j = (j + 1) & (nc - 1);
            t[j] = (uint32_t)i + 1;
        }
        vg_free(ex->gtab);
        ex->gtab = t;
        ex->gtab_cap = nc;
    } else {
        size_t j = hash_bytes(key, len) & (ex->gtab_cap - 1);
        while (ex->gtab[j])
            j = (j + 1) & (ex->gtab_cap - 1);
        ex->gtab[j] = (uint32_t)*out + 1;
    }
    return VG_OK;
}

/* The group of the row in c (creating it). */
int exec_group_of(exec_t *ex, evctx_t *c, keybuf_t *kb, size_t *out)
{
    int bucket = exec_has_bucket(ex);
    if (!bucket && ex->series_group && ex->series_group[c->series] >= 0) {
        *out = (size_t)ex->series_group[c->series];
        return VG_OK;
    }
    kb->n = 0;
    for (int g = 0; g < ex->st->ngroups; g++) {
        int rc;
        if (ex->bucket_labels[g]) {
            qv_t v;
            if ((rc = eval(c, ex->groups[g], &v)))
                return rc;
            double d = qv_num(&v);
            const char *label = NULL;
            if (!isnan(d)) {
                int i = 0;
                while (i < ex->bucket_nedges[g] && ex->bucket_edges[g][i] <= d)
                    i++;
                label = ex->bucket_labels[g][i];
            }
            rc = key_value(kb, label, label ? strlen(label) : 0);
        } else {
            const char *s = vg_scan_series_tag(ex->scan, c->series, (uint32_t)ex->groups[g]->idx);
            rc = key_value(kb, s, s ? strlen(s) : 0);
        }
        if (rc)
            return VG_ENOMEM;
    }
    int rc = exec_find_group(ex, kb->p ? kb->p : "", kb->n, out);
    if (!rc && !bucket && ex->series_group)
        ex->series_group[c->series] = (int32_t)*out;
    return rc;
}

/* ex's caches per series (group, WHEREs), empty; freed by exec_free_groups. */
int exec_series_caches(exec_t *ex)
{
    size_t ns = (size_t)vg_scan_nseries(ex->scan) + 1;
    ex->series_group = vg_malloc(ns * sizeof *ex->series_group);
    ex->series_pass = vg_malloc(2 * ns);
    if (!ex->series_group || !ex->series_pass)
        return VG_ENOMEM;
    memset(ex->series_group, 0xff, ns * sizeof *ex->series_group);
    memset(ex->series_pass, 0xff, 2 * ns);
    return VG_OK;
}

/*
 * Does the series in c pass population pop's WHERE? Only for a WHERE of
 * tags only, whose truth is the series'; computed once per series.
 */
int exec_series_passes(exec_t *ex, evctx_t *c, int pop, int *pass)
{
    const cx_t *pred = pop ? ex->against_where : ex->where;
    *pass = 1;
    if (!pred)
        return VG_OK;
    size_t k = (size_t)pop * ((size_t)vg_scan_nseries(ex->scan) + 1) + c->series;
    if (ex->series_pass[k] >= 0) {
        *pass = ex->series_pass[k];
        return VG_OK;
    }
    int rc = eval_pred(c, pred, pass);
    if (!rc)
        ex->series_pass[k] = (int8_t)(*pass != 0);
    return rc;
}

void exec_free_groups(exec_t *ex)
{
    size_t nacc = (size_t)ex->npop * (ex->nbounds ? ex->nbounds - 1 : 0) * (size_t)ex->nspec;
    for (size_t g = 0; g < ex->ngrp; g++) {
        for (size_t i = 0; ex->grp[g].accs && i < nacc; i++)
            acc_free(&ex->grp[g].accs[i]);
        vg_free(ex->grp[g].accs);
        vg_free(ex->grp[g].key);
        vg_free(ex->grp[g].vals);
    }
    vg_free(ex->grp);
    vg_free(ex->gtab);
    vg_free(ex->series_group);
    vg_free(ex->series_pass);
    ex->grp = NULL, ex->gtab = NULL, ex->series_group = NULL, ex->series_pass = NULL;
    ex->ngrp = ex->cgrp = ex->gtab_cap = 0;
}
