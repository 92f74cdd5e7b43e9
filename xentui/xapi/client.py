"""A thread-safe xapi client: the login strategy, calls, reconnection.

`XapiClient` wraps the real XenAPI SDK (`XenAPI.Session`). Design points:

* **Login strategy** (xapi-semantics.md §1.3-1.5). A pre-authenticated
  endpoint (the unix socket, or SSH streamlocal to it, where xapi treats us as
  root) logs in with `login_with_password` and any credentials, like
  xsconsole. Elsewhere we use `login_with_password` with the real password.
  If that answers with an emergency-mode error (HOST_STILL_BOOTING, ...) we
  fall back to `slave_local_login_with_password` (called on the Session
  itself, see §4.4) and remember the stored reason. On HOST_IS_SLAVE we
  remember the master's address, log in slave-locally so this host stays
  usable, and `follow_master()` reconnects to the master. On a
  pre-authenticated socket of a member whose master hangs, the normal login
  hangs too (it writes a session into the master's database): after
  `call_timeout` we try the slave-local login, which never leaves the host,
  and flag `master_unresponsive`.
* **One session, many connections.** The session ref is shared; every thread
  gets its own `XenAPI.Session` (own transport and HTTP connection) via
  `threading.local`, one per call timeout, so a blocked call in one thread
  never blocks another. SESSION_INVALID (xapi restarted) is handled here,
  not by the SDK's per-Session re-login, so that all threads share one new
  session instead of each logging in on its own.
* **Bounded time.** Every call has a timeout enforced by the endpoint's
  transport. A hung master raises `CallTimeout` (it accepted and never
  answered) which is never retried; a restarting xapi raises
  `ConnectionRefused`, which `call(..., recover_within=s)` retries with capped
  exponential backoff, logging in again when needed.

Passwords are kept in memory for re-login only and are never logged or
included in any message.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import socket
import threading
import time
import xml.parsers.expat
import xmlrpc.client
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import XenAPI

from xentui.xapi import jsonrpc
from xentui.xapi.endpoint import close_quietly
from xentui.xapi.error_table import EMERGENCY_CODES
from xentui.xapi.errors import (
    AuthenticationFailed,
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    MalformedReply,
    XapiError,
    XapiFailure,
)
from xentui.xapi.safe_text import one_line
from xentui.xapi.session_info import ConnectionInfo, SessionKind

log = logging.getLogger(__name__)

ORIGINATOR = "xentui"
API_VERSION = "1.1"

LOGIN_WITH_PASSWORD = "login_with_password"
SLAVE_LOCAL_LOGIN = "slave_local_login_with_password"

# Method names (last component) that only read, so they are safe to repeat
# after a connection died mid-call. Anything else may have taken effect.
_READ_ONLY_METHODS = frozenset(
    {
        "event.from",
        "event_from",
        "host.is_in_emergency_mode",
        "host.local_assert_healthy",
        "pool.is_slave",
        "session.get_this_host",
    }
)

# Big reads sent through JSON-RPC when the endpoint serves /jsonrpc: its C
# JSON decoder is several times faster than xmlrpc.client on a 64-host pool.
_JSONRPC_METHODS = frozenset({"event.from", "VM.get_all_records"})
JsonRpcUnavailable = jsonrpc.JsonRpcUnavailable

# ConnectFailed reasons that retrying cannot fix.
_PERMANENT_CONNECT_REASONS = frozenset({"auth", "hostkey-unknown", "hostkey-changed", "tls", "dns", "closed"})

# At most this many cached sessions (one per distinct timeout) per thread.
_MAX_SESSIONS_PER_THREAD = 4


def is_opaque_ref(value: Any) -> bool:
    """Does `value` look like a xapi reference ("OpaqueRef:...")?"""
    return isinstance(value, str) and value.startswith("OpaqueRef:") and len(value) < 200


def expect_bool(value: Any, method: str, where: str = "") -> bool:
    """`value` if it is the bool xapi's API says `method` returns, else
    MalformedReply: never coerce a peer's nonsense into an answer (a "yes"
    must not become an emergency with an invented reason)."""
    if isinstance(value, bool):
        return value
    raise MalformedReply(f"{where or 'xapi'}: {method} answered {one_line(repr(value), 60)}, not a boolean")


def is_read_only(method: str) -> bool:
    if method in _READ_ONLY_METHODS:
        return True
    last = method.rsplit(".", 1)[-1]
    return last.startswith("get_")


class _SessionInvalid(Exception):
    """Internal: xapi said SESSION_INVALID for the ref we sent."""


@dataclass(frozen=True)
class _Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password, even in tracebacks
        return f"_Credentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True)
class _Login:
    """The outcome of one run of the login strategy."""

    ref: str
    method: str  # LOGIN_WITH_PASSWORD or SLAVE_LOCAL_LOGIN
    kind: SessionKind
    in_emergency: Optional[bool]  # None: could not ask
    emergency_reason: Optional[Tuple[str, Tuple[str, ...]]]
    master_address: str
    detail: str
    # login_with_password hung on a pre-authenticated socket while the
    # slave-local login answered: this host is fine, its master is not.
    master_unresponsive: bool = False


class _ThreadSession:
    """One thread's XenAPI.Session with its own transport."""

    def __init__(self, session: "XenAPI.Session", transport: Any, timeout: float, generation: int) -> None:
        self.session = session
        self.transport = transport
        self.timeout = timeout
        self.generation = generation  # the endpoint generation it was built for
        self.ref_used = ""  # the session ref sent with the latest call

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if close is not None:
            try:
                close()
            except (OSError, XapiError, http.client.HTTPException):
                pass


