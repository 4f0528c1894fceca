/*
 * table.c: tables, their schema (fields and tag keys) and their series.
 *
 * The schema only grows. A field keeps the type of its first write. A
 * series is a table's canonical tag set: tags sorted by key, unescaped; its
 * id is its index in t->series and never changes while the process runs
 * (segments store their own local ids and a map to these).
 */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "vigil/vg_alloc.h"

vg_table_t *vg__table_find(vg_db_t *db, const char *name)
{
    /* readers (scans, queries) hold no write_mu: a writer adding a table may
     * grow the map and move the array meanwhile */
    uint32_t id;
    vg_table_t *t = NULL;
    pthread_mutex_lock(&db->tables_mu);
    if (vg_strmap_get(&db->table_map, name, strlen(name), &id))
        t = db->tables[id];
    pthread_mutex_unlock(&db->tables_mu);
    return t;
}

int vg__table_get(vg_db_t *db, const char *name, size_t len, int create, vg_table_t **out,
                  vg_error_t *err)
{
    uint32_t id;
    if (vg_strmap_get(&db->table_map, name, len, &id)) {
        *out = db->tables[id];
        return VG_OK;
    }
    if (!create)
        return vg_error_set(err, VG_ENOTFOUND, "no table '%.*s'", (int)len, name);
    vg_table_t *t = vg_calloc(1, sizeof *t);
    if (!t)
        return vg_error_set(err, VG_ENOMEM, "creating table");
    t->name = vg_strndup(name, len);
    t->head = vg__head_new();
    if (!t->name || !t->head)
        goto nomem;
    pthread_mutex_init(&t->mu, NULL);
    vg_strmap_init(&t->field_map);
    vg_strmap_init(&t->tagkey_map);
    vg_strmap_init(&t->series_map);
    vg_strmap_init(&t->raw_map);
    pthread_mutex_lock(&db->tables_mu);
    if (db->ntables == db->tables_cap) {
        uint32_t ncap = db->tables_cap ? db->tables_cap * 2 : 8;
        vg_table_t **nt = vg_realloc(db->tables, ncap * sizeof *nt);
        if (!nt) {
            pthread_mutex_unlock(&db->tables_mu);
            goto nomem_locked;
        }
        db->tables = nt;
        db->tables_cap = ncap;
    }
    t->id = db->ntables;
    if (vg_strmap_put(&db->table_map, name, len, t->id, NULL) != VG_OK) {
        pthread_mutex_unlock(&db->tables_mu);
        goto nomem_locked;
    }
    db->tables[db->ntables++] = t;
    pthread_mutex_unlock(&db->tables_mu);
    *out = t;
    return VG_OK;
nomem_locked:
    pthread_mutex_destroy(&t->mu);
nomem:
    vg__head_unref(t->head);
    vg_free(t->name);
    vg_free(t);
    return vg_error_set(err, VG_ENOMEM, "creating table");
}

void vg__table_free(vg_table_t *t)
{
    if (!t)
        return;
    vg__head_unref(t->head);
    for (uint32_t i = 0; i < t->nfrozen; i++)
        vg__head_unref(t->frozen[i]);
    vg_free(t->frozen);
    for (uint32_t i = 0; i < t->nsegs; i++)
        vg__segref_unref(t->segs[i]);
    vg_free(t->segs);
    for (uint32_t i = 0; i < t->nfields; i++)
        vg_free(t->fields[i].name);
    vg_free(t->fields);
    for (uint32_t i = 0; i < t->ntagkeys; i++)
        vg_free(t->tag_keys[i]);
    vg_free(t->tag_keys);
    for (uint32_t i = 0; i < t->nseries; i++) {
        vg_free(t->series[i].tag_keys);
    }
    vg_free(t->series);
    vg_strmap_free(&t->field_map);
    vg_strmap_free(&t->tagkey_map);
    vg_strmap_free(&t->series_map);
    vg_strmap_free(&t->raw_map);
    vg_free(t->dirty);
    vg_shapes_free(&t->shapes);
    pthread_mutex_destroy(&t->mu);
    vg_free(t->name);
    vg_free(t);
}

