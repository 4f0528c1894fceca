/*
 * cli_backtest.c: `vigil backtest DIR RUNBOOK... [--since T] [--until T]
 * [--step D]`: replay rules over stored history, evaluating each as of
 * successive times exactly as vigild would have, and print when each alert
 * would have gone pending, fired and resolved: a threshold is tuned here,
 * before it pages anyone. `vigil demo` replays with the same code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_alerts.h"

/* ----------------------------------------------------- loading runbooks */

static int column_type(void *ctx, const char *table, const char *column, vg_type_t *type)
{
    vg_col_info_t *cols = NULL;
    size_t n = 0;
    if (vg_db_columns(ctx, table, &cols, &n, NULL) != VG_OK)
        return -1;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(cols[i].name, column) == 0) {
            *type = cols[i].type;
            found = 1;
        }
    vg_cols_free(cols, n);
    return found;
}

int cli_load_runbooks(vg_db_t *db, const char *const *paths, size_t n, vg_rb_set_t *set)
{
    vg_rb_diags_t d = {0};
    int rc = vg_rb_load_paths(paths, n, set, &d);
    vg_rb_env_t env = {.ctx = db, .column_type = db ? column_type : NULL};
    for (size_t i = 0; rc == VG_OK && i < set->n; i++)
        if (vg_rb_compile(set->v[i], &env, &d) != VG_OK)
            rc = VG_EPARSE;
    if (rc != VG_OK || d.n) {
        vg_rb_diags_print(&d, stderr);
        vg_rb_diags_free(&d);
        vg_rb_set_free(set);
        return rc ? rc : VG_EPARSE;
    }
    vg_rb_diags_free(&d);
    return VG_OK;
}

/* ------------------------------------------------------------ replaying */

/* Newest row time over the tables (INT64_MIN when empty). */
int64_t cli_data_end(vg_db_t *db)
{
    vg_db_stats_t st;
    int64_t end = INT64_MIN;
    if (vg_db_stats(db, &st, NULL) != VG_OK)
        return end;
    for (size_t i = 0; i < st.ntables; i++)
        if (st.tables[i].rows && st.tables[i].ts_max > end &&
            strcmp(st.tables[i].name, "vigil_alerts") != 0)
            end = st.tables[i].ts_max;
    vg_db_stats_free(&st);
    return end;
}

/* ------------------------------------------------------------- printing */

static void labels_text(const vg_alert_info_t *a, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < a->nlabels && o + 4 < cap; i++) {
        if (!strcmp(a->labels[i].name, "alertname") || !strcmp(a->labels[i].name, "runbook"))
            continue;
        o += (size_t)snprintf(buf + o, cap - o, "%s%s=%s", o ? " " : "", a->labels[i].name,
                              a->labels[i].value);
    }
}

static const char *change_word(vg_rs_change_t c)
{
    switch (c) {
    case VG_RS_TO_PENDING: return "pending";
    case VG_RS_TO_FIRING: return "FIRING";
    case VG_RS_TO_RESOLVED: return "resolved";
    case VG_RS_CLEARED: return "cleared";
    default: return "";
    }
}

void cli_print_event(FILE *out, const vg_rule_event_t *ev)
{
    char when[48], labels[512];
    vg_format_time(ev->at, when, sizeof when);
    labels_text(ev->alert, labels, sizeof labels);
    fprintf(out, "%s  %-8s  %-28s %s", when, change_word(ev->change), ev->alert->rule, labels);
    if (!isnan(ev->alert->value))
        fprintf(out, "  value=%.4g", ev->alert->value);
    fputc('\n', out);
}

/* ------------------------------------------------------------- the command */

typedef struct counts {
    FILE *out;
    size_t pending, fired, resolved, cleared;
    int diagnose;
} counts_t;

