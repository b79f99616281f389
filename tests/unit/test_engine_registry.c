/* Unit tests for the mount registry and the sweep's decisions: the record
 * format (round trip, every way a record can be corrupt), register / list
 * / unregister in a real directory (XDG_RUNTIME_DIR pointed at a scratch
 * one), a dead owner told by its lock (a child that registers and exits),
 * corrupt and leftover files, the directory checks (mode, symbolic link,
 * owner), and the pure sweep decisions, plus sweeps that must not unmount
 * anything (nothing mounted; someone else's mount). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/registry.h"
#include "engine/sweep.h"
#include "testutil.h"

static char *tdir;

static int setup(void **state)
{
    (void)state;
    tdir = tu_mkdtemp("registry");
    setenv("XDG_RUNTIME_DIR", tdir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(tdir);
    tdir = NULL;
    return 0;
}

static registry_record sample(const char *mp)
{
    registry_record r = {.pid = getpid(), .kind = REGISTRY_KIND_MOUNT};
    snprintf(r.transport, sizeof(r.transport), "fuse");
    snprintf(r.mountpoint, sizeof(r.mountpoint), "%s", mp);
    return r;
}

static size_t count_files(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    unsigned long n = 0;
    assert_int_equal(fscanf(p, "%lu", &n), 1);
    pclose(p);
    return n;
}

/* ---- the record format --------------------------------------------------- */

static void test_codec_roundtrip(void **state)
{
    (void)state;
    registry_record r = sample("/home/u/my mnt=x");
    memcpy(r.id, "0123456789abcdef", 17);
    r.started = 1760000000;
    r.kind = REGISTRY_KIND_RUN;
    snprintf(r.dir, sizeof(r.dir), "/tmp/strata-run-Ab12");
    char buf[REGISTRY_REC_MAX + 1];
    assert_true(registry_encode(&r, buf, sizeof(buf)));
    registry_record back;
    assert_ok(registry_decode(buf, strlen(buf), &back));
    assert_memory_equal(&r, &back, sizeof(r));

    /* A key of a later version is ignored. */
    char more[REGISTRY_REC_MAX + 1];
    snprintf(more, sizeof(more), "%sslot=7\n", buf);
    assert_ok(registry_decode(more, strlen(more), &back));
    assert_string_equal(back.mountpoint, "/home/u/my mnt=x");

    /* What cannot be written is refused, not written wrong. */
    registry_record bad = r;
    snprintf(bad.mountpoint, sizeof(bad.mountpoint), "/a\nb");
    assert_false(registry_encode(&bad, buf, sizeof(buf)));
    bad = r;
    snprintf(bad.mountpoint, sizeof(bad.mountpoint), "relative");
    assert_false(registry_encode(&bad, buf, sizeof(buf)));
    bad = r;
    snprintf(bad.transport, sizeof(bad.transport), "smb");
    assert_false(registry_encode(&bad, buf, sizeof(buf)));
    assert_false(registry_encode(&r, buf, 20)); /* does not fit */

    /* Every kind round-trips under its own name. */
    const registry_kind kinds[] = {REGISTRY_KIND_MOUNT, REGISTRY_KIND_RUN, REGISTRY_KIND_SERVE,
                                   REGISTRY_KIND_SLOT};
    const char *names[] = {"mount", "run", "serve", "slot"};
    for (size_t i = 0; i < 4; i++) {
        registry_record k = r;
        k.kind = kinds[i];
        assert_string_equal(registry_kind_name(k.kind), names[i]);
        assert_true(registry_encode(&k, buf, sizeof(buf)));
        char want[32];
        snprintf(want, sizeof(want), "\nkind=%s\n", names[i]);
        assert_non_null(strstr(buf, want));
        assert_ok(registry_decode(buf, strlen(buf), &back));
        assert_int_equal(back.kind, kinds[i]);
    }
}

