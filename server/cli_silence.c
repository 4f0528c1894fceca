/*
 * cli_silence.c: `vigil silence add|list|expire`, as amtool has them:
 *
 *   vigil silence add DIR|--connect URL MATCHER... [--duration D | --until T]
 *                     [--comment TEXT] [--author NAME]
 *   vigil silence list DIR|--connect URL
 *   vigil silence expire DIR|--connect URL ID
 *
 * A matcher is name=value, name!=value, name=~regex or name!~regex.
 * Embedded, the folder's silences.json is changed directly, which only a
 * folder no vigild holds allows (vigild reads it at start); with a running
 * server, --connect goes through its API (/api/v2/silences).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote.h"
#include "rules.h"

static const char usage[] =
    "usage: vigil silence add DIR|--connect URL MATCHER... [--duration D | --until T]\n"
    "                         [--comment TEXT] [--author NAME]\n"
    "       vigil silence list DIR|--connect URL\n"
    "       vigil silence expire DIR|--connect URL ID\n"
    "A silenced alert still changes state and is still recorded, but notifies no one.\n"
    "MATCHER: name=value, name!=value, name=~regex, name!~regex (regexes match whole values).\n"
    "  --duration D   how long it lasts from now [2h]\n"
    "  --until T      when it ends instead (RFC 3339)\n"
    "  --comment TEXT why [none]; --author NAME who [$USER]\n";

/* "name!=value" -> {name, value, isRegex, isEqual}; NULL for a malformed one. */
static json_t *matcher(const char *s)
{
    const char *op = strpbrk(s, "=!");
    if (!op || op == s)
        return NULL;
    int neg = *op == '!';
    const char *p = op + neg;
    if (*p != '=')
        return NULL;
    p++;
    int re = *p == '~';
    p += re;
    json_t *m = json_pack("{s:s%,s:s,s:b,s:b}", "name", s, (size_t)(op - s), "value", p,
                          "isRegex", re, "isEqual", !neg);
    return m;
}

static json_t *silence_body(int argc, char **argv, int first)
{
    json_t *ms = json_array();
    const char *comment = "", *author = getenv("USER"), *until = NULL, *dur = "2h";
    for (int i = first; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--comment")    ? &comment
                           : !strcmp(argv[i], "--author")   ? &author
                           : !strcmp(argv[i], "--until")    ? &until
                           : !strcmp(argv[i], "--duration") ? &dur
                                                            : NULL;
        if (opt && i + 1 < argc) {
            *opt = argv[++i];
            continue;
        }
        json_t *m = opt ? NULL : matcher(argv[i]);
        if (!m) {
            fprintf(stderr, "vigil silence: bad matcher or option '%s'\n", argv[i]);
            json_decref(ms);
            return NULL;
        }
        json_array_append_new(ms, m);
    }
    if (!json_array_size(ms)) {
        fprintf(stderr, "vigil silence add: at least one matcher is needed\n\n%s", usage);
        json_decref(ms);
        return NULL;
    }
    int64_t now = vg_now_ns(), end, d;
    vg_error_t err = {0};
    if (until ? vg_time_parse(until, now, &end, &err) != VG_OK
              : vg_duration_parse(dur, &d, &err) != VG_OK) {
        fprintf(stderr, "vigil silence: %s\n", err.msg);
        json_decref(ms);
        return NULL;
    }
    if (!until)
        end = now + d;
    char t0[48], t1[48];
    vg_format_time(now, t0, sizeof t0);
    vg_format_time(end, t1, sizeof t1);
    return json_pack("{s:o,s:s,s:s,s:s,s:s}", "matchers", ms, "startsAt", t0, "endsAt", t1,
                     "createdBy", author ? author : "", "comment", comment);
}

/* ------------------------------------------------------------- embedded */

static int local(const char *cmd, const char *dir, int argc, char **argv, int first)
{
    vg_db_t *db;
    if (cli_open(dir, NULL, strcmp(cmd, "list") == 0, 0, &db) != VG_OK) {
        fprintf(stderr, "vigil silence: when vigild holds the folder, use --connect\n");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/silences.json", dir);
    vg_silences_t *s = NULL;
    vg_error_t err = {0};
    int rc = vg_silences_open(path, &s, &err);
    char id[37], *text = NULL;
    json_t *body = NULL;
    if (!rc && !strcmp(cmd, "add")) {
        body = silence_body(argc, argv, first);
        char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
        rc = b ? vg_silences_add_json(s, b, strlen(b), vg_now_ns(), id, &err) : VG_EINVAL;
        if (!rc)
            printf("%s\n", id);
        free(b);
    } else if (!rc && !strcmp(cmd, "expire")) {
        rc = first < argc ? vg_silences_expire(s, argv[first], vg_now_ns(), &err)
                          : vg_error_set(&err, VG_EINVAL, "expire needs the silence's id");
    } else if (!rc) {
        rc = vg_silences_json(s, vg_now_ns(), &text);
        json_t *a = text ? json_loads(text, 0, NULL) : NULL;
        char *pretty = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
        if (pretty)
            printf("%s\n", pretty);
        free(pretty);
        json_decref(a);
    }
    if (rc && err.msg[0])
        fprintf(stderr, "vigil silence: %s\n", err.msg);
    free(text);
    json_decref(body);
    vg_silences_close(s);
    vg_db_close(db, NULL);
    return rc ? 1 : 0;
}

/* --------------------------------------------------------------- remote */

static int remote(const char *cmd, const char *url, int argc, char **argv, int first)
{
    vg_remote_resp_t resp = {0};
    vg_error_t err = {0};
    int rc;
    char path[256];
    char *b = NULL;
    if (!strcmp(cmd, "add")) {
        json_t *body = silence_body(argc, argv, first);
        b = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!b)
            return 2;
        rc = vg_remote_call(url, "POST", "/api/v2/silences", b, strlen(b), &resp, &err);
    } else if (!strcmp(cmd, "expire")) {
        if (first >= argc) {
            fprintf(stderr, "vigil silence expire: the silence's id is needed\n");
            return 2;
        }
        snprintf(path, sizeof path, "/api/v2/silence/%s", argv[first]);
        rc = vg_remote_call(url, "DELETE", path, NULL, 0, &resp, &err);
    } else {
        rc = vg_remote_call(url, "GET", "/api/v2/silences", NULL, 0, &resp, &err);
    }
    free(b);
    if (rc != VG_OK) {
        fprintf(stderr, "vigil silence: %s\n", err.msg);
        return 1;
    }
    int ok = resp.status / 100 == 2;
    if (!ok) {
        char msg[600];
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "vigil silence: %s\n", msg);
    } else if (!strcmp(cmd, "add")) {
        json_t *j = json_loads(resp.body, 0, NULL);
        printf("%s\n", json_string_value(json_object_get(j, "silenceID")));
        json_decref(j);
    } else if (!strcmp(cmd, "list")) {
        json_t *j = json_loads(resp.body, 0, NULL);
        char *pretty = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        printf("%s\n", pretty ? pretty : resp.body);
        free(pretty);
        json_decref(j);
    }
    vg_remote_resp_free(&resp);
    return ok ? 0 : 1;
}

int cli_silence(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *url = NULL;
    if (cli_connect(&argc, argv, &url) != 0)
        return 2;
    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "list") && strcmp(argv[1], "expire"))) {
        fputs(usage, stderr);
        return 2;
    }
    if (!url && argc < 3 && !(url = cli_env_url())) {
        fputs(usage, stderr);
        return 2;
    }
    if (url)
        return remote(argv[1], url, argc, argv, 2);
    return local(argv[1], argv[2], argc, argv, 3);
}
