"""The fault-injecting proxy (faultproxy.py) between grpcio clients and a
real `slim` node: what it does to Publishes (drop, duplicate, delay,
reorder, replayable from a seed), what it never touches (Link, Subscribe,
Unsubscribe, SubscriptionAck, and the bytes of everything it passes, so
header MACs verify end to end), and that streams end both ways and leave no
threads behind. A stand-in upstream (a grpcio server that records raw
bytes) checks the bytes and the stream ends exactly."""
import json
import os
import queue
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest
from concurrent import futures

import grpc

from faultproxy import (NONE, SERVICE, FaultProxy, Faults, message_kind, publish_info,
                        tamper)
from slimnode import Link, Node, pb, publish, subscribe

A, B = "agntcy/ns/a", "agntcy/ns/b"


def ids_of(link, n, timeout=10):
    """The message ids of the next n publishes link receives."""
    out = []
    deadline = time.time() + timeout
    while len(out) < n:
        m = link.recv(max(0.1, deadline - time.time()))
        assert m.HasField("publish"), m
        out.append(m.publish.session.message_id)
    return out


def send_ids(link, ids, src=A, dst=B):
    for i in ids:
        link.send(publish(src, dst, b"p%d" % i, message_id=i))


def apply(decisions, seq):
    """What a stream's decisions (pass/drop/dup, in order) make of seq."""
    assert len(decisions) == len(seq), (len(decisions), len(seq))
    out = []
    for (_, _, verdict, _), x in zip(decisions, seq):
        out += {"pass": [x], "dup": [x, x], "drop": []}[verdict]
    return out


class WithNode(unittest.TestCase):
    """A node; links directly or through proxies; at the end, no header MAC
    failed anywhere (the node's counter, and every link's own checks)."""

    def setUp(self):
        self.node = Node()
        self.addCleanup(self.node.close)
        self.links = []
        self.addCleanup(self.check_macs)

    def proxy(self, **kw):
        p = FaultProxy(self.node.port, **kw)
        self.addCleanup(p.close)
        return p

    def link(self, port=None, **kw):
        link = Link(port or self.node.port, **kw)
        self.addCleanup(link.close)
        self.links.append(link)
        if kw.get("link", True):
            self.assertIsNotNone(link.mac_key)  # the key was agreed end to end
        return link

    def check_macs(self):
        if self.node.proc.poll() is None:
            self.assertEqual(
                self.node.metric("slim_messages_dropped_total", reason="header_mac"), 0)
        for link in self.links:
            self.assertEqual(link.mac_errors, [])

    def receiver(self, port=None, dst=B, sub_id=1):
        b = self.link(port)
        self.assertTrue(b.subscribe(dst, sub_id=sub_id).success)
        return b


class Transparent(WithNode):
    def test_no_faults_every_message_once_and_in_order(self):
        p = self.proxy(faults=NONE)
        b = self.receiver(p.port)  # both ends through the proxy
        a = self.link(p.port)
        send_ids(a, range(1, 1001))
        self.assertEqual(ids_of(b, 1000), list(range(1, 1001)))
        b.expect_nothing(0.2)
        for m in b.raw_log[2:]:  # after the Link reply and the ack
            self.assertEqual(len(pb.Message.FromString(m).publish.header.header_mac), 32)
        c = p.counters()
        for d in ("to_node", "to_app"):
            self.assertEqual((c[d]["publishes"], c[d]["forwarded"]), (1000, 1000), c)
            self.assertEqual(c[d]["dropped"] + c[d]["duplicated"] + c[d]["delayed"]
                             + c[d]["reordered"] + c[d]["unsent"], 0, c)
        self.assertEqual(c["to_node"]["control"], 3)  # two Links, one Subscribe
        self.assertEqual(c["to_app"]["control"], 3)  # two Link replies, one ack
        self.assertEqual(c["streams"], 2)


class Switch(WithNode):
    def test_faults_switched_on_and_off(self):
        p = self.proxy(faults=NONE)
        b = self.receiver()
        a = self.link(p.port)
        send_ids(a, range(1, 51))
        self.assertEqual(ids_of(b, 50), list(range(1, 51)))
        p.set_faults(to_node=Faults(drop=1.0, dup=0))
        send_ids(a, range(51, 101))
        b.expect_nothing(0.3)
        p.set_faults(NONE)
        send_ids(a, range(101, 111))
        self.assertEqual(ids_of(b, 10), list(range(101, 111)))
        c = p.counters()["to_node"]
        self.assertEqual((c["publishes"], c["dropped"], c["forwarded"]), (110, 50, 60))


