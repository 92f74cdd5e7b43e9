"""The wizard's keys: one handler per state, all keyboard, no Shift+Tab.

A mixin of `RecoveryWizard` (it uses the screen's state and `_fire`). Every
handler returns True when it used the key, which then stops there: typed
host names never reach the app's own bindings (digits switch screens there).
Other keys a state does not use bubble up to the app (q quits, ? helps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Tuple, cast

from textual import events
from textual.containers import VerticalScroll

from xentui.ui.wizard import views
from xentui.ui.wizard.failure import describe_exception
from xentui.ui.wizard.host import WizardHost
from xentui.ui.wizard.machine import WizardEvent, WizardState

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.plan import Step

S, E = WizardState, WizardEvent

QUIT_KEYS = frozenset({"q", "ctrl+q", "ctrl+c"})
# Keys that act at once even while the live checks run (the others wait for the checks' answer).
SCROLL_KEYS = frozenset({"pageup", "pagedown", "home", "end"})


class WizardKeys(WizardHost):
    # Keys typed while the live checks run (PRECHECK), replayed in order once they answer: a burst
    # such as Enter, Enter, F8 or a typed host name then lands where it was meant to, never in
    # the app behind (letters jump hosts, `d` opens the demo panel). A tuple, replaced, never shared.
    _held: Tuple[Tuple[str, Optional[str]], ...] = ()

    def check_consume_key(self, key: str, character: Optional[str]) -> bool:
        """The keys `on_key` keeps for itself: Textual then leaves them out of the
        app's priority bindings (1-5 switch screens, ? and d open pages, as the app reads the key)."""
        if self.state in (S.RUNNING, S.PRECHECK):
            return key not in QUIT_KEYS
        if not character or not character.isprintable():
            return False
        typing = self.state is S.ATTEST or (
            self.state is S.CONFIRM and self._confirm_kind(self.step) == "typed-host-name"
        )
        return typing or character.isdigit()

    async def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            self._held = ()  # Esc backs out: nothing typed ahead follows it
        elif self.state is S.PRECHECK and event.key not in QUIT_KEYS and event.key not in SCROLL_KEYS:
            self._held += ((event.key, event.character),)
            event.stop()
            event.prevent_default()
            return
        used = self._dispatch_key(event)
        # Digits are part of host names ("xen1"): one typed a moment too late
        # must not reach the app, where 1-5 switch screens and would close the
        # wizard mid-recovery. Esc is the way out.
        if used or (event.character or "").isdigit():
            event.stop()
            event.prevent_default()

    def _dispatch_key(self, event: events.Key) -> bool:
        handler = getattr(self, "_key_" + self.state.name.lower(), None)
        return bool(handler(event)) if handler is not None else False

    def on_checks_done(self, message: object) -> None:
        # Runs before WizardWorkers.on_checks_done (MRO order): replay once that one moved the state on.
        if self._held:
            self.call_next(self._replay_held)

    def _replay_held(self) -> None:
        """Feed the held keys to the state the checks led to, in order, until one starts the
        checks again (the rest wait for that answer). Keys the state does not use are dropped,
        as they would have been had they been typed now; whatever is left when a step starts
        running is dropped too: one burst never confirms two steps."""
        while self._held and self.state is not S.PRECHECK:
            if self.state is S.RUNNING or self.state is S.CLOSED:
                self._held = ()
                return
            (key, character), self._held = self._held[0], self._held[1:]
            self._dispatch_key(events.Key(key, character))

    def _scroll(self, key: str) -> bool:
        body = self.query_one("#wizard-body", VerticalScroll)
        if key == "pageup":
            body.scroll_page_up(animate=False)
        elif key == "pagedown":
            body.scroll_page_down(animate=False)
        elif key == "home":
            body.scroll_home(animate=False)
        elif key == "end":
            body.scroll_end(animate=False)
        else:
            return False
        return True

    def _key_overview(self, event: events.Key) -> bool:
        key = event.key
        if key == "escape":
            self._fire(E.BACK)
        elif key in ("up", "down") and self.steps:
            self.selected = (self.selected + (1 if key == "down" else -1)) % len(self.steps)
            self.render_state()
        elif key in ("enter", "right"):
            if not self.steps or (self.progress.current() is None and not self.read_only):
                self._fire(E.ALL_DONE)
                self._start_report()
            else:
                self._fire(E.OPEN_STEP)
        elif key == "p" and views.promotion_offered(self.plan) and not self.read_only:
            self._promote_newer()
        elif key == "m" and views.master_address_offered(self.plan):
            self._connect_to_master()  # changes nothing: the UI looks at the master instead
        else:
            return self._scroll(key)
        return True

    def _key_step_detail(self, event: events.Key) -> bool:
        key = event.key
        if key in ("escape", "left"):
            self._fire(E.BACK)
        elif key in ("up", "down"):
            self.selected = (self.selected + (1 if key == "down" else -1)) % len(self.steps)
            self._fire(E.OPEN_STEP)
        elif key == "enter":
            if self._can_run_selected():
                self._towards_checks()
            elif not self.read_only:
                current = self.progress.current()
                self.error = (
                    f"Step {self.progress.index_of(current.id) + 1} comes first."
                    if current is not None
                    else "Every step is done."
                )
                self.render_state()
            # read-only: Enter does nothing; there is no path to running a step.
        else:
            return self._scroll(key)
        return True

    def _towards_checks(self) -> None:
        """From a step (or a decision about it) to the next gate: choice, attestation, checks."""
        step = self.step
        if getattr(step, "choice", ()) and step.id not in self.choices and self.state is S.STEP_DETAIL:
            suggested = getattr(step, "target_host", "")
            self.choice_cursor = step.choice.index(suggested) if suggested in step.choice else 0
            self._fire(E.NEED_CHOICE)
            return
        pending = self._pending_attest(step)
        if pending:
            self.attest_host = pending[0]
            self.typed = ""
            self._fire(E.NEED_ATTEST)
            return
        self._fire(E.CHECK)
        self._start_checks(step)

    def _key_choose(self, event: events.Key) -> bool:
        key = event.key
        options = self.step.choice
        if key == "escape":
            self._fire(E.BACK)
        elif key in ("up", "down"):
            self.choice_cursor = (self.choice_cursor + (1 if key == "down" else -1)) % len(options)
            self.render_state()
        elif event.character and event.character.isdigit() and 0 < int(event.character) <= len(options):
            self.choice_cursor = int(event.character) - 1
            self.render_state()
        elif key == "enter":
            self._apply_choice(self.step, options[self.choice_cursor])
            self._towards_checks()
        else:
            return self._scroll(key)
        return True

    def _edit_typed(self, event: events.Key) -> bool:
        """Line editing for a typed host name; True if the key was an edit."""
        if event.key == "backspace":
            self.typed = self.typed[:-1]
        elif event.key == "ctrl+u":
            self.typed = ""
        elif event.is_printable and event.character and len(self.typed) < 64:
            self.typed += event.character
        else:
            return False
        self.error = ""
        self.render_state()
        return True

    def _key_attest(self, event: events.Key) -> bool:
        key = event.key
        if key == "escape":
            self.typed = ""
            self._fire(E.BACK)
        elif key == "enter":
            host = self.attest_host
            if self.typed != host:
                shown = self.typed or "(nothing)"
                self.error = (
                    f"'{shown}' is not '{host}'. Nothing was recorded. Type the name exactly, or Esc to back out."
                )
                self.typed = ""
                self.render_state()
                return True
            try:
                self.runlog.open()  # the attestation is the recovery's first recorded act
                self.executor.attest_fenced(host)
            except Exception as exc:  # noqa: BLE001 - shown to the operator, never swallowed
                self.error = f"Could not record the attestation: {describe_exception(exc)}"
                self.render_state()
                return True
            self.attested.append(host)
            self.typed = ""
            pending = self._pending_attest(self.step)
            if pending:
                self.attest_host = pending[0]
                self._fire(E.NEED_ATTEST)
            else:
                self._fire(E.CHECK)
                self._start_checks(self.step)
        else:
            return self._edit_typed(event)
        return True

    def _key_precheck(self, event: events.Key) -> bool:
        if event.key == "escape":
            self._token += 1  # the checks' answer, when it comes, is stale
            self._fire(E.BACK)
            return True
        return self._scroll(event.key)

    def _key_blocked(self, event: events.Key) -> bool:
        key = event.key
        if key == "escape":
            self._fire(E.BACK)
        elif key in ("r", "R", "enter"):
            self._towards_checks_again()
        else:
            return self._scroll(key)
        return True

    def _towards_checks_again(self) -> None:
        pending = self._pending_attest(self.step)
        if pending:
            self.attest_host = pending[0]
            self.typed = ""
            self._fire(E.NEED_ATTEST)
        else:
            self._fire(E.CHECK)
            self._start_checks(self.step)

    def _key_confirm(self, event: events.Key) -> bool:
        key = event.key
        kind = self._confirm_kind(self.step)
        if key == "escape":
            self.typed = ""
            self._fire(E.BACK)
            return True
        if kind == "typed-host-name":
            if key in ("enter", "f8"):
                target = views.step_target(self.step, self.choices.get(self.step.id, ""))
                if not target or self.typed != target:
                    shown = self.typed or "(nothing)"
                    self.error = (
                        f"'{shown}' does not match '{target}'. Refused: nothing was run. "
                        f"Type the host name exactly (case matters), or Esc."
                    )
                    self.typed = ""
                    self.render_state()
                    return True
                self._run_step()
                return True
            return self._edit_typed(event)
        if kind == "f8":
            if key == "f8":
                self._run_step()
            elif key == "enter":
                self.error = "This step needs F8 to run (Enter is not enough). Esc backs out."
                self.render_state()
            else:
                return self._scroll(key)
            return True
        if key in ("enter", "f8"):
            self._run_step()
            return True
        return self._scroll(key)

    def _key_running(self, event: events.Key) -> bool:
        if event.key == "escape":
            if self.cancel is not None:
                self.cancel.set()
            self._fire(E.CANCEL)
            return True
        if event.key in QUIT_KEYS:
            return False  # quitting stays possible (the audit log keeps the step's trail)
        self._scroll(event.key)
        return True  # nothing else may leave the screen while a step runs (e.g. the app's 1-5)

    def _key_result(self, event: events.Key) -> bool:
        key = event.key
        if key == "escape":
            self._fire(E.BACK)
        elif key in ("r", "R") and self._can_retry():
            self._fire(E.CHECK)
            self._start_checks(self.step)
        elif key == "enter":
            if self._summary_is_next():
                self._fire(E.ALL_DONE)
                self._start_report()
            else:
                # _summary_is_next() is False: a current step is left
                self.selected = self.progress.index_of(cast("Step", self.progress.current()).id)
                self._fire(E.OPEN_STEP)
        else:
            return self._scroll(key)
        return True

    def _key_summary(self, event: events.Key) -> bool:
        key = event.key
        if key == "escape":
            self._fire(E.BACK)
        elif key == "enter":
            nxt = self.progress.current()
            if nxt is not None:
                self.selected = self.progress.index_of(nxt.id)
                self._fire(E.OPEN_STEP)
        else:
            return self._scroll(key)
        return True
