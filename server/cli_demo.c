/*
 * cli_demo.c: `vigil demo`: the whole loop on one machine, in a fresh
 * temporary folder: simulate eight days of LLM traffic with an incident in
 * the last day, ingest it, replay the shipped runbooks over the last day
 * exactly as vigild would have run them, and print each alert as the
 * on-call engineer receives it. `--webhook URL` also delivers them.
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_alerts.h"
#include "simulate.h"

#define DAY (86400 * VG_NS_PER_SEC)

typedef struct demo_args {
    const char *incident, *at, *webhook, *runbooks, *rate, *step, *seed;
    int keep, quiet;
} demo_args_t;

static const char usage[] =
    "usage: vigil demo [--incident NAME] [--at OFFSET] [--webhook URL] [options]\n"
    "Simulate eight days of LLM traffic with an incident in the last day, store it in a\n"
    "fresh temporary folder, replay the shipped runbooks over the last day as vigild\n"
    "would have run them, and print each alert as the on-call engineer receives it.\n"
    "  --incident NAME  the scenario [verbose_prompt]; none for a quiet week; one of\n"
    "                   verbose_prompt model_update over_refusal guardrail_off\n"
    "                   empty_retrieval tool_timeouts kv_pressure prompt_injection agent_loop\n"
    "  --at OFFSET      when it starts, from the start of the last day [14h]\n"
    "  --webhook URL    also POST each notification there (Alertmanager's webhook JSON)\n"
    "  --runbooks PATH  the runbooks to run [the shipped ones]\n"
    "  --rate R         mean requests per second [4]\n"
    "  --step D         evaluation step of the replay [10m] (vigild: each rule's `every`)\n"
    "  --seed N         the simulation's seed [1]\n"
    "  --keep           keep the folder (to explore it with `vigil shell`)\n";

static int parse(int argc, char **argv, demo_args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char **opt = !strcmp(argv[i], "--incident")   ? &a->incident
                           : !strcmp(argv[i], "--at")       ? &a->at
                           : !strcmp(argv[i], "--webhook")  ? &a->webhook
                           : !strcmp(argv[i], "--runbooks") ? &a->runbooks
                           : !strcmp(argv[i], "--rate")     ? &a->rate
                           : !strcmp(argv[i], "--step")     ? &a->step
                           : !strcmp(argv[i], "--seed")     ? &a->seed
                                                            : NULL;
        if (opt && i + 1 < argc) {
            *opt = argv[++i];
        } else if (!strcmp(argv[i], "--keep")) {
            a->keep = 1;
        } else {
            fprintf(stderr, "vigil demo: %s '%s'\n\n%s", opt ? "missing value for" : "unknown option",
                    argv[i], usage);
            return -1;
        }
    }
    return 0;
}

/* The shipped runbooks: $VIGIL_RUNBOOKS, the installed copy, the source tree. */
static const char *runbooks_dir(const demo_args_t *a)
{
    if (a->runbooks)
        return a->runbooks;
    const char *env = getenv("VIGIL_RUNBOOKS");
    if (env && *env)
        return env;
    if (access(VG_RUNBOOKS_INSTALL_DIR, R_OK) == 0)
        return VG_RUNBOOKS_INSTALL_DIR;
    return VG_RUNBOOKS_SOURCE_DIR;
}

/* The timestamp ending the last line of buf (lines end in " <ns>\n"). */
static int64_t last_ts(const char *buf, size_t len)
{
    if (len < 2)
        return 0;
    size_t i = len - 1;
    while (i > 0 && buf[i - 1] != ' ')
        i--;
    return strtoll(buf + i, NULL, 10);
}

