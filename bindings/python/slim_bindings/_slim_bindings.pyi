# Stubs of slim_bindings._slim_bindings, written by hand (upstream generates them
# with pyo3_stub_gen; unlike those, these list the complex enums' variants with
# their fields and constructors). The service classes and functions are written
# in Python (slim_bindings/_service.py) and set on this module by the package's
# __init__, so they are listed here as upstream's are.

import datetime
import enum
import typing


__version__: str
build_profile: str
build_info: str

def get_version() -> str:
    """The version of libslim under these bindings, e.g. "0.1.0"."""

def get_build_profile() -> str:
    """The CMake build type the extension was built with."""

def get_build_info() -> str:
    """"Version:\\t...\\nBuild Date:\\t...\\nGit SHA:\\t...\\nProfile:\\t..."."""

class PyName:
    """A SLIM name: three text components and an optional 128-bit instance id.

    Equality and hashing use the numeric form only (component hashes and id).
    str() and repr() give "org/ns/svc", or "org/ns/svc/<uuid>" with an id.
    """

    id: int
    """The instance id; 2**128-1 (all ones) means no id."""
    def __init__(
        self, component0: str, component1: str, component2: str, id: int | None = None
    ) -> None: ...
    def components(self) -> list[int]:
        """The three component hashes and the id."""
    def components_strings(self) -> list[str]:
        """The three text components."""
    def equal_without_id(self, name: PyName) -> bool:
        """True when both names have the same components, whatever their ids."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class PySessionType(enum.IntEnum):
    """Kind of a session; compares equal to its int value."""

    ANYCAST = 0
    UNICAST = 1
    MULTICAST = 2

class PyAlgorithm(enum.IntEnum):
    """Signature algorithm of a JWT key; compares equal to its int value."""

    HS256 = 0
    HS384 = 1
    HS512 = 2
    RS256 = 3
    RS384 = 4
    RS512 = 5
    PS256 = 6
    PS384 = 7
    PS512 = 8
    ES256 = 9
    ES384 = 10
    EdDSA = 11

class PyKeyFormat(enum.Enum):
    """Encoding of a key."""

    Pem = 0
    Jwk = 1
    Jwks = 2

class PyKeyData:
    """Where a key comes from."""

    class File(PyKeyData):
        """The key is read from the file at path."""

        @property
        def path(self) -> str: ...
        def __init__(self, path: str) -> None: ...

    class Content(PyKeyData):
        """The key is content itself."""

        @property
        def content(self) -> str: ...
        def __init__(self, content: str) -> None: ...

class PyKey:
    """A key: algorithm, format and where its bytes come from (read/write)."""

    algorithm: PyAlgorithm
    format: PyKeyFormat
    key: PyKeyData
    def __init__(self, algorithm: PyAlgorithm, format: PyKeyFormat, key: PyKeyData) -> None: ...

class PyIdentityProvider:
    """How this app proves its identity."""

    class StaticJwt(PyIdentityProvider):
        """A ready-made JWT read from the file at path."""

        @property
        def path(self) -> str: ...
        def __init__(self, path: str) -> None: ...

    class Jwt(PyIdentityProvider):
        """JWTs signed with private_key, each valid for duration."""

        @property
        def private_key(self) -> PyKey: ...
        @property
        def duration(self) -> datetime.timedelta: ...
        @property
        def issuer(self) -> str | None: ...
        @property
        def audience(self) -> list[str] | None: ...
        @property
        def subject(self) -> str | None: ...
        def __init__(
            self,
            private_key: PyKey,
            duration: datetime.timedelta,
            issuer: str | None = None,
            audience: list[str] | None = None,
            subject: str | None = None,
        ) -> None: ...

    class SharedSecret(PyIdentityProvider):
        """A secret shared by all apps; the token names identity."""

        @property
        def identity(self) -> str: ...
        @property
        def shared_secret(self) -> str: ...
        def __init__(self, identity: str, shared_secret: str) -> None: ...

class PyIdentityVerifier:
    """How this app checks its peers' identities."""

    class Jwt(PyIdentityVerifier):
        """JWTs checked with public_key, or with keys resolved from the issuer."""

        @property
        def public_key(self) -> PyKey | None: ...
        @property
        def autoresolve(self) -> bool: ...
        @property
        def issuer(self) -> str | None: ...
        @property
        def audience(self) -> list[str] | None: ...
        @property
        def subject(self) -> str | None: ...
        @property
        def require_iss(self) -> bool: ...
        @property
        def require_aud(self) -> bool: ...
        @property
        def require_sub(self) -> bool: ...
        def __init__(
            self,
            public_key: PyKey | None = None,
            autoresolve: bool = False,
            issuer: str | None = None,
            audience: list[str] | None = None,
            subject: str | None = None,
            require_iss: bool = False,
            require_aud: bool = False,
            require_sub: bool = False,
        ) -> None: ...

    class SharedSecret(PyIdentityVerifier):
        """Accepts tokens made with the same shared_secret."""

        @property
        def identity(self) -> str: ...
        @property
        def shared_secret(self) -> str: ...
        def __init__(self, identity: str, shared_secret: str) -> None: ...

