/* Unit tests for the transport plan (engine/plan.h): table-driven cases
 * over hand-written facts for Linux and macOS machines, every pinned
 * backend, each mount.enabled value, the field case (macOS 15.3, macFUSE
 * installed, its extension not approved), mountpoints and options, the
 * classification of mount failures, and the error when nothing mounts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/plan.h"
#include "testutil.h"

/* ---- machines ------------------------------------------------------------ */

/* A Linux desktop: FUSE works for a normal user; no NFS client. */
static engine_facts linux_fuse(void)
{
    engine_facts f = {.os = ENGINE_OS_LINUX,
                      .os_version = {6, 1, 0},
                      .uid = 1000,
                      .dev_fuse = FACTS_DEV_OK,
                      .fusermount = true,
                      .fusermount_setuid = true,
                      .libfuse = true};
    facts_finish(&f);
    return f;
}

/* A container run without --device /dev/fuse, as root inside. */
static engine_facts linux_container(void)
{
    engine_facts f = linux_fuse();
    f.dev_fuse = FACTS_DEV_ABSENT;
    f.uid = 0;
    f.root = true;
    f.admin = true;
    facts_finish(&f);
    return f;
}

/* A Linux host without fusermount3, for a non-root user. */
static engine_facts linux_no_fusermount(void)
{
    engine_facts f = linux_fuse();
    f.fusermount = false;
    f.fusermount_setuid = false;
    return f;
}

/* A Linux server as root, with the NFS client. */
static engine_facts linux_root_nfs(void)
{
    engine_facts f = linux_fuse();
    f.uid = 0;
    f.root = true;
    f.admin = true;
    f.nfs_in_kernel = true;
    facts_finish(&f);
    return f;
}

static engine_facts mac(engine_version os, bool macfuse, engine_version mf, facts_kext kext,
                        facts_fskit fskit)
{
    engine_facts f = {.os = ENGINE_OS_MACOS,
                      .os_version = os,
                      .uid = 501,
                      .libfuse = macfuse,
                      .macfuse = macfuse,
                      .macfuse_version = mf,
                      .kext = kext,
                      .fskit_module = fskit,
                      .dev_fuse = FACTS_DEV_ABSENT};
    snprintf(f.user, sizeof(f.user), "alice");
    facts_finish(&f);
    return f;
}

/* macOS 14 with an approved (loaded) kext; the user is an admin. */
static engine_facts mac14_kext(void)
{
    engine_facts f = mac((engine_version){14, 6, 1}, true, (engine_version){4, 8, 3},
                         FACTS_KEXT_LOADED, FACTS_FSKIT_UNKNOWN);
    f.admin = true;
    return f;
}

/* The field case: a managed Mac on 15.3 with macFUSE installed, the
 * system extension never approved (not loaded; approval unknown), a
 * standard user, and Admin By Request installed. */
static engine_facts mac153_field(void)
{
    engine_facts f = mac((engine_version){15, 3, 1}, true, (engine_version){4, 10, 2},
                         FACTS_KEXT_UNKNOWN, FACTS_FSKIT_UNKNOWN);
    f.abr = true;
    return f;
}

/* macOS 15.4 with macFUSE 5 and its FSKit module on, no kext. */
static engine_facts mac154_fskit(void)
{
    return mac((engine_version){15, 4, 1}, true, (engine_version){5, 0, 7}, FACTS_KEXT_NOT_APPROVED,
               FACTS_FSKIT_ENABLED);
}

/* ---- configs ------------------------------------------------------------- */

static engine_config cfg(config_enabled enabled)
{
    engine_config c = {.enabled = enabled, .nfs_port = 0};
    snprintf(c.store, sizeof(c.store), "/s");
    return c;
}

static engine_config pin(engine_transport t)
{
    engine_config c = cfg(CONFIG_ENABLED_AUTO);
    c.pinned = true;
    c.backend = t;
    return c;
}

static const plan_req req_default = {.mountpoint = "/run/strata/7/root", .id = 7};
static const plan_req req_sudo = {
    .mountpoint = "/run/strata/7/root", .id = 7, .sudo_consent = true};

/* The plan as "fuse,nfs(nfs-no-client),none": each attempt in order, the
 * reason in parentheses when it is ruled out. */
