/*
 * receivers.c: the `receivers:` list of the vigild config file, read with
 * libyaml's document loader so that every error can name the file, line and
 * column of the node at fault. Other top-level keys belong to config.c and
 * are ignored here; inside a receiver every key must be known.
 *
 * Defaults are Alertmanager's (vg_receiver_default); ngroup_by = 0 means
 * [alertname] to the notifier, and is filled in here so the result says it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "notify.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_db.h"

typedef struct ctx {
    const char *path;
    yaml_document_t *doc;
    vg_error_t *err;
} ctx_t;

static int fail(const ctx_t *c, const yaml_node_t *nd, int status, const char *fmt, const char *a)
{
    char m[300];
    snprintf(m, sizeof m, fmt, a);
    return vg_error_set(c->err, status, "%s:%zu:%zu: %s", c->path, nd->start_mark.line + 1,
                        nd->start_mark.column + 1, m);
}

static const char *scalar(const yaml_node_t *nd)
{
    return nd && nd->type == YAML_SCALAR_NODE ? (const char *)nd->data.scalar.value : NULL;
}

static int set_str(const ctx_t *c, const yaml_node_t *v, const char *key, char **dst)
{
    const char *s = scalar(v);
    if (!s || !*s)
        return fail(c, v, VG_EPARSE, "'%s' must be a non-empty string", key);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20)
            return fail(c, v, VG_EPARSE, "'%s' must not hold control characters", key);
    char *d = vg_strdup(s);
    if (!d)
        return vg_error_set(c->err, VG_ENOMEM, "%s: out of memory", c->path);
    vg_free(*dst);
    *dst = d;
    return VG_OK;
}

static int set_duration(const ctx_t *c, const yaml_node_t *v, const char *key, int64_t *dst,
                        int allow_zero)
{
    const char *s = scalar(v);
    int64_t ns;
    if (!s || vg_duration_parse(s, &ns, NULL) != VG_OK || ns < 0 || (!allow_zero && ns == 0))
        return fail(c, v, VG_EPARSE, "'%s' must be a duration such as 30s, 5m or 4h", key);
    *dst = ns;
    return VG_OK;
}

static int set_bool(const ctx_t *c, const yaml_node_t *v, const char *key, int *dst)
{
    const char *s = scalar(v);
    static const char *yes[] = {"true", "True", "TRUE", "yes", "on"};
    static const char *no[] = {"false", "False", "FALSE", "no", "off"};
    for (size_t i = 0; s && i < 5; i++) {
        if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
            *dst = !strcmp(s, yes[i]);
            return VG_OK;
        }
    }
    return fail(c, v, VG_EPARSE, "'%s' must be true or false", key);
}

static int is_label_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return 0;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

static int set_group_by(const ctx_t *c, const yaml_node_t *v, vg_receiver_t *r)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(c, v, VG_EPARSE, "'%s' must be a list of label names", "group_by");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    for (size_t i = 0; i < r->ngroup_by; i++) /* a repeated key: the last one wins */
        vg_free(r->group_by[i]);
    vg_free(r->group_by);
    r->group_by = NULL;
    r->ngroup_by = 0;
    char **g = vg_calloc(n ? n : 1, sizeof *g);
    if (!g)
        return vg_error_set(c->err, VG_ENOMEM, "%s: out of memory", c->path);
    r->group_by = g;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        const char *s = scalar(it);
        if (!s || !is_label_name(s))
            return fail(c, it, VG_EPARSE, "group_by: '%s' is not a label name", s ? s : "");
        if (!(g[i] = vg_strdup(s)))
            return vg_error_set(c->err, VG_ENOMEM, "%s: out of memory", c->path);
        r->ngroup_by = i + 1;
    }
    return VG_OK;
}

static int set_type(const ctx_t *c, const yaml_node_t *v, vg_receiver_t *r)
{
    const char *s = scalar(v);
    if (s && !strcmp(s, "webhook"))
        r->type = VG_RCV_WEBHOOK;
    else if (s && !strcmp(s, "alertmanager"))
        r->type = VG_RCV_ALERTMANAGER;
    else
        return fail(c, v, VG_EPARSE, "type '%s' is not webhook or alertmanager", s ? s : "");
    return VG_OK;
}

static int set_key(const ctx_t *c, const char *k, const yaml_node_t *v, vg_receiver_t *r)
{
    if (!strcmp(k, "name"))
        return set_str(c, v, k, &r->name);
    if (!strcmp(k, "type"))
        return set_type(c, v, r);
    if (!strcmp(k, "url"))
        return set_str(c, v, k, &r->url);
    if (!strcmp(k, "hmac_secret"))
        return set_str(c, v, k, &r->hmac_secret);
    if (!strcmp(k, "timeout"))
        return set_duration(c, v, k, &r->timeout_ns, 0);
    if (!strcmp(k, "max_retry_age"))
        return set_duration(c, v, k, &r->max_retry_age_ns, 0);
    if (!strcmp(k, "group_wait"))
        return set_duration(c, v, k, &r->group_wait_ns, 1);
    if (!strcmp(k, "group_interval"))
        return set_duration(c, v, k, &r->group_interval_ns, 0);
    if (!strcmp(k, "repeat_interval"))
        return set_duration(c, v, k, &r->repeat_interval_ns, 0);
    if (!strcmp(k, "send_resolved"))
        return set_bool(c, v, k, &r->send_resolved);
    if (!strcmp(k, "group_by"))
        return set_group_by(c, v, r);
    return VG_ENOTFOUND;
}

