/* XDR (transport/nfs/xdr.c): every primitive round-trips, padding is
 * written as zeros and checked on read, and a short or lying buffer fails
 * without reading past its end (the sticky error then gives zeros). */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "transport/nfs/xdr.h"

static void test_roundtrip(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 4096);
    xdr_put_u32(&e, 0xdeadbeef);
    xdr_put_u64(&e, 0x0102030405060708ull);
    xdr_put_i32(&e, -7);
    xdr_put_bool(&e, true);
    xdr_put_bool(&e, false);
    xdr_put_opaque_fixed(&e, "abcde", 5);
    xdr_put_opaque_var(&e, "xy", 2);
    xdr_put_string(&e, "name");
    xdr_put_opaque_var(&e, "", 0);
    assert_false(e.err);
    /* 4 + 8 + 4 + 4 + 4 + (5 + 3) + (4 + 2 + 2) + (4 + 4) + 4 */
    assert_int_equal(e.len, 52);
    /* Big-endian, and padding is zeros. */
    assert_memory_equal(e.buf, "\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08", 12);
    assert_memory_equal(e.buf + 24, "abcde\0\0\0", 8);

    xdr_dec d;
    xdr_dec_init(&d, e.buf, e.len);
    assert_int_equal(xdr_u32(&d), 0xdeadbeef);
    assert_true(xdr_u64(&d) == 0x0102030405060708ull);
    assert_int_equal(xdr_i32(&d), -7);
    assert_true(xdr_bool(&d));
    assert_false(xdr_bool(&d));
    const uint8_t *p = xdr_opaque_fixed(&d, 5);
    assert_non_null(p);
    assert_memory_equal(p, "abcde", 5);
    uint32_t n;
    p = xdr_opaque_var(&d, 16, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "xy", 2);
    char s[9];
    assert_true(xdr_string(&d, 8, s));
    assert_string_equal(s, "name");
    p = xdr_opaque_var(&d, 16, &n);
    assert_non_null(p);
    assert_int_equal(n, 0);
    assert_true(xdr_done(&d));
    xdr_enc_free(&e);
}

/* Every prefix of a valid message fails cleanly: no read beyond it, and
 * zeros from the failed read on. */
static void test_truncated(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 1024);
    xdr_put_u32(&e, 1);
    xdr_put_opaque_var(&e, "hello", 5);
    xdr_put_u64(&e, 99);
    size_t full = e.len;
    for (size_t len = 0; len < full; len++) {
        /* A heap copy of exactly len bytes, so ASan sees any overread. */
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, e.buf, len);
        xdr_dec d;
        xdr_dec_init(&d, copy, len);
        (void)xdr_u32(&d);
        uint32_t n;
        (void)xdr_opaque_var(&d, 64, &n);
        uint64_t v = xdr_u64(&d);
        assert_true(d.err);
        assert_false(xdr_done(&d));
        assert_true(v == 0);
        assert_int_equal(xdr_left(&d), 0);
        free(copy);
    }
    xdr_enc_free(&e);
}

static void test_lies(void **state)
{
    (void)state;
    /* A length beyond the bound, and one beyond the buffer. */
    static const uint8_t big[] = {0x00, 0x00, 0x01, 0x00, 'a', 'b', 'c', 'd'};
    xdr_dec d;
    uint32_t n;
    xdr_dec_init(&d, big, sizeof(big));
    assert_null(xdr_opaque_var(&d, 255, &n));
    assert_true(d.err);
    assert_int_equal(n, 0);
    xdr_dec_init(&d, big, sizeof(big));
    assert_null(xdr_opaque_var(&d, 1024, &n));
    assert_true(d.err);
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff};
    xdr_dec_init(&d, huge, sizeof(huge));
    assert_null(xdr_opaque_var(&d, UINT32_MAX, &n));
    assert_true(d.err);

    /* Non-zero padding is not XDR. */
    static const uint8_t badpad[] = {0, 0, 0, 1, 'a', 0, 1, 0};
    xdr_dec_init(&d, badpad, sizeof(badpad));
    assert_null(xdr_opaque_var(&d, 8, &n));
    assert_true(d.err);

    /* A boolean is 0 or 1; an enum stays below its count. */
    static const uint8_t two[] = {0, 0, 0, 2};
    xdr_dec_init(&d, two, sizeof(two));
    (void)xdr_bool(&d);
    assert_true(d.err);
    xdr_dec_init(&d, two, sizeof(two));
    assert_int_equal(xdr_enum(&d, 3), 2);
    assert_false(d.err);
    xdr_dec_init(&d, two, sizeof(two));
    assert_int_equal(xdr_enum(&d, 2), 0);
    assert_true(d.err);

    /* A string may not hold a NUL. */
    static const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'b', 0};
    char s[8];
    xdr_dec_init(&d, nul, sizeof(nul));
    assert_false(xdr_string(&d, 7, s));
    assert_string_equal(s, "");

    /* Trailing bytes mean the message was not what it claimed. */
    static const uint8_t extra[] = {0, 0, 0, 1, 0, 0, 0, 0};
    xdr_dec_init(&d, extra, sizeof(extra));
    assert_int_equal(xdr_u32(&d), 1);
    assert_false(xdr_done(&d));
}

/* The encoder never passes its limit, and stays failed once it has hit it. */
static void test_limit(void **state)
{
    (void)state;
    xdr_enc e;
    xdr_enc_init(&e, 10);
    xdr_put_u32(&e, 1);
    xdr_put_u32(&e, 2);
    assert_false(e.err);
    assert_int_equal(xdr_enc_room(&e), 2);
    xdr_put_u32(&e, 3);
    assert_true(e.err);
    assert_int_equal(e.len, 8);
    xdr_put_opaque_fixed(&e, "a", 1);
    assert_int_equal(e.len, 8);
    assert_int_equal(xdr_enc_room(&e), 0);
    xdr_enc_reset(&e);
    assert_false(e.err);
    assert_int_equal(e.len, 0);
    xdr_enc_free(&e);

    /* Space reserved for data written in place, then cut to what came. */
    xdr_enc_init(&e, 1 << 20);
    uint8_t *p = xdr_put_space(&e, 6);
    assert_non_null(p);
    memcpy(p, "abcdef", 6);
    assert_int_equal(e.len, 8);
    assert_memory_equal(e.buf + 6, "\0\0", 2);
    xdr_enc_truncate(&e, 4);
    assert_int_equal(e.len, 4);
    xdr_enc_truncate(&e, 100); /* beyond what is written: nothing */
    assert_int_equal(e.len, 4);
    /* Growing past the first allocation keeps what was written. */
    for (uint32_t i = 0; i < 1000; i++)
        xdr_put_u32(&e, i);
    assert_false(e.err);
    xdr_dec d;
    xdr_dec_init(&d, e.buf + 4, e.len - 4);
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(xdr_u32(&d), i);
    assert_true(xdr_done(&d));
    xdr_enc_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_lies),
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
