typedef int vg_placeholder_webhook_t; /* placeholder */
