"""TLS and authentication on both controller ports, and the counters of its
/metrics page (docs/control-plane.md, "Authentication").

The nodes are grpcio clients opening the control stream as a node would;
their shared-secret tokens are made here with hmac/hashlib/base64 as
docs/identity.md ("Tokens") says, never with our C code. Every refusal is
checked three ways: the status the client sees, that the controller's state
did not change, and that its counter went up.
"""
import datetime
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import grpc

from cplane import Controller, cp, cp_grpc, api
from controller.v1 import controller_pb2 as ctl
from slimnode import Node, make_certs, read, shared_secret_token

BIN = os.environ["SLIM_CP_BIN"]
OPEN = "/controller.proto.v1.ControllerService/OpenControlChannel"
SECRET = "a-shared-secret-of-at-least-32-bytes!"
NB_TOKENS = ("operator-token-1", "operator-token-2")
SUFFIX = "Ab3dEf7h"


token = shared_secret_token


class Stream:
    """A control stream opened with grpcio. It answers what the controller
    sends as a node would: commands are acked (connections kept), connection
    lists are answered from what it was given."""

    def __init__(self, port, creds, bearer=None):
        self.channel = grpc.secure_channel(f"127.0.0.1:{port}", creds)
        self.out = queue.Queue()
        self.acks = queue.Queue()
        self.conns = []
        self.error = None
        self.done = threading.Event()
        rpc = self.channel.stream_stream(OPEN, request_serializer=None,
                                         response_deserializer=None)
        md = [("authorization", f"Bearer {bearer}")] if bearer is not None else None
        self.call = rpc(iter(self.out.get, None), metadata=md)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for raw in self.call:
                m = ctl.ControlMessage.FromString(raw)
                if m.HasField("ack"):
                    self.acks.put(m.ack)
                elif m.HasField("config_command"):
                    a = ctl.ControlMessage()
                    a.config_command_ack.original_message_id = m.message_id
                    for c in m.config_command.connections_to_create:
                        self.conns.append(c.connection_id)
                        a.config_command_ack.connections_status.add(id=c.connection_id,
                                                                    success=True)
                    for s in m.config_command.subscriptions_to_set:
                        a.config_command_ack.subscriptions_status.add(id=s.component_2,
                                                                      success=True)
                    self.send(a)
                elif m.HasField("connection_list_request"):
                    a = ctl.ControlMessage()
                    r = a.connection_list_response
                    r.original_message_id = m.message_id
                    r.done = True
                    for i, c in enumerate(self.conns):
                        r.entries.add(id=i, connection_id=c, config_data="{}")
                    self.send(a)
        except grpc.RpcError as e:
            self.error = e
        finally:
            self.done.set()

    def send(self, m):
        m.message_id = m.message_id or str(uuid.uuid4())
        self.out.put(m.SerializeToString())

    def register(self, node_id):
        m = ctl.ControlMessage()
        m.register_node_request.node_id = node_id
        m.register_node_request.connection_details.add(endpoint="127.0.0.1:46357")
        self.send(m)

    def ended(self, timeout=10):
        """The status the stream ended with (it must end)."""
        assert self.done.wait(timeout), "the stream is still open"
        return self.error

    def close(self):
        self.out.put(None)
        self.channel.close()


