/*
 * db_write.c: the write path. A buffer of line protocol becomes one atomic
 * batch: parse, check and stage every good line into the heads (invisible),
 * append one WAL record holding the good lines in canonical form (every
 * timestamp explicit, in ns), sync it, then make the staged rows visible.
 * A failure before the acknowledgement rolls the staged rows back.
 *
 * The same code applies WAL records at recovery (replay != 0): no limits or
 * clocks are checked then, because the lines were accepted once already.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "vigil/vg_alloc.h"


/* Per-batch staging state, under db->write_mu. */
typedef struct stage {
    vg_db_t *db;
    int replay;
    int64_t now;
    struct {
        vg_table_t *t;
        vg_head_t *head;
        uint32_t nrows0;
    } touched[64];
    uint32_t ntouched;
    int overflow; /* more than 64 tables in a batch: visibility by scanning all */
    struct undo_ent {
        vg_head_t *h;
        uint32_t row;
    } *undos;
    size_t nundo, undo_cap;
    /* The WAL payload. While every line so far is kept as written (accepted,
     * with a nanosecond timestamp), the payload is the input itself and
     * nothing is copied; the first line that must be dropped or rewritten
     * copies the input before it into wal, and from then on lines go to wal
     * one by one. wal == NULL at replay. */
    vg_buf_t *wal;
    const char *in;
    int diverged;
} stage_t;

static void line_error(vg_write_result_t *res, size_t max, uint64_t lineno, uint32_t col,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void line_error(vg_write_result_t *res, size_t max, uint64_t lineno, uint32_t col,
                       const char *fmt, ...)
{
    res->rejected++;
    if (res->nerrors >= max)
        return;
    /* the array doubles (capacity 16, 32, 64, ...: full exactly when nerrors is
     * 16 or a power of two above it), so a batch of bad lines stays linear */
    size_t n = res->nerrors;
    if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
        vg_line_error_t *ne = vg_realloc(res->errors, (n ? 2 * n : 16) * sizeof *ne);
        if (!ne)
            return;
        res->errors = ne;
    }
    vg_line_error_t *e = &res->errors[res->nerrors++];
    e->lineno = lineno;
    e->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
}

/* Remember the head row count of each table a batch writes, for rollback
 * and visibility; past 64 tables, visibility falls back to every table. */
static void touch(stage_t *st, vg_table_t *t)
{
    for (uint32_t i = 0; i < st->ntouched; i++)
        if (st->touched[i].t == t)
            return;
    if (st->ntouched == 64) {
        st->overflow = 1;
        return;
    }
    st->touched[st->ntouched].t = t;
    st->touched[st->ntouched].head = t->head;
    st->touched[st->ntouched].nrows0 = t->head->nrows;
    st->ntouched++;
}

static int undo_push(stage_t *st, vg_head_t *h, uint32_t row)
{
    if (st->nundo == st->undo_cap) {
        size_t ncap = st->undo_cap ? st->undo_cap * 2 : 64;
        struct undo_ent *nu = vg_realloc(st->undos, ncap * sizeof *nu);
        if (!nu)
            return VG_ENOMEM;
        st->undos = nu;
        st->undo_cap = ncap;
    }
    st->undos[st->nundo++] = (struct undo_ent){h, row};
    return VG_OK;
}

static char *unesc_buf(vg_db_t *db, size_t need)
{
    if (need > db->unesc_cap) {
        size_t ncap = need < 4096 ? 4096 : need * 2;
        char *nb = vg_realloc(db->unesc, ncap);
        if (!nb)
            return NULL;
        db->unesc = nb;
        db->unesc_cap = ncap;
    }
    return db->unesc;
}

typedef struct tagref {
    const char *k, *v;
    uint32_t kl, vl;
} tagref_t;

