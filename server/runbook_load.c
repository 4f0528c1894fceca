/*
 * runbook_load.c: a runbook file (YAML, read with libyaml's document API)
 * into a vg_runbook_t, every string with its file position.
 *
 * The keys are described by tables (one per kind of mapping: runbook, rule,
 * investigate entry, cause), so that unknown keys, duplicates, wrong node
 * kinds and missing required keys are found by one walker. Loading goes on
 * past a problem wherever the rest of the file still means something, so
 * that one run of `vigil check` lists every problem.
 *
 * Positions (runbook_pos.c): each string read keeps where its value stands
 * in the file, so that an error inside it (a query's) can name the file's
 * line and column.
 *
 * Invariants: a vg_runbook_t is handed out only when its file had no
 * problem; every allocation goes through vg_alloc and is released by
 * vg_rb_free.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "runbook_int.h"

const char *const vg_rb_signals[] = {"latency", "length", "refusal",   "quality",
                                     "cost",    "tool",   "injection", NULL};

/* ------------------------------------------------------------------ freeing */

static void str_free(vg_rb_str_t *s)
{
    vg_free(s->s);
    vg_free(s->lines);
    vg_free(s->segs);
}

static void kvs_free(vg_rb_kv_t *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        str_free(&kv[i].key);
        str_free(&kv[i].value);
    }
    vg_free(kv);
}

static void strs_free(vg_rb_str_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        str_free(&v[i]);
    vg_free(v);
}

static void queries_free(vg_rb_query_t *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        str_free(&q[i].name);
        str_free(&q[i].query);
        vg_q_free(q[i].stmt);
    }
    vg_free(q);
}

static void rule_free(vg_rb_rule_t *r)
{
    str_free(&r->alert);
    str_free(&r->expr);
    str_free(&r->when);
    str_free(&r->resolve_when);
    kvs_free(r->labels, r->nlabels);
    kvs_free(r->annotations, r->nannotations);
    strs_free(r->notify, r->nnotify);
    vg_q_free(r->stmt);
    vg_q_expr_free(r->when_x);
    vg_q_expr_free(r->resolve_x);
}

static void cause_free(vg_rb_cause_t *c)
{
    str_free(&c->name);
    str_free(&c->check);
    str_free(&c->when);
    str_free(&c->mitigation);
    str_free(&c->fallback);
    vg_q_free(c->stmt);
    vg_q_expr_free(c->when_x);
}

void vg_rb_free(vg_runbook_t *rb)
{
    if (!rb)
        return;
    vg_free(rb->path);
    vg_rb_str_t *strs[] = {&rb->name,        &rb->title,      &rb->signal,
                           &rb->description, &rb->escalation, &rb->url};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        str_free(strs[i]);
    strs_free(rb->notify, rb->nnotify);
    for (size_t i = 0; i < rb->nrules; i++)
        rule_free(&rb->rules[i]);
    vg_free(rb->rules);
    queries_free(rb->investigate, rb->ninvestigate);
    queries_free(rb->samples, rb->nsamples);
    for (size_t i = 0; i < rb->ncauses; i++)
        cause_free(&rb->causes[i]);
    vg_free(rb->causes);
    vg_free(rb);
}

void vg_rb_set_free(vg_rb_set_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        vg_rb_free(s->v[i]);
    vg_free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* ------------------------------------------------------------- the loader */

typedef struct ld {
    const char *path;
    vg_rb_src_t src;
    yaml_document_t doc;
    vg_rb_diags_t *d;
    int oom;
} ld_t;

static void diag(ld_t *L, vg_rb_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diag(ld_t *L, vg_rb_pos_t pos, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t before = L->d->n;
    vg_rb_diag_add(L->d, L->path, pos, "%s", msg);
    if (L->d->n == before)
        L->oom = 1;
}

/* ------------------------------------------------------------ node readers */

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "a string";
    }
}

static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A string value; a null leaves out->s NULL (absent). */
static int read_str(ld_t *L, const yaml_node_t *n, const char *what, vg_rb_str_t *out)
{
    out->pos = vg_rb__node_pos(n);
    if (n->type != YAML_SCALAR_NODE) {
        diag(L, out->pos, "expected a string for '%s', found %s", what, kind_name(n));
        return VG_OK;
    }
    if (is_null(n))
        return VG_OK;
    out->s = vg_strndup(scalar(n), n->data.scalar.length);
    if (!out->s)
        return VG_ENOMEM;
    return vg_rb__scalar_map(&L->src, n, out, strlen(out->s));
}

