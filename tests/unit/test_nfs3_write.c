/* NFSv3 CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME and LINK
 * over a real store and a vfs with an upper directory (nfs_testenv.h):
 * what each makes or takes away, that the lower layer stays as it was,
 * the wcc data of the replies, and every way a call is turned away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nfs_testenv.h"
#include "testutil.h"

#define OTHER_UID 1234 /* neither the owner nor root */

static void fill(const char *lower)
{
    tu_write_file(lower, "a.txt", "hello a\n", 8, 0644);
    tu_write_file(lower, "b.txt", "bee\n", 4, 0644);
    char big[10000];
    tu_fill_random(big, sizeof(big), 7);
    tu_write_file(lower, "big.bin", big, sizeof(big), 0644);
    tu_write_file(lower, "dir/f1", "one", 3, 0644);
    tu_write_file(lower, "dir/f2", "two", 3, 0644);
    tu_write_file(lower, "tree/top.txt", "top", 3, 0644);
    tu_write_file(lower, "tree/x/mid.txt", "mid", 3, 0644);
    tu_write_file(lower, "tree/x/y/deep.txt", "deep content\n", 13, 0644);
    char *p = tu_path(lower, "empty");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    p = tu_path(lower, "ro");
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
    tu_write_file(lower, "ro/kept", "k", 1, 0644);
    p = tu_path(lower, "ro");
    assert_int_equal(chmod(p, 0555), 0);
    free(p);
}

/* The caller of the calls under test. strata's server runs as the view's
 * owner, who thus owns the upper directory and what is made in it; as
 * root the test gives the upper root to NTE_OWNER to match (the vfs
 * gives it new entries), else it calls as root, which the owner rules
 * and permission checks let through. */
static uint32_t me(void)
{
    return geteuid() == 0 ? NTE_OWNER : 0;
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

/* ---- helpers -------------------------------------------------------------- */

static nfs3_fh fh_of(nfs_testenv *t, const char *path)
{
    nfs3_fh fh;
    assert_int_equal(nte_lookup_path(t, path, &fh), NFS3_OK);
    return fh;
}

static nfs3_fh root_of(nfs_testenv *t)
{
    nfs3_fh fh;
    nte_root(t, &fh);
    return fh;
}

static uint64_t ino_of(nfs_testenv *t, const nfs3_fh *fh)
{
    nfs_req r = {.ctx = &t->ctx};
    uint64_t ino;
    assert_int_equal(nfs_fh_resolve(&r, fh, &ino, NULL), NFS3_OK);
    return ino;
}

static vfs_attr attr_of(nfs_testenv *t, const nfs3_fh *fh)
{
    vfs_attr a;
    assert_ok(vfs_getattr(t->v, ino_of(t, fh), &a));
    return a;
}

/* The file's whole content (short files only), NUL-terminated. */
static void content_of(nfs_testenv *t, const nfs3_fh *fh, char *buf, size_t size)
{
    size_t got = 0;
    assert_ok(vfs_read_ino(t->v, ino_of(t, fh), buf, size - 1, 0, &got));
    buf[got] = '\0';
}

static void set_name(char *dst, const char *name)
{
    snprintf(dst, NFS3_NAME_WIRE_MAX + 1, "%s", name);
}

static nfs3_create_res create_reply(nfs_testenv *t)
{
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_create_res res;
    assert_true(nfs3_dec_create_res(&t->res, &res));
    return res;
}

static nfs3_create_res create(nfs_testenv *t, const nfs3_fh *dir, const char *name, uint32_t how,
                              const nfs3_sattr *attr, const uint8_t *verf)
{
    nfs3_create_args a = {.where.dir = *dir, .how = how};
    set_name(a.where.name, name);
    if (attr)
        a.attr = *attr;
    if (verf)
        memcpy(a.verf, verf, NFS3_CREATEVERFSIZE);
    nfs3_enc_create_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_CREATE, me()), &a);
    return create_reply(t);
}

static nfs3_create_res create_as(nfs_testenv *t, const nfs3_fh *dir, const char *name, uint32_t uid)
{
    nfs3_create_args a = {.where.dir = *dir, .how = NFS3_GUARDED};
    set_name(a.where.name, name);
    nfs3_enc_create_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_CREATE, uid), &a);
    return create_reply(t);
}

static nfs3_create_res mkdir_call(nfs_testenv *t, const nfs3_fh *dir, const char *name,
                                  uint32_t mode)
{
    nfs3_mkdir_args a = {.where.dir = *dir};
    set_name(a.where.name, name);
    a.attr.set_mode = true;
    a.attr.mode = mode;
    nfs3_enc_mkdir_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_MKDIR, me()), &a);
    return create_reply(t);
}

