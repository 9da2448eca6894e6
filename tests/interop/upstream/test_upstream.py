"""Interop with upstream SLIM's own code: applications and a node built from
upstream's Rust core (the Node.js SDK @agntcy/slim-bindings, pinned in
package.json here), each in its own process, against real `slim` processes
of ours. Every scenario checks what arrives (payloads, senders, counts).

Usage: test_upstream.py SCENARIO   (see SCENARIOS at the bottom)

Environment (set by ctest): SLIM_BIN (our node), SLIM_PYDIR (generated
Python stubs, for slimnode.py), SLIM_UPSTREAM_MODULES (the node_modules
folder install.sh filled), SLIM_P2P_BIN (examples/c/slim_p2p, an app of
ours built on our C client library; only the p2p-* scenarios use it).

Header MAC: upstream's apps and nodes require a per-hop header MAC by
default (require_header_mac: true), and so do our nodes. HEADER_MAC = "on"
runs every upstream program with its defaults; "off" would switch the MAC
off in the upstream programs (our nodes keep theirs on, and then refuse
them). The suite prints which.
"""
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))

import slimnode  # noqa: E402
from tcpproxy import Proxy  # noqa: E402

HEADER_MAC = "on"
APP = os.path.join(HERE, "upstream_app.mjs")
COUNT = 5  # messages each sender sends


def upstream_secret():
    """The shared secret the upstream apps hold (SECRET in upstream_app.mjs),
    for our apps to hold the same one."""
    with open(APP) as f:
        m = re.search(r"^const SECRET = '([^']+)';$", f.read(), re.M)
    assert m, f"no SECRET constant in {APP}"
    return m.group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """One upstream program (upstream_app.mjs ROLE ...). Its JSON event
    lines are queued; everything else it prints (upstream's own tracing)
    is kept for the failure report."""

    def __init__(self, label, role, *args):
        self.start(label, ["node", APP, role, "--header-mac", HEADER_MAC, *map(str, args)],
                   dict(os.environ, NO_COLOR="1", RUST_LOG_STYLE="never"))

    def start(self, label, cmd, env):
        self.label = label
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self.events = queue.Queue()
        self.log = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.log.append(line)
            if line.startswith('{"event"'):
                ev = json.loads(line)
                ev["t"] = time.time()
                self.events.put(ev)
        self.events.put({"event": "exit", "t": time.time()})

    def send(self, line):
        """Writes one command line on the program's stdin."""
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(self, kind, timeout=60):
        """Returns the events up to and including the first `kind`; fails on
        an error event, an early exit or the timeout."""
        seen = []
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                self.fail(f"no '{kind}' event within {timeout} s")
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(ev)
            if ev["event"] == kind:
                return seen
            if ev["event"] in ("error", "exit"):
                self.fail(f"waiting for '{kind}', got {ev}")

    def tail(self, lines=40):
        return "\n".join("    " + ln for ln in self.log[-lines:])

    def fail(self, why):
        raise AssertionError(f"{self.label}: {why}\n  its last output:\n{self.tail()}")

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Ours(Upstream):
    """Our example app examples/c/slim_p2p (ROLE receiver or sender), built
    on our C client library, with the upstream apps' shared secret. It
    prints the same JSON event lines as upstream_app.mjs; our library's log
    (stderr) goes to the failure report."""

    def __init__(self, label, role, *args):
        binary = os.environ.get("SLIM_P2P_BIN")
        if not binary:
            raise AssertionError("SLIM_P2P_BIN is not set (the path of examples/c/slim_p2p)")
        self.start(label, [binary, role, "--secret", upstream_secret(), *map(str, args)],
                   dict(os.environ, SLIM_LOG="info"))


class GroupOurs(Upstream):
    """Our group test app tests/interop/group_peer.c (ROLE moderator or
    participant, the options of upstream_app.mjs), built on our C client
    library, with the upstream apps' shared secret."""

    def __init__(self, label, role, *args):
        binary = os.environ.get("SLIM_GROUP_PEER_BIN")
        if not binary:
            raise AssertionError("SLIM_GROUP_PEER_BIN is not set (the path of group_peer)")
        self.start(label, [binary, role, "--secret", upstream_secret(), *map(str, args)],
                   dict(os.environ, SLIM_LOG=os.environ.get("SLIM_LOG", "info")))


