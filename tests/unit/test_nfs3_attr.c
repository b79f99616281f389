/* NFSv3 NULL, GETATTR, SETATTR, ACCESS, FSSTAT, FSINFO, PATHCONF, the
 * MOUNT procedures, and every way the dispatcher turns a call away, over
 * a real store and vfs (nfs_testenv.h). */
#include <string.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>

#include "nfs_testenv.h"
#include "testutil.h"
#include "transport/nfs/dispatch.h"

static void fill(const char *lower)
{
    tu_write_file(lower, "hello.txt", "hello\n", 6, 0644);
    tu_write_file(lower, "secret", "s", 1, 0600);
    tu_write_file(lower, "tool.sh", "#!/bin/sh\n", 10, 0755);
    tu_write_file(lower, "dir/inner", "x", 1, 0644);
}

static int setup(void **state)
{
    *state = nte_new(fill);
    return 0;
}

static int teardown(void **state)
{
    nte_free(*state);
    return 0;
}

static nfs3_getattr_res getattr(nfs_testenv *t, const nfs3_fh *fh)
{
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_GETATTR, NTE_OWNER), fh);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_getattr_res res;
    assert_true(nfs3_dec_getattr_res(&t->res, &res));
    return res;
}

static void test_null_and_getattr(void **state)
{
    nfs_testenv *t = *state;
    nte_begin(t, NFS3_PROGRAM, NFS3_PROC_NULL, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_int_equal(xdr_left(&t->res), 0);

    nfs3_fh root, f;
    nte_root(t, &root);
    nfs3_getattr_res r = getattr(t, &root);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(r.attr.type, NF3DIR);
    assert_true(r.attr.fileid == vfs_root_ino(0));

    assert_int_equal(nte_lookup_path(t, "hello.txt", &f), NFS3_OK);
    r = getattr(t, &f);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(r.attr.type, NF3REG);
    assert_int_equal(r.attr.mode, 0644);
    assert_int_equal(r.attr.uid, NTE_OWNER); /* a lower entry: the view's owner */
    assert_true(r.attr.size == 6);
    assert_int_equal(r.attr.nlink, 1);

    /* A handle of another server instance, and one of a byte too many. */
    nfs3_fh bad = f;
    bad.data[5] ^= 1;
    assert_int_equal(getattr(t, &bad).status, NFS3ERR_STALE);
    bad = f;
    bad.len = NFS_FH_LEN + 1;
    assert_int_equal(getattr(t, &bad).status, NFS3ERR_STALE);
}

static nfs3_wcc_res setattr(nfs_testenv *t, const nfs3_setattr_args *a, uint32_t uid)
{
    nfs3_enc_setattr_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_SETATTR, uid), a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_wcc_res res;
    assert_true(nfs3_dec_wcc_res(&t->res, &res));
    return res;
}

static void test_setattr(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh f;
    assert_int_equal(nte_lookup_path(t, "hello.txt", &f), NFS3_OK);
    nfs3_getattr_res before = getattr(t, &f);

    /* Mode, size and a client time at once; the wcc says before and after. */
    nfs3_setattr_args a = {.fh = f};
    a.attr.set_mode = true;
    a.attr.mode = 0600;
    a.attr.set_size = true;
    a.attr.size = 3;
    a.attr.set_mtime = NFS3_SET_TO_CLIENT_TIME;
    a.attr.mtime = (nfs3_time){.sec = 1000000, .nsec = 5};
    nfs3_wcc_res r = setattr(t, &a, NTE_OWNER);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.wcc.before.present && r.wcc.before.attr.size == 6);
    assert_true(r.wcc.after.present);
    assert_int_equal(r.wcc.after.attr.mode, 0600);
    assert_true(r.wcc.after.attr.size == 3);
    assert_int_equal(r.wcc.after.attr.mtime.sec, 1000000);
    assert_int_equal(r.wcc.after.attr.mtime.nsec, 5);
    /* The lower file in the store is untouched; the upper holds the copy. */
    char *up = tu_path(t->upper, "hello.txt");
    struct stat st;
    assert_int_equal(stat(up, &st), 0);
    assert_true(st.st_size == 3);
    free(up);
    (void)before;

    /* The guard: a stale ctime is NOT_SYNC and changes nothing. */
    nfs3_getattr_res now = getattr(t, &f);
    a = (nfs3_setattr_args){.fh = f, .guard = true};
    a.guard_ctime = now.attr.ctime;
    a.guard_ctime.nsec ^= 1;
    a.attr.set_mode = true;
    a.attr.mode = 0644;
    r = setattr(t, &a, NTE_OWNER);
    assert_int_equal(r.status, NFS3ERR_NOT_SYNC);
    assert_true(r.wcc.after.present);
    assert_int_equal(r.wcc.after.attr.mode, 0600);
    a.guard_ctime = now.attr.ctime;
    r = setattr(t, &a, NTE_OWNER);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(r.wcc.after.attr.mode, 0644);

    /* A new owner needs root: the owner itself gets PERM, root may. */
    a = (nfs3_setattr_args){.fh = f};
    a.attr.set_uid = true;
    a.attr.uid = 7;
    assert_int_equal(setattr(t, &a, NTE_OWNER).status, NFS3ERR_PERM);
    r = setattr(t, &a, 0);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(r.wcc.after.attr.uid, 7);

    /* Server time. */
    a = (nfs3_setattr_args){.fh = f};
    a.attr.set_atime = NFS3_SET_TO_SERVER_TIME;
    a.attr.set_mtime = NFS3_SET_TO_SERVER_TIME;
    r = setattr(t, &a, 0);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.wcc.after.attr.mtime.sec > 1000000);
}

