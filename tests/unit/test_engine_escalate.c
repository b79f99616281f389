/* Unit tests for the escalation plan (engine/escalate.h): a table of
 * (platform, root/admin/Admin By Request, transport, need, --sudo) ->
 * what to do, plus the invariant that matters most: sudo is never part
 * of a plan the user did not consent to. Then its executor, escalate_run,
 * with a fake clock and a scripted admin group: what it says, how long
 * the Admin By Request wait lasts, and the error for each kind. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* The fake world escalate_run sees: a clock that moves only when slept,
 * an admin group that lets the user in after a number of questions, and
 * a record of every line said. */
#define FAKE_LINES 64

typedef struct fake {
    double t;         /* the clock, seconds */
    int admin_after;  /* is_admin is true from call admin_after+1 on; -1: never */
    int admin_calls;  /* is_admin calls so far */
    int sleeps;       /* sleep calls */
    double sleep_min; /* the shortest and longest single sleep */
    double sleep_max;
    size_t nlines;                /* lines said (all counted) */
    char lines[FAKE_LINES][1024]; /* the first FAKE_LINES of them */
} fake;

static void fake_say(void *ctx, const char *line)
{
    fake *f = ctx;
    if (f->nlines < FAKE_LINES)
        snprintf(f->lines[f->nlines], sizeof(f->lines[0]), "%s", line);
    f->nlines++;
}

static bool fake_is_admin(void *ctx)
{
    fake *f = ctx;
    f->admin_calls++;
    return f->admin_after >= 0 && f->admin_calls > f->admin_after;
}

static double fake_now(void *ctx)
{
    return ((fake *)ctx)->t;
}

static void fake_sleep(void *ctx, double seconds)
{
    fake *f = ctx;
    if (f->sleeps == 0 || seconds < f->sleep_min)
        f->sleep_min = seconds;
    if (f->sleeps == 0 || seconds > f->sleep_max)
        f->sleep_max = seconds;
    f->sleeps++;
    f->t += seconds;
}

/* A fresh fake starting at an odd time (the clock is not zero-based). */
static escalate_io fake_io(fake *f, int admin_after)
{
    memset(f, 0, sizeof(*f));
    f->t = 1000.25;
    f->admin_after = admin_after;
    escalate_io io = {
        .ctx = f, .say = fake_say, .is_admin = fake_is_admin, .now = fake_now, .sleep = fake_sleep};
    return io;
}

static escalate_plan plan_of(who w, engine_transport t, engine_failure need, bool consent)
{
    engine_facts f = facts_of(w);
    escalate_plan p;
    escalate_plan_for(&f, t, need, consent, &p);
    return p;
}

/* The hint escalate_run gives for a refused plan, built here on its own:
 * one step as it is, several numbered. */
static void want_steps_hint(const escalate_plan *p, char *buf, size_t n)
{
    if (p->nsteps == 1) {
        snprintf(buf, n, "%s", p->steps[0]);
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < p->nsteps; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, n - used, "%s%zu) %s", i ? "; " : "", i + 1, p->steps[i]);
    }
}

static void test_run_nothing(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, 0);
    escalate_plan p = plan_of((who)LINUX_USER, ENGINE_T_FUSE, ENGINE_FAIL_NONE, true);
    assert_int_equal(p.kind, ESCALATE_NOTHING);
    assert_ok(escalate_run(&p, &io));
    assert_int_equal(f.nlines, 0);
    assert_int_equal(f.admin_calls, 0);
    assert_int_equal(f.sleeps, 0);
    /* Root on macOS: NFS needs nothing either. */
    p = plan_of((who)MAC_ROOT, ENGINE_T_NFS, ENGINE_FAIL_NONE, false);
    assert_int_equal(p.kind, ESCALATE_NOTHING);
    assert_ok(escalate_run(&p, &io));
    assert_int_equal(f.nlines, 0);
}

