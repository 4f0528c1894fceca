/* test_crc32c.c: the checksum against the RFC 3720 check values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

static void test_crc32c_matches_rfc3720_check_value(void **state)
{
    (void)state;
    assert_int_equal(vg_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    assert_int_equal(vg_crc32c(0, zeros, 32), 0x8A9136AAu);
}

static void test_crc32c_extends_incrementally(void **state)
{
    (void)state;
    const char *s = "the quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint32_t whole = vg_crc32c(0, s, n);
    for (size_t cut = 0; cut <= n; cut++)
        assert_int_equal(vg_crc32c(vg_crc32c(0, s, cut), s + cut, n - cut), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_matches_rfc3720_check_value),
        cmocka_unit_test(test_crc32c_extends_incrementally),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
