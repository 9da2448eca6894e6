"""The service layer: ``PyService``, ``PySessionContext`` and the module functions.

Upstream writes these in Rust; here they are Python over the extension's ``_App``
(``src/app.c``), which makes every call in libslim's non-blocking ``_async`` form
and hands results back as events. One reader per app on the running event loop
(``loop.add_reader`` on the app's descriptor) drains the events and settles the
futures the calls wait on: no thread per call, no polling.

Cancelling an awaitable never loses anything: a message or a session that arrives
for a ``get_message`` or ``listen_for_session`` whose caller went away is kept, in
order, for the next call; a session made for a cancelled ``create_session`` is
deleted; every other operation simply runs to its end unobserved.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import functools
import json
import threading

from . import _slim_bindings as _c
from ._types import (
    PyIdentityProvider,
    PyIdentityVerifier,
    PyKey,
    PyKeyData,
    PyKeyFormat,
    PySessionConfiguration,
    PySessionType,
)

__all__ = [
    "PyService",
    "PySessionContext",
    "connect",
    "create_pyservice",
    "create_session",
    "delete_session",
    "disconnect",
    "get_message",
    "init_tracing",
    "invite",
    "listen_for_session",
    "publish",
    "remove",
    "remove_route",
    "run_server",
    "set_default_session_config",
    "set_route",
    "stop_server",
    "subscribe",
    "unsubscribe",
]

# include/slim/app.h: slim_event_kind
_OP_DONE, _SESSION_CLOSED, _UNDELIVERED, _DROPPED, _CONNECTION, _MESSAGE_LOST, _MEMBER = (
    range(1, 8)
)
# include/slim/status.h
_E_CLOSED = -16
_NO_MATCH = {-700, -703, -704}  # discovery failed, no route, route refused

_IDENTITY_SHARED_SECRET, _IDENTITY_JWT, _IDENTITY_STATIC_JWT = 1, 2, 3

# get_message calls kept in libslim ahead of the callers (per session, once it is
# read): messages that arrive while the reader is busy are handed over in batches
# by one wake-up, and a call finds its message already here.
_READ_AHEAD = 16

_get_ident = threading.get_ident


# ---- errors -----------------------------------------------------------------


def _status(code: int) -> tuple[str, str]:
    return _c._status_name(code)


def _error(prefix: str, code: int, detail: str = "") -> Exception:
    """An ``Exception`` whose text starts with upstream's words, then our status."""
    name, text = _status(code)
    if code in _NO_MATCH:
        prefix += ": no matching found"
    return Exception(f"{prefix} ({name}: {detail or text})")


# Upstream's words, per operation, for a session that is gone.
_CLOSED = {
    "publish": "error in session: session closed",
    "get_message": "error receiving message: application channel closed",
    "delete": "session closed: session already closed",
}


def _op_error(what: str, code: int, detail: str = "") -> Exception:
    if code == _E_CLOSED and what in _CLOSED:
        return _error(_CLOSED[what], code, detail)
    prefixes = {
        "publish": "error in session: error sending message",
        "get_message": "error receiving message",
        "listen": "error receiving message: failed to receive notification",
        "invite": "error in session: error processing message: invite failed",
        "remove": "error in session: error processing message: remove failed",
        "create_session": "error creating session",
        "delete": "session closed: error deleting session",
        "connect": "error connecting",
        "disconnect": "error disconnecting",
        "run_server": "error starting server",
        "stop_server": "error stopping server",
    }
    return _error(prefixes.get(what, f"error in {what}"), code, detail)


def _from_status_error(e: Exception, prefix: str) -> Exception:
    code, name, text = e.args
    return Exception(f"{prefix} ({name}: {text})")


# ---- identities -------------------------------------------------------------


def _key_fields(key: PyKey) -> dict:
    fmt = {PyKeyFormat.Pem: "pem", PyKeyFormat.Jwk: "jwk", PyKeyFormat.Jwks: "jwks"}
    out = {"algorithm": key.algorithm.name, "key_format": fmt[key.format]}
    if isinstance(key.key, PyKeyData.File):
        out["key_file"] = key.key.path
    else:
        out["key"] = key.key.content
    return out


