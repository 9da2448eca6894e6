"""Value classes of slim_bindings: session types, keys, identities, session configurations.

Upstream writes these in Rust (pyo3 0.24): simple enums, and "complex enums" whose
variants are subclasses of the enum class, with read-only fields and an equality that
compares every field. Here they are small Python classes with the same constructors,
keyword names, defaults and attributes; ``slim_bindings._slim_bindings`` re-exports
them, so they are reachable under the same names as upstream's.

Arguments are checked as pyo3 converts them: a wrong type or an unknown keyword
raises ``TypeError``, a negative or too large count raises ``OverflowError``.
"""

from __future__ import annotations

import datetime
import enum

__all__ = [
    "PySessionType",
    "PyAlgorithm",
    "PyKeyFormat",
    "PyKeyData",
    "PyKey",
    "PyIdentityProvider",
    "PyIdentityVerifier",
    "PySessionConfiguration",
]

_U32_MAX = 2**32 - 1


# ---- argument checks (pyo3's conversions) ---------------------------------


def _type_error(field: str, expected: str, value: object) -> TypeError:
    return TypeError(
        f"argument '{field}': expected {expected}, got {type(value).__name__}"
    )


def _str(field, value):
    if not isinstance(value, str):
        raise _type_error(field, "str", value)
    return value


def _opt_str(field, value):
    return None if value is None else _str(field, value)


def _bool(field, value):
    if not isinstance(value, bool):
        raise _type_error(field, "bool", value)
    return value


def _u32(field, value):
    if isinstance(value, float) or not hasattr(value, "__index__"):
        raise _type_error(field, "int", value)
    value = value.__index__()
    if value < 0 or value > _U32_MAX:
        raise OverflowError(f"argument '{field}': {value} does not fit in a u32")
    return int(value)


def _opt_u32(field, value):
    return None if value is None else _u32(field, value)


def _timedelta(field, value):
    if not isinstance(value, datetime.timedelta):
        raise _type_error(field, "datetime.timedelta", value)
    if value < datetime.timedelta(0):
        raise OverflowError(f"argument '{field}': negative durations are not allowed")
    return value


def _opt_timedelta(field, value):
    return None if value is None else _timedelta(field, value)


def _metadata(field, value):
    if not isinstance(value, dict):
        raise _type_error(field, "dict[str, str]", value)
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"argument '{field}': keys and values must be str")
    return dict(value)  # a copy: the default {} is shared


def _opt_str_list(field, value):
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _type_error(field, "list[str]", value)
    return [_str(field, v) for v in value]


def _name(field, value):
    from ._slim_bindings import PyName  # late: _slim_bindings imports this module

    if not isinstance(value, PyName):
        raise _type_error(field, "PyName", value)
    return value


def _instance(cls, field, value):
    if not isinstance(value, cls):
        raise _type_error(field, cls.__name__, value)
    return value


# ---- simple enums ---------------------------------------------------------


class PySessionType(enum.IntEnum):
    """Kind of a session; compares equal to its int value.

    ANYCAST is point-to-point with no fixed destination, UNICAST point-to-point with
    a destination, MULTICAST a group (channel) session.
    """

    ANYCAST = 0
    UNICAST = 1
    MULTICAST = 2

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__


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

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__


class PyKeyFormat(enum.Enum):
    """Encoding of a key: PEM, a JWK, or a JWK set. Not comparable with ints."""

    Pem = 0
    Jwk = 1
    Jwks = 2

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__


# ---- complex enums ----------------------------------------------------------


class _ComplexEnum:
    """Base of the complex enums: variants are subclasses with read-only fields."""

    __slots__ = ("_values",)
    _fields: tuple = ()

    def __init__(self, *args, **kwargs):
        # Only the variants, which define their own __init__, can be built.
        raise TypeError(f"No constructor defined for {type(self).__name__}")

    def _set(self, **values):
        object.__setattr__(self, "_values", tuple(values[f] for f in self._fields))

    def __getattr__(self, name):
        fields = type(self)._fields
        if name in fields:
            return object.__getattribute__(self, "_values")[fields.index(name)]
        raise AttributeError(
            f"'{type(self).__qualname__}' object has no attribute '{name}'"
        )

    def __setattr__(self, name, value):
        raise AttributeError(
            f"attribute '{name}' of '{type(self).__qualname__}' objects is not writable"
        )

    __delattr__ = __setattr__

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self._values))
        return f"{type(self).__qualname__}({args})"


