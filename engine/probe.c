/*
 * probe.c: does sealed data already hold this point? (db_int.h)
 *
 * A row no newer than its series' newest sealed (or frozen) row may repeat a
 * point that left the head; if it does, its partition must be merged on read
 * (the newest value wins) until compaction folds it: the partition is
 * "dirty". Marking every such row dirty without looking made rows that are
 * merely out of order -- two connections committing on either side of a
 * seal, late rows of a series -- cost every later query a merge of the whole
 * partition (seconds for a few million rows) until the head was sealed and
 * the partition compacted, up to the head's age limit later.
 *
 * So the writer looks, under the table's lock, in the one frozen head (the
 * series' chain of rows in it, kept at freeze time) and in each segment
 * whose time range holds ts: the series' local id (a sorted map per
 * segment, cached), the blocks that may hold the series at ts (blocks are
 * sorted by series, then time), their timestamps (the last block decoded is
 * cached). Anything it cannot settle cheaply -- more than one frozen head, a
 * read error, more than late_probe_per_s lookups in a second (a backfill) --
 * answers "may hold", which is the old, safe behaviour.
 *
 * Everything here runs under db->write_mu (one writer), so the cache needs
 * no lock of its own; segment files are immutable and mapped.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_int.h"
#include "segment.h"
#include "vigil/vg_alloc.h"

#define PROBE_MAPS 8 /* segments whose series maps are kept */

typedef struct segmap {
    char *file;      /* the segment's name: the key (addresses are reused) */
    uint64_t *pairs; /* (table series id << 32 | local id), sorted */
    uint32_t n;
} segmap_t;

struct vg_probe {
    segmap_t maps[PROBE_MAPS];
    uint32_t next_map;
    /* the last block decoded */
    char *blk_file;
    uint32_t blk;
    int64_t *ts;
    uint32_t *ser;
    uint32_t blk_rows, blk_cap;
    /* budget */
    int64_t second;
    uint32_t used;
};

void vg__probe_free(vg_probe_t *p)
{
    if (!p)
        return;
    for (int i = 0; i < PROBE_MAPS; i++) {
        vg_free(p->maps[i].file);
        vg_free(p->maps[i].pairs);
    }
    vg_free(p->blk_file);
    vg_free(p->ts);
    vg_free(p->ser);
    vg_free(p);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The map of segment r, built on first use; NULL when out of memory. */
static const segmap_t *segmap_of(vg_probe_t *p, const vg_segref_t *r)
{
    for (int i = 0; i < PROBE_MAPS; i++)
        if (p->maps[i].file && strcmp(p->maps[i].file, r->file) == 0)
            return &p->maps[i];
    segmap_t *m = &p->maps[p->next_map++ % PROBE_MAPS];
    vg_free(m->file);
    vg_free(m->pairs);
    memset(m, 0, sizeof *m);
    uint32_t n = vg_seg_nseries(r->seg);
    m->pairs = vg_malloc(((size_t)n + 1) * sizeof *m->pairs);
    m->file = vg_strdup(r->file);
    if (!m->pairs || !m->file) {
        vg_free(m->pairs);
        vg_free(m->file);
        memset(m, 0, sizeof *m);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++)
        m->pairs[i] = (uint64_t)r->gseries[i] << 32 | i;
    qsort(m->pairs, n, sizeof *m->pairs, cmp_u64);
    m->n = n;
    return m;
}

/* The local id of table series sid in the map; 0 when found. */
static int local_id(const segmap_t *m, uint32_t sid, uint32_t *local)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t g = (uint32_t)(m->pairs[mid] >> 32);
        if (g < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->n || (uint32_t)(m->pairs[lo] >> 32) != sid)
        return -1;
    *local = (uint32_t)m->pairs[lo];
    return 0;
}