def _seconds(d: datetime.timedelta) -> int:
    return max(1, int(d.total_seconds()))


def _provider_config(p: PyIdentityProvider) -> dict:
    if isinstance(p, PyIdentityProvider.SharedSecret):
        return {"kind": _IDENTITY_SHARED_SECRET, "id": p.identity, "secret": p.shared_secret}
    if isinstance(p, PyIdentityProvider.Jwt):
        out = {"kind": _IDENTITY_JWT, "duration_s": _seconds(p.duration)}
        out.update(_key_fields(p.private_key))
        out.update(issuer=p.issuer, subject=p.subject, audience=p.audience)
        return out
    if isinstance(p, PyIdentityProvider.StaticJwt):
        return {"kind": _IDENTITY_STATIC_JWT, "token_file": p.path}
    raise TypeError(f"expected a PyIdentityProvider, got {type(p).__name__}")


def _verifier_config(v: PyIdentityVerifier) -> dict:
    if isinstance(v, PyIdentityVerifier.SharedSecret):
        return {"kind": _IDENTITY_SHARED_SECRET, "id": v.identity, "secret": v.shared_secret}
    if isinstance(v, PyIdentityVerifier.Jwt):
        if v.public_key is None and not v.autoresolve:
            raise Exception(
                "error creating the verifier: PyIdentityVerifier.Jwt needs public_key "
                "or autoresolve=True"
            )
        out = {"kind": _IDENTITY_JWT}
        if v.public_key is not None:
            out.update(_key_fields(v.public_key))
        out.update(
            issuer=v.issuer,
            subject=v.subject,
            audience=v.audience,
            require_iss=v.require_iss,
            require_aud=v.require_aud,
            require_sub=v.require_sub,
            autoresolve=v.autoresolve,
        )
        return out
    raise TypeError(f"expected a PyIdentityVerifier, got {type(v).__name__}")


# ---- config dicts -----------------------------------------------------------


def _json(config: dict, what: str) -> str:
    if not isinstance(config, dict):
        raise TypeError(f"{what} config must be a dict, not {type(config).__name__}")
    if "endpoint" not in config:
        raise Exception(f"error in {what} config: missing field `endpoint`")

    def plain(o):
        if isinstance(o, datetime.timedelta):
            return f"{o.total_seconds()}s"
        raise TypeError(f"{what} config: cannot use a {type(o).__name__} value")

    return json.dumps(config, default=plain)


# ---- one receiving queue ----------------------------------------------------


class _Receiver:
    """Results of one kind of call that takes things in order (a session's
    messages, or the app's new sessions): each call takes one, in order, and
    one a cancelled caller never took waits for the next caller.

    Calls in flight are of three kinds, counted: those owed to the callers
    waiting, those a cancelled caller left (orphans: inflight - waiters -
    spare; their results are kept for the next callers, errors too), and
    calls made ahead (spare; a message they bring is kept, an error is not:
    the next caller asks libslim again, as it would without reading ahead)."""

    __slots__ = ("ready", "waiters", "inflight", "spare", "on_done")

    def __init__(self):
        self.ready = collections.deque()  # (result, exception), oldest first
        self.waiters = collections.deque()  # futures of callers waiting, oldest first
        self.inflight = 0  # calls made in libslim and not answered yet
        self.spare = 0  # of which made ahead, owed to nobody
        self.on_done = None  # the OP_DONE callback of this queue's calls

    def _hand(self, item) -> bool:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                result, exc = item
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
                return True
        return False

    def deliver(self, result, exc):
        """A libslim call answered: to the oldest waiting caller, else kept."""
        self.inflight -= 1
        if self._hand((result, exc)):
            return
        if self.inflight + 1 > self.spare:  # an orphan's: kept, as ever
            self.ready.append((result, exc))
        else:  # a call made ahead
            self.spare -= 1
            if exc is None:
                self.ready.append((result, None))

    def give_back(self, fut):
        """A caller was cancelled: what its future holds goes to the next caller
        (it is older than anything kept); a future still pending leaves the queue."""
        if fut.done() and not fut.cancelled():
            exc = fut.exception()
            item = (None if exc is not None else fut.result(), exc)
            if not self._hand(item):
                self.ready.appendleft(item)
        else:
            try:
                self.waiters.remove(fut)
            except ValueError:
                pass

    def fail_all(self, exc):
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_exception(exc)