static nfs3_create_res symlink_call(nfs_testenv *t, const nfs3_fh *dir, const char *name,
                                    const char *target)
{
    static nfs3_symlink_args a; /* its target buffer is 4 KiB */
    memset(&a, 0, sizeof(a));
    a.where.dir = *dir;
    set_name(a.where.name, name);
    a.attr.set_mode = true;
    a.attr.mode = 0777;
    snprintf(a.data, sizeof(a.data), "%s", target);
    nfs3_enc_symlink_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_SYMLINK, me()), &a);
    return create_reply(t);
}

static nfs3_create_res mknod_call(nfs_testenv *t, const nfs3_fh *dir, const char *name,
                                  uint32_t type, uint32_t mode)
{
    nfs3_mknod_args a = {.where.dir = *dir, .type = type};
    set_name(a.where.name, name);
    a.attr.set_mode = true;
    a.attr.mode = mode;
    a.spec = (nfs3_spec){.major = 1, .minor = 3};
    nfs3_enc_mknod_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_MKNOD, me()), &a);
    return create_reply(t);
}

static nfs3_wcc_res remove_call(nfs_testenv *t, uint32_t proc, const nfs3_fh *dir, const char *name,
                                uint32_t uid)
{
    nfs3_dirop a = {.dir = *dir};
    set_name(a.name, name);
    nfs3_enc_dirop_args(nte_begin(t, NFS3_PROGRAM, proc, uid), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_wcc_res res;
    assert_true(nfs3_dec_wcc_res(&t->res, &res));
    return res;
}

static nfs3_rename_res rename_call(nfs_testenv *t, const nfs3_fh *from, const char *fname,
                                   const nfs3_fh *to, const char *tname)
{
    nfs3_rename_args a = {.from.dir = *from, .to.dir = *to};
    set_name(a.from.name, fname);
    set_name(a.to.name, tname);
    nfs3_enc_rename_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_RENAME, me()), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_rename_res res;
    assert_true(nfs3_dec_rename_res(&t->res, &res));
    return res;
}

static nfs3_link_res link_call(nfs_testenv *t, const nfs3_fh *fh, const nfs3_fh *dir,
                               const char *name)
{
    nfs3_link_args a = {.fh = *fh, .link.dir = *dir};
    set_name(a.link.name, name);
    nfs3_enc_link_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_LINK, me()), &a);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_link_res res;
    assert_true(nfs3_dec_link_res(&t->res, &res));
    return res;
}

static void assert_wcc(const nfs3_wcc *w)
{
    assert_true(w->before.present);
    assert_true(w->after.present);
    assert_int_equal(w->after.attr.type, NF3DIR);
}

/* Whether the upper directory hides name with a whiteout (a 0/0 character
 * device, or a ".wh." file where the vfs could not make one). */
static bool upper_whiteout(nfs_testenv *t, const char *name)
{
    char *p = tu_path(t->upper, name);
    struct stat st;
    bool wh = lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0;
    free(p);
    if (!wh) {
        char buf[NFS3_NAME_MAX + 8];
        snprintf(buf, sizeof(buf), ".wh.%s", name);
        p = tu_path(t->upper, buf);
        wh = lstat(p, &st) == 0;
        free(p);
    }
    return wh;
}

static off_t upper_size(nfs_testenv *t, const char *name)
{
    char *p = tu_path(t->upper, name);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    free(p);
    return st.st_size;
}

/* ---- CREATE --------------------------------------------------------------- */

