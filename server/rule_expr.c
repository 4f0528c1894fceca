typedef int vg_placeholder_rule_expr_t; /* placeholder */
