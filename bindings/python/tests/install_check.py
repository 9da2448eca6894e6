#!/usr/bin/python3
"""The ctest entry python.install: slim_bindings installs with pip and works.

As a user would (README.md, "Install"), offline: makes a virtual environment
with --system-site-packages in a temporary directory, runs
`pip install --no-build-isolation --no-index ./bindings/python` in it, then,
from / and without PYTHONPATH, imports slim_bindings and checks that it comes
from the environment's site-packages (not the build tree), that no libslim.so
is loaded (libslim is linked into the extension), and that an app with a
shared secret can be made.

With SLIM_BUILD_DIR set (ctest sets it to its build directory) setup.py links
that build's libslim.a instead of building libslim again. With --full,
SLIM_BUILD_DIR is ignored and setup.py builds libslim with CMake (Release, in
bindings/python/build/libslim-Release/, about 30 s from scratch on 2 cores):
not a ctest entry, because that build directory is in the source tree and
shared by every build directory's ctest. Not named test_*.py: it is not a
pytest file.

    install_check.py [--full] [--keep]     # --keep: leave the temporary directory
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

BINDINGS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run by the venv's python from /: the module must be the installed one.
CHECK = r"""
import asyncio, os, sys, sysconfig
import slim_bindings
from slim_bindings import _slim_bindings

site = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
for mod in (slim_bindings, _slim_bindings):
    path = os.path.realpath(mod.__file__)
    assert any(path.startswith(s + os.sep) for s in site), (mod.__name__, path, site)
    print(mod.__name__, "from", path)
assert os.path.realpath(sys.prefix) == os.path.realpath(sys.argv[1]), (sys.prefix, sys.argv[1])
with open("/proc/self/maps") as f:
    libslim = sorted({l.split()[-1] for l in f if "libslim" in l})
assert not libslim, libslim
print(slim_bindings.get_build_info())

# The controller's API modules come with the package.
from controlplane.v1 import controlplane_pb2, controlplane_pb2_grpc
from grpc_api import grpc_api_pb2
req = controlplane_pb2.CreateConnectionRequest(
    connection=grpc_api_pb2.Connection(connection_id="http://127.0.0.1:46357",
                                       config_data='{"endpoint": "http://127.0.0.1:46357"}'),
    node_id="slim/0")
assert req.connection.connection_id == "http://127.0.0.1:46357"
assert controlplane_pb2_grpc.ControlPlaneServiceStub
for mod in (controlplane_pb2, grpc_api_pb2):
    path = os.path.realpath(mod.__file__)
    assert any(path.startswith(s + os.sep) for s in site), (mod.__name__, path, site)


async def main():
    secret = "a-shared-secret-of-the-install-check-0123456789"
    name = slim_bindings.PyName("org", "ns", "install-check")
    provider = slim_bindings.PyIdentityProvider.SharedSecret(
        identity="install-check", shared_secret=secret)
    verifier = slim_bindings.PyIdentityVerifier.SharedSecret(
        identity="install-check", shared_secret=secret)
    app = await slim_bindings.Slim.new(name, provider, verifier)
    local = app.local_name
    print("local_name", local)
    assert local.components_strings()[:3] == ["org", "ns", "install-check"], local
    await app.close()

asyncio.run(main())
print("install check: OK")
"""


def run(cmd, **kw):
    shown = ["<check>" if c == CHECK else c for c in cmd]
    print("+", " ".join(shown), flush=True)
    subprocess.run(cmd, check=True, **kw)


def main() -> int:
    args = sys.argv[1:]
    unknown = set(args) - {"--full", "--keep"}
    if unknown:
        print(__doc__, file=sys.stderr)
        return 2
    keep = "--keep" in args
    tmp = tempfile.mkdtemp(prefix="slim-py-install-")
    venv = os.path.join(tmp, "venv")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
           and not k.startswith("PIP_")
           and not (k == "SLIM_BUILD_DIR" and "--full" in args)}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    before = set(os.listdir(BINDINGS))
    try:
        t0 = time.monotonic()
        run([sys.executable, "-m", "venv", "--system-site-packages", venv], env=env)
        t1 = time.monotonic()
        py = os.path.join(venv, "bin", "python")
        run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
             "--no-cache-dir", BINDINGS], env=env)
        t2 = time.monotonic()
        run([py, "-c", CHECK, venv], env=env, cwd="/")
        print("venv %.1fs, pip install %.1fs (SLIM_BUILD_DIR=%s)"
              % (t1 - t0, t2 - t1, env.get("SLIM_BUILD_DIR", "unset")))
        # The build left nothing beside the sources (with SLIM_BUILD_DIR,
        # setuptools builds under it).
        if env.get("SLIM_BUILD_DIR"):
            new = sorted(set(os.listdir(BINDINGS)) - before - {"__pycache__"})
            if new:
                print("pip install left files in %s: %s" % (BINDINGS, new), file=sys.stderr)
                return 1
    except subprocess.CalledProcessError as e:
        print("install check failed: %s" % e, file=sys.stderr)
        return 1
    finally:
        if keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
