/*
 * shape.c: recent line shapes of a table (shape.h). A hit moves nothing;
 * a miss that is stored replaces the entries in turn.
 */
#include "shape.h"

#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

static int shape_match(const vg_shape_t *s, const vg_lp_line_t *ln, uint32_t *idx)
{
    if (ln->nfields != s->n || s->n == 0)
        return 0;
    const uint8_t *k = s->keys.p;
    for (uint32_t i = 0; i < ln->nfields; i++) {
        const vg_lp_field_t *f = &ln->fields[i];
        if (f->key.len != s->len[i] || f->type != s->type[i] ||
            memcmp(f->key.p, k, f->key.len) != 0)
            return 0;
        k += f->key.len;
    }
    for (uint32_t i = 0; i < ln->nfields; i++)
        idx[i] = s->col[i];
    return 1;
}

int vg_shapes_match(vg_shapes_t *sh, const vg_lp_line_t *ln, uint32_t *idx)
{
    for (uint32_t i = 0; i < VG_SHAPES; i++)
        if (shape_match(&sh->s[i], ln, idx))
            return 1;
    return 0;
}

static int shape_grow(vg_shape_t *s, uint32_t n)
{
    if (n <= s->cap)
        return VG_OK;
    uint32_t ncap = n * 2;
    uint32_t *l = vg_realloc(s->len, ncap * sizeof *l);
    if (l)
        s->len = l;
    uint32_t *c = vg_realloc(s->col, ncap * sizeof *c);
    if (c)
        s->col = c;
    uint8_t *t = vg_realloc(s->type, ncap);
    if (t)
        s->type = t;
    if (!l || !c || !t)
        return VG_ENOMEM;
    s->cap = ncap;
    return VG_OK;
}

void vg_shapes_store(vg_shapes_t *sh, const vg_lp_line_t *ln, const uint32_t *idx)
{
    vg_shape_t *s = &sh->s[sh->next];
    sh->next = (sh->next + 1) % VG_SHAPES;
    s->n = 0;
    s->keys.len = 0;
    if (shape_grow(s, ln->nfields) != VG_OK)
        return;
    for (uint32_t i = 0; i < ln->nfields; i++) {
        const vg_lp_field_t *f = &ln->fields[i];
        if (vg_buf_append(&s->keys, f->key.p, f->key.len) != VG_OK)
            return;
        s->len[i] = f->key.len;
        s->col[i] = idx[i];
        s->type[i] = (uint8_t)f->type;
    }
    s->n = ln->nfields;
}

void vg_shapes_free(vg_shapes_t *sh)
{
    for (uint32_t i = 0; i < VG_SHAPES; i++) {
        vg_buf_free(&sh->s[i].keys);
        vg_free(sh->s[i].len);
        vg_free(sh->s[i].col);
        vg_free(sh->s[i].type);
    }
    memset(sh, 0, sizeof *sh);
}
