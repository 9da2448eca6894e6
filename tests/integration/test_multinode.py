"""Integration tests with three `slim` nodes: subscriptions propagate over
node links, messages cross several hops exactly once, links that break come
back with their subscriptions, and the ttl stops loops.

Nodes dial each other through their dataplane.clients; clients are grpcio
programs. Propagation takes a moment, so tests wait for a probe message to
arrive (with a deadline) rather than sleeping.
"""
import time
import unittest

from slimnode import Link, Node, pb, publish, subscribe  # noqa: F401
from tcpproxy import Proxy


def wait_route(sender, receiver, src, dst, deadline=10.0, fanout=1):
    """Publishes probes until one reaches receiver; drains probes after."""
    end = time.time() + deadline
    k = 0
    while time.time() < end:
        k += 1
        sender.send(publish(src, dst, b"probe", fanout=fanout, session_id=999, message_id=k))
        try:
            m = receiver.recv(0.2)
            if m.HasField("publish") and m.publish.msg.app_payload.blob == b"probe":
                break
        except AssertionError:
            pass
    else:
        raise AssertionError(f"no route from {src} to {dst} within {deadline}s")
    drain(receiver)
    drain(sender)


def wait_links(node, count, deadline=15.0):
    """Waits until the node has negotiated `count` links with other nodes."""
    end = time.time() + deadline
    while node.stderr().count("linked as node") < count:
        if time.time() > end:
            raise AssertionError(f"node links not up within {deadline}s:\n" +
                                 node.stderr()[-2000:])
        time.sleep(0.05)


def drain(link, quiet=0.3):
    while True:
        try:
            link.recv(quiet)
        except AssertionError:
            return


def count_payloads(link, prefix, quiet=0.5):
    """Receives until quiet; returns {payload: times received} for payloads
    starting with prefix."""
    got = {}
    while True:
        try:
            m = link.recv(quiet)
        except AssertionError:
            return got
        if m.HasField("publish"):
            blob = m.publish.msg.app_payload.blob
            if blob.startswith(prefix):
                got[blob] = got.get(blob, 0) + 1


class MultiNode(unittest.TestCase):
    def setUp(self):
        self.nodes, self.links, self.proxies = [], [], []

    def tearDown(self):
        for link in self.links:
            link.close()
        for node in self.nodes:
            node.close()
        for p in self.proxies:
            p.close()

    def node(self, name, clients=(), extra=""):
        n = Node(node_name=name, clients=clients,
                 extra_dataplane=extra + "      # backoff for redials\n")
        self.nodes.append(n)
        return n

    def link(self, node):
        link = Link(node.port)
        self.links.append(link)
        return link


class Chain(MultiNode):
    def test_publisher_on_a_reaches_subscriber_on_c(self):
        a = self.node("a")
        b = self.node("b", clients=[a.port])
        c = self.node("c", clients=[b.port])
        pub, sub = self.link(a), self.link(c)
        sub.subscribe("agntcy/ns/x", sub_id=1)
        wait_route(pub, sub, "agntcy/ns/p", "agntcy/ns/x")
        for k in range(50):
            pub.send(publish("agntcy/ns/p", "agntcy/ns/x", b"m%d" % k, message_id=k))
        got = count_payloads(sub, b"m")
        self.assertEqual(got, {b"m%d" % k: 1 for k in range(50)})
        m = None
        pub.send(publish("agntcy/ns/p", "agntcy/ns/x", b"ttl-check", message_id=100))
        m = sub.recv()
        self.assertEqual(m.publish.header.ttl, 5)  # three nodes, one decrement each
        # The forwarded bytes equal what a full decode + re-encode gives
        # (Python's protobuf here), and carry no node-local fields.
        raw = sub.raw_log[-1]
        self.assertEqual(raw, pb.Message.FromString(raw).SerializeToString())
        for field in ("recv_from", "forward_to", "incoming_conn"):
            self.assertFalse(m.publish.header.HasField(field), field)
        # unsubscribe stops it: the publisher ends up with "no route"
        sub.subscribe("agntcy/ns/x", sub_id=2, unsubscribe=True)
        end = time.time() + 10
        while True:
            self.assertLess(time.time(), end, "the unsubscription never reached node a")
            pub.send(publish("agntcy/ns/p", "agntcy/ns/x", b"after", message_id=200))
            try:
                e = pub.recv(0.3)
            except AssertionError:
                continue
            if e.publish.header.error:
                break
        sub.expect_nothing(0.5)


    def test_message_id_zero_is_not_a_duplicate(self):
        """Clients that do not number their messages leave the message id
        at 0: ten of them through a chain of three nodes all arrive, one to
        one and as broadcasts."""
        a = self.node("a")
        b = self.node("b", clients=[a.port])
        c = self.node("c", clients=[b.port])
        pub, sub = self.link(a), self.link(c)
        sub.subscribe("agntcy/ns/z", sub_id=1)
        wait_route(pub, sub, "agntcy/ns/p", "agntcy/ns/z")
        for fanout in (1, 256):
            for k in range(10):
                pub.send(publish("agntcy/ns/p", "agntcy/ns/z", b"z%d-%d" % (fanout, k),
                                 fanout=fanout, session_id=1, message_id=0))
        got = count_payloads(sub, b"z")
        want = {b"z%d-%d" % (f, k): 1 for f in (1, 256) for k in range(10)}
        self.assertEqual(got, want)


