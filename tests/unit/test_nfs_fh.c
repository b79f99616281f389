/* NFS file handles (transport/nfs/fh.c) and the error table
 * (transport/nfs/nfs_err.c): a handle round-trips its fields; any other
 * length, layout or server instance is stale; and every errno the vfs
 * gives maps to the status RFC 1813 has for it. */
#include <errno.h>
#include <string.h>

#include "testutil.h"
#include "transport/nfs/fh.h"
#include "transport/nfs/nfs_err.h"
#include "vfs/vfs.h"

static void test_fh_roundtrip(void **state)
{
    (void)state;
    uint64_t inst = nfs_fh_new_instance();
    assert_true(inst != 0);
    nfs_fh_fields f = {.instance = inst, .generation = 7, .ino = vfs_ino_make(3, 2, 12345)};
    uint8_t fh[NFS_FH_LEN];
    nfs_fh_make(&f, fh);
    nfs_fh_fields back;
    assert_true(nfs_fh_parse(fh, sizeof(fh), inst, &back));
    assert_true(back.instance == inst);
    assert_int_equal(back.generation, 7);
    assert_true(back.ino == f.ino);
    assert_int_equal(vfs_ino_slot(back.ino), 3);
}

static void test_fh_stale(void **state)
{
    (void)state;
    uint64_t inst = 0x1122334455667788ull;
    nfs_fh_fields f = {.instance = inst, .generation = 1, .ino = VFS_ROOT_INO};
    uint8_t fh[NFS_FH_LEN + 1];
    nfs_fh_make(&f, fh);
    nfs_fh_fields out;
    /* Another server instance (a restart): stale. */
    assert_false(nfs_fh_parse(fh, NFS_FH_LEN, inst + 1, &out));
    assert_true(out.ino == 0);
    /* Any other length. */
    for (size_t len = 0; len <= NFS_FH_LEN + 1; len++)
        if (len != NFS_FH_LEN)
            assert_false(nfs_fh_parse(fh, len, inst, &out));
    /* Every single-byte change in the layout fields or instance. */
    for (size_t i = 0; i < 12; i++) {
        uint8_t bad[NFS_FH_LEN];
        memcpy(bad, fh, NFS_FH_LEN);
        bad[i] ^= 0x40;
        assert_false(nfs_fh_parse(bad, NFS_FH_LEN, inst, &out));
    }
    /* Inode 0 names nothing. */
    f.ino = 0;
    nfs_fh_make(&f, fh);
    assert_false(nfs_fh_parse(fh, NFS_FH_LEN, inst, &out));
    /* Two instances differ. */
    assert_true(nfs_fh_new_instance() != nfs_fh_new_instance());
}

static void test_err_table(void **state)
{
    (void)state;
    static const struct {
        int err;
        uint32_t want;
    } cases[] = {
        {0, 0},       {EPERM, 1},         {ENOENT, 2},     {EIO, 5},        {ENXIO, 6},
        {EACCES, 13}, {EEXIST, 17},       {EXDEV, 18},     {ENODEV, 19},    {ENOTDIR, 20},
        {EISDIR, 21}, {EINVAL, 22},       {EFBIG, 27},     {ENOSPC, 28},    {EROFS, 30},
        {EMLINK, 31}, {ENAMETOOLONG, 63}, {ENOTEMPTY, 66}, {EDQUOT, 69},    {ESTALE, 70},
        {EBADF, 70},  {ENOTSUP, 10004},   {ENOSYS, 10004}, {ENOMEM, 10006}, {EAGAIN, 10008},
        {ELOOP, 5},   {EOVERFLOW, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (nfs_err_from_errno(cases[i].err) != cases[i].want)
            print_error("errno %d: got %u, want %u\n", cases[i].err,
                        nfs_err_from_errno(cases[i].err), cases[i].want);
        assert_int_equal(nfs_err_from_errno(cases[i].err), cases[i].want);
    }
    assert_int_equal(nfs_err_take(NULL), 0);
    assert_int_equal(nfs_err_take(strata_err_sys(ENOENT, NULL, "lookup x")), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fh_roundtrip),
        cmocka_unit_test(test_fh_stale),
        cmocka_unit_test(test_err_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
