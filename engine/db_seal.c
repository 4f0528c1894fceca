/* placeholder: db_seal.c is being written */
typedef int vg__placeholder_db_seal;
