/*
 * vg_sketch.h: DDSketch, a mergeable quantile sketch with a relative-error
 * guarantee (alpha = 1%: the value returned for q is within 1% of the true
 * value at rank floor(q * (n - 1))). Every block of a numeric column carries
 * one; the query layer merges them to answer approx_quantile without
 * decoding values. The engine's sketch.h adds the on-disk encoding.
 */
#ifndef VIGIL_VG_SKETCH_H
#define VIGIL_VG_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VG_SKETCH_ALPHA 0.01
#define VG_SKETCH_MIN_ABS 1e-9

typedef struct vg_sketch_store {
    uint64_t *bins; /* count of bin (lo + i) */
    int32_t lo;     /* index of bins[0] */
    uint32_t n;     /* bins in use */
    uint32_t cap;
} vg_sketch_store_t;

/* Ownership: owns the bin arrays; vg_sketch_reset frees them. */
typedef struct vg_sketch {
    vg_sketch_store_t pos, neg;
    uint64_t zeros;
    uint64_t count;
    double min, max; /* exact extremes of what was added */
} vg_sketch_t;

void vg_sketch_init(vg_sketch_t *s);
void vg_sketch_reset(vg_sketch_t *s);
int vg_sketch_add(vg_sketch_t *s, double v);
int vg_sketch_add_n(vg_sketch_t *s, double v, uint64_t count);
/* dst += src (dst == src allowed). On VG_ENOMEM dst holds part of src:
 * reset it. */
int vg_sketch_merge(vg_sketch_t *dst, const vg_sketch_t *src);
/* q in [0, 1] (clamped; NaN q gives NaN); NaN when the sketch is empty.
 * Ranks 0 and count - 1 return the exact min and max; the rest are clamped
 * to [min, max]. */
double vg_sketch_quantile(const vg_sketch_t *s, double q);

#ifdef __cplusplus
}
#endif
#endif
