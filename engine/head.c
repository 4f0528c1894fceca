/* placeholder: head.c is being written */
typedef int vg__placeholder_head;
