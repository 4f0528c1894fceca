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
#include "vigil/vg_sketch.h"

/* Compact serialization (varints, min/max as raw little-endian words);
 * decode validates (counts add up, bin ranges inside what 1e-9 .. DBL_MAX
 * can produce, no trailing bytes) and fails VG_ECORRUPT.
 * s must be initialised: its old bins are freed and replaced; on failure
 * it is left empty. */
int vg_sketch_encode(const vg_sketch_t *s, vg_buf_t *out);
int vg_sketch_decode(const uint8_t *p, size_t len, vg_sketch_t *s);

#endif
