/*
 * strmap.c: linear probing over a power-of-two table at most half full;
 * hash 0 marks an empty slot (real hashes are forced non-zero). Keys live in
 * an arena of 64 KiB blocks (bigger keys get their own block) so that stored
 * key pointers stay valid as the table grows.
 */
#include "strmap.h"

#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

struct vg_strmap_arena {
    vg_strmap_arena_t *next;
    size_t used, cap;
    char data[];
};

#define ARENA_BLOCK 65536

void vg_strmap_init(vg_strmap_t *m)
{
    memset(m, 0, sizeof *m);
}

void vg_strmap_free(vg_strmap_t *m)
{
    vg_free(m->slots);
    for (vg_strmap_arena_t *a = m->arena, *next; a; a = next) {
        next = a->next;
        vg_free(a);
    }
    memset(m, 0, sizeof *m);
}

/* 64-bit FNV-1a over 8-byte words, then a murmur finaliser: fast on short keys. */
uint64_t vg_strmap_hash(const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h ? h : 1;
}

int vg_strmap_get_h(const vg_strmap_t *m, uint64_t h, const void *key, size_t len, uint32_t *val)
{
    if (m->cap == 0)
        return 0;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const vg_strmap_slot_t *s = &m->slots[i];
        if (s->hash == 0)
            return 0;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
            *val = s->val;
            return 1;
        }
    }
}

int vg_strmap_get(const vg_strmap_t *m, const void *key, size_t len, uint32_t *val)
{
    return vg_strmap_get_h(m, vg_strmap_hash(key, len), key, len, val);
}

static int grow(vg_strmap_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    vg_strmap_slot_t *ns = vg_calloc(ncap, sizeof *ns);
    if (!ns)
        return VG_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        vg_strmap_slot_t *s = &m->slots[i];
        if (s->hash == 0)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].hash)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    vg_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return VG_OK;
}

static const char *arena_copy(vg_strmap_t *m, const void *key, size_t len)
{
    vg_strmap_arena_t *a = m->arena;
    if (!a || a->cap - a->used < len) {
        size_t cap = len > ARENA_BLOCK ? len : ARENA_BLOCK;
        vg_strmap_arena_t *na = vg_malloc(sizeof *na + cap);
        if (!na)
            return NULL;
        na->used = 0;
        na->cap = cap;
        if (a && len > ARENA_BLOCK) { /* keep filling the current block */
            na->next = a->next;
            a->next = na;
        } else {
            na->next = a;
            m->arena = na;
        }
        a = na;
    }
    char *d = a->data + a->used;
    memcpy(d, key, len);
    a->used += len;
    return d;
}

int vg_strmap_put_h(vg_strmap_t *m, uint64_t h, const void *key, size_t len, uint32_t val,
                    const char **stored)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) != VG_OK)
        return VG_ENOMEM;
    const char *k = arena_copy(m, key, len);
    if (!k && len)
        return VG_ENOMEM;
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].hash)
        i = (i + 1) & mask;
    m->slots[i] = (vg_strmap_slot_t){h, k, (uint32_t)len, val};
    m->n++;
    if (stored)
        *stored = k;
    return VG_OK;
}

int vg_strmap_put(vg_strmap_t *m, const void *key, size_t len, uint32_t val, const char **stored)
{
    return vg_strmap_put_h(m, vg_strmap_hash(key, len), key, len, val, stored);
}
