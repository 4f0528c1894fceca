/* placeholder: colvec.c is being written */
typedef int vg__placeholder_colvec;
