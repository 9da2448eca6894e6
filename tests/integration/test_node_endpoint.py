"""Integration tests of the node's own control endpoint
(`controller.servers`; docs/control-plane.md, "The node's own control
endpoint"): grpcio clients open /controller.proto.v1.ControllerService/
OpenControlChannel on a real `slim` node, over TLS with client
certificates (tests/transport_certs.sh) and with a shared-secret token
made here with Python's hmac from docs/identity.md, independently of the C
code.

Checked: a configuration command sets a route to a second node and traffic
follows it, deleting it stops the traffic, both from grpcio and with
`slimctl node-connect` (TLS, client certificate, --shared-secret); lists
end with done; channel
requests are refused there; and every refusal (a client that trusts
another CA, no client certificate, a client certificate of another CA, no
token, a token made with another secret) fails with its named status,
changes nothing and is counted on /metrics.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from slimnode import Link, Node, make_certs, read, shared_secret_token  # noqa: F401  (slimnode sets sys.path)

import grpc  # noqa: E402
from controller.v1 import controller_pb2 as cpb  # noqa: E402
from test_node_control import ask, command, msg, no_route, route, sub  # noqa: E402
from grpc_api import grpc_api_pb2 as api  # noqa: E402

SECRET = "the-operators-secret-of-at-least-32-chars"
METHOD = "/controller.proto.v1.ControllerService/OpenControlChannel"


def token(secret, ident="operator_Ab3dEf7h"):
    return shared_secret_token(secret, ident)


class Stream:
    """One OpenControlChannel call from a grpcio client."""

    def __init__(self, channel, metadata=()):
        import queue
        self.out = queue.Queue()
        self.call = channel.stream_stream(
            METHOD, request_serializer=cpb.ControlMessage.SerializeToString,
            response_deserializer=cpb.ControlMessage.FromString)(
                iter(self.out.get, None), metadata=metadata, timeout=30)

    def send(self, m):
        self.out.put(m)

    def recv(self, timeout=10):
        return next(self.call)

    def close(self):
        self.out.put(None)
        self.call.cancel()


class NodeEndpoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        c = cls.certs
        cls.two = Node(node_name="two")
        cls.one = Node(node_name="one", control_endpoint=True, extra_dataplane=(
            "    controller:\n"
            "      servers:\n"
            "        - endpoint: \"127.0.0.1:0\"\n"
            f"          tls: {{cert_file: \"{c}/server.pem\", key_file: \"{c}/server.key\", "
            f"client_ca_file: \"{c}/ca.pem\"}}\n"
            f"      token_verifier: {{shared_secret: \"{SECRET}\"}}\n"))
        cls.addr = f"127.0.0.1:{cls.one.control_port}"

    @classmethod
    def tearDownClass(cls):
        cls.one.close()
        cls.two.close()
        shutil.rmtree(cls.certs, ignore_errors=True)

    def channel(self, ca="ca.pem", client="client"):
        c = self.certs
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(f"{c}/{ca}"),
            private_key=read(f"{c}/{client}.key") if client else None,
            certificate_chain=read(f"{c}/{client}.pem") if client else None)
        ch = grpc.secure_channel(self.addr, creds)
        self.addCleanup(ch.close)
        return ch

    def stream(self, metadata=None, **kw):
        if metadata is None:
            metadata = [("authorization", "Bearer " + token(SECRET))]
        s = Stream(self.channel(**kw), metadata)
        self.addCleanup(s.close)
        return s

    def refused(self, code, **kw):
        s = self.stream(**kw)
        s.send(msg(connection_list_request=cpb.ConnectionListRequest()))
        with self.assertRaises(grpc.RpcError) as cm:
            s.recv()
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception

    def test_route_through_the_endpoint(self):
        bob = Link(self.two.port)
        self.addCleanup(bob.close)
        bob.subscribe("org/ns/bob", sub_id=1)
        alice = Link(self.one.port)
        self.addCleanup(alice.close)
        s = self.stream()
        ep = f"http://127.0.0.1:{self.two.port}"
        conn = api.Connection(connection_id=ep,
                              config_data=json.dumps({"endpoint": ep, "connection_type": "edge"}))
        ack = command(s, connections_to_create=[conn],
                      subscriptions_to_set=[sub("org/ns/bob", ep)])
        self.assertEqual([(x.id, x.success) for x in ack.connections_status], [(ep, True)])
        self.assertEqual([x.success for x in ack.subscriptions_status], [True])
        self.assertTrue(route(alice, bob), "the route set on the endpoint carries nothing")
        entries = ask(s, "subscription_list")
        bobs = [e for e in entries if e.component_2 == "bob"]
        self.assertEqual([c.connection_id for c in bobs[0].remote_connections], [ep])
        self.assertIn(ep, [c.connection_id for c in ask(s, "connection_list")])
        # A channel request is not for this endpoint: refused with an ack.
        m = msg(create_channel_request=cpb.CreateChannelRequest(moderators=["org/ns/mod"]))
        s.send(m)
        a = s.recv()
        self.assertTrue(a.HasField("ack"), a)
        self.assertEqual(a.ack.original_message_id, m.message_id)
        self.assertFalse(a.ack.success)
        self.assertIn("controller", a.ack.messages[0])
        # Deleted: no route any more.
        ack = command(s, subscriptions_to_delete=[sub("org/ns/bob", ep)],
                      connections_to_delete=[ep])
        self.assertEqual([x.success for x in ack.subscriptions_status], [True])
        self.assertTrue(no_route(alice, bob))
        self.assertNotIn(ep, [c.connection_id for c in ask(s, "connection_list")])
        self.assertGreaterEqual(self.one.metric("slim_control_calls_total"), 1)

    def slimctl(self, *args, rc=0, secret=SECRET):
        c = self.certs
        p = subprocess.run(
            [os.environ["SLIMCTL_BIN"], "node-connect", f"https://{self.addr}", *args,
             "--tls-ca", f"{c}/ca.pem", "--tls-cert", f"{c}/client.pem",
             "--tls-key", f"{c}/client.key", "--shared-secret", secret, "--timeout", "10s"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, rc, p.stdout + p.stderr)
        return p.stdout + p.stderr

    def test_slimctl_node_connect(self):
        bob = Link(self.two.port)
        self.addCleanup(bob.close)
        bob.subscribe("org/ns/bob", sub_id=1)
        alice = Link(self.one.port)
        self.addCleanup(alice.close)
        d = tempfile.mkdtemp(prefix="slim-nc-")
        self.addCleanup(shutil.rmtree, d, True)
        ep = f"http://127.0.0.1:{self.two.port}"
        conn = os.path.join(d, "two.json")
        with open(conn, "w") as f:
            json.dump({"endpoint": ep, "connection_type": "edge"}, f)
        self.assertTrue(no_route(alice, bob))
        out = self.slimctl("route", "add", "org/ns/bob", "via", conn)
        self.assertIn(ep, out)
        self.assertTrue(route(alice, bob), "the route slimctl added carries nothing")
        listed = self.slimctl("route", "list", "-o", "json")
        self.assertIn("bob", listed)
        self.assertIn(ep, self.slimctl("connection", "list"))
        self.slimctl("route", "del", "org/ns/bob", "via", conn)
        self.assertTrue(no_route(alice, bob))
        # A wrong secret: refused, exit 1, and the route is not set.
        out = self.slimctl("route", "add", "org/ns/bob", "via", conn, rc=1,
                           secret="not-the-operators-secret-0123456789")
        self.assertIn("UNAUTHENTICATED", out.upper())
        self.assertTrue(no_route(alice, bob))

    def test_zz_stops_cleanly_with_a_stream_open(self):
        # Runs last (the class's node goes): SIGTERM with a control stream
        # open ends the stream and the node exits 0, promptly.
        s = self.stream()
        ask(s, "connection_list")  # the stream is open and answered
        t0 = time.time()
        self.one.signal(signal.SIGTERM)
        self.assertEqual(self.one.wait(), 0, self.one.stderr()[-3000:])
        self.assertLess(time.time() - t0, 5)
        self.assertNotIn("Sanitizer", self.one.stderr())
        with self.assertRaises(grpc.RpcError):
            s.recv()

    def connections(self):
        return [c.connection_id for c in ask(self.stream(), "connection_list")
                if c.connection_id]

    def test_refusals(self):
        before = self.connections()
        one = self.one
        tls0 = one.metric("slim_control_tls_handshakes_failed_total")
        # TLS: the client trusts another CA; no client certificate; a
        # client certificate of another CA.
        self.refused(grpc.StatusCode.UNAVAILABLE, ca="other-ca.pem")
        self.refused(grpc.StatusCode.UNAVAILABLE, client=None)
        self.refused(grpc.StatusCode.UNAVAILABLE, client="other-client")
        deadline = time.time() + 10
        while one.metric("slim_control_tls_handshakes_failed_total") < tls0 + 3:
            self.assertLess(time.time(), deadline, "TLS failures not counted")
            time.sleep(0.1)
        # Tokens: none, made with another secret, not a Bearer.
        no0 = one.metric("slim_control_calls_refused_total", reason="no_token")
        bad0 = one.metric("slim_control_calls_refused_total", reason="bad_token")
        e = self.refused(grpc.StatusCode.UNAUTHENTICATED, metadata=[])
        self.assertIn("token is required", e.details())
        self.refused(grpc.StatusCode.UNAUTHENTICATED,
                     metadata=[("authorization", "Basic " + token(SECRET))])
        e = self.refused(grpc.StatusCode.UNAUTHENTICATED,
                         metadata=[("authorization", "Bearer " + token("another-secret-" * 3))])
        self.assertIn("not accepted", e.details())
        self.assertEqual(one.metric("slim_control_calls_refused_total", reason="no_token"),
                         no0 + 2)
        self.assertEqual(one.metric("slim_control_calls_refused_total", reason="bad_token"),
                         bad0 + 1)
        # A refused call that carried a command changed nothing.
        s = self.stream(metadata=[("authorization", "Bearer " + token("wrong-" * 8))])
        ep = "http://127.0.0.1:9"
        s.send(msg(config_command=cpb.ConfigurationCommand(connections_to_create=[
            api.Connection(connection_id=ep, config_data=json.dumps({"endpoint": ep}))])))
        with self.assertRaises(grpc.RpcError) as cm:
            s.recv()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(self.connections(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
