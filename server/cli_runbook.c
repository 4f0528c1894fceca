/*
 * cli_runbook.c: `vigil check` (validate runbook files, optionally against
 * the schema of a data folder or a server and the receivers of a vigild
 * config) and `vigil runbook show` (print one as a decision tree).
 *
 * Problems are printed as compilers print them, `file:line:column: message`,
 * sorted by file and place, to stderr; the exit status is 0 when there were
 * none, 1 when there were, 2 for bad usage.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "cli.h"
#include "remote.h"
#include "runbook.h"

static const char check_usage[] =
    "usage: vigil check [--data DIR | --connect URL] [--config FILE] FILE|FOLDER...\n"
    "Load and check runbook files (a folder: its *.yaml and *.yml): keys, types, durations,\n"
    "every query and `when` expression, templates, unique rule names.\n"
    "  --data DIR      also check table and column names against this data folder\n"
    "  --connect URL   ... or against a running vigild's schema\n"
    "  --config FILE   also check receiver names against this vigild config's receivers\n"
    "Each problem is printed as file:line:column: message. Exit 0: no problem; 1: problems;\n"
    "2: bad usage.\n";

static const char show_usage[] =
    "usage: vigil runbook show FILE...\n"
    "Print each runbook as a decision tree: its rules, investigation steps, samples and\n"
    "causes in the order they are tried.\n";

/* ------------------------------------------------------------------ schema */

typedef struct stable {
    char *name;
    char **cols;
    vg_type_t *types;
    size_t ncols;
} stable_t;

typedef struct schema {
    stable_t *t;
    size_t n;
    char **names; /* table names, for suggestions */
} schema_t;

static void schema_free(schema_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t c = 0; c < s->t[i].ncols; c++)
            vg_free(s->t[i].cols[c]);
        vg_free(s->t[i].cols);
        vg_free(s->t[i].types);
        vg_free(s->t[i].name);
    }
    vg_free(s->t);
    vg_free(s->names);
    memset(s, 0, sizeof *s);
}

static const stable_t *schema_table(const schema_t *s, const char *table)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, table))
            return &s->t[i];
    return NULL;
}

static int column_type(void *ctx, const char *table, const char *column, vg_type_t *type)
{
    const stable_t *t = schema_table(ctx, table);
    if (!t)
        return -1;
    if (!strcmp(column, "time")) {
        *type = VG_TYPE_TIME;
        return 1;
    }
    for (size_t c = 0; c < t->ncols; c++)
        if (!strcmp(t->cols[c], column)) {
            *type = t->types[c];
            return 1;
        }
    return 0;
}

static size_t column_names(void *ctx, const char *table, const char *const **out)
{
    const stable_t *t = schema_table(ctx, table);
    if (!t)
        return 0;
    *out = (const char *const *)t->cols;
    return t->ncols;
}

/* Room for n tables (zeroed); -1 on no memory. */
static int schema_alloc(schema_t *s, size_t n)
{
    s->t = vg_calloc(n ? n : 1, sizeof *s->t);
    s->names = vg_calloc(n ? n : 1, sizeof *s->names);
    return s->t && s->names ? 0 : -1;
}

static int table_add(schema_t *s, const char *name, size_t ncols)
{
    stable_t *t = &s->t[s->n];
    t->name = vg_strdup(name);
    t->cols = vg_calloc(ncols ? ncols : 1, sizeof *t->cols);
    t->types = vg_calloc(ncols ? ncols : 1, sizeof *t->types);
    s->names[s->n++] = t->name;
    return t->name && t->cols && t->types ? 0 : -1;
}

static int col_add(stable_t *t, const char *name, vg_type_t type)
{
    if (!(t->cols[t->ncols] = vg_strdup(name)))
        return -1;
    t->types[t->ncols++] = type;
    return 0;
}

static int schema_from_dir(const char *dir, schema_t *s)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vigil check: --data %s: not a folder\n", dir);
        return 2;
    }
    vg_db_t *db = NULL;
    if (cli_open(dir, NULL, 1, 1, &db) != VG_OK)
        return 1;
    vg_db_stats_t ds;
    vg_error_t err = {0};
    if (vg_db_stats(db, &ds, &err) != VG_OK) {
        fprintf(stderr, "vigil check: %s: %s\n", dir, err.msg);
        vg_db_close(db, NULL);
        return 1;
    }
    int rc = schema_alloc(s, ds.ntables);
    for (size_t i = 0; !rc && i < ds.ntables; i++) {
        const vg_table_stats_t *t = &ds.tables[i];
        rc = table_add(s, t->name, t->ncols);
        for (size_t c = 0; !rc && c < t->ncols; c++)
            rc = col_add(&s->t[s->n - 1], t->cols[c].name, t->cols[c].type);
    }
    vg_db_stats_free(&ds);
    vg_db_close(db, NULL);
    return rc ? 1 : 0;
}

