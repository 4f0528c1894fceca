/*
 * test_repair.c: damage a database's files on disk, check that opening it
 * fails naming the file and the offset, and that vg_db_repair quarantines
 * exactly the damage and reports what was dropped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/vigil.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("VG_TEST_TMP") ? getenv("VG_TEST_TMP") : "/tmp";
    mkdir(base, 0755);
    snprintf(dir, sizeof dir, "%s/repair.XXXXXX", base);
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static vg_db_t *open_db(void)
{
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    vg_db_t *db = NULL;
    vg_error_t err = {0};
    int rc = vg_db_open(dir, &o, &db, &err);
    if (rc)
        fail_msg("open: %s", err.msg);
    return db;
}

/* Write batches first..first+n-1 of 10 rows each, one WAL record a batch. */
static void write_batches(vg_db_t *db, int first, int n)
{
    int64_t now = vg_now_ns();
    for (int b = first; b < first + n; b++) {
        char buf[4096];
        size_t len = 0;
        for (int i = 0; i < 10; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "t,k=v seq=%di %" PRId64 "\n",
                                    b * 10 + i, now - 1000000000 + b * 10 + i);
        vg_write_result_t res;
        vg_error_t err = {0};
        assert_int_equal(vg_db_write_lp(db, buf, len, NULL, &res, &err), VG_OK);
        assert_int_equal(res.rows, 10);
        vg_write_result_free(&res);
    }
}

static uint64_t count_rows(vg_db_t *db)
{
    vg_rows_t *r;
    vg_error_t err = {0};
    if (vg_rows_open(db, "t", INT64_MIN, INT64_MAX, &r, &err) != VG_OK)
        return 0;
    vg_row_t row;
    uint64_t n = 0;
    while (vg_rows_next(r, &row, &err) == 1)
        n++;
    vg_rows_close(r);
    return n;
}

static void flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x10;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* The first file in dir/sub with the suffix, by name. */
static void first_file(const char *sub, const char *suffix, char *out, size_t cap)
{
    char d[600];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    struct dirent **names;
    int n = scandir(d, &names, NULL, alphasort);
    assert_true(n > 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]->d_name);
        if (!out[0] && l > strlen(suffix) &&
            strcmp(names[i]->d_name + l - strlen(suffix), suffix) == 0)
            snprintf(out, cap, "%s/%s", d, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    assert_true(out[0] != '\0');
}

static void test_repair_cuts_a_damaged_old_wal_file_and_counts_what_it_drops(void **state)
{
    (void)state;
    vg_db_t *db = open_db();
    write_batches(db, 0, 5);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
    db = open_db(); /* a second WAL file: the first is no longer the last */
    write_batches(db, 5, 5);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);

    char wal[700];
    first_file("wal", ".wal", wal, sizeof wal);
    /* the third record of the first file: walk the record headers
     * (16-byte file header; a record is a 32-byte header, length at +16) */
    long off = 16;
    for (int i = 0; i < 2; i++) {
        int fd = open(wal, O_RDONLY);
        uint32_t clen;
        assert_int_equal(pread(fd, &clen, 4, off + 16), 4);
        close(fd);
        off += 32 + (long)clen;
    }
    flip_byte(wal, off + 40);

    vg_db_opts_t o;
    vg_db_opts_default(&o);
    o.background = 0;
    vg_error_t err = {0};
    assert_int_equal(vg_db_open(dir, &o, &db, &err), VG_ECORRUPT);
    assert_non_null(strstr(err.msg, wal));
    char want[64];
    snprintf(want, sizeof want, "offset %ld", off);
    assert_non_null(strstr(err.msg, want));

    vg_repair_report_t rep;
    assert_int_equal(vg_db_repair(dir, &rep, NULL, NULL, &err), VG_OK);
    assert_int_equal(rep.wal_records_dropped, 3); /* the damaged record and the two after it */
    assert_int_equal(rep.rows_dropped, 20);        /* the rows of the two whole ones */
    assert_int_equal(rep.files_quarantined, 1);

    db = open_db();
    assert_int_equal(count_rows(db), 70);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
}

