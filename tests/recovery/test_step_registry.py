"""One step, one file (issue 12): every module of xentui/recovery/steps names
its kind in `STEP = StepKind(...)` with its parts (declare, already_done,
action, verify), the registry finds each of them by listing the package, the
executor consults already_done before the action, and the typed
preconditions keep the ids and sentences that audit logs, `recover --plan
--json` and the wizard have always shown."""

import pathlib
import sys
import textwrap

import pytest

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation
from xentui.recovery import audit as au
from xentui.recovery import preconditions as pc
from xentui.recovery import step_registry
from xentui.recovery import steps as steps_package
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
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


def test_every_step_kind_has_its_parts():
    """declare, already_done, action and verify; the old single `run` is gone."""
    for kind, step in step_kinds().items():
        for part in ("declare", "already_done", "action", "verify"):
            assert callable(getattr(step, part)), f"{kind} has no {part}"
        assert not hasattr(step, "run"), kind


def test_a_step_kind_is_its_named_parts():
    """action and verify are required, and by name: the old positional
    `StepKind(kind, run, declare)` no longer builds."""
    with pytest.raises(TypeError, match="verify"):
        StepKind("half", action=lambda runner, ctx: None)
    with pytest.raises(TypeError, match="positional"):
        StepKind("old", lambda runner, ctx: "", None)


# A step module as a newcomer writes it (the recipe in step_kind.py): one file,
# named nowhere else. Its parts log their calls so the tests see the order.
PROBE_MODULE = textwrap.dedent(
    """
    from xentui.recovery.plan import Confirm, Step
    from xentui.recovery.step_context import StepContext, StepRunner
    from xentui.recovery.step_kind import StepKind

    CALLS = []


    def declare(done: str = "") -> Step:
        return Step(
            id="probe-step:xen2",
            title="Probe",
            why="a test",
            changes="nothing",
            risk="none",
            risk_text="None.",
            xe=(),
            calls=(),
            preconditions=(),
            verify="the probe ran",
            on_failure="nothing",
            confirm=Confirm.NONE,
            target_host="xen2",
            params={"done": done},
        )


    def already_done(runner: StepRunner, ctx: StepContext) -> str:
        CALLS.append("already_done")
        return ctx.step.params["done"]


    def action(runner: StepRunner, ctx: StepContext) -> None:
        CALLS.append("action")
        ctx.scratch["seen"] = "by the action"


    def verify(runner: StepRunner, ctx: StepContext) -> str:
        CALLS.append("verify")
        return "verified " + ctx.scratch["seen"]


    STEP = StepKind("probe-step", declare=declare, already_done=already_done, action=action, verify=verify)
    """
)


class FakeClient:
    def __init__(self, host):
        self.host = host
        self.closed = 0

    def close(self):
        self.closed += 1


class FixedObserver:
    """Stands in for Observer: always the same observation; fake clients that
    count their closing."""

    def __init__(self, obs):
        self.obs = obs
        self.client = FakeClient("console")
        self.opened = []

    def observe(self, **_):
        return self.obs

    def host_client(self, host_name, **_):
        self.opened.append(FakeClient(host_name))
        return self.opened[-1]


@pytest.fixture
def extra_steps(tmp_path, monkeypatch):
    """add(name, source): a step module dropped into the steps package's search
    path; the registry must find it by listing the package, like any module
    in steps/."""
    folder = tmp_path / "more_steps"
    folder.mkdir()
    added = []
    monkeypatch.setattr(steps_package, "__path__", [*steps_package.__path__, str(folder)])

    def add(name, source):
        (folder / f"{name}.py").write_text(source)
        added.append(name)
        step_registry._collect.cache_clear()

    yield add
    step_registry._collect.cache_clear()
    for name in added:
        sys.modules.pop(f"{steps_package.__name__}.{name}", None)


@pytest.fixture
def probe_step(extra_steps):
    extra_steps("probe_step", PROBE_MODULE)


def _probe_executor(tmp_path):
    b = PoolBuilder(master="xen2").host("xen1").host("xen2")
    obs = observation(b, "xen2", gt=ground_truth(b, "xen2", role="master"), live=True)
    audit = AuditLog(tmp_path / "a.jsonl")
    return PlanExecutor(FixedObserver(obs), audit, time_scale=0.01), audit


