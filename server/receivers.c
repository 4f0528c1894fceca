typedef int vg_placeholder_receivers_t; /* placeholder */
