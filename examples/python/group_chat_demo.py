"""The main job of `make run`: the user's MLS group chat, from Python.

Starts a `slim` node on a free port, two participants and a moderator (each one
`multicast.py` process); the moderator creates an MLS group on a channel and invites
both; everyone says a few lines and prints what it hears and from whom; then the
moderator ends the group and everything stops. The lines of the three programs are
shown as they come, each after its program's name.

    python3 group_chat_demo.py SLIM_BINARY

Exits 0 when every member heard every line of the others, 1 otherwise.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LINES = 3  # each member says this many
SECRET = "a-demo-secret-shared-by-the-three-apps"
MEMBERS = ["org/ns/client-1", "org/ns/client-2"]
MODERATOR = "org/ns/moderator"
CHANNEL = "org/ns/chat"


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(slim: str, workdir: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = os.path.join(workdir, "node.yaml")
    with open(config, "w") as f:
        f.write(
            "services:\n"
            "  slim/0:\n"
            "    dataplane:\n"
            "      servers:\n"
            f'        - endpoint: "127.0.0.1:{port}"\n'
            "          tls: {insecure: true}\n"
        )
    log = open(os.path.join(workdir, "node.log"), "wb")
    node = subprocess.Popen([slim, "--config", config], stdout=subprocess.PIPE, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = node.stdout.readline()
        if not line or b"listening dataplane" in line:
            break
    threading.Thread(target=node.stdout.read, daemon=True).start()  # keep it drained
    return node, port


class App:
    """One multicast.py process; its output lines go to a shared queue."""

    def __init__(self, name: str, args: list[str], out: queue.Queue):
        self.name = name
        self.lines: list[str] = []
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "multicast.py"), "--local", name, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.reader = threading.Thread(target=self._read, args=(out,), daemon=True)
        self.reader.start()

    def _read(self, out: queue.Queue) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            out.put(line)
        out.put(None)


def show_until(out: queue.Queue, until, timeout: float) -> bool:
    """Prints lines as they come until until(line) holds or a producer ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = out.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            return False
        print(line, flush=True)
        if until(line):
            return True
    return False


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    slim = sys.argv[1]
    workdir = tempfile.mkdtemp(prefix="slim-chat-")
    step("Starting a SLIM node")
    node, port = start_node(slim, workdir)
    endpoint = f"http://127.0.0.1:{port}"
    print(f"node listening on {endpoint} (log: {workdir}/node.log)", flush=True)
    slim_cfg = '{"endpoint": "%s", "tls": {"insecure": true}}' % endpoint
    total = LINES * (len(MEMBERS) + 1)
    expect = total - LINES  # everyone else's lines
    common = [
        "--slim", slim_cfg, "--shared-secret", SECRET, "--count", str(LINES),
        "--expect", str(expect), "--timeout", "60",
    ]
    out: queue.Queue = queue.Queue()
    apps = []
    try:
        step(f"Starting the participants {', '.join(MEMBERS)}: they wait to be invited")
        for m in MEMBERS:
            short = m.split("/")[2]
            apps.append(App(m, [*common, "--message", f"hello from {short}"], out))
        waiting = set()

        def all_waiting(line: str) -> bool:
            if "Waiting for session" in line:
                waiting.add(line.split()[0])
            return len(waiting) == len(MEMBERS)

        if not show_until(out, all_waiting, 30):
            print("the participants did not start", flush=True)
            return 1

        step(
            f"Starting the moderator: it creates the channel {CHANNEL} with MLS, "
            "invites both participants, and the chat begins"
        )
        invites = [a for m in MEMBERS for a in ("--invites", m)]
        apps.append(
            App(
                MODERATOR,
                [*common, "--remote", CHANNEL, *invites, "--enable-mls",
                 "--message", "welcome to the chat"],
                out,
            )
        )
        ended = 0
        while ended < len(apps):
            try:
                line = out.get(timeout=90)
            except queue.Empty:
                print("the chat did not finish in time", flush=True)
                return 1
            if line is None:
                ended += 1
            else:
                print(line, flush=True)
        codes = [a.proc.wait() for a in apps]

        step("What each member heard")
        ok = all(c == 0 for c in codes)
        for a in apps:
            heard = [line for line in a.lines if re.search(r"\s<- ", line)]
            senders = sorted({re.search(r"<- (\S+):", h).group(1) for h in heard})
            good = len(heard) == expect
            ok = ok and good
            print(
                f"{a.name}: heard {len(heard)} of {expect} lines, from {', '.join(senders)}"
                f"{'' if good else '  <-- missing some'}",
                flush=True,
            )
        step("Done: the group ended and every program stopped" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        for a in apps:
            if a.proc.poll() is None:
                a.proc.kill()
        node.terminate()
        node.wait(10)


if __name__ == "__main__":
    sys.exit(main())