class Stack:
    """Everything a scenario started, closed in reverse order."""

    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return item

    def node(self, **kw):
        return self.add(slimnode.Node(**kw))

    def upstream(self, label, role, *args):
        return self.add(Upstream(label, role, *args))

    def ours(self, label, role, *args):
        return self.add(Ours(label, role, *args))

    def group_app(self, kind, label, role, *args):
        """A group app: kind "upstream" (upstream_app.mjs) or "ours"
        (tests/interop/group_peer)."""
        cls = Upstream if kind == "upstream" else GroupOurs
        return self.add(cls(f"{label} ({kind})", role, *args))

    def close(self):
        for item in reversed(self.items):
            item.close()


def url(port):
    return f"http://127.0.0.1:{port}"


def recv_events(events):
    return [(e["from"], e["payload"]) for e in events if e["event"] == "recv"]


def expect_equal(what, got, want):
    if got != want:
        raise AssertionError(f"{what}:\n  got  {got}\n  want {want}")


def point_to_point(st, receiver_port, sender_port, tag="", receiver="upstream",
                   sender="upstream", mls=False):
    """An app (bob) waits for a session; another (alice) opens a
    point-to-point session to bob and sends COUNT messages, each answered.
    Both ends check every payload, its sender and the order. receiver and
    sender say whose app plays each: "upstream" (upstream_app.mjs, on
    upstream's SDK) or "ours" (examples/c/slim_p2p, on our C library)."""
    bob_name, alice_name = "org/ns/bob" + tag, "org/ns/alice" + tag
    start = {"upstream": st.upstream, "ours": st.ours}
    bob = start[receiver](f"receiver {bob_name} ({receiver})", "receiver", "--name", bob_name,
                          "--server", url(receiver_port), "--count", COUNT)
    bob.wait_for("ready")
    alice = start[sender](f"sender {alice_name} ({sender})", "sender", "--name", alice_name,
                          "--to", bob_name, "--server", url(sender_port), "--count", COUNT,
                          *(["--mls"] if mls else []))
    try:
        check_point_to_point(bob, alice, bob_name, alice_name, receiver, sender)
    except AssertionError as e:
        # One side's failure is often explained by the other's output.
        time.sleep(1)
        raise AssertionError(f"{e}\n  meanwhile, {bob.label}:\n{bob.tail(20)}\n"
                             f"  and {alice.label}:\n{alice.tail(20)}") from None


def check_point_to_point(bob, alice, bob_name, alice_name, receiver, sender):
    sent = [f"msg {i} from {alice_name}" for i in range(COUNT)]
    bob_events = bob.wait_for("done")
    expect_equal(f"what {bob_name} ({receiver}) received", recv_events(bob_events),
                 [(alice_name, p) for p in sent])
    expect_equal(f"what {alice_name} ({sender}) received", recv_events(alice.wait_for("done")),
                 [(bob_name, "ack:" + p) for p in sent])
    if receiver == "ours":
        # Our receiver waits for the sender to close the session before it
        # is done: the close must have reached it.
        expect_equal(f"how the session ended for {bob_name} (ours)",
                     bob_events[-1].get("peer"), "closed")
        sessions = [e for e in bob_events if e["event"] == "session"]
        expect_equal(f"the session {bob_name} (ours) saw", [e.get("from") for e in sessions],
                     [alice_name])
    for app in (bob, alice):
        code = app.proc.wait(timeout=30)
        if code != 0:
            app.fail(f"exit status {code} after its 'done'")