static void test_run_sudo(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, 0);
    escalate_plan p = plan_of((who)MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_int_equal(p.kind, ESCALATE_SUDO);
    assert_ok(escalate_run(&p, &io));
    assert_int_equal(f.nlines, 1);
    assert_string_equal(f.lines[0], p.steps[0]);
    assert_non_null(strstr(f.lines[0], "sudo"));
    assert_non_null(strstr(f.lines[0], "password"));
    assert_int_equal(f.sleeps, 0);
    assert_true(f.t == 1000.25);
}

static void test_run_ask_consent(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, 0);
    escalate_plan p = plan_of((who)MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NONE, false);
    assert_int_equal(p.kind, ESCALATE_ASK_CONSENT);
    strata_err *e = escalate_run(&p, &io);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->msg, "needs root"));
    assert_non_null(strstr(e->hint, "--sudo"));
    assert_string_equal(e->hint, p.steps[0]);
    strata_err_free(e);
    assert_int_equal(f.nlines, 0);
    assert_int_equal(f.admin_calls, 0);
}

/* Admin By Request grants admin on the sixth question (five noes, one
 * every poll_seconds): the steps are said first, in order, then a "granted"
 * line, and the fake clock moved by exactly five polls. */
static void test_run_abr_granted(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, 5);
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_int_equal(p.kind, ESCALATE_ABR_FLOW);
    assert_true(p.uses_sudo);
    assert_ok(escalate_run(&p, &io));
    assert_int_equal(f.admin_calls, 6);
    assert_int_equal(f.sleeps, 5);
    assert_true(f.sleep_min == p.poll_seconds && f.sleep_max == p.poll_seconds);
    assert_true(f.t == 1000.25 + 5.0 * p.poll_seconds);
    assert_int_equal(f.nlines, p.nsteps + 1);
    for (size_t i = 0; i < p.nsteps; i++)
        assert_string_equal(f.lines[i], p.steps[i]);
    assert_non_null(strstr(f.lines[0], "Request Administrator Access"));
    assert_non_null(strstr(f.lines[p.nsteps], "granted"));
}

/* An admin already (elevated since the plan was made): no guidance, no
 * wait. */
static void test_run_abr_already_admin(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, 0);
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_ok(escalate_run(&p, &io));
    assert_int_equal(f.admin_calls, 1);
    assert_int_equal(f.sleeps, 0);
    assert_int_equal(f.nlines, 0);
}

/* Never granted: the wait ends exactly at the bound (the last sleep is cut
 * to the deadline), every sleep is a real pause no longer than a poll,
 * and the progress lines come every 30 s: 30, 60, ... 570 (19), none at
 * the deadline itself. The error is the hints table's not-elevated row. */
static void test_run_abr_timeout(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, -1);
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_int_equal(p.wait_seconds, 600);
    assert_int_equal(p.poll_seconds, 2);
    strata_err *e = escalate_run(&p, &io);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    const hints_row *row = hints_lookup(ENGINE_OS_MACOS, ENGINE_T_NFS, ENGINE_FAIL_NOT_ELEVATED);
    assert_int_equal(row->failure, ENGINE_FAIL_NOT_ELEVATED);
    assert_string_equal(e->hint, row->hint);
    assert_non_null(strstr(e->msg, row->why));
    assert_non_null(strstr(e->msg, "600 s"));
    strata_err_free(e);

    double waited = f.t - 1000.25;
    assert_true(waited >= p.wait_seconds && waited < p.wait_seconds + p.poll_seconds);
    assert_true(f.sleep_min > 0 && f.sleep_max <= p.poll_seconds);
    assert_int_equal(f.sleeps, 300);
    assert_int_equal(f.admin_calls, 301); /* once before the steps, then after each sleep */

    size_t progress = f.nlines - p.nsteps;
    assert_int_equal(progress, 19);
    assert_true(progress <= (size_t)p.wait_seconds / ESCALATE_PROGRESS_SECONDS + 2);
    for (size_t i = 0; i < p.nsteps; i++)
        assert_string_equal(f.lines[i], p.steps[i]);
    assert_string_equal(f.lines[p.nsteps], "still waiting for administrator rights (570 s left)");
    assert_string_equal(f.lines[f.nlines - 1],
                        "still waiting for administrator rights (30 s left)");
}

