/* placeholder: cli_util.c is being written */
typedef int vg__placeholder_cli_util;
