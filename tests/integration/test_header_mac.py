"""Per-hop header MACs on a real `slim` node: what it refuses and what it
lets through, with grpcio clients that compute the MAC themselves
(hdrmac_ref.py, from the layout in docs/protocol.md)."""
import unittest

import grpc

from hdrmac_ref import header_mac
from slimnode import PEER, REMOTE, Link, Node, name, publish, subscribe


class Required(unittest.TestCase):
    """The default (require_header_mac: true on every listener)."""

    def setUp(self):
        self.node = Node()
        self.addCleanup(self.node.close)

    def link(self, **kw):
        link = Link(self.node.port, **kw)
        self.addCleanup(link.close)
        return link

    def pair(self):
        a, b = self.link(), self.link()
        self.assertIsNotNone(a.mac_key)
        self.assertEqual(len(a.reply.link_ecdh_public_key), 32)
        self.assertTrue(b.subscribe("agntcy/ns/b", sub_id=1).success)
        return a, b

    def test_tagged_traffic_flows_and_is_tagged_on_the_way_out(self):
        a, b = self.pair()
        a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"hello"))
        got = b.recv()  # recv() checks the tag the node put on it
        self.assertEqual(got.publish.msg.app_payload.blob, b"hello")
        self.assertEqual(len(got.publish.header.header_mac), 32)
        self.assertEqual(self.node.metric("slim_messages_dropped_total", reason="header_mac"), 0)

    def test_tampering_with_any_covered_field_is_refused(self):
        a, b = self.pair()
        b_id = name("agntcy/ns/b/1234")

        def src_id(h):
            h.source.name.name_id.id_1 ^= 1

        def src_hash(h):
            h.source.name.component_0 ^= 1

        def src_text(h):
            h.source.str_name.str_component_2 = "mallory"

        def dst_text(h):
            h.destination.str_name.str_component_2 = "b2"

        def dst_id(h):
            h.destination.name.name_id.CopyFrom(b_id.name.name_id)

        def drop_dst_text(h):
            h.destination.ClearField("str_name")

        changes = {
            "source id": src_id,
            "source hash": src_hash,
            "source text": src_text,
            "destination text": dst_text,
            "destination id": dst_id,
            "destination strings removed": drop_dst_text,
            "identity": lambda h: setattr(h, "identity", "someone else"),
            "fanout": lambda h: setattr(h, "fanout", 2),
            "ttl": lambda h: setattr(h, "ttl", h.ttl - 1),
            "error added": lambda h: setattr(h, "error", False),
            "recv_from added": lambda h: setattr(h, "recv_from", 3),
            "forward_to added": lambda h: setattr(h, "forward_to", 3),
            "tag shortened": lambda h: setattr(h, "header_mac", h.header_mac[:31]),
            "tag removed": lambda h: h.ClearField("header_mac"),
        }
        for i, (what, change) in enumerate(changes.items()):
            m = publish("agntcy/ns/a/99", "agntcy/ns/b", b"tampered %d" % i)
            h = m.publish.header
            h.header_mac = header_mac(a.mac_key, a.link_id, h)
            change(h)
            a.send(m, tag=False)
        b.expect_nothing(1.0)
        self.assertEqual(self.node.metric("slim_messages_dropped_total", reason="header_mac"), len(changes))
        # what the MAC does not cover may change: the payload and session
        m = publish("agntcy/ns/a/99", "agntcy/ns/b", b"original")
        m.publish.header.header_mac = header_mac(a.mac_key, a.link_id, m.publish.header)
        m.publish.msg.app_payload.blob = b"changed payload"
        m.publish.session.session_id = 77
        a.send(m, tag=False)
        got = b.recv()
        self.assertEqual(got.publish.msg.app_payload.blob, b"changed payload")

    def test_untagged_subscription_is_refused(self):
        a, b = self.pair()
        b.send(subscribe("agntcy/ns/untagged", sub_id=5), tag=False)
        b.expect_nothing(0.5)  # no ack: dropped before it is read
        a.send(publish("agntcy/ns/a", "agntcy/ns/untagged", b"x"))
        self.assertTrue(a.recv().publish.header.error)  # no route: never installed
        self.assertGreaterEqual(self.node.metric("slim_messages_dropped_total", reason="header_mac"), 1)

    def test_a_peer_without_a_key_is_refused(self):
        with self.assertRaises(AssertionError):
            self.link(mac=False, wait=3)
        self.assertIn("require_header_mac is on and the peer offered no header MAC key",
                      self.node.stderr())
        self.assertEqual(self.node.metric("slim_link_negotiations_failed_total"), 1)

    def test_peer_links_agree_on_a_key_and_send_no_tags(self):
        """As upstream: PEER links (nodes of one mesh) must agree on a key
        when it is required, but carry no tags."""
        p = self.link(conn_type=PEER)
        self.assertIsNotNone(p.mac_key)
        r = self.link(conn_type=REMOTE)
        self.assertTrue(r.subscribe("agntcy/ns/r", sub_id=1).success)
        relayed = p.recv()  # r's subscription, propagated to the peer node
        self.assertTrue(relayed.HasField("subscribe"), relayed)
        self.assertFalse(relayed.subscribe.header.HasField("header_mac"))
        p.send(publish("agntcy/ns/p", "agntcy/ns/r", b"from a peer"))
        got = r.recv()
        self.assertEqual(got.publish.msg.app_payload.blob, b"from a peer")
        self.assertEqual(len(got.publish.header.header_mac), 32)
        p.send(subscribe("agntcy/ns/p"))
        self.node.wait_counter("slim_messages_received_total", 2, kind="subscribe")
        r.send(publish("agntcy/ns/r", "agntcy/ns/p", b"to a peer"))
        got = p.recv()
        self.assertEqual(got.publish.msg.app_payload.blob, b"to a peer")
        self.assertFalse(got.publish.header.HasField("header_mac"))


