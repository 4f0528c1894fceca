/* placeholder: cli_ingest.c is being written */
typedef int vg__placeholder_cli_ingest;
