/*
 * vg_lp.h: the InfluxDB line-protocol parser, Vigil's hottest path.
 *
 *   measurement[,tag=val...] field=val[,field=val...] [timestamp]
 *
 * The parser works in place over a caller's buffer: it never allocates per
 * line and never copies a name or value. Names and string values come back
 * as slices into the buffer with a flag saying whether they hold backslash
 * escapes; vg_lp_unescape() resolves one when the caller needs the bytes.
 *
 * Lines are numbered from 1 and every physical line counts (comments and
 * blank lines too); columns are 1-based byte offsets within the line. A
 * trailing '\r' is stripped. Bad lines are reported with their number,
 * column and reason, and parsing goes on with the next line.
 *
 * Rejected, as InfluxDB rejects them: NaN and infinities, invalid UTF-8 and
 * NUL bytes anywhere, a tag or field key named "time", an empty tag value,
 * a missing field set, integers out of range, a line over the length limit.
 */
#ifndef VIGIL_VG_LP_H
#define VIGIL_VG_LP_H

#include <stddef.h>
#include <stdint.h>

#include "vg_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Timestamp precision of a batch (the unit of the trailing integer). */
typedef enum vg_precision {
    VG_PREC_NS = 0,
    VG_PREC_US,
    VG_PREC_MS,
    VG_PREC_S,
    VG_PREC_M, /* minutes: InfluxDB v1 /write only */
    VG_PREC_H, /* hours: InfluxDB v1 /write only */
} vg_precision_t;

/*
 * Parse a precision name. v1 spellings (n ns u us µ ms s m h) are accepted
 * when v1 is non-zero; otherwise only ns us ms s. Returns 0 or VG_EINVAL.
 */
int vg_lp_precision_parse(const char *name, int v1, vg_precision_t *out);

/* A slice of the input buffer. */
typedef struct vg_lp_str {
    const char *p;
    uint32_t len;
    uint32_t escaped; /* non-zero when p[0..len) holds backslash escapes */
} vg_lp_str_t;

typedef struct vg_lp_tag {
    vg_lp_str_t key;
    vg_lp_str_t val;
} vg_lp_tag_t;

typedef struct vg_lp_field {
    vg_lp_str_t key;
    vg_type_t type;   /* FLOAT, INT, UINT, BOOL or STRING */
    vg_value_t v;     /* for STRING: v unused, see str */
    vg_lp_str_t str;  /* STRING: the bytes between the quotes, escapes unresolved */
} vg_lp_field_t;

/* One parsed line. Slices point into the parsed buffer. */
typedef struct vg_lp_line {
    vg_lp_str_t measurement;
    /* measurement and tag set exactly as written, "cpu,host=a": a cheap key
     * for caching series lookups (not canonical: tag order is the client's). */
    vg_lp_str_t series_raw;
    vg_lp_tag_t *tags;     /* ntags entries, in the order written */
    vg_lp_field_t *fields; /* nfields entries, in the order written */
    uint32_t ntags;
    uint32_t nfields;
    int has_ts;            /* 0: the line had no timestamp */
    int64_t ts;            /* nanoseconds (converted from the precision) */
    uint32_t ts_off;       /* offset of the timestamp text (or of the end of the
                              field set when has_ts == 0) from the line start */
    const char *line;      /* the whole line, without '\n' or trailing '\r' */
    uint32_t line_len;
    uint64_t lineno;       /* 1-based physical line number */
} vg_lp_line_t;

/* Why a line was rejected. */
typedef struct vg_lp_error {
    uint64_t lineno;  /* 1-based */
    uint32_t column;  /* 1-based byte offset within the line of the offending
                         byte: the start of a bad value or key, the first bad
                         byte of a timestamp, line_len + 1 for something
                         missing at the end, max_line + 1 for a long line */
    char reason[160]; /* "invalid field value", "NaN is not a valid field value", ... */
} vg_lp_error_t;