static void test_create_unchecked(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);

    /* A new file gets the sattr3's mode. */
    nfs3_sattr s = {.set_mode = true, .mode = 0640};
    nfs3_create_res r = create(t, &root, "new.txt", NFS3_UNCHECKED, &s, NULL);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.fh.present);
    assert_true(r.obj_attr.present);
    assert_int_equal(r.obj_attr.attr.type, NF3REG);
    assert_int_equal(r.obj_attr.attr.mode, 0640);
    assert_true(r.obj_attr.attr.size == 0);
    assert_wcc(&r.dir_wcc);
    assert_true(r.obj_attr.attr.fileid == ino_of(t, &r.fh.fh));
    nfs3_fh got = fh_of(t, "new.txt");
    assert_memory_equal(got.data, r.fh.fh.data, got.len);
    assert_int_equal(attr_of(t, &got).mode, S_IFREG | 0640);

    /* An existing lower file: the size 0 truncates it, copying it up with
     * no content; the mode meant for a new file is not applied; the number
     * stays the lower one. */
    nfs3_fh big = fh_of(t, "big.bin");
    s = (nfs3_sattr){.set_mode = true, .mode = 0600, .set_size = true, .size = 0};
    r = create(t, &root, "big.bin", NFS3_UNCHECKED, &s, NULL);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.fh.present);
    assert_memory_equal(r.fh.fh.data, big.data, big.len);
    assert_true(r.obj_attr.attr.size == 0);
    assert_int_equal(r.obj_attr.attr.mode, 0644);
    assert_int_equal(upper_size(t, "big.bin"), 0);
    char *src = tu_path(t->lower, "big.bin");
    struct stat st;
    assert_int_equal(stat(src, &st), 0);
    assert_int_equal(st.st_size, 10000); /* the source tree is untouched */
    free(src);

    /* Without a size an existing file is opened as it is: no copy-up. */
    s = (nfs3_sattr){.set_mode = true, .mode = 0600};
    r = create(t, &root, "b.txt", NFS3_UNCHECKED, &s, NULL);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.obj_attr.attr.size == 4);
    char *up = tu_path(t->upper, "b.txt");
    assert_int_equal(lstat(up, &st), -1);
    free(up);
    char buf[64];
    nfs3_fh b = fh_of(t, "b.txt");
    content_of(t, &b, buf, sizeof(buf));
    assert_string_equal(buf, "bee\n");

    /* An existing directory is answered as it is (knfsd does the same). */
    r = create(t, &root, "dir", NFS3_UNCHECKED, NULL, NULL);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(r.obj_attr.attr.type, NF3DIR);

    /* In a directory inside the lower tree (copied up on the way). */
    nfs3_fh dir = fh_of(t, "tree/x");
    r = create(t, &dir, "added", NFS3_UNCHECKED, NULL, NULL);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "tree/x/added", &got), NFS3_OK);
    assert_int_equal(r.obj_attr.attr.mode, 0644); /* the default without a mode */

    /* Not a directory; "." and "..". */
    nfs3_fh a = fh_of(t, "a.txt");
    r = create(t, &a, "x", NFS3_UNCHECKED, NULL, NULL);
    assert_int_equal(r.status, NFS3ERR_NOTDIR);
    assert_false(r.fh.present);
    assert_int_equal(create(t, &root, ".", NFS3_UNCHECKED, NULL, NULL).status, NFS3ERR_EXIST);
    assert_int_equal(create(t, &root, "..", NFS3_UNCHECKED, NULL, NULL).status, NFS3ERR_EXIST);
}

static void test_create_guarded(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_create_res r = create(t, &root, "a.txt", NFS3_GUARDED, NULL, NULL);
    assert_int_equal(r.status, NFS3ERR_EXIST);
    assert_false(r.fh.present);
    assert_wcc(&r.dir_wcc); /* the failure's wcc data too */

    nfs3_sattr s = {.set_mode = true, .mode = 0600, .set_size = true, .size = 5};
    r = create(t, &root, "g.txt", NFS3_GUARDED, &s, NULL);
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(r.obj_attr.attr.mode, 0600);
    assert_true(r.obj_attr.attr.size == 5); /* a size on a new file extends it */
    assert_int_equal(create(t, &root, "g.txt", NFS3_GUARDED, NULL, NULL).status, NFS3ERR_EXIST);

    /* A server that is root gives new entries to the caller, who may then
     * set their times: a client time in the sattr3 is set after the
     * create. (Otherwise they are the server's, and only it may.) */
    if (geteuid() == 0) {
        assert_int_equal(r.obj_attr.attr.uid, NTE_OWNER);
        s = (nfs3_sattr){.set_mtime = NFS3_SET_TO_CLIENT_TIME, .mtime = {.sec = 123456, .nsec = 7}};
        r = create(t, &root, "timed", NFS3_GUARDED, &s, NULL);
        assert_int_equal(r.status, NFS3_OK);
        assert_int_equal(r.obj_attr.attr.mtime.sec, 123456);
        assert_int_equal(r.obj_attr.attr.mtime.nsec, 7);
    }

    /* A name the vfs refuses. */
    assert_int_equal(create(t, &root, "", NFS3_GUARDED, NULL, NULL).status, NFS3ERR_INVAL);
}

