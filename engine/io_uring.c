/* placeholder: io_uring.c is being written */
typedef int vg__placeholder_io_uring;
