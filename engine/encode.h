/*
 * encode.h: column encodings, one per value type, applied per block before
 * LZ4 (segment_write.c compresses what these produce).
 *
 *   timestamps  delta-of-delta, zigzag varints
 *   int64       delta, zigzag varints
 *   uint64      delta (wrapping), zigzag varints
 *   float64     decimal-scaled integers (delta + zigzag varints) when every
 *               value is exactly m / 10^s for one s <= 9 and |m| < 2^53;
 *               Gorilla-style XOR with leading/trailing zero counts; or raw
 *               words: whichever is smallest (a mode byte says which)
 *   bool        bitmap, LSB first
 *   string      dictionary (ids bit-packed) when distinct < n / 2, else
 *               lengths as varints followed by the bytes
 *
 * Every encoder takes the n present values only (nulls are a separate
 * bitmap, see vg_enc_bitmap) and appends to out (VG_ENOMEM leaves out's
 * earlier bytes intact). n == 0 encodes to zero bytes. Every decoder is
 * given the n the block header promises, checks every bound against its
 * input and returns VG_ECORRUPT on malformed input, including bytes left
 * over: it never reads or writes out of bounds, whatever the bytes
 * (fuzzed). On failure the contents of out are unspecified.
 * Round trips are exact bit for bit: NaN payloads, -0.0, infinities,
 * subnormals, int64/uint64 extremes.
 */
#ifndef VG_ENGINE_ENCODE_H
#define VG_ENGINE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

int vg_enc_ts(const int64_t *v, size_t n, vg_buf_t *out);
int vg_dec_ts(const uint8_t *p, size_t len, size_t n, int64_t *out);

int vg_enc_i64(const int64_t *v, size_t n, vg_buf_t *out);
int vg_dec_i64(const uint8_t *p, size_t len, size_t n, int64_t *out);

int vg_enc_u64(const uint64_t *v, size_t n, vg_buf_t *out);
int vg_dec_u64(const uint8_t *p, size_t len, size_t n, uint64_t *out);

int vg_enc_f64(const double *v, size_t n, vg_buf_t *out);
int vg_dec_f64(const uint8_t *p, size_t len, size_t n, double *out);

/* Bools as one byte each (0/1) in memory, one bit each encoded. */
int vg_enc_bool(const uint8_t *v, size_t n, vg_buf_t *out);
int vg_dec_bool(const uint8_t *p, size_t len, size_t n, uint8_t *out);

/* A validity bitmap of n rows (bit set = value present), LSB first. */
int vg_enc_bitmap(const uint8_t *bits, size_t n, vg_buf_t *out);
int vg_dec_bitmap(const uint8_t *p, size_t len, size_t n, uint8_t *bits);

/*
 * Strings: value i is ptrs[i][0..lens[i]). The decoder fills data (a buffer
 * it allocates with vg_malloc: the caller frees it with vg_free) and
 * offs[0..n] so that value i is (*data)[offs[i] .. offs[i+1]). *data is
 * set (never NULL) only on success; on failure nothing is left allocated.
 * The total must fit in uint32 offsets. Empty values may have NULL ptrs.
 */
int vg_enc_str(const char *const *ptrs, const uint32_t *lens, size_t n, vg_buf_t *out);
int vg_dec_str(const uint8_t *p, size_t len, size_t n, char **data, uint32_t *offs);

#endif