static uint32_t access_of(nfs_testenv *t, const char *path, uint32_t want, uint32_t uid)
{
    nfs3_access_args a = {.access = want};
    assert_int_equal(nte_lookup_path(t, path, &a.fh), NFS3_OK);
    nfs3_enc_access_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_ACCESS, uid), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_access_res res;
    assert_true(nfs3_dec_access_res(&t->res, &res));
    assert_int_equal(res.status, NFS3_OK);
    assert_true(res.attr.present);
    return res.access;
}

static void test_access(void **state)
{
    nfs_testenv *t = *state;
    const uint32_t all = 0x3f;
    /* The owner, by mode. */
    assert_int_equal(access_of(t, "hello.txt", all, NTE_OWNER),
                     NFS3_ACCESS_READ | NFS3_ACCESS_MODIFY | NFS3_ACCESS_EXTEND);
    assert_int_equal(access_of(t, "tool.sh", all, NTE_OWNER),
                     NFS3_ACCESS_READ | NFS3_ACCESS_MODIFY | NFS3_ACCESS_EXTEND |
                         NFS3_ACCESS_EXECUTE);
    assert_int_equal(access_of(t, "dir", all, NTE_OWNER),
                     NFS3_ACCESS_READ | NFS3_ACCESS_LOOKUP | NFS3_ACCESS_MODIFY |
                         NFS3_ACCESS_EXTEND | NFS3_ACCESS_DELETE);
    /* Only what was asked. */
    assert_int_equal(access_of(t, "hello.txt", NFS3_ACCESS_READ, NTE_OWNER), NFS3_ACCESS_READ);
    /* Another uid (root, the only other one the server lets in) is judged
     * by its own credentials: root may read a 0600 file it does not own,
     * and execute nothing that has no x bit. */
    uint32_t rootgot = access_of(t, "secret", all, 0);
    assert_true(rootgot & NFS3_ACCESS_READ);
    assert_false(rootgot & NFS3_ACCESS_EXECUTE);
}

static void test_fs(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root;
    nte_root(t, &root);
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_FSINFO, NTE_OWNER), &root);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_fsinfo_res fi;
    assert_true(nfs3_dec_fsinfo_res(&t->res, &fi));
    assert_int_equal(fi.status, NFS3_OK);
    assert_int_equal(fi.rtmax, 1u << 20);
    assert_int_equal(fi.wtmax, 1u << 20);
    assert_int_equal(fi.properties & (NFS3_FSF_LINK | NFS3_FSF_SYMLINK | NFS3_FSF_CANSETTIME),
                     NFS3_FSF_LINK | NFS3_FSF_SYMLINK | NFS3_FSF_CANSETTIME);
    assert_true(fi.attr.present);

    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_FSSTAT, NTE_OWNER), &root);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_fsstat_res fs;
    assert_true(nfs3_dec_fsstat_res(&t->res, &fs));
    assert_int_equal(fs.status, NFS3_OK);
    assert_true(fs.tbytes > 0 && fs.fbytes <= fs.tbytes && fs.abytes <= fs.fbytes);

    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_PATHCONF, NTE_OWNER), &root);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_pathconf_res pc;
    assert_true(nfs3_dec_pathconf_res(&t->res, &pc));
    assert_int_equal(pc.status, NFS3_OK);
    assert_int_equal(pc.name_max, 255);
    assert_true(pc.no_trunc && pc.case_preserving && !pc.case_insensitive);
}