static void test_codec_corrupt(void **state)
{
    (void)state;
    const char *good = "strata-registry 1\nid=0123456789abcdef\npid=42\nkind=mount\n"
                       "transport=fuse\nmountpoint=/m\nstarted=5\n";
    registry_record r;
    assert_ok(registry_decode(good, strlen(good), &r));
    assert_int_equal(r.pid, 42);
    assert_int_equal(r.started, 5);
    static const char *const bad[] = {
        "",
        "strata-registry 2\nid=0123456789abcdef\n",
        "garbage",
        /* torn: the last line cut short */
        "strata-registry 1\nid=0123456789abcdef\npid=42\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5",
        /* a required key missing */
        "strata-registry 1\nid=0123456789abcdef\npid=42\nkind=mount\ntransport=fuse\n"
        "started=5\n",
        /* duplicated */
        "strata-registry 1\nid=0123456789abcdef\npid=42\npid=43\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n",
        /* bad values */
        "strata-registry 1\nid=0123456789abcdef\npid=0\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n",
        "strata-registry 1\nid=0123456789abcdef\npid=-1\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n",
        "strata-registry 1\nid=0123456789abcdef\npid=99999999999\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n",
        "strata-registry 1\nid=0123456789ABCDEF\npid=4\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n",
        "strata-registry 1\nid=0123456789abcdef\npid=4\nkind=daemon\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n",
        "strata-registry 1\nid=0123456789abcdef\npid=4\nkind=mount\ntransport=smb\n"
        "mountpoint=/m\nstarted=5\n",
        "strata-registry 1\nid=0123456789abcdef\npid=4\nkind=mount\ntransport=fuse\n"
        "mountpoint=m\nstarted=5\n",
        "strata-registry 1\nid=0123456789abcdef\npid=4\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5x\n",
        "strata-registry 1\nid=0123456789abcdef\npid=4\nno equals sign\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strata_err *e = registry_decode(bad[i], strlen(bad[i]), &r);
        if (!e)
            fail_msg("case %zu decoded", i);
        assert_int_equal(e->code, STRATA_E_CORRUPT);
        assert_non_null(strstr(e->msg, "corrupt registry record"));
        strata_err_free(e);
        assert_int_equal(r.pid, 0); /* nothing half-filled */
    }
    /* A NUL byte inside. */
    char nul[] = "strata-registry 1\nid=0123456789abcdef\0\n";
    assert_err(registry_decode(nul, sizeof(nul) - 1, &r), STRATA_E_CORRUPT);
}

/* ---- the directory ------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    registry *r;
    assert_ok(registry_open(NULL, &r));
    char *want = tu_path(tdir, "strata/mounts");
    assert_string_equal(registry_path(r), want);
    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char *root = tu_path(tdir, "strata");
    assert_int_equal(stat(root, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    registry_record rec = sample("/some/where");
    registry_handle *h;
    assert_ok(registry_register(r, &rec, &h));
    assert_int_equal(strlen(rec.id), REGISTRY_ID_LEN);
    assert_true(rec.started > 0);

    registry_entry *ents;
    size_t n;
    assert_ok(registry_list(r, &ents, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ents[0].state, REGISTRY_LIVE);
    assert_true(ents[0].live);
    assert_string_equal(ents[0].id, rec.id);
    assert_memory_equal(&ents[0].rec, &rec, sizeof(rec));
    free(ents);

    /* A live entry is never claimed, even by its own process. */
    registry_handle *c;
    bool got;
    assert_ok(registry_claim(r, rec.id, &c, &got));
    assert_false(got);
    assert_null(c);

    /* The lock is not inherited across exec: ls lists its own open
     * descriptors, and the lock file must not be among them. */
    char lock[64], cmd[256];
    snprintf(lock, sizeof(lock), "%s.lock", rec.id);
    snprintf(cmd, sizeof(cmd), "ls -l /proc/self/fd/ | grep -q '%s' && exit 1; exit 0", lock);
    assert_int_equal(system(cmd), 0);

    assert_ok(registry_unregister(h));
    assert_ok(registry_list(r, &ents, &n));
    assert_int_equal(n, 0);
    free(ents);
    assert_int_equal(count_files(want), 0);
    registry_close(r);
    free(root);
    free(want);
}

/* A child registers and exits without unregistering: its lock can then
 * be taken, so the entry is dead. */
static void register_in_child(registry *r, registry_record *rec)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        rec->pid = getpid();
        registry_handle *h;
        strata_err *e = registry_register(r, rec, &h);
        if (e)
            _exit(1);
        if (write(p[1], rec, sizeof(*rec)) != (ssize_t)sizeof(*rec))
            _exit(1);
        _exit(0); /* no unregister: a SIGKILL would look the same */
    }
    close(p[1]);
    assert_int_equal(read(p[0], rec, sizeof(*rec)), (ssize_t)sizeof(*rec));
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(rec->pid, pid);
}

