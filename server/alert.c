/*
 * alert.c: an alert's identity (the fingerprint of its labels), deep copies
 * of alerts as the notifier keeps them, and receivers' defaults.
 *
 * Invariant: the fingerprint depends on the labels only (sorted by name), so
 * annotations, values and the diagnosis may change without making a new
 * alert.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "vigil/vg_alloc.h"

#define FNV_OFFSET UINT64_C(14695981039346656037)
#define FNV_PRIME UINT64_C(1099511628211)

static uint64_t fnv_bytes(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * FNV_PRIME;
    return (h ^ 0xffu) * FNV_PRIME;
}

uint64_t vg_alert_fingerprint(const vg_label_t *labels, size_t n)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h = fnv_bytes(h, labels[i].name ? labels[i].name : "");
        h = fnv_bytes(h, labels[i].value ? labels[i].value : "");
    }
    return h;
}

void vg_alert_fingerprint_hex(uint64_t fp, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, fp);
}

static void labels_free(vg_label_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vg_free(l[i].name);
        vg_free(l[i].value);
    }
    vg_free(l);
}

void vg_alert_clear(vg_alert_t *a)
{
    if (!a)
        return;
    labels_free(a->labels, a->nlabels);
    labels_free(a->annotations, a->nannotations);
    vg_free(a->vigil_json);
    vg_free(a->generator_url);
    for (size_t i = 0; i < a->nreceivers; i++)
        vg_free(a->receivers[i]);
    vg_free(a->receivers);
    memset(a, 0, sizeof *a);
}

/* NULL stays NULL; returns -1 only when an allocation failed. */
static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = vg_strdup(src);
    return *dst ? 0 : -1;
}

static int labels_copy(vg_label_t **dst, const vg_label_t *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    vg_label_t *l = vg_calloc(n, sizeof *l);
    if (!l)
        return -1;
    *dst = l;
    for (size_t i = 0; i < n; i++)
        if (dup_opt(&l[i].name, src[i].name) || dup_opt(&l[i].value, src[i].value))
            return -1;
    return 0;
}

int vg_alert_copy(vg_alert_t *dst, const vg_alert_t *src)
{
    vg_alert_t a = *src;
    a.labels = NULL;
    a.annotations = NULL;
    a.vigil_json = a.generator_url = NULL;
    a.receivers = NULL;
    /* a partial copy is cleared as a whole: counts must match what exists */
    size_t nl = a.nlabels, na = a.nannotations, nr = a.nreceivers;
    a.nlabels = a.nannotations = a.nreceivers = 0;
    int bad = labels_copy(&a.labels, src->labels, nl);
    a.nlabels = a.labels ? nl : 0;
    bad = bad || labels_copy(&a.annotations, src->annotations, na);
    a.nannotations = a.annotations ? na : 0;
    bad = bad || dup_opt(&a.vigil_json, src->vigil_json) ||
          dup_opt(&a.generator_url, src->generator_url);
    if (!bad && nr) {
        a.receivers = vg_calloc(nr, sizeof *a.receivers);
        bad = !a.receivers;
        a.nreceivers = a.receivers ? nr : 0;
        for (size_t i = 0; !bad && i < nr; i++)
            bad = dup_opt(&a.receivers[i], src->receivers[i]);
    }
    if (bad) {
        vg_alert_clear(&a);
        return VG_ENOMEM;
    }
    *dst = a;
    return VG_OK;
}

void vg_receiver_default(vg_receiver_t *r)
{
    memset(r, 0, sizeof *r);
    r->type = VG_RCV_WEBHOOK;
    r->timeout_ns = 10 * VG_NS_PER_SEC;
    r->max_retry_age_ns = 6 * 3600 * VG_NS_PER_SEC;
    r->group_wait_ns = 30 * VG_NS_PER_SEC;
    r->group_interval_ns = 5 * 60 * VG_NS_PER_SEC;
    r->repeat_interval_ns = 4 * 3600 * VG_NS_PER_SEC;
    r->send_resolved = 1;
}

void vg_receiver_clear(vg_receiver_t *r)
{
    if (!r)
        return;
    vg_free(r->name);
    vg_free(r->url);
    vg_free(r->hmac_secret);
    for (size_t i = 0; i < r->ngroup_by; i++)
        vg_free(r->group_by[i]);
    vg_free(r->group_by);
    memset(r, 0, sizeof *r);
}