def _variant_of(base):
    """Class decorator: makes the class the variant base.<its name>."""

    def register(cls):
        cls.__qualname__ = f"{base.__name__}.{cls.__name__}"
        setattr(base, cls.__name__, cls)
        return cls

    return register


class PyKeyData(_ComplexEnum):
    """Where a key comes from: ``PyKeyData.File(path)`` or ``PyKeyData.Content(content)``."""

    __slots__ = ()


@_variant_of(PyKeyData)
class File(PyKeyData):
    """The key is read from the file at ``path``."""

    __slots__ = ()
    _fields = ("path",)

    def __init__(self, path: str):
        self._set(path=_str("path", path))


@_variant_of(PyKeyData)
class Content(PyKeyData):
    """The key is ``content`` itself (PEM or JSON text)."""

    __slots__ = ()
    _fields = ("content",)

    def __init__(self, content: str):
        self._set(content=_str("content", content))


class PyKey:
    """A key: its algorithm, its format and where its bytes come from.

    ``algorithm``, ``format`` and ``key`` are read/write attributes.
    """

    __slots__ = ("_algorithm", "_format", "_key")

    def __init__(self, algorithm: PyAlgorithm, format: PyKeyFormat, key: PyKeyData):
        self.algorithm = algorithm
        self.format = format
        self.key = key

    @property
    def algorithm(self) -> PyAlgorithm:
        """The signature algorithm."""
        return self._algorithm

    @algorithm.setter
    def algorithm(self, value: PyAlgorithm) -> None:
        self._algorithm = _instance(PyAlgorithm, "algorithm", value)

    @property
    def format(self) -> PyKeyFormat:
        """The key's encoding."""
        return self._format

    @format.setter
    def format(self, value: PyKeyFormat) -> None:
        self._format = _instance(PyKeyFormat, "format", value)

    @property
    def key(self) -> PyKeyData:
        """Where the key's bytes come from."""
        return self._key

    @key.setter
    def key(self, value: PyKeyData) -> None:
        self._key = _instance(PyKeyData, "key", value)

    def __eq__(self, other):
        if type(other) is not PyKey:
            return NotImplemented
        return (self._algorithm, self._format, self._key) == (
            other._algorithm,
            other._format,
            other._key,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PyKey(algorithm={self._algorithm!r}, format={self._format!r}, key={self._key!r})"


class PyIdentityProvider(_ComplexEnum):
    """How this app proves its identity: StaticJwt, Jwt or SharedSecret."""

    __slots__ = ()


@_variant_of(PyIdentityProvider)
class StaticJwt(PyIdentityProvider):
    """A ready-made JWT read from the file at ``path``."""

    __slots__ = ()
    _fields = ("path",)

    def __init__(self, path: str):
        self._set(path=_str("path", path))


@_variant_of(PyIdentityProvider)
class Jwt(PyIdentityProvider):
    """JWTs signed with ``private_key``, each valid for ``duration``."""

    __slots__ = ()
    _fields = ("private_key", "duration", "issuer", "audience", "subject")

    def __init__(
        self,
        private_key: PyKey,
        duration: datetime.timedelta,
        issuer: str | None = None,
        audience: list[str] | None = None,
        subject: str | None = None,
    ):
        self._set(
            private_key=_instance(PyKey, "private_key", private_key),
            duration=_timedelta("duration", duration),
            issuer=_opt_str("issuer", issuer),
            audience=_opt_str_list("audience", audience),
            subject=_opt_str("subject", subject),
        )


class _SharedSecretFields:
    """Fields and constructor of both SharedSecret variants."""

    __slots__ = ()
    _fields = ("identity", "shared_secret")

    def __init__(self, identity: str, shared_secret: str):
        self._set(
            identity=_str("identity", identity),
            shared_secret=_str("shared_secret", shared_secret),
        )


@_variant_of(PyIdentityProvider)
class SharedSecret(_SharedSecretFields, PyIdentityProvider):
    """A secret shared by all apps; the token names ``identity``."""

    __slots__ = ()


class PyIdentityVerifier(_ComplexEnum):
    """How this app checks its peers' identities: Jwt or SharedSecret."""

    __slots__ = ()


@_variant_of(PyIdentityVerifier)
class Jwt(PyIdentityVerifier):  # noqa: F811 (a variant of another enum)
    """JWTs checked with ``public_key`` (or keys resolved from the issuer)."""

    __slots__ = ()
    _fields = (
        "public_key",
        "autoresolve",
        "issuer",
        "audience",
        "subject",
        "require_iss",
        "require_aud",
        "require_sub",
    )

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
    ):
        self._set(
            public_key=None
            if public_key is None
            else _instance(PyKey, "public_key", public_key),
            autoresolve=_bool("autoresolve", autoresolve),
            issuer=_opt_str("issuer", issuer),
            audience=_opt_str_list("audience", audience),
            subject=_opt_str("subject", subject),
            require_iss=_bool("require_iss", require_iss),
            require_aud=_bool("require_aud", require_aud),
            require_sub=_bool("require_sub", require_sub),
        )


