/* cli_util.c: helpers shared by the CLI commands. */
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

int cli_open(const char *dir, int read_only, int ro_ok, vg_db_t **db)
{
    vg_db_opts_t o;
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
