/*
 * cli_shell.c: `vigil shell DIR` (and plain `vigil DIR`, as with sqlite3):
 * an interactive shell over the query language, with libedit.
 *
 * Statements end with ';' and may span lines; lines starting with '.' are
 * shell commands. History is kept in ~/.vigil_history (or $VIGIL_HISTORY).
 * When standard input is not a terminal, statements are read from it
 * without prompts, as a script.
 *
 * `vigil shell --connect URL` is the same shell on a vigild: statements go
 * to /api/v1/query (JSON, rendered here with the same printers), and the
 * table and column names come from /api/v1/schema. The few places that
 * differ branch on sh->url; everything else is shared.
 */
#include <editline/readline.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "remote.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON };

typedef struct shell {
    vg_db_t *db;     /* embedded, or NULL with url */
    const char *url; /* remote */
    const char *dir;
    int format;
    int timer;
    int ascii;
    int64_t at; /* 0: the wall clock */
    int tty;
    char history[4096];
    const char **words; /* completion candidates */
    size_t nwords;
    char *names; /* storage of table and column names */
} shell_t;

/* readline's completion callbacks take no context: the one shell of the
 * process is reached through this pointer, set while the shell runs. */
static shell_t *completing;

static const char help_text[] =
    ".tables               list the tables\n"
    ".schema TABLE         columns of a table with their types\n"
    ".format table|csv|json\n"
    ".ascii on|off         plain ASCII tables and sparklines\n"
    ".timer on|off         print how long each statement took\n"
    ".at T|now             evaluate now() at T (RFC 3339, ns, now() - 2h) or the clock\n"
    ".help                 this text\n"
    ".quit                 leave (also Ctrl-D)\n"
    "Statements end with ';'. Example:\n"
    "  SELECT p99(latency_s) FROM llm_request SINCE 6h EVERY 5m BY model;\n";

static void add_word(shell_t *sh, const char *w, size_t *cap)
{
    if (sh->nwords == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        const char **nw = realloc(sh->words, *cap * sizeof *nw);
        if (!nw)
            return;
        sh->words = nw;
    }
    sh->words[sh->nwords++] = w;
}

/* The server's /api/v1/schema as JSON, or NULL after printing why. */
static json_t *remote_schema(shell_t *sh)
{
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    if (vg_remote_schema(sh->url, &resp, &err) != VG_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return NULL;
    }
    json_t *j = NULL;
    if (resp.status != 200) {
        char msg[1024];
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "error: %s\n", msg);
    } else if (!(j = json_loadb(resp.body, resp.len, 0, NULL))) {
        fprintf(stderr, "error: %s: the reply is not JSON\n", resp.url);
    }
    vg_remote_resp_free(&resp);
    return j;
}

/* Table and column names from the schema into sh->names (one allocation). */
static void remote_words(shell_t *sh, size_t *cap)
{
    json_t *j = remote_schema(sh), *tables = json_object_get(j, "tables");
    size_t bytes = 1;
    for (int pass = 0; pass < 2; pass++) {
        char *p = sh->names;
        for (size_t i = 0; i < json_array_size(tables); i++) {
            json_t *t = json_array_get(tables, i), *cols = json_object_get(t, "columns");
            for (size_t c = 0; c <= json_array_size(cols); c++) {
                json_t *o = c ? json_object_get(json_array_get(cols, c - 1), "name")
                              : json_object_get(t, "name");
                const char *w = json_string_value(o);
                if (!w)
                    continue;
                if (pass == 0) {
                    bytes += strlen(w) + 1;
                } else if (p) {
                    strcpy(p, w);
                    add_word(sh, p, cap);
                    p += strlen(p) + 1;
                }
            }
        }
        if (pass == 0)
            sh->names = malloc(bytes);
    }
    json_decref(j);
}

