/*
 * config.c: vigild's options: defaults, the YAML config file (libyaml), and
 * the command line, which wins over the file. Every key of the file is also
 * a flag: `wal_sync: group:5` in the file is `--wal-sync group:5`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli.h"
#include "config.h"

void vg_srv_config_default(vg_srv_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->http_addr = strdup("127.0.0.1:7070");
    c->lp_addr = strdup("127.0.0.1:7071");
    c->max_conns = 1024;
    c->http_conns = 256;
    c->max_line = 65536;
    c->max_body = 25000000;
    c->idle_s = 300;
    c->http_timeout_s = 30;
    c->mem_budget = 256u << 20;
    c->rule_threads = 2;
    c->changes_window_s = 3600;
    vg_db_opts_default(&c->db);
}

void vg_srv_config_free(vg_srv_config_t *c)
{
    free(c->data);
    free(c->http_addr);
    free(c->lp_addr);
    free(c->token);
    free(c->config_path);
    for (size_t i = 0; i < c->nrunbooks; i++)
        free(c->runbooks[i]);
    free(c->runbooks);
    free(c->sample_url);
    free(c->external_url);
    memset(c, 0, sizeof *c);
}

const char vg_srv_options_help[] =
    "server options (defaults in brackets; each is also a key of the config file,\n"
    "with '_' for '-': `max_conns: 2048`):\n"
    "  --data DIR          the data folder (required)\n"
    "  --config FILE       a YAML file of these options; flags win over it\n"
    "  --http ADDR:PORT    the HTTP API [127.0.0.1:7070]; port 0 picks a free port\n"
    "  --lp ADDR:PORT      line protocol over TCP [127.0.0.1:7071]\n"
    "  --token T           required of every client; needed to listen beyond loopback\n"
    "  --max-conns N       line-protocol connections [1024]\n"
    "  --http-conns N      HTTP connections [256]\n"
    "  --max-body BYTES    HTTP body, after decompression [25000000]\n"
    "  --idle-timeout D    close an idle line-protocol connection after D [5m]\n"
    "  --http-timeout D    HTTP headers, body and idle timeout [30s]\n"
    "  --mem-budget BYTES  unparsed input held across connections [268435456]\n"
    "alerting (see docs/runbooks.md; `receivers:` are a list in the config file only):\n"
    "  --runbooks PATH     a runbook file or a folder of them; may repeat [none]\n"
    "  --sample-url T      link for a sampled request, e.g. https://t.example/r/{{request_id}}\n"
    "  --external-url URL  this server as alerts link back to it [http://<--http>]\n"
    "  --rule-threads N    rules evaluated at once [2]\n"
    "  --changes-window D  change_event rows an alert carries [1h]\n";

static int set_str(char **dst, const char *v)
{
    char *c = strdup(v);
    if (!c)
        return -1;
    free(*dst);
    *dst = c;
    return 0;
}

static int set_seconds(unsigned *dst, const char *v)
{
    int64_t ns;
    if (vg_duration_parse(v, &ns, NULL) != VG_OK || ns / VG_NS_PER_SEC > 86400 * 365)
        return -1;
    *dst = (unsigned)(ns / VG_NS_PER_SEC);
    return 0;
}

static int push_runbook(vg_srv_config_t *c, const char *v)
{
    char **nv = realloc(c->runbooks, (c->nrunbooks + 1) * sizeof *nv);
    if (!nv)
        return -1;
    c->runbooks = nv;
    if (!(nv[c->nrunbooks] = strdup(v)))
        return -1;
    c->nrunbooks++;
    return 0;
}

/* A flag's value: the first flag replaces the config file's list. */
static int add_runbooks(vg_srv_config_t *c, const char *v)
{
    if (!*v)
        return -1;
    if (!c->runbooks_from_flags) {
        for (size_t i = 0; i < c->nrunbooks; i++)
            free(c->runbooks[i]);
        c->nrunbooks = 0;
        c->runbooks_from_flags = 1;
    }
    return push_runbook(c, v);
}

