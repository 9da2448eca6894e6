"""Exceptions of slim_bindings."""

import asyncio

__all__ = ["SLIMTimeoutError"]


class SLIMTimeoutError(asyncio.TimeoutError):
    """A SLIM message timed out.

    Exported for compatibility with upstream's API, which never raises it either.
    Its attributes are the constructor's arguments.
    """

    def __init__(
        self,
        message_id: int,
        session_id: int,
        message: str = "SLIM timeout error",
        original_exception: Exception | None = None,
    ):
        self.message_id = message_id
        self.session_id = session_id
        self.message = message
        self.original_exception = original_exception
        super().__init__(message)

    def __str__(self) -> str:
        text = f"{self.message} for session {self.session_id} and message {self.message_id}"
        if self.original_exception is not None:
            text += f". Caused by: {self.original_exception!r}"
        return text