def translate_exception(exc: BaseException, method: str, timeout: float, where: str) -> BaseException:
    """Map SDK / socket / HTTP errors onto the classes of xentui.xapi.errors.

    The endpoint's transport already raises our classes; this covers what
    can still leak out of the SDK or the standard library."""
    if isinstance(exc, XapiError):
        return exc
    if isinstance(exc, XenAPI.Failure):
        details = exc.details if isinstance(exc.details, (list, tuple)) else [str(exc.details)]
        if not details or not all(isinstance(d, str) for d in details):
            # xapi's ErrorDescription is always a non-empty list of strings.
            return MalformedReply(
                f"{where or 'xapi'}: {method}: a failure without a readable "
                f"ErrorDescription ({one_line(repr(exc.details), 120)})"
            )
        return XapiFailure(details)
    if isinstance(exc, xmlrpc.client.Fault):
        if exc.faultCode == 401:
            return _SessionInvalid()
        if exc.faultCode == 504:
            return CallTimeout(method, timeout, where)
        if "valid session" in str(exc.faultString):
            return XapiFailure(["SESSION_INVALID"])
        return MalformedReply(f"{where or 'xapi'}: {method}: {one_line(exc.faultString, 160)}")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return CallTimeout(method, timeout, where)
    if isinstance(exc, (ConnectionRefusedError, FileNotFoundError)):
        return ConnectionRefused(f"{where or 'xapi'}: connection refused")
    if isinstance(
        exc,
        (
            ConnectionResetError,
            BrokenPipeError,
            ConnectionAbortedError,
            http.client.RemoteDisconnected,
            http.client.IncompleteRead,
            EOFError,
        ),
    ):
        return ConnectionLost(f"{where or 'xapi'}: connection lost during {method}")
    if isinstance(exc, xmlrpc.client.ProtocolError):
        return MalformedReply(f"{where or 'xapi'}: {method}: HTTP {exc.errcode} {one_line(exc.errmsg, 80)}")
    if isinstance(
        exc, (xml.parsers.expat.ExpatError, http.client.HTTPException, TypeError, ValueError, KeyError, IndexError)
    ):
        # What the SDK raises on a reply of the wrong shape (no Status, an
        # empty ErrorDescription, a string where the envelope belongs).
        return MalformedReply(f"{where or 'xapi'}: {method}: a reply of the wrong shape ({type(exc).__name__})")
    if isinstance(exc, OSError):
        return ConnectFailed("unreachable", f"{where or 'xapi'}: {exc.strerror or exc}")
    return exc


def call_outcome(exc: Optional[BaseException]) -> str:
    """One word for the log: ok / failure CODE / timeout / refused / lost /
    a ConnectFailed reason / the exception class. Only the error code of a
    failure is kept: its params (and the call's arguments) may carry secrets."""
    if exc is None:
        return "ok"
    if isinstance(exc, _SessionInvalid):
        return "failure SESSION_INVALID"
    if isinstance(exc, XapiFailure):
        return f"failure {exc.code}"
    if isinstance(exc, CallTimeout):
        return "timeout"
    if isinstance(exc, ConnectionRefused):
        return "refused"
    if isinstance(exc, ConnectionLost):
        return "lost"
    if isinstance(exc, ConnectFailed):
        return exc.reason
    return type(exc).__name__


def _log_call(method: str, started: float, exc: Optional[BaseException]) -> None:
    """One DEBUG record per xapi call: the method name, how long, the outcome.
    Never the arguments (a login carries the password) nor the session ref."""
    if log.isEnabledFor(logging.DEBUG):
        log.debug("call %s %.3f s %s", method, time.monotonic() - started, call_outcome(exc))