/* Called from the replay's threads: counts are atomic, output goes to the replay's buffer. */
static void on_event(void *ctx, const vg_rule_event_t *ev)
{
    counts_t *c = ctx;
    FILE *out = cli_replay_out(c->out);
    cli_print_event(out, ev);
    if (c->diagnose && ev->change == VG_RS_TO_FIRING && ev->alert->vigil_json)
        fprintf(out, "    %s\n", ev->alert->vigil_json);
    size_t *n = ev->change == VG_RS_TO_PENDING    ? &c->pending
                : ev->change == VG_RS_TO_FIRING   ? &c->fired
                : ev->change == VG_RS_TO_RESOLVED ? &c->resolved
                : ev->change == VG_RS_CLEARED     ? &c->cleared
                                                  : NULL;
    if (n)
        __atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

static const char usage[] =
    "usage: vigil backtest DIR RUNBOOK... [--since T] [--until T] [--step D] [--diagnose]\n"
    "Replay the rules of RUNBOOK (files or folders) over the history stored in DIR, as\n"
    "vigild would have evaluated them, and print when each alert would have gone pending,\n"
    "fired, resolved (or cleared while pending).\n"
    "  --until T    the last evaluation [the newest stored row]\n"
    "  --since T    the first evaluation [until - 1d]; times as in queries: RFC 3339,\n"
    "               nanoseconds, or now() - 2h\n"
    "  --step D     evaluate every rule every D [each rule's own `every`]; a coarser step\n"
    "               is faster and can miss short alerts\n"
    "  --threads N  rules replayed at once [2]; the output does not depend on it\n"
    "  --diagnose   also run each firing alert's diagnosis and print it (JSON)\n";

typedef struct bt_args {
    const char *dir, *since, *until, *step;
    unsigned threads;
    const char **paths;
    size_t npaths;
    int diagnose;
} bt_args_t;

static int parse(int argc, char **argv, bt_args_t *a)
{
    a->paths = calloc((size_t)argc + 1, sizeof *a->paths);
    if (!a->paths)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--since")   ? &a->since
                           : !strcmp(argv[i], "--until") ? &a->until
                           : !strcmp(argv[i], "--step")  ? &a->step
                                                         : NULL;
        if (opt) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vigil backtest: %s needs a value\n", argv[i]);
                return -1;
            }
            *opt = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            a->threads = (unsigned)atoi(argv[++i]);
            if (a->threads < 1 || a->threads > 64) {
                fprintf(stderr, "vigil backtest: --threads takes 1 to 64\n");
                return -1;
            }
        } else if (!strcmp(argv[i], "--diagnose")) {
            a->diagnose = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vigil backtest: unknown option '%s'\n\n%s", argv[i], usage);
            return -1;
        } else if (!a->dir) {
            a->dir = argv[i];
        } else {
            a->paths[a->npaths++] = argv[i];
        }
    }
    if (!a->dir || !a->npaths) {
        fprintf(stderr, "%s", usage);
        return -1;
    }
    return 0;
}

static int times(vg_db_t *db, const bt_args_t *a, int64_t *since, int64_t *until, int64_t *step)
{
    vg_error_t err = {0};
    int64_t now = vg_now_ns();
    *until = cli_data_end(db);
    if (a->until && vg_time_parse(a->until, now, until, &err) != VG_OK) {
        fprintf(stderr, "vigil backtest: --until: %s\n", err.msg);
        return -1;
    }
    if (*until == INT64_MIN) {
        fprintf(stderr, "vigil backtest: %s holds no rows: give --until\n", a->dir);
        return -1;
    }
    *since = *until - 86400 * VG_NS_PER_SEC;
    if (a->since && vg_time_parse(a->since, *until, since, &err) != VG_OK) {
        fprintf(stderr, "vigil backtest: --since: %s\n", err.msg);
        return -1;
    }
    *step = 0;
    if (a->step && (vg_duration_parse(a->step, step, &err) != VG_OK || *step <= 0)) {
        fprintf(stderr, "vigil backtest: --step: %s\n", *step <= 0 ? "must be positive" : err.msg);
        return -1;
    }
    if (*since > *until) {
        fprintf(stderr, "vigil backtest: --since is after --until\n");
        return -1;
    }
    return 0;
}

int cli_backtest(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    bt_args_t a = {0};
    a.threads = 2;
    vg_db_t *db = NULL;
    vg_rb_set_t set = {0};
    vg_rules_t *rules = NULL;
    int64_t since, until, step;
    int rc = 2;
    if (parse(argc, argv, &a) != 0)
        goto out;
    rc = 1;
    if (cli_open(a.dir, NULL, 1, 1, &db) != VG_OK || times(db, &a, &since, &until, &step) != 0 ||
        cli_load_runbooks(db, a.paths, a.npaths, &set) != VG_OK)
        goto out;
    counts_t c = {stdout, 0, 0, 0, 0, a.diagnose};
    vg_rules_opts_t o;
    vg_rules_opts_default(&o);
    o.db = db, o.on_event = on_event, o.event_ctx = &c, o.diagnose = a.diagnose;
    vg_error_t err = {0};
    if (vg_rules_create(&set, &o, &rules, &err) != VG_OK) {
        fprintf(stderr, "vigil backtest: %s\n", err.msg);
        goto out;
    }
    int64_t min_every = INT64_MAX;
    for (size_t i = 0; i < vg_rules_count(rules); i++)
        if (vg_rules_every(rules, i) < min_every)
            min_every = vg_rules_every(rules, i);
    char t0[48], t1[48];
    vg_format_time(since, t0, sizeof t0);
    vg_format_time(until, t1, sizeof t1);
    fprintf(stderr, "replaying %zu rules from %s to %s\n", vg_rules_count(rules), t0, t1);
    cli_replay(rules, since, until, step ? step : min_every, a.threads, NULL, stdout);
    printf("%zu fired, %zu resolved, %zu went pending (%zu cleared before firing)\n", c.fired,
           c.resolved, c.pending, c.cleared);
    rc = 0;
out:
    vg_rules_destroy(rules);
    vg_rb_set_free(&set);
    if (db)
        vg_db_close(db, NULL);
    free(a.paths);
    return rc;
}