class Rates(WithNode):
    def test_default_rates_over_5000_publishes(self):
        n = 5000
        p = self.proxy(seed=20250117, record=True)  # Faults(): 10 % drop, 5 % dup
        b = self.receiver(p.port)  # stream 0
        a = self.link(p.port)  # stream 1
        send_ids(a, range(1, n + 1))
        self.node.wait_counter("slim_messages_received_total", 1, kind="publish")
        # wait until every publish went through the proxy both ways
        deadline = time.time() + 30
        while True:
            c = p.counters()
            node_sent = self.node.metric("slim_messages_sent_total", kind="publish")
            if (c["to_node"]["publishes"] == n and not p.pending()
                    and c["to_app"]["publishes"] == node_sent
                    == self.node.metric("slim_messages_received_total", kind="publish")):
                break
            self.assertLess(time.time(), deadline, c)
            time.sleep(0.05)
        up, down = c["to_node"], c["to_app"]
        got = ids_of(b, down["forwarded"])
        b.expect_nothing(0.3)
        c = p.counters()  # final
        up, down = c["to_node"], c["to_app"]

        # rates: binomial, so within 5 standard deviations
        def near(count, trials, rate):
            sd = (trials * rate * (1 - rate)) ** 0.5
            self.assertLess(abs(count - trials * rate), 5 * sd, (count, trials, rate))

        near(up["dropped"], n, 0.10)
        near(up["duplicated"], n - up["dropped"], 0.05)
        near(down["dropped"], down["publishes"], 0.10)
        near(down["duplicated"], down["publishes"] - down["dropped"], 0.05)

        # the counters are what the node and the receiver saw
        self.assertEqual(up["forwarded"], n - up["dropped"] + up["duplicated"])
        self.assertEqual(self.node.metric("slim_messages_received_total", kind="publish"),
                         up["forwarded"])
        self.assertEqual(down["publishes"], up["forwarded"])
        self.assertEqual(down["forwarded"],
                         down["publishes"] - down["dropped"] + down["duplicated"])
        self.assertEqual(len(got), down["forwarded"])
        self.assertEqual(up["unsent"] + down["unsent"], 0)

        # and exactly the sequence the recorded decisions make
        ups = [d for d in p.decisions("to_node") if d[0] == 1]
        downs = [d for d in p.decisions("to_app") if d[0] == 0]
        self.assertEqual(len(ups), n)
        at_node = apply(ups, list(range(1, n + 1)))
        self.assertEqual(got, apply(downs, at_node))


class Replay(WithNode):
    runs = 0

    def run_once(self, seed, **faults):
        """300 publishes through a new proxy (both ends through it): what
        the receiver got, and the proxy's decisions both ways."""
        Replay.runs += 1
        dst = f"agntcy/ns/replay{Replay.runs}"
        p = FaultProxy(self.node.port, seed=seed, record=True, faults=Faults(**faults))
        try:
            b = self.receiver(p.port, dst=dst)
            a = self.link(p.port)
            send_ids(a, range(1, 301), dst=dst)
            deadline = time.time() + 10
            while True:
                c = p.counters()
                if c["to_node"]["publishes"] == 300 and not p.pending() \
                        and c["to_app"]["publishes"] == c["to_node"]["forwarded"]:
                    break
                self.assertLess(time.time(), deadline, c)
                time.sleep(0.02)
            self.assertTrue(p.wait_idle())
            got = ids_of(b, p.counters()["to_app"]["forwarded"])
            b.expect_nothing(0.2)
            a.close()
            b.close()
            return got, p.decisions("to_node"), p.decisions("to_app")
        finally:
            p.close()

    def test_same_seed_same_faults(self):
        first = self.run_once(7, drop=0.2, dup=0.1)
        second = self.run_once(7, drop=0.2, dup=0.1)
        self.assertEqual(first, second)
        self.assertNotEqual(first[0], list(range(1, 301)))
        other = self.run_once(8, drop=0.2, dup=0.1)
        self.assertNotEqual(first[1], other[1])
        # the n-th publish's verdict does not depend on the other settings
        delayed = self.run_once(7, drop=0.2, dup=0.1, delay_ms=(0, 2))
        for d in (1, 2):
            self.assertEqual([x[:3] for x in first[d]], [x[:3] for x in delayed[d]])
        self.assertTrue(any(x[3] and max(x[3]) > 0 for x in delayed[1]))