static int tag_cmp(const void *a, const void *b)
{
    const tagref_t *x = a, *y = b;
    uint32_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

/* A line's tags, unescaped and sorted by key: its canonical tag set. */
typedef struct canon {
    tagref_t stack[64], *tags;
    uint32_t n;
    char *bytes; /* the unescaped keys and values */
} canon_t;

static void canon_free(canon_t *c)
{
    if (c->tags != c->stack)
        vg_free(c->tags);
    vg_free(c->bytes);
}

/* Canonicalise a line's tags; a repeated key rejects the line (VG_EPARSE,
 * recorded in res). */
static int canon_tags(const vg_lp_line_t *ln, canon_t *c, vg_write_result_t *res, size_t maxerr)
{
    c->n = ln->ntags;
    c->tags = ln->ntags <= 64 ? c->stack : vg_malloc(ln->ntags * sizeof *c->tags);
    c->bytes = vg_malloc(ln->series_raw.len + 1);
    if (!c->tags || !c->bytes)
        return VG_ENOMEM;
    char *p = c->bytes;
    for (uint32_t i = 0; i < ln->ntags; i++) {
        c->tags[i].k = p;
        c->tags[i].kl = vg_lp_unescape(ln->tags[i].key, 0, p);
        p += c->tags[i].kl;
        c->tags[i].v = p;
        c->tags[i].vl = vg_lp_unescape(ln->tags[i].val, 0, p);
        p += c->tags[i].vl;
    }
    qsort(c->tags, c->n, sizeof *c->tags, tag_cmp);
    for (uint32_t i = 1; i < c->n; i++)
        if (c->tags[i].kl == c->tags[i - 1].kl &&
            memcmp(c->tags[i].k, c->tags[i - 1].k, c->tags[i].kl) == 0) {
            line_error(res, maxerr, ln->lineno, 1, "duplicate tag key '%.*s'",
                       (int)c->tags[i].kl, c->tags[i].k);
            return VG_EPARSE;
        }
    return VG_OK;
}

/* The series id of canonical tags in t, created unless past the limit
 * (VG_ELIMIT, recorded in res); the client's text is cached for next time. */
static int series_resolve(stage_t *st, vg_table_t *t, const vg_lp_line_t *ln, const canon_t *c,
                          uint32_t *id, vg_write_result_t *res, size_t maxerr)
{
    vg_db_t *db = st->db;
    /* parallel arrays, as vg__table_series takes them */
    const char *kst[64], *vst[64], **keys = kst, **vals = vst;
    uint32_t klst[64], vlst[64], *kl = klst, *vl = vlst;
    void *heap = NULL;
    if (c->n > 64) {
        heap = vg_malloc(c->n * (2 * sizeof(char *) + 2 * sizeof(uint32_t)));
        if (!heap)
            return VG_ENOMEM;
        keys = heap;
        vals = keys + c->n;
        kl = (uint32_t *)(vals + c->n);
        vl = kl + c->n;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        keys[i] = c->tags[i].k;
        kl[i] = c->tags[i].kl;
        vals[i] = c->tags[i].v;
        vl[i] = c->tags[i].vl;
    }
    vg_error_t e = {0};
    /* a new series past the limit is refused; an existing one is found */
    int create = st->replay || t->nseries < db->o.max_series;
    int rc = vg__table_series(t, c->n, keys, kl, vals, vl, create, id, &e);
    if (rc == VG_ENOTFOUND) {
        line_error(res, maxerr, ln->lineno, 1,
                   "series limit of %" PRIu64 " reached for table '%s'", db->o.max_series,
                   t->name);
        rc = VG_ELIMIT;
    }
    for (uint32_t i = 0; i < c->n && rc == VG_OK; i++)
        rc = vg__table_tagkey(t, keys[i], kl[i], &e);
    if (rc == VG_OK)
        rc = vg_strmap_put(&t->raw_map, ln->series_raw.p, ln->series_raw.len, *id, NULL);
    vg_free(heap);
    return rc;
}

/* Check every field of a line against the schema before anything is
 * created, so that a rejected line leaves no trace. idx[i] gets the column
 * of field i, or UINT32_MAX for a new one. */
static int line_fields_check(vg_table_t *t, const vg_lp_line_t *ln, char *scratch, uint32_t *idx,
                             vg_write_result_t *res, size_t maxerr)
{
    for (uint32_t i = 0; i < ln->nfields; i++) {
        const vg_lp_field_t *f = &ln->fields[i];
        uint32_t n = vg_lp_unescape(f->key, 0, scratch);
        uint32_t id;
        idx[i] = UINT32_MAX;
        if (!vg_strmap_get(&t->field_map, scratch, n, &id))
            continue;
        if (t->fields[id].type != f->type) {
            line_error(res, maxerr, ln->lineno, (uint32_t)(f->key.p - ln->line) + 1,
                       "field type conflict: field '%.*s' is %s in table '%s', this line "
                       "writes %s",
                       (int)n, scratch, vg_type_name(t->fields[id].type), t->name,
                       vg_type_name(f->type));
            return VG_ECONFLICT;
        }
        idx[i] = id;
    }
    return VG_OK;
}

/* Replace an earlier row of the same series and timestamp in this head. */
static int dedup_in_head(stage_t *st, vg_table_t *t, vg_series_t *s, uint32_t row, int64_t ts)
{
    vg_head_t *h = t->head;
    for (uint32_t r = s->head_last; r != UINT32_MAX;) {
        vg_hchunk_t *c = vg__head_chunk(h, r);
        uint32_t i = r % VG_HEAD_CHUNK;
        if (c->ts[i] == ts && c->dead_by[i] == 0) {
            int rc = vg__head_inherit(h, row, r, t->nfields, t->fields);
            if (rc == VG_OK)
                rc = undo_push(st, h, r);
            if (rc)
                return rc;
            __atomic_store_n(&c->dead_by[i], row + 1, __ATOMIC_RELAXED);
            h->replaced++;
            return VG_OK;
        }
        r = c->prev[i];
    }
    return VG_OK;
}

static int stage_row(stage_t *st, vg_table_t *t, const vg_lp_line_t *ln, uint32_t sid,
                     int64_t ts, uint32_t *idx, char *scratch, vg_error_t *err)
{
    vg_head_t *h = t->head;
    uint32_t row = vg__head_add_row(h, ts, sid, &t->mu);
    if (row == UINT32_MAX)
        return vg_error_set(err, VG_ENOMEM, "head of table '%s' is full", t->name);
    for (uint32_t i = 0; i < ln->nfields; i++) {
        const vg_lp_field_t *f = &ln->fields[i];
        uint32_t col = idx[i];
        if (col == UINT32_MAX) {
            uint32_t n = vg_lp_unescape(f->key, 0, scratch);
            int rc = vg__table_field(t, scratch, n, f->type, &col, NULL, err);
            if (rc)
                return rc;
            idx[i] = col;
        }
        vg_value_t v = f->v;
        if (f->type == VG_TYPE_STRING) {
            char *sb = unesc_buf(st->db, f->str.len + 1);
            if (!sb)
                return vg_error_set(err, VG_ENOMEM, "string value");
            v.s.p = sb;
            v.s.len = vg_lp_unescape(f->str, 1, sb);
        }
        if (vg__head_set(h, row, col, f->type, &v) != VG_OK)
            return vg_error_set(err, VG_ENOMEM, "storing a value");
    }
    vg_series_t *s = &t->series[sid];
    if (ts <= s->head_max_ts) {
        int rc = dedup_in_head(st, t, s, row, ts);
        if (rc)
            return vg_error_set(err, rc, "merging a duplicate point");
    }
    if (ts <= s->sealed_max_ts && vg__probe_may_hold(st->db, t, sid, ts) &&
        vg__table_mark_dirty(t, vg__part_start(st->db, ts)) != VG_OK)
        return vg_error_set(err, VG_ENOMEM, "marking a partition");
    vg__head_chunk(h, row)->prev[row % VG_HEAD_CHUNK] = s->head_last;
    s->head_last = row;
    if (ts > s->head_max_ts)
        s->head_max_ts = ts;
    return VG_OK;
}

/* Stop using the input as the payload: copy what precedes offset upto. */
static int wal_diverge(stage_t *st, size_t upto)
{
    if (!st->wal || st->diverged)
        return VG_OK;
    st->diverged = 1;
    return vg_buf_append(st->wal, st->in, upto);
}

/* The line as the WAL keeps it: its text up to the timestamp, then the
 * timestamp in ns. */
static int wal_line(vg_buf_t *b, const vg_lp_line_t *ln, int64_t ts)
{
    if (vg_buf_reserve(b, ln->ts_off + 24) != VG_OK)
        return VG_ENOMEM;
    vg_buf_put(b, ln->line, ln->ts_off);
    if (!ln->has_ts)
        vg_buf_put_u8(b, ' ');
    b->len += (size_t)sprintf((char *)b->p + b->len, "%" PRId64 "\n", ts);
    return VG_OK;
}

static int64_t auto_ts(vg_db_t *db)
{
    int64_t now = vg_now_ns();
    if (now <= db->last_auto_ts)
        now = db->last_auto_ts + 1;
    db->last_auto_ts = now;
    return now;
}

/* Apply one parsed line; VG_EPARSE-class results are line rejections
 * (recorded in res), anything else fails the batch. */
/* Is the line's time acceptable? Records the rejection in res when not. */
static int line_time_ok(stage_t *st, const vg_lp_line_t *ln, int64_t ts, vg_write_result_t *res,
                        size_t maxerr)
{
    vg_db_t *db = st->db;
    if (st->replay)
        return 1;
    if (db->o.retention_ns > 0 && ts < st->now - db->o.retention_ns) {
        line_error(res, maxerr, ln->lineno, ln->ts_off + 1, "points beyond retention policy");
        return 0;
    }
    if (ts > st->now + db->o.future_ns) {
        line_error(res, maxerr, ln->lineno, ln->ts_off + 1,
                   "timestamp too far in the future (more than %" PRId64 " s ahead)",
                   db->o.future_ns / VG_NS_PER_SEC);
        return 0;
    }
    return 1;
}

/*
 * Check a line against the table and find its series, creating nothing for a
 * line that is rejected: the table is made only once the line's time and
 * tags passed, fields and the series only once everything did. Returns VG_OK
 * (the line is good: *t, *sid and idx set), a rejection already recorded in
 * res (VG_ECONFLICT, VG_ELIMIT, VG_EPARSE), or an error that fails the batch.
 */
static int line_resolve(stage_t *st, const vg_lp_line_t *ln, vg_table_t **tp, uint32_t *sid,
                        uint32_t *idx, int *same_shape, vg_write_result_t *res, size_t maxerr,
                        vg_error_t *err)
{
    vg_db_t *db = st->db;
    char *scratch = unesc_buf(db, ln->line_len + 1);
    if (!scratch)
        return vg_error_set(err, VG_ENOMEM, "unescaping");
    uint32_t mlen = 0;
    vg_table_t *t = NULL;
    int rc = VG_OK;
    /* lines of a batch mostly name one table: compare the text as written */
    if (db->last_table && ln->measurement.len == db->last_meas.len &&
        memcmp(ln->measurement.p, db->last_meas.p, ln->measurement.len) == 0) {
        t = db->last_table;
    } else {
        mlen = vg_lp_unescape(ln->measurement, 0, scratch);
        rc = vg__table_get(db, scratch, mlen, 0, &t, NULL);
        db->last_meas.len = 0;
        db->last_table = rc == VG_OK && vg_buf_append(&db->last_meas, ln->measurement.p,
                                                      ln->measurement.len) == VG_OK
                             ? t
                             : NULL;
    }
    *same_shape = 0;
    for (uint32_t i = 0; i < ln->nfields; i++)
        idx[i] = UINT32_MAX;
    if (rc == VG_OK) {
        *same_shape = vg_shapes_match(&t->shapes, ln, idx);
        rc = *same_shape ? VG_OK : line_fields_check(t, ln, scratch, idx, res, maxerr);
        if (rc)
            return rc;
        if (vg_strmap_get(&t->raw_map, ln->series_raw.p, ln->series_raw.len, sid)) {
            *tp = t;
            return VG_OK;
        }
    }
    canon_t c = {0};
    rc = canon_tags(ln, &c, res, maxerr);
    if (rc == VG_OK && !t) {
        scratch = unesc_buf(db, ln->line_len + 1);
        mlen = scratch ? vg_lp_unescape(ln->measurement, 0, scratch) : 0;
        rc = scratch ? vg__table_get(db, scratch, mlen, 1, &t, err) : VG_ENOMEM;
    }
    if (rc == VG_OK)
        rc = series_resolve(st, t, ln, &c, sid, res, maxerr);
    canon_free(&c);
    if (rc == VG_ENOMEM)
        return vg_error_set(err, VG_ENOMEM, "resolving series of line %" PRIu64, ln->lineno);
    *tp = t;
    return rc;
}

/* Apply one parsed line; VG_EPARSE-class results are line rejections
 * (recorded in res), anything else fails the batch. */
static int apply_line(stage_t *st, const vg_lp_line_t *ln, vg_write_result_t *res, size_t maxerr,
                      int64_t *ts_out, vg_error_t *err)
{
    vg_db_t *db = st->db;
    int64_t ts = ln->has_ts ? ln->ts : auto_ts(db);
    *ts_out = ts;
    if (!line_time_ok(st, ln, ts, res, maxerr))
        return VG_OK;
    uint32_t idx_stack[64];
    uint32_t *idx = ln->nfields <= 64 ? idx_stack : vg_malloc(ln->nfields * sizeof *idx);
    if (!idx)
        return vg_error_set(err, VG_ENOMEM, "field index");
    vg_table_t *t = NULL;
    uint32_t sid = 0;
    int same_shape = 0;
    int rc = line_resolve(st, ln, &t, &sid, idx, &same_shape, res, maxerr, err);
    if (rc == VG_ECONFLICT || rc == VG_ELIMIT || rc == VG_EPARSE) {
        rc = VG_OK; /* rejected line, already recorded */
        goto out;
    }
    if (rc)
        goto out;
    touch(st, t);
    char *scratch = unesc_buf(db, ln->line_len + 1);
    rc = scratch ? stage_row(st, t, ln, sid, ts, idx, scratch, err)
                 : vg_error_set(err, VG_ENOMEM, "unescaping");
    if (rc == VG_OK) {
        res->rows++;
        if (!same_shape)
            vg_shapes_store(&t->shapes, ln, idx);
    }
out:
    if (idx != idx_stack)
        vg_free(idx);
    return rc;
}

static void rollback(stage_t *st)
{
    for (size_t i = st->nundo; i-- > 0;)
        __atomic_store_n(&vg__head_chunk(st->undos[i].h, st->undos[i].row)
                              ->dead_by[st->undos[i].row % VG_HEAD_CHUNK],
                         0, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < st->ntouched; i++) {
        vg_table_t *t = st->touched[i].t;
        vg__head_truncate(st->touched[i].head, st->touched[i].nrows0);
        /* series chains may point at dropped rows: cut them */
        for (uint32_t s = 0; s < t->nseries; s++) {
            vg_series_t *se = &t->series[s];
            while (se->head_last != UINT32_MAX && se->head_last >= st->touched[i].nrows0)
                se->head_last = vg__head_chunk(t->head, se->head_last)
                                    ->prev[se->head_last % VG_HEAD_CHUNK];
        }
    }
}

/* Keep an accepted line in the WAL payload (see stage_t). */
static int wal_keep(stage_t *st, const vg_lp_line_t *ln, int64_t ts, vg_precision_t prec)
{
    if (!st->wal)
        return VG_OK;
    int verbatim = ln->has_ts && prec == VG_PREC_NS;
    if (verbatim && !st->diverged)
        return VG_OK;
    if (wal_diverge(st, (size_t)(ln->line - st->in)) != VG_OK)
        return VG_ENOMEM;
    return wal_line(st->wal, ln, ts);
}

static int parse_all(stage_t *st, const char *buf, size_t len, const vg_write_opts_t *wo,
                     vg_write_result_t *res, vg_error_t *err)
{
    vg_db_t *db = st->db;
    vg_lp_parser_t *p = &db->lp;
    p->precision = st->replay ? VG_PREC_NS : wo->precision;
    p->lineno = (wo->first_lineno ? wo->first_lineno : 1) - 1;
    vg_lp_feed(p, buf, len);
    int rc = VG_OK;
    for (;;) {
        vg_lp_line_t *ln;
        vg_lp_error_t pe;
        size_t at = p->pos; /* the bad line starts at or after this */
        int r = vg_lp_next(p, &ln, &pe);
        if (r == 0)
            break;
        if (r == VG_EPARSE) {
            if (st->replay)
                return vg_error_set(err, VG_ECORRUPT, "WAL line %" PRIu64 ": %s", pe.lineno,
                                    pe.reason);
            line_error(res, wo->max_errors, pe.lineno, pe.column, "%s", pe.reason);
            if (wal_diverge(st, at) != VG_OK)
                return vg_error_set(err, VG_ENOMEM, "WAL buffer");
            continue;
        }
        if (r < 0)
            return vg_error_set(err, r, "parsing line protocol");
        uint64_t rows0 = res->rows;
        int64_t ts = 0;
        rc = apply_line(st, ln, res, wo->max_errors, &ts, err);
        if (rc)
            return rc;
        int kept = res->rows > rows0;
        if ((kept ? wal_keep(st, ln, ts, p->precision)
                  : wal_diverge(st, (size_t)(ln->line - buf))) != VG_OK)
            return vg_error_set(err, VG_ENOMEM, "WAL buffer");
    }
    res->last_lineno = p->lineno;
    res->lines = p->lineno - ((wo->first_lineno ? wo->first_lineno : 1) - 1);
    res->bytes = len;
    return rc;
}

int vg__apply_lines(vg_db_t *db, const char *buf, size_t len, int replay, uint64_t lsn,
                    vg_write_result_t *res, const vg_write_opts_t *wo, vg_buf_t *walbuf,
                    vg_error_t *err)
{
    stage_t st = {.db = db, .replay = replay, .now = vg_now_ns(), .wal = walbuf, .in = buf};
    vg_write_opts_t dflt = {.precision = VG_PREC_NS, .first_lineno = 1, .max_errors = 1000};
    int rc = parse_all(&st, buf, len, wo ? wo : &dflt, res, err);
    if (rc) {
        rollback(&st);
    } else if (replay) {
        for (uint32_t i = 0; i < db->ntables; i++) {
            vg_head_t *h = db->tables[i]->head;
            __atomic_store_n(&h->visible, h->nrows, __ATOMIC_RELEASE);
            h->last_lsn = lsn;
        }
    }
    vg_free(st.undos);
    return rc;
}

/* Room for n more entries, so that vis_push cannot fail after the WAL took a record. */
static int vis_reserve(vg_db_t *db, size_t n)
{
    if (db->nvis + n <= db->vis_cap)
        return VG_OK;
    size_t ncap = db->vis_cap ? db->vis_cap : 64;
    while (ncap < db->nvis + n)
        ncap *= 2;
    vg_pending_vis_t *nv = vg_realloc(db->vis, ncap * sizeof *nv);
    if (!nv)
        return VG_ENOMEM;
    db->vis = nv;
    db->vis_cap = ncap;
    return VG_OK;
}

static int vis_push(vg_db_t *db, uint64_t lsn, vg_head_t *h)
{
    if (db->nvis == db->vis_cap) {
        size_t ncap = db->vis_cap ? db->vis_cap * 2 : 64;
        vg_pending_vis_t *nv = vg_realloc(db->vis, ncap * sizeof *nv);
        if (!nv)
            return VG_ENOMEM;
        db->vis = nv;
        db->vis_cap = ncap;
    }
    vg__head_ref(h);
    db->vis[db->nvis++] = (vg_pending_vis_t){lsn, h, h->nrows};
    h->last_lsn = lsn;
    return VG_OK;
}

/* Make the rows of every record up to the WAL's synced LSN visible.
 * Caller holds db->write_mu. */
void vg__publish(vg_db_t *db)
{
    uint64_t synced = vg_wal_last_lsn(db->wal);
    size_t i = 0;
    for (; i < db->nvis && db->vis[i].lsn <= synced; i++) {
        vg_head_t *h = db->vis[i].head;
        if (db->vis[i].nrows > h->visible)
            __atomic_store_n(&h->visible, db->vis[i].nrows, __ATOMIC_RELEASE);
        vg__head_unref(h);
    }
    if (i) {
        memmove(db->vis, db->vis + i, (db->nvis - i) * sizeof *db->vis);
        db->nvis -= i;
    }
}

/* A ticket names a WAL record by its LSN (low 48 bits) and the WAL
 * generation it was appended in (wal.h: LSNs rejected for a full disk are
 * given out again). */
#define TICKET_LSN_BITS 48
#define TICKET_LSN(t) ((t) & ((UINT64_C(1) << TICKET_LSN_BITS) - 1))
#define TICKET_GEN(t) ((t) >> TICKET_LSN_BITS)

static int stage_commit(vg_db_t *db, stage_t *st, size_t in_len, uint64_t *ticket,
                        vg_error_t *err)
{
    const void *payload = st->diverged ? (const void *)st->wal->p : (const void *)st->in;
    size_t len = st->diverged ? st->wal->len : in_len;
    uint64_t lsn, gen;
    /* A record the WAL took is replayed after a restart: nothing may fail
     * after the append, or a batch answered with an error would come back. */
    if (vis_reserve(db, st->overflow ? db->ntables : st->ntouched) != VG_OK)
        return vg_error_set(err, VG_ENOMEM, "queuing visibility");
    int rc = vg_wal_append_gen(db->wal, payload, len, &lsn, &gen, err);
    if (rc)
        return rc;
    *ticket = lsn | (gen << TICKET_LSN_BITS);
    if (st->overflow) {
        for (uint32_t i = 0; i < db->ntables && rc == VG_OK; i++)
            rc = vis_push(db, lsn, db->tables[i]->head);
    } else {
        for (uint32_t i = 0; i < st->ntouched && rc == VG_OK; i++)
            rc = vis_push(db, lsn, st->touched[i].head);
    }
    return rc ? vg_error_set(err, rc, "queuing visibility") : VG_OK;
}

/*
 * Truncate head h of table t back to its visible rows: the rows after them
 * belong to WAL records that were rejected. Old rows marked dead by a dropped
 * row live again, and series chains that reach into the dropped rows are cut.
 */
static void head_unstage(vg_table_t *t, vg_head_t *h)
{
    uint32_t n = h->visible;
    for (uint32_t r = 0; r < n; r++) {
        uint32_t *d = &vg__head_chunk(h, r)->dead_by[r % VG_HEAD_CHUNK];
        uint32_t by = __atomic_load_n(d, __ATOMIC_RELAXED);
        if (by && by - 1 >= n)
            __atomic_store_n(d, 0, __ATOMIC_RELAXED);
    }
    vg__head_truncate(h, n);
    if (t->head != h)
        return;
    for (uint32_t s = 0; s < t->nseries; s++) {
        vg_series_t *se = &t->series[s];
        while (se->head_last != UINT32_MAX && se->head_last >= n)
            se->head_last = vg__head_chunk(h, se->head_last)->prev[se->head_last % VG_HEAD_CHUNK];
    }
}

/*
 * After the WAL rejected its unsynced records for a full disk (wal.c
 * invariant 5): publish what was synced, drop every row staged by the
 * rejected records, and let the WAL take appends again. Under write_mu; a
 * no-op unless the WAL is refusing appends.
 */
void vg__db_nospace_recover(vg_db_t *db)
{
    if (!db->wal || !vg_wal_nospace(db->wal))
        return;
    vg__publish(db);
    for (uint32_t i = 0; i < db->ntables; i++) {
        vg_table_t *t = db->tables[i];
        if (t->head->nrows > t->head->visible)
            head_unstage(t, t->head);
    }
    for (size_t i = 0; i < db->nvis; i++)
        vg__head_unref(db->vis[i].head);
    db->nvis = 0;
    vg__db_log(db, "warn", "disk full: unacknowledged batches rejected; writes resume when "
                           "space returns");
    vg_wal_resume(db->wal);
}

int vg_db_write_lp_begin(vg_db_t *db, const char *buf, size_t len, const vg_write_opts_t *opts,
                         vg_write_result_t *res, uint64_t *ticket, vg_error_t *err)
{
    memset(res, 0, sizeof *res);
    *ticket = 0;
    vg_write_opts_t wo = {.precision = VG_PREC_NS, .first_lineno = 1, .max_errors = 1000};
    if (opts) {
        wo = *opts;
        if (!wo.first_lineno)
            wo.first_lineno = 1;
    }
    if (len > db->o.max_batch_bytes)
        return vg_error_set(err, VG_ELIMIT, "batch of %zu bytes exceeds the %zu byte limit", len,
                            db->o.max_batch_bytes);
    pthread_mutex_lock(&db->write_mu);
    if (db->read_only || db->failed) {
        pthread_mutex_unlock(&db->write_mu);
        return vg_error_set(err, VG_EREADONLY, "database %s is read-only%s", db->dir,
                            db->failed ? " after an I/O error (restart to recover)" : "");
    }
    stage_t st = {.db = db, .now = vg_now_ns(), .wal = &db->wal_payload, .in = buf};
    db->wal_payload.len = 0;
    int rc = parse_all(&st, buf, len, &wo, res, err);
    if (rc == VG_OK && res->rows)
        rc = stage_commit(db, &st, len, ticket, err);
    if (rc) {
        rollback(&st);
        res->rows = 0;
        if (rc == VG_ENOSPC)
            vg__db_nospace_recover(db);
    }
    pthread_mutex_unlock(&db->write_mu);
    vg_free(st.undos);
    return rc;
}

int vg_db_write_wait(vg_db_t *db, uint64_t ticket, vg_error_t *err)
{
    if (ticket == 0)
        return VG_OK;
    int rc = vg_wal_sync_gen(db->wal, TICKET_LSN(ticket), TICKET_GEN(ticket), err);
    pthread_mutex_lock(&db->write_mu);
    if (rc == VG_ENOSPC && !vg_wal_failed(db->wal)) {
        vg__db_nospace_recover(db); /* rejected, not failed: ingest resumes */
    } else if (rc) {
        if (!db->failed)
            vg__db_log(db, "error", "WAL sync failed, turning read-only: %s",
                       err ? err->msg : "");
        db->failed = 1;
    } else {
        vg__publish(db);
    }
    pthread_mutex_unlock(&db->write_mu);
    return rc;
}

int vg_db_write_lp(vg_db_t *db, const char *buf, size_t len, const vg_write_opts_t *opts,
                   vg_write_result_t *res, vg_error_t *err)
{
    uint64_t ticket;
    int rc = vg_db_write_lp_begin(db, buf, len, opts, res, &ticket, err);
    if (rc == VG_OK)
        rc = vg_db_write_wait(db, ticket, err);
    if (rc)
        res->rows = 0;
    return rc;
}

void vg_write_result_free(vg_write_result_t *r)
{
    if (!r)
        return;
    vg_free(r->errors);
    r->errors = NULL;
    r->nerrors = 0;
}
