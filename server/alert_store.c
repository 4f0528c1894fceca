/*
 * alert_store.c: what of the alerts outlives a restart.
 *
 * The state file (JSON) holds every pending and firing group with its
 * times, value, annotations and diagnosis, so that an alert firing before
 * a restart is still firing after it, with the same activeAt, and is not
 * announced again as new. It is replaced atomically (write a temporary,
 * fsync, rename, fsync the folder) after each evaluation that changed
 * something: a crash leaves the old or the new file, never half of one.
 *
 * The history is a table, vigil_alerts: one row per state change (time,
 * alertname, state, the group's labels as tags, fingerprint and value as
 * fields), so that alert history is queryable with the query language.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules_int.h"

static json_t *labels_obj(const vg_label_t *v, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, v[i].name, json_string(v[i].value));
    return o;
}

static json_t *group_json(const group_t *g)
{
    json_t *o = json_pack("{s:o,s:s,s:I,s:I,s:I,s:I,s:o}", "labels",
                          labels_obj(g->labels, g->nlabels), "state", vg_rs_state_name(g->rs.state),
                          "active_at", (json_int_t)g->rs.active_at, "fired_at",
                          (json_int_t)g->rs.fired_at, "last_held", (json_int_t)g->rs.last_held,
                          "resolved_at", (json_int_t)g->rs.resolved_at, "annotations",
                          labels_obj(g->ann, g->nann));
    json_object_set_new(o, "value", isfinite(g->value) ? json_real(g->value) : json_null());
    if (g->vigil_json)
        json_object_set_new(o, "vigil", json_string(g->vigil_json));
    return o;
}

static int write_atomic(const char *path, const char *text, vg_error_t *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return vg_error_sys(err, VG_EIO, errno, "creating %s", tmp);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return vg_error_sys(err, e == ENOSPC ? VG_ENOSPC : VG_EIO, e, "writing %s", tmp);
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return vg_error_sys(err, VG_EIO, e, "fsync of %s", tmp);
    }
    close(fd);
    if (rename(tmp, path) != 0)
        return vg_error_sys(err, VG_EIO, errno, "renaming %s to %s", tmp, path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int rc = fsync(dfd);
        close(dfd);
        if (rc != 0)
            return vg_error_sys(err, VG_EIO, errno, "fsync of the folder of %s", path);
    }
    return VG_OK;
}

int store_save(vg_rules_t *r, vg_error_t *err)
{
    json_t *rules = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const rule_t *ru = &r->rules[i];
        json_t *groups = json_array();
        for (size_t j = 0; j < ru->ngroups; j++)
            if (ru->groups[j].rs.state != VG_RS_INACTIVE)
                json_array_append_new(groups, group_json(&ru->groups[j]));
        json_array_append_new(rules, json_pack("{s:s,s:o}", "alert", ru->def->alert.s, "groups",
                                               groups));
    }
    json_t *doc = json_pack("{s:i,s:o}", "version", 1, "rules", rules);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    json_decref(doc);
    if (!text)
        return vg_error_set(err, VG_ENOMEM, "out of memory saving the alert state");
    int rc = write_atomic(r->o.state_path, text, err);
    free(text);
    return rc;
}

static int load_labels(json_t *obj, vg_label_t **v, size_t *n)
{
    const char *k;
    json_t *val;
    json_object_foreach(obj, k, val)
    {
        if (!json_is_string(val) || labels_add(v, n, k, json_string_value(val)))
            return VG_EPARSE;
    }
    labels_sort(*v, *n);
    return VG_OK;
}

static vg_rs_state_t state_of(const char *s)
{
    return !s ? VG_RS_INACTIVE
           : strcmp(s, "firing") == 0  ? VG_RS_FIRING
           : strcmp(s, "pending") == 0 ? VG_RS_PENDING
                                        : VG_RS_INACTIVE;
}

static int load_group(rule_t *ru, json_t *jg)
{
    vg_label_t *labels = NULL, *ann = NULL;
    size_t nl = 0, na = 0;
    if (load_labels(json_object_get(jg, "labels"), &labels, &nl) ||
        load_labels(json_object_get(jg, "annotations"), &ann, &na)) {
        labels_free(labels, nl);
        labels_free(ann, na);
        return VG_EPARSE;
    }
    group_t *g = rule_group(ru, labels, nl);
    if (!g) {
        labels_free(ann, na);
        return VG_ENOMEM;
    }
    labels_free(g->ann, g->nann);
    g->ann = ann, g->nann = na;
    g->rs.state = state_of(json_string_value(json_object_get(jg, "state")));
    g->rs.active_at = json_integer_value(json_object_get(jg, "active_at"));
    g->rs.fired_at = json_integer_value(json_object_get(jg, "fired_at"));
    g->rs.last_held = json_integer_value(json_object_get(jg, "last_held"));
    g->rs.resolved_at = json_integer_value(json_object_get(jg, "resolved_at"));
    json_t *v = json_object_get(jg, "value");
    g->value = json_is_number(v) ? json_number_value(v) : NAN;
    const char *vj = json_string_value(json_object_get(jg, "vigil"));
    free(g->vigil_json);
    g->vigil_json = vj ? strdup(vj) : NULL;
    return VG_OK;
}

int store_load(vg_rules_t *r, vg_error_t *err)
{
    if (access(r->o.state_path, F_OK) != 0)
        return VG_OK; /* the first start */
    json_error_t je;
    json_t *doc = json_load_file(r->o.state_path, 0, &je);
    if (!doc)
        return vg_error_set(err, VG_ECORRUPT, "%s:%d:%d: %s", r->o.state_path, je.line,
                            je.column, je.text);
    int rc = VG_OK;
    size_t i;
    json_t *jr;
    json_array_foreach(json_object_get(doc, "rules"), i, jr)
    {
        const char *name = json_string_value(json_object_get(jr, "alert"));
        for (size_t k = 0; name && k < r->n && !rc; k++) {
            if (strcmp(r->rules[k].def->alert.s, name) != 0)
                continue;
            size_t j;
            json_t *jg;
            json_array_foreach(json_object_get(jr, "groups"), j, jg)
            {
                if (!rc)
                    rc = load_group(&r->rules[k], jg);
            }
        }
    }
    json_decref(doc);
    if (rc)
        return vg_error_set(err, rc, "%s: a saved alert is malformed", r->o.state_path);
    return VG_OK;
}

