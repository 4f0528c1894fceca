/*
 * silence.c: silences, as Alertmanager has them: label matchers (=, !=, =~,
 * !~; regexes anchored at both ends) with a start and an end. A silenced
 * alert still changes state and is still recorded; it notifies no one.
 *
 * The set lives in one JSON file (Alertmanager's silence shape), replaced
 * atomically on every change; expired silences are kept for the listing
 * and dropped after five days (Alertmanager's retention), on save.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"

#define RETENTION_NS (5LL * 86400 * VG_NS_PER_SEC)

struct vg_silences {
    pthread_mutex_t mu;
    char *path;
    vg_silence_t *v;
    size_t n;
};

static void silence_clear(vg_silence_t *s)
{
    for (size_t i = 0; i < s->nmatchers; i++) {
        free(s->matchers[i].name);
        free(s->matchers[i].value);
        if (s->matchers[i].re) {
            regfree(s->matchers[i].re);
            free(s->matchers[i].re);
        }
    }
    free(s->matchers);
    free(s->created_by);
    free(s->comment);
    memset(s, 0, sizeof *s);
}

static int parse_time(json_t *j, int64_t *out)
{
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return 0;
    }
    const char *s = json_string_value(j);
    return s && vg_time_parse(s, 0, out, NULL) == VG_OK ? 0 : -1;
}

static void new_id(char id[37])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(rand() & 0xff);
    if (fd >= 0)
        close(fd);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40), b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(id, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* One silence from JSON; err names the faulty key. */
static int from_json(json_t *j, vg_silence_t *s, vg_error_t *err)
{
    memset(s, 0, sizeof *s);
    json_t *ms = json_object_get(j, "matchers");
    if (!json_is_array(ms) || json_array_size(ms) == 0)
        return vg_error_set(err, VG_EINVAL, "a silence needs a non-empty 'matchers' list");
    s->matchers = calloc(json_array_size(ms), sizeof *s->matchers);
    if (!s->matchers)
        return vg_error_set(err, VG_ENOMEM, "out of memory");
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *value = json_string_value(json_object_get(m, "value"));
        if (!name || !*name || !value)
            return vg_error_set(err, VG_EINVAL, "matcher %zu needs a 'name' and a 'value'", i + 1);
        vg_matcher_t *mt = &s->matchers[s->nmatchers++];
        mt->name = strdup(name), mt->value = strdup(value);
        mt->is_regex = json_is_true(json_object_get(m, "isRegex"));
        json_t *eq = json_object_get(m, "isEqual");
        mt->is_equal = eq ? json_is_true(eq) : 1;
        if (mt->is_regex) {
            char *anch = malloc(strlen(value) + 8);
            mt->re = malloc(sizeof(regex_t));
            if (!anch || !mt->re)
                return vg_error_set(err, VG_ENOMEM, "out of memory");
            sprintf(anch, "^(%s)$", value);
            int rc = regcomp(mt->re, anch, REG_EXTENDED | REG_NOSUB);
            free(anch);
            if (rc) {
                free(mt->re);
                mt->re = NULL;
                return vg_error_set(err, VG_EINVAL, "matcher %zu: bad regex '%s'", i + 1, value);
            }
        }
    }
    if (parse_time(json_object_get(j, "startsAt"), &s->starts_at) ||
        parse_time(json_object_get(j, "endsAt"), &s->ends_at))
        return vg_error_set(err, VG_EINVAL, "a silence needs 'startsAt' and 'endsAt' (RFC 3339)");
    if (s->ends_at <= s->starts_at)
        return vg_error_set(err, VG_EINVAL, "a silence must end after it starts");
    const char *by = json_string_value(json_object_get(j, "createdBy"));
    const char *c = json_string_value(json_object_get(j, "comment"));
    s->created_by = strdup(by ? by : "");
    s->comment = strdup(c ? c : "");
    const char *id = json_string_value(json_object_get(j, "id"));
    if (id && strlen(id) == 36)
        memcpy(s->id, id, 37);
    json_t *up = json_object_get(j, "updatedAt");
    if (up)
        parse_time(up, &s->updated_at);
    return VG_OK;
}

static json_t *time_str(int64_t ns)
{
    char buf[48];
    vg_format_time(ns, buf, sizeof buf);
    return json_string(buf);
}

