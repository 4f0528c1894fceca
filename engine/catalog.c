/*
 * catalog.c: reading and writing the CATALOG file (catalog.h).
 *
 *   vigil-catalog 1
 *   sealed_lsn <n>
 *   seg_seq <n>
 *   table <name> <replaced>
 *   field <table> <name> <type>
 *   tag <table> <key>
 *   dirty <table> <part_start>     (a partition that may hold a point twice)
 *   segment <file> <table> <part_start> <ts_min> <ts_max> <rows> <wal_lsn> <bytes>
 *   crc32c <8 hex digits>
 */
#include "catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "vigil/vg_alloc.h"

static int put_name(vg_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (vg_buf_reserve(b, 2 * n + 2) != VG_OK)
        return VG_ENOMEM;
    b->len += vg_lp_escape(s, n, 'k', (char *)b->p + b->len);
    return VG_OK;
}

static int put_fmt(vg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put_fmt(vg_buf_t *b, const char *fmt, ...)
{
    if (vg_buf_reserve(b, 256) != VG_OK)
        return VG_ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->p + b->len, 256, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return VG_OK;
}

/* Append the checksum line over everything in b. */
static int seal_text(vg_buf_t *b)
{
    return put_fmt(b, "crc32c %08x\n", vg_crc32c(0, b->p, b->len));
}

static int emit_table(vg_buf_t *b, vg_table_t *t)
{
    int rc = put_fmt(b, "table ");
    rc |= put_name(b, t->name);
    rc |= put_fmt(b, " %" PRIu64 "\n", t->replaced);
    for (uint32_t i = 0; i < t->nfields && rc == VG_OK; i++) {
        rc |= put_fmt(b, "field ");
        rc |= put_name(b, t->name);
        rc |= put_fmt(b, " ");
        rc |= put_name(b, t->fields[i].name);
        rc |= put_fmt(b, " %d\n", (int)t->fields[i].type);
    }
    for (uint32_t i = 0; i < t->ntagkeys && rc == VG_OK; i++) {
        rc |= put_fmt(b, "tag ");
        rc |= put_name(b, t->name);
        rc |= put_fmt(b, " ");
        rc |= put_name(b, t->tag_keys[i]);
        rc |= put_fmt(b, "\n");
    }
    for (uint32_t i = 0; i < t->ndirty && rc == VG_OK; i++) {
        rc |= put_fmt(b, "dirty ");
        rc |= put_name(b, t->name);
        rc |= put_fmt(b, " %" PRId64 "\n", t->dirty[i]);
    }
    for (uint32_t i = 0; i < t->nsegs && rc == VG_OK; i++) {
        const vg_seg_t *s = t->segs[i]->seg;
        rc |= put_fmt(b, "segment %s ", t->segs[i]->file);
        rc |= put_name(b, t->name);
        rc |= put_fmt(b, " %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                      vg_seg_part_start(s), vg_seg_ts_min(s), vg_seg_ts_max(s), vg_seg_nrows(s),
                      vg_seg_wal_lsn(s), vg_seg_file_bytes(s));
    }
    return rc ? VG_ENOMEM : VG_OK;
}

int vg_catalog_write(vg_db_t *db, vg_error_t *err)
{
    vg_buf_t b = {0};
    int rc = put_fmt(&b, "vigil-catalog 1\nsealed_lsn %" PRIu64 "\nseg_seq %" PRIu64 "\n",
                     db->sealed_lsn, db->seg_seq);
    pthread_mutex_lock(&db->tables_mu);
    for (uint32_t i = 0; i < db->ntables && rc == VG_OK; i++) {
        vg_table_t *t = db->tables[i];
        pthread_mutex_lock(&t->mu);
        rc = emit_table(&b, t);
        pthread_mutex_unlock(&t->mu);
    }
    pthread_mutex_unlock(&db->tables_mu);
    if (rc == VG_OK)
        rc = seal_text(&b);
    if (rc) {
        vg_buf_free(&b);
        return vg_error_set(err, VG_ENOMEM, "writing the catalog");
    }
    rc = vg_catalog_publish(db->io, db->dir, (const char *)b.p, b.len, err);
    vg_buf_free(&b);
    return rc;
}

int vg_catalog_publish(vg_io_t *io, const char *dir, const char *text, size_t len,
                       vg_error_t *err)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/CATALOG.tmp", dir);
    snprintf(path, sizeof path, "%s/CATALOG", dir);
    int fd;
    int rc = vg_io_open(io, tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644, &fd, err);
    if (rc == VG_OK) {
        rc = vg_io_pwrite(io, fd, text, len, 0, err);
        if (rc == VG_OK)
            rc = vg_io_fsync(io, fd, 0, err);
        vg_io_close(io, fd);
    }
    if (rc == VG_OK)
        rc = vg_io_rename(io, tmp, path, err);
    if (rc == VG_OK)
        rc = vg_io_fsync_dir(io, dir, err);
    if (rc == VG_OK)
        vg_io_crash_point(io, "catalog.published");
    else
        vg_io_unlink(io, tmp, NULL);
    return rc;
}

