/* placeholder: cli_stats.c is being written */
typedef int vg__placeholder_cli_stats;