class Reorder(WithNode):
    def test_window_reorders_within_its_size(self):
        k, n = 8, 800
        p = self.proxy(seed=3, to_node=Faults(drop=0, dup=0, reorder_window=k,
                                              reorder_hold_ms=30), to_app=NONE)
        b = self.receiver()  # directly: only the proxy's to_node side acts
        a = self.link(p.port)
        send_ids(a, range(1, n + 1))
        got = ids_of(b, n)
        b.expect_nothing(0.2)
        self.assertEqual(sorted(got), list(range(1, n + 1)))
        moved = [(pos, i) for pos, i in enumerate(got, 1) if pos != i]
        self.assertGreater(len(moved), n // 4)
        self.assertLess(max(abs(pos - i) for pos, i in moved), k)
        # batches are contiguous and keep their order, so what the receiver
        # sees out of place is what the proxy says it moved
        self.assertEqual(p.counters()["to_node"]["reordered"], len(moved))

    def test_a_quiet_window_is_released(self):
        p = self.proxy(to_node=Faults(drop=0, dup=0, reorder_window=100, reorder_hold_ms=50),
                       to_app=NONE)
        b = self.receiver()
        a = self.link(p.port)
        t0 = time.time()
        send_ids(a, (1, 2, 3))
        self.assertEqual(sorted(ids_of(b, 3, timeout=5)), [1, 2, 3])
        self.assertGreaterEqual(time.time() - t0, 0.045)


class Delay(WithNode):
    def latencies(self, a, b, count, gap=0.01):
        """Sends count publishes gap apart; {id: seconds until b got it}, in
        the order b got them (b read on a thread of its own)."""
        sent, got = {}, {}

        def read():
            for _ in range(count):
                i = ids_of(b, 1, timeout=10)[0]
                got[i] = time.time()

        reader = threading.Thread(target=read)
        reader.start()
        for i in range(1, count + 1):
            sent[i] = time.time()
            send_ids(a, [i])
            time.sleep(gap)
        reader.join(15)
        return {i: t - sent[i] for i, t in got.items()}

    def test_fixed_delay_delays_and_keeps_order(self):
        p = self.proxy(to_node=Faults(drop=0, dup=0, delay_ms=(150, 150)), to_app=NONE)
        b = self.receiver()
        a = self.link(p.port)
        lat = self.latencies(a, b, 20)
        self.assertEqual(list(lat), list(range(1, 21)))
        self.assertGreaterEqual(min(lat.values()), 0.145, lat)
        self.assertLess(sorted(lat.values())[10], 1.0, lat)
        self.assertEqual(p.counters()["to_node"]["delayed"], 20)

    def test_delay_range(self):
        p = self.proxy(to_node=Faults(drop=0, dup=0, delay_ms=(20, 220)), to_app=NONE)
        b = self.receiver()
        a = self.link(p.port)
        lat = self.latencies(a, b, 30, gap=0.005)
        self.assertGreaterEqual(min(lat.values()), 0.018, lat)
        self.assertGreater(max(lat.values()) - min(lat.values()), 0.08, lat)

    def test_delays_overlap_and_spare_the_other_direction(self):
        slow = Faults(drop=0, dup=0, delay_ms=(800, 800))
        p = self.proxy(to_node=slow, to_app=NONE)
        b = self.receiver()
        a = self.link(p.port)
        self.assertTrue(a.subscribe(A, sub_id=2).success)
        c = self.link(p.port)
        t0 = time.time()
        send_ids(a, range(1, 6))
        send_ids(c, range(11, 16), src="agntcy/ns/c")
        # the other direction of a's stream is not held up by its delayed publishes
        b.send(publish(B, A, b"to a", message_id=99))
        self.assertEqual(a.recv(5).publish.session.message_id, 99)
        self.assertEqual(b.inbox.qsize(), 0)
        self.assertLess(time.time() - t0, 0.8)
        # ten messages each delayed 0.8 s, on two streams, arrive in about 0.8 s
        self.assertEqual(sorted(ids_of(b, 10)), [1, 2, 3, 4, 5, 11, 12, 13, 14, 15])
        self.assertLess(time.time() - t0, 0.8 * 3)


class Control(WithNode):
    def test_subscriptions_and_links_are_never_faulted(self):
        rough = Faults(drop=0.5, dup=0.5, delay_ms=(0, 50), reorder_window=4,
                       reorder_hold_ms=20)
        p = self.proxy(seed=11, faults=rough)
        b = self.receiver()
        links = [self.link(p.port) for _ in range(5)]  # every Link handshake completes
        a = links[0]
        for i in range(1, 201):
            send_ids(a, [i])  # publishes interleaved with the subscriptions
            if i % 3:
                a.send(subscribe(f"agntcy/ns/s{i}", sub_id=i))
            else:  # withdraws the one before: only works in order
                a.send(subscribe(f"agntcy/ns/s{i - 1}", sub_id=i, unsubscribe=True))
        acks = [a.recv(10).subscription_ack for _ in range(200)]
        self.assertEqual([m.subscription_id for m in acks], list(range(1, 201)))
        self.assertTrue(all(m.success for m in acks))
        # b's, and of a's 134 subscriptions the 68 not withdrawn
        self.assertEqual(self.node.metric("slim_subscriptions"), 1 + 68)
        c = p.counters()
        self.assertEqual(c["to_node"]["control"], 5 + 200)
        self.assertEqual(c["to_app"]["control"], 5 + 200)
        self.assertGreater(c["to_node"]["dropped"], 50)
        self.assertGreater(c["to_node"]["duplicated"], 20)
        self.assertGreater(c["to_node"]["reordered"], 20)
        # and b got the publishes that went through
        self.assertTrue(p.wait_idle())
        got = ids_of(b, p.counters()["to_node"]["forwarded"])
        b.expect_nothing(0.2)
        self.assertNotEqual(got, sorted(got))
        self.assertEqual(len(set(got)), 200 - c["to_node"]["dropped"])

    def test_everything_dropped_and_the_handshake_still_completes(self):
        p = self.proxy(faults=Faults(drop=1.0, dup=0, delay_ms=(500, 500), reorder_window=8,
                                     reorder_hold_ms=400))
        b = self.receiver()
        a = self.link(p.port)
        t0 = time.time()
        self.assertTrue(a.subscribe(A, sub_id=5).success)  # not delayed either
        self.assertLess(time.time() - t0, 0.5)
        send_ids(a, range(1, 51))
        self.assertTrue(a.subscribe(A, sub_id=6, unsubscribe=True).success)
        b.expect_nothing(0.6)
        self.assertEqual(p.counters()["to_node"]["dropped"], 50)


class Ends(WithNode):
    def edge(self):
        return self.node.metric("slim_connections", kind="edge")

    def wait_edge(self, n):
        deadline = time.time() + 10
        while self.edge() != n:
            self.assertLess(time.time(), deadline, f"edge connections stay {self.edge()}")
            time.sleep(0.05)

    def test_application_leaving_ends_the_node_stream(self):
        p = self.proxy(faults=NONE)
        a = self.link(p.port)
        self.wait_edge(1)
        a.close()
        self.wait_edge(0)

    def test_node_refusal_reaches_the_application(self):
        p = self.proxy(faults=NONE)
        direct = self.link(link=False)
        proxied = self.link(p.port, link=False)
        for link in (direct, proxied):
            link.send(publish(A, B, b"no link first"))
            self.assertTrue(link.done.wait(10))
        self.assertEqual(proxied.error.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(proxied.error.code(), direct.error.code())
        self.assertEqual(proxied.error.details(), direct.error.details())

    def test_closing_the_proxy_ends_both_sides(self):
        p = FaultProxy(self.node.port, faults=Faults(drop=0, dup=0, delay_ms=(5000, 5000)))
        try:
            b = self.receiver()
            a = self.link(p.port)
            send_ids(a, range(1, 11))  # held for 5 s when the proxy closes
            self.wait_edge(2)
            deadline = time.time() + 10
            while p.counters()["to_node"]["publishes"] < 10:
                self.assertLess(time.time(), deadline)
                time.sleep(0.02)
        finally:
            p.close()
        self.assertTrue(a.done.wait(5))
        self.assertIsNotNone(a.error)
        self.wait_edge(1)
        self.assertEqual(p.counters()["to_node"]["unsent"], 10)
        b.expect_nothing(0.2)

    def test_node_going_away_reaches_the_application(self):
        p = self.proxy(faults=NONE)
        a = self.link(p.port)
        self.check_macs()
        self.node.close()
        self.assertTrue(a.done.wait(10))
        self.assertIsNotNone(a.error)

    def test_no_threads_left_behind(self):
        before = threading.active_count()
        for i in range(8):
            p = FaultProxy(self.node.port, seed=i,
                           faults=Faults(drop=0.1, dup=0.1, delay_ms=(0, 300), reorder_window=3))
            a = Link(p.port)
            send_ids(a, range(1, 21))
            if i % 2:
                a.close()
            p.close()
            a.close()
        deadline = time.time() + 10
        while threading.active_count() > before:
            self.assertLess(time.time(), deadline,
                            [t.name for t in threading.enumerate()])
            time.sleep(0.05)
        self.wait_edge(0)


class Upstream:
    """A stand-in node: a grpcio server that records the raw bytes it gets
    and sends what the test puts in `out` (bytes; a (code, details) pair
    ends the call with that status; None ends it with OK)."""

    def __init__(self):
        self.received = queue.Queue()
        self.out = queue.Queue()
        self.half_closed = threading.Event()
        self.metadata = None
        self.executor = futures.ThreadPoolExecutor(4)
        self.server = grpc.server(self.executor)
        handler = grpc.stream_stream_rpc_method_handler(self.handle)
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"OpenChannel": handler}),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def handle(self, requests, context):
        self.metadata = dict(context.invocation_metadata())
        self.remaining = context.time_remaining()

        def read():
            try:
                for raw in requests:
                    self.received.put(raw)
                self.half_closed.set()
            except grpc.RpcError:
                pass

        threading.Thread(target=read, daemon=True).start()
        while True:
            item = self.out.get()
            if item is None:
                return
            if isinstance(item, tuple):
                context.set_trailing_metadata((("why", "test"),))
                context.abort(*item)
            yield item

    def close(self):
        self.out.put(None)
        self.server.stop(None).wait()
        self.executor.shutdown()


