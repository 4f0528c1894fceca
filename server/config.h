/*
 * config.h: vigild's options (config.c): defaults, the YAML file, flags.
 */
#ifndef VG_SERVER_CONFIG_H
#define VG_SERVER_CONFIG_H

#include <stddef.h>

#include "srv.h"

void vg_srv_config_default(vg_srv_config_t *c);
void vg_srv_config_free(vg_srv_config_t *c);
/* One option by flag name and value: 1 taken, 0 unknown name, -1 bad value. */
int vg_srv_option(vg_srv_config_t *c, const char *name, const char *value);
/* Apply a YAML file of `key: value` lines; -1 with err naming file, line, column. */
int vg_srv_config_file(vg_srv_config_t *c, const char *path, char *err, size_t errcap);
extern const char vg_srv_options_help[];

#endif
