/* placeholder: db_recover.c is being written */
typedef int vg__placeholder_db_recover;
