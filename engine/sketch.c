/* placeholder: sketch.c is being written */
typedef int vg__placeholder_sketch;