static vg_type_t type_of(const char *name)
{
    for (int t = VG_TYPE_FLOAT; t <= VG_TYPE_TIME; t++)
        if (name && !strcmp(vg_type_name((vg_type_t)t), name))
            return (vg_type_t)t;
    return VG_TYPE_NONE;
}

static int schema_from_json(json_t *j, schema_t *s)
{
    json_t *tables = json_object_get(j, "tables");
    if (!json_is_array(tables) || schema_alloc(s, json_array_size(tables)))
        return -1;
    for (size_t i = 0; i < json_array_size(tables); i++) {
        json_t *t = json_array_get(tables, i), *cols = json_object_get(t, "columns");
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name || table_add(s, name, json_array_size(cols)))
            return -1;
        for (size_t c = 0; c < json_array_size(cols); c++) {
            json_t *col = json_array_get(cols, c);
            const char *cn = json_string_value(json_object_get(col, "name"));
            if (cn && col_add(&s->t[s->n - 1], cn,
                              type_of(json_string_value(json_object_get(col, "type")))))
                return -1;
        }
    }
    return 0;
}

static int schema_from_url(const char *url, schema_t *s)
{
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    if (vg_remote_schema(url, &resp, &err) != VG_OK) {
        fprintf(stderr, "vigil check: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    char msg[1024];
    json_t *j = NULL;
    if (resp.status != 200) {
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "vigil check: %s\n", msg);
        rc = 1;
    } else if (!(j = json_loadb(resp.body, resp.len, 0, NULL)) || schema_from_json(j, s)) {
        fprintf(stderr, "vigil check: %s: the reply is not a schema\n", resp.url);
        rc = 1;
    }
    json_decref(j);
    vg_remote_resp_free(&resp);
    return rc;
}

/* --------------------------------------------------------------- receivers */

typedef struct recv {
    char **v;
    size_t n;
} recv_t;

static void recv_free(recv_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        vg_free(r->v[i]);
    vg_free(r->v);
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static vg_rb_pos_t ypos(const yaml_node_t *n)
{
    return (vg_rb_pos_t){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

/* The names of the config's `receivers:` (the rest of each entry is another
 * command's business). Problems go to d. */
static void recv_names(const char *file, yaml_document_t *doc, recv_t *r, vg_rb_diags_t *d)
{
    yaml_node_t *list = map_get(doc, yaml_document_get_root_node(doc), "receivers");
    if (!list)
        return;
    if (list->type != YAML_SEQUENCE_NODE) {
        vg_rb_diag_add(d, file, ypos(list), "receivers: expected a list of {name, type, url}");
        return;
    }
    size_t k = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    if (!(r->v = vg_calloc(k ? k : 1, sizeof *r->v)))
        return;
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *it = yaml_document_get_node(doc, list->data.sequence.items.start[i]);
        yaml_node_t *n = map_get(doc, it, "name");
        if (!n || n->type != YAML_SCALAR_NODE || !n->data.scalar.length)
            vg_rb_diag_add(d, file, ypos(it), "a receiver needs a name");
        else if ((r->v[r->n] = vg_strdup((char *)n->data.scalar.value)))
            r->n++;
    }
}

static int read_receivers(const char *file, recv_t *r, vg_rb_diags_t *d)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "vigil check: --config %s: cannot read it\n", file);
        return 2;
    }
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) {
        fclose(f);
        return 1;
    }
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &doc)) {
        vg_rb_diag_add(d, file,
                       (vg_rb_pos_t){(int)p.problem_mark.line + 1, (int)p.problem_mark.column + 1},
                       "YAML syntax error: %s", p.problem ? p.problem : "error");
    } else {
        recv_names(file, &doc, r, d);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&p);
    fclose(f);
    return 0;
}

/* ----------------------------------------------------------------- output */

static int diag_cmp(const void *a, const void *b)
{
    const vg_rb_diag_t *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->column != y->column)
        return x->column < y->column ? -1 : 1;
    return strcmp(x->msg, y->msg);
}

static size_t files_with_problems(const vg_rb_diags_t *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += i == 0 || strcmp(d->v[i].file, d->v[i - 1].file) != 0;
    return n;
}

/* Print d sorted; returns the exit status (0: none). */
static int report(vg_rb_diags_t *d)
{
    if (!d->n)
        return 0;
    qsort(d->v, d->n, sizeof *d->v, diag_cmp);
    vg_rb_diags_print(d, stderr);
    size_t nf = files_with_problems(d);
    fprintf(stderr, "%zu problem%s in %zu file%s\n", d->n, d->n == 1 ? "" : "s", nf,
            nf == 1 ? "" : "s");
    return 1;
}