static void test_mount(void **state)
{
    nfs_testenv *t = *state;
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_NULL, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);

    mnt3_path_args p;
    snprintf(p.path, sizeof(p.path), "/");
    mnt3_enc_path_args(nte_begin(t, MNT3_PROGRAM, MNT3_PROC_MNT, NTE_OWNER), &p);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    mnt3_mnt_res m;
    assert_true(mnt3_dec_mnt_res(&t->res, &m));
    assert_int_equal(m.status, MNT3_OK);
    nfs3_fh root;
    nte_root(t, &root);
    assert_int_equal(m.fh.len, root.len);
    assert_memory_equal(m.fh.data, root.data, root.len);
    assert_int_equal(m.nflavors, 1);
    assert_int_equal(m.flavors[0], RPC_AUTH_SYS);

    /* Below the export: a directory (also as "" and with slashes), not a
     * file, never above. */
    static const struct {
        const char *path;
        uint32_t want;
    } paths[] = {
        {"/elsewhere", MNT3ERR_NOENT},
        {"/hello.txt", MNT3ERR_NOTDIR},
        {"/../etc", MNT3ERR_ACCES},
        {"/dir/..", MNT3ERR_ACCES},
        {"", MNT3_OK},
        {"//dir/./", MNT3_OK},
        {"/dir", MNT3_OK},
    };
    nfs3_fh dirfh;
    assert_int_equal(nte_lookup_path(t, "dir", &dirfh), NFS3_OK);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(p.path, sizeof(p.path), "%s", paths[i].path);
        mnt3_enc_path_args(nte_begin(t, MNT3_PROGRAM, MNT3_PROC_MNT, NTE_OWNER), &p);
        assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
        assert_true(mnt3_dec_mnt_res(&t->res, &m));
        if (m.status != paths[i].want)
            print_error("MNT '%s': %u, want %u\n", paths[i].path, m.status, paths[i].want);
        assert_int_equal(m.status, paths[i].want);
    }
    assert_memory_equal(m.fh.data, dirfh.data, dirfh.len); /* the last, "/dir" */
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_UMNTALL, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    snprintf(p.path, sizeof(p.path), "/");
    mnt3_enc_path_args(nte_begin(t, MNT3_PROGRAM, MNT3_PROC_MNT, NTE_OWNER), &p);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);

    mnt3_mount list[4];
    size_t n;
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_DUMP, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(mnt3_dec_dump_res(&t->res, list, 4, &n));
    assert_int_equal(n, 1);
    assert_string_equal(list[0].host, "testhost");
    assert_string_equal(list[0].dir, "/");

    snprintf(p.path, sizeof(p.path), "/");
    mnt3_enc_path_args(nte_begin(t, MNT3_PROGRAM, MNT3_PROC_UMNT, NTE_OWNER), &p);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_DUMP, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(mnt3_dec_dump_res(&t->res, list, 4, &n));
    assert_int_equal(n, 0);

    mnt3_enc_path_args(nte_begin(t, MNT3_PROGRAM, MNT3_PROC_MNT, NTE_OWNER), &p);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_UMNTALL, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_DUMP, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(mnt3_dec_dump_res(&t->res, list, 4, &n));
    assert_int_equal(n, 0);

    mnt3_export x[2];
    nte_begin(t, MNT3_PROGRAM, MNT3_PROC_EXPORT, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    assert_true(mnt3_dec_export_res(&t->res, x, 2, &n));
    assert_int_equal(n, 1);
    assert_string_equal(x[0].dir, "/");
    assert_int_equal(x[0].ngroups, 0);
}

