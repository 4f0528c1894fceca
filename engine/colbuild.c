/*
 * colbuild.c: row-at-a-time construction of colvecs (colbuild.h). Not a
 * hot path: sealing and merging call it once per value, the query kernels
 * read colvecs directly.
 */
#include "colbuild.h"

#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

static size_t width(vg_type_t t)
{
    return t == VG_TYPE_BOOL ? 1 : 8;
}

/* As vg_colvec_alloc, without zeroing the value slots: for callers that
 * write every slot (copies zero the null ones themselves). */
static int colvec_alloc_raw(vg_colvec_t *c, vg_type_t type, size_t n)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->n = n;
    c->valid = vg_calloc((n + 7) / 8 + 1, 1);
    if (!c->valid)
        return VG_ENOMEM;
    if (type == VG_TYPE_STRING)
        c->soffs = vg_malloc((n + 1) * sizeof *c->soffs);
    else
        c->v.u = vg_malloc((n ? n : 1) * width(type));
    return (type == VG_TYPE_STRING ? (void *)c->soffs : (void *)c->v.u) ? VG_OK : VG_ENOMEM;
}

int vg_colvec_alloc_filled(vg_colvec_t *c, vg_type_t type, size_t n)
{
    return colvec_alloc_raw(c, type, n);
}

int vg_colvec_alloc(vg_colvec_t *c, vg_type_t type, size_t n)
{
    int rc = colvec_alloc_raw(c, type, n);
    if (rc == VG_OK && type == VG_TYPE_STRING)
        memset(c->soffs, 0, (n + 1) * sizeof *c->soffs);
    else if (rc == VG_OK)
        memset(c->v.u, 0, (n ? n : 1) * width(type));
    return rc;
}

/* Bring string offsets up to row i (rows before it that were never set are empty). */
static void fill_to(vg_colvec_t *c, size_t i)
{
    while (c->sfill < i) {
        c->soffs[c->sfill + 1] = c->soffs[c->sfill];
        c->sfill++;
    }
}

int vg_colvec_set(vg_colvec_t *c, size_t i, const vg_value_t *v)
{
    c->valid[i >> 3] |= (uint8_t)(1u << (i & 7));
    switch (c->type) {
    case VG_TYPE_FLOAT: c->v.f[i] = v->f; return VG_OK;
    case VG_TYPE_INT: c->v.i[i] = v->i; return VG_OK;
    case VG_TYPE_UINT: c->v.u[i] = v->u; return VG_OK;
    case VG_TYPE_BOOL: c->v.b[i] = (uint8_t)(v->b != 0); return VG_OK;
    case VG_TYPE_STRING: break;
    default: return VG_EINVAL;
    }
    fill_to(c, i);
    size_t len = c->soffs[i] + (size_t)v->s.len;
    if (len > UINT32_MAX)
        return VG_ELIMIT;
    if (len > c->scap) {
        size_t ncap = c->scap ? c->scap : 256;
        while (ncap < len)
            ncap *= 2;
        char *nd = vg_realloc(c->sdata, ncap);
        if (!nd)
            return VG_ENOMEM;
        c->sdata = nd;
        c->scap = ncap;
    }
    if (v->s.len)
        memcpy(c->sdata + c->soffs[i], v->s.p, v->s.len);
    c->soffs[i + 1] = (uint32_t)len;
    c->sfill = i + 1;
    return VG_OK;
}

void vg_colvec_finish(vg_colvec_t *c)
{
    if (c->type == VG_TYPE_STRING && c->soffs)
        fill_to(c, c->n);
}

int vg_colvec_get(const vg_colvec_t *c, size_t i, vg_value_t *v)
{
    if (c->type == VG_TYPE_NONE || i >= c->n || !vg_colvec_valid(c, i))
        return 0;
    switch (c->type) {
    case VG_TYPE_FLOAT: v->f = c->v.f[i]; break;
    case VG_TYPE_INT: v->i = c->v.i[i]; break;
    case VG_TYPE_UINT: v->u = c->v.u[i]; break;
    case VG_TYPE_BOOL: v->b = c->v.b[i]; break;
    case VG_TYPE_STRING:
        v->s.p = c->sdata ? c->sdata + c->soffs[i] : "";
        v->s.len = c->soffs[i + 1] - c->soffs[i];
        break;
    default: return 0;
    }
    return 1;
}

int vg_colvec_append_filtered(vg_colvec_t *dst, vg_type_t type, const vg_colvec_t *src,
                              const int64_t *ts, int64_t lo, int64_t hi, size_t n)
{
    size_t add = 0;
    for (size_t i = 0; i < n; i++)
        add += ts[i] >= lo && ts[i] < hi;
    vg_colvec_t grown;
    if (vg_colvec_alloc(&grown, type, dst->n + add) != VG_OK) {
        vg_colvec_free(&grown);
        return VG_ENOMEM;
    }
    size_t k = 0;
    vg_value_t v;
    int rc = VG_OK;
    for (size_t i = 0; i < dst->n && rc == VG_OK; i++, k++)
        if (vg_colvec_get(dst, i, &v))
            rc = vg_colvec_set(&grown, k, &v);
    for (size_t i = 0; i < n && rc == VG_OK; i++) {
        if (ts[i] < lo || ts[i] >= hi)
            continue;
        if (src->type == type && vg_colvec_get(src, i, &v))
            rc = vg_colvec_set(&grown, k, &v);
        k++;
    }
    vg_colvec_finish(&grown);
    if (rc) {
        vg_colvec_free(&grown);
        return rc;
    }
    vg_colvec_free(dst);
    *dst = grown;
    return VG_OK;
}

int vg_colvec_permute(vg_colvec_t *dst, const vg_colvec_t *src, const uint32_t *perm, size_t n)
{
    if (colvec_alloc_raw(dst, src->type, n) != VG_OK)
        return VG_ENOMEM;
    size_t bytes = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = perm[k];
        if (!vg_colvec_valid(src, i)) {
            if (src->type == VG_TYPE_BOOL)
                dst->v.b[k] = 0;
            else if (src->type != VG_TYPE_STRING)
                dst->v.u[k] = 0;
            continue;
        }
        dst->valid[k >> 3] |= (uint8_t)(1u << (k & 7));
        switch (src->type) {
        case VG_TYPE_BOOL: dst->v.b[k] = src->v.b[i]; break;
        case VG_TYPE_STRING: bytes += src->soffs[i + 1] - src->soffs[i]; break;
        default: dst->v.u[k] = src->v.u[i]; break;
        }
    }
    if (src->type != VG_TYPE_STRING)
        return VG_OK;
    dst->sdata = vg_malloc(bytes ? bytes : 1);
    if (!dst->sdata)
        return VG_ENOMEM;
    dst->scap = bytes;
    uint32_t off = 0;
    for (size_t k = 0; k < n; k++) {
        dst->soffs[k] = off;
        if (!vg_colvec_valid(dst, k))
            continue;
        uint32_t a = src->soffs[perm[k]], len = src->soffs[perm[k] + 1] - a;
        if (len)
            memcpy(dst->sdata + off, src->sdata + a, len);
        off += len;
    }
    dst->soffs[n] = off;
    dst->sfill = n;
    return VG_OK;
}