static int ingest(vg_db_t *db, const vg_sim_opts_t *o, uint64_t *rows)
{
    vg_sim_t *sim;
    vg_error_t err = {0};
    size_t cap = 4u << 20, len;
    char *buf = malloc(cap);
    int rc = buf ? vg_sim_create(o, &sim, &err) : VG_ENOMEM;
    if (rc) {
        free(buf);
        fprintf(stderr, "vigil demo: %s\n", err.msg);
        return rc;
    }
    /* Sealed every simulated hour, as vigild seals a live stream (by age):
     * blocks then span an hour, and a rule's 10-minute window decodes an
     * hour of rows rather than a day. */
    int64_t sealed = o->start_ns;
    for (int more = 1; more && rc == VG_OK;) {
        more = vg_sim_next(sim, buf, cap, &len);
        vg_write_result_t res;
        rc = vg_db_write_lp(db, buf, len, NULL, &res, &err);
        *rows += res.rows;
        vg_write_result_free(&res);
        int64_t last = last_ts(buf, len);
        if (rc == VG_OK && last - sealed >= 3600 * VG_NS_PER_SEC) {
            rc = vg_db_flush(db, &err);
            sealed = last;
        }
    }
    vg_sim_destroy(sim);
    free(buf);
    if (rc == VG_OK)
        rc = vg_db_flush(db, &err);
    if (rc)
        fprintf(stderr, "vigil demo: %s\n", err.msg);
    return rc;
}

typedef struct show {
    int64_t incident_at; /* 0 without one */
    size_t fired;
} show_t;

/* Called from the replay's threads (replay.c): writes to its buffers. */
static void on_event(void *ctx, const vg_rule_event_t *ev)
{
    show_t *s = ctx;
    FILE *out = cli_replay_out(stdout);
    if (ev->change == VG_RS_TO_FIRING) {
        __atomic_add_fetch(&s->fired, 1, __ATOMIC_RELAXED);
        cli_print_alert(out, ev->alert, ev->at);
        if (s->incident_at)
            fprintf(out, "  (%+.0f minutes after the incident began)\n",
                    (double)(ev->at - s->incident_at) / 60e9);
    } else {
        cli_print_event(out, ev);
    }
}

static double since_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int sim_opts(const demo_args_t *a, vg_sim_opts_t *o, int64_t *incident_at)
{
    vg_error_t err = {0};
    vg_sim_opts_default(o);
    o->duration_ns = 8 * DAY;
    o->start_ns = (vg_now_ns() - o->duration_ns - 60 * VG_NS_PER_SEC) / (60 * VG_NS_PER_SEC) *
                  (60 * VG_NS_PER_SEC);
    o->rate = a->rate ? atof(a->rate) : 4;
    if (a->seed)
        o->seed = strtoull(a->seed, NULL, 10);
    if (o->rate <= 0 || o->rate > 1000) {
        fprintf(stderr, "vigil demo: --rate must be in (0, 1000]\n");
        return -1;
    }
    *incident_at = 0;
    const char *name = a->incident ? a->incident : "verbose_prompt";
    if (!strcmp(name, "none"))
        return 0;
    int64_t at = 14 * 3600 * VG_NS_PER_SEC;
    if (a->at && (vg_duration_parse(a->at, &at, &err) != VG_OK || at >= DAY)) {
        fprintf(stderr, "vigil demo: --at: %s\n", err.msg[0] ? err.msg : "must be under 1d");
        return -1;
    }
    char spec[128];
    snprintf(spec, sizeof spec, "%s@%llds", name, (long long)((7 * DAY + at) / VG_NS_PER_SEC));
    if (vg_sim_add_incident(o, spec, &err) != VG_OK) {
        fprintf(stderr, "vigil demo: --incident: %s\n", err.msg);
        return -1;
    }
    *incident_at = o->start_ns + 7 * DAY + at;
    return 0;
}

static int open_notifier(const char *dir, const char *url, vg_notifier_t **n)
{
    vg_receiver_t r;
    vg_receiver_default(&r);
    r.name = vg_strdup("demo");
    r.url = vg_strdup(url);
    char path[512];
    snprintf(path, sizeof path, "%s/notify", dir);
    vg_error_t err = {0};
    int rc = vg_notifier_open(path, &r, 1, NULL, cli_log, NULL, n, &err);
    vg_receiver_clear(&r);
    if (rc)
        fprintf(stderr, "vigil demo: %s\n", err.msg);
    return rc;
}

