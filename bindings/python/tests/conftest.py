"""Shared pieces of the binding tests: a real `slim` node, identities, names.

The node is the `slim` binary of the build ($SLIM_BIN, set by the ctest entries),
started on a free port with a YAML config like a user's; tests that need none of
it (the value classes) do not start it.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
import pytest_asyncio

import slim_bindings
from slim_bindings import PyIdentityProvider, PyIdentityVerifier, PyName

SECRET = "a-shared-secret-of-the-binding-tests-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """A `slim` node process on 127.0.0.1:port; stop() and start() again keep the port."""

    def __init__(self, port: int | None = None, tls: str = "{insecure: true}"):
        self.bin = os.environ.get("SLIM_BIN")
        if not self.bin:
            pytest.skip("SLIM_BIN is not set (run through ctest)")
        self.dir = tempfile.mkdtemp(prefix="slim-py-")
        self.port = port or free_port()
        self.tls = tls  # the server's `tls:` block, YAML flow style
        self.proc = None

    @property
    def endpoint(self) -> str:
        scheme = "http" if "insecure: true" in self.tls else "https"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def client_config(self) -> dict:
        """What every upstream example passes to connect()."""
        return {"endpoint": self.endpoint, "tls": {"insecure": True}}

    def start(self) -> None:
        cfg = os.path.join(self.dir, "config.yaml")
        with open(cfg, "w") as f:
            f.write(
                "services:\n"
                "  slim/0:\n"
                "    dataplane:\n"
                "      servers:\n"
                f'        - endpoint: "127.0.0.1:{self.port}"\n'
                f"          tls: {self.tls}\n"
            )
        log = open(os.path.join(self.dir, "node.log"), "ab")
        self.proc = subprocess.Popen(
            [self.bin, "--config", cfg], stdout=subprocess.PIPE, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 20
        seen = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen += line
            if re.search(rb"listening dataplane 127\.0\.0\.1:\d+", seen):
                return
        self.stop()
        raise RuntimeError(f"the node did not start: {seen!r}")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def close(self) -> None:
        self.stop()
        if os.environ.get("SLIM_TEST_KEEP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def node():
    n = Node()
    n.start()
    yield n
    n.close()


def unique(prefix: str) -> str:
    """A service name no other test uses (tests share nothing, even on one node)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def shared_secret(identity: str):
    return (
        PyIdentityProvider.SharedSecret(identity=identity, shared_secret=SECRET),
        PyIdentityVerifier.SharedSecret(identity=identity, shared_secret=SECRET),
    )


async def new_app(name: PyName, node: Node | None = None, connect: bool = True):
    """A Slim app with a shared-secret identity, connected to node."""
    comps = name.components_strings()
    app = await slim_bindings.Slim.new(name, *shared_secret(comps[2]))
    if node is not None and connect:
        await app.connect(node.client_config)
    return app


@pytest_asyncio.fixture
async def apps():
    """Makes apps (apps.new(name, node)) and closes them when the test ends."""

    class Apps:
        def __init__(self):
            self.made = []

        async def new(self, name: PyName, node: Node | None = None, connect: bool = True):
            app = await new_app(name, node, connect)
            self.made.append(app)
            return app

    a = Apps()
    yield a
    for app in a.made:
        await app.close()


async def wait_for(cond, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# ---- helpers the test files share -------------------------------------------------


def secs(s: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=s)


def svc_name(prefix: str) -> PyName:
    return PyName("org", "ns", unique(prefix))


async def recv(session, timeout: float = 10.0):
    """The session's next (ctx, payload), failing the test after timeout."""
    try:
        return await asyncio.wait_for(session.get_message(), timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"no message within {timeout} s")


async def listen(app, timeout: float = 10.0):
    try:
        return await app.listen_for_session(timeout=secs(timeout))
    except TimeoutError:
        pytest.fail(f"no session within {timeout} s")


async def expect_error(coro, timeout: float = 15.0) -> BaseException:
    """The exception coro raises (failing the test if it returns or hangs)."""
    try:
        await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"still waiting after {timeout} s instead of failing")
    except BaseException as e:  # noqa: BLE001 (the caller checks the type)
        return e
    pytest.fail("no exception raised")
