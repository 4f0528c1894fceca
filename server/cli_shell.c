/*
 * cli_shell.c: `vigil shell DIR` (and plain `vigil DIR`, as with sqlite3):
 * an interactive shell over the query language, with libedit.
 *
 * Statements end with ';' and may span lines; lines starting with '.' are
 * shell commands. History is kept in ~/.vigil_history (or $VIGIL_HISTORY).
 * When standard input is not a terminal, statements are read from it
 * without prompts, as a script.
 */
#include <editline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

enum { FMT_TABLE, FMT_CSV, FMT_JSON };

typedef struct shell {
    vg_db_t *db;
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
    vg_db_stats_t st;
    if (vg_db_stats(sh->db, &st, NULL) != VG_OK)
        return;
    for (size_t i = 0; i < st.ntables; i++)
        printf("%s\n", st.tables[i].name);
    vg_db_stats_free(&st);
}

static void cmd_schema(shell_t *sh, const char *table)
{
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

static void run(shell_t *sh, const char *text)
{
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
    if (cli_has_help(argc, argv) || argc != 2) {
        fputs("usage: vigil shell DIR   (or: vigil DIR)\nAn interactive shell over the query "
              "language; statements end with ';', .help lists the shell's commands.\n"
              "With standard input not a terminal, it runs the statements it reads.\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    shell_t sh = {.dir = argv[1], .tty = isatty(0)};
    if (cli_open(sh.dir, NULL, 0, 1, &sh.db) != VG_OK)
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
    vg_db_close(sh.db, NULL);
    return 0;
}