/* Split line (NUL-terminated, modified in place) at unescaped spaces: a
 * space after an odd run of backslashes belongs to a name (put_name doubles
 * a backslash, so a name ending in one is followed by an even run). */
static int split(char *line, char **tok, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        tok[n++] = p;
        size_t bs = 0; /* backslashes just before p */
        while (*p && !(*p == ' ' && bs % 2 == 0))
            bs = *p++ == '\\' ? bs + 1 : 0;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

/* Resolve a name's escapes in place, by vg_lp_unescape's rule for names
 * (`\,` `\=` `\ ` `\\` lose the backslash, any other stays). Not through
 * vg_lp_unescape itself: its dst may not overlap s (memcpy; ASan saw it). */
static char *unescape(char *s)
{
    char *o = s;
    for (const char *q = s; *q; q++) {
        if (*q == '\\' && (q[1] == ',' || q[1] == '=' || q[1] == ' ' || q[1] == '\\'))
            q++;
        *o++ = *q;
    }
    *o = '\0';
    return s;
}

/* A number as the catalog writes it: digits (after a '-' when signed), in
 * range, nothing after; strtoull alone took "12x" for 12 and "" for 0. */
static int num_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (*s < '0' || *s > '9' || errno || *end)
        return VG_EPARSE;
    *out = v;
    return VG_OK;
}

static int num_i64(const char *s, int64_t *out)
{
    const char *d = *s == '-' ? s + 1 : s;
    char *end;
    errno = 0;
    long long v = *d >= '0' && *d <= '9' ? strtoll(s, &end, 10) : 0;
    if (*d < '0' || *d > '9' || errno || *end)
        return VG_EPARSE;
    *out = v;
    return VG_OK;
}

/* Every name the engine writes (table, field, tag key) has a character. */
static int name_ok(char *tok, char **out)
{
    *out = unescape(tok);
    return **out ? VG_OK : VG_EPARSE;
}

/* What the catalog's entries must agree on across lines. */
typedef struct load_st {
    vg_strmap_t files; /* segment files named so far: each once */
    uint64_t max_seq;  /* the highest number of a segment file named */
} load_st_t;

/*
 * A segment line names a file of segments/ the engine wrote: no path (a '/'
 * or a leading '.' reached outside, and the start-up sweep then deleted the
 * real file as unnamed), ending in ".seg", named once (twice counted its
 * rows twice). The highest "%016x.seg" number goes to st->max_seq.
 */
static int seg_file_ok(load_st_t *st, const char *file)
{
    size_t n = strlen(file);
    if (n <= 4 || file[0] == '.' || strchr(file, '/') || strcmp(file + n - 4, ".seg") != 0)
        return VG_EPARSE;
    uint32_t id;
    if (vg_strmap_get(&st->files, file, n, &id))
        return VG_EPARSE;
    if (vg_strmap_put(&st->files, file, n, 0, NULL) != VG_OK)
        return VG_ENOMEM;
    if (n == 20 && strspn(file, "0123456789abcdef") == 16) {
        uint64_t seq = strtoull(file, NULL, 16);
        st->max_seq = seq > st->max_seq ? seq : st->max_seq;
    }
    return VG_OK;
}

/* The numbers of a segment line (tok[3..8]): only the size is used, but
 * garbage in any of them is a damaged entry. */
static int seg_nums(char **tok, uint64_t *bytes)
{
    int64_t i;
    uint64_t u;
    int rc = num_i64(tok[3], &i) | num_i64(tok[4], &i) | num_i64(tok[5], &i);
    rc |= num_u64(tok[6], &u) | num_u64(tok[7], &u) | num_u64(tok[8], bytes);
    return rc ? VG_EPARSE : VG_OK;
}

/*
 * A sealed segment has the size the catalog recorded: one cut short or
 * grown since (`truncate -s`, a bad copy) is refused before it is mapped,
 * so no read can fault past its end (SIGBUS).
 */
