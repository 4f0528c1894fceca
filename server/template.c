typedef int vg_placeholder_template_t; /* placeholder */