typedef struct vg_lp_limits {
    uint32_t max_line;   /* bytes per line, default 64 KiB */
    uint32_t max_string; /* bytes per string field value as written (escapes
                            included), default 1 MiB */
    uint32_t max_tags;   /* tags per line, default 256 */
    uint32_t max_fields; /* fields per line, default 1024 */
} vg_lp_limits_t;

/* The defaults named above. */
void vg_lp_limits_default(vg_lp_limits_t *lim);

/*
 * Parser state: reusable arrays for tags and fields, the line counter, the
 * precision. Embed it, vg_lp_init() it, vg_lp_reset() it.
 * Ownership: owns the tag and field arrays (grown with vg_realloc, freed by
 * vg_lp_reset); borrows every buffer given to vg_lp_next.
 */
typedef struct vg_lp_parser {
    vg_lp_limits_t lim;
    vg_precision_t precision;
    uint64_t lineno;     /* number of the last line consumed */
    const char *buf;     /* current buffer */
    size_t len, pos;
    vg_lp_tag_t *tags;
    vg_lp_field_t *fields;
    uint32_t tag_cap, field_cap;
    vg_lp_line_t line;
} vg_lp_parser_t;

/* lim may be NULL for the defaults. Allocates nothing until the first line. */
void vg_lp_init(vg_lp_parser_t *p, const vg_lp_limits_t *lim, vg_precision_t precision);
/* Frees the arrays and forgets the buffer and the line count; keeps the
 * limits and the precision, so the parser may be fed again. */
void vg_lp_reset(vg_lp_parser_t *p);

/*
 * Point the parser at a buffer of whole lines (the last one may lack its
 * '\n'). Line numbering continues from the previous buffer; set p->lineno
 * to restart it. Borrows buf until the next vg_lp_feed or vg_lp_reset.
 */
void vg_lp_feed(vg_lp_parser_t *p, const char *buf, size_t len);

/*
 * Parse the next line that carries data, skipping blank lines and comments.
 * Returns:
 *   1   *out points at the parsed line (valid until the next call);
 *   0   the buffer is exhausted;
 *   VG_EPARSE  the line numbered e->lineno is bad; e says where and why; the
 *       parser has moved past it, so call again for the next line;
 *   VG_ENOMEM  growing the tag/field arrays failed (the line is skipped).
 * Lines without a timestamp come back with has_ts == 0; the caller assigns one.
 */
int vg_lp_next(vg_lp_parser_t *p, vg_lp_line_t **out, vg_lp_error_t *e);

/*
 * Resolve the escapes of s into dst (at least s.len bytes). In a string field
 * value, `\"` and `\\` become `"` and `\`; in names and tag values, `\,`
 * `\=` `\ ` and `\\` become `,` `=` ` ` and `\` (the same rule for a
 * measurement, where `\=` is never needed but is accepted); any other
 * backslash stays, so `a\b` is `a\b`, `a\\b` is `a\b` and `a\\\b` is
 * `a\\b`, as in the InfluxDB docs. is_string selects the string-field
 * rules. Returns the resolved length.
 */
uint32_t vg_lp_unescape(vg_lp_str_t s, int is_string, char *dst);

/*
 * Write s into dst escaped for its position (inverse of vg_lp_unescape).
 * kind: 'm' measurement, 'k' tag key/tag value/field key, 's' string field
 * value (without the quotes). Every backslash is doubled. dst must hold
 * 2 * len bytes. Returns the length. Not expressible in a line at all: a
 * newline anywhere, a measurement starting with '#' or a tab (the line would
 * read as a comment or lose the tab), an empty measurement, key or tag value.
 */
size_t vg_lp_escape(const char *s, size_t len, char kind, char *dst);

/*
 * Format a float so that it reads back bit for bit (shortest round-trip
 * form, always with a '.', 'e' or 'n' so it never reads as an integer:
 * 1.0 is "1.0", -0.0 is "-0.0", 5e-324 is "5e-324"; NaN and infinities, which
 * the parser never produces, come out as "NaN", "+Inf", "-Inf").
 * dst must hold 32 bytes; NUL-terminated. Returns the length.
 */
size_t vg_lp_format_float(double v, char *dst);

#ifdef __cplusplus
}
#endif
#endif
