/* Unit tests for the escalation plan (engine/escalate.h): a table of
 * (platform, root/admin/Admin By Request, transport, need, --sudo) ->
 * what to do, plus the invariant that matters most: sudo is never part
 * of a plan the user did not consent to. */
#include <string.h>

#include "engine/escalate.h"
#include "testutil.h"

typedef struct who {
    engine_os os;
    bool root, admin, abr;
} who;

static engine_facts facts_of(who w)
{
    engine_facts f = {.os = w.os, .root = w.root, .admin = w.admin || w.root, .abr = w.abr};
    f.uid = w.root ? 0 : 501;
    facts_finish(&f);
    return f;
}

#define LINUX_USER                                                                                 \
    {                                                                                              \
        ENGINE_OS_LINUX, false, false, false                                                       \
    }
#define LINUX_ROOT                                                                                 \
    {                                                                                              \
        ENGINE_OS_LINUX, true, true, false                                                         \
    }
#define MAC_ROOT                                                                                   \
    {                                                                                              \
        ENGINE_OS_MACOS, true, true, false                                                         \
    }
#define MAC_ADMIN                                                                                  \
    {                                                                                              \
        ENGINE_OS_MACOS, false, true, false                                                        \
    }
#define MAC_USER_ABR                                                                               \
    {                                                                                              \
        ENGINE_OS_MACOS, false, false, true                                                        \
    }
#define MAC_USER                                                                                   \
    {                                                                                              \
        ENGINE_OS_MACOS, false, false, false                                                       \
    }

static bool has_step(const escalate_plan *p, const char *needle)
{
    for (size_t i = 0; i < p->nsteps; i++)
        if (strstr(p->steps[i], needle))
            return true;
    return false;
}

