/*
 * runbook_int.h: what the runbook files share beyond runbook.h.
 */
#ifndef VG_SERVER_RUNBOOK_INT_H
#define VG_SERVER_RUNBOOK_INT_H

#include "runbook.h"

/*
 * Load one file (runbook_load.c). With partial, a runbook whose file had
 * problems is still handed out (for `vigil check` to compile the rest);
 * otherwise only a sound one. Problems go into d.
 * Ownership: *out is the caller's, vg_rb_free.
 */
int vg_rb__load_file(const char *path, vg_runbook_t **out, vg_rb_diags_t *d, int partial);

#endif
