"""Every step kind, collected from the modules of `xentui.recovery.steps`.

Like xsconsole's XSFeature*.py plugins: a new step is one new module there
with a module-level `STEP = StepKind(...)`; nothing else names it. The
modules are found by listing the package, so neither the executor nor this
module imports a step by name.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Dict, Mapping

from xentui.recovery import steps as steps_package
from xentui.recovery.step_kind import StepKind


@functools.lru_cache(maxsize=None)
def _collect() -> Dict[str, StepKind]:
    found: Dict[str, StepKind] = {}
    for info in sorted(pkgutil.iter_modules(steps_package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{steps_package.__name__}.{info.name}")
        step = getattr(module, "STEP", None)
        if not isinstance(step, StepKind):
            raise TypeError(f"{module.__name__} declares no STEP = StepKind(...)")
        if step.kind in found:
            raise ValueError(f"step kind {step.kind!r} is declared twice ({module.__name__})")
        found[step.kind] = step
    return found


def step_kinds() -> Mapping[str, StepKind]:
    """kind -> StepKind, for every module of xentui.recovery.steps (read once)."""
    return dict(_collect())


def step_kind(kind: str) -> StepKind:
    return _collect()[kind]