def _settle(cb, ev) -> None:
    """An operation's OP_DONE event to what waits for it: a callback, or
    _submit's (future, what) pair."""
    if cb.__class__ is not tuple:
        cb(ev)
        return
    fut, what = cb
    if not fut.done():
        if ev[2] != 0:
            fut.set_exception(_op_error(what, ev[2], ev[10]))
        else:
            fut.set_result(None)


# ---- PyService --------------------------------------------------------------


class PyService:
    """A SLIM app: a name with its id, an identity, connections, sessions.

    Made by ``create_pyservice`` (or ``Slim.new``); not constructed directly.
    """

    __slots__ = (
        "_app",
        "_name",
        "_loop",
        "_fd",
        "_ops",
        "_rx",
        "_sessions",
        "_default_config",
        "_closed_causes",
        "_deleted",
        "__weakref__",
    )

    def __init__(self, *args, **kwargs):
        raise TypeError("No constructor defined for PyService")

    @classmethod
    def _make(cls, app) -> PyService:
        self = object.__new__(cls)
        self._app = app
        self._name = app.name()
        self._loop = None
        self._fd = app.fd()
        self._ops = {}  # op id -> callback(event)
        self._rx = {}  # session handle (None: new sessions) -> _Receiver
        self._sessions = {}  # session handle -> PySessionContext (weak use)
        self._default_config = None
        self._closed_causes = {}  # session handle -> (status, detail)
        self._deleted = set()  # session handles deleted by this app
        return self

    @property
    def id(self) -> int:
        """The instance id (a 128-bit int)."""
        return self._name.id

    @property
    def name(self) -> PyName:  # noqa: F821 (PyName from the extension)
        """The app's full name, with its id."""
        return self._name

    def __repr__(self) -> str:
        return f"PyService(name={self._name})"

    # -- driving -------------------------------------------------------------

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        # Our loop running in this thread is the running loop (one per thread):
        # no get_running_loop(), which costs a getpid() system call.
        if loop is not None and getattr(loop, "_thread_id", None) == _get_ident():
            return loop
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
            self._loop = loop
            loop.add_reader(self._fd, self._on_events)
        return loop

    def _on_events(self) -> None:
        if self._app is None:
            return
        events = self._app.next_events()
        closed = [ev for ev in events if ev[0] == _SESSION_CLOSED]  # mostly none
        # Why sessions ended first: libslim fails a closed session's pending
        # get_message calls just before it reports the close, and their errors
        # say why.
        for ev in closed:
            self._closed_causes[ev[3]] = (ev[2], ev[10])
        ops = self._ops
        for ev in events:
            if ev[0] == _OP_DONE:
                cb = ops.pop(ev[1], None)
                if cb is not None:
                    _settle(cb, ev)
        for ev in closed:
            rx = self._rx.get(ev[3])
            if rx is not None and not (rx.ready or rx.waiters or rx.inflight):
                del self._rx[ev[3]]

    def _call(self, code: int, what: str, on_done) -> None:
        """Registers on_done(event) for the operation code (or raises its error)."""
        if code < 0:
            raise _op_error(what, code)
        self._ops[code] = on_done

    def _submit(self, code: int, what: str, value=None) -> asyncio.Future:
        """A future for the operation `code`, settled by its OP_DONE event;
        `value(event)` makes the result (None: no result)."""
        loop = self._attach()
        fut = loop.create_future()
        if value is None:  # the common case, settled by _on_events itself
            if code < 0:
                raise _op_error(what, code)
            self._ops[code] = (fut, what)
            return fut

        def done(ev):
            if fut.done():
                return
            if ev[2] != 0:
                fut.set_exception(_op_error(what, ev[2], ev[10]))
            else:
                fut.set_result(value(ev))

        self._call(code, what, done)
        return fut

    def _app_or_raise(self):
        if self._app is None:
            raise Exception("error in service: the app is closed")
        return self._app

    def _receiver(self, key, what: str) -> _Receiver:
        rx = self._rx.get(key)
        if rx is None:
            rx = self._rx[key] = _Receiver()

            def done(ev):
                if ev[2] != 0:
                    detail = ev[10]
                    cause = self._closed_causes.get(key)
                    if ev[2] == _E_CLOSED and cause is not None and cause[0] != 0:
                        # why the session ended (removed, the moderator closed it, ...)
                        name, text = _status(cause[0])
                        detail = f"{detail}: {name}: {cause[1] or text}"
                    rx.deliver(None, _op_error(what, ev[2], detail))
                else:
                    rx.deliver(ev, None)

            rx.on_done = done
        return rx

    def _read_ahead(self, rx: _Receiver, start, ahead: int) -> None:
        """Calls made ahead: once half of them are used, up to `ahead` results
        kept or coming again, in one go (libslim's loop thread is woken once for
        the batch, not once per message); a call libslim refuses stops it (the
        callers' own calls say why)."""
        if rx.spare + len(rx.ready) > ahead // 2:
            return
        while rx.spare + len(rx.ready) < ahead:
            code = start()
            if code < 0:
                return
            rx.inflight += 1
            rx.spare += 1
            self._ops[code] = rx.on_done

    async def _receive(self, key, start, what: str, ahead: int = 0):
        """One result of the ordered queue `key`; start() makes the libslim call;
        up to `ahead` more calls are made ahead."""
        rx = self._rx.get(key)
        if rx is None:
            rx = self._receiver(key, what)
        if rx.ready:
            result, exc = rx.ready.popleft()
            if exc is not None:
                raise exc
            if ahead and self._app is not None:
                self._read_ahead(rx, start, ahead)
            return result
        loop = self._attach()
        fut = loop.create_future()
        rx.waiters.append(fut)
        if rx.inflight - rx.spare < len(rx.waiters):  # no orphan's call to take over
            if rx.spare:
                rx.spare -= 1  # a call made ahead is this caller's now
            else:
                try:
                    code = start()
                    if code < 0:
                        raise _op_error(what, code)
                except BaseException:
                    rx.waiters.remove(fut)
                    raise
                rx.inflight += 1
                self._ops[code] = rx.on_done
        if ahead:
            self._read_ahead(rx, start, ahead)
        try:
            return await fut
        except asyncio.CancelledError:
            rx.give_back(fut)
            raise

    def _close(self, timeout_ms: int = 2000) -> None:
        if self._app is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        app, self._app = self._app, None
        app.close(timeout_ms)
        gone = Exception("error in service: the app is closed")
        for cb in list(self._ops.values()):
            _settle(cb, (_OP_DONE, 0, _E_CLOSED) + (0,) * 7 + ("the app is closed",))
        self._ops.clear()
        for rx in self._rx.values():
            rx.fail_all(gone)

    def __del__(self):
        # An app nobody closed: close it here (as upstream's apps end with
        # their last reference), its reader first.
        try:
            self._close(1000)
        except Exception:
            pass