def group(st, moderator_port, participant_ports, mls=True):
    """An upstream moderator creates a group session (MLS on or off) on a
    channel, invites two upstream participants, and each of the three sends
    COUNT messages. Every member must receive exactly the others' messages,
    each once and in order per sender. Returns the members' names."""
    names = ["org/ns/p1", "org/ns/p2"]
    flags = ["--mls"] if mls else []
    expect = 2 * COUNT
    parts = [st.upstream(f"participant {n}", "participant", "--name", n, "--server", url(port),
                         "--count", COUNT, "--expect", expect, *flags)
             for n, port in zip(names, participant_ports)]
    for p in parts:
        p.wait_for("ready")
    mod = st.upstream("moderator", "moderator", "--name", "org/ns/mod",
                      "--channel", "org/ns/chat", "--invite", ",".join(names),
                      "--server", url(moderator_port), "--count", COUNT, "--expect", expect,
                      *flags)
    members = ["org/ns/mod"] + names
    events = {"org/ns/mod": mod.wait_for("done", timeout=90)}
    for n, p in zip(names, parts):
        events[n] = p.wait_for("done", timeout=90)
    invited = [e["name"] for e in events["org/ns/mod"] if e["event"] == "invited"]
    expect_equal("invited", invited, names)
    listed = [e["names"] for e in events["org/ns/mod"] if e["event"] == "members"]
    expect_equal("the moderator's member list", listed, [sorted(members)])
    for me in members:
        got = recv_events(events[me])
        for other in members:
            if other == me:
                continue
            from_other = [p for (src, p) in got if src == other]
            expect_equal(f"what {me} received from {other}", from_other,
                         [f"msg {i} from {other}" for i in range(COUNT)])
        expect_equal(f"number of messages {me} received", len(got), expect)
    return members


def group_remove_close(st, port, moderator, members, removed, mls=False):
    """A moderator (kind "upstream" or "ours") creates a group on a channel
    and invites the participants `members` ([(name, kind)], in that order);
    each of them and the moderator sends COUNT messages, and every member
    must receive exactly the others' messages, each once, in order per
    sender. Then the moderator removes `removed` (a participant's name):
    that participant's session must end, and only its; then the moderator
    closes the group: every remaining participant's session must end. Each
    app's events are checked: invitations, member lists, payloads, how the
    sessions ended."""
    mod_name = "org/ns/mod"
    names = [n for n, _ in members]
    everyone = [mod_name] + names
    expect = (len(everyone) - 1) * COUNT
    flags = ["--mls"] if mls else []
    parts = {}
    for n, kind in members:
        parts[n] = st.group_app(kind, f"participant {n}", "participant", "--name", n,
                                "--server", url(port), "--count", COUNT, "--expect", expect,
                                "--until-end", *flags)
    for p in parts.values():
        p.wait_for("ready")
    mod = st.group_app(moderator, f"moderator {mod_name}", "moderator", "--name", mod_name,
                       "--channel", "org/ns/chat", "--invite", ",".join(names),
                       "--server", url(port), "--count", COUNT, "--expect", expect,
                       "--commands", *flags)
    apps = [mod] + list(parts.values())
    try:
        check_group_remove_close(mod, parts, everyone, names, removed, expect)
    except AssertionError as e:
        time.sleep(1)
        raise AssertionError(f"{e}\n" + "".join(
            f"  meanwhile, {a.label}:\n{a.tail(25)}\n" for a in apps)) from None


def ended_how(events):
    e = events[-1]
    return e.get("status") or e.get("error")


