/* placeholder: catalog.c is being written */
typedef int vg__placeholder_catalog;
