/*
 * cli.h: the `vigil` command line: one file per command, sharing a few
 * helpers (cli_util.c). Exit status: 0 success, 1 the command ran but
 * something was rejected or failed, 2 bad usage.
 */
#ifndef VG_SERVER_CLI_H
#define VG_SERVER_CLI_H

#include "vigil/vigil.h"

int cli_ingest(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_simulate(int argc, char **argv);
int cli_repair(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_query(int argc, char **argv);
int cli_shell(int argc, char **argv);
int cli_check(int argc, char **argv);    /* cli_runbook.c */
int cli_runbook(int argc, char **argv);  /* cli_runbook.c */
int cli_backtest(int argc, char **argv);
int cli_silence(int argc, char **argv);

/* Open a database for the CLI: logs to stderr; on VG_ELOCKED retries read-only when ro_ok.
 * o may be NULL for the defaults. */
int cli_open(const char *dir, const vg_db_opts_t *o, int read_only, int ro_ok, vg_db_t **db);

/*
 * The database options every writing command takes (--wal-sync, --retention,
 * --future, --partition, --max-series, --max-line, --max-string, --seal-rows,
 * --seal-age).
 * If argv[*i] is one, parse its value into o, advance *i and return 1; on a
 * bad value print why and return -1; otherwise 0.
 */
int cli_db_option(int argc, char **argv, int *i, vg_db_opts_t *o);
/* A whole non-negative decimal number; -1 for anything else (sign, junk, overflow). */
int cli_parse_u64(const char *s, uint64_t *out);
extern const char cli_db_options_help[];
void cli_log(void *ctx, const char *level, const char *msg);
/* "1.2 MiB" style */
void cli_bytes(uint64_t n, char *out, size_t cap);
int cli_has_help(int argc, char **argv);

/*
 * The remote path (--connect): remove "--connect URL" (or "--connect=URL")
 * from anywhere in argv, shifting the rest down and lowering *argc; *url is
 * the URL or NULL when absent. Returns -1 (after printing why) when the
 * option has no value. Ownership: *url points into argv.
 */
int cli_connect(int *argc, char **argv, const char **url);
/* VIGIL_URL when set and not empty, else NULL. */
const char *cli_env_url(void);

/* A reply of /api/v1/query's JSON format as a result, for the table printer
 * (cli_query.c): the reply's optional keys (vg_result.h) give windows,
 * histograms, pictures and non-finite cells; query is unused. Ownership:
 * res is the caller's, vg_result_free. */
struct vg_result;
int cli_result_from_json(const char *body, size_t len, const char *query, struct vg_result *res,
                         vg_error_t *err);
/* Print a query error reply (400 {"error","line","column"}) as the embedded
 * path does: "error at line L, column C: msg" to stderr, or with json the
 * server's body to stdout. */
void cli_print_remote_error(const char *body, size_t len, int json);

#endif
