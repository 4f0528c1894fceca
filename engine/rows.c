/* placeholder: rows.c is being written */
typedef int vg__placeholder_rows;