static yaml_node_t *node(ld_t *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

static int too_many(ld_t *L, const yaml_node_t *n, size_t k, const char *what)
{
    if (k <= VG_RB_MAX_ITEMS)
        return 0;
    diag(L, vg_rb__node_pos(n), "%s has %zu entries, more than the limit of %u", what, k,
         VG_RB_MAX_ITEMS);
    return 1;
}

/* A list of strings (a single string is a list of one). */
static int read_strs(ld_t *L, yaml_node_t *n, const char *what, vg_rb_str_t **out, size_t *nout)
{
    if (is_null(n))
        return VG_OK;
    if (n->type == YAML_SCALAR_NODE) {
        if (!(*out = vg_calloc(1, sizeof **out)))
            return VG_ENOMEM;
        *nout = 1;
        return read_str(L, n, what, *out);
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        diag(L, vg_rb__node_pos(n), "expected a list of names for '%s', found %s", what,
             kind_name(n));
        return VG_OK;
    }
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!k || too_many(L, n, k, what))
        return VG_OK;
    if (!(*out = vg_calloc(k, sizeof **out)))
        return VG_ENOMEM;
    *nout = k;
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *it = node(L, n->data.sequence.items.start[i]);
        int rc = read_str(L, it, what, &(*out)[i]);
        if (rc)
            return rc;
        if (!(*out)[i].s && it->type == YAML_SCALAR_NODE)
            diag(L, vg_rb__node_pos(it), "empty name in '%s'", what);
    }
    return VG_OK;
}

/* Check a mapping's keys for kind and duplicates; returns how many pairs. */
static size_t map_pairs(ld_t *L, const yaml_node_t *n, const char *what)
{
    size_t k = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *key = node(L, n->data.mapping.pairs.start[i].key);
        if (key->type != YAML_SCALAR_NODE) {
            diag(L, vg_rb__node_pos(key), "a key in %s must be a string, found %s", what,
                 kind_name(key));
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *prev = node(L, n->data.mapping.pairs.start[j].key);
            if (prev->type == YAML_SCALAR_NODE && !strcmp(scalar(prev), scalar(key))) {
                diag(L, vg_rb__node_pos(key), "duplicate key '%s' in %s (first at line %d)",
                     scalar(key), what, vg_rb__node_pos(prev).line);
                break;
            }
        }
    }
    return k;
}

/* A mapping of string to string (labels, annotations). */
static int read_kvs(ld_t *L, yaml_node_t *n, const char *what, vg_rb_kv_t **out, size_t *nout)
{
    if (is_null(n))
        return VG_OK;
    if (n->type != YAML_MAPPING_NODE) {
        diag(L, vg_rb__node_pos(n), "expected a mapping for '%s', found %s", what, kind_name(n));
        return VG_OK;
    }
    size_t k = map_pairs(L, n, what);
    if (!k || too_many(L, n, k, what))
        return VG_OK;
    if (!(*out = vg_calloc(k, sizeof **out)))
        return VG_ENOMEM;
    *nout = k;
    for (size_t i = 0; i < k; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        int rc = read_str(L, node(L, p->key), what, &(*out)[i].key);
        if (!rc)
            rc = read_str(L, node(L, p->value), what, &(*out)[i].value);
        if (rc)
            return rc;
    }
    return VG_OK;
}

/* A duration; "0" alone is allowed (no unit needed for nothing). */
static void read_dur(ld_t *L, const yaml_node_t *n, const char *what, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE) {
        diag(L, vg_rb__node_pos(n), "expected a duration for '%s', found %s", what, kind_name(n));
        return;
    }
    const char *v = scalar(n);
    vg_error_t e = {0};
    if (!strcmp(v, "0")) {
        *out = 0;
    } else if (vg_duration_parse(v, out, &e) != VG_OK) {
        diag(L, vg_rb__node_pos(n), "bad duration '%s' for '%s' (write it as 30s, 10m, 1h30m, 7d)",
             v, what);
    }
}