static void test_stale(void **state)
{
    (void)state;
    registry *r;
    assert_ok(registry_open(NULL, &r));
    registry_record rec = sample("/nowhere/mounted");
    register_in_child(r, &rec);

    registry_entry *ents;
    size_t n;
    assert_ok(registry_list(r, &ents, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ents[0].state, REGISTRY_DEAD);
    assert_false(ents[0].live);
    assert_int_equal(ents[0].rec.pid, rec.pid);
    free(ents);

    registry_handle *h, *h2;
    bool got;
    assert_ok(registry_claim(r, rec.id, &h, &got));
    assert_true(got);
    /* While claimed, nobody else gets it, and it lists as held. */
    assert_ok(registry_claim(r, rec.id, &h2, &got));
    assert_false(got);
    assert_ok(registry_list(r, &ents, &n));
    assert_int_equal(n, 1);
    assert_true(ents[0].live);
    free(ents);
    assert_ok(registry_drop(h));
    assert_ok(registry_list(r, &ents, &n));
    assert_int_equal(n, 0);
    free(ents);
    /* Gone: nothing to claim. */
    assert_ok(registry_claim(r, rec.id, &h, &got));
    assert_false(got);
    registry_close(r);
}

static void put(const char *dir, const char *name, const char *text)
{
    tu_write_file(dir, name, text, strlen(text), 0600);
}

static void test_corrupt_and_leftovers(void **state)
{
    (void)state;
    registry *r;
    assert_ok(registry_open(NULL, &r));
    const char *d = registry_path(r);
    put(d, "00000000000000a1.rec", "strata-registry 1\nid=00000000000000a1\npid=4\n");
    put(d, "00000000000000a2.rec", "not a record at all");
    put(d, "00000000000000a3.lock", "");
    put(d, "00000000000000a4.tmp", "strata-registry 1\n");
    put(d, "00000000000000a5.rec", /* an id that is not its name */
        "strata-registry 1\nid=00000000000000ff\npid=4\nkind=mount\ntransport=fuse\n"
        "mountpoint=/m\nstarted=5\n");
    put(d, "README", "not ours: ignored");
    /* A corrupt record whose owner lives (we hold its lock). */
    put(d, "00000000000000b1.rec", "junk");
    put(d, "00000000000000b1.lock", "");
    char *lp = tu_path(d, "00000000000000b1.lock");
    int lfd = open(lp, O_RDWR | O_CLOEXEC);
    assert_true(lfd >= 0);
    assert_int_equal(flock(lfd, LOCK_EX), 0);

    registry_entry *ents;
    size_t n;
    assert_ok(registry_list(r, &ents, &n));
    assert_int_equal(n, 6);
    size_t corrupt = 0, orphan = 0, live = 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].state == REGISTRY_CORRUPT) {
            corrupt++;
            assert_true(ents[i].why[0]);
        }
        orphan += ents[i].state == REGISTRY_ORPHAN;
        live += ents[i].live;
    }
    assert_int_equal(corrupt, 4);
    assert_int_equal(orphan, 2);
    assert_int_equal(live, 1);
    free(ents);

    sweep_report rep;
    assert_ok(sweep_run(r, &rep));
    assert_int_equal(rep.n, 5);
    assert_int_equal(rep.live, 1);
    assert_int_equal(rep.failures, 0);
    for (size_t i = 0; i < rep.n; i++) {
        assert_true(rep.items[i].record_removed);
        assert_false(rep.items[i].unmounted);
    }
    sweep_report_free(&rep);
    /* Left: README and the live owner's two files. */
    assert_int_equal(count_files(d), 3);
    close(lfd);
    free(lp);
    registry_close(r);
}

