/*
 * bench_lp.c: line-protocol parser throughput, the parser alone.
 *
 * Builds about MB megabytes (default 200) of realistic LLM request lines in
 * memory with a fixed-seed generator (so every run parses the same bytes),
 * then parses the whole buffer five times and reports the median pass in
 * MB/s and lines/s. Usage: bench_lp [MB]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_lp.h"

#define PASSES 5

static uint64_t rng_state = 0x853C49E6748FEA9Bu;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd() % n];
}

#define PICK(v) pick((v), sizeof(v) / sizeof((v)[0]))

/* One line shaped like the request records of an LLM gateway. */
static int gen_line(char *dst, size_t cap, int64_t ts)
{
    static const char *const services[] = {"support", "search", "billing", "agent", "docs-qa"};
    static const char *const envs[] = {"prod", "staging", "canary"};
    static const char *const routes[] = {"refund_qa", "triage", "summarize", "tool_call",
                                         "rag_answer", "classify"};
    static const char *const models[] = {"provider=openai,model=gpt-4o",
                                         "provider=openai,model=gpt-4o-mini",
                                         "provider=anthropic,model=claude-3-5-sonnet",
                                         "provider=google,model=gemini-1.5-pro"};
    static const char *const finishes[] = {"stop", "length", "tool_calls", "content_filter"};
    uint64_t r = rnd();
    double latency = 0.2 + (double)(r % 9000) / 1000.0;
    double ttft = 0.05 + (double)((r >> 16) % 1500) / 1000.0;
    unsigned in_tok = 50 + (unsigned)((r >> 24) % 8000), out_tok = 1 + (unsigned)((r >> 40) % 1200);
    return snprintf(dst, cap,
                    "llm_request,service=%s,env=%s,route=%s,%s,prompt_ver=%s@v%u,finish=%s "
                    "latency_s=%.2f,ttft_s=%.2f,input_tokens=%ui,output_tokens=%ui,"
                    "cost_usd=%.5f,refusal=%s,quality=%.2f,request_id=\"r-%05x\" %lld\n",
                    PICK(services), PICK(envs), PICK(routes), PICK(models), PICK(routes),
                    (unsigned)(r >> 56) % 20, PICK(finishes), latency, ttft, in_tok, out_tok,
                    (in_tok * 2.5 + out_tok * 10.0) / 1e6, (r >> 50) % 50 ? "false" : "true",
                    (double)((r >> 32) % 100) / 100.0, (unsigned)(r & 0xFFFFF), (long long)ts);
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One pass over the buffer; returns lines parsed, counts rejected lines. */
static uint64_t parse_all(vg_lp_parser_t *p, const char *buf, size_t len, uint64_t *bad,
                          uint64_t *check)
{
    vg_lp_line_t *l;
    vg_lp_error_t e;
    uint64_t lines = 0;
    int rc;
    p->lineno = 0;
    vg_lp_feed(p, buf, len);
    while ((rc = vg_lp_next(p, &l, &e)) != 0) {
        if (rc < 0) {
            (*bad)++;
            continue;
        }
        lines++;
        *check += l->nfields + l->ntags + (uint64_t)l->ts;
    }
    return lines;
}

int main(int argc, char **argv)
{
    double mb = argc > 1 ? strtod(argv[1], NULL) : 200.0;
    if (mb <= 0) {
        (void)fprintf(stderr, "usage: bench_lp [MB]\n");
        return 2;
    }
    printf("command:");
    for (int i = 0; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");

    size_t want = (size_t)(mb * 1024 * 1024), len = 0;
    char *buf = vg_malloc(want + 1024);
    if (buf == NULL) {
        (void)fprintf(stderr, "bench_lp: cannot allocate %zu bytes\n", want);
        return 1;
    }
    int64_t ts = INT64_C(1732700000000000000);
    uint64_t nlines = 0;
    while (len < want) {
        len += (size_t)gen_line(buf + len, want + 1024 - len, ts);
        ts += 1000000 + (int64_t)(rnd() % 1000000);
        nlines++;
    }
    printf("input: %llu lines, %.1f MB, %.0f bytes/line\n", (unsigned long long)nlines,
           (double)len / 1048576.0, (double)len / (double)nlines);

    vg_lp_parser_t p;
    vg_lp_init(&p, NULL, VG_PREC_NS);
    /* CPU time is reported beside wall time: on a busy machine it is the
     * steadier of the two. */
    double secs[PASSES], cpu[PASSES];
    uint64_t check = 0, bad = 0, lines = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        lines = parse_all(&p, buf, len, &bad, &check);
        secs[pass] = clock_s(CLOCK_MONOTONIC) - t0;
        cpu[pass] = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        printf("pass %d: %.3f s, %.1f MB/s (cpu %.3f s)\n", pass + 1, secs[pass],
               (double)len / 1048576.0 / secs[pass], cpu[pass]);
    }
    vg_lp_reset(&p);
    qsort(secs, PASSES, sizeof secs[0], cmp_double);
    qsort(cpu, PASSES, sizeof cpu[0], cmp_double);
    double med = secs[PASSES / 2];
    printf("parsed %llu lines per pass, %llu rejected (checksum %llx)\n",
           (unsigned long long)lines, (unsigned long long)bad, (unsigned long long)check);
    printf("median of %d passes: %.1f MB/s, %.2f M lines/s, %.0f ns/line\n", PASSES,
           (double)len / 1048576.0 / med, (double)lines / med / 1e6, med * 1e9 / (double)lines);
    printf("median cpu time: %.1f MB/s, %.0f ns/line\n", (double)len / 1048576.0 / cpu[PASSES / 2],
           cpu[PASSES / 2] * 1e9 / (double)lines);
    vg_free(buf);
    return bad ? 1 : 0;
}