static void test_create_exclusive(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    const uint8_t v1[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t v2[8] = {1, 2, 3, 4, 5, 6, 7, 9};

    nfs3_create_res r1 = create(t, &root, "x", NFS3_EXCLUSIVE, NULL, v1);
    assert_int_equal(r1.status, NFS3_OK);
    assert_true(r1.fh.present);
    assert_true(r1.obj_attr.present);
    /* The verifier, in the times (see nfs3_create.c). */
    assert_int_equal(r1.obj_attr.attr.mtime.sec, 0x01020304);
    assert_int_equal(r1.obj_attr.attr.atime.sec, 0x05060708);
    assert_int_equal(r1.obj_attr.attr.mode, 0600);
    assert_wcc(&r1.dir_wcc);

    /* A retransmission finds its file. */
    nfs3_create_res r2 = create(t, &root, "x", NFS3_EXCLUSIVE, NULL, v1);
    assert_int_equal(r2.status, NFS3_OK);
    assert_true(r2.fh.present);
    assert_int_equal(r2.fh.fh.len, r1.fh.fh.len);
    assert_memory_equal(r2.fh.fh.data, r1.fh.fh.data, r1.fh.fh.len);
    assert_true(r2.obj_attr.attr.fileid == r1.obj_attr.attr.fileid);

    /* Another client's create of the name does not. */
    nfs3_create_res r3 = create(t, &root, "x", NFS3_EXCLUSIVE, NULL, v2);
    assert_int_equal(r3.status, NFS3ERR_EXIST);
    assert_false(r3.fh.present);
    assert_wcc(&r3.dir_wcc);

    /* Verifiers with their top bits set round-trip too. */
    const uint8_t v3[8] = {0xff, 0xfe, 0xfd, 0xfc, 0x80, 0, 0, 1};
    r1 = create(t, &root, "y", NFS3_EXCLUSIVE, NULL, v3);
    assert_int_equal(r1.status, NFS3_OK);
    r2 = create(t, &root, "y", NFS3_EXCLUSIVE, NULL, v3);
    assert_int_equal(r2.status, NFS3_OK);
    assert_true(r2.obj_attr.attr.fileid == r1.obj_attr.attr.fileid);

    /* Once written to, the file is no longer a retransmission's. */
    size_t wrote;
    assert_ok(vfs_write_ino(t->v, r1.obj_attr.attr.fileid, "z", 1, 0, &wrote));
    assert_int_equal(create(t, &root, "y", NFS3_EXCLUSIVE, NULL, v3).status, NFS3ERR_EXIST);

    /* An existing lower file is never taken for one. */
    assert_int_equal(create(t, &root, "a.txt", NFS3_EXCLUSIVE, NULL, v1).status, NFS3ERR_EXIST);
}

/* ---- MKDIR, SYMLINK, MKNOD ---------------------------------------------- */

static void test_mkdir(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_create_res r = mkdir_call(t, &root, "newdir", 0750);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.fh.present);
    assert_int_equal(r.obj_attr.attr.type, NF3DIR);
    assert_int_equal(r.obj_attr.attr.mode, 0750);
    assert_wcc(&r.dir_wcc);

    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "newdir", &got), NFS3_OK);
    assert_memory_equal(got.data, r.fh.fh.data, got.len);
    /* And it takes entries. */
    assert_int_equal(create(t, &got, "in", NFS3_GUARDED, NULL, NULL).status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "newdir/in", &got), NFS3_OK);

    /* Deep in the lower tree. */
    nfs3_fh y = fh_of(t, "tree/x/y");
    assert_int_equal(mkdir_call(t, &y, "z", 0755).status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "tree/x/y/z", &got), NFS3_OK);

    r = mkdir_call(t, &root, "dir", 0755);
    assert_int_equal(r.status, NFS3ERR_EXIST);
    assert_wcc(&r.dir_wcc);
    nfs3_fh a = fh_of(t, "a.txt");
    assert_int_equal(mkdir_call(t, &a, "sub", 0755).status, NFS3ERR_NOTDIR);
    assert_int_equal(mkdir_call(t, &root, "..", 0755).status, NFS3ERR_EXIST);
}

/* A name over 255 bytes is NAMETOOLONG (RFC 1813) for every procedure
 * that takes one, and changes nothing. */
static void test_name_too_long(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    char lname[NFS3_NAME_MAX + 2];
    memset(lname, 'L', sizeof(lname) - 1);
    lname[sizeof(lname) - 1] = '\0';
    assert_int_equal(create(t, &root, lname, NFS3_GUARDED, NULL, NULL).status, NFS3ERR_NAMETOOLONG);
    assert_int_equal(mkdir_call(t, &root, lname, 0755).status, NFS3ERR_NAMETOOLONG);
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &root, lname, NTE_OWNER).status,
                     NFS3ERR_NAMETOOLONG);
    assert_int_equal(remove_call(t, NFS3_PROC_RMDIR, &root, lname, NTE_OWNER).status,
                     NFS3ERR_NAMETOOLONG);
    assert_int_equal(rename_call(t, &root, "a.txt", &root, lname).status, NFS3ERR_NAMETOOLONG);
    nfs3_fh a = fh_of(t, "a.txt");
    assert_int_equal(link_call(t, &a, &root, lname).status, NFS3ERR_NAMETOOLONG);
    /* Nothing moved: a.txt is where it was. */
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "a.txt", &got), NFS3_OK);
    /* 255 bytes is a name like any other. */
    lname[NFS3_NAME_MAX] = '\0';
    assert_int_equal(create(t, &root, lname, NFS3_GUARDED, NULL, NULL).status, NFS3_OK);
}