# ---- PySessionContext -------------------------------------------------------


class PySessionContext:
    """A session of a PyService. Every property raises once the session is gone
    ("session closed: session already closed")."""

    __slots__ = ("_svc", "_handle", "_config", "_type", "__weakref__")

    def __init__(self, *args, **kwargs):
        raise TypeError("No constructor defined for PySessionContext")

    @classmethod
    def _make(cls, svc: PyService, handle: int, config=None) -> PySessionContext:
        self = object.__new__(cls)
        self._svc = svc
        self._handle = handle
        self._config = config
        # The session's type once known (it never changes): PySession.publish
        # checks it without asking libslim each time.
        self._type = None if config is None else _config_type(config)
        return self

    def _info(self) -> dict:
        app = self._svc._app
        info = _E_CLOSED
        if app is not None and self._handle not in self._svc._deleted:
            info = app.session_info(self._handle)
        if isinstance(info, int):
            raise _op_error("delete", _E_CLOSED, self._closed_detail())
        return info

    def _closed_detail(self) -> str:
        cause = self._svc._closed_causes.get(self._handle)
        if cause is None or cause[0] == 0:
            return "the session is closed"
        return f"{_status(cause[0])[0]}: {cause[1]}" if cause[1] else _status(cause[0])[0]

    @property
    def id(self) -> int:
        """The session id on the wire (32 bits)."""
        return self._info()["id"]

    @property
    def metadata(self) -> dict[str, str]:
        """The session's metadata (a copy)."""
        return self._info()["metadata"]

    @property
    def session_type(self) -> PySessionType:
        return PySessionType(self._info()["type"])

    @property
    def src(self):
        """This app's name in the session, with its id."""
        return _c._name_from_text(self._info()["src"])

    @property
    def dst(self):
        """UNICAST: the peer; MULTICAST: the channel; ANYCAST: None."""
        info = self._info()
        if info["type"] == PySessionType.ANYCAST or not info["dst"]:
            return None
        return _c._name_from_text(info["dst"])

    @property
    def session_config(self) -> PySessionConfiguration:
        info = self._info()
        if self._config is not None:
            return self._config
        return _config_from_info(info, self._svc._default_config)

    def set_session_config(self, config: PySessionConfiguration) -> None:
        """Replaces the configuration this session reports. The session's kind must
        stay the same; timeouts and retries of a running session do not change."""
        info = self._info()
        if not isinstance(config, PySessionConfiguration):
            raise TypeError(
                f"expected a PySessionConfiguration, got {type(config).__name__}"
            )
        if _config_type(config) != info["type"]:
            raise Exception(
                "error in session: session type mismatch: the configuration is of another kind"
            )
        self._config = config

    def __repr__(self) -> str:
        return f"PySessionContext(handle={self._handle})"