/* Keywords, functions, tables and every table's columns. */
static void load_words(shell_t *sh)
{
    free(sh->words);
    free(sh->names);
    sh->words = NULL;
    sh->names = NULL;
    sh->nwords = 0;
    size_t cap = 0, nlang = vg_q_words(NULL, 0);
    const char **lang = calloc(nlang + 1, sizeof *lang);
    if (lang) {
        vg_q_words(lang, nlang);
        for (size_t i = 0; i < nlang; i++)
            add_word(sh, lang[i], &cap);
        free(lang);
    }
    if (sh->url) {
        remote_words(sh, &cap);
        return;
    }
    vg_db_stats_t st;
    if (vg_db_stats(sh->db, &st, NULL) != VG_OK)
        return;
    size_t bytes = 1;
    for (size_t i = 0; i < st.ntables; i++) {
        bytes += strlen(st.tables[i].name) + 1;
        for (size_t c = 0; c < st.tables[i].ncols; c++)
            bytes += strlen(st.tables[i].cols[c].name) + 1;
    }
    char *p = sh->names = malloc(bytes);
    for (size_t i = 0; p && i < st.ntables; i++) {
        strcpy(p, st.tables[i].name);
        add_word(sh, p, &cap);
        p += strlen(p) + 1;
        for (size_t c = 0; c < st.tables[i].ncols; c++) {
            strcpy(p, st.tables[i].cols[c].name);
            add_word(sh, p, &cap);
            p += strlen(p) + 1;
        }
    }
    vg_db_stats_free(&st);
}

static char *complete_next(const char *text, int state)
{
    static size_t i, len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (completing && i < completing->nwords) {
        const char *w = completing->words[i++];
        if (strncasecmp(w, text, len) == 0)
            return strdup(w);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;
    return rl_completion_matches(text, complete_next);
}

static void cmd_tables(shell_t *sh)
{
    if (sh->url) {
        json_t *j = remote_schema(sh), *tables = json_object_get(j, "tables");
        for (size_t i = 0; i < json_array_size(tables); i++)
            printf("%s\n", json_string_value(json_object_get(json_array_get(tables, i), "name")));
        json_decref(j);
        return;
    }
    vg_db_stats_t st;
    if (vg_db_stats(sh->db, &st, NULL) != VG_OK)
        return;
    for (size_t i = 0; i < st.ntables; i++)
        printf("%s\n", st.tables[i].name);
    vg_db_stats_free(&st);
}

static void schema_remote(shell_t *sh, const char *table)
{
    json_t *j = remote_schema(sh), *tables = json_object_get(j, "tables"), *cols = NULL;
    if (!j)
        return;
    for (size_t i = 0; i < json_array_size(tables) && !cols; i++) {
        json_t *t = json_array_get(tables, i);
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && strcmp(n, table) == 0)
            cols = json_object_get(t, "columns");
    }
    if (!cols) {
        /* the embedded message is the engine's; this one says the same thing */
        fprintf(stderr, "error: no table '%s' on %s\n", table, sh->url);
    } else {
        printf("%s:\n", table);
        for (size_t c = 0; c < json_array_size(cols); c++) {
            json_t *col = json_array_get(cols, c);
            printf("  %-30s %s\n", json_string_value(json_object_get(col, "name")),
                   json_string_value(json_object_get(col, "type")));
        }
    }
    json_decref(j);
}

static void cmd_schema(shell_t *sh, const char *table)
{
    if (sh->url) {
        schema_remote(sh, table);
        return;
    }
    vg_col_info_t *cols;
    size_t n;
    vg_error_t err = {0};
    if (vg_db_columns(sh->db, table, &cols, &n, &err) != VG_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return;
    }
    printf("%s:\n", table);
    for (size_t c = 0; c < n; c++)
        printf("  %-30s %s\n", cols[c].name, vg_type_name(cols[c].type));
    vg_cols_free(cols, n);
}

static int on_off(const char *arg, int *flag)
{
    if (strcmp(arg, "on") == 0)
        *flag = 1;
    else if (strcmp(arg, "off") == 0)
        *flag = 0;
    else
        return -1;
    return 0;
}

