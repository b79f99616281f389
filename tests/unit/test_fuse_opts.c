/* Unit tests for the FUSE mount options (a pure function of platform and
 * backend, checked here for Linux, the macFUSE kext and FSKit) and for the
 * run-time loading of libfuse3: a missing library or device must give
 * "not available" with a hint, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "transport/fuse_lib.h"
#include "transport/fuse_opts.h"

static void build_ok(const fuse_mount_req *r, const char *want)
{
    fuse_mount_opts o;
    assert_ok(fuse_mountopts_build(r, &o));
    assert_string_equal(o.opts, want);
}

static void test_linux(void **state)
{
    (void)state;
    fuse_mount_req r = {.os = FUSE_OS_LINUX,
                        .backend = FUSE_BACKEND_DEVFUSE,
                        .uid = 1000,
                        .mountpoint = "/home/u/strata"};
    build_ok(&r, "fsname=strata:strata,subtype=strata,default_permissions,noatime");
    fuse_mount_opts o;
    assert_ok(fuse_mountopts_build(&r, &o));
    assert_true(o.notify);
    assert_false(o.inval_names); /* Linux updates its own dentries */
    assert_true(o.cache_negative);
    assert_true(o.lower_timeout >= 3600.0);
    assert_true(o.upper_timeout > 0.0 && o.upper_timeout <= 1.0);
    r.read_only = true;
    r.volname = "deps-1.2_x";
    build_ok(&r, "fsname=strata:deps-1.2_x,subtype=strata,default_permissions,noatime,ro");
}

static void test_macos_kext(void **state)
{
    (void)state;
    fuse_mount_req r = {.os = FUSE_OS_MACOS,
                        .backend = FUSE_BACKEND_KEXT,
                        .uid = 501,
                        .admin = true,
                        .mountpoint = "/Users/u/strata"};
    build_ok(&r, "fsname=strata:strata,volname=strata,default_permissions,auto_unmount,"
                 "iosize=1048576,noappledouble,allow_root");
    /* allow_root is refused to non-admins by macFUSE: leave it out. */
    r.admin = false;
    build_ok(&r, "fsname=strata:strata,volname=strata,default_permissions,auto_unmount,"
                 "iosize=1048576,noappledouble");
    fuse_mount_opts o;
    assert_ok(fuse_mountopts_build(&r, &o));
    assert_true(o.notify);
    /* macFUSE keeps negative entries across creates: each is invalidated. */
    assert_true(o.inval_names);
    assert_true(o.cache_negative);
}

static void test_macos_fskit(void **state)
{
    (void)state;
    fuse_mount_req r = {.os = FUSE_OS_MACOS,
                        .backend = FUSE_BACKEND_FSKIT,
                        .uid = 501,
                        .mountpoint = "/Volumes/strata-501-7"};
    build_ok(&r, "fsname=strata:strata,backend=fskit,volname=strata");
    fuse_mount_opts o;
    assert_ok(fuse_mountopts_build(&r, &o));
    /* No notification API under FSKit: upper entries are never cached. */
    assert_false(o.notify);
    assert_true(o.upper_timeout == 0.0);
    assert_false(o.cache_negative);
    assert_false(o.inval_names);
    r.mountpoint = "/Volumes/strata-501-7/";
    assert_ok(fuse_mountopts_build(&r, &o));
    const char *bad[] = {"/Users/u/strata", "/Volumes/",   "/Volumes",
                         "/Volumes/a/b",    "/VolumesX/a", NULL};
    for (int i = 0; bad[i]; i++) {
        r.mountpoint = bad[i];
        assert_err(fuse_mountopts_build(&r, &o), STRATA_E_INVALID);
    }
    r.mountpoint = "/tmp/x";
    strata_err *e = fuse_mountopts_build(&r, &o);
    assert_non_null(e);
    assert_non_null(strstr(e->hint, "/Volumes"));
    strata_err_free(e);
}

static void test_wrong_os_and_names(void **state)
{
    (void)state;
    fuse_mount_opts o;
    fuse_mount_req r = {.os = FUSE_OS_LINUX, .backend = FUSE_BACKEND_KEXT, .mountpoint = "/m"};
    assert_err(fuse_mountopts_build(&r, &o), STRATA_E_INVALID);
    r.backend = FUSE_BACKEND_FSKIT;
    assert_err(fuse_mountopts_build(&r, &o), STRATA_E_INVALID);
    r = (fuse_mount_req){.os = FUSE_OS_MACOS, .backend = FUSE_BACKEND_DEVFUSE, .mountpoint = "/m"};
    assert_err(fuse_mountopts_build(&r, &o), STRATA_E_INVALID);
    /* A comma would smuggle in another mount option. */
    r = (fuse_mount_req){.os = FUSE_OS_LINUX,
                         .backend = FUSE_BACKEND_DEVFUSE,
                         .mountpoint = "/m",
                         .volname = "x,allow_other"};
    assert_err(fuse_mountopts_build(&r, &o), STRATA_E_INVALID);
    r.volname = "";
    assert_err(fuse_mountopts_build(&r, &o), STRATA_E_INVALID);
}

static void test_lib_missing(void **state)
{
    (void)state;
    fuse_lib t;
    strata_err *e = fuse_lib_open("/nonexistent/libfuse3.so.3", NULL, NULL, &t);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->msg, "FUSE is not available"));
    assert_non_null(strstr(e->hint, "fuse3"));
    strata_err_free(e);
    assert_null(t.dl);
    /* A library that is not libfuse lacks its symbols. */
    e = fuse_lib_open("libc.so.6", NULL, NULL, &t);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->msg, "fuse_session_new"));
    strata_err_free(e);
    assert_null(t.dl);
}

static void test_dev_missing(void **state)
{
    (void)state;
    fuse_lib t;
    strata_err *e = fuse_lib_open("libfuse3.so.3", "/nonexistent/fuse", NULL, &t);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->hint, "modprobe fuse"));
    strata_err_free(e);
    /* fusermount3 matters only to non-root users. */
    if (geteuid() != 0) {
        e = fuse_lib_open("libfuse3.so.3", NULL, "/nonexistent/fusermount3", &t);
        assert_non_null(e);
        assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
        strata_err_free(e);
    }
}

/* The real library and device: this machine must be able to use FUSE
 * (CI has /dev/fuse); when it cannot, the test is skipped, and under
 * STRATA_REQUIRE_MOUNT=1 that is a failure. */
static void test_lib_real(void **state)
{
    (void)state;
    if (access("/dev/fuse", F_OK) != 0) {
        if (getenv("STRATA_REQUIRE_MOUNT") && !strcmp(getenv("STRATA_REQUIRE_MOUNT"), "1"))
            fail_msg("/dev/fuse is missing and STRATA_REQUIRE_MOUNT=1");
        skip();
    }
    const fuse_lib *lib;
    assert_ok(fuse_lib_load(&lib));
    assert_non_null(lib->session_new);
    assert_non_null(lib->session_loop_mt);
    assert_non_null(lib->notify_inval_entry);
    assert_int_equal(strncmp(lib->version, "3.", 2), 0);
    const fuse_lib *again;
    assert_ok(fuse_lib_load(&again));
    assert_ptr_equal(lib, again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux),       cmocka_unit_test(test_macos_kext),
        cmocka_unit_test(test_macos_fskit), cmocka_unit_test(test_wrong_os_and_names),
        cmocka_unit_test(test_lib_missing), cmocka_unit_test(test_dev_missing),
        cmocka_unit_test(test_lib_real),
    };
    return cmocka_run_group_tests_name("fuse_opts", tests, NULL, NULL);
}
