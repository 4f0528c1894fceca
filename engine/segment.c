/* placeholder: segment.c is being written */
typedef int vg__placeholder_segment;