class Bytes(unittest.TestCase):
    def setUp(self):
        self.up = Upstream()
        self.addCleanup(self.up.close)
        self.proxy = FaultProxy(self.up.port, faults=NONE)
        self.addCleanup(self.proxy.close)

    def open(self, metadata=None, timeout=None):
        ch = grpc.insecure_channel(f"127.0.0.1:{self.proxy.port}")
        self.addCleanup(ch.close)
        out = queue.Queue()

        def requests():
            while (item := out.get()) is not None:
                yield item

        call = ch.stream_stream("/" + SERVICE + "/OpenChannel")(requests(), metadata=metadata,
                                                                timeout=timeout)
        self.addCleanup(call.cancel)
        return out, call

    def odd_messages(self):
        """Messages a re-encoding would change: fields out of order, unknown
        fields, a non-minimal varint, map entries, and bytes that are not a
        Message at all."""
        def field(number, value):  # a length-delimited field
            n, length = len(value), b""
            while n >= 0x80:
                length += bytes([n & 0x7F | 0x80])
                n >>= 7
            return bytes([number << 3 | 2]) + length + bytes([n]) + value

        pub = publish(A, B, b"payload").publish
        # Publish{msg, header, unknown 15} after metadata{"k": "v"}
        inner = field(3, pub.msg.SerializeToString()) \
            + field(1, pub.header.SerializeToString()) + b"\x78\x01"
        p1 = field(4, b"\x0a\x01k\x12\x01v") + field(3, inner)
        # a SubscriptionAck with a non-minimal varint (id 1 in two bytes)
        ack = field(6, b"\x08\x81\x00\x10\x01")
        # unknown outer field 9 only
        other = b"\x48\x05"
        return [p1, ack, other, b"\xff\xff\xff"]

    def test_bytes_pass_unchanged_both_ways(self):
        out, call = self.open()
        msgs = self.odd_messages()
        self.assertEqual([message_kind(m) for m in msgs],
                         ["publish", "subscription_ack", "other", "malformed"])
        for m, kind in zip(msgs[:3], ("publish", "subscription_ack", None)):
            self.assertEqual(pb.Message.FromString(m).WhichOneof("message_type"), kind)
        for m in msgs[:2]:  # a re-encoding would show
            self.assertNotEqual(pb.Message.FromString(m).SerializeToString(), m)
        for m in msgs:
            out.put(m)
        self.assertEqual([self.up.received.get(timeout=5) for _ in msgs], msgs)
        for m in msgs:
            self.up.out.put(m)
        it = iter(call)
        self.assertEqual([next(it) for _ in msgs], msgs)

    def test_metadata_half_close_and_status_pass(self):
        out, call = self.open(metadata=(("x-test", "1"),), timeout=60)
        out.put(b"\x48\x05")
        self.assertEqual(self.up.received.get(timeout=5), b"\x48\x05")
        self.assertEqual(self.up.metadata.get("x-test"), "1")
        # the deadline too (grpc-timeout's rounding may add a fraction of a second)
        self.assertTrue(30 < self.up.remaining <= 61, self.up.remaining)
        out.put(None)  # half-close: reaches the upstream, and the call goes on
        self.assertTrue(self.up.half_closed.wait(5))
        self.up.out.put(b"\x48\x06")
        self.up.out.put((grpc.StatusCode.RESOURCE_EXHAUSTED, "too much"))
        got = []
        with self.assertRaises(grpc.RpcError) as ctx:
            for raw in call:
                got.append(raw)
        self.assertEqual(got, [b"\x48\x06"])
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(ctx.exception.details(), "too much")
        self.assertIn(("why", "test"), tuple(ctx.exception.trailing_metadata()))

    def test_upstream_ending_well_ends_the_call_well(self):
        out, call = self.open()
        out.put(b"\x48\x05")
        self.up.received.get(timeout=5)
        self.assertGreater(self.up.remaining, 86400)  # no deadline: none upstream
        self.up.out.put(None)
        self.assertEqual(list(call), [])
        self.assertEqual(call.code(), grpc.StatusCode.OK)


