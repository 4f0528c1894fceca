/*
 * remote.c: the HTTP client behind `vigil ... --connect URL` (libcurl).
 *
 * One easy handle per request: the CLI makes few requests (one per query,
 * one per 4 MiB batch), so connection reuse is not worth the state. The
 * reply body grows in a vg_realloc'd buffer that is always NUL-terminated,
 * so callers may parse it as text. curl_global_init runs once, lazily: the
 * CLI is single-threaded.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

static int curl_ready;

void vg_remote_resp_free(vg_remote_resp_t *r)
{
    if (!r)
        return;
    vg_free(r->body);
    r->body = NULL;
    r->len = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    vg_remote_resp_t *r = ctx;
    size_t add = size * n;
    char *nb = vg_realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0; /* curl reports a write error */
    memcpy(nb + r->len, p, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

/* base + path, without a doubled '/'. */
static void join_url(const char *base, const char *path, char *out, size_t cap)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    snprintf(out, cap, "%.*s%s", (int)n, base, path);
}

/*
 * One request: GET when body is NULL, else POST of body[0..len) with ctype.
 * url_tail is appended to the URL (a query string) but left out of messages.
 */
static int request_method(const char *method, const char *base, const char *path,
                          const char *url_tail, const char *body, size_t len, const char *ctype,
                          vg_remote_resp_t *resp, vg_error_t *err)
{
    memset(resp, 0, sizeof *resp);
    join_url(base, path, resp->url, sizeof resp->url);
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return vg_error_set(err, VG_EINVAL, "bad server URL '%s': use http://HOST:PORT", base);
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return vg_error_set(err, VG_EIO, "cannot initialise libcurl");
        curl_ready = 1;
    }
    size_t ulen = strlen(resp->url) + (url_tail ? strlen(url_tail) : 0) + 1;
    char *url = vg_malloc(ulen);
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char hbuf[1024];
    int rc = VG_OK;
    if (!url || !c) {
        rc = vg_error_set(err, VG_ENOMEM, "out of memory for a request to %s", resp->url);
        goto out;
    }
    snprintf(url, ulen, "%s%s", resp->url, url_tail ? url_tail : "");
    const char *token = getenv("VIGIL_TOKEN");
    if (token && *token) {
        snprintf(hbuf, sizeof hbuf, "Authorization: Token %s", token);
        hdrs = curl_slist_append(hdrs, hbuf);
    }
    if (body) {
        snprintf(hbuf, sizeof hbuf, "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, hbuf);
        hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil/" VIGIL_VERSION);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = vg_error_set(err, cc == CURLE_OUT_OF_MEMORY ? VG_ENOMEM : VG_EIO,
                          "cannot reach vigild at %s: %s%s", resp->url,
                          cerr[0] ? cerr : curl_easy_strerror(cc),
                          cc == CURLE_COULDNT_CONNECT ? " (is vigild running there?)" : "");
        vg_remote_resp_free(resp);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (!resp->body) {
        resp->body = vg_calloc(1, 1);
        if (!resp->body)
            rc = vg_error_set(err, VG_ENOMEM, "out of memory for a reply from %s", resp->url);
    }
out:
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    vg_free(url);
    return rc;
}

static int request(const char *base, const char *path, const char *url_tail, const char *body,
                   size_t len, const char *ctype, vg_remote_resp_t *resp, vg_error_t *err)
{
    return request_method(NULL, base, path, url_tail, body, len, ctype, resp, err);
}

int vg_remote_call(const char *base, const char *method, const char *path, const char *body,
                   size_t len, vg_remote_resp_t *resp, vg_error_t *err)
{
    return request_method(method, base, path, NULL, body, len, "application/json", resp, err);
}