/* ------------------------------------------------------------- history */

/* Line protocol escapes: tags escape , = and space; string fields " and \. */
static void put_escaped(char **p, char *end, const char *s, const char *specials)
{
    for (; *s && *p < end - 2; s++) {
        if (*s == '\n' || *s == '\r')
            continue;
        if (strchr(specials, *s))
            *(*p)++ = '\\';
        *(*p)++ = *s;
    }
}

int store_history(vg_rules_t *r, const group_t *g, const char *state, int64_t at, vg_error_t *err)
{
    char line[8192], *p = line, *end = line + sizeof line - 64;
    p += snprintf(p, (size_t)(end - p), "vigil_alerts,state=%s", state);
    for (size_t i = 0; i < g->nlabels && p < end; i++) {
        if (!g->labels[i].value[0] || strcmp(g->labels[i].name, "state") == 0)
            continue; /* an empty tag is not line protocol; `state` is ours */
        *p++ = ',';
        put_escaped(&p, end, g->labels[i].name, ",= ");
        *p++ = '=';
        put_escaped(&p, end, g->labels[i].value, ",= ");
    }
    char fp[17];
    vg_alert_fingerprint_hex(g->fp, fp);
    p += snprintf(p, (size_t)(end + 64 - p), " fingerprint=\"%s\"", fp);
    if (isfinite(g->value))
        p += snprintf(p, (size_t)(end + 64 - p), ",value=%.17g", g->value);
    p += snprintf(p, (size_t)(end + 64 - p), " %lld\n", (long long)at);
    vg_write_result_t res;
    int rc = vg_db_write_lp(r->o.db, line, (size_t)(p - line), NULL, &res, err);
    vg_write_result_free(&res);
    return rc;
}
