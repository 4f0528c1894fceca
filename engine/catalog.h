/*
 * catalog.h: the CATALOG file: tables, their fields and tag keys, the
 * published segments and what each covers, and the sealed WAL LSN.
 * A text file, one entry a line, names escaped as line-protocol keys,
 * ending with a CRC32C line over everything before it (docs/format.md).
 * It is replaced atomically: write CATALOG.tmp, fsync, rename, fsync dir.
 */
#ifndef VG_ENGINE_CATALOG_H
#define VG_ENGINE_CATALOG_H

#include "db_int.h"

/* Write the catalog of db (caller holds db->meta_mu). */
int vg_catalog_write(vg_db_t *db, vg_error_t *err);
/* Load it into db: tables, schema, segments (opened). VG_OK when absent. */
int vg_catalog_load(vg_db_t *db, vg_error_t *err);

#endif
