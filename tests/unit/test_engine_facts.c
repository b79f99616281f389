/* Unit tests for the platform facts: version parsing, the derived fields,
 * the Linux file parsers (/proc/filesystems, /etc/fuse.conf), the macOS
 * tool-output and plist parsers on recorded samples, and the Linux probe
 * on this machine.
 *
 * Where the samples come from: /proc/filesystems and fuse.conf are
 * Debian's (fuse3's shipped fuse.conf, verbatim); the kmutil/kextstat
 * table layout is the one kextstat has printed since OS X 10.x (header
 * "Index Refs Address Size Wired Name (Version) UUID <Linked Against>",
 * as in macFUSE issue #324) and kmutil showloaded keeps, with its "No
 * variant specified" line first; the pluginkit lines, verbose ones
 * included, are in the form of macFUSE issue #1192; macFUSE's Info.plist
 * is the standard XML bundle plist; dscl, id and dsmemberutil print what
 * their man pages describe. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/darwin_parse.h"
#include "engine/facts.h"
#include "testutil.h"

#define S(text) text, strlen(text)

static void ver_is(engine_version v, int a, int b, int c)
{
    assert_int_equal(v.major, a);
    assert_int_equal(v.minor, b);
    assert_int_equal(v.patch, c);
}

static void test_versions(void **state)
{
    (void)state;
    engine_version v;
    assert_true(engine_version_parse("6.18.44-fc-v769", &v));
    ver_is(v, 6, 18, 44);
    assert_true(engine_version_parse("15.3\n", &v));
    ver_is(v, 15, 3, 0);
    assert_true(engine_version_parse("26", &v));
    ver_is(v, 26, 0, 0);
    assert_true(engine_version_parse("15.", &v));
    ver_is(v, 15, 0, 0);
    assert_true(engine_version_parse("1.2.3.4", &v));
    ver_is(v, 1, 2, 3);
    assert_true(engine_version_parse(" 5.0.0-beta", &v));
    ver_is(v, 5, 0, 0);
    assert_false(engine_version_parse("", &v));
    assert_false(engine_version_parse("v15", &v));
    assert_false(engine_version_parse(NULL, &v));
    assert_false(engine_version_parse("99999999999", &v));
    ver_is(v, 0, 0, 0);

    engine_version a = {15, 3, 1}, b = {15, 4, 0}, c = {9, 9, 9}, d = {26, 0, 0};
    assert_true(engine_version_cmp(a, b) < 0);
    assert_true(engine_version_cmp(b, a) > 0);
    assert_true(engine_version_cmp(c, a) < 0); /* numbers, not strings */
    assert_true(engine_version_cmp(d, b) > 0);
    assert_int_equal(engine_version_cmp(a, a), 0);
    assert_false(engine_version_at_least(a, 15, 4));
    assert_true(engine_version_at_least(b, 15, 4));
    assert_true(engine_version_at_least(d, 15, 4));
    assert_false(engine_version_at_least((engine_version){0, 0, 0}, 0, 0)); /* unknown */
    char buf[32];
    engine_version_format(a, buf, sizeof(buf));
    assert_string_equal(buf, "15.3.1");
    engine_version_format((engine_version){0, 0, 0}, buf, sizeof(buf));
    assert_string_equal(buf, "unknown");

    assert_string_equal(engine_transport_name(ENGINE_T_FSKIT), "fskit");
    assert_string_equal(engine_os_name(ENGINE_OS_MACOS), "macos");
    assert_true(engine_transport_on(ENGINE_OS_LINUX, ENGINE_T_FUSE));
    assert_false(engine_transport_on(ENGINE_OS_LINUX, ENGINE_T_KEXT));
    assert_false(engine_transport_on(ENGINE_OS_LINUX, ENGINE_T_FSKIT));
    assert_false(engine_transport_on(ENGINE_OS_MACOS, ENGINE_T_FUSE));
    assert_true(engine_transport_on(ENGINE_OS_MACOS, ENGINE_T_KEXT));
    assert_true(engine_transport_on(ENGINE_OS_MACOS, ENGINE_T_NFS));
    assert_true(engine_transport_on(ENGINE_OS_LINUX, ENGINE_T_NONE));
}

