"""The static checks the tree already passes, run from the test extras so CI
fails when they fail. `make check` runs every check in full; what it still
reports and this file does not yet enforce:

- ruff over tests/ (fixtures imported into test modules, F811, go away when
  they move into the layers' conftest.py files);
- `mypy --strict` on the modules not in STRICT_CLEAN. A module joins the list
  once it is clean and never leaves it.

The import contracts run in tests/test_layering.py.
"""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

RUFF_PATHS = ["xentui", "benchmarks", "screenshots", "packaging"]

# Modules clean under the pyproject's mypy settings (--strict, Python 3.9).
STRICT_CLEAN = [
    "xentui/cli.py",
    "xentui/commands/recover.py",
    "xentui/commands/report.py",
    "xentui/commands/status.py",
    "xentui/commands/ui.py",
    "xentui/host/access.py",
    "xentui/host/facts.py",
    "xentui/host/gather.py",
    "xentui/host/inventory.py",
    "xentui/host/iplink.py",
    "xentui/host/pool_conf.py",
    "xentui/host/probes.py",
    "xentui/host/statedb.py",
    "xentui/host/statedb_types.py",
    "xentui/host/xapi_process.py",
    "xentui/recovery/audit.py",
    "xentui/recovery/backup.py",
    "xentui/recovery/diagnosis.py",
    "xentui/recovery/executor.py",
    "xentui/recovery/fence_gate.py",
    "xentui/recovery/findings.py",
    "xentui/recovery/observation.py",
    "xentui/recovery/observer.py",
    "xentui/recovery/open_run.py",
    "xentui/recovery/peers.py",
    "xentui/recovery/plan.py",
    "xentui/recovery/plan_builder.py",
    "xentui/recovery/preconditions.py",
    "xentui/recovery/private_files.py",
    "xentui/recovery/report.py",
    "xentui/recovery/role_checks.py",
    "xentui/recovery/rules.py",
    "xentui/recovery/rules_failures.py",
    "xentui/recovery/run_record.py",
    "xentui/recovery/situation.py",
    "xentui/recovery/step_context.py",
    "xentui/recovery/step_kind.py",
    "xentui/recovery/step_registry.py",
    "xentui/recovery/steps/backup_db.py",
    "xentui/recovery/steps/check_default_sr.py",
    "xentui/recovery/steps/confirm_master_down.py",
    "xentui/recovery/steps/declare_dead.py",
    "xentui/recovery/steps/demote_master.py",
    "xentui/recovery/steps/designate_master.py",
    "xentui/recovery/steps/enable_ha.py",
    "xentui/recovery/steps/forget_stale_pifs.py",
    "xentui/recovery/steps/ha_disable.py",
    "xentui/recovery/steps/keep_master.py",
    "xentui/recovery/steps/management_reconfigure.py",
    "xentui/recovery/steps/pif_plug.py",
    "xentui/recovery/steps/pif_scan.py",
    "xentui/recovery/steps/plug_pbds.py",
    "xentui/recovery/steps/power_state_reset.py",
    "xentui/recovery/steps/promote.py",
    "xentui/recovery/steps/recover_members.py",
    "xentui/recovery/steps/reset_master.py",
    "xentui/recovery/steps/start_vms.py",
    "xentui/recovery/summary.py",
    "xentui/runtime_env.py",
    "xentui/sim/allowed_ops.py",
    "xentui/sim/cli.py",
    "xentui/sim/clock.py",
    "xentui/sim/control.py",
    "xentui/sim/db.py",
    "xentui/sim/db_filter.py",
    "xentui/sim/dispatch.py",
    "xentui/sim/dom0_files.py",
    "xentui/sim/errors.py",
    "xentui/sim/events.py",
    "xentui/sim/faults.py",
    "xentui/sim/handlers/_common.py",
    "xentui/sim/handlers/certificates.py",
    "xentui/sim/handlers/event.py",
    "xentui/sim/handlers/host.py",
    "xentui/sim/handlers/host_internal.py",
    "xentui/sim/handlers/pbd.py",
    "xentui/sim/handlers/pif.py",
    "xentui/sim/handlers/pool.py",
    "xentui/sim/handlers/pool_join.py",
    "xentui/sim/handlers/session.py",
    "xentui/sim/handlers/task.py",
    "xentui/sim/handlers/vm.py",
    "xentui/sim/host_facts.py",
    "xentui/sim/host_files.py",
    "xentui/sim/host_protocol.py",
    "xentui/sim/http_get.py",
    "xentui/sim/httpd.py",
    "xentui/sim/iscsi_san.py",
    "xentui/sim/memory.py",
    "xentui/sim/methods.py",
    "xentui/sim/pif_sync.py",
    "xentui/sim/pool_ops.py",
    "xentui/sim/resolver.py",
    "xentui/sim/rrd.py",
    "xentui/sim/runner.py",
    "xentui/sim/scenario_faults.py",
    "xentui/sim/scenarios.py",
    "xentui/sim/schema.py",
    "xentui/sim/sm_locks.py",
    "xentui/sim/stand_in_elf.py",
    "xentui/sim/tasks.py",
    "xentui/sim/tls_state.py",
    "xentui/sim/wire.py",
    "xentui/sim/world.py",
    "xentui/sim/xapi_host.py",
    "xentui/sim/xapi_pid.py",
    "xentui/sim/xapi_version.py",
    "xentui/ui/actions.py",
    "xentui/ui/background.py",
    "xentui/ui/config.py",
    "xentui/ui/connecting.py",
    "xentui/ui/console_app.py",
    "xentui/ui/demo.py",
    "xentui/ui/messages.py",
    "xentui/ui/profile.py",
    "xentui/ui/screens/base.py",
    "xentui/ui/screens/confirm.py",
    "xentui/ui/screens/connect.py",
    "xentui/ui/screens/demo_panel.py",
    "xentui/ui/screens/details.py",
    "xentui/ui/screens/help.py",
    "xentui/ui/screens/log.py",
    "xentui/ui/screens/network.py",
    "xentui/ui/screens/plan.py",
    "xentui/ui/screens/too_small.py",
    "xentui/ui/screens/vms.py",
    "xentui/ui/static_observer.py",
    "xentui/ui/viewmodel.py",
    "xentui/ui/widgets.py",
    "xentui/ui/wizard/failure.py",
    "xentui/ui/wizard/host.py",
    "xentui/ui/wizard/keys.py",
    "xentui/ui/wizard/machine.py",
    "xentui/ui/wizard/messages.py",
    "xentui/ui/wizard/page.py",
    "xentui/ui/wizard/progress.py",
    "xentui/ui/wizard/runlog.py",
    "xentui/ui/wizard/screen.py",
    "xentui/ui/wizard/views.py",
    "xentui/ui/wizard/workers.py",
    "xentui/xapi/client.py",
    "xentui/xapi/endpoint.py",
    "xentui/xapi/error_table.py",
    "xentui/xapi/errors.py",
    "xentui/xapi/jsonrpc.py",
    "xentui/xapi/known_hosts.py",
    "xentui/xapi/live.py",
    "xentui/xapi/liveness.py",
    "xentui/xapi/model.py",
    "xentui/xapi/safe_text.py",
    "xentui/xapi/session_info.py",
    "xentui/xapi/ssh.py",
    "xentui/xapi/targets.py",
    "xentui/xapi/tls.py",
    "xentui/xapi/transport.py",
]


def _need(module: str, minimum: tuple) -> None:
    if importlib.util.find_spec(module) is not None:
        return
    if sys.version_info < minimum:
        pytest.skip(f"the pinned {module} needs Python {'.'.join(map(str, minimum))}+ (see the test extras)")
    pytest.fail(f"{module} is missing: pip install -e '.[test]'")


def _ruff(*args: str) -> "subprocess.CompletedProcess[str]":
    _need("ruff", (3, 7))
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *RUFF_PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_check():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check():
    """The tree is formatted by `ruff format` (tests included)."""
    result = _ruff("format", "--check", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_strict_clean_modules_stay_clean(tmp_path):
    _need("mypy", (3, 10))
    missing = [m for m in STRICT_CLEAN if not (ROOT / m).is_file()]
    assert not missing, f"gone or moved, update STRICT_CLEAN: {missing}"
    # follow-imports=silent: the modules they import are read for their types,
    # but their own errors are not reported here (make check reports them).
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--cache-dir", str(tmp_path / "mypy"), *STRICT_CLEAN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