static void test_symlink(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_create_res r = symlink_call(t, &root, "ln", "dir/f1");
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.fh.present);
    assert_int_equal(r.obj_attr.attr.type, NF3LNK);
    assert_true(r.obj_attr.attr.size == 6);
    assert_wcc(&r.dir_wcc);

    nfs3_fh ln = fh_of(t, "ln");
    assert_memory_equal(ln.data, r.fh.fh.data, ln.len);
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_READLINK, NTE_OWNER), &ln);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    static nfs3_readlink_res rl;
    assert_true(nfs3_dec_readlink_res(&t->res, &rl));
    assert_int_equal(rl.status, NFS3_OK);
    assert_string_equal(rl.data, "dir/f1");
    char buf[VFS_LINK_MAX + 1];
    size_t len;
    assert_ok(vfs_readlink(t->v, ino_of(t, &ln), buf, sizeof(buf), &len));
    assert_string_equal(buf, "dir/f1");

    assert_int_equal(symlink_call(t, &root, "a.txt", "x").status, NFS3ERR_EXIST);
    assert_int_equal(symlink_call(t, &root, "nothing", "").status, NFS3ERR_NOENT);
}

static void test_mknod(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_create_res r = mknod_call(t, &root, "fifo", NF3FIFO, 0600);
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.fh.present);
    assert_int_equal(r.obj_attr.attr.type, NF3FIFO);
    assert_int_equal(r.obj_attr.attr.mode, 0600);
    assert_wcc(&r.dir_wcc);

    nfs3_fh f = fh_of(t, "fifo");
    nfs3_enc_fh_args(nte_begin(t, NFS3_PROGRAM, NFS3_PROC_GETATTR, NTE_OWNER), &f);
    assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
    nfs3_getattr_res ga;
    assert_true(nfs3_dec_getattr_res(&t->res, &ga));
    assert_int_equal(ga.status, NFS3_OK);
    assert_int_equal(ga.attr.type, NF3FIFO);
    assert_true(S_ISFIFO(attr_of(t, &f).mode));

    static const struct {
        uint32_t type, status;
    } refused[] = {
        {NF3CHR, NFS3ERR_NOTSUPP}, {NF3BLK, NFS3ERR_NOTSUPP}, {NF3SOCK, NFS3ERR_NOTSUPP},
        {NF3REG, NFS3ERR_BADTYPE}, {NF3DIR, NFS3ERR_BADTYPE}, {NF3LNK, NFS3ERR_BADTYPE},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        r = mknod_call(t, &root, "dev", refused[i].type, 0600);
        assert_int_equal(r.status, refused[i].status);
        assert_false(r.fh.present);
        assert_wcc(&r.dir_wcc);
    }
    nfs3_fh dev;
    assert_int_equal(nte_lookup_path(t, "dev", &dev), NFS3ERR_NOENT);
    assert_int_equal(mknod_call(t, &root, "fifo", NF3FIFO, 0600).status, NFS3ERR_EXIST);
}

/* ---- REMOVE, RMDIR -------------------------------------------------------- */

static void test_remove(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_wcc_res r = remove_call(t, NFS3_PROC_REMOVE, &root, "a.txt", me());
    assert_int_equal(r.status, NFS3_OK);
    assert_wcc(&r.wcc);

    nfs3_fh gone;
    assert_int_equal(nte_lookup_path(t, "a.txt", &gone), NFS3ERR_NOENT);
    /* The lower layer is as it was: the upper hides the name. */
    assert_true(upper_whiteout(t, "a.txt"));
    char *src = tu_path(t->lower, "a.txt");
    struct stat st;
    assert_int_equal(stat(src, &st), 0);
    assert_int_equal(st.st_size, 8);
    free(src);

    r = remove_call(t, NFS3_PROC_REMOVE, &root, "a.txt", me());
    assert_int_equal(r.status, NFS3ERR_NOENT);
    assert_wcc(&r.wcc);
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &root, "missing", me()).status,
                     NFS3ERR_NOENT);
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &root, "dir", me()).status, NFS3ERR_ISDIR);

    /* In a lower subdirectory; and a file made over NFS (root may too). */
    nfs3_fh dir = fh_of(t, "dir");
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &dir, "f1", 0).status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "dir/f1", &gone), NFS3ERR_NOENT);
    assert_int_equal(nte_lookup_path(t, "dir/f2", &gone), NFS3_OK);
    assert_int_equal(create(t, &root, "tmp", NFS3_GUARDED, NULL, NULL).status, NFS3_OK);
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &root, "tmp", me()).status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "tmp", &gone), NFS3ERR_NOENT);
}

