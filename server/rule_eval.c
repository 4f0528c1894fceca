typedef int vg_placeholder_rule_eval_t; /* placeholder */
