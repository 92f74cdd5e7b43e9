"""Request dispatch in xapi's order (api_server.ml callback1, xapi-semantics.md §7.2).

1. xapi down -> the listeners are closed (connection refused);
2. emergency mode and not in the dot-form emergency list -> the stashed error;
3. slave + unix socket + not whitelisted -> forwarded to the master (waits while
   the master cannot be reached);
4. login rules (in the session handlers);
5. arity -> MESSAGE_PARAMETER_COUNT_MISMATCH;
6. session check -> SESSION_INVALID / HOST_IS_SLAVE (local sessions always pass);
7. the handler.

`Dispatcher` is mixed into XapiHost; it relies on the host's role, emergency
state, sessions and master connection (`master_db`, `wait_for_master`).
xapi_host.py imports this module, so this one never names XapiHost (not even
under TYPE_CHECKING: that would be an import cycle). Dispatcher and CallContext
are generic in the host type instead, as world.World is: XapiHost is
`Dispatcher[XapiHost]`, and xapi_host.CallContext is `CallContext[XapiHost]`.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar, cast

from xentui.sim import tasks
from xentui.sim.errors import ApiError
from xentui.sim.httpd import HttpAnswer, Request
from xentui.sim.methods import Method, MethodTable
from xentui.sim.wire import Reply
from xentui.sim.world import SimulatorStopped, World

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from xentui.sim.clock import SimClock
    from xentui.sim.db import Database

# datamodel.ml emergency_call_list, in the dot form api_server.ml compares against.
EMERGENCY_CALLS = frozenset(
    {
        "pool.emergency_reset_master",
        "pool.emergency_transition_to_master",
        "pool.is_slave",
        "session.slave_local_login",
        "session.slave_local_login_with_password",
        "session.local_logout",
        "host.propose_new_master",
        "host.commit_new_master",
        "host.abort_new_master",
        "host.local_assert_healthy",
        "host.signal_networking_change",
        "host.local_management_reconfigure",
        "host.ha_xapi_healthcheck",
        "host.emergency_ha_disable",
        "host.management_disable",
        "host.get_system_status_capabilities",
        "host.is_in_emergency_mode",
        "host.shutdown_agent",
        "host.emergency_reset_server_certificate",
        "host.emergency_disable_tls_verification",
        "host.emergency_reenable_tls_verification",
        "host.emergency_clear_mandatory_guidance",
        # (HEAD also lists host.update_firewalld_service_status: published in 25.34.0, newer
        # than the xapi 24.19 the simulator reports, so it does not exist here)
    }
)
# Datamodel.whitelist: what a slave serves itself when it arrives on the unix socket.
WHITELIST = EMERGENCY_CALLS | {"session.login_with_password", "session.slave_login"}
NULL_REF = "OpaqueRef:NULL"
# Calls whose trailing parameters have defaults (wire name -> minimum count).
OPTIONAL_PARAMS = {"session.login_with_password": 2, "host.emergency_ha_disable": 0}
# Calls that may block for a long time inside the database; they run without the World lock.
UNLOCKED_CALLS = frozenset({"event.from", "event.next"})
# Handlers that open the master connection themselves (they must work in part without it).
SELF_CONNECTING_CALLS = frozenset(
    {"session.login_with_password", "session.slave_login", "session.logout", "session.get_this_host"}
)


class XapiStopped(Exception):
    """The xapi process that was serving a call stopped (restart, power off)."""


class ClientGone(Exception):
    """The client closed its connection while its call was blocked (e.g. it timed out
    waiting for a call forwarded to an unreachable master): stop waiting."""


class RaisedFailure(Exception):
    """An error xapi raises *outside* Server.dispatch_call's exception wrapper
    (api_server.ml callback1's emergency-mode check, gen_server.ml's UTF-8 check).
    On XML-RPC it looks like any failure; on /jsonrpc it is answered by
    jsoncallback's handler: always JSON-RPC 2.0 shaped, error = [code, params...],
    id 0, whatever the request's version and id."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.code)
        self.error = error


# The request being served by this connection thread (for ClientGone checks).
_current = threading.local()


def client_gone() -> bool:
    """True when the client of the call running in this thread has disconnected."""
    request = getattr(_current, "request", None)
    return request is not None and request.is_closed()