def test_a_new_step_is_one_file_found_by_listing_the_package(probe_step, tmp_path):
    probe = step_kinds()["probe-step"]
    module = sys.modules[f"{steps_package.__name__}.probe_step"]
    ex, audit = _probe_executor(tmp_path)
    result = ex.run(probe())
    assert (result.status, result.verification) == ("done", "verified by the action")
    assert module.CALLS == ["already_done", "action", "verify"]
    assert [r.kind for r in audit.records()] == [au.STEP_START, au.CHECK, au.STEP_END]


def test_already_done_is_consulted_before_the_action(probe_step, tmp_path):
    """A reason from already_done: "skipped" with it, and neither action nor verify runs."""
    probe = step_kinds()["probe-step"]
    module = sys.modules[f"{steps_package.__name__}.probe_step"]
    ex, audit = _probe_executor(tmp_path)
    result = ex.run(probe(done="xen2 already probed"))
    assert (result.status, result.detail, result.verification) == (
        "skipped",
        "xen2 already probed",
        "xen2 already probed",
    )
    assert module.CALLS == ["already_done"]
    assert audit.records()[-1].outcome == "skipped"
    assert "probe-step:xen2" in ex.completed  # a skipped step counts as done for resuming


CLIENTS_MODULE = textwrap.dedent(
    """
    from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, hold_master_change
    from xentui.recovery.step_kind import StepKind

    SEEN = []


    def action(runner: StepRunner, ctx: StepContext) -> None:
        hold_master_change(runner, ctx)
        SEEN.extend([ctx.client("xen1"), ctx.client("xen1"), ctx.client("xen2")])
        if ctx.step.params.get("fail"):
            raise StepFailed("failed on purpose")


    def verify(runner: StepRunner, ctx: StepContext) -> str:
        SEEN.append(ctx.client("xen1"))
        assert runner.master_change.locked()  # held from the action through verify
        return "ok"


    STEP = StepKind("clients-probe", action=action, verify=verify)
    """
)


@pytest.mark.parametrize("fail", [False, True], ids=["done", "failed"])
def test_one_client_per_host_for_the_whole_step_closed_at_its_end(extra_steps, tmp_path, fail):
    """ctx.client(host) opens one client per other host for the step (action and
    verify share it) and the executor closes it when the step ends, failed or
    not; this host's console session is the observer's and stays open; a lock
    the action holds until the end is released."""
    from xentui.recovery.plan import Confirm

    extra_steps("clients_probe", CLIENTS_MODULE)
    step_kinds()  # imports the module
    module = sys.modules[f"{steps_package.__name__}.clients_probe"]
    ex, _ = _probe_executor(tmp_path)  # this console is on xen2
    step = Step(
        id="clients-probe:xen1",
        title="Clients",
        why="a test",
        changes="nothing",
        risk="none",
        risk_text="None.",
        xe=(),
        calls=(),
        preconditions=(),
        verify="",
        on_failure="",
        confirm=Confirm.NONE,
        params={"fail": "yes" if fail else ""},
    )
    result = ex.run(step)
    assert result.status == ("failed" if fail else "done"), result.detail
    xen1, again, console = module.SEEN[:3]
    assert xen1 is again and all(c is xen1 for c in module.SEEN[3:])
    assert [c.host for c in ex.observer.opened] == ["xen1"]  # opened once, for action and verify
    assert xen1.closed == 1  # by the executor, at the end
    assert console is ex.observer.client and console.closed == 0
    assert not ex.master_change.locked()


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
    (pc.StatefileReachable(), "statefile-reachable", "The HA statefile (heartbeat SR) is not known to be unreachable"),
    (pc.SingleFlight(), "single-flight", "No other master change is in progress"),
    (
        pc.OnConsole("xen3"),
        "on-console:xen3",
        "xentui runs on xen3's console (promotion acts on the host it runs on)",
    ),
    (pc.NoResidentVms("xen1"), "no-resident-vms:xen1", "No VM is resident on xen1 in the pool database"),
    (pc.RecordGone("xen1", "u1"), "record-gone:xen1", "The pool no longer holds xen1's old record (u1)"),
    (pc.NoOtherMaster("xen2"), "no-other-master:xen2", "No host but xen2 answers as master"),
    (pc.OutOfEmergency("xen2"), "out-of-emergency:xen2", "xen2's xapi answers outside emergency mode"),
    (
        pc.PoolVerifiesTls(),
        "pool-verifies-tls",
        "The pool has TLS verification enabled (pool.tls_verification_enabled)",
    ),
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
