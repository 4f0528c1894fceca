/* cli_silence.c: placeholder until `vigil silence` lands. */
#include <stdio.h>

#include "cli.h"

int cli_silence(int argc, char **argv)
{
    (void)argc, (void)argv;
    fputs("vigil silence: not built yet\n", stderr);
    return 2;
}