def _config_type(config) -> int:
    if isinstance(config, PySessionConfiguration.Anycast):
        return PySessionType.ANYCAST
    if isinstance(config, PySessionConfiguration.Unicast):
        return PySessionType.UNICAST
    return PySessionType.MULTICAST


def _timedelta_ms(ms: int):
    return datetime.timedelta(milliseconds=ms) if ms else None


def _config_from_info(info: dict, default) -> PySessionConfiguration:
    t = info["type"]
    retries = info["max_retries"] or None
    timeout = _timedelta_ms(info["timeout_ms"])
    if t == PySessionType.ANYCAST:
        if default is not None and isinstance(default, PySessionConfiguration.Anycast):
            return default
        return PySessionConfiguration.Anycast(
            timeout=timeout, max_retries=retries, mls_enabled=info["mls"]
        )
    if t == PySessionType.UNICAST:
        return PySessionConfiguration.Unicast(
            _c._name_from_text(info["dst"]),
            timeout=timeout,
            max_retries=retries,
            mls_enabled=info["mls"],
            metadata=info["metadata"],
        )
    return PySessionConfiguration.Multicast(
        _c._name_from_text(info["dst"]),
        max_retries=info["max_retries"],
        timeout=timeout or datetime.timedelta(milliseconds=1000),
        mls_enabled=info["mls"],
        metadata=info["metadata"],
    )


def _ms(d: datetime.timedelta | None) -> int:
    if d is None:
        return 0
    return max(1, int(d / datetime.timedelta(milliseconds=1)))


def _check_config(config) -> None:
    if not isinstance(config, PySessionConfiguration):
        raise TypeError(f"expected a PySessionConfiguration, got {type(config).__name__}")
    if isinstance(config, PySessionConfiguration.Anycast) and config.mls_enabled:
        raise Exception(
            "error creating session: MLS on no-unicast sessions is not supported"
        )


# ---- module functions -------------------------------------------------------


def _check_svc(svc) -> PyService:
    if not isinstance(svc, PyService):
        raise TypeError(f"expected a PyService, got {type(svc).__name__}")
    return svc


def _check_session(svc, ctx) -> int:
    if not isinstance(ctx, PySessionContext):
        raise TypeError(f"expected a PySessionContext, got {type(ctx).__name__}")
    if ctx._svc is not svc:
        raise Exception("error in session: the session belongs to another service")
    return ctx._handle


def _name_text(name, field: str = "name") -> str:
    if not isinstance(name, _c.PyName):
        raise TypeError(f"argument '{field}': expected PyName, got {type(name).__name__}")
    return str(name)