int vg__table_field(vg_table_t *t, const char *name, size_t len, vg_type_t type, uint32_t *idx,
                    vg_type_t *had, vg_error_t *err)
{
    uint32_t id;
    if (vg_strmap_get(&t->field_map, name, len, &id)) {
        *idx = id;
        if (had)
            *had = t->fields[id].type;
        if (t->fields[id].type != type)
            return VG_ECONFLICT;
        return VG_OK;
    }
    if (t->nfields >= VG_MAX_COLUMNS)
        return vg_error_set(err, VG_ELIMIT, "table '%s' has the maximum of %u fields", t->name,
                            VG_MAX_COLUMNS);
    if (t->nfields == t->fields_cap) {
        /* Readers copy the fields array under t->mu; grow it under t->mu too. */
        uint32_t ncap = t->fields_cap ? t->fields_cap * 2 : 16;
        vg_field_t *nf = vg_malloc(ncap * sizeof *nf);
        if (!nf)
            return vg_error_set(err, VG_ENOMEM, "adding field");
        if (t->nfields)
            memcpy(nf, t->fields, t->nfields * sizeof *nf);
        pthread_mutex_lock(&t->mu);
        vg_field_t *old = t->fields;
        t->fields = nf;
        t->fields_cap = ncap;
        pthread_mutex_unlock(&t->mu);
        vg_free(old);
    }
    char *copy = vg_strndup(name, len);
    if (!copy || vg_strmap_put(&t->field_map, name, len, t->nfields, NULL) != VG_OK) {
        vg_free(copy);
        return vg_error_set(err, VG_ENOMEM, "adding field");
    }
    pthread_mutex_lock(&t->mu);
    t->fields[t->nfields] = (vg_field_t){copy, type};
    *idx = t->nfields++;
    pthread_mutex_unlock(&t->mu);
    if (had)
        *had = type;
    return VG_OK;
}

int vg__table_tagkey(vg_table_t *t, const char *name, size_t len, vg_error_t *err)
{
    uint32_t id;
    if (vg_strmap_get(&t->tagkey_map, name, len, &id))
        return VG_OK;
    if (t->ntagkeys == t->tagkeys_cap) {
        uint32_t ncap = t->tagkeys_cap ? t->tagkeys_cap * 2 : 16;
        char **nk = vg_malloc(ncap * sizeof *nk);
        if (!nk)
            return vg_error_set(err, VG_ENOMEM, "adding tag key");
        if (t->ntagkeys)
            memcpy(nk, t->tag_keys, t->ntagkeys * sizeof *nk);
        pthread_mutex_lock(&t->mu);
        char **old = t->tag_keys;
        t->tag_keys = nk;
        t->tagkeys_cap = ncap;
        pthread_mutex_unlock(&t->mu);
        vg_free(old);
    }
    char *copy = vg_strndup(name, len);
    if (!copy || vg_strmap_put(&t->tagkey_map, name, len, t->ntagkeys, NULL) != VG_OK) {
        vg_free(copy);
        return vg_error_set(err, VG_ENOMEM, "adding tag key");
    }
    pthread_mutex_lock(&t->mu);
    t->tag_keys[t->ntagkeys++] = copy;
    pthread_mutex_unlock(&t->mu);
    return VG_OK;
}

