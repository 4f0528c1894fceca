/*
 * format_table.c: a result as a table for a person (vg_result.h): columns
 * aligned (numbers to the right), times in RFC 3339 UTC, and, when there is
 * a time column (windows), a sparkline per group and numeric column.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"
#include "format_int.h"
#include "vigil/vg_result.h"


static int numeric(vg_type_t t)
{
    return t == VG_TYPE_FLOAT || t == VG_TYPE_INT || t == VG_TYPE_UINT;
}

/* Display width of UTF-8 text: code points (wide characters are rare in
 * tags), a control character counting as its two-character escape. */
static size_t width(const char *p, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)p[i] < 0x20) ? 2 : ((unsigned char)p[i] & 0xC0) != 0x80;
    return w;
}

/* Text with control characters escaped, so a cell stays on its line. */
static void put_text(FILE *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20)
            fputc(c, out);
        else
            fprintf(out, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '?');
    }
}

static void pad(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

static double cell_number(const vg_result_t *r, size_t row, size_t col)
{
    const vg_value_t *v = vg_result_cell(r, row, col);
    if (!v)
        return NAN;
    switch (r->cols[col].type) {
    case VG_TYPE_FLOAT: return v->f;
    case VG_TYPE_INT: return (double)v->i;
    case VG_TYPE_UINT: return (double)v->u;
    default: return NAN;
    }
}

/* Do rows a and b belong to one group (same values in every tag column)? */
static int same_group(const vg_result_t *r, size_t a, size_t b)
{
    for (size_t c = 0; c < r->ncols; c++) {
        if (r->cols[c].type != VG_TYPE_TAG)
            continue;
        const vg_value_t *x = vg_result_cell(r, a, c), *y = vg_result_cell(r, b, c);
        if (!x != !y || (x && (x->s.len != y->s.len || memcmp(x->s.p, y->s.p, x->s.len))))
            return 0;
    }
    return 1;
}

/* rows[0..n) are one group's rows in time order */
static void sparkline(const vg_result_t *r, const size_t *rows, size_t n, size_t col, int ascii,
                      FILE *out)
{
    static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char levels[] = "_.-~=+*#";
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = cell_number(r, rows[i], col);
        if (!isnan(v)) {
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double v = cell_number(r, rows[i], col);
        if (isnan(v)) {
            fputc(' ', out);
            continue;
        }
        int k = hi > lo ? (int)lround((v - lo) / (hi - lo) * 7) : 3;
        if (ascii)
            fputc(levels[k], out);
        else
            fputs(blocks[k], out);
    }
}

/* Sparklines of every numeric column, per group, when the result has windows. */
static void sparklines(const vg_result_t *r, int ascii, FILE *out)
{
    int has_time = 0, has_num = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        has_time |= r->cols[c].type == VG_TYPE_TIME;
        has_num |= numeric(r->cols[c].type);
    }
    if (!r->windows || !has_time || !has_num || r->nrows < 2)
        return;
    /* a group's rows need not be next to each other (ORDER BY time): gather them */
    size_t *rows = vg_malloc(r->nrows * sizeof *rows);
    uint8_t *seen = vg_calloc(r->nrows, 1);
    if (!rows || !seen) {
        vg_free(rows);
        vg_free(seen);
        return;
    }
    fputc('\n', out);
    for (size_t from = 0; from < r->nrows; from++) {
        if (seen[from])
            continue;
        size_t n = 0;
        for (size_t i = from; i < r->nrows; i++)
            if (!seen[i] && same_group(r, from, i)) {
                seen[i] = 1;
                rows[n++] = i;
            }
        char label[256] = "";
        size_t ln = 0;
        for (size_t c = 0; c < r->ncols; c++) {
            const vg_value_t *v = vg_result_cell(r, from, c);
            if (r->cols[c].type == VG_TYPE_TAG && ln < sizeof label)
                ln += (size_t)snprintf(label + ln, sizeof label - ln, "%s%s=%.*s", ln ? " " : "",
                                       r->cols[c].name, v ? (int)v->s.len : 0, v ? v->s.p : "");
        }
        for (size_t c = 0; c < r->ncols; c++) {
            if (!numeric(r->cols[c].type))
                continue;
            fprintf(out, "%s%s%s  ", label, ln ? "  " : "", r->cols[c].name);
            sparkline(r, rows, n, c, ascii, out);
            fputc('\n', out);
        }
    }
    vg_free(rows);
    vg_free(seen);
}

/* One histogram cell "[lo,hi):n; ...; [lo,hi]:n" as horizontal bars. */
static void histogram_bars(const char *p, size_t n, int ascii, FILE *out)
{
    char *s = vg_strndup(p, n);
    if (!s)
        return;
    uint64_t max = 1;
    for (char *q = s; (q = strstr(q, ":")); q++) {
        uint64_t v = strtoull(q + 1, NULL, 10);
        max = v > max ? v : max;
    }
    char *save = NULL;
    for (char *bin = strtok_r(s, ";", &save); bin; bin = strtok_r(NULL, ";", &save)) {
        bin += strspn(bin, " ");
        char *colon = strrchr(bin, ':');
        if (!colon)
            continue;
        *colon = '\0';
        uint64_t v = strtoull(colon + 1, NULL, 10);
        int len = (int)((double)v / (double)max * 40 + 0.5);
        fprintf(out, "  %26s %10llu ", bin, (unsigned long long)v);
        for (int i = 0; i < len; i++)
            fputs(ascii ? "#" : "\u2588", out);
        fputc('\n', out);
    }
    vg_free(s);
}