static void read_nodata(ld_t *L, const yaml_node_t *n, vg_rb_nodata_t *out)
{
    static const char *const names[] = {"keep_state", "ok", "alert"};
    if (n->type != YAML_SCALAR_NODE) {
        diag(L, vg_rb__node_pos(n), "expected one of ok, keep_state, alert for 'no_data', found %s",
             kind_name(n));
        return;
    }
    for (int i = 0; i < 3; i++)
        if (!strcmp(scalar(n), names[i])) {
            *out = (vg_rb_nodata_t)i;
            return;
        }
    const char *s = vg_q_suggest(scalar(n), names, 3);
    diag(L, vg_rb__node_pos(n), "bad no_data '%s': use ok, keep_state or alert%s%s%s", scalar(n),
         s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
}

/* ------------------------------------------------------- the key schemas */

typedef enum ftype {
    F_STR,     /* vg_rb_str_t at off */
    F_STRS,    /* vg_rb_str_t * at off, count at noff */
    F_KVS,     /* vg_rb_kv_t * at off, count at noff */
    F_DUR,     /* int64_t at off */
    F_NODATA,  /* vg_rb_nodata_t at off */
    F_OBJS,    /* a list of sub-schema objects: pointer at off, count at noff */
    F_SAMPLES, /* a mapping name -> query into vg_rb_query_t * at off, count at noff */
} ftype_t;

typedef struct schema schema_t;
typedef struct field {
    const char *key;
    ftype_t type;
    size_t off, noff;
    const schema_t *sub;
    int required;
} field_t;

struct schema {
    const char *what;
    const field_t *f;
    size_t n;
    size_t size;
};

#define OFF(T, m) offsetof(T, m)
#define STR(T, k, req)                                                                             \
    {                                                                                              \
#k, F_STR, OFF(T, k), 0, NULL, req                                                         \
    }
#define LIST(T, k, m, n, t, sub, req)                                                              \
    {                                                                                              \
        k, t, OFF(T, m), OFF(T, n), sub, req                                                       \
    }

static const field_t rule_fields[] = {
    STR(vg_rb_rule_t, alert, 1),
    STR(vg_rb_rule_t, expr, 1),
    STR(vg_rb_rule_t, when, 1),
    STR(vg_rb_rule_t, resolve_when, 0),
    {"for", F_DUR, OFF(vg_rb_rule_t, for_ns), 0, NULL, 0},
    {"keep_firing_for", F_DUR, OFF(vg_rb_rule_t, keep_firing_ns), 0, NULL, 0},
    {"every", F_DUR, OFF(vg_rb_rule_t, every_ns), 0, NULL, 0},
    {"no_data", F_NODATA, OFF(vg_rb_rule_t, no_data), 0, NULL, 0},
    LIST(vg_rb_rule_t, "labels", labels, nlabels, F_KVS, NULL, 0),
    LIST(vg_rb_rule_t, "annotations", annotations, nannotations, F_KVS, NULL, 0),
    LIST(vg_rb_rule_t, "notify", notify, nnotify, F_STRS, NULL, 0),
};
static const schema_t rule_schema = {
    "rule", rule_fields, sizeof rule_fields / sizeof rule_fields[0], sizeof(vg_rb_rule_t)};

static const field_t query_fields[] = {
    STR(vg_rb_query_t, name, 1),
    STR(vg_rb_query_t, query, 1),
};
static const schema_t query_schema = {"investigate entry", query_fields, 2, sizeof(vg_rb_query_t)};

static const field_t cause_fields[] = {
    STR(vg_rb_cause_t, name, 1),       STR(vg_rb_cause_t, check, 0),    STR(vg_rb_cause_t, when, 0),
    STR(vg_rb_cause_t, mitigation, 1), STR(vg_rb_cause_t, fallback, 0),
};
static const schema_t cause_schema = {"cause", cause_fields, 5, sizeof(vg_rb_cause_t)};

static const field_t rb_fields[] = {
    STR(vg_runbook_t, name, 1),
    STR(vg_runbook_t, title, 0),
    STR(vg_runbook_t, signal, 1),
    STR(vg_runbook_t, description, 0),
    LIST(vg_runbook_t, "notify", notify, nnotify, F_STRS, NULL, 0),
    LIST(vg_runbook_t, "rules", rules, nrules, F_OBJS, &rule_schema, 1),
    LIST(vg_runbook_t, "investigate", investigate, ninvestigate, F_OBJS, &query_schema, 0),
    LIST(vg_runbook_t, "samples", samples, nsamples, F_SAMPLES, NULL, 0),
    LIST(vg_runbook_t, "causes", causes, ncauses, F_OBJS, &cause_schema, 0),
    STR(vg_runbook_t, escalation, 0),
    STR(vg_runbook_t, url, 0),
};
static const schema_t rb_schema = {"runbook", rb_fields, sizeof rb_fields / sizeof rb_fields[0],
                                   sizeof(vg_runbook_t)};

static int read_obj(ld_t *L, yaml_node_t *n, const schema_t *sc, void *obj);

static void init_obj(const schema_t *sc, void *obj)
{
    if (sc == &rule_schema)
        ((vg_rb_rule_t *)obj)->every_ns = 60 * (int64_t)VG_NS_PER_SEC;
}

static int read_objs(ld_t *L, yaml_node_t *n, const field_t *f, void *obj)
{
    if (is_null(n))
        return VG_OK;
    if (n->type != YAML_SEQUENCE_NODE) {
        diag(L, vg_rb__node_pos(n), "expected a list for '%s', found %s", f->key, kind_name(n));
        return VG_OK;
    }
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!k || too_many(L, n, k, f->key))
        return VG_OK;
    char *arr = vg_calloc(k, f->sub->size);
    if (!arr)
        return VG_ENOMEM;
    *(void **)((char *)obj + f->off) = arr;
    *(size_t *)((char *)obj + f->noff) = k;
    for (size_t i = 0; i < k; i++) {
        init_obj(f->sub, arr + i * f->sub->size);
        int rc =
            read_obj(L, node(L, n->data.sequence.items.start[i]), f->sub, arr + i * f->sub->size);
        if (rc)
            return rc;
    }
    return VG_OK;
}