class Ports(unittest.TestCase):
    """One controller with TLS on both ports (mTLS on the southbound),
    southbound.auth and northbound.auth, and metrics."""

    @classmethod
    def setUpClass(cls):
        cls.certs = d = make_certs()
        cls.ca = read(os.path.join(d, "ca.pem"))
        cls.client = (read(os.path.join(d, "client.key")), read(os.path.join(d, "client.pem")))
        cls.nb_creds = grpc.ssl_channel_credentials(root_certificates=cls.ca)
        srv = f"certFile: \"{d}/server.pem\", keyFile: \"{d}/server.key\""
        cls.ctl = Controller(
            northbound=f"tls: {{{srv}}}, auth: {{tokens: [{NB_TOKENS[0]}, {NB_TOKENS[1]}]}}",
            southbound=f"tls: {{{srv}, caFile: \"{d}/ca.pem\"}}, "
                       f"auth: {{sharedSecret: \"{SECRET}\", nodes: [slim/0, slim/1]}}",
            nb_credentials=cls.nb_creds, nb_token=NB_TOKENS[1], metrics=True)

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.ctl.stop()
            if rc != 0:
                raise AssertionError(f"the controller exited with {rc}")
        finally:
            cls.ctl.cleanup()

    def setUp(self):
        self.streams = []

    def tearDown(self):
        for s in self.streams:
            s.close()

    def creds(self, ca="ca.pem", client="client"):
        key = chain = None
        if client is not None:
            key = read(os.path.join(self.certs, f"{client}.key"))
            chain = read(os.path.join(self.certs, f"{client}.pem"))
        return grpc.ssl_channel_credentials(root_certificates=read(os.path.join(self.certs, ca)),
                                            private_key=key, certificate_chain=chain)

    def stream(self, creds=None, bearer=None):
        s = Stream(self.ctl.sb_port, creds or self.creds(), bearer)
        self.streams.append(s)
        return s

    def counter(self, series):
        return self.ctl.metric(series)

    def wait_counter(self, series, value, timeout=10):
        end = time.time() + timeout
        while True:
            got = self.counter(series)
            if got == value:
                return
            if time.time() > end:
                raise AssertionError(f"{series} is {got}, expected {value}")
            time.sleep(0.1)

    def test_metrics_page(self):
        text = self.ctl.metrics_text()
        for series in ('slim_controller_registrations_refused_total{reason="no_token"}',
                       'slim_controller_registrations_refused_total{reason="bad_token"}',
                       'slim_controller_registrations_refused_total{reason="wrong_node"}',
                       'slim_controller_registrations_refused_total{reason="unknown_node"}',
                       'slim_controller_unauthenticated_total{api="northbound"}',
                       'slim_controller_tls_failed_total{api="northbound"}',
                       'slim_controller_tls_failed_total{api="southbound"}',
                       'slim_controller_nodes_connected'):
            self.assertIn(series + " ", text)
        self.assertIn("# TYPE slim_controller_nodes_connected gauge", text)
        self.assertIn("# TYPE slim_controller_registrations_refused_total counter", text)

    def test_southbound(self):
        tls_failed = 'slim_controller_tls_failed_total{api="southbound"}'
        good = token(SECRET, f"slim/0_{SUFFIX}")
        # Handshakes that fail: the node sees UNAVAILABLE, the controller
        # counts a TLS failure, and nothing registers.
        for name, creds in (("node trusting another CA", self.creds(ca="other-ca.pem")),
                            ("node without a client certificate", self.creds(client=None)),
                            ("client certificate of another CA",
                             self.creds(client="other-client"))):
            with self.subTest(name):
                before = self.counter(tls_failed)
                s = self.stream(creds, good)
                s.register("slim/0")
                e = s.ended()
                self.assertIsNotNone(e)
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e)
                self.wait_counter(tls_failed, before + 1)
                self.assertNotIn("slim/0", self.ctl.nodes())

        refusals = (
            ("no token", None, "slim/0", grpc.StatusCode.UNAUTHENTICATED,
             "a token is required", "no_token"),
            ("token of another secret", token("not-our-secret", f"slim/0_{SUFFIX}"), "slim/0",
             grpc.StatusCode.UNAUTHENTICATED, "MAC", "bad_token"),
            ("expired token", token(SECRET, f"slim/0_{SUFFIX}", at=time.time() - 7200),
             "slim/0", grpc.StatusCode.UNAUTHENTICATED, "older", "bad_token"),
            ("token made for another node", token(SECRET, f"slim/1_{SUFFIX}"), "slim/0",
             grpc.StatusCode.PERMISSION_DENIED, "the token was made for another node",
             "wrong_node"),
            ("token with a longer id", token(SECRET, f"slim/0_{SUFFIX}x"), "slim/0",
             grpc.StatusCode.PERMISSION_DENIED, "another node", "wrong_node"),
            ("unknown node", token(SECRET, f"slim/9_{SUFFIX}"), "slim/9",
             grpc.StatusCode.PERMISSION_DENIED, "unknown node slim/9", "unknown_node"),
        )
        for name, bearer, node_id, code, text, reason in refusals:
            with self.subTest(name):
                series = f'slim_controller_registrations_refused_total{{reason="{reason}"}}'
                before = self.counter(series)
                s = self.stream(bearer=bearer)
                s.register(node_id)
                e = s.ended()
                self.assertIsNotNone(e)
                self.assertEqual(e.code(), code, e)
                self.assertIn(text, e.details())
                self.assertEqual(self.counter(series), before + 1)
                self.assertNotIn(node_id, self.ctl.nodes())
                self.assertEqual(self.counter("slim_controller_nodes_connected"), 0)
        self.assertIn("refused", self.ctl.stderr())

        # The good node registers.
        s = self.stream(bearer=good)
        s.register("slim/0")
        ack = s.acks.get(timeout=10)
        self.assertTrue(ack.success, ack)
        self.ctl.wait_connected("slim/0")
        self.assertEqual(self.counter("slim_controller_nodes_connected"), 1)
        # A refused stream of the same id does not replace it.
        series = 'slim_controller_registrations_refused_total{reason="wrong_node"}'
        before = self.counter(series)
        intruder = self.stream(bearer=token(SECRET, f"slim/1_{SUFFIX}"))
        intruder.register("slim/0")
        self.assertEqual(intruder.ended().code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(self.counter(series), before + 1)
        self.assertEqual(self.ctl.nodes()["slim/0"].status, cp.CONNECTED)
        self.assertEqual(self.counter("slim_controller_nodes_connected"), 1)
        self.assertFalse(s.done.is_set())
        s.close()
        self.streams.remove(s)
        end = time.time() + 10
        while self.ctl.nodes()["slim/0"].status != cp.NOT_CONNECTED:
            self.assertLess(time.time(), end)
            time.sleep(0.05)

    def real_node(self, name, secret=SECRET, client="client"):
        """A `slim` node slim/<name> dialling the southbound over TLS, with
        a client certificate and controller.token_provider (our C code
        makes its token: the grpcio streams above check the controller,
        this checks the two together)."""
        d = self.certs
        cert = f", cert_file: \"{d}/{client}.pem\", key_file: \"{d}/{client}.key\"" if client else ""
        node = Node(node_name=name, extra_dataplane=(
            "    controller:\n"
            "      clients:\n"
            f"        - endpoint: \"https://127.0.0.1:{self.ctl.sb_port}\"\n"
            f"          tls: {{ca_file: \"{d}/ca.pem\"{cert}}}\n"
            "          backoff: {type: fixed_interval, interval: 200ms}\n"
            f"      token_provider: {{shared_secret: \"{secret}\"}}\n"))
        self.addCleanup(node.close)
        return node

    def connected(self, node_id):
        n = self.ctl.nodes().get(node_id)
        return n is not None and n.status == cp.CONNECTED

    def test_real_nodes(self):
        bad = 'slim_controller_registrations_refused_total{reason="bad_token"}'
        unknown = 'slim_controller_registrations_refused_total{reason="unknown_node"}'
        tls_failed = 'slim_controller_tls_failed_total{api="southbound"}'
        b0, u0, t0 = self.counter(bad), self.counter(unknown), self.counter(tls_failed)
        # Another secret: refused at each attempt, never registered.
        wrong = self.real_node("1", secret="not-the-controllers-secret-0123456789")
        end = time.time() + 15
        while self.counter(bad) < b0 + 2:
            self.assertLess(time.time(), end, "the wrong secret was not refused twice")
            time.sleep(0.1)
        self.assertFalse(self.connected("slim/1"))
        wrong.close()
        # Not in southbound.auth.nodes.
        stranger = self.real_node("7")
        end = time.time() + 15
        while self.counter(unknown) < u0 + 1:
            self.assertLess(time.time(), end, "the unknown node was not refused")
            time.sleep(0.1)
        self.assertNotIn("slim/7", self.ctl.nodes())
        stranger.close()
        # No client certificate: the handshake fails.
        nocert = self.real_node("1", client=None)
        end = time.time() + 15
        while self.counter(tls_failed) < t0 + 1:
            self.assertLess(time.time(), end, "the missing certificate was not counted")
            time.sleep(0.1)
        self.assertFalse(self.connected("slim/1"))
        nocert.close()
        # The right secret and certificate: registered.
        good = self.real_node("1")
        seen = self.ctl.wait_connected("slim/1")["slim/1"].last_seen
        # last_seen is the wall clock of the registration, in UTC.
        at = datetime.datetime.strptime(seen, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertLess(abs(at - time.time()), 120, seen)
        good.close()
        end = time.time() + 10
        while self.counter("slim_controller_nodes_connected") != 0:
            self.assertLess(time.time(), end)
            time.sleep(0.05)

    def nb_error(self, channel, fn, req):
        stub = cp_grpc.ControlPlaneServiceStub(channel)
        try:
            getattr(stub, fn)(req, timeout=10)
        except grpc.RpcError as e:
            return e
        raise AssertionError(f"{fn} succeeded")

    def test_northbound(self):
        unauth = 'slim_controller_unauthenticated_total{api="northbound"}'
        tls_failed = 'slim_controller_tls_failed_total{api="northbound"}'
        # A node to hold connections: slim/1, connected.
        node = self.stream(bearer=token(SECRET, f"slim/1_{SUFFIX}"))
        node.register("slim/1")
        self.assertTrue(node.acks.get(timeout=10).success)
        self.ctl.wait_connected("slim/1")
        listed = list(self.ctl.stub.ListConnections(cp.Node(id="slim/1"), timeout=10).entries)

        ep = "http://127.0.0.1:1234"
        create = cp.CreateConnectionRequest(
            connection=api.Connection(connection_id=ep, config_data='{"endpoint": "%s"}' % ep),
            node_id="slim/1")
        for name, bearer, text in (("no token", None, "a token is required"),
                                   ("wrong token", "not-a-token", "the token is not accepted"),
                                   ("a token's prefix", NB_TOKENS[0][:-1],
                                    "the token is not accepted")):
            with self.subTest(name):
                before = self.counter(unauth)
                ch = self.ctl.nb_channel(self.nb_creds, bearer)
                try:
                    for fn, req in (("ListNodes", cp.NodeListRequest()),
                                    ("CreateConnection", create)):
                        e = self.nb_error(ch, fn, req)
                        self.assertEqual(e.code(), grpc.StatusCode.UNAUTHENTICATED, e)
                        self.assertEqual(e.details(), text)
                finally:
                    ch.close()
                self.assertEqual(self.counter(unauth), before + 2)
                self.assertEqual(
                    list(self.ctl.stub.ListConnections(cp.Node(id="slim/1"),
                                                       timeout=10).entries), listed)
                self.assertEqual(node.conns, [])

        # Plaintext on the TLS port.
        before = self.counter(tls_failed)
        ch = grpc.insecure_channel(f"127.0.0.1:{self.ctl.nb_port}")
        try:
            e = self.nb_error(ch, "ListNodes", cp.NodeListRequest())
            self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e)
        finally:
            ch.close()
        self.wait_counter(tls_failed, before + 1)

        # Either configured token works.
        before = self.counter(unauth)
        ch = self.ctl.nb_channel(self.nb_creds, NB_TOKENS[0])
        try:
            stub = cp_grpc.ControlPlaneServiceStub(ch)
            r = stub.CreateConnection(create, timeout=10)
            self.assertTrue(r.success, r)
        finally:
            ch.close()
        self.assertEqual(node.conns, [ep])
        entries = self.ctl.stub.ListConnections(cp.Node(id="slim/1"), timeout=10).entries
        self.assertEqual([x.connection_id for x in entries], [ep])
        self.assertEqual(self.counter(unauth), before)


class ConfigErrors(unittest.TestCase):
    def test_bad_configs(self):
        d = tempfile.mkdtemp()
        cases = {
            "northbound: {auth: {tokens: [good, \"\"]}}\n": "northbound.auth.tokens[1]",
            "northbound: {auth: {tokens: []}}\n": "northbound.auth.tokens",
            "northbound: {auth: {}}\n": "northbound.auth",
            "southbound: {auth: {nodes: slim/0}}\n": "southbound.auth.nodes",
            "southbound: {auth: {nodes: [slim/0, \"\"]}}\n": "southbound.auth.nodes[1]",
            "southbound: {auth: {sharedSecret: \"\"}}\n": "southbound.auth.sharedSecret",
            "northbound: {tls: {certFile: a.pem}}\n": "northbound.tls",
            "southbound: {tls: {keyFile: a.key}}\n": "southbound.tls",
            "northbound: {tls: {useSpiffe: true}}\n": "northbound.tls.useSpiffe",
            "southbound: {tls: {}}\n": "southbound.tls",
            "northbound: {tls: {source: {type: spire}}}\n": "northbound.tls.source",
            "metrics: {endpoint: nope}\n": "metrics.endpoint",
            "metrics: {}\n": "metrics",
        }
        for text, key in cases.items():
            with self.subTest(text):
                path = os.path.join(d, "c.yaml")
                with open(path, "w") as f:
                    f.write(text)
                p = subprocess.run([BIN, "--config", path], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(key + ":", p.stderr)

    def test_plain_ports_still_work(self):
        # Without tls/auth blocks nothing is asked of anybody.
        c = Controller(metrics=True)
        try:
            self.assertEqual(c.nodes(), {})
            self.assertEqual(c.metric('slim_controller_unauthenticated_total{api="northbound"}'),
                             0)
            self.assertEqual(c.stop(), 0)
        finally:
            c.cleanup()


class NodeSpelling(unittest.TestCase):
    def test_tls_as_the_node_spells_it(self):
        # The northbound's tls block in a node ServerConfig's keys (source,
        # client_ca): mutual TLS.
        d = make_certs()
        ca = read(os.path.join(d, "ca.pem"))
        good = grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=read(os.path.join(d, "client.key")),
            certificate_chain=read(os.path.join(d, "client.pem")))
        c = Controller(northbound=(
            f"tls: {{source: {{type: file, cert: \"{d}/server.pem\", key: \"{d}/server.key\"}}, "
            f"client_ca: {{type: file, path: \"{d}/ca.pem\"}}}}"), nb_credentials=good)
        try:
            self.assertEqual(c.nodes(), {})
            ch = grpc.secure_channel(f"127.0.0.1:{c.nb_port}",
                                     grpc.ssl_channel_credentials(root_certificates=ca))
            with self.assertRaises(grpc.RpcError) as cm:
                cp_grpc.ControlPlaneServiceStub(ch).ListNodes(cp.NodeListRequest(), timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            ch.close()
            self.assertEqual(c.stop(), 0)
        finally:
            c.cleanup()
            shutil.rmtree(d, ignore_errors=True)

if __name__ == "__main__":
    unittest.main()
