typedef int vg_placeholder_runbook_load_t; /* placeholder */
