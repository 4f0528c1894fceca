/* placeholder: io_posix.c is being written */
typedef int vg__placeholder_io_posix;