class Modes(WithNode):
    """dump, tamper and replay (what tests/client/test_mls_groups.c uses)."""

    def test_dump_records_every_message_both_ways_as_read(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dump")
            p = self.proxy(faults=Faults(drop=1.0, dup=0), to_app=NONE, dump=path)
            b = self.receiver(p.port)  # stream 0
            a = self.link(p.port)  # stream 1
            send_ids(a, range(1, 6))
            b.expect_nothing(0.3)
            p.close()
            with open(path, "rb") as f:
                data = f.read()
        recs, i = [], 0
        while i < len(data):
            direction, stream, n = struct.unpack(">BII", data[i:i + 9])
            recs.append((direction, stream, data[i + 9:i + 9 + n]))
            i += 9 + n
        self.assertEqual(i, len(data))
        pubs = [r for r in recs if message_kind(r[2]) == "publish"]
        # dropped on the way up, recorded all the same, as they were sent
        self.assertEqual([(d, s) for d, s, _ in pubs], [(0, 1)] * 5)
        self.assertEqual([pb.Message.FromString(r).publish.session.message_id
                          for _, _, r in pubs], [1, 2, 3, 4, 5])
        self.assertIn((1, 0), {(d, s) for d, s, r in recs if message_kind(r) == "link"})

    def test_tamper_changes_the_first_copy_of_every_nth_msg(self):
        for kind in ("blob", "message-id"):
            with self.subTest(kind=kind):
                p = self.proxy(faults=NONE, tamper=kind, tamper_every=3)
                b = self.receiver(p.port)
                a = self.link()
                for i in list(range(1, 8)) + [3]:  # 3 again: a retransmission
                    a.send(publish(A, B, b"p%d" % i, message_id=i))
                got = [b.recv().publish for _ in range(8)]
                want = [(i, b"p%d" % i) for i in list(range(1, 8)) + [3]]
                if kind == "blob":
                    want[2] = (3, b"p2")  # "3" ^ 1
                    want[5] = (6, b"p7")
                else:
                    want[2] = (4, b"p3")
                    want[5] = (7, b"p6")
                self.assertEqual([(g.session.message_id, g.msg.app_payload.blob)
                                  for g in got], want)
                self.assertEqual(p.counters()["to_app"]["tampered"], 2)
                b.close()
                a.close()

    def test_tamper_keeps_the_varint_length(self):
        raw = publish(A, B, b"x", message_id=127).SerializeToString()
        out = tamper(raw, "message-id", publish_info(raw))
        self.assertEqual(len(out), len(raw))
        self.assertEqual(pb.Message.FromString(out).publish.session.message_id, 126)
        raw = publish(A, B, b"", message_id=5).SerializeToString()
        self.assertIsNone(tamper(raw, "blob", publish_info(raw)))

    def test_replay_sends_the_kept_publish_again(self):
        p = self.proxy(faults=NONE, replay=[7])
        b = self.receiver(p.port)
        a = self.link()
        join = publish(A, B, b"join", message_id=9)
        join.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_JOIN_REQUEST
        a.send(join)
        a.send(publish(A, B, b"data", message_id=10))
        join.publish.session.message_id = 11
        a.send(join)  # a later one of the type: not kept
        self.assertEqual([b.recv().publish.session.message_id for _ in range(3)], [9, 10, 11])
        self.assertEqual(p.replay(), 1)
        again = b.recv()
        self.assertEqual((again.publish.session.message_id, again.publish.msg.app_payload.blob),
                         (9, b"join"))  # the same bytes: its header MAC still verifies
        b.expect_nothing(0.2)
        self.assertEqual(p.counters()["to_app"]["replayed"], 1)

    def test_replay_keeps_the_nth_distinct_one(self):
        p = self.proxy(faults=NONE, replay=[(11, 1)])
        b = self.receiver(p.port)
        a = self.link()
        upd = publish(A, B, b"u", message_id=1)
        upd.publish.session.session_message_type = pb.SESSION_MESSAGE_TYPE_GROUP_UPDATE
        for i in (5, 5, 6, 7):  # 5 twice: a copy, not the second one
            upd.publish.session.message_id = i
            a.send(upd)
        self.assertEqual([b.recv().publish.session.message_id for _ in range(4)], [5, 5, 6, 7])
        self.assertEqual(p.replay(), 1)
        self.assertEqual(b.recv().publish.session.message_id, 6)


class NoUpstream(unittest.TestCase):
    def test_unreachable_node_ends_the_call(self):
        import socket
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with FaultProxy(port, faults=NONE) as p:
            ch = grpc.insecure_channel(p.address)
            try:
                call = ch.stream_stream("/" + SERVICE + "/OpenChannel")(iter([b"\x48\x05"]))
                with self.assertRaises(grpc.RpcError) as ctx:
                    list(call)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.UNAVAILABLE)
            finally:
                ch.close()


