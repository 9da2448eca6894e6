"""The programs of examples/python, run as a user runs them (subprocesses).

multicast.py (the user's group chat) runs in `make run` and its test
(run.main_job); here: slim.py as the node, point_to_point.py answering and
asking over anycast and over unicast with MLS, the --help of each, and a
moderator that cannot reach its node.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from conftest import free_port

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python"
SECRET = "a-secret-for-the-example-tests-0123456789"


def run(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_line(proc: subprocess.Popen, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return line
    pytest.fail(f"no line with {text!r}; saw: {''.join(seen)!r}")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.parametrize("script", ["multicast.py", "point_to_point.py", "slim.py"])
def test_help(script):
    r = run(script, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout and "--shared-secret" in r.stdout


def test_python_node_and_request_reply():
    port = free_port()
    node = start(
        "slim.py",
        "--slim", json.dumps({"endpoint": f"127.0.0.1:{port}", "tls": {"insecure": True}}),
        "--shared-secret", SECRET,
    )
    answerer = None
    try:
        wait_line(node, "node listening on")
        client = json.dumps({"endpoint": f"http://127.0.0.1:{port}", "tls": {"insecure": True}})
        common = ["--slim", client, "--shared-secret", SECRET]
        answerer = start("point_to_point.py", "--local", "org/ns/bob", *common)
        wait_line(answerer, "Waiting for session")

        anycast = run(
            "point_to_point.py", "--local", "org/ns/alice", "--remote", "org/ns/bob",
            "--message", "ping", "--iterations", "3", *common,
        )
        assert anycast.returncode == 0, anycast.stdout + anycast.stderr
        for i in (1, 2, 3):
            assert f"<- org/ns/bob/" in anycast.stdout
            assert f"ping ({i}/3) from org/ns/bob" in anycast.stdout, anycast.stdout

        unicast = run(
            "point_to_point.py", "--local", "org/ns/carol", "--remote", "org/ns/bob",
            "--message", "secret", "--iterations", "2", "--unicast", "--enable-mls", *common,
        )
        assert unicast.returncode == 0, unicast.stdout + unicast.stderr
        assert "secret (2/2) from org/ns/bob" in unicast.stdout, unicast.stdout

        # a name nobody runs: an error and exit 1, not a hang
        nobody = run(
            "point_to_point.py", "--local", "org/ns/dave", "--remote", "org/ns/nobody",
            "--message", "anyone?", "--unicast", *common, timeout=60,
        )
        assert nobody.returncode == 1, nobody.stdout + nobody.stderr
        assert "error:" in nobody.stdout
    finally:
        out = stop(answerer) if answerer else ""
        node_out = stop(node)
    assert "<- org/ns/alice/" in out and "<- org/ns/carol/" in out, out
    assert "node stopped" in node_out, node_out


def test_moderator_without_a_node_fails_cleanly():
    r = run(
        "multicast.py", "--local", "org/ns/moderator", "--remote", "org/ns/chat",
        "--invites", "org/ns/client-1",
        "--slim", json.dumps({"endpoint": f"http://127.0.0.1:{free_port()}"}),
        "--shared-secret", SECRET, "--message", "hello",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error:" in r.stdout and "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_bad_name_is_a_usage_error():
    r = run("multicast.py", "--local", "org/ns", "--shared-secret", SECRET)
    assert r.returncode != 0
    assert "organization/namespace/service" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
