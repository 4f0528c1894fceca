/*
 * shape.h: the field keys of recent lines of a table, as written, with the
 * columns they resolved to. Lines from one source repeat a few shapes (a
 * request with or without a quality score, say), so the write path compares
 * bytes against these instead of hashing every key of every line.
 * Used under db->write_mu only.
 */
#ifndef VG_ENGINE_SHAPE_H
#define VG_ENGINE_SHAPE_H

#include <stdint.h>

#include "buf.h"
#include "vigil/vg_lp.h"

#define VG_SHAPES 4

typedef struct vg_shape {
    vg_buf_t keys; /* the keys, escaped as written, back to back */
    uint32_t *len, *col;
    uint8_t *type;
    uint32_t n, cap;
} vg_shape_t;

/* Ownership: owns its buffers; vg_shapes_free releases them. */
typedef struct vg_shapes {
    vg_shape_t s[VG_SHAPES];
    uint32_t next; /* the entry replaced next */
} vg_shapes_t;

/* 1 and idx[i] = column of field i when the line has a remembered shape. */
int vg_shapes_match(vg_shapes_t *sh, const vg_lp_line_t *ln, uint32_t *idx);
/* Remember an accepted line's shape (a failure only loses the shortcut). */
void vg_shapes_store(vg_shapes_t *sh, const vg_lp_line_t *ln, const uint32_t *idx);
void vg_shapes_free(vg_shapes_t *sh);

#endif