static void test_table(void **state)
{
    (void)state;
    const struct {
        const char *name;
        who w;
        engine_transport t;
        engine_failure need;
        bool consent;
        escalate_kind want;
        bool uses_sudo, needs_admin;
        const char *step; /* a step must mention this (NULL: no steps) */
    } cases[] = {
        /* Linux: FUSE needs nothing; NFS needs root, and strata says so. */
        {"linux fuse", LINUX_USER, ENGINE_T_FUSE, ENGINE_FAIL_NONE, false, ESCALATE_NOTHING, false,
         false, NULL},
        {"linux fuse, --sudo", LINUX_USER, ENGINE_T_FUSE, ENGINE_FAIL_NONE, true, ESCALATE_NOTHING,
         false, false, NULL},
        {"linux nfs user", LINUX_USER, ENGINE_T_NFS, ENGINE_FAIL_NONE, false, ESCALATE_ROOT_NEEDED,
         false, true, "run strata as root"},
        {"linux nfs user, --sudo", LINUX_USER, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT, true,
         ESCALATE_ROOT_NEEDED, false, true, "needs root"},
        {"linux nfs root", LINUX_ROOT, ENGINE_T_NFS, ENGINE_FAIL_NONE, false, ESCALATE_NOTHING,
         false, false, NULL},
        {"linux none", LINUX_USER, ENGINE_T_NONE, ENGINE_FAIL_NONE, false, ESCALATE_NOTHING, false,
         false, NULL},
        /* macOS NFS: mount_nfs needs root. */
        {"mac nfs root", MAC_ROOT, ENGINE_T_NFS, ENGINE_FAIL_NONE, false, ESCALATE_NOTHING, false,
         false, NULL},
        {"mac nfs admin, --sudo", MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NONE, true, ESCALATE_SUDO,
         true, true, "with sudo"},
        {"mac nfs admin", MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT, false,
         ESCALATE_ASK_CONSENT, false, true, "pass --sudo"},
        {"mac nfs ABR, --sudo", MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true,
         ESCALATE_ABR_FLOW, true, true, "Request Administrator Access"},
        {"mac nfs ABR", MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, false, ESCALATE_ABR_FLOW,
         false, true, "again with --sudo"},
        {"mac nfs user", MAC_USER, ENGINE_T_NFS, ENGINE_FAIL_NONE, true, ESCALATE_IMPOSSIBLE, false,
         true, "ask an administrator"},
        {"mac nfs port in use", MAC_USER, ENGINE_T_NFS, ENGINE_FAIL_NFS_PORT_IN_USE, true,
         ESCALATE_NOTHING, false, false, NULL},
        /* macOS kext approval: System Settings, an admin, a restart. */
        {"mac kext admin", MAC_ADMIN, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED, false,
         ESCALATE_APPROVAL, false, true, "Privacy & Security"},
        {"mac kext ABR", MAC_USER_ABR, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED, true,
         ESCALATE_APPROVAL, false, true, "Request Administrator Access"},
        {"mac kext user", MAC_USER, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED, false,
         ESCALATE_IMPOSSIBLE, false, true, "ask an administrator"},
        {"mac kext, nothing in the way", MAC_USER, ENGINE_T_KEXT, ENGINE_FAIL_NONE, false,
         ESCALATE_NOTHING, false, false, NULL},
        /* macOS FSKit: a per-user switch, never sudo. */
        {"mac fskit off", MAC_USER, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_DISABLED, true,
         ESCALATE_APPROVAL, false, false, "File System Extensions"},
        {"mac fskit", MAC_USER, ENGINE_T_FSKIT, ENGINE_FAIL_NONE, true, ESCALATE_NOTHING, false,
         false, NULL},
        {"mac none", MAC_USER, ENGINE_T_NONE, ENGINE_FAIL_NONE, true, ESCALATE_NOTHING, false,
         false, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        engine_facts f = facts_of(cases[i].w);
        escalate_plan p;
        escalate_plan_for(&f, cases[i].t, cases[i].need, cases[i].consent, &p);
        if (p.kind != cases[i].want || p.uses_sudo != cases[i].uses_sudo ||
            p.needs_admin != cases[i].needs_admin)
            fail_msg("%s: %s sudo=%d admin=%d, want %s sudo=%d admin=%d", cases[i].name,
                     escalate_kind_name(p.kind), p.uses_sudo, p.needs_admin,
                     escalate_kind_name(cases[i].want), cases[i].uses_sudo, cases[i].needs_admin);
        if (cases[i].step ? !has_step(&p, cases[i].step) : p.nsteps != 0)
            fail_msg("%s: steps lack '%s' (%zu steps)", cases[i].name,
                     cases[i].step ? cases[i].step : "(none)", p.nsteps);
    }
}

static void test_abr_flow(void **state)
{
    (void)state;
    engine_facts f = facts_of((who)MAC_USER_ABR);
    escalate_plan p;
    escalate_plan_for(&f, ENGINE_T_NFS, ENGINE_FAIL_NONE, true, &p);
    assert_int_equal(p.kind, ESCALATE_ABR_FLOW);
    /* request, bounded wait, then sudo: in that order. */
    assert_int_equal(p.nsteps, 3);
    assert_non_null(strstr(p.steps[0], "Admin By Request"));
    assert_non_null(strstr(p.steps[1], "wait"));
    assert_non_null(strstr(p.steps[2], "sudo"));
    assert_int_equal(p.wait_seconds, ESCALATE_ABR_WAIT_SECONDS);
    assert_int_equal(p.poll_seconds, ESCALATE_ABR_POLL_SECONDS);
    assert_true(p.wait_seconds > 0 && p.poll_seconds > 0 && p.poll_seconds < p.wait_seconds);
    /* Once elevated (in the admin group), the flow is over: sudo. */
    f.admin = true;
    escalate_plan_for(&f, ENGINE_T_NFS, ENGINE_FAIL_NONE, true, &p);
    assert_int_equal(p.kind, ESCALATE_SUDO);
    assert_int_equal(p.wait_seconds, 0);
    /* The kext approval through Admin By Request: elevation first. */
    f.admin = false;
    escalate_plan_for(&f, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED, false, &p);
    assert_non_null(strstr(p.steps[0], "Admin By Request"));
    assert_non_null(strstr(p.steps[p.nsteps - 1], "restart"));
}

/* Over every combination: sudo only with consent, steps well formed,
 * nothing to do means no steps. */
static void test_invariants(void **state)
{
    (void)state;
    const who whos[] = {LINUX_USER, LINUX_ROOT, MAC_ROOT, MAC_ADMIN, MAC_USER_ABR, MAC_USER};
    for (size_t w = 0; w < sizeof(whos) / sizeof(whos[0]); w++) {
        engine_facts f = facts_of(whos[w]);
        for (int t = 0; t < ENGINE_T_COUNT; t++) {
            for (int need = 0; need < ENGINE_FAIL_COUNT; need++) {
                for (int consent = 0; consent < 2; consent++) {
                    escalate_plan p;
                    escalate_plan_for(&f, (engine_transport)t, (engine_failure)need, consent, &p);
                    if (p.uses_sudo && !consent)
                        fail_msg("sudo without consent: %s/%s", engine_transport_name(t),
                                 hints_failure_name((engine_failure)need));
                    assert_true(p.nsteps <= ESCALATE_STEPS_MAX);
                    for (size_t s = 0; s < p.nsteps; s++)
                        assert_true(p.steps[s] && strlen(p.steps[s]) > 10);
                    if (p.kind == ESCALATE_NOTHING)
                        assert_int_equal(p.nsteps, 0);
                    else
                        assert_true(p.nsteps > 0);
                    /* Root never needs anything for NFS; FSKit never sudo. */
                    if (f.root && t == ENGINE_T_NFS)
                        assert_int_equal(p.kind, ESCALATE_NOTHING);
                    if (t == ENGINE_T_FSKIT)
                        assert_false(p.uses_sudo);
                    if (f.os == ENGINE_OS_LINUX)
                        assert_false(p.uses_sudo);
                }
            }
        }
    }
    for (int a = ESCALATE_NOTHING; a <= ESCALATE_IMPOSSIBLE; a++) {
        assert_string_not_equal(escalate_kind_name((escalate_kind)a), "?");
        for (int b = ESCALATE_NOTHING; b < a; b++)
            assert_string_not_equal(escalate_kind_name((escalate_kind)a),
                                    escalate_kind_name((escalate_kind)b));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_abr_flow),
        cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests_name("engine_escalate", tests, NULL, NULL);
}
