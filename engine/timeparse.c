/* placeholder: timeparse.c is being written */
typedef int vg__placeholder_timeparse;
