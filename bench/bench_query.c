/*
 * bench_query.c: `vigil-bench query`, the query timer: the same GET repeated,
 * each timed from the request to the last byte of the answer, summarised as
 * median, min and max. Any non-200 answer stops the run with its status and
 * the start of its body.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_load.h"
#include "vigil/vg_alloc.h"

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "http://H:P[/path]" or "H:P" -> the POST URL and, for TCP, host and port. */
int bench_parse_target(const char *t, const char *dflt_path, target_t *out)
{
    const char *hp = t;
    const char *scheme = strstr(t, "://");
    if (scheme)
        hp = scheme + 3;
    const char *slash = strchr(hp, '/');
    size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
    int has_path = slash && slash[1];
    if (scheme && strncmp(t, "tcp://", 6) != 0)
        snprintf(out->url, sizeof out->url, "%s%s", t, has_path ? "" : dflt_path + (slash ? 1 : 0));
    else
        snprintf(out->url, sizeof out->url, "http://%.*s%s", (int)hl, hp, has_path ? slash : dflt_path);
    const char *colon = NULL;
    for (size_t i = 0; i < hl; i++)
        if (hp[i] == ':')
            colon = hp + i;
    if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof out->host ||
        hl - (size_t)(colon - hp) - 1 >= sizeof out->port || colon + 1 == hp + hl)
        return -1;
    const char *h = hp;
    size_t n = (size_t)(colon - hp);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') /* [v6]:port */
        h++, n -= 2;
    snprintf(out->host, sizeof out->host, "%.*s", (int)n, h);
    snprintf(out->port, sizeof out->port, "%.*s", (int)(hl - (size_t)(colon - hp) - 1), colon + 1);
    return 0;
}

typedef struct qbody {
    size_t bytes;
    char head[512]; /* the answer's start, shown when it is an error */
} qbody_t;

static size_t count_body(char *d, size_t sz, size_t nm, void *ud)
{
    qbody_t *b = ud;
    size_t n = sz * nm;
    if (b->bytes < sizeof b->head - 1) {
        size_t k = sizeof b->head - 1 - b->bytes < n ? sizeof b->head - 1 - b->bytes : n;
        memcpy(b->head + b->bytes, d, k);
        b->head[b->bytes + k] = 0;
    }
    b->bytes += n;
    return n;
}

int bench_query_run(const char *target, const char *query, const char *param, const char *token,
                    int repeat, int json)
{
    target_t tg;
    if (bench_parse_target(target, "/api/v1/query", &tg) != 0) {
        fprintf(stderr, "vigil-bench: bad value for --target: '%s' (http://HOST:PORT[/path])\n", target);
        return 2;
    }
    CURL *h = curl_easy_init();
    if (!h)
        return 1;
    char *q = curl_easy_escape(h, query, 0);
    size_t ul = strlen(tg.url) + strlen(q) + 64;
    char *url = vg_malloc(ul);
    double *ms = vg_calloc((size_t)repeat, sizeof *ms);
    struct curl_slist *hdr = NULL;
    int rc = 1;
    if (!url || !ms || !q)
        goto out;
    snprintf(url, ul, "%s%c%s=%s%s", tg.url, strchr(tg.url, '?') ? '&' : '?', param, q,
             strstr(tg.url, "/api/v1/query") ? "&format=json" : "");
    if (token && token[0]) {
        char a[600];
        snprintf(a, sizeof a, "Authorization: Token %.500s", token);
        hdr = curl_slist_append(hdr, a);
    }
    qbody_t body = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    for (int i = 0; i < repeat; i++) {
        body.bytes = 0;
        body.head[0] = 0;
        int64_t t0 = bench_mono_ns();
        CURLcode cr = curl_easy_perform(h);
        ms[i] = (double)(bench_mono_ns() - t0) / 1e6;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cr != CURLE_OK || status != 200) {
            if (cr != CURLE_OK)
                fprintf(stderr, "vigil-bench: %s: %s\n", url, curl_easy_strerror(cr));
            else
                fprintf(stderr, "vigil-bench: %s: HTTP %ld: %s\n", url, status, body.head);
            goto out;
        }
    }
    qsort(ms, (size_t)repeat, sizeof *ms, bench_cmp_double);
    double med = repeat % 2 ? ms[repeat / 2] : (ms[repeat / 2 - 1] + ms[repeat / 2]) / 2;
    if (json)
        printf("{\"runs\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,\"response_bytes\":%zu}\n",
               repeat, med, ms[0], ms[repeat - 1], body.bytes);
    else
        printf("query: %d runs, median %.2f ms, min %.2f ms, max %.2f ms (%zu bytes answered)\n",
               repeat, med, ms[0], ms[repeat - 1], body.bytes);
    rc = 0;
out:
    curl_slist_free_all(hdr);
    curl_free(q);
    vg_free(url);
    vg_free(ms);
    curl_easy_cleanup(h);
    return rc;
}