def check_group_remove_close(mod, parts, everyone, names, removed, expect):
    mod_name = everyone[0]
    events = {mod_name: mod.wait_for("done", timeout=40)}
    for n, p in parts.items():
        events[n] = p.wait_for("done", timeout=40)
    expect_equal("invited", [e["name"] for e in events[mod_name] if e["event"] == "invited"],
                 names)
    expect_equal("the moderator's member list",
                 [e["names"] for e in events[mod_name] if e["event"] == "members"],
                 [sorted(everyone)])
    for me in everyone:
        got = recv_events(events[me])
        for other in everyone:
            if other != me:
                expect_equal(f"what {me} received from {other}",
                             [p for (src, p) in got if src == other],
                             [f"msg {i} from {other}" for i in range(COUNT)])
        expect_equal(f"number of messages {me} received", len(got), expect)

    # The removal: the removed participant's session ends, and only its.
    t_remove = time.time()
    mod.send(f"remove {removed}")
    after = [e for e in mod.wait_for("members", timeout=20) if e["event"] != "member"]
    expect_equal("the moderator's answer to the removal", [e["event"] for e in after],
                 ["removed", "members"])
    expect_equal("the moderator's member list after the removal", after[-1]["names"],
                 sorted(n for n in everyone if n != removed))
    gone = parts[removed].wait_for("ended", timeout=20)
    print(f"{parts[removed].label}: its session ended: {ended_how(gone)}")
    extra = [e for e in gone if e["event"] == "extra"]
    expect_equal(f"messages {removed} received after its 'done'", extra, [])
    if isinstance(parts[removed], GroupOurs):
        expect_equal(f"how the session of {removed} (ours) ended", ended_how(gone),
                     "E_SESSION_REMOVED")

    # The close: every remaining participant's session ends, after it.
    time.sleep(0.5)
    t_close = time.time()
    mod.send("close")
    mod.wait_for("closed", timeout=20)
    for n, p in parts.items():
        if n == removed:
            continue
        evs = p.wait_for("ended", timeout=20)
        print(f"{p.label}: its session ended: {ended_how(evs)}")
        if evs[-1]["t"] < t_close:
            p.fail(f"its session ended ({ended_how(evs)}) before the moderator closed the "
                   f"group, {t_close - evs[-1]['t']:.2f} s before (the removal of {removed} "
                   f"was {t_close - t_remove:.2f} s before the close)")
        expect_equal(f"messages {n} received after its 'done'",
                     [e for e in evs if e["event"] == "extra"], [])
        if isinstance(p, GroupOurs):
            expect_equal(f"how the session of {n} (ours) ended", ended_how(evs),
                         "E_SESSION_MODERATOR_CLOSED")
            left = [e["name"] for e in evs if e["event"] == "member" and e["change"] == "left"]
            expect_equal(f"the members {n} (ours) saw leave", left, [removed])
    for a in [mod] + list(parts.values()):
        code = a.proc.wait(timeout=20)
        if code != 0:
            a.fail(f"exit status {code} at the end")


# ---- scenarios ----

def sc_point_to_point():
    """(a) 1->1 through one node of ours."""
    st = Stack()
    try:
        n = st.node()
        point_to_point(st, n.port, n.port)
    finally:
        st.close()


def tapped_group(mls):
    """A group on one node of ours, with participant p2 reaching the node
    through a recording proxy. Returns the members and the bytes that
    crossed the proxy."""
    st = Stack()
    try:
        n = st.node()
        tap = st.add(Proxy(n.port))
        tap.record = True
        members = group(st, n.port, [n.port, tap.port], mls=mls)
        return members, tap.recorded()
    finally:
        st.close()


def sc_group_mls():
    """(b) a group with MLS, all three apps on one node of ours: with MLS
    on, no payload may cross the proxy in clear text."""
    members, seen = tapped_group(mls=True)
    assert len(seen) > 0, "nothing crossed the recording proxy"
    for m in members:
        if f"msg 0 from {m}".encode() in seen:
            raise AssertionError(f"'msg 0 from {m}' crossed the proxy in clear text "
                                 "although MLS is on")


def sc_group_plain():
    """The same group without MLS: the proxy does see the payloads (those p2
    receives), which shows that the clear-text check of sc_group_mls can
    fail."""
    members, seen = tapped_group(mls=False)
    for m in members:
        if m != "org/ns/p2" and f"msg 0 from {m}".encode() not in seen:
            raise AssertionError(f"'msg 0 from {m}' not seen in clear text without MLS")


