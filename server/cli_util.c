/* cli_util.c: helpers shared by the CLI commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_log(void *ctx, const char *level, const char *msg)
{
    (void)ctx;
    if (strcmp(level, "debug") != 0)
        fprintf(stderr, "vigil: %s: %s\n", level, msg);
}

int cli_open(const char *dir, const vg_db_opts_t *opts, int read_only, int ro_ok, vg_db_t **db)
{
    vg_db_opts_t o;
    if (opts)
        o = *opts;
    else
        vg_db_opts_default(&o);
    o.read_only = read_only;
    o.log = cli_log;
    vg_error_t err = {0};
    int rc = vg_db_open(dir, &o, db, &err);
    if (rc == VG_ELOCKED && ro_ok) {
        o.read_only = 1;
        rc = vg_db_open(dir, &o, db, &err);
    }
    if (rc)
        fprintf(stderr, "vigil: %s\n", err.msg);
    return rc;
}

void cli_bytes(uint64_t n, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

int cli_has_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

const char cli_db_options_help[] =
    "database options (defaults in brackets):\n"
    "  --wal-sync full|group:MS|none  when a batch is acknowledged [full: after fdatasync]\n"
    "                                 none survives a process crash, not a power loss\n"
    "  --retention D      reject and drop rows older than D [30d]\n"
    "  --future D         reject rows more than D ahead of the clock [1h]\n"
    "  --partition D      time partition of the segment files [1d]\n"
    "  --max-series N     distinct tag sets per table [1000000]\n"
    "  --max-line BYTES   longest line of line protocol [65536]\n"
    "  --max-string BYTES longest string field value [1048576]\n"
    "  --seal-rows N      seal a table's in-memory rows into a segment past N [1000000]\n"
    "  --seal-age D       ... or once its oldest in-memory row is D old [10m]\n";

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int wal_sync_option(const char *v, vg_db_opts_t *o)
{
    uint64_t ms;
    if (strcmp(v, "full") == 0)
        o->wal_sync = VG_WAL_SYNC_FULL;
    else if (strcmp(v, "none") == 0)
        o->wal_sync = VG_WAL_SYNC_NONE;
    else if (strncmp(v, "group:", 6) == 0 && cli_parse_u64(v + 6, &ms) == 0 && ms <= 10000) {
        o->wal_sync = VG_WAL_SYNC_GROUP;
        o->group_ms = (unsigned)ms;
    } else
        return -1;
    return 0;
}

int cli_db_option(int argc, char **argv, int *i, vg_db_opts_t *o)
{
    static const char *const names[] = {"--wal-sync",   "--retention", "--future",
                                        "--partition",  "--max-series", "--max-line",
                                        "--max-string", "--seal-rows",  "--seal-age"};
    const char *a = argv[*i];
    size_t k = 0, nk = sizeof names / sizeof names[0];
    while (k < nk && strcmp(a, names[k]) != 0)
        k++;
    if (k == nk)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vigil: %s needs a value\n", a);
        return -1;
    }
    const char *v = argv[++*i];
    vg_error_t err = {0};
    uint64_t n = 0;
    int bad = 0;
    switch (k) {
    case 0: bad = wal_sync_option(v, o); break;
    case 1: bad = vg_duration_parse(v, &o->retention_ns, &err) != VG_OK; break;
    case 2: bad = vg_duration_parse(v, &o->future_ns, &err) != VG_OK; break;
    case 3: bad = vg_duration_parse(v, &o->partition_ns, &err) != VG_OK || o->partition_ns <= 0; break;
    case 4: bad = cli_parse_u64(v, &o->max_series) || o->max_series == 0; break;
    case 5: bad = cli_parse_u64(v, &n) || n < 16 || n > (1u << 30); o->lp.max_line = (uint32_t)n; break;
    case 6: bad = cli_parse_u64(v, &n) || n > (1u << 30); o->lp.max_string = (uint32_t)n; break;
    case 7: bad = cli_parse_u64(v, &o->seal_rows) || o->seal_rows == 0; break;
    case 8: bad = vg_duration_parse(v, &o->seal_age_ns, &err) != VG_OK || o->seal_age_ns <= 0; break;
    }
    if (bad) {
        fprintf(stderr, "vigil: bad value '%s' for %s%s%s\n", v, a, err.msg[0] ? ": " : "", err.msg);
        return -1;
    }
    return 1;
}

int cli_connect(int *argc, char **argv, const char **url)
{
    *url = NULL;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--connect") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "vigil: --connect needs a URL (http://HOST:PORT)\n");
                return -1;
            }
            *url = argv[++i];
        } else if (strncmp(argv[i], "--connect=", 10) == 0) {
            *url = argv[i] + 10;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    if (*url && !**url) {
        fprintf(stderr, "vigil: --connect needs a URL (http://HOST:PORT)\n");
        return -1;
    }
    return 0;
}

const char *cli_env_url(void)
{
    const char *u = getenv("VIGIL_URL");
    return u && *u ? u : NULL;
}