class Triangle(MultiNode):
    def test_each_subscriber_gets_each_message_once(self):
        a = self.node("a")
        b = self.node("b", clients=[a.port])
        c = self.node("c", clients=[a.port, b.port])
        for n in (a, b, c):
            wait_links(n, 2)
        pub = self.link(a)
        subs = [self.link(n) for n in (a, b, c)]
        for i, s in enumerate(subs):
            s.subscribe("agntcy/ns/chan", sub_id=10 + i)
        for s in subs:
            wait_route(pub, s, "agntcy/ns/p", "agntcy/ns/chan", fanout=256)
        for s in subs:
            drain(s)
        for k in range(100):
            pub.send(publish("agntcy/ns/p", "agntcy/ns/chan", b"t%d" % k, fanout=256,
                             message_id=1000 + k))
        for s in subs:
            got = count_payloads(s, b"t")
            self.assertEqual(got, {b"t%d" % k: 1 for k in range(100)})
        dups = sum(n.metric("slim_messages_dropped_total", reason="duplicate") for n in (a, b, c))
        self.assertGreater(dups, 0, "the triangle should have produced duplicates to filter")

    def test_ttl_stops_loops_without_the_filter(self):
        off = "      duplicate_filter: false\n"
        a = self.node("a", extra=off)
        b = self.node("b", clients=[a.port], extra=off)
        c = self.node("c", clients=[a.port, b.port], extra=off)
        for n in (a, b, c):
            wait_links(n, 2)
        pub = self.link(a)
        sub = self.link(c)
        sub.subscribe("agntcy/ns/loop", sub_id=1)
        b_sub = self.link(b)
        b_sub.subscribe("agntcy/ns/loop", sub_id=2)
        wait_route(pub, sub, "agntcy/ns/p", "agntcy/ns/loop", fanout=256)
        wait_route(pub, b_sub, "agntcy/ns/p", "agntcy/ns/loop", fanout=256)
        pub.send(publish("agntcy/ns/p", "agntcy/ns/loop", b"L", fanout=256, message_id=77))
        got = count_payloads(sub, b"L", quiet=1.0)
        # copies circle until the ttl runs out: more than one, but finitely many
        self.assertGreater(got.get(b"L", 0), 1)
        self.assertLess(got.get(b"L", 0), 1000)
        ttl_drops = sum(n.metric("slim_messages_dropped_total", reason="ttl") for n in (a, b, c))
        self.assertGreater(ttl_drops, 0, got)
        sub.expect_nothing(1.0)  # and then it stops


class LinkCut(MultiNode):
    def test_subscriptions_replayed_after_a_cut(self):
        a = self.node("a")
        proxy = Proxy(a.port)
        self.proxies.append(proxy)
        b = self.node("b", clients=[proxy.port])
        pub, sub = self.link(a), self.link(b)
        sub.subscribe("agntcy/ns/r", sub_id=1)
        wait_route(pub, sub, "agntcy/ns/p", "agntcy/ns/r")
        proxy.cut()
        # node a forgets the route learnt over the link: "no route" comes back
        end = time.time() + 10
        while True:
            self.assertLess(time.time(), end, "node a kept routing to a dead link")
            pub.send(publish("agntcy/ns/p", "agntcy/ns/r", b"x", message_id=5))
            try:
                if pub.recv(0.3).publish.header.error:
                    break
            except AssertionError:
                pass
        proxy.restore()
        # b redials and replays; traffic resumes
        wait_route(pub, sub, "agntcy/ns/p", "agntcy/ns/r", deadline=20)
        pub.send(publish("agntcy/ns/p", "agntcy/ns/r", b"back", message_id=6))
        self.assertEqual(sub.recv().publish.msg.app_payload.blob, b"back")
        self.assertGreater(b.metric("slim_subscriptions_replayed_total"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