static int read_samples(ld_t *L, yaml_node_t *n, vg_rb_query_t **out, size_t *nout)
{
    if (is_null(n))
        return VG_OK;
    if (n->type != YAML_MAPPING_NODE) {
        diag(L, vg_rb__node_pos(n), "expected a mapping of name: query for 'samples', found %s",
             kind_name(n));
        return VG_OK;
    }
    size_t k = map_pairs(L, n, "samples");
    if (!k || too_many(L, n, k, "samples"))
        return VG_OK;
    if (!(*out = vg_calloc(k, sizeof **out)))
        return VG_ENOMEM;
    *nout = k;
    for (size_t i = 0; i < k; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        vg_rb_query_t *q = &(*out)[i];
        int rc = read_str(L, node(L, p->key), "samples", &q->name);
        if (!rc)
            rc = read_str(L, node(L, p->value), "samples", &q->query);
        if (rc)
            return rc;
        if (!q->query.s && node(L, p->value)->type == YAML_SCALAR_NODE)
            diag(L, q->query.pos, "sample '%s' has no query", q->name.s ? q->name.s : "");
    }
    return VG_OK;
}

static int read_field(ld_t *L, yaml_node_t *v, const field_t *f, void *obj)
{
    char *base = obj;
    switch (f->type) {
    case F_STR:
        return read_str(L, v, f->key, (vg_rb_str_t *)(base + f->off));
    case F_STRS:
        return read_strs(L, v, f->key, (vg_rb_str_t **)(base + f->off), (size_t *)(base + f->noff));
    case F_KVS:
        return read_kvs(L, v, f->key, (vg_rb_kv_t **)(base + f->off), (size_t *)(base + f->noff));
    case F_DUR:
        read_dur(L, v, f->key, (int64_t *)(base + f->off));
        return VG_OK;
    case F_NODATA:
        read_nodata(L, v, (vg_rb_nodata_t *)(base + f->off));
        return VG_OK;
    case F_OBJS:
        return read_objs(L, v, f, obj);
    case F_SAMPLES:
        return read_samples(L, v, (vg_rb_query_t **)(base + f->off), (size_t *)(base + f->noff));
    }
    return VG_OK;
}

static void unknown_key(ld_t *L, const yaml_node_t *key, const schema_t *sc)
{
    const char *names[32];
    size_t n = sc->n < 32 ? sc->n : 32;
    char known[512] = "";
    for (size_t i = 0; i < n; i++) {
        names[i] = sc->f[i].key;
        size_t l = strlen(known);
        snprintf(known + l, sizeof known - l, "%s%s", i ? ", " : "", names[i]);
    }
    const char *s = vg_q_suggest(scalar(key), names, n);
    if (s)
        diag(L, vg_rb__node_pos(key), "unknown key '%s' in %s (did you mean '%s'?)", scalar(key),
             sc->what, s);
    else
        diag(L, vg_rb__node_pos(key), "unknown key '%s' in %s (known keys: %s)", scalar(key),
             sc->what, known);
}

