/*
 * vigil.c: the `vigil` command. Embedded use is the default, as with
 * sqlite3: the commands open a data folder directly.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char usage[] =
    "usage: vigil COMMAND [ARGS]\n"
    "\n"
    "Vigil stores a record per LLM request, tool call, evaluation and change,\n"
    "and answers windowed questions over them.\n"
    "\n"
    "commands:\n"
    "  ingest DIR [FILE|-] [--precision ns|us|ms|s]   load line protocol into DIR\n"
    "  stats DIR                                      tables, columns, rows, bytes\n"
    "  dump DIR TABLE [--since T] [--until T] [--format lp|csv]\n"
    "                                                 every stored row, in time order\n"
    "  simulate [--seed N] [--start T] [--duration D] [--rate R] [--profile full|bench]\n"
    "                                                 realistic LLM traffic as line protocol\n"
    "  query DIR [--format table|csv|json] [--at T] [--ascii] \"QUERY\"\n"
    "                                                 run a query (SELECT ... FROM ...)\n"
    "  shell DIR                                      the interactive shell (also: vigil DIR)\n"
    "  repair DIR                                     quarantine damaged files\n"
    "  demo [--incident NAME] [--webhook URL]         eight simulated days with an incident, the\n"
    "                                                 shipped runbooks run over them, the alerts\n"
    "  check [--data DIR|--connect URL] RUNBOOK...    validate runbooks (file:line:column)\n"
    "  runbook show RUNBOOK...                        a runbook as a decision tree\n"
    "  backtest DIR RUNBOOK... [--since T] [--until T] [--step D]\n"
    "                                                 when the rules would have fired\n"
    "  silence add|list|expire DIR|--connect URL ...  silence alerts by their labels\n"
    "\n"
    "\n"
    "ingest, query, stats, dump and shell also take --connect http://HOST:PORT instead of\n"
    "DIR (or $VIGIL_URL when no DIR is given; $VIGIL_TOKEN is sent as the server's token).\n"
    "`vigil COMMAND --help` describes each command's options.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vigil %s\n", VIGIL_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"ingest", cli_ingest}, {"stats", cli_stats},   {"dump", cli_dump},
                {"simulate", cli_simulate}, {"repair", cli_repair}, {"demo", cli_demo},
                {"query", cli_query}, {"shell", cli_shell},
                {"check", cli_check}, {"runbook", cli_runbook}, {"backtest", cli_backtest},
                {"silence", cli_silence}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    /* `vigil DIR`, as `sqlite3 FILE`: the shell on an existing folder */
    struct stat st;
    if (argc == 2 && stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode)) {
        char *sh[] = {"shell", argv[1], NULL};
        return cli_shell(2, sh);
    }
    fprintf(stderr, "vigil: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
