/*
 * vigil_bench.c: `vigil-bench`, the load generator users run against Vigil
 * or any server that takes line protocol over HTTP /write or TCP.
 *
 *   vigil-bench ingest --target URL|HOST:PORT --protocol tcp|tcp-ack|http ...
 *   vigil-bench query  --target URL --query Q [--repeat N]
 *
 * This file reads the options, prepares the rows (a mapped file, or the
 * simulator's bench profile: generated before the clock starts when the row
 * count is known, live otherwise), runs the connections (bench_load.c),
 * draws the progress line and prints the report (text, or one JSON line).
 * The query timer is bench_query.c.
 *
 * Invariants: the clock starts when the first connection may send and stops
 * at the last acknowledgement (tcp-ack, http) or the last byte sent (tcp);
 * the server's CPU time and peak RSS come from /proc/PID only when a pid is
 * given, and are reported as absent otherwise, never guessed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_load.h"
#include "vigil/vg_alloc.h"
#include "vigil/vg_db.h"

static const char usage[] =
    "usage: vigil-bench ingest --target URL|HOST:PORT --protocol tcp|tcp-ack|http\n"
    "                          [--connections N] [--batch N] [--rows N | --file FILE]\n"
    "                          [--duration D] [--pid PID] [--data DIR] [--token T]\n"
    "                          [--until-queryable URL] [--seed N] [--json]\n"
    "       vigil-bench query  --target URL --query Q [--repeat N] [--param NAME]\n"
    "                          [--token T] [--json]\n"
    "\n"
    "ingest sends line protocol over N connections (one thread each) in batches:\n"
    "  --target        http://HOST:PORT[/path] (http; /write when no path) or HOST:PORT (tcp)\n"
    "  --protocol      tcp: plain writes, nothing acknowledged; tcp-ack: Vigil's\n"
    "                  acknowledged mode (#vigil ack); http: POST, keep-alive\n"
    "  --connections N parallel connections (default 2)\n"
    "  --batch N       rows per batch (default 5000)\n"
    "  --rows N        rows to send (k, M suffixes), from the simulator's bench\n"
    "                  profile, timestamps in the hours before now\n"
    "                  (default 1000000 without --file or --duration)\n"
    "  --file FILE     send this line protocol instead (each line once)\n"
    "  --duration D    stop after D (30s, 5m...), whichever comes first\n"
    "  --pid PID       the server's process: CPU-seconds per million rows, peak RSS\n"
    "  --data DIR      the server's folder: bytes on disk per row after the run\n"
    "  --until-queryable URL\n"
    "                  after the last acknowledgement, poll this counting query\n"
    "                  (Vigil's /api/v1/query, Prometheus's /api/v1/query or\n"
    "                  InfluxDB's /query JSON) until it counts every row sent,\n"
    "                  and report rows/s until queryable (timeout 300 s)\n"
    "  --token T       #vigil auth T (tcp), Authorization: Token T (http);\n"
    "                  default $VIGIL_TOKEN\n"
    "  --seed N        the simulator's seed (default 1)\n"
    "  --json          print the report as one JSON line\n"
    "query times GET URL/api/v1/query?q=Q&format=json (or URL's own path):\n"
    "  --repeat N      runs (default 5); prints median, min and max\n"
    "  --param NAME    the query's parameter name (default q)\n";

typedef struct opts {
    const char *target, *file, *token, *data, *query, *param, *visible;
    int proto, conns, json, repeat;
    uint64_t batch, rows, seed;
    int64_t duration_ns;
    long pid;
} opts_t;

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'k' || *end == 'K')
        v *= 1000, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1000000, end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int bad(const char *what, const char *v)
{
    fprintf(stderr, "vigil-bench: bad value for %s: '%s'\n%s", what, v ? v : "", usage);
    return 2;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    uint64_t v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int flag = strcmp(a, "--json") == 0;
        if (flag) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!val)
            return bad(a, NULL);
        i++;
        if (strcmp(a, "--target") == 0) {
            o->target = val;
        } else if (strcmp(a, "--protocol") == 0) {
            if (strcmp(val, "tcp") == 0)
                o->proto = PROTO_TCP;
            else if (strcmp(val, "tcp-ack") == 0)
                o->proto = PROTO_TCP_ACK;
            else if (strcmp(val, "http") == 0)
                o->proto = PROTO_HTTP;
            else
                return bad(a, val);
        } else if (strcmp(a, "--connections") == 0) {
            if (parse_u64(val, &v) || v < 1 || v > 4096)
                return bad(a, val);
            o->conns = (int)v;
        } else if (strcmp(a, "--batch") == 0) {
            if (parse_u64(val, &o->batch) || o->batch < 1)
                return bad(a, val);
        } else if (strcmp(a, "--rows") == 0) {
            if (parse_u64(val, &o->rows) || o->rows < 1)
                return bad(a, val);
        } else if (strcmp(a, "--repeat") == 0) {
            if (parse_u64(val, &v) || v < 1 || v > 100000)
                return bad(a, val);
            o->repeat = (int)v;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(val, &o->seed))
                return bad(a, val);
        } else if (strcmp(a, "--pid") == 0) {
            if (parse_u64(val, &v) || v < 1)
                return bad(a, val);
            o->pid = (long)v;
        } else if (strcmp(a, "--duration") == 0) {
            vg_error_t err = {0};
            if (vg_duration_parse(val, &o->duration_ns, &err) || o->duration_ns <= 0)
                return bad(a, val);
        } else if (strcmp(a, "--file") == 0) {
            o->file = val;
        } else if (strcmp(a, "--token") == 0) {
            o->token = val;
        } else if (strcmp(a, "--data") == 0) {
            o->data = val;
        } else if (strcmp(a, "--until-queryable") == 0) {
            o->visible = val;
        } else if (strcmp(a, "--query") == 0) {
            o->query = val;
        } else if (strcmp(a, "--param") == 0) {
            o->param = val;
        } else {
            fprintf(stderr, "vigil-bench: unknown option %s\n%s", a, usage);
            return 2;
        }
    }
    if (!o->target)
        return bad("--target", NULL);
    return 0;
}

/* ---- the server's process and folder ---- */