static void test_rmdir(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_wcc_res r = remove_call(t, NFS3_PROC_RMDIR, &root, "dir", me());
    assert_int_equal(r.status, NFS3ERR_NOTEMPTY);
    assert_wcc(&r.wcc);
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "dir/f1", &got), NFS3_OK);

    r = remove_call(t, NFS3_PROC_RMDIR, &root, "empty", me());
    assert_int_equal(r.status, NFS3_OK);
    assert_wcc(&r.wcc);
    assert_int_equal(nte_lookup_path(t, "empty", &got), NFS3ERR_NOENT);
    assert_true(upper_whiteout(t, "empty"));

    assert_int_equal(remove_call(t, NFS3_PROC_RMDIR, &root, "b.txt", me()).status, NFS3ERR_NOTDIR);
    assert_int_equal(remove_call(t, NFS3_PROC_RMDIR, &root, "empty", me()).status, NFS3ERR_NOENT);

    /* A lower directory emptied over NFS goes too. */
    nfs3_fh dir = fh_of(t, "dir");
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &dir, "f1", me()).status, NFS3_OK);
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &dir, "f2", me()).status, NFS3_OK);
    assert_int_equal(remove_call(t, NFS3_PROC_RMDIR, &root, "dir", me()).status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "dir", &got), NFS3ERR_NOENT);
}

/* ---- RENAME, LINK --------------------------------------------------------- */

static void test_rename(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    char buf[64];

    /* A file. */
    nfs3_fh a = fh_of(t, "a.txt");
    nfs3_rename_res r = rename_call(t, &root, "a.txt", &root, "renamed.txt");
    assert_int_equal(r.status, NFS3_OK);
    assert_wcc(&r.from_wcc);
    assert_wcc(&r.to_wcc);
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "a.txt", &got), NFS3ERR_NOENT);
    got = fh_of(t, "renamed.txt");
    assert_memory_equal(got.data, a.data, a.len); /* the number goes with it */
    content_of(t, &got, buf, sizeof(buf));
    assert_string_equal(buf, "hello a\n");

    /* A lower directory tree, into another directory: its contents, however
     * deep, show under the new name. */
    nfs3_fh dir = fh_of(t, "dir");
    r = rename_call(t, &root, "tree", &dir, "moved");
    assert_int_equal(r.status, NFS3_OK);
    assert_wcc(&r.from_wcc);
    assert_wcc(&r.to_wcc);
    assert_int_equal(nte_lookup_path(t, "tree", &got), NFS3ERR_NOENT);
    got = fh_of(t, "dir/moved/x/y/deep.txt");
    content_of(t, &got, buf, sizeof(buf));
    assert_string_equal(buf, "deep content\n");
    got = fh_of(t, "dir/moved/top.txt");
    content_of(t, &got, buf, sizeof(buf));
    assert_string_equal(buf, "top");

    /* Onto an existing file, which it replaces. */
    r = rename_call(t, &root, "b.txt", &dir, "f1");
    assert_int_equal(r.status, NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "b.txt", &got), NFS3ERR_NOENT);
    got = fh_of(t, "dir/f1");
    content_of(t, &got, buf, sizeof(buf));
    assert_string_equal(buf, "bee\n");

    /* Failures, each with both directories' wcc data. */
    r = rename_call(t, &root, "missing", &root, "x");
    assert_int_equal(r.status, NFS3ERR_NOENT);
    assert_wcc(&r.from_wcc);
    assert_wcc(&r.to_wcc);
    assert_int_equal(rename_call(t, &root, "dir", &root, "empty").status, NFS3_OK);
    assert_int_equal(rename_call(t, &root, "renamed.txt", &root, "empty").status, NFS3ERR_ISDIR);
    nfs3_fh empty = fh_of(t, "empty");
    assert_int_equal(rename_call(t, &root, "empty", &empty, "inside").status, NFS3ERR_INVAL);
    assert_int_equal(rename_call(t, &root, ".", &root, "x").status, NFS3ERR_INVAL);
    assert_int_equal(rename_call(t, &root, "renamed.txt", &root, "..").status, NFS3ERR_INVAL);
    got = fh_of(t, "renamed.txt");
    assert_int_equal(rename_call(t, &got, "x", &root, "y").status, NFS3ERR_NOTDIR);
}