async def create_pyservice(name, provider, verifier, options: dict | None = None) -> PyService:
    """A new app named ``name`` (its id comes from the provider's identity)."""
    text = _name_text(name)
    prov, ver = _provider_config(provider), _verifier_config(verifier)
    try:
        app = _c._App(text, prov, ver, options)
    except _c._StatusError as e:
        raise _from_status_error(e, "error creating the app") from None
    return PyService._make(app)


async def connect(svc: PyService, config: dict) -> int:
    """Connects to a node with a client config dict; returns the connection id."""
    text = _json(config, "client")
    app = _check_svc(svc)._app_or_raise()
    return await svc._submit(app.connect(text), "connect", lambda ev: ev[4])


async def disconnect(svc: PyService, conn: int) -> None:
    """Closes the connection ``conn`` (its subscriptions and routes go with it)."""
    app = _check_svc(svc)._app_or_raise()
    await svc._submit(app.disconnect(conn), "disconnect")


async def run_server(svc: PyService, config: dict) -> None:
    """Listens for other apps and nodes (server config dict)."""
    text = _json(config, "server")
    app = _check_svc(svc)._app_or_raise()
    await svc._submit(app.run_server(text), "run_server")


async def stop_server(svc: PyService, endpoint: str) -> None:
    """Stops the server listening on ``endpoint`` (as given to run_server)."""
    app = _check_svc(svc)._app_or_raise()
    await svc._submit(app.stop_server(endpoint), "stop_server")


def _name_call(method: str):
    async def call(svc: PyService, conn: int, name) -> None:
        text = _name_text(name)
        app = _check_svc(svc)._app_or_raise()
        await svc._submit(getattr(app, method)(text, conn), method)

    call.__name__ = call.__qualname__ = method
    call.__doc__ = f"{method}(svc, conn, name): {method.replace('_', ' ')} on connection conn."
    return call


subscribe = _name_call("subscribe")
unsubscribe = _name_call("unsubscribe")
set_route = _name_call("set_route")
remove_route = _name_call("remove_route")


async def create_session(svc: PyService, config: PySessionConfiguration) -> PySessionContext:
    """A new session (UNICAST: once the peer has joined)."""
    _check_config(config)
    app = _check_svc(svc)._app_or_raise()
    t = _config_type(config)
    if t == PySessionType.ANYCAST:
        peer, metadata = None, None
    elif t == PySessionType.UNICAST:
        peer, metadata = str(config.unicast_name), config.metadata
    else:
        peer, metadata = str(config.channel_name), config.metadata
    code = app.session_create(
        int(t), peer, _ms(config.timeout), config.max_retries or 0, config.mls_enabled, metadata
    )
    loop = svc._attach()
    fut = loop.create_future()

    def done(ev):
        if ev[2] != 0:
            if not fut.done():
                fut.set_exception(_op_error("create_session", ev[2], ev[10]))
        elif fut.done():  # the caller went away: nobody will use this session
            if svc._app is not None:
                svc._app.session_delete(ev[3])
        else:
            fut.set_result(PySessionContext._make(svc, ev[3], config))

    svc._call(code, "create_session", done)
    return await fut


async def delete_session(svc: PyService, session_context: PySessionContext) -> None:
    """Ends the session (the peer, or the group, is told)."""
    handle = _check_session(_check_svc(svc), session_context)
    app = svc._app_or_raise()
    if handle in svc._deleted:
        raise _op_error("delete", _E_CLOSED, "the session was deleted")
    await svc._submit(app.session_delete(handle), "delete")
    # Gone for this app from now on, even before libslim's record of it goes.
    svc._deleted.add(handle)


def set_default_session_config(svc: PyService, config: PySessionConfiguration) -> None:
    """The configuration sessions opened by peers report (synchronous)."""
    _check_config(config)
    _check_svc(svc)._default_config = config


async def listen_for_session(svc: PyService) -> PySessionContext:
    """Waits for a session another app opened with this one (or invited it to)."""
    app = _check_svc(svc)._app_or_raise()
    ev = await svc._receive(None, app.listen, "listen")
    return PySessionContext._make(svc, ev[3])


