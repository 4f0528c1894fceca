/*
 * format_int.h: what the result printers share (format.c, format_table.c).
 */
#ifndef VG_QUERY_FORMAT_INT_H
#define VG_QUERY_FORMAT_INT_H

#include <stddef.h>

#include "vigil/vg_result.h"

/*
 * The text of a cell: floats exact (they read back bit for bit) when exact,
 * else to 6 significant digits. Strings and tags come back through *big
 * (pointing into the result); everything else is written into buf.
 * Returns the length; 0 for null.
 */
size_t vg__cell_text(const vg_result_t *r, size_t row, size_t col, int exact, char *buf,
                     size_t cap, const char **big);

#endif