static void test_link(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    nfs3_fh a = fh_of(t, "a.txt");
    nfs3_fh dir = fh_of(t, "dir");
    nfs3_link_res r = link_call(t, &a, &dir, "a2");
    assert_int_equal(r.status, NFS3_OK);
    assert_true(r.attr.present);
    assert_int_equal(r.attr.attr.nlink, 2);
    assert_wcc(&r.dir_wcc);
    assert_int_equal(attr_of(t, &a).nlink, 2);
    nfs3_fh got = fh_of(t, "dir/a2");
    assert_memory_equal(got.data, a.data, a.len);
    char buf[64];
    content_of(t, &got, buf, sizeof(buf));
    assert_string_equal(buf, "hello a\n");

    /* A directory cannot have another name (the vfs's EPERM, as link(2)). */
    r = link_call(t, &dir, &root, "dir2");
    assert_int_equal(r.status, NFS3ERR_PERM);
    assert_true(r.attr.present);
    assert_wcc(&r.dir_wcc);
    assert_int_equal(link_call(t, &a, &root, "b.txt").status, NFS3ERR_EXIST);
    assert_int_equal(link_call(t, &a, &a, "x").status, NFS3ERR_NOTDIR);
}

/* ---- who may, and what is refused ---------------------------------------- */

static void test_permissions(void **state)
{
    nfs_testenv *t = *state;
    if (geteuid() != 0)
        skip(); /* the owner must be someone other than root */
    /* "ro" is 0555: its owner may not change it, root may. */
    nfs3_fh ro = fh_of(t, "ro");
    nfs3_create_res c = create_as(t, &ro, "new", NTE_OWNER);
    assert_int_equal(c.status, NFS3ERR_ACCES);
    assert_wcc(&c.dir_wcc);
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &ro, "kept", NTE_OWNER).status,
                     NFS3ERR_ACCES);
    nfs3_fh root = root_of(t);
    assert_int_equal(rename_call(t, &ro, "kept", &root, "k").status, NFS3ERR_ACCES);
    nfs3_fh a = fh_of(t, "a.txt");
    assert_int_equal(link_call(t, &a, &ro, "l").status, NFS3ERR_ACCES);
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "ro/kept", &got), NFS3_OK);

    /* Root may. */
    c = create_as(t, &ro, "new", 0);
    assert_int_equal(c.status, NFS3_OK);
    assert_int_equal(c.obj_attr.attr.uid, 0); /* the caller's, the server being root */
    assert_int_equal(remove_call(t, NFS3_PROC_REMOVE, &ro, "kept", 0).status, NFS3_OK);
}

/* One call of proc with every handle fh, as uid; trailing adds a word
 * after the arguments. */
static void encode_call(nfs_testenv *t, uint32_t proc, const nfs3_fh *fh, uint32_t uid,
                        bool trailing)
{
    xdr_enc *e = nte_begin(t, NFS3_PROGRAM, proc, uid);
    switch (proc) {
    case NFS3_PROC_CREATE: {
        nfs3_create_args a = {.where.dir = *fh, .how = NFS3_GUARDED};
        set_name(a.where.name, "n");
        nfs3_enc_create_args(e, &a);
        break;
    }
    case NFS3_PROC_MKDIR: {
        nfs3_mkdir_args a = {.where.dir = *fh};
        set_name(a.where.name, "n");
        nfs3_enc_mkdir_args(e, &a);
        break;
    }
    case NFS3_PROC_SYMLINK: {
        static nfs3_symlink_args a;
        memset(&a, 0, sizeof(a));
        a.where.dir = *fh;
        set_name(a.where.name, "n");
        snprintf(a.data, sizeof(a.data), "target");
        nfs3_enc_symlink_args(e, &a);
        break;
    }
    case NFS3_PROC_MKNOD: {
        nfs3_mknod_args a = {.where.dir = *fh, .type = NF3FIFO};
        set_name(a.where.name, "n");
        nfs3_enc_mknod_args(e, &a);
        break;
    }
    case NFS3_PROC_REMOVE:
    case NFS3_PROC_RMDIR: {
        nfs3_dirop a = {.dir = *fh};
        set_name(a.name, "dir");
        nfs3_enc_dirop_args(e, &a);
        break;
    }
    case NFS3_PROC_RENAME: {
        nfs3_rename_args a = {.from.dir = *fh, .to.dir = *fh};
        set_name(a.from.name, "b.txt");
        set_name(a.to.name, "c.txt");
        nfs3_enc_rename_args(e, &a);
        break;
    }
    case NFS3_PROC_LINK: {
        nfs3_link_args a = {.fh = *fh, .link.dir = *fh};
        set_name(a.link.name, "l");
        nfs3_enc_link_args(e, &a);
        break;
    }
    default:
        fail();
    }
    if (trailing)
        xdr_put_u32(e, 0);
}

