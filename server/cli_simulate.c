/* placeholder: cli_simulate.c is being written */
typedef int vg__placeholder_cli_simulate;