/* A required key that is absent or null. */
static void check_required(ld_t *L, const yaml_node_t *n, const schema_t *sc, const void *obj,
                           const yaml_node_t *const *seen)
{
    for (size_t i = 0; i < sc->n; i++) {
        const field_t *f = &sc->f[i];
        if (!f->required)
            continue;
        const char *p = (const char *)obj + f->off;
        int empty = f->type == F_STR ? !((const vg_rb_str_t *)p)->s
                                     : !*(const size_t *)((const char *)obj + f->noff);
        if (!empty)
            continue;
        if (!seen[i])
            diag(L, vg_rb__node_pos(n), "missing required key '%s' in %s", f->key, sc->what);
        else if (is_null(seen[i]) || (f->type == F_OBJS && seen[i]->type == YAML_SEQUENCE_NODE))
            diag(L, vg_rb__node_pos(seen[i]), "'%s' in %s must not be empty", f->key, sc->what);
    }
}

static int read_obj(ld_t *L, yaml_node_t *n, const schema_t *sc, void *obj)
{
    if (n->type != YAML_MAPPING_NODE) {
        diag(L, vg_rb__node_pos(n), "expected a mapping for the %s, found %s", sc->what,
             kind_name(n));
        return VG_OK;
    }
    const yaml_node_t *seen[32] = {0};
    assert(sc->n <= sizeof seen / sizeof seen[0]);
    size_t k = map_pairs(L, n, sc->what);
    for (size_t i = 0; i < k; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *key = node(L, p->key), *v = node(L, p->value);
        if (key->type != YAML_SCALAR_NODE)
            continue;
        size_t fi = 0;
        while (fi < sc->n && strcmp(sc->f[fi].key, scalar(key)))
            fi++;
        if (fi == sc->n) {
            unknown_key(L, key, sc);
            continue;
        }
        if (seen[fi])
            continue; /* a duplicate, reported by map_pairs */
        seen[fi] = v;
        int rc = read_field(L, v, &sc->f[fi], obj);
        if (rc)
            return rc;
    }
    check_required(L, n, sc, obj, seen);
    return VG_OK;
}

/* ------------------------------------------------------- value checks */

static int name_ok(const char *s, int runbook)
{
    if (runbook) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return 0;
        for (s++; *s; s++)
            if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
                return 0;
        return 1;
    }
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static void check_signal(ld_t *L, const vg_rb_str_t *s)
{
    if (!s->s)
        return;
    size_t n = 0;
    while (vg_rb_signals[n])
        n++;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s->s, vg_rb_signals[i]))
            return;
    const char *g = vg_q_suggest(s->s, vg_rb_signals, n);
    diag(L, s->pos,
         "unknown signal '%s'%s%s%s; the signals: latency, length, refusal, quality, cost, "
         "tool, injection",
         s->s, g ? " (did you mean '" : "", g ? g : "", g ? "'?)" : "");
}

static void check_rule(ld_t *L, const vg_runbook_t *rb, size_t i)
{
    const vg_rb_rule_t *r = &rb->rules[i];
    if (r->alert.s && !name_ok(r->alert.s, 0))
        diag(L, r->alert.pos,
             "bad alert name '%s': use letters, digits and '_', not starting "
             "with a digit",
             r->alert.s);
    if (r->every_ns <= 0)
        diag(L, r->alert.pos, "rule '%s': every must be longer than 0",
             r->alert.s ? r->alert.s : "");
    for (size_t k = 0; k < r->nlabels; k++)
        if (r->labels[k].key.s && !name_ok(r->labels[k].key.s, 0))
            diag(L, r->labels[k].key.pos, "bad label name '%s': use letters, digits and '_'",
                 r->labels[k].key.s);
    for (size_t j = 0; j < i && r->alert.s; j++)
        if (rb->rules[j].alert.s && !strcmp(rb->rules[j].alert.s, r->alert.s)) {
            diag(L, r->alert.pos, "duplicate rule name '%s' (first at line %d)", r->alert.s,
                 rb->rules[j].alert.pos.line);
            break;
        }
}

static void check_values(ld_t *L, const vg_runbook_t *rb)
{
    if (rb->name.s && !name_ok(rb->name.s, 1))
        diag(L, rb->name.pos,
             "bad runbook name '%s': use lower-case letters, digits, '-' and '_', starting "
             "with a letter or digit",
             rb->name.s);
    check_signal(L, &rb->signal);
    for (size_t i = 0; i < rb->nrules; i++)
        check_rule(L, rb, i);
    for (size_t i = 0; i < rb->ncauses; i++) {
        const vg_rb_cause_t *c = &rb->causes[i];
        if (c->when.s && !c->check.s)
            diag(L, c->when.pos, "cause '%s' has a when but no check query to test it on",
                 c->name.s ? c->name.s : "");
    }
}

