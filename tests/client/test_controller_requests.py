"""The application side of "Channels through the controller"
(docs/protocol.md): a moderator app (tests/client/ctl_app.c, over libslim)
connected to a real `slim` node gets CONTROLLER_REQUEST Publishes and
answers them with CONTROLLER_REPLY.

The controller's side is played here by a grpcio EDGE link to the node
(tests/integration/slimnode.py) that subscribes the controller's return
address and sends the requests itself, each with a shared-secret token
made here from docs/identity.md with Python's hmac and hashlib,
independently of the C code.

Environment (set by ctest): SLIM_BIN, SLIM_PYDIR, SLIM_CTL_APP.
"""
import asyncio
import datetime
import os
import queue
import random
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from slimnode import Link, Node, name, pb, shared_secret_token  # noqa: E402
from controller.v1 import controller_pb2 as cpb  # noqa: E402

SECRET = "a-shared-secret-of-at-least-32-characters!"
CONTROLLER = "controller/controller/controller/%x" % random.getrandbits(64)
PAYLOAD_TYPE = "application/x-slim-controller"


def token(secret, ident="controller_Ab3dEf7h"):
    return shared_secret_token(secret, ident)


class App:
    """A ctl_app process, driven line by line."""

    def __init__(self, port, app_name, ident):
        self.proc = subprocess.Popen(
            [os.environ["SLIM_CTL_APP"], str(port), app_name, ident, SECRET],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.line(20)
        assert ready.startswith("READY "), ready
        self.name = ready.split()[1]

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout=15):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the app said nothing within %ss" % timeout) from None

    def cmd(self, text, timeout=15):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.line(timeout)

    def close(self):
        """Stops the app; its exit status (non-zero: it failed, or a
        sanitizer found something)."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            return self.proc.wait(20)
        except Exception:
            self.proc.kill()
            self.proc.wait()
            return -1


def request(dst, cm, tok):
    m = pb.Message()
    h = m.publish.header
    h.source.CopyFrom(name(CONTROLLER))
    h.destination.CopyFrom(name(dst))
    h.fanout = 1
    h.ttl = 8
    if tok is not None:
        m.metadata["SLIM_IDENTITY"] = tok
    s = m.publish.session
    s.session_type = pb.SESSION_TYPE_MULTICAST
    s.session_message_type = pb.SESSION_MESSAGE_TYPE_CONTROLLER_REQUEST
    s.session_id = 0
    s.message_id = random.getrandbits(32)
    m.publish.msg.app_payload.payload_type = PAYLOAD_TYPE
    m.publish.msg.app_payload.blob = cm.SerializeToString()
    return m


def control(**kw):
    cm = cpb.ControlMessage(message_id=str(uuid.uuid4()), **kw)
    return cm


def ask(link, dst, cm, tok=None, wait=20):
    """Sends cm and returns (reply Message, its Ack)."""
    req = request(dst, cm, token(SECRET) if tok is None else tok)
    link.send(req)
    end = time.time() + wait
    while time.time() < end:
        m = link.recv(max(0.1, end - time.time()))
        if not m.HasField("publish"):
            continue
        s = m.publish.session
        assert s.session_message_type == pb.SESSION_MESSAGE_TYPE_CONTROLLER_REPLY, m
        assert s.session_type == pb.SESSION_TYPE_MULTICAST, m
        assert s.message_id == req.publish.session.message_id, (s.message_id,
                                                                req.publish.session.message_id)
        p = m.publish.msg.app_payload
        assert p.payload_type == PAYLOAD_TYPE, p.payload_type
        reply = cpb.ControlMessage.FromString(p.blob)
        assert reply.WhichOneof("payload") == "ack", reply
        assert reply.message_id and reply.message_id != cm.message_id, reply
        assert reply.ack.original_message_id == cm.message_id, (reply.ack, cm.message_id)
        return m, reply.ack
    raise AssertionError("no reply to " + str(cm))


async def py_moderator(link, port):
    """The same through the Python bindings: listen_for_session returns the
    channel a create_channel_request made."""
    import slim_bindings
    from slim_bindings import PyIdentityProvider, PyIdentityVerifier, PyName

    app = await slim_bindings.Slim.new(
        PyName("org", "ns", "pymod"),
        PyIdentityProvider.SharedSecret(identity="pymod", shared_secret=SECRET),
        PyIdentityVerifier.SharedSecret(identity="pymod", shared_secret=SECRET))
    try:
        await app.connect({"endpoint": f"http://127.0.0.1:{port}", "tls": {"insecure": True}})
        listen = asyncio.create_task(app.listen_for_session(timeout=datetime.timedelta(seconds=20)))
        cm = control(create_channel_request=cpb.CreateChannelRequest(
            moderators=["org/ns/pymod"], channel_name="org/ns/pychan"))
        _, ack = await asyncio.to_thread(ask, link, "org/ns/pymod", cm)
        assert ack.success and list(ack.messages) == ["channel org/ns/pychan created"], ack
        session = await listen
        assert list(session.dst.components_strings())[:3] == ["org", "ns", "pychan"], session.dst
        assert session.session_config.mls_enabled, session.session_config
    finally:
        await app.close()


def bindings_available():
    if os.environ.get("SLIM_TEST_SANITIZED"):
        return False
    try:
        import slim_bindings  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    node = Node()
    mod = part = link = None
    try:
        mod = App(node.port, "org/ns/mod", "mod")
        part = App(node.port, "org/ns/part", "part")
        link = Link(node.port, node_id="controller-test")
        link.subscribe(CONTROLLER, sub_id=77)
        mods = [mod.name]

        # create_channel -> the program's listen returns the group, MLS on
        m, ack = ask(link, "org/ns/mod",
                     control(create_channel_request=cpb.CreateChannelRequest(
                         moderators=mods, channel_name="org/ns/chan")))
        assert ack.success and list(ack.messages) == ["channel org/ns/chan created"], ack
        src = m.publish.header.source.str_name
        assert (src.str_component_0, src.str_component_1, src.str_component_2) == \
            ("org", "ns", "mod"), src
        want_id = int(mod.name.split("/")[3].replace("-", ""), 16)
        nid = m.publish.header.source.name.name_id
        assert (nid.id_0 << 64 | nid.id_1) == want_id, (nid, mod.name)
        got = mod.cmd("listen 5000").split()
        assert got[0] == "SESSION" and got[2].startswith("org/ns/chan") and got[3] == "mls=1" \
            and got[4] == "moderator=1", got
        msid = got[1]
        print("create: ok", got)

        # add_participant -> the participant joins and hears the moderator
        _, ack = ask(link, mod.name,
                     control(add_participant_request=cpb.AddParticipantRequest(
                         channel_name="org/ns/chan", participant_name="org/ns/part",
                         moderators=mods)), wait=40)
        assert ack.success and list(ack.messages) == ["org/ns/part joined"], ack
        got = part.cmd("listen 10000").split()
        assert got[0] == "SESSION" and got[3] == "mls=1" and got[4] == "moderator=0", got
        psid = got[1]
        assert mod.cmd(f"publish {msid} hello members") == "PUBLISHED OK"
        got = part.cmd(f"get {psid} 10000")
        assert got == "MSG hello members", got
        print("add_participant: ok")

        # delete_participant -> the participant's session ends
        _, ack = ask(link, mod.name,
                     control(delete_participant_request=cpb.DeleteParticipantRequest(
                         channel_name="org/ns/chan", participant_name="org/ns/part",
                         moderators=mods)), wait=40)
        assert ack.success and list(ack.messages) == ["org/ns/part removed"], ack
        got = part.cmd(f"closed {psid} 10000", timeout=20)
        assert got.startswith("CLOSED"), got
        print("delete_participant: ok")

        # unknown channel -> success false, with the reason
        _, ack = ask(link, mod.name,
                     control(add_participant_request=cpb.AddParticipantRequest(
                         channel_name="org/ns/nochan", participant_name="org/ns/part",
                         moderators=mods)))
        assert not ack.success, ack
        assert list(ack.messages) == [f"no channel org/ns/nochan moderated by {mod.name}"], ack
        print("unknown channel: ok")

        # an invite that cannot complete -> success false, with why
        _, ack = ask(link, mod.name,
                     control(add_participant_request=cpb.AddParticipantRequest(
                         channel_name="org/ns/chan", participant_name="org/ns/ghost",
                         moderators=mods)), wait=120)
        assert not ack.success and len(ack.messages) == 1 and \
            "org/ns/ghost" in ack.messages[0], ack
        print("failed invite: ok", list(ack.messages))

        # a wrong token, and none: dropped unanswered, counted
        bad = token("another-secret-of-at-least-32-characters!!")
        cm = control(delete_channel_request=cpb.DeleteChannelRequest(
            channel_name="org/ns/chan", moderators=mods))
        link.send(request(mod.name, cm, bad))
        link.send(request(mod.name, cm, ""))
        link.expect_nothing(2)
        got = mod.cmd("counters")
        assert got == "COUNTERS refused=2", got
        print("refused: ok")

        # delete_channel -> closed
        _, ack = ask(link, mod.name,
                     control(delete_channel_request=cpb.DeleteChannelRequest(
                         channel_name="org/ns/chan", moderators=mods)), wait=40)
        assert ack.success and list(ack.messages) == ["channel org/ns/chan deleted"], ack
        got = mod.cmd(f"closed {msid} 5000", timeout=20)
        assert got.startswith("CLOSED"), got
        print("delete_channel: ok")

        if bindings_available():
            asyncio.run(py_moderator(link, node.port))
            print("python listen_for_session: ok")
        else:
            print("python bindings not built: listen_for_session not checked")

        for a in (mod, part):
            rc = a.close()
            assert rc == 0, f"{a.name} exited with {rc}"
    finally:
        for a in (mod, part):
            if a is not None:
                a.close()
        if link is not None:
            link.close()
        node.close()
    print("PASS")


if __name__ == "__main__":
    main()
