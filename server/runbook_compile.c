typedef int vg_placeholder_runbook_compile_t; /* placeholder */