class XapiClient:
    """A logged-in connection to one host's xapi. Safe to use from many threads.

    `call_timeout` bounds every call (and the login); `backoff_initial` and
    `backoff_cap` shape the retries of `call(..., recover_within=...)` and
    `reconnect()`.
    """

    def __init__(
        self,
        *,
        call_timeout: float = 10.0,
        backoff_initial: float = 0.1,
        backoff_cap: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        prefer_jsonrpc: bool = True,
        slave_local_fallback: bool = True,
    ) -> None:
        self.call_timeout = float(call_timeout)
        # False: a member's HOST_IS_SLAVE is raised (master_address set) instead
        # of logging in locally; for asking a peer its role, it says all in one
        # request (in emergency mode xapi refuses login_with_password with the
        # emergency error instead: api_server.ml callback1).
        self.slave_local_fallback = bool(slave_local_fallback)
        # The big reads (_JSONRPC_METHODS) go through /jsonrpc unless the
        # endpoint said it has none (then XML-RPC, for this endpoint).
        self.prefer_jsonrpc = bool(prefer_jsonrpc)
        self._jsonrpc_refused_by: Any = None
        self.jsonrpc_calls = 0
        self.backoff_initial = float(backoff_initial)
        self.backoff_cap = float(backoff_cap)
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._login_lock = threading.RLock()  # one login (or endpoint reconnect) at a time
        self._closing = threading.Event()
        self._local = threading.local()
        self._all_sessions: List[_ThreadSession] = []
        self._call_counter = itertools.count(1)
        self._calls = 0
        self._logins = 0
        self._endpoint: Any = None
        self._owns_endpoint = False
        self._creds: Optional[_Credentials] = None
        self._login: Optional[_Login] = None
        # Bumps whenever existing transports must not be reused (new
        # endpoint, endpoint reconnected, client closed).
        self._generation = 0
        self._master_address = ""
        self._state = "connecting"
        self._detail = ""
        self._needs_endpoint_reconnect = False
        self._label = ""
        self._target_text = ""

    # -- public state ----------------------------------------------------------

    @property
    def endpoint(self) -> Any:
        return self._endpoint

    @property
    def session_kind(self) -> SessionKind:
        login = self._login
        return SessionKind.NONE if login is None else login.kind

    @property
    def emergency_reason(self) -> Optional[Tuple[str, Tuple[str, ...]]]:
        """(code, params) of the stored emergency error, when xapi told us."""
        login = self._login
        return None if login is None else login.emergency_reason

    @property
    def in_emergency(self) -> Optional[bool]:
        login = self._login
        return None if login is None else login.in_emergency

    @property
    def master_unresponsive(self) -> bool:
        """True when the normal login hung but a local one answered: calls
        that need the pool database will time out too."""
        login = self._login
        return False if login is None else login.master_unresponsive

    @property
    def master_address(self) -> str:
        """The master's address from HOST_IS_SLAVE ("" when not told)."""
        return self._master_address

    @property
    def session_ref(self) -> str:
        login = self._login
        return "" if login is None else login.ref

    @property
    def calls(self) -> int:
        """Number of xapi requests sent (logins included)."""
        return self._calls

    @property
    def logins(self) -> int:
        return self._logins

    def connection_info(self) -> ConnectionInfo:
        endpoint = self._endpoint
        login = self._login
        kind = SessionKind.NONE if login is None else login.kind
        transport = getattr(endpoint, "transport_name", "") or ""
        label = self._label or getattr(endpoint, "description", "") or transport
        target_text = self._target_text or getattr(endpoint, "address", "") or getattr(endpoint, "uri", "")
        return ConnectionInfo(
            transport=transport,
            label=label,
            target=target_text,
            session_kind=kind,
            state=self._state,
            detail=self._detail,
            master_address=self._master_address,
            demo=bool(getattr(endpoint, "demo", False)),
            limits=kind.limits,
        )

    # -- connecting ------------------------------------------------------------

    def connect(
        self,
        endpoint: Any,
        *,
        username: str = "root",
        password: Optional[str] = None,
        call_timeout: Optional[float] = None,
        label: Optional[str] = None,
        target_text: Optional[str] = None,
    ) -> ConnectionInfo:
        """Log in to `endpoint` with the login strategy (module docstring).

        `label` / `target_text` only feed `connection_info()` (e.g. the
        Target's label "ssh root@host" and what the user typed).

        Raises AuthenticationFailed, CallTimeout, ConnectionRefused,
        ConnectFailed, XapiFailure (e.g. HOST_IS_SLAVE when the slave-local
        fallback is refused; `master_address` is set then)."""
        if call_timeout is not None:
            self.call_timeout = float(call_timeout)
        creds = _Credentials(username or "root", "" if password is None else password)
        if self._login is not None and self._endpoint is not None:
            self._logout(self._endpoint, self._login)  # connecting again: don't leak the old session
        with self._lock:
            self._endpoint = endpoint
            self._creds = creds
            if label is not None:
                self._label = label
            if target_text is not None:
                self._target_text = target_text
            self._state = "connecting"
            self._master_address = ""
            self._closing.clear()
            self._drop_all_sessions()
        try:
            login = self._run_login_strategy(endpoint, creds, self.call_timeout)
        except BaseException as exc:
            self._state = connection_state_for(exc)
            raise
        self._install_login(login)
        return self.connection_info()

    def follow_master(self, *, password: Optional[str] = None) -> ConnectionInfo:
        """Reconnect to the master xapi named by HOST_IS_SLAVE.

        Connects first and only then drops the current session, so a failure
        leaves the client as it was."""
        address = self._master_address
        if not address:
            raise XapiFailure(["HOST_IS_SLAVE"])  # nothing to follow
        if self._endpoint is None or self._creds is None:
            raise ConnectFailed("closed", "not connected")
        new_endpoint = self._endpoint.for_address(address)
        creds = self._creds if password is None else _Credentials(self._creds.username, password)
        try:
            login = self._run_login_strategy(new_endpoint, creds, self.call_timeout)
        except BaseException:
            close_quietly(new_endpoint)
            raise
        old_endpoint, old_owned, old_login = self._endpoint, self._owns_endpoint, self._login
        self._logout(old_endpoint, old_login)
        with self._lock:
            self._drop_all_sessions()
            self._endpoint = new_endpoint
            self._owns_endpoint = True
            self._creds = creds
            self._master_address = ""
        if old_owned:
            close_quietly(old_endpoint)
        self._install_login(login)
        return self.connection_info()

    def reconnect(self, *, within: float = 30.0) -> ConnectionInfo:
        """Log in again (after a xapi restart or an SSH drop), retrying refused
        and lost connections with capped exponential backoff for `within` s."""
        self._relogin(self.session_ref, self._monotonic() + within, force=True)
        return self.connection_info()

    def check_emergency(
        self, *, timeout: Optional[float] = None
    ) -> Tuple[Optional[bool], Optional[Tuple[str, Tuple[str, ...]]]]:
        """Ask this host (emergency calls only, never forwarded) whether it is
        in emergency mode and why; updates `emergency_reason`."""
        in_emergency = expect_bool(
            self.call("host.is_in_emergency_mode", timeout=timeout),
            "host.is_in_emergency_mode",
            getattr(self._endpoint, "description", ""),
        )
        reason = None
        if in_emergency:
            try:
                self.call("host.local_assert_healthy", timeout=timeout)
            except XapiFailure as failure:
                reason = (failure.code, failure.params)
        login = self._login
        if login is not None:
            if reason is None and in_emergency:
                reason = login.emergency_reason
            self._login = replace(login, in_emergency=in_emergency, emergency_reason=reason if in_emergency else None)
            self._state = "emergency" if in_emergency else "connected"
        return in_emergency, reason

    # -- calls -------------------------------------------------------------------

    def call(
        self,
        method: str,
        *args: Any,
        timeout: Optional[float] = None,
        recover_within: float = 0.0,
        object_hook: Optional[Callable[[Dict[str, Any]], Any]] = None,
    ) -> Any:
        """Call a xapi method (dot form, e.g. "VM.get_all_records") with the
        session prepended; return the decoded `Value`.

        `timeout` overrides `call_timeout` for this call. `recover_within` is
        how long (seconds) to keep retrying when xapi refuses connections or
        the connection drops (xapi restarting, SSH reconnecting); 0 = fail at
        once. A `CallTimeout` is never retried: the caller must learn that
        the peer hung. Lost connections are retried only for read-only
        methods, since anything else may already have taken effect.
        `object_hook` shapes the decoded structs when the call goes through
        JSON-RPC (see xentui.xapi.jsonrpc); XML-RPC replies come as they are."""
        if self._login is None or self._endpoint is None:
            raise ConnectFailed("closed", "not connected")
        call_timeout = self.call_timeout if timeout is None else float(timeout)
        deadline = self._monotonic() + max(0.0, recover_within)
        backoff = self.backoff_initial
        invalid_sessions = 0
        while True:
            if self._closing.is_set():
                raise ConnectFailed("closed", "client closed")
            try:
                thread_session = self._thread_session(call_timeout)
                return self._invoke(thread_session, method, args, call_timeout, object_hook)
            except _SessionInvalid:
                invalid_sessions += 1
                if invalid_sessions > 3:
                    raise XapiFailure(["SESSION_INVALID", self.session_ref]) from None
                # _relogin retries refused / lost connections itself until
                # the deadline, then raises.
                self._relogin(thread_session.ref_used, deadline, force=False)
            except ConnectionLost as exc:
                # The request may have been delivered: repeat only reads.
                self._needs_endpoint_reconnect = True
                if not is_read_only(method):
                    raise
                backoff = self._backoff_or_raise(exc, deadline, backoff)
            except ConnectFailed as exc:
                # Refused / connect timeout / SSH down: nothing was sent, so
                # any call may be retried. Credentials, host keys, TLS and
                # DNS do not fix themselves: give up at once.
                if exc.reason in _PERMANENT_CONNECT_REASONS:
                    raise
                if exc.reason != "refused":
                    self._needs_endpoint_reconnect = True
                backoff = self._backoff_or_raise(exc, deadline, backoff)

    def call_raw(self, method: str, *args: Any, timeout: Optional[float] = None) -> Any:
        """A call without the session param and without the xapi envelope
        (e.g. "system.listMethods")."""
        call_timeout = self.call_timeout if timeout is None else float(timeout)
        thread_session = self._thread_session(call_timeout)
        where = getattr(self._endpoint, "description", "")
        self._count_call()
        started = time.monotonic()
        try:
            result = getattr(thread_session.session, method)(*args)
        except BaseException as exc:
            translated = translate_exception(exc, method, call_timeout, where)
            _log_call(method, started, translated)
            self._discard(thread_session)
            if translated is exc:
                raise
            raise translated from exc
        _log_call(method, started, None)
        return result

    # -- closing -------------------------------------------------------------------

    def close(self, *, close_endpoint: bool = True, logout: bool = True) -> None:
        """Log out (local_logout for slave-local sessions) and close every
        connection. With `close_endpoint`, also close the endpoint.
        `logout=False` skips the logout call, e.g. after a timeout, when it
        would only wait for the same hung peer again."""
        self._closing.set()
        with self._lock:
            endpoint, login, owned = self._endpoint, self._login, self._owns_endpoint
            self._login = None
            self._state = "closed"
            self._generation += 1
        if endpoint is not None and login is not None and logout:
            self._logout(endpoint, login)
        with self._lock:
            self._drop_all_sessions()
            self._endpoint = None
            self._creds = None
        self._close_all_transports()
        if endpoint is not None and (close_endpoint or owned):
            close_quietly(endpoint)

    def __enter__(self) -> "XapiClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"XapiClient(kind={self.session_kind.value}, state={self._state})"

    # -- internals: login --------------------------------------------------------

    def _new_session(self, endpoint: Any, timeout: float) -> Tuple["XenAPI.Session", Any]:
        transport = endpoint.make_xmlrpc_transport(timeout)
        return XenAPI.Session(endpoint.uri, transport=transport), transport

    def _count_call(self) -> None:
        with self._lock:
            self._calls += 1

    def _run_login_strategy(self, endpoint: Any, creds: _Credentials, timeout: float) -> _Login:
        where = getattr(endpoint, "description", "")
        preauth = bool(getattr(endpoint, "preauthenticated_root", False))
        session, transport = self._new_session(endpoint, timeout)
        try:
            try:
                ref = self._sdk_login(session, LOGIN_WITH_PASSWORD, creds, timeout, where)
                return _Login(
                    ref=ref,
                    method=LOGIN_WITH_PASSWORD,
                    kind=SessionKind.LOCAL_ROOT if preauth else SessionKind.PASSWORD,
                    in_emergency=False,
                    emergency_reason=None,
                    master_address="",
                    detail="",
                )
            except XapiFailure as failure:
                if failure.code == "SESSION_AUTHENTICATION_FAILED":
                    raise AuthenticationFailed(f"xapi rejected the login for user {creds.username}") from None
                if failure.code == "HOST_IS_SLAVE":
                    master = failure.params[0] if failure.params else ""
                    with self._lock:
                        self._master_address = master
                    if not self.slave_local_fallback:
                        raise
                    return self._slave_local_fallback(
                        session, endpoint, creds, timeout, where, reason=None, master=master, original=failure
                    )
                if failure.code in EMERGENCY_CODES:
                    return self._slave_local_fallback(
                        session,
                        endpoint,
                        creds,
                        timeout,
                        where,
                        reason=(failure.code, failure.params),
                        master="",
                        original=failure,
                    )
                raise
            except CallTimeout as timeout_error:
                # On the unix socket a member's login_with_password writes a
                # session into the pool database, i.e. on the master: it hangs
                # when the master hangs (xsconsole just times out here). The
                # slave-local login never leaves this host, so try it: if it
                # answers, this host is alive and its master is not.
                if not preauth or timeout_error.received:
                    # A peer that sent part of a reply and then stalled is not
                    # the hung master (which sends nothing): give up now.
                    raise
                login = self._slave_local_fallback(
                    session,
                    endpoint,
                    creds,
                    timeout,
                    where,
                    reason=None,
                    master="",
                    original=timeout_error,
                )
                return replace(
                    login,
                    master_unresponsive=True,
                    detail=f"login_with_password got no answer within {timeout:g} s (the pool database on "
                    "the master does not answer); using a local session on this host",
                )
        finally:
            _close_transport(transport)

    def _slave_local_fallback(
        self,
        session: "XenAPI.Session",
        endpoint: Any,
        creds: _Credentials,
        timeout: float,
        where: str,
        *,
        reason: Optional[Tuple[str, Tuple[str, ...]]],
        master: str,
        original: BaseException,
    ) -> _Login:
        try:
            ref = self._sdk_login(session, SLAVE_LOCAL_LOGIN, creds, timeout, where)
        except CallTimeout:
            if isinstance(original, CallTimeout):
                raise original from None  # the host itself hangs
            raise
        except XapiFailure as failure:
            if isinstance(original, CallTimeout):
                raise original from None
            if failure.code == "SESSION_AUTHENTICATION_FAILED":
                if master and creds.username != "root":
                    # Local logins are for root only: for anyone else the
                    # useful news is where the master is.
                    raise original from None
                raise AuthenticationFailed(f"xapi rejected the local login for user {creds.username}") from None
            raise
        # Emergency calls answer locally even in emergency mode.
        in_emergency: Optional[bool]
        try:
            in_emergency = expect_bool(
                self._raw_session_call(session, ref, "host.is_in_emergency_mode", timeout, where),
                "host.is_in_emergency_mode",
                where,
            )
        except XapiFailure:
            in_emergency = None
        if in_emergency is False:
            reason = None
        elif reason is None and in_emergency:
            try:
                self._raw_session_call(session, ref, "host.local_assert_healthy", timeout, where)
            except XapiFailure as failure:
                reason = (failure.code, failure.params)
        if master:
            detail = f"this host is a pool member; its master is {master}"
        elif reason is not None:
            detail = f"emergency mode: {reason[0]}"
        else:
            detail = ""
        return _Login(
            ref=ref,
            method=SLAVE_LOCAL_LOGIN,
            kind=SessionKind.SLAVE_LOCAL,
            in_emergency=in_emergency if in_emergency is not None else (True if reason else None),
            emergency_reason=reason,
            master_address=master,
            detail=detail,
        )

    def _sdk_login(
        self, session: "XenAPI.Session", method: str, creds: _Credentials, timeout: float, where: str
    ) -> str:
        self._count_call()
        with self._lock:
            self._logins += 1
        started = time.monotonic()
        try:
            if method == LOGIN_WITH_PASSWORD:
                session.login_with_password(creds.username, creds.password, API_VERSION, ORIGINATOR)
            else:
                # Must go through Session.__getattr__ ("slave_local..."), not
                # .xenapi, which would prepend a None session (§4.4).
                session.slave_local_login_with_password(creds.username, creds.password)
        except BaseException as exc:
            translated = translate_exception(exc, f"session.{method}", timeout, where)
            if isinstance(translated, _SessionInvalid):
                translated = XapiFailure(["SESSION_INVALID"])
            _log_call(f"session.{method}", started, translated)
            if translated is exc:
                raise
            raise translated from None  # `from None`: the SDK frame holds the password
        _log_call(f"session.{method}", started, None)
        ref = session._session
        if not is_opaque_ref(ref):
            # xapi's session refs are always "OpaqueRef:<uuid>": anything else
            # (an int, HTML, a dict) means this is not xapi.
            raise MalformedReply(
                f"{where or 'xapi'}: session.{method} answered "
                f"{one_line(repr(ref), 60)} where a session reference belongs"
            )
        # We handle SESSION_INVALID centrally: keep the SDK from re-logging in
        # per Session (and from holding on to the password).
        session.last_login_method = None
        session.last_login_params = None
        return str(ref)

    def _raw_session_call(self, session: "XenAPI.Session", ref: str, method: str, timeout: float, where: str) -> Any:
        session._session = ref
        self._count_call()
        started = time.monotonic()
        try:
            result = session.xenapi_request(method, ())
        except BaseException as exc:
            translated = translate_exception(exc, method, timeout, where)
            if isinstance(translated, _SessionInvalid):
                translated = XapiFailure(["SESSION_INVALID", ref])
            _log_call(method, started, translated)
            if translated is exc:
                raise
            raise translated from exc
        _log_call(method, started, None)
        return result

    def _install_login(self, login: _Login) -> None:
        with self._lock:
            self._login = login
            self._master_address = login.master_address
            self._state = "emergency" if login.in_emergency else "connected"
            self._detail = login.detail
            self._needs_endpoint_reconnect = False
        log.info(
            "logged in: %s via %s (%s)",
            login.kind.value,
            getattr(self._endpoint, "description", "?"),
            login.detail or "ok",
        )

    def _relogin(self, failed_ref: str, deadline: float, *, force: bool) -> None:
        """Run the login strategy again, unless another thread already
        replaced `failed_ref`. Retries refused/lost connections with backoff
        until `deadline`."""
        backoff = self.backoff_initial
        with self._login_lock:
            with self._lock:
                if not force and self._login is not None and self._login.ref != failed_ref:
                    return  # someone else logged in again meanwhile
                endpoint, creds = self._endpoint, self._creds
            if endpoint is None or creds is None:
                raise ConnectFailed("closed", "client closed")
            while True:
                try:
                    if self._needs_endpoint_reconnect:
                        self._reconnect_endpoint(endpoint)
                    login = self._run_login_strategy(endpoint, creds, self.call_timeout)
                    break
                except ConnectionLost as exc:
                    self._needs_endpoint_reconnect = True
                    backoff = self._backoff_or_raise(exc, deadline, backoff)
                except ConnectFailed as exc:
                    if exc.reason in _PERMANENT_CONNECT_REASONS:
                        raise
                    if exc.reason != "refused":
                        self._needs_endpoint_reconnect = True
                    backoff = self._backoff_or_raise(exc, deadline, backoff)
            self._install_login(login)

    def _reconnect_endpoint(self, endpoint: Any) -> None:
        reconnect = getattr(endpoint, "reconnect", None)
        if reconnect is not None:
            log.info("reconnecting %s", getattr(endpoint, "description", "endpoint"))
            reconnect()
            with self._lock:
                self._drop_all_sessions()
        self._needs_endpoint_reconnect = False

    def _backoff_or_raise(self, exc: BaseException, deadline: float, backoff: float) -> float:
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            raise exc
        delay = min(backoff, remaining)
        log.debug("retrying in %.2f s after %s", delay, type(exc).__name__)
        if self._closing.wait(delay):
            raise ConnectFailed("closed", "client closed")
        if self._needs_endpoint_reconnect and self._endpoint is not None:
            try:
                with self._login_lock:
                    if self._needs_endpoint_reconnect and self._endpoint is not None:
                        self._reconnect_endpoint(self._endpoint)
            except XapiError as reconnect_error:
                log.debug("endpoint reconnect failed: %s", type(reconnect_error).__name__)
        return min(backoff * 2, self.backoff_cap)

    def _logout(self, endpoint: Any, login: Optional[_Login]) -> None:
        if login is None:
            return
        timeout = min(self.call_timeout, 5.0)
        try:
            session, transport = self._new_session(endpoint, timeout)
        except (XapiError, OSError):
            return
        try:
            method = "session.local_logout" if login.method == SLAVE_LOCAL_LOGIN else "session.logout"
            self._count_call()
            getattr(session, method)(login.ref)
        except (
            XapiError,
            XenAPI.Failure,
            xmlrpc.client.Error,
            OSError,
            http.client.HTTPException,
            xml.parsers.expat.ExpatError,
        ) as exc:
            log.debug("logout failed: %s", type(exc).__name__)
        finally:
            _close_transport(transport)

    # -- internals: per-thread sessions -------------------------------------------

    def _thread_session(self, timeout: float) -> _ThreadSession:
        with self._lock:
            login, endpoint, generation = self._login, self._endpoint, self._generation
        if login is None or endpoint is None:
            raise ConnectFailed("closed", "not connected")
        if self._needs_endpoint_reconnect:
            with self._login_lock:
                if self._needs_endpoint_reconnect:
                    self._reconnect_endpoint(endpoint)
        sessions: Dict[float, _ThreadSession] = getattr(self._local, "sessions", None) or {}
        self._local.sessions = sessions
        current = sessions.get(timeout)
        if current is not None and current.generation == generation:
            current.session._session = current.ref_used = login.ref
            return current
        if current is not None:
            self._discard(current)
        if len(sessions) >= _MAX_SESSIONS_PER_THREAD:
            oldest = next(iter(sessions.values()))
            self._discard(oldest)
        session, transport = self._new_session(endpoint, timeout)
        session._session = login.ref
        thread_session = _ThreadSession(session, transport, timeout, generation)
        thread_session.ref_used = login.ref
        with self._lock:
            self._all_sessions.append(thread_session)
        sessions[timeout] = thread_session
        return thread_session

    def _discard(self, thread_session: _ThreadSession) -> None:
        sessions = getattr(self._local, "sessions", None)
        if sessions is not None and sessions.get(thread_session.timeout) is thread_session:
            del sessions[thread_session.timeout]
        with self._lock:
            try:
                self._all_sessions.remove(thread_session)
            except ValueError:
                pass
        thread_session.close()

    def _drop_all_sessions(self) -> None:
        # Called with self._lock held. Each thread notices the generation
        # change and closes its own stale transports on its next call; we do
        # not close them here, as another thread may be in the middle of a
        # call on one. `close()` closes whatever is left.
        self._generation += 1

    def _close_all_transports(self) -> None:
        with self._lock:
            sessions, self._all_sessions = self._all_sessions, []
        for thread_session in sessions:
            thread_session.close()

    def _invoke(
        self,
        thread_session: _ThreadSession,
        method: str,
        args: Sequence[Any],
        timeout: float,
        object_hook: Optional[Callable[[Dict[str, Any]], Any]] = None,
    ) -> Any:
        endpoint = self._endpoint
        if self.prefer_jsonrpc and method in _JSONRPC_METHODS and endpoint is not self._jsonrpc_refused_by:
            try:
                return self._invoke_jsonrpc(endpoint, thread_session.ref_used, method, args, timeout, object_hook)
            except JsonRpcUnavailable as exc:
                log.info("no JSON-RPC at %s (%s): XML-RPC from now on", getattr(endpoint, "description", ""), exc)
                self._jsonrpc_refused_by = endpoint
        where = getattr(self._endpoint, "description", "")
        self._count_call()
        started = time.monotonic()
        try:
            result = thread_session.session.xenapi_request(method, tuple(args))
        except BaseException as exc:
            translated = translate_exception(exc, method, timeout, where)
            _log_call(method, started, translated)
            if not isinstance(translated, (XapiFailure, _SessionInvalid)):
                # The HTTP connection is in an unknown state (a late reply
                # could still arrive): never reuse it.
                self._discard(thread_session)
            if translated is exc:
                raise
            raise translated from (None if isinstance(translated, _SessionInvalid) else exc)
        _log_call(method, started, None)
        return result

    def _invoke_jsonrpc(
        self,
        endpoint: Any,
        ref: str,
        method: str,
        args: Sequence[Any],
        timeout: float,
        object_hook: Optional[Callable[[Dict[str, Any]], Any]],
    ) -> Any:
        self._count_call()
        started = time.monotonic()
        try:
            result = jsonrpc.call(endpoint, method, [ref, *args], timeout=timeout, object_hook=object_hook)
        except XapiFailure as exc:
            _log_call(method, started, exc)
            if exc.code == "SESSION_INVALID":
                raise _SessionInvalid() from None
            raise
        except XapiError as exc:
            _log_call(method, started, exc)
            raise
        _log_call(method, started, None)
        with self._lock:
            self.jsonrpc_calls += 1
        return result