static int seg_size_ok(vg_db_t *db, const char *file, uint64_t want, vg_error_t *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", db->seg_dir, file);
    struct stat st;
    if (stat(path, &st) != 0)
        return VG_OK; /* opening it reports what is wrong */
    if ((uint64_t)st.st_size == want || want == 0) /* 0: not recorded */
        return VG_OK;
    uint64_t have = (uint64_t)st.st_size;
    return vg_error_set(err, VG_ECORRUPT,
                        "segment %s: %" PRIu64 " bytes, the catalog says %" PRIu64
                        " (cut short or grown) at offset %" PRIu64,
                        path, have, want, have < want ? have : want);
}

/* segment <file> <table> <part> <ts min> <ts max> <rows> <wal lsn> <bytes> */
static int load_segment(vg_db_t *db, load_st_t *st, char **tok, vg_error_t *err)
{
    char *name;
    uint64_t bytes = 0;
    vg_table_t *t = NULL;
    vg_segref_t *r;
    int rc = name_ok(tok[2], &name) | seg_nums(tok, &bytes);
    if (rc == VG_OK && (rc = seg_file_ok(st, tok[1])) == VG_ENOMEM)
        return vg_error_set(err, VG_ENOMEM, "loading the catalog");
    if (rc)
        return VG_EPARSE;
    rc = seg_size_ok(db, tok[1], bytes, err);
    if (rc == VG_OK)
        rc = vg__table_get(db, name, strlen(name), 1, &t, err);
    if (rc == VG_OK)
        rc = vg__segref_open(db, t, tok[1], NULL, 0, &r, err);
    if (rc == VG_OK && strcmp(vg_seg_table(r->seg), name) != 0) {
        /* the file describes itself: its rows are another table's */
        rc = vg_error_set(err, VG_ECORRUPT, "segment %s/%s: of table '%s', the catalog says '%s'",
                          db->seg_dir, tok[1], vg_seg_table(r->seg), name);
        vg__segref_unref(r);
    }
    if (rc == VG_OK && vg__table_add_seg(t, r) != VG_OK) {
        vg__segref_unref(r);
        rc = vg_error_set(err, VG_ENOMEM, "loading the catalog");
    }
    return rc;
}

/* field <table> <name> <type>: a type clash or too many fields cannot have
 * been written, so they are damaged entries like any other. */
static int load_field(vg_db_t *db, char **tok, vg_error_t *err)
{
    char *name, *f;
    int64_t type = 0;
    vg_table_t *t = NULL;
    uint32_t idx;
    if ((name_ok(tok[1], &name) | name_ok(tok[2], &f) | num_i64(tok[3], &type)) ||
        type < VG_TYPE_FLOAT || type > VG_TYPE_STRING)
        return VG_EPARSE;
    int rc = vg__table_get(db, name, strlen(name), 1, &t, err);
    if (rc == VG_OK)
        rc = vg__table_field(t, f, strlen(f), (vg_type_t)type, &idx, NULL, err);
    return rc == VG_ECONFLICT || rc == VG_ELIMIT ? VG_EPARSE : rc;
}

/* table, tag and dirty: a table name, then a number or a name. */
static int load_table_line(vg_db_t *db, char **tok, vg_error_t *err)
{
    char *name, *k = NULL;
    uint64_t replaced = 0;
    int64_t part = 0;
    vg_table_t *t = NULL;
    int table = strcmp(tok[0], "table") == 0, tag = strcmp(tok[0], "tag") == 0;
    int rc = name_ok(tok[1], &name);
    rc |= table ? num_u64(tok[2], &replaced) : tag ? name_ok(tok[2], &k) : num_i64(tok[2], &part);
    if (rc)
        return VG_EPARSE;
    rc = vg__table_get(db, name, strlen(name), 1, &t, err);
    if (rc == VG_OK && table)
        t->replaced = replaced;
    else if (rc == VG_OK && tag)
        rc = vg__table_tagkey(t, k, strlen(k), err);
    else if (rc == VG_OK && vg__table_mark_dirty(t, part) != VG_OK)
        rc = vg_error_set(err, VG_ENOMEM, "loading the catalog");
    return rc;
}

static int load_line(vg_db_t *db, load_st_t *st, char **tok, int n, vg_error_t *err)
{
    if (n == 2 && strcmp(tok[0], "sealed_lsn") == 0)
        return num_u64(tok[1], &db->sealed_lsn);
    if (n == 2 && strcmp(tok[0], "seg_seq") == 0)
        return num_u64(tok[1], &db->seg_seq);
    if (n == 3 && (strcmp(tok[0], "table") == 0 || strcmp(tok[0], "tag") == 0 ||
                   strcmp(tok[0], "dirty") == 0))
        return load_table_line(db, tok, err);
    if (n == 4 && strcmp(tok[0], "field") == 0)
        return load_field(db, tok, err);
    if (n == 9 && strcmp(tok[0], "segment") == 0)
        return load_segment(db, st, tok, err);
    return VG_EPARSE; /* an entry this version does not know, or a mangled one */
}

