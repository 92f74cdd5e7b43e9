"""xapi error codes and our own connection errors, in plain words.

One table, used by the CLI, the UI and the audit log, so that the same error
never reads differently in two places. Each entry says what happened, what it
means for the admin during a master outage, and the next step.

Context matters: in emergency mode the stored error (`HOST_STILL_BOOTING`
by default) does not mean "wait" but "this host cannot reach its master"
(xapi-semantics.md §1.2, recovery-playbook.md §0.2), so `explain` takes
`in_emergency`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

from xentui.xapi.errors import (
    AuthenticationFailed,
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    HostKeyChanged,
    HostKeyUnknown,
    MalformedReply,
    XapiFailure,
)
from xentui.xapi.safe_text import one_line

# The one finding for a peer whose replies are not xapi's (issue 10).
NOT_XAPI_TITLE = "This is not xapi, or xapi answered with something unreadable"


@dataclass(frozen=True)
class Explanation:
    title: str  # one short line ("Host cannot reach its master")
    meaning: str  # what it means, in plain words
    next_step: str  # what to do about it
    code: str = ""  # the xapi code or our own keyword ("timeout", "refused", ...)

    def one_line(self) -> str:
        return f"{self.title}: {self.meaning}"


@dataclass(frozen=True)
class _Entry:
    title: str
    meaning: str
    next_step: str
    # Emergency-mode reading of the same code, when it differs.
    emergency_title: str = ""
    emergency_meaning: str = ""
    emergency_next_step: str = ""


_PROMOTE = (
    "If the master is really dead (fence it first, e.g. power it off via the BMC), promote a "
    "surviving member with 'emergency transition to master', then run 'recover slaves' on it."
)

# Codes that mean "this host is in emergency mode and cannot serve pool calls"
# when login_with_password returns them (xapi-semantics.md §1.2 table).
EMERGENCY_CODES: Tuple[str, ...] = (
    "HOST_STILL_BOOTING",
    "HOST_HAS_NO_MANAGEMENT_IP",
    "HOST_ITS_OWN_SLAVE",
    "HOST_MASTER_CANNOT_TALK_BACK",
    "HOST_UNKNOWN_TO_MASTER",
    "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR",
    "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED",
    "HA_HOST_CANNOT_ACCESS_STATEFILE",
    "HA_HEARTBEAT_DAEMON_STARTUP_FAILED",
    "HOST_BROKEN",
    "INTERNAL_ERROR",
    "HOST_IN_EMERGENCY_MODE",
)

_TABLE: Dict[str, _Entry] = {
    # --- emergency-mode reasons (the stored error) ---------------------------
    "HOST_STILL_BOOTING": _Entry(
        "xapi is still starting",
        "The toolstack on this host is initialising and does not answer normal calls yet.",
        "Wait a minute and try again. If it persists, check whether the host can reach its master.",
        emergency_title="Host cannot reach its master",
        emergency_meaning=(
            "xapi reports 'still booting' because this pool member has not managed to contact its "
            "master since xapi started. It is waiting for you, not the other way round."
        ),
        emergency_next_step="Check whether the master is alive. " + _PROMOTE,
    ),
    "HOST_HAS_NO_MANAGEMENT_IP": _Entry(
        "No management IP address",
        "The management interface of this host has no IP address, so xapi cannot contact the master.",
        "Fix the management interface (cable, DHCP, static address), or use 'emergency management "
        "reconfigure' to pick another interface.",
    ),
    "HOST_ITS_OWN_SLAVE": _Entry(
        "Host points at itself as master",
        "pool.conf names this host's own address (or 127.0.0.1) as the master.",
        "Point the host at the real master with 'emergency reset master', or promote it with "
        "'emergency transition to master' if it should be the master.",
    ),
    "HOST_MASTER_CANNOT_TALK_BACK": _Entry(
        "Master cannot reach this host",
        "The master answered, but it cannot connect back to this host's management address "
        "(firewall, wrong address or routing). xapi retries every few seconds.",
        "Check the network between the master and this host's management IP (given in the error).",
    ),
    "HOST_UNKNOWN_TO_MASTER": _Entry(
        "Master does not know this host",
        "The master rejected this host: it is not in the master's database, or the pool secret "
        "differs. Common after the pool was recovered without this host.",
        "Point this host at the right master with 'emergency reset master', or forget it on the "
        "master and re-join it. xapi retries only every 60 s.",
    ),
    "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR": _Entry(
        "Member newer than master",
        "This host runs a newer xapi than the master, which refuses it. The member is unusable "
        "until the master is updated.",
        "Update the master (coordinator) first; the member rejoins by itself at its next retry "
        "(every 60 s). xentui cannot update hosts. Promoting the newer member instead changes "
        "which host leads the pool and leaves the others behind it: only do it knowingly.",
    ),
    "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED": _Entry(
        "HA mismatch",
        "HA is enabled for the pool but disarmed on this host, so xapi stays in emergency mode.",
        "Disable HA for the pool, or run 'emergency HA disable' on each host, then restart the toolstack.",
    ),
    "HA_HOST_CANNOT_ACCESS_STATEFILE": _Entry(
        "HA heartbeat storage unreachable",
        "HA is armed on this host but it cannot reach the HA statefile (heartbeat SR).",
        "Restore access to the heartbeat SR, or run 'emergency HA disable' (force) on this host "
        "before any emergency transition.",
    ),
    "HA_HEARTBEAT_DAEMON_STARTUP_FAILED": _Entry(
        "HA daemon failed to start",
        "The HA heartbeat daemon (xhad) could not start on this host.",
        "Check /var/log/xha.log; if HA cannot work, run 'emergency HA disable' (force) on this host.",
    ),
    "HOST_BROKEN": _Entry(
        "Host left broken by a failed master change",
        "A master handover failed half-way and left this host in the 'broken' role.",
        "Decide which host is master: promote this one with 'emergency transition to master' or "
        "point it at the master with 'emergency reset master'.",
    ),
    "INTERNAL_ERROR": _Entry(
        "xapi internal error",
        "xapi failed with an internal error (details follow).",
        "Read the details; check /var/log/xensource.log on the host.",
        emergency_title="Master unreachable",
        emergency_meaning=(
            "This pool member cannot connect to its master (the details say how). It keeps retrying "
            "every few seconds and stays in emergency mode until the master answers."
        ),
        emergency_next_step="Check whether the master is alive. " + _PROMOTE,
    ),
    "HOST_IN_EMERGENCY_MODE": _Entry(
        "Host in emergency mode",
        "This host cannot perform the operation because xapi is in emergency mode.",
        "Use the emergency actions (transition to master, reset master, HA disable) or bring the master back.",
    ),
    # --- roles and HA ---------------------------------------------------------
    "HOST_IS_SLAVE": _Entry(
        "This host is a pool member",
        "Normal logins are only accepted by the master. xapi names the master's address in the error.",
        "Connect to the master at that address instead. If the master is dead, log in locally on "
        "this host (slave-local session) to use the emergency actions.",
    ),
    "HA_IS_ENABLED": _Entry(
        "HA is enabled",
        "The operation is refused while HA is armed (on this host or for the pool).",
        "Disable HA first: 'pool HA disable' on a working master, or 'emergency HA disable' (force) "
        "on each host when the master is gone.",
    ),
    "HA_NOT_ENABLED": _Entry(
        "HA is not enabled",
        "The HA disable was refused because HA is already off.",
        "Nothing to do: HA is not in the way.",
    ),
    "NOT_IN_EMERGENCY_MODE": _Entry(
        "Host is not in emergency mode",
        "This operation only works while the host is in emergency mode (e.g. emergency management reconfigure).",
        "Use the normal operation instead (e.g. management reconfigure through the master).",
    ),
    # --- liveness and VMs -----------------------------------------------------
    "HOST_IS_LIVE": _Entry(
        "Host still answers",
        "xapi refused because the host looks alive: it answered, or it is the host you are on.",
        "Make sure the host is really down (power it off via the BMC) before resetting VMs or declaring it dead.",
    ),
    "DOMAIN_EXISTS": _Entry(
        "VM is still running here",
        "The VM's domain still exists on this host, so its power state cannot be reset.",
        "Shut the VM down normally instead of resetting its power state.",
    ),
    "CANNOT_RESET_CONTROL_DOMAIN": _Entry(
        "Cannot reset a control domain",
        "The VM is a host's control domain (dom0); its power state cannot be reset.",
        "Pick a guest VM; to clean up a dead host use 'declare dead' on it.",
    ),
    "VM_BAD_POWER_STATE": _Entry(
        "VM is in the wrong power state",
        "The VM's power state does not allow this operation (e.g. still 'Running' on a dead host).",
        "If the VM's host is really dead and the VM runs nowhere else, reset its power state, then retry.",
    ),
    "HOST_HAS_RESIDENT_VMS": _Entry(
        "Host still has VMs",
        "The database still lists VMs resident on this host.",
        "Reset their power state (only if the host is really dead) or migrate them, then retry.",
    ),
    "HOST_OFFLINE": _Entry(
        "Host is offline",
        "The operation had to run on a host that xapi considers not live.",
        "Bring that host back, or act on another host.",
    ),
    "HOST_NOT_LIVE": _Entry(
        "Host is not live",
        "The target host is not live according to xapi.",
        "Bring the host back or pick another one.",
    ),
    "CANNOT_CONTACT_HOST": _Entry(
        "Cannot contact host",
        "The master could not reach the host the operation needed.",
        "Check that host's power and management network.",
    ),
    "OTHER_OPERATION_IN_PROGRESS": _Entry(
        "Another operation is running",
        "xapi is already running a conflicting operation on this object.",
        "Wait for it to finish (see the task list), then retry.",
    ),
    # --- sessions and wire ----------------------------------------------------
    "SESSION_AUTHENTICATION_FAILED": _Entry(
        "Login refused",
        "xapi rejected the user name or password.",
        "Check the root password. xapi delays each failed login by a few seconds on purpose.",
    ),
    "SESSION_INVALID": _Entry(
        "Session expired",
        "The session is no longer valid, usually because xapi restarted (role change, toolstack restart).",
        "Log in again (xentui does this automatically).",
    ),
    "HANDLE_INVALID": _Entry(
        "Object no longer exists",
        "The object reference is not valid (it was deleted, or it comes from another master's database).",
        "Refresh the view and retry with the current object.",
    ),
    "UUID_INVALID": _Entry(
        "Unknown UUID",
        "No object with this UUID exists in the database xapi is using.",
        "Check the UUID; after a master change the new master's database may be older.",
    ),
    "MESSAGE_METHOD_UNKNOWN": _Entry(
        "xapi does not know this call",
        "This xapi version does not implement the requested call.",
        "The host runs an older or different xapi; use the equivalent xe command on the host.",
    ),
    "MESSAGE_PARAMETER_COUNT_MISMATCH": _Entry(
        "Wrong number of parameters",
        "The call was sent with a parameter count this xapi version does not accept.",
        "This is a compatibility problem between xentui and this xapi version; please report it.",
    ),
    "EVENTS_LOST": _Entry(
        "Live updates lost",
        "xapi dropped queued events.",
        "Reload the full pool view (xentui does this automatically).",
    ),
    "EVENT_FROM_TOKEN_PARSE_FAILURE": _Entry(
        "Bad event token",
        "xapi could not parse the event token.",
        "Reload the full pool view.",
    ),
    "EVENT_SUBSCRIPTION_PARSE_FAILURE": _Entry(
        "Bad event subscription",
        "xapi could not parse an event class name.",
        "Reload the full pool view; please report this.",
    ),
    "PERMISSION_DENIED": _Entry(
        "Permission denied",
        "The session's user is not allowed to do this.",
        "Log in as root (or a pool-admin user).",
    ),
    "RBAC_PERMISSION_DENIED": _Entry(
        "Permission denied (RBAC)",
        "The user's role does not allow this call.",
        "Log in as root (or a pool-admin user).",
    ),
    # --- networking -------------------------------------------------------------
    "PIF_IS_MANAGEMENT_INTERFACE": _Entry(
        "This is the management interface",
        "The change would remove the address of (or forget) the management interface.",
        "Move management to another interface first, then retry.",
    ),
    "PIF_HAS_NO_NETWORK_CONFIGURATION": _Entry(
        "Interface has no IP configuration",
        "The interface has no IP configuration (mode None), so it cannot become the management interface.",
        "Configure an address on it (DHCP or static) first.",
    ),
    "SLAVE_REQUIRES_MANAGEMENT_INTERFACE": _Entry(
        "Members need a management interface",
        "A pool member cannot run without a management interface.",
        "Choose another interface instead of disabling management.",
    ),
    "INVALID_IP_ADDRESS_SPECIFIED": _Entry(
        "Invalid IP address",
        "The IP address, netmask or gateway given is not valid (the parameter names which).",
        "Correct the value and retry.",
    ),
    "PIF_UNMANAGED": _Entry(
        "Interface not managed by xapi",
        "xapi does not manage this interface's configuration.",
        "Configure it on the host directly.",
    ),
    "PIF_ALREADY_BONDED": _Entry(
        "Interface is part of a bond",
        "The interface is a member of a bond.",
        "Remove the bond first.",
    ),
    "PIF_VLAN_STILL_EXISTS": _Entry(
        "VLANs still use this interface",
        "A VLAN still sits on this interface.",
        "Remove the VLAN first.",
    ),
    "PIF_TUNNEL_STILL_EXISTS": _Entry(
        "Tunnel still uses this interface",
        "A tunnel still uses this interface.",
        "Remove the tunnel first.",
    ),
    "PIF_IS_PHYSICAL": _Entry(
        "Physical interface",
        "This operation does not apply to a physical interface.",
        "Use 'forget' on the stale interface record, then 'scan' for the new NIC.",
    ),
    "PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE": _Entry(
        "Address type mismatch",
        "The interface's primary address type (IPv4/IPv6) does not match the pool's.",
        "Configure an address of the pool's type on it.",
    ),
    "CANNOT_PLUG_BOND_SLAVE": _Entry(
        "Interface is a bond member",
        "A bond member cannot carry management traffic on its own.",
        "Use the bond interface instead.",
    ),
    "REDO_LOG_IS_ENABLED": _Entry(
        "Redo log enabled",
        "The operation is refused while the database redo log is enabled.",
        "Disable the redo log (or HA) first.",
    ),
    "CLUSTERING_ENABLED": _Entry(
        "Clustering enabled",
        "The operation is refused while clustering uses this interface.",
        "Disable clustering on this host first.",
    ),
    # --- storage ----------------------------------------------------------------
    "HOST_NOT_ENOUGH_FREE_MEMORY": _Entry(
        "Not enough free memory",
        "The host cannot fit the VM: xapi counts every VM resident on or scheduled to the host "
        "(dom0 included) at its dynamic minimum plus overhead.",
        "Start it on another host, lower its memory, or shut down a less important VM first.",
    ),
    "HOST_NOT_ENOUGH_PCPUS": _Entry(
        "Not enough physical CPUs",
        "The VM has more vCPUs than the host has physical CPUs.",
        "Start it on a bigger host or lower its VCPUs-max.",
    ),
    "HOST_DISABLED": _Entry(
        "Host is disabled",
        "The host does not accept new VMs (maintenance, or not yet re-enabled after a restart).",
        "Enable the host (xe host-enable) once it is healthy, or use another host.",
    ),
    "VM_REQUIRES_SR": _Entry(
        "Storage not attached on that host",
        "A disk of the VM lives on an SR that has no attached PBD on the host.",
        "Plug the SR's PBD on that host (xe pbd-plug), or start the VM where the SR is attached.",
    ),
    "VM_REQUIRES_NETWORK": _Entry(
        "Network not available on that host",
        "A network interface of the VM uses a network the host has no PIF on.",
        "Start the VM on a host with that network, or move the VIF to another network.",
    ),
    "NO_HOSTS_AVAILABLE": _Entry(
        "No host can run the VM",
        "No live, enabled host has the storage, network and memory the VM needs.",
        "Start it explicitly on one host (VM.start_on) to see that host's reason.",
    ),
    "VDI_READONLY": _Entry(
        "Disk is read-only",
        "The VM wants to write to a virtual disk that is read-only.",
        "Attach it read-only or use a writable copy.",
    ),
    "CANNOT_CREATE_STATE_FILE": _Entry(
        "No SR can hold the HA statefile",
        "Enabling HA needs a shared SR that every host has plugged; none qualifies (or the "
        "statefile could not be written).",
        "Plug the shared SR's PBDs on every host (xe pbd-plug), then enable HA again.",
    ),
    "SR_NO_PBDS": _Entry(
        "SR not plugged on every host",
        "The SR lacks a PBD on some host, or one of its PBDs is unplugged.",
        "Create or plug the missing PBDs (xe pbd-create / xe pbd-plug), or choose another SR.",
    ),
    "SR_OPERATION_NOT_SUPPORTED": _Entry(
        "The SR cannot do that",
        "The SR's storage driver does not support this operation (an ISO library cannot hold a "
        "statefile, for example).",
        "Choose an SR of another type.",
    ),
    "REQUIRED_PIF_IS_UNPLUGGED": _Entry(
        "A required network interface is unplugged",
        "A PIF marked disallow-unplug (a storage or HA network) is not attached.",
        "Plug it (xe pif-plug) before enabling HA.",
    ),
    "HA_ENABLE_IN_PROGRESS": _Entry(
        "HA is being enabled",
        "Another client is enabling HA on this pool right now.",
        "Wait for it to finish, then check pool.ha_enabled.",
    ),
    "HA_DISABLE_IN_PROGRESS": _Entry(
        "HA is being disabled",
        "Another client is disabling HA on this pool right now.",
        "Wait for it to finish, then check pool.ha_enabled.",
    ),
    "DESIGNATE_NEW_MASTER_IN_PROGRESS": _Entry(
        "A master change is in progress",
        "Another designate-new-master is running on this pool.",
        "Wait for it to finish, then look at which host is master.",
    ),
    "HOST_EVACUATE_IN_PROGRESS": _Entry(
        "Host is being evacuated",
        "The host is moving its VMs away and accepts no new ones.",
        "Wait for the evacuation to end, or start the VM on another host.",
    ),
    "TASK_CANCELLED": _Entry(
        "Cancelled",
        "The operation was cancelled before it completed.",
        "Start it again if it is still needed.",
    ),
    "VDI_IN_USE": _Entry(
        "Disk in use",
        "The virtual disk is attached or locked by another operation or host.",
        "If its host is dead, reset the VM's power state (after fencing) to release it, then retry.",
    ),
    "VDI_NOT_AVAILABLE": _Entry(
        "Disk not available",
        "The virtual disk is locked, often still attached read-write by a dead host.",
        "Fence the dead host, then 'declare dead' or forget it so its VDI locks are released.",
    ),
    "VDI_MISSING": _Entry(
        "Disk missing",
        "The storage repository no longer has this virtual disk.",
        "Rescan the SR; check the storage.",
    ),
    "VDI_IS_A_PHYSICAL_DEVICE": _Entry(
        "Disk is a physical device",
        "The operation does not work on a physical device VDI.",
        "Pick a regular virtual disk.",
    ),
    "SR_BACKEND_FAILURE": _Entry(
        "Storage error",
        "The storage backend failed (details follow). 'attached RW' means a dead host still holds the lock.",
        "Fence the dead host and release its locks ('declare dead'), then retry.",
    ),
    "SR_HAS_PBD": _Entry(
        "Storage still connected",
        "The SR still has connections (PBDs) to hosts.",
        "Unplug and destroy the PBDs first.",
    ),
    "INVALID_VALUE": _Entry(
        "Invalid value",
        "xapi rejected a parameter value (e.g. text that is not valid UTF-8).",
        "Correct the value and retry.",
    ),
    "FIELD_TYPE_ERROR": _Entry(
        "Wrong value type",
        "A field was given a value of the wrong type.",
        "This is a compatibility problem between xentui and this xapi version; please report it.",
    ),
    "POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH": _Entry(
        "TLS verification mismatch",
        "TLS verification between pool hosts is enabled on the joining host and not on the pool, or "
        "the other way round (a fresh install has it on; a pool upgraded from 8.2 may not).",
        "Enable it on the pool ('xe pool-enable-tls-verification' on the master; every host must "
        "answer, so forget dead host records first), then join again.",
    ),
    # --- issue 13: the failures admins actually hit -----------------------------
    "STUNNEL_VERIFY_ERROR": _Entry(
        "Certificate verification failed (TLS)",
        "This member checks its coordinator's pool certificate against its own pool bundle "
        "(/etc/stunnel/xapi-pool-ca-bundle.pem) and stunnel refused it (expired, not in the bundle, "
        "or a key too weak), so the member cannot rejoin its coordinator.",
        "On this member: 'xe host-emergency-disable-tls-verification'. On the coordinator: "
        "'xe host-refresh-server-certificate host=<coordinator>' (a new certificate, every host's pool "
        "bundle rebuilt; 'xe pool-certificate-sync' rebuilds the pool bundle only from xapi 26.13). "
        "Then on this member: 'xe host-emergency-reenable-tls-verification'.",
    ),
    "TLS_VERIFICATION_NOT_ENABLED_IN_POOL": _Entry(
        "TLS verification never enabled in this pool",
        "Re-enabling TLS verification on a host is refused because the pool never had it on "
        "(xapi 25.10 and later; older xapi accepts it and the host then loses its coordinator).",
        "Enable it pool-wide with 'xe pool-enable-tls-verification' instead.",
    ),
    "POOL_JOINING_MASTER_CERTIFICATE_NOT_IN_POOL_BUNDLE": _Entry(
        "Coordinator certificate not in the pool bundle",
        "The pool's own bundle lacks the coordinator's certificate, so a joining host could not "
        "verify it (xapi 26.16 and later check this).",
        "On the coordinator: 'xe pool-certificate-sync', or 'xe host-refresh-server-certificate' "
        "for the coordinator; then join again.",
    ),
    "POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH": _Entry(
        "Management VLAN differs",
        "The joining host's management interface is on a different VLAN from the pool's.",
        "Reconfigure the joining host's management interface onto the pool's VLAN (xsconsole), then join again.",
    ),
    "POOL_HOSTS_NOT_HOMOGENEOUS": _Entry(
        "Host differs from the pool",
        "The joining host's software version or CPU vendor differs from the pool's.",
        "Install the same version and updates as the pool (or update the pool) and join again; "
        "'pool-join force=true' skips this check only, at your own risk.",
    ),
    "POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA": _Entry(
        "Database schema differs",
        "The joining host's xapi uses another database schema than the pool's (different release).",
        "Install the pool's release and updates on the joining host, then join again.",
    ),
    "POOL_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS": _Entry(
        "Joining host has shared storage",
        "A host with shared SRs cannot join a pool.",
        "Detach and forget the shared SRs on the joining host first.",
    ),
    "HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY": _Entry(
        "Mandatory update guidance pending",
        "An update left mandatory guidance (for example 'reboot host') pending, and the host "
        "cannot be enabled until it is done.",
        "Follow the guidance (reboot or restart the toolstack), or clear it on the host with "
        "'xe host-emergency-clear-mandatory-guidance' if it is already done; then 'xe host-enable'.",
    ),
    "SR_BACKEND_FAILURE_46": _Entry(
        "Disk still locked by another host",
        "The VDI is not available: storage still records it as attached by another host (sm's "
        "host_<ref> key in the VDI's sm_config, or a leaked 'activating' key), typically a host "
        "that crashed and was never declared dead.",
        "Make sure that host is really off (fence it), then 'xe host-declare-dead' (its hook runs "
        "resetvdis.py) or '/opt/xensource/sm/resetvdis.py single <VDI uuid>' on the master; a "
        "leaked 'activating' key needs 'xe vdi-param-remove uuid=<VDI> param-name=sm-config "
        "param-key=activating'.",
    ),
    "SR_BACKEND_FAILURE_47": _Entry(
        "Storage not available to this host",
        "The SR is not available on this host; for iSCSI, the SAN does not admit this host's "
        "initiator name (a reinstall brings a new IQN).",
        "Put the old IQN back ('xe host-param-set uuid=<host> iscsi_iqn=<old IQN>') or add the new "
        "one to the SAN's access list, then 'xe pbd-plug' and 'xe host-enable'.",
    ),
    "MAP_DUPLICATE_KEY": _Entry(
        "Key already set",
        "The map already has this key.",
        "Remove the key first or set it directly.",
    ),
}

_UNKNOWN = _Entry(
    "xapi error",
    "xapi refused the operation with an error xentui has no description for.",
    "Read the code and parameters; check /var/log/xensource.log on the host.",
)


def known_codes() -> Tuple[str, ...]:
    return tuple(sorted(_TABLE))


def _size(nbytes: int) -> str:
    return f"{nbytes / 1024**3:.1f} GiB" if nbytes >= 1024**3 else f"{nbytes // 1024**2} MiB"


def _param_note(code: str, params: Sequence[str]) -> str:
    """The parameter that matters, phrased for the admin."""
    if not params:
        return ""
    if code == "HOST_IS_SLAVE":
        return f" Master address: {params[0]}."
    if code == "HOST_MASTER_CANNOT_TALK_BACK":
        return f" This host's address: {params[0]}."
    if code == "HOST_UNKNOWN_TO_MASTER":
        return f" This host's UUID: {params[0]}."
    if code == "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR":
        return f" This host's version: {params[0]}."
    if code == "SESSION_AUTHENTICATION_FAILED":
        # params = [user, message]; never anything secret
        return f" User: {params[0]}."
    if code == "VM_BAD_POWER_STATE" and len(params) >= 3:
        return f" Expected {params[1]}, actual {params[2]}."
    if code == "HOST_NOT_ENOUGH_FREE_MEMORY" and len(params) >= 2:
        try:
            required, available = int(params[0]), int(params[1])
        except ValueError:
            return " Details: " + ", ".join(str(p) for p in params) + "."
        return f" Needs {_size(required)}, {_size(available)} free."
    if code == "INVALID_IP_ADDRESS_SPECIFIED":
        return f" Field: {params[0]}."
    reason = stunnel_verify_reason(params) if code == "INTERNAL_ERROR" else ""
    if reason:
        return f" stunnel's reason: {reason}."
    return " Details: " + ", ".join(str(p) for p in params) + "."


_STUNNEL_VERIFY = re.compile(r'Stunnel_verify_error\("([^"]*)"\)')


def stunnel_verify_reason(params: Sequence[str]) -> str:
    """stunnel's verify failure inside a stored INTERNAL_ERROR (xapi.ml
    attempt_host_status_check_with_coordinator: internal_error
    [ExnHelper.string_of_exn (Stunnel_verify_error reason)]), or "" for any other."""
    for param in params:
        match = _STUNNEL_VERIFY.search(param)
        if match:
            return match.group(1) or "no reason given"
    return ""


def explain(code: str, params: Sequence[str] = (), *, in_emergency: bool = False) -> Explanation:
    """Plain words and a next step for a xapi error code."""
    # Codes and params come from the peer: shown escaped (safe_text), never raw.
    code = one_line((code or "").strip(), 120) or "INTERNAL_ERROR"
    params = [one_line(p, 200) for p in params]
    entry = _TABLE.get(code)
    if code == "INTERNAL_ERROR" and any("Stunnel_verify_error" in p for p in params):
        # xapi.ml attempt_host_status_check_with_coordinator stores stunnel's verify
        # failure inside INTERNAL_ERROR (ExnHelper.string_of_exn)
        entry = _TABLE["STUNNEL_VERIFY_ERROR"]
    if entry is None and code.startswith("SR_BACKEND_FAILURE"):
        entry = _TABLE["SR_BACKEND_FAILURE"]
    if entry is None:
        entry = _UNKNOWN
    if in_emergency and entry.emergency_title:
        title, meaning, step = entry.emergency_title, entry.emergency_meaning, entry.emergency_next_step
    else:
        title, meaning, step = entry.title, entry.meaning, entry.next_step
    if entry is _UNKNOWN:
        title = f"xapi error {code}"
    return Explanation(title=title, meaning=meaning + _param_note(code, params), next_step=step, code=code)


_CONNECT_REASONS: Dict[str, Tuple[str, str, str]] = {
    "refused": (
        "Connection refused",
        "The host answered but nothing accepts connections there: xapi is down or restarting, or the "
        "host is up without its toolstack.",
        "Wait a few seconds and retry; if it persists, restart the toolstack on that host.",
    ),
    "timeout": (
        "Timed out",
        "Nothing answered in time. The host may be off, hung, or unreachable on the network.",
        "Check the host's power and network; a hung master looks exactly like this.",
    ),
    "unreachable": (
        "Host unreachable",
        "The network has no route to the host.",
        "Check the address and the management network.",
    ),
    "dns": (
        "Unknown host name",
        "The host name could not be resolved.",
        "Use the IP address instead.",
    ),
    "ssh": (
        "SSH failed",
        "The SSH connection to the host failed.",
        "Check that sshd runs on the host and the address is right.",
    ),
    "tls": (
        "TLS failed",
        "The TLS (HTTPS) handshake with xapi failed.",
        "Check the host's certificate, or connect over SSH instead.",
    ),
    "auth": (
        "Login refused",
        "The user name, password or SSH key was rejected.",
        "Check the credentials (root password or SSH key).",
    ),
    "hostkey-unknown": (
        "Unknown SSH host key",
        "This host's SSH key is not in known_hosts. xentui never accepts keys automatically.",
        "Compare the fingerprint with the one on the host's console, then accept it explicitly.",
    ),
    "hostkey-changed": (
        "SSH host key CHANGED",
        "The host presents a different SSH key than the one known. This can be a reinstall, or "
        "someone intercepting the connection.",
        "Verify the new fingerprint on the host's console before removing the old key.",
    ),
    "channel-refused": (
        "SSH channel refused",
        "SSH works but the host refused to forward to xapi's socket or port.",
        "Check that xapi runs on the host and that sshd allows forwarding for root.",
    ),
    "closed": (
        "Connection closed",
        "The connection closed before xapi answered.",
        "Retry; xapi may be restarting.",
    ),
}


def explain_exception(exc: BaseException, *, in_emergency: bool = False) -> Explanation:
    """Plain words for any exception the connection layer raises."""
    if isinstance(exc, XapiFailure):
        return explain(exc.code, exc.params, in_emergency=in_emergency)
    if isinstance(exc, CallTimeout):
        where = exc.where or "xapi"
        return Explanation(
            title="Timed out",
            meaning=(
                f"{where} accepted the connection but did not answer {exc.method} within "
                f"{exc.seconds:g} s. That is the signature of a hung master, or of a member whose "
                "calls wait for a master that is gone."
            ),
            next_step="Check whether the master is alive; on a member, use a local session and the emergency actions.",
            code="timeout",
        )
    if isinstance(exc, (HostKeyUnknown, HostKeyChanged, AuthenticationFailed, ConnectionRefused)):
        return _connect_explanation(exc)
    if isinstance(exc, ConnectFailed):
        return _connect_explanation(exc)
    if isinstance(exc, ConnectionLost):
        return Explanation(
            title="Connection lost",
            meaning="The connection dropped in the middle of a call (xapi restarted or SSH dropped). "
            "The call may or may not have taken effect.",
            next_step="Reconnect and check the current state before repeating an action.",
            code="lost",
        )
    if isinstance(exc, MalformedReply):
        return Explanation(
            title=NOT_XAPI_TITLE,
            meaning=f"The peer's reply is not valid xapi XML-RPC ({one_line(exc, 240)}).",
            next_step="Check that the target really is xapi (address, port, socket path); if it is, "
            "its toolstack is broken: restart it on the host's console.",
            code="malformed",
        )
    return Explanation(
        title=type(exc).__name__,
        meaning=one_line(exc, 240) or "unexpected error",
        next_step="Retry; if it persists, please report it.",
        code="error",
    )


def _connect_explanation(exc: ConnectFailed) -> Explanation:
    title, meaning, step = _CONNECT_REASONS.get(
        exc.reason, ("Could not connect", "The connection to xapi failed.", "Check the target and retry.")
    )
    detail = one_line(exc.message.strip(), 240)
    if detail and detail not in meaning:
        meaning = f"{meaning} ({detail})"
    return Explanation(title=title, meaning=meaning, next_step=step, code=exc.reason)


def emergency_reason_text(code: str, params: Sequence[str] = ()) -> Optional[str]:
    """The one-line reason for the top bar, e.g. 'Host cannot reach its master'."""
    if not code:
        return None
    return explain(code, params, in_emergency=True).title
