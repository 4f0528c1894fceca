/*
 * timeparse.c: time literals and durations, as the CLI and the query
 * language take them: RFC 3339 (with fraction and offset), integer
 * nanoseconds, now(), now() - 2h, and durations 250ms 30s 5m 1h30m 7d 2w.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/vg_db.h"

static int unit_ns(const char *u, size_t n, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t ns;
    } units[] = {{"ns", 1},
                 {"us", 1000},
                 {"ms", 1000000},
                 {"s", VG_NS_PER_SEC},
                 {"m", 60 * VG_NS_PER_SEC},
                 {"h", 3600 * VG_NS_PER_SEC},
                 {"d", 86400 * VG_NS_PER_SEC},
                 {"w", 7 * 86400 * VG_NS_PER_SEC}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) {
            *out = units[i].ns;
            return 1;
        }
    return 0;
}

int vg_duration_parse(const char *s, int64_t *out, vg_error_t *err)
{
    const char *p = s;
    int64_t total = 0;
    if (!*p)
        return vg_error_set(err, VG_EPARSE, "empty duration");
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return vg_error_set(err, VG_EPARSE, "bad duration '%s' at column %d", s,
                                (int)(p - s) + 1);
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > (INT64_MAX - 9) / 10)
                return vg_error_set(err, VG_ERANGE, "duration '%s' is too large", s);
            v = v * 10 + (*p++ - '0');
        }
        const char *u = p;
        while (isalpha((unsigned char)*p))
            p++;
        int64_t mul;
        if (!unit_ns(u, (size_t)(p - u), &mul))
            return vg_error_set(err, VG_EPARSE,
                                "bad duration unit in '%s' at column %d (use ms s m h d w)", s,
                                (int)(u - s) + 1);
        if (v > INT64_MAX / mul || total > INT64_MAX - v * mul)
            return vg_error_set(err, VG_ERANGE, "duration '%s' is too large", s);
        total += v * mul;
    }
    *out = total;
    return VG_OK;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

static int rfc3339(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    int64_t frac = 0;
    int off = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return 0;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &se))
                return 0;
        }
        if (h > 23 || mi > 59 || se > 60)
            return 0;
        if (*p == '.') {
            p++;
            int n = 0;
            while (isdigit((unsigned char)*p)) {
                if (n < 9) {
                    frac = frac * 10 + (*p - '0');
                    n++;
                }
                p++;
            }
            if (n == 0)
                return 0;
            while (n++ < 9)
                frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
                return 0;
            off = sign * (oh * 3600 + om * 60);
        } else {
            return 0;
        }
    }
    if (*p)
        return 0;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                   se - off;
    /* nanoseconds since 1970 hold the years 1678 to 2261 only */
    if (__builtin_mul_overflow(secs, VG_NS_PER_SEC, out) || __builtin_add_overflow(*out, frac, out))
        return 0;
    return 1;
}

int vg_time_parse(const char *s, int64_t now_ns, int64_t *out, vg_error_t *err)
{
    while (isspace((unsigned char)*s))
        s++;
    if (strncmp(s, "now()", 5) == 0) {
        const char *p = s + 5;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p) {
            *out = now_ns;
            return VG_OK;
        }
        if (*p != '-' && *p != '+')
            return vg_error_set(err, VG_EPARSE, "bad time '%s': expected now() - DURATION", s);
        int sign = *p++ == '-' ? -1 : 1;
        while (isspace((unsigned char)*p))
            p++;
        int64_t d;
        int rc = vg_duration_parse(p, &d, err);
        if (rc)
            return rc;
        if (sign > 0 ? __builtin_add_overflow(now_ns, d, out) : __builtin_sub_overflow(now_ns, d, out))
            return vg_error_set(err, VG_EPARSE, "bad time '%s': out of range", s);
        return VG_OK;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0) {
        *out = v;
        return VG_OK;
    }
    if (rfc3339(s, out))
        return VG_OK;
    return vg_error_set(err, VG_EPARSE,
                        "bad time '%s': use RFC 3339 (2026-11-27T03:14:00Z), integer "
                        "nanoseconds, or now() - 2h",
                        s);
}
