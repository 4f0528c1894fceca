/*
 * runbook_pos.c: positions in a runbook's source, so that every message
 * (a YAML fault, a bad key, an error inside a query) points at the file's
 * own line and column.
 *
 * libyaml's marks give a node's start (0-based line and column, counted in
 * characters). For a plain or quoted scalar that is the first character (or
 * the opening quote); for a block scalar (`|`, `>`) it is the indicator, and
 * the content starts on the next line. To map a position inside the parsed
 * value back to the file, the value is aligned with the raw source between
 * the node's marks: each run of value bytes that stands unchanged in the file
 * becomes a vg_rb_seg_t. Folding (`>` joins lines with spaces), indentation
 * and quote escapes are the gaps between runs.
 */
#include <string.h>

#include "runbook_int.h"
#include "vigil/vg_alloc.h"

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Code points in s[0..n). */
static int cps(const char *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += !is_cont((unsigned char)s[i]);
    return k;
}

vg_rb_pos_t vg_rb_str_pos_at(const vg_rb_str_t *s, size_t off)
{
    const vg_rb_seg_t *g = NULL;
    for (size_t i = 0; i < s->nsegs && s->segs[i].off <= off; i++)
        g = &s->segs[i];
    if (!g || !s->s)
        return s->pos;
    vg_rb_pos_t p = g->pos;
    p.column += cps(s->s + g->off, off - g->off);
    return p;
}

vg_rb_pos_t vg_rb_str_pos(const vg_rb_str_t *s, int line, int column)
{
    if (!s->s || line < 1)
        return s->pos;
    const char *p = s->s;
    for (int l = 1; l < line && *p; p++)
        if (*p == '\n')
            l++;
    for (int c = 1; *p && *p != '\n';) {
        if (c == column)
            break;
        p++;
        c += !is_cont((unsigned char)*p);
    }
    return vg_rb_str_pos_at(s, (size_t)(p - s->s));
}

/* ---------------------------------------------------------- the source */

/* Byte offset in the source of a mark (libyaml counts columns in characters). */
static size_t mark_off(const vg_rb_src_t *S, yaml_mark_t m)
{
    if (m.line >= S->nlines)
        return S->len;
    size_t o = S->line_off[m.line];
    for (size_t c = 0; c < m.column && o < S->len && S->p[o] != '\n'; c++) {
        o++;
        while (o < S->len && is_cont((unsigned char)S->p[o]))
            o++;
    }
    return o;
}

int vg_rb__src_index(vg_rb_src_t *S)
{
    size_t n = 1;
    for (size_t i = 0; i < S->len; i++)
        n += S->p[i] == '\n';
    S->line_off = vg_malloc(n * sizeof *S->line_off);
    if (!S->line_off)
        return VG_ENOMEM;
    S->line_off[0] = 0;
    S->nlines = 1;
    for (size_t i = 0; i < S->len; i++)
        if (S->p[i] == '\n')
            S->line_off[S->nlines++] = i + 1;
    return VG_OK;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int seg_push(vg_rb_str_t *s, size_t *cap, size_t off, vg_rb_pos_t pos)
{
    if (s->nsegs == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        vg_rb_seg_t *v = vg_realloc(s->segs, nc * sizeof *v);
        if (!v)
            return VG_ENOMEM;
        s->segs = v;
        *cap = nc;
    }
    s->segs[s->nsegs++] = (vg_rb_seg_t){off, pos};
    return VG_OK;
}

/*
 * Align value v[0..vn) with the source between the content's start and end
 * (see the file comment): equal bytes are mapped; source whitespace the
 * value lacks (indentation, line breaks) and value whitespace the source
 * lacks (a fold's space) are skipped; any other mismatch is an escape, whose
 * source bytes are skipped.
 */
static size_t skip_indent(const vg_rb_src_t *S, size_t j, size_t end, size_t indent,
                          vg_rb_pos_t *at)
{
    for (size_t k = 0; k < indent && j < end && (S->p[j] == ' ' || S->p[j] == '\t'); k++) {
        j++;
        at->column++;
    }
    return j;
}

/* indent: how many blanks to skip at each source line's start (a block
 * scalar's indentation; all of them for a flow scalar's continuation lines),
 * so that spaces kept in the value are not matched with indentation. */
static int align(const vg_rb_src_t *S, vg_rb_str_t *s, size_t vn, size_t j, size_t end,
                 vg_rb_pos_t at, size_t indent)
{
    const char *v = s->s;
    size_t i = 0, cap = 0, last_i = (size_t)-1, last_j = (size_t)-1;
    int last_line = 0;
    if (at.column == 1)
        j = skip_indent(S, j, end, indent, &at);
    while (i < vn && j < end) {
        if (v[i] == S->p[j]) {
            if (i != last_i + 1 || j != last_j + 1 || at.line != last_line)
                if (seg_push(s, &cap, i, at))
                    return VG_ENOMEM;
            last_i = i++;
            last_j = j;
            last_line = at.line;
        } else if (!is_ws(S->p[j]) && is_ws(v[i])) {
            i++;
            continue;
        }
        /* advance the source by one character */
        if (S->p[j] == '\n') {
            at.line++;
            at.column = 1;
            j = skip_indent(S, j + 1, end, indent, &at) - 1;
        } else if (j + 1 < S->len && !is_cont((unsigned char)S->p[j + 1])) {
            at.column++;
        }
        j++;
    }
    return VG_OK;
}

/* A block scalar's indentation: that of its first non-blank line. */
static size_t block_indent(const vg_rb_src_t *S, size_t j, size_t end)
{
    size_t best = 0;
    while (j < end) {
        size_t k = 0;
        while (j + k < end && S->p[j + k] == ' ')
            k++;
        if (j + k < end && S->p[j + k] != '\n' && S->p[j + k] != '\r')
            return k;
        best = k > best ? k : best;
        while (j < end && S->p[j] != '\n')
            j++;
        j++;
    }
    return best;
}

int vg_rb__scalar_map(const vg_rb_src_t *S, const yaml_node_t *n, vg_rb_str_t *s, size_t vn)
{
    yaml_scalar_style_t st = n->data.scalar.style;
    size_t j = mark_off(S, n->start_mark), end = mark_off(S, n->end_mark);
    vg_rb_pos_t at = vg_rb__node_pos(n);
    size_t indent = (size_t)-1;
    if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
        j++;
        at.column++;
        if (end > j)
            end--;
    } else if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE) {
        while (j < end && S->p[j] != '\n')
            j++;
        j++;
        at.line++;
        at.column = 1;
        indent = block_indent(S, j, end);
    }
    s->pos = at;
    if (align(S, s, vn, j, end, at, indent))
        return VG_ENOMEM;
    if (s->nsegs)
        s->pos = s->segs[0].pos;
    size_t nl = 1;
    for (size_t i = 0; i < vn; i++)
        nl += s->s[i] == '\n' && i + 1 < vn;
    s->lines = vg_malloc(nl * sizeof *s->lines);
    if (!s->lines)
        return VG_ENOMEM;
    s->nlines = 0;
    s->lines[s->nlines++] = s->pos;
    for (size_t i = 0; i + 1 < vn; i++)
        if (s->s[i] == '\n')
            s->lines[s->nlines++] = vg_rb_str_pos_at(s, i + 1);
    return VG_OK;
}
