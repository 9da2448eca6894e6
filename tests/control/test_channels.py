"""Channels through the controller, end to end: the user's document's four
controller snippets (create a channel, add a participant, create a
connection, create a subscription) run with Debian's grpcio against a
controller with two registered nodes, a moderator application on slim/0 and
a participant on slim/1 (both on slim_bindings); the participant joins the
group and receives the moderator's messages across the two nodes. Also:
unknown channel and participant, a moderator that is not connected, and a
node whose token the applications do not accept.
"""
import contextlib
import io
import os
import queue
import re
import subprocess
import sys
import threading
import time
import unittest

import grpc

from cplane import Controller, cp
from test_routes import set_routes_snippet  # the document's third and fourth snippets

SECRET = "a-shared-secret-of-the-channel-tests-0123456789"
APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "channel_app.py")


# The user's document's channel snippets, with only these edits: each
# wrapped in a function, the host:port strings replaced by the test's, and
# AddParticipant's channel_id set to what CreateChannel returned. (The
# route snippet is test_routes.set_routes_snippet.)
def create_channel_snippet(controller_address):
    import grpc
    from controlplane.v1 import controlplane_pb2_grpc as controlplane_api
    from controlplane.v1 import controlplane_pb2

    # Create gRPC connection
    channel = grpc.insecure_channel(controller_address)
    client = controlplane_api.ControlPlaneServiceStub(channel)

    # Create channel request
    create_channel_request = controlplane_pb2.CreateChannelRequest(
        moderators=["agntcy/namespace/moderator"]  # Name of the moderator
    )

    try:
        response = client.CreateChannel(create_channel_request)
        channel_id = response.channel_id

        if not response:
            print("\nNo channels found")
            return

        print(f"Channel created with ID: {channel_id}")

    except grpc.RpcError as e:
        print(f"Request failed: {e}")
    finally:
        channel.close()


def add_participant_snippet(controller_address, created_channel_id):
    import grpc
    from controlplane.v1 import controlplane_pb2_grpc as controlplane_api
    from controlplane.v1 import controlplane_pb2

    # Create gRPC connection
    channel = grpc.insecure_channel(controller_address)
    client = controlplane_api.ControlPlaneServiceStub(channel)

    # Add participant request
    add_participant_request = controlplane_pb2.AddParticipantRequest(
        participant_id="agntcy/namespace/participant_1",
        channel_id=created_channel_id
    )

    try:
        ack = client.AddParticipant(add_participant_request)

        print(f"ACK received for {ack.original_message_id}: success={ack.success}")

    except grpc.RpcError as e:
        print(f"Request failed: {e}")
    finally:
        channel.close()


def captured(fn, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args)
    return out.getvalue()


