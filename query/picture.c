/*
 * picture.c: what a drift comparison looks like, for a person: the current
 * window's values and the reference's binned over one range, as shares, so
 * the table can draw the two distributions side by side (vg_result.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "exec_int.h"
#include "stats.h"
#include "vigil/vg_alloc.h"

#define PICTURE_BINS 10

/* Does this item get a picture? A top-level drift function over numbers. */
int exec_has_picture(const exec_t *ex, const cx_t *x)
{
    if (!x || x->kind != CX_DRIFT)
        return 0;
    const spec_t *sp = &ex->specs[x->idx];
    if (sp->need & ACC_CATS)
        return 0;
    switch (sp->fid) {
    case VG_QF_KS:
    case VG_QF_KS_P:
    case VG_QF_WASSERSTEIN:
    case VG_QF_PSI:
    case VG_QF_JS: return 1;
    default: return 0;
    }
}

static void bin_counts(const double *v, size_t n, double lo, double w, double *share)
{
    for (size_t i = 0; i < n; i++) {
        int b = w > 0 ? (int)((v[i] - lo) / w) : 0;
        b = b < 0 ? 0 : b >= PICTURE_BINS ? PICTURE_BINS - 1 : b;
        share[b] += 1.0 / (double)n;
    }
}

/*
 * "lo,hi,cur,ref;..." for PICTURE_BINS equal-width bins over both sides'
 * range, shares of each side; *o null when a side is empty.
 */
int exec_drift_picture(exec_t *ex, group_t *g, span_t cur_span, const cx_t *x, qv_t *o)
{
    memset(o, 0, sizeof *o);
    o->k = QV_NULL;
    acc_t cur, ref;
    acc_init(&cur);
    acc_init(&ref);
    int rc = exec_merge_span(ex, g, 0, x->idx, cur_span, &cur);
    if (!rc)
        rc = exec_merge_span(ex, g, ex->npop - 1, x->idx, exec_ref_span(ex, cur_span), &ref);
    if (!rc && cur.nv && ref.nv) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < cur.nv; i++)
            lo = fmin(lo, cur.vals[i]), hi = fmax(hi, cur.vals[i]);
        for (size_t i = 0; i < ref.nv; i++)
            lo = fmin(lo, ref.vals[i]), hi = fmax(hi, ref.vals[i]);
        double w = (hi - lo) / PICTURE_BINS, sc[PICTURE_BINS] = {0}, sr[PICTURE_BINS] = {0};
        bin_counts(cur.vals, cur.nv, lo, w, sc);
        bin_counts(ref.vals, ref.nv, lo, w, sr);
        char buf[PICTURE_BINS * 64];
        size_t len = 0;
        for (int b = 0; b < PICTURE_BINS; b++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%.6g,%.6g,%.4f,%.4f;",
                                    lo + b * w, lo + (b + 1) * w, sc[b], sr[b]);
        o->s = exec_pool_str(ex, buf, len);
        if (!o->s)
            rc = VG_ENOMEM;
        else {
            o->k = QV_S;
            o->len = len;
        }
    }
    acc_free(&cur);
    acc_free(&ref);
    return rc;
}