/* A bound that is not a multiple of the poll: the last sleep is shortened
 * so that the wait ends at the bound, not a poll after it. */
static void test_run_abr_odd_bound(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, -1);
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    p.wait_seconds = 7;
    p.poll_seconds = 3;
    assert_err(escalate_run(&p, &io), STRATA_E_UNSUPPORTED);
    assert_true(f.t == 1000.25 + 7);
    assert_int_equal(f.sleeps, 3);
    assert_true(f.sleep_min == 1 && f.sleep_max == 3);
    assert_int_equal(f.nlines, p.nsteps); /* under 30 s: no progress line */
}

/* Granted, but without --sudo strata may not run sudo: rerun with it. */
static void test_run_abr_no_consent(void **state)
{
    (void)state;
    fake f;
    escalate_io io = fake_io(&f, 2);
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, false);
    assert_int_equal(p.kind, ESCALATE_ABR_FLOW);
    assert_false(p.uses_sudo);
    strata_err *e = escalate_run(&p, &io);
    assert_non_null(e);
    assert_int_equal(e->code, STRATA_E_UNSUPPORTED);
    assert_non_null(strstr(e->hint, "--sudo"));
    assert_non_null(strstr(e->msg, "needs root"));
    strata_err_free(e);
    assert_int_equal(f.admin_calls, 3);
    assert_true(f.t == 1000.25 + 2.0 * p.poll_seconds);
    assert_string_equal(f.lines[p.nsteps - 1], p.steps[p.nsteps - 1]);
    assert_non_null(strstr(f.lines[p.nsteps - 1], "again with --sudo"));
}

/* The kinds strata cannot carry out: an error whose message is the hints
 * table's "why" for the blocker and whose hint is the plan's steps, said
 * nowhere else (nothing is said, no waiting). */
