/*
 * buf.h: a growable byte buffer, the output of every encoder.
 * Ownership: a vg_buf_t owns p (allocated with vg_realloc); vg_buf_free
 * releases it and leaves an empty buffer that can be used again.
 */
#ifndef VG_ENGINE_BUF_H
#define VG_ENGINE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct vg_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} vg_buf_t;

/* Make room for n more bytes. Returns 0 or VG_ENOMEM (the buffer is unchanged). */
int vg_buf_reserve(vg_buf_t *b, size_t n);
int vg_buf_append(vg_buf_t *b, const void *src, size_t n);
void vg_buf_free(vg_buf_t *b);

/* Unchecked appends: the caller reserved room first. */
static inline void vg_buf_put(vg_buf_t *b, const void *src, size_t n)
{
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void vg_buf_put_u8(vg_buf_t *b, uint8_t v)
{
    b->p[b->len++] = v;
}

/* LEB128 varint; needs up to 10 bytes reserved. */
static inline void vg_buf_put_uvarint(vg_buf_t *b, uint64_t v)
{
    while (v >= 0x80) {
        b->p[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (uint8_t)v;
}

static inline uint64_t vg_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t vg_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * Read a varint from [*pp, end). Returns 0, or VG_ECORRUPT when the input
 * ends early or the varint is longer than 10 bytes or overflows 64 bits
 * (never reads past end). *pp advances only on success.
 */
int vg_get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *out);

/*
 * The same as vg_get_uvarint, inlined for decoder loops: one-byte values
 * (the common case after delta coding) cost one compare. Returns 0 or -1
 * (the caller maps -1 to VG_ECORRUPT).
 */
static inline int vg_uvarint_read(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) {
        *out = *p;
        *pp = p + 1;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t c = *p++;
        if (shift == 63 && c > 1)
            return -1; /* the tenth byte may only carry bit 63 */
        v |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80) {
            *out = v;
            *pp = p;
            return 0;
        }
    }
    return -1;
}

#endif
