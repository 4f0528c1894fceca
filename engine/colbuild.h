/*
 * colbuild.h: building colvecs row by row (merge.c, rows.c, sealing).
 *
 * vg_colvec_alloc makes n all-null slots. vg_colvec_set fills slot i; for
 * STRING columns slots must be set in increasing order (offsets are built
 * as they go) and vg_colvec_finish must be called before reading.
 * Ownership: the colvec owns its arrays; free with vg_colvec_free.
 */
#ifndef VG_ENGINE_COLBUILD_H
#define VG_ENGINE_COLBUILD_H

#include "colvec.h"

int vg_colvec_alloc(vg_colvec_t *c, vg_type_t type, size_t n);
int vg_colvec_set(vg_colvec_t *c, size_t i, const vg_value_t *v);
/* 1 and *v when slot i holds a value, else 0. Strings point into c. */
int vg_colvec_get(const vg_colvec_t *c, size_t i, vg_value_t *v);
void vg_colvec_finish(vg_colvec_t *c);
/* Append the rows of src whose ts is in [lo, hi) to dst (created with type
 * on first use). src may be empty (type NONE: all null). */
int vg_colvec_append_filtered(vg_colvec_t *dst, vg_type_t type, const vg_colvec_t *src,
                              const int64_t *ts, int64_t lo, int64_t hi, size_t n);
/* As vg_colvec_alloc, but the value slots are not zeroed: the caller writes
 * every one (0 in the null ones). */
int vg_colvec_alloc_filled(vg_colvec_t *c, vg_type_t type, size_t n);
/* dst[k] = src[perm[k]] for k < n (allocated here). Typed loops. */
int vg_colvec_permute(vg_colvec_t *dst, const vg_colvec_t *src, const uint32_t *perm, size_t n);

#endif
