/*
 * scheduler.c: vigild's rule scheduler. Worker threads take the rule whose
 * time has come, evaluate it as of now, and set its next time one interval
 * later. A rule is evaluated by one thread at a time; when its evaluation
 * outlasts its interval, the missed evaluations are skipped (as Prometheus
 * does) rather than queued, so a slow rule never delays the others beyond
 * its own interval while another worker is free. Queries read snapshots:
 * evaluation never blocks ingest.
 *
 * The notifier's timers are ticked here too, once a second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"
#include "rules.h"
#include "srv.h"

#define TICK_NS (VG_NS_PER_SEC)

struct vg_scheduler {
    vg_rules_t *rules;
    vg_notifier_t *notifier;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *threads;
    unsigned nthreads;
    int64_t *due; /* per rule */
    uint8_t *busy;
    size_t n;
    int64_t tick_due;
    int running; /* evaluations in flight */
    int stop, reloading;
};

static void deadline(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = (time_t)(ns / VG_NS_PER_SEC);
    ts->tv_nsec = (long)(ns % VG_NS_PER_SEC);
}

/* Rule times start spread over their interval, so that rules loaded
 * together do not all run in the same second. */
static int reset_due(vg_scheduler_t *s)
{
    size_t n = vg_rules_count(s->rules);
    int64_t *due = calloc(n + 1, sizeof *due);
    uint8_t *busy = calloc(n + 1, 1);
    if (!due || !busy) {
        free(due);
        free(busy);
        return VG_ENOMEM;
    }
    int64_t now = vg_now_ns();
    for (size_t i = 0; i < n; i++) {
        int64_t every = vg_rules_every(s->rules, i);
        due[i] = now + (n > 1 ? (every / 4) * (int64_t)i / (int64_t)n : 0);
    }
    free(s->due);
    free(s->busy);
    s->due = due, s->busy = busy, s->n = n;
    return VG_OK;
}

/* Under the lock: the earliest idle rule (or SIZE_MAX) and its time. */
static size_t next_rule(vg_scheduler_t *s, int64_t *when)
{
    size_t best = SIZE_MAX;
    *when = s->tick_due;
    for (size_t i = 0; i < s->n; i++)
        if (!s->busy[i] && s->due[i] < *when)
            best = i, *when = s->due[i];
    return best;
}

static void run_rule(vg_scheduler_t *s, size_t i)
{
    s->busy[i] = 1;
    s->running++;
    pthread_mutex_unlock(&s->mu);
    int64_t now = vg_now_ns();
    vg_error_t err = {0};
    if (vg_rules_eval(s->rules, i, now, &err) != VG_OK)
        vg_log_limited(400 + (int)(i % 64), "warn", "rule evaluation failed: %s", err.msg);
    pthread_mutex_lock(&s->mu);
    s->running--;
    if (i < s->n) { /* a reload may have changed the rules: then due is new */
        s->busy[i] = 0;
        int64_t every = vg_rules_every(s->rules, i), after = vg_now_ns();
        while (s->due[i] <= after)
            s->due[i] += every; /* missed evaluations are skipped */
    }
    pthread_cond_broadcast(&s->cv);
}

static void *worker(void *arg)
{
    vg_scheduler_t *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (s->reloading) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        int64_t when;
        size_t i = next_rule(s, &when);
        int64_t now = vg_now_ns();
        if (when > now) {
            struct timespec ts;
            deadline(&ts, when);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        if (i == SIZE_MAX) { /* the notifier's tick */
            s->tick_due = now + TICK_NS;
            pthread_mutex_unlock(&s->mu);
            if (s->notifier)
                vg_notifier_tick(s->notifier, now);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        run_rule(s, i);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int vg_scheduler_start(vg_rules_t *r, unsigned threads, struct vg_notifier *n,
                       vg_scheduler_t **out, vg_error_t *err)
{
    vg_scheduler_t *s = calloc(1, sizeof *s);
    if (!s)
        return vg_error_set(err, VG_ENOMEM, "out of memory");
    s->rules = r, s->notifier = n;
    s->nthreads = threads ? threads : 2;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&s->cv, &ca); /* CLOCK_REALTIME, as vg_now_ns */
    pthread_condattr_destroy(&ca);
    s->threads = calloc(s->nthreads, sizeof *s->threads);
    if (!s->threads || reset_due(s) != VG_OK) {
        vg_scheduler_stop(s);
        return vg_error_set(err, VG_ENOMEM, "out of memory");
    }
    s->tick_due = vg_now_ns();
    for (unsigned i = 0; i < s->nthreads; i++)
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0) {
            s->nthreads = i;
            vg_scheduler_stop(s);
            return vg_error_set(err, VG_EIO, "cannot start the rule scheduler's threads");
        }
    *out = s;
    return VG_OK;
}

int vg_scheduler_reload(vg_scheduler_t *s, vg_rb_set_t *set, vg_error_t *err)
{
    pthread_mutex_lock(&s->mu);
    s->reloading = 1;
    while (s->running)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = vg_rules_replace(s->rules, set, err);
    if (reset_due(s) != VG_OK && !rc)
        rc = vg_error_set(err, VG_ENOMEM, "out of memory");
    s->reloading = 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void vg_scheduler_stop(vg_scheduler_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; s->threads && i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    free(s->threads);
    free(s->due);
    free(s->busy);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
