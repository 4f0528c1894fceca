/* placeholder: cli_dump.c is being written */
typedef int vg__placeholder_cli_dump;