static const uint32_t procs[] = {
    NFS3_PROC_CREATE, NFS3_PROC_MKDIR, NFS3_PROC_SYMLINK, NFS3_PROC_MKNOD,
    NFS3_PROC_REMOVE, NFS3_PROC_RMDIR, NFS3_PROC_RENAME,  NFS3_PROC_LINK,
};
#define NPROCS (sizeof(procs) / sizeof(procs[0]))

static void test_stale(void **state)
{
    nfs_testenv *t = *state;
    /* The root's handle as another server instance made it. */
    nfs_fh_fields f = {
        .instance = t->ctx.instance + 1,
        .generation = vfs_slot_generation(t->v, 0),
        .ino = vfs_root_ino(0),
    };
    nfs3_fh other = {.len = NFS_FH_LEN};
    nfs_fh_make(&f, other.data);
    for (size_t i = 0; i < NPROCS; i++) {
        encode_call(t, procs[i], &other, NTE_OWNER, false);
        assert_int_equal(nte_call(t), RPC_ACC_SUCCESS);
        assert_int_equal(xdr_u32(&t->res), NFS3ERR_STALE);
    }
    /* In each, the wcc data of a directory it cannot name is absent. */
    nfs3_fh root = root_of(t);
    nfs3_create_res c = create(t, &other, "n", NFS3_GUARDED, NULL, NULL);
    assert_int_equal(c.status, NFS3ERR_STALE);
    assert_false(c.dir_wcc.before.present);
    assert_false(c.dir_wcc.after.present);
    nfs3_rename_res r = rename_call(t, &other, "b.txt", &root, "c.txt");
    assert_int_equal(r.status, NFS3ERR_STALE);
    assert_false(r.from_wcc.before.present);
    assert_wcc(&r.to_wcc);
    /* A stale file with a good directory: LINK still describes the
     * directory. */
    nfs3_link_res l = link_call(t, &other, &root, "l");
    assert_int_equal(l.status, NFS3ERR_STALE);
    assert_wcc(&l.dir_wcc);
    /* Nothing happened. */
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "b.txt", &got), NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "n", &got), NFS3ERR_NOENT);
}

static void test_auth(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    for (size_t i = 0; i < NPROCS; i++) {
        encode_call(t, procs[i], &root, OTHER_UID, false);
        assert_int_equal(nte_call(t), -1);
        assert_int_equal(t->reply.reply_stat, RPC_MSG_DENIED);
        assert_int_equal(t->reply.auth_stat, RPC_AUTH_BADCRED);
    }
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "dir", &got), NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "b.txt", &got), NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "n", &got), NFS3ERR_NOENT);
}

static void test_garbage(void **state)
{
    nfs_testenv *t = *state;
    nfs3_fh root = root_of(t);
    for (size_t i = 0; i < NPROCS; i++) {
        encode_call(t, procs[i], &root, NTE_OWNER, true);
        assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
        /* Cut short. */
        encode_call(t, procs[i], &root, NTE_OWNER, false);
        t->req.len -= 4;
        assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    }
    /* A createmode and an ftype off their lists. */
    xdr_enc *e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_CREATE, me());
    nfs3_dirop d = {.dir = root};
    set_name(d.name, "n");
    nfs3_enc_dirop_args(e, &d);
    xdr_put_u32(e, 3);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    e = nte_begin(t, NFS3_PROGRAM, NFS3_PROC_MKNOD, me());
    nfs3_enc_dirop_args(e, &d);
    xdr_put_u32(e, 8);
    assert_int_equal(nte_call(t), RPC_ACC_GARBAGE_ARGS);
    /* Nothing was made or taken. */
    nfs3_fh got;
    assert_int_equal(nte_lookup_path(t, "n", &got), NFS3ERR_NOENT);
    assert_int_equal(nte_lookup_path(t, "dir", &got), NFS3_OK);
    assert_int_equal(nte_lookup_path(t, "b.txt", &got), NFS3_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_unchecked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mknod, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
