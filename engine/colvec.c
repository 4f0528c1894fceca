/*
 * colvec.c: releasing a decoded column (colvec.h). Every array of a colvec
 * that a decoder filled was allocated with vg_malloc, so one function frees
 * them all; the struct is zeroed so a second free is harmless.
 */
#include "colvec.h"

#include <string.h>

#include "vigil/vg_alloc.h"

void vg_colvec_free(vg_colvec_t *c)
{
    if (!c)
        return;
    vg_free(c->valid);
    vg_free(c->v.f); /* one pointer whichever member is live */
    vg_free(c->sdata);
    vg_free(c->soffs);
    memset(c, 0, sizeof *c);
}
