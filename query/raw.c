/*
 * raw.c: a query without aggregates: the rows themselves (SELECT * or
 * plain expressions per row).
 *
 * The rows in range that pass WHERE are collected (with SAMPLE n, a
 * reservoir sample of n of them, seeded by the query's now so the same
 * query at the same time gives the same rows), sorted by time and then by
 * their series' tags, and only then ordered by ORDER BY (stable) and cut at
 * LIMIT (emit.c), so that ties keep the time order.
 *
 * SELECT * shows time, then every tag, then every field, each sorted by
 * name. An ORDER BY key that is no shown column is evaluated per row into
 * a hidden column past the shown ones.
 *
 * Invariants: each kept row owns one block holding its cells and their
 * strings; every kept row's cells count towards max_values.
 */
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_result.h"

typedef struct rawrow {
    int64_t ts;
    uint32_t series;
    qv_t *cells; /* one block: the cells, then their string bytes */
} rawrow_t;

typedef struct rawplan {
    cx_t **cols; /* visible columns, then hidden ORDER BY keys */
    cx_t *star;  /* SELECT *: the column nodes, owned here */
    const char **names;
    size_t nvis, ncols;
    int *hidden; /* per ORDER BY key: its hidden column or -1 */
    uint32_t *rank; /* series -> position in tag order */
} rawplan_t;

/* Series ordered by their values of tags[0..ntags) (missing first). */
typedef struct seriessort {
    const vg_scan_t *scan;
    const uint32_t *tags;
    uint32_t ntags;
} seriessort_t;

static int cmp_series(const void *pa, const void *pb, void *arg)
{
    const seriessort_t *o = arg;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    for (uint32_t i = 0; i < o->ntags; i++) {
        const char *x = vg_scan_series_tag(o->scan, a, o->tags[i]);
        const char *y = vg_scan_series_tag(o->scan, b, o->tags[i]);
        if (!x || !y) {
            if (x != y)
                return !x ? -1 : 1;
            continue;
        }
        int c = strcmp(x, y);
        if (c)
            return c;
    }
    return a < b ? -1 : a > b;
}

/* Tag and field indices by name; arg is the scan. */
static int cmp_tag_names(const void *pa, const void *pb, void *arg)
{
    const vg_scan_t *scan = arg;
    return strcmp(vg_scan_tag_name(scan, *(const uint32_t *)pa),
                  vg_scan_tag_name(scan, *(const uint32_t *)pb));
}

static int cmp_field_names(const void *pa, const void *pb, void *arg)
{
    const vg_scan_t *scan = arg;
    return strcmp(vg_scan_field_name(scan, *(const uint32_t *)pa),
                  vg_scan_field_name(scan, *(const uint32_t *)pb));
}

/* Tag indices sorted by name into *out (n of them). */
static uint32_t *sorted_tags(const exec_t *ex, uint32_t *n)
{
    *n = vg_scan_ntags(ex->scan);
    uint32_t *t = vg_malloc(((size_t)*n + 1) * sizeof *t);
    for (uint32_t i = 0; t && i < *n; i++)
        t[i] = i;
    if (t)
        qsort_r(t, *n, sizeof *t, cmp_tag_names, ex->scan);
    return t;
}

/* SELECT *: column nodes for time, the tags (sorted) and the fields by name. */
static void star_columns(exec_t *ex, rawplan_t *p, const uint32_t *tags, uint32_t nt,
                         uint32_t *fields, uint32_t nf)
{
    for (uint32_t i = 0; i < nf; i++)
        fields[i] = i;
    qsort_r(fields, nf, sizeof *fields, cmp_field_names, ex->scan);
    for (size_t c = 0; c < p->nvis; c++) {
        cx_t *x = &p->star[c];
        x->idx = x->gidx = -1;
        if (c == 0) {
            x->kind = CX_TIME, x->type = VG_TYPE_TIME;
            p->names[c] = "time";
        } else if (c <= nt) {
            x->kind = CX_TAG, x->type = VG_TYPE_TAG, x->idx = (int)tags[c - 1];
            p->names[c] = vg_scan_tag_name(ex->scan, tags[c - 1]);
        } else {
            uint32_t f = fields[c - 1 - nt];
            x->kind = CX_FIELD, x->idx = (int)f, x->type = vg_scan_field_type(ex->scan, f);
            p->names[c] = vg_scan_field_name(ex->scan, f);
            ex->field_used[f] = 1;
        }
        p->cols[c] = x;
    }
}

/* ORDER BY keys that name no shown column become hidden columns. */
static int hidden_keys(exec_t *ex, rawplan_t *p)
{
    const vg_q_stmt_t *st = ex->st;
    for (int k = 0; k < st->norder; k++) {
        const vg_q_order_t *o = &st->order[k];
        p->hidden[k] = -1;
        const char *name = o->is_time ? "time"
                           : o->expr && o->expr->kind == VG_QE_REF ? o->expr->u.ref.name
                                                                   : NULL;
        int found = o->item >= 0 && !st->star;
        for (size_t c = 0; name && !found && c < p->nvis; c++)
            found = strcmp(p->names[c], name) == 0;
        if (found || !o->expr)
            continue;
        int rc = bind_row_expr(ex, o->expr, &p->cols[p->ncols]);
        if (rc)
            return rc;
        p->names[p->ncols] = "";
        p->hidden[k] = (int)p->ncols++;
    }
    return VG_OK;
}

