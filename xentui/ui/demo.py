"""The --demo mode: the simulator in-process, seen from its console host,
plus the list of faults the demo panel can inject and clear. Textual-free."""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

DEFAULT_SCENARIO = "master-down"
DEFAULT_TIME_SCALE = 0.05


@dataclass(frozen=True)
class DemoFault:
    id: str  # "power_off:xcp-a"
    label: str  # "Power off xcp-a"
    method: str  # Faults method name
    args: Tuple[str, ...]


# (method, label template, needs a host)
_FAULTS_PER_HOST = (
    ("power_off", "Power off {h}"),
    ("power_on", "Power on {h}"),
    ("hang", "Hang {h} (accepts, never answers)"),
    ("unhang", "Un-hang {h}"),
    ("restart_xapi", "Restart xapi on {h}"),
    ("lose_management_ip", "Remove the management IP of {h}"),
    ("restore_management_ip", "Restore the management IP of {h}"),
)


class DemoControl:
    def __init__(
        self,
        scenario: str = DEFAULT_SCENARIO,
        *,
        state_dir: Optional[Path] = None,
        time_scale: float = DEFAULT_TIME_SCALE,
    ) -> None:
        self.scenario = scenario or DEFAULT_SCENARIO
        self.time_scale = time_scale
        self._own_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="xentui-demo-")) if state_dir is None else Path(state_dir)
        self.sim: Any = None
        self.history: List[str] = []

    def start(self) -> None:
        from xentui.sim.runner import Simulator

        self.sim = Simulator.start(self.scenario, self.state_dir, time_scale=self.time_scale)

    @property
    def console_host(self) -> str:
        console: str = self.sim.endpoints.console
        return console

    @property
    def target(self) -> str:
        return f"sim:{self.state_dir}/{self.console_host}"

    def host_names(self) -> List[str]:
        return [h.name for h in self.sim.endpoints.hosts]

    def faults(self) -> List[DemoFault]:
        out = []
        for host in self.host_names():
            for method, label in _FAULTS_PER_HOST:
                if hasattr(self.sim.faults, method):
                    out.append(DemoFault(f"{method}:{host}", label.format(h=host), method, (host,)))
        return out

    def apply(self, fault: DemoFault) -> str:
        getattr(self.sim.faults, fault.method)(*fault.args)
        self.history.append(fault.label)
        return f"demo: {fault.label}"

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the simulator without ever blocking exit for long."""
        sim, self.sim = self.sim, None
        if sim is not None:
            stopper = threading.Thread(target=sim.stop, name="xentui-demo-stop", daemon=True)
            stopper.start()
            stopper.join(timeout)
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
