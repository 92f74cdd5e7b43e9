"""The guided recovery wizard (issue #6): `RecoveryWizard(observer, plan, executor, read_only=...)`."""

from xentui.ui.wizard.machine import WizardEvent, WizardMachine, WizardState
from xentui.ui.wizard.screen import RecoveryWizard

__all__ = ["RecoveryWizard", "WizardEvent", "WizardMachine", "WizardState"]
