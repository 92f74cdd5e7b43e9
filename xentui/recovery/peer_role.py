"""Which role a peer plays, asked without the password.

For a peer whose TLS certificate this host cannot vouch for (it verifies TLS,
and the certificate is not in its pool bundle: xentui.xapi.pool_tls), the
root password must not be sent: on a hostile management network that is how
it would be stolen.
The role can still be learnt, because xapi answers a login's role questions
before it checks any password (xapi_session.ml login_with_password): a member
raises HOST_IS_SLAVE with its master's address, a host in emergency mode its
stored error. Only a master goes on to check the password, so a refusal of an
empty one says "master"; who it is and which VMs it runs stay unknown.
"""

from __future__ import annotations

from typing import Any, Callable

from xentui.recovery import peers as pv
from xentui.xapi import jsonrpc
from xentui.xapi.client import API_VERSION, ORIGINATOR
from xentui.xapi.error_table import EMERGENCY_CODES
from xentui.xapi.errors import CallTimeout, XapiError, XapiFailure

# A PeerView with name, address and timing filled in: view(reach, **fields).
ViewFactory = Callable[..., pv.PeerView]


def ask_role_without_secrets(
    endpoint: Any, user: str, timeout: float, untrusted: str, view: ViewFactory
) -> pv.PeerView:
    """The peer's role from a login with an empty password over `endpoint`
    (one that checks no certificate). `untrusted`: why its certificate is not
    trusted, carried into the view's detail."""
    why = f"its TLS certificate is not trusted ({untrusted}), so the password was not sent"
    try:
        session = jsonrpc.call(
            endpoint, "session.login_with_password", [user, "", API_VERSION, ORIGINATOR], timeout=timeout
        )
    except XapiFailure as failure:
        params = tuple(failure.params)
        if failure.code == "HOST_IS_SLAVE":
            return view(pv.ANSWERS, role=pv.SLAVE, master_address=params[0] if params else "", detail=why)
        if failure.code == "SESSION_AUTHENTICATION_FAILED":
            return view(
                pv.ANSWERS,
                role=pv.MASTER,
                detail=why + "; it answers as a master (only a master checks passwords), "
                "not logged in: which host it is and which VMs it runs are unknown",
            )
        if failure.code in EMERGENCY_CODES:
            return view(pv.ANSWERS, role=pv.EMERGENCY, reason_code=failure.code, reason_params=params, detail=why)
        return view(pv.ANSWERS, detail=f"{why}; xapi error {failure.code}")
    except CallTimeout:
        return view(pv.HUNG, detail=f"accepted the connection, no answer within {timeout:g} s")
    except (XapiError, OSError) as exc:
        return view(pv.UNREACHABLE, detail=f"{why}; asking its role failed: {exc}")
    # An empty password let us in: end that session at once, believe only the role.
    try:
        jsonrpc.call(endpoint, "session.logout", [session], timeout=timeout)
    except (XapiError, OSError):
        pass
    return view(pv.ANSWERS, role=pv.MASTER, detail=f"{why}; it answers as a master and took an EMPTY root password")