@_variant_of(PyIdentityVerifier)
class SharedSecret(_SharedSecretFields, PyIdentityVerifier):  # noqa: F811
    """Accepts tokens made with the same ``shared_secret``."""

    __slots__ = ()


class PySessionConfiguration(_ComplexEnum):
    """Configuration of a session: Anycast, Unicast or Multicast."""

    __slots__ = ()


@_variant_of(PySessionConfiguration)
class Anycast(PySessionConfiguration):
    """Point-to-point session with no fixed peer; each message goes to any one instance."""

    __slots__ = ()
    _fields = ("timeout", "max_retries", "mls_enabled")

    def __init__(
        self,
        timeout: datetime.timedelta | None = None,
        max_retries: int | None = None,
        mls_enabled: bool = False,
    ):
        self._set(
            timeout=_opt_timedelta("timeout", timeout),
            max_retries=_opt_u32("max_retries", max_retries),
            mls_enabled=_bool("mls_enabled", mls_enabled),
        )


@_variant_of(PySessionConfiguration)
class Unicast(PySessionConfiguration):
    """Point-to-point session with the peer ``unicast_name``."""

    __slots__ = ()
    _fields = ("unicast_name", "timeout", "max_retries", "mls_enabled", "metadata")

    def __init__(
        self,
        unicast_name,
        timeout: datetime.timedelta | None = None,
        max_retries: int | None = None,
        mls_enabled: bool = False,
        metadata: dict[str, str] = {},  # noqa: B006 (upstream's default; copied)
    ):
        self._set(
            unicast_name=_name("unicast_name", unicast_name),
            timeout=_opt_timedelta("timeout", timeout),
            max_retries=_opt_u32("max_retries", max_retries),
            mls_enabled=_bool("mls_enabled", mls_enabled),
            metadata=_metadata("metadata", metadata),
        )


@_variant_of(PySessionConfiguration)
class Multicast(PySessionConfiguration):
    """Group session on the channel ``channel_name``; the creator is the moderator."""

    __slots__ = ()
    _fields = ("channel_name", "max_retries", "timeout", "mls_enabled", "metadata")

    def __init__(
        self,
        channel_name,
        max_retries: int = 0,
        timeout: datetime.timedelta = datetime.timedelta(milliseconds=1000),
        mls_enabled: bool = False,
        metadata: dict[str, str] = {},  # noqa: B006 (upstream's default; copied)
    ):
        self._set(
            channel_name=_name("channel_name", channel_name),
            max_retries=_u32("max_retries", max_retries),
            timeout=_timedelta("timeout", timeout),
            mls_enabled=_bool("mls_enabled", mls_enabled),
            metadata=_metadata("metadata", metadata),
        )


# The variant classes are reachable only through their enum class.
del File, Content, StaticJwt, Jwt, SharedSecret, Anycast, Unicast, Multicast