static void test_run_refused(void **state)
{
    (void)state;
    const struct {
        const char *name;
        who w;
        engine_transport t;
        engine_failure need;
        escalate_kind want;
        const char *hint_has;
    } cases[] = {
        {"linux nfs", LINUX_USER, ENGINE_T_NFS, ENGINE_FAIL_NONE, ESCALATE_ROOT_NEEDED,
         "run strata as root"},
        {"mac nfs, no admin", MAC_USER, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT,
         ESCALATE_IMPOSSIBLE, "ask an administrator"},
        {"mac kext, no admin", MAC_USER, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED,
         ESCALATE_IMPOSSIBLE, "4) restart"},
        {"mac kext, admin", MAC_ADMIN, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED,
         ESCALATE_APPROVAL, "1) System Settings › Privacy & Security"},
        {"mac kext, ABR", MAC_USER_ABR, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED,
         ESCALATE_APPROVAL, "1) request admin rights"},
        {"mac fskit off", MAC_USER, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_DISABLED, ESCALATE_APPROVAL,
         "File System Extensions"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake f;
        escalate_io io = fake_io(&f, 0);
        escalate_plan p = plan_of(cases[i].w, cases[i].t, cases[i].need, true);
        if (p.kind != cases[i].want)
            fail_msg("%s: plan %s, want %s", cases[i].name, escalate_kind_name(p.kind),
                     escalate_kind_name(cases[i].want));
        strata_err *e = escalate_run(&p, &io);
        if (!e)
            fail_msg("%s: escalate_run succeeded", cases[i].name);
        char want[2048];
        want_steps_hint(&p, want, sizeof(want));
        const char *why =
            hints_why(cases[i].w.os, cases[i].t,
                      cases[i].t == ENGINE_T_NFS ? ENGINE_FAIL_NFS_NEEDS_ROOT : cases[i].need);
        if (e->code != STRATA_E_UNSUPPORTED || !e->hint[0] || strcmp(e->hint, want) != 0 ||
            strcmp(e->msg, why) != 0 || !strstr(e->hint, cases[i].hint_has))
            fail_msg("%s: %s: '%s' (hint: '%s'), want '%s' (hint: '%s', with '%s')", cases[i].name,
                     strata_code_name(e->code), e->msg, e->hint, why, want, cases[i].hint_has);
        strata_err_free(e);
        assert_int_equal(f.nlines, 0);
        assert_int_equal(f.admin_calls, 0);
        assert_int_equal(f.sleeps, 0);
    }
}

/* The plan names its blocker, which the errors look up. */
static void test_plan_need(void **state)
{
    (void)state;
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_int_equal(p.os, ENGINE_OS_MACOS);
    assert_int_equal(p.transport, ENGINE_T_NFS);
    assert_int_equal(p.need, ENGINE_FAIL_NFS_NEEDS_ROOT);
    p = plan_of((who)MAC_ROOT, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_int_equal(p.need, ENGINE_FAIL_NONE);
    p = plan_of((who)MAC_ADMIN, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED, false);
    assert_int_equal(p.need, ENGINE_FAIL_KEXT_NOT_APPROVED);
    p = plan_of((who)LINUX_USER, ENGINE_T_FUSE, ENGINE_FAIL_NONE, false);
    assert_int_equal(p.os, ENGINE_OS_LINUX);
    assert_int_equal(p.need, ENGINE_FAIL_NONE);
}

/* The ABR flow without the functions it needs is a caller's bug, not a
 * crash. */
static void test_run_missing_io(void **state)
{
    (void)state;
    escalate_io io = {0};
    escalate_plan p = plan_of((who)MAC_USER_ABR, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_err(escalate_run(&p, &io), STRATA_E_INTERNAL);
    assert_err(escalate_run(&p, NULL), STRATA_E_INTERNAL);
    /* say may be NULL, and io too where nothing else is needed. */
    p = plan_of((who)MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_ok(escalate_run(&p, &io));
    assert_ok(escalate_run(&p, NULL));
    p = plan_of((who)MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NONE, false);
    assert_err(escalate_run(&p, NULL), STRATA_E_UNSUPPORTED);
}

static void count_say(void *ctx, const char *line)
{
    (void)line;
    (*(int *)ctx)++;
}

/* The real world: a monotonic clock, a sleep that sleeps, and on Linux
 * admin means root. The caller's say is kept. */
static void test_io_default(void **state)
{
    (void)state;
    int said = 0;
    escalate_io io;
    escalate_io_default(&io, count_say, &said);
    assert_ptr_equal(io.ctx, &said);
    assert_ptr_equal(io.say, count_say);
    assert_non_null(io.is_admin);
    assert_non_null(io.now);
    assert_non_null(io.sleep);
    double t0 = io.now(io.ctx);
    io.sleep(io.ctx, 0.02);
    double t1 = io.now(io.ctx);
    assert_true(t1 - t0 >= 0.02 && t1 - t0 < 5);
    io.sleep(io.ctx, 0);
    io.sleep(io.ctx, -1);
    assert_true(io.now(io.ctx) >= t1);
#ifdef __linux__
    assert_int_equal(io.is_admin(io.ctx), geteuid() == 0);
#endif
    escalate_plan p = plan_of((who)MAC_ADMIN, ENGINE_T_NFS, ENGINE_FAIL_NONE, true);
    assert_ok(escalate_run(&p, &io));
    assert_int_equal(said, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_abr_flow),
        cmocka_unit_test(test_invariants),
        cmocka_unit_test(test_plan_need),
        cmocka_unit_test(test_run_nothing),
        cmocka_unit_test(test_run_sudo),
        cmocka_unit_test(test_run_ask_consent),
        cmocka_unit_test(test_run_abr_granted),
        cmocka_unit_test(test_run_abr_already_admin),
        cmocka_unit_test(test_run_abr_timeout),
        cmocka_unit_test(test_run_abr_odd_bound),
        cmocka_unit_test(test_run_abr_no_consent),
        cmocka_unit_test(test_run_refused),
        cmocka_unit_test(test_run_missing_io),
        cmocka_unit_test(test_io_default),
    };
    return cmocka_run_group_tests_name("engine_escalate", tests, NULL, NULL);
}