def sc_group_mls_chain():
    """(b) a group with MLS through a chain of two of our nodes: the
    moderator and p1 on the first, p2 on the second, which dials the first."""
    st = Stack()
    try:
        a = st.node(node_name="a")
        b = st.node(node_name="b", clients=(a.port,))
        group(st, a.port, [a.port, b.port], mls=True)
    finally:
        st.close()


def peer_client_yaml(port):
    return (f"        - endpoint: \"http://127.0.0.1:{port}\"\n"
            "          connection_type: peer\n")


def sc_upstream_node_ours_dials():
    """(c) our node dials upstream's node (the SDK's runServer) as a PEER:
    the two exchange subscriptions, and a point-to-point session runs
    between an app on each node, each direction once."""
    st = Stack()
    try:
        port = free_port()
        up = st.upstream("upstream node", "server", "--listen", f"127.0.0.1:{port}")
        up.wait_for("ready")
        ours = st.node(client_yaml=peer_client_yaml(port))
        point_to_point(st, ours.port, port, "-1")
        point_to_point(st, port, ours.port, "-2")
    finally:
        st.close()


def sc_upstream_node_dials_ours():
    """(c) upstream's node dials ours as a PEER (built from upstream's own
    YAML configuration: the SDK's ClientConfig has no connection_type), then
    point-to-point sessions between an app on each node, both directions."""
    st = Stack()
    try:
        ours = st.node()
        port = free_port()
        up = st.upstream("upstream node", "server", "--listen", f"127.0.0.1:{port}",
                         "--dial", url(ours.port))
        up.wait_for("ready")
        point_to_point(st, ours.port, port, "-1")
        point_to_point(st, port, ours.port, "-2")
    finally:
        st.close()


def sc_p2p_upstream_to_ours():
    """An app on upstream's SDK opens a point-to-point session with an app
    of ours (examples/c/slim_p2p on our C client library), through one node
    of ours: upstream's sender, our receiver."""
    st = Stack()
    try:
        n = st.node()
        point_to_point(st, n.port, n.port, receiver="ours", sender="upstream")
    finally:
        st.close()


def sc_p2p_ours_to_upstream():
    """The other way: our sender (examples/c/slim_p2p) opens the session
    with an app on upstream's SDK, through one node of ours."""
    st = Stack()
    try:
        n = st.node()
        point_to_point(st, n.port, n.port, receiver="upstream", sender="ours")
    finally:
        st.close()


def p2p_mls(receiver, sender):
    """A point-to-point session with MLS (the sender's choice; §5.2: the
    two-member group made at the join), through one node of ours; the
    receiver reaches it through a recording proxy, which must see no
    payload in clear text."""
    def run():
        st = Stack()
        try:
            n = st.node()
            tap = st.add(Proxy(n.port))
            tap.record = True
            point_to_point(st, tap.port, n.port, receiver=receiver, sender=sender, mls=True)
            seen = tap.recorded()
        finally:
            st.close()
        assert len(seen) > 0, "nothing crossed the recording proxy"
        for text in (b"msg 0 from org/ns/alice", b"ack:msg 0"):
            if text in seen:
                raise AssertionError(f"{text!r} crossed the proxy in clear text with MLS on")
    return run


sc_p2p_mls_upstream_to_ours = p2p_mls("ours", "upstream")
sc_p2p_mls_ours_to_upstream = p2p_mls("upstream", "ours")
sc_p2p_mls_ours_to_ours = p2p_mls("ours", "ours")


def sc_p2p_ours_to_ours():
    """The baseline of the two above, without upstream's SDK: our sender and
    our receiver (both examples/c/slim_p2p) through one node of ours. When
    this passes and one of those fails, the difference is on the wire."""
    st = Stack()
    try:
        n = st.node()
        point_to_point(st, n.port, n.port, receiver="ours", sender="ours")
    finally:
        st.close()


