"""Integration tests of the node's control agent (docs/control-plane.md,
"Southbound: the control stream"): a fake controller written here with
grpcio serves ControllerService, real `slim` nodes dial it, and grpcio
clients drive the data plane.

Checked: the registration (node id, connection details, the applications'
subscriptions), per-item acknowledgements of config_commands (a connection
to a second node and a static subscription on it carry a publish there;
an unknown connection and malformed config_data fail their items only),
the reports of what applications subscribe to and withdraw, the list
requests, re-registration after the controller restarts, and the deletion
of a connection.
"""
import os
import queue
import signal
import socket
import sys
import threading
import time
import unittest
from concurrent import futures

from slimnode import EDGE, Link, Node, publish  # noqa: F401  (slimnode sets sys.path)

import grpc  # noqa: E402
from controller.v1 import controller_pb2 as cpb  # noqa: E402
from controller.v1 import controller_pb2_grpc as cgrpc  # noqa: E402
from grpc_api import grpc_api_pb2 as api  # noqa: E402

assert os.environ.get("SLIM_PYDIR") in sys.path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stream:
    """One OpenControlChannel stream as the controller sees it."""

    def __init__(self, requests, context):
        self.context = context
        self.metadata = dict(context.invocation_metadata())
        self.inbox = queue.Queue()
        self.out = queue.Queue()
        self.ended = threading.Event()
        threading.Thread(target=self._read, args=(requests,), daemon=True).start()

    def _read(self, requests):
        try:
            for m in requests:
                self.inbox.put(m)
        except grpc.RpcError:
            pass
        finally:
            self.ended.set()

    def responses(self):
        while self.context.is_active():
            try:
                m = self.out.get(timeout=0.1)
            except queue.Empty:
                continue
            if m is None:
                return
            yield m

    def send(self, m):
        self.out.put(m)

    def recv(self, timeout=10):
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the node sent nothing within {timeout}s") from None

    def expect_nothing(self, wait=1.0):
        try:
            m = self.inbox.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected control message: {m}")

    def close(self):
        self.out.put(None)


class FakeController(cgrpc.ControllerServiceServicer):
    """ControllerService on 127.0.0.1:port; every stream the node opens
    lands in self.streams."""

    def __init__(self, port=0):
        self.streams = queue.Queue()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        cgrpc.add_ControllerServiceServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        assert self.port, "cannot bind the fake controller"
        self.server.start()

    def OpenControlChannel(self, request_iterator, context):
        s = Stream(request_iterator, context)
        self.streams.put(s)
        yield from s.responses()

    def stream(self, timeout=15):
        try:
            return self.streams.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no control stream within {timeout}s") from None

    def stop(self):
        self.server.stop(0).wait(5)


def msg(**payload):
    m = cpb.ControlMessage(message_id=str(time.time_ns()))
    for k, v in payload.items():
        getattr(m, k).CopyFrom(v)
    return m


def sub(name, conn, ident=None):
    c0, c1, c2 = name.split("/")
    s = api.Subscription(component_0=c0, component_1=c1, component_2=c2, connection_id=conn)
    if ident is not None:
        s.id = ident
    return s


def names(subs):
    return sorted("/".join((s.component_0, s.component_1, s.component_2)) +
                  (("/" + s.id) if s.HasField("id") else "") for s in subs)


def register(stream, controller_ack=True):
    """Reads the registration, acknowledges it and sends an empty desired
    state (as the real controller does); returns the request."""
    m = stream.recv()
    assert m.HasField("register_node_request"), m
    if controller_ack:
        stream.send(msg(ack=cpb.Ack(original_message_id=m.message_id, success=True)))
        cmd = msg(config_command=cpb.ConfigurationCommand())
        stream.send(cmd)
        a = stream.recv()
        assert a.HasField("config_command_ack"), a
        assert a.config_command_ack.original_message_id == cmd.message_id
    return m.register_node_request


