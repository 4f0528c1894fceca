/*
 * head.c: a table's unsealed rows, held as columns in fixed chunks of
 * VG_HEAD_CHUNK rows so that nothing a reader can see ever moves.
 *
 * One writer (under db->write_mu) appends; readers read rows below the
 * visible count they took in their snapshot. A column's arrays inside a
 * chunk are allocated on the first value and published with a release
 * store; validity is one byte per row so the writer never rewrites a byte
 * that holds a visible row. Strings are copied into blocks that are never
 * reallocated. Only the chunk pointer array grows; readers copy what they
 * need of it under the table mutex (see rows.c).
 */
#include <string.h>

#include "colbuild.h"
#include "db_int.h"
#include "vigil/vg_alloc.h"

#define STR_BLOCK (256u << 10)

vg_head_t *vg__head_new(void)
{
    vg_head_t *h = vg_calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->refs = 1;
    h->ts_min = INT64_MAX;
    h->ts_max = INT64_MIN;
    return h;
}

void vg__head_ref(vg_head_t *h)
{
    __atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
}

static void chunk_free(vg_hchunk_t *c)
{
    for (uint32_t i = 0; i < VG_MAX_COLUMNS; i++) {
        if (c->cols[i]) {
            vg_free(c->cols[i]->valid);
            vg_free(c->cols[i]->vals);
            vg_free(c->cols[i]);
        }
    }
    vg_free(c);
}