class PySessionConfiguration:
    """Configuration of a session. Variants compare equal when every field does."""

    class Anycast(PySessionConfiguration):
        """Point-to-point session with no fixed peer."""

        @property
        def timeout(self) -> datetime.timedelta | None: ...
        @property
        def max_retries(self) -> int | None: ...
        @property
        def mls_enabled(self) -> bool: ...
        def __init__(
            self,
            timeout: datetime.timedelta | None = None,
            max_retries: int | None = None,
            mls_enabled: bool = False,
        ) -> None: ...

    class Unicast(PySessionConfiguration):
        """Point-to-point session with the peer unicast_name."""

        @property
        def unicast_name(self) -> PyName: ...
        @property
        def timeout(self) -> datetime.timedelta | None: ...
        @property
        def max_retries(self) -> int | None: ...
        @property
        def mls_enabled(self) -> bool: ...
        @property
        def metadata(self) -> dict[str, str]: ...
        def __init__(
            self,
            unicast_name: PyName,
            timeout: datetime.timedelta | None = None,
            max_retries: int | None = None,
            mls_enabled: bool = False,
            metadata: dict[str, str] = {},
        ) -> None: ...

    class Multicast(PySessionConfiguration):
        """Group session on the channel channel_name."""

        @property
        def channel_name(self) -> PyName: ...
        @property
        def max_retries(self) -> int: ...
        @property
        def timeout(self) -> datetime.timedelta: ...
        @property
        def mls_enabled(self) -> bool: ...
        @property
        def metadata(self) -> dict[str, str]: ...
        def __init__(
            self,
            channel_name: PyName,
            max_retries: int = 0,
            timeout: datetime.timedelta = ...,
            mls_enabled: bool = False,
            metadata: dict[str, str] = {},
        ) -> None: ...


class PyMessageContext:
    """The context of a received message (read only). Not constructed directly."""

    @property
    def source_name(self) -> PyName:
        """The sender, with its id."""
    @property
    def destination_name(self) -> PyName:
        """Where it was sent: this app, or the group's channel."""
    @property
    def payload_type(self) -> str:
        """The payload type ("msg" by default)."""
    @property
    def metadata(self) -> dict[str, str]:
        """The message's metadata."""
    @property
    def input_connection(self) -> int:
        """The connection it came in on (replies go back on it)."""
    @property
    def message_id(self) -> int:
        """Its id in the session (ours; upstream has none)."""

class PyService:
    """A SLIM app (made by create_pyservice)."""

    @property
    def id(self) -> int:
        """The 128-bit instance id."""
    @property
    def name(self) -> PyName:
        """The app's name, with its id."""

class PySessionContext:
    """A session of a PyService. Every property raises Exception("session closed:
    session already closed ...") once the session is gone."""

    @property
    def id(self) -> int:
        """The session id on the wire (32 bits)."""
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def session_type(self) -> PySessionType: ...
    @property
    def src(self) -> PyName:
        """This app's name, with its id."""
    @property
    def dst(self) -> PyName | None:
        """UNICAST: the peer; MULTICAST: the channel; ANYCAST: None."""
    @property
    def session_config(self) -> PySessionConfiguration: ...
    def set_session_config(self, config: PySessionConfiguration) -> None: ...

async def create_pyservice(
    name: PyName, provider: PyIdentityProvider, verifier: PyIdentityVerifier
) -> PyService:
    """A new app named name; its id comes from the provider's identity."""

async def connect(svc: PyService, config: dict) -> int:
    """Connects to a node with a client config dict; returns the connection id."""

async def disconnect(svc: PyService, conn: int) -> None: ...
async def run_server(svc: PyService, config: dict) -> None:
    """Listens for other apps and nodes (server config dict)."""

async def stop_server(svc: PyService, endpoint: str) -> None: ...
async def subscribe(svc: PyService, conn: int, name: PyName) -> None: ...
async def unsubscribe(svc: PyService, conn: int, name: PyName) -> None: ...
async def set_route(svc: PyService, conn: int, name: PyName) -> None: ...
async def remove_route(svc: PyService, conn: int, name: PyName) -> None: ...
async def create_session(svc: PyService, config: PySessionConfiguration) -> PySessionContext:
    """A new session (UNICAST: once the peer has joined)."""

async def delete_session(svc: PyService, session_context: PySessionContext) -> None: ...
def set_default_session_config(svc: PyService, config: PySessionConfiguration) -> None:
    """The configuration sessions opened by peers report (synchronous)."""

async def listen_for_session(svc: PyService) -> PySessionContext:
    """Waits for a session another app opened with this one (or an invitation)."""

async def get_message(
    svc: PyService, session_context: PySessionContext
) -> tuple[PyMessageContext, bytes]:
    """The session's next message and its payload."""

async def publish(
    svc: PyService,
    session_context: PySessionContext,
    fanout: int,
    blob: bytes | list[int],
    message_ctx: PyMessageContext | None = None,
    name: PyName | None = None,
    payload_type: str | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Sends blob to name, else to the sender of message_ctx, else to the session's
    peer or channel."""

async def invite(svc: PyService, session_context: PySessionContext, name: PyName) -> None:
    """Invites name into a group this app moderates; returns once it is a member."""

async def remove(svc: PyService, session_context: PySessionContext, name: PyName) -> None:
    """Removes name from a group this app moderates; returns once it is out."""

def init_tracing(config: dict | None = None) -> typing.Awaitable[None]:
    """Sets libslim's log level from config["log_level"]; acts when called."""
