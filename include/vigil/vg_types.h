/*
 * vg_types.h: the value types a row can hold, shared by every layer.
 *
 * A row has a timestamp (int64 nanoseconds since the Unix epoch), tags
 * (string key=value, the low-cardinality dimensions) and typed fields.
 * A field keeps the type of its first write (schema on write).
 */
#ifndef VIGIL_VG_TYPES_H
#define VIGIL_VG_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vg_type {
    VG_TYPE_NONE = 0,
    VG_TYPE_FLOAT = 1,  /* IEEE-754 double */
    VG_TYPE_INT = 2,    /* int64 */
    VG_TYPE_UINT = 3,   /* uint64 */
    VG_TYPE_BOOL = 4,
    VG_TYPE_STRING = 5, /* UTF-8 bytes, at most 1 MiB by default */
    VG_TYPE_TAG = 6,    /* a tag column (string, dictionary-encoded) */
    VG_TYPE_TIME = 7,   /* the timestamp column */
} vg_type_t;

/* "float", "integer", "unsigned", "boolean", "string", "tag", "time". */
const char *vg_type_name(vg_type_t t);

/* One scalar value; which member is live is said by a vg_type_t beside it. */
typedef union vg_value {
    double f;
    int64_t i;
    uint64_t u;
    int b;
    struct {
        const char *p;
        uint32_t len;
    } s;
} vg_value_t;

#define VG_NS_PER_SEC INT64_C(1000000000)

#ifdef __cplusplus
}
#endif
#endif