void vg__head_unref(vg_head_t *h)
{
    if (!h || __atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (uint32_t i = 0; i < h->nchunks; i++)
        chunk_free(h->chunks[i]);
    vg_free(h->chunks);
    for (size_t i = 0; i < h->nstrings; i++)
        vg_buf_free(&h->strings[i]);
    vg_free(h->strings);
    vg_free(h);
}

uint32_t vg__head_add_row(vg_head_t *h, int64_t ts, uint32_t series, pthread_mutex_t *mu)
{
    uint32_t row = h->nrows;
    if (row == UINT32_MAX - 1)
        return UINT32_MAX;
    if (row / VG_HEAD_CHUNK == h->nchunks) {
        if (h->nchunks == h->chunks_cap) {
            /* The pointer array may move; readers copy it under t->mu, and the
             * writer holds t->mu when replacing it (see db_write.c). */
            uint32_t ncap = h->chunks_cap ? h->chunks_cap * 2 : 16;
            vg_hchunk_t **nc = vg_malloc(ncap * sizeof *nc);
            if (!nc)
                return UINT32_MAX;
            if (h->nchunks)
                memcpy(nc, h->chunks, h->nchunks * sizeof *nc);
            pthread_mutex_lock(mu);
            vg_hchunk_t **old = h->chunks;
            h->chunks = nc;
            h->chunks_cap = ncap;
            pthread_mutex_unlock(mu);
            vg_free(old);
        }
        /* Row arrays are written before they are read; only the column
         * pointers must start NULL (zeroing 80 KiB a chunk showed in profiles). */
        vg_hchunk_t *c = vg_malloc(sizeof *c);
        if (!c)
            return UINT32_MAX;
        memset(c->cols, 0, sizeof c->cols);
        h->chunks[h->nchunks++] = c;
        h->bytes += sizeof *c;
    }
    vg_hchunk_t *c = h->chunks[row / VG_HEAD_CHUNK];
    uint32_t i = row % VG_HEAD_CHUNK;
    c->ts[i] = ts;
    c->series[i] = series;
    c->dead_by[i] = 0;
    c->prev[i] = UINT32_MAX;
    h->nrows = row + 1;
    if (row == 0)
        h->born_ns = vg_now_ns();
    if (ts < h->ts_min)
        h->ts_min = ts;
    if (ts > h->ts_max)
        h->ts_max = ts;
    return row;
}

static size_t type_width(vg_type_t t)
{
    switch (t) {
    case VG_TYPE_BOOL: return 1;
    case VG_TYPE_STRING: return sizeof(vg_hstr_t);
    default: return 8;
    }
}

static vg_hcol_t *col_get(vg_head_t *h, vg_hchunk_t *c, uint32_t col, vg_type_t type)
{
    vg_hcol_t *hc = c->cols[col];
    if (hc)
        return hc;
    hc = vg_calloc(1, sizeof *hc);
    if (!hc)
        return NULL;
    hc->valid = vg_calloc(VG_HEAD_CHUNK, 1);
    hc->vals = vg_malloc(VG_HEAD_CHUNK * type_width(type)); /* read only where valid */
    if (!hc->valid || !hc->vals) {
        vg_free(hc->valid);
        vg_free(hc->vals);
        vg_free(hc);
        return NULL;
    }
    h->bytes += VG_HEAD_CHUNK * (1 + type_width(type));
    __atomic_store_n(&c->cols[col], hc, __ATOMIC_RELEASE);
    return hc;
}

static const char *str_copy(vg_head_t *h, const char *p, uint32_t len)
{
    vg_buf_t *b = h->nstrings ? &h->strings[h->nstrings - 1] : NULL;
    if (!b || b->cap - b->len < len) {
        if (h->nstrings == h->strings_cap) {
            size_t ncap = h->strings_cap ? h->strings_cap * 2 : 8;
            vg_buf_t *ns = vg_realloc(h->strings, ncap * sizeof *ns);
            if (!ns)
                return NULL;
            h->strings = ns;
            h->strings_cap = ncap;
        }
        b = &h->strings[h->nstrings];
        memset(b, 0, sizeof *b);
        size_t want = len > STR_BLOCK ? len : STR_BLOCK;
        b->p = vg_malloc(want);
        if (!b->p)
            return NULL;
        b->cap = want;
        h->nstrings++;
        h->bytes += want;
    }
    char *d = (char *)b->p + b->len;
    if (len)
        memcpy(d, p, len);
    b->len += len;
    return d;
}

int vg__head_set(vg_head_t *h, uint32_t row, uint32_t col, vg_type_t type, const vg_value_t *v)
{
    vg_hchunk_t *c = h->chunks[row / VG_HEAD_CHUNK];
    uint32_t i = row % VG_HEAD_CHUNK;
    vg_hcol_t *hc = col_get(h, c, col, type);
    if (!hc)
        return VG_ENOMEM;
    switch (type) {
    case VG_TYPE_FLOAT: ((double *)hc->vals)[i] = v->f; break;
    case VG_TYPE_INT: ((int64_t *)hc->vals)[i] = v->i; break;
    case VG_TYPE_UINT: ((uint64_t *)hc->vals)[i] = v->u; break;
    case VG_TYPE_BOOL: ((uint8_t *)hc->vals)[i] = (uint8_t)(v->b != 0); break;
    case VG_TYPE_STRING: {
        const char *s = str_copy(h, v->s.p, v->s.len);
        if (!s)
            return VG_ENOMEM;
        ((vg_hstr_t *)hc->vals)[i] = (vg_hstr_t){s, v->s.len};
        break;
    }
    default: return VG_EINVAL;
    }
    hc->valid[i] = 1;
    return VG_OK;
}

int vg__head_get(const vg_head_t *h, uint32_t row, uint32_t col, vg_type_t type, vg_value_t *v)
{
    const vg_hchunk_t *c = h->chunks[row / VG_HEAD_CHUNK];
    uint32_t i = row % VG_HEAD_CHUNK;
    const vg_hcol_t *hc = __atomic_load_n(&c->cols[col], __ATOMIC_ACQUIRE);
    if (!hc || !hc->valid[i])
        return 0;
    switch (type) {
    case VG_TYPE_FLOAT: v->f = ((const double *)hc->vals)[i]; break;
    case VG_TYPE_INT: v->i = ((const int64_t *)hc->vals)[i]; break;
    case VG_TYPE_UINT: v->u = ((const uint64_t *)hc->vals)[i]; break;
    case VG_TYPE_BOOL: v->b = ((const uint8_t *)hc->vals)[i]; break;
    case VG_TYPE_STRING: {
        vg_hstr_t s = ((const vg_hstr_t *)hc->vals)[i];
        v->s.p = s.p;
        v->s.len = s.len;
        break;
    }
    default: return 0;
    }
    return 1;
}

int vg__head_inherit(vg_head_t *h, uint32_t to, uint32_t from, uint32_t ncols,
                     const vg_field_t *fields)
{
    for (uint32_t c = 0; c < ncols; c++) {
        vg_value_t v, cur;
        if (vg__head_get(h, to, c, fields[c].type, &cur))
            continue;
        if (!vg__head_get(h, from, c, fields[c].type, &v))
            continue;
        /* strings of the old row already live in this head's blocks */
        vg_hchunk_t *ch = h->chunks[to / VG_HEAD_CHUNK];
        if (fields[c].type == VG_TYPE_STRING) {
            vg_hcol_t *hc = col_get(h, ch, c, VG_TYPE_STRING);
            if (!hc)
                return VG_ENOMEM;
            ((vg_hstr_t *)hc->vals)[to % VG_HEAD_CHUNK] = (vg_hstr_t){v.s.p, v.s.len};
            hc->valid[to % VG_HEAD_CHUNK] = 1;
        } else if (vg__head_set(h, to, c, fields[c].type, &v) != VG_OK) {
            return VG_ENOMEM;
        }
    }
    return VG_OK;
}

void vg__head_truncate(vg_head_t *h, uint32_t nrows)
{
    /* Staged rows were never visible; clear their validity so that the rows
     * that reuse their slots start empty. */
    for (uint32_t r = nrows; r < h->nrows; r++) {
        vg_hchunk_t *c = h->chunks[r / VG_HEAD_CHUNK];
        for (uint32_t col = 0; col < VG_MAX_COLUMNS; col++)
            if (c->cols[col])
                c->cols[col]->valid[r % VG_HEAD_CHUNK] = 0;
    }
    if (nrows < h->nrows)
        h->nrows = nrows;
}

int vg__head_alive(const vg_head_t *h, uint32_t row, uint32_t visible)
{
    uint32_t d = __atomic_load_n(&h->chunks[row / VG_HEAD_CHUNK]->dead_by[row % VG_HEAD_CHUNK],
                                 __ATOMIC_RELAXED);
    return d == 0 || d - 1 >= visible;
}

int vg__head_col_gather(const vg_head_t *h, uint32_t col, vg_type_t type, const uint32_t *rows,
                        size_t n, vg_colvec_t *out)
{
    if (vg_colvec_alloc_filled(out, type, n) != VG_OK)
        return VG_ENOMEM;
    size_t bytes = 0;
    for (size_t k = 0; k < n; k++) {
        const vg_hcol_t *hc =
            __atomic_load_n(&h->chunks[rows[k] / VG_HEAD_CHUNK]->cols[col], __ATOMIC_ACQUIRE);
        uint32_t i = rows[k] % VG_HEAD_CHUNK;
        if (!hc || !hc->valid[i]) {
            if (type == VG_TYPE_BOOL)
                out->v.b[k] = 0;
            else if (type != VG_TYPE_STRING)
                out->v.u[k] = 0;
            continue;
        }
        out->valid[k >> 3] |= (uint8_t)(1u << (k & 7));
        switch (type) {
        case VG_TYPE_BOOL: out->v.b[k] = ((const uint8_t *)hc->vals)[i]; break;
        case VG_TYPE_STRING: bytes += ((const vg_hstr_t *)hc->vals)[i].len; break;
        default: memcpy(&out->v.u[k], (const uint64_t *)hc->vals + i, 8); break;
        }
    }
    if (type != VG_TYPE_STRING)
        return VG_OK;
    /* strings: offsets first, then one allocation for the bytes */
    out->sdata = vg_malloc(bytes ? bytes : 1);
    if (!out->sdata)
        return VG_ENOMEM;
    out->scap = bytes;
    uint32_t off = 0;
    for (size_t k = 0; k < n; k++) {
        out->soffs[k] = off;
        if (!vg_colvec_valid(out, k))
            continue;
        const vg_hcol_t *hc = h->chunks[rows[k] / VG_HEAD_CHUNK]->cols[col];
        vg_hstr_t s = ((const vg_hstr_t *)hc->vals)[rows[k] % VG_HEAD_CHUNK];
        if (s.len)
            memcpy(out->sdata + off, s.p, s.len);
        off += s.len;
    }
    out->soffs[n] = off;
    out->sfill = n;
    return VG_OK;
}