/* A line starting with '.'; returns 1 to quit. */
static int dot_command(shell_t *sh, char *line)
{
    char *arg = line + strcspn(line, " \t");
    if (*arg)
        *arg++ = '\0';
    arg += strspn(arg, " \t");
    arg[strcspn(arg, "\r\n")] = '\0';
    for (size_t n = strlen(arg); n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == ';'); n--)
        arg[n - 1] = '\0';
    if (!strcmp(line, ".quit") || !strcmp(line, ".exit"))
        return 1;
    if (!strcmp(line, ".help"))
        fputs(help_text, stdout);
    else if (!strcmp(line, ".tables"))
        cmd_tables(sh);
    else if (!strcmp(line, ".schema") && *arg)
        cmd_schema(sh, arg);
    else if (!strcmp(line, ".format") && !strcmp(arg, "table"))
        sh->format = FMT_TABLE;
    else if (!strcmp(line, ".format") && !strcmp(arg, "csv"))
        sh->format = FMT_CSV;
    else if (!strcmp(line, ".format") && !strcmp(arg, "json"))
        sh->format = FMT_JSON;
    else if (!strcmp(line, ".timer") && on_off(arg, &sh->timer) == 0)
        ;
    else if (!strcmp(line, ".ascii") && on_off(arg, &sh->ascii) == 0)
        ;
    else if (!strcmp(line, ".at") && !strcmp(arg, "now"))
        sh->at = 0;
    else if (!strcmp(line, ".at") && *arg) {
        vg_error_t err = {0};
        if (vg_time_parse(arg, vg_now_ns(), &sh->at, &err) != VG_OK)
            fprintf(stderr, "error: %s\n", err.msg);
    } else
        fprintf(stderr, "error: unknown or incomplete command '%s%s%s' (try .help)\n", line,
                *arg ? " " : "", arg);
    return 0;
}

/* A statement on the server: the same printers over its JSON (or its CSV as is). */
static void run_remote(shell_t *sh, const char *text)
{
    char at[32];
    snprintf(at, sizeof at, "%lld", (long long)sh->at);
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    if (vg_remote_query(sh->url, text, sh->format == FMT_CSV ? "csv" : "json",
                        sh->at ? at : NULL, &resp, &err) != VG_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return;
    }
    if (resp.status == 400 && resp.len && resp.body[0] == '{') {
        cli_print_remote_error(resp.body, resp.len, 0);
    } else if (resp.status != 200) {
        char msg[1024];
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "error: %s\n", msg);
    } else if (sh->format != FMT_TABLE) {
        fwrite(resp.body, 1, resp.len, stdout);
    } else {
        vg_result_t res;
        if (cli_result_from_json(resp.body, resp.len, text, &res, &err) != VG_OK)
            fprintf(stderr, "error: %s: %s\n", resp.url, err.msg);
        else
            vg_result_write_table(&res, stdout, sh->ascii || !isatty(1) ? VG_TABLE_ASCII : 0);
        vg_result_free(&res);
    }
    vg_remote_resp_free(&resp);
}