def connect(
    endpoint: Any,
    *,
    username: str = "root",
    password: Optional[str] = None,
    call_timeout: float = 10.0,
    **client_options: Any,
) -> XapiClient:
    """Create a client and log in (see `XapiClient.connect`)."""
    client = XapiClient(call_timeout=call_timeout, **client_options)
    client.connect(endpoint, username=username, password=password)
    return client


def connection_state_for(exc: BaseException) -> str:
    """The ConnectionInfo.state word for an exception that ended a connection or call."""
    if isinstance(exc, CallTimeout):
        return "timed-out"
    if isinstance(exc, MalformedReply):
        return "not-xapi"  # something answered, but not as xapi does
    if isinstance(exc, XapiFailure):
        return "xapi-error"  # xapi answered, with an error (it runs)
    if isinstance(exc, AuthenticationFailed):
        return "auth-failed"
    if isinstance(exc, ConnectFailed):
        return {
            "refused": "refused",
            "hostkey-unknown": "hostkey-unknown",
            "hostkey-changed": "hostkey-changed",
            "timeout": "timed-out",
        }.get(exc.reason, "lost")
    return "lost"


def _close_transport(transport: Any) -> None:
    close = getattr(transport, "close", None)
    if close is not None:
        try:
            close()
        except (OSError, XapiError, http.client.HTTPException):
            pass
