/*
 * replay.c: rules evaluated over stored history, as vigild would have run
 * them (vigil backtest, vigil demo).
 *
 * A rule's evaluations depend on each other (its state machine) but not on
 * other rules', so with several threads each takes a share of the rules
 * and replays the whole span for them. What the event handlers print goes
 * to a buffer per evaluation (cli_replay_out), and the buffers are printed
 * at the end in time order, then rule order: the output is the same as a
 * single thread's. With a notifier, one thread replays, ticking it after
 * each step, since its timers need time to move forward once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_alerts.h"

typedef struct rec {
    int64_t at;
    size_t rule;
    char *text;
    size_t len;
} rec_t;

typedef struct worker {
    vg_rules_t *rules;
    int64_t since, until, step;
    unsigned id, n;
    rec_t *recs;
    size_t nrecs, cap;
    int rc;
} worker_t;

static _Thread_local FILE *tl_out;

FILE *cli_replay_out(FILE *fallback)
{
    return tl_out ? tl_out : fallback;
}

/* Evaluate rule i at t unless it is not due; next[i] moves on. */
static void eval_due(vg_rules_t *rules, size_t i, int64_t t, int64_t step, int64_t *next)
{
    if (next[i] > t)
        return;
    vg_error_t err = {0};
    if (vg_rules_eval(rules, i, t, &err) != VG_OK)
        fprintf(cli_replay_out(stderr), "vigil: %s\n", err.msg);
    int64_t every = vg_rules_every(rules, i);
    while (next[i] <= t)
        next[i] += every > step ? every : step;
}

static int keep(worker_t *w, int64_t at, size_t rule, char *text, size_t len)
{
    if (!len) {
        free(text);
        return 0;
    }
    if (w->nrecs == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        rec_t *v = realloc(w->recs, cap * sizeof *v);
        if (!v) {
            free(text);
            return -1;
        }
        w->recs = v, w->cap = cap;
    }
    w->recs[w->nrecs++] = (rec_t){at, rule, text, len};
    return 0;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    size_t n = vg_rules_count(w->rules);
    int64_t *next = calloc(n + 1, sizeof *next);
    if (!next) {
        w->rc = VG_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        next[i] = w->since;
    for (int64_t t = w->since; t <= w->until; t += w->step)
        for (size_t i = w->id; i < n; i += w->n) {
            char *text = NULL;
            size_t len = 0;
            tl_out = open_memstream(&text, &len);
            eval_due(w->rules, i, t, w->step, next);
            if (tl_out)
                fclose(tl_out);
            tl_out = NULL;
            if (keep(w, t, i, text, len) != 0)
                w->rc = VG_ENOMEM;
        }
    free(next);
    return NULL;
}

static int rec_cmp(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int parallel(vg_rules_t *rules, int64_t since, int64_t until, int64_t step,
                    unsigned threads, FILE *out)
{
    worker_t *w = calloc(threads, sizeof *w);
    pthread_t *th = calloc(threads, sizeof *th);
    int rc = w && th ? VG_OK : VG_ENOMEM;
    unsigned started = 0;
    for (unsigned k = 0; !rc && k < threads; k++) {
        w[k] = (worker_t){rules, since, until, step, k, threads, NULL, 0, 0, 0};
        if (pthread_create(&th[k], NULL, work, &w[k]) == 0)
            started++;
        else
            work(&w[k]); /* no thread: do its share here */
    }
    for (unsigned k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    size_t total = 0;
    for (unsigned k = 0; w && k < threads; k++)
        total += w[k].nrecs, rc = rc ? rc : w[k].rc;
    rec_t *all = calloc(total + 1, sizeof *all);
    size_t m = 0;
    for (unsigned k = 0; w && k < threads; k++) {
        if (all)
            memcpy(all + m, w[k].recs, w[k].nrecs * sizeof *all), m += w[k].nrecs;
        free(w[k].recs);
    }
    if (all) {
        qsort(all, m, sizeof *all, rec_cmp);
        for (size_t i = 0; i < m; i++) {
            fwrite(all[i].text, 1, all[i].len, out);
            free(all[i].text);
        }
    }
    free(all);
    free(w);
    free(th);
    return all ? rc : VG_ENOMEM;
}

int cli_replay(vg_rules_t *rules, int64_t since, int64_t until, int64_t step, unsigned threads,
               struct vg_notifier *notifier, FILE *out)
{
    if (threads > 1 && !notifier)
        return parallel(rules, since, until, step, threads, out);
    size_t n = vg_rules_count(rules);
    int64_t *next = calloc(n + 1, sizeof *next);
    if (!next)
        return VG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        next[i] = since;
    for (int64_t t = since; t <= until; t += step) {
        for (size_t i = 0; i < n; i++)
            eval_due(rules, i, t, step, next);
        if (notifier)
            vg_notifier_tick(notifier, t);
    }
    free(next);
    return VG_OK;
}
