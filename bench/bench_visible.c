/*
 * bench_visible.c: "until queryable". After the last acknowledgement,
 * `vigil-bench ingest --until-queryable URL` polls a counting query until it
 * sees every row sent, so that servers which acknowledge before data can be
 * read (or, over TCP, acknowledge nothing) are timed to the same point.
 *
 * The URL's answer is read in whichever of the three shapes it has:
 *   Vigil      {"columns":[...],"rows":[[N]]}            the first cell
 *   Prometheus {"data":{"result":[{"value":[t,"N"]}...]}} the sum over series
 *   InfluxQL   {"results":[{"series":[{"values":[[t,N]]}]}]} the sum over series
 * so the same flag works against Vigil, VictoriaMetrics and InfluxDB.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_load.h"
#include "vigil/vg_alloc.h"

/* A JSON number, or a string holding one (Prometheus quotes its values). */
static int num_of(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *end;
        *out = strtod(json_string_value(v), &end);
        return *end || end == json_string_value(v) ? -1 : 0;
    }
    return -1;
}

static int count_vigil(const json_t *rows, double *n)
{
    const json_t *row = json_array_get(rows, 0);
    return num_of(json_array_get(row, 0), n);
}

static int count_prom(const json_t *result, double *n)
{
    size_t i;
    const json_t *s;
    *n = 0;
    json_array_foreach(result, i, s)
    {
        double v;
        if (num_of(json_array_get(json_object_get(s, "value"), 1), &v) == 0)
            *n += v;
    }
    return 0;
}

static int count_influx(const json_t *results, double *n)
{
    size_t i, j;
    const json_t *s, *row;
    *n = 0;
    json_array_foreach(json_object_get(json_array_get(results, 0), "series"), i, s)
    {
        json_array_foreach(json_object_get(s, "values"), j, row)
        {
            double v;
            if (num_of(json_array_get(row, 1), &v) == 0)
                *n += v;
        }
    }
    return 0;
}

/* The count an answer carries; -1 when its shape is none of the three. */
int bench_count_in_json(const char *text, double *n)
{
    json_t *doc = json_loads(text, 0, NULL);
    json_t *x;
    int rc = -1;
    if (!doc)
        return -1;
    *n = 0;
    if ((x = json_object_get(doc, "rows")) && json_is_array(x))
        rc = json_array_size(x) ? count_vigil(x, n) : 0;
    else if ((x = json_object_get(json_object_get(doc, "data"), "result")) && json_is_array(x))
        rc = count_prom(x, n);
    else if ((x = json_object_get(doc, "results")) && json_is_array(x))
        rc = count_influx(x, n);
    json_decref(doc);
    return rc;
}

int bench_wait_visible(const char *url, const char *token, uint64_t want, int64_t timeout_ns,
                       int64_t *t_seen, uint64_t *seen, char *err, size_t errcap)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    body_t b = {0};
    int rc = -1;
    if (!h)
        return -1;
    if (token && token[0]) {
        char a[600];
        snprintf(a, sizeof a, "Authorization: Token %.500s", token);
        hdr = curl_slist_append(hdr, a);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    int64_t deadline = bench_mono_ns() + timeout_ns;
    *seen = 0;
    snprintf(err, errcap, "timed out");
    for (;;) {
        b.n = 0;
        if (b.p)
            b.p[0] = '\0'; /* an empty answer is not the last one */
        CURLcode cr = curl_easy_perform(h);
        long status = 0;
        int64_t now = bench_mono_ns();
        double n;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cr != CURLE_OK || status != 200) {
            snprintf(err, errcap, "%s: %s", url,
                     cr != CURLE_OK ? curl_easy_strerror(cr)
                     : b.p          ? b.p
                                    : "no body");
            break;
        }
        if (bench_count_in_json(b.p ? b.p : "", &n) != 0) {
            snprintf(err, errcap, "%s: no count in the answer: %.200s", url, b.p ? b.p : "");
            break;
        }
        *seen = n > 0 ? (uint64_t)n : 0;
        if (*seen >= want) {
            *t_seen = now;
            rc = 0;
            break;
        }
        if (now > deadline)
            break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    vg_free(b.p);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return rc;
}