/* Append "&name=escaped(value)" (or '?' first) to a growing query string. */
static int add_arg(CURL *c, char **qs, size_t *len, const char *name, const char *value)
{
    if (!value)
        return 0;
    char *esc = curl_easy_escape(c, value, 0);
    if (!esc)
        return -1;
    size_t add = strlen(name) + strlen(esc) + 2;
    char *n = vg_realloc(*qs, *len + add + 1);
    if (!n) {
        curl_free(esc);
        return -1;
    }
    snprintf(n + *len, add + 1, "%c%s=%s", *len ? '&' : '?', name, esc);
    *qs = n;
    *len += add;
    curl_free(esc);
    return 0;
}

/* A query string of up to four name/value pairs (NULL values skipped).
 * Ownership: *out is vg_malloc'd (or NULL when empty); the caller frees it. */
static int build_args(char **out, const char *const kv[8], vg_error_t *err)
{
    *out = NULL;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return vg_error_set(err, VG_EIO, "cannot initialise libcurl");
        curl_ready = 1;
    }
    CURL *c = curl_easy_init();
    size_t len = 0;
    int bad = !c;
    for (int i = 0; i < 8 && !bad; i += 2)
        if (kv[i])
            bad = add_arg(c, out, &len, kv[i], kv[i + 1]) != 0;
    if (c)
        curl_easy_cleanup(c);
    if (bad) {
        vg_free(*out);
        *out = NULL;
        return vg_error_set(err, VG_ENOMEM, "out of memory building a request");
    }
    return VG_OK;
}

int vg_remote_write(const char *base, const char *precision, const char *body, size_t len,
                    vg_remote_resp_t *resp, vg_error_t *err)
{
    const char *const kv[8] = {"precision", precision};
    char *qs;
    int rc = build_args(&qs, kv, err);
    if (rc == VG_OK)
        rc = request(base, "/write", qs, body ? body : "", len, "text/plain; charset=utf-8",
                     resp, err);
    vg_free(qs);
    return rc;
}

int vg_remote_query(const char *base, const char *q, const char *format, const char *at,
                    vg_remote_resp_t *resp, vg_error_t *err)
{
    /* a form body rather than the URL: queries can be long */
    const char *const kv[8] = {"q", q, "format", format, "time", at};
    char *form;
    int rc = build_args(&form, kv, err);
    if (rc == VG_OK)
        rc = request(base, "/api/v1/query", NULL, form ? form + 1 : "",
                     form ? strlen(form + 1) : 0, "application/x-www-form-urlencoded", resp, err);
    vg_free(form);
    return rc;
}

int vg_remote_stats(const char *base, vg_remote_resp_t *resp, vg_error_t *err)
{
    return request(base, "/api/v1/stats", NULL, NULL, 0, NULL, resp, err);
}

int vg_remote_schema(const char *base, vg_remote_resp_t *resp, vg_error_t *err)
{
    return request(base, "/api/v1/schema", NULL, NULL, 0, NULL, resp, err);
}

int vg_remote_export(const char *base, const char *table, const char *since, const char *until,
                     const char *format, vg_remote_resp_t *resp, vg_error_t *err)
{
    const char *const kv[8] = {"table", table, "since", since, "until", until, "format", format};
    char *qs;
    int rc = build_args(&qs, kv, err);
    if (rc == VG_OK)
        rc = request(base, "/api/v1/export", qs, NULL, 0, NULL, resp, err);
    vg_free(qs);
    return rc;
}

void vg_remote_describe(const vg_remote_resp_t *resp, char *buf, size_t cap)
{
    json_t *j = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    char line[300] = "";
    if (!msg && resp->body) {
        snprintf(line, sizeof line, "%.*s", (int)strcspn(resp->body, "\r\n"), resp->body);
        msg = line;
    }
    snprintf(buf, cap, "%s: HTTP %ld%s%s%s", resp->url, resp->status, msg && *msg ? ": " : "",
             msg ? msg : "",
             resp->status == 401 ? (getenv("VIGIL_TOKEN") ? " (VIGIL_TOKEN was refused)"
                                                          : " (set VIGIL_TOKEN to the server's token)")
                                 : "");
    json_decref(j);
}
