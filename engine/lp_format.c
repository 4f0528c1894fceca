/*
 * lp_format.c: the writing side of line protocol (vg_lp.h): resolving and
 * adding escapes, and formatting floats so they read back bit for bit.
 * lp.c parses; these helpers are what a caller needs to turn parsed slices
 * into bytes, or values back into a line.
 *
 * Invariants: vg_lp_escape and vg_lp_unescape are inverses for every
 * position kind (the escape rules are the parser's, described in lp.c);
 * vg_lp_format_float always emits a '.', 'e' or 'n' so a float never reads
 * back as an integer. Nothing here allocates.
 */
#include "vigil/vg_lp.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- escapes ---------------------------------------------------------- */

uint32_t vg_lp_unescape(vg_lp_str_t s, int is_string, char *dst)
{
    if (!s.escaped) {
        if (s.len)
            memcpy(dst, s.p, s.len);
        return s.len;
    }
    const char *q = s.p, *end = s.p + s.len;
    char *o = dst;
    while (q < end) {
        const char *bs = memchr(q, '\\', (size_t)(end - q));
        size_t run = bs ? (size_t)(bs - q) : (size_t)(end - q);
        memcpy(o, q, run);
        o += run;
        q += run;
        if (bs == NULL)
            break;
        char nx = '\0';
        if (end - q > 1)
            nx = q[1];
        int drop = is_string ? (nx == '"' || nx == '\\')
                             : (nx == ',' || nx == '=' || nx == ' ' || nx == '\\');
        if (drop) {
            *o++ = nx;
            q += 2;
        } else {
            *o++ = '\\';
            q++;
        }
    }
    return (uint32_t)(o - dst);
}

size_t vg_lp_escape(const char *s, size_t len, char kind, char *dst)
{
    char *o = dst;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int esc;
        if (kind == 's')
            esc = ch == '"' || ch == '\\';
        else if (kind == 'm')
            esc = ch == ',' || ch == ' ' || ch == '\\';
        else
            esc = ch == ',' || ch == '=' || ch == ' ' || ch == '\\';
        if (esc)
            *o++ = '\\';
        *o++ = ch;
    }
    return (size_t)(o - dst);
}

/* ---- float formatting ------------------------------------------------- */

size_t vg_lp_format_float(double v, char *dst)
{
    if (isnan(v)) {
        memcpy(dst, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(dst, v < 0 ? "-Inf" : "+Inf", 5);
        return 4;
    }
    /* Any decimal of at most 15 digits survives a trip through a normal
     * double (DBL_DIG), so %.15g already gives the shortest form when one
     * that short exists; subnormals carry fewer bits and may need fewer
     * digits still, so they start from one. */
    int n = 0;
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(dst, 32, "%.*g", prec, v);
        if (strtod(dst, NULL) == v)
            break;
    }
    if (strpbrk(dst, ".en") == NULL) {
        memcpy(dst + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}
