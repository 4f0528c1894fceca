/*
 * alert_print.c: a firing alert as the on-call engineer reads it, from the
 * diagnosis it carries (the payload's `vigil` object): what fired and when,
 * the numbers against their baseline, the class of symptom, what changed,
 * the investigation, real requests, and the runbook's matched branch.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_alerts.h"

static void value_text(json_t *v, char *buf, size_t cap)
{
    if (json_is_real(v))
        snprintf(buf, cap, "%.4g", json_real_value(v));
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, cap, "null");
}

/* key=value pairs of an object on one line, long strings cut. */
static void object_line(FILE *out, json_t *o, const char *skip)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(o, k, v)
    {
        if (skip && strstr(skip, k))
            continue;
        char buf[96];
        value_text(v, buf, sizeof buf);
        if (strlen(buf) > 60)
            strcpy(buf + 57, "...");
        fprintf(out, "%s%s=%s", first ? "" : "  ", k, buf);
        first = 0;
    }
    fputc('\n', out);
}

static void classification(FILE *out, json_t *c)
{
    fprintf(out, "  symptom:       %s: %s\n", json_string_value(json_object_get(c, "class")),
            json_string_value(json_object_get(c, "reason")));
    const char *k;
    json_t *n;
    fprintf(out, "  against baseline (last %lld minutes vs the 7 days before):\n",
            (long long)json_integer_value(json_object_get(c, "window_s")) / 60);
    json_object_foreach(json_object_get(c, "numbers"), k, n)
    {
        json_t *r = json_object_get(n, "ratio");
        fprintf(out, "    %-20s %12.4g  baseline %12.4g", k,
                json_number_value(json_object_get(n, "current")),
                json_number_value(json_object_get(n, "baseline")));
        if (json_is_number(r))
            fprintf(out, "  %6.2fx%s", json_number_value(r),
                    fabs(log(json_number_value(r) > 0 ? json_number_value(r) : 1)) > log(1.5)
                        ? "  <--"
                        : "");
        fputc('\n', out);
    }
}

static void changes(FILE *out, json_t *a)
{
    if (!json_array_size(a)) {
        fprintf(out, "  what changed:  no change_event in the window\n");
        return;
    }
    fprintf(out, "  what changed:\n");
    size_t i;
    json_t *c;
    json_array_foreach(a, i, c)
    {
        fprintf(out, "    ");
        object_line(out, c, NULL);
    }
}

static void samples(FILE *out, json_t *s)
{
    const char *name;
    json_t *rows;
    json_object_foreach(s, name, rows)
    {
        fprintf(out, "  samples, %s:\n", name);
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            json_t *link = json_object_get(r, "link");
            fprintf(out, "    ");
            if (json_is_string(link))
                fprintf(out, "%s  ", json_string_value(link));
            object_line(out, r, "link conversation_id trace_id sample_ref");
        }
    }
}

static void investigation(FILE *out, json_t *a)
{
    size_t i;
    json_t *q;
    json_array_foreach(a, i, q)
    {
        json_t *rows = json_object_get(q, "rows"), *err = json_object_get(q, "error");
        fprintf(out, "  investigate:   %s", json_string_value(json_object_get(q, "name")));
        if (err) {
            fprintf(out, ": error: %s\n", json_string_value(err));
            continue;
        }
        fprintf(out, " (%zu rows)\n", json_array_size(rows));
        size_t k;
        json_t *row;
        json_array_foreach(rows, k, row)
        {
            if (k == 5)
                break;
            fprintf(out, "    ");
            size_t c;
            json_t *v;
            json_array_foreach(row, c, v)
            {
                char buf[64];
                value_text(v, buf, sizeof buf);
                fprintf(out, "%s%s", c ? "  " : "", buf);
            }
            fputc('\n', out);
        }
    }
}

static void cause(FILE *out, json_t *d)
{
    json_t *m = json_object_get(d, "cause");
    if (!json_is_object(m)) {
        fprintf(out, "  decision tree: no cause's condition held; follow the investigation\n");
        return;
    }
    fprintf(out, "  decision tree: %s\n", json_string_value(json_object_get(m, "name")));
    json_t *mit = json_object_get(m, "mitigation"), *fb = json_object_get(m, "fallback");
    if (mit)
        fprintf(out, "    mitigation:  %s\n", json_string_value(mit));
    if (fb)
        fprintf(out, "    fallback:    %s\n", json_string_value(fb));
}

void cli_print_alert(FILE *out, const vg_alert_info_t *a, int64_t at)
{
    char when[48], since[48];
    vg_format_time(at, when, sizeof when);
    vg_format_time(a->rs.active_at, since, sizeof since);
    fprintf(out, "\n== FIRING %s", a->rule);
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].name, "alertname") != 0)
            fprintf(out, " %s=%s", a->labels[i].name, a->labels[i].value);
    fprintf(out, "\n  fired at:      %s (condition held since %s)\n", when, since);
    for (size_t i = 0; i < a->nannotations; i++)
        fprintf(out, "  %-14s %s\n", a->annotations[i].name, a->annotations[i].value);
    json_t *d = a->vigil_json ? json_loads(a->vigil_json, 0, NULL) : NULL;
    if (!d)
        return;
    json_t *rb = json_object_get(d, "runbook");
    fprintf(out, "  runbook:       %s (%s)\n", json_string_value(json_object_get(rb, "name")),
            json_string_value(json_object_get(rb, "title")) ? json_string_value(json_object_get(rb, "title")) : "");
    fprintf(out, "  observed:      ");
    object_line(out, json_object_get(d, "observed"), NULL);
    classification(out, json_object_get(d, "classification"));
    changes(out, json_object_get(d, "changes"));
    investigation(out, json_object_get(d, "investigation"));
    samples(out, json_object_get(d, "samples"));
    cause(out, d);
    json_t *esc = json_object_get(rb, "escalation");
    if (esc)
        fprintf(out, "  escalation:    %s\n", json_string_value(esc));
    json_decref(d);
}
