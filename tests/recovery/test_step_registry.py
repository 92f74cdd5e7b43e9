"""One step, one file (issue 12): every module of xentui/recovery/steps names
its kind in `STEP = StepKind(...)`, the registry finds each of them, and the
typed preconditions keep the ids and sentences that audit logs, `recover
--plan --json` and the wizard have always shown."""

import pathlib

import pytest

from xentui.recovery import preconditions as pc
from xentui.recovery.plan import Step
from xentui.recovery.step_kind import StepKind
from xentui.recovery.step_registry import step_kind, step_kinds

STEPS_DIR = pathlib.Path(pc.__file__).parent / "steps"


def test_every_step_module_registers_its_own_kind():
    modules = sorted(p.stem for p in STEPS_DIR.glob("*.py") if not p.stem.startswith("_"))
    kinds = step_kinds()
    assert sorted(k.replace("-", "_") for k in kinds) == modules
    for kind, step in kinds.items():
        assert isinstance(step, StepKind) and step.kind == kind
        assert step_kind(kind) is step


def test_declarations_build_steps_of_their_own_kind():
    """Each declaration's steps carry the kind their module registers (the
    executor finds the action by it)."""
    from xentui.xapi.model import Host

    def host(name: str) -> Host:
        return Host(
            ref=f"OpaqueRef:{name}",
            uuid=f"uuid-{name}",
            name_label=name,
            hostname=name,
            address=f"127.0.0.{name[-1]}",
            enabled=True,
            metrics_ref="",
            control_domain="",
            resident_vms=(),
            pifs=(),
            pbds=(),
            api_version_major=2,
            api_version_minor=21,
        )

    a, b = host("xen1"), host("xen2")
    built = {
        "confirm-master-down": step_kind("confirm-master-down")(a),
        "promote": step_kind("promote")(b, a, True),
        "recover-members": step_kind("recover-members")(b, [a]),
        "reset-master": step_kind("reset-master")(a, b),
        "keep-master": step_kind("keep-master")("xen1", ["xen1", "xen2"]),
        "demote-master": step_kind("demote-master")("xen2", a, []),
        "designate-master": step_kind("designate-master")(a, [b]),
        "declare-dead": step_kind("declare-dead")(a, b, ["vm"]),
        "plug-pbds": step_kind("plug-pbds")(b),
        "check-default-sr": step_kind("check-default-sr")(b),
        "backup-db": step_kind("backup-db")(b),
        "pif-scan": step_kind("pif-scan")(a, b),
        "pif-plug": step_kind("pif-plug")(a, b, a.address),
        "ha-disable": step_kind("ha-disable")(a, True),
    }
    for kind, step in built.items():
        assert isinstance(step, Step) and step.kind == kind, kind


PRECONDITIONS = [
    (pc.Fenced("xen1"), "fenced:xen1", "The operator has attested that xen1 is powered off / fenced"),
    (pc.Silent("xen1", "10.0.0.1"), "silent:xen1", "xen1 (10.0.0.1) neither accepts connections nor answers as xapi"),
    (pc.Answers("xen2"), "answers:xen2", "xen2's xapi answers"),
    (pc.IsMaster("xen2"), "is-master:xen2", "xen2 answers as the pool master (not in emergency mode)"),
    (pc.HaDisarmed("xen2"), "ha-disarmed:xen2", "HA is disarmed on xen2"),
    (pc.Emergency("xen2"), "emergency:xen2", "xen2 is in emergency mode (the call only works there)"),
    (pc.KeptNot("xen1", "xen2"), "kept-not:xen1", "xen1 is not the master chosen to keep"),
    (pc.VmsHalted(("u1", "u2")), "vms-halted", "Each VM is Halted in the database and runs nowhere the pool knows of"),
    (pc.NoDoubleClaim(), "no-double-claim", "No VM is claimed by two masters"),
    (pc.AllHostsLive(), "all-hosts-live", "Every host answers"),
    (pc.HaOff(), "ha-off", "HA is disabled on the pool"),
    (pc.SingleFlight(), "single-flight", "No other master change is in progress"),
]


@pytest.mark.parametrize("pre,pid,text", PRECONDITIONS, ids=[p[1] for p in PRECONDITIONS])
def test_precondition_ids_and_sentences_are_the_audited_ones(pre, pid, text):
    assert (pre.id, pre.description) == (pid, text)
    assert pre.to_json() == {"id": pid, "description": text}
    with pytest.raises(AttributeError):  # frozen: a plan's checks cannot change after it is shown
        pre.host = "other"


def test_every_precondition_class_is_covered_above():
    classes = {
        c
        for c in vars(pc).values()
        if isinstance(c, type) and issubclass(c, pc.Precondition) and c is not pc.Precondition
    }
    assert classes == {type(p) for p, _, _ in PRECONDITIONS}
