/*
 * stats.c: what `vigil stats` prints: per table rows, series, segments,
 * head rows, bytes on disk, and the columns with their types.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_int.h"
#include "vigil/vg_alloc.h"

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const vg_col_info_t *)a)->name, ((const vg_col_info_t *)b)->name);
}

int vg_db_columns(vg_db_t *db, const char *table, vg_col_info_t **cols, size_t *ncols,
                  vg_error_t *err)
{
    vg_table_t *t = vg__table_find(db, table);
    if (!t)
        return vg_error_set(err, VG_ENOTFOUND, "no table '%s'", table);
    pthread_mutex_lock(&t->mu);
    size_t n = t->ntagkeys + t->nfields;
    vg_col_info_t *c = vg_calloc(n + 1, sizeof *c);
    int rc = c ? VG_OK : VG_ENOMEM;
    for (uint32_t i = 0; i < t->ntagkeys && rc == VG_OK; i++) {
        c[i].name = vg_strdup(t->tag_keys[i]);
        c[i].type = VG_TYPE_TAG;
        rc = c[i].name ? VG_OK : VG_ENOMEM;
    }
    for (uint32_t i = 0; i < t->nfields && rc == VG_OK; i++) {
        c[t->ntagkeys + i].name = vg_strdup(t->fields[i].name);
        c[t->ntagkeys + i].type = t->fields[i].type;
        rc = c[t->ntagkeys + i].name ? VG_OK : VG_ENOMEM;
    }
    uint32_t ntag = t->ntagkeys;
    pthread_mutex_unlock(&t->mu);
    if (rc) {
        vg_cols_free(c, n);
        return vg_error_set(err, rc, "listing columns");
    }
    qsort(c, ntag, sizeof *c, name_cmp);
    qsort(c + ntag, n - ntag, sizeof *c, name_cmp);
    *cols = c;
    *ncols = n;
    return VG_OK;
}

void vg_cols_free(vg_col_info_t *cols, size_t ncols)
{
    for (size_t i = 0; cols && i < ncols; i++)
        vg_free(cols[i].name);
    vg_free(cols);
}

static uint64_t dir_bytes(const char *dir)
{
    uint64_t total = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    char path[4200];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        total += S_ISDIR(st.st_mode) ? dir_bytes(path) : (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

static void table_stats(vg_db_t *db, vg_table_t *t, vg_table_stats_t *ts)
{
    vg_snap_t s;
    ts->ts_min = INT64_MAX;
    ts->ts_max = INT64_MIN;
    if (vg__snap_take(db, t, &s, NULL) != VG_OK)
        return;
    for (uint32_t i = 0; i < s.nsegs; i++) {
        const vg_seg_t *g = s.segs[i]->seg;
        ts->rows += vg_seg_nrows(g);
        ts->disk_bytes += vg_seg_file_bytes(g);
        if (vg_seg_ts_min(g) < ts->ts_min)
            ts->ts_min = vg_seg_ts_min(g);
        if (vg_seg_ts_max(g) > ts->ts_max)
            ts->ts_max = vg_seg_ts_max(g);
    }
    ts->segments = s.nsegs;
    uint64_t head_replaced = 0;
    for (uint32_t h = 0; h < s.nheads; h++) {
        const vg_head_t *hd = s.heads[h];
        for (uint32_t r = 0; r < s.visible[h]; r++)
            if (vg__head_alive(hd, r, s.visible[h])) {
                ts->head_rows++;
                int64_t v = vg__head_chunk(hd, r)->ts[r % VG_HEAD_CHUNK];
                if (v < ts->ts_min)
                    ts->ts_min = v;
                if (v > ts->ts_max)
                    ts->ts_max = v;
            }
        head_replaced += hd->replaced;
    }
    ts->rows += ts->head_rows;
    ts->series = s.nseries;
    ts->replaced = t->replaced + head_replaced;
    vg__snap_release(&s);
}

int vg_db_stats(vg_db_t *db, vg_db_stats_t *out, vg_error_t *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->tables_mu);
    uint32_t n = db->ntables;
    vg_table_t **tabs = vg_malloc((n + 1) * sizeof *tabs);
    if (tabs && n)
        memcpy(tabs, db->tables, n * sizeof *tabs);
    pthread_mutex_unlock(&db->tables_mu);
    out->tables = vg_calloc(n + 1, sizeof *out->tables);
    if (!tabs || !out->tables) {
        vg_free(tabs);
        vg_free(out->tables);
        out->tables = NULL;
        return vg_error_set(err, VG_ENOMEM, "stats");
    }
    for (uint32_t i = 0; i < n; i++) {
        vg_table_stats_t *ts = &out->tables[out->ntables++];
        ts->name = vg_strdup(tabs[i]->name);
        table_stats(db, tabs[i], ts);
        vg_db_columns(db, tabs[i]->name, &ts->cols, &ts->ncols, NULL);
    }
    vg_free(tabs);
    for (size_t i = 1; i < out->ntables; i++) /* insertion sort by name: few tables */
        for (size_t j = i; j > 0 && strcmp(out->tables[j - 1].name, out->tables[j].name) > 0; j--) {
            vg_table_stats_t x = out->tables[j];
            out->tables[j] = out->tables[j - 1];
            out->tables[j - 1] = x;
        }
    if (db->wal)
        vg_wal_sync_stats(db->wal, out->wal_sync_bucket, &out->wal_syncs, &out->wal_sync_ns);
    out->wal_bytes = dir_bytes(db->wal_dir);
    out->disk_bytes = dir_bytes(db->dir);
    out->io_backend = vg_io_backend(db->io);
    return VG_OK;
}

void vg_db_stats_free(vg_db_stats_t *s)
{
    for (size_t i = 0; s->tables && i < s->ntables; i++) {
        vg_free(s->tables[i].name);
        vg_cols_free(s->tables[i].cols, s->tables[i].ncols);
    }
    vg_free(s->tables);
    memset(s, 0, sizeof *s);
}
