"""The slim-control-plane process and its southbound protocol: the command
line, configuration errors, listeners on port 0, SIGTERM, and the control
stream as a fake node written with grpcio sees it (registration, the state
it is sent, per-item acks, reports, protocol violations).
"""
import os
import queue
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import grpc

from cplane import Controller, cp, api
from controller.v1 import controller_pb2 as ctl

BIN = os.environ["SLIM_CP_BIN"]
OPEN = "/controller.proto.v1.ControllerService/OpenControlChannel"


class CommandLine(unittest.TestCase):
    def run_cp(self, *args, env=None):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, **(env or {})))

    def test_help_and_version(self):
        p = self.run_cp("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: slim-control-plane", p.stdout)
        self.assertIn("database.path", p.stdout)
        p = self.run_cp("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^slim-control-plane \d+\.\d+\.\d+")

    def test_bad_configs(self):
        d = tempfile.mkdtemp()
        cases = {
            "northbound: {httpPort: nope}\n": "not a port number",
            "southbound: {tls: {certFile: a.pem}}\n": "certFile and keyFile",
            "logging: {level: loud}\n": "unknown level",
            "routes: {automatic: maybe}\n": "routes.automatic",
            "northbound: [1, 2]\n": "northbound",
        }
        for text, expect in cases.items():
            with self.subTest(text):
                path = os.path.join(d, "c.yaml")
                with open(path, "w") as f:
                    f.write(text)
                p = self.run_cp("-config", path)
                self.assertEqual(p.returncode, 1)
                self.assertIn(expect, p.stderr)
        p = self.run_cp("--config", os.path.join(d, "missing.yaml"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.yaml", p.stderr)
        # An unusable database path.
        path = os.path.join(d, "c.yaml")
        with open(path, "w") as f:
            f.write("northbound: {httpPort: 0}\nsouthbound: {httpPort: 0}\n"
                    f"database: {{path: {d}/no/such/dir/x.db}}\n")
        p = self.run_cp("--config", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("database", p.stderr)

    def test_listeners_and_sigterm(self):
        c = Controller(extra="reconciler: {threads: 3}\nsomething_else: 1\n")
        try:
            self.assertNotEqual(c.nb_port, c.sb_port)
            self.assertEqual(c.nodes(), {})
            self.assertEqual(c.stop(), 0)
            log = c.stderr()
            self.assertIn("something_else", log)  # unknown keys are named
            self.assertIn("reconciler", log)
        finally:
            c.cleanup()

    def test_environment_overrides(self):
        c = Controller.__new__(Controller)
        d = tempfile.mkdtemp()
        cfg = os.path.join(d, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"northbound: {{httpPort: 1}}\nsouthbound: {{httpPort: 1}}\n"
                    f"database: {{path: {d}/s.db}}\n")
        p = subprocess.Popen([BIN, "--config", cfg], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True,
                             env=dict(os.environ, NB_API_HTTP_PORT="0", SB_API_HTTP_PORT="0"))
        try:
            lines = [p.stdout.readline() for _ in range(2)]
            self.assertTrue(all(l.startswith("listening ") and not l.strip().endswith(":1")
                                for l in lines), lines)
        finally:
            p.terminate()
            self.assertEqual(p.wait(20), 0)
        del c


class FakeNode:
    """A control stream opened with grpcio, as a node would."""

    def __init__(self, port):
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.out = queue.Queue()
        self.inbox = queue.Queue()
        self.error = None
        self.done = threading.Event()
        rpc = self.channel.stream_stream(OPEN, request_serializer=None,
                                         response_deserializer=None)
        self.call = rpc(iter(self.out.get, None))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for raw in self.call:
                self.inbox.put(ctl.ControlMessage.FromString(raw))
        except grpc.RpcError as e:
            self.error = e
        finally:
            self.done.set()

    def send(self, m):
        if not isinstance(m, bytes):
            if not m.message_id:
                m.message_id = str(uuid.uuid4())
            m = m.SerializeToString()
        self.out.put(m)

    def recv(self, timeout=10):
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing from the controller within {timeout}s "
                                 f"(stream: {self.error})") from None

    def register(self, node_id, endpoint="127.0.0.1:46357", subs=()):
        m = ctl.ControlMessage()
        r = m.register_node_request
        r.node_id = node_id
        d = r.connection_details.add()
        d.endpoint = endpoint
        for s in subs:
            r.subscriptions.add().CopyFrom(s)
        self.send(m)
        ack = self.recv()
        assert ack.HasField("ack") and ack.ack.original_message_id == m.message_id, ack
        return ack.ack

    def close(self):
        self.out.put(None)
        self.channel.close()


def report(c0, c1, c2, ident=None, delete=False):
    m = ctl.ControlMessage()
    s = (m.config_command.subscriptions_to_delete if delete
         else m.config_command.subscriptions_to_set).add()
    s.component_0, s.component_1, s.component_2 = c0, c1, c2
    if ident is not None:
        s.id = ident
    s.connection_id = "n/a"
    return m


def ack_all(cmd_msg, fail=()):
    """A config_command_ack for a command, every item successful except the
    indexes of subscriptions_to_set in `fail`."""
    m = ctl.ControlMessage()
    a = m.config_command_ack
    a.original_message_id = cmd_msg.message_id
    cc = cmd_msg.config_command
    for c in cc.connections_to_create:
        a.connections_status.add(id=c.connection_id, success=True)
    for i, s in enumerate(cc.subscriptions_to_set):
        a.subscriptions_status.add(id=s.component_2, success=i not in fail,
                                   error_msg="refused by the test" if i in fail else "")
    for s in cc.subscriptions_to_delete:
        a.subscriptions_status.add(id=s.component_2, success=True)
    return m


class FakeNodes(unittest.TestCase):
    auto_routes = True

    def setUp(self):
        self.ctl = Controller(auto_routes=self.auto_routes)
        self.addCleanup(self.ctl.cleanup)
        self.fakes = []

    def tearDown(self):
        for f in self.fakes:
            f.close()

    def fake(self):
        f = FakeNode(self.ctl.sb_port)
        self.fakes.append(f)
        return f

    def call_error(self, fn, req):
        try:
            fn(req, timeout=10)
        except grpc.RpcError as e:
            return e
        raise AssertionError("the call succeeded")


class Southbound(FakeNodes):

    def test_registration_and_node_list(self):
        a = self.fake()
        ack = a.register("slim/a", endpoint="0.0.0.0:46357")
        self.assertTrue(ack.success)
        nodes = self.ctl.wait_connected("slim/a")
        self.assertEqual([d.endpoint for d in nodes["slim/a"].connections], ["0.0.0.0:46357"])
        a.close()
        self.fakes.remove(a)
        end = time.time() + 10
        while self.ctl.nodes()["slim/a"].status != cp.NOT_CONNECTED:
            self.assertLess(time.time(), end)
            time.sleep(0.05)

    def test_protocol_violations_end_the_stream(self):
        f = self.fake()
        m = report("a", "b", "c")  # before registering
        f.send(m)
        ack = f.recv()
        self.assertFalse(ack.ack.success)
        self.assertTrue(f.done.wait(10))
        self.assertEqual(f.error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        g = self.fake()
        g.send(b"\xff\xff\xff")
        self.assertTrue(g.done.wait(10))
        self.assertEqual(g.error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        h = self.fake()
        m = ctl.ControlMessage()
        m.register_node_request.node_id = ""
        h.send(m)
        self.assertFalse(h.recv().ack.success)
        self.assertTrue(h.done.wait(10))
        self.assertEqual(self.ctl.nodes(), {})

    def test_second_stream_replaces_the_first(self):
        a1 = self.fake()
        a1.register("slim/a")
        a2 = self.fake()
        a2.register("slim/a")
        self.assertTrue(a1.done.wait(10))
        self.assertEqual(a1.error.code(), grpc.StatusCode.ABORTED)
        self.assertEqual(self.ctl.wait_connected("slim/a")["slim/a"].status, cp.CONNECTED)

    def test_state_is_sent_at_registration_with_item_results(self):
        stub = self.ctl.stub
        a = self.fake()
        a.register("slim/a")
        # A connection and a subscription while the node is connected: the
        # node gets each one, and the call waits for its ack.
        ep = "http://127.0.0.1:1234"
        conn = api.Connection(connection_id=ep, config_data='{"endpoint": "%s"}' % ep)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=stub.CreateConnection(
            cp.CreateConnectionRequest(connection=conn, node_id="slim/a"), timeout=10)))
        t.start()
        cmd = a.recv()
        self.assertEqual([c.connection_id for c in cmd.config_command.connections_to_create],
                         [ep])
        a.send(ack_all(cmd))
        t.join(10)
        self.assertTrue(result["r"].success)
        self.assertEqual(result["r"].connection_id, ep)
        # A subscription the node refuses: the call fails and nothing stays.
        sub = api.Subscription(component_0="o", component_1="n", component_2="refused",
                               connection_id=ep)
        t = threading.Thread(target=lambda: result.update(e=self.call_error(
            stub.CreateSubscription, cp.CreateSubscriptionRequest(subscription=sub,
                                                                   node_id="slim/a"))))
        t.start()
        cmd = a.recv()
        a.send(ack_all(cmd, fail=(0,)))
        t.join(10)
        self.assertEqual(result["e"].code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("refused by the test", result["e"].details())
        sub.component_2 = "kept"
        t = threading.Thread(target=lambda: result.update(s=stub.CreateSubscription(
            cp.CreateSubscriptionRequest(subscription=sub, node_id="slim/a"), timeout=10)))
        t.start()
        a.send(ack_all(a.recv()))
        t.join(10)
        self.assertTrue(result["s"].success)
        # The node comes back: it is sent everything in one command.
        a.close()
        self.fakes.remove(a)
        b = self.fake()
        b.register("slim/a")
        cmd = b.recv()
        cc = cmd.config_command
        self.assertEqual([c.connection_id for c in cc.connections_to_create], [ep])
        self.assertEqual([s.component_2 for s in cc.subscriptions_to_set], ["kept"])
        b.send(ack_all(cmd))

    def test_node_that_does_not_answer(self):
        a = self.fake()
        a.register("slim/a")
        ep = "http://127.0.0.1:1234"
        conn = api.Connection(connection_id=ep, config_data='{"endpoint": "%s"}' % ep)
        e = self.call_error(self.ctl.stub.CreateConnection,
                            cp.CreateConnectionRequest(connection=conn, node_id="slim/a"))
        self.assertEqual(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertIn("stored", e.details())
        a.recv()  # the command it ignored
        # Live lists need the node connected.
        a.close()
        self.fakes.remove(a)
        end = time.time() + 10
        while True:
            e = self.call_error(self.ctl.stub.ListConnections, cp.Node(id="slim/a"))
            if e.code() == grpc.StatusCode.UNAVAILABLE:
                break
            self.assertLess(time.time(), end)
        self.assertIn("not connected", e.details())

    def test_reports_make_automatic_routes(self):
        a, b = self.fake(), self.fake()
        a.register("slim/a", endpoint="127.0.0.1:1111")
        b.register("slim/b", endpoint="0.0.0.0:2222")
        b.send(report("org", "ns", "bob", "7"))
        cmd = a.recv()
        cc = cmd.config_command
        # 0.0.0.0 is replaced by the address b's stream came from.
        self.assertEqual([c.connection_id for c in cc.connections_to_create],
                         ["http://127.0.0.1:2222"])
        s = cc.subscriptions_to_set[0]
        self.assertEqual((s.component_0, s.component_1, s.component_2, s.id, s.connection_id),
                         ("org", "ns", "bob", "00000000-0000-0000-0000-000000000007",
                          "http://127.0.0.1:2222"))
        a.send(ack_all(cmd))
        self.ctl.wait_route_status("slim/a")
        # A report of the same name again changes nothing; its removal
        # removes the route from a.
        b.send(report("org", "ns", "bob", "7"))
        b.send(report("org", "ns", "bob", "7", delete=True))
        cmd = a.recv()
        self.assertEqual([s.component_2 for s in cmd.config_command.subscriptions_to_delete],
                         ["bob"])
        a.send(ack_all(cmd))
        self.ctl.wait_route_status("slim/a", count=0)
        # A list request is answered from the chunks the node sends.
        res = {}
        t = threading.Thread(target=lambda: res.update(r=self.ctl.stub.ListSubscriptions(
            cp.Node(id="slim/a"), timeout=10)))
        t.start()
        req = a.recv()
        self.assertTrue(req.HasField("subscription_list_request"))
        for i, done in ((0, False), (1, True)):
            m = ctl.ControlMessage()
            r = m.subscription_list_response
            r.original_message_id = req.message_id
            r.done = done
            e = r.entries.add()
            e.component_0, e.component_1, e.component_2 = "o", "n", f"s{i}"
            a.send(m)
        t.join(10)
        self.assertEqual([e.component_2 for e in res["r"].entries], ["s0", "s1"])


class Channels(FakeNodes):
    """The channel calls with fake nodes playing the moderator's node: what
    the controller asks, and what it answers for each outcome."""
    auto_routes = False

    def answer(self, node, expect, ok=True, text="done"):
        m = node.recv()
        self.assertTrue(m.HasField(expect), m)
        a = ctl.ControlMessage()
        a.ack.original_message_id = m.message_id
        a.ack.success = ok
        a.ack.messages.append(text)
        node.send(a)
        return getattr(m, expect)

    def call(self, fn, req, out):
        t = threading.Thread(target=lambda: out.update(r=self.try_call(fn, req)))
        t.start()
        return t

    def try_call(self, fn, req):
        try:
            return fn(req, timeout=20)
        except grpc.RpcError as e:
            return e

    def test_channel_lifecycle(self):
        stub = self.ctl.stub
        a, b = self.fake(), self.fake()
        a.register("slim/a", subs=[api.Subscription(component_0="org", component_1="ns",
                                                    component_2="mod", id="1",
                                                    connection_id="n/a")])
        b.register("slim/b", subs=[api.Subscription(component_0="org", component_1="ns",
                                                    component_2="p1", id="9",
                                                    connection_id="n/a")])
        out = {}
        e = self.try_call(stub.CreateChannel, cp.CreateChannelRequest())
        self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT)
        e = self.try_call(stub.CreateChannel, cp.CreateChannelRequest(moderators=["org/ns/x"]))
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        e = self.try_call(stub.CreateChannel, cp.CreateChannelRequest(moderators=["org//x"]))
        self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # Refused by the moderator: nothing stored.
        t = self.call(stub.CreateChannel, cp.CreateChannelRequest(moderators=["org/ns/mod"]), out)
        self.answer(a, "create_channel_request", ok=False, text="no thanks")
        t.join(20)
        self.assertEqual(out["r"].code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("no thanks", out["r"].details())
        self.assertEqual(list(stub.ListChannels(cp.ListChannelsRequest(), timeout=10).channel_id),
                         [])
        t = self.call(stub.CreateChannel, cp.CreateChannelRequest(moderators=["org/ns/mod/1"]),
                      out)
        req = self.answer(a, "create_channel_request")
        t.join(20)
        chan = out["r"].channel_id
        self.assertRegex(chan, r"^org/ns/[A-Za-z0-9]{18}$")
        self.assertEqual(req.channel_name, chan)
        self.assertEqual(list(req.moderators), ["org/ns/mod/00000000-0000-0000-0000-000000000001"])
        self.assertEqual(list(stub.ListChannels(cp.ListChannelsRequest(), timeout=10).channel_id),
                         [chan])
        # Participants: unknown ones, refusals, success, duplicates.
        e = self.try_call(stub.AddParticipant, cp.AddParticipantRequest(
            channel_id=chan, participant_id="org/ns/ghost"))
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        e = self.try_call(stub.AddParticipant, cp.AddParticipantRequest(
            channel_id="org/ns/none", participant_id="org/ns/p1"))
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("channel org/ns/none not found", e.details())
        t = self.call(stub.AddParticipant, cp.AddParticipantRequest(
            channel_id=chan, participant_id="org/ns/p1"), out)
        self.answer(a, "add_participant_request", ok=False, text="invite timed out")
        t.join(20)
        self.assertFalse(out["r"].success)
        self.assertEqual(list(out["r"].messages), ["invite timed out"])
        self.assertEqual(list(stub.ListParticipants(cp.ListParticipantsRequest(
            channel_id=chan), timeout=10).participant_id), [])
        t = self.call(stub.AddParticipant, cp.AddParticipantRequest(
            channel_id=chan, participant_id="org/ns/p1"), out)
        req = self.answer(a, "add_participant_request", text="org/ns/p1 joined")
        t.join(20)
        self.assertTrue(out["r"].success)
        self.assertTrue(out["r"].original_message_id)
        self.assertEqual((req.channel_name, req.participant_name), (chan, "org/ns/p1"))
        self.assertEqual(list(stub.ListParticipants(cp.ListParticipantsRequest(
            channel_id=chan), timeout=10).participant_id), ["org/ns/p1"])
        e = self.try_call(stub.AddParticipant, cp.AddParticipantRequest(
            channel_id=chan, participant_id="org/ns/p1"))
        self.assertEqual(e.code(), grpc.StatusCode.ALREADY_EXISTS)
        e = self.try_call(stub.DeleteParticipant, cp.DeleteParticipantRequest(
            channel_id=chan, participant_id="org/ns/p2"))
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        t = self.call(stub.DeleteParticipant, cp.DeleteParticipantRequest(
            channel_id=chan, participant_id="org/ns/p1"), out)
        self.answer(a, "delete_participant_request")
        t.join(20)
        self.assertTrue(out["r"].success)
        self.assertEqual(list(stub.ListParticipants(cp.ListParticipantsRequest(
            channel_id=chan), timeout=10).participant_id), [])
        # The moderator's node goes: NOT_FOUND, nothing changes.
        a.close()
        self.fakes.remove(a)
        end = time.time() + 10
        while True:
            e = self.try_call(stub.DeleteChannel, cp.DeleteChannelRequest(channel_id=chan))
            if isinstance(e, grpc.RpcError) and e.code() == grpc.StatusCode.NOT_FOUND:
                break
            self.assertLess(time.time(), end)
            time.sleep(0.05)
        self.assertIn("not connected", e.details())
        a = self.fake()
        a.register("slim/a", subs=[api.Subscription(component_0="org", component_1="ns",
                                                    component_2="mod", id="1",
                                                    connection_id="n/a")])
        t = self.call(stub.DeleteChannel, cp.DeleteChannelRequest(channel_id=chan), out)
        self.answer(a, "delete_channel_request")
        t.join(20)
        self.assertTrue(out["r"].success)
        self.assertEqual(list(stub.ListChannels(cp.ListChannelsRequest(), timeout=10).channel_id),
                         [])
        e = self.try_call(stub.ListParticipants, cp.ListParticipantsRequest(channel_id=chan))
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main(verbosity=2)