/* ------------------------------------------------------------ one file */

static int read_file(const char *path, char **buf, size_t *len, vg_rb_diags_t *d)
{
    vg_rb_pos_t none = {0, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        vg_rb_diag_add(d, path, none, "cannot read: %s", strerror(errno));
        return VG_EIO;
    }
    char *b = vg_malloc(VG_RB_MAX_FILE + 2);
    if (!b) {
        fclose(f);
        return VG_ENOMEM;
    }
    size_t n = fread(b, 1, VG_RB_MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        vg_rb_diag_add(d, path, none, "cannot read: %s", strerror(errno ? errno : EIO));
        vg_free(b);
        return VG_EIO;
    }
    if (n > VG_RB_MAX_FILE) {
        vg_rb_diag_add(d, path, none, "file is larger than the limit of %u bytes for a runbook",
                       VG_RB_MAX_FILE);
        vg_free(b);
        return VG_EPARSE;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return VG_OK;
}

static int parse_doc(ld_t *L)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return VG_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)L->src.p, L->src.len);
    int ok = yaml_parser_load(&p, &L->doc);
    if (!ok) {
        if (p.error == YAML_MEMORY_ERROR) {
            yaml_parser_delete(&p);
            return VG_ENOMEM;
        }
        vg_rb_pos_t at = vg_rb__mark_pos(p.problem_mark);
        if (p.context)
            diag(L, at, "YAML syntax error: %s %s (line %d)", p.problem ? p.problem : "error",
                 p.context, (int)p.context_mark.line + 1);
        else
            diag(L, at, "YAML syntax error: %s", p.problem ? p.problem : "error");
    }
    yaml_parser_delete(&p);
    return ok ? VG_OK : VG_EPARSE;
}

static int load_doc(ld_t *L, vg_runbook_t *rb)
{
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    vg_rb_pos_t first = {1, 1};
    if (!root || is_null(root)) {
        diag(L, first, "empty file: a runbook needs at least name, signal and rules");
        return VG_OK;
    }
    if (root->type != YAML_MAPPING_NODE) {
        diag(L, vg_rb__node_pos(root),
             "a runbook is a mapping of keys (name, signal, rules, ...), "
             "found %s",
             kind_name(root));
        return VG_OK;
    }
    int rc = read_obj(L, root, &rb_schema, rb);
    if (!rc)
        check_values(L, rb);
    return rc;
}

/*
 * partial: also hand out a runbook whose file parsed as YAML but had other
 * problems (returning VG_EPARSE), so that a checker can compile it too.
 */
int vg_rb__load_file(const char *path, vg_runbook_t **out, vg_rb_diags_t *d, int partial)
{
    vg_rb_diags_t own = {0};
    ld_t L = {.path = path, .d = d ? d : &own};
    size_t before = L.d->n;
    char *buf = NULL;
    int rc = read_file(path, &buf, &L.src.len, L.d), parsed = 0;
    if (rc)
        return rc;
    L.src.p = buf;
    if (L.src.len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
        L.src.p += 3; /* a BOM is no column of the first line */
        L.src.len -= 3;
    }
    vg_runbook_t *rb = vg_calloc(1, sizeof *rb);
    if (!rb || !(rb->path = vg_strdup(path)) || vg_rb__src_index(&L.src)) {
        rc = VG_ENOMEM;
        goto done;
    }
    rc = parse_doc(&L);
    if (rc == VG_OK) {
        parsed = 1;
        rc = load_doc(&L, rb);
        yaml_document_delete(&L.doc);
    }
    if (rc == VG_OK && L.oom)
        rc = VG_ENOMEM;
    if (rc == VG_OK && L.d->n > before)
        rc = VG_EPARSE;
done:
    if (rc == VG_OK || (rc == VG_EPARSE && partial && parsed)) {
        *out = rb;
    } else {
        vg_rb_free(rb);
    }
    vg_free(L.src.line_off);
    vg_free(buf);
    vg_rb_diags_free(&own);
    return rc;
}

int vg_rb_load(const char *path, vg_runbook_t **out, vg_rb_diags_t *d)
{
    return vg_rb__load_file(path, out, d, 0);
}
