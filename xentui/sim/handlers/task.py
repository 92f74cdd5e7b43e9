"""task.cancel and task.destroy (xapi_task.ml); the Async machinery is in sim/tasks.py."""

from __future__ import annotations

from xentui.sim.tasks import task_methods

METHODS = task_methods()
