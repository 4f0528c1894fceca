/*
 * cli_ingest.c: `vigil ingest DIR [FILE|-] [--precision ns|us|ms|s]`.
 * Reads line protocol in batches of whole lines, prints each rejected line
 * with its number, column and reason, and a summary. Exit 0 only if nothing
 * was rejected. At the end the heads are sealed, so the folder holds
 * compressed segments.
 *
 * With --connect URL the same batches go to vigild's POST /write. Its
 * partial-write reply numbers lines within the body and puts the column in
 * the message ("reason (column C)"); the batch's first line number turns
 * them back into numbers from the start of the input, printed as embedded.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "remote.h"

#define CHUNK (4u << 20)

static const char help[] =
    "usage: vigil ingest DIR|--connect URL [FILE|-] [--precision ns|us|ms|s] [database options]\n"
    "Load line protocol from FILE (default: standard input) into the database DIR\n"
    "(created if missing). Prints rows accepted, rows rejected and each rejected\n"
    "line with its number and reason. Exit status 0 only if nothing was rejected.\n"
    "With --connect URL (or $VIGIL_URL when no DIR is given) the lines go to vigild\n"
    "over HTTP ($VIGIL_TOKEN as its token); database options are then the server's.\n";

typedef struct ingest {
    vg_db_t *db;
    vg_write_opts_t wo;
    uint64_t rows, rejected, bytes;
    uint64_t ticket, ticket_rows; /* the batch being synced while the next is parsed */
    int tty;
    time_t last_progress;
    const char *url;       /* remote: the server */
    const char *precision; /* remote: as given */
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

/* Rows in a batch: its lines that are neither blank nor comments. */
static uint64_t data_lines(const char *p, size_t n, uint64_t *lines)
{
    uint64_t rows = 0;
    *lines = 0;
    for (const char *end = p + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        rows += q < e && *q != '#';
        (*lines)++;
        p = nl ? nl + 1 : end;
    }
    return rows;
}

/* Print the partial-write reply's rejected lines, renumbered from first;
 * the count of rejected lines it reports. */
static uint64_t print_partial(const vg_remote_resp_t *resp, uint64_t first)
{
    json_t *j = json_loadb(resp->body, resp->len, 0, NULL);
    json_t *data = json_object_get(j, "data");
    uint64_t rejected = 0;
    for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *d = json_array_get(data, i);
        json_int_t no = json_integer_value(json_object_get(d, "line_number"));
        const char *m = json_string_value(json_object_get(d, "error_message"));
        m = m ? m : "";
        unsigned long long more;
        if (no <= 0 && sscanf(m, "%llu more rejected", &more) == 1) {
            fprintf(stderr, "... and %llu more rejected lines in this batch\n", more);
            rejected += more;
            continue;
        }
        /* "reason (column C)": the column is the last parenthesis */
        size_t len = strlen(m);
        const char *col = len ? strrchr(m, '(') : NULL;
        unsigned c;
        if (col && sscanf(col, "(column %u)", &c) == 1 && m[len - 1] == ')')
            fprintf(stderr, "line %llu, column %u: %.*s\n",
                    (unsigned long long)((uint64_t)no + first - 1), c,
                    (int)(col > m && col[-1] == ' ' ? col - m - 1 : col - m), m);
        else
            fprintf(stderr, "line %llu: %s\n", (unsigned long long)((uint64_t)no + first - 1), m);
        rejected++;
    }
    json_decref(j);
    return rejected;
}

static int write_remote(ingest_t *in, const char *p, size_t n)
{
    uint64_t lines, rows = data_lines(p, n, &lines);
    uint64_t first = in->wo.first_lineno;
    in->wo.first_lineno += lines;
    in->bytes += n;
    vg_remote_resp_t resp;
    vg_error_t err = {0};
    int rc = vg_remote_write(in->url, in->precision, p, n, &resp, &err);
    if (rc) {
        fprintf(stderr, "vigil: batch failed: %s\n", err.msg);
        return rc;
    }
    if (resp.status == 204 || resp.status == 200) {
        in->rows += rows;
    } else if (resp.status == 400 && strstr(resp.body, "\"partial write")) {
        uint64_t bad = print_partial(&resp, first);
        in->rejected += bad;
        in->rows += rows > bad ? rows - bad : 0;
    } else {
        char msg[1024];
        vg_remote_describe(&resp, msg, sizeof msg);
        fprintf(stderr, "vigil: batch failed: %s\n", msg);
        rc = VG_EIO;
    }
    vg_remote_resp_free(&resp);
    if (in->tty && time(NULL) != in->last_progress) {
        in->last_progress = time(NULL);
        fprintf(stderr, "\r%llu rows, %.1f MB ...", (unsigned long long)in->rows,
                (double)in->bytes / 1e6);
    }
    return rc;
}

static int write_batch(ingest_t *in, const char *p, size_t n)
{
    if (in->url)
        return write_remote(in, p, n);
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
    int last = in->url ? VG_OK : settle(in);
    free(buf);
    return rc ? rc : last;
}

static int ingest_remote(ingest_t *in, FILE *f)
{
    in->tty = isatty(2);
    int rc = feed(in, f);
    if (f != stdin)
        fclose(f);
    if (in->tty)
        fputc('\n', stderr);
    printf("%llu rows accepted, %llu rows rejected\n", (unsigned long long)in->rows,
           (unsigned long long)in->rejected);
    return rc || in->rejected ? 1 : 0;
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
    if (cli_connect(&argc, argv, &in.url))
        return 2;
    vg_db_opts_t dbo;
    vg_db_opts_default(&dbo);
    for (int i = 1; i < argc; i++) {
        int o = cli_db_option(argc, argv, &i, &dbo);
        if (o < 0)
            return 2;
        if (o > 0)
            continue;
        if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            in.precision = argv[i + 1];
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
    if (!in.url && !dir)
        in.url = cli_env_url();
    if (in.url && dir && file) {
        fputs(help, stderr);
        return 2;
    }
    if (in.url && dir) {
        file = dir; /* with a server, the one positional argument is the input */
        dir = NULL;
    }
    if (!dir && !in.url) {
        fputs(help, stderr);
        return 2;
    }
    FILE *f = stdin;
    if (file && strcmp(file, "-") != 0 && !(f = fopen(file, "rb"))) {
        perror(file);
        return 1;
    }
    if (in.url)
        return ingest_remote(&in, f);
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
