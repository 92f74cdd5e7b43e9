"""Diagnosis rules for the failures of issue 13 that the observation can show.

Each finding names xapi's real error, as the host stored it (the emergency
error of this host). They stand next to EMERGENCY_MODE, which says *that*
the host is cut off; these say *why*, in the terms of the fix.

- TLS_VERIFY_FAILED: xapi.ml attempt_host_status_check_with_coordinator stores
  stunnel's Stunnel_verify_error inside INTERNAL_ERROR (ExnHelper.string_of_exn).
- HA_ARMED_MISMATCH: xapi.ml resynchronise_ha_state on a member whose local
  ha.armed is false while pool.ha_enabled is true.
- VDI_LOCKED: sm's attach keys in VDI.sm_config (drivers/blktap2.py _add_tag,
  `host_<host ref>` and `activating`) left by a host that is gone; activating
  the disk anywhere else raises VDIUnavailable, which xapi reports as
  SR_BACKEND_FAILURE_46 "The VDI is not available".

Elsewhere: stale-db's choice of member (STALE_DB_CHOICE) in recovery/stale_db.py,
from the members' database copies the observation carries (Observation.db_copies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.situation import RUNNING_STATES, Situation
from xentui.recovery.tls_weak_key import weak_key_finding
from xentui.xapi.error_table import stunnel_verify_reason
from xentui.xapi.model import SM_ACTIVATING, SM_HOST_LOCK_PREFIX, VDI, VM, Host

_TLS_FIX = (
    "The member checks the coordinator's pool certificate against its own pool bundle "
    "(/etc/stunnel/xapi-pool-ca-bundle.pem) and stunnel refuses it, so the member stays in emergency "
    "mode; 'recover slaves' does not help. Fix: on the member 'xe host-emergency-disable-tls-verification'; "
    "on the coordinator 'xe host-refresh-server-certificate host=<coordinator>' (a new certificate, copied "
    "to every host, every pool bundle rebuilt; in xapi 24.19 'xe pool-certificate-sync' does not rebuild "
    "the pool bundle); then on the member 'xe host-emergency-reenable-tls-verification'. A 1024-bit "
    "server key (xapi-ssl.pem) needs 'xe host-emergency-reset-server-certificate' on that host."
)


def kept_out_by_own_cause(s: Situation, host_name: str, reason_code: str) -> bool:
    """A member in emergency mode that reaches its coordinator and is refused
    (HA flag mismatch, certificate rejected): 'recover slaves' would only restart
    it into the same error, so rule_orphans leaves it to the findings here."""
    if reason_code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED":
        return True
    view = s.views.get(host_name)
    return reason_code == "INTERNAL_ERROR" and view is not None and bool(stunnel_verify_reason(view.reason_params))


def _tls_finding(s: Situation, name: str, reason: str, evidence: str) -> Finding:
    weak = weak_key_finding(s, name, reason, evidence)
    if weak is not None:
        return weak
    return Finding(
        Code.TLS_VERIFY_FAILED,
        Severity.CRITICAL,
        f"{name} rejects its coordinator's certificate: TLS certificate verification failed (stunnel: {reason})",
        _TLS_FIX,
        host=name,
        evidence=(evidence,),
        data={"reason": reason},
    )


def rule_tls_verify_failed(s: Situation) -> List[Finding]:
    """This host's stored error, or a member's as its own xapi reported it."""
    out = []
    if s.reason_code == "INTERNAL_ERROR":
        reason = stunnel_verify_reason(tuple(s.reason_params))
        if reason:
            evidence = f"stored emergency error INTERNAL_ERROR {list(s.reason_params)}"
            out.append(_tls_finding(s, s.this_name or "this host", reason, evidence))
    for h in s.other_hosts() if s.has_snapshot else ():
        view = s.views.get(h.name_label)
        if view is None or view.reason_code != "INTERNAL_ERROR":
            continue
        reason = stunnel_verify_reason(tuple(view.reason_params))
        if reason:
            out.append(_tls_finding(s, h.name_label, reason, f"{s.state(h).evidence}: {list(view.reason_params)}"))
    return out


def rule_tls_verify_off(s: Situation) -> List[Finding]:
    """A host whose database record says it does not verify while its pool does:
    what host.emergency_disable_tls_verification leaves (xapi_host.ml; xapi raises
    an alert for it at start, alert_if_tls_verification_was_emergency_disabled),
    e.g. a TLS repair stopped half way. Only from a live pool database."""
    pool = s.snap.pool
    if not s.snap_live or pool is None or not pool.tls_verification_enabled:
        return []
    return [
        Finding(
            Code.TLS_VERIFY_OFF,
            Severity.WARNING,
            f"{h.name_label} does not verify the pool's certificates (turned off in an emergency)",
            "TLS verification between pool members is on for the pool but off on this host, as "
            "'xe host-emergency-disable-tls-verification' leaves it. Turn it back on once the host trusts "
            "the coordinator's certificate: 'xe host-refresh-server-certificate host=<coordinator>' on the "
            "coordinator, then 'xe host-emergency-reenable-tls-verification' on the host.",
            host=h.name_label,
            evidence=(f"host.tls_verification_enabled = false, pool.tls_verification_enabled = true ({s.snap_label})",),
        )
        for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label)
        if h.tls_verification_enabled is False
    ]


_HA_FIX = (
    "A member that was disarmed locally cannot rejoin an HA-enabled pool; it stays in emergency "
    "mode at every restart ('recover slaves' does not help). Make both sides agree: 'xe pool-ha-disable' "
    "on the coordinator (or 'xe host-emergency-ha-disable --force' on every host, coordinator "
    "included; on a host already disarmed it answers HA_NOT_ENABLED unless soft=true), then restart "
    "the toolstack on the stuck member ('xe-toolstack-restart' there; in emergency mode its xapi also "
    "restarts by itself within 60-180 s), then re-enable HA. Afterwards check that the coordinator "
    "itself is not in emergency mode."
)


def rule_ha_armed_mismatch(s: Situation) -> List[Finding]:
    """This host's stored error, or a member's as its own xapi reported it."""
    stuck = []
    if s.reason_code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED":
        stuck.append((s.this_name or "this host", "stored emergency error"))
    if s.has_snapshot:
        for h in s.other_hosts():
            st = s.state(h)
            if st.reason_code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED":
                stuck.append((h.name_label, st.evidence))
    return [
        Finding(
            Code.HA_ARMED_MISMATCH,
            Severity.CRITICAL,
            f"{name}: HA is disarmed there but enabled on the pool (HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED)",
            _HA_FIX,
            host=name,
            evidence=(f"{source}: HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED",),
        )
        for name, source in stuck
    ]


SR_BACKEND_FAILURE_46 = "SR_BACKEND_FAILURE_46 The VDI is not available"
GONE_HOST = "a host no longer in the pool"


@dataclass(frozen=True)
class StaleKey:
    """One sm_config lock key that stops a disk from activating elsewhere."""

    key: str
    value: str
    holder: Optional[Host]  # None: `activating`, or a host no longer in the pool

    @property
    def activating(self) -> bool:
        return self.key == SM_ACTIVATING

    def holder_name(self) -> str:
        return self.holder.name_label if self.holder is not None else GONE_HOST


def _holder_gone(s: Situation, holder: Optional[Host]) -> bool:
    """A lock of a host that is live and answering is normal (a VM runs or
    starts there); one of a host that is down, or not in the pool, is stale."""
    return holder is None or holder.live is False or s.is_down(holder)


def _stale_keys(s: Situation, vdi: VDI) -> List[StaleKey]:
    out = []
    for key, value in vdi.sm_locks:
        if key == SM_ACTIVATING:
            out.append(StaleKey(key, value, None))
            continue
        holder = s.snap.hosts.get(key[len(SM_HOST_LOCK_PREFIX) :])
        if _holder_gone(s, holder):
            out.append(StaleKey(key, value, holder))
    return out


def _users(s: Situation, vdis: Dict[str, VDI]) -> Dict[str, List[VM]]:
    """VDI ref -> the guest VMs with a VBD on it."""
    vms = s.snap.vms
    out: Dict[str, List[VM]] = {}
    for vbd in s.snap.vbds.values():
        vm = vms.get(vbd.vm)
        if vbd.vdi in vdis and vm is not None and vm.is_guest:
            out.setdefault(vbd.vdi, []).append(vm)
    return out


def _holder_label(s: Situation, stale: StaleKey) -> str:
    if stale.activating:
        return "an activation that never finished"
    if stale.holder is None:
        return GONE_HOST
    live = "unknown" if stale.holder.live is None else str(stale.holder.live).lower()
    return f"{stale.holder.name_label} (its xapi: {s.state(stale.holder).reach}; host_metrics.live = {live})"


LockedDisk = Tuple[VDI, List[StaleKey]]


def rule_vdi_locked(s: Situation) -> List[Finding]:
    if not s.has_snapshot:
        return []
    locked = {v.ref: v for v in s.snap.locked_vdis()}
    if not locked:
        return []
    per_vm: Dict[str, List[LockedDisk]] = {}
    vm_of: Dict[str, VM] = {}
    for vdi_ref, vms in _users(s, locked).items():
        stale = _stale_keys(s, locked[vdi_ref])
        if not stale:
            continue
        for vm in vms:
            if vm.power_state in RUNNING_STATES:
                continue  # a running VM holds its own keys; one marked running on a dead host is VMS_ON_DEAD_HOST
            vm_of[vm.ref] = vm
            per_vm.setdefault(vm.ref, []).append((locked[vdi_ref], stale))
    return [_vdi_locked_finding(s, vm_of[ref], items) for ref, items in sorted(per_vm.items())]


def _vdi_locked_finding(s: Situation, vm: VM, items: List[LockedDisk]) -> Finding:
    items = sorted(items, key=lambda item: item[0].uuid)
    holders = sorted({k.holder_name() for _, keys in items for k in keys if not k.activating})
    leaked = [vdi for vdi, keys in items if any(k.activating for k in keys)]
    by = " and ".join(holders) if holders else "an unfinished activation"
    disks = ", ".join(vdi.name_label or vdi.uuid for vdi, _ in items)
    commands = [f"'resetvdis.py single {vdi.uuid}'" for vdi, _ in items]
    commands += [
        f"'xe vdi-param-remove uuid={vdi.uuid} param-name=sm-config param-key={SM_ACTIVATING}'" for vdi in leaked
    ]
    evidence = tuple(
        f"VDI {vdi.uuid} ({vdi.name_label}) sm_config {k.key}={k.value}: held by {_holder_label(s, k)} ({s.snap_label})"
        for vdi, keys in items
        for k in keys
    )
    explanation = (
        f"sm left its attach keys on the VM's disks, so activating them fails ({SR_BACKEND_FAILURE_46}; "
        "sometimes MAP_DUPLICATE_KEY ... activating, or VDI_IN_USE) and the VM starts nowhere. The host that "
        "had them attached went away without detaching them (host-declare-dead clears a dead host's keys; a "
        "power-state reset by hand does not). Clear them only once that host is fenced (powered off): a host "
        "that still runs the VM would share the disk with a second copy and corrupt it. Equivalent on the "
        "master: " + "; ".join(commands) + "."
    )
    if leaked:
        explanation += " A leaked 'activating' key is removed only by VDI.remove_from_sm_config (the xe command above)."
    return Finding(
        Code.VDI_LOCKED,
        Severity.CRITICAL,
        f"{vm.name_label or vm.uuid} cannot start: disk {disks} locked by {by} ({SR_BACKEND_FAILURE_46})",
        explanation,
        host=holders[0] if len(holders) == 1 and holders[0] != GONE_HOST else "",
        evidence=evidence,
        data={
            "vm_uuid": vm.uuid,
            "vm_name": vm.name_label,
            "vdi_uuids": ",".join(vdi.uuid for vdi, _ in items),
            "holders": ",".join(holders),
            "keys": ",".join(sorted({k.key for _, keys in items for k in keys})),
        },
    )


RULES = (rule_tls_verify_failed, rule_tls_verify_off, rule_ha_armed_mismatch, rule_vdi_locked)
