/*
 * fuzz_runbook.c: libFuzzer target for the runbook loader (server/runbook.h):
 * libyaml events to runbook structures, key and type checks, durations,
 * positions of scalars (plain, quoted, folded and literal), then compiling
 * every query and expression, the decision-tree printer and the {{name}}
 * templates.
 *
 * The input is a runbook file. Oracles: loading returns OK, or VG_EPARSE
 * with at least one problem, each with a message and a place inside the
 * file (line and column within the input's lines); a loaded runbook has a
 * name and at least one rule; compiling returns OK or VG_EPARSE with
 * problems; every template expands.
 */
#include "fuzz.h"
#include "runbook.h"
#include "vigil/vg_alloc.h"

static FILE *rb_null;

static void rb_null_close(void)
{
    if (rb_null)
        fclose(rb_null);
    rb_null = NULL;
}

/* The schema of the shipped runbooks' main table; other tables unknown. */
static int rb_column_type(void *ctx, const char *table, const char *column, vg_type_t *type)
{
    (void)ctx;
    static const struct {
        const char *name;
        vg_type_t type;
    } cols[] = {{"route", VG_TYPE_TAG},         {"model", VG_TYPE_TAG},
                {"region", VG_TYPE_TAG},        {"latency_s", VG_TYPE_FLOAT},
                {"output_tokens", VG_TYPE_INT}, {"refusal", VG_TYPE_BOOL},
                {"request_id", VG_TYPE_STRING}, {"retries", VG_TYPE_UINT}};
    if (strcmp(table, "llm_request") != 0)
        return -1;
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (strcmp(cols[i].name, column) == 0) {
            *type = cols[i].type;
            return 1;
        }
    return 0;
}

static int rb_lookup(void *ctx, const char *name, char *buf, size_t cap)
{
    (void)ctx;
    if (strcmp(name, "route") != 0)
        return 0;
    snprintf(buf, cap, "summarize");
    return 1;
}

static void rb_expand(const vg_rb_str_t *s)
{
    if (!s->s)
        return;
    char *out = NULL;
    int rc = vg_rb_template(s->s, rb_lookup, NULL, &out);
    VG_FUZZ_CHECK(rc == VG_OK || rc == VG_ENOMEM, "template [%s] returned %d", s->s, rc);
    VG_FUZZ_CHECK(rc != VG_OK || out != NULL, "template [%s] expanded to NULL", s->s);
    vg_free(out);
}

static void rb_check_diags(const vg_rb_diags_t *d, int lines)
{
    for (size_t i = 0; i < d->n; i++) {
        const vg_rb_diag_t *g = &d->v[i];
        VG_FUZZ_CHECK(g->msg && g->msg[0], "problem %zu without a message", i);
        VG_FUZZ_CHECK(g->line >= 0 && g->line <= lines + 1 && g->column >= 0,
                      "problem '%s' at %d:%d of a %d-line file", g->msg, g->line, g->column, lines);
    }
}

int vg_fuzz_runbook(const uint8_t *data, size_t size)
{
    if (!rb_null) {
        rb_null = fopen("/dev/null", "w");
        VG_FUZZ_CHECK(rb_null != NULL, "/dev/null");
        atexit(rb_null_close);
    }
    char dir[4200], path[4400];
    vg_fuzz_dir("runbook", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/fuzz.yaml", dir);
    vg_fuzz_write(path, data, size);
    int lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || data[i] == '\r';

    vg_runbook_t *rb = NULL;
    vg_rb_diags_t d = {0};
    int rc = vg_rb_load(path, &rb, &d);
    VG_FUZZ_CHECK(rc == VG_OK || rc == VG_EPARSE || rc == VG_ENOMEM, "vg_rb_load returned %d", rc);
    VG_FUZZ_CHECK(rc != VG_EPARSE || d.n > 0, "VG_EPARSE without a problem");
    rb_check_diags(&d, lines);
    if (rc == VG_OK) {
        VG_FUZZ_CHECK(rb && rb->name.s && rb->nrules > 0, "a runbook without a name or rules");
        const char *const receivers[] = {"oncall", "slack"};
        vg_rb_env_t env = {.column_type = rb_column_type,
                           .receivers = receivers,
                           .nreceivers = 2,
                           .check_receivers = 1};
        vg_rb_diags_t cd = {0};
        int crc = vg_rb_compile(rb, &env, &cd);
        VG_FUZZ_CHECK(crc == VG_OK || (crc == VG_EPARSE && cd.n > 0) || crc == VG_ENOMEM,
                      "vg_rb_compile returned %d with %zu problems", crc, cd.n);
        rb_check_diags(&cd, lines);
        vg_rb_diags_print(&cd, rb_null);
        vg_rb_diags_free(&cd);
        vg_rb_show(rb, rb_null);
        for (size_t i = 0; i < rb->nrules; i++)
            for (size_t k = 0; k < rb->rules[i].nannotations; k++)
                rb_expand(&rb->rules[i].annotations[k].value);
        for (size_t i = 0; i < rb->ninvestigate; i++)
            rb_expand(&rb->investigate[i].query);
        for (size_t i = 0; i < rb->ncauses; i++)
            rb_expand(&rb->causes[i].check);
        vg_rb_free(rb);
    }
    vg_rb_diags_print(&d, rb_null);
    vg_rb_diags_free(&d);

    /* The same file as a set (the path vigild and `vigil check` take). */
    const char *paths[] = {path};
    vg_rb_set_t set = {0};
    vg_rb_diags_t sd = {0};
    rc = vg_rb_load_all(paths, 1, &set, &sd);
    VG_FUZZ_CHECK(rc == VG_OK || rc == VG_EPARSE || rc == VG_ENOMEM, "vg_rb_load_all returned %d",
                  rc);
    vg_rb_set_free(&set);
    vg_rb_diags_free(&sd);
    return 0;
}

#ifndef VG_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vg_fuzz_runbook(data, size);
}
#endif