def group_scenario(moderator, members, removed, mls=False):
    """With SLIM_WIRE_DUMP set to a file name, the apps reach the node
    through a decoding tap (grpctap.py), and every message they send and
    receive is written to that file, decoded, one line each."""
    def run():
        st = Stack()
        dump = os.environ.get("SLIM_WIRE_DUMP")
        tap = None
        try:
            n = st.node()
            port = n.port
            if dump:
                import grpctap
                tap = st.add(grpctap.Tap(n.port))
                port = tap.port
            group_remove_close(st, port, moderator, members, removed, mls=mls)
        finally:
            st.close()
            if tap is not None:
                with open(dump, "w") as f:
                    f.write(tap.dump())
                print(f"the decoded messages: {dump}")
    return run


# Groups without MLS through one node of ours, with a removal and the close.
# The all-upstream one checks the harness (and upstream's behaviour) with
# upstream's code alone; the all-ours one is the baseline of the two mixed
# ones without the SDK.
sc_group_upstream_only = group_scenario(
    "upstream", [("org/ns/u1", "upstream"), ("org/ns/u2", "upstream"),
                 ("org/ns/u3", "upstream")], "org/ns/u1")
sc_group_upstream_moderates_ours = group_scenario(
    "upstream", [("org/ns/c1", "ours"), ("org/ns/c2", "ours"), ("org/ns/u1", "upstream")],
    "org/ns/c1")
sc_group_ours_moderates_upstream = group_scenario(
    "ours", [("org/ns/u1", "upstream"), ("org/ns/u2", "upstream"), ("org/ns/c1", "ours")],
    "org/ns/u1")
# The same with MLS: upstream's mls-rs and our MLS in one group, each side
# moderating (committing) once.
sc_group_mls_upstream_moderates_ours = group_scenario(
    "upstream", [("org/ns/c1", "ours"), ("org/ns/c2", "ours"), ("org/ns/u1", "upstream")],
    "org/ns/c1", mls=True)
sc_group_mls_ours_moderates_upstream = group_scenario(
    "ours", [("org/ns/u1", "upstream"), ("org/ns/u2", "upstream"), ("org/ns/c1", "ours")],
    "org/ns/u1", mls=True)
sc_group_mls_ours_only = group_scenario(
    "ours", [("org/ns/c1", "ours"), ("org/ns/c2", "ours"), ("org/ns/c3", "ours")],
    "org/ns/c1", mls=True)
sc_group_ours_only = group_scenario(
    "ours", [("org/ns/c1", "ours"), ("org/ns/c2", "ours"), ("org/ns/c3", "ours")],
    "org/ns/c1")


SCENARIOS = {
    "point-to-point": sc_point_to_point,
    "group-mls": sc_group_mls,
    "group-plain": sc_group_plain,
    "group-mls-chain": sc_group_mls_chain,
    "upstream-node-ours-dials": sc_upstream_node_ours_dials,
    "upstream-node-dials-ours": sc_upstream_node_dials_ours,
    "p2p-upstream-to-ours": sc_p2p_upstream_to_ours,
    "p2p-ours-to-upstream": sc_p2p_ours_to_upstream,
    "p2p-ours-to-ours": sc_p2p_ours_to_ours,
    "p2p-mls-upstream-to-ours": sc_p2p_mls_upstream_to_ours,
    "p2p-mls-ours-to-upstream": sc_p2p_mls_ours_to_upstream,
    "p2p-mls-ours-to-ours": sc_p2p_mls_ours_to_ours,
    "group-remove-close": sc_group_upstream_only,
    "group-upstream-moderates-ours": sc_group_upstream_moderates_ours,
    "group-ours-moderates-upstream": sc_group_ours_moderates_upstream,
    "group-ours-only": sc_group_ours_only,
    "group-mls-upstream-moderates-ours": sc_group_mls_upstream_moderates_ours,
    "group-mls-ours-moderates-upstream": sc_group_mls_ours_moderates_upstream,
    "group-mls-ours-only": sc_group_mls_ours_only,
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: test_upstream.py " + "|".join(SCENARIOS))
    print(f"upstream SDK interop: {sys.argv[1]} (upstream header MAC {HEADER_MAC})")
    t0 = time.time()
    SCENARIOS[sys.argv[1]]()
    print(f"ok ({time.time() - t0:.1f} s)")