static double proc_cpu_s(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* the command name may hold spaces and ')': fields start after the last ')' */
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_hwm_kb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static uint64_t g_du;

static int du_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)p, (void)ftw;
    if (type == FTW_F)
        g_du += (uint64_t)st->st_size;
    return 0;
}

/* ---- the rows ---- */

typedef struct region {
    char *p;
    size_t len;
    int mapped;
} region_t;

static int map_file(const char *path, region_t *r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "vigil-bench: %s: %s\n", path, fd < 0 ? strerror(errno) : "empty or unreadable");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    r->p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (r->p == MAP_FAILED) {
        fprintf(stderr, "vigil-bench: mmap %s: %s\n", path, strerror(errno));
        return -1;
    }
    r->len = (size_t)st.st_size;
    r->mapped = 1;
    return 0;
}

static int make_sim(const opts_t *o, vg_sim_t **sim)
{
    vg_sim_opts_t so;
    vg_sim_opts_default(&so);
    so.seed = o->seed;
    so.profile = VG_SIM_BENCH;
    so.rate = 200;
    /* long enough for the rows whatever the diurnal curve does (the row count
     * stops it), ending a minute before now so that every row is accepted */
    uint64_t rows = o->rows ? o->rows : 500000000;
    /* x10: weekends run at half rate and the diurnal trough at 0.4 of it */
    so.duration_ns = (int64_t)((double)rows / so.rate * 10 * 1e9);
    if (so.duration_ns < 3600 * (int64_t)1000000000)
        so.duration_ns = 3600 * (int64_t)1000000000;
    if (so.duration_ns > 25 * 86400 * (int64_t)1000000000) {
        so.duration_ns = 25 * 86400 * (int64_t)1000000000; /* inside 30 days' retention */
        so.rate = (double)rows * 10 / 25 / 86400;
    }
    so.start_ns = vg_now_ns() - so.duration_ns - 60 * (int64_t)1000000000;
    vg_error_t err = {0};
    if (vg_sim_create(&so, sim, &err) != 0) {
        fprintf(stderr, "vigil-bench: simulator: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Generate o->rows rows before the clock starts (so the generator does not
 * limit the measurement). */
static int pregenerate(const opts_t *o, region_t *r)
{
    vg_sim_t *sim;
    if (make_sim(o, &sim))
        return -1;
    size_t cap = (size_t)o->rows * 280 + VG_SIM_LINE_MAX * 2, len = 0, n;
    char *p = vg_malloc(cap);
    int more = 1;
    uint64_t lines = 0; /* vg_sim_rows counts rows still queued inside, too */
    while (p && more && lines < o->rows) {
        if (cap - len < (1u << 20)) {
            char *q = vg_realloc(p, cap * 2);
            if (!q) {
                vg_free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
        size_t want = cap - len < (1u << 20) ? cap - len : (1u << 20);
        more = vg_sim_next(sim, p + len, want, &n);
        for (const char *q = p + len, *e = p + len + n; (q = memchr(q, '\n', (size_t)(e - q))); q++)
            lines++;
        len += n;
    }
    vg_sim_destroy(sim);
    if (!p) {
        fprintf(stderr, "vigil-bench: out of memory generating %" PRIu64 " rows\n", o->rows);
        return -1;
    }
    r->p = p;
    r->len = len;
    return 0;
}

/* ---- the report ---- */

/* Nearest rank on sorted v; -1 when empty. */
static double pct(const double *v, size_t n, double q)
{
    if (n == 0)
        return -1;
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    return v[(k > n ? n : k) - 1];
}

typedef struct totals {
    uint64_t sent, acked, errors, bytes;
    double elapsed, p50, p99, cpu_per_m, bytes_per_row;
    double visible_s; /* start to every row queryable; -1 when not asked or not reached */
    long hwm_kb;
    const char *first_err;
} totals_t;

static void progress(const bconn_t *c, int n, int64_t t0)
{
    uint64_t s = 0, a = 0, e = 0;
    for (int i = 0; i < n; i++)
        s += c[i].rows_sent, a += c[i].rows_acked, e += c[i].errors;
    double el = (double)(bench_mono_ns() - t0) / 1e9;
    fprintf(stderr, "\r%6.1fs  sent %" PRIu64 "  acked %" PRIu64 "  errors %" PRIu64 "  %.0f rows/s   ",
            el, s, a, e, el > 0 ? (double)s / el : 0);
}

static const char *proto_name(int p)
{
    return p == PROTO_TCP ? "tcp" : p == PROTO_TCP_ACK ? "tcp-ack" : "http";
}

/* key then s as a JSON string (control bytes dropped: they carry nothing here) */
static void print_json_str(const char *key, const char *s)
{
    fputs(key, stdout);
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s >= 0x20)
            putchar(*s);
    }
    putchar('"');
}

/* The rows a counting query must see: all sent over plain TCP, else all acknowledged. */
static uint64_t visible_rows(const opts_t *o, const totals_t *t)
{
    return o->proto == PROTO_TCP ? t->sent : t->acked;
}

static void print_report(const opts_t *o, const totals_t *t)
{
    double rps = t->elapsed > 0 ? (double)t->sent / t->elapsed : 0;
    double arps = t->elapsed > 0 ? (double)t->acked / t->elapsed : 0;
    double mbs = t->elapsed > 0 ? (double)t->bytes / t->elapsed / 1e6 : 0;
    if (o->json) {
        printf("{\"protocol\":\"%s\",\"connections\":%d,\"batch\":%" PRIu64 ",\"rows_sent\":%" PRIu64
               ",\"rows_acked\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
               ",\"elapsed_s\":%.3f,\"rows_per_s\":%.0f,\"acked_rows_per_s\":%.0f,\"mb_per_s\":%.2f",
               proto_name(o->proto), o->conns, o->batch, t->sent, t->acked, t->errors, t->bytes,
               t->elapsed, rps, arps, mbs);
        if (t->p50 >= 0)
            printf(",\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f", t->p50, t->p99);
        if (t->cpu_per_m >= 0)
            printf(",\"server_cpu_s_per_mrow\":%.3f", t->cpu_per_m);
        if (t->hwm_kb >= 0)
            printf(",\"server_peak_rss_mib\":%.1f", (double)t->hwm_kb / 1024);
        if (t->bytes_per_row >= 0)
            printf(",\"disk_bytes_per_row\":%.1f", t->bytes_per_row);
        if (t->visible_s > 0)
            printf(",\"queryable_s\":%.3f,\"queryable_rows_per_s\":%.0f", t->visible_s,
                   (double)visible_rows(o, t) / t->visible_s);
        if (t->first_err)
            print_json_str(",\"error\":", t->first_err);
        printf("}\n");
        return;
    }
    printf("protocol        %s, %d connection%s, batches of %" PRIu64 " rows\n", proto_name(o->proto),
           o->conns, o->conns == 1 ? "" : "s", o->batch);
    printf("rows sent       %" PRIu64 "\n", t->sent);
    if (o->proto == PROTO_TCP)
        printf("rows acked      - (fire-and-forget)\n");
    else
        printf("rows acked      %" PRIu64 "\n", t->acked);
    printf("errors          %" PRIu64 "\n", t->errors);
    printf("elapsed         %.3f s\n", t->elapsed);
    printf("rows/s          %.0f%s\n", o->proto == PROTO_TCP ? rps : arps,
           o->proto == PROTO_TCP ? " (sent)" : " (acknowledged)");
    printf("MB/s            %.2f\n", mbs);
    if (t->p50 >= 0)
        printf("ack latency     p50 %.2f ms, p99 %.2f ms (per batch)\n", t->p50, t->p99);
    if (t->cpu_per_m >= 0)
        printf("server CPU      %.3f s per million rows\n", t->cpu_per_m);
    if (t->hwm_kb >= 0)
        printf("server peak RSS %.1f MiB (VmHWM)\n", (double)t->hwm_kb / 1024);
    if (t->bytes_per_row >= 0)
        printf("disk            %.1f bytes per row\n", t->bytes_per_row);
    if (t->visible_s > 0)
        printf("queryable       all %" PRIu64 " rows after %.3f s: %.0f rows/s\n", visible_rows(o, t),
               t->visible_s, (double)visible_rows(o, t) / t->visible_s);
    if (t->first_err)
        printf("first error     %s\n", t->first_err);
}

/* ---- ingest ---- */

static void sum_up(const opts_t *o, bconn_t *c, int64_t t0, totals_t *t)
{
    size_t nl = 0;
    int64_t end = t0;
    for (int i = 0; i < o->conns; i++) {
        t->sent += c[i].rows_sent;
        t->acked += c[i].rows_acked;
        t->errors += c[i].errors;
        t->bytes += c[i].bytes_sent;
        nl += c[i].n_lat;
        if (c[i].t_done > end)
            end = c[i].t_done;
        if (!t->first_err && c[i].err[0])
            t->first_err = c[i].err;
    }
    t->elapsed = (double)(end - t0) / 1e9;
    double *all = nl ? vg_malloc(nl * sizeof *all) : NULL;
    size_t k = 0;
    for (int i = 0; all && i < o->conns; i++)
        for (size_t j = 0; j < c[i].n_lat; j++)
            all[k++] = c[i].lat_ms[j];
    if (all)
        qsort(all, k, sizeof *all, bench_cmp_double);
    t->p50 = pct(all, k, 0.5);
    t->p99 = pct(all, k, 0.99);
    vg_free(all);
}

static int run_ingest(opts_t *o)
{
    target_t tg;
    if (bench_parse_target(o->target, "/write", &tg) != 0)
        return bad("--target (HOST:PORT or http://HOST:PORT[/path])", o->target);
    if (o->file && o->rows == 0)
        o->rows = UINT64_MAX;
    if (!o->file && o->rows == 0 && o->duration_ns == 0)
        o->rows = 1000000;
    bsource_t src = {.batch = o->batch, .rows_left = o->rows ? o->rows : UINT64_MAX};
    pthread_mutex_init(&src.mu, NULL);
    region_t r = {0};
    int rc = 1;
    bconn_t *c = vg_calloc((size_t)o->conns, sizeof *c);
    if (!c)
        return 1;
    if (o->file) {
        if (map_file(o->file, &r))
            goto out;
    } else if (o->rows && o->rows <= 8000000) {
        if (isatty(2))
            fprintf(stderr, "generating %" PRIu64 " rows...", o->rows);
        if (pregenerate(o, &r))
            goto out;
        if (isatty(2))
            fprintf(stderr, "\r");
    } else {
        if (make_sim(o, &src.sim))
            goto out;
        src.carry_cap = 1u << 18;
        src.carry = vg_malloc(src.carry_cap);
        if (!src.carry)
            goto out;
    }
    src.data = r.p;
    src.len = r.len;

    double cpu0 = o->pid ? proc_cpu_s(o->pid) : -1;
    if (o->pid && cpu0 < 0)
        fprintf(stderr, "vigil-bench: cannot read /proc/%ld/stat; no server CPU figures\n", o->pid);
    signal(SIGINT, on_sigint);
    int64_t t0 = bench_mono_ns();
    if (o->duration_ns)
        src.deadline = t0 + o->duration_ns;
    int started = 0;
    for (int i = 0; i < o->conns; i++) {
        c[i] = (bconn_t){.id = i, .proto = o->proto, .host = tg.host, .port = tg.port,
                         .url = tg.url, .token = o->token, .src = &src};
        if (pthread_create(&c[i].th, NULL, bench_conn_run, &c[i]) != 0)
            break;
        started++;
    }
    int tty = isatty(2);
    for (;;) {
        int done = 1;
        for (int i = 0; i < started; i++)
            if (!__atomic_load_n(&c[i].finished, __ATOMIC_ACQUIRE))
                done = 0;
        if (done)
            break;
        if (g_interrupted)
            src.stop = 1;
        if (tty)
            progress(c, started, t0);
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < started; i++)
        pthread_join(c[i].th, NULL);
    if (tty) {
        progress(c, started, t0);
        fprintf(stderr, "\n");
    }
    o->conns = started;
    totals_t t = {.cpu_per_m = -1, .hwm_kb = -1, .bytes_per_row = -1, .visible_s = -1};
    sum_up(o, c, t0, &t);
    if (o->visible && !g_interrupted) {
        int64_t t_seen;
        uint64_t seen;
        char verr[512];
        if (bench_wait_visible(o->visible, o->token, visible_rows(o, &t), 300 * (int64_t)1000000000,
                               &t_seen, &seen, verr, sizeof verr) == 0)
            t.visible_s = (double)(t_seen - t0) / 1e9;
        else
            fprintf(stderr, "vigil-bench: --until-queryable: %s (%" PRIu64 " of %" PRIu64 " rows seen)\n",
                    verr, seen, visible_rows(o, &t));
    }
    if (o->pid) {
        double cpu1 = proc_cpu_s(o->pid);
        uint64_t rows = o->proto == PROTO_TCP ? t.sent : t.acked;
        if (cpu0 >= 0 && cpu1 >= 0 && rows > 0)
            t.cpu_per_m = (cpu1 - cpu0) / ((double)rows / 1e6);
        t.hwm_kb = proc_hwm_kb(o->pid);
    }
    if (o->data) {
        g_du = 0;
        uint64_t rows = o->proto == PROTO_TCP ? t.sent : t.acked;
        if (nftw(o->data, du_one, 16, FTW_PHYS) == 0 && rows > 0)
            t.bytes_per_row = (double)g_du / (double)rows;
    }
    print_report(o, &t);
    rc = t.errors || t.sent == 0 || started < o->conns || (o->visible && t.visible_s < 0) ? 1 : 0;
out:
    for (int i = 0; i < o->conns; i++) {
        vg_free(c[i].buf);
        vg_free(c[i].lat_ms);
    }
    vg_free(c);
    if (r.mapped)
        munmap(r.p, r.len);
    else
        vg_free(r.p);
    vg_free(src.carry);
    vg_sim_destroy(src.sim);
    pthread_mutex_destroy(&src.mu);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    opts_t o = {.conns = 2, .batch = 5000, .seed = 1, .repeat = 5, .param = "q",
                .token = getenv("VIGIL_TOKEN")};
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[1], "ingest") == 0)
        rc = run_ingest(&o);
    else if (strcmp(argv[1], "query") == 0)
        rc = o.query ? bench_query_run(o.target, o.query, o.param, o.token, o.repeat, o.json)
                     : bad("--query", NULL);
    else
        rc = bad("command (ingest or query)", argv[1]);
    curl_global_cleanup();
    return rc;
}
