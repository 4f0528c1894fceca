/* placeholder: cli_repair.c is being written */
typedef int vg__placeholder_cli_repair;
