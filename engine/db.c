/* placeholder: db.c is being written */
typedef int vg__placeholder_db;
