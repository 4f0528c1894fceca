/*
 * buf.c: the growable byte buffer every encoder appends to (buf.h).
 * Invariant: len <= cap, and p is NULL exactly when cap is 0. Growth is
 * geometric so a run of small appends costs amortised O(1) each.
 */
#include "buf.h"

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

#define BUF_MIN_CAP 64

int vg_buf_reserve(vg_buf_t *b, size_t n)
{
    if (n <= b->cap - b->len)
        return VG_OK;
    if (n > SIZE_MAX - b->len)
        return VG_ENOMEM;
    size_t need = b->len + n;
    size_t cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = vg_realloc(b->p, cap);
    if (!p)
        return VG_ENOMEM;
    b->p = p;
    b->cap = cap;
    return VG_OK;
}

int vg_buf_append(vg_buf_t *b, const void *src, size_t n)
{
    if (n == 0)
        return VG_OK;
    int rc = vg_buf_reserve(b, n);
    if (rc)
        return rc;
    vg_buf_put(b, src, n);
    return VG_OK;
}

void vg_buf_free(vg_buf_t *b)
{
    vg_free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

int vg_get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    return vg_uvarint_read(pp, end, out) ? VG_ECORRUPT : VG_OK;
}
