"""session.*: the login rules of xapi-semantics.md §1.5."""

from __future__ import annotations

from typing import Any

from xentui.sim.dispatch import DelayedFailure
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import make
from xentui.sim.xapi_host import CallContext, XapiHost


def _auth_failed(uname: str) -> ApiError:
    return ApiError("SESSION_AUTHENTICATION_FAILED", uname, "Authentication failure")


def login_with_password(ctx: CallContext, uname: Any, pwd: Any, version: Any = "1.1", originator: Any = "") -> str:
    proc = ctx.proc
    if ctx.transport == "tcp":
        if not proc.is_master:
            # xapi_session.ml: a slave refuses at once, without touching the database
            raise ApiError("HOST_IS_SLAVE", proc.master_address)
        if not proc.check_password(str(uname), str(pwd)):
            # xapi_session.ml: without external auth, do_local_auth's Server_error escapes the
            # `with Failure` that would call thread_delay_and_raise_error, so only PAM's own
            # fail delay applies. xapi's 5 s delay only applies with external authentication.
            t = proc.world.timings
            if _external_auth_type(proc):
                raise DelayedFailure(_auth_failed(str(uname)), t.pam_fail_delay + t.login_failure_delay)
            raise DelayedFailure(_auth_failed(str(uname)), t.pam_fail_delay)
    # the unix socket is pre-authenticated root: any credentials succeed
    master, db = proc.master_db(ctx.incarnation)
    this_host = master.host_ref_in(db) if proc.is_master else proc.host_ref_in(db)
    return proc.create_db_session(db, str(uname), False, str(originator), this_host or "OpaqueRef:NULL")


def _external_auth_type(proc: XapiHost) -> str:
    db = proc.db
    if db is None:
        return ""
    me = proc.host_ref_in(db)
    return str(db.get_field("host", me, "external_auth_type") or "") if me is not None else ""


def _pool_credentials_invalid(host_str: str) -> ApiError:
    # xapi_session.ml slave_login_common: no delay
    return ApiError("SESSION_AUTHENTICATION_FAILED", host_str, "Pool credentials invalid")


def slave_login(ctx: CallContext, host: Any, psecret: Any) -> str:
    proc = ctx.proc
    if str(psecret) != proc.world.pool_secret:
        raise _pool_credentials_invalid(str(host))
    master, db = proc.master_db(ctx.incarnation)
    return proc.create_db_session(db, "pool", True, "", str(host))


def slave_local_login_with_password(ctx: CallContext, uname: Any, pwd: Any) -> str:
    proc = ctx.proc
    # CP696: only the LOCAL superuser (PAM, with PAM's fail delay); skipped on the unix socket
    if ctx.transport != "unix" and not proc.check_password(str(uname), str(pwd)):
        raise DelayedFailure(_auth_failed(str(uname)), proc.world.timings.pam_fail_delay)
    return proc.create_local_session(str(uname), pool=False)


def slave_local_login(ctx: CallContext, psecret: Any) -> str:
    proc = ctx.proc
    if str(psecret) != proc.world.pool_secret:
        raise _pool_credentials_invalid("localhost")
    return proc.create_local_session("pool", pool=True)


def local_logout(ctx: CallContext) -> str:
    if ctx.session is not None:
        ctx.proc.local_sessions.pop(ctx.session.ref, None)
    return ""


def logout(ctx: CallContext) -> str:
    session = ctx.session
    if session is None:
        return ""
    if session.local:
        ctx.proc.local_sessions.pop(session.ref, None)
        return ""
    master, db = ctx.proc.master_db(ctx.incarnation)
    if db.exists("session", session.ref):
        db.destroy("session", session.ref)
    return ""


def get_this_host(ctx: CallContext, self_ref: Any) -> Any:
    proc = ctx.proc
    if ctx.session is not None and ctx.session.local:
        if proc.is_master and proc.db is not None:
            return proc.host_ref_in(proc.db) or "OpaqueRef:NULL"
        master, db = proc.master_db(ctx.incarnation)
        return proc.host_ref_in(db) or "OpaqueRef:NULL"
    master, db = proc.master_db(ctx.incarnation)
    if not db.exists("session", str(self_ref)):
        raise ApiError("HANDLE_INVALID", "session", str(self_ref))
    return db.get_field("session", str(self_ref), "this_host")


METHODS = [
    make(
        "session.login_with_password",
        ("uname", "pwd", "version", "originator"),
        login_with_password,
        takes_session=False,
    ),
    make("session.slave_login", ("host", "psecret"), slave_login, takes_session=False),
    make(
        "session.slave_local_login_with_password",
        ("uname", "pwd"),
        slave_local_login_with_password,
        takes_session=False,
    ),
    make("session.slave_local_login", ("psecret",), slave_local_login, takes_session=False),
    make("session.local_logout", (), local_logout),
    make("session.logout", (), logout),
    make("session.get_this_host", ("self",), get_this_host),
]
