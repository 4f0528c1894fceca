typedef int vg_placeholder_silence_t; /* placeholder */
