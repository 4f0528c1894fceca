/*
 * sketch.h: a DDSketch quantile sketch (Masson, Rim, Lee, VLDB 2019) with a
 * relative-accuracy guarantee: for any q, the value returned is within
 * alpha (default 1%) relative error of the true value at rank
 * floor(q * (n - 1)) (the lower-rank quantile). Mergeable: the sketch of a
 * union is the merge of the sketches, so block sketches combine into
 * window and partition sketches without touching values.
 *
 * Positive values map to bin ceil(log_gamma(v)), gamma = (1+a)/(1-a),
 * negatives to a mirrored store, and |v| below VG_SKETCH_MIN_ABS counts as
 * zero. NaN is ignored. Bins are dense between the lowest and highest
 * occupied index, so memory is bounded by the dynamic range
 * (about 2,100 bins for 1e-9 .. 1e9 at 1%).
 */
#ifndef VG_ENGINE_SKETCH_H
#define VG_ENGINE_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

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

/* Compact serialization (varints, min/max as raw little-endian words);
 * decode validates (counts add up, bin ranges inside what 1e-9 .. DBL_MAX
 * can produce, no trailing bytes) and fails VG_ECORRUPT.
 * s must be initialised: its old bins are freed and replaced; on failure
 * it is left empty. */
int vg_sketch_encode(const vg_sketch_t *s, vg_buf_t *out);
int vg_sketch_decode(const uint8_t *p, size_t len, vg_sketch_t *s);

#endif
