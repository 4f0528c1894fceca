/* cli_backtest.c: placeholder until `vigil backtest` lands. */
#include <stdio.h>

#include "cli.h"

int cli_backtest(int argc, char **argv)
{
    (void)argc, (void)argv;
    fputs("vigil backtest: not built yet\n", stderr);
    return 2;
}
