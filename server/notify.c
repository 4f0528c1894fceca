typedef int vg_placeholder_notify_t; /* placeholder */
