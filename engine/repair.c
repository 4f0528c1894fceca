/* placeholder: repair.c is being written */
typedef int vg__placeholder_repair;
