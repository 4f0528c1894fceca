typedef int vg_placeholder_enrich_t; /* placeholder */