class Script(WithNode):
    def test_command_line(self):
        here = os.path.dirname(os.path.abspath(__file__))
        proc = subprocess.Popen(
            [sys.executable, os.path.join(here, "faultproxy.py"), "--listen", "127.0.0.1:0",
             "--upstream", f"127.0.0.1:{self.node.port}", "--seed", "42", "--drop", "0",
             "--dup", "0", "--to-node", "drop=1,delay-ms=1-2"],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(proc.kill)
        line = proc.stdout.readline()
        m = re.match(r"listening faultproxy 127\.0\.0\.1:(\d+)$", line.strip())
        self.assertTrue(m, line)
        self.assertEqual(proc.stdout.readline().strip(), "seed 42")
        b = self.receiver(int(m.group(1)))
        a = self.link(int(m.group(1)))
        send_ids(a, range(1, 21))
        b.expect_nothing(0.3)
        a.send(publish(B, B, b"to b", message_id=77))  # dropped too: to_node

        def counters():  # SIGUSR1: the proxy prints them and goes on
            proc.send_signal(signal.SIGUSR1)
            line = proc.stdout.readline()
            self.assertTrue(line.startswith("counters "), line)
            return json.loads(line[len("counters "):])

        deadline = time.time() + 10
        while counters()["to_node"]["dropped"] < 21:
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0)
        last = out.splitlines()[-1]
        self.assertTrue(last.startswith("counters "), out)
        c = json.loads(last[len("counters "):])
        self.assertEqual(c["to_node"]["dropped"], 21)
        self.assertEqual(c["to_node"]["forwarded"], 0)
        self.assertEqual(c["to_app"]["control"], 3)  # two Link replies, one ack
        self.assertEqual(c["streams"], 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
