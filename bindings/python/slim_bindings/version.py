"""Version and build facts of slim_bindings, from the compiled extension."""

from ._slim_bindings import get_build_info as _get_build_info
from ._slim_bindings import get_build_profile as _get_build_profile
from ._slim_bindings import get_version as _get_version

__all__ = ["get_version", "get_build_profile", "get_build_info"]


def get_version() -> str:
    """The version of libslim under these bindings, e.g. ``"0.1.0"``."""
    return _get_version()


def get_build_profile() -> str:
    """The CMake build type the extension was built with, e.g. ``"RelWithDebInfo"``."""
    return _get_build_profile()


def get_build_info() -> str:
    """``"Version:\\t…\\nBuild Date:\\t…\\nGit SHA:\\t…\\nProfile:\\t…"``."""
    return _get_build_info()
