typedef int vg_placeholder_rule_state_t; /* placeholder */