static void test_dir_checks(void **state)
{
    (void)state;
    registry *r;
    char *root = tu_path(tdir, "open");
    assert_int_equal(mkdir(root, 0777), 0);
    assert_int_equal(chmod(root, 0777), 0);
    assert_err(registry_open(root, &r), STRATA_E_INVALID);
    assert_null(r);
    assert_int_equal(chmod(root, 0755), 0);
    assert_ok(registry_open(root, &r)); /* 0755 is fine: nobody else writes */
    registry_close(r);
    /* mounts/ is checked too. */
    char *mounts = tu_path(root, "mounts");
    assert_int_equal(chmod(mounts, 0775), 0);
    assert_err(registry_open(root, &r), STRATA_E_INVALID);
    assert_int_equal(chmod(mounts, 0700), 0);

    char *link = tu_path(tdir, "link");
    assert_int_equal(symlink(root, link), 0);
    assert_err(registry_open(link, &r), STRATA_E_INVALID);

    char *file = tu_path(tdir, "file");
    put(tdir, "file", "x");
    assert_err(registry_open(file, &r), STRATA_E_INVALID);
    assert_err(registry_open("relative/dir", &r), STRATA_E_INVALID);

    if (geteuid() == 0) {
        assert_int_equal(chown(root, 1, 1), 0);
        strata_err *e = registry_open(root, &r);
        assert_non_null(e);
        assert_non_null(strstr(e->msg, "another user"));
        assert_non_null(strstr(e->hint, "XDG_RUNTIME_DIR"));
        strata_err_free(e);
    }

    /* Without XDG_RUNTIME_DIR (or with a relative one): /tmp/strata-<uid>. */
    char def[REGISTRY_PATH_MAX], want[64];
    snprintf(want, sizeof(want), "/tmp/strata-%lu", (unsigned long)getuid());
    setenv("XDG_RUNTIME_DIR", "relative", 1);
    registry_default_root(def);
    assert_string_equal(def, want);
    unsetenv("XDG_RUNTIME_DIR");
    registry_default_root(def);
    assert_string_equal(def, want);
    setenv("XDG_RUNTIME_DIR", tdir, 1);
    free(file);
    free(link);
    free(mounts);
    free(root);
}

/* ---- the sweep ----------------------------------------------------------- */

static void test_sweep_decide(void **state)
{
    (void)state;
    registry_entry e = {.state = REGISTRY_DEAD};
    snprintf(e.rec.transport, sizeof(e.rec.transport), "fuse");
    const engine_os L = ENGINE_OS_LINUX, M = ENGINE_OS_MACOS;
    assert_int_equal(sweep_decide(L, &e, "fuse.strata", false), SWEEP_UNMOUNT);
    assert_int_equal(sweep_decide(L, &e, NULL, false), SWEEP_FORGET);
    assert_int_equal(sweep_decide(L, &e, "ext4", false), SWEEP_FOREIGN);
    assert_int_equal(sweep_decide(L, &e, "fuse.sshfs", false), SWEEP_FOREIGN);
    /* A live owner mounted there since: not ours to unmount. */
    assert_int_equal(sweep_decide(L, &e, "fuse.strata", true), SWEEP_FOREIGN);
    e.live = true;
    e.state = REGISTRY_LIVE;
    assert_int_equal(sweep_decide(L, &e, "fuse.strata", false), SWEEP_KEEP);
    e.state = REGISTRY_CORRUPT;
    assert_int_equal(sweep_decide(L, &e, NULL, false), SWEEP_KEEP);
    e.live = false;
    assert_int_equal(sweep_decide(L, &e, NULL, false), SWEEP_FORGET);
    e.state = REGISTRY_DEAD;
    snprintf(e.rec.transport, sizeof(e.rec.transport), "fskit");
    assert_int_equal(sweep_decide(M, &e, "macfuse", false), SWEEP_UNMOUNT);
    assert_int_equal(sweep_decide(M, &e, "apfs", false), SWEEP_FOREIGN);
    snprintf(e.rec.transport, sizeof(e.rec.transport), "nfs");
    assert_int_equal(sweep_decide(M, &e, "nfs", false), SWEEP_UNMOUNT);
    assert_int_equal(sweep_decide(L, &e, "fuse.strata", false), SWEEP_FOREIGN);
    /* A slot is a directory of a serve's mount: whatever is mounted
     * around it, a dead slot run only loses its record. */
    snprintf(e.rec.transport, sizeof(e.rec.transport), "fuse");
    e.rec.kind = REGISTRY_KIND_SLOT;
    assert_int_equal(sweep_decide(L, &e, "fuse.strata", false), SWEEP_FORGET);
    assert_int_equal(sweep_decide(L, &e, NULL, false), SWEEP_FORGET);
    e.rec.kind = REGISTRY_KIND_SERVE;
    assert_int_equal(sweep_decide(L, &e, "fuse.strata", false), SWEEP_UNMOUNT);

    const char *live[] = {"/Volumes/strata-501-7", "/home/u/mnt"};
    assert_true(sweep_volume_stale("strata-501-3", 501, live, 2));
    assert_false(sweep_volume_stale("strata-501-7", 501, live, 2)); /* live */
    assert_false(sweep_volume_stale("strata-502-3", 501, live, 2)); /* another user's */
    assert_false(sweep_volume_stale("strata-501-", 501, live, 2));
    assert_false(sweep_volume_stale("Macintosh HD", 501, live, 2));
    assert_false(sweep_volume_stale("strata-501-3/..", 501, live, 2));

    assert_true(sweep_run_dir_ok("/tmp/strata-run-Ab12", "/tmp/strata-run-Ab12/mnt"));
    assert_false(sweep_run_dir_ok("/tmp/strata-run-Ab12", "/tmp/strata-run-Ab12/a/mnt"));
    assert_false(sweep_run_dir_ok("/tmp/other", "/tmp/other/mnt"));
    assert_false(sweep_run_dir_ok("/home/u", "/home/u/mnt"));
    assert_false(sweep_run_dir_ok("/tmp/strata-run-", "/tmp/strata-run-/mnt"));
    assert_false(sweep_run_dir_ok("/tmp/../strata-run-x", "/tmp/../strata-run-x/mnt"));
    assert_false(sweep_run_dir_ok("/tmp/strata-run-x", "/tmp/strata-run-xy/mnt"));

    assert_true(sweep_slot_dir_ok("/tmp/strata-run-Ab12"));
    assert_true(sweep_slot_dir_ok("/var/tmp/x/strata-run-Q"));
    assert_false(sweep_slot_dir_ok("strata-run-Ab12"));
    assert_false(sweep_slot_dir_ok("/tmp/strata-run-"));
    assert_false(sweep_slot_dir_ok("/tmp/other"));
    assert_false(sweep_slot_dir_ok("/tmp/../strata-run-x"));
    assert_false(sweep_slot_dir_ok("/tmp/strata-run-x/.."));
    assert_false(sweep_slot_dir_ok("/"));
}

