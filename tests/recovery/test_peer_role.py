"""What each answer to a password-less login says about a peer (peer_role.py)."""

from __future__ import annotations

import pytest

from xentui.recovery import peer_role
from xentui.recovery import peers as pv
from xentui.xapi.errors import CallTimeout, XapiFailure


def ask(monkeypatch, outcome):
    sent = []

    def call(endpoint, method, params, *, timeout):
        sent.append((method, list(params)))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(peer_role.jsonrpc, "call", call)
    view = peer_role.ask_role_without_secrets(
        object(), "root", 2.0, "not in the bundle", lambda reach, **f: pv.PeerView("xen9", "10.0.0.9", reach, **f)
    )
    assert sent[0] == ("session.login_with_password", ["root", "", "1.1", "xentui"])  # never a password
    return view, sent


@pytest.mark.parametrize(
    "outcome, reach, role",
    [
        (XapiFailure(["HOST_IS_SLAVE", "10.0.0.1"]), pv.ANSWERS, pv.SLAVE),
        (XapiFailure(["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]), pv.ANSWERS, pv.MASTER),
        (XapiFailure(["HOST_MASTER_CANNOT_TALK_BACK", "10.0.0.1"]), pv.ANSWERS, pv.EMERGENCY),
        (XapiFailure(["SOMETHING_ELSE"]), pv.ANSWERS, pv.UNKNOWN),
        (CallTimeout("login", 2.0), pv.HUNG, pv.UNKNOWN),
    ],
)
def test_each_answer_names_the_role_it_proves(monkeypatch, outcome, reach, role):
    view, _ = ask(monkeypatch, outcome)
    assert (view.reach, view.role) == (reach, role)
    if role == pv.SLAVE:
        assert view.master_address == "10.0.0.1"
    if role == pv.EMERGENCY:
        assert view.reason_code == "HOST_MASTER_CANNOT_TALK_BACK" and view.reason_params == ("10.0.0.1",)
    if reach == pv.ANSWERS:
        assert "password was not sent" in view.detail


def test_a_session_an_empty_password_opened_is_closed_at_once(monkeypatch):
    view, sent = ask(monkeypatch, "OpaqueRef:s1")
    assert view.role == pv.MASTER and "EMPTY root password" in view.detail
    assert sent[1] == ("session.logout", ["OpaqueRef:s1"])
