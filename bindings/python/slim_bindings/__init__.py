"""slim_bindings: Python bindings of SLIM over the C library libslim.

This is the foundation only: names, session types, keys, identities and session
configurations, the version functions and SLIMTimeoutError. The asyncio layer
(``Slim``, ``PySession``) and the service functions are not written yet, so they are
not exported; ``__all__`` lists only names that exist.
"""

from ._slim_bindings import (
    PyAlgorithm,
    PyIdentityProvider,
    PyIdentityVerifier,
    PyKey,
    PyKeyData,
    PyKeyFormat,
    PyName,
    PySessionConfiguration,
    PySessionType,
)
from .errors import SLIMTimeoutError
from .version import get_build_info, get_build_profile, get_version

__all__ = [
    "PyAlgorithm",
    "PyIdentityProvider",
    "PyIdentityVerifier",
    "PyKey",
    "PyKeyData",
    "PyKeyFormat",
    "PyName",
    "PySessionConfiguration",
    "PySessionType",
    "SLIMTimeoutError",
    "get_build_info",
    "get_build_profile",
    "get_version",
]
