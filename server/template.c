/*
 * template.c: the `{{name}}` templates of a rule's annotations.
 *
 * Deliberately small: a template is text with `{{ name }}` holes, nothing
 * else (no pipelines, no conditionals). The Go and Prometheus spellings a
 * user may bring along, `{{ .name }}`, `{{ $labels.name }}` and
 * `{{ $value }}`, read as `name` and `value`. A `{{` without its `}}` is
 * kept as text, so that a stray brace never loses the rest of a message.
 */
#include <string.h>

#include "runbook.h"

#define NAME_MAX_INLINE 256

typedef struct sb {
    char *p;
    size_t n, cap;
    int oom;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = vg_realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The name inside `{{ ... }}` (a..b): trimmed, Go/Prometheus prefixes removed. */
static void hole_name(const char *a, const char *b, const char **s, size_t *n)
{
    while (a < b && is_space(*a))
        a++;
    while (b > a && is_space(b[-1]))
        b--;
    if (b - a >= 8 && !strncmp(a, "$labels.", 8))
        a += 8;
    else if (b - a == 6 && !strncmp(a, "$value", 6))
        a++;
    else if (b - a >= 2 && *a == '.')
        a++;
    *s = a;
    *n = (size_t)(b - a);
}

/*
 * Walk tmpl: text runs go to text(), holes to hole() with their name (NUL-
 * terminated) and the offset of their `{{`. A non-zero return stops.
 */
typedef struct walker {
    void *ctx;
    int (*text)(void *ctx, const char *s, size_t n);
    int (*hole)(void *ctx, const char *name, size_t off);
} walker_t;

static int walk(const char *tmpl, const walker_t *w)
{
    const char *p = tmpl;
    for (;;) {
        const char *o = strstr(p, "{{");
        const char *c = o ? strstr(o + 2, "}}") : NULL;
        if (!c) {
            size_t n = strlen(p);
            return n && w->text ? w->text(w->ctx, p, n) : 0;
        }
        int rc = o > p && w->text ? w->text(w->ctx, p, (size_t)(o - p)) : 0;
        if (rc)
            return rc;
        const char *s;
        size_t n;
        hole_name(o + 2, c, &s, &n);
        char small[NAME_MAX_INLINE], *name = small;
        if (n >= sizeof small && !(name = vg_strndup(s, n)))
            return VG_ENOMEM;
        if (name == small) {
            memcpy(small, s, n);
            small[n] = '\0';
        }
        rc = w->hole(w->ctx, name, (size_t)(o - tmpl));
        if (name != small)
            vg_free(name);
        if (rc)
            return rc;
        p = c + 2;
    }
}

int vg_rb_template_names(const char *tmpl, int (*fn)(void *ctx, const char *name, size_t off),
                         void *ctx)
{
    walker_t w = {ctx, NULL, fn};
    return walk(tmpl, &w);
}

typedef struct expand {
    sb_t b;
    vg_rb_lookup_fn fn;
    void *ctx;
} expand_t;

static int put_text(void *ctx, const char *s, size_t n)
{
    expand_t *x = ctx;
    sb_put(&x->b, s, n);
    return x->b.oom ? VG_ENOMEM : 0;
}

static int put_hole(void *ctx, const char *name, size_t off)
{
    (void)off;
    expand_t *x = ctx;
    char buf[1024];
    buf[0] = '\0';
    if (x->fn && x->fn(x->ctx, name, buf, sizeof buf)) {
        buf[sizeof buf - 1] = '\0';
        sb_put(&x->b, buf, strlen(buf));
    } else {
        sb_put(&x->b, "<no value>", 10);
    }
    return x->b.oom ? VG_ENOMEM : 0;
}

int vg_rb_template(const char *tmpl, vg_rb_lookup_fn fn, void *ctx, char **out)
{
    expand_t x = {{0}, fn, ctx};
    walker_t w = {&x, put_text, put_hole};
    int rc = walk(tmpl ? tmpl : "", &w);
    if (!rc && !x.b.p)
        sb_put(&x.b, "", 0);
    if (rc || x.b.oom) {
        vg_free(x.b.p);
        return VG_ENOMEM;
    }
    *out = x.b.p;
    return VG_OK;
}
