/*
 * export.c: every stored row of a table as line protocol or CSV, exactly as
 * stored (floats that read back bit for bit, strings with their escapes):
 * what `vigil dump` prints and `GET /api/v1/export` returns.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "export.h"
#include "vigil/vg_alloc.h"

static void put_escaped(const char *s, size_t n, char kind, FILE *out)
{
    char stack[512], *buf = 2 * n <= sizeof stack ? stack : vg_malloc(2 * n + 1);
    if (!buf)
        return;
    fwrite(buf, 1, vg_lp_escape(s, n, kind, buf), out);
    if (buf != stack)
        vg_free(buf);
}

static void put_value(vg_type_t t, const vg_value_t *v, int lp, FILE *out)
{
    char num[40];
    switch (t) {
    case VG_TYPE_FLOAT: fwrite(num, 1, vg_lp_format_float(v->f, num), out); break;
    case VG_TYPE_INT: fprintf(out, lp ? "%" PRId64 "i" : "%" PRId64, v->i); break;
    case VG_TYPE_UINT: fprintf(out, lp ? "%" PRIu64 "u" : "%" PRIu64, v->u); break;
    case VG_TYPE_BOOL: fputs(v->b ? "true" : "false", out); break;
    case VG_TYPE_STRING:
        fputc('"', out);
        if (lp) {
            put_escaped(v->s.p, v->s.len, 's', out);
        } else {
            for (uint32_t i = 0; i < v->s.len; i++) {
                if (v->s.p[i] == '"')
                    fputc('"', out);
                fputc(v->s.p[i], out);
            }
        }
        fputc('"', out);
        break;
    default: break;
    }
}

static void row_lp(const char *table, const vg_row_t *r, FILE *out)
{
    put_escaped(table, strlen(table), 'm', out);
    for (size_t i = 0; i < r->ntags; i++) {
        fputc(',', out);
        put_escaped(r->tag_keys[i], strlen(r->tag_keys[i]), 'k', out);
        fputc('=', out);
        put_escaped(r->tag_vals[i], strlen(r->tag_vals[i]), 'k', out);
    }
    for (size_t i = 0; i < r->nfields; i++) {
        fputc(i ? ',' : ' ', out);
        put_escaped(r->field_keys[i], strlen(r->field_keys[i]), 'k', out);
        fputc('=', out);
        put_value(r->field_types[i], &r->field_vals[i], 1, out);
    }
    fprintf(out, " %" PRId64 "\n", r->ts);
}

static void csv_cell(const char *s, FILE *out)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void row_csv(const vg_row_t *r, const vg_col_info_t *cols, size_t ncols, FILE *out)
{
    fprintf(out, "%" PRId64, r->ts);
    size_t ti = 0, fi = 0;
    for (size_t c = 0; c < ncols; c++) {
        fputc(',', out);
        if (cols[c].type == VG_TYPE_TAG) {
            if (ti < r->ntags && strcmp(r->tag_keys[ti], cols[c].name) == 0)
                csv_cell(r->tag_vals[ti++], out);
        } else if (fi < r->nfields && strcmp(r->field_keys[fi], cols[c].name) == 0) {
            put_value(r->field_types[fi], &r->field_vals[fi], 0, out);
            fi++;
        }
    }
    fputc('\n', out);
}

int vg_export_rows(vg_db_t *db, const char *table, int64_t t0, int64_t t1, int csv, FILE *out,
                       vg_error_t *err)
{
    vg_rows_t *rows = NULL;
    vg_col_info_t *cols = NULL;
    size_t ncols = 0;
    int rc = vg_rows_open(db, table, t0, t1, &rows, err);
    if (rc == VG_OK && csv)
        rc = vg_db_columns(db, table, &cols, &ncols, err);
    if (rc == VG_OK && csv) {
        fputs("time", out);
        for (size_t c = 0; c < ncols; c++) {
            fputc(',', out);
            csv_cell(cols[c].name, out);
        }
        fputc('\n', out);
    }
    vg_row_t row;
    while (rc == VG_OK && (rc = vg_rows_next(rows, &row, err)) == 1) {
        if (csv)
            row_csv(&row, cols, ncols, out);
        else
            row_lp(table, &row, out);
        rc = VG_OK;
    }
    vg_rows_close(rows);
    vg_cols_free(cols, ncols);
    return rc < 0 ? rc : VG_OK;
}

