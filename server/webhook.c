/*
 * webhook.c: one HTTP POST of a notification with libcurl, and what its
 * outcome means for the outbox.
 *
 * Headers: Content-Type: application/json, User-Agent: vigil/<version>,
 * Idempotency-Key (the same for every attempt of one notification), and,
 * with a secret, X-Vigil-Timestamp (unix seconds of this attempt) and
 * X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, "timestamp.body")>,
 * so that a receiver can reject forged or replayed posts.
 *
 * Classes: 2xx delivered; 5xx, 408, 429 and transport failures (refused,
 * timed out, reset, DNS) retried; any other status, and a URL curl cannot
 * use, is final (dead letter).
 */
#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "notify_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void vg__curl_init_once(void)
{
    pthread_once(&curl_once, curl_init);
}

int vg__webhook_sign(const char *secret, const char *timestamp, const char *body, size_t len,
                     char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int ok = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    if (c && EVP_MAC_init(c, (const unsigned char *)secret, strlen(secret), params) &&
        EVP_MAC_update(c, (const unsigned char *)timestamp, strlen(timestamp)) &&
        EVP_MAC_update(c, (const unsigned char *)".", 1) &&
        EVP_MAC_update(c, (const unsigned char *)body, len) &&
        EVP_MAC_final(c, mac, &outl, sizeof mac))
        ok = 1;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    maclen = (unsigned int)outl;
    if (!ok || maclen != 32)
        return VG_EINVAL;
    static const char hx[] = "0123456789abcdef";
    for (unsigned i = 0; i < maclen; i++) {
        out[2 * i] = hx[mac[i] >> 4];
        out[2 * i + 1] = hx[mac[i] & 15];
    }
    out[64] = '\0';
    return VG_OK;
}

/* Retry-After: delay-seconds or an HTTP date (RFC 9110 10.2.3). */
static int64_t parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        char *end;
        unsigned long long s = strtoull(v, &end, 10);
        return s > 86400 ? 86400 * VG_NS_PER_SEC : (int64_t)s * VG_NS_PER_SEC;
    }
    char buf[64];
    size_t n = strcspn(v, "\r\n");
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    time_t t = curl_getdate(buf, NULL);
    if (t < 0)
        return -1;
    int64_t d = ((int64_t)t - (int64_t)time(NULL)) * VG_NS_PER_SEC;
    return d < 0 ? 0 : d;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    vg_wh_xfer_t *x = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && !strncasecmp(b, name, sizeof name - 1)) {
        char v[96];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof v)
            vl = sizeof v - 1;
        memcpy(v, b + sizeof name - 1, vl);
        v[vl] = '\0';
        x->retry_after_ns = parse_retry_after(v);
    }
    return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud)
{
    vg_wh_xfer_t *x = ud;
    size_t len = size * n, room = sizeof x->answer - 1 - x->nanswer;
    size_t k = len < room ? len : room;
    memcpy(x->answer + x->nanswer, b, k);
    x->nanswer += k;
    x->answer[x->nanswer] = '\0';
    return len;
}

static int add_header(vg_wh_xfer_t *x, const char *h)
{
    struct curl_slist *l = curl_slist_append(x->headers, h);
    if (!l)
        return -1;
    x->headers = l;
    return 0;
}

static int set_headers(vg_wh_xfer_t *x, const vg_wh_request_t *rq)
{
    char h[512];
    int bad = add_header(x, "Content-Type: application/json");
    bad = bad || add_header(x, "User-Agent: vigil/" VIGIL_VERSION);
    bad = bad || add_header(x, "Expect:"); /* no 100-continue round trip */
    snprintf(h, sizeof h, "Idempotency-Key: %s", rq->idempotency_key);
    bad = bad || add_header(x, h);
    if (!bad && rq->hmac_secret) {
        char ts[24], sig[65];
        snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
        if (vg__webhook_sign(rq->hmac_secret, ts, rq->body, rq->len, sig) != VG_OK)
            return -1;
        snprintf(h, sizeof h, "X-Vigil-Timestamp: %s", ts);
        bad = add_header(x, h);
        snprintf(h, sizeof h, "X-Vigil-Signature: sha256=%s", sig);
        bad = bad || add_header(x, h);
    }
    return bad ? -1 : 0;
}

int vg__wh_xfer_init(vg_wh_xfer_t *x, const vg_wh_request_t *rq, vg_error_t *err)
{
    memset(x, 0, sizeof *x);
    x->retry_after_ns = -1;
    vg__curl_init_once();
    x->h = curl_easy_init();
    if (!x->h || set_headers(x, rq) != 0)
        return vg_error_set(err, VG_ENOMEM, "webhook %s: cannot set up the request", rq->url);
    long ms = (long)(rq->timeout_ns / 1000000);
    CURL *h = x->h;
    int bad = curl_easy_setopt(h, CURLOPT_URL, rq->url) != CURLE_OK;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    if (bad)
        return vg_error_set(err, VG_EINVAL, "webhook: bad URL '%s'", rq->url);
    return VG_OK;
}

/* A short, single-line excerpt of what the receiver answered. */
static void answer_excerpt(const vg_wh_xfer_t *x, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < x->nanswer && k + 1 < cap; i++)
        out[k++] = (x->answer[i] >= 0x20 && x->answer[i] < 0x7f) ? x->answer[i] : ' ';
    out[k] = '\0';
}

void vg__wh_xfer_result(vg_wh_xfer_t *x, CURLcode rc, vg_wh_result_t *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ns = -1;
    if (rc != CURLE_OK) {
        /* a URL that can never work is final; the network may come back */
        res->cls = rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ? VG_WH_DEAD
                                                                                 : VG_WH_RETRY;
        snprintf(res->reason, sizeof res->reason, "%s", x->errbuf[0] ? x->errbuf
                                                                      : curl_easy_strerror(rc));
        return;
    }
    long st = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
    res->status = st;
    char ex[128];
    answer_excerpt(x, ex, sizeof ex);
    snprintf(res->reason, sizeof res->reason, "HTTP %ld%s%s", st, ex[0] ? ": " : "", ex);
    if (st >= 200 && st < 300) {
        res->cls = VG_WH_OK;
    } else if (st >= 500 || st == 408 || st == 429) {
        res->cls = VG_WH_RETRY;
        if (st == 429)
            res->retry_after_ns = x->retry_after_ns;
    } else {
        res->cls = VG_WH_DEAD;
    }
}

void vg__wh_xfer_clear(vg_wh_xfer_t *x)
{
    if (x->h)
        curl_easy_cleanup(x->h);
    curl_slist_free_all(x->headers);
    x->h = NULL;
    x->headers = NULL;
}

int vg__webhook_post(const vg_wh_request_t *rq, vg_wh_result_t *res, vg_error_t *err)
{
    vg_wh_xfer_t x;
    int rc = vg__wh_xfer_init(&x, rq, err);
    if (rc == VG_OK)
        vg__wh_xfer_result(&x, curl_easy_perform(x.h), res);
    vg__wh_xfer_clear(&x);
    return rc;
}
