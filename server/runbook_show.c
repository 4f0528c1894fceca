/*
 * runbook_show.c: a runbook printed for a person (`vigil runbook show`):
 * the signal and its rules, the investigation steps, the samples, then the
 * causes as the branches of a decision tree, tried from the top.
 *
 * Multi-line values (block scalars) are printed on one line, their runs of
 * whitespace collapsed, as the query language reads them anyway.
 */
#include <string.h>

#include "runbook.h"

/* s with each run of whitespace printed as one space, trimmed. */
static void put_flat(FILE *out, const char *s)
{
    int space = 0, started = 0;
    for (; s && *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            space = started;
            continue;
        }
        if (space)
            fputc(' ', out);
        fputc(*s, out);
        space = 0;
        started = 1;
    }
}

/* "1h30m", "7d", "250ms", "0s" */
static void fmt_dur(int64_t ns, char *buf, size_t cap)
{
    static const struct {
        const char *u;
        int64_t ns;
    } units[] = {{"d", 86400 * VG_NS_PER_SEC},
                 {"h", 3600 * VG_NS_PER_SEC},
                 {"m", 60 * VG_NS_PER_SEC},
                 {"s", VG_NS_PER_SEC},
                 {"ms", VG_NS_PER_SEC / 1000}};
    size_t l = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0] && ns > 0 && l < cap; i++) {
        if (ns < units[i].ns)
            continue;
        snprintf(buf + l, cap - l, "%lld%s", (long long)(ns / units[i].ns), units[i].u);
        ns %= units[i].ns;
        l = strlen(buf);
    }
    if (!buf[0])
        snprintf(buf, cap, "%s", ns > 0 ? "<1ms" : "0s");
}

static void put_line(FILE *out, const char *indent, const char *label, const vg_rb_str_t *s)
{
    if (!s->s)
        return;
    fprintf(out, "%s%s", indent, label);
    put_flat(out, s->s);
    fputc('\n', out);
}

static void put_names(FILE *out, const char *indent, const vg_rb_str_t *v, size_t n)
{
    if (!n)
        return;
    fprintf(out, "%snotify:   ", indent);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", v[i].s ? v[i].s : "");
    fputc('\n', out);
}

static void show_rule(const vg_rb_rule_t *r, FILE *out)
{
    static const char *const nodata[] = {"keep state", "ok", "alert"};
    char every[32], f[32], kf[32];
    fmt_dur(r->every_ns, every, sizeof every);
    fmt_dur(r->for_ns, f, sizeof f);
    fmt_dur(r->keep_firing_ns, kf, sizeof kf);
    fprintf(out, "  %s  every %s", r->alert.s ? r->alert.s : "?", every);
    if (r->for_ns)
        fprintf(out, ", for %s", f);
    if (r->keep_firing_ns)
        fprintf(out, ", keep firing %s", kf);
    fprintf(out, ", no data: %s\n", nodata[r->no_data]);
    put_line(out, "    ", "query:    ", &r->expr);
    put_line(out, "    ", "fires:    ", &r->when);
    put_line(out, "    ", "resolves: ", &r->resolve_when);
    if (r->nlabels) {
        fputs("    labels:   ", out);
        for (size_t i = 0; i < r->nlabels; i++)
            fprintf(out, "%s%s=%s", i ? ", " : "", r->labels[i].key.s ? r->labels[i].key.s : "",
                    r->labels[i].value.s ? r->labels[i].value.s : "");
        fputc('\n', out);
    }
    for (size_t i = 0; i < r->nannotations; i++) {
        const char *k = r->annotations[i].key.s ? r->annotations[i].key.s : "";
        int pad = 9 - (int)strlen(k);
        fprintf(out, "    %s:%*s", k, pad > 1 ? pad : 1, "");
        put_flat(out, r->annotations[i].value.s);
        fputc('\n', out);
    }
    put_names(out, "    ", r->notify, r->nnotify);
}

static void show_causes(const vg_runbook_t *rb, FILE *out)
{
    if (!rb->ncauses)
        return;
    fputs("decision tree (first cause whose condition holds)\n", out);
    for (size_t i = 0; i < rb->ncauses; i++) {
        const vg_rb_cause_t *c = &rb->causes[i];
        int last = i + 1 == rb->ncauses;
        const char *bar = last ? "     " : "  \u2502  ";
        fprintf(out, "  %s %s\n", last ? "\u2514\u2500" : "\u251c\u2500",
                c->name.s ? c->name.s : "?");
        char ind[32];
        snprintf(ind, sizeof ind, "%s  ", bar);
        put_line(out, ind, "check:      ", &c->check);
        if (c->when.s)
            put_line(out, ind, "when:       ", &c->when);
        else if (c->check.s)
            fprintf(out, "%swhen:       its first value is true or non-zero\n", ind);
        else
            fprintf(out, "%swhen:       always (the branch when none above holds)\n", ind);
        put_line(out, ind, "mitigation: ", &c->mitigation);
        put_line(out, ind, "fallback:   ", &c->fallback);
    }
}

void vg_rb_show(const vg_runbook_t *rb, FILE *out)
{
    fprintf(out, "%s", rb->name.s ? rb->name.s : "?");
    if (rb->title.s) {
        fputs(": ", out);
        put_flat(out, rb->title.s);
    }
    fprintf(out, "  [signal: %s]\n", rb->signal.s ? rb->signal.s : "?");
    put_line(out, "  ", "", &rb->description);
    put_names(out, "  ", rb->notify, rb->nnotify);
    put_line(out, "  ", "runbook:  ", &rb->url);
    fputs("rules\n", out);
    for (size_t i = 0; i < rb->nrules; i++)
        show_rule(&rb->rules[i], out);
    if (rb->ninvestigate)
        fputs("investigate\n", out);
    for (size_t i = 0; i < rb->ninvestigate; i++) {
        fprintf(out, "  %zu. ", i + 1);
        put_flat(out, rb->investigate[i].name.s);
        fputs(": ", out);
        put_flat(out, rb->investigate[i].query.s);
        fputc('\n', out);
    }
    if (rb->nsamples)
        fputs("samples (sent with the alert)\n", out);
    for (size_t i = 0; i < rb->nsamples; i++) {
        fprintf(out, "  %s: ", rb->samples[i].name.s ? rb->samples[i].name.s : "");
        put_flat(out, rb->samples[i].query.s);
        fputc('\n', out);
    }
    show_causes(rb, out);
    put_line(out, "", "escalation: ", &rb->escalation);
}