/* ------------------------------------------------------------------ check */

typedef struct opts {
    const char *data, *url, *config;
    const char **paths;
    size_t npaths;
} opts_t;

static int take(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t l = strlen(name);
    if (!strncmp(argv[*i], name, l) && argv[*i][l] == '=') {
        *out = argv[*i] + l + 1;
        return 1;
    }
    if (strcmp(argv[*i], name))
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vigil check: %s needs a value\n", name);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    o->paths = vg_calloc((size_t)argc, sizeof *o->paths);
    if (!o->paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        int t = take(argc, argv, &i, "--data", &o->data);
        if (!t)
            t = take(argc, argv, &i, "--connect", &o->url);
        if (!t)
            t = take(argc, argv, &i, "--config", &o->config);
        if (t < 0)
            return 2;
        if (t)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vigil check: unknown option '%s'\n%s", argv[i], check_usage);
            return 2;
        }
        o->paths[o->npaths++] = argv[i];
    }
    if (!o->npaths || (o->data && o->url)) {
        fputs(o->npaths ? "vigil check: --data and --connect exclude each other\n" : "", stderr);
        fputs(check_usage, stderr);
        return 2;
    }
    return 0;
}

static int check_set(vg_rb_set_t *set, const vg_rb_env_t *env, vg_rb_diags_t *d)
{
    size_t nrules = 0;
    for (size_t i = 0; i < set->n; i++) {
        vg_rb_compile(set->v[i], env, d);
        nrules += set->v[i]->nrules;
    }
    int rc = report(d);
    if (!rc)
        printf("%zu runbook%s, %zu rule%s: ok\n", set->n, set->n == 1 ? "" : "s", nrules,
               nrules == 1 ? "" : "s");
    return rc;
}

int cli_check(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(check_usage, stdout);
        return 0;
    }
    opts_t o = {0};
    schema_t sc = {0};
    recv_t rv = {0};
    vg_rb_diags_t d = {0};
    vg_rb_set_t set = {0};
    vg_rb_env_t env = {0};
    int rc = parse_opts(argc, argv, &o);
    if (!rc && o.data)
        rc = schema_from_dir(o.data, &sc);
    if (!rc && o.url)
        rc = schema_from_url(o.url, &sc);
    if (!rc && o.config)
        rc = read_receivers(o.config, &rv, &d);
    if (!rc && vg_rb_load_all(o.paths, o.npaths, &set, &d) == VG_ENOMEM)
        rc = 1;
    if (!rc) {
        if (o.data || o.url) {
            env = (vg_rb_env_t){.ctx = &sc,
                                .column_type = column_type,
                                .tables = (const char *const *)sc.names,
                                .ntables = sc.n,
                                .column_names = column_names};
        }
        if (o.config) {
            env.receivers = (const char *const *)rv.v;
            env.nreceivers = rv.n;
            env.check_receivers = 1;
        }
        rc = check_set(&set, &env, &d);
    }
    vg_rb_set_free(&set);
    vg_rb_diags_free(&d);
    recv_free(&rv);
    schema_free(&sc);
    vg_free(o.paths);
    return rc;
}

/* ---------------------------------------------------------- runbook show */

int cli_runbook(int argc, char **argv)
{
    if (argc < 2 || cli_has_help(argc, argv) || strcmp(argv[1], "show") != 0) {
        if (argc >= 2 && strcmp(argv[1], "show") && argv[1][0] != '-')
            fprintf(stderr, "vigil runbook: unknown subcommand '%s'\n", argv[1]);
        fputs(show_usage, argc >= 2 && cli_has_help(argc, argv) ? stdout : stderr);
        return argc >= 2 && cli_has_help(argc, argv) ? 0 : 2;
    }
    if (argc < 3) {
        fputs(show_usage, stderr);
        return 2;
    }
    vg_rb_diags_t d = {0};
    vg_rb_set_t set = {0};
    vg_rb_env_t env = {0};
    int rc = vg_rb_load_all((const char *const *)argv + 2, (size_t)argc - 2, &set, &d);
    for (size_t i = 0; rc != VG_ENOMEM && i < set.n; i++)
        vg_rb_compile(set.v[i], &env, &d);
    int status = rc == VG_ENOMEM ? 1 : report(&d);
    for (size_t i = 0; !status && i < set.n; i++) {
        if (i)
            fputc('\n', stdout);
        vg_rb_show(set.v[i], stdout);
    }
    vg_rb_set_free(&set);
    vg_rb_diags_free(&d);
    return status;
}
