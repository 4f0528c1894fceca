/*
 * format.c: printing a result as CSV, JSON (jansson) or a table with
 * sparklines (vg_result.h).
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"
#include "vigil/vg_lp.h"
#include "format_int.h"
#include "vigil/vg_result.h"

size_t vg_format_time(int64_t ns, char *buf, size_t cap)
{
    int64_t sec = ns / VG_NS_PER_SEC, frac = ns % VG_NS_PER_SEC;
    if (frac < 0) {
        sec--;
        frac += VG_NS_PER_SEC;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return (size_t)snprintf(buf, cap, "%" PRId64, ns);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        char f[16];
        snprintf(f, sizeof f, "%09" PRId64, frac);
        size_t l = 9;
        while (l > 0 && f[l - 1] == '0')
            l--;
        f[l] = '\0';
        n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, ".%s", f);
    }
    n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "Z");
    return n;
}

/* A cell as text: exact for CSV (floats read back bit for bit), short for a table. */
size_t vg__cell_text(const vg_result_t *r, size_t row, size_t col, int exact, char *buf,
                        size_t cap, const char **big)
{
    const vg_value_t *v = vg_result_cell(r, row, col);
    *big = NULL;
    if (!v)
        return 0;
    switch (r->cols[col].type) {
    case VG_TYPE_TIME: return vg_format_time(v->i, buf, cap);
    case VG_TYPE_FLOAT:
        if (exact || !isfinite(v->f))
            return vg_lp_format_float(v->f, buf); /* NaN, +Inf, -Inf spelled alike */
        return (size_t)snprintf(buf, cap, "%.6g", v->f);
    case VG_TYPE_INT: return (size_t)snprintf(buf, cap, "%" PRId64, v->i);
    case VG_TYPE_UINT: return (size_t)snprintf(buf, cap, "%" PRIu64, v->u);
    case VG_TYPE_BOOL: return (size_t)snprintf(buf, cap, "%s", v->b ? "true" : "false");
    case VG_TYPE_TAG:
    case VG_TYPE_STRING: *big = v->s.p; return v->s.len;
    default: return 0;
    }
}

static void csv_field(FILE *out, const char *p, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote) {
        fwrite(p, 1, n, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            fputc('"', out);
        fputc(p[i], out);
    }
    fputc('"', out);
}

int vg_result_write_csv(const vg_result_t *r, FILE *out)
{
    for (size_t c = 0, k = 0; c < r->ncols; c++) {
        if (r->cols[c].picture)
            continue;
        if (k++)
            fputs(",", out);
        csv_field(out, r->cols[c].name, strlen(r->cols[c].name));
    }
    fputs("\r\n", out);
    char buf[64];
    for (size_t row = 0; row < r->nrows; row++) {
        for (size_t c = 0, k = 0; c < r->ncols; c++) {
            if (r->cols[c].picture)
                continue;
            if (k++)
                fputc(',', out);
            const char *big;
            size_t n = vg__cell_text(r, row, c, 1, buf, sizeof buf, &big);
            csv_field(out, big ? big : buf, n);
        }
        fputs("\r\n", out);
    }
    return ferror(out) ? VG_EIO : VG_OK;
}

/* JSON has no NaN or infinities: such a cell is null in "rows" and its
 * spelling goes to "nonfinite" (vg_result.h), so float columns stay numbers. */
static const char *nonfinite_name(double f)
{
    return isnan(f) ? "NaN" : f > 0 ? "+Inf" : "-Inf";
}

static json_t *json_cell(const vg_result_t *r, size_t row, size_t col)
{
    const vg_value_t *v = vg_result_cell(r, row, col);
    if (!v)
        return json_null();
    switch (r->cols[col].type) {
    case VG_TYPE_TIME:
    case VG_TYPE_INT: return json_integer((json_int_t)v->i);
    case VG_TYPE_UINT:
        /* JSON numbers past 2^63 do not fit jansson's integer: write them as reals */
        return v->u <= INT64_MAX ? json_integer((json_int_t)v->u) : json_real((double)v->u);
    case VG_TYPE_FLOAT: return isfinite(v->f) ? json_real(v->f) : json_null();
    case VG_TYPE_BOOL: return json_boolean(v->b);
    case VG_TYPE_TAG:
    case VG_TYPE_STRING: return json_stringn(v->s.p, v->s.len);
    default: return json_null();
    }
}

static json_t *json_columns(const vg_result_t *r)
{
    json_t *cols = json_array();
    for (size_t c = 0; c < r->ncols; c++) {
        if (r->cols[c].picture)
            continue;
        json_t *o = json_pack("{s:s, s:s}", "name", r->cols[c].name, "type",
                              vg_result_type_name(r->cols[c].type));
        if (r->cols[c].histogram)
            json_object_set_new(o, "histogram", json_true());
        json_array_append_new(cols, o);
    }
    return cols;
}

/* "pictures": each hidden column with its place among all columns and its cells. */
static json_t *json_pictures(const vg_result_t *r)
{
    json_t *pics = json_array();
    for (size_t c = 0; c < r->ncols; c++) {
        if (!r->cols[c].picture)
            continue;
        json_t *cells = json_array();
        for (size_t row = 0; row < r->nrows; row++)
            json_array_append_new(cells, json_cell(r, row, c));
        json_array_append_new(pics, json_pack("{s:s, s:I, s:o}", "name", r->cols[c].name,
                                              "column", (json_int_t)c, "rows", cells));
    }
    return pics;
}

/* The optional keys after "rows": written only when they say something, so a
 * plain result's JSON is what it always was. */
static int json_extras(const vg_result_t *r, json_t *nonfinite, FILE *out)
{
    int rc = 0;
    if (r->windows)
        fputs(",\"windows\":true", out);
    json_t *pics = json_pictures(r);
    if (json_array_size(pics)) {
        fputs(",\"pictures\":", out);
        rc = json_dumpf(pics, out, JSON_COMPACT);
    }
    json_decref(pics);
    if (rc == 0 && json_array_size(nonfinite)) {
        fputs(",\"nonfinite\":", out);
        rc = json_dumpf(nonfinite, out, JSON_COMPACT);
    }
    return rc;
}

int vg_result_write_json(const vg_result_t *r, FILE *out)
{
    json_t *cols = json_columns(r), *nonfinite = json_array();
    /* the rows are written one at a time, so a large result is never held twice */
    fputs("{\"columns\":", out);
    int rc = json_dumpf(cols, out, JSON_COMPACT);
    json_decref(cols);
    fputs(",\"rows\":[", out);
    for (size_t row = 0; row < r->nrows && rc == 0; row++) {
        json_t *a = json_array();
        for (size_t c = 0, k = 0; c < r->ncols; c++) {
            if (r->cols[c].picture)
                continue;
            json_array_append_new(a, json_cell(r, row, c));
            const vg_value_t *v = vg_result_cell(r, row, c);
            if (v && r->cols[c].type == VG_TYPE_FLOAT && !isfinite(v->f))
                json_array_append_new(nonfinite, json_pack("[I, I, s]", (json_int_t)row,
                                                           (json_int_t)k, nonfinite_name(v->f)));
            k++;
        }
        if (row)
            fputc(',', out);
        rc = json_dumpf(a, out, JSON_COMPACT);
        json_decref(a);
    }
    fputs("]", out);
    if (rc == 0)
        rc = json_extras(r, nonfinite, out);
    json_decref(nonfinite);
    fputs("}\n", out);
    return rc || ferror(out) ? VG_EIO : VG_OK;
}
