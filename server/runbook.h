/*
 * runbook.h: runbook files (the YAML files of runbooks/) as data: loading them with
 * libyaml, checking them, printing them as a decision tree, and the
 * `{{name}}` templates of their annotations.
 *
 * A runbook is the seed's decision tree made executable: rules (the
 * signal), causes in order of probability (each a check query and a
 * condition, with a mitigation and a fallback flag), investigation queries
 * and sampled requests that travel with the alert. The key names are the
 * contract of issue 5; the file shape is documented in docs/runbooks.md.
 *
 * Every string a loaded runbook holds keeps the position (file line and
 * column, 1-based) of its YAML scalar, so that `vigil check` and a reload
 * can say where a problem is.
 */
#ifndef VG_SERVER_RUNBOOK_H
#define VG_SERVER_RUNBOOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/vg_query.h"
#include "vigil/vigil.h"

/* Limits (each one a clear error when exceeded). */
#define VG_RB_MAX_FILE (1u << 20) /* bytes of one runbook file */
#define VG_RB_MAX_ITEMS 256       /* rules, causes, queries, labels ... per list */

/* Where a scalar starts in its file. */
typedef struct vg_rb_pos {
    int line, column;
} vg_rb_pos_t;

/* A run of a scalar's value that stands unchanged in the file: value bytes
 * from off on are the file's characters from pos on, up to the next run. */
typedef struct vg_rb_seg {
    size_t off;
    vg_rb_pos_t pos;
} vg_rb_seg_t;

/* A string from the file and where it was. */
typedef struct vg_rb_str {
    char *s; /* NULL when the key was absent */
    vg_rb_pos_t pos;
    /* For block scalars (`>` and `|`) and multi-line plain scalars: where
     * each line of the parsed value starts in the file, so that an error at
     * (line l, column c) of the value maps to lines[l-1] + c - 1. */
    vg_rb_pos_t *lines;
    size_t nlines;
    /* The exact map (also inside folded `>` values, whose source lines are
     * joined into one): use vg_rb_str_pos / vg_rb_str_pos_at. */
    vg_rb_seg_t *segs;
    size_t nsegs;
} vg_rb_str_t;

/* Where in the file character `column` of line `line` (1-based, as a query
 * error gives them) of the value s->s stands; s->pos when unknown. */
vg_rb_pos_t vg_rb_str_pos(const vg_rb_str_t *s, int line, int column);
/* The same for the value's byte offset off. */
vg_rb_pos_t vg_rb_str_pos_at(const vg_rb_str_t *s, size_t off);

typedef struct vg_rb_kv {
    vg_rb_str_t key, value;
} vg_rb_kv_t;

typedef enum vg_rb_nodata {
    VG_RB_NODATA_KEEP = 0, /* keep_state (the default) */
    VG_RB_NODATA_OK,       /* a group without data resolves */
    VG_RB_NODATA_ALERT,    /* a group without data counts as a firing condition */
} vg_rb_nodata_t;

typedef struct vg_rb_rule {
    vg_rb_str_t alert;        /* the alert name: [A-Za-z_][A-Za-z0-9_]* */
    vg_rb_str_t expr;         /* the query; its BY tags become the alert's group labels */
    vg_rb_str_t when;         /* expression over the result's columns */
    vg_rb_str_t resolve_when; /* optional: firing stays until this holds (hysteresis) */
    int64_t for_ns;           /* default 0: fires at the first true evaluation */
    int64_t keep_firing_ns;   /* default 0 */
    int64_t every_ns;         /* default 1m */
    vg_rb_nodata_t no_data;
    vg_rb_kv_t *labels;
    size_t nlabels;
    vg_rb_kv_t *annotations; /* values are templates */
    size_t nannotations;
    vg_rb_str_t *notify; /* overrides the runbook's notify when nnotify > 0 */
    size_t nnotify;
    /* Compiled by vg_rb_compile (NULL before): */
    vg_q_stmt_t *stmt;
    vg_q_expr_t *when_x, *resolve_x;
} vg_rb_rule_t;

typedef struct vg_rb_query {
    vg_rb_str_t name; /* investigate: its `name`; samples: "offending", "known_good", ... */
    vg_rb_str_t query; /* may hold {{name}} templates, filled from the alert */
    vg_q_stmt_t *stmt; /* compiled with each {{...}} as 0s: for checking; run the
                          text after vg_rb_template */
} vg_rb_query_t;

typedef struct vg_rb_cause {
    vg_rb_str_t name;
    vg_rb_str_t check;      /* optional query; templates as in vg_rb_query_t */
    vg_rb_str_t when;       /* optional expression over the check's first row */
    vg_rb_str_t mitigation; /* what to do */
    vg_rb_str_t fallback;   /* optional flag to flip, "guardrail.mode=last-good" */
    vg_q_stmt_t *stmt;      /* compiled */
    vg_q_expr_t *when_x;
} vg_rb_cause_t;

typedef struct vg_runbook {
    char *path; /* the file it came from */
    vg_rb_str_t name, title, signal, description, escalation, url;
    vg_rb_str_t *notify;
    size_t nnotify;
    vg_rb_rule_t *rules;
    size_t nrules;
    vg_rb_query_t *investigate;
    size_t ninvestigate;
    vg_rb_query_t *samples;
    size_t nsamples;
    vg_rb_cause_t *causes;
    size_t ncauses;
} vg_runbook_t;

