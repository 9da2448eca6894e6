"""Integration tests of a single `slim` node, driven by grpcio clients.

Each test starts a real node process on a free port and talks to it the way
an application (or another node) does: one OpenChannel stream per link,
starting with link negotiation.
"""
import signal
import threading
import time
import unittest
import urllib.error
import urllib.request

import grpc

from slimnode import (ANY, EDGE, REMOTE, Link, Node, name, pb, publish,  # noqa: F401
                      subscribe)


class NodeTest(unittest.TestCase):
    extra = ""

    def setUp(self):
        self.node = Node(extra_dataplane=self.extra)
        self.links = []

    def tearDown(self):
        for link in self.links:
            link.close()
        self.node.close()

    def link(self, **kw):
        link = Link(self.node.port, **kw)
        self.links.append(link)
        return link


class Routing(NodeTest):
    def test_link_reply_identifies_the_node(self):
        a = self.link()
        self.assertEqual(a.reply.node_id, "slim/0")
        self.assertRegex(a.reply.slim_version, r"^\d+\.\d+\.\d+")

    def test_one_to_one(self):
        alice, bob = self.link(), self.link()
        ack = bob.subscribe("agntcy/ns/bob", sub_id=7)
        self.assertTrue(ack.success)
        alice.send(publish("agntcy/ns/alice", "agntcy/ns/bob", b"hello bob"))
        got = bob.recv()
        self.assertEqual(got.publish.msg.app_payload.blob, b"hello bob")
        self.assertEqual(got.publish.header.ttl, 7)  # decremented once
        self.assertFalse(got.publish.header.HasField("incoming_conn"))
        alice.expect_nothing(0.2)

    def test_anycast_over_three_instances(self):
        sender = self.link()
        inst = [self.link() for _ in range(3)]
        for i, link in enumerate(inst):
            link.subscribe(f"agntcy/ns/svc/{i + 1:x}", sub_id=100 + i)
        for k in range(30):
            sender.send(publish("agntcy/ns/a", "agntcy/ns/svc", str(k).encode()))
        counts = []
        for link in inst:
            n = 0
            while True:
                try:
                    link.recv(0.5)
                    n += 1
                except AssertionError:
                    break
            counts.append(n)
        self.assertEqual(counts, [10, 10, 10])

    def test_broadcast_to_five(self):
        sender = self.link()
        subs = [self.link() for _ in range(5)]
        for i, link in enumerate(subs):
            link.subscribe("agntcy/ns/chan", sub_id=i + 1)
        sender.send(publish("agntcy/ns/a", "agntcy/ns/chan", b"all", fanout=256))
        for link in subs:
            self.assertEqual(link.recv().publish.msg.app_payload.blob, b"all")
        for link in subs:
            link.expect_nothing(0.1)

    def test_exact_id_vs_any_id(self):
        sender = self.link()
        one, two = self.link(), self.link()
        one.subscribe("agntcy/ns/bob/1", sub_id=1)
        two.subscribe("agntcy/ns/bob/2", sub_id=2)
        sender.send(publish("agntcy/ns/a", "agntcy/ns/bob/2", b"to two"))
        self.assertEqual(two.recv().publish.msg.app_payload.blob, b"to two")
        one.expect_nothing(0.2)
        sender.send(publish("agntcy/ns/a", "agntcy/ns/bob", b"to all", fanout=2))
        self.assertEqual(one.recv().publish.msg.app_payload.blob, b"to all")
        self.assertEqual(two.recv().publish.msg.app_payload.blob, b"to all")

    def test_unmatched_publish_gets_error(self):
        a = self.link()
        a.send(publish("agntcy/ns/alice/5", "agntcy/ns/nobody", b"x", session_id=9,
                       message_id=4))
        e = a.recv()
        self.assertTrue(e.publish.header.error)
        self.assertEqual(e.publish.header.source.name, name("agntcy/ns/nobody").name)
        self.assertEqual(e.publish.header.destination.name, name("agntcy/ns/alice/5").name)
        self.assertEqual(e.publish.session.session_id, 9)
        self.assertEqual(e.publish.session.message_id, 4)
        self.assertEqual(e.publish.msg.app_payload.payload_type, "slim.error")
        self.assertEqual(e.publish.msg.app_payload.blob, b"no route to agntcy/ns/nobody")
        # within a second: no second reply
        a.send(publish("agntcy/ns/alice/5", "agntcy/ns/nobody", b"x"))
        a.expect_nothing(0.3)

    def test_forward_to_from_a_client_reaches_nobody(self):
        """forward_to names a connection of the node; connection ids are
        small integers, so a client that could use it would reach anyone.
        Only an application inside the node's process may: from a gRPC
        client it is ignored (and counted)."""
        attacker = self.link()
        victims = [self.link() for _ in range(3)]
        victims[0].subscribe("agntcy/ns/victim", sub_id=1)
        for to in range(0, 33):
            m = publish("agntcy/ns/attacker", "agntcy/ns/nobody", b"pushed %d" % to)
            m.publish.header.forward_to = to
            attacker.send(m)
            s = subscribe("agntcy/ns/planted", sub_id=0)
            s.subscribe.header.forward_to = to
            attacker.send(s)
        for v in victims:
            v.expect_nothing(0.5)
        c = self.node.counters()
        self.assertEqual(c["slim_forward_to_ignored_total"], 66)
        # the subscriptions still count for the attacker itself, nowhere else
        self.assertEqual(c["slim_subscriptions"], 2)

    def test_subscription_acks(self):
        a = self.link()
        self.assertTrue(a.subscribe("agntcy/ns/x", sub_id=1).success)
        ack = a.subscribe("agntcy/ns/y", sub_id=2, unsubscribe=True)
        self.assertFalse(ack.success)
        self.assertEqual(ack.error, "no such subscription")
        self.assertTrue(a.subscribe("agntcy/ns/x", sub_id=3, unsubscribe=True).success)

    def test_ttl_zero_and_one_dropped(self):
        a, b = self.link(), self.link()
        b.subscribe("agntcy/ns/b", sub_id=1)
        a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"ttl1", ttl=1))
        m = publish("agntcy/ns/a", "agntcy/ns/b", b"ttl0")
        m.publish.header.ClearField("ttl")
        a.send(m)
        a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"ttl2", ttl=2))
        got = b.recv()
        self.assertEqual(got.publish.msg.app_payload.blob, b"ttl2")
        self.assertEqual(got.publish.header.ttl, 1)
        b.expect_nothing(0.2)


