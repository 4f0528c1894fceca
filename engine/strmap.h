/*
 * strmap.h: an open-addressing hash map from byte strings to uint32 ids,
 * used for series keys, column names and table names. Keys are copied into
 * an arena owned by the map, so callers may pass transient buffers.
 * Not thread-safe: the owner serialises writers; readers of a table's maps
 * hold the table lock.
 */
#ifndef VG_ENGINE_STRMAP_H
#define VG_ENGINE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct vg_strmap_slot {
    uint64_t hash; /* 0: empty */
    const char *key;
    uint32_t len;
    uint32_t val;
} vg_strmap_slot_t;

typedef struct vg_strmap_arena vg_strmap_arena_t;

typedef struct vg_strmap {
    vg_strmap_slot_t *slots;
    size_t cap; /* power of two */
    size_t n;
    vg_strmap_arena_t *arena;
} vg_strmap_t;

void vg_strmap_init(vg_strmap_t *m);
void vg_strmap_free(vg_strmap_t *m);
uint64_t vg_strmap_hash(const void *p, size_t len);
/* Returns 1 and *val when found, 0 when not. */
int vg_strmap_get(const vg_strmap_t *m, const void *key, size_t len, uint32_t *val);
int vg_strmap_get_h(const vg_strmap_t *m, uint64_t h, const void *key, size_t len, uint32_t *val);
/* Insert (key must be absent). *stored (may be NULL) points at the arena copy.
 * Returns 0 or VG_ENOMEM. */
int vg_strmap_put(vg_strmap_t *m, const void *key, size_t len, uint32_t val, const char **stored);
int vg_strmap_put_h(vg_strmap_t *m, uint64_t h, const void *key, size_t len, uint32_t val,
                    const char **stored);

#endif
