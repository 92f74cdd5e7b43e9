"""The wizard's transition table, on its own (no Textual app)."""

import pytest

from xentui.ui.wizard.machine import (
    ESCAPABLE,
    EXECUTION_EVENTS,
    TRANSITIONS,
    IllegalTransition,
    WizardMachine,
)
from xentui.ui.wizard.machine import (
    WizardEvent as E,
)
from xentui.ui.wizard.machine import (
    WizardState as S,
)


def test_the_only_way_into_running_is_confirmed_from_confirm():
    into_running = [(s, e) for (s, e), t in TRANSITIONS.items() if t is S.RUNNING and s is not S.RUNNING]
    assert into_running == [(S.CONFIRM, E.CONFIRMED)]


def test_the_only_way_into_confirm_is_passed_checks():
    into_confirm = [(s, e) for (s, e), t in TRANSITIONS.items() if t is S.CONFIRM]
    assert into_confirm == [(S.PRECHECK, E.CHECKS_PASSED)]


@pytest.mark.parametrize("state", [s for s in S if s not in (S.RUNNING, S.CLOSED)])
def test_every_state_but_running_backs_out_with_esc(state):
    assert state in ESCAPABLE
    target = TRANSITIONS[(state, E.BACK)]
    assert target not in (S.CONFIRM, S.RUNNING, S.PRECHECK)


def test_esc_while_running_only_asks_to_cancel():
    assert (S.RUNNING, E.BACK) not in TRANSITIONS
    assert TRANSITIONS[(S.RUNNING, E.CANCEL)] is S.RUNNING


def test_read_only_machine_has_no_path_to_confirm_or_running():
    machine = WizardMachine(read_only=True)
    # Explore every state reachable with the events a read-only machine allows.
    seen, todo = {S.OVERVIEW}, [S.OVERVIEW]
    while todo:
        state = todo.pop()
        for event in E:
            machine.state = state
            target = machine.target(event)
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    assert S.CONFIRM not in seen and S.RUNNING not in seen and S.PRECHECK not in seen
    assert seen >= {S.OVERVIEW, S.STEP_DETAIL, S.CLOSED}
    machine.state = S.STEP_DETAIL
    for event in EXECUTION_EVENTS:
        with pytest.raises(IllegalTransition):
            machine.fire(event)


def test_fire_records_history_and_refuses_illegal_events():
    machine = WizardMachine()
    machine.fire(E.OPEN_STEP)
    machine.fire(E.CHECK)
    with pytest.raises(IllegalTransition, match="precheck on confirmed"):
        machine.fire(E.CONFIRMED)
    machine.fire(E.CHECKS_PASSED)
    machine.fire(E.CONFIRMED)
    assert machine.state is S.RUNNING
    assert [h[1] for h in machine.history] == [E.OPEN_STEP, E.CHECK, E.CHECKS_PASSED, E.CONFIRMED]