/* A call header written by hand: version, credential flavor. */
static void raw_call(nfs_testenv *t, uint32_t rpcvers, uint32_t prog, uint32_t vers, uint32_t proc,
                     uint32_t flavor, uint32_t uid)
{
    xdr_enc *e = &t->req;
    xdr_enc_reset(e);
    xdr_put_u32(e, 77);      /* xid */
    xdr_put_u32(e, 0);       /* CALL */
    xdr_put_u32(e, rpcvers); /* rpcvers */
    xdr_put_u32(e, prog);
    xdr_put_u32(e, vers);
    xdr_put_u32(e, proc);
    xdr_put_u32(e, flavor);
    if (flavor == RPC_AUTH_SYS) {
        xdr_enc body;
        xdr_enc_init(&body, 512);
        xdr_put_u32(&body, 0);
        xdr_put_string(&body, "h");
        xdr_put_u32(&body, uid);
        xdr_put_u32(&body, uid);
        xdr_put_u32(&body, 0);
        xdr_put_opaque_var(e, body.buf, (uint32_t)body.len);
        xdr_enc_free(&body);
    } else {
        xdr_put_u32(e, 0);
    }
    xdr_put_u32(e, RPC_AUTH_NONE); /* verifier */
    xdr_put_u32(e, 0);
}

static void test_dispatch_errors(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root;
    nte_root(t, &root);

    raw_call(t, 2, 100099, 3, 0, RPC_AUTH_SYS, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_PROG_UNAVAIL);
    raw_call(t, 2, NFS3_PROGRAM, 2, 0, RPC_AUTH_SYS, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_PROG_MISMATCH);
    assert_int_equal(t->reply.low, 3);
    assert_int_equal(t->reply.high, 3);
    raw_call(t, 2, MNT3_PROGRAM, 1, 0, RPC_AUTH_SYS, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_PROG_MISMATCH);
    raw_call(t, 2, NFS3_PROGRAM, 3, 22, RPC_AUTH_SYS, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_PROC_UNAVAIL);
    raw_call(t, 2, MNT3_PROGRAM, 3, 6, RPC_AUTH_SYS, NTE_OWNER);
    assert_int_equal(nte_call(t), RPC_ACC_PROC_UNAVAIL);
    raw_call(t, 3, NFS3_PROGRAM, 3, 0, RPC_AUTH_SYS, NTE_OWNER);
    assert_int_equal(nte_call(t), -1);
    assert_int_equal(t->reply.reject_stat, RPC_REJ_RPC_MISMATCH);

    /* Who: AUTH_NONE may ping, nothing more; another uid nothing at all. */
    raw_call(t, 2, NFS3_PROGRAM, 3, NFS3_PROC_NULL, RPC_AUTH_NONE, 0);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    raw_call(t, 2, NFS3_PROGRAM, 3, NFS3_PROC_GETATTR, RPC_AUTH_NONE, 0);
    nfs3_enc_fh_args(&t->req, &root);
    assert_int_equal(nte_call(t), -1);
    assert_int_equal(t->reply.reject_stat, RPC_REJ_AUTH_ERROR);
    assert_int_equal(t->reply.auth_stat, RPC_AUTH_TOOWEAK);
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_GETATTR, 1000), &root);
    assert_int_equal(nte_call(t), -1);
    assert_int_equal(t->reply.auth_stat, RPC_AUTH_BADCRED);
    mnt3_path_args p = {.path = "/"};
    mnt3_enc_path_args(nte_begin(t, MNT3_PROGRAM, MNT3_PROC_MNT, 1000), &p);
    assert_int_equal(nte_call(t), -1);
    assert_int_equal(t->reply.auth_stat, RPC_AUTH_BADCRED);

    /* Garbage arguments: short, long, and a bad discriminant. */
    xdr_enc *e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_GETATTR, NTE_OWNER);
    xdr_put_u32(e, 200); /* a handle length beyond 64 */
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_GETATTR, NTE_OWNER);
    nfs3_enc_fh_args(e, &root);
    xdr_put_u32(e, 1); /* trailing */
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_NULL, NTE_OWNER);
    xdr_put_u32(e, 1);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_SETATTR, NTE_OWNER);
    nfs3_enc_fh_args(e, &root);
    xdr_put_u32(e, 2); /* set_mode3's bool */
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    /* Not a call at all: no reply. */
    xdr_enc_reset(&t->req);
    xdr_put_u32(&t->req, 5);
    xdr_put_u32(&t->req, 1); /* REPLY */
    xdr_enc_reset(&t->rep);
    assert_true(nfs_dispatch(&t->ctx, t->req.buf, t->req.len, &t->rep));
    assert_int_equal(t->rep.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_and_getattr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setattr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