static void describe(const engine_plan *p, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->count && o < n; i++) {
        const plan_attempt *a = &p->attempts[i];
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? "," : "",
                              engine_transport_name(a->transport));
        if (!a->usable && o < n)
            o += (size_t)snprintf(buf + o, n - o, "(%s)", hints_failure_name(a->skip));
    }
}

typedef struct plan_case {
    const char *name;
    engine_facts (*facts)(void);
    engine_config config;
    const plan_req *req;
    const char *want;
    bool required, warn;
} plan_case;

static void check_case(const plan_case *pc)
{
    engine_facts f = pc->facts();
    engine_plan p;
    strata_err *e = plan_build(&f, &pc->config, pc->req, &p);
    if (e) {
        print_error("%s: %s (%s)\n", pc->name, e->msg, e->hint);
        strata_err_free(e);
        fail();
    }
    char got[256];
    describe(&p, got, sizeof(got));
    if (strcmp(got, pc->want) != 0)
        fail_msg("%s: plan %s, want %s", pc->name, got, pc->want);
    if (p.mount_required != pc->required || p.warn_on_none != pc->warn)
        fail_msg("%s: required %d warn %d, want %d %d", pc->name, p.mount_required, p.warn_on_none,
                 pc->required, pc->warn);
    /* Every ruled-out attempt carries its reason and hint. */
    for (size_t i = 0; i < p.count; i++) {
        const plan_attempt *a = &p.attempts[i];
        if (a->usable) {
            assert_int_equal(a->skip, ENGINE_FAIL_NONE);
            assert_null(a->hint);
        } else {
            assert_non_null(a->why);
            assert_non_null(a->hint);
            assert_string_equal(a->hint, hints_hint(f.os, a->transport, a->skip));
        }
    }
}

static engine_facts mac153_field_known(void)
{
    engine_facts f = mac153_field();
    f.kext = FACTS_KEXT_NOT_APPROVED;
    return f;
}

static engine_facts mac154_kext_unknown(void)
{
    engine_facts f = mac154_fskit();
    f.kext = FACTS_KEXT_UNKNOWN;
    return f;
}

static engine_facts mac154_fskit_off(void)
{
    engine_facts f = mac154_fskit();
    f.fskit_module = FACTS_FSKIT_DISABLED;
    return f;
}

static engine_facts mac154_old_macfuse(void)
{
    engine_facts f = mac154_fskit();
    f.macfuse_version = (engine_version){4, 10, 2};
    facts_finish(&f);
    return f;
}

static engine_facts mac_no_macfuse(void)
{
    return mac((engine_version){15, 5, 0}, false, (engine_version){0, 0, 0}, FACTS_KEXT_UNKNOWN,
               FACTS_FSKIT_UNKNOWN);
}

static engine_facts mac_root(void)
{
    engine_facts f = mac154_fskit();
    f.kext = FACTS_KEXT_LOADED;
    f.uid = 0;
    f.root = true;
    f.admin = true;
    return f;
}

static engine_facts linux_nfs_user(void)
{
    engine_facts f = linux_fuse();
    f.nfs_module = true;
    facts_finish(&f);
    return f;
}

static engine_facts linux_not_setuid(void)
{
    engine_facts f = linux_fuse();
    f.fusermount_setuid = false;
    return f;
}

static engine_facts linux_no_lib(void)
{
    engine_facts f = linux_fuse();
    f.libfuse = false;
    return f;
}

static engine_facts linux_dev_denied(void)
{
    engine_facts f = linux_fuse();
    f.dev_fuse = FACTS_DEV_DENIED;
    return f;
}

static engine_facts linux_root_no_fusermount(void)
{
    engine_facts f = linux_container();
    f.dev_fuse = FACTS_DEV_OK;
    f.fusermount = false;
    return f;
}

static engine_facts linux_nothing(void)
{
    engine_facts f = linux_no_fusermount();
    f.dev_fuse = FACTS_DEV_ABSENT;
    return f;
}

#define AUTO  CONFIG_ENABLED_AUTO
#define TRUE_ CONFIG_ENABLED_TRUE
#define FALSE CONFIG_ENABLED_FALSE

