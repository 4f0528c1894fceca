/*
 * cli_ingest.c: `vigil ingest DIR [FILE|-] [--precision ns|us|ms|s]`.
 * Reads line protocol in batches of whole lines, prints each rejected line
 * with its number, column and reason, and a summary. Exit 0 only if nothing
 * was rejected. At the end the heads are sealed, so the folder holds
 * compressed segments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK (4u << 20)

static const char help[] =
    "usage: vigil ingest DIR [FILE|-] [--precision ns|us|ms|s] [database options]\n"
    "Load line protocol from FILE (default: standard input) into the database DIR\n"
    "(created if missing). Prints rows accepted, rows rejected and each rejected\n"
    "line with its number and reason. Exit status 0 only if nothing was rejected.\n";

typedef struct ingest {
    vg_db_t *db;
    vg_write_opts_t wo;
    uint64_t rows, rejected, bytes;
    uint64_t ticket, ticket_rows; /* the batch being synced while the next is parsed */
    int tty;
    time_t last_progress;
} ingest_t;

/* Wait for the batch in flight; its rows count once they are durable. */
static int settle(ingest_t *in)
{
    vg_error_t err = {0};
    int rc = vg_db_write_wait(in->db, in->ticket, &err);
    if (rc)
        fprintf(stderr, "vigil: batch failed: %s\n", err.msg);
    else
        in->rows += in->ticket_rows;
    in->ticket = in->ticket_rows = 0;
    return rc;
}

static int write_batch(ingest_t *in, const char *p, size_t n)
{
    vg_write_result_t res;
    vg_error_t err = {0};
    uint64_t ticket;
    int rc = vg_db_write_lp_begin(in->db, p, n, &in->wo, &res, &ticket, &err);
    /* the previous batch was synced while this one was parsed */
    int prev = settle(in);
    in->ticket = ticket;
    in->ticket_rows = res.rows;
    for (size_t i = 0; i < res.nerrors; i++)
        fprintf(stderr, "line %llu, column %u: %s\n", (unsigned long long)res.errors[i].lineno,
                res.errors[i].column, res.errors[i].reason);
    if (res.rejected > res.nerrors)
        fprintf(stderr, "... and %llu more rejected lines in this batch\n",
                (unsigned long long)(res.rejected - res.nerrors));
    in->rejected += res.rejected;
    in->bytes += n;
    in->wo.first_lineno = res.last_lineno + 1;
    vg_write_result_free(&res);
    if (rc)
        fprintf(stderr, "vigil: batch failed: %s\n", err.msg);
    if (rc == VG_OK)
        rc = prev;
    if (in->tty && time(NULL) != in->last_progress) {
        in->last_progress = time(NULL);
        fprintf(stderr, "\r%llu rows, %.1f MB ...", (unsigned long long)in->rows,
                (double)in->bytes / 1e6);
    }
    return rc;
}

static int feed(ingest_t *in, FILE *f)
{
    char *buf = malloc(CHUNK);
    if (!buf)
        return VG_ENOMEM;
    size_t have = 0;
    int rc = VG_OK;
    for (;;) {
        size_t got = fread(buf + have, 1, CHUNK - have, f);
        have += got;
        int eof = got == 0 || feof(f);
        if (have == 0 && eof)
            break;
        size_t cut = have;
        if (!eof) {
            char *nl = memrchr(buf, '\n', have);
            cut = nl ? (size_t)(nl - buf) + 1 : have; /* no newline at all: an overlong line */
        }
        rc = write_batch(in, buf, cut);
        if (rc)
            break;
        memmove(buf, buf + cut, have - cut);
        have -= cut;
        if (eof && have == 0)
            break;
    }
    int last = settle(in);
    free(buf);
    return rc ? rc : last;
}

int cli_ingest(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(help, stdout);
        fputs(cli_db_options_help, stdout);
        return 0;
    }
    const char *dir = NULL, *file = NULL;
    ingest_t in = {.wo = {.precision = VG_PREC_NS, .first_lineno = 1, .max_errors = 1000}};
    vg_db_opts_t dbo;
    vg_db_opts_default(&dbo);
    for (int i = 1; i < argc; i++) {
        int o = cli_db_option(argc, argv, &i, &dbo);
        if (o < 0)
            return 2;
        if (o > 0)
            continue;
        if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            if (vg_lp_precision_parse(argv[++i], 0, &in.wo.precision) != VG_OK) {
                fprintf(stderr, "vigil ingest: bad precision '%s' (ns, us, ms or s)\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vigil ingest: unknown option '%s'\n%s", argv[i], help);
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else if (!file) {
            file = argv[i];
        } else {
            fputs(help, stderr);
            return 2;
        }
    }
    if (!dir) {
        fputs(help, stderr);
        return 2;
    }
    FILE *f = stdin;
    if (file && strcmp(file, "-") != 0 && !(f = fopen(file, "rb"))) {
        perror(file);
        return 1;
    }
    if (cli_open(dir, &dbo, 0, 0, &in.db) != VG_OK) {
        if (f != stdin)
            fclose(f);
        return 1;
    }
    in.tty = isatty(2);
    int rc = feed(&in, f);
    if (f != stdin)
        fclose(f);
    vg_error_t err = {0};
    if (rc == VG_OK && (rc = vg_db_flush(in.db, &err)) == VG_OK)
        rc = vg_db_compact(in.db, &err);
    if (rc && err.msg[0])
        fprintf(stderr, "vigil: %s\n", err.msg);
    if (vg_db_close(in.db, &err) != VG_OK && rc == VG_OK) {
        fprintf(stderr, "vigil: %s\n", err.msg);
        rc = VG_EIO;
    }
    if (in.tty)
        fputc('\n', stderr);
    printf("%llu rows accepted, %llu rows rejected\n", (unsigned long long)in.rows,
           (unsigned long long)in.rejected);
    return rc || in.rejected ? 1 : 0;
}
