/* placeholder: db_write.c is being written */
typedef int vg__placeholder_db_write;