class BadInput(NodeTest):
    extra = "      max_subscriptions_per_connection: 20000\n"

    def test_first_message_must_be_link(self):
        a = self.link(link=False)
        a.send(subscribe("agntcy/ns/x"))
        a.done.wait(10)
        self.assertIsNotNone(a.error)
        self.assertEqual(a.error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # the node still serves others
        b = self.link()
        self.assertTrue(b.subscribe("agntcy/ns/y", sub_id=1).success)

    def test_malformed_and_unknown_messages_are_dropped(self):
        a, b = self.link(), self.link()
        b.subscribe("agntcy/ns/b", sub_id=1)
        a.send(b"\xff\xff\xff")            # garbage
        a.send(b"\x3a\x00")                # field 7: an unknown message type
        a.send(b"\x0a\x02\x10\x05")        # Subscribe without a header (sub id 5)
        ack = a.recv()
        self.assertFalse(ack.subscription_ack.success)
        self.assertEqual(ack.subscription_ack.subscription_id, 5)
        a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"still up"))
        self.assertEqual(b.recv().publish.msg.app_payload.blob, b"still up")

    def test_names_over_the_length_limit(self):
        a = self.link()
        m = subscribe("agntcy/ns/x", sub_id=9)
        m.subscribe.header.destination.str_name.str_component_2 = "y" * 1025
        a.send(m)
        ack = a.recv()
        self.assertFalse(ack.subscription_ack.success)
        self.assertIn("1024", ack.subscription_ack.error)

    def test_ten_thousand_subscriptions(self):
        a, s = self.link(), self.link()
        for i in range(10000):
            a.send(subscribe(f"agntcy/ns/n{i}", sub_id=i + 1))
        acks = [a.recv(10) for _ in range(10000)]
        self.assertTrue(all(x.subscription_ack.success for x in acks))
        s.send(publish("agntcy/ns/s", "agntcy/ns/n9999", b"last"))
        self.assertEqual(a.recv().publish.msg.app_payload.blob, b"last")


