/* The escalation plan (see escalate.h): a pure decision table over the
 * facts, so that the Admin By Request and sudo paths are tested without a
 * Mac. Steps are static strings; the mounter prints them and does the
 * waiting. The System Settings paths are macOS 15's; Admin By Request's
 * menu entry is from its macOS client documentation. */
#include <string.h>

#include "engine/escalate.h"

static void add(escalate_plan *p, const char *step)
{
    if (p->nsteps < ESCALATE_STEPS_MAX)
        p->steps[p->nsteps++] = step;
}

#define ABR_REQUEST                                                                                \
    "request admin rights: Admin By Request (menu bar) › Request Administrator Access, with a "  \
    "reason"
#define ABR_WAIT "wait for the approval: strata checks the admin group every 2 s, for up to 10 min"

/* mount_nfs on macOS: root, sudo with consent, Admin By Request, or an
 * administrator. */
static void macos_nfs(const engine_facts *f, bool consent, escalate_plan *p)
{
    p->needs_admin = true;
    if (f->admin) {
        if (consent) {
            p->kind = ESCALATE_SUDO;
            p->uses_sudo = true;
            add(p, "strata runs mount_nfs with sudo, which asks for your password");
        } else {
            p->kind = ESCALATE_ASK_CONSENT;
            add(p, "mount_nfs needs root: pass --sudo to let strata run it with sudo");
        }
        return;
    }
    if (f->abr) {
        p->kind = ESCALATE_ABR_FLOW;
        p->wait_seconds = ESCALATE_ABR_WAIT_SECONDS;
        p->poll_seconds = ESCALATE_ABR_POLL_SECONDS;
        p->uses_sudo = consent;
        add(p, ABR_REQUEST);
        add(p, ABR_WAIT);
        add(p, consent ? "then strata runs mount_nfs with sudo, which asks for your password"
                       : "then run the same command again with --sudo");
        return;
    }
    p->kind = ESCALATE_IMPOSSIBLE;
    add(p, "mount_nfs needs root, and this account is not an admin: ask an administrator, or "
           "make the kext or FSKit work instead");
}

/* Approving the kext needs an admin's password in System Settings, and a
 * restart; on Apple silicon, first the Reduced Security policy. */
static void macos_kext(const engine_facts *f, escalate_plan *p)
{
    p->kind = ESCALATE_APPROVAL;
    p->needs_admin = true;
    if (!f->admin) {
        if (f->abr) {
            add(p, ABR_REQUEST);
            add(p, ABR_WAIT);
        } else {
            p->kind = ESCALATE_IMPOSSIBLE;
            add(p, "approving the macFUSE kernel extension needs an admin: ask an administrator "
                   "to do the steps below");
        }
    }
    add(p, "System Settings › Privacy & Security: click Allow next to the macFUSE system "
           "extension message, and enter an admin password");
    add(p, "on Apple silicon, if asked: in Startup Security Utility (recovery mode) choose "
           "Reduced Security and allow kernel extensions from identified developers");
    add(p, "restart the Mac, then retry");
}

void escalate_plan_for(const engine_facts *f, engine_transport t, engine_failure need,
                       bool sudo_consent, escalate_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = ESCALATE_NOTHING;
    bool macos = f->os == ENGINE_OS_MACOS;
    switch (t) {
    case ENGINE_T_NFS:
        if (f->root || (need != ENGINE_FAIL_NONE && need != ENGINE_FAIL_NFS_NEEDS_ROOT))
            return;
        if (!macos) {
            out->kind = ESCALATE_ROOT_NEEDED;
            out->needs_admin = true;
            add(out, "mounting NFS needs root: run strata as root (sudo strata ...), or use FUSE");
            return;
        }
        macos_nfs(f, sudo_consent, out);
        return;
    case ENGINE_T_KEXT:
        if (macos && need == ENGINE_FAIL_KEXT_NOT_APPROVED)
            macos_kext(f, out);
        return;
    case ENGINE_T_FSKIT:
        /* A per-user switch: no admin, and never sudo (FSKit refuses root). */
        if (macos && need == ENGINE_FAIL_FSKIT_DISABLED) {
            out->kind = ESCALATE_APPROVAL;
            add(out, "System Settings › General › Login Items & Extensions › File System "
                     "Extensions: turn on macFUSE");
            add(out, "then retry (no restart needed)");
        }
        return;
    case ENGINE_T_FUSE:
        /* fusermount3 is setuid root: nothing to escalate. */
    case ENGINE_T_NONE:
        return;
    }
}

const char *escalate_kind_name(escalate_kind k)
{
    switch (k) {
    case ESCALATE_NOTHING:
        return "nothing";
    case ESCALATE_ROOT_NEEDED:
        return "root-needed";
    case ESCALATE_SUDO:
        return "sudo";
    case ESCALATE_ASK_CONSENT:
        return "ask-consent";
    case ESCALATE_ABR_FLOW:
        return "admin-by-request";
    case ESCALATE_APPROVAL:
        return "approval";
    case ESCALATE_IMPOSSIBLE:
        return "impossible";
    }
    return "?";
}
