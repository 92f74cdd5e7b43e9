# xentui's entry in xsconsole's menu: "Pool recovery (xentui)".
#
# The xentui RPM installs this file into xsconsole's plugins-extras directory,
# where xsconsole's own Importer loads it like its plugins-base features. It
# works the way xsconsole's "Local Command Shell" (XSFeatureLocalShell.py)
# does: after xsconsole's own authentication it sets a sub-shell command;
# xsconsole then closes curses, runs the command on the console, and rebuilds
# its screens when the command exits.
#
# It runs inside xsconsole, under the dom0's Python (3.6; 2.7 on older
# releases): no f-strings, no annotations, nothing outside the standard library
# and xsconsole's plugin API.

if __name__ == "__main__":
    raise Exception("This script is a plugin for xsconsole and cannot run independently")

import os

try:
    from shlex import quote as ShellQuote
except ImportError:  # Python 2
    from pipes import quote as ShellQuote

from XSConsoleStandard import *

# The RPM's starter (packaging/xentui-run): it gives the real file
# (/usr/libexec/xentui/xentui), which unpacks itself into TMPDIR and runs code
# from there, the first of TMPDIR and TMPDIR_CANDIDATES that allows exec.
XENTUI_COMMAND = "/usr/bin/xentui"
# The starter's list, checked here too: when none allows exec, xsconsole shows
# a dialogue instead of the starter's one line, which would vanish as soon as
# xsconsole redraws its screen.
TMPDIR_CANDIDATES = ("/tmp", "/var/tmp", "/dev/shm", "/root")
ST_NOEXEC = getattr(os, "ST_NOEXEC", 8)  # Python 2's os lacks the constant; 8 on Linux


def XentuiExecCapableDir(inCandidates):
    """The first existing, writable directory whose file system allows exec."""
    for path in inCandidates:
        if not path or not os.path.isdir(path):
            continue
        try:
            flags = os.statvfs(path).f_flag
        except OSError:
            continue
        if not flags & ST_NOEXEC and os.access(path, os.W_OK | os.X_OK):
            return path
    return None


def XentuiCommandLine(inEnviron=None):
    """The shell command that starts xentui on this console, or None when no
    temporary directory here allows exec. The starter picks the directory."""
    environ = os.environ if inEnviron is None else inEnviron
    current = environ.get("TMPDIR")
    if XentuiExecCapableDir(([current] if current else []) + list(TMPDIR_CANDIDATES)) is None:
        return None
    home = environ.get("HOME") or "/root"
    return "HOME=%s exec %s" % (ShellQuote(home), XENTUI_COMMAND)


class XSFeatureXentui:
    @classmethod
    def StatusUpdateHandler(cls, inPane):
        inPane.AddTitleField(Lang("Pool recovery (xentui)"))
        inPane.AddWrappedTextField(
            Lang(
                "Press <Enter> to start xentui, a guided recovery for a pool whose master has died: "
                "it shows this host, its pool and what is wrong, even in emergency mode, and walks "
                "through the recovery step by step.  Press q in xentui to return here."
            )
        )
        if not os.access(XENTUI_COMMAND, os.X_OK):
            inPane.NewLine()
            inPane.AddWrappedTextField(Lang("xentui is not installed at ") + XENTUI_COMMAND + ".")

    @classmethod
    def StartXentui(cls):
        if not os.access(XENTUI_COMMAND, os.X_OK):
            Layout.Inst().PushDialogue(
                InfoDialogue(
                    Lang("xentui is not installed at ") + XENTUI_COMMAND,
                    Lang("Install the xentui RPM, or run the xentui file from a shell."),
                )
            )
            return
        command = XentuiCommandLine()
        if command is None:
            Layout.Inst().PushDialogue(
                InfoDialogue(
                    Lang("No temporary directory here allows running programs"),
                    Lang("xentui unpacks itself into TMPDIR. Tried: ") + ", ".join(TMPDIR_CANDIDATES),
                )
            )
            return
        Layout.Inst().ExitBannerSet(
            Lang("\rStarting xentui (pool recovery).\r\rPress q in xentui to return to the management console.\r")
        )
        Layout.Inst().SubshellCommandSet(command)
        XSLog("Pool recovery (xentui) started: " + command)

    @classmethod
    def ActivateHandler(cls):
        DialogueUtils.AuthenticatedOnly(lambda: cls.StartXentui())

    def Register(self):
        Importer.RegisterNamedPlugIn(
            self,
            "XENTUI",  # Key of this plugin for replacement, etc.
            {
                "menuname": "MENU_ROOT",
                "menupriority": 650,  # right after "Resource Pool Configuration" (600)
                "menutext": Lang("Pool recovery (xentui)"),
                "statusupdatehandler": XSFeatureXentui.StatusUpdateHandler,
                "activatehandler": XSFeatureXentui.ActivateHandler,
            },
        )


# Register this plugin when module is imported
XSFeatureXentui().Register()