/* p->rank: each series' position in the order of its tags (by tag name). */
static int rank_series(const exec_t *ex, rawplan_t *p, const uint32_t *tags, uint32_t nt)
{
    uint32_t ns = vg_scan_nseries(ex->scan);
    if (!(p->rank = vg_malloc(((size_t)ns + 1) * sizeof *p->rank)))
        return VG_ENOMEM;
    uint32_t *ids = vg_malloc(((size_t)ns + 1) * sizeof *ids);
    if (!ids)
        return VG_ENOMEM;
    for (uint32_t i = 0; i < ns; i++)
        ids[i] = i;
    seriessort_t o = {.scan = ex->scan, .tags = tags, .ntags = nt};
    qsort_r(ids, ns, sizeof *ids, cmp_series, &o);
    for (uint32_t i = 0; i < ns; i++)
        p->rank[ids[i]] = i;
    vg_free(ids);
    return VG_OK;
}

/* The columns to evaluate per row, their names, and the series' ranks. */
static int raw_plan(exec_t *ex, rawplan_t *p)
{
    const vg_q_stmt_t *st = ex->st;
    uint32_t nt = 0, nf = vg_scan_nfields(ex->scan);
    uint32_t *tags = sorted_tags(ex, &nt);
    uint32_t *fields = vg_malloc(((size_t)nf + 1) * sizeof *fields);
    p->nvis = st->star ? 1 + nt + nf : (size_t)st->nitems;
    p->cols = vg_calloc(p->nvis + (size_t)st->norder + 1, sizeof *p->cols);
    p->names = vg_calloc(p->nvis + (size_t)st->norder + 1, sizeof *p->names);
    p->hidden = vg_calloc((size_t)st->norder + 1, sizeof *p->hidden);
    p->star = st->star ? vg_calloc(p->nvis, sizeof *p->star) : NULL;
    p->ncols = p->nvis;
    int rc = (!tags || !fields || !p->cols || !p->names || !p->hidden || (st->star && !p->star))
                 ? VG_ENOMEM
                 : VG_OK;
    if (!rc && st->star) {
        star_columns(ex, p, tags, nt, fields, nf);
    } else if (!rc) {
        for (int i = 0; i < st->nitems; i++) {
            p->cols[i] = ex->items[i];
            p->names[i] = vg_q_item_name(st, (size_t)i);
        }
    }
    if (!rc)
        rc = hidden_keys(ex, p);
    if (!rc)
        rc = rank_series(ex, p, tags, nt);
    vg_free(tags);
    vg_free(fields);
    return rc;
}

static void raw_plan_free(rawplan_t *p)
{
    for (size_t c = p->nvis; p->cols && c < p->ncols; c++)
        bind_cx_free(p->cols[c]);
    vg_free(p->cols);
    vg_free(p->star);
    vg_free(p->names);
    vg_free(p->hidden);
    vg_free(p->rank);
}

