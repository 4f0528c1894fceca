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

/*
 * Read path and check its checksum and version line. *text (NUL-terminated,
 * without the checksum line, *len bytes) is the caller's: vg_free it.
 * VG_ENOTFOUND when absent, VG_ECORRUPT naming the file and offset.
 */
int vg_catalog_read(vg_io_t *io, const char *path, char **text, size_t *len, vg_error_t *err);
/* Replace dir/CATALOG with text (which ends with its checksum line). */
int vg_catalog_publish(vg_io_t *io, const char *dir, const char *text, size_t len,
                       vg_error_t *err);
/*
 * For `vigil repair`: write dir/CATALOG anew from the segment files in
 * dir/segments (each describes itself), skipping none. With keep_text (a
 * checked catalog body, may be NULL) its table, field and tag entries and its
 * sealed LSN are kept and only segments named in it that still exist stay.
 * *dropped counts the catalog's segment entries whose file is gone.
 */
int vg_catalog_rebuild(vg_io_t *io, const char *dir, const char *keep_text, uint64_t *dropped,
                       vg_error_t *err);

#endif