/* One option by its flag name ("--max-conns") and value. 1: taken; 0: unknown; -1: bad value. */
int vg_srv_option(vg_srv_config_t *c, const char *name, const char *v)
{
    uint64_t n;
    int bad = 0;
    if (!strcmp(name, "--data"))
        bad = set_str(&c->data, v);
    else if (!strcmp(name, "--http"))
        bad = set_str(&c->http_addr, v);
    else if (!strcmp(name, "--lp"))
        bad = set_str(&c->lp_addr, v);
    else if (!strcmp(name, "--token"))
        bad = set_str(&c->token, v) || !*v;
    else if (!strcmp(name, "--max-conns"))
        bad = cli_parse_u64(v, &n) || n == 0 || n > 1000000 || !(c->max_conns = (unsigned)n);
    else if (!strcmp(name, "--http-conns"))
        bad = cli_parse_u64(v, &n) || n == 0 || n > 100000 || !(c->http_conns = (unsigned)n);
    else if (!strcmp(name, "--max-body"))
        bad = cli_parse_u64(v, &c->max_body) || c->max_body == 0;
    else if (!strcmp(name, "--idle-timeout"))
        bad = set_seconds(&c->idle_s, v);
    else if (!strcmp(name, "--http-timeout"))
        bad = set_seconds(&c->http_timeout_s, v);
    else if (!strcmp(name, "--runbooks"))
        bad = add_runbooks(c, v);
    else if (!strcmp(name, "--sample-url"))
        bad = set_str(&c->sample_url, v);
    else if (!strcmp(name, "--external-url"))
        bad = set_str(&c->external_url, v);
    else if (!strcmp(name, "--rule-threads"))
        bad = cli_parse_u64(v, &n) || n == 0 || n > 64 || !(c->rule_threads = (unsigned)n);
    else if (!strcmp(name, "--changes-window")) {
        unsigned sec = 0;
        bad = set_seconds(&sec, v);
        c->changes_window_s = sec;
    } else if (!strcmp(name, "--mem-budget"))
        bad = cli_parse_u64(v, &c->mem_budget) || c->mem_budget < 65536;
    else {
        /* the database's options, shared with `vigil ingest` */
        char *argv[2] = {(char *)name, (char *)v};
        int i = 0, rc = cli_db_option(2, argv, &i, &c->db);
        if (rc > 0 && !strcmp(name, "--max-line"))
            c->max_line = c->db.lp.max_line;
        return rc;
    }
    return bad ? -1 : 1;
}

/* "max_conns" -> "--max-conns" */
static void flag_name(const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "--%s", key);
    for (char *p = out + 2; *p; p++)
        if (*p == '_')
            *p = '-';
}

/* Skip the value that starts with ev (a mapping or a list) to its end. */
static int skip_value(yaml_parser_t *p)
{
    int depth = 1;
    while (depth > 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return -1;
        if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        else if (ev.type == YAML_STREAM_END_EVENT)
            depth = 0;
        yaml_event_delete(&ev);
    }
    return 0;
}

/* `runbooks: [a, b]` or a block list: each item is a path. */
static int read_runbooks(vg_srv_config_t *c, yaml_parser_t *p, const char *path, char *err,
                         size_t errcap)
{
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(p, &ev))
            return -1;
        int rc = 0;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            snprintf(err, errcap, "config %s: line %zu, column %zu: runbooks: each item is a path",
                     path, ev.start_mark.line + 1, ev.start_mark.column + 1);
            rc = -1;
        } else if (!c->runbooks_from_flags) {
            rc = push_runbook(c, (const char *)ev.data.scalar.value);
        }
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
}

int vg_srv_config_file(vg_srv_config_t *c, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "config %s: %s", path, strerror(errno));
        return -1;
    }
    set_str(&c->config_path, path);
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    char key[128] = "";
    int depth = 0, rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, errcap, "config %s: line %zu, column %zu: %s", path,
                     p.problem_mark.line + 1, p.problem_mark.column + 1,
                     p.problem ? p.problem : "bad YAML");
            rc = -1;
            break;
        }
        size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
        int nested = ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT;
        if (nested && depth == 1 && key[0]) {
            /* the two keys whose values are structures */
            if (!strcmp(key, "receivers")) {
                rc = skip_value(&p); /* read by vg_receivers_load */
            } else if (!strcmp(key, "runbooks") && ev.type == YAML_SEQUENCE_START_EVENT) {
                rc = read_runbooks(c, &p, path, err, errcap);
            } else {
                snprintf(err, errcap, "config %s: line %zu, column %zu: '%s' takes one value",
                         path, line, col, key);
                rc = -1;
            }
            if (rc && !err[0])
                snprintf(err, errcap, "config %s: line %zu, column %zu: bad value for '%s'", path,
                         line, col, key);
            key[0] = '\0';
            yaml_event_delete(&ev);
            continue;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: depth++; break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT: depth--; break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth != 1) {
                snprintf(err, errcap, "config %s: line %zu, column %zu: nested values are not "
                         "supported here", path, line, col);
                rc = -1;
            } else if (!key[0]) {
                snprintf(key, sizeof key, "%s", v);
            } else {
                char flag[160];
                flag_name(key, flag, sizeof flag);
                int r = !strcmp(key, "runbooks") ? (c->runbooks_from_flags ? 1
                                                    : push_runbook(c, v) ? -1 : 1)
                                                 : vg_srv_option(c, flag, v);
                if (r <= 0) {
                    snprintf(err, errcap, "config %s: line %zu, column %zu: %s '%s'%s", path,
                             line, col, r == 0 ? "unknown key" : "bad value for", key,
                             r == 0 ? "" : " (see vigild --help)");
                    rc = -1;
                }
                key[0] = '\0';
            }
            break;
        }
        case YAML_STREAM_END_EVENT: done = 1; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}
