/* placeholder: buf.c is being written */
typedef int vg__placeholder_buf;