class App:
    def __init__(self, name, port, role, secret=SECRET):
        self.proc = subprocess.Popen(
            [sys.executable, APP, name, f"http://127.0.0.1:{port}", secret, role],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=os.environ["SLIM_PYBIND"]))
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, prefix, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.lines.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                break
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}; stderr:\n"
                             + (self.proc.stderr.read() if self.proc.poll() is not None else ""))

    def say(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


TOKEN = f"      token_provider: {{shared_secret: \"{SECRET}\"}}\n"


class DocumentSnippets(unittest.TestCase):
    def setUp(self):
        self.ctl = Controller()
        self.addCleanup(self.ctl.cleanup)
        self.n0 = self.ctl.node("0", extra=TOKEN)
        self.addCleanup(self.n0.close)
        self.n1 = self.ctl.node("1", extra=TOKEN)
        self.addCleanup(self.n1.close)
        self.ctl.wait_connected("slim/0", "slim/1")
        self.apps = []

    def tearDown(self):
        for a in self.apps:
            a.close()

    def app(self, *args, **kw):
        a = App(*args, **kw)
        self.apps.append(a)
        return a

    def wait_reported(self, node, c2, timeout=20):
        end = time.time() + timeout
        while True:
            subs = self.ctl.stub.ListSubscriptions(cp.Node(id=node), timeout=10).entries
            if any(s.component_2 == c2 and s.local_connections for s in subs):
                return
            self.assertLess(time.time(), end, f"{c2} not on {node}")
            time.sleep(0.1)

    def test_the_four_snippets(self):
        mod = self.app("agntcy/namespace/moderator", self.n0.port, "moderator")
        part = self.app("agntcy/namespace/participant_1", self.n1.port, "participant")
        self.wait_reported("slim/0", "moderator")
        self.wait_reported("slim/1", "participant_1")
        out = captured(set_routes_snippet, self.ctl.address, f"http://127.0.0.1:{self.n1.port}")
        self.assertIn("Connection created successfully", out)
        self.assertIn("Subscription created successfully", out)

        out = captured(create_channel_snippet, self.ctl.address)
        m = re.search(r"Channel created with ID: (agntcy/namespace/[A-Za-z0-9]{18})", out)
        self.assertIsNotNone(m, out)
        channel_id = m.group(1)
        self.assertIn(channel_id.split("/")[2], mod.expect("session"))

        out = captured(add_participant_snippet, self.ctl.address, channel_id)
        self.assertRegex(out, r"ACK received for \S+: success=True")
        self.assertIn(channel_id.split("/")[2], part.expect("session"))
        self.assertEqual(list(self.ctl.stub.ListParticipants(cp.ListParticipantsRequest(
            channel_id=channel_id), timeout=10).participant_id), ["agntcy/namespace/participant_1"])

        for i in range(3):
            mod.say(f"hello {i}")
            self.assertEqual(part.expect("received"), f"received hello {i}")

        ack = self.ctl.stub.DeleteParticipant(cp.DeleteParticipantRequest(
            channel_id=channel_id, participant_id="agntcy/namespace/participant_1"), timeout=60)
        self.assertTrue(ack.success, ack)
        part.expect("closed")
        ack = self.ctl.stub.DeleteChannel(cp.DeleteChannelRequest(channel_id=channel_id),
                                          timeout=60)
        self.assertTrue(ack.success, ack)
        self.assertEqual(list(self.ctl.stub.ListChannels(cp.ListChannelsRequest(),
                                                         timeout=10).channel_id), [])

    def test_not_found(self):
        stub = self.ctl.stub
        with self.assertRaises(grpc.RpcError) as cm:
            stub.CreateChannel(cp.CreateChannelRequest(moderators=["agntcy/namespace/nobody"]),
                               timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("not connected", cm.exception.details())
        with self.assertRaises(grpc.RpcError) as cm:
            stub.AddParticipant(cp.AddParticipantRequest(
                channel_id="agntcy/namespace/none", participant_id="agntcy/namespace/p"),
                timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        mod = self.app("agntcy/namespace/moderator", self.n0.port, "moderator")
        self.wait_reported("slim/0", "moderator")
        channel_id = stub.CreateChannel(cp.CreateChannelRequest(
            moderators=["agntcy/namespace/moderator"]), timeout=60).channel_id
        mod.expect("session")
        with self.assertRaises(grpc.RpcError) as cm:
            stub.AddParticipant(cp.AddParticipantRequest(
                channel_id=channel_id, participant_id="agntcy/namespace/ghost"), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(list(stub.ListParticipants(cp.ListParticipantsRequest(
            channel_id=channel_id), timeout=10).participant_id), [])

    def test_wrong_token_ignored(self):
        # The apps use another secret than the nodes sign with: the request
        # is dropped and counted by the moderator's library, the call fails,
        # nothing is stored, and the app made no session.
        mod = self.app("agntcy/namespace/moderator", self.n0.port, "moderator",
                       secret="another-secret-the-node-does-not-know-0123456789")
        self.wait_reported("slim/0", "moderator")
        self.ctl.stop()
        self.ctl.extra = "timeouts: {node: 5s, channel: 4s}\n"
        self.ctl.start(self.ctl.nb_port, self.ctl.sb_port)
        self.ctl.wait_connected("slim/0", "slim/1")
        self.wait_reported("slim/0", "moderator")
        with self.assertRaises(grpc.RpcError) as cm:
            self.ctl.stub.CreateChannel(cp.CreateChannelRequest(
                moderators=["agntcy/namespace/moderator"]), timeout=30)
        self.assertIn(cm.exception.code(), (grpc.StatusCode.DEADLINE_EXCEEDED,
                                            grpc.StatusCode.FAILED_PRECONDITION))
        self.assertEqual(list(self.ctl.stub.ListChannels(cp.ListChannelsRequest(),
                                                         timeout=10).channel_id), [])
        mod.expect("refused 1", timeout=5)
        with self.assertRaises(AssertionError):
            mod.expect("session", timeout=1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
