typedef int vg_placeholder_alert_store_t; /* placeholder */