static int parse_receiver(const ctx_t *c, const yaml_node_t *nd, vg_receiver_t *r)
{
    if (nd->type != YAML_MAPPING_NODE)
        return fail(c, nd, VG_EPARSE, "%s", "a receiver must be a mapping (name: ..., url: ...)");
    for (yaml_node_pair_t *p = nd->data.mapping.pairs.start; p < nd->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *ks = scalar(k);
        int rc = ks ? set_key(c, ks, v, r) : VG_ENOTFOUND;
        if (rc == VG_ENOTFOUND)
            return fail(c, k, VG_EPARSE, "unknown receiver key '%s'", ks ? ks : "");
        if (rc != VG_OK)
            return rc;
    }
    if (!r->name)
        return fail(c, nd, VG_EPARSE, "%s", "a receiver needs a name");
    if (!r->url)
        return fail(c, nd, VG_EPARSE, "receiver '%s' needs a url", r->name);
    if (strncmp(r->url, "http://", 7) && strncmp(r->url, "https://", 8))
        return fail(c, nd, VG_EPARSE, "receiver '%s': url must start with http:// or https://",
                    r->name);
    if (r->ngroup_by == 0) {
        vg_free(r->group_by);
        r->group_by = vg_calloc(1, sizeof *r->group_by);
        if (!r->group_by || !(r->group_by[0] = vg_strdup("alertname")))
            return vg_error_set(c->err, VG_ENOMEM, "%s: out of memory", c->path);
        r->ngroup_by = 1;
    }
    return VG_OK;
}

static int parse_list(const ctx_t *c, const yaml_node_t *list, vg_receiver_t **out, size_t *n)
{
    if (list->type != YAML_SEQUENCE_NODE)
        return fail(c, list, VG_EPARSE, "%s", "'receivers' must be a list");
    size_t cnt = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    vg_receiver_t *r = vg_calloc(cnt ? cnt : 1, sizeof *r);
    if (!r)
        return vg_error_set(c->err, VG_ENOMEM, "%s: out of memory", c->path);
    int rc = VG_OK;
    size_t i;
    for (i = 0; rc == VG_OK && i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(c->doc, list->data.sequence.items.start[i]);
        vg_receiver_default(&r[i]);
        rc = parse_receiver(c, it, &r[i]);
        for (size_t j = 0; rc == VG_OK && j < i; j++)
            if (!strcmp(r[j].name, r[i].name))
                rc = fail(c, it, VG_EPARSE, "receiver '%s' is defined twice", r[i].name);
    }
    if (rc != VG_OK) {
        vg_receivers_free(r, i);
        return rc;
    }
    *out = r;
    *n = cnt;
    return VG_OK;
}

static int load_doc(const ctx_t *c, vg_receiver_t **out, size_t *n)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    *out = NULL;
    *n = 0;
    if (!root)
        return VG_OK; /* an empty file */
    if (root->type != YAML_MAPPING_NODE)
        return fail(c, root, VG_EPARSE, "%s", "the config must be a mapping of keys");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const char *ks = scalar(yaml_document_get_node(c->doc, p->key));
        if (ks && !strcmp(ks, "receivers"))
            return parse_list(c, yaml_document_get_node(c->doc, p->value), out, n);
    }
    return VG_OK;
}

int vg_receivers_load(const char *config_path, vg_receiver_t **out, size_t *n, vg_error_t *err)
{
    FILE *f = fopen(config_path, "rb");
    if (!f)
        return vg_error_sys(err, VG_ENOTFOUND, errno, "config %s", config_path);
    yaml_parser_t p;
    yaml_document_t doc;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int rc;
    if (!yaml_parser_load(&p, &doc)) {
        rc = vg_error_set(err, VG_EPARSE, "%s:%zu:%zu: %s", config_path, p.problem_mark.line + 1,
                          p.problem_mark.column + 1, p.problem ? p.problem : "bad YAML");
    } else {
        ctx_t c = {config_path, &doc, err};
        vg_receiver_t *r = NULL;
        size_t cnt = 0;
        rc = load_doc(&c, &r, &cnt);
        yaml_document_delete(&doc);
        if (rc == VG_OK) {
            *out = r;
            *n = cnt;
        }
    }
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

void vg_receivers_free(vg_receiver_t *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        vg_receiver_clear(&r[i]);
    vg_free(r);
}
