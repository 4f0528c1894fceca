/*
 * cli_simulate.c: `vigil simulate`: realistic LLM traffic as line protocol
 * on standard output, in time order, deterministic for a seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "simulate.h"

static const char help[] =
    "usage: vigil simulate [--seed N] [--start T] [--duration D] [--rate R]\n"
    "                      [--profile full|bench] [--incident NAME@OFFSET[+DURATION]]\n"
    "Write simulated LLM traffic as line protocol to standard output, in time order,\n"
    "for the tables llm_request, tool_call, eval_result and change_event.\n"
    "  --seed N        random seed (default 1); the same seed gives the same bytes\n"
    "  --start T       first timestamp (default: duration before now)\n"
    "  --duration D    how long a stretch to simulate (default 1h)\n"
    "  --rate R        mean llm_request rows per second (default 20)\n"
    "  --profile P     full (default) or bench: llm_request with numeric and bool\n"
    "                  fields only, which every peer database stores exactly\n";

int cli_simulate(int argc, char **argv)
{
    if (cli_has_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    vg_sim_opts_t o;
    vg_sim_opts_default(&o);
    const char *start = NULL;
    vg_error_t err = {0};
    int64_t now = vg_now_ns();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "vigil simulate: %s needs a value\n%s", a, help);
            return 2;
        }
        i++;
        if (strcmp(a, "--seed") == 0) {
            o.seed = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--start") == 0) {
            start = v;
        } else if (strcmp(a, "--duration") == 0) {
            if (vg_duration_parse(v, &o.duration_ns, &err)) {
                fprintf(stderr, "vigil simulate: %s\n", err.msg);
                return 2;
            }
        } else if (strcmp(a, "--rate") == 0) {
            o.rate = strtod(v, NULL);
            if (!(o.rate > 0)) {
                fprintf(stderr, "vigil simulate: --rate must be positive\n");
                return 2;
            }
        } else if (strcmp(a, "--profile") == 0) {
            if (strcmp(v, "full") == 0)
                o.profile = VG_SIM_FULL;
            else if (strcmp(v, "bench") == 0)
                o.profile = VG_SIM_BENCH;
            else {
                fprintf(stderr, "vigil simulate: unknown profile '%s' (full or bench)\n", v);
                return 2;
            }
        } else if (strcmp(a, "--incident") == 0) {
            if (vg_sim_add_incident(&o, v, &err)) {
                fprintf(stderr, "vigil simulate: %s\n", err.msg);
                return 2;
            }
        } else {
            fprintf(stderr, "vigil simulate: unknown option '%s'\n%s", a, help);
            return 2;
        }
    }
    o.start_ns = now - o.duration_ns;
    if (start && vg_time_parse(start, now, &o.start_ns, &err)) {
        fprintf(stderr, "vigil simulate: %s\n", err.msg);
        return 2;
    }
    vg_sim_t *sim;
    if (vg_sim_create(&o, &sim, &err)) {
        fprintf(stderr, "vigil simulate: %s\n", err.msg);
        return 2;
    }
    size_t cap = 1u << 20, len;
    char *buf = malloc(cap);
    int more = buf != NULL;
    while (more) {
        more = vg_sim_next(sim, buf, cap, &len);
        if (fwrite(buf, 1, len, stdout) != len)
            break;
    }
    free(buf);
    vg_sim_destroy(sim);
    return fflush(stdout) == 0 && buf ? 0 : 1;
}
