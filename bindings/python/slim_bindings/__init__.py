"""slim_bindings: Python bindings of SLIM over the C library libslim.

The API is upstream's of October 2025: ``Slim`` and ``PySession`` (asyncio), the
value classes (``PyName``, identities, keys, session configurations), the service
classes and module functions, ``SLIMTimeoutError`` and the version functions.
"""

from . import _service, _slim_bindings
from ._service import *  # noqa: F403 (PyService, PySessionContext, the functions)
from ._slim_bindings import (
    PyAlgorithm,
    PyIdentityProvider,
    PyIdentityVerifier,
    PyKey,
    PyKeyData,
    PyKeyFormat,
    PyMessageContext,
    PyName,
    PySessionConfiguration,
    PySessionType,
)
from .errors import SLIMTimeoutError
from .session import PySession
from .slim import Slim
from .version import get_build_info, get_build_profile, get_version

# Upstream's extension module holds the service classes and functions too:
# make them reachable there as well (they are written in Python here).
for _n in _service.__all__:
    setattr(_slim_bindings, _n, getattr(_service, _n))
del _n

__all__ = sorted(
    [
        "PyAlgorithm",
        "PyIdentityProvider",
        "PyIdentityVerifier",
        "PyKey",
        "PyKeyData",
        "PyKeyFormat",
        "PyMessageContext",
        "PyName",
        "PySession",
        "PySessionConfiguration",
        "PySessionType",
        "SLIMTimeoutError",
        "Slim",
        "get_build_info",
        "get_build_profile",
        "get_version",
    ]
    + _service.__all__
)
