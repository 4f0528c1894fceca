/*
 * wal_int.h: what the WAL's writer (wal.c) and its reader (wal_replay.c)
 * share: the record's field offsets (laid out in wal.h) and the file names.
 * Internal to engine/wal*.c.
 */
#ifndef VG_ENGINE_WAL_INT_H
#define VG_ENGINE_WAL_INT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "wal.h"

/* Offsets of a record header's fields (wal.h). */
#define VG_WAL_OFF_CRC   4
#define VG_WAL_OFF_LSN   8
#define VG_WAL_OFF_CLEN  16
#define VG_WAL_OFF_RLEN  20
#define VG_WAL_OFF_FLAGS 24

static inline void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static inline uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void file_path(const char *dir, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016" PRIx64 ".wal", dir, seq);
}

/* File numbers of dir's *.wal files, sorted (wal_replay.c).
 * Ownership: *out is the caller's, freed with vg_free. */
int vg_wal_list_files(vg_io_t *io, const char *dir, uint64_t **out, size_t *n, vg_error_t *err);

#endif
