"""``PySession``: a session of a ``Slim`` app, as upstream's Python class."""

from __future__ import annotations

from . import _service
from ._service import PyService, PySessionContext
from ._slim_bindings import PyMessageContext, PyName
from ._types import PySessionConfiguration, PySessionType

__all__ = ["PySession", "PyMessageContext"]


class PySession:
    """A session: publish into it, read from it, and (groups) invite and remove.

    Made by ``Slim.create_session`` and ``Slim.listen_for_session``.
    """

    def __init__(self, svc: PyService, ctx: PySessionContext):
        self._svc = svc
        self._ctx = ctx

    @property
    def id(self) -> int:
        """The session id on the wire (32 bits)."""
        return self._ctx.id

    @property
    def metadata(self) -> dict[str, str]:
        """The session's metadata (a copy)."""
        return self._ctx.metadata

    @property
    def session_type(self) -> PySessionType:
        return self._ctx.session_type

    @property
    def session_config(self) -> PySessionConfiguration:
        return self._ctx.session_config

    @property
    def src(self) -> PyName:
        """This app's own name, with its id."""
        return self._ctx.src

    @property
    def dst(self) -> PyName | None:
        """UNICAST: the peer; MULTICAST: the channel; ANYCAST: None."""
        return self._ctx.dst

    def _type(self) -> PySessionType | None:
        """The session's type, None once it is gone (publishing then says so)."""
        try:
            t = self._ctx.session_type
        except Exception:
            return None
        self._ctx._type = t
        return t

    def set_session_config(self, config: PySessionConfiguration) -> None:
        self._ctx.set_session_config(config)

    async def publish(
        self,
        msg: bytes,
        payload_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Sends msg to the peer (UNICAST) or the group (MULTICAST)."""
        # A UNICAST or MULTICAST session stays one: publishing it needs no look-up
        # (gone, it fails as publishing a gone session does). ANYCAST, or not
        # known yet: as it is now.
        t = self._ctx._type
        if t is None or t == PySessionType.ANYCAST:
            t = self._type()
        if t == PySessionType.ANYCAST:
            raise RuntimeError("unexpected session type: expected UNICAST or MULTICAST")
        await _service._publish(self._svc, self._ctx, msg, None, None, payload_type, metadata)

    async def publish_with_destination(
        self,
        msg: bytes,
        dest: PyName,
        payload_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """ANYCAST: sends msg to any instance of dest."""
        t = self._ctx._type
        if t != PySessionType.ANYCAST:  # not known yet, or another type: as it is now
            t = self._type()
        if t not in (PySessionType.ANYCAST, None):
            raise RuntimeError("unexpected session type: expected ANYCAST")
        await _service._publish(self._svc, self._ctx, msg, None, dest, payload_type, metadata)

    async def publish_to(
        self,
        message_ctx: PyMessageContext,
        msg: bytes,
        payload_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Replies to the sender of a received message."""
        await _service._publish(
            self._svc, self._ctx, msg, message_ctx, None, payload_type, metadata
        )

    async def invite(self, name: PyName) -> None:
        """Invites name into the group; returns once it is a member (raises if not)."""
        await _service.invite(self._svc, self._ctx, name)

    async def remove(self, name: PyName) -> None:
        """Removes name from the group; returns once it is out (raises if not)."""
        await _service.remove(self._svc, self._ctx, name)

    async def get_message(self) -> tuple[PyMessageContext, bytes]:
        """The next message: (its context, the payload as bytes)."""
        return (await _service._get_message(self._svc, self._ctx))[7]

    recv = get_message

    async def delete(self) -> None:
        """Ends the session."""
        await _service.delete_session(self._svc, self._ctx)

    def __repr__(self) -> str:
        return f"PySession({self._ctx!r})"
