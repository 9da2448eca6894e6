"""``Slim``: an app, as upstream's Python class over the service functions."""

from __future__ import annotations

import asyncio
import datetime

from . import _service
from ._service import PyService
from ._slim_bindings import PyName
from ._types import PyIdentityProvider, PyIdentityVerifier, PySessionConfiguration
from .session import PySession

__all__ = ["Slim"]

_FOREVER = 100 * 365 * 24 * 3600.0  # upstream's "no timeout": 100 years


class Slim:
    """A SLIM app: connect it to a node, then open sessions or wait for them."""

    def __init__(self, svc: PyService, name: PyName):
        self._svc = svc
        self.conn_ids: dict[str, int] = {}

    @classmethod
    async def new(
        cls, name: PyName, provider: PyIdentityProvider, verifier: PyIdentityVerifier
    ) -> Slim:
        """Creates the app ``name`` with its identity provider and verifier."""
        svc = await _service.create_pyservice(name, provider, verifier)
        return cls(svc, name)

    @property
    def id(self) -> int:
        """The instance id (an int)."""
        return self._svc.id

    @property
    def id_str(self) -> str:
        """"org/ns/app/<decimal id>"."""
        c = self.local_name.components_strings()
        return f"{c[0]}/{c[1]}/{c[2]}/{self.id}"

    @property
    def local_name(self) -> PyName:
        """The app's name, with its id."""
        return self._svc.name

    def counters(self) -> dict:
        """The library's counters for this app (ours, not upstream's API):
        messages in and out, drops by reason, retransmissions, MLS commits,
        controller requests refused, ... (``slim_app_counters`` in
        include/slim/app.h)."""
        return self._svc._app_or_raise().counters()

    async def create_session(self, session_config: PySessionConfiguration) -> PySession:
        ctx = await _service.create_session(self._svc, session_config)
        return PySession(self._svc, ctx)

    async def delete_session(self, session: PySession) -> None:
        await _service.delete_session(self._svc, session._ctx)

    async def set_default_session_config(self, session_config: PySessionConfiguration) -> None:
        _service.set_default_session_config(self._svc, session_config)

    async def run_server(self, config: dict) -> None:
        await _service.run_server(self._svc, config)

    async def stop_server(self, endpoint: str) -> None:
        await _service.stop_server(self._svc, endpoint)

    async def connect(self, client_config: dict) -> int:
        """Connects to a node; later routing calls go over this connection."""
        conn_id = await _service.connect(self._svc, client_config)
        self.conn_ids[client_config["endpoint"]] = conn_id
        self.conn_id = conn_id
        await _service.subscribe(self._svc, conn_id, self._svc.name)
        return conn_id

    async def disconnect(self, endpoint: str) -> None:
        conn = self.conn_ids[endpoint]
        await _service.disconnect(self._svc, conn)
        del self.conn_ids[endpoint]

    async def set_route(self, name: PyName) -> None:
        await _service.set_route(self._svc, self.conn_id, name)

    async def remove_route(self, name: PyName) -> None:
        await _service.remove_route(self._svc, self.conn_id, name)

    async def subscribe(self, name: PyName) -> None:
        await _service.subscribe(self._svc, self.conn_id, name)

    async def unsubscribe(self, name: PyName) -> None:
        await _service.unsubscribe(self._svc, self.conn_id, name)

    async def listen_for_session(
        self, timeout: datetime.timedelta | None = None
    ) -> PySession:
        """Waits for a session another app opened with this one; TimeoutError after
        ``timeout``."""
        secs = _FOREVER if timeout is None else timeout.total_seconds()
        async with asyncio.timeout(secs):
            ctx = await _service.listen_for_session(self._svc)
        return PySession(self._svc, ctx)

    async def close(self, timeout: datetime.timedelta | None = None) -> None:
        """Ends the app now (ours; upstream's apps end with the process): sessions
        are closed, peers told for at most ``timeout`` (2 s by default)."""
        ms = 2000 if timeout is None else int(timeout.total_seconds() * 1000)
        self._svc._close(ms)
