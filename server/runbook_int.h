/*
 * runbook_int.h: what the runbook files share beyond runbook.h.
 */
#ifndef VG_SERVER_RUNBOOK_INT_H
#define VG_SERVER_RUNBOOK_INT_H

#include <stddef.h>
#include <yaml.h>

#include "runbook.h"

/*
 * Load one file (runbook_load.c). With partial, a runbook whose file had
 * problems is still handed out (for `vigil check` to compile the rest);
 * otherwise only a sound one. Problems go into d.
 * Ownership: *out is the caller's, vg_rb_free.
 */
int vg_rb__load_file(const char *path, vg_runbook_t **out, vg_rb_diags_t *d, int partial);

/* ---- positions (runbook_pos.c) */

/* A runbook file's text and where each of its lines starts. */
typedef struct vg_rb_src {
    const char *p;
    size_t len;
    size_t *line_off; /* byte offset of each line (0-based); vg_free it */
    size_t nlines;
} vg_rb_src_t;

/* Fill s->line_off and s->nlines from s->p. VG_OK or VG_ENOMEM. */
int vg_rb__src_index(vg_rb_src_t *s);
/*
 * Fill str->segs, str->pos and str->lines for scalar node n of the source,
 * whose value (vn bytes) is str->s: see runbook_pos.c. VG_OK or VG_ENOMEM.
 * Ownership: the arrays are str's, freed with it.
 */
int vg_rb__scalar_map(const vg_rb_src_t *src, const yaml_node_t *n, vg_rb_str_t *str, size_t vn);

static inline vg_rb_pos_t vg_rb__mark_pos(yaml_mark_t m)
{
    return (vg_rb_pos_t){(int)m.line + 1, (int)m.column + 1};
}

static inline vg_rb_pos_t vg_rb__node_pos(const yaml_node_t *n)
{
    return vg_rb__mark_pos(n->start_mark);
}

#endif