static void test_repair_quarantines_a_damaged_segment_and_counts_its_rows(void **state)
{
    (void)state;
    vg_db_t *db = open_db();
    write_batches(db, 0, 4);
    vg_error_t err = {0};
    assert_int_equal(vg_db_flush(db, &err), VG_OK);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);

    char seg[700];
    first_file("segments", ".seg", seg, sizeof seg);
    flip_byte(seg, 40); /* inside the first block's data */

    db = open_db();
    vg_rows_t *r;
    vg_row_t row;
    int rc = vg_rows_open(db, "t", INT64_MIN, INT64_MAX, &r, &err);
    if (rc == VG_OK) {
        while ((rc = vg_rows_next(r, &row, &err)) == 1)
            ;
        vg_rows_close(r);
    }
    assert_int_equal(rc, VG_ECORRUPT);
    assert_non_null(strstr(err.msg, seg));
    assert_int_equal(vg_db_close(db, NULL), VG_OK);

    vg_repair_report_t rep;
    assert_int_equal(vg_db_repair(dir, &rep, NULL, NULL, &err), VG_OK);
    assert_int_equal(rep.files_quarantined, 1);
    assert_int_equal(rep.rows_dropped, 40);
    assert_int_equal(access(seg, F_OK), -1);

    db = open_db();
    assert_int_equal(count_rows(db), 0);
    write_batches(db, 10, 1); /* and it takes writes again */
    assert_int_equal(count_rows(db), 10);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
}

static void test_repair_rebuilds_a_corrupt_catalog_from_the_segments(void **state)
{
    (void)state;
    vg_db_t *db = open_db();
    write_batches(db, 0, 3);
    vg_error_t err = {0};
    assert_int_equal(vg_db_flush(db, &err), VG_OK);
    write_batches(db, 3, 2);
    assert_int_equal(vg_db_flush(db, &err), VG_OK);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);

    char cat[600];
    snprintf(cat, sizeof cat, "%s/CATALOG", dir);
    flip_byte(cat, 20);
    vg_db_opts_t o;
    vg_db_opts_default(&o);
    assert_int_equal(vg_db_open(dir, &o, &db, &err), VG_ECORRUPT);
    assert_non_null(strstr(err.msg, cat));

    vg_repair_report_t rep;
    assert_int_equal(vg_db_repair(dir, &rep, NULL, NULL, &err), VG_OK);
    assert_int_equal(rep.files_quarantined, 1);
    assert_int_equal(rep.rows_dropped, 0);
    db = open_db();
    assert_int_equal(count_rows(db), 50);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
}

static void test_repair_of_a_sound_folder_changes_nothing(void **state)
{
    (void)state;
    vg_db_t *db = open_db();
    write_batches(db, 0, 3);
    vg_error_t err = {0};
    assert_int_equal(vg_db_flush(db, &err), VG_OK);
    write_batches(db, 3, 2);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
    vg_repair_report_t rep;
    assert_int_equal(vg_db_repair(dir, &rep, NULL, NULL, &err), VG_OK);
    assert_int_equal(rep.files_quarantined + rep.rows_dropped + rep.wal_records_dropped, 0);
    db = open_db();
    assert_int_equal(count_rows(db), 50);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
}

static void test_repair_refuses_a_folder_in_use(void **state)
{
    (void)state;
    vg_db_t *db = open_db();
    vg_repair_report_t rep;
    vg_error_t err = {0};
    /* fcntl locks are per process: check from a child */
    pid_t pid = fork();
    if (pid == 0)
        _exit(vg_db_repair(dir, &rep, NULL, NULL, &err) == VG_ELOCKED ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(vg_db_close(db, NULL), VG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_repair_cuts_a_damaged_old_wal_file_and_counts_what_it_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_repair_quarantines_a_damaged_segment_and_counts_its_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_rebuilds_a_corrupt_catalog_from_the_segments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_of_a_sound_folder_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repair_refuses_a_folder_in_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