def _invalid_utf8(value: Any) -> bool:
    # Strings decoded from invalid UTF-8 carry lone surrogates (surrogateescape /
    # a lone \uDCxx JSON escape).
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_invalid_utf8(k) or _invalid_utf8(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_invalid_utf8(v) for v in value)
    return False


def _rpc_to_string(value: Any) -> str:
    """Rpc.to_string of one parameter (for the INVALID_VALUE error text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "B(%s)" % ("true" if value else "false")
    if isinstance(value, int):
        return "I(%d)" % value
    if isinstance(value, float):
        return "F(%s)" % value
    if isinstance(value, dict):
        return "D(%s)" % ",".join("%s:%s" % (k, _rpc_to_string(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[%s]" % ",".join(_rpc_to_string(v) for v in value)
    return "N" if value is None else str(value)


class DelayedFailure(Exception):
    """Fail only after a delay (xapi's thread_delay_and_raise_error), served without the lock."""

    def __init__(self, error: ApiError, sim_delay: float) -> None:
        super().__init__(error.code)
        self.error = error
        self.sim_delay = sim_delay


@dataclass
class RawValue:
    """A reply sent without the Status envelope (system.listMethods)."""

    value: Any


@dataclass
class SessionInfo:
    ref: str
    uname: str
    local: bool  # a slave-local session (Xapi_local_session), valid only on its host
    pool: bool  # a pool-secret login (host-to-host)
    host: str  # the host that created it


# The host's xapi process type: xapi_host.XapiHost, a Dispatcher of itself.
HostT = TypeVar("HostT", bound="Dispatcher[Any]")


@dataclass
class CallContext(Generic[HostT]):
    """What a handler gets: the database the call runs against and who answers it."""

    db: Optional["Database"]  # the master's database; None for local calls on a slave
    host: str  # name of the host whose xapi answers the call
    proc: HostT
    master: Optional[HostT]  # the master whose database `db` is
    session: Optional[SessionInfo]
    transport: str
    world: World[HostT]
    incarnation: int = 0

    @classmethod
    def on_master(cls, master: HostT, transport: str) -> "CallContext[HostT]":
        """A call the master makes on itself, outside any session (scenario set-up,
        or a handler acting on another pool's coordinator)."""
        return cls(
            db=master.db,
            host=master.name,
            proc=master,
            master=master,
            session=None,
            transport=transport,
            world=master.world,
        )

    def need_db(self) -> "Database":
        if self.db is None:
            raise ApiError("INTERNAL_ERROR", "no database connection")
        return self.db

    @property
    def database(self) -> "Database":
        """`db` typed for the code that uses it as present (calls that only run against the
        master's database). Without one it raises what using `db` raised at that place before
        this accessor: an AttributeError on None, which dispatch answers as INTERNAL_ERROR.
        `need_db` is the deliberate refusal."""
        if self.db is None:
            raise AttributeError("'NoneType' object has no attribute 'database'")
        return self.db

    @property
    def master_proc(self) -> HostT:
        """`master` typed for the code that uses it as present, the same way as `database`."""
        if self.master is None:
            raise AttributeError("'NoneType' object has no attribute 'master_proc'")
        return self.master


class Dispatcher(Generic[HostT]):
    """The request-handling half of a host's xapi (mixed into XapiHost, which is its
    own HostT: `self` is then the HostT the handlers get as `ctx.proc`)."""

    if TYPE_CHECKING:  # pragma: no cover
        # The other half's members this one uses (xapi_host.XapiHost sets or defines them).
        name: str
        world: World[HostT]
        up: bool
        incarnation: int
        db: Optional[Database]
        master_address: str
        emergency: bool
        emergency_error: ApiError
        local_sessions: Dict[str, SessionInfo]
        note: Callable[[str], None]
        wait_for_master: Callable[[int], HostT]
        master_db: Callable[[int], Tuple[HostT, Database]]
        host_ref_in: Callable[[Database], Optional[str]]
        # A plain GET (httpd.GET_PATHS): answered by http_get, which reads the whole host.
        serve_http: Callable[[str, List[Any], str], HttpAnswer]

        @property
        def is_master(self) -> bool:
            raise NotImplementedError

        @property
        def clock(self) -> SimClock:
            raise NotImplementedError

    def handle(self, request: Request) -> Reply:
        """The HostListeners handler."""
        _current.request = request
        try:
            if request.protocol == "http":  # a plain GET handler (httpd.GET_PATHS), not an RPC
                if not self.up:
                    raise XapiStopped()
                value = RawValue(
                    self.serve_http(request.method[len("GET ") :], list(request.params), request.transport)
                )
            else:
                value = self.call(request.method, list(request.params), request.transport)
        except RaisedFailure as raised:
            return Reply(error=raised.error, raised=True)
        except ApiError as error:
            return Reply(error=error)
        except ClientGone:
            return Reply(error=ApiError("INTERNAL_ERROR", "client disconnected"))
        except DelayedFailure as delayed:
            self.clock.sleep(delayed.sim_delay)
            return Reply(error=delayed.error)
        except (XapiStopped, SimulatorStopped):
            return Reply(error=ApiError("INTERNAL_ERROR", "xapi is shutting down"))
        except Exception as exc:  # a handler bug must not kill the connection thread
            self.note(f"handler error in {request.method}: {exc!r}")
            return Reply(error=ApiError("INTERNAL_ERROR", repr(exc)))
        finally:
            _current.request = None
        if isinstance(value, RawValue):
            return Reply(value=value.value, raw=True)
        return Reply(value=value)

    def call(self, name: str, params: List[Any], transport: str) -> Any:
        with self.world.lock:
            if not self.up:
                raise XapiStopped()
            method, ctx, args = self._prepare(name, params, transport, self.incarnation)
            if method is None:
                return ctx  # a value prepared already (listMethods)
            if method.name not in UNLOCKED_CALLS:
                return method.handler(ctx, *args)
        return method.handler(ctx, *args)

    def _prepare(
        self, name: str, params: List[Any], transport: str, incarnation: int
    ) -> Tuple[Optional[Method], Any, Sequence[Any]]:
        master: Optional[HostT]
        methods = cast(MethodTable, self.world.methods)  # set by the runner before any host starts
        # 1. emergency mode: everything outside the (dot-form) emergency list gets the stashed
        # error, raised by callback1 itself (outside dispatch_call)
        if self.emergency and name not in EMERGENCY_CALLS:
            raise RaisedFailure(self.emergency_error)
        # 2. a slave forwards unix-socket calls that are not whitelisted to its master
        if not self.is_master and transport == "unix" and name not in WHITELIST:
            master = self.wait_for_master(incarnation)
            return master._prepare(name, params, "tcp", master.incarnation)
        # gen_server.ml dispatch_call: every parameter must be valid UTF-8 (before the lookup)
        for param in params:
            if _invalid_utf8(param):
                raise RaisedFailure(
                    ApiError("INVALID_VALUE", "Invalid UTF-8 string in parameter", _rpc_to_string(param))
                )
        if name == "system.listMethods":
            return None, RawValue(methods.names()), ()
        asynchronous = name.startswith("Async.")
        method = methods.lookup(name[len("Async.") :] if asynchronous else name)
        if asynchronous and method is not None and method.name not in tasks.ASYNC_CALLS:
            method = None  # gen_server.ml knows Async.<call> only for calls flagged `Async
        if method is None:
            # gen_server.ml's fallthrough: "system.isAlive:..." echoes its first parameter;
            # otherwise a call with parameters is treated as Host.call_extension: the first
            # parameter goes through Session_check (SESSION_INVALID / HOST_IS_SLAVE), then
            # Xapi_extensions.find_extension answers MESSAGE_METHOD_UNKNOWN [name].
            if name.startswith("system.isAlive:") and params:
                return None, params[0], ()
            if params and isinstance(params[0], str):
                self.check_session(params[0], transport, incarnation)
            raise ApiError("MESSAGE_METHOD_UNKNOWN", name)
        # 3./4. arity (before the session check, as gen_server.ml does): the error names the
        # call as sent (dot or underscore form), `expected` counts the parameters without
        # default values, `received` is len(params) - 1 for calls with a session (so -1
        # when even the session is missing)
        given = len(params) - (1 if method.takes_session else 0)
        expected = len(method.params)
        minimum = OPTIONAL_PARAMS.get(method.name, expected)
        if given < minimum or given > expected:
            raise ApiError("MESSAGE_PARAMETER_COUNT_MISMATCH", name, str(minimum), str(given))
        session: Optional[SessionInfo] = None
        args = list(params)
        if method.takes_session:
            session = self.check_session(params[0], transport, incarnation)
            args = args[1:]
        # Local calls never touch the master's database; the rest run against it.
        local = method.name in EMERGENCY_CALLS or method.name in SELF_CONNECTING_CALLS
        proc = cast(HostT, self)  # XapiHost is Dispatcher[XapiHost]
        if local:
            db = self.db if self.is_master else None
            master = proc if self.is_master else None
        else:
            master, db = self.master_db(incarnation)
        ctx = CallContext(
            db=db,
            host=self.name,
            proc=proc,
            master=master,
            session=session,
            transport=transport,
            world=self.world,
            incarnation=incarnation,
        )
        if asynchronous:
            method = self._as_task(method)
        return method, ctx, args

    def _as_task(self, inner: Method) -> Method:
        """Async.<call>: reply with a task at once, run the call in the background (tasks.py)."""

        def launch(ctx: CallContext[HostT], *args: Any) -> str:
            db = ctx.need_db()
            proc = ctx.master or ctx.proc
            task = tasks.create_task(db, "Async." + inner.name, proc.host_ref_in(db) or NULL_REF, self.clock.now())
            tasks.start(self.world, db, task, lambda: inner.handler(ctx, *args), _task_error)
            return task

        return Method(name="Async." + inner.name, params=inner.params, takes_session=True, handler=launch)

    def check_session(self, ref: Any, transport: str, incarnation: int) -> SessionInfo:
        ref = str(ref)
        local = self.local_sessions.get(ref)
        if local is not None:
            return local
        if self.is_master:
            if self.db is None or not self.db.exists("session", ref):
                raise ApiError("SESSION_INVALID", ref)
            return self._session_info(self.db, ref)
        master, db = self.master_db(incarnation)
        if not db.exists("session", ref):
            raise ApiError("SESSION_INVALID", ref)
        info = self._session_info(db, ref)
        if transport == "tcp" and not info.pool:
            # "If the session isn't a pool login, and we're a supporter, fail": session_check.ml
            # answers with the *database's* idea of the master (Pool.get_master -> Host.address)
            raise ApiError("HOST_IS_SLAVE", _db_master_address(db) or self.master_address)
        return info

    def _session_info(self, db: "Database", ref: str) -> SessionInfo:
        record = db.get_record("session", ref)
        return SessionInfo(
            ref=ref,
            uname=str(record.get("auth_user_name") or "root"),
            local=False,
            pool=bool(record.get("pool")),
            host=self.name,
        )

    # --- sessions -------------------------------------------------------------

    def create_db_session(self, db: "Database", uname: str, pool: bool, originator: str, this_host: str) -> str:
        ref = "OpaqueRef:" + str(uuidlib.uuid4())
        db.create(
            "session",
            ref=ref,
            this_host=this_host,
            pool=pool,
            originator=originator,
            is_local_superuser=True,
            auth_user_name=uname,
            last_active=_dt(self.clock.now()),
            validation_time=_dt(self.clock.now()),
        )
        return ref

    def create_local_session(self, uname: str, pool: bool) -> str:
        ref = "OpaqueRef:" + str(uuidlib.uuid4())
        self.local_sessions[ref] = SessionInfo(ref=ref, uname=uname, local=True, pool=pool, host=self.name)
        return ref

    def check_password(self, uname: str, pwd: str) -> bool:
        return uname == "root" and pwd == self.world.root_password


def _task_error(exc: BaseException) -> ApiError:
    """What a task records for a failure raised outside ApiError."""
    if isinstance(exc, (RaisedFailure, DelayedFailure)):
        return exc.error
    if isinstance(exc, (XapiStopped, SimulatorStopped)):
        return ApiError("INTERNAL_ERROR", "xapi is shutting down")
    return ApiError("INTERNAL_ERROR", repr(exc))


def _db_master_address(db: "Database") -> str:
    pools = db.refs("pool")
    if not pools:
        return ""
    master = db.get_field("pool", pools[0], "master")
    return str(db.get_field("host", master, "address")) if db.exists("host", master) else ""


def _dt(sim_time: float) -> datetime:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(sim_time), tz=timezone.utc)