class SlowConsumer(NodeTest):
    extra = "      slow_consumer_timeout: 2s\n"

    def fast_slow_and_publisher(self):
        """Two subscribers of agntcy/ns/chan, one that never reads, and a
        publisher."""
        fast = self.link()
        slow = self.link(read=False)
        fast.subscribe("agntcy/ns/chan", sub_id=1)
        slow.send(subscribe("agntcy/ns/chan"))
        pub = self.link()
        self.node.wait_counter("slim_messages_received_total", 2, kind="subscribe")  # both landed before the flood
        return fast, pub

    def test_reader_that_never_reads_is_cut_off(self):
        fast, pub = self.fast_slow_and_publisher()
        blob = b"x" * 1024
        for k in range(12000):  # ~12 MiB: past the window and the 4 MiB queue
            pub.send(publish("agntcy/ns/p", "agntcy/ns/chan", blob, fanout=256,
                             message_id=k))
        # The fast reader gets everything; the node stays responsive.
        for _ in range(12000):
            fast.recv(20)
        other = self.link()
        self.assertTrue(other.subscribe("agntcy/ns/other", sub_id=2).success)
        self.wait_for_slow_consumer_close()

    def test_messages_past_twice_the_queue_limit_are_dropped(self):
        fast, pub = self.fast_slow_and_publisher()
        # 3 MiB each: the slow queue (4 MiB, 8 MiB forced) and the HTTP/2
        # windows on the way to the slow reader fill with a few of them
        blob = b"x" * (3 << 20)
        n = 16
        for k in range(n):
            pub.send(publish("agntcy/ns/p", "agntcy/ns/chan", blob, fanout=256, message_id=k))
        for _ in range(n):
            self.assertEqual(len(fast.recv(20).publish.msg.app_payload.blob), len(blob))
        counters = self.node.counters()
        self.assertGreater(counters.get('slim_messages_dropped_total{reason="queue_full"}', 0), 0)
        self.wait_for_slow_consumer_close()

    def wait_for_slow_consumer_close(self):
        deadline = time.time() + 15
        while "closing a slow consumer" not in self.node.stderr():
            self.assertLess(time.time(), deadline, self.node.stderr()[-2000:])
            time.sleep(0.1)


class Backpressure(NodeTest):
    def test_a_burst_beyond_the_queue_is_delivered(self):
        """A publisher far faster than its subscriber is slowed down (its
        stream is not read while the subscriber's queue is full) and loses
        nothing."""
        sub = self.link(read=False)
        sub.send(subscribe("agntcy/ns/burst"))
        pub = self.link()
        self.node.wait_counter("slim_messages_received_total", 1, kind="subscribe")
        n, blob = 16000, b"z" * 1024  # 16 MiB: four times the 4 MiB queue
        for k in range(n):
            pub.send(publish("agntcy/ns/p", "agntcy/ns/burst", blob, message_id=k))
        # wait until the subscriber's queue holds its limit (4 MiB) while
        # nobody reads, so the burst really meets a full queue
        deadline = time.time() + 20
        while self.node.metric("slim_send_queue_bytes_max") < 4 << 20:
            self.assertLess(time.time(), deadline, self.node.metric("slim_send_queue_bytes_max"))
            time.sleep(0.1)
        threading.Thread(target=sub._reader, daemon=True).start()  # now read it all
        got = 0
        while got < n:
            try:
                m = sub.recv(3)
            except AssertionError:
                break  # quiet: whatever is missing was dropped
            got += m.HasField("publish")
        counters = self.node.counters()
        self.assertEqual(got, n)
        self.assertEqual(counters.get('slim_messages_dropped_total{reason="queue_full"}', 0), 0)


class Limits(NodeTest):
    def test_message_over_the_slim_limit_is_dropped_link_stays_up(self):
        a, b = self.link(), self.link()
        b.subscribe("agntcy/ns/b", sub_id=1)
        # over the SLIM limit (4 MiB - 64 KiB), under the gRPC limit (4 MiB)
        a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"y" * (4 * 1024 * 1024 - 40 * 1024)))
        a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"small"))
        self.assertEqual(b.recv().publish.msg.app_payload.blob, b"small")
        self.assertEqual(self.node.metric("slim_messages_dropped_total", reason="too_large"), 1)


class ConnectionCap(unittest.TestCase):
    def test_connections_past_max_connections_are_refused(self):
        node = Node(server_tls="{insecure: true}\n          max_connections: 2")
        self.addCleanup(node.close)
        links = [Link(node.port) for _ in range(2)]
        for link in links:
            self.addCleanup(link.close)
        with self.assertRaises(AssertionError):
            extra = Link(node.port, wait=3)
            self.addCleanup(extra.close)
        self.assertGreaterEqual(node.metric("slim_connections_refused_total"), 1)
        self.assertEqual(node.metric("slim_connections", kind="edge"), 2)
        self.assertIn("(max_connections); refusing new ones", node.stderr())
        # the two that fit still work
        self.assertTrue(links[0].subscribe("agntcy/ns/cap", sub_id=1).success)


