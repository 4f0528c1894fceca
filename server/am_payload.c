typedef int vg_placeholder_am_payload_t; /* placeholder */