static void run(shell_t *sh, const char *text)
{
    if (sh->url) {
        struct timespec r0, r1;
        clock_gettime(CLOCK_MONOTONIC, &r0);
        run_remote(sh, text);
        clock_gettime(CLOCK_MONOTONIC, &r1);
        if (sh->timer)
            printf("time: %.3f s\n",
                   (double)(r1.tv_sec - r0.tv_sec) + (double)(r1.tv_nsec - r0.tv_nsec) / 1e9);
        fflush(stdout);
        return;
    }
    vg_q_exec_opts_t o;
    vg_q_exec_opts_default(&o);
    o.now_ns = sh->at;
    vg_result_t res;
    vg_q_error_t err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = vg_q_run(sh->db, text, &o, &res, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        char msg[512];
        vg_q_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
    } else if (sh->format == FMT_CSV) {
        vg_result_write_csv(&res, stdout);
    } else if (sh->format == FMT_JSON) {
        vg_result_write_json(&res, stdout);
    } else {
        vg_result_write_table(&res, stdout, sh->ascii || !isatty(1) ? VG_TABLE_ASCII : 0);
    }
    vg_result_free(&res);
    if (sh->timer)
        printf("time: %.3f s\n",
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
}

/* Does the statement text end with ';' (outside quotes)? */
static int complete_statement(const char *s)
{
    char quote = 0;
    int end = 0;
    for (; *s; s++) {
        if (quote) {
            quote = *s == quote ? 0 : quote;
            continue;
        }
        if (*s == '\'' || *s == '"')
            quote = *s;
        else if (*s == ';')
            end = 1;
        else if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            end = 0;
    }
    return end;
}

static char *next_line(shell_t *sh, int continuing)
{
    if (sh->tty)
        return readline(continuing ? "   ...> " : "vigil> ");
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, stdin) < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

static void loop(shell_t *sh)
{
    char *stmt = NULL;
    size_t len = 0;
    for (;;) {
        char *line = next_line(sh, len > 0);
        if (!line)
            break;
        if (len == 0 && line[strspn(line, " \t")] == '.') {
            if (sh->tty)
                add_history(line);
            int quit = dot_command(sh, line + strspn(line, " \t"));
            free(line);
            if (quit)
                break;
            continue;
        }
        size_t l = strlen(line);
        char *ns = realloc(stmt, len + l + 2);
        if (!ns) {
            free(line);
            break;
        }
        stmt = ns;
        memcpy(stmt + len, line, l);
        len += l;
        stmt[len++] = '\n';
        stmt[len] = '\0';
        free(line);
        if (!complete_statement(stmt))
            continue;
        if (stmt[strspn(stmt, " \t\n;")]) {
            if (sh->tty) {
                stmt[len - 1] = '\0';
                add_history(stmt);
            }
            run(sh, stmt);
            load_words(sh);
        }
        len = 0;
        stmt[0] = '\0';
    }
    if (len && stmt[strspn(stmt, " \t\n;")]) /* a last statement without ';' */
        run(sh, stmt);
    free(stmt);
}

int cli_shell(int argc, char **argv)
{
    static const char usage[] =
        "usage: vigil shell DIR|--connect URL   (or: vigil DIR)\nAn interactive shell over the "
        "query language; statements end with ';', .help lists the shell's commands.\n"
        "With standard input not a terminal, it runs the statements it reads.\n"
        "$VIGIL_URL stands for --connect when no DIR is given; $VIGIL_TOKEN is sent as the "
        "server's token.\n";
    if (cli_has_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *url;
    if (cli_connect(&argc, argv, &url))
        return 2;
    if (!url && argc == 1)
        url = cli_env_url();
    if (url ? argc != 1 : argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    shell_t sh = {.url = url, .dir = url ? url : argv[1], .tty = isatty(0)};
    if (!url && cli_open(sh.dir, NULL, 0, 1, &sh.db) != VG_OK)
        return 1;
    load_words(&sh);
    if (sh.tty) {
        const char *h = getenv("VIGIL_HISTORY"), *home = getenv("HOME");
        if (h)
            snprintf(sh.history, sizeof sh.history, "%s", h);
        else if (home)
            snprintf(sh.history, sizeof sh.history, "%s/.vigil_history", home);
        if (sh.history[0])
            read_history(sh.history);
        completing = &sh;
        rl_attempted_completion_function = complete;
        printf("vigil %s: %s (.help for help)\n", VIGIL_VERSION, sh.dir);
    }
    loop(&sh);
    if (sh.tty && sh.history[0])
        write_history(sh.history);
    completing = NULL;
    free(sh.words);
    free(sh.names);
    if (sh.db)
        vg_db_close(sh.db, NULL);
    return 0;
}