/* A dead run whose mount is gone: its record and directory go, nothing is
 * unmounted. A dead owner whose mountpoint now holds someone else's mount
 * (/proc here): the record goes, the mount stays. */
static void test_sweep_forget(void **state)
{
    (void)state;
    registry *r;
    assert_ok(registry_open(NULL, &r));
    char *run = tu_path(tdir, "strata-run-Test01");
    char *mnt = tu_path(run, "mnt");
    assert_int_equal(mkdir(run, 0700), 0);
    assert_int_equal(mkdir(mnt, 0700), 0);
    put(run, "upper/file", "written by the dead run");
    registry_record a = sample(mnt);
    a.kind = REGISTRY_KIND_RUN;
    snprintf(a.dir, sizeof(a.dir), "%s", run);
    register_in_child(r, &a);
    registry_record b = sample("/proc");
    register_in_child(r, &b);
    /* And one that is not a run's directory: never removed. */
    char *keep = tu_path(tdir, "keepme");
    char *keepmnt = tu_path(keep, "mnt");
    assert_int_equal(mkdir(keep, 0700), 0);
    registry_record c = sample(keepmnt);
    c.kind = REGISTRY_KIND_RUN;
    snprintf(c.dir, sizeof(c.dir), "%s", keep);
    register_in_child(r, &c);

    sweep_report rep;
    assert_ok(sweep_run(r, &rep));
    assert_int_equal(rep.n, 3);
    assert_int_equal(rep.failures, 0);
    for (size_t i = 0; i < rep.n; i++) {
        const sweep_item *it = &rep.items[i];
        assert_false(it->unmounted);
        assert_true(it->record_removed);
        if (strcmp(it->rec.mountpoint, "/proc") == 0)
            assert_int_equal(it->action, SWEEP_FOREIGN);
        else
            assert_int_equal(it->action, SWEEP_FORGET);
        assert_int_equal(it->dir_removed, strcmp(it->rec.mountpoint, mnt) == 0);
    }
    sweep_report_free(&rep);
    struct stat st;
    assert_int_equal(lstat(run, &st), -1);
    assert_int_equal(lstat(keep, &st), 0);
    assert_int_equal(count_files(registry_path(r)), 0);
    /* /proc is still mounted. */
    assert_int_equal(stat("/proc/self/mountinfo", &st), 0);
    registry_close(r);
    free(keepmnt);
    free(keep);
    free(mnt);
    free(run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_corrupt),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_and_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_checks, setup, teardown),
        cmocka_unit_test(test_sweep_decide),
        cmocka_unit_test_setup_teardown(test_sweep_forget, setup, teardown),
    };
    return cmocka_run_group_tests_name("engine_registry", tests, NULL, NULL);
}