int vg_catalog_read(vg_io_t *io, const char *path, char **out, size_t *len, vg_error_t *err)
{
    if (access(path, F_OK) != 0)
        return vg_error_set(err, VG_ENOTFOUND, "no catalog %s", path);
    vg_io_map_t m;
    int rc = vg_io_map(io, path, &m, err);
    if (rc)
        return rc;
    char *text = vg_malloc(m.len + 1);
    if (!text) {
        vg_io_unmap(io, &m);
        return vg_error_set(err, VG_ENOMEM, "reading %s", path);
    }
    if (m.len)
        memcpy(text, m.p, m.len);
    text[m.len] = '\0';
    size_t n = m.len;
    vg_io_unmap(io, &m);
    /* the checksum line is the last line: "crc32c xxxxxxxx\n", compared
     * byte for byte with the one we would write (sscanf("%x") took "A" for
     * "a" and ignored the newline: a flipped bit there went unseen) */
    char *crcline = n >= 16 ? text + n - 16 : NULL;
    char want[32] = "";
    if (crcline)
        snprintf(want, sizeof want, "crc32c %08x\n", vg_crc32c(0, text, (size_t)(crcline - text)));
    if (!crcline || memcmp(crcline, want, 16) != 0 ||
        strncmp(text, "vigil-catalog 1\n", 16) != 0) {
        rc = vg_error_set(err, VG_ECORRUPT,
                          "catalog %s: checksum mismatch (checksum line at offset %zu)", path,
                          crcline ? (size_t)(crcline - text) : n);
        vg_free(text);
        return rc;
    }
    const char *nul = memchr(text, '\0', (size_t)(crcline - text));
    if (nul) { /* the engine writes none: the entries after it would go unread */
        rc = vg_error_set(err, VG_ECORRUPT, "catalog %s: a NUL byte at offset %zu", path,
                          (size_t)(nul - text));
        vg_free(text);
        return rc;
    }
    *crcline = '\0';
    *out = text;
    *len = (size_t)(crcline - text);
    return VG_OK;
}

int vg_catalog_load(vg_db_t *db, vg_error_t *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/CATALOG", db->dir);
    if (access(path, F_OK) != 0)
        return VG_OK;
    char *text = NULL;
    size_t len = 0;
    int rc = vg_catalog_read(db->io, path, &text, &len, err);
    if (rc)
        return rc;
    char *save = NULL;
    size_t lineno = 1;
    load_st_t st = {.max_seq = 0};
    vg_strmap_init(&st.files);
    strtok_r(text, "\n", &save); /* the version line */
    for (char *line; rc == VG_OK && (line = strtok_r(NULL, "\n", &save));) {
        lineno++;
        size_t off = (size_t)(line - text);
        char *tok[10];
        int n = split(line, tok, 10);
        rc = load_line(db, &st, tok, n, err);
        if (rc == VG_EPARSE)
            rc = vg_error_set(err, VG_ECORRUPT, "catalog %s: bad entry at offset %zu (line %zu)",
                              path, off, lineno);
    }
    /* the next seal must not reuse (and overwrite) a file the catalog names,
     * nor wrap around to one: no folder gets near 2^63 seals */
    if (st.max_seq > db->seg_seq)
        db->seg_seq = st.max_seq;
    if (rc == VG_OK && db->seg_seq >= UINT64_C(1) << 63)
        rc = vg_error_set(err, VG_ECORRUPT, "catalog %s: segment number %" PRIu64 " too high", path,
                          db->seg_seq);
    vg_strmap_free(&st.files);
    vg_free(text);
    return rc;
}

/* ------------------------------------------------------------ rebuilding */

/* Keep keep_text's entries, dropping segment entries whose file is gone. */
static int rebuild_filter(const char *dir, const char *keep_text, vg_buf_t *b, uint64_t *dropped)
{
    int rc = VG_OK;
    for (const char *p = keep_text; *p && rc == VG_OK;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        int keep = 1;
        if (strncmp(p, "segment ", 8) == 0) {
            char file[256], path[4400];
            if (sscanf(p + 8, "%255s", file) == 1) {
                snprintf(path, sizeof path, "%s/segments/%s", dir, file);
                keep = access(path, F_OK) == 0;
            }
        }
        if (keep)
            rc = vg_buf_append(b, p, n);
        else
            (*dropped)++;
        p += n;
    }
    return rc;
}

