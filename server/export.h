/*
 * export.h: a table's rows as `vigil dump` and /api/v1/export print them.
 */
#ifndef VG_SERVER_EXPORT_H
#define VG_SERVER_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/vigil.h"

/*
 * Write every row of table with t0 <= time < t1, in time order, to out:
 * line protocol, or with csv a header `time,<tags>,<fields>` (each
 * alphabetical) and one line per row, time in integer nanoseconds, an empty
 * cell for null. Returns VG_OK or the error of the read (err says where).
 */
int vg_export_rows(vg_db_t *db, const char *table, int64_t t0, int64_t t1, int csv, FILE *out,
                   vg_error_t *err);

#endif
