/*
 * vigild.c: the Vigil server: line protocol over TCP (lp_server.c), the HTTP
 * API (http*.c), one database folder.
 *
 *   vigild --data DIR [--config FILE] [--http ADDR:PORT] [--lp ADDR:PORT] [--token T] ...
 *
 * Start-up: options (file, then flags); refuse a non-loopback address
 * without a token; raise the open-file limit to what the connection limits
 * need or refuse; open the folder (recovery); start the listeners.
 * SIGTERM/SIGINT: stop accepting, finish and acknowledge what is in flight,
 * sync, close. TLS is left to a reverse proxy in front.
 */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "config.h"
#include "srv.h"

int vg_srv_token_ok(const vg_server_t *s, const char *given, size_t n)
{
    if (!s->cfg.token)
        return 1;
    /* hash both sides, so neither the comparison nor its length leaks the token */
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)given, n, a);
    SHA256((const unsigned char *)s->cfg.token, strlen(s->cfg.token), b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vigild --data DIR [options]\n"
               "The Vigil server: line protocol over TCP, the HTTP API, one data folder.\n\n%s\n%s",
            vg_srv_options_help, cli_db_options_help);
}

/* Is the host part of ADDR:PORT a loopback address? */
static int loopback(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
    if (n >= sizeof host)
        return 0;
    memcpy(host, addr, n);
    host[n] = '\0';
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (!strcmp(host, "localhost"))
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

static int parse_args(int argc, char **argv, vg_srv_config_t *c)
{
    const char *config = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config"))
            config = argv[i + 1];
    char err[512];
    if (config && vg_srv_config_file(c, config, err, sizeof err) != 0) {
        fprintf(stderr, "vigild: %s\n", err);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vigild: %s needs a value (see vigild --help)\n", argv[i]);
            return -1;
        }
        int r = vg_srv_option(c, argv[i], argv[i + 1]);
        if (r == 0) {
            fprintf(stderr, "vigild: unknown option '%s' (see vigild --help)\n", argv[i]);
            return -1;
        }
        if (r < 0) {
            fprintf(stderr, "vigild: bad value '%s' for %s\n", argv[i + 1], argv[i]);
            return -1;
        }
        i++;
    }
    if (!c->data) {
        fprintf(stderr, "vigild: --data DIR is required\n");
        return -1;
    }
    return 0;
}

/* Enough descriptors for every connection, the files and some slack, or refuse. */
static int raise_nofile(const vg_srv_config_t *c)
{
    rlim_t need = (rlim_t)c->max_conns + c->http_conns + 256;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        vg_log("error", "the open-file limit is %llu, and %llu are needed for %u line-protocol "
                        "and %u HTTP connections: raise `ulimit -n` or lower --max-conns",
               (unsigned long long)rl.rlim_max, (unsigned long long)need, c->max_conns,
               c->http_conns);
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        vg_log("error", "cannot raise the open-file limit to %llu", (unsigned long long)need);
        return -1;
    }
    return 0;
}

/* Length of the host part of ADDR:PORT. */
static int host_len(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    return colon ? (int)(colon - addr) : (int)strlen(addr);
}

static int run(vg_server_t *s)
{
    /* signals are taken by this thread alone, with sigwait */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    vg_error_t err = {0};
    s->cfg.db.log = vg_log_db;
    if (vg_db_open(s->cfg.data, &s->cfg.db, &s->db, &err) != VG_OK) {
        vg_log("error", "%s", err.msg);
        return 1;
    }
    vg_log("info", "opened %s", s->cfg.data);
    char why[512] = "";
    vg_lpsrv_t *lp = NULL;
    vg_http_t *http = NULL;
    int rc = 0;
    if (vg_lpsrv_start(s, &lp, why, sizeof why) != 0) {
        vg_log("error", "line protocol on %s: %s", s->cfg.lp_addr, why);
        rc = 1;
    } else if (vg_http_start(s, &http, why, sizeof why) != 0) {
        vg_log("error", "http on %s: %s", s->cfg.http_addr, why);
        rc = 1;
    }
    if (rc == 0) {
        vg_log("info", "http listening on %.*s:%d", host_len(s->cfg.http_addr), s->cfg.http_addr,
               s->http_port);
        if (vg_srv_alerting_start(s, why, sizeof why) != 0) {
            vg_log("error", "alerting: %s", why);
            rc = 1;
        }
    }
    if (rc == 0) {
        vg_log("info", "ready");
        int sig = 0;
        while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
            vg_srv_reload(s, why, sizeof why); /* logs its outcome */
        vg_log("info", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    }
    vg_lpsrv_stop(lp);
    vg_http_stop(http);
    vg_srv_alerting_stop(s);
    if (vg_db_close(s->db, &err) != VG_OK) {
        vg_log("error", "closing %s: %s", s->cfg.data, err.msg);
        rc = 1;
    }
    vg_log("info", "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    vg_server_t s;
    memset(&s, 0, sizeof s);
    vg_srv_config_default(&s.cfg);
    if (parse_args(argc, argv, &s.cfg) != 0) {
        vg_srv_config_free(&s.cfg);
        return 2;
    }
    if (!s.cfg.token && (!loopback(s.cfg.http_addr) || !loopback(s.cfg.lp_addr))) {
        vg_log("error", "refusing to listen beyond loopback (%s, %s) without --token: anyone "
                        "who reaches the port could write and read",
               s.cfg.http_addr, s.cfg.lp_addr);
        vg_srv_config_free(&s.cfg);
        return 2;
    }
    int rc = raise_nofile(&s.cfg) ? 1 : run(&s);
    vg_srv_config_free(&s.cfg);
    return rc;
}