def _get_message(svc, session_context):
    """get_message's checks, then the awaitable of its event (PySession.get_message
    awaits it directly: one coroutine less per message)."""
    handle = _check_session(_check_svc(svc), session_context)
    app = svc._app_or_raise()
    if handle in svc._deleted:
        raise _op_error("get_message", _E_CLOSED, "the session was deleted")
    return svc._receive(
        handle, functools.partial(app.get_message, handle), "get_message", _READ_AHEAD
    )


async def get_message(svc: PyService, session_context: PySessionContext):
    """The session's next message: (PyMessageContext, bytes)."""
    return (await _get_message(svc, session_context))[7]


def _payload(blob) -> bytes:
    if isinstance(blob, str):
        raise TypeError("argument 'blob': a str is not bytes (encode it first)")
    if isinstance(blob, int):
        raise TypeError("argument 'blob': expected bytes or a sequence of ints, got int")
    if isinstance(blob, (bytes, bytearray, memoryview)):
        return blob
    try:
        return bytes(blob)
    except (TypeError, ValueError) as e:
        raise TypeError(f"argument 'blob': expected bytes or a sequence of ints: {e}") from None


async def publish(
    svc: PyService,
    session_context: PySessionContext,
    fanout: int,
    blob,
    message_ctx=None,
    name=None,
    payload_type: str | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Sends ``blob``: to ``name`` if given, else back to the sender of
    ``message_ctx``, else to the session's peer or channel."""
    await _publish(svc, session_context, blob, message_ctx, name, payload_type, metadata)


def _publish(svc, session_context, blob, message_ctx, name, payload_type, metadata):
    """publish's checks and call, then the future of its result (PySession's
    methods await it directly: one coroutine less per message)."""
    handle = _check_session(_check_svc(svc), session_context)
    app = svc._app_or_raise()
    data = _payload(blob)
    if handle in svc._deleted:
        raise _op_error("publish", _E_CLOSED, "the session was deleted")
    if name is not None:
        code = app.publish(handle, data, payload_type, metadata, _name_text(name))
    elif message_ctx is not None:
        if not isinstance(message_ctx, _c.PyMessageContext):
            raise TypeError(
                f"argument 'message_ctx': expected PyMessageContext, got "
                f"{type(message_ctx).__name__}"
            )
        code = app.publish(handle, data, payload_type, metadata, None, message_ctx)
    else:
        code = app.publish(handle, data, payload_type, metadata)
    return svc._submit(code, "publish")


async def invite(svc: PyService, session_context: PySessionContext, name) -> None:
    """Invites ``name`` into a group this app moderates; returns once it is a member."""
    await _member_call(svc, session_context, name, "invite")


async def remove(svc: PyService, session_context: PySessionContext, name) -> None:
    """Removes ``name`` from a group this app moderates; returns once it is out."""
    await _member_call(svc, session_context, name, "remove")


_P2P_WORDS = {
    "invite": "cannot invite participant to point-to-point session",
    "remove": "cannot remove participant from point-to-point session",
}


async def _member_call(svc, session_context, name, what: str) -> None:
    handle = _check_session(_check_svc(svc), session_context)
    text = _name_text(name)
    app = svc._app_or_raise()
    info = app.session_info(handle)
    if isinstance(info, dict) and info["type"] != PySessionType.MULTICAST:
        raise Exception(f"error in session: error processing message: {_P2P_WORDS[what]}")
    await svc._submit(getattr(app, what)(handle, text), what)


class _Done:
    """An awaitable that is already done (init_tracing's result)."""

    __slots__ = ()

    def __await__(self):
        return iter(())


def init_tracing(config: dict | None = None) -> _Done:
    """Sets libslim's log level from ``config["log_level"]`` when given.

    It acts when called, awaited or not (upstream's examples never await it);
    only the first call takes effect. Tracing export (``opentelemetry``) is not
    supported and ignored."""
    global _tracing_done
    if not _tracing_done:
        _tracing_done = True
        level = (config or {}).get("log_level")
        try:
            if level is None:
                return _Done()
            _c._set_log_level(str(level).split(",")[0].strip())
        except ValueError:
            pass  # upstream takes filter expressions we do not know: keep the level
    return _Done()


_tracing_done = False