static void test_plan_table(void **state)
{
    (void)state;
    const plan_case cases[] = {
        /* Linux */
        {"linux with FUSE", linux_fuse, cfg(AUTO), &req_default, "fuse,nfs(nfs-no-client),none",
         false, true},
        {"linux user with an NFS module", linux_nfs_user, cfg(AUTO), &req_default,
         "fuse,nfs(nfs-needs-root),none", false, true},
        {"linux root with NFS", linux_root_nfs, cfg(AUTO), &req_default, "fuse,nfs,none", false,
         true},
        {"container without /dev/fuse", linux_container, cfg(AUTO), &req_default,
         "fuse(dev-missing),nfs(nfs-no-client),none", false, true},
        {"no fusermount3, non-root", linux_no_fusermount, cfg(AUTO), &req_default,
         "fuse(fusermount-missing),nfs(nfs-no-client),none", false, true},
        {"no fusermount3, root", linux_root_no_fusermount, cfg(AUTO), &req_default,
         "fuse,nfs(nfs-no-client),none", false, true},
        {"fusermount3 not setuid", linux_not_setuid, cfg(AUTO), &req_default,
         "fuse(fusermount-not-setuid),nfs(nfs-no-client),none", false, true},
        {"no libfuse3", linux_no_lib, cfg(AUTO), &req_default,
         "fuse(lib-missing),nfs(nfs-no-client),none", false, true},
        {"/dev/fuse denied", linux_dev_denied, cfg(AUTO), &req_default,
         "fuse(dev-denied),nfs(nfs-no-client),none", false, true},
        {"linux enabled: false", linux_fuse, cfg(FALSE), &req_default, "none", false, false},
        {"linux enabled: true", linux_fuse, cfg(TRUE_), &req_default, "fuse,nfs(nfs-no-client)",
         true, false},
        {"linux enabled: true, nothing works", linux_nothing, cfg(TRUE_), &req_default,
         "fuse(dev-missing),nfs(nfs-no-client)", true, false},
        /* Linux pins */
        {"linux pin fuse", linux_fuse, pin(ENGINE_T_FUSE), &req_default, "fuse", true, false},
        {"linux pin fuse, container", linux_container, pin(ENGINE_T_FUSE), &req_default,
         "fuse(dev-missing)", true, false},
        {"linux pin nfs", linux_fuse, pin(ENGINE_T_NFS), &req_default, "nfs(nfs-no-client)", true,
         false},
        {"linux pin nfs as root", linux_root_nfs, pin(ENGINE_T_NFS), &req_default, "nfs", true,
         false},
        {"linux pin none", linux_fuse, pin(ENGINE_T_NONE), &req_default, "none", false, false},

        /* macOS */
        {"macOS 14, kext approved", mac14_kext, cfg(AUTO), &req_default,
         "kext,fskit(fskit-os-too-old),nfs(nfs-needs-root),none", false, true},
        {"macOS 14, kext approved, --sudo", mac14_kext, cfg(AUTO), &req_sudo,
         "kext,fskit(fskit-os-too-old),nfs,none", false, true},
        {"macOS 15.3 field case", mac153_field, cfg(AUTO), &req_sudo,
         "kext,fskit(fskit-os-too-old),nfs,none", false, true},
        {"macOS 15.3 field case, no --sudo", mac153_field, cfg(AUTO), &req_default,
         "kext,fskit(fskit-os-too-old),nfs(nfs-needs-root),none", false, true},
        {"macOS 15.3 field case, known blocked", mac153_field_known, cfg(TRUE_), &req_sudo,
         "kext(kext-not-approved),fskit(fskit-os-too-old),nfs", true, false},
        {"macOS 15.4 without a kext", mac154_fskit, cfg(AUTO), &req_default,
         "kext(kext-not-approved),fskit,nfs(nfs-needs-root),none", false, true},
        {"macOS 15.4, kext unknown", mac154_kext_unknown, cfg(AUTO), &req_default,
         "kext,fskit,nfs(nfs-needs-root),none", false, true},
        {"macOS 15.4, FSKit off", mac154_fskit_off, cfg(AUTO), &req_default,
         "kext(kext-not-approved),fskit(fskit-disabled),nfs(nfs-needs-root),none", false, true},
        {"macOS 15.4, macFUSE 4", mac154_old_macfuse, cfg(AUTO), &req_default,
         "kext(kext-not-approved),fskit(fskit-macfuse-too-old),nfs(nfs-needs-root),none", false,
         true},
        {"macOS without macFUSE", mac_no_macfuse, cfg(AUTO), &req_default,
         "kext(macfuse-missing),fskit(macfuse-missing),nfs(nfs-needs-root),none", false, true},
        {"macOS as root", mac_root, cfg(AUTO), &req_default, "kext,fskit(fskit-root),nfs,none",
         false, true},
        {"macOS default (enabled: false)", mac14_kext, cfg(FALSE), &req_default, "none", false,
         false},
        {"macOS enabled: true", mac14_kext, cfg(TRUE_), &req_default,
         "kext,fskit(fskit-os-too-old),nfs(nfs-needs-root)", true, false},
        /* macOS pins */
        {"macOS pin kext", mac14_kext, pin(ENGINE_T_KEXT), &req_default, "kext", true, false},
        {"macOS pin fskit", mac154_fskit, pin(ENGINE_T_FSKIT), &req_default, "fskit", true, false},
        {"macOS pin fskit on 15.3", mac153_field, pin(ENGINE_T_FSKIT), &req_default,
         "fskit(fskit-os-too-old)", true, false},
        {"macOS pin nfs", mac153_field, pin(ENGINE_T_NFS), &req_sudo, "nfs", true, false},
        {"macOS pin none", mac153_field, pin(ENGINE_T_NONE), &req_default, "none", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
}

/* A pin wins over mount.enabled (config.h). */
static void test_pin_over_enabled(void **state)
{
    (void)state;
    engine_facts f = linux_fuse();
    engine_config c = pin(ENGINE_T_FUSE);
    c.enabled = CONFIG_ENABLED_FALSE;
    engine_plan p;
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(p.count, 1);
    assert_int_equal(p.attempts[0].transport, ENGINE_T_FUSE);
    assert_true(p.mount_required);
    c = pin(ENGINE_T_NONE);
    c.enabled = CONFIG_ENABLED_TRUE;
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(p.count, 1);
    assert_int_equal(p.attempts[0].transport, ENGINE_T_NONE);
    assert_false(p.mount_required);
}

/* A pin that cannot exist on the platform is a config error. */
static void test_impossible_pins(void **state)
{
    (void)state;
    engine_plan p;
    engine_facts lf = linux_fuse(), mf = mac14_kext();
    engine_config c = pin(ENGINE_T_KEXT);
    assert_err(plan_build(&lf, &c, &req_default, &p), STRATA_E_INVALID);
    c = pin(ENGINE_T_FSKIT);
    strata_err *e = plan_build(&lf, &c, &req_default, &p);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_INVALID);
    assert_non_null(strstr(e->msg, "fskit cannot work on Linux"));
    assert_non_null(strstr(e->hint, "fuse, nfs or none"));
    strata_err_free(e);
    assert_int_equal(p.count, 0);
    c = pin(ENGINE_T_FUSE); /* config maps "fuse" to kext on macOS; raw FUSE is wrong */
    assert_err(plan_build(&mf, &c, &req_default, &p), STRATA_E_INVALID);
    /* A malformed request. */
    c = cfg(AUTO);
    plan_req r = {.mountpoint = ""};
    assert_err(plan_build(&lf, &c, &r, &p), STRATA_E_INVALID);
    r = (plan_req){.mountpoint = "/m", .volname = "a,allow_other"};
    assert_err(plan_build(&lf, &c, &r, &p), STRATA_E_INVALID);
    char longmp[PLAN_MP_MAX + 8];
    memset(longmp, 'a', sizeof(longmp) - 1);
    longmp[0] = '/';
    longmp[sizeof(longmp) - 1] = '\0';
    r = (plan_req){.mountpoint = longmp};
    assert_err(plan_build(&lf, &c, &r, &p), STRATA_E_INVALID);
}

static const plan_attempt *find(const engine_plan *p, engine_transport t)
{
    for (size_t i = 0; i < p->count; i++)
        if (p->attempts[i].transport == t)
            return &p->attempts[i];
    fail_msg("no %s in the plan", engine_transport_name(t));
    return NULL;
}

static void test_mountpoints_and_options(void **state)
{
    (void)state;
    engine_plan p;
    engine_config c = cfg(AUTO);
    c.nfs_port = 20490;
    /* Linux: the given mountpoint everywhere; FUSE options from fuse_opts. */
    engine_facts f = linux_root_nfs();
    plan_req r = {.mountpoint = "/home/u/strata", .id = 3, .read_only = true, .volname = "deps"};
    assert_ok(plan_build(&f, &c, &r, &p));
    const plan_attempt *a = find(&p, ENGINE_T_FUSE);
    assert_string_equal(a->mountpoint, "/home/u/strata");
    assert_string_equal(a->fuse.opts,
                        "fsname=strata:deps,subtype=strata,default_permissions,noatime,ro");
    a = find(&p, ENGINE_T_NFS);
    assert_string_equal(a->mountpoint, "/home/u/strata");
    assert_string_equal(a->nfs_opts, "vers=3,proto=tcp,nolock,soft,timeo=10,retrans=2,"
                                     "rsize=1048576,wsize=1048576,ro");
    assert_int_equal(a->nfs_port, 20490);
    assert_int_equal(a->escalation.kind, ESCALATE_NOTHING); /* root */
    assert_string_equal(find(&p, ENGINE_T_NONE)->mountpoint, "/home/u/strata");

    /* macOS: FSKit under /Volumes, the others where asked. */
    f = mac154_kext_unknown();
    f.admin = true;
    r = (plan_req){.mountpoint = "/Users/alice/strata", .id = 42};
    assert_ok(plan_build(&f, &c, &r, &p));
    a = find(&p, ENGINE_T_KEXT);
    assert_string_equal(a->mountpoint, "/Users/alice/strata");
    assert_non_null(strstr(a->fuse.opts, "auto_unmount"));
    assert_non_null(strstr(a->fuse.opts, "allow_root")); /* an admin may ask for it */
    a = find(&p, ENGINE_T_FSKIT);
    assert_string_equal(a->mountpoint, "/Volumes/strata-501-42");
    assert_non_null(strstr(a->fuse.opts, "backend=fskit"));
    assert_false(a->fuse.notify);
    a = find(&p, ENGINE_T_NFS);
    assert_string_equal(a->mountpoint, "/Users/alice/strata");
    assert_string_equal(a->nfs_opts, "vers=3,tcp,locallocks,resvport,soft,timeo=10,retrans=2,"
                                     "deadtimeout=10,rsize=1048576,wsize=1048576");
    /* A mountpoint given directly under /Volumes is kept for FSKit. */
    r.mountpoint = "/Volumes/mine";
    assert_ok(plan_build(&f, &c, &r, &p));
    assert_string_equal(find(&p, ENGINE_T_FSKIT)->mountpoint, "/Volumes/mine");
    r.mountpoint = "/Volumes/a/b";
    assert_ok(plan_build(&f, &c, &r, &p));
    assert_string_equal(find(&p, ENGINE_T_FSKIT)->mountpoint, "/Volumes/strata-501-42");
    /* Not an admin: no allow_root. */
    f.admin = false;
    assert_ok(plan_build(&f, &c, &r, &p));
    assert_null(strstr(find(&p, ENGINE_T_KEXT)->fuse.opts, "allow_root"));
    r.read_only = true;
    assert_ok(plan_build(&f, &c, &r, &p));
    assert_string_equal(find(&p, ENGINE_T_NFS)->nfs_opts,
                        "vers=3,tcp,locallocks,resvport,soft,timeo=10,retrans=2,deadtimeout=10,"
                        "rsize=1048576,wsize=1048576,rdonly");
}

/* The field case end to end: the kext mount fails as it did in the field,
 * the failure is classified as "not approved" with the System Settings
 * hint, and the next attempt is nfs (through Admin By Request), not fskit. */
static void test_field_case(void **state)
{
    (void)state;
    engine_facts f = mac153_field();
    engine_config c = cfg(AUTO);
    engine_plan p;
    assert_ok(plan_build(&f, &c, &req_sudo, &p));
    size_t i = plan_next(&p, 0);
    assert_int_equal(p.attempts[i].transport, ENGINE_T_KEXT);
    const int field_errnos[] = {EROFS, EACCES};
    for (size_t k = 0; k < 2; k++) {
        plan_failure_in in = {.transport = ENGINE_T_KEXT,
                              .sys_errno = field_errnos[k],
                              .mountpoint = p.attempts[i].mountpoint};
        engine_failure why = plan_classify(&f, &in);
        assert_int_equal(why, ENGINE_FAIL_KEXT_NOT_APPROVED);
        assert_non_null(strstr(hints_hint(f.os, ENGINE_T_KEXT, why),
                               "System Settings › Privacy & Security › Allow"));
        assert_non_null(strstr(hints_hint(f.os, ENGINE_T_KEXT, why), "reboot"));
    }
    size_t next = plan_next(&p, i + 1);
    assert_int_equal(p.attempts[next].transport, ENGINE_T_NFS);
    /* fskit was passed over, for the OS version, with its own hint. */
    const plan_attempt *fs = find(&p, ENGINE_T_FSKIT);
    assert_false(fs->usable);
    assert_int_equal(fs->skip, ENGINE_FAIL_FSKIT_OS_TOO_OLD);
    assert_non_null(strstr(fs->hint, "Software Update"));
    /* nfs needs root: the Admin By Request flow gets it, then sudo. */
    const plan_attempt *nfs = &p.attempts[next];
    assert_int_equal(nfs->escalation.kind, ESCALATE_ABR_FLOW);
    assert_true(nfs->escalation.uses_sudo);
    /* Without --sudo, nfs is ruled out with a hint naming --sudo, and the
     * plan ends on none (auto). */
    assert_ok(plan_build(&f, &c, &req_default, &p));
    nfs = find(&p, ENGINE_T_NFS);
    assert_false(nfs->usable);
    assert_non_null(strstr(nfs->hint, "--sudo"));
    assert_int_equal(p.attempts[plan_next(&p, 1)].transport, ENGINE_T_NONE);
    assert_true(p.warn_on_none);
}

/* macOS 15.4 without a kext: fskit is the first to mount, or the next
 * after the kext fails when its approval is not known in advance. */
static void test_fskit_first(void **state)
{
    (void)state;
    engine_facts f = mac154_fskit();
    engine_config c = cfg(AUTO);
    engine_plan p;
    assert_ok(plan_build(&f, &c, &req_default, &p));
    size_t i = plan_next(&p, 0);
    assert_int_equal(p.attempts[i].transport, ENGINE_T_FSKIT);
    assert_string_equal(p.attempts[i].mountpoint, "/Volumes/strata-501-7");
    /* The kext's approval needs an admin, which this user is not. */
    assert_int_equal(p.attempts[0].escalation.kind, ESCALATE_IMPOSSIBLE);
    f.admin = true;
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(p.attempts[0].escalation.kind, ESCALATE_APPROVAL);

    f = mac154_kext_unknown();
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(p.attempts[plan_next(&p, 0)].transport, ENGINE_T_KEXT);
    plan_failure_in in = {.transport = ENGINE_T_KEXT, .sys_errno = EPERM};
    assert_int_equal(plan_classify(&f, &in), ENGINE_FAIL_KEXT_NOT_APPROVED);
    assert_int_equal(p.attempts[plan_next(&p, 1)].transport, ENGINE_T_FSKIT);
}

/* enabled: true and every transport failing: one error listing each
 * attempt with its reason and hint. */
static void test_all_failed(void **state)
{
    (void)state;
    engine_facts f = linux_nothing();
    engine_config c = cfg(TRUE_);
    engine_plan p;
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(plan_next(&p, 0), p.count); /* nothing to try */
    strata_err *e = plan_all_failed(&p, NULL);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_string_equal(e->msg, "no transport could mount: fuse: /dev/fuse does not exist (not "
                                "tried); nfs: the kernel has no NFS client (not tried)");
    assert_non_null(strstr(e->hint, "fuse: load the module (modprobe fuse)"));
    assert_non_null(strstr(e->hint, "; nfs: load it (modprobe nfs)"));
    strata_err_free(e);

    /* Tried and failed: each failure as classified. */
    f = linux_root_nfs();
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(p.count, 2);
    engine_failure failed[PLAN_MAX] = {0};
    plan_failure_in in = {.transport = ENGINE_T_FUSE, .sys_errno = EPERM};
    failed[0] = plan_classify(&f, &in);
    in = (plan_failure_in){.transport = ENGINE_T_NFS, .timed_out = true};
    failed[1] = plan_classify(&f, &in);
    e = plan_all_failed(&p, failed);
    assert_non_null(strstr(e->msg, "fuse: /dev/fuse cannot be opened by this user; "
                                   "nfs: the mount did not answer in time"));
    assert_null(strstr(e->msg, "not tried"));
    assert_non_null(strstr(e->hint, "fuse: let this user open /dev/fuse"));
    assert_non_null(strstr(e->hint, "nfs: run 'strata sweep'"));
    strata_err_free(e);

    /* macOS, every transport out. */
    f = mac_no_macfuse();
    assert_ok(plan_build(&f, &c, &req_default, &p));
    e = plan_all_failed(&p, NULL);
    assert_non_null(strstr(e->msg, "kext: macFUSE is not installed (not tried); fskit: macFUSE "
                                   "is not installed (not tried); nfs: mount_nfs needs root"));
    assert_non_null(strstr(e->hint, "kext: install macFUSE"));
    assert_non_null(strstr(e->hint, "nfs: pass --sudo"));
    strata_err_free(e);
}

static void test_classify(void **state)
{
    (void)state;
    const engine_facts lf = linux_fuse(), lc = linux_container(), lr = linux_root_nfs();
    const engine_facts m14 = mac14_kext(), m153 = mac153_field(), m154 = mac154_fskit();
    engine_facts m154_root = m154;
    m154_root.root = true;
    engine_facts lnone = linux_fuse(); /* no NFS client */
    const struct {
        const engine_facts *f;
        plan_failure_in in;
        engine_failure want;
    } cases[] = {
        /* Linux FUSE */
        {&lf,
         {ENGINE_T_FUSE, 0,
          "fusermount3: option allow_other only allowed if "
          "'user_allow_other' is set in /etc/fuse.conf",
          NULL, false},
         ENGINE_FAIL_ALLOW_OTHER},
        {&lf,
         {ENGINE_T_FUSE, ENOENT, "fusermount3: not found", NULL, false},
         ENGINE_FAIL_FUSERMOUNT_MISSING},
        {&lc, {ENGINE_T_FUSE, ENOENT, NULL, NULL, false}, ENGINE_FAIL_DEV_MISSING},
        {&lf, {ENGINE_T_FUSE, ENODEV, NULL, NULL, false}, ENGINE_FAIL_DEV_MISSING},
        {&lf, {ENGINE_T_FUSE, EPERM, NULL, NULL, false}, ENGINE_FAIL_DEV_DENIED},
        {&lf, {ENGINE_T_FUSE, ENOTDIR, NULL, NULL, false}, ENGINE_FAIL_MOUNTPOINT},
        {&lf, {ENGINE_T_FUSE, EBUSY, NULL, NULL, false}, ENGINE_FAIL_MOUNTPOINT},
        {&lf, {ENGINE_T_FUSE, EIO, NULL, NULL, false}, ENGINE_FAIL_UNKNOWN},
        {&lf, {ENGINE_T_FUSE, 0, NULL, NULL, true}, ENGINE_FAIL_NOT_RESPONDING},
        /* macOS kext: the field errors while the kext is not loaded */
        {&m153, {ENGINE_T_KEXT, EROFS, NULL, NULL, false}, ENGINE_FAIL_KEXT_NOT_APPROVED},
        {&m153, {ENGINE_T_KEXT, EACCES, NULL, NULL, false}, ENGINE_FAIL_KEXT_NOT_APPROVED},
        {&m153, {ENGINE_T_KEXT, EPERM, NULL, NULL, false}, ENGINE_FAIL_KEXT_NOT_APPROVED},
        {&m153,
         {ENGINE_T_KEXT, EIO, "mount_macfuse: the file system is not available (1)", NULL, false},
         ENGINE_FAIL_KEXT_NOT_APPROVED},
        {&m153, {ENGINE_T_KEXT, ENOENT, NULL, NULL, false}, ENGINE_FAIL_MOUNTPOINT},
        /* ... while with the kext loaded, EACCES is about the mountpoint */
        {&m14, {ENGINE_T_KEXT, EACCES, NULL, NULL, false}, ENGINE_FAIL_MOUNTPOINT},
        {&m14, {ENGINE_T_KEXT, EIO, NULL, NULL, false}, ENGINE_FAIL_UNKNOWN},
        {&m14,
         {ENGINE_T_FSKIT, EPERM, NULL, "/Volumes/strata-501-1", false},
         ENGINE_FAIL_FSKIT_OS_TOO_OLD},
        /* macOS FSKit */
        {&m154,
         {ENGINE_T_FSKIT, 0, "File system extension not found", "/Volumes/s", false},
         ENGINE_FAIL_FSKIT_DISABLED},
        {&m154,
         {ENGINE_T_FSKIT, 69, "mount: File system named macfuse not found", "/Volumes/s", false},
         ENGINE_FAIL_FSKIT_DISABLED},
        {&m154, {ENGINE_T_FSKIT, EPERM, NULL, "/Volumes/s", false}, ENGINE_FAIL_FSKIT_DISABLED},
        {&m154,
         {ENGINE_T_FSKIT, EPERM, NULL, "/Users/alice/s", false},
         ENGINE_FAIL_FSKIT_MOUNTPOINT},
        {&m154_root, {ENGINE_T_FSKIT, EPERM, NULL, "/Volumes/s", false}, ENGINE_FAIL_FSKIT_ROOT},
        {&m154, {ENGINE_T_FSKIT, ENOENT, NULL, "/Volumes/s", false}, ENGINE_FAIL_MOUNTPOINT},
        /* NFS */
        {&lr, {ENGINE_T_NFS, EADDRINUSE, NULL, NULL, false}, ENGINE_FAIL_NFS_PORT_IN_USE},
        {&m153,
         {ENGINE_T_NFS, 0, "bind: Address already in use", NULL, false},
         ENGINE_FAIL_NFS_PORT_IN_USE},
        {&lnone, {ENGINE_T_NFS, ENODEV, NULL, NULL, false}, ENGINE_FAIL_NFS_NO_CLIENT},
        {&lr,
         {ENGINE_T_NFS, 32, "mount: unknown filesystem type 'nfs'", NULL, false},
         ENGINE_FAIL_NFS_NO_CLIENT},
        {&m153, {ENGINE_T_NFS, EPERM, NULL, NULL, false}, ENGINE_FAIL_NFS_NEEDS_ROOT},
        {&lr, {ENGINE_T_NFS, EPERM, NULL, NULL, false}, ENGINE_FAIL_UNKNOWN},
        {&lr, {ENGINE_T_NFS, EBUSY, NULL, NULL, false}, ENGINE_FAIL_MOUNTPOINT},
        {&lr, {ENGINE_T_NFS, ETIMEDOUT, NULL, NULL, false}, ENGINE_FAIL_NOT_RESPONDING},
        /* none */
        {&lf, {ENGINE_T_NONE, ENOENT, NULL, NULL, false}, ENGINE_FAIL_MOUNTPOINT},
        {&lf, {ENGINE_T_NONE, ENOSPC, NULL, NULL, false}, ENGINE_FAIL_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        engine_failure got = plan_classify(cases[i].f, &cases[i].in);
        if (got != cases[i].want)
            fail_msg("case %zu (%s, errno %d): %s, want %s", i,
                     engine_transport_name(cases[i].in.transport), cases[i].in.sys_errno,
                     hints_failure_name(got), hints_failure_name(cases[i].want));
    }
}

static void test_plan_next(void **state)
{
    (void)state;
    engine_facts f = linux_container();
    engine_config c = cfg(AUTO);
    engine_plan p;
    assert_ok(plan_build(&f, &c, &req_default, &p));
    assert_int_equal(plan_next(&p, 0), 2); /* fuse and nfs are out */
    assert_int_equal(plan_next(&p, 3), p.count);
    assert_int_equal(plan_next(&p, 99), p.count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_table),      cmocka_unit_test(test_pin_over_enabled),
        cmocka_unit_test(test_impossible_pins), cmocka_unit_test(test_mountpoints_and_options),
        cmocka_unit_test(test_field_case),      cmocka_unit_test(test_fskit_first),
        cmocka_unit_test(test_all_failed),      cmocka_unit_test(test_classify),
        cmocka_unit_test(test_plan_next),
    };
    return cmocka_run_group_tests_name("engine_plan", tests, NULL, NULL);
}