/* An owned copy of a row's cells (strings copied after them). */
static qv_t *own_cells(const qv_t *cells, size_t n)
{
    size_t bytes = n * sizeof *cells;
    for (size_t i = 0; i < n; i++)
        if (cells[i].k == QV_S)
            bytes += cells[i].len + 1;
    qv_t *out = vg_malloc(bytes);
    if (!out)
        return NULL;
    memcpy(out, cells, n * sizeof *cells);
    char *s = (char *)(out + n);
    for (size_t i = 0; i < n; i++)
        if (cells[i].k == QV_S) {
            memcpy(s, cells[i].s, cells[i].len);
            s[cells[i].len] = '\0';
            out[i].s = s;
            s += cells[i].len + 1;
        }
    return out;
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rawset {
    rawrow_t *rows;
    size_t n, cap;
    uint64_t matched, rng;
} rawset_t;

/* Keep (or reservoir-sample) the row in c. */
static int raw_keep(exec_t *ex, const rawplan_t *p, rawset_t *rs, evctx_t *c, qv_t *tmp)
{
    int64_t sample = ex->st->sample;
    rs->matched++;
    size_t slot = rs->n;
    if (sample >= 0 && rs->n >= (uint64_t)sample) {
        uint64_t j = splitmix(&rs->rng) % rs->matched;
        if (j >= (uint64_t)sample)
            return VG_OK;
        slot = (size_t)j;
    }
    int rc;
    for (size_t i = 0; i < p->ncols; i++)
        if ((rc = eval(c, p->cols[i], &tmp[i])))
            return rc;
    qv_t *cells = own_cells(tmp, p->ncols);
    if (!cells)
        return VG_ENOMEM;
    if (slot < rs->n) {
        vg_free(rs->rows[slot].cells);
    } else {
        if ((rc = exec_values(ex, p->ncols))) {
            vg_free(cells);
            return rc;
        }
        if (rs->n == rs->cap) {
            size_t nc = rs->cap ? 2 * rs->cap : 256;
            rawrow_t *r = vg_realloc(rs->rows, nc * sizeof *r);
            if (!r) {
                vg_free(cells);
                return VG_ENOMEM;
            }
            rs->rows = r;
            rs->cap = nc;
        }
        rs->n++;
    }
    rs->rows[slot] = (rawrow_t){c->ts, c->series, cells};
    return VG_OK;
}

static int raw_scan(exec_t *ex, const rawplan_t *p, rawset_t *rs)
{
    vg_scan_reader_t *rd = NULL;
    vg_error_t verr = {0};
    uint32_t nf = vg_scan_nfields(ex->scan);
    vg_scan_col_t *cols = vg_calloc(nf + 1, sizeof *cols);
    qv_t *tmp = vg_calloc(p->ncols + 1, sizeof *tmp);
    int rc = cols && tmp ? vg_scan_reader_create(ex->scan, &rd, &verr) : VG_ENOMEM;
    if (rc == VG_ENOMEM && !rd)
        rc = vg_q_error_set(ex->err, rc, 0, 0, "out of memory reading rows");
    else if (rc)
        rc = exec_scan_error(ex, rc, &verr);
    for (uint32_t ch = 0; !rc && ch < vg_scan_nchunks(ex->scan); ch++) {
        vg_scan_chunk_t ci = vg_scan_chunk(ex->scan, ch);
        if (ci.ts_max < ex->start || ci.ts_min >= ex->end || (rc = exec_tick(ex)))
            continue;
        const int64_t *ts;
        const uint32_t *ser;
        if ((rc = vg_scan_read_time(rd, ch, &ts, &ser, &verr)) ||
            (rc = exec_read_cols(ex, rd, ch, cols, &verr))) {
            rc = exec_scan_error(ex, rc, &verr);
            break;
        }
        evctx_t c = {.ex = ex, .cols = cols};
        for (uint32_t i = 0; i < ci.nrows && !rc; i++) {
            if (ts[i] < ex->start || ts[i] >= ex->end)
                continue;
            c.row = i, c.series = ser[i], c.ts = ts[i];
            int pass = 1;
            if (ex->where && (rc = eval_pred(&c, ex->where, &pass)))
                break;
            if (pass)
                rc = raw_keep(ex, p, rs, &c, tmp);
        }
    }
    if (rc && rc != VG_ELIMIT && ex->err->code == 0)
        vg_q_error_set(ex->err, rc, 0, 0, "reading rows: %s", vg_strerror(rc));
    vg_scan_reader_free(rd);
    vg_free(cols);
    vg_free(tmp);
    return rc;
}

/* Rows by time, then by their series' rank (arg: the ranks). */
static int cmp_raw(const void *pa, const void *pb, void *arg)
{
    const uint32_t *rank = arg;
    const rawrow_t *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    uint32_t x = rank[a->series], y = rank[b->series];
    return x < y ? -1 : x > y;
}

int raw_run(exec_t *ex, vg_result_t *out)
{
    rawplan_t p = {0};
    rawset_t rs = {0};
    rs.rng = (uint64_t)ex->now ^ 0x5eed5eed5eedull;
    int rc = raw_plan(ex, &p);
    if (!rc)
        rc = raw_scan(ex, &p, &rs);
    vg_result_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (!rc) {
        if (rs.n) /* no rows: rs.rows is NULL, which qsort_r must not be given */
            qsort_r(rs.rows, rs.n, sizeof *rs.rows, cmp_raw, p.rank);
        rc = vg_result_init(&tmp, p.ncols);
        for (size_t c = 0; c < p.ncols && !rc; c++)
            rc = vg_result_col(&tmp, c, p.names[c], emit_col_type(p.cols[c]->type));
        for (size_t i = 0; i < rs.n && !rc; i++) {
            size_t row;
            rc = vg_result_add_row(&tmp, &row);
            for (size_t c = 0; c < p.ncols && !rc; c++)
                rc = emit_set_cell(&tmp, row, c, &rs.rows[i].cells[c]);
        }
        if (rc)
            rc = vg_q_error_set(ex->err, rc, 0, 0, "out of memory building the result");
        else
            rc = emit_order_and_limit(ex, &tmp, out, p.nvis, 0, p.hidden);
    } else if (ex->err->code == 0) {
        vg_q_error_set(ex->err, rc, 0, 0, "%s", vg_strerror(rc));
    }
    vg_result_free(&tmp);
    for (size_t i = 0; i < rs.n; i++)
        vg_free(rs.rows[i].cells);
    vg_free(rs.rows);
    raw_plan_free(&p);
    return rc;
}