static json_t *to_json(const vg_silence_t *s, int64_t now)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < s->nmatchers; i++)
        json_array_append_new(ms, json_pack("{s:s,s:s,s:b,s:b}", "name", s->matchers[i].name,
                                            "value", s->matchers[i].value, "isRegex",
                                            s->matchers[i].is_regex, "isEqual",
                                            s->matchers[i].is_equal));
    const char *state = now < s->starts_at ? "pending" : now < s->ends_at ? "active" : "expired";
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:s,s:s,s:{s:s}}", "id", s->id, "matchers", ms,
                     "startsAt", time_str(s->starts_at), "endsAt", time_str(s->ends_at),
                     "updatedAt", time_str(s->updated_at), "createdBy", s->created_by, "comment",
                     s->comment, "status", "state", state);
}

static int save(vg_silences_t *s, int64_t now, vg_error_t *err)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].ends_at + RETENTION_NS > now)
            json_array_append_new(a, to_json(&s->v[i], now));
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    int rc = json_dump_file(a, tmp, JSON_INDENT(1));
    json_decref(a);
    int fd = rc == 0 ? open(tmp, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || fsync(fd) != 0 || rename(tmp, s->path) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return vg_error_sys(err, VG_EIO, e, "saving silences to %s", s->path);
    }
    close(fd);
    return VG_OK;
}

int vg_silences_open(const char *path, vg_silences_t **out, vg_error_t *err)
{
    vg_silences_t *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return vg_error_set(err, VG_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    if (access(path, F_OK) == 0) {
        json_error_t je;
        json_t *a = json_load_file(path, 0, &je);
        if (!json_is_array(a)) {
            json_decref(a);
            vg_silences_close(s);
            return vg_error_set(err, VG_ECORRUPT, "%s:%d:%d: not a list of silences: %s", path,
                                je.line, je.column, je.text);
        }
        s->v = calloc(json_array_size(a) + 1, sizeof *s->v);
        size_t i;
        json_t *j;
        json_array_foreach(a, i, j)
        {
            vg_error_t e2;
            if (s->v && from_json(j, &s->v[s->n], &e2) == VG_OK)
                s->n++;
            else if (s->v)
                silence_clear(&s->v[s->n]);
        }
        json_decref(a);
    }
    *out = s;
    return VG_OK;
}

void vg_silences_close(vg_silences_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        silence_clear(&s->v[i]);
    free(s->v);
    free(s->path);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int vg_silences_add_json(vg_silences_t *s, const char *json, size_t len, int64_t now,
                         char id[37], vg_error_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return vg_error_set(err, VG_EPARSE, "silence body: line %d, column %d: %s", je.line,
                            je.column, json_is_object(j) ? "" : je.text);
    }
    vg_silence_t one;
    int rc = from_json(j, &one, err);
    json_decref(j);
    if (rc) {
        silence_clear(&one);
        return rc;
    }
    if (!one.id[0])
        new_id(one.id);
    one.updated_at = now;
    pthread_mutex_lock(&s->mu);
    vg_silence_t *v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&s->mu);
        silence_clear(&one);
        return vg_error_set(err, VG_ENOMEM, "out of memory");
    }
    s->v = v;
    size_t at = s->n;
    for (size_t i = 0; i < s->n; i++) /* a known id updates that silence */
        if (strcmp(s->v[i].id, one.id) == 0) {
            silence_clear(&s->v[i]);
            at = i;
        }
    s->v[at] = one;
    if (at == s->n)
        s->n++;
    memcpy(id, one.id, 37);
    rc = save(s, now, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int vg_silences_expire(vg_silences_t *s, const char *id, int64_t now, vg_error_t *err)
{
    int rc = vg_error_set(err, VG_ENOTFOUND, "no silence with id '%s'", id);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0) {
            if (s->v[i].ends_at > now)
                s->v[i].ends_at = now > s->v[i].starts_at ? now : s->v[i].starts_at + 1;
            s->v[i].updated_at = now;
            rc = save(s, now, err);
        }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int matcher_ok(const vg_matcher_t *m, const vg_label_t *labels, size_t n)
{
    const char *v = "";
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, m->name) == 0)
            v = labels[i].value;
    int hit = m->is_regex ? regexec(m->re, v, 0, NULL, 0) == 0 : strcmp(v, m->value) == 0;
    return hit == m->is_equal;
}

int vg_silences_match(vg_silences_t *s, const vg_label_t *labels, size_t n, int64_t now)
{
    int hit = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n && !hit; i++) {
        const vg_silence_t *si = &s->v[i];
        if (now < si->starts_at || now >= si->ends_at)
            continue;
        hit = 1;
        for (size_t k = 0; k < si->nmatchers && hit; k++)
            hit = matcher_ok(&si->matchers[k], labels, n);
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

int vg_silences_json(vg_silences_t *s, int64_t now, char **out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(a, to_json(&s->v[i], now));
    pthread_mutex_unlock(&s->mu);
    *out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return *out ? VG_OK : VG_ENOMEM;
}
