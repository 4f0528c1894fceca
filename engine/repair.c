/*
 * repair.c: `vigil repair DIR`: move damaged files into DIR/quarantine/ and
 * report what was dropped.
 *
 *  - a segment whose header, footer, index or any block fails its checks is
 *    moved aside (its rows are counted when its index could be read), and the
 *    catalog is rewritten without it;
 *  - a catalog that fails its checksum is moved aside and rebuilt from the
 *    segment files, which describe themselves;
 *  - a WAL file damaged in the middle is cut at the damage: the bytes from
 *    there on are saved in quarantine/ and the valid records after the damage
 *    that are lost with them are counted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db_int.h"
#include "vigil/vg_alloc.h"

int vg_db_repair(const char *dir, vg_repair_report_t *rep, vg_db_log_fn log, void *log_ctx,
                 vg_error_t *err)
{
    (void)log;
    (void)log_ctx;
    memset(rep, 0, sizeof *rep);
    return vg_error_set(err, VG_EINVAL, "repair of %s: not implemented yet", dir);
}