static int run(const demo_args_t *a, const char *dir)
{
    vg_sim_opts_t so;
    int64_t incident_at;
    if (sim_opts(a, &so, &incident_at) != 0)
        return 2;
    vg_db_opts_t dbo;
    vg_db_opts_default(&dbo);
    dbo.wal_sync = VG_WAL_SYNC_NONE; /* a demo's folder is thrown away */
    dbo.compact_min_segments = 1000; /* keep the hourly segments (see ingest) */
    vg_db_t *db;
    if (cli_open(dir, &dbo, 0, 0, &db) != VG_OK)
        return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("simulating 8 days of LLM traffic (%.0f requests/s) with incident %s into %s ...\n",
           so.rate, so.n_incidents ? vg_sim_incident_name(so.incidents[0].kind) : "none", dir);
    fflush(stdout);
    uint64_t rows = 0;
    int rc = ingest(db, &so, &rows);
    printf("stored %" PRIu64 " rows in %.1f s\n", rows, since_s(&t0));
    vg_rb_set_t set = {0};
    const char *rbdir = runbooks_dir(a);
    if (!rc)
        rc = cli_load_runbooks(db, &rbdir, 1, &set);
    vg_notifier_t *notifier = NULL;
    if (!rc && a->webhook)
        rc = open_notifier(dir, a->webhook, &notifier);
    show_t show = {incident_at, 0};
    vg_rules_opts_t ro;
    vg_rules_opts_default(&ro);
    ro.db = db, ro.write_history = 1, ro.on_event = on_event, ro.event_ctx = &show;
    ro.notifier = notifier;
    ro.sample_url = "https://traces.example.com/r/{{request_id}}";
    vg_rules_t *rules = NULL;
    vg_error_t err = {0};
    if (!rc && (rc = vg_rules_create(&set, &ro, &rules, &err)) != VG_OK)
        fprintf(stderr, "vigil demo: %s\n", err.msg);
    int64_t step = 600 * VG_NS_PER_SEC;
    if (!rc && a->step && (vg_duration_parse(a->step, &step, &err) != VG_OK || step <= 0))
        rc = VG_EINVAL, fprintf(stderr, "vigil demo: --step: bad duration\n");
    if (!rc) {
        int64_t end = so.start_ns + so.duration_ns;
        char t[48];
        vg_format_time(end - DAY, t, sizeof t);
        printf("running %zu rules of %s over the last day (from %s, every %llds) ...\n",
               vg_rules_count(rules), rbdir, t, (long long)(step / VG_NS_PER_SEC));
        if (incident_at) {
            vg_format_time(incident_at, t, sizeof t);
            printf("the incident begins at %s\n\n", t);
        }
        fflush(stdout);
        rc = cli_replay(rules, end - DAY, end, step, 2, notifier, stdout);
        printf("\n%zu alerts fired; %.1f s in all\n", show.fired, since_s(&t0));
    }
    if (notifier) {
        int left = vg_notifier_drain(notifier, 30000);
        printf("webhook %s: %s\n", a->webhook, left ? "some notifications are still undelivered"
                                                    : "every notification delivered");
    }
    vg_rules_destroy(rules);
    vg_notifier_close(notifier);
    vg_rb_set_free(&set);
    vg_db_close(db, NULL);
    return rc ? 1 : 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int cli_demo(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    demo_args_t a = {0};
    if (parse(argc, argv, &a) != 0)
        return 2;
    char dir[] = "/tmp/vigil-demo-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("vigil demo: mkdtemp");
        return 1;
    }
    int rc = run(&a, dir);
    if (a.keep) {
        printf("the data stays in %s: try `vigil %s` and SELECT * FROM vigil_alerts\n", dir, dir);
    } else {
        if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
            fprintf(stderr, "vigil demo: could not remove %s\n", dir);
    }
    return rc;
}
