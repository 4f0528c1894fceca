/* placeholder: io.c is being written */
typedef int vg__placeholder_io;