/* The signals a runbook may name. */
extern const char *const vg_rb_signals[]; /* NULL-terminated */

/* ---- problems, each with its place ---- */
typedef struct vg_rb_diag {
    char *file;
    int line, column; /* 0 when the problem has no place (an unreadable file) */
    char *msg;
} vg_rb_diag_t;

typedef struct vg_rb_diags {
    vg_rb_diag_t *v;
    size_t n, cap;
} vg_rb_diags_t;

void vg_rb_diag_add(vg_rb_diags_t *d, const char *file, vg_rb_pos_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "file:line:column: msg" per line, as compilers print them. */
void vg_rb_diags_print(const vg_rb_diags_t *d, FILE *out);
void vg_rb_diags_free(vg_rb_diags_t *d);

/* ---- loading ---- */

/*
 * Read one runbook file: YAML syntax, known keys (an unknown key is an
 * error with a suggestion), types, required keys (name, signal, rules with
 * alert, expr and when), durations, no_data values, signal names, duplicate
 * rule names. Every problem found is added to d; loading goes on past
 * errors where it can, so that one run reports them all.
 * @return VG_OK; VG_EPARSE when d got any problem; VG_EIO when the file
 *         cannot be read; VG_ENOMEM.
 * Ownership: *out (set only on VG_OK) is the caller's, vg_rb_free.
 */
int vg_rb_load(const char *path, vg_runbook_t **out, vg_rb_diags_t *d);
void vg_rb_free(vg_runbook_t *rb); /* NULL is a no-op */

/* A set of runbooks from files and folders (a folder: its *.yaml and *.yml, sorted). */
typedef struct vg_rb_set {
    vg_runbook_t **v;
    size_t n;
} vg_rb_set_t;

/*
 * Load every path (a file or a folder); rule names must be unique across
 * the set. On any problem nothing is returned (all of them are in d).
 * Ownership: *out is the caller's, vg_rb_set_free.
 */
int vg_rb_load_paths(const char *const *paths, size_t n, vg_rb_set_t *out, vg_rb_diags_t *d);
/* As vg_rb_load_paths, but *out always gets every file that parsed as
 * YAML, problems or not (so that `vigil check` goes on to compile them and
 * reports those problems too); VG_EPARSE when anything had a problem.
 * Ownership: *out is the caller's, vg_rb_set_free, also on VG_EPARSE (not
 * on VG_ENOMEM). */
int vg_rb_load_all(const char *const *paths, size_t n, vg_rb_set_t *out, vg_rb_diags_t *d);
void vg_rb_set_free(vg_rb_set_t *s);

/* ---- checking ---- */

/*
 * What a check knows of the world. Both callbacks may be NULL (then that
 * part is not checked). column_type returns 1 and sets *type (VG_TYPE_*,
 * VG_TYPE_TAG for tags) when table.column exists, 0 when the column does
 * not, -1 when the table does not.
 */
typedef struct vg_rb_env {
    void *ctx;
    int (*column_type)(void *ctx, const char *table, const char *column, vg_type_t *type);
    const char *const *receivers; /* names from the vigild config */
    size_t nreceivers;
    int check_receivers; /* 0: receivers are not known (no config given) */
    /* Optional, for "did you mean" when column_type says no: the tables,
     * and the columns of one table (the count; *out borrowed from ctx). */
    const char *const *tables;
    size_t ntables;
    size_t (*column_names)(void *ctx, const char *table, const char *const **out);
} vg_rb_env_t;

/*
 * Parse every query and expression (vg_q_parse / vg_q_parse_expr) and keep
 * the compiled forms in rb; check names against env; check that every
 * `when` names only columns of its query's result, that every annotation
 * template names a column of the rule's result, a label or `alertname`,
 * and that every receiver named exists. Query errors are reported at their
 * place in the file (the scalar's position plus the error's line and
 * column). @return VG_OK or VG_EPARSE (problems in d).
 */
int vg_rb_compile(vg_runbook_t *rb, const vg_rb_env_t *env, vg_rb_diags_t *d);

/* ---- templates ---- */

/* Resolve one `{{name}}`: write its text into buf; 0 when name is unknown. */
typedef int (*vg_rb_lookup_fn)(void *ctx, const char *name, char *buf, size_t cap);

/*
 * Expand `{{ name }}` (spaces inside allowed) in tmpl. An unknown name
 * expands to "<no value>" (as Go templates print a missing key).
 * `{{ .name }}`, `{{ $labels.name }}` and `{{ $value }}` (the Go and
 * Prometheus spellings) are read as `name` and `value`.
 * Ownership: *out is the caller's (vg_free).
 */
int vg_rb_template(const char *tmpl, vg_rb_lookup_fn fn, void *ctx, char **out);
/* Call fn on each name a template references, with its offset in tmpl. */
int vg_rb_template_names(const char *tmpl, int (*fn)(void *ctx, const char *name, size_t off),
                         void *ctx);

/* ---- printing ---- */

/* The runbook as a decision tree for a person (`vigil runbook show`). */
void vg_rb_show(const vg_runbook_t *rb, FILE *out);

#endif