/* The label of a row for pictures below the table (histograms, drift): its time and groups. */
static void row_label(const vg_result_t *r, size_t row, FILE *out)
{
    char buf[64];
    for (size_t k = 0; k < r->ncols; k++) {
        if (r->cols[k].type != VG_TYPE_TAG && r->cols[k].type != VG_TYPE_TIME)
            continue;
        const char *big;
        size_t n = vg__cell_text(r, row, k, 0, buf, sizeof buf, &big);
        fprintf(out, " %s=%.*s", r->cols[k].name, (int)n, big ? big : buf);
    }
}

/* Bars for every histogram cell, labelled with its row's other columns. */
static void histograms(const vg_result_t *r, int ascii, FILE *out)
{
    for (size_t c = 0; c < r->ncols; c++) {
        if (!r->cols[c].histogram)
            continue;
        for (size_t row = 0; row < r->nrows; row++) {
            const vg_value_t *v = vg_result_cell(r, row, c);
            if (!v)
                continue;
            fprintf(out, "\n%s", r->cols[c].name);
            row_label(r, row, out);
            fputc('\n', out);
            histogram_bars(v->s.p, v->s.len, ascii, out);
        }
    }
}

/* The two distributions behind each drift cell, side by side. */
static void pictures(const vg_result_t *r, int ascii, FILE *out)
{
    const char *bar = ascii ? "#" : "\u2588";
    for (size_t c = 0; c < r->ncols; c++) {
        if (!r->cols[c].picture)
            continue;
        for (size_t row = 0; row < r->nrows; row++) {
            const vg_value_t *v = vg_result_cell(r, row, c);
            if (!v)
                continue;
            fprintf(out, "\n%s", r->cols[c].name);
            row_label(r, row, out);
            fprintf(out, "\n  %25s  %-22s  %s\n", "bin", "current", "reference");
            char *s = vg_strndup(v->s.p, v->s.len), *save = NULL;
            for (char *b = s ? strtok_r(s, ";", &save) : NULL; b; b = strtok_r(NULL, ";", &save)) {
                double lo, hi, cur, ref;
                if (sscanf(b, "%lf,%lf,%lf,%lf", &lo, &hi, &cur, &ref) != 4)
                    continue;
                char range[64];
                snprintf(range, sizeof range, "[%.4g, %.4g)", lo, hi);
                int nc = (int)(cur * 20 + 0.5), nr = (int)(ref * 20 + 0.5);
                fprintf(out, "  %25s  %5.1f%% ", range, cur * 100);
                for (int i = 0; i < 20; i++)
                    fputs(i < nc ? bar : " ", out);
                fprintf(out, "  %5.1f%% ", ref * 100);
                for (int i = 0; i < nr; i++)
                    fputs(bar, out);
                fputc('\n', out);
            }
            vg_free(s);
        }
    }
}

/* The grid itself: every column but the pictures, aligned. */
static void grid(const vg_result_t *r, const size_t *vis, size_t nvis, size_t *w, FILE *out)
{
    char buf[64];
    for (size_t k = 0; k < nvis; k++)
        w[k] = width(r->cols[vis[k]].name, strlen(r->cols[vis[k]].name));
    for (size_t row = 0; row < r->nrows; row++)
        for (size_t k = 0; k < nvis; k++) {
            const char *big;
            size_t n = vg__cell_text(r, row, vis[k], 0, buf, sizeof buf, &big);
            size_t cw = width(big ? big : buf, n);
            w[k] = cw > w[k] ? cw : w[k];
        }
    for (size_t k = 0; k < nvis; k++) {
        const vg_result_col_t *col = &r->cols[vis[k]];
        size_t n = width(col->name, strlen(col->name));
        if (numeric(col->type))
            pad(out, w[k] - n);
        fputs(col->name, out);
        if (!numeric(col->type) && k + 1 < nvis)
            pad(out, w[k] - n);
        fputs(k + 1 < nvis ? "  " : "\n", out);
    }
    for (size_t k = 0; k < nvis; k++) {
        for (size_t i = 0; i < w[k]; i++)
            fputc('-', out);
        fputs(k + 1 < nvis ? "  " : "\n", out);
    }
    for (size_t row = 0; row < r->nrows; row++)
        for (size_t k = 0; k < nvis; k++) {
            const char *big;
            size_t n = vg__cell_text(r, row, vis[k], 0, buf, sizeof buf, &big);
            size_t cw = width(big ? big : buf, n);
            if (numeric(r->cols[vis[k]].type))
                pad(out, w[k] - cw);
            put_text(out, big ? big : buf, n);
            if (!numeric(r->cols[vis[k]].type) && k + 1 < nvis)
                pad(out, w[k] - cw);
            fputs(k + 1 < nvis ? "  " : "\n", out);
        }
}

int vg_result_write_table(const vg_result_t *r, FILE *out, int flags)
{
    size_t *w = vg_calloc(r->ncols + 1, sizeof *w), *vis = vg_calloc(r->ncols + 1, sizeof *vis);
    if (!w || !vis) {
        vg_free(w);
        vg_free(vis);
        return VG_ENOMEM;
    }
    size_t nvis = 0;
    for (size_t c = 0; c < r->ncols; c++)
        if (!r->cols[c].picture)
            vis[nvis++] = c;
    grid(r, vis, nvis, w, out);
    fprintf(out, "(%zu row%s)\n", r->nrows, r->nrows == 1 ? "" : "s");
    sparklines(r, flags & VG_TABLE_ASCII, out);
    histograms(r, flags & VG_TABLE_ASCII, out);
    pictures(r, flags & VG_TABLE_ASCII, out);
    vg_free(w);
    vg_free(vis);
    return ferror(out) ? VG_EIO : VG_OK;
}
