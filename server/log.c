/*
 * log.c: vigild's log: one line per event on stderr,
 *   2026-11-28T03:14:00.123Z info http listening on 127.0.0.1:7070
 * readable by a person and easy to grep. Lines are written whole (one
 * fprintf under a lock) so that threads never interleave them.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "srv.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void vlog_line(const char *level, const char *fmt, va_list ap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32], msg[1024];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "%s.%03ldZ %s %s\n", when, ts.tv_nsec / 1000000, level, msg);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

void vg_log(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_line(level, fmt, ap);
    va_end(ap);
}

/* Rate limiting: the log is a process-wide resource like stderr itself. */
#define LIMIT_KEYS 16
static struct {
    time_t second;
    unsigned long suppressed;
} limits[LIMIT_KEYS];

void vg_log_limited(int key, const char *level, const char *fmt, ...)
{
    key = key < 0 ? 0 : key % LIMIT_KEYS;
    time_t now = time(NULL);
    unsigned long dropped = 0;
    pthread_mutex_lock(&log_mu);
    int write = limits[key].second != now;
    if (write) {
        dropped = limits[key].suppressed;
        limits[key].second = now;
        limits[key].suppressed = 0;
    } else {
        limits[key].suppressed++;
    }
    pthread_mutex_unlock(&log_mu);
    if (!write)
        return;
    if (dropped)
        vg_log(level, "(%lu similar lines suppressed in the last second)", dropped);
    va_list ap;
    va_start(ap, fmt);
    vlog_line(level, fmt, ap);
    va_end(ap);
}

void vg_log_db(void *ctx, const char *level, const char *msg)
{
    (void)ctx;
    vg_log(level, "db %s", msg);
}
