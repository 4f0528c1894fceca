typedef int vg_placeholder_scheduler_t; /* placeholder */