/* Decode block b of r into the cache (unless it is there). */
static int load_block(vg_probe_t *p, const vg_segref_t *r, uint32_t b)
{
    if (p->blk_file && p->blk == b && strcmp(p->blk_file, r->file) == 0)
        return VG_OK;
    vg_free(p->blk_file);
    p->blk_file = NULL;
    uint32_t rows = vg_seg_max_block_rows(r->seg);
    if (rows + 1 > p->blk_cap) {
        vg_free(p->ts);
        vg_free(p->ser);
        p->ts = vg_malloc((rows + 1) * sizeof *p->ts);
        p->ser = vg_malloc((rows + 1) * sizeof *p->ser);
        p->blk_cap = p->ts && p->ser ? rows + 1 : 0;
        if (!p->blk_cap)
            return VG_ENOMEM;
    }
    vg_error_t err = {0};
    if (vg_seg_read_ts(r->seg, b, p->ts, &err) || vg_seg_read_series(r->seg, b, p->ser, &err))
        return err.code ? err.code : VG_ECORRUPT;
    p->blk_file = vg_strdup(r->file);
    p->blk = b;
    p->blk_rows = vg_seg_block(r->seg, b).nrows;
    return p->blk_file ? VG_OK : VG_ENOMEM;
}

/* 1 when segment r holds (local, ts), 0 when not, -1 when it cannot tell. */
static int seg_holds(vg_probe_t *p, const vg_segref_t *r, uint32_t local, int64_t ts)
{
    uint32_t nb = vg_seg_nblocks(r->seg), lo = 0, hi = nb;
    while (lo < hi) { /* the first block whose series_hi >= local */
        uint32_t mid = lo + (hi - lo) / 2;
        if (vg_seg_block(r->seg, mid).series_hi < local)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (uint32_t b = lo; b < nb; b++) {
        vg_seg_blockinfo_t bi = vg_seg_block(r->seg, b);
        if (bi.series_lo > local)
            break;
        if (ts < bi.ts_min || ts > bi.ts_max)
            continue;
        if (load_block(p, r, b) != VG_OK)
            return -1;
        for (uint32_t i = 0; i < p->blk_rows; i++)
            if (p->ser[i] == local && p->ts[i] == ts)
                return 1;
    }
    return 0;
}

/* 1 when the frozen head holds (sid, ts), 0 when not, -1 when it cannot tell. */
static int frozen_holds(const vg_table_t *t, const vg_series_t *se, int64_t ts)
{
    if (t->nfrozen == 0)
        return 0;
    if (t->nfrozen > 1 || se->frozen_head != t->frozen[0])
        return -1;
    const vg_head_t *h = t->frozen[0];
    for (uint32_t r = se->frozen_last; r != UINT32_MAX;) {
        const vg_hchunk_t *c = vg__head_chunk(h, r);
        if (c->ts[r % VG_HEAD_CHUNK] == ts)
            return 1;
        r = c->prev[r % VG_HEAD_CHUNK];
    }
    return 0;
}

static int within_budget(vg_probe_t *p, uint32_t per_s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec != p->second) {
        p->second = now.tv_sec;
        p->used = 0;
    }
    return per_s && p->used++ < per_s;
}

int vg__probe_may_hold(vg_db_t *db, vg_table_t *t, uint32_t sid, int64_t ts)
{
    if (!db->probe && !(db->probe = vg_calloc(1, sizeof *db->probe)))
        return 1;
    vg_probe_t *p = db->probe;
    if (!within_budget(p, db->o.late_probe_per_s))
        return 1;
    pthread_mutex_lock(&t->mu);
    int holds = frozen_holds(t, &t->series[sid], ts);
    for (uint32_t i = 0; i < t->nsegs && holds == 0; i++) {
        const vg_segref_t *r = t->segs[i];
        if (ts < vg_seg_ts_min(r->seg) || ts > vg_seg_ts_max(r->seg))
            continue;
        const segmap_t *m = segmap_of(p, r);
        uint32_t local;
        if (!m)
            holds = -1;
        else if (local_id(m, sid, &local) == 0)
            holds = seg_holds(p, r, local, ts);
    }
    pthread_mutex_unlock(&t->mu);
    return holds != 0;
}
