/*
 * colvec.h: a column of values in memory, as the head holds it, as a
 * segment block decodes into, and as the query kernels read it.
 *
 * Values are dense: slot i holds row i's value, and a null slot holds 0
 * (bit i of valid is clear). valid == NULL means no nulls. Strings are
 * sdata[soffs[i] .. soffs[i+1]); a null string is empty.
 * Ownership: a colvec filled by a decoder owns its arrays (vg_colvec_free);
 * one built by hand over borrowed arrays must not be passed to it.
 */
#ifndef VG_ENGINE_COLVEC_H
#define VG_ENGINE_COLVEC_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/vg_types.h"

typedef struct vg_colvec {
    vg_type_t type;
    size_t n;
    uint8_t *valid; /* n bits, LSB first; NULL: all valid */
    union {
        double *f;
        int64_t *i;
        uint64_t *u;
        uint8_t *b; /* one byte per bool, 0 or 1 */
    } v;
    char *sdata;     /* STRING */
    uint32_t *soffs; /* STRING: n + 1 offsets */
    /* builder state (colbuild.c): bytes allocated for sdata, rows whose
     * string offsets are final */
    size_t scap;
    size_t sfill;
} vg_colvec_t;

static inline int vg_colvec_valid(const vg_colvec_t *c, size_t i)
{
    return c->valid == NULL || ((c->valid[i >> 3] >> (i & 7)) & 1);
}

void vg_colvec_free(vg_colvec_t *c);

#endif
