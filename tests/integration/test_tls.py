"""TLS on the node: grpcio clients over TLS and mutual TLS, refusals with
the wrong CA or without a client certificate, and node-to-node links over
TLS (https:// with a CA)."""
import os
import time
import unittest

import grpc

from slimnode import METHOD, Link, Node, make_certs, pb, publish, read


class NodeTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()

    def cert(self, name):
        return os.path.join(self.certs, name)

    def creds(self, client=False, ca="ca.pem"):
        kw = {"root_certificates": read(self.cert(ca))}
        if client:
            kw["private_key"] = read(self.cert("client.key"))
            kw["certificate_chain"] = read(self.cert("client.pem"))
        return grpc.ssl_channel_credentials(**kw)

    def tls_node(self, mtls=False, **kw):
        src = f"{{type: file, cert: {self.cert('server.pem')}, key: {self.cert('server.key')}}}"
        tls = f"{{source: {src}"
        if mtls:
            tls += f", client_ca: {{type: file, path: {self.cert('ca.pem')}}}"
        tls += "}"
        node = Node(server_tls=tls, **kw)
        self.addCleanup(node.close)
        return node

    def link(self, node, **kw):
        link = Link(node.port, host="localhost", **kw)
        self.addCleanup(link.close)
        return link

    def test_grpcio_over_tls(self):
        node = self.tls_node()
        a = self.link(node, credentials=self.creds())
        b = self.link(node, credentials=self.creds())
        b.subscribe("agntcy/ns/tls", sub_id=1)
        a.send(publish("agntcy/ns/a", "agntcy/ns/tls", b"secret"))
        self.assertEqual(b.recv().publish.msg.app_payload.blob, b"secret")

    def assert_refused(self, node, credentials):
        """The connection fails at once (UNAVAILABLE): a node that merely
        hung would end in DEADLINE_EXCEEDED instead. The node then still
        serves a proper client."""
        target = f"localhost:{node.port}"
        channel = (grpc.insecure_channel(target) if credentials is None
                   else grpc.secure_channel(target, credentials))
        self.addCleanup(channel.close)
        m = pb.Message()
        m.link.link_negotiation.link_id = "refused"
        call = channel.stream_stream(METHOD)(iter([m.SerializeToString()]), timeout=10)
        start = time.time()
        with self.assertRaises(grpc.RpcError) as cm:
            next(call)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE, cm.exception)
        self.assertLess(time.time() - start, 8)
        ok = self.link(node, credentials=self.creds(client=True))
        self.assertTrue(ok.subscribe("agntcy/ns/after-refusal", sub_id=9).success)

    def test_wrong_ca_is_refused(self):
        node = self.tls_node()
        self.assert_refused(node, self.creds(ca="other-ca.pem"))

    def test_plaintext_client_on_a_tls_port_is_refused(self):
        node = self.tls_node()
        self.assert_refused(node, None)

    def test_mutual_tls(self):
        node = self.tls_node(mtls=True)
        a = self.link(node, credentials=self.creds(client=True))
        self.assertTrue(a.subscribe("agntcy/ns/m", sub_id=1).success)
        self.assert_refused(node, self.creds(client=False))  # no client cert
        deadline = time.time() + 5
        while "certificate" not in node.stderr().lower() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("certificate", node.stderr().lower())

    def test_node_to_node_over_tls(self):
        a = self.tls_node(node_name="a")
        client = (f"        - endpoint: \"https://localhost:{a.port}\"\n"
                  f"          tls: {{ca_source: {{type: file, path: {self.cert('ca.pem')}}}}}\n")
        b = Node(node_name="b", client_yaml=client)
        self.addCleanup(b.close)
        pub = self.link(a, credentials=self.creds())
        sub = Link(b.port)
        self.addCleanup(sub.close)
        sub.subscribe("agntcy/ns/over-tls", sub_id=1)
        end = time.time() + 15
        while True:
            self.assertLess(time.time(), end, b.stderr()[-2000:])
            pub.send(publish("agntcy/ns/p", "agntcy/ns/over-tls", b"hop"))
            try:
                m = sub.recv(0.3)
                if m.publish.msg.app_payload.blob == b"hop":
                    break
            except AssertionError:
                pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
