/* cli_repair.c: `vigil repair DIR`. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

int cli_repair(int argc, char **argv)
{
    if (cli_has_help(argc, argv) || argc != 2) {
        fputs("usage: vigil repair DIR\nMove damaged files of DIR into DIR/quarantine/ and "
              "report how many rows and records were dropped.\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    vg_repair_report_t rep;
    vg_error_t err = {0};
    if (vg_db_repair(argv[1], &rep, cli_log, NULL, &err) != VG_OK) {
        fprintf(stderr, "vigil repair: %s\n", err.msg);
        return 1;
    }
    printf("%" PRIu64 " files quarantined, %" PRIu64 " WAL records dropped, %" PRIu64
           " rows dropped, %" PRIu64 " torn WAL bytes cut\n",
           rep.files_quarantined, rep.wal_records_dropped, rep.rows_dropped, rep.wal_bytes_cut);
    return 0;
}
