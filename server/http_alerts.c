typedef int vg_placeholder_http_alerts_t; /* placeholder */