/* Entries for one segment file that describes itself. */
static int rebuild_seg(vg_buf_t *b, const vg_seg_t *s, const char *file, uint64_t *max_lsn)
{
    const char *table = vg_seg_table(s);
    int rc = put_fmt(b, "table ");
    rc |= put_name(b, table);
    rc |= put_fmt(b, " 0\n");
    for (uint32_t c = 0; c < vg_seg_ncols(s) && rc == VG_OK; c++) {
        rc |= put_fmt(b, "field ");
        rc |= put_name(b, table);
        rc |= put_fmt(b, " ");
        rc |= put_name(b, vg_seg_col(s, c).name);
        rc |= put_fmt(b, " %d\n", (int)vg_seg_col(s, c).type);
    }
    /* without the old catalog nobody knows whether this partition holds a
     * point twice: say it may, compaction will settle it */
    rc |= put_fmt(b, "dirty ");
    rc |= put_name(b, table);
    rc |= put_fmt(b, " %" PRId64 "\n", vg_seg_part_start(s));
    rc |= put_fmt(b, "segment %s ", file);
    rc |= put_name(b, table);
    rc |= put_fmt(b, " %" PRId64 " %" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                  vg_seg_part_start(s), vg_seg_ts_min(s), vg_seg_ts_max(s), vg_seg_nrows(s),
                  vg_seg_wal_lsn(s), vg_seg_file_bytes(s));
    if (vg_seg_wal_lsn(s) > *max_lsn)
        *max_lsn = vg_seg_wal_lsn(s);
    return rc ? VG_ENOMEM : VG_OK;
}

typedef struct rebuild {
    vg_io_t *io;
    const char *sdir;
    vg_buf_t *b;
    uint64_t max_lsn, max_seq;
} rebuild_t;

static int rebuild_one(void *ctx, const char *name)
{
    rebuild_t *rb = ctx;
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", rb->sdir, name);
    vg_seg_t *s;
    if (vg_seg_open(rb->io, path, &s, NULL) != VG_OK)
        return VG_OK; /* repair quarantines unreadable files before rebuilding */
    int rc = rebuild_seg(rb->b, s, name, &rb->max_lsn);
    uint64_t seq = strtoull(name, NULL, 16);
    if (seq > rb->max_seq)
        rb->max_seq = seq;
    vg_seg_close(s);
    return rc;
}

/* Entries for every readable segment file of dir/segments. */
static int rebuild_scan(vg_io_t *io, const char *dir, vg_buf_t *b, uint64_t *max_lsn,
                        uint64_t *max_seq, vg_error_t *err)
{
    char sdir[4200];
    snprintf(sdir, sizeof sdir, "%s/segments", dir);
    rebuild_t rb = {io, sdir, b, 0, 0};
    int rc = vg_io_list(io, sdir, ".seg", rebuild_one, &rb, err);
    *max_lsn = rb.max_lsn;
    *max_seq = rb.max_seq;
    return rc;
}

int vg_catalog_rebuild(vg_io_t *io, const char *dir, const char *keep_text, uint64_t *dropped,
                       vg_error_t *err)
{
    vg_buf_t b = {0};
    uint64_t max_lsn = 0, max_seq = 0;
    int rc;
    *dropped = 0;
    if (keep_text) {
        rc = rebuild_filter(dir, keep_text, &b, dropped);
    } else {
        vg_buf_t body = {0};
        rc = rebuild_scan(io, dir, &body, &max_lsn, &max_seq, err);
        /* sealed_lsn: every segment's rows are sealed; WAL records at or
         * below the highest segment LSN are covered by a segment */
        if (rc == VG_OK)
            rc = put_fmt(&b, "vigil-catalog 1\nsealed_lsn %" PRIu64 "\nseg_seq %" PRIu64 "\n",
                         max_lsn, max_seq);
        if (rc == VG_OK && body.len)
            rc = vg_buf_append(&b, body.p, body.len);
        vg_buf_free(&body);
    }
    if (keep_text && *dropped == 0 && rc == VG_OK) {
        vg_buf_free(&b); /* nothing to change */
        return VG_OK;
    }
    if (rc == VG_OK)
        rc = seal_text(&b);
    if (rc == VG_OK)
        rc = vg_catalog_publish(io, dir, (const char *)b.p, b.len, err);
    else if (rc == VG_ENOMEM)
        rc = vg_error_set(err, VG_ENOMEM, "rebuilding the catalog");
    vg_buf_free(&b);
    return rc;
}