class Metrics(NodeTest):
    def get(self, path):
        url = f"http://127.0.0.1:{self.node.metrics_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, None, e.read().decode()

    def test_metrics_page_follows_the_prometheus_conventions(self):
        status, ctype, text = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        typed = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                typed[name] = kind
                self.assertTrue(name.startswith("slim_"), name)
                self.assertEqual(name.endswith("_total"), kind == "counter", line)
            elif not line.startswith("#"):
                self.assertIn(line.split("{")[0].split(" ")[0], typed, line)
        for name in ("slim_messages_received_total", "slim_messages_dropped_total",
                     "slim_connections", "slim_tls_handshakes_failed_total",
                     "slim_link_negotiations_failed_total", "slim_send_queue_bytes"):
            self.assertIn(name, typed)

    def test_counters_follow_the_traffic(self):
        before = self.node.counters()
        a, b = self.link(), self.link()
        b.subscribe("agntcy/ns/b", sub_id=1)
        for i in range(7):
            a.send(publish("agntcy/ns/a", "agntcy/ns/b", b"m%d" % i))
        for _ in range(7):
            b.recv()
        after = self.node.counters()
        pub = 'slim_messages_received_total{kind="publish"}'
        self.assertEqual(after[pub] - before[pub], 7)
        self.assertEqual(after["slim_publish_matched_total"], 7)
        self.assertEqual(after['slim_connections{kind="edge"}'], 2)
        self.assertEqual(after['slim_messages_sent_total{kind="link"}'], 2)
        self.assertEqual(after['slim_messages_sent_total{kind="subscription_ack"}'], 1)

    def test_healthz_and_unknown_paths(self):
        self.assertEqual(self.get("/healthz")[0:3:2], (200, "ok\n"))
        self.assertEqual(self.get("/nothing")[0], 404)

    def test_sigusr1_still_logs(self):
        self.node.signal(signal.SIGUSR1)
        deadline = time.time() + 20  # a loaded CI machine can take its time
        while "counters: connections" not in self.node.stderr():
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)


class Lifecycle(unittest.TestCase):
    def test_sigterm_drains_and_exits_zero(self):
        node = Node()
        link = Link(node.port)
        link.subscribe("agntcy/ns/x", sub_id=1)
        node.signal(signal.SIGTERM)
        link.done.wait(10)
        self.assertIsNotNone(link.error)
        self.assertEqual(link.error.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("shutting down", link.error.details())
        self.assertEqual(node.wait(30), 0)
        link.close()
        node.close()

    def test_drain_timeout_resets_what_remains(self):
        """With drain_timeout 1s, a stream whose end cannot be delivered (its
        reader stopped with megabytes queued for it) holds the exit back
        about a second, not the 10 s default, and is then reset."""
        node = Node(extra_top="runtime: {drain_timeout: 1s}\n")
        stuck = Link(node.port, read=False)
        stuck.send(subscribe("agntcy/ns/stuck"))
        pub = Link(node.port)
        node.wait_counter("slim_messages_received_total", 1, kind="subscribe")
        for k in range(12000):  # 12 MiB: past grpcio's windows, into our queue
            pub.send(publish("agntcy/ns/p", "agntcy/ns/stuck", b"s" * 1024, message_id=k))
        deadline = time.time() + 20
        while node.metric("slim_send_queue_bytes_max") < 1 << 20:
            self.assertLess(time.time(), deadline, node.metric("slim_send_queue_bytes_max"))
            time.sleep(0.1)
        start = time.time()
        node.signal(signal.SIGTERM)
        self.assertEqual(node.wait(30), 0)
        took = time.time() - start
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 4.0)
        self.assertIn("to drain within 1000 ms", node.stderr())
        pub.close()
        stuck.close()
        node.close()

    def test_bad_config_exits_one(self):
        import os
        import subprocess
        import tempfile
        path = os.path.join(tempfile.mkdtemp(), "bad.yaml")
        with open(path, "w") as f:
            f.write("services:\n  slim/0:\n    dataplane:\n      servers:\n"
                    "        - endpoint: 127.0.0.1:0\n")
        r = subprocess.run([os.environ["SLIM_BIN"], "-c", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.yaml:5: services.slim/0.dataplane.servers[0].tls: missing server "
                      "cert and key", r.stderr)
        r = subprocess.run([os.environ["SLIM_BIN"], "--check-config", "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