static void test_finish(void **state)
{
    (void)state;
    struct {
        engine_version os, macfuse;
        bool installed, usable;
    } cases[] = {
        {{15, 4, 0}, {5, 0, 0}, true, true},   {{15, 4, 1}, {5, 1, 2}, true, true},
        {{26, 0, 0}, {5, 3, 3}, true, true},   {{15, 3, 2}, {5, 0, 7}, true, false},
        {{14, 6, 1}, {4, 8, 0}, true, false},  {{15, 5, 0}, {4, 10, 2}, true, false},
        {{15, 5, 0}, {5, 0, 0}, false, false}, {{0, 0, 0}, {5, 0, 0}, true, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        engine_facts f = {.os = ENGINE_OS_MACOS,
                          .os_version = cases[i].os,
                          .macfuse = cases[i].installed,
                          .macfuse_version = cases[i].macfuse};
        facts_finish(&f);
        assert_int_equal(f.fskit_usable, cases[i].usable);
        assert_true(f.nfs_client);
    }
    engine_facts f = {.os = ENGINE_OS_LINUX};
    facts_finish(&f);
    assert_false(f.nfs_client);
    assert_false(f.fskit_usable);
    f.nfs_module = true;
    facts_finish(&f);
    assert_true(f.nfs_client);
    f = (engine_facts){.os = ENGINE_OS_LINUX, .nfs_in_kernel = true};
    facts_finish(&f);
    assert_true(f.nfs_client);
    assert_string_equal(facts_dev_name(FACTS_DEV_DENIED), "denied");
    assert_string_equal(facts_kext_name(FACTS_KEXT_NOT_APPROVED), "not approved");
    assert_string_equal(facts_fskit_name(FACTS_FSKIT_ABSENT), "not registered");
}

/* /proc/filesystems of a Debian host with the nfs module loaded. */
static const char proc_fs_nfs[] = "nodev\tsysfs\n"
                                  "nodev\ttmpfs\n"
                                  "nodev\tproc\n"
                                  "nodev\tcgroup2\n"
                                  "nodev\tdevtmpfs\n"
                                  "\text4\n"
                                  "\tsquashfs\n"
                                  "\tvfat\n"
                                  "\tfuseblk\n"
                                  "nodev\tfuse\n"
                                  "nodev\tfusectl\n"
                                  "nodev\tmqueue\n"
                                  "\tbtrfs\n"
                                  "nodev\tautofs\n"
                                  "nodev\tnfs\n"
                                  "nodev\tnfs4\n"
                                  "nodev\toverlay\n";

/* ... and of this project's VMs: no NFS client. */
static const char proc_fs_plain[] = "nodev\tsysfs\n"
                                    "nodev\ttmpfs\n"
                                    "\text4\n"
                                    "\tfuseblk\n"
                                    "nodev\tfuse\n"
                                    "nodev\tfusectl\n"
                                    "nodev\toverlay\n"
                                    "\txfs\n"
                                    "nodev\tnfsd\n"
                                    "nodev\tnfs4\n";

static void test_proc_filesystems(void **state)
{
    (void)state;
    assert_true(facts_parse_filesystems(S(proc_fs_nfs), "nfs"));
    assert_true(facts_parse_filesystems(S(proc_fs_nfs), "fuse"));
    assert_true(facts_parse_filesystems(S(proc_fs_nfs), "ext4"));
    assert_false(facts_parse_filesystems(S(proc_fs_plain), "nfs")); /* nfsd, nfs4 are not nfs */
    assert_true(facts_parse_filesystems(S(proc_fs_plain), "nfs4"));
    assert_false(facts_parse_filesystems(S(proc_fs_plain), "fuse3"));
    assert_true(facts_parse_filesystems(S("nodev\tnfs"), "nfs")); /* no final newline */
    assert_true(facts_parse_filesystems(S("nodev\tnfs\r\n"), "nfs"));
    assert_false(facts_parse_filesystems(S(""), "nfs"));
    assert_false(facts_parse_filesystems(NULL, 0, "nfs"));
    assert_false(facts_parse_filesystems(S(proc_fs_nfs), ""));
    /* The length bounds the text: a cut just before "nfs" finds nothing. */
    const char *cut = strstr(proc_fs_nfs, "nodev\tnfs\n");
    assert_false(facts_parse_filesystems(proc_fs_nfs, (size_t)(cut - proc_fs_nfs) + 7, "nfs"));
}

/* fuse3's /etc/fuse.conf as Debian ships it. */
static const char fuse_conf_debian[] =
    "# The file /etc/fuse.conf allows for the following parameters:\n"
    "#\n"
    "# user_allow_other - Using the allow_other mount option works fine as root, in\n"
    "# order to have it work as user you need user_allow_other in /etc/fuse.conf as\n"
    "# well. (This option allows users to use the allow_other option.) You need\n"
    "# allow_other if you want users other than the owner to access a mounted fuse.\n"
    "# This option must appear on a line by itself. There is no value, just the\n"
    "# presence of the option.\n"
    "\n"
    "#user_allow_other\n"
    "\n"
    "\n"
    "# mount_max = n - this option sets the maximum number of mounts.\n"
    "# Currently (2014) it must be typed exactly as shown\n"
    "# (with a single space before and after the equals sign).\n"
    "\n"
    "#mount_max = 1000\n";

static void test_fuse_conf(void **state)
{
    (void)state;
    assert_false(facts_parse_fuse_conf(S(fuse_conf_debian)));
    assert_true(facts_parse_fuse_conf(S("user_allow_other\n")));
    assert_true(facts_parse_fuse_conf(S("mount_max = 1000\n  user_allow_other  # on\n")));
    assert_true(facts_parse_fuse_conf(S("\tuser_allow_other\r\n")));
    assert_false(facts_parse_fuse_conf(S("user_allow_others\n")));
    assert_false(facts_parse_fuse_conf(S("# user_allow_other\n")));
    assert_false(facts_parse_fuse_conf(S("user_allow_other = 1\n")));
    assert_false(facts_parse_fuse_conf(S("")));
    assert_false(facts_parse_fuse_conf(NULL, 0));
}

static void test_sw_vers(void **state)
{
    (void)state;
    engine_version v;
    char s[64];
    assert_true(darwin_parse_product_version(S("14.6.1\n"), &v, s, sizeof(s)));
    ver_is(v, 14, 6, 1);
    assert_string_equal(s, "14.6.1");
    assert_true(darwin_parse_product_version(S("15.3\n"), &v, s, sizeof(s)));
    ver_is(v, 15, 3, 0);
    assert_string_equal(s, "15.3");
    assert_true(darwin_parse_product_version(S("26.0"), &v, s, sizeof(s)));
    ver_is(v, 26, 0, 0);
    /* The full `sw_vers` output is not -productVersion's. */
    assert_false(darwin_parse_product_version(
        S("ProductName:\t\tmacOS\nProductVersion:\t\t15.3\nBuildVersion:\t\t24D60\n"), &v, s,
        sizeof(s)));
    assert_false(darwin_parse_product_version(S(""), &v, s, sizeof(s)));
    assert_false(darwin_parse_product_version(S("15.3b"), &v, s, sizeof(s)));
    assert_string_equal(s, "");
    char tiny[4];
    assert_true(darwin_parse_product_version(S("15.4.1"), &v, tiny, sizeof(tiny)));
    assert_string_equal(tiny, "15.");
}

/* macFUSE's /Library/Filesystems/macfuse.fs/Contents/Info.plist. */
static const char macfuse_plist[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n"
    "\t<key>BuildMachineOSBuild</key>\n"
    "\t<string>24E263</string>\n"
    "\t<key>CFBundleDevelopmentRegion</key>\n"
    "\t<string>English</string>\n"
    "\t<key>CFBundleExecutable</key>\n"
    "\t<string>macfuse</string>\n"
    "\t<key>CFBundleIdentifier</key>\n"
    "\t<string>io.macfuse.filesystems.macfuse</string>\n"
    "\t<key>CFBundleInfoDictionaryVersion</key>\n"
    "\t<string>6.0</string>\n"
    "\t<key>CFBundleName</key>\n"
    "\t<string>macFUSE</string>\n"
    "\t<key>CFBundlePackageType</key>\n"
    "\t<string>BNDL</string>\n"
    "\t<key>CFBundleShortVersionString</key>\n"
    "\t<string>5.0.7</string>\n"
    "\t<key>CFBundleSignature</key>\n"
    "\t<string>\?\?\?\?</string>\n"
    "\t<key>CFBundleVersion</key>\n"
    "\t<string>5.0.7</string>\n"
    "\t<key>NSHumanReadableCopyright</key>\n"
    "\t<string>Copyright &#169; 2011-2025 Benjamin Fleischer &amp; contributors</string>\n"
    "</dict>\n"
    "</plist>\n";

static void test_plist(void **state)
{
    (void)state;
    engine_version v;
    assert_true(darwin_parse_macfuse_version(S(macfuse_plist), &v));
    ver_is(v, 5, 0, 7);
    char s[128];
    assert_true(darwin_parse_plist_string(S(macfuse_plist), "CFBundleIdentifier", s, sizeof(s)));
    assert_string_equal(s, "io.macfuse.filesystems.macfuse");
    /* An entity other than XML's five is not decoded: refused. */
    assert_false(
        darwin_parse_plist_string(S(macfuse_plist), "NSHumanReadableCopyright", s, sizeof(s)));
    assert_true(darwin_parse_plist_string(
        S("<dict><key>K</key>\n  <string> a &lt;b&gt; &amp; &quot;c&quot; </string></dict>"), "K",
        s, sizeof(s)));
    assert_string_equal(s, "a <b> & \"c\"");
    /* An older macFUSE. */
    const char *old = "<plist><dict><key>CFBundleShortVersionString</key>"
                      "<string>4.8.3</string></dict></plist>";
    assert_true(darwin_parse_macfuse_version(S(old), &v));
    ver_is(v, 4, 8, 3);
    /* Missing key, a prefix of a key, a value that is not a string, a
     * binary plist, an unterminated string, no room. */
    assert_false(darwin_parse_plist_string(S(macfuse_plist), "NoSuchKey", s, sizeof(s)));
    assert_false(darwin_parse_plist_string(S(macfuse_plist), "CFBundle", s, sizeof(s)));
    assert_false(
        darwin_parse_plist_string(S("<key>N</key><integer>5</integer>"), "N", s, sizeof(s)));
    assert_false(darwin_parse_macfuse_version(S("bplist00\xd1\x01\x02_\x10\x1a"
                                                "CFBundleShortVersionStringU5.0.7"),
                                              &v));
    ver_is(v, 0, 0, 0);
    assert_false(darwin_parse_plist_string(S("<key>K</key><string>abc"), "K", s, sizeof(s)));
    char tiny[3];
    assert_false(
        darwin_parse_plist_string(S("<key>K</key><string>abc</string>"), "K", tiny, sizeof(tiny)));
    assert_false(darwin_parse_plist_string(S(""), "K", s, sizeof(s)));
}

/* kmutil showloaded on macOS 14 with macFUSE's kext loaded (abridged). */
static const char kmutil_loaded[] =
    "No variant specified, falling back to release\n"
    "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>\n"
    "    1  178 0                  0          0          com.apple.kpi.bsd (23.6.0) "
    "4C5E2B4F-4A2C-3B8E-9C1F-2E9A6B7D8C01 <>\n"
    "    8   12 0xffffff8002f1c000 0x9000     0x9000     com.apple.kec.corecrypto (14.0) "
    "87F8F7C6-C6E8-3CD2-A231-A5BD74B7987C <7 6 5 4 3 1>\n"
    "  233    0 0xffffff8001e5c000 0x2b000    0x2b000    io.macfuse.filesystems.macfuse (4.8.3) "
    "63A3F3C2-3D8F-3B5B-9A3E-7B3C1E3B2A11 <8 6 5 3 2 1>\n"
    "  240    0 0xffffff8001e9a000 0x4000     0x4000     com.apple.filesystems.smbfs (5.0) "
    "1B2C3D4E-5F60-7182-93A4-B5C6D7E8F901 <8 6 5 3 1>\n";

/* ... and kextstat on macOS 10.12 without it, but with osxfuse. */
static const char kextstat_other[] =
    "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>\n"
    "    1  107 0xffffff7f80a46000 0x9d30     0x9d30     com.apple.kpi.bsd (16.0.0) "
    "5634782E-4DC3-49BB-81CF-446F004202F8\n"
    "  140    0 0xffffff7f83a3c000 0x1c000    0x1c000    com.github.osxfuse.filesystems.osxfuse "
    "(3.5.2) 4ED0D0FC-2B1B-3A38-8C26-C3F9C39F8C34 <7 5 4 3 1>\n";

static void test_kext(void **state)
{
    (void)state;
    engine_version v;
    assert_true(darwin_parse_kext_loaded(S(kmutil_loaded), DARWIN_KEXT_ID, &v));
    ver_is(v, 4, 8, 3);
    assert_true(darwin_parse_kext_loaded(S(kmutil_loaded), DARWIN_KEXT_ID, NULL));
    assert_false(darwin_parse_kext_loaded(S(kextstat_other), DARWIN_KEXT_ID, &v));
    ver_is(v, 0, 0, 0);
    assert_true(
        darwin_parse_kext_loaded(S(kextstat_other), "com.github.osxfuse.filesystems.osxfuse", &v));
    ver_is(v, 3, 5, 2);
    /* A longer id that starts with ours is another kext. */
    assert_false(darwin_parse_kext_loaded(
        S("  9 0 0x1 0x1 0x1 io.macfuse.filesystems.macfuse.helper (1.0) X <>\n"), DARWIN_KEXT_ID,
        &v));
    assert_false(
        darwin_parse_kext_loaded(S("Index Refs Address Size Wired Name\n"), DARWIN_KEXT_ID, &v));
    assert_false(darwin_parse_kext_loaded(S(""), DARWIN_KEXT_ID, &v));
    /* A name with no version column still counts as loaded. */
    assert_true(darwin_parse_kext_loaded(S("io.macfuse.filesystems.macfuse"), DARWIN_KEXT_ID, &v));
    ver_is(v, 0, 0, 0);
}

/* pluginkit -m -vv -p com.apple.fskit.fsmodule, macFUSE 5.3 turned on. */
static const char pluginkit_on[] =
    "+    io.macfuse.app.fsmodule.macfuse-local((null))\n"
    "\t            Path = /Library/Filesystems/macfuse.fs/Contents/Resources/macfuse.app/Contents/"
    "Extensions/io.macfuse.app.fsmodule.macfuse-local.appex\n"
    "\t            UUID = AB382300-41A8-4F36-914C-B85577287FC6\n"
    "\t             SDK = com.apple.fskit.fsmodule\n"
    "\t    Display Name = macFUSE (local)\n"
    "     com.apple.fskit.exfat(1.0)\n"
    "\n"
    " (2 plug-ins)\n";

static void test_pluginkit(void **state)
{
    (void)state;
    const char *pre = DARWIN_FSKIT_ID_PREFIX;
    assert_int_equal(darwin_parse_pluginkit(S(pluginkit_on), pre), FACTS_FSKIT_ENABLED);
    assert_int_equal(
        darwin_parse_pluginkit(S("-    io.macfuse.app.fsmodule.macfuse(5.0.7)\n"), pre),
        FACTS_FSKIT_DISABLED);
    /* No election yet: an FSKit module is off until turned on. */
    assert_int_equal(
        darwin_parse_pluginkit(S("     io.macfuse.app.fsmodule.macfuse(5.0.7)\n"), pre),
        FACTS_FSKIT_DISABLED);
    assert_int_equal(darwin_parse_pluginkit(S("=    io.macfuse.app.fsmodule.macfuse(5.0.1)\n"
                                              "+    io.macfuse.app.fsmodule.macfuse(5.0.7)\n"),
                                            pre),
                     FACTS_FSKIT_ENABLED);
    assert_int_equal(
        darwin_parse_pluginkit(S("!    io.macfuse.app.fsmodule.macfuse(5.1.0)\n"), pre),
        FACTS_FSKIT_ENABLED);
    assert_int_equal(darwin_parse_pluginkit(S("+    com.apple.fskit.exfat(1.0)\n"), pre),
                     FACTS_FSKIT_ABSENT);
    assert_int_equal(darwin_parse_pluginkit(S(""), pre), FACTS_FSKIT_ABSENT);
    /* A verbose line mentioning the id is not a plug-in line. */
    assert_int_equal(
        darwin_parse_pluginkit(S("\t    Parent Bundle = io.macfuse.app.fsmodule.macfuse\n"), pre),
        FACTS_FSKIT_ABSENT);
    assert_int_equal(darwin_parse_pluginkit(S("x"), ""), FACTS_FSKIT_UNKNOWN);
}

static void test_admin_group(void **state)
{
    (void)state;
    /* dscl . -read /Groups/admin GroupMembership */
    assert_true(darwin_parse_dscl_members(S("GroupMembership: root alice\n"), "alice"));
    assert_true(darwin_parse_dscl_members(S("GroupMembership: root alice\n"), "root"));
    assert_false(darwin_parse_dscl_members(S("GroupMembership: root alice\n"), "ali"));
    assert_false(darwin_parse_dscl_members(S("GroupMembership: root alice\n"), "bob"));
    /* Long values continue on indented lines. */
    assert_true(darwin_parse_dscl_members(
        S("GroupMembership:\n root alice bob\n carol dave\nRealName: Administrators\n"), "dave"));
    assert_false(darwin_parse_dscl_members(
        S("GroupMembership:\n root alice\nRealName:\n Administrators\n"), "Administrators"));
    assert_false(darwin_parse_dscl_members(S("No such key: GroupMembership\n"), "alice"));
    assert_false(darwin_parse_dscl_members(S("RealName: alice\n"), "alice"));
    assert_false(darwin_parse_dscl_members(S(""), "alice"));

    /* id -Gn */
    const char *admin_groups = "staff everyone localaccounts _appserverusr admin _appserveradm "
                               "_lpadmin com.apple.sharepoint.group.1 _appstore _lpoperator "
                               "_developer _analyticsusers com.apple.access_ssh\n";
    assert_true(darwin_parse_id_groups(S(admin_groups), "admin"));
    assert_false(
        darwin_parse_id_groups(S("staff everyone localaccounts _lpadmin _appstore\n"), "admin"));
    assert_false(darwin_parse_id_groups(S(""), "admin"));

    /* dsmemberutil checkmembership -U alice -G admin */
    assert_int_equal(darwin_parse_checkmembership(S("user is a member of the group\n")), 1);
    assert_int_equal(darwin_parse_checkmembership(S("user is not a member of the group\n")), 0);
    assert_int_equal(darwin_parse_checkmembership(S("Invalid user name\n")), -1);
    assert_int_equal(darwin_parse_checkmembership(S("")), -1);
}

static void test_abr(void **state)
{
    (void)state;
    const char *app[] = {"/Applications/Admin By Request.app"};
    const char *support[] = {"/Library/Application Support/Admin By Request/"};
    const char *other[] = {"/Applications/Safari.app", NULL, "/Applications/Admin By Request"};
    assert_true(darwin_abr_installed(app, 1));
    assert_true(darwin_abr_installed(support, 1));
    assert_false(darwin_abr_installed(other, 3));
    assert_false(darwin_abr_installed(NULL, 0));
    for (int i = 0; darwin_abr_paths[i]; i++)
        assert_true(darwin_abr_installed(&darwin_abr_paths[i], 1));
}

/* The probe on this machine: whatever it finds, it is consistent. */
static void test_probe_here(void **state)
{
    (void)state;
    engine_facts f;
    facts_probe(&f);
    assert_int_equal(f.os, ENGINE_OS_LINUX);
    assert_true(f.os_version.major >= 3);
    assert_true(f.os_version_str[0]);
    assert_int_equal(f.uid, getuid());
    assert_int_equal(f.root, geteuid() == 0);
    assert_true(!f.fusermount_setuid || f.fusermount);
    assert_false(f.fskit_usable);
    assert_false(f.macfuse);
    assert_int_equal(f.nfs_client, f.nfs_in_kernel || f.nfs_module);
    if (access("/dev/fuse", F_OK) != 0)
        assert_int_equal(f.dev_fuse, FACTS_DEV_ABSENT);
    /* STRATA_LIBFUSE hides the library from the probe as from the transport. */
    const char *old = getenv("STRATA_LIBFUSE");
    char *saved = old ? strdup(old) : NULL;
    setenv("STRATA_LIBFUSE", "/nonexistent/libfuse3.so.3", 1);
    facts_probe_fresh(&f);
    assert_false(f.libfuse);
    if (saved) {
        setenv("STRATA_LIBFUSE", saved, 1);
        free(saved);
    } else {
        unsetenv("STRATA_LIBFUSE");
    }
}

/* The probe runs once per process: later calls give the first result
 * without probing again, even after STRATA_LIBFUSE changed, while a fresh
 * probe runs again, follows the change, and leaves the cache alone. */
static void test_probe_cached(void **state)
{
    (void)state;
    unsigned before = facts_probe_runs();
    engine_facts first, again, fresh;
    facts_probe(&first);
    unsigned runs = facts_probe_runs();
    /* One probe, or none if an earlier case already filled the cache. */
    assert_true(runs >= 1 && runs - before <= 1);
    const engine_facts *cached = facts_get();
    assert_ptr_equal(cached, facts_get());
    assert_memory_equal(cached, &first, sizeof(first));

    const char *old = getenv("STRATA_LIBFUSE");
    char *saved = old ? strdup(old) : NULL;
    setenv("STRATA_LIBFUSE", "/nonexistent/libfuse3.so.3", 1);
    facts_probe(&again);
    assert_int_equal(facts_probe_runs(), runs);
    assert_memory_equal(&again, &first, sizeof(first));
    assert_int_equal(again.libfuse, first.libfuse);

    facts_probe_fresh(&fresh);
    assert_int_equal(facts_probe_runs(), runs + 1);
    assert_false(fresh.libfuse);
    assert_ptr_equal(facts_get(), cached);
    assert_int_equal(facts_get()->libfuse, first.libfuse);
    assert_int_equal(facts_probe_runs(), runs + 1);
    if (saved) {
        setenv("STRATA_LIBFUSE", saved, 1);
        free(saved);
    } else {
        unsetenv("STRATA_LIBFUSE");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_proc_filesystems),
        cmocka_unit_test(test_fuse_conf),
        cmocka_unit_test(test_sw_vers),
        cmocka_unit_test(test_plist),
        cmocka_unit_test(test_kext),
        cmocka_unit_test(test_pluginkit),
        cmocka_unit_test(test_admin_group),
        cmocka_unit_test(test_abr),
        cmocka_unit_test(test_probe_here),
        cmocka_unit_test(test_probe_cached),
    };
    return cmocka_run_group_tests_name("engine_facts", tests, NULL, NULL);
}
