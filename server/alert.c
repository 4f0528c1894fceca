typedef int vg_placeholder_alert_t; /* placeholder */
