/* placeholder: lp.c is being written */
typedef int vg__placeholder_lp;