def ask(stream, kind):
    """Sends a list request; returns the entries of every chunk."""
    m = msg(**{kind + "_request": getattr(cpb, {
        "subscription_list": "SubscriptionListRequest",
        "connection_list": "ConnectionListRequest"}[kind])()})
    stream.send(m)
    entries = []
    while True:
        r = stream.recv()
        assert r.HasField(kind + "_response"), r
        chunk = getattr(r, kind + "_response")
        assert chunk.original_message_id == m.message_id
        assert r.message_id and r.message_id != m.message_id
        entries.extend(chunk.entries)
        if chunk.done:
            return entries


def command(stream, **fields):
    m = msg(config_command=cpb.ConfigurationCommand(**fields))
    stream.send(m)
    while True:
        a = stream.recv()
        if a.HasField("config_command_ack"):
            break
    assert a.config_command_ack.original_message_id == m.message_id, a
    return a.config_command_ack


def report(stream, timeout=10):
    m = stream.recv(timeout)
    assert m.HasField("config_command"), m
    return m.config_command


def controller_yaml(port):
    return ("    controller:\n"
            "      clients:\n"
            f"        - endpoint: \"http://127.0.0.1:{port}\"\n"
            "          tls: {insecure: true}\n")


class NodeControl(unittest.TestCase):
    def setUp(self):
        self.nodes, self.links, self.controllers = [], [], []

    def tearDown(self):
        for link in self.links:
            link.close()
        for node in self.nodes:
            node.close()
        for c in self.controllers:
            c.stop()

    def controller(self, port=0):
        c = FakeController(port)
        self.controllers.append(c)
        return c

    def node(self, name, controller=None, server_tls="{insecure: true}"):
        n = Node(node_name=name, server_tls=server_tls,
                 extra_dataplane=controller_yaml(controller.port) if controller else "")
        self.nodes.append(n)
        return n

    def link(self, node):
        link = Link(node.port)
        self.links.append(link)
        return link

    def test_registration_reports_lists_and_reconnection(self):
        ctl = self.controller()
        node = self.node("0", ctl, server_tls=(
            "{insecure: true}\n"
            "          metadata: {local_endpoint: \"10.1.2.3\", external_endpoint: "
            "\"slim.example.org:46357\", group_name: \"blue\", weight: 3}"))
        s = ctl.stream()
        reg = register(s)
        self.assertEqual(reg.node_id, "slim/0")
        self.assertEqual(len(reg.connection_details), 1)
        d = reg.connection_details[0]
        self.assertEqual(d.endpoint, f"127.0.0.1:{node.port}")
        self.assertFalse(d.mtls_required)
        self.assertEqual(d.local_endpoint, "10.1.2.3")
        self.assertEqual(d.external_endpoint, "slim.example.org:46357")
        self.assertEqual(d.group_name, "blue")
        self.assertEqual(list(reg.subscriptions), [])

        # An application subscribes: one report; a second one on the same
        # name: none.
        alice = self.link(node)
        alice.subscribe("org/ns/alice", sub_id=1)
        r = report(s)
        self.assertEqual(names(r.subscriptions_to_set), ["org/ns/alice"])
        self.assertEqual(r.subscriptions_to_set[0].connection_id, "n/a")
        self.assertEqual(len(r.subscriptions_to_delete), 0)
        alice2 = self.link(node)
        alice2.subscribe("org/ns/alice", sub_id=2)
        s.expect_nothing(1.0)
        # A name with an instance id: reported with its UUID.
        alice.subscribe("org/ns/alice/2a", sub_id=3)
        r = report(s)
        self.assertEqual(names(r.subscriptions_to_set),
                         ["org/ns/alice/00000000-0000-0000-0000-00000000002a"])

        # Lists: one chunk each, done, with the request's id.
        entries = ask(s, "subscription_list")
        by_name = {"/".join((e.component_0, e.component_1, e.component_2)) +
                   ("/" + e.id if e.HasField("id") else ""): e for e in entries}
        e = by_name["org/ns/alice"]
        self.assertEqual(len(e.local_connections), 2)
        self.assertEqual(len(e.remote_connections), 0)
        for c in e.local_connections:
            self.assertEqual(c.connection_type, cpb.CONNECTION_TYPE_LOCAL)
        conns = ask(s, "connection_list")
        local = [c for c in conns if c.connection_type == cpb.CONNECTION_TYPE_LOCAL]
        self.assertEqual(len(local), 2)
        self.assertEqual(sorted(c.id for c in local),
                         sorted(c.id for c in e.local_connections))
        for c in local:
            self.assertTrue(c.peer.startswith("127.0.0.1:"), c)
            self.assertEqual(c.connection_id, "")

        # The controller restarts on the same port: the node registers again
        # by itself, with what its applications hold now.
        port = ctl.port
        ctl.stop()
        self.controllers.remove(ctl)
        ctl = self.controller(port)
        s = ctl.stream(timeout=20)
        reg = register(s)
        self.assertEqual(reg.node_id, "slim/0")
        self.assertEqual(names(reg.subscriptions),
                         ["org/ns/alice", "org/ns/alice/00000000-0000-0000-0000-00000000002a"])
        for x in reg.subscriptions:
            self.assertEqual(x.connection_id, "n/a")

        # The first holder withdraws: nothing; the last one disconnects:
        # withdrawn.
        alice.subscribe("org/ns/alice", sub_id=4, unsubscribe=True)
        s.expect_nothing(1.0)
        alice2.close()
        self.links.remove(alice2)
        r = report(s)
        self.assertEqual(names(r.subscriptions_to_delete), ["org/ns/alice"])
        self.assertEqual(r.subscriptions_to_delete[0].connection_id, "n/a")
        alice.subscribe("org/ns/alice/2a", sub_id=5, unsubscribe=True)
        r = report(s)
        self.assertEqual(names(r.subscriptions_to_delete),
                         ["org/ns/alice/00000000-0000-0000-0000-00000000002a"])
        # Unknown payloads are ignored; the stream carries on.
        s.send(msg(register_node_response=cpb.RegisterNodeResponse(success=True)))
        self.assertEqual(ask(s, "subscription_list"), [])

    def test_connections_and_static_subscriptions(self):
        ctl = self.controller()
        n2 = self.node("two")  # no controller
        n1 = self.node("one", ctl)
        s = ctl.stream()
        register(s)
        bob = self.link(n2)
        bob.subscribe("org/ns/bob", sub_id=1)
        alice = self.link(n1)
        # Node 1 dials node 2 as an application would (edge), so node 2
        # never sends it node 2's subscriptions: only the static one can
        # carry org/ns/bob there.
        ep = f"http://127.0.0.1:{n2.port}"
        good = api.Connection(connection_id="",
                              config_data='{"endpoint": "%s", "connection_type": "edge"}' % ep)
        bad = api.Connection(connection_id="broken", config_data='{"endpoint": ')
        badtls = api.Connection(connection_id="",
                                config_data='{"endpoint": "http://127.0.0.1:1", "tls": []}')
        ack = command(s, connections_to_create=[good, bad, badtls],
                      subscriptions_to_set=[sub("org/ns/bob", ep), sub("org/ns/x", "nowhere")])
        self.assertEqual([(x.id, x.success) for x in ack.connections_status],
                         [(ep, True), ("broken", False), ("", False)])
        self.assertIn("config_data", ack.connections_status[1].error_msg)
        self.assertIn("tls", ack.connections_status[2].error_msg)
        self.assertEqual([(x.id, x.success) for x in ack.subscriptions_status],
                         [(f"org/ns/bob via {ep}", True), ("org/ns/x via nowhere", False)])
        self.assertEqual(ack.subscriptions_status[0].error_msg, "")
        self.assertIn("unknown connection", ack.subscriptions_status[1].error_msg)
        self.assertEqual(len(ack.deletions_status), 0)
        # The same connection again: left as it is.
        ack = command(s, connections_to_create=[good], subscriptions_to_set=[sub("org/ns/bob", ep)])
        self.assertTrue(ack.connections_status[0].success)
        self.assertTrue(ack.subscriptions_status[0].success)

        self.assertTrue(self.route(alice, bob), "the static subscription carries nothing")
        entries = ask(s, "subscription_list")
        e = [e for e in entries if (e.component_0, e.component_1, e.component_2) ==
             ("org", "ns", "bob")]
        self.assertEqual(len(e), 1)
        self.assertEqual([c.connection_id for c in e[0].remote_connections], [ep])
        self.assertEqual(e[0].remote_connections[0].connection_type, cpb.CONNECTION_TYPE_REMOTE)
        conns = ask(s, "connection_list")
        mine = [c for c in conns if c.connection_id == ep]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0].config_data, good.config_data)
        self.assertEqual(mine[0].id, e[0].remote_connections[0].id)

        # Deleting the subscription (twice: the second finds nothing and
        # succeeds) stops the route.
        ack = command(s, subscriptions_to_delete=[sub("org/ns/bob", ep), sub("org/ns/bob", ep)])
        self.assertEqual([x.success for x in ack.subscriptions_status], [True, True])
        self.assertTrue(self.no_route(alice, bob))
        # Set again: back; a bad id fails its item only.
        ack = command(s, subscriptions_to_set=[sub("org/ns/bob", ep),
                                               sub("org/ns/bob", ep, ident="not-an-id")])
        self.assertEqual([x.success for x in ack.subscriptions_status], [True, False])
        self.assertIn("bad id", ack.subscriptions_status[1].error_msg)
        self.assertTrue(self.route(alice, bob))
        # Deleting the connection closes it.
        ack = command(s, connections_to_delete=[ep])
        self.assertEqual([(x.id, x.success) for x in ack.deletions_status], [(ep, True)])
        self.assertTrue(self.no_route(alice, bob))
        conns = ask(s, "connection_list")
        self.assertEqual([c for c in conns if c.connection_id == ep], [])
        end = time.time() + 10
        while n2.stderr().count("closed") < 1:
            self.assertLess(time.time(), end, "node 2 never saw the link close")
            time.sleep(0.05)
        # Node 1 stops cleanly with a configured connection and its
        # control stream open.
        ack = command(s, connections_to_create=[good], subscriptions_to_set=[sub("org/ns/bob", ep)])
        self.assertTrue(ack.connections_status[0].success)
        self.assertTrue(self.route(alice, bob))
        t0 = time.time()
        n1.signal(signal.SIGTERM)
        self.assertEqual(n1.wait(), 0, n1.stderr()[-3000:])
        self.assertLess(time.time() - t0, 5, "the drain waited")
        self.assertNotIn("Sanitizer", n1.stderr())
        s.ended.wait(5)
        self.assertTrue(s.ended.is_set(), "the control stream outlived the node")

    def route(self, sender, receiver, deadline=15.0):
        return route(sender, receiver, deadline)

    def no_route(self, sender, receiver, deadline=10.0):
        return no_route(sender, receiver, deadline)


def route(sender, receiver, deadline=15.0):
    """True once a probe from sender reaches receiver."""
    end = time.time() + deadline
    k = 0
    while time.time() < end:
        k += 1
        sender.send(publish("org/ns/alice", "org/ns/bob", b"probe", message_id=k))
        try:
            while True:
                m = receiver.recv(0.2)
                if m.HasField("publish") and m.publish.msg.app_payload.blob == b"probe":
                    drain(receiver)
                    drain(sender)
                    return True
        except AssertionError:
            pass
    return False


def no_route(sender, receiver, deadline=10.0):
    """True once the node answers the sender's probe with "no route"."""
    end = time.time() + deadline
    k = 1000
    while time.time() < end:
        k += 1
        sender.send(publish("org/ns/alice", "org/ns/bob", b"gone", message_id=k))
        try:
            m = sender.recv(0.3)
        except AssertionError:
            continue
        if m.HasField("publish") and m.publish.header.error:
            drain(receiver)
            drain(sender)
            return True
    return False


def drain(link, quiet=0.3):
    while True:
        try:
            link.recv(quiet)
        except AssertionError:
            return


if __name__ == "__main__":
    unittest.main(verbosity=2)
