typedef int vg_placeholder_runbook_show_t; /* placeholder */
