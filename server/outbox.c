typedef int vg_placeholder_outbox_t; /* placeholder */
