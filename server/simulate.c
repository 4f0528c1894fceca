/* placeholder: simulate.c is being written */
typedef int vg__placeholder_simulate;