int vg__table_series(vg_table_t *t, uint32_t ntags, const char *const *keys,
                     const uint32_t *klens, const char *const *vals, const uint32_t *vlens,
                     int create, uint32_t *id, vg_error_t *err)
{
    /* canonical key: k \0 v \0 ... (keys sorted by the caller) */
    size_t klen = 0;
    for (uint32_t i = 0; i < ntags; i++)
        klen += klens[i] + vlens[i] + 2;
    char stackbuf[1024];
    char *key = klen <= sizeof stackbuf ? stackbuf : vg_malloc(klen);
    if (!key)
        return vg_error_set(err, VG_ENOMEM, "series key");
    char *p = key;
    for (uint32_t i = 0; i < ntags; i++) {
        memcpy(p, keys[i], klens[i]);
        p += klens[i];
        *p++ = '\0';
        memcpy(p, vals[i], vlens[i]);
        p += vlens[i];
        *p++ = '\0';
    }
    uint64_t h = vg_strmap_hash(key, klen);
    int rc = VG_OK;
    if (vg_strmap_get_h(&t->series_map, h, key, klen, id))
        goto out;
    if (!create) {
        rc = VG_ENOTFOUND;
        goto out;
    }
    if (t->nseries == t->series_cap) {
        uint32_t ncap = t->series_cap ? t->series_cap * 2 : 64;
        vg_series_t *ns = vg_malloc(ncap * sizeof *ns);
        if (!ns) {
            rc = vg_error_set(err, VG_ENOMEM, "adding series");
            goto out;
        }
        if (t->nseries)
            memcpy(ns, t->series, t->nseries * sizeof *ns);
        pthread_mutex_lock(&t->mu);
        vg_series_t *old = t->series;
        t->series = ns;
        t->series_cap = ncap;
        pthread_mutex_unlock(&t->mu);
        vg_free(old);
    }
    const char *stored;
    if (vg_strmap_put_h(&t->series_map, h, key, klen, t->nseries, &stored) != VG_OK) {
        rc = vg_error_set(err, VG_ENOMEM, "adding series");
        goto out;
    }
    vg_series_t s = {.key = stored, .keylen = (uint32_t)klen, .ntags = ntags,
                     .head_last = UINT32_MAX, .head_max_ts = INT64_MIN,
                     .sealed_max_ts = INT64_MIN, .frozen_last = UINT32_MAX};
    s.tag_keys = vg_malloc((2 * (size_t)ntags + 1) * sizeof(char *));
    if (!s.tag_keys) {
        rc = vg_error_set(err, VG_ENOMEM, "adding series");
        goto out;
    }
    s.tag_vals = s.tag_keys + ntags;
    const char *q = stored;
    for (uint32_t i = 0; i < ntags; i++) {
        s.tag_keys[i] = q;
        q += strlen(q) + 1;
        s.tag_vals[i] = q;
        q += strlen(q) + 1;
    }
    pthread_mutex_lock(&t->mu);
    t->series[t->nseries] = s;
    *id = t->nseries++;
    pthread_mutex_unlock(&t->mu);
out:
    if (key != stackbuf)
        vg_free(key);
    return rc;
}

int vg__table_mark_dirty(vg_table_t *t, int64_t part_start)
{
    if (vg__table_is_dirty(t, part_start))
        return VG_OK;
    pthread_mutex_lock(&t->mu);
    int rc = VG_OK;
    if (t->ndirty == t->dirty_cap) {
        uint32_t ncap = t->dirty_cap ? t->dirty_cap * 2 : 8;
        int64_t *nd = vg_realloc(t->dirty, ncap * sizeof *nd);
        if (!nd)
            rc = VG_ENOMEM;
        else {
            t->dirty = nd;
            t->dirty_cap = ncap;
        }
    }
    if (rc == VG_OK)
        t->dirty[t->ndirty++] = part_start;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int vg__table_is_dirty(vg_table_t *t, int64_t part_start)
{
    pthread_mutex_lock(&t->mu);
    int found = 0;
    for (uint32_t i = 0; i < t->ndirty && !found; i++)
        found = t->dirty[i] == part_start;
    pthread_mutex_unlock(&t->mu);
    return found;
}

void vg__table_clear_dirty(vg_table_t *t, int64_t part_start)
{
    pthread_mutex_lock(&t->mu);
    for (uint32_t i = 0; i < t->ndirty; i++)
        if (t->dirty[i] == part_start) {
            t->dirty[i] = t->dirty[--t->ndirty];
            break;
        }
    pthread_mutex_unlock(&t->mu);
}
