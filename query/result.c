/*
 * result.c: the cells of a query's answer (vg_result.h). Rows grow by
 * doubling; string cells are copied into blocks that never move.
 */
#include <stdlib.h>
#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"
#include "vigil/vg_result.h"

struct vg_result_str {
    struct vg_result_str *next;
    size_t used, cap;
    char data[];
};

int vg_result_init(vg_result_t *r, size_t ncols)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    r->cols = vg_calloc(ncols + 1, sizeof *r->cols);
    return r->cols ? VG_OK : VG_ENOMEM;
}

int vg_result_col(vg_result_t *r, size_t col, const char *name, vg_type_t type)
{
    char *n = vg_strdup(name);
    if (!n)
        return VG_ENOMEM;
    vg_free(r->cols[col].name);
    r->cols[col].name = n;
    r->cols[col].type = type;
    return VG_OK;
}

int vg_result_add_row(vg_result_t *r, size_t *row)
{
    if (r->nrows == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        size_t cells = ncap * (r->ncols ? r->ncols : 1);
        vg_value_t *nc = vg_realloc(r->cells, cells * sizeof *nc);
        if (!nc)
            return VG_ENOMEM;
        r->cells = nc;
        uint8_t *nn = vg_realloc(r->null, cells);
        if (!nn)
            return VG_ENOMEM;
        r->null = nn;
        r->cap = ncap;
    }
    memset(r->null + r->nrows * r->ncols, 1, r->ncols);
    *row = r->nrows++;
    return VG_OK;
}

static const char *str_copy(vg_result_t *r, const char *p, uint32_t len)
{
    struct vg_result_str *b = r->strings;
    if (!b || b->cap - b->used < (size_t)len + 1) {
        size_t cap = len >= 65536 ? (size_t)len + 1 : 65536;
        struct vg_result_str *nb = vg_malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = b;
        r->strings = b = nb;
    }
    char *d = b->data + b->used;
    if (len)
        memcpy(d, p, len);
    d[len] = '\0'; /* so that a cell's bytes are also a C string */
    b->used += (size_t)len + 1;
    return d;
}

int vg_result_set(vg_result_t *r, size_t row, size_t col, const vg_value_t *v)
{
    size_t i = row * r->ncols + col;
    vg_value_t c = *v;
    vg_type_t t = r->cols[col].type;
    if (t == VG_TYPE_STRING || t == VG_TYPE_TAG) {
        c.s.p = str_copy(r, v->s.p, v->s.len);
        if (!c.s.p)
            return VG_ENOMEM;
    }
    r->cells[i] = c;
    r->null[i] = 0;
    return VG_OK;
}

void vg_result_free(vg_result_t *r)
{
    for (size_t c = 0; r->cols && c < r->ncols; c++)
        vg_free(r->cols[c].name);
    vg_free(r->cols);
    vg_free(r->cells);
    vg_free(r->null);
    for (struct vg_result_str *b = r->strings, *n; b; b = n) {
        n = b->next;
        vg_free(b);
    }
    memset(r, 0, sizeof *r);
}

const char *vg_result_type_name(vg_type_t t)
{
    switch (t) {
    case VG_TYPE_TIME: return "time";
    case VG_TYPE_TAG: return "tag";
    case VG_TYPE_FLOAT: return "float";
    case VG_TYPE_INT: return "integer";
    case VG_TYPE_UINT: return "unsigned";
    case VG_TYPE_BOOL: return "boolean";
    case VG_TYPE_STRING: return "string";
    default: return "null";
    }
}