class Optional(unittest.TestCase):
    """require_header_mac: false on the listener."""

    def setUp(self):
        self.node = Node(server_tls="{insecure: true}\n          require_header_mac: false")
        self.addCleanup(self.node.close)

    def link(self, **kw):
        link = Link(self.node.port, **kw)
        self.addCleanup(link.close)
        return link

    def test_peers_with_and_without_keys_talk(self):
        plain = self.link(mac=False)
        tagged = self.link()
        self.assertIsNone(plain.mac_key)
        self.assertEqual(len(plain.reply.link_ecdh_public_key), 0)
        self.assertIsNotNone(tagged.mac_key)
        self.assertTrue(plain.subscribe("agntcy/ns/plain", sub_id=1).success)
        self.assertTrue(tagged.subscribe("agntcy/ns/tagged", sub_id=2).success)
        tagged.send(publish("agntcy/ns/tagged", "agntcy/ns/plain", b"to plain"))
        got = plain.recv()
        self.assertFalse(got.publish.header.HasField("header_mac"))
        plain.send(publish("agntcy/ns/plain", "agntcy/ns/tagged", b"to tagged"))
        got = tagged.recv()
        self.assertEqual(len(got.publish.header.header_mac), 32)

    def test_tagged_publish_without_a_key_is_refused(self):
        plain = self.link(mac=False)
        other = self.link(mac=False)
        self.assertTrue(other.subscribe("agntcy/ns/o", sub_id=1).success)
        m = publish("agntcy/ns/p", "agntcy/ns/o", b"x")
        m.publish.header.header_mac = bytes(32)
        plain.send(m)
        other.expect_nothing(0.5)
        self.assertEqual(self.node.metric("slim_messages_dropped_total", reason="header_mac"), 1)

    def test_a_key_still_means_tags(self):
        tagged = self.link()
        other = self.link(mac=False)
        self.assertTrue(other.subscribe("agntcy/ns/o", sub_id=1).success)
        tagged.send(publish("agntcy/ns/t", "agntcy/ns/o", b"untagged"), tag=False)
        other.expect_nothing(0.5)
        self.assertEqual(self.node.metric("slim_messages_dropped_total", reason="header_mac"), 1)


class BetweenNodes(unittest.TestCase):
    def test_links_between_nodes_are_tagged(self):
        a = Node(node_name="a")
        self.addCleanup(a.close)
        client = (f"        - endpoint: \"http://127.0.0.1:{a.port}\"\n"
                  "          require_header_mac: false\n")
        b = Node(node_name="b", client_yaml=client)
        self.addCleanup(b.close)
        # b offers a key anyway (as upstream's clients do), so the link is
        # up and tagged although b does not insist
        sub = Link(a.port)
        self.addCleanup(sub.close)
        sub.subscribe("agntcy/ns/x", sub_id=1)
        pub = Link(b.port)
        self.addCleanup(pub.close)
        for _ in range(100):
            pub.send(publish("agntcy/ns/p", "agntcy/ns/x", b"across"))
            try:
                if sub.recv(0.2).publish.msg.app_payload.blob == b"across":
                    break
            except AssertionError:
                pass
        else:
            self.fail("nothing crossed the link\n" + b.stderr()[-2000:])
        self.assertEqual(a.metric("slim_messages_dropped_total", reason="header_mac"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
