/*
 * segment_int.h: what the segment writer (segment_write.c) and the reader
 * (segment.c) share. Both sides apply the same type rules and limits, so
 * they live here once: a block size or chunk encoding the writer may
 * produce is exactly one the reader's checks accept.
 */
#ifndef VG_ENGINE_SEGMENT_INT_H
#define VG_ENGINE_SEGMENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "vigil/vg_types.h"

#define VG_SEG_MAX_BLOCK_ROWS (1u << 22) /* the writer's scratch is sized by it */

#define VG_SEG_HDR_SIZE  sizeof(vg_fmt_seg_header_t)
#define VG_SEG_FOOT_SIZE sizeof(vg_fmt_seg_footer_t)

/* The types a field column may have. */
static inline int vg__seg_is_field_type(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT || t == VG_TYPE_BOOL ||
           t == VG_TYPE_STRING;
}

/* Numeric columns carry a sketch. */
static inline int vg__seg_is_numeric(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT;
}

/* The chunk encoding of a field column's type. */
static inline uint8_t vg__seg_enc_of_type(vg_type_t t)
{
    switch (t) {
    case VG_TYPE_FLOAT: return VG_FMT_ENC_F64;
    case VG_TYPE_INT: return VG_FMT_ENC_I64;
    case VG_TYPE_UINT: return VG_FMT_ENC_U64;
    case VG_TYPE_BOOL: return VG_FMT_ENC_BOOL;
    case VG_TYPE_STRING: return VG_FMT_ENC_STR;
    default: return VG_FMT_ENC_NONE;
    }
}

/* Set bits among the first n of a validity bitmap. */
static inline size_t vg__seg_popcount(const uint8_t *bits, size_t n)
{
    size_t c = 0, full = n >> 3;
    for (size_t i = 0; i < full; i++)
        c += (size_t)__builtin_popcount(bits[i]);
    if (n & 7)
        c += (size_t)__builtin_popcount(bits[full] & ((1u << (n & 7)) - 1));
    return c;
}

#endif
