/* placeholder: wal.c is being written */
typedef int vg__placeholder_wal;
