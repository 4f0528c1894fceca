/* placeholder: encode.c is being written */
typedef int vg__placeholder_encode;
