/* cli_runbook.c: placeholder until `vigil check` and `vigil runbook show` land. */
#include <stdio.h>

#include "cli.h"

int cli_check(int argc, char **argv)
{
    (void)argc, (void)argv;
    fputs("vigil check: not built yet\n", stderr);
    return 2;
}

int cli_runbook(int argc, char **argv)
{
    (void)argc, (void)argv;
    fputs("vigil runbook: not built yet\n", stderr);
    return 2;
}
