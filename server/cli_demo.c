/* placeholder: cli_demo.c is being written */
typedef int vg__placeholder_cli_demo;
